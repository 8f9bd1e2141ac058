#include "daemon/net/eviction.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <map>
#include <set>

namespace cheese {

std::string network_group(const net::NetAddress& a) {
  if (a.is_loopback()) return a.to_string();
  return a.ip_group();
}

bool outbound_group_allowed(const net::NetAddress& candidate, const std::set<std::string>& outbound_groups,
                            bool regtest) {
  return regtest || !outbound_groups.contains(network_group(candidate));
}

bool inbound_group_allowed(const net::NetAddress& candidate, const std::vector<net::NetAddress>& inbound,
                           bool regtest) {
  if (regtest) return true;
  const std::string group = network_group(candidate);
  const auto same = std::count_if(inbound.begin(), inbound.end(),
                                  [&group](const net::NetAddress& a) { return network_group(a) == group; });
  return static_cast<std::size_t>(same) < kMaxInboundPerGroup;
}

bool FeelerSchedule::take(std::chrono::steady_clock::time_point now, const OutboundCounts& have,
                          const OutboundCounts& want) {
  if (now < next_ || have.feelers > 0) return false;
  if (have.full_relay < want.full_relay || have.block_relay < want.block_relay) return false;
  next_ = now + interval_;
  return true;
}

namespace {

//! Removes up to `n` candidates from the front of `c` once sorted by `better` (best first).
template <typename Better>
void protect(std::vector<EvictionCandidate>& c, std::size_t n, Better better) {
  std::stable_sort(c.begin(), c.end(), better);
  c.erase(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(std::min(n, c.size())));
}

//! One candidate from each of `n` distinct network groups (the longest connected of each).
void protect_groups(std::vector<EvictionCandidate>& c, std::size_t n) {
  std::stable_sort(c.begin(), c.end(), [](const auto& x, const auto& y) { return x.connected < y.connected; });
  std::set<std::string> seen;
  std::vector<EvictionCandidate> rest;
  for (auto& e : c) {
    if (seen.size() < n && seen.insert(e.group).second) continue;
    rest.push_back(std::move(e));
  }
  c = std::move(rest);
}

}  // namespace

std::optional<PeerId> select_inbound_to_evict(std::vector<EvictionCandidate> c) {
  protect_groups(c, kProtectByGroup);
  protect(c, kProtectByPing,
          [](const auto& x, const auto& y) { return x.min_ping.value_or(1e9) < y.min_ping.value_or(1e9); });
  protect(c, kProtectByBlock, [](const auto& x, const auto& y) { return x.last_block > y.last_block; });
  protect(c, kProtectByTx, [](const auto& x, const auto& y) { return x.last_tx > y.last_tx; });
  protect(c, static_cast<std::size_t>(static_cast<double>(c.size()) * kProtectByAgeShare),
          [](const auto& x, const auto& y) { return x.connected < y.connected; });
  if (c.empty()) return std::nullopt;
  // The group with the most connections (ties: the one with the youngest connection); its youngest.
  std::map<std::string, std::vector<const EvictionCandidate*>> groups;
  for (const auto& e : c) groups[e.group].push_back(&e);
  const std::vector<const EvictionCandidate*>* largest = nullptr;
  auto youngest = [](const std::vector<const EvictionCandidate*>& g) {
    return *std::max_element(g.begin(), g.end(), [](auto* x, auto* y) { return x->connected < y->connected; });
  };
  for (const auto& [key, members] : groups) {
    if (!largest || members.size() > largest->size() ||
        (members.size() == largest->size() && youngest(members)->connected > youngest(*largest)->connected)) {
      largest = &members;
    }
  }
  return youngest(*largest)->id;
}

}  // namespace cheese
