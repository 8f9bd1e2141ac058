#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/rpc/server.hpp"

namespace cheese {

//! The Basic user name of the cookie credential (`<datadir>/.cookie`).
inline constexpr std::string_view kCookieUser = "__cookie__";

//! -rpcwhitelist and -rpcwhitelistdefault, as bitcoind reads them (httprpc.cpp): the methods each
//! named user may call; several lines for one user intersect; with `default_none`, a user
//! without a line may call nothing.
struct RpcWhitelist {
  std::map<std::string, RpcAllowList::Methods, std::less<>> users;
  bool default_none = false;
  //! Every method named on any line, before intersecting (each must exist).
  RpcAllowList::Methods named;

  //! What a Basic user (kCookieUser for the cookie) may call.
  RpcAllowList allow_list_for(std::string_view user) const;
};

//! Parses the -rpcwhitelist lines (`<user>:<method>[,<method>...]`; commas or spaces between
//! methods; `<user>:` alone allows nothing) and -rpcwhitelistdefault (nullopt when not given:
//! then on iff a line was given). Returns the error to show for a malformed line.
std::optional<std::string> parse_rpc_whitelist(const std::vector<std::string>& lines,
                                               std::optional<bool> default_none, RpcWhitelist& out);

//! An error naming the first method of a line that `table` does not have (a typo would otherwise
//! silently refuse a call the operator meant to allow), or nullopt.
std::optional<std::string> check_rpc_whitelist_methods(const RpcWhitelist& whitelist, const RpcTable& table);

}  // namespace cheese
