#pragma once

#include <coroutine>

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/http/http_server.hpp"
#include "daemon/rpc/rpc_whitelist.hpp"
#include "daemon/rpc/server.hpp"

namespace cheese {

//! `bytes` random bytes as hex: the cookie's password and the web UI's login token.
std::string random_hex(std::size_t bytes);

//! JSON-RPC over HTTP (Bitcoin Core's httprpc.cpp): who may call (the cookie or
//! -rpcuser/-rpcpassword, plus a Bearer token such as the web UI's), which methods each of them
//! may call (-rpcwhitelist; the token's own list), and where a request goes (POST / and
//! /wallet/<name> to the RPC table, GET to the static files, 404/405 otherwise).
class HttpRpc {
 public:
  //! A GET of a static file: the answer, or nullopt when there is no such file.
  using StaticFiles = std::function<std::optional<HttpResult>(std::string_view path, std::string_view if_none_match)>;
  //! True when the Authorization header value carries the Bearer token.
  using BearerAuth = std::function<bool(std::string_view authorization)>;

  //! With an empty `password`, a random one is written to `cookie_file` (0600) by start().
  //! `whitelist` says what each Basic user may call.
  HttpRpc(const RpcTable& table, std::filesystem::path cookie_file, std::string user, std::string password,
          const RpcWhitelist& whitelist = {});
  ~HttpRpc();
  HttpRpc(const HttpRpc&) = delete;
  HttpRpc& operator=(const HttpRpc&) = delete;

  //! Writes the cookie (unless a password was configured). Throws if it cannot be written.
  void start();
  void set_static_files(StaticFiles f) { static_files_ = std::move(f); }
  //! Accepts a Bearer token, which may call the methods of `allowed` only.
  void set_bearer_auth(BearerAuth f, RpcAllowList allowed) {
    bearer_auth_ = std::move(f);
    bearer_allowed_ = std::move(allowed);
  }

  //! Who the header authenticates (the Basic user, or the Bearer token), or nullopt.
  std::optional<HttpCaller> check_auth(std::string_view authorization) const;
  //! What a caller may call (nothing for nullopt, a request without credentials).
  const RpcAllowList& allow_list(const std::optional<HttpCaller>& caller) const;
  asio::awaitable<HttpResult> handle(const HttpRequestInfo& req) const;

 private:
  const RpcTable& table_;
  std::filesystem::path cookie_file_;
  std::string user_;
  std::string password_;
  std::string expected_;    //!< the expected "Basic ..." header value
  std::string basic_user_;  //!< its user: user_, or kCookieUser
  bool wrote_cookie_ = false;
  StaticFiles static_files_;
  BearerAuth bearer_auth_;
  RpcWhitelist whitelist_;
  RpcAllowList basic_allowed_ = RpcAllowList::everything();  //!< for basic_user_ (set by start())
  RpcAllowList bearer_allowed_ = RpcAllowList::only({});
  RpcAllowList nothing_ = RpcAllowList::only({});
};

}  // namespace cheese
