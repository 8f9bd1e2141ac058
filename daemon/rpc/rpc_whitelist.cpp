#include "daemon/rpc/rpc_whitelist.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace cheese {

RpcAllowList RpcWhitelist::allow_list_for(std::string_view user) const {
  if (const auto it = users.find(user); it != users.end()) return RpcAllowList::only(it->second);
  return default_none ? RpcAllowList::only({}) : RpcAllowList::everything();
}

namespace {

//! The methods of one line: separated by commas and/or spaces, empty pieces skipped.
RpcAllowList::Methods split_methods(std::string_view list) {
  RpcAllowList::Methods out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t end = std::min(list.find_first_of(", ", start), list.size());
    if (end > start) out.emplace(list.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

std::optional<std::string> parse_rpc_whitelist(const std::vector<std::string>& lines,
                                               std::optional<bool> default_none, RpcWhitelist& out) {
  out = RpcWhitelist{};
  out.default_none = default_none.value_or(!lines.empty());
  for (const std::string& line : lines) {
    const std::size_t colon = line.find(':');
    // bitcoind takes a line without a colon as an empty list; say so instead of guessing.
    if (colon == std::string::npos) {
      return fmt::format(
          "invalid -rpcwhitelist={}: use <user>:<method>[,<method>...] (or '{}:' for a user who may call nothing)",
          line, line);
    }
    const std::string user = line.substr(0, colon);
    if (user.empty()) {
      return fmt::format("invalid -rpcwhitelist={}: the user name before ':' is empty (the cookie's user is {})",
                         line, kCookieUser);
    }
    RpcAllowList::Methods methods = split_methods(std::string_view(line).substr(colon + 1));
    out.named.insert(methods.begin(), methods.end());
    const auto [it, first] = out.users.try_emplace(user, methods);
    if (!first) {
      // A second line for the same user narrows the first, as in bitcoind.
      RpcAllowList::Methods both;
      std::set_intersection(it->second.begin(), it->second.end(), methods.begin(), methods.end(),
                            std::inserter(both, both.end()));
      it->second = std::move(both);
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_rpc_whitelist_methods(const RpcWhitelist& whitelist, const RpcTable& table) {
  for (const auto& m : whitelist.named) {
    if (!table.find(m)) return fmt::format("-rpcwhitelist names {}, which is no RPC method of cheesed (see help)", m);
  }
  return std::nullopt;
}

}  // namespace cheese
