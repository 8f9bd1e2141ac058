#pragma once

// Bootstrap (docs/protocol.md 7.5): where a node finds peers besides its address book. After
// Bitcoin Core: DNS seeds when the book is empty or the node has too few outbound peers after
// kDnsSeedDelay, -seednode (connect, getaddr, disconnect), fixed seed addresses compiled per
// network only when everything else failed for kFixedSeedDelay, and trackers (several, each a
// source of its own). The outbound choice never takes every full-relay peer from one source. No
// I/O here: the connection manager asks these rules every round (daemon/net/connman_bootstrap.cpp).

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "consensus/params.hpp"
#include "daemon/net/addr_book.hpp"

namespace cheese {

//! With addresses in the book at start, DNS seeds wait this long (Core's DNSSEEDS_DELAY_FEW_PEERS,
//! 11 s): peers from the book may connect first. With an empty book they are queried at once.
inline constexpr std::chrono::seconds kDnsSeedDelay{11};
//! ...and this long when the book held kDnsSeedManyAddresses or more (Core: 5 minutes).
inline constexpr std::chrono::seconds kDnsSeedDelayManyAddresses{300};
inline constexpr std::size_t kDnsSeedManyAddresses = 1000;
//! After the wait, DNS seeds are skipped when the node has this many full-relay outbound
//! connections or more (Core's SEED_OUTBOUND_CONNECTION_THRESHOLD).
inline constexpr std::size_t kDnsSeedOutboundThreshold = 2;
//! Fixed seeds are added to the book after this long with no outbound connection (Core: 60 s), or
//! at once when no other source is configured (no tracker, DNS seed, -seednode or -addnode).
inline constexpr std::chrono::seconds kFixedSeedDelay{60};
//! Full-relay outbound peers whose address came from one source (one tracker, one DNS seed, one
//! peer's gossip, the fixed seeds...) at most, while an address from another source can be
//! dialled: half of kMaxOutboundPeers, so a lying tracker never holds every slot.
inline constexpr std::size_t kMaxOutboundFromOneSource = 4;
//! During this time after start the limit above holds even when no other source is known yet (a
//! DNS seed's answer or the first peers' gossip is on its way); after it, one source may fill the
//! remaining slots when nothing else is known (a node with one tracker still gets its 8 peers).
inline constexpr std::chrono::seconds kOneSourceGrace{20};
//! An addr-fetch connection (-seednode) that sent no addresses in this time is closed.
inline constexpr std::chrono::seconds kAddrFetchTimeout{30};
//! -dnsseedhost, -seednode and -fixedseedaddr each take at most this many values.
inline constexpr std::size_t kMaxSeedOptionValues = 16;

//! The DNS seed host names of a network. Empty on every network: none has launched. At launch the
//! seeds' names go into daemon/net/bootstrap.cpp (kMainDnsSeeds, kTestDnsSeeds); regtest has none.
const std::vector<std::string>& dns_seed_hosts(Network n);
//! The fixed seed addresses ("ip:port") of a network: empty for the same reason; at launch they
//! go into daemon/net/bootstrap.cpp (kMainFixedSeeds, kTestFixedSeeds), regtest has none.
const std::vector<std::string>& fixed_seed_addresses(Network n);

//! The source an entry counts for in the outbound mix: how it was learned and who told us
//! ("tracker 1.2.3.4:9999", "gossip 5.6.7.8:8433", "dnsseed [fd..]:53", "fixedseed ...").
std::string source_key(const AddressBook::Entry& e);

//! One full-relay outbound candidate of the book, not in `exclude`. A source that already gave
//! `per_source[source_key]` >= kMaxOutboundFromOneSource of our full-relay peers is passed over;
//! when nothing else is left, it is taken only if `one_source_ok` (after kOneSourceGrace).
std::optional<net::NetAddress> select_full_relay(const AddressBook& book, const std::set<std::string>& exclude,
                                                 const std::map<std::string, std::size_t>& per_source,
                                                 bool one_source_ok, std::int64_t now, std::mt19937_64& rng);

//! When DNS seeds are queried and fixed seeds added (Core's ThreadDNSAddressSeed and the fixed
//! seed rule of ThreadOpenConnections): a state machine asked every dial round, with the time
//! since start passed in. Each happens at most once per run.
class BootstrapPlan {
 public:
  struct Config {
    bool dns_seeds = false;      //!< -dnsseed, at least one host, no -connect
    bool fixed_seeds = false;    //!< -fixedseeds, a non-empty list, no -connect
    bool other_sources = false;  //!< a tracker, -seednode or -addnode is configured
    std::size_t book_at_start = 0;
  };
  //! What the node has now.
  struct Now {
    std::chrono::steady_clock::duration since_start{};
    std::size_t full_relay_outbound = 0;  //!< connected full-relay outbound peers (manual ones too)
    std::size_t outbound = 0;             //!< connected outbound peers that stay (no feeler, no addr-fetch)
  };
  enum class Dns { kNotYet, kQuery, kSkip };

  explicit BootstrapPlan(Config c) : config_(c) {}
  //! kQuery once when the DNS seeds are due; kSkip once when the node has enough peers by then.
  Dns dns(const Now& n);
  //! True once when the fixed seeds go into the book.
  bool fixed_seeds(const Now& n);
  //! The wait before DNS seeds are considered (0 with an empty book).
  std::chrono::seconds dns_delay() const;

 private:
  Config config_;
  bool dns_done_ = false;
  bool fixed_done_ = false;
};

}  // namespace cheese
