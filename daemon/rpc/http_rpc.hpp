#pragma once

#include <coroutine>

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/http/http_server.hpp"
#include "daemon/rpc/server.hpp"

namespace cheese {

//! `bytes` random bytes as hex: the cookie's password and the web UI's login token.
std::string random_hex(std::size_t bytes);

//! JSON-RPC over HTTP (Bitcoin Core's httprpc.cpp): who may call (the cookie or
//! -rpcuser/-rpcpassword, plus any extra check such as the web UI's token) and where a request
//! goes (POST / and /wallet/<name> to the RPC table, GET to the static files, 404/405 otherwise).
class HttpRpc {
 public:
  //! A GET of a static file: the answer, or nullopt when there is no such file.
  using StaticFiles = std::function<std::optional<HttpResult>(std::string_view path, std::string_view if_none_match)>;
  using ExtraAuth = std::function<bool(std::string_view authorization)>;

  //! With an empty `password`, a random one is written to `cookie_file` (0600) by start().
  HttpRpc(const RpcTable& table, std::filesystem::path cookie_file, std::string user, std::string password);
  ~HttpRpc();
  HttpRpc(const HttpRpc&) = delete;
  HttpRpc& operator=(const HttpRpc&) = delete;

  //! Writes the cookie (unless a password was configured). Throws if it cannot be written.
  void start();
  void set_static_files(StaticFiles f) { static_files_ = std::move(f); }
  void set_extra_auth(ExtraAuth f) { extra_auth_ = std::move(f); }

  bool check_auth(std::string_view authorization) const;
  asio::awaitable<HttpResult> handle(const HttpRequestInfo& req) const;

 private:
  const RpcTable& table_;
  std::filesystem::path cookie_file_;
  std::string user_;
  std::string password_;
  std::string expected_;  //!< the expected "Basic ..." header value
  bool wrote_cookie_ = false;
  StaticFiles static_files_;
  ExtraAuth extra_auth_;
};

}  // namespace cheese
