#pragma once

#include <coroutine>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/task_group.hpp"

namespace cheese {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

//! Limits of the RPC/web port, each answered with a proper HTTP status, never a crash or hang.
inline constexpr std::size_t kMaxRpcBodyBytes = 4 * 1024 * 1024;  //!< 413 above (a 1 MB block is 2 MB of hex)
inline constexpr std::size_t kMaxRpcHeaderBytes = 16 * 1024;      //!< 431 above
inline constexpr std::size_t kMaxRpcConnections = 64;             //!< 503 above
inline constexpr auto kDefaultRpcRequestTimeout = std::chrono::seconds(30);  //!< to receive one whole request
inline constexpr auto kRpcIdleTimeout = std::chrono::seconds(120);           //!< keep-alive between requests
inline constexpr auto kRpcWriteTimeout = std::chrono::seconds(30);
inline constexpr auto kAuthFailureDelay = std::chrono::milliseconds(250);

//! Whose credentials a request carried, as the auth check recognised them.
struct HttpCaller {
  enum class Kind { kBasic, kBearer };
  Kind kind = Kind::kBasic;
  std::string user;  //!< the Basic user name; empty for a Bearer token
};

struct HttpRequestInfo {
  http::verb method;
  std::string target;
  std::string body;
  std::string content_type;
  std::string if_none_match;                        //!< for conditional GETs of the web UI's assets
  std::optional<HttpCaller> caller = std::nullopt;  //!< nullopt for a public request (no credentials checked)
};

struct HttpResult {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

//! Serves HTTP/1.1 with keep-alive on the io thread: auth and limits here; what a request
//! means is up to the handler.
class HttpServer {
 public:
  using Handler = std::function<asio::awaitable<HttpResult>(const HttpRequestInfo&)>;
  //! Who the Authorization header value authenticates; nullopt when it is not acceptable.
  using AuthCheck = std::function<std::optional<HttpCaller>(std::string_view authorization, std::string_view target)>;
  //! Returns true for requests served without credentials (the web UI's static files).
  using PublicCheck = std::function<bool(http::verb method, std::string_view target)>;
  //! Takes over a connection whose request asks for a WebSocket upgrade; it checks the
  //! credentials itself (a browser cannot send an Authorization header on a WebSocket).
  using UpgradeHandler = std::function<asio::awaitable<void>(beast::tcp_stream, http::request<http::string_body>)>;

  HttpServer(asio::io_context& io, Handler handler, AuthCheck auth);
  //! Binds; throws std::runtime_error with the address and reason when it cannot.
  void listen(const std::string& address, std::uint16_t port);
  //! Extra client addresses allowed besides loopback ("1.2.3.4", "10.0.0.0/8", "::1").
  void allow(const std::vector<std::string>& subnets);
  void set_request_timeout(std::chrono::seconds t) { request_timeout_ = t; }
  void set_public(PublicCheck check) { public_ = std::move(check); }
  void set_upgrade_handler(UpgradeHandler handler) { upgrade_ = std::move(handler); }
  //! Header fields added to every response (security headers of the web UI).
  void set_default_headers(std::vector<std::pair<std::string, std::string>> headers) {
    default_headers_ = std::move(headers);
  }
  //! Closes the listeners and every open connection, and cancels the sessions still running.
  void stop();
  std::vector<tcp::endpoint> endpoints() const;
  std::size_t connections() const { return sockets_.size(); }

 private:
  asio::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor);
  asio::awaitable<void> session(std::shared_ptr<beast::tcp_stream> stream);
  //! Checks the request's credentials (a failure waits kAuthFailureDelay) and runs the handler.
  asio::awaitable<HttpResult> answer(http::request<http::string_body>& req, const std::string& remote_ip);
  bool allowed(const asio::ip::address& a) const;

  asio::io_context& io_;
  Handler handler_;
  AuthCheck auth_;
  PublicCheck public_;
  UpgradeHandler upgrade_;
  std::vector<std::pair<std::string, std::string>> default_headers_;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors_;
  std::set<std::shared_ptr<beast::tcp_stream>> sockets_;
  std::vector<std::pair<asio::ip::address, int>> allowed_;  //!< address, prefix length
  bool stopping_ = false;
  std::chrono::seconds request_timeout_ = kDefaultRpcRequestTimeout;
  //! The accept loops and every session; stop() closes it.
  io::TaskGroup tasks_;
};

//! "Basic base64(user:password)" for the given credentials.
std::string basic_auth_header(std::string_view user, std::string_view password);
//! Compares without an early exit, so timing does not reveal how much matched.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace cheese
