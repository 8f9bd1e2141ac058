#pragma once

// cheese-tracker: tells nodes which peers are online (docs/protocol.md section 8). One io_context
// thread; one coroutine pair (reader && watchdog) per connection; the registry is plain data.

#include <coroutine>

#include <fmt/format.h>
#include <boost/asio.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cidr.hpp"
#include "connect_back.hpp"
#include "io/task_group.hpp"
#include "net/protocol.hpp"
#include "tracker_registry.hpp"
#include "util/args.hpp"

namespace cheese::tracker {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

//! Defaults of the tracker's limits, each documented in cheese-tracker -help.
inline constexpr std::int64_t kDefaultHeartbeatTimeoutSeconds = net::kDefaultHeartbeatInterval.count() *
                                                                net::kTrackerMissedHeartbeats;
inline constexpr std::int64_t kDefaultIdleTimeoutSeconds = 120;
inline constexpr std::size_t kDefaultMaxEntries = 10'000;
//! Registrations from one source IP (-maxperip); the next is refused with a `trackererror`.
inline constexpr std::size_t kDefaultMaxPerIp = 4;
//! Entries of one network group (/16 IPv4, /32 IPv6) in one `peers` answer (-maxpergroup).
inline constexpr std::size_t kDefaultMaxPerGroup = 2;
//! How often the tracker looks for due connect-backs (a registration also starts one at once).
inline constexpr std::chrono::milliseconds kConnectBackPollInterval{500};
//! Nothing a tracker understands is larger than this; a bigger frame closes the connection
//! (the codec's own limit, kMaxPayloadSize, is checked first).
inline constexpr std::uint32_t kMaxTrackerPayload = 4096;
//! Connections beyond the registration limits, for status queries and reconnects.
inline constexpr std::size_t kConnectionSlack = 64;
inline constexpr std::size_t kPerIpConnectionSlack = 16;
//! An HTTP client must send its whole request within this time; its bytes are bounded too.
inline constexpr std::chrono::seconds kHttpRequestTimeout{10};
inline constexpr std::size_t kMaxHttpRequestBytes = 8192;

struct TrackerOptions {
  std::string bind = "0.0.0.0";
  std::uint16_t port = net::kDefaultTrackerPort;
  std::chrono::seconds heartbeat_timeout{kDefaultHeartbeatTimeoutSeconds};
  std::chrono::seconds idle_timeout{kDefaultIdleTimeoutSeconds};
  std::size_t max_entries = kDefaultMaxEntries;
  std::size_t max_per_ip = kDefaultMaxPerIp;
  std::size_t max_per_group = kDefaultMaxPerGroup;
  //! How often a listed (or unlisted) registration is connected back to again.
  std::chrono::seconds recheck_interval{kDefaultRecheckIntervalSeconds};
  //! -trustedproxy: a connection from one of these may start with a PROXY protocol v1 line,
  //! whose source address is then the node's. From anyone else a PROXY line is refused.
  std::vector<Cidr> trusted_proxies;
  bool print_to_console = true;
  bool debug = false;  //!< log every message

  //! What `registered` announces: the timeout divided by kTrackerMissedHeartbeats, at least 1 s.
  std::chrono::seconds heartbeat_interval() const;
};

//! Every option cheese-tracker accepts.
std::vector<OptionSpec> tracker_option_specs();
//! Parses argv into options; an error message for anything wrong. `help` is set when asked.
std::optional<std::string> parse_tracker_options(int argc, const char* const* argv, TrackerOptions& out, bool& help);

//! Receives one log line (no timestamp, no newline).
using LogSink = std::function<void(std::string_view)>;

class Tracker {
 public:
  Tracker(asio::io_context& io, TrackerOptions options, LogSink log);
  ~Tracker();
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  //! Binds and listens (throws std::runtime_error with a readable message), then serves.
  void start();
  //! Closes the listener and every connection; the io_context then runs out of work.
  void stop();
  //! The address actually bound (useful with port 0).
  tcp::endpoint local_endpoint() const;

  const Registry& registry() const { return registry_; }
  std::size_t connection_count() const { return connections_.size(); }
  //! {"networks":{"main":0,"test":0,"regtest":3},"listed":{"main":0,"test":0,"regtest":2},"peers":3}
  std::string status_json() const;
  net::StatusMsg status() const;

 private:
  struct Connection;

  asio::awaitable<void> accept_loop();
  void on_accept(tcp::socket socket);
  asio::awaitable<void> sweep_loop();
  //! Starts the due connect-backs, at most kMaxConcurrentConnectBacks at once.
  asio::awaitable<void> check_loop();
  asio::awaitable<void> check_one(Entry e);
  bool trusted_proxy(const net::IpBytes& ip) const;
  //! The `trackererror` frame for `c`, after which the reader closes the connection.
  Bytes refuse(Connection& c, const NetworkMagic& magic, net::TrackerErrorCode code, std::string reason);
  Bytes on_register(Connection& c, Network network, const NetworkMagic& magic, const net::RegisterMsg& reg);
  asio::awaitable<void> serve(std::shared_ptr<Connection> c);
  asio::awaitable<void> reader(std::shared_ptr<Connection> c);
  asio::awaitable<void> watchdog(std::shared_ptr<Connection> c);
  asio::awaitable<void> serve_http(std::shared_ptr<Connection> c);
  asio::awaitable<bool> read_proxy_line(std::shared_ptr<Connection> c);
  //! Applies one message; returns the reply frame (empty: no reply). Closes `c` when the message
  //! ends the conversation. Plain code: only the reader's write is asynchronous.
  Bytes handle(Connection& c, Network network, const NetworkMagic& magic, const net::Message& msg);
  void close(Connection& c, std::string_view reason);
  void connection_finished(const std::shared_ptr<Connection>& c);
  void log(std::string_view line) const;
  template <typename... Args>
  void logf(fmt::format_string<Args...> f, Args&&... args) const {
    log(fmt::format(f, std::forward<Args>(args)...));
  }
  std::int64_t unix_now() const;

  asio::io_context& io_;
  TrackerOptions options_;
  LogSink log_;
  Registry registry_;
  std::shared_ptr<tcp::acceptor> acceptor_;
  std::shared_ptr<asio::steady_timer> sweep_timer_;
  std::shared_ptr<asio::steady_timer> check_timer_;  //!< the check loop's wait; a registration wakes it
  std::size_t running_checks_ = 0;
  std::map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  std::map<net::IpBytes, std::size_t> connections_per_ip_;
  std::uint64_t next_connection_id_ = 1;
  bool stopping_ = false;
  //! The accept loop, the expiry loop and one task per connection; stop() closes it.
  io::TaskGroup tasks_;
};

}  // namespace cheese::tracker
