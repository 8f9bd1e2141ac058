#include "tracker_registry.hpp"

#include <algorithm>

namespace cheese::tracker {

std::string_view to_string(RegisterError e) {
  switch (e) {
    case RegisterError::kTooManyFromIp: return "too many registrations from this IP";
    case RegisterError::kFull: return "tracker full";
  }
  return "unknown";
}

Registry::Registry(Limits limits, std::uint64_t seed) : limits_(limits), rng_(seed) {}

std::uint64_t Registry::fresh_id() {
  // Ids authorize heartbeats, so they come from the OS's CSPRNG rather than the sampling RNG.
  std::random_device rd;
  for (;;) {
    const std::uint64_t id = (std::uint64_t{rd()} << 32) | rd();
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

RegisterResult Registry::register_node(Network network, const net::NetAddress& address, std::uint64_t nonce,
                                       std::uint64_t connection, Clock::time_point now, std::int64_t now_unix) {
  RegisterResult out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    const bool same_connection = e.connection == connection;
    const bool same_endpoint = address.port != 0 && e.network == network && e.address.same_endpoint(address);
    const bool same_nonce = nonce != 0 && e.network == network && e.nonce == nonce;
    if (same_connection || same_endpoint || same_nonce) {
      out.replaced.push_back(e);
      auto victim = it++;
      erase(victim);
    } else {
      ++it;
    }
  }
  if (entries_.size() >= limits_.max_entries) {
    out.error = RegisterError::kFull;
    return out;
  }
  if (count_ip(address.ip) >= limits_.max_per_ip) {
    out.error = RegisterError::kTooManyFromIp;
    return out;
  }
  Entry e;
  e.node_id = fresh_id();
  e.network = network;
  e.address = address;
  e.address.time = now_unix;
  e.nonce = nonce;
  e.connection = connection;
  e.last_seen = now;
  e.last_seen_unix = now_unix;
  entries_.emplace(e.node_id, e);
  ++per_ip_[address.ip];
  ++per_network_[network];
  out.entry = e;
  return out;
}

bool Registry::heartbeat(std::uint64_t node_id, Clock::time_point now, std::int64_t now_unix) {
  auto it = entries_.find(node_id);
  if (it == entries_.end()) return false;
  it->second.last_seen = now;
  it->second.last_seen_unix = now_unix;
  it->second.address.time = now_unix;
  return true;
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

std::vector<Entry> Registry::sample(Network network, std::size_t max, std::uint64_t exclude_id,
                                    std::uint64_t exclude_nonce) {
  // Reservoir sampling: one pass, uniform over the eligible entries, at most `max` kept.
  std::vector<Entry> out;
  if (max == 0) return out;
  std::size_t seen = 0;
  for (const auto& [id, e] : entries_) {
    if (e.network != network || e.address.port == 0 || id == exclude_id) continue;
    if (exclude_nonce != 0 && e.nonce == exclude_nonce) continue;
    ++seen;
    if (out.size() < max) {
      out.push_back(e);
    } else {
      const std::size_t j = std::uniform_int_distribution<std::size_t>(0, seen - 1)(rng_);
      if (j < max) out[j] = e;
    }
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

std::size_t Registry::count_ip(const net::IpBytes& ip) const {
  auto it = per_ip_.find(ip);
  return it == per_ip_.end() ? 0 : it->second;
}

}  // namespace cheese::tracker
