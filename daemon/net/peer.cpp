#include <boost/asio/experimental/awaitable_operators.hpp>

#include <random>

#include "util/log.hpp"
#include "daemon/net/net_manager.hpp"

namespace cheese {

using namespace boost::asio::experimental::awaitable_operators;

Peer::Peer(NetManager& manager, tcp::socket socket, bool is_inbound, std::uint64_t peer_id, net::NetAddress addr)
    : id(peer_id),
      inbound(is_inbound),
      address(addr),
      manager_(manager),
      socket_(std::move(socket)),
      wake_(socket_.get_executor()) {
  wake_.expires_at(std::chrono::steady_clock::time_point::max());
  last_recv = last_send = std::chrono::steady_clock::now();
  connected_at = manager_.now();
}

void Peer::add_known(const Hash256& h) {
  if (!known_.insert(h).second) return;
  known_order_.push_back(h);
  if (known_order_.size() > kMaxKnownInventory) {
    known_.erase(known_order_.front());
    known_order_.pop_front();
  }
}

void Peer::send(const net::Message& m) {
  if (closed_) return;
  Bytes frame = net::encode_frame(manager_.magic(), m);
  queued_bytes_ += frame.size();
  if (queued_bytes_ > kMaxSendQueueBytes) {
    disconnect("send queue full (peer reads too slowly)");
    return;
  }
  log_debug("net", "peer {} <- {} ({} bytes)", id, net::command_of(m), frame.size());
  queue_.push_back(std::move(frame));
  wake_.cancel();
}

void Peer::send_ping() {
  std::random_device rd;
  ping_nonce = (std::uint64_t{rd()} << 32) | rd();
  if (ping_nonce == 0) ping_nonce = 1;
  ping_sent = std::chrono::steady_clock::now();
  send(net::PingMsg{ping_nonce});
}

void Peer::disconnect(std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  disconnect_reason = std::string(reason);
  log_debug("net", "peer {} ({}) disconnected: {}", id, address.to_string(), reason);
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  wake_.cancel();
}

asio::awaitable<void> Peer::run() {
  auto self = shared_from_this();
  try {
    co_await (reader() && writer() && watchdog());
  } catch (const std::exception& e) {
    disconnect(e.what());
  }
  disconnect(disconnect_reason.empty() ? "closed" : disconnect_reason);
  manager_.peer_closed(self);
}

asio::awaitable<void> Peer::reader() {
  auto self = shared_from_this();
  std::array<std::uint8_t, net::kFrameHeaderSize> header_bytes{};
  Bytes payload;
  while (!closed_) {
    auto [ec, n] = co_await asio::async_read(socket_, asio::buffer(header_bytes), asio::as_tuple(asio::use_awaitable));
    if (ec) {
      disconnect(ec == asio::error::eof ? "peer closed the connection" : ec.message());
      co_return;
    }
    bytes_recv += n;
    manager_.count_bytes(0, n);
    auto header = net::decode_frame_header(header_bytes, manager_.magic());
    if (!header) {
      manager_.misbehaving(*this, fmt::format("bad frame header: {}", net::to_string(header.error())));
      co_return;
    }
    // The length was checked against kMaxPayloadSize before this allocation.
    payload.resize(header->length);
    if (header->length > 0) {
      auto [pec, pn] = co_await asio::async_read(socket_, asio::buffer(payload), asio::as_tuple(asio::use_awaitable));
      if (pec) {
        disconnect(pec.message());
        co_return;
      }
      bytes_recv += pn;
      manager_.count_bytes(0, pn);
    }
    last_recv = std::chrono::steady_clock::now();
    if (!net::checksum_matches(*header, payload)) {
      manager_.misbehaving(*this, "bad checksum");
      co_return;
    }
    auto msg = net::decode_message(header->command, payload);
    if (!msg) {
      if (msg.error().kind == net::MessageError::kUnknownCommand) {
        log_debug("net", "peer {} sent unknown command '{}', ignored", id, header->command);
        continue;
      }
      manager_.misbehaving(*this, fmt::format("malformed {}: {}", header->command, net::to_string(msg.error())));
      co_return;
    }
    log_debug("net", "peer {} -> {} ({} bytes)", id, header->command, payload.size());
    co_await manager_.handle_message(self, std::move(*msg));
  }
}

asio::awaitable<void> Peer::writer() {
  auto self = shared_from_this();
  while (!closed_) {
    if (queue_.empty()) {
      co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    Bytes frame = std::move(queue_.front());
    queue_.pop_front();
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(frame), asio::as_tuple(asio::use_awaitable));
    queued_bytes_ -= frame.size();
    if (ec) {
      disconnect(ec.message());
      co_return;
    }
    bytes_sent += n;
    manager_.count_bytes(n, 0);
    last_send = std::chrono::steady_clock::now();
  }
}

asio::awaitable<void> Peer::watchdog() {
  auto self = shared_from_this();
  asio::steady_timer timer(socket_.get_executor());
  const auto& opt = manager_.options();
  const auto started = std::chrono::steady_clock::now();
  while (!closed_) {
    timer.expires_after(std::chrono::milliseconds(500));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (closed_) co_return;
    const auto now = std::chrono::steady_clock::now();
    if (!handshake_done && now - started > opt.handshake_timeout) {
      disconnect("handshake timeout");
      co_return;
    }
    if (now - last_recv > opt.idle_timeout) {
      disconnect("idle timeout");
      co_return;
    }
    if (handshake_done && ping_nonce == 0 && now - ping_sent > opt.ping_interval) send_ping();
    if (ping_nonce != 0 && now - ping_sent > net::kPingTimeout) {
      disconnect("ping timeout");
      co_return;
    }
  }
}

}  // namespace cheese
