#include "daemon/net/ban_list.hpp"

namespace cheese {

std::string BanList::key_of(const net::NetAddress& a) { return a.is_loopback() ? a.to_string() : a.ip_string(); }

bool BanList::is_banned(const net::NetAddress& a, std::int64_t now) const {
  for (const auto& key : {a.ip_string(), a.to_string()}) {
    if (auto it = bans_.find(key); it != bans_.end() && it->second > now) return true;
  }
  return false;
}

std::map<std::string, std::int64_t> BanList::active(std::int64_t now) const {
  std::map<std::string, std::int64_t> out;
  for (const auto& [k, until] : bans_) {
    if (until > now) out.emplace(k, until);
  }
  return out;
}

}  // namespace cheese
