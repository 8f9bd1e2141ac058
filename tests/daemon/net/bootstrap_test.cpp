// Bootstrap (daemon/net/bootstrap.hpp, dns_seed.hpp): when DNS seeds and fixed seeds come in, the
// source mix of full-relay outbound peers, addr-fetch connections (-seednode), the seed lists.
#include <catch2/catch.hpp>

#include <map>

#include "daemon/net/bootstrap.hpp"
#include "daemon/net/connman.hpp"
#include "daemon/net/dns_seed.hpp"
#include "daemon/net/eviction.hpp"
#include "daemon/net/peer_harness.hpp"

using namespace cheese;
using namespace cheese::test;
using namespace std::chrono_literals;

namespace {

net::NetAddress ip4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port = 8433) {
  return net::NetAddress::from_ipv4({a, b, c, d}, port);
}

AddressBook::Key test_key() {
  AddressBook::Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i * 7 + 1);
  return k;
}

//! `n` addresses in distinct /16s (base.i.0.1), all told by `from` as `source` (a few may
//! collide in the source's new buckets and be dropped: at least half are kept).
void add_from(AddressBook& book, std::uint8_t base, int n, std::string_view source, const net::NetAddress& from) {
  int kept = 0;
  for (int i = 0; i < n; ++i) kept += book.add(ip4(base, static_cast<std::uint8_t>(i), 0, 1), source, from, kNow);
  REQUIRE(kept >= n / 2);
}

//! The source key of the entries told by `from` (any one of them).
std::string key_of(const AddressBook& book, std::uint8_t base, int n) {
  for (int i = 0; i < n; ++i) {
    if (const auto e = book.find(ip4(base, static_cast<std::uint8_t>(i), 0, 1))) return source_key(*e);
  }
  return "";
}

//! Fills `slots` full-relay slots as the connection manager does (each chosen address counted for
//! its source); returns the peers taken per source.
std::map<std::string, std::size_t> fill(const AddressBook& book, std::size_t slots, bool one_source_ok) {
  std::mt19937_64 rng(7);
  std::map<std::string, std::size_t> per_source;
  std::set<std::string> exclude;
  for (std::size_t i = 0; i < slots; ++i) {
    const auto a = select_full_relay(book, exclude, per_source, one_source_ok, kNow, rng);
    if (!a) break;
    exclude.insert(a->to_string());
    ++per_source[source_key(*book.find(*a))];
  }
  return per_source;
}

std::size_t total(const std::map<std::string, std::size_t>& m) {
  std::size_t n = 0;
  for (const auto& [k, v] : m) n += v;
  return n;
}

}  // namespace

TEST_CASE("seed lists: empty on every network before launch", "[daemon][net][bootstrap]") {
  for (Network n : {Network::kMain, Network::kTest, Network::kRegtest}) {
    CHECK(dns_seed_hosts(n).empty());
    CHECK(fixed_seed_addresses(n).empty());
    // Once filled at launch, each fixed seed must be a numeric ip[:port].
    for (const auto& a : fixed_seed_addresses(n)) CHECK(net::NetAddress::parse_endpoint(a, 8433));
  }
}

TEST_CASE("source mix: two trackers share the full-relay slots", "[daemon][net][bootstrap]") {
  AddressBook book(test_key());
  const net::NetAddress t1 = ip4(203, 0, 113, 1, 9999);
  const net::NetAddress t2 = ip4(198, 51, 100, 1, 9999);
  add_from(book, 20, 30, "tracker", t1);
  add_from(book, 21, 30, "tracker", t2);
  for (bool one_source_ok : {false, true}) {
    const auto got = fill(book, kMaxOutboundPeers, one_source_ok);
    CHECK(total(got) == kMaxOutboundPeers);
    CHECK(got.at(key_of(book, 20, 30)) == kMaxOutboundFromOneSource);
    CHECK(got.at(key_of(book, 21, 30)) == kMaxOutboundFromOneSource);
  }
}

TEST_CASE("source mix: one tracker never fills every slot while other addresses exist", "[daemon][net][bootstrap]") {
  AddressBook book(test_key());
  const net::NetAddress tracker = ip4(203, 0, 113, 1, 9999);
  add_from(book, 20, 50, "tracker", tracker);  // a lying tracker: many addresses
  const std::string tracker_key = key_of(book, 20, 50);
  REQUIRE(tracker_key == "tracker 203.0.113.1:9999");
  SECTION("the tracker alone: 4 slots during the grace period, all 8 after it") {
    CHECK(fill(book, kMaxOutboundPeers, false).at(tracker_key) == kMaxOutboundFromOneSource);
    CHECK(fill(book, kMaxOutboundPeers, true).at(tracker_key) == kMaxOutboundPeers);
  }
  SECTION("two gossip addresses and one DNS seed address are all taken before the tracker's beyond 4") {
    const net::NetAddress peer = ip4(192, 0, 2, 9);
    REQUIRE(book.add(ip4(30, 1, 0, 1), "gossip", peer, kNow));
    REQUIRE(book.add(ip4(30, 2, 0, 1), "gossip", peer, kNow));
    REQUIRE(book.add(ip4(31, 1, 0, 1), "dnsseed", dns_seed_source("seed.example"), kNow));
    for (int run = 0; run < 20; ++run) {  // whatever the draw
      const auto got = fill(book, kMaxOutboundPeers, true);
      CHECK(total(got) == kMaxOutboundPeers);
      CHECK(got.at(tracker_key) == kMaxOutboundPeers - 3);
    }
    const auto strict = fill(book, kMaxOutboundPeers, false);
    CHECK(strict.at(tracker_key) == kMaxOutboundFromOneSource);
    CHECK(total(strict) == kMaxOutboundFromOneSource + 3);
  }
}

TEST_CASE("DNS seeds: at once with an empty book, else after kDnsSeedDelay with too few peers",
          "[daemon][net][bootstrap]") {
  SECTION("empty book: queried in the first round") {
    BootstrapPlan p({true, true, true, 0});
    CHECK(p.dns({0s, 0, 0}) == BootstrapPlan::Dns::kQuery);
    CHECK(p.dns({1s, 0, 0}) == BootstrapPlan::Dns::kNotYet);  // once per run
  }
  SECTION("a book: waits kDnsSeedDelay, then queries with fewer than kDnsSeedOutboundThreshold peers") {
    BootstrapPlan p({true, false, false, 10});
    CHECK(p.dns({kDnsSeedDelay - 1s, 0, 0}) == BootstrapPlan::Dns::kNotYet);
    CHECK(p.dns({kDnsSeedDelay, kDnsSeedOutboundThreshold - 1, 1}) == BootstrapPlan::Dns::kQuery);
  }
  SECTION("a book and enough peers: skipped") {
    BootstrapPlan p({true, false, false, 10});
    CHECK(p.dns({kDnsSeedDelay, kDnsSeedOutboundThreshold, 2}) == BootstrapPlan::Dns::kSkip);
    CHECK(p.dns({kDnsSeedDelay + 60s, 0, 0}) == BootstrapPlan::Dns::kNotYet);
  }
  SECTION("a large book waits kDnsSeedDelayManyAddresses") {
    BootstrapPlan p({true, false, false, kDnsSeedManyAddresses});
    CHECK(p.dns({kDnsSeedDelayManyAddresses - 1s, 0, 0}) == BootstrapPlan::Dns::kNotYet);
    CHECK(p.dns({kDnsSeedDelayManyAddresses, 0, 0}) == BootstrapPlan::Dns::kQuery);
  }
  SECTION("-dnsseed=0, no hosts or -connect: never") {
    BootstrapPlan p({false, false, false, 0});
    CHECK(p.dns({0s, 0, 0}) == BootstrapPlan::Dns::kNotYet);
    CHECK(p.dns({1h, 0, 0}) == BootstrapPlan::Dns::kNotYet);
  }
}

TEST_CASE("fixed seeds: only when everything else failed for kFixedSeedDelay", "[daemon][net][bootstrap]") {
  SECTION("other sources configured: not before kFixedSeedDelay, not while a peer is connected") {
    BootstrapPlan p({true, true, true, 0});
    CHECK_FALSE(p.fixed_seeds({kFixedSeedDelay - 1s, 0, 0}));
    CHECK_FALSE(p.fixed_seeds({kFixedSeedDelay, 1, 1}));
    CHECK_FALSE(p.fixed_seeds({kFixedSeedDelay + 5s, 0, 1}));  // a block-relay-only peer is a peer
    CHECK(p.fixed_seeds({kFixedSeedDelay + 10s, 0, 0}));
    CHECK_FALSE(p.fixed_seeds({kFixedSeedDelay + 20s, 0, 0}));  // once
  }
  SECTION("nothing else configured and an empty book: at once") {
    BootstrapPlan p({false, true, false, 0});
    CHECK(p.fixed_seeds({0s, 0, 0}));
  }
  SECTION("nothing else configured but a book: the book first") {
    BootstrapPlan p({false, true, false, 5});
    CHECK_FALSE(p.fixed_seeds({0s, 0, 0}));
    CHECK(p.fixed_seeds({kFixedSeedDelay, 0, 0}));
  }
  SECTION("-fixedseeds=0, an empty list or -connect: never") {
    BootstrapPlan p({false, false, false, 0});
    CHECK_FALSE(p.fixed_seeds({1h, 0, 0}));
  }
}

TEST_CASE("DNS seeds: numeric answers, one source group per seed", "[daemon][net][bootstrap]") {
  // Numeric names only: no test resolves a real host name (the DNS test runs its own server).
  const auto v4 = resolve_seed_blocking("127.0.0.5", 28433);
  REQUIRE(v4.size() == 1);
  CHECK(v4[0].to_string() == "127.0.0.5:28433");
  const auto v6 = resolve_seed_blocking("2001:db8::7", 28433);
  REQUIRE(v6.size() == 1);
  CHECK(v6[0].to_string() == "[2001:db8::7]:28433");
  const auto a = dns_seed_source("seed1.example");
  const auto b = dns_seed_source("seed2.example");
  CHECK(a.ip[0] == 0xfd);
  CHECK_FALSE(a.is_routable());
  CHECK(a == dns_seed_source("seed1.example"));
  CHECK(network_group(a) != network_group(b));
}

TEST_CASE("addr-fetch (-seednode): getaddr after the handshake, closed when the addresses arrive",
          "[daemon][net][bootstrap]") {
  PeerHarness h;
  const PeerId id = h.connect_as(ConnectionType::kAddrFetch, 2);
  h.peers.on_message(id, h.version(4242));
  h.peers.on_message(id, net::VerackMsg{});
  CHECK(h.sink.take<net::GetAddrMsg>(id).size() == 1);
  CHECK_FALSE(h.sink.disconnected.contains(id));
  net::AddrMsg reply;
  for (std::uint8_t i = 1; i <= 3; ++i) reply.addresses.push_back(ip4(127, 0, 1, i, 28433));
  h.peers.on_message(id, reply);
  CHECK(h.sink.disconnected.contains(id));
  for (std::uint8_t i = 1; i <= 3; ++i) CHECK(h.book.find(ip4(127, 0, 1, i, 28433)));
  CHECK(to_string(ConnectionType::kAddrFetch) == "addr-fetch");
}

TEST_CASE("addr-fetch: closed after kAddrFetchTimeout without addresses", "[daemon][net][bootstrap]") {
  PeerHarness h;
  const PeerId id = h.connect_as(ConnectionType::kAddrFetch, 2);
  h.peers.on_message(id, h.version(4242));
  h.peers.on_message(id, net::VerackMsg{});
  h.clock.advance(kAddrFetchTimeout);
  h.peers.on_tick();
  CHECK_FALSE(h.sink.disconnected.contains(id));  // at the bound: still open
  h.clock.advance(1s);
  h.peers.on_tick();
  CHECK(h.sink.disconnected.contains(id));
}
