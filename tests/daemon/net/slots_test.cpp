// `slots` (docs/protocol.md 4.1 and 7.8): the accepting side tells a dialler of protocol version 3
// its inbound load between its version and verack; a dialler with kMinOutboundToLeaveCrowded
// other outbound peers leaves a crowded node and does not dial it for kAddrCrowdedWait.
#include <catch2/catch.hpp>

#include "daemon/net/peer_harness.hpp"

using namespace cheese;
using namespace cheese::test;
using namespace std::chrono_literals;

namespace {

//! The commands sent to `peer`, in order.
std::vector<std::string_view> commands_to(const FakeSink& sink, PeerId peer) {
  std::vector<std::string_view> out;
  for (const auto& s : sink.sent) {
    if (s.peer == peer) out.push_back(net::command_of(s.message));
  }
  return out;
}

net::NetAddress local(std::uint8_t n) { return net::NetAddress::from_ipv4({127, 0, 0, n}, 40000); }

//! `n` outbound full-relay peers past the handshake, at 127.0.0.10 and up.
void outbound_peers(PeerHarness& h, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    h.handshaked_as(ConnectionType::kOutboundFullRelay, static_cast<std::uint8_t>(10 + i));
}

//! A dial of kind `type` to 127.0.0.<n> that the book knows from gossip (as the connection manager
//! dials it: attempt marked), answered by the peer's version.
PeerId dial_answered(PeerHarness& h, ConnectionType type, std::uint8_t n) {
  net::NetAddress a = local(n);
  a.time = h.clock.unix_now();
  h.book.add(a, "gossip", local(200), h.clock.unix_now());
  h.book.mark_attempt(a, h.clock.unix_now());
  const PeerId id = h.connect_as(type, n);
  h.peers.on_message(id, h.version(7000 + n));
  return id;
}

//! Every address these tests use but 127.0.0.<keep>, as an exclude set for select().
std::set<std::string> all_but(std::uint8_t keep) {
  std::set<std::string> out;
  for (int n = 1; n < 250; ++n) {
    if (n != keep) out.insert(local(static_cast<std::uint8_t>(n)).to_string());
  }
  return out;
}

}  // namespace

TEST_CASE("slots: the accepting side sends its inbound load between version and verack", "[daemon][net][slots]") {
  PeerHarness h;
  for (std::uint8_t n = 2; n < 5; ++n) h.handshaked(true, n);  // 3 inbound peers
  h.handshaked_as(ConnectionType::kOutboundFullRelay, 20);     // outbound ones do not count
  const PeerId in = h.connect(true, 5);
  h.peers.on_message(in, h.version(5005));
  CHECK(commands_to(h.sink, in) == std::vector<std::string_view>{"version", "slots", "verack"});
  const auto slots = h.sink.take<net::SlotsMsg>(in);
  REQUIRE(slots.size() == 1);
  CHECK(slots[0] == net::SlotsMsg{4, 54});  // the new peer is one of them

  SECTION("not to a dialler of protocol version 2: it would take it for a message before verack") {
    const PeerId old = h.connect(true, 6);
    auto v = h.version(5006);
    v.protocol_version = net::kSlotsProtocolVersion - 1;
    h.peers.on_message(old, v);
    CHECK(commands_to(h.sink, old) == std::vector<std::string_view>{"version", "verack"});
  }
  SECTION("never on a connection we dialled") {
    const PeerId out = h.connect_as(ConnectionType::kOutboundFullRelay, 7);
    h.peers.on_message(out, h.version(5007));
    CHECK(commands_to(h.sink, out) == std::vector<std::string_view>{"version", "verack"});
  }
}

TEST_CASE("slots: not sent without inbound slots or when not listening", "[daemon][net][slots]") {
  for (const bool listen : {true, false}) {
    auto o = PeerHarness::default_options();
    o.listen = listen;
    o.max_inbound = listen ? 0 : 54;
    PeerHarness h(o);
    const PeerId in = h.connect(true, 5);
    h.peers.on_message(in, h.version(5005));
    CHECK(commands_to(h.sink, in) == std::vector<std::string_view>{"version", "verack"});
  }
}

TEST_CASE("slots: a crowded node is left once enough other outbound peers are up", "[daemon][net][slots]") {
  PeerHarness h;
  outbound_peers(h, kMinOutboundToLeaveCrowded);
  const std::uint16_t max_inbound = 54;
  // The bound: kCrowdedInboundPercent (50 %) of 54 is 27.
  const std::uint16_t crowded = max_inbound * kCrowdedInboundPercent / 100;
  REQUIRE(crowded == 27);

  SECTION("one below the bound: kept") {
    const PeerId id = dial_answered(h, ConnectionType::kOutboundFullRelay, 2);
    h.peers.on_message(id, net::SlotsMsg{static_cast<std::uint16_t>(crowded - 1), max_inbound});
    h.peers.on_message(id, net::VerackMsg{});
    CHECK_FALSE(h.sink.disconnected.contains(id));
    REQUIRE(h.peers.peer(id)->handshake_done);
    CHECK(h.peers.peer(id)->slots == net::SlotsMsg{26, 54});
  }
  SECTION("at the bound: left, a working address, not dialled for kAddrCrowdedWait") {
    const PeerId id = dial_answered(h, ConnectionType::kOutboundFullRelay, 2);
    h.peers.on_message(id, net::SlotsMsg{crowded, max_inbound});
    REQUIRE(h.sink.disconnected.contains(id));
    CHECK(h.sink.disconnected.at(id).find("crowded (27 of 54)") != std::string::npos);
    CHECK(h.sink.discouraged.empty());
    // Its verack, already on the way, changes nothing.
    h.peers.on_message(id, net::VerackMsg{});
    CHECK_FALSE(h.peers.peer(id)->handshake_done);
    const auto e = h.book.find(local(2));
    REQUIRE(e);
    CHECK(e->failures == 0);  // never counted against it
    CHECK(e->tried);
    std::mt19937_64 rng(1);
    const auto exclude = all_but(2);
    CHECK_FALSE(h.book.select(exclude, h.clock.unix_now(), rng));
    h.clock.advance(std::chrono::seconds(kAddrCrowdedWait - 1));
    CHECK_FALSE(h.book.select(exclude, h.clock.unix_now(), rng));
    h.clock.advance(2s);
    const auto again = h.book.select(exclude, h.clock.unix_now(), rng);
    REQUIRE(again);
    CHECK(again->same_endpoint(local(2)));
  }
  SECTION("a block-relay-only peer too") {
    const PeerId id = dial_answered(h, ConnectionType::kBlockRelayOnly, 2);
    h.peers.on_message(id, net::SlotsMsg{max_inbound, max_inbound});
    CHECK(h.sink.disconnected.contains(id));
  }
  SECTION("not a connection the user asked for, a feeler or an addr-fetch") {
    for (const auto type : {ConnectionType::kManual, ConnectionType::kFeeler, ConnectionType::kAddrFetch}) {
      CAPTURE(to_string(type));
      const PeerId id = dial_answered(h, type, static_cast<std::uint8_t>(2 + static_cast<int>(type)));
      h.peers.on_message(id, net::SlotsMsg{max_inbound, max_inbound});
      h.peers.on_message(id, net::VerackMsg{});
      CHECK(h.peers.peer(id)->handshake_done);
      // A feeler still leaves as a feeler does, once the address is tested.
      if (type == ConnectionType::kFeeler) {
        CHECK(h.sink.disconnected.at(id).find("feeler") != std::string::npos);
      } else {
        CHECK_FALSE(h.sink.disconnected.contains(id));
      }
    }
  }
}

TEST_CASE("slots: a dialler with fewer other outbound peers keeps a crowded node", "[daemon][net][slots]") {
  PeerHarness h;
  outbound_peers(h, kMinOutboundToLeaveCrowded - 1);
  for (std::uint8_t n = 30; n < 40; ++n) h.handshaked(true, n);  // inbound peers do not count
  // Nor does a feeler, nor a peer still in its handshake.
  h.connect_as(ConnectionType::kFeeler, 41);
  h.connect_as(ConnectionType::kOutboundFullRelay, 42);
  const PeerId id = dial_answered(h, ConnectionType::kOutboundFullRelay, 2);
  h.peers.on_message(id, net::SlotsMsg{54, 54});
  h.peers.on_message(id, net::VerackMsg{});
  CHECK_FALSE(h.sink.disconnected.contains(id));
  CHECK(h.peers.peer(id)->handshake_done);

  // One more outbound peer: the next crowded node is left.
  h.handshaked_as(ConnectionType::kManual, 43);
  const PeerId next = dial_answered(h, ConnectionType::kOutboundFullRelay, 3);
  h.peers.on_message(next, net::SlotsMsg{54, 54});
  CHECK(h.sink.disconnected.contains(next));
}

TEST_CASE("slots: out of place is a protocol violation", "[daemon][net][slots]") {
  PeerHarness h;
  SECTION("before version") {
    const PeerId id = h.connect_as(ConnectionType::kOutboundFullRelay, 2);
    h.peers.on_message(id, net::SlotsMsg{1, 54});
    REQUIRE(h.sink.discouraged.size() == 1);
    CHECK(h.sink.discouraged[0].second.find("slots before version") != std::string::npos);
  }
  SECTION("from the dialling side") {
    const PeerId id = h.connect(true, 2);
    h.peers.on_message(id, h.version(5002));
    h.peers.on_message(id, net::SlotsMsg{1, 54});
    REQUIRE(h.sink.discouraged.size() == 1);
    CHECK(h.sink.discouraged[0].second.find("slots from the dialling side") != std::string::npos);
  }
  SECTION("twice") {
    const PeerId id = dial_answered(h, ConnectionType::kOutboundFullRelay, 2);
    h.peers.on_message(id, net::SlotsMsg{1, 54});
    h.peers.on_message(id, net::SlotsMsg{1, 54});
    REQUIRE(h.sink.discouraged.size() == 1);
    CHECK(h.sink.discouraged[0].second.find("duplicate slots") != std::string::npos);
  }
  SECTION("after verack") {
    const PeerId id = h.handshaked_as(ConnectionType::kOutboundFullRelay, 2);
    h.peers.on_message(id, net::SlotsMsg{1, 54});
    REQUIRE(h.sink.discouraged.size() == 1);
    CHECK(h.sink.discouraged[0].second.find("slots after verack") != std::string::npos);
  }
}
