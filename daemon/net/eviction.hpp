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

//! Inbound connections from one network group at most (off regtest): the next one from that group
//! is refused at accept, before any eviction, so one party holding addresses in one /16 takes at
//! most this many inbound slots and cannot push out peers of other groups. On regtest (tests on
//! loopback and in network namespaces, where many nodes share a /16) there is no such limit; on
//! loopback each ip:port is its own group anyway.
inline constexpr std::size_t kMaxInboundPerGroup = 4;
//! Block-relay-only outbound connections, on top of the full-relay ones (Bitcoin Core's
//! MAX_BLOCK_RELAY_ONLY_CONNECTIONS): no transactions and no addresses travel on them, so a spy
//! cannot tell them from the transaction traffic, and they keep the node on the best chain if
//! its full-relay peers are taken over.
inline constexpr std::size_t kBlockRelayOnlyConnections = 2;
//! How often a feeler connection is dialled once the outbound slots are full (Bitcoin Core's
//! FEELER_INTERVAL): it tests one address of the address book (handshake, then disconnect).
inline constexpr std::chrono::seconds kFeelerInterval{2 * 60};

//! What eviction weighs of one inbound connection.
struct EvictionCandidate {
  PeerId id = 0;
  std::string group;  //!< network group: /16 for IPv4, /32 for IPv6, ip:port on loopback
  std::chrono::steady_clock::time_point connected;
  std::optional<double> min_ping;                      //!< seconds; none before the first pong
  std::chrono::steady_clock::time_point last_block{};  //!< last new block it gave us (epoch: never)
  std::chrono::steady_clock::time_point last_tx{};     //!< last new transaction it gave us
  bool handshake_done = false;
  std::size_t blocks_in_flight = 0;  //!< blocks we asked it for and wait for
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

//! Whether an inbound connection from `candidate` may take a slot, given the addresses of the
//! inbound connections we have: off regtest, fewer than kMaxInboundPerGroup of them in its group.
bool inbound_group_allowed(const net::NetAddress& candidate, const std::vector<net::NetAddress>& inbound,
                           bool regtest);

//! Outbound connections by kind, connected or being dialled.
struct OutboundCounts {
  std::size_t full_relay = 0;   //!< outbound-full-relay and manual
  std::size_t block_relay = 0;  //!< block-relay-only
  std::size_t feelers = 0;
};

//! When a feeler connection is due (Bitcoin Core's ThreadOpenConnections): every `interval`, and
//! only once the full-relay and block-relay-only slots are all taken (until then the regular
//! dialling tests addresses anyway), one feeler at a time.
class FeelerSchedule {
 public:
  FeelerSchedule(std::chrono::steady_clock::time_point start, std::chrono::steady_clock::duration interval)
      : interval_(interval), next_(start + interval) {}
  //! True if a feeler is to be dialled now; the next one is then due `interval` later. While the
  //! slots are not full a due feeler waits (it is taken as soon as they are).
  bool take(std::chrono::steady_clock::time_point now, const OutboundCounts& have, const OutboundCounts& want);
  std::chrono::steady_clock::time_point next() const { return next_; }

 private:
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point next_;
};

//! When the inbound slots are full: the connection to drop for a new one, or none when every
//! candidate is protected. Protected first: a few per category an attacker cannot fake cheaply
//! (distinct network groups, low ping, useful blocks and transactions, age); then the youngest
//! connection of the network group with the most connections is evicted.
std::optional<PeerId> select_inbound_to_evict(std::vector<EvictionCandidate> candidates);

}  // namespace cheese
