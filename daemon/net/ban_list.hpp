#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "net/address.hpp"

namespace cheese {

//! How long a peer that broke the protocol is refused (docs/protocol.md).
inline constexpr std::chrono::seconds kDiscourageDuration{24 * 60 * 60};

//! Banned addresses (setban) and discouraged ones (protocol faults), each until a unix time.
class BanList {
 public:
  //! The key a ban of this address is stored under: its IP, or ip:port on loopback, where every
  //! node of a test shares one IP.
  static std::string key_of(const net::NetAddress& a);

  void ban(const std::string& key, std::int64_t until) { bans_[key] = until; }
  bool unban(const std::string& key) { return bans_.erase(key) > 0; }
  void clear() { bans_.clear(); }
  //! True if the address's IP or its exact ip:port is banned at `now`.
  bool is_banned(const net::NetAddress& a, std::int64_t now) const;
  //! The bans still in force at `now`.
  std::map<std::string, std::int64_t> active(std::int64_t now) const;

 private:
  std::map<std::string, std::int64_t> bans_;
};

}  // namespace cheese
