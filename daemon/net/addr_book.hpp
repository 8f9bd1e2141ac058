#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.hpp"

namespace cheese {

//! Entries the address book keeps at most; the one that failed most (or the oldest) makes room.
inline constexpr std::size_t kMaxAddrBookEntries = 10'000;

//! Known addresses of other nodes, persisted (peers.json) so a restarted node reconnects without
//! a tracker. No I/O but load/save; time comes in as an argument.
class AddressBook {
 public:
  struct Entry {
    net::NetAddress addr;
    std::int64_t last_try = 0;
    std::int64_t last_success = 0;
    int failures = 0;
    std::string source;  //!< "tracker", "gossip", "addnode", "inbound", "outbound"
  };
  void add(const net::NetAddress& a, std::string_view source, std::int64_t now);
  void mark_attempt(const net::NetAddress& a, std::int64_t now);
  void mark_success(const net::NetAddress& a, std::int64_t now);
  void remove(const net::NetAddress& a);
  //! A random address worth dialing now (backoff grows with failures), not in `exclude`.
  std::optional<net::NetAddress> select(const std::set<std::string>& exclude, std::int64_t now,
                                        std::mt19937_64& rng) const;
  std::vector<net::NetAddress> sample(std::size_t max, std::mt19937_64& rng) const;
  //! For a getaddr reply: at most `max` random entries, none with `dead_failures` or more failed
  //! dials in a row and none at the asker's IP.
  std::vector<net::NetAddress> sample_for(const net::NetAddress& asker, std::size_t max, int dead_failures,
                                          std::mt19937_64& rng) const;
  std::size_t size() const { return entries_.size(); }
  //! Reads peers.json; a missing or unreadable file leaves the book empty (logged).
  void load(const std::filesystem::path& file);
  //! Writes peers.json atomically (temp file, fsync, rename), mode 0600.
  void save(const std::filesystem::path& file) const;

 private:
  std::map<std::string, Entry> entries_;
};

}  // namespace cheese
