#pragma once

#include <coroutine>

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "daemon/http/http_server.hpp"

namespace cheese {

struct NodeContext;

//! Limits of the web UI's live-update sockets (GET /ws), each a named constant.
inline constexpr std::size_t kMaxWebSockets = 16;               //!< HTTP 503 to further upgrades
inline constexpr std::size_t kMaxWebSocketQueue = 256;          //!< events queued for one socket; above: it is closed
inline constexpr std::size_t kMaxWebSocketMessageBytes = 4096;  //!< from the browser (it sends nothing we need)
inline constexpr auto kWebSocketHandshakeTimeout = std::chrono::seconds(10);
//! The subprotocol the page asks for; the token travels as a second one, "token.<hex>",
//! because a browser cannot set an Authorization header on a WebSocket.
inline constexpr std::string_view kWebSocketProtocol = "cheesechain.v1";
inline constexpr std::string_view kWebSocketTokenPrefix = "token.";

//! Every JSON-RPC method the web UI's pages call (daemon/webui/assets/js), sorted: all that its
//! token may call (docs/rpc.md, "Method allow-lists"); tests/daemon/webui_test.cpp checks the
//! list against the scripts. Not `stop`, `webui` or `help`: the pages never call them.
inline constexpr std::array<std::string_view, 31> kWebUiMethods = {
    "createwallet",
    "encryptwallet",
    "getaccount",
    "getblock",
    "getblockchaininfo",
    "getblockcount",
    "getblockhash",
    "getblockheader",
    "getmempoolinfo",
    "getmininginfo",
    "getnetworkinfo",
    "getnewaddress",
    "getpeerinfo",
    "getrawmempool",
    "getrawtransaction",
    "gettrackerinfo",
    "getwalletinfo",
    "listaddresses",
    "listtransactions",
    "listwalletdir",
    "listwallets",
    "loadwallet",
    "mine",
    "restorewallet",
    "send",
    "setgenerate",
    "unloadwallet",
    "validateaddress",
    "walletlock",
    "walletpassphrase",
    "walletpassphrasechange",
};

//! Headers sent with every response of the RPC/web port (CSP, no framing, no sniffing).
std::vector<std::pair<std::string, std::string>> web_security_headers();

//! The web wallet and explorer: static assets, the login token, and the live-update sockets.
//! Lives on the io thread like everything else of the node.
class WebUi {
 public:
  WebUi(asio::io_context& io, std::string token);
  ~WebUi();
  WebUi(const WebUi&) = delete;
  WebUi& operator=(const WebUi&) = delete;

  const std::string& token() const { return token_; }
  //! True for "Bearer <token>" with this UI's token (compared in constant time).
  bool bearer_ok(std::string_view authorization) const;
  //! True when a Sec-WebSocket-Protocol header carries "token.<token>".
  bool protocol_token_ok(std::string_view protocols) const;
  //! The address to open in a browser; the token is in the fragment, so it never reaches a
  //! server log or a Referer header.
  std::string url(const std::string& host, std::uint16_t port) const;

  //! A GET of a static asset: 200 or 304 with caching headers; nullopt when no such asset.
  std::optional<HttpResult> serve_asset(std::string_view path, std::string_view if_none_match) const;

  //! Takes over an HTTP connection that asked to upgrade to a WebSocket on /ws. `authorized`
  //! tells whether the request carried valid credentials (header or subprotocol token).
  asio::awaitable<void> websocket_session(beast::tcp_stream stream, http::request<http::string_body> req,
                                          bool authorized);
  //! Queues a text message to every open socket; never blocks: a socket whose queue is full
  //! (a client that does not read) is closed.
  void broadcast(std::string message);
  std::size_t websocket_count() const { return clients_.size(); }
  //! Closes every socket; later upgrades are refused.
  void stop();

 private:
  struct Client;
  asio::awaitable<void> read_loop(std::shared_ptr<Client> c);
  asio::awaitable<void> write_loop(std::shared_ptr<Client> c);
  static void close(Client& c);

  asio::io_context& io_;
  std::string token_;
  std::set<std::shared_ptr<Client>> clients_;
  bool stopping_ = false;
};

//! Wires the web UI into a node: the `webui` RPC, the chain and mempool events pushed to the
//! sockets. Called once from the Node constructor.
void attach_web_ui(NodeContext& node, WebUi& web);
//! The URL with the token for a node's first loopback RPC endpoint (what `webui` returns).
std::string web_ui_url(NodeContext& node, const WebUi& web);

}  // namespace cheese
