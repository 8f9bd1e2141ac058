// The web UI's server side: embedded assets, headers, the token, and the live-update sockets,
// against a real in-process node on 127.0.0.1 (port chosen by the kernel).
#include <coroutine>

#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <set>
#include <thread>

#include "daemon/http/http_server.hpp"
#include "daemon/node/node.hpp"
#include "daemon/webui/assets.hpp"
#include "daemon/webui/web_ui.hpp"

using namespace cheese;
namespace websocket = boost::beast::websocket;

namespace {

class TempDir {
 public:
  TempDir() {
    static std::atomic<unsigned> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("cheese-webui-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string header(const std::vector<std::pair<std::string, std::string>>& hs, std::string_view name) {
  for (const auto& [k, v] : hs) {
    if (k == name) return v;
  }
  return {};
}

//! A regtest node running on its own thread, reached over loopback like a browser would.
class RunningNode {
 public:
  template <typename Fn>
  auto on_io(Fn fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto f = task.get_future();
    asio::post(node_->io(), [&task] { task(); });
    return f.get();
  }

  RunningNode() {
    NodeOptions o;
    o.params = &chain_params(Network::kRegtest);
    o.datadir = dir_.path();
    o.rpc_bind = {"127.0.0.1"};
    o.rpc_port = 0;
    o.port = 0;
    o.listen = false;
    o.gen_threads = 1;
    node_ = std::make_unique<Node>(std::move(o));
    thread_ = std::thread([this] { node_->run(); });
    // Posted work runs once run() has started listening.
    std::promise<std::uint16_t> port;
    auto f = port.get_future();
    asio::post(node_->io(), [&] { port.set_value(node_->context().http->endpoints().at(0).port()); });
    port_ = f.get();
    token_ = on_io([this] { return std::string(node_->context().web->token()); });
  }
  ~RunningNode() {
    node_->request_stop();
    thread_.join();
  }

  std::uint16_t port() const { return port_; }
  const std::string& token() const { return token_; }
  //! "Basic ..." with the node's cookie (full rights).
  std::string cookie_auth() const {
    std::ifstream f(dir_.path() / ".cookie");
    std::string line;
    std::getline(f, line);
    const auto colon = line.find(':');
    return basic_auth_header(line.substr(0, colon), line.substr(colon + 1));
  }
  Node& node() { return *node_; }
  NodeContext& ctx() { return node_->context(); }

  http::response<http::string_body> request(http::verb method, const std::string& target, const std::string& body,
                                            const std::string& authorization = "") {
    asio::io_context io;
    beast::tcp_stream s(io);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    if (method == http::verb::post) {
      req.body() = body;
      req.prepare_payload();
    }
    http::write(s, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(s, buffer, res);
    return res;
  }

 private:
  TempDir dir_;
  std::unique_ptr<Node> node_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::string token_;
};

//! Opens a WebSocket to /ws offering the given subprotocols; throws on a refused handshake.
struct WsClient {
  asio::io_context io;
  websocket::stream<tcp::socket> ws{io};
  websocket::response_type response;

  void open(std::uint16_t port, const std::string& protocols) {
    ws.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ws.set_option(websocket::stream_base::decorator([protocols](websocket::request_type& r) {
      if (!protocols.empty()) r.set(http::field::sec_websocket_protocol, protocols);
    }));
    ws.handshake(response, "127.0.0.1", "/ws");
  }
  std::string read() {
    beast::flat_buffer b;
    ws.read(b);
    return beast::buffers_to_string(b.data());
  }
};

const std::string kRpcBody = R"({"jsonrpc":"2.0","id":1,"method":"getblockcount"})";

}  // namespace

TEST_CASE("assets are found by path with their content type", "[daemon][webui]") {
  const auto index = webui::find_asset("/");
  REQUIRE(index);
  CHECK(index->content_type == "text/html; charset=utf-8");
  CHECK(index->bytes.find("<script type=\"module\" src=\"js/app.js\">") != std::string_view::npos);
  CHECK(index->bytes.find("<script>") == std::string_view::npos);  // no inline script (CSP)
  CHECK(webui::find_asset("/index.html")->bytes == index->bytes);
  const auto app = webui::find_asset("/js/app.js");
  REQUIRE(app);
  CHECK(app->content_type == "text/javascript; charset=utf-8");
  CHECK(webui::find_asset("/app.css")->content_type == "text/css; charset=utf-8");
  CHECK(webui::find_asset("/favicon.svg")->content_type == "image/svg+xml");
  CHECK_FALSE(webui::find_asset("/nope.js"));
  CHECK_FALSE(webui::find_asset("/js/../index.html"));
  CHECK_FALSE(webui::find_asset("js/app.js"));
  CHECK_FALSE(webui::find_asset(""));
  CHECK(webui::content_type_for("x.bin") == "application/octet-stream");
  CHECK(webui::content_type_for(".js") == "application/octet-stream");
  // The ETag follows the content.
  CHECK(index->etag != app->etag);
  CHECK(index->etag == webui::find_asset("/")->etag);
}

TEST_CASE("assets are served with caching headers and 304 for a matching ETag", "[daemon][webui]") {
  asio::io_context io;
  WebUi web(io, "ab12");
  const auto ok = web.serve_asset("/", "");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(header(ok->headers, "Cache-Control") == "no-cache");
  const std::string etag = header(ok->headers, "ETag");
  CHECK(etag.size() == 18);
  const auto again = web.serve_asset("/", etag);
  REQUIRE(again);
  CHECK(again->status == 304);
  CHECK(again->body.empty());
  CHECK(web.serve_asset("/", "\"0000000000000000\"")->status == 200);
  CHECK_FALSE(web.serve_asset("/missing", ""));
}

TEST_CASE("security headers forbid framing, sniffing, inline script and foreign origins", "[daemon][webui]") {
  const auto hs = web_security_headers();
  const std::string csp = header(hs, "Content-Security-Policy");
  CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("connect-src 'self'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(csp.find("unsafe-eval") == std::string::npos);
  CHECK(header(hs, "X-Frame-Options") == "DENY");
  CHECK(header(hs, "X-Content-Type-Options") == "nosniff");
  CHECK(header(hs, "Referrer-Policy") == "no-referrer");
}

TEST_CASE("the token is accepted as Bearer and as a WebSocket subprotocol, nothing else", "[daemon][webui]") {
  asio::io_context io;
  WebUi web(io, "00ff00ff");
  CHECK(web.bearer_ok("Bearer 00ff00ff"));
  CHECK_FALSE(web.bearer_ok("Bearer 00ff00f"));
  CHECK_FALSE(web.bearer_ok("Bearer 00ff00ff0"));
  CHECK_FALSE(web.bearer_ok("bearer 00ff00ff"));
  CHECK_FALSE(web.bearer_ok("Basic 00ff00ff"));
  CHECK_FALSE(web.bearer_ok("Bearer "));
  CHECK(web.protocol_token_ok("cheesechain.v1, token.00ff00ff"));
  CHECK(web.protocol_token_ok("token.00ff00ff"));
  CHECK_FALSE(web.protocol_token_ok("cheesechain.v1, token.00ff00fe"));
  CHECK_FALSE(web.protocol_token_ok("cheesechain.v1"));
  CHECK_FALSE(web.protocol_token_ok(""));
  CHECK(web.url("127.0.0.1", 28432) == "http://127.0.0.1:28432/#token=00ff00ff");
  WebUi none(io, "");
  CHECK_FALSE(none.bearer_ok("Bearer "));
  CHECK_FALSE(none.protocol_token_ok("token."));
}

TEST_CASE("a node serves the page without credentials but JSON-RPC only with the cookie or the token",
          "[daemon][webui]") {
  RunningNode n;
  CHECK(n.token().size() == 64);

  auto page = n.request(http::verb::get, "/", "");
  CHECK(page.result_int() == 200);
  CHECK(page[http::field::content_type] == "text/html; charset=utf-8");
  CHECK(page["X-Frame-Options"] == "DENY");
  CHECK(page["Content-Security-Policy"].find("frame-ancestors 'none'") != std::string::npos);
  CHECK(n.request(http::verb::get, "/js/app.js", "").result_int() == 200);

  auto refused = n.request(http::verb::post, "/", kRpcBody);
  CHECK(refused.result_int() == 401);
  CHECK(refused[http::field::www_authenticate] == "Basic realm=\"jsonrpc\"");
  CHECK(refused["X-Content-Type-Options"] == "nosniff");  // on every response
  // Not an asset: still needs credentials, as before the web UI.
  CHECK(n.request(http::verb::get, "/other", "").result_int() == 401);

  auto ok = n.request(http::verb::post, "/", kRpcBody, "Bearer " + n.token());
  CHECK(ok.result_int() == 200);
  CHECK(ok.body().find("\"result\":0") != std::string::npos);

  auto wrong = n.request(http::verb::post, "/", kRpcBody, "Bearer " + std::string(64, '0'));
  CHECK(wrong.result_int() == 401);
  // No Basic challenge to a Bearer attempt: a browser would pop up a password dialog.
  CHECK(wrong[http::field::www_authenticate] == "Bearer realm=\"cheesed\"");

  // `webui` is no method of the pages: the token gets 403; the cookie gets the address.
  const std::string webui_call = R"({"jsonrpc":"2.0","id":1,"method":"webui"})";
  CHECK(n.request(http::verb::post, "/", webui_call, "Bearer " + n.token()).result_int() == 403);
  auto url = n.request(http::verb::post, "/", webui_call, n.cookie_auth());
  const auto reply = boost::json::parse(url.body());
  CHECK(reply.at("result").at("url").as_string() ==
        fmt::format("http://127.0.0.1:{}/#token={}", n.port(), n.token()));

  CHECK(n.request(http::verb::get, "/ws", "", "Bearer " + n.token()).result_int() == 426);
}

TEST_CASE("the WebSocket needs the token, pushes new tips, and is limited in number", "[daemon][webui]") {
  RunningNode n;
  {
    WsClient bad;
    CHECK_THROWS(bad.open(n.port(), "cheesechain.v1, token." + std::string(64, '1')));
    WsClient none;
    CHECK_THROWS(none.open(n.port(), ""));
  }
  WsClient c;
  c.open(n.port(), "cheesechain.v1, token." + n.token());
  CHECK(c.response[http::field::sec_websocket_protocol] == "cheesechain.v1");
  CHECK(n.on_io([&] { return n.ctx().web->websocket_count(); }) == 1);

  const std::string miner = "rchz190vqdjtlpcq27xslcveglfmr4ynfwg7gmw86cnun4acakxrdd6gqgvldna";
  const auto mined = n.request(
      http::verb::post, "/",
      R"({"jsonrpc":"2.0","id":1,"method":"generatetoaddress","params":[1,")" + miner + R"("]})",
      n.cookie_auth());  // not a method of the pages: the token may not call it
  REQUIRE(mined.result_int() == 200);
  const auto event = boost::json::parse(c.read());
  CHECK(event.at("type").as_string() == "tip");
  CHECK(event.at("height").as_int64() == 1);

  std::vector<std::unique_ptr<WsClient>> more;
  for (std::size_t i = 1; i < kMaxWebSockets; ++i) {
    more.push_back(std::make_unique<WsClient>());
    more.back()->open(n.port(), "token." + n.token());
  }
  CHECK(n.on_io([&] { return n.ctx().web->websocket_count(); }) == kMaxWebSockets);
  WsClient one_too_many;
  try {
    one_too_many.open(n.port(), "token." + n.token());
    FAIL("a socket above kMaxWebSockets was accepted");
  } catch (const boost::system::system_error&) {
    CHECK(one_too_many.response.result_int() == 503);
  }
}

TEST_CASE("a WebSocket client that does not read is dropped when its queue is full", "[daemon][webui]") {
  RunningNode n;
  WsClient slow;
  slow.open(n.port(), "token." + n.token());
  REQUIRE(n.on_io([&] { return n.ctx().web->websocket_count(); }) == 1);
  // Big messages fill the kernel buffers, then the queue; the node never waits for the client.
  const std::string big(64 * 1024, 'x');
  bool dropped = false;
  for (int round = 0; round < 200 && !dropped; ++round) {
    dropped = n.on_io([&] {
      for (std::size_t i = 0; i < kMaxWebSocketQueue; ++i) n.ctx().web->broadcast(big);
      return n.ctx().web->websocket_count() == 0;
    });
    if (!dropped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(dropped);
}

TEST_CASE("a node stops cleanly while a WebSocket is open", "[daemon][webui]") {
  WsClient c;
  {
    RunningNode n;
    c.open(n.port(), "cheesechain.v1, token." + n.token());
    REQUIRE(n.on_io([&] { return n.ctx().web->websocket_count(); }) == 1);
  }  // request_stop(), then run() must return although the browser never closed its socket
  boost::system::error_code ec;
  beast::flat_buffer b;
  c.ws.read(b, ec);
  CHECK(ec);  // the node closed it
}

namespace {

//! The methods the web UI's scripts call: rpc('name' / call('name' / ['name', [ (batches).
//! Fails the test on a call whose method is not a string literal (it could not be listed).
std::set<std::string> methods_called_by_scripts() {
  static const std::regex kLiteral(R"((?:\brpc|\bcall)\('([A-Za-z_]+)'|\['([A-Za-z_]+)', \[)");
  static const std::regex kAnyCall(R"(\b(rpc|call)\(([^)]{0,16}))");
  std::set<std::string> out;
  std::size_t scripts = 0;
  for (const auto& file : webui::embedded_files()) {
    if (!file.path.ends_with(".js")) continue;
    ++scripts;
    const std::string text(file.bytes);
    for (std::sregex_iterator it(text.begin(), text.end(), kLiteral), end; it != end; ++it) {
      out.insert((*it)[1].matched ? (*it)[1].str() : (*it)[2].str());
    }
    for (std::sregex_iterator it(text.begin(), text.end(), kAnyCall), end; it != end; ++it) {
      const std::string args = (*it)[2].str();
      const auto before = text.substr(0, static_cast<std::size_t>(it->position()));
      // The definitions `function rpc(method, ...)` and the wrapper `rpc(method, params, opts)`.
      const bool definition = before.ends_with("function ") || args.starts_with("method");
      INFO(file.path << ": " << it->str());
      CHECK((definition || args.starts_with("'")));
    }
  }
  CHECK(scripts >= 5);
  return out;
}

}  // namespace

TEST_CASE("the token's allow-list is exactly the methods the web UI's scripts call", "[daemon][webui]") {
  const std::set<std::string> listed(kWebUiMethods.begin(), kWebUiMethods.end());
  CHECK(listed.size() == kWebUiMethods.size());
  CHECK(std::is_sorted(kWebUiMethods.begin(), kWebUiMethods.end()));
  CHECK(methods_called_by_scripts() == listed);
  CHECK_FALSE(listed.contains("stop"));
  CHECK_FALSE(listed.contains("webui"));
  CHECK_FALSE(listed.contains("generatetoaddress"));
}

TEST_CASE("the web UI token may call what the pages call, nothing else: it cannot stop the node", "[daemon][webui]") {
  RunningNode n;
  // Every listed method exists (a renamed method would break the page, not be refused).
  n.on_io([&n] {
    for (const auto m : kWebUiMethods) {
      INFO(m);
      CHECK(n.ctx().rpc.find(m) != nullptr);
    }
    return 0;
  });
  const std::string bearer = "Bearer " + n.token();
  auto stop = n.request(http::verb::post, "/", R"({"jsonrpc":"2.0","id":7,"method":"stop"})", bearer);
  CHECK(stop.result_int() == 403);
  CHECK(stop[http::field::content_type] == "application/json");
  const auto refused = boost::json::parse(stop.body());
  CHECK(refused.at("id") == 7);
  CHECK(refused.at("error").at("code") == -32601);
  CHECK(std::string(refused.at("error").at("message").as_string()).find("stop") != std::string::npos);
  // The node did not stop: it still answers, both the token and the cookie.
  CHECK(n.request(http::verb::post, "/", kRpcBody, bearer).result_int() == 200);
  CHECK(n.request(http::verb::post, "/", kRpcBody, n.cookie_auth()).result_int() == 200);
  // A wallet path changes nothing; a method of the list runs.
  CHECK(
      n.request(http::verb::post, "/wallet/x", R"({"jsonrpc":"2.0","id":1,"method":"stop"})", bearer).result_int() ==
      403);
  CHECK(n.request(http::verb::post, "/", R"({"jsonrpc":"2.0","id":1,"method":"generatetoaddress","params":[1,"x"]})",
                  bearer)
            .result_int() == 403);
  auto info = n.request(http::verb::post, "/", R"({"jsonrpc":"2.0","id":1,"method":"getblockchaininfo"})", bearer);
  CHECK(info.result_int() == 200);
  CHECK(info.body().find("\"result\"") != std::string::npos);
}
