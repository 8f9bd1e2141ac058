#include "connect_back.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <memory>

#include "io/frame_reader.hpp"
#include "net/protocol.hpp"

namespace cheese::tracker {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

tcp::endpoint to_endpoint(const net::NetAddress& a) {
  if (a.is_ipv4()) return {asio::ip::address_v4({a.ip[12], a.ip[13], a.ip[14], a.ip[15]}), a.port};
  return {asio::ip::address_v6(a.ip), a.port};
}

net::VersionMsg tracker_version(Network network) {
  net::VersionMsg v;
  v.timestamp =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  v.network = std::string(chain_params(network).name);
  randombytes_buf(&v.nonce, sizeof v.nonce);  // never a node's: no self-connection alarm
  v.user_agent = kTrackerUserAgent;
  v.relay = false;  // nothing to relay to a tracker
  return v;
}

//! Why the node's first frames are not a matching `version`; empty when they are.
asio::awaitable<std::string> handshake(tcp::socket& socket, Network network, std::uint64_t nonce) {
  const auto& params = chain_params(network);
  const auto frame = net::encode_frame(params.magic, tracker_version(network));
  auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(frame), asio::as_tuple(asio::use_awaitable));
  (void)wn;
  if (wec) co_return fmt::format("send failed: {}", wec.message());
  io::FrameReader frames(socket, params.magic);
  frames.set_max_payload(64 * 1024);  // a version is a few hundred bytes
  auto got = co_await frames.next();
  if (!got) {
    const auto& e = got.error();
    if (e.kind == io::FrameReadError::kFrame && e.frame == net::FrameError::kBadMagic) {
      co_return fmt::format("not on network {} (other magic)", params.name);
    }
    co_return e.message();
  }
  auto msg = net::decode_message(got->command, got->payload);
  const auto* v = msg ? std::get_if<net::VersionMsg>(&*msg) : nullptr;
  if (!v) co_return fmt::format("first message is '{}', not version", got->command);
  if (v->network != params.name) co_return fmt::format("node is on network '{}'", v->network);
  if (v->nonce != nonce) co_return "version nonce differs from the registration's";
  co_return std::string();
}

}  // namespace

asio::awaitable<ConnectBackResult> connect_back(Network network, net::NetAddress address, std::uint64_t nonce,
                                                std::chrono::milliseconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  auto socket = std::make_shared<tcp::socket>(executor);
  auto timed_out = std::make_shared<bool>(false);
  auto done = std::make_shared<bool>(false);
  asio::steady_timer deadline(executor);
  deadline.expires_after(timeout);
  // The deadline closes the socket, which ends whatever operation is pending.
  deadline.async_wait([socket, timed_out, done](const boost::system::error_code& ec) {
    if (ec || *done) return;
    *timed_out = true;
    boost::system::error_code ignored;
    socket->close(ignored);
  });
  ConnectBackResult out;
  auto [cec] = co_await socket->async_connect(to_endpoint(address), asio::as_tuple(asio::use_awaitable));
  if (cec) {
    out.why = *timed_out ? std::string("connect timeout") : fmt::format("connect failed: {}", cec.message());
  } else {
    std::string why;
    try {
      why = co_await handshake(*socket, network, nonce);
    } catch (const std::exception& e) {
      why = e.what();
    }
    out.ok = why.empty() && !*timed_out;
    out.why = *timed_out ? std::string("no version within the timeout") : why;
  }
  *done = true;
  deadline.cancel();
  boost::system::error_code ignored;
  socket->shutdown(tcp::socket::shutdown_both, ignored);
  socket->close(ignored);
  co_return out;
}

}  // namespace cheese::tracker
