#include "daemon/net/addr_book.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <unordered_set>

#include "daemon/net/eviction.hpp"
#include "primitives/bytes.hpp"
#include "primitives/sha256.hpp"

namespace cheese {

namespace {

//! `v` as 8 little-endian bytes, for hashing.
std::string u64_bytes(std::uint64_t v) {
  std::string s(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

//! The 18 bytes of ip and port, for hashing.
std::string endpoint_bytes(const net::NetAddress& a) {
  std::string s(a.ip.begin(), a.ip.end());
  s.push_back(static_cast<char>(a.port & 0xff));
  s.push_back(static_cast<char>(a.port >> 8));
  return s;
}

//! 0.66^n for n = 0..8.
constexpr std::array<double, 9> kFailurePenalty = {1.0,        0.66,       0.4356,     0.287496,  0.18974736,
                                                   0.12523326, 0.08265395, 0.05455161, 0.03600406};

//! Core's GetChance: 1 % for an address tried in the last 10 minutes, times 0.66 per failure
//! (at most 8 of them).
double chance(const AddressBook::Entry& e, std::int64_t now) {
  const double c = now - e.last_try < 600 ? 0.01 : 1.0;
  return c * kFailurePenalty[static_cast<std::size_t>(std::clamp(e.failures, 0, 8))];
}

bool backing_off(const AddressBook::Entry& e, std::int64_t now) {
  if (e.failures == 0) return false;
  const std::int64_t backoff = std::min<std::int64_t>(kAddrMaxBackoff, std::int64_t{1} << std::min(e.failures, 30));
  return now - e.last_try < backoff;
}

}  // namespace

AddressBook::AddressBook() {
  std::random_device rd;
  for (auto& b : key_) b = static_cast<std::uint8_t>(rd());
  rng_.seed(keyed_hash("rng", {}));
}

AddressBook::AddressBook(const Key& key) : key_(key) { rng_.seed(keyed_hash("rng", {})); }

std::uint64_t AddressBook::keyed_hash(std::string_view tag, std::string_view a, std::string_view b) const {
  Sha256 h;
  h.write(key_);
  for (const std::string_view part : {tag, a, b}) {
    h.write(as_bytes(u64_bytes(part.size())));
    h.write(as_bytes(part));
  }
  const auto d = h.finalize();
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v |= std::uint64_t{d[i]} << (8 * i);
  return v;
}

std::string AddressBook::group_of(const net::NetAddress& a) const {
  if (!group_per_address_ || a.is_loopback()) return network_group(a);
  std::string out = "ip:";
  for (const std::uint8_t b : a.ip) out += fmt::format("{:02x}", b);
  return out;
}

std::size_t AddressBook::new_slot(const net::NetAddress& a, const net::NetAddress& from) const {
  const std::string source_group = group_of(from);
  const std::uint64_t h1 = keyed_hash("new1", group_of(a), source_group) % kAddrNewBucketsPerSourceGroup;
  const std::size_t bucket = keyed_hash("new2", source_group, u64_bytes(h1)) % kAddrNewBucketCount;
  const std::size_t pos = keyed_hash("newpos", u64_bytes(bucket), endpoint_bytes(a)) % kAddrBucketSize;
  return bucket * kAddrBucketSize + pos;
}

std::size_t AddressBook::tried_slot(const net::NetAddress& a) const {
  const std::uint64_t h1 = keyed_hash("tried1", endpoint_bytes(a)) % kAddrTriedBucketsPerGroup;
  const std::size_t bucket = keyed_hash("tried2", group_of(a), u64_bytes(h1)) % kAddrTriedBucketCount;
  const std::size_t pos = keyed_hash("triedpos", u64_bytes(bucket), endpoint_bytes(a)) % kAddrBucketSize;
  return bucket * kAddrBucketSize + pos;
}

bool AddressBook::is_terrible(const Entry& e, std::int64_t now) {
  if (now - e.last_try < kAddrRecentTry) return false;
  if (e.addr.time > now + kAddrMaxFutureDrift) return true;
  if (now - e.addr.time > kAddrHorizon) return true;
  if (e.last_success == 0 && e.failures >= kAddrRetries) return true;
  return now - e.last_success > kAddrMinFailWindow && e.failures >= kAddrMaxFailures;
}

AddressBook::Record* AddressBook::lookup(const net::NetAddress& a) {
  const auto it = ids_.find(a.to_string());
  return it == ids_.end() ? nullptr : &entries_.at(it->second);
}

std::optional<AddressBook::Entry> AddressBook::find(const net::NetAddress& a) const {
  const auto it = ids_.find(a.to_string());
  if (it == ids_.end()) return std::nullopt;
  const Record& r = entries_.at(it->second);
  Entry e = r.e;
  e.new_refs = static_cast<int>(r.new_slots.size());
  return e;
}

AddressBook::Id AddressBook::create(const net::NetAddress& a, std::string_view source, const net::NetAddress& from) {
  while (next_id_ == kEmpty || entries_.contains(next_id_)) ++next_id_;
  const Id id = next_id_++;
  Record& r = entries_[id];
  r.e.addr = a;
  r.e.source = std::string(source);
  r.e.from = from;
  ids_[a.to_string()] = id;
  return id;
}

void AddressBook::erase(Id id) {
  const auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Record& r = it->second;
  for (const auto slot : r.new_slots) new_table_[slot] = kEmpty;
  if (r.e.tried) {
    tried_table_[tried_slot(r.e.addr)] = kEmpty;
    --tried_count_;
  }
  ids_.erase(r.e.addr.to_string());
  entries_.erase(it);
}

void AddressBook::clear_new_slot(std::uint32_t slot) {
  const Id old = new_table_[slot];
  if (old == kEmpty) return;
  new_table_[slot] = kEmpty;
  Record& r = entries_.at(old);
  std::erase(r.new_slots, slot);
  if (r.new_slots.empty() && !r.e.tried) erase(old);
}

bool AddressBook::place_new(Id id, const net::NetAddress& from, std::int64_t now) {
  Record& r = entries_.at(id);
  const auto slot = static_cast<std::uint32_t>(new_slot(r.e.addr, from));
  const Id occupant = new_table_[slot];
  if (occupant == id) return false;
  if (occupant != kEmpty) {
    const Record& o = entries_.at(occupant);
    const bool replace = is_terrible(o.e, now) || (o.new_slots.size() > 1 && r.new_slots.empty());
    if (!replace) return false;
    clear_new_slot(slot);
  }
  new_table_[slot] = id;
  r.new_slots.push_back(slot);
  return true;
}

bool AddressBook::add(const net::NetAddress& a, std::string_view source, std::int64_t now) {
  return add(a, source, a, now);
}

bool AddressBook::add(const net::NetAddress& in, std::string_view source, const net::NetAddress& from,
                      std::int64_t now) {
  if (in.port == 0 || in.is_unspecified()) return false;
  net::NetAddress a = in;
  if (a.time == 0) a.time = now;
  if (a.time > now + kAddrMaxFutureDrift || a.time < kAddrMinTime) a.time = now - kAddrFutureAge;
  if (!from.same_endpoint(a)) a.time = std::max<std::int64_t>(0, a.time - kAddrRelayPenalty);
  if (Record* r = lookup(a)) {
    r->e.addr.time = std::max(r->e.addr.time, a.time);
    r->e.addr.services |= a.services;
    // Another source may give it one more new slot: 1 in 2^slots it already has (Core).
    const auto refs = r->new_slots.size();
    if (r->e.tried || refs >= static_cast<std::size_t>(kAddrNewRefsPerAddress)) return false;
    if (std::uniform_int_distribution<std::uint64_t>(0, (std::uint64_t{1} << refs) - 1)(rng_) != 0) return false;
    place_new(ids_.at(a.to_string()), from, now);
    return false;
  }
  const Id id = create(a, source, from);
  if (!place_new(id, from, now)) {
    erase(id);
    return false;
  }
  return true;
}

void AddressBook::mark_attempt(const net::NetAddress& a, std::int64_t now) {
  if (Record* r = lookup(a)) {
    r->e.last_try = now;
    r->e.failures += 1;
  }
}

void AddressBook::mark_success(const net::NetAddress& in, std::int64_t now) {
  if (in.port == 0 || in.is_unspecified()) return;
  Record* r = lookup(in);
  if (!r) {
    net::NetAddress a = in;
    a.time = now;
    r = &entries_.at(create(a, "outbound", a));
  }
  r->e.last_success = now;
  r->e.failures = 0;
  r->e.addr.time = now;
  if (!r->e.tried) move_to_tried(ids_.at(in.to_string()));
}

void AddressBook::mark_crowded(const net::NetAddress& a, std::int64_t now) {
  if (Record* r = lookup(a)) r->e.crowded_until = now + kAddrCrowdedWait;
}

void AddressBook::move_to_tried(Id id) {
  Record& r = entries_.at(id);
  for (const auto slot : r.new_slots) new_table_[slot] = kEmpty;
  r.new_slots.clear();
  // The entry in its tried slot goes back to the new table, in its own new slot; whatever sits
  // there is pushed out (Core does the same; its optional test-before-evict is not done here).
  const std::size_t slot = tried_slot(r.e.addr);
  if (const Id old = tried_table_[slot]; old != kEmpty) {
    Record& o = entries_.at(old);
    tried_table_[slot] = kEmpty;
    --tried_count_;
    o.e.tried = false;
    const auto back = static_cast<std::uint32_t>(new_slot(o.e.addr, o.e.from));
    clear_new_slot(back);
    new_table_[back] = old;
    o.new_slots.push_back(back);
  }
  put_tried(id);
}

bool AddressBook::tried_slot_free(const net::NetAddress& a) const { return tried_table_[tried_slot(a)] == kEmpty; }

void AddressBook::put_tried(Id id) {
  Record& r = entries_.at(id);
  tried_table_[tried_slot(r.e.addr)] = id;
  r.e.tried = true;
  ++tried_count_;
}

void AddressBook::remove(const net::NetAddress& a) {
  if (const auto it = ids_.find(a.to_string()); it != ids_.end()) erase(it->second);
}

std::optional<net::NetAddress> AddressBook::pick(bool tried, const std::set<std::string>& exclude, std::int64_t now,
                                                 std::mt19937_64& rng, const Filter& accept) const {
  // One pass with weights instead of Core's loop over random slots (accept with chance x a
  // growing factor): the same odds per entry, and bounded when every entry is excluded.
  std::unordered_set<Id> excluded;
  for (const auto& key : exclude) {
    if (const auto it = ids_.find(key); it != ids_.end()) excluded.insert(it->second);
  }
  std::vector<std::pair<const Entry*, double>> ready;
  double total = 0;
  for (const auto& [id, r] : entries_) {
    if (r.e.tried != tried || backing_off(r.e, now) || r.e.crowded_until > now || excluded.contains(id)) continue;
    if (accept && !accept(r.e)) continue;
    const double w = chance(r.e, now);
    ready.emplace_back(&r.e, w);
    total += w;
  }
  if (ready.empty()) return std::nullopt;
  double x = std::uniform_real_distribution<double>(0, total)(rng);
  for (const auto& [e, w] : ready) {
    if (x < w) return e->addr;
    x -= w;
  }
  return ready.back().first->addr;
}

std::optional<net::NetAddress> AddressBook::select(const std::set<std::string>& exclude, std::int64_t now,
                                                   std::mt19937_64& rng) const {
  return select(exclude, now, rng, false);
}

std::optional<net::NetAddress> AddressBook::select(const std::set<std::string>& exclude, std::int64_t now,
                                                   std::mt19937_64& rng, bool new_only) const {
  return select(exclude, now, rng, new_only, Filter{});
}

std::optional<net::NetAddress> AddressBook::select(const std::set<std::string>& exclude, std::int64_t now,
                                                   std::mt19937_64& rng, bool new_only, const Filter& accept) const {
  if (new_only) return pick(false, exclude, now, rng, accept);
  const bool has_new = new_count() > 0;
  const bool tried_first = tried_count_ > 0 && (!has_new || std::bernoulli_distribution(0.5)(rng));
  if (auto a = pick(tried_first, exclude, now, rng, accept)) return a;
  return pick(!tried_first, exclude, now, rng, accept);
}

std::vector<net::NetAddress> AddressBook::sample(std::size_t max, std::mt19937_64& rng) const {
  std::vector<net::NetAddress> all;
  all.reserve(entries_.size());
  for (const auto& [id, r] : entries_) all.push_back(r.e.addr);
  std::sort(all.begin(), all.end(),
            [](const auto& x, const auto& y) { return std::tie(x.ip, x.port) < std::tie(y.ip, y.port); });
  std::shuffle(all.begin(), all.end(), rng);
  if (all.size() > max) all.resize(max);
  return all;
}

std::vector<net::NetAddress> AddressBook::sample_for(const net::NetAddress& asker, std::size_t max, int dead_failures,
                                                     std::int64_t now, std::mt19937_64& rng) const {
  std::vector<net::NetAddress> out;
  for (const auto& [id, r] : entries_) {
    const Entry& e = r.e;
    if (e.failures >= dead_failures || is_terrible(e, now)) continue;
    // On loopback every node shares one IP: there only the asker's own endpoints are left out.
    if (asker.is_loopback() ? e.addr.same_endpoint(asker) : e.addr.ip == asker.ip) continue;
    out.push_back(e.addr);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& x, const auto& y) { return std::tie(x.ip, x.port) < std::tie(y.ip, y.port); });
  std::shuffle(out.begin(), out.end(), rng);
  const std::size_t share = std::max(out.size() * kGetAddrMaxPercent / 100, std::min(out.size(), kGetAddrMinReply));
  out.resize(std::min({out.size(), share, max}));
  return out;
}

bool AddressBook::consistent() const {
  std::size_t tried = 0;
  std::size_t new_refs = 0;
  for (const auto& [id, r] : entries_) {
    if (ids_.count(r.e.addr.to_string()) != 1 || ids_.at(r.e.addr.to_string()) != id) return false;
    if (r.e.tried == !r.new_slots.empty()) return false;  // exactly one table
    if (r.new_slots.size() > static_cast<std::size_t>(kAddrNewRefsPerAddress)) return false;
    if (r.e.tried && tried_table_[tried_slot(r.e.addr)] != id) return false;
    for (const auto slot : r.new_slots) {
      if (slot >= new_table_.size() || new_table_[slot] != id) return false;
    }
    tried += r.e.tried ? 1 : 0;
    new_refs += r.new_slots.size();
  }
  const auto used = [](const std::vector<Id>& t) {
    return static_cast<std::size_t>(std::count_if(t.begin(), t.end(), [](Id x) { return x != kEmpty; }));
  };
  return tried == tried_count_ && used(tried_table_) == tried && used(new_table_) == new_refs &&
         ids_.size() == entries_.size() && entries_.size() <= kMaxAddrBookEntries;
}

void AddressBook::clear() {
  entries_.clear();
  ids_.clear();
  std::fill(new_table_.begin(), new_table_.end(), kEmpty);
  std::fill(tried_table_.begin(), tried_table_.end(), kEmpty);
  tried_count_ = 0;
}

}  // namespace cheese
