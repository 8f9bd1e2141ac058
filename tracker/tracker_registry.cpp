#include "tracker_registry.hpp"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <utility>

namespace cheese::tracker {

std::string_view to_string(RegisterError e) {
  switch (e) {
    case RegisterError::kTooManyFromIp: return "too many registrations from this IP";
    case RegisterError::kFull: return "tracker full";
    case RegisterError::kNonceInUse: return "node nonce registered by another live connection";
    case RegisterError::kAddressInUse: return "address registered by another live connection";
  }
  return "unknown";
}

net::TrackerErrorCode error_code(RegisterError e) {
  switch (e) {
    case RegisterError::kTooManyFromIp: return net::TrackerErrorCode::kTooManyFromIp;
    case RegisterError::kFull: return net::TrackerErrorCode::kFull;
    case RegisterError::kNonceInUse: return net::TrackerErrorCode::kNonceInUse;
    case RegisterError::kAddressInUse: return net::TrackerErrorCode::kAddressInUse;
  }
  return net::TrackerErrorCode::kFull;
}

Registry::Registry(Limits limits, std::uint64_t seed) : limits_(limits), rng_(seed) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

std::uint64_t Registry::fresh_id() const {
  // Ids name registrations in logs; the secret authorizes. Both come from the OS's CSPRNG.
  for (;;) {
    std::uint64_t id = 0;
    randombytes_buf(&id, sizeof id);
    if (id != 0 && !entries_.contains(id)) return id;
  }
}

void Registry::erase(std::unordered_map<std::uint64_t, Entry>::iterator it) {
  if (auto ip = per_ip_.find(it->second.address.ip); ip != per_ip_.end() && --ip->second == 0) per_ip_.erase(ip);
  if (auto n = per_network_.find(it->second.network); n != per_network_.end() && --n->second == 0) {
    per_network_.erase(n);
  }
  entries_.erase(it);
}

std::optional<RegisterError> Registry::conflict(const RegisterRequest& req) const {
  for (const auto& [id, e] : entries_) {
    if (e.network != req.network || e.connection == req.connection) continue;
    if (req.nonce != 0 && e.nonce == req.nonce) return RegisterError::kNonceInUse;
    if (req.address.port != 0 && e.address.same_endpoint(req.address)) return RegisterError::kAddressInUse;
  }
  return std::nullopt;
}

RegisterResult Registry::register_node(const RegisterRequest& req, Clock::time_point now, std::int64_t now_unix) {
  RegisterResult out;
  // The connection's own earlier registration is its owner's to replace.
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.connection == req.connection) {
      out.replaced.push_back(it->second);
      auto victim = it++;
      erase(victim);
    } else {
      ++it;
    }
  }
  if (auto c = conflict(req)) {
    out.error = *c;
    return out;
  }
  if (entries_.size() >= limits_.max_entries) {
    out.error = RegisterError::kFull;
    return out;
  }
  if (count_ip(req.address.ip) >= limits_.max_per_ip) {
    out.error = RegisterError::kTooManyFromIp;
    return out;
  }
  Entry e;
  e.node_id = fresh_id();
  e.network = req.network;
  e.address = req.address;
  e.address.time = now_unix;
  e.nonce = req.nonce;
  e.connection = req.connection;
  randombytes_buf(e.secret.data(), e.secret.size());
  e.last_seen = now;
  e.last_seen_unix = now_unix;
  e.inbound = req.inbound;
  e.max_inbound = req.max_inbound;
  e.next_check = now;
  entries_.emplace(e.node_id, e);
  ++per_ip_[req.address.ip];
  ++per_network_[req.network];
  out.entry = e;
  return out;
}

namespace {

bool same_secret(const net::TrackerSecret& a, const net::TrackerSecret& b) {
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

OwnerCheck Registry::heartbeat(std::uint64_t node_id, const net::TrackerSecret& secret, std::uint16_t inbound,
                               std::uint16_t max_inbound, Clock::time_point now, std::int64_t now_unix) {
  auto it = entries_.find(node_id);
  if (it == entries_.end()) return OwnerCheck::kUnknownId;
  if (!same_secret(it->second.secret, secret)) return OwnerCheck::kBadSecret;
  it->second.last_seen = now;
  it->second.last_seen_unix = now_unix;
  it->second.address.time = now_unix;
  it->second.inbound = inbound;
  it->second.max_inbound = max_inbound;
  return OwnerCheck::kOk;
}

OwnerCheck Registry::deregister(std::uint64_t node_id, const net::TrackerSecret& secret, Entry* removed) {
  auto it = entries_.find(node_id);
  if (it == entries_.end()) return OwnerCheck::kUnknownId;
  if (!same_secret(it->second.secret, secret)) return OwnerCheck::kBadSecret;
  if (removed) *removed = it->second;
  erase(it);
  return OwnerCheck::kOk;
}

std::optional<Entry> Registry::remove_connection_entry(std::uint64_t node_id, std::uint64_t connection) {
  auto it = entries_.find(node_id);
  if (it == entries_.end() || it->second.connection != connection) return std::nullopt;
  Entry e = it->second;
  erase(it);
  return e;
}

std::vector<Entry> Registry::expire(Clock::time_point now, Clock::duration timeout) {
  std::vector<Entry> out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (now - it->second.last_seen > timeout) {
      out.push_back(it->second);
      auto victim = it++;
      erase(victim);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<Entry> Registry::take_due_checks(Clock::time_point now, std::size_t max) {
  std::vector<Entry> out;
  for (auto& [id, e] : entries_) {
    if (out.size() >= max) break;
    if (e.address.port == 0 || e.checking || e.next_check > now) continue;
    e.checking = true;
    out.push_back(e);
  }
  return out;
}

std::optional<bool> Registry::mark_checked(std::uint64_t node_id, bool ok, Clock::time_point next) {
  auto it = entries_.find(node_id);
  if (it == entries_.end()) return std::nullopt;
  const bool was = it->second.listed;
  it->second.listed = ok;
  it->second.checking = false;
  it->second.next_check = next;
  return was;
}

std::vector<Entry> Registry::sample(Network network, std::size_t max, std::uint64_t exclude_id,
                                    std::uint64_t exclude_nonce) {
  // Weighted sampling without replacement (Efraimidis-Spirakis): each candidate draws the key
  // -ln(u) / w and the smallest keys win. In logs, ln(-ln u) - ln w, so huge weights never overflow.
  std::vector<std::pair<double, const Entry*>> keyed;
  if (max == 0) return {};
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (const auto& [id, e] : entries_) {
    if (e.network != network || !e.listed || e.address.port == 0 || id == exclude_id) continue;
    if (exclude_nonce != 0 && e.nonce == exclude_nonce) continue;
    double u = unit(rng_);
    while (u <= 0.0) u = unit(rng_);
    const auto free = std::min(e.free_slots(), kMaxWeightedFreeSlots);
    const double log_weight = static_cast<double>(free) / kFreeSlotsPerWeightDoubling * std::log(2.0);
    keyed.emplace_back(std::log(-std::log(u)) - log_weight, &e);
  }
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Entry> out;
  std::map<std::string, std::size_t> per_group;
  for (const auto& [key, e] : keyed) {
    if (out.size() >= max) break;
    auto& in_group = per_group[e->address.ip_group()];
    if (in_group >= limits_.max_per_group) continue;
    ++in_group;
    out.push_back(*e);
  }
  std::shuffle(out.begin(), out.end(), rng_);
  return out;
}

const Entry* Registry::find(std::uint64_t node_id) const {
  auto it = entries_.find(node_id);
  return it == entries_.end() ? nullptr : &it->second;
}

std::size_t Registry::count(Network network) const {
  auto it = per_network_.find(network);
  return it == per_network_.end() ? 0 : it->second;
}

std::size_t Registry::count_listed(Network network) const {
  return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(), [network](const auto& kv) {
    return kv.second.network == network && kv.second.listed;
  }));
}

std::size_t Registry::count_ip(const net::IpBytes& ip) const {
  auto it = per_ip_.find(ip);
  return it == per_ip_.end() ? 0 : it->second;
}

}  // namespace cheese::tracker
