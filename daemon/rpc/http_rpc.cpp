#include "daemon/rpc/http_rpc.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <random>

#include "primitives/bytes.hpp"

namespace cheese {

std::string random_hex(std::size_t bytes) {
  Bytes b(bytes);
  std::random_device rd;
  for (auto& x : b) x = static_cast<std::uint8_t>(rd());
  return to_hex(b);
}

HttpRpc::HttpRpc(const RpcTable& table, std::filesystem::path cookie_file, std::string user, std::string password)
    : table_(table), cookie_file_(std::move(cookie_file)), user_(std::move(user)), password_(std::move(password)) {}

HttpRpc::~HttpRpc() {
  std::error_code ec;
  if (wrote_cookie_) std::filesystem::remove(cookie_file_, ec);
}

void HttpRpc::start() {
  if (!password_.empty()) {
    expected_ = basic_auth_header(user_, password_);
    return;
  }
  const std::string password = random_hex(32);
  const std::string content = "__cookie__:" + password;
  const auto tmp = cookie_file_.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot write RPC cookie {}", tmp));
  const auto written = ::write(fd, content.data(), content.size());
  ::fchmod(fd, 0600);
  ::close(fd);
  if (written != static_cast<ssize_t>(content.size())) throw std::runtime_error("cannot write RPC cookie");
  std::filesystem::rename(tmp, cookie_file_);
  wrote_cookie_ = true;
  expected_ = basic_auth_header("__cookie__", password);
}

bool HttpRpc::check_auth(std::string_view authorization) const {
  return (!expected_.empty() && constant_time_equal(authorization, expected_)) ||
         (extra_auth_ && extra_auth_(authorization));
}

asio::awaitable<HttpResult> HttpRpc::handle(const HttpRequestInfo& req) const {
  HttpResult out;
  std::string_view path = req.target;
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (req.method == http::verb::post && (path == "/" || path.starts_with("/wallet/"))) {
    const std::string wallet = path.starts_with("/wallet/") ? std::string(path.substr(8)) : std::string();
    auto reply = co_await handle_jsonrpc(table_, req.body, wallet);
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
