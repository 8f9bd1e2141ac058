#include "daemon/net/connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "daemon/net/connman.hpp"
#include "io/frame_reader.hpp"
#include "util/log.hpp"

namespace cheese {

using namespace boost::asio::experimental::awaitable_operators;

bool configure_peer_socket(tcp::socket& socket) {
  boost::system::error_code ec;
  bool ok = true;
  socket.set_option(tcp::no_delay(true), ec);
  ok = ok && !ec;
  socket.set_option(asio::socket_base::keep_alive(true), ec);
  ok = ok && !ec;
  const int fd = socket.native_handle();
  const int idle = static_cast<int>(kTcpKeepaliveIdle.count());
  const int interval = static_cast<int>(kTcpKeepaliveInterval.count());
  const int probes = kTcpKeepaliveProbes;
  const unsigned user_timeout = static_cast<unsigned>(kTcpUserTimeout.count() * 1000);
  ok = ok && ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) == 0;
  ok = ok && ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval) == 0;
  ok = ok && ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes) == 0;
  ok = ok && ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout) == 0;
  return ok;
}

Connection::Connection(ConnManager& manager, tcp::socket socket, ConnectionInfo info, std::int64_t connected_at)
    : manager_(manager),
      socket_(std::move(socket)),
      info_(std::move(info)),
      wake_(socket_.get_executor()),
      resume_(socket_.get_executor()) {
  wake_.expires_at(std::chrono::steady_clock::time_point::max());
  resume_.expires_at(std::chrono::steady_clock::time_point::max());
  stats_.connected_at = connected_at;
  stats_.last_recv = stats_.last_send = stats_.connected_since = std::chrono::steady_clock::now();
}

void Connection::send(const net::Message& m) {
  if (closed_) return;
  Bytes frame = net::encode_frame(manager_.magic(), m);
  stats_.send_queue_bytes += frame.size();
  if (stats_.send_queue_bytes > kMaxSendQueueBytes) {
    disconnect("send queue full (peer reads too slowly)");
    return;
  }
  log_debug("net", "peer {} <- {} ({} bytes)", id(), net::command_of(m), frame.size());
  queue_.push_back(std::move(frame));
  wake_.cancel();
}

void Connection::pause_reading(bool paused) {
  paused_ = paused;
  if (!paused) resume_.cancel();
}

void Connection::disconnect(std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  disconnect_reason_ = std::string(reason);
  log_debug("net", "peer {} ({}) disconnected: {}", id(), info_.address.to_string(), reason);
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  wake_.cancel();
  resume_.cancel();
}

asio::awaitable<void> Connection::run() {
  auto self = shared_from_this();
  try {
    co_await (reader() && writer() && watchdog());
  } catch (const std::exception& e) {
    disconnect(e.what());
  }
  disconnect(disconnect_reason_.empty() ? "closed" : disconnect_reason_);
  manager_.connection_closed(self);
}

asio::awaitable<void> Connection::reader() {
  auto self = shared_from_this();
  io::FrameReader frames(socket_, manager_.magic());
  while (!closed_) {
    auto frame = co_await frames.next();
    const std::uint64_t read = frames.bytes_read() - stats_.bytes_recv;
    stats_.bytes_recv += read;
    manager_.count_bytes(0, read);
    if (!frame) {
      const auto& e = frame.error();
      if (e.kind == io::FrameReadError::kFrame) {
        manager_.discourage(id(), info_.address, fmt::format("misbehaving: bad frame: {}", net::to_string(*e.frame)));
      } else {
        disconnect(e.kind == io::FrameReadError::kClosed ? "peer closed the connection" : e.message());
      }
      co_return;
    }
    stats_.last_recv = std::chrono::steady_clock::now();
    auto msg = net::decode_message(frame->command, frame->payload);
    if (!msg) {
      if (msg.error().kind == net::MessageError::kUnknownCommand) {
        log_debug("net", "peer {} sent unknown command '{}', ignored", id(), frame->command);
        continue;
      }
      manager_.discourage(id(), info_.address,
                          fmt::format("misbehaving: malformed {}: {}", frame->command, net::to_string(msg.error())));
      co_return;
    }
    log_debug("net", "peer {} -> {} ({} bytes)", id(), frame->command, frame->payload.size());
    manager_.deliver(id(), std::move(*msg));
    while (paused_ && !closed_) co_await resume_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> Connection::writer() {
  auto self = shared_from_this();
  while (!closed_) {
    if (queue_.empty()) {
      co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    Bytes frame = std::move(queue_.front());
    queue_.pop_front();
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(frame), asio::as_tuple(asio::use_awaitable));
    stats_.send_queue_bytes -= frame.size();
    if (ec) {
      disconnect(ec.message());
      co_return;
    }
    stats_.bytes_sent += n;
    manager_.count_bytes(n, 0);
    stats_.last_send = std::chrono::steady_clock::now();
    if (queue_.empty()) manager_.send_drained(id());
  }
}

asio::awaitable<void> Connection::watchdog() {
  auto self = shared_from_this();
  asio::steady_timer timer(socket_.get_executor());
  while (!closed_) {
    timer.expires_after(std::chrono::milliseconds(500));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (closed_) co_return;
    // A paused reader is not idle by the peer's fault.
    if (!paused_ && std::chrono::steady_clock::now() - stats_.last_recv > manager_.idle_timeout()) {
      disconnect("idle timeout");
      co_return;
    }
  }
}

}  // namespace cheese
