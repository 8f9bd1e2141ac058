#include "daemon/http/http_server.hpp"

#include <fmt/format.h>

#include <boost/beast/websocket/rfc6455.hpp>

#include "io/accept_loop.hpp"
#include "util/log.hpp"
#include "util/wipe.hpp"

namespace cheese {

namespace {

http::response<http::string_body> make_response(unsigned status, unsigned version, std::string content_type,
                                                std::string body, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(status), version};
  res.set(http::field::server, "cheesed");
  if (!content_type.empty()) res.set(http::field::content_type, content_type);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

constexpr std::string_view kAcceptLoopTask = "RPC accept loop";

std::string plain_error(unsigned status, std::string_view what) { return fmt::format("{} {}\n", status, what); }

//! The read buffer of a connection: a request's bytes (a passphrase in a wallet call) are wiped
//! when the buffer grows or goes, and after each request (wipe_read_buffer).
using ReadBuffer = beast::basic_flat_buffer<WipingAllocator<char>>;

//! Wipes the whole storage of `buffer` when no pipelined bytes wait in it (consume() of all its
//! bytes rewinds it, so prepare() then spans the storage from its start).
void wipe_read_buffer(ReadBuffer& buffer) {
  if (buffer.size() != 0) return;
  const auto storage = buffer.prepare(buffer.capacity());
  wipe_memory(storage.data(), storage.size());
}

}  // namespace

std::string basic_auth_header(std::string_view user, std::string_view password) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string in = std::string(user) + ":" + std::string(password);
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (std::uint32_t{static_cast<std::uint8_t>(in[i])} << 16) |
                   (std::uint32_t{static_cast<std::uint8_t>(in[i + 1])} << 8) | static_cast<std::uint8_t>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (const std::size_t rest = in.size() - i; rest > 0) {
    std::uint32_t n = std::uint32_t{static_cast<std::uint8_t>(in[i])} << 16;
    if (rest == 2) n |= std::uint32_t{static_cast<std::uint8_t>(in[i + 1])} << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return "Basic " + out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

HttpServer::HttpServer(asio::io_context& io, Handler handler, AuthCheck auth)
    : io_(io),
      handler_(std::move(handler)),
      auth_(std::move(auth)),
      tasks_(io.get_executor(), [](std::string_view name, std::string_view what) {
        if (name == kAcceptLoopTask) {
          log_info("RPC accept loop ended: {}", what);
        } else {
          log_debug("rpc", "HTTP session ended: {}", what);
        }
      }) {}

void HttpServer::listen(const std::string& address, std::uint16_t port) {
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(address, ec);
  if (ec) throw std::runtime_error(fmt::format("invalid RPC bind address '{}'", address));
  auto acceptor = std::make_shared<tcp::acceptor>(io_);
  const tcp::endpoint ep(addr, port);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("cannot listen for RPC on {}:{}: {} (is another cheesed running?)", address, port, ec.message()));
  }
  acceptors_.push_back(acceptor);
  tasks_.spawn(std::string(kAcceptLoopTask), accept_loop(acceptor));
}

void HttpServer::allow(const std::vector<std::string>& subnets) {
  for (const auto& s : subnets) {
    const auto slash = s.find('/');
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(s.substr(0, slash), ec);
    if (ec) throw std::runtime_error(fmt::format("invalid -rpcallowip '{}'", s));
    int prefix = addr.is_v4() ? 32 : 128;
    if (slash != std::string::npos) {
      try {
        prefix = std::stoi(s.substr(slash + 1));
      } catch (...) {
        throw std::runtime_error(fmt::format("invalid -rpcallowip '{}'", s));
      }
      if (prefix < 0 || prefix > (addr.is_v4() ? 32 : 128)) {
        throw std::runtime_error(fmt::format("invalid -rpcallowip '{}'", s));
      }
    }
    allowed_.emplace_back(addr, prefix);
  }
}

bool HttpServer::allowed(const asio::ip::address& a) const {
  if (a.is_loopback()) return true;
  if (a.is_v6() && a.to_v6().is_v4_mapped() &&
      asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback()) {
    return true;
  }
  for (const auto& [net, prefix] : allowed_) {
    if (net.is_v4() && a.is_v4()) {
      const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
      if ((net.to_v4().to_uint() & mask) == (a.to_v4().to_uint() & mask)) return true;
    } else if (net.is_v6() && a.is_v6()) {
      const auto x = net.to_v6().to_bytes();
      const auto y = a.to_v6().to_bytes();
      bool match = true;
      for (int bit = 0; bit < prefix && match; ++bit) {
        const auto i = static_cast<std::size_t>(bit / 8);
        const auto m = static_cast<std::uint8_t>(0x80 >> (bit % 8));
        match = (x[i] & m) == (y[i] & m);
      }
      if (match) return true;
    }
  }
  return false;
}

void HttpServer::stop() {
  stopping_ = true;
  for (auto& a : acceptors_) {
    boost::system::error_code ec;
    a->close(ec);
  }
  for (const auto& s : sockets_) {
    boost::system::error_code ec;
    s->socket().shutdown(tcp::socket::shutdown_both, ec);
    s->socket().close(ec);
  }
  tasks_.close();
}

std::vector<tcp::endpoint> HttpServer::endpoints() const {
  std::vector<tcp::endpoint> out;
  for (const auto& a : acceptors_) {
    boost::system::error_code ec;
    auto ep = a->local_endpoint(ec);
    if (!ec) out.push_back(ep);
  }
  return out;
}

asio::awaitable<void> HttpServer::accept_loop(std::shared_ptr<tcp::acceptor> acceptor) {
  co_await io::accept_loop(*acceptor, [this](tcp::socket socket) {
    tasks_.spawn("HTTP session", session(std::make_shared<beast::tcp_stream>(std::move(socket))));
  });
}

namespace {

//! The answer to a request that failed to arrive whole; 0 when there is nobody to answer (the
//! client went away or went quiet).
unsigned status_for_read_error(const boost::system::error_code& ec) {
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
      ec == asio::error::connection_reset || ec == asio::error::eof) {
    return 0;
  }
  return 400;
}

std::string_view reason_for_status(unsigned status) {
  switch (status) {
    case 413: return "Request body too large";
    case 431: return "Request header fields too large";
    default: return "Bad request";
  }
}

//! 401 with the challenge that fits the attempt.
HttpResult unauthorized(std::string_view auth) {
  HttpResult result;
  result.status = 401;
  result.content_type = "text/plain";
  // A Basic challenge to the web page's fetch() would make the browser pop up a password
  // dialog: answer a Bearer attempt with a Bearer challenge.
  if (auth.starts_with("Bearer ")) {
    result.body = plain_error(401, "Unauthorized: the web UI token is wrong (cheesed makes a new one at each start)");
    result.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"cheesed\"");
  } else {
    result.body = plain_error(401, "Unauthorized: use the cookie file or -rpcuser/-rpcpassword");
    result.headers.emplace_back("WWW-Authenticate", "Basic realm=\"jsonrpc\"");
  }
  return result;
}

//! Reads one request into `parser`. Between requests a keep-alive connection may idle; once a
//! request starts it must finish within `request_timeout` (a slow client cannot hold the
//! connection forever).
asio::awaitable<boost::system::error_code> read_request(beast::tcp_stream& stream, ReadBuffer& buffer,
                                                        http::request_parser<http::string_body>& parser, bool first,
                                                        std::chrono::steady_clock::duration request_timeout) {
  if (!first && buffer.size() == 0) {
    stream.expires_after(kRpcIdleTimeout);
    auto [iec, in] = co_await stream.async_read_some(buffer.prepare(4096), asio::as_tuple(asio::use_awaitable));
    buffer.commit(in);
    if (iec) co_return asio::error::eof;  // closed, idle too long, or shutting down: nothing to answer
  }
  stream.expires_after(request_timeout);
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  if (hec || parser.is_done()) co_return hec;
  // curl sends large bodies only after "100 Continue" (or after waiting a second for it).
  if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
    http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
    auto [cec, cn] = co_await http::async_write(stream, go_on, asio::as_tuple(asio::use_awaitable));
    if (cec) co_return asio::error::eof;
  }
  // Same deadline as the header: the whole request must arrive within request_timeout.
  auto [bec, bn] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  co_return bec;
}

}  // namespace

asio::awaitable<HttpResult> HttpServer::answer(http::request<http::string_body>& req, const std::string& remote_ip) {
  const std::string target(req.target());
  const auto auth = req[http::field::authorization];
  const std::string_view auth_view(auth.data(), auth.size());
  const bool is_public = public_ && public_(req.method(), target);
  std::optional<HttpCaller> caller = is_public ? std::nullopt : auth_(auth_view, target);
  if (!is_public && !caller) {
    log_info("RPC request from {} with wrong or missing credentials", remote_ip);
    asio::steady_timer delay(io_, kAuthFailureDelay);
    co_await delay.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return unauthorized(auth_view);
  }
  HttpRequestInfo info{req.method(), target, std::move(req.body()), std::string(req[http::field::content_type]),
                       std::string(req[http::field::if_none_match])};
  info.caller = std::move(caller);
  HttpResult result = co_await handler_(info);
  wipe_string(info.body);
  co_return result;
}

asio::awaitable<void> HttpServer::session(std::shared_ptr<beast::tcp_stream> stream) {
  boost::system::error_code ec;
  const auto remote = stream->socket().remote_endpoint(ec);
  if (ec) co_return;
  auto reject_and_close = [&](unsigned status, std::string_view why) -> asio::awaitable<void> {
    auto res = make_response(status, 11, "text/plain", plain_error(status, why), false);
    for (const auto& [k, v] : default_headers_) res.set(k, v);
    stream->expires_after(kRpcWriteTimeout);
    co_await http::async_write(*stream, res, asio::as_tuple(asio::use_awaitable));
    stream->socket().shutdown(tcp::socket::shutdown_both, ec);
  };
  if (!allowed(remote.address())) {
    log_info("RPC connection from {} refused (not in -rpcallowip)", remote.address().to_string());
    co_await reject_and_close(403, "Forbidden");
    co_return;
  }
  if (sockets_.size() >= kMaxRpcConnections) {
    co_await reject_and_close(503, "Too many connections");
    co_return;
  }
  sockets_.insert(stream);
  struct Unregister {
    HttpServer* self;
    std::shared_ptr<beast::tcp_stream> s;
    ~Unregister() { self->sockets_.erase(s); }
  } unregister{this, stream};

  ReadBuffer buffer;
  bool first = true;
  while (!stopping_) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxRpcHeaderBytes);
    parser.body_limit(kMaxRpcBodyBytes);
    auto reading = read_request(*stream, buffer, parser, first, request_timeout_);
    boost::system::error_code hec = co_await std::move(reading);
    first = false;
    if (hec) {
      if (const unsigned status = status_for_read_error(hec); status != 0) {
        co_await reject_and_close(status, reason_for_status(status));
      }
      co_return;
    }
    auto req = parser.release();
    const bool keep_alive = req.keep_alive();
    HttpResult result;
    if (upgrade_ && beast::websocket::is_upgrade(req)) {
      // The WebSocket owner (with its own limit) closes it from now on: a moved-from stream
      // must not stay in sockets_, which stop() closes.
      sockets_.erase(stream);
      stream->expires_never();
      co_await upgrade_(std::move(*stream), std::move(req));
      co_return;
    }
    result = co_await answer(req, remote.address().to_string());
    wipe_string(req.body());  // refused for its credentials: the body was not moved out
    wipe_read_buffer(buffer);
    auto res = make_response(result.status, req.version(), result.content_type, std::move(result.body), keep_alive);
    for (const auto& [k, v] : default_headers_) res.set(k, v);
    for (const auto& [k, v] : result.headers) res.set(k, v);
    stream->expires_after(kRpcWriteTimeout);
    auto [wec, wn] = co_await http::async_write(*stream, res, asio::as_tuple(asio::use_awaitable));
    wipe_string(res.body());  // a reply may carry a secret (createwallet's recovery phrase)
    if (wec || !keep_alive) break;
  }
  stream->socket().shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace cheese
