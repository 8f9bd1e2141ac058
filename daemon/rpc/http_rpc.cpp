#include "daemon/rpc/http_rpc.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <random>

#include "primitives/bytes.hpp"
#include "util/log.hpp"

namespace cheese {

namespace {

//! A refused method name is logged up to this length (the name comes from the caller).
constexpr std::size_t kMaxLoggedMethodChars = 64;

//! One line per request, however many entries of a batch were refused.
void log_refused(const std::optional<HttpCaller>& caller, const std::vector<std::string>& refused) {
  const bool basic = caller && caller->kind == HttpCaller::Kind::kBasic;
  const std::string more = refused.size() > 1 ? fmt::format(" (and {} more in this batch)", refused.size() - 1) : "";
  log_info("{}{} may not call {:.{}}{}", basic ? "RPC user " : "The Bearer token (web UI)", basic ? caller->user : "",
           refused.front(), kMaxLoggedMethodChars, more);
}

}  // namespace

std::string random_hex(std::size_t bytes) {
  Bytes b(bytes);
  std::random_device rd;
  for (auto& x : b) x = static_cast<std::uint8_t>(rd());
  return to_hex(b);
}

HttpRpc::HttpRpc(const RpcTable& table, std::filesystem::path cookie_file, std::string user, std::string password,
                 const RpcWhitelist& whitelist)
    : table_(table),
      cookie_file_(std::move(cookie_file)),
      user_(std::move(user)),
      password_(std::move(password)),
      whitelist_(whitelist) {}

HttpRpc::~HttpRpc() {
  std::error_code ec;
  if (wrote_cookie_) std::filesystem::remove(cookie_file_, ec);
}

void HttpRpc::start() {
  basic_user_ = password_.empty() ? std::string(kCookieUser) : user_;
  basic_allowed_ = whitelist_.allow_list_for(basic_user_);
  for (const auto& [user, methods] : whitelist_.users) {
    if (user != basic_user_) {
      log_info("-rpcwhitelist for {} has no effect: the only RPC user is {}", user, basic_user_);
    }
  }
  if (!password_.empty()) {
    expected_ = basic_auth_header(user_, password_);
    return;
  }
  const std::string password = random_hex(32);
  const std::string content = std::string(kCookieUser) + ":" + password;
  const auto tmp = cookie_file_.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot write RPC cookie {}", tmp));
  const auto written = ::write(fd, content.data(), content.size());
  ::fchmod(fd, 0600);
  ::close(fd);
  if (written != static_cast<ssize_t>(content.size())) throw std::runtime_error("cannot write RPC cookie");
  std::filesystem::rename(tmp, cookie_file_);
  wrote_cookie_ = true;
  expected_ = basic_auth_header(kCookieUser, password);
}

std::optional<HttpCaller> HttpRpc::check_auth(std::string_view authorization) const {
  if (!expected_.empty() && constant_time_equal(authorization, expected_)) {
    return HttpCaller{HttpCaller::Kind::kBasic, basic_user_};
  }
  if (bearer_auth_ && bearer_auth_(authorization)) return HttpCaller{HttpCaller::Kind::kBearer, {}};
  return std::nullopt;
}

const RpcAllowList& HttpRpc::allow_list(const std::optional<HttpCaller>& caller) const {
  if (!caller) return nothing_;
  return caller->kind == HttpCaller::Kind::kBearer ? bearer_allowed_ : basic_allowed_;
}

asio::awaitable<HttpResult> HttpRpc::handle(const HttpRequestInfo& req) const {
  HttpResult out;
  std::string_view path = req.target;
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (req.method == http::verb::post && (path == "/" || path.starts_with("/wallet/"))) {
    const std::string wallet = path.starts_with("/wallet/") ? std::string(path.substr(8)) : std::string();
    auto reply = co_await handle_jsonrpc(table_, req.body, wallet, &allow_list(req.caller));
    if (!reply.refused.empty()) log_refused(req.caller, reply.refused);
    out.status = static_cast<unsigned>(reply.http_status);
    out.body = std::move(reply.body);
    if (out.status == 204) out.content_type.clear();
    co_return out;
  }
  if (req.method == http::verb::get) {
    if (static_files_) {
      if (auto file = static_files_(path, req.if_none_match)) co_return std::move(*file);
    }
    if (path == "/ws") {
      out.status = 426;
      out.content_type = "text/plain";
      out.body = "426 /ws is a WebSocket (the web UI's live updates)\n";
      out.headers.emplace_back("Upgrade", "websocket");
      co_return out;
    }
  }
  out.status = req.method == http::verb::post || req.method == http::verb::get ? 404 : 405;
  out.content_type = "text/plain";
  out.body = out.status == 404 ? "404 Not found\n" : "405 Method not allowed\n";
  co_return out;
}

}  // namespace cheese
