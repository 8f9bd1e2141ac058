#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/net/net_events.hpp"

namespace cheese {

//! Inbound peers protected from eviction, by category, in this order (Bitcoin Core's
//! SelectNodeToEvict): one per distinct network group...
inline constexpr std::size_t kProtectByGroup = 4;
//! ...the lowest minimum ping...
inline constexpr std::size_t kProtectByPing = 8;
//! ...those that most recently gave us a new block...
inline constexpr std::size_t kProtectByBlock = 4;
//! ...those that most recently gave us a new transaction...
inline constexpr std::size_t kProtectByTx = 4;
//! ...and of the rest, this share of the longest connected.
inline constexpr double kProtectByAgeShare = 0.5;

//! What eviction weighs of one inbound connection.
struct EvictionCandidate {
  PeerId id = 0;
  std::string group;  //!< network group: /16 for IPv4, /32 for IPv6, ip:port on loopback
  std::chrono::steady_clock::time_point connected;
  std::optional<double> min_ping;                      //!< seconds; none before the first pong
  std::chrono::steady_clock::time_point last_block{};  //!< last new block it gave us (epoch: never)
  std::chrono::steady_clock::time_point last_tx{};     //!< last new transaction it gave us
  bool handshake_done = false;
};

//! The network group an address belongs to for eviction and outbound diversity: one party
//! rarely holds addresses in many /16s. On loopback every test node shares one IP, so there the
//! group is the exact ip:port.
std::string network_group(const net::NetAddress& a);

//! Whether an outbound connection to `candidate` keeps our outbound peers diverse: off regtest at
//! most one per network group, so that one party holding many addresses in one /16 cannot be all
//! our outbound peers (an eclipse); on regtest (tests on loopback and in network namespaces) any.
bool outbound_group_allowed(const net::NetAddress& candidate, const std::set<std::string>& outbound_groups,
                            bool regtest);

//! When the inbound slots are full: the connection to drop for a new one, or none when every
//! candidate is protected. Protected first: a few per category an attacker cannot fake cheaply
//! (distinct network groups, low ping, useful blocks and transactions, age); then the youngest
//! connection of the network group with the most connections is evicted.
std::optional<PeerId> select_inbound_to_evict(std::vector<EvictionCandidate> candidates);

}  // namespace cheese
