// ConnManager's bootstrap (daemon/net/bootstrap.hpp, docs/protocol.md 7.5): -seednode
// connections, DNS seeds, fixed seeds, the source mix of full-relay peers, added-node info.

#include <fmt/format.h>

#include <algorithm>

#include "daemon/net/connman.hpp"
#include "util/log.hpp"

namespace cheese {

BootstrapPlan::Config ConnManager::bootstrap_config() const {
  BootstrapPlan::Config c;
  const bool automatic = options_.connect.empty();  // -connect: nothing but those peers
  c.dns_seeds = automatic && !options_.dns_seeds.empty();
  c.fixed_seeds = automatic && !options_.fixed_seeds.empty();
  c.other_sources = options_.trackers || !options_.seednodes.empty() || !options_.addnode.empty();
  c.book_at_start = addresses_.size();
  return c;
}

void ConnManager::bootstrap_round() {
  for (const auto& target : addr_fetches_) {
    log_info("Connecting to seed node {} for addresses", target);
    tasks_.spawn("seednode " + target, connect_to(target, ConnectionType::kAddrFetch));
  }
  addr_fetches_.clear();
  BootstrapPlan::Now n;
  n.since_start = std::chrono::steady_clock::now() - started_;
  for (const auto& [id, c] : connections_) {
    const ConnectionType t = c->info().kind();
    if (t == ConnectionType::kInbound || t == ConnectionType::kFeeler || t == ConnectionType::kAddrFetch) continue;
    ++n.outbound;
    if (t == ConnectionType::kOutboundFullRelay || t == ConnectionType::kManual) ++n.full_relay_outbound;
  }
  switch (bootstrap_.dns(n)) {
    case BootstrapPlan::Dns::kNotYet: break;
    case BootstrapPlan::Dns::kSkip:
      log_info("{} outbound peers after {} s: DNS seeds not queried", n.full_relay_outbound,
               bootstrap_.dns_delay().count());
      break;
    case BootstrapPlan::Dns::kQuery:
      for (const auto& host : options_.dns_seeds) tasks_.spawn("DNS seed " + host, query_dns_seed(host));
      break;
  }
  if (bootstrap_.fixed_seeds(n)) add_fixed_seeds();
}

asio::awaitable<void> ConnManager::query_dns_seed(std::string host) {
  log_info("Querying DNS seed {}", host);
  const auto found = co_await dns_seeder_.lookup(host, params_.default_p2p_port, kDnsSeedTimeout);
  if (stopping_) co_return;
  if (found.empty()) {
    log_info("DNS seed {}: no address (no answer within {} s, or none)", host, kDnsSeedTimeout.count());
    co_return;
  }
  const std::size_t added = add_dns_seed_peers(host, found);
  log_info("DNS seed {}: {} addresses, {} new in the address book", host, found.size(), added);
}

std::size_t ConnManager::add_dns_seed_peers(const std::string& seed, const std::vector<net::NetAddress>& peers) {
  const net::NetAddress source = dns_seed_source(seed);
  const bool regtest = params_.network == Network::kRegtest;
  std::size_t added = 0;
  for (const auto& a : peers) {
    // As gossip: only addresses of the public internet, but anything on regtest (test networks).
    if (a.port == 0 || a.is_unspecified() || (!regtest && !a.is_routable())) continue;
    if (addresses_.add(a, "dnsseed", source, now())) ++added;
  }
  return added;
}

void ConnManager::add_fixed_seeds() {
  const net::NetAddress source = dns_seed_source("fixed seeds");  // one source for all of them
  std::size_t added = 0;
  for (const auto& text : options_.fixed_seeds) {
    const auto a = net::NetAddress::parse_endpoint(text, params_.default_p2p_port);
    if (a && addresses_.add(*a, "fixedseed", source, now())) ++added;
  }
  log_info("No outbound peer from any other source: {} of {} fixed seed addresses added to the address book", added,
           options_.fixed_seeds.size());
}

void ConnManager::count_source(DialRound& r, const net::NetAddress& a) const {
  if (const auto e = addresses_.find(a)) ++r.sources[source_key(*e)];
}

void ConnManager::count_sources(DialRound& r) const {
  for (const auto& [id, c] : connections_) {
    if (c->info().kind() == ConnectionType::kOutboundFullRelay) count_source(r, c->info().address);
  }
  for (const auto& [target, type] : pending_connects_) {
    if (type != ConnectionType::kOutboundFullRelay) continue;
    if (auto a = net::NetAddress::parse_endpoint(target, params_.default_p2p_port)) count_source(r, *a);
  }
}

std::vector<ConnManager::AddedNodeInfo> ConnManager::added_node_info(const std::string& node) const {
  std::vector<AddedNodeInfo> out;
  for (const auto& target : added_nodes_) {
    if (!node.empty() && target != node) continue;
    AddedNodeInfo info{target, false, ""};
    auto addr = net::NetAddress::parse_endpoint(target, params_.default_p2p_port);
    if (!addr) {
      const auto it = resolved_targets_.find(target);
      if (it != resolved_targets_.end()) addr = it->second;
    }
    for (const auto& [id, c] : connections_) {
      if (!addr || c->info().inbound || !c->info().address.same_endpoint(*addr)) continue;
      info.connected = true;
      info.address = c->info().address.to_string();
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace cheese
