// Listening as bitcoind (docs/protocol.md 7.6): the listeners (-bind, dual-stack), the networks
// dialled (-onlynet), the addresses advertised (-externalip, bound, seen by a tracker) and what
// the message processor does with addr_from.
#include <coroutine>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include "daemon/net/listeners.hpp"
#include "daemon/net/local_addresses.hpp"
#include "daemon/net/peer_harness.hpp"

using namespace cheese;
using namespace cheese::test;
using namespace std::chrono_literals;

namespace {

net::NetAddress ip(std::string_view text, std::uint16_t port) { return *net::NetAddress::parse_ip(text, port); }

bool ipv6_loopback_available() {
  boost::asio::io_context io;
  boost::system::error_code ec;
  boost::asio::ip::tcp::acceptor a(io);
  a.open(boost::asio::ip::tcp::v6(), ec);
  if (!ec) a.bind({boost::asio::ip::address_v6::loopback(), 0}, ec);
  return !ec;
}

//! A harness whose processor advertises `local` (listening on 28433).
PeerManager::Options advertising(const LocalAddresses& local, ReachableNetworks reachable = {}) {
  auto o = PeerHarness::default_options();
  o.local_addresses = &local;
  o.reachable = reachable;
  return o;
}

}  // namespace

TEST_CASE("onlynet: the names and the networks it leaves reachable", "[daemon][net][listen]") {
  CHECK(parse_ip_network("ipv4") == IpNetwork::kIpv4);
  CHECK(parse_ip_network("IPv6") == IpNetwork::kIpv6);
  CHECK_FALSE(parse_ip_network("onion"));
  CHECK_FALSE(parse_ip_network(""));
  CHECK(network_of(ip("192.0.2.1", 1)) == IpNetwork::kIpv4);
  CHECK(network_of(ip("::ffff:192.0.2.1", 1)) == IpNetwork::kIpv4);
  CHECK(network_of(ip("2001:db8::1", 1)) == IpNetwork::kIpv6);
  const ReachableNetworks all;
  CHECK((all.contains(IpNetwork::kIpv4) && all.contains(IpNetwork::kIpv6)));
  const ReachableNetworks v6({IpNetwork::kIpv6});
  CHECK_FALSE(v6.contains(ip("127.0.0.1", 1)));
  CHECK(v6.contains(ip("::1", 1)));
  const ReachableNetworks both({IpNetwork::kIpv4, IpNetwork::kIpv6});
  CHECK((both.contains(IpNetwork::kIpv4) && both.contains(IpNetwork::kIpv6)));
}

TEST_CASE("local addresses: scores, refusals, the bound, the best for a peer", "[daemon][net][listen]") {
  LocalAddresses main_net;
  CHECK_FALSE(main_net.add(ip("127.0.0.1", 8433), kLocalManual));  // off regtest: routable only
  CHECK_FALSE(main_net.add(ip("10.0.0.1", 8433), kLocalManual));
  CHECK_FALSE(main_net.add(ip("0.0.0.0", 8433), kLocalManual));
  CHECK_FALSE(main_net.add(ip("203.0.113.0", 0), kLocalManual));  // 203.0.113/24 is documentation: not routable
  CHECK(main_net.add(ip("8.8.4.4", 8433), kLocalDiscovered));
  CHECK(main_net.add(ip("8.8.4.4", 8433), kLocalDiscovered));  // seen again: score + 1
  CHECK(main_net.all().at(0).score == kLocalDiscovered + 1);
  CHECK(main_net.add(ip("8.8.4.4", 8433), kLocalManual));
  CHECK(main_net.all().at(0).score == kLocalManual + 1);
  CHECK(main_net.add(ip("2606:4700::1", 8433), kLocalBind));
  // The peer's own network first, whatever the score; else the best of the others.
  CHECK(main_net.best_for(ip("2a00::1", 1))->to_string() == "[2606:4700::1]:8433");
  CHECK(main_net.best_for(ip("1.1.1.1", 1))->to_string() == "8.8.4.4:8433");

  // -onlynet=ipv6 refuses IPv4 addresses; regtest takes loopback.
  LocalAddresses only_v6(ReachableNetworks({IpNetwork::kIpv6}), /*regtest=*/true);
  CHECK_FALSE(only_v6.add(ip("127.0.0.2", 1), kLocalManual));
  CHECK(only_v6.add(ip("::1", 1), kLocalManual));
  CHECK(only_v6.best_for(ip("127.0.0.1", 9))->to_string() == "[::1]:1");
  CHECK_FALSE(LocalAddresses().best_for(ip("1.1.1.1", 1)));

  // At most kMaxLocalAddresses: a tracker reporting a new address each time cannot grow the list.
  LocalAddresses bounded({}, true);
  for (std::size_t i = 0; i < kMaxLocalAddresses; ++i) {
    CHECK(bounded.add(net::NetAddress::from_ipv4({127, 0, 1, static_cast<std::uint8_t>(i)}, 1), kLocalDiscovered));
  }
  CHECK_FALSE(bounded.add(ip("127.0.2.0", 1), kLocalManual));
  CHECK(bounded.all().size() == kMaxLocalAddresses);
  CHECK(bounded.add(ip("127.0.1.0", 1), kLocalManual));  // a known one still takes a better score
}

TEST_CASE("listeners: -bind addresses each listen; one that cannot is an error naming it", "[daemon][net][listen]") {
  boost::asio::io_context io;
  Listeners l(io);
  l.open({ip("127.0.0.1", 0), ip("127.0.0.2", 0)}, 28433);
  const auto eps = l.endpoints();
  REQUIRE(eps.size() == 2);
  CHECK(eps[0].address().to_string() == "127.0.0.1");
  CHECK(eps[1].address().to_string() == "127.0.0.2");
  CHECK(l.port() == eps[0].port());
  // The same address and port again: taken.
  Listeners clash(io);
  const auto taken = l.addresses().at(1);
  try {
    clash.open({ip("127.0.0.3", 0), taken}, 0);
    FAIL("bound an address already in use");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Catch::Contains(taken.to_string()) && Catch::Contains("-bind"));
  }
  CHECK(clash.port() == 0);  // the one that worked is closed again
  l.close();
  CHECK(l.endpoints().empty());
}

TEST_CASE("listeners: by default [::] (IPv6 only) and 0.0.0.0 on one port", "[daemon][net][listen]") {
  boost::asio::io_context io;
  Listeners l(io);
  l.open({}, 0);
  const auto eps = l.endpoints();
  REQUIRE_FALSE(eps.empty());
  if (!ipv6_loopback_available()) {
    WARN("no IPv6 on this host: only 0.0.0.0 listens (tolerated, as bitcoind)");
    CHECK(eps.size() == 1);
    return;
  }
  REQUIRE(eps.size() == 2);
  CHECK(eps[0].address().to_string() == "::");
  CHECK(eps[1].address().to_string() == "0.0.0.0");
  CHECK(eps[0].port() == eps[1].port());
  boost::asio::ip::v6_only v6only;
  l.acceptors()[0]->get_option(v6only);
  CHECK(v6only.value());
  // Both stacks accept on the one port.
  for (const char* host : {"::1", "127.0.0.1"}) {
    boost::asio::ip::tcp::socket s(io);
    boost::system::error_code ec;
    s.connect({boost::asio::ip::make_address(host), eps[0].port()}, ec);
    CHECK_FALSE(ec);
  }
  // A port taken on both stacks: an error that says what to do.
  Listeners again(io);
  CHECK_THROWS_WITH(again.open({}, eps[0].port()), Catch::Contains("-bind") && Catch::Contains("-listen=0"));
}

TEST_CASE("version carries addr_from: what we advertise, not to an old peer, not when not listening",
          "[daemon][net][listen]") {
  LocalAddresses local({}, true);
  REQUIRE(local.add(ip("127.0.0.9", 28999), kLocalManual));
  PeerHarness h(advertising(local));
  const PeerId out = h.connect(false, 2);
  auto v = h.sink.take<net::VersionMsg>(out);
  REQUIRE(v.size() == 1);
  REQUIRE(v[0].addr_from);
  CHECK(v[0].addr_from->to_string() == "127.0.0.9:28999");
  CHECK(net::decode_message("version", net::encode_payload(v[0])).value() == net::Message{v[0]});

  // An inbound peer of protocol version 1 would refuse the field: left out.
  const PeerId old_in = h.connect(true, 3);
  auto old_version = h.version(77);
  old_version.protocol_version = 1;
  h.peers.on_message(old_in, old_version);
  v = h.sink.take<net::VersionMsg>(old_in);
  REQUIRE(v.size() == 1);
  CHECK_FALSE(v[0].addr_from);
  const PeerId new_in = h.connect(true, 4);
  h.peers.on_message(new_in, h.version(78));
  v = h.sink.take<net::VersionMsg>(new_in);
  REQUIRE(v.size() == 1);
  CHECK(v[0].addr_from);

  // -listen=0: nothing to dial.
  auto quiet_options = advertising(local);
  quiet_options.listen = false;
  PeerHarness quiet(quiet_options);
  const PeerId q = quiet.connect(false, 2);
  v = quiet.sink.take<net::VersionMsg>(q);
  REQUIRE(v.size() == 1);
  CHECK_FALSE(v[0].addr_from);
  CHECK(v[0].listen_port == 0);
}

TEST_CASE("an inbound peer's addr_from is where it is dialled, stored and relayed", "[daemon][net][listen]") {
  PeerHarness h;
  std::vector<PeerId> others;
  for (std::uint8_t n = 2; n < 6; ++n) others.push_back(h.handshaked(true, n));
  const PeerId in = h.connect(true, 9);  // from 127.0.0.9:40000
  auto v = h.version(99);
  v.addr_from = ip("127.0.0.10", 29000);  // it asks to be dialled elsewhere
  h.peers.on_message(in, v);
  h.peers.on_message(in, net::VerackMsg{});
  CHECK(h.sink.listening.at(in).to_string() == "127.0.0.10:29000");
  CHECK(h.peers.peer(in)->advertised->to_string() == "127.0.0.10:29000");
  std::size_t relayed = 0;
  for (PeerId id : others) {
    for (const auto& m : h.sink.take<net::AddrMsg>(id)) {
      REQUIRE(m.addresses.size() == 1);
      CHECK(m.addresses[0].to_string() == "127.0.0.10:29000");
      ++relayed;
    }
  }
  CHECK(relayed == kAddrRelayFanout);
  // The claim took its one address token: its next unsolicited address waits for a refill.
  const auto before = h.book.size();
  h.peers.on_message(in, net::AddrMsg{{ip("127.0.0.11", 29001)}});
  CHECK(h.book.size() == before);

  // Its own IP with another port costs no token.
  const PeerId same_ip = h.connect(true, 12);
  v = h.version(100);
  v.addr_from = ip("127.0.0.12", 29002);
  h.peers.on_message(same_ip, v);
  CHECK(h.peers.peer(same_ip)->advertised->to_string() == "127.0.0.12:29002");
  CHECK(h.peers.peer(same_ip)->addr_tokens == 1);
}

TEST_CASE("onlynet: addresses of other networks are not stored from addr or inbound peers", "[daemon][net][listen]") {
  LocalAddresses none({}, true);
  PeerHarness h(advertising(none, ReachableNetworks({IpNetwork::kIpv6})));
  const PeerId out = h.handshaked(false, 2);  // a manual/outbound peer: not limited itself
  const auto before = h.book.size();
  net::AddrMsg reply;  // the reply to our getaddr: IPv4 and IPv6 entries
  reply.addresses = {ip("127.0.0.20", 1000), ip("::1", 1001), ip("127.0.0.21", 1002)};
  h.peers.on_message(out, reply);
  CHECK(h.book.size() == before + 1);
  std::mt19937_64 rng(1);
  const auto sample = h.book.sample_for(ip("::2", 1), 100, kAddrDeadFailures, h.clock.unix_now(), rng);
  for (const auto& a : sample) CHECK((network_of(a) == IpNetwork::kIpv6 || a.to_string() == "127.0.0.2:40000"));
  // An inbound IPv4 peer is served, but its address is not kept for dialling.
  const auto before_in = h.book.size();
  h.handshaked(true, 3);
  CHECK(h.book.size() == before_in);
}

TEST_CASE("self-announcement: our address to outbound full-relay peers, again after kSelfAnnounceInterval",
          "[daemon][net][listen]") {
  LocalAddresses local({}, true);
  REQUIRE(local.add(ip("127.0.0.9", 28999), kLocalManual));
  auto options = advertising(local);
  options.ping_interval = options.ping_timeout = std::chrono::hours(100);
  PeerHarness h(options);
  const PeerId out = h.connect_as(ConnectionType::kOutboundFullRelay, 2);
  h.peers.on_message(out, h.version(50));
  h.peers.on_message(out, net::VerackMsg{});
  auto addrs = h.sink.take<net::AddrMsg>(out);
  REQUIRE(addrs.size() == 1);
  REQUIRE(addrs[0].addresses.size() == 1);
  CHECK(addrs[0].addresses[0].to_string() == "127.0.0.9:28999");
  CHECK(addrs[0].addresses[0].time == h.clock.unix_now());
  // Not on block-relay-only connections (no addresses travel there), not to inbound peers.
  const PeerId block_relay = h.handshaked_as(ConnectionType::kBlockRelayOnly, 3);
  const PeerId in = h.connect(true, 4);
  h.peers.on_message(in, h.version(51));
  h.peers.on_message(in, net::VerackMsg{});
  CHECK(h.sink.take<net::AddrMsg>(in).empty());
  h.sink.sent.clear();  // the inbound peer's address, relayed to `out`
  // At the bound: not a second before, then once.
  h.clock.advance(kSelfAnnounceInterval - 1s);
  h.peers.on_tick();
  CHECK(h.sink.take<net::AddrMsg>(out).empty());
  h.clock.advance(1s);
  h.peers.on_tick();
  CHECK(h.sink.take<net::AddrMsg>(out).size() == 1);
  h.peers.on_tick();
  CHECK(h.sink.take<net::AddrMsg>(out).empty());
  CHECK(h.sink.take<net::AddrMsg>(block_relay).empty());
}
