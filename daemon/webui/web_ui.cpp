#include "daemon/webui/web_ui.hpp"

#include <fmt/format.h>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <algorithm>

#include "chain/chainstate.hpp"
#include "chain/mempool.hpp"
#include "daemon/http/http_server.hpp"
#include "daemon/mining/miner.hpp"
#include "daemon/net/connman.hpp"
#include "daemon/net/peer_manager.hpp"
#include "daemon/net/tracker_client.hpp"
#include "daemon/node/context.hpp"
#include "daemon/node/node.hpp"
#include "daemon/validation/block_processor.hpp"
#include "daemon/wallet/wallet_manager.hpp"
#include "daemon/webui/assets.hpp"
#include "daemon/webui/web_ui.hpp"
#include "util/log.hpp"

namespace cheese {

namespace websocket = beast::websocket;

namespace webui {

std::string_view content_type_for(std::string_view path) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& [ext, type] : kTypes) {
    if (path.size() > ext.size() && path.ends_with(ext)) return type;
  }
  return "application/octet-stream";
}

std::optional<Asset> find_asset(std::string_view url_path) {
  if (url_path == "/") url_path = "/index.html";
  if (!url_path.starts_with('/') || url_path.find("..") != std::string_view::npos) return std::nullopt;
  const std::string_view rel = url_path.substr(1);
  const auto files = embedded_files();
  const auto it = std::lower_bound(files.begin(), files.end(), rel,
                                   [](const EmbeddedFile& f, std::string_view p) { return f.path < p; });
  if (it == files.end() || it->path != rel) return std::nullopt;
  // FNV-1a: the ETag only has to change with the content, it guards nothing.
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : it->bytes) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 1099511628211ull;
  }
  return Asset{it->bytes, content_type_for(rel), fmt::format("\"{:016x}\"", h)};
}

}  // namespace webui

std::vector<std::pair<std::string, std::string>> web_security_headers() {
  return {
      // No inline script or style anywhere, no third-party origin: the page talks only to the
      // node it came from ('self' covers ws:// of the same host in CSP level 3 browsers).
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
      {"X-Frame-Options", "DENY"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
  };
}

struct WebUi::Client {
  explicit Client(beast::tcp_stream s) : ws(std::move(s)), wake(ws.get_executor()) {
    wake.expires_at(asio::steady_timer::time_point::max());
  }
  websocket::stream<beast::tcp_stream> ws;
  asio::steady_timer wake;  //!< parked at max(); cancelled when a message is queued or on close
  std::deque<std::shared_ptr<const std::string>> queue;
  bool closed = false;
};

WebUi::WebUi(asio::io_context& io, std::string token) : io_(io), token_(std::move(token)) {}

WebUi::~WebUi() { stop(); }

bool WebUi::bearer_ok(std::string_view authorization) const {
  constexpr std::string_view kPrefix = "Bearer ";
  if (token_.empty() || !authorization.starts_with(kPrefix)) return false;
  return constant_time_equal(authorization.substr(kPrefix.size()), token_);
}

bool WebUi::protocol_token_ok(std::string_view protocols) const {
  // "cheesechain.v1, token.<hex>": a comma-separated list.
  while (!protocols.empty()) {
    const auto comma = protocols.find(',');
    std::string_view item = protocols.substr(0, comma);
    protocols = comma == std::string_view::npos ? std::string_view() : protocols.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.starts_with(kWebSocketTokenPrefix) && !token_.empty() &&
        constant_time_equal(item.substr(kWebSocketTokenPrefix.size()), token_)) {
      return true;
    }
  }
  return false;
}

std::string WebUi::url(const std::string& host, std::uint16_t port) const {
  return fmt::format("http://{}:{}/#token={}", host, port, token_);
}

std::optional<HttpResult> WebUi::serve_asset(std::string_view path, std::string_view if_none_match) const {
  const auto asset = webui::find_asset(path);
  if (!asset) return std::nullopt;
  HttpResult out;
  // Not fingerprinted file names: the browser revalidates each time (a 304 costs nothing).
  out.headers.emplace_back("Cache-Control", "no-cache");
  out.headers.emplace_back("ETag", asset->etag);
  if (!if_none_match.empty() && if_none_match.find(asset->etag) != std::string_view::npos) {
    out.status = 304;
    out.content_type.clear();
    return out;
  }
  out.status = 200;
  out.content_type = std::string(asset->content_type);
  out.body = std::string(asset->bytes);
  return out;
}

asio::awaitable<void> WebUi::websocket_session(beast::tcp_stream stream, http::request<http::string_body> req,
                                               bool authorized) {
  auto refuse = [&](http::status status, std::string body, bool delay) -> asio::awaitable<void> {
    if (delay) {
      asio::steady_timer t(io_, kAuthFailureDelay);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    http::response<http::string_body> res{status, req.version()};
    res.set(http::field::server, "cheesed");
    res.set(http::field::content_type, "text/plain");
    for (const auto& [k, v] : web_security_headers()) res.set(k, v);
    res.keep_alive(false);
    res.body() = std::move(body);
    res.prepare_payload();
    stream.expires_after(kRpcWriteTimeout);
    co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  };
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  if (path != "/ws") {
    co_await refuse(http::status::not_found, "404 Not found\n", false);
    co_return;
  }
  if (!authorized) {
    co_await refuse(http::status::unauthorized, "401 Unauthorized: the web UI token is wrong\n", true);
    co_return;
  }
  if (stopping_ || clients_.size() >= kMaxWebSockets) {
    co_await refuse(http::status::service_unavailable, "503 Too many WebSockets\n", false);
    co_return;
  }
  auto c = std::make_shared<Client>(std::move(stream));
  clients_.insert(c);
  struct Unregister {
    WebUi* self;
    std::shared_ptr<Client> c;
    ~Unregister() { self->clients_.erase(c); }
  } unregister{this, c};

  const bool wants_protocol = req[http::field::sec_websocket_protocol].find(kWebSocketProtocol) !=
                              std::string_view::npos;
  websocket::stream_base::timeout timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
  timeouts.handshake_timeout = kWebSocketHandshakeTimeout;
  c->ws.set_option(timeouts);  // pings an idle peer and drops a dead one
  c->ws.set_option(websocket::stream_base::decorator([wants_protocol](websocket::response_type& res) {
    res.set(http::field::server, "cheesed");
    if (wants_protocol) res.set(http::field::sec_websocket_protocol, kWebSocketProtocol);
  }));
  c->ws.read_message_max(kMaxWebSocketMessageBytes);
  c->ws.text(true);
  auto [ec] = co_await c->ws.async_accept(req, asio::as_tuple(asio::use_awaitable));
  if (ec || c->closed) co_return;
  log_debug("rpc", "web UI socket opened ({} open)", clients_.size());
  using namespace asio::experimental::awaitable_operators;
  co_await (read_loop(c) && write_loop(c));
}

asio::awaitable<void> WebUi::read_loop(std::shared_ptr<Client> c) {
  // The page sends nothing that matters; reading keeps control frames (ping, close) flowing.
  beast::flat_buffer buffer;
  while (!c->closed) {
    auto [ec, n] = co_await c->ws.async_read(buffer, asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    buffer.consume(buffer.size());
  }
  close(*c);
}

asio::awaitable<void> WebUi::write_loop(std::shared_ptr<Client> c) {
  while (!c->closed) {
    if (c->queue.empty()) {
      c->wake.expires_at(asio::steady_timer::time_point::max());
      co_await c->wake.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    const auto message = c->queue.front();
    auto [ec, n] = co_await c->ws.async_write(asio::buffer(*message), asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    if (!c->queue.empty()) c->queue.pop_front();
  }
  close(*c);
}

void WebUi::close(Client& c) {
  if (c.closed) return;
  c.closed = true;
  c.queue.clear();
  c.wake.cancel();
  boost::system::error_code ec;
  beast::get_lowest_layer(c.ws).socket().shutdown(tcp::socket::shutdown_both, ec);
  beast::get_lowest_layer(c.ws).socket().close(ec);
}

void WebUi::broadcast(std::string message) {
  auto shared = std::make_shared<const std::string>(std::move(message));
  // Copy: close() may end sessions that erase themselves from clients_.
  const std::vector<std::shared_ptr<Client>> clients(clients_.begin(), clients_.end());
  for (const auto& c : clients) {
    if (c->closed) continue;
    if (c->queue.size() >= kMaxWebSocketQueue) {
      log_debug("rpc", "web UI socket closed: the browser does not read its events");
      close(*c);
      continue;
    }
    c->queue.push_back(shared);
    c->wake.cancel();
  }
}

void WebUi::stop() {
  stopping_ = true;
  const std::vector<std::shared_ptr<Client>> clients(clients_.begin(), clients_.end());
  for (const auto& c : clients) close(*c);
}

namespace {

std::string tip_event(NodeContext& node) {
  json::object o;
  o["type"] = "tip";
  o["height"] = node.chain->height();
  o["hash"] = node.chain->tip()->hash.to_display_hex();
  o["mempool"] = node.mempool->size();
  return json::serialize(o);
}

}  // namespace

std::string web_ui_url(NodeContext& node, const WebUi& web) {
  std::string host = "127.0.0.1";
  std::uint16_t port = node.options.rpc_port;
  const auto endpoints = node.http->endpoints();
  if (!endpoints.empty()) {
    // Prefer a loopback address: that is where the person running cheese-cli is.
    auto ep = endpoints.front();
    for (const auto& e : endpoints) {
      if (e.address().is_loopback()) {
        ep = e;
        break;
      }
    }
    port = ep.port();
    const auto a = ep.address();
    if (a.is_unspecified()) {
      host = a.is_v4() ? "127.0.0.1" : "[::1]";
    } else {
      host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
    }
  }
  return web.url(host, port);
}

namespace {

//! The `webui` RPC method (its row of the RPC table).
RpcMethod webui_rpc(NodeContext& node, const WebUi& web) {
  return {"webui",
          "control",
          {},
          "The address of the web wallet and explorer, with its login token.",
          "cheese-cli webui",
          [&node, &web](RpcRequest&) -> asio::awaitable<json::value> {
            json::object o;
            o["url"] = web_ui_url(node, web);
            co_return o;
          }};
}

}  // namespace

void attach_web_ui(NodeContext& node, WebUi& web) {
  HttpServer& http = (*node.http);
  http.set_default_headers(web_security_headers());
  http.set_public([](http::verb method, std::string_view target) {
    if (method != http::verb::get) return false;
    const std::string_view path = target.substr(0, target.find('?'));
    return webui::find_asset(path).has_value();
  });
  node.blocks->on_chain_change([&node, &web](const ProcessBlockResult&, std::uint64_t) {
    if (web.websocket_count() > 0) web.broadcast(tip_event(node));
  });
  node.blocks->on_transaction([&node, &web](const Transaction&, const Hash256& id, std::uint64_t) {
    if (web.websocket_count() == 0) return;
    json::object o;
    o["type"] = "tx";
    o["txid"] = id.to_display_hex();
    o["mempool"] = node.mempool->size();
    web.broadcast(json::serialize(o));
  });
  node.rpc.add(webui_rpc(node, web));
}

}  // namespace cheese
