// Connection kinds (Bitcoin Core's ConnectionType): block-relay-only connections carry blocks and
// headers and nothing else, feelers test an address and leave, inbound slots are limited per
// network group, anchors outlive a restart.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

#include "daemon/net/anchors.hpp"
#include "daemon/net/peer_harness.hpp"

using namespace cheese;
using namespace cheese::test;
using namespace std::chrono_literals;

namespace {

net::NetAddress ip4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port = 8433) {
  return net::NetAddress::from_ipv4({a, b, c, d}, port);
}

std::size_t tx_invs(FakeSink& sink, PeerId peer) {
  std::size_t n = 0;
  for (const auto& inv : sink.take<net::InvMsg>(peer)) {
    for (const auto& item : inv.items) n += item.type == net::InvType::kTx ? 1 : 0;
  }
  return n;
}

//! A peer that joins inbound with a listening port: its address is relayed to kAddrRelayFanout others.
void new_listening_peer(PeerHarness& h, std::uint8_t n) {
  const PeerId id = h.connect(true, n);
  h.peers.on_message(id, h.version(5000 + n));
  h.peers.on_message(id, net::VerackMsg{});
}

}  // namespace

TEST_CASE("connection kinds are named as bitcoind names them", "[daemon][net][conntypes]") {
  CHECK(to_string(ConnectionType::kOutboundFullRelay) == "outbound-full-relay");
  CHECK(to_string(ConnectionType::kBlockRelayOnly) == "block-relay-only");
  CHECK(to_string(ConnectionType::kFeeler) == "feeler");
  CHECK(to_string(ConnectionType::kManual) == "manual");
  CHECK(to_string(ConnectionType::kInbound) == "inbound");
  CHECK(ConnectionInfo{1, true, ip4(1, 2, 3, 4), ConnectionType::kBlockRelayOnly}.kind() == ConnectionType::kInbound);
}

TEST_CASE("block-relay-only: relay=false in our version, no getaddr after the handshake",
          "[daemon][net][conntypes]") {
  PeerHarness h;
  const PeerId b = h.connect_as(ConnectionType::kBlockRelayOnly, 2);
  const PeerId f = h.connect_as(ConnectionType::kOutboundFullRelay, 3);
  const auto vb = h.sink.take<net::VersionMsg>(b);
  const auto vf = h.sink.take<net::VersionMsg>(f);
  REQUIRE(vb.size() == 1);
  REQUIRE(vf.size() == 1);
  CHECK_FALSE(vb[0].relay);
  CHECK(vf[0].relay);
  for (PeerId id : {b, f}) {
    h.peers.on_message(id, h.version(1000 + id));
    h.peers.on_message(id, net::VerackMsg{});
  }
  CHECK(h.sink.take<net::GetAddrMsg>(b).empty());
  CHECK(h.sink.take<net::GetAddrMsg>(f).size() == 1);
  CHECK(h.sink.take<net::GetHeadersMsg>(b).size() == 1);  // headers and blocks as usual
  CHECK(h.book.size() == 2);                              // both dialled addresses work
}

TEST_CASE("a block-relay-only peer is never sent a transaction or an address", "[daemon][net][conntypes]") {
  PeerHarness h;
  extend(h.chain, regtest().coinbase_maturity + 2, pub(1));
  const Transaction tx = make_transfer(key_from_seed(1), pub(2), 1000, kMinRelayFee, 0);
  const Hash256 id = txid(tx);
  const PeerId b = h.handshaked_as(ConnectionType::kBlockRelayOnly, 2);
  const PeerId f = h.handshaked_as(ConnectionType::kOutboundFullRelay, 3);
  const PeerId in = h.handshaked(true, 4);
  // A transaction from the full-relay peer enters the mempool and is announced to the others.
  h.peers.on_message(f, net::TxMsg{tx});
  h.services.run_pending();
  REQUIRE(h.mempool.contains(id));
  CHECK(tx_invs(h.sink, in) == 1);
  CHECK(tx_invs(h.sink, b) == 0);
  // Asked for it anyway, the block-relay-only peer gets notfound, not the transaction.
  h.peers.on_message(b, net::GetDataMsg{{{net::InvType::kTx, id}}});
  CHECK(h.sink.take<net::TxMsg>(b).empty());
  CHECK(h.sink.take<net::NotFoundMsg>(b).size() == 1);
  // New listening peers' addresses go to full-relay peers only (fanout 2 of 2 candidates each time).
  for (std::uint8_t n = 10; n < 20; ++n) new_listening_peer(h, n);
  CHECK(h.sink.take<net::AddrMsg>(b).empty());
  CHECK_FALSE(h.sink.take<net::AddrMsg>(f).empty());
  // Blocks are announced to it as to everyone.
  const Block blk = make_block(h.chain, h.chain.tip(), pub(3));
  h.peers.on_message(f, net::BlockMsg{blk});
  h.services.run_pending();
  const auto inv = h.sink.take<net::InvMsg>(b);
  REQUIRE(inv.size() == 1);
  CHECK(inv[0].items.at(0).hash == blk.hash());
}

TEST_CASE("transactions, transaction invs and addresses from a block-relay-only peer leave no trace",
          "[daemon][net][conntypes]") {
  PeerHarness h;
  extend(h.chain, regtest().coinbase_maturity + 2, pub(1));
  const Transaction tx = make_transfer(key_from_seed(1), pub(2), 1000, kMinRelayFee, 0);
  const Hash256 id = txid(tx);
  const PeerId b = h.handshaked_as(ConnectionType::kBlockRelayOnly, 2);
  const std::size_t book_before = h.book.size();
  h.peers.on_message(b, net::InvMsg{{{net::InvType::kTx, id}}});
  CHECK(h.sink.take<net::GetDataMsg>(b).empty());
  CHECK_FALSE(h.peers.tx_requests().requested(id));
  CHECK_FALSE(h.peers.peer(b)->known.contains(id));
  h.peers.on_message(b, net::TxMsg{tx});
  CHECK(h.services.submitted_txs.empty());  // not checked
  CHECK_FALSE(h.sink.is_paused(b));
  CHECK(h.services.run_pending() == 0);
  CHECK_FALSE(h.mempool.contains(id));
  CHECK_FALSE(h.peers.peer(b)->known.contains(id));
  net::AddrMsg addr;
  for (std::uint8_t n = 1; n <= 5; ++n) addr.addresses.push_back(ip4(8, 8, n, 1));
  h.peers.on_message(b, addr);
  CHECK(h.book.size() == book_before);
  CHECK(h.peers.peer(b)->addr_tokens == 1);  // not even counted against its rate limit
  CHECK(h.sink.disconnected.empty());        // ignored, not punished
  // The same from a full-relay peer is taken (the control).
  const PeerId f = h.handshaked_as(ConnectionType::kOutboundFullRelay, 3);
  h.peers.on_message(f, net::TxMsg{tx});
  CHECK(h.services.submitted_txs.size() == 1);
}

TEST_CASE("a peer whose version says relay=false gets no transaction invs and no addresses",
          "[daemon][net][conntypes]") {
  PeerHarness h;
  // The other side of someone's block-relay-only connection: inbound, relay=false.
  const PeerId quiet = h.connect(true, 2);
  auto v = h.version(77);
  v.relay = false;
  h.peers.on_message(quiet, v);
  h.peers.on_message(quiet, net::VerackMsg{});
  const PeerId chatty = h.handshaked(true, 3);
  h.sink.sent.clear();
  h.peers.transaction_accepted(Hash256{}, 0);
  CHECK(tx_invs(h.sink, quiet) == 0);
  CHECK(tx_invs(h.sink, chatty) == 1);
  for (std::uint8_t n = 10; n < 15; ++n) new_listening_peer(h, n);
  CHECK(h.sink.take<net::AddrMsg>(quiet).empty());
}

TEST_CASE("a feeler completes the handshake, marks the address good and disconnects", "[daemon][net][conntypes]") {
  PeerHarness h;
  const net::NetAddress target = ip4(127, 0, 0, 2, 40000);
  h.book.add(target, "gossip", h.clock.unix_now());
  // It failed before: kAddrDeadFailures failed dials keep it out of getaddr replies.
  for (int i = 0; i < kAddrDeadFailures; ++i) h.book.mark_attempt(target, h.clock.unix_now());
  std::mt19937_64 rng(1);
  const net::NetAddress asker = ip4(127, 0, 0, 99, 1);
  REQUIRE(h.book.sample_for(asker, 10, kAddrDeadFailures, h.clock.unix_now(), rng).empty());
  const PeerId id = h.connect_as(ConnectionType::kFeeler, 2, 40000);
  const auto v = h.sink.take<net::VersionMsg>(id);
  REQUIRE(v.size() == 1);
  CHECK_FALSE(v[0].relay);
  h.peers.on_message(id, h.version(4242));
  CHECK_FALSE(h.sink.disconnected.contains(id));  // not before the handshake is complete
  h.peers.on_message(id, net::VerackMsg{});
  CHECK(h.sink.disconnected.contains(id));
  // Marked good: its failures are forgotten, so it is handed out again.
  CHECK(h.book.sample_for(asker, 10, kAddrDeadFailures, h.clock.unix_now(), rng).size() == 1);
  // Nothing else is asked of it: no getaddr, no headers, no ping.
  CHECK(h.sink.take<net::GetAddrMsg>(id).empty());
  CHECK(h.sink.take<net::GetHeadersMsg>(id).empty());
  CHECK(h.sink.take<net::PingMsg>(id).empty());
  CHECK(h.sink.discouraged.empty());
}

TEST_CASE("feelers: every kFeelerInterval, only once the outbound slots are full, one at a time",
          "[daemon][net][conntypes]") {
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  FeelerSchedule s(t0, kFeelerInterval);
  const OutboundCounts want{8, 2, 0};
  const OutboundCounts full{8, 2, 0};
  CHECK_FALSE(s.take(t0, full, want));
  CHECK_FALSE(s.take(t0 + kFeelerInterval - 1s, full, want));
  CHECK(s.take(t0 + kFeelerInterval, full, want));
  // The next one is an interval later.
  CHECK(s.next() == t0 + 2 * kFeelerInterval);
  CHECK_FALSE(s.take(t0 + kFeelerInterval + 1s, full, want));
  CHECK_FALSE(s.take(t0 + 2 * kFeelerInterval - 1s, full, want));
  // Due, but a full-relay or a block-relay-only slot is free: it waits, and is taken once they are full.
  CHECK_FALSE(s.take(t0 + 2 * kFeelerInterval, {7, 2, 0}, want));
  CHECK_FALSE(s.take(t0 + 2 * kFeelerInterval + 5s, {8, 1, 0}, want));
  // A feeler still under way: no second one.
  CHECK_FALSE(s.take(t0 + 2 * kFeelerInterval + 6s, {8, 2, 1}, want));
  CHECK(s.take(t0 + 2 * kFeelerInterval + 7s, full, want));
  CHECK(s.next() == t0 + 3 * kFeelerInterval + 7s);
}

TEST_CASE("inbound: at most kMaxInboundPerGroup from one network group off regtest", "[daemon][net][conntypes]") {
  std::vector<net::NetAddress> inbound;
  for (std::uint8_t i = 1; i < kMaxInboundPerGroup; ++i) inbound.push_back(ip4(6, 6, i, i, 40000));
  inbound.push_back(ip4(9, 9, 9, 9));
  const net::NetAddress next = ip4(6, 6, 200, 1, 50000);
  // One below the bound: allowed.
  CHECK(inbound_group_allowed(next, inbound, false));
  inbound.push_back(next);                                        // now kMaxInboundPerGroup from 6.6/16
  CHECK(inbound_group_allowed(ip4(6, 7, 1, 1), inbound, false));  // another group: allowed
  CHECK_FALSE(inbound_group_allowed(ip4(6, 6, 201, 1), inbound, false));
  CHECK_FALSE(inbound_group_allowed(ip4(6, 6, 1, 1, 1), inbound, false));  // same IP, another port
  // Regtest (tests in network namespaces share a /16): no limit.
  CHECK(inbound_group_allowed(ip4(6, 6, 201, 1), inbound, true));
  // On loopback each ip:port is its own group.
  std::vector<net::NetAddress> local;
  for (std::uint16_t port = 40000; port < 40010; ++port) local.push_back(ip4(127, 0, 0, 1, port));
  CHECK(inbound_group_allowed(ip4(127, 0, 0, 1, 40010), local, false));
}

TEST_CASE("anchors: written 0600, read once, at most kMaxAnchors", "[daemon][net][conntypes]") {
  TempDir dir("anchors");
  const auto file = dir.file("anchors.json");
  CHECK(read_anchors(file).empty());  // none yet
  const std::vector<net::NetAddress> three{ip4(127, 0, 0, 1, 1001), ip4(127, 0, 0, 1, 1002), ip4(127, 0, 0, 1, 1003)};
  REQUIRE(write_anchors(file, three));
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_FALSE(std::filesystem::exists(file.string() + ".tmp"));
  const auto back = read_anchors(file);
  REQUIRE(back.size() == kMaxAnchors);
  CHECK(back[0] == three[0]);
  CHECK(back[1] == three[1]);
  CHECK_FALSE(std::filesystem::exists(file));  // deleted once read
  CHECK(read_anchors(file).empty());
  SECTION("no block-relay-only peers: no file") {
    REQUIRE(write_anchors(file, {}));
    CHECK_FALSE(std::filesystem::exists(file));
  }
  SECTION("a damaged file gives nothing, and is deleted too") {
    std::ofstream(file) << R"(["127.0.0.1:1", 5, "not an address", "127.0.0.1:0", {"x": 1}])";
    const auto got = read_anchors(file);
    REQUIRE(got.size() == 1);
    CHECK(got[0] == ip4(127, 0, 0, 1, 1));
    std::ofstream(file) << "{garbage";
    CHECK(read_anchors(file).empty());
    CHECK_FALSE(std::filesystem::exists(file));
  }
}
