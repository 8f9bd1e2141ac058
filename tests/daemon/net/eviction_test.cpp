// Inbound eviction (Bitcoin Core's SelectNodeToEvict): an attacker who fills the inbound slots
// from one network group cannot push out honest peers that are useful or diverse.
#include <catch2/catch.hpp>

#include <set>

#include "daemon/net/eviction.hpp"

using namespace cheese;
using namespace std::chrono_literals;

namespace {

const auto kT0 = std::chrono::steady_clock::time_point{} + 24h;

EvictionCandidate candidate(PeerId id, std::string group, std::chrono::seconds age) {
  EvictionCandidate c;
  c.id = id;
  c.group = std::move(group);
  c.connected = kT0 - age;
  return c;
}

}  // namespace

TEST_CASE("network groups: /16 for IPv4, /32 for IPv6, ip:port on loopback", "[daemon][net][eviction]") {
  CHECK(network_group(net::NetAddress::from_ipv4({203, 7, 1, 2}, 8433)) ==
        network_group(net::NetAddress::from_ipv4({203, 7, 200, 9}, 18433)));
  CHECK(network_group(net::NetAddress::from_ipv4({203, 7, 1, 2}, 8433)) !=
        network_group(net::NetAddress::from_ipv4({203, 8, 1, 2}, 8433)));
  CHECK(network_group(*net::NetAddress::parse_endpoint("[2001:db8:1::1]:8433", 0)) ==
        network_group(*net::NetAddress::parse_endpoint("[2001:db8:ffff::2]:8433", 0)));
  CHECK(network_group(net::NetAddress::from_ipv4({127, 0, 0, 1}, 40000)) !=
        network_group(net::NetAddress::from_ipv4({127, 0, 0, 1}, 40001)));
}

TEST_CASE("a flood from one network group evicts its own, never the honest peers", "[daemon][net][eviction]") {
  std::vector<EvictionCandidate> c;
  // 8 honest peers, each from its own group, useful and long connected.
  for (PeerId id = 1; id <= 8; ++id) {
    auto e = candidate(id, "honest." + std::to_string(id), std::chrono::hours(id));
    e.min_ping = 0.05 + 0.01 * static_cast<double>(id);
    e.last_block = kT0 - std::chrono::minutes(id);
    c.push_back(e);
  }
  // 48 attacker connections from one /16, fresh, some with a better ping than the honest ones.
  for (PeerId id = 100; id < 148; ++id) {
    auto e = candidate(id, "6.6", std::chrono::seconds(id));
    if (id < 104) e.min_ping = 0.001;
    c.push_back(e);
  }
  int evicted = 0;
  for (int round = 0; round < 100; ++round) {
    const auto victim = select_inbound_to_evict(c);
    if (!victim) break;     // the rest are protected
    CHECK(*victim >= 100);  // always the attacker's
    c.erase(std::find_if(c.begin(), c.end(), [&](const auto& e) { return e.id == *victim; }));
    ++evicted;
  }
  // The attacker keeps at most the slots the ping, block and transaction categories protect.
  CHECK(c.size() - 8 <= kProtectByPing + kProtectByBlock + kProtectByTx);
  CHECK(evicted > 0);
  CHECK(std::count_if(c.begin(), c.end(), [](const auto& e) { return e.id <= 8; }) == 8);
}

TEST_CASE("the youngest of the largest group goes first", "[daemon][net][eviction]") {
  std::vector<EvictionCandidate> c;
  PeerId id = 1;
  for (int i = 0; i < 10; ++i) c.push_back(candidate(id++, "old", std::chrono::hours(10 + i)));
  for (int i = 0; i < 40; ++i) c.push_back(candidate(id++, "new", std::chrono::seconds(100 + i)));
  const auto victim = select_inbound_to_evict(c);
  REQUIRE(victim);
  const auto& v = *std::find_if(c.begin(), c.end(), [&](const auto& e) { return e.id == *victim; });
  CHECK(v.group == "new");
  CHECK(v.connected == kT0 - std::chrono::seconds(100));  // the youngest of all
}

TEST_CASE("few inbound peers: all protected, none evicted", "[daemon][net][eviction]") {
  // One group: one protected for it, then 8 + 4 + 4 by ping, blocks and transactions.
  const std::size_t protected_in_one_group = 1 + kProtectByPing + kProtectByBlock + kProtectByTx;
  std::vector<EvictionCandidate> c;
  for (PeerId id = 1; id <= protected_in_one_group; ++id) {
    c.push_back(candidate(id, "same", std::chrono::seconds(1000 + id)));
  }
  CHECK_FALSE(select_inbound_to_evict(c));  // at the bound: all protected
  c.push_back(candidate(99, "same", std::chrono::seconds(1)));
  CHECK(select_inbound_to_evict(c) == PeerId{99});  // one more: half of one is none, it goes
  CHECK_FALSE(select_inbound_to_evict({}));
}

TEST_CASE("outbound peers: one per network group, except on regtest", "[daemon][net][eviction]") {
  const std::set<std::string> groups{network_group(net::NetAddress::from_ipv4({203, 7, 1, 2}, 8433))};
  // Another address in the same /16: refused off regtest (an eclipse needs only one /16 otherwise).
  CHECK_FALSE(outbound_group_allowed(net::NetAddress::from_ipv4({203, 7, 99, 1}, 8433), groups, false));
  CHECK(outbound_group_allowed(net::NetAddress::from_ipv4({203, 8, 1, 2}, 8433), groups, false));
  CHECK(outbound_group_allowed(net::NetAddress::from_ipv4({203, 7, 99, 1}, 8433), groups, true));
}
