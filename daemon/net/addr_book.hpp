#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "net/address.hpp"

namespace cheese {

// The address manager, after Bitcoin Core's addrman: a "new" table of addresses heard of and a
// "tried" table of addresses we completed a handshake with, each a fixed grid of buckets. Where an
// address goes is a keyed hash (a secret per-node key) of its network group and of the network
// group of the peer that told us, so one source reaches only a few new buckets and cannot push out
// what other sources told us. Bitcoin Core's sizes are scaled down 4x: cheesechain networks are
// small (Core's 1,024 x 64 new slots serve tens of thousands of listening nodes), and the shares
// stay Core's (one source group: 1/16 of the new table; one address group: 1/16 of tried).

//! Buckets of the new table (Core: 1,024).
inline constexpr std::size_t kAddrNewBucketCount = 256;
//! Buckets of the tried table (Core: 256).
inline constexpr std::size_t kAddrTriedBucketCount = 64;
//! Slots per bucket in both tables (Core: 64).
inline constexpr std::size_t kAddrBucketSize = 64;
//! New buckets the addresses from one source network group spread over: one source group holds
//! at most 16 x 64 = 1,024 new entries (Core: 64 of its 1,024 buckets, the same 1/16 share).
inline constexpr std::size_t kAddrNewBucketsPerSourceGroup = 16;
//! Tried buckets the addresses of one network group spread over (Core: 8 of 256; here 4 of 64).
inline constexpr std::size_t kAddrTriedBucketsPerGroup = 4;
//! New-table slots one address may hold, each from another source (Core: 8).
inline constexpr int kAddrNewRefsPerAddress = 8;
//! Every slot of both tables: the entries the book holds at most (20,480).
inline constexpr std::size_t kMaxAddrBookEntries = (kAddrNewBucketCount + kAddrTriedBucketCount) * kAddrBucketSize;

//! An address not seen for this long is terrible (Core's ADDRMAN_HORIZON: 30 days).
inline constexpr std::int64_t kAddrHorizon = 30 * 86'400;
//! Failed dials with no success ever after which an address is terrible (Core: 3).
inline constexpr int kAddrRetries = 3;
//! Failed dials in a row after which an address is terrible...
inline constexpr int kAddrMaxFailures = 10;
//! ...when its last success is older than this (Core: 10 failures, 7 days).
inline constexpr std::int64_t kAddrMinFailWindow = 7 * 86'400;
//! An address dialled this recently is never terrible (its failure count is still moving).
inline constexpr std::int64_t kAddrRecentTry = 60;
//! A `time` more than this ahead of now is from the future: it is set to now - kAddrFutureAge.
inline constexpr std::int64_t kAddrMaxFutureDrift = 600;
//! A `time` before this (1973), or negative, is as wrong as one from the future (Core: the same).
inline constexpr std::int64_t kAddrMinTime = 100'000'000;
//! The age given to addresses with a `time` from the future or before kAddrMinTime (Core: 5 days).
inline constexpr std::int64_t kAddrFutureAge = 5 * 86'400;
//! Subtracted from the `time` of an address relayed by another node (Core: 2 h): what others
//! vouch for counts as older than what a node says of itself.
inline constexpr std::int64_t kAddrRelayPenalty = 2 * 3'600;
//! Longest wait before a failing address is dialled again (2, 4, 8 ... s after each failure).
inline constexpr std::int64_t kAddrMaxBackoff = 600;
//! An address whose node said its inbound slots are crowded (`slots`, docs/protocol.md 7.10) is not
//! dialled for this long: diallers spread over nodes with room. Not kept in peers.json.
inline constexpr std::int64_t kAddrCrowdedWait = 15 * 60;
//! A getaddr reply holds this share of the eligible entries (Core: 23 %)...
inline constexpr std::size_t kGetAddrMaxPercent = 23;
//! ...but never fewer than this many (or all when there are fewer): small networks, where 23 %
//! of a book of a few entries is nothing, still spread their addresses.
inline constexpr std::size_t kGetAddrMinReply = 100;
//! A peers.json larger than this is not read (the full book is about 4 MiB).
inline constexpr std::uintmax_t kMaxPeersFileBytes = 16 * 1024 * 1024;
//! The peers.json format written: 2 (an object with the key and entries). Version 1 (a bare
//! array of entries) is still read.
inline constexpr int kPeersFileVersion = 2;

//! Known addresses of other nodes in a new and a tried table (see above), persisted (peers.json)
//! so a restarted node reconnects without a tracker. No I/O but load/save; time comes in as an
//! argument.
class AddressBook {
 public:
  using Key = std::array<std::uint8_t, 32>;
  struct Entry {
    net::NetAddress addr;
    std::int64_t last_try = 0;
    std::int64_t last_success = 0;
    int failures = 0;      //!< dials since the last success
    std::string source;    //!< "tracker", "gossip", "addnode", "inbound", "outbound"
    net::NetAddress from;  //!< the node that told us (the address itself for our own connections)
    bool tried = false;    //!< in the tried table (else in 1..kAddrNewRefsPerAddress new slots)
    int new_refs = 0;
    std::int64_t crowded_until = 0;  //!< mark_crowded: not selected before this time
  };

  //! An empty book with a random key.
  AddressBook();
  //! An empty book with the given key (tests; load() replaces it with the file's).
  explicit AddressBook(const Key& key);

  //! Regtest (tests on loopback and in network namespaces, where every host shares one /16): each
  //! IP address is its own network group for bucketing, so that a simulated network's addresses
  //! spread over the tables as a real one's would over many /16s. Set before load() and add().
  void set_group_per_address(bool on) { group_per_address_ = on; }

  //! Adds an address we connected to or that announced itself (its own group is the source).
  bool add(const net::NetAddress& a, std::string_view source, std::int64_t now);
  //! Adds an address `from` told us about (a peer, a tracker). Returns true when it is a new
  //! entry; an address whose new slot holds an entry that is not terrible is dropped.
  bool add(const net::NetAddress& a, std::string_view source, const net::NetAddress& from, std::int64_t now);
  //! We dial `a` now: counts as a failure until mark_success.
  void mark_attempt(const net::NetAddress& a, std::int64_t now);
  //! A handshake with `a` completed: it moves to the tried table (an entry in its tried slot goes
  //! back to new), added first if unknown.
  void mark_success(const net::NetAddress& a, std::int64_t now);
  //! The node at `a` said its inbound slots are crowded: select() skips it for kAddrCrowdedWait.
  void mark_crowded(const net::NetAddress& a, std::int64_t now);
  void remove(const net::NetAddress& a);
  //! A random address worth dialling now, not in `exclude` (ip:port) nor crowded: tried or new half each,
  //! weighted against recent and repeated failures; one that failed waits 2^failures seconds (at
  //! most kAddrMaxBackoff) since its last try.
  std::optional<net::NetAddress> select(const std::set<std::string>& exclude, std::int64_t now,
                                        std::mt19937_64& rng) const;
  //! The same from the new table only (`new_only`), for feeler connections.
  std::optional<net::NetAddress> select(const std::set<std::string>& exclude, std::int64_t now, std::mt19937_64& rng,
                                        bool new_only) const;
  //! An entry `accept` returns false for is not a candidate (the outbound source mix).
  using Filter = std::function<bool(const Entry&)>;
  std::optional<net::NetAddress> select(const std::set<std::string>& exclude, std::int64_t now, std::mt19937_64& rng,
                                        bool new_only, const Filter& accept) const;
  std::vector<net::NetAddress> sample(std::size_t max, std::mt19937_64& rng) const;
  //! For a getaddr reply: kGetAddrMaxPercent of the eligible entries (at least kGetAddrMinReply,
  //! at most `max`), at random; never a terrible one, one with `dead_failures` or more failed
  //! dials in a row, or one at the asker's IP (on loopback: its ip:port).
  std::vector<net::NetAddress> sample_for(const net::NetAddress& asker, std::size_t max, int dead_failures,
                                          std::int64_t now, std::mt19937_64& rng) const;
  std::size_t size() const { return entries_.size(); }
  std::size_t new_count() const { return size() - tried_count_; }
  std::size_t tried_count() const { return tried_count_; }
  const Key& key() const { return key_; }
  //! The entry of `a` (ip:port), if known.
  std::optional<Entry> find(const net::NetAddress& a) const;
  //! Core's IsTerrible: from the future, older than kAddrHorizon, kAddrRetries failures and no
  //! success, or kAddrMaxFailures failures and no success in kAddrMinFailWindow.
  static bool is_terrible(const Entry& e, std::int64_t now);
  //! The new-table slot (bucket * kAddrBucketSize + position) `a` takes when `from` tells us.
  std::size_t new_slot(const net::NetAddress& a, const net::NetAddress& from) const;
  //! The tried-table slot of `a`.
  std::size_t tried_slot(const net::NetAddress& a) const;
  //! Whether tables, counts and entries agree (for tests and the fuzz target).
  bool consistent() const;

  //! Reads peers.json (version 2 or 1), replacing the book: the key is kept, each entry checked
  //! and placed again from the key (a file cannot choose buckets). A missing file leaves the book
  //! empty; an unreadable one too, with a log line.
  void load(const std::filesystem::path& file);
  //! Writes peers.json atomically (temp file, fsync, rename), mode 0600.
  void save(const std::filesystem::path& file) const;

 private:
  using Id = std::uint32_t;
  static constexpr Id kEmpty = UINT32_MAX;
  struct Record {
    Entry e;
    std::vector<std::uint32_t> new_slots;  //!< its slots in new_table_ (none when tried)
  };

  std::uint64_t keyed_hash(std::string_view tag, std::string_view a, std::string_view b = {}) const;
  Record* lookup(const net::NetAddress& a);
  Id create(const net::NetAddress& a, std::string_view source, const net::NetAddress& from);
  void erase(Id id);
  //! Puts `id` into its new slot for `from`: an empty slot, or one whose entry is terrible (or
  //! has other slots while `id` has none). False when the slot stays another's.
  bool place_new(Id id, const net::NetAddress& from, std::int64_t now);
  //! Empties a new slot; an entry left in no slot is forgotten.
  void clear_new_slot(std::uint32_t slot);
  void move_to_tried(Id id);
  bool tried_slot_free(const net::NetAddress& a) const;
  void put_tried(Id id);
  std::optional<net::NetAddress> pick(bool tried, const std::set<std::string>& exclude, std::int64_t now,
                                      std::mt19937_64& rng, const Filter& accept) const;
  void clear();
  void load_entry(const Entry& e);

  bool group_per_address_ = false;  //!< set_group_per_address
  //! The network group bucketing uses: network_group(), or the IP itself (set_group_per_address).
  std::string group_of(const net::NetAddress& a) const;
  Key key_{};
  std::unordered_map<Id, Record> entries_;
  std::unordered_map<std::string, Id> ids_;  //!< ip:port -> id
  std::vector<Id> new_table_ = std::vector<Id>(kAddrNewBucketCount * kAddrBucketSize, kEmpty);
  std::vector<Id> tried_table_ = std::vector<Id>(kAddrTriedBucketCount * kAddrBucketSize, kEmpty);
  std::size_t tried_count_ = 0;
  Id next_id_ = 0;
  std::mt19937_64 rng_;  //!< for the odds of a further new slot (Core: 1 in 2^refs)
};

}  // namespace cheese
