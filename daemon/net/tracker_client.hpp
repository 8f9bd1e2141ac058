#pragma once

// The node's side of the tracker conversation (docs/protocol.md section 8): one coroutine per
// configured tracker registers, heartbeats, asks for peers while the node wants more outbound
// connections, and reconnects with exponential backoff. Trackers are independent of each other.

#include <coroutine>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/task_group.hpp"
#include "net/protocol.hpp"

namespace cheese {

class ConnManager;
struct ChainParams;
struct NodeContext;
class RpcTable;

//! Timing of the tracker client, each a named constant.
inline constexpr std::chrono::seconds kTrackerConnectTimeout{5};
inline constexpr std::chrono::seconds kTrackerReplyTimeout{10};
//! How often the client checks whether the node wants more outbound peers (then sends getpeers).
inline constexpr std::chrono::seconds kTrackerPeerCheckInterval{5};
//! While answers bring no address it has not seen, the client asks less often, up to this.
inline constexpr std::chrono::seconds kTrackerMaxPeerCheckInterval{60};
//! A heartbeat goes early, before `heartbeat_interval`, when the node's inbound connections
//! changed by at least this many since the last report, so that the tracker, which weights its
//! answers by free inbound slots, sees a node filling up while new nodes still ask (issue 17).
inline constexpr std::uint16_t kHeartbeatInboundChange = 4;
//! ... but never sooner than this after the previous heartbeat.
inline constexpr std::chrono::seconds kMinHeartbeatGap{5};
//! Whether a heartbeat is due: the interval has passed, or the inbound count moved by
//! kHeartbeatInboundChange and kMinHeartbeatGap has passed.
bool heartbeat_due(std::chrono::steady_clock::duration since_last, std::chrono::seconds interval,
                   std::uint16_t reported_inbound, std::uint16_t inbound);
inline constexpr std::chrono::seconds kTrackerMinBackoff{1};
inline constexpr std::chrono::seconds kTrackerMaxBackoff{60};
//! A tracker reply larger than this is a protocol violation (a full `peers` is 341 bytes): the
//! frame reader refuses its header before reading the payload.
inline constexpr std::uint32_t kMaxTrackerReplyPayload = 64 * 1024;

//! What gettrackerinfo shows for one configured tracker.
struct TrackerStatus {
  std::string address;  //!< as configured ("host:port")
  bool connected = false;
  bool registered = false;
  std::uint64_t node_id = 0;  //!< of the current registration (0: none)
  std::string last_error;     //!< why the last connection ended or failed ("" if never)
  std::uint64_t peers_received = 0;
  std::string observed;                  //!< our address as the tracker sees it
  std::uint32_t heartbeat_interval = 0;  //!< seconds, from `registered`
  std::int64_t registered_since = 0;     //!< unix time of the current registration
  std::uint64_t registrations = 0;       //!< successful registrations since start
};

class TrackerClient {
 public:
  TrackerClient(boost::asio::io_context& io, const ChainParams& params, ConnManager& net,
                std::vector<std::string> trackers);
  ~TrackerClient();
  TrackerClient(const TrackerClient&) = delete;
  TrackerClient& operator=(const TrackerClient&) = delete;

  //! Starts one session per tracker on the node's io thread (in tasks_).
  void start();
  //! Closes every tracker connection and ends the sessions (the trackers see "closed"); the
  //! sessions are cancelled (tasks_ closed).
  void stop();
  std::vector<TrackerStatus> status() const;

 private:
  struct Session;

  boost::asio::awaitable<void> run(std::shared_ptr<Session> s);
  //! One connection, from resolve to close; returns why it ended.
  boost::asio::awaitable<std::string> converse(std::shared_ptr<Session> s);
  boost::asio::awaitable<void> reader(std::shared_ptr<Session> s);
  //! Acts on one message of the tracker (anything but registered, peers and status is ignored).
  void on_message(Session& s, const net::Message& msg);
  void on_registered(Session& s, const net::RegisteredMsg& r);
  void on_peers(Session& s, const net::PeersMsg& p);
  boost::asio::awaitable<void> driver(std::shared_ptr<Session> s);
  boost::asio::awaitable<bool> send(std::shared_ptr<Session> s, const std::vector<std::uint8_t>& frame);
  void end(Session& s, std::string reason);
  //! Inbound connections now and inbound slots in all, as register and heartbeat report them.
  std::pair<std::uint16_t, std::uint16_t> inbound_slots() const;

  boost::asio::io_context& io_;
  const ChainParams& params_;
  ConnManager& net_;
  std::vector<std::shared_ptr<Session>> sessions_;
  io::TaskGroup tasks_;  //!< one session per tracker
  bool started_ = false;
  bool stopping_ = false;
};

//! The gettrackerinfo RPC (rpc_tracker.cpp).
void register_tracker_rpcs(NodeContext& node, RpcTable& table);

}  // namespace cheese
