#include "daemon/net/local_addresses.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace cheese {

std::string_view to_string(IpNetwork n) { return n == IpNetwork::kIpv4 ? "ipv4" : "ipv6"; }

std::optional<IpNetwork> parse_ip_network(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (IpNetwork n : kAllIpNetworks) {
    if (lower == to_string(n)) return n;
  }
  return std::nullopt;
}

IpNetwork network_of(const net::NetAddress& a) { return a.is_ipv4() ? IpNetwork::kIpv4 : IpNetwork::kIpv6; }

ReachableNetworks::ReachableNetworks(const std::vector<IpNetwork>& only) {
  if (only.empty()) return;
  ipv4_ = std::find(only.begin(), only.end(), IpNetwork::kIpv4) != only.end();
  ipv6_ = std::find(only.begin(), only.end(), IpNetwork::kIpv6) != only.end();
}

bool LocalAddresses::add(const net::NetAddress& a, int score) {
  if (a.port == 0 || a.is_unspecified() || !reachable_.contains(a)) return false;
  if (!regtest_ && !a.is_routable()) return false;
  net::NetAddress endpoint;
  endpoint.ip = a.ip;
  endpoint.port = a.port;
  for (auto& e : entries_) {
    if (!e.address.same_endpoint(endpoint)) continue;
    if (score >= e.score) e.score = score + 1;
    return true;
  }
  if (entries_.size() >= kMaxLocalAddresses) return false;
  entries_.push_back({endpoint, score});
  return true;
}

std::optional<net::NetAddress> LocalAddresses::best_for(const net::NetAddress& peer) const {
  const LocalAddress* best = nullptr;
  const auto better = [&](const LocalAddress& e) {
    if (!best) return true;
    const bool same = network_of(e.address) == network_of(peer);
    const bool best_same = network_of(best->address) == network_of(peer);
    if (same != best_same) return same;
    return e.score > best->score;
  };
  for (const auto& e : entries_) {
    if (better(e)) best = &e;
  }
  if (!best) return std::nullopt;
  return best->address;
}

bool LocalAddresses::contains(const net::NetAddress& a) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&a](const LocalAddress& e) { return e.address.same_endpoint(a); });
}

}  // namespace cheese
