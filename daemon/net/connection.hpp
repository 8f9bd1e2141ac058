#pragma once

#include <coroutine>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/net/net_events.hpp"
#include "primitives/bytes.hpp"

namespace cheese {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class ConnManager;

//! Bytes a peer may have waiting in its send queue; a peer that reads slower is dropped.
inline constexpr std::size_t kMaxSendQueueBytes = 32 * 1024 * 1024;

//! A dead link is noticed by the kernel, not after the ping timeout: keepalive probes start after
//! this much silence...
inline constexpr std::chrono::seconds kTcpKeepaliveIdle{10};
//! ...are sent this often...
inline constexpr std::chrono::seconds kTcpKeepaliveInterval{5};
//! ...and this many unanswered probes close the connection (idle link dead after about 25 s).
inline constexpr int kTcpKeepaliveProbes = 3;
//! Data we sent that stays unacknowledged this long closes the connection (TCP_USER_TIMEOUT),
//! instead of TCP's backed-off retransmissions running for minutes.
inline constexpr std::chrono::seconds kTcpUserTimeout{20};

//! Sets what every peer socket gets: no Nagle delay, keepalive and the user timeout above.
//! Returns false if the kernel refused one of them (the connection still works, only slower to
//! notice a dead link).
bool configure_peer_socket(tcp::socket& socket);

//! A connection's transport figures (getpeerinfo).
struct ConnectionStats {
  std::int64_t connected_at = 0;  //!< unix time
  std::chrono::steady_clock::time_point connected_since;
  std::chrono::steady_clock::time_point last_send;
  std::chrono::steady_clock::time_point last_recv;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_recv = 0;
  std::size_t send_queue_bytes = 0;
};

//! One peer's socket: a reader (frames through io::FrameReader, decoded, handed to the
//! processor in order), a writer (a bounded queue of frames) and a watchdog (idle timeout). It
//! knows nothing of the protocol: the message processor decides what a message means.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ConnManager& manager, tcp::socket socket, ConnectionInfo info, std::int64_t connected_at);

  //! Reader, writer and watchdog until the connection closes; then tells the manager.
  asio::awaitable<void> run();
  //! Queues a message; drops the peer when its send queue exceeds kMaxSendQueueBytes.
  void send(const net::Message& m);
  void disconnect(std::string_view reason);
  //! While paused, no further message is read (back-pressure from the processor).
  void pause_reading(bool paused);
  bool connected() const { return !closed_; }

  const ConnectionInfo& info() const { return info_; }
  PeerId id() const { return info_.id; }
  const ConnectionStats& stats() const { return stats_; }
  //! Where the peer says it listens (from its version), if it does.
  const std::optional<net::NetAddress>& listen_address() const { return listen_address_; }
  void set_listen_address(const net::NetAddress& a) { listen_address_ = a; }
  const std::string& disconnect_reason() const { return disconnect_reason_; }

 private:
  asio::awaitable<void> reader();
  asio::awaitable<void> writer();
  asio::awaitable<void> watchdog();

  ConnManager& manager_;
  tcp::socket socket_;
  ConnectionInfo info_;
  ConnectionStats stats_;
  std::deque<Bytes> queue_;
  asio::steady_timer wake_;    //!< cancelled when the queue gets a frame or the connection closes
  asio::steady_timer resume_;  //!< cancelled when reading may go on
  bool paused_ = false;
  bool closed_ = false;
  std::string disconnect_reason_;
  std::optional<net::NetAddress> listen_address_;
};

}  // namespace cheese
