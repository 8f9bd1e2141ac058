// The P2P message processor driven with fake peers and no I/O (as Bitcoin Core's
// denialofservice_tests.cpp drives PeerManager): what it sends, whom it disconnects or
// discourages, when it pauses a peer, for honest and hostile input.
#include <catch2/catch.hpp>

#include "daemon/net/peer_harness.hpp"

using namespace cheese;
using namespace cheese::test;
using namespace std::chrono_literals;

namespace {

//! Blocks built on genesis in a scratch chainstate (the "other node"'s chain).
std::vector<Block> other_chain(std::size_t n, std::uint8_t miner = 9) {
  TempDir dir("peerman-src");
  Chainstate src(dir.file("src.sqlite"), regtest(), 1);
  return extend(src, n, pub(miner));
}

net::HeadersMsg headers_of(const std::vector<Block>& blocks, std::size_t from = 0, std::size_t n = SIZE_MAX) {
  net::HeadersMsg m;
  for (std::size_t i = from; i < blocks.size() && m.headers.size() < n; ++i) m.headers.push_back(blocks[i].header);
  return m;
}

std::vector<Hash256> asked_blocks(FakeSink& sink, PeerId peer) {
  std::vector<Hash256> out;
  for (const auto& g : sink.take<net::GetDataMsg>(peer)) {
    for (const auto& item : g.items) {
      if (item.type == net::InvType::kBlock) out.push_back(item.hash);
    }
  }
  return out;
}

//! The harness's peer <n> (127.0.0.<n>:40000): the source of what it sends.
net::NetAddress v4_peer(std::uint8_t n) { return net::NetAddress::from_ipv4({127, 0, 0, n}, 40000); }

//! The size of a copy of `book` after `addresses` from `source` were added: what the address
//! book takes of them (it buckets by source, so not always all of them).
std::size_t size_if_added(AddressBook book, const std::vector<net::NetAddress>& addresses,
                          const net::NetAddress& source, std::int64_t now) {
  for (const auto& a : addresses) book.add(a, "gossip", source, now);
  return book.size();
}

}  // namespace

TEST_CASE("handshake: outbound sends version first; after verack: getaddr, ping, getheaders",
          "[daemon][net][peer_manager]") {
  PeerHarness h;
  const PeerId out = h.connect(/*inbound=*/false);
  auto versions = h.sink.take<net::VersionMsg>(out);
  REQUIRE(versions.size() == 1);
  CHECK(versions[0].nonce == PeerHarness::default_options().local_nonce);
  CHECK(versions[0].network == regtest().name);
  CHECK(versions[0].listen_port == 28433);

  h.peers.on_message(out, h.version());
  CHECK(h.sink.take<net::VerackMsg>(out).size() == 1);
  CHECK(h.sink.take<net::VersionMsg>(out).empty());  // an outbound peer gets one version only
  CHECK_FALSE(h.peers.peer(out)->handshake_done);
  h.peers.on_message(out, net::VerackMsg{});
  CHECK(h.peers.peer(out)->handshake_done);
  CHECK(h.sink.take<net::GetAddrMsg>(out).size() == 1);
  CHECK(h.sink.take<net::PingMsg>(out).size() == 1);
  auto gh = h.sink.take<net::GetHeadersMsg>(out);
  REQUIRE(gh.size() == 1);
  CHECK(gh[0].locator == std::vector<Hash256>{regtest().genesis.hash()});
  // The peer we dialed is remembered for the next start.
  CHECK(h.book.size() == 1);
  CHECK(h.sink.listening.at(out).port == 28433);
}

TEST_CASE("handshake: an inbound peer gets our version and verack, and no getaddr", "[daemon][net][peer_manager]") {
  PeerHarness h;
  const PeerId in = h.connect(/*inbound=*/true);
  CHECK(h.sink.count_to(in) == 0);  // the dialer speaks first
  h.peers.on_message(in, h.version());
  CHECK(h.sink.take<net::VersionMsg>(in).size() == 1);
  CHECK(h.sink.take<net::VerackMsg>(in).size() == 1);
  h.peers.on_message(in, net::VerackMsg{});
  CHECK(h.sink.take<net::GetAddrMsg>(in).empty());
  // Its listening address (its IP, the port of its version) goes into the address book.
  REQUIRE(h.book.size() == 1);
}

TEST_CASE("protocol faults before and during the handshake discourage the peer", "[daemon][net][peer_manager]") {
  PeerHarness h;
  SECTION("a message before version") {
    const PeerId p = h.connect(true);
    h.peers.on_message(p, net::PingMsg{7});
    REQUIRE(h.sink.discouraged.size() == 1);
    CHECK(h.sink.discouraged[0].second.find("ping before version") != std::string::npos);
    CHECK(h.sink.disconnected.contains(p));
  }
  SECTION("a message before verack") {
    const PeerId p = h.connect(true);
    h.peers.on_message(p, h.version());
    h.peers.on_message(p, net::GetAddrMsg{});
    REQUIRE(h.sink.discouraged.size() == 1);
    CHECK(h.sink.discouraged[0].second.find("before verack") != std::string::npos);
  }
  SECTION("a second version after the handshake") {
    const PeerId p = h.handshaked();
    h.peers.on_message(p, h.version());
    REQUIRE(h.sink.discouraged.size() == 1);
    CHECK(h.sink.discouraged[0].second.find("duplicate version") != std::string::npos);
  }
  SECTION("a message after the processor dropped the peer is ignored") {
    const PeerId p = h.connect(true);
    h.peers.on_message(p, net::PingMsg{7});
    h.sink.sent.clear();
    h.peers.on_message(p, h.version());
    CHECK(h.sink.sent.empty());
    CHECK(h.sink.discouraged.size() == 1);
  }
}

TEST_CASE("honest mismatches disconnect without discouraging", "[daemon][net][peer_manager]") {
  PeerHarness h;
  SECTION("a connection to ourselves") {
    const PeerId p = h.connect(false, 1, 28433);
    h.peers.on_message(p, h.version(PeerHarness::default_options().local_nonce));
    CHECK(h.sink.disconnected.at(p) == "connected to self");
    REQUIRE(h.sink.own_addresses.size() == 1);
    CHECK(h.sink.own_addresses[0].port == 28433);
  }
  SECTION("another network") {
    const PeerId p = h.connect(true);
    auto v = h.version();
    v.network = "main";
    h.peers.on_message(p, v);
    CHECK(h.sink.disconnected.at(p).find("network 'main'") != std::string::npos);
  }
  SECTION("a protocol version too old") {
    const PeerId p = h.connect(true);
    auto v = h.version();
    v.protocol_version = net::kMinProtocolVersion - 1;
    h.peers.on_message(p, v);
    CHECK(h.sink.disconnected.at(p).find("too old") != std::string::npos);
  }
  CHECK(h.sink.discouraged.empty());
}

TEST_CASE("ping, pong and the timeouts that rest on the clock", "[daemon][net][peer_manager]") {
  PeerHarness h;
  const PeerId p = h.connect(true);
  SECTION("no handshake in time: disconnected at the bound, not before") {
    h.clock.advance(net::kHandshakeTimeout);
    h.peers.on_tick();
    CHECK_FALSE(h.sink.disconnected.contains(p));
    h.clock.advance(1s);
    h.peers.on_tick();
    CHECK(h.sink.disconnected.at(p) == "handshake timeout");
  }
  SECTION("a ping is answered with its nonce; our ping's pong is timed") {
    h.peers.on_message(p, h.version());
    h.peers.on_message(p, net::VerackMsg{});
    auto ours = h.sink.take<net::PingMsg>(p);
    REQUIRE(ours.size() == 1);
    h.peers.on_message(p, net::PingMsg{0xabcdef});
    auto pongs = h.sink.take<net::PongMsg>(p);
    REQUIRE(pongs.size() == 1);
    CHECK(pongs[0].nonce == 0xabcdef);
    h.clock.advance(2s);
    h.peers.on_message(p, net::PongMsg{ours[0].nonce + 1});  // a wrong nonce is not our pong
    CHECK_FALSE(h.peers.peer(p)->ping_seconds);
    h.peers.on_message(p, net::PongMsg{ours[0].nonce});
    REQUIRE(h.peers.peer(p)->ping_seconds);
    CHECK(*h.peers.peer(p)->ping_seconds == Approx(2.0));
    // The next ping goes out one interval after the last one was sent.
    h.clock.advance(net::kPingInterval - 2s);
    h.peers.on_tick();
    CHECK(h.sink.take<net::PingMsg>(p).empty());
    h.clock.advance(1s);
    h.peers.on_tick();
    CHECK(h.sink.take<net::PingMsg>(p).size() == 1);
  }
  SECTION("a ping never answered: disconnected after the ping timeout") {
    h.peers.on_message(p, h.version());
    h.peers.on_message(p, net::VerackMsg{});
    h.clock.advance(net::kPingTimeout + 1s);
    h.peers.on_tick();
    CHECK(h.sink.disconnected.at(p) == "ping timeout");
    CHECK(h.sink.discouraged.empty());
  }
}

TEST_CASE("headers-first sync from a peer: headers, then its blocks, in order", "[daemon][net][peer_manager]") {
  PeerHarness h;
  const auto blocks = other_chain(20);
  const PeerId p = h.handshaked(false);
  h.peers.on_message(p, headers_of(blocks));
  CHECK(h.chain.best_header()->hash == blocks.back().hash());
  auto asked = asked_blocks(h.sink, p);
  REQUIRE(asked.size() == net::kMaxBlocksInFlightPerPeer);
  for (std::size_t i = 0; i < asked.size(); ++i) CHECK(asked[i] == blocks[i].hash());
  // Delivered blocks are queued, connected in order, and free the slots for the rest.
  for (std::size_t i = 0; i < asked.size(); ++i) h.peers.on_message(p, net::BlockMsg{blocks[i]});
  h.services.run_pending();
  CHECK(h.chain.height() == net::kMaxBlocksInFlightPerPeer);
  auto rest = asked_blocks(h.sink, p);
  REQUIRE(rest.size() == blocks.size() - net::kMaxBlocksInFlightPerPeer);
  for (std::size_t i = 0; i < rest.size(); ++i) h.peers.on_message(p, net::BlockMsg{blocks[asked.size() + i]});
  h.services.run_pending();
  CHECK(h.chain.tip()->hash == blocks.back().hash());
  CHECK(h.peers.downloads().size() == 0);
  CHECK(h.sink.discouraged.empty());
}

TEST_CASE("an invalid header is misbehaviour; an unknown start is not", "[daemon][net][peer_manager]") {
  PeerHarness h;
  const auto blocks = other_chain(3);
  const PeerId p = h.handshaked(false);
  SECTION("headers whose first parent we do not know: we ask from our locator") {
    h.peers.on_message(p, headers_of(blocks, 1));
    CHECK(h.sink.take<net::GetHeadersMsg>(p).size() == 1);
    CHECK(h.sink.discouraged.empty());
  }
  SECTION("a header without its proof of work") {
    BlockOptions bad;
    bad.bad_pow = true;
    const Block b = make_block(
        ParentInfo{regtest().genesis.hash(), 0, regtest().genesis.header.time, regtest().genesis.header.bits}, pub(3),
        {}, bad);
    h.peers.on_message(p, net::HeadersMsg{{b.header}});
    REQUIRE(h.sink.discouraged.size() == 1);
    CHECK(h.sink.discouraged[0].second.find(b.hash().to_display_hex()) != std::string::npos);
    CHECK(h.chain.lookup(b.hash()) == nullptr);
  }
}

TEST_CASE("an invalid block discourages its sender, also after it left", "[daemon][net][peer_manager]") {
  PeerHarness h;
  const PeerId p = h.handshaked(false);
  Block bad = make_block(h.chain, h.chain.tip(), pub(4));
  bad.txs[0].amount += 1;  // a coinbase paying more than the subsidy
  mine(bad);
  h.peers.on_message(p, net::BlockMsg{bad});
  CHECK(h.services.queued_blocks.size() == 1);
  SECTION("still connected") {
    h.services.run_pending();
    REQUIRE(h.sink.discouraged.size() == 1);
    CHECK(h.sink.discouraged[0].first == h.peers.peer(p)->address);
  }
  SECTION("gone before its block was processed") {
    h.close(p);
    h.services.run_pending();
    REQUIRE(h.sink.discouraged.size() == 1);
    CHECK(h.sink.discouraged[0].first.port == 40000);
  }
  CHECK(h.chain.height() == 0);
}

TEST_CASE("a full block queue pauses the sender until there is room", "[daemon][net][peer_manager]") {
  PeerHarness h;
  const auto blocks = other_chain(3);
  const PeerId p = h.handshaked(false);
  h.peers.on_message(p, headers_of(blocks));
  h.sink.sent.clear();
  h.services.room = 1;
  h.peers.on_message(p, net::BlockMsg{blocks[0]});
  CHECK_FALSE(h.sink.is_paused(p));
  h.peers.on_message(p, net::BlockMsg{blocks[1]});  // no room: held back, the peer paused
  CHECK(h.sink.is_paused(p));
  CHECK(h.services.queued_blocks.size() == 1);
  h.services.room = 10;
  h.peers.block_queue_room();
  CHECK_FALSE(h.sink.is_paused(p));
  CHECK(h.services.queued_blocks.size() == 2);
  h.services.run_pending();
  CHECK(h.chain.height() == 2);
}

TEST_CASE("a stalled block download disconnects the peer, without discouraging it", "[daemon][net][peer_manager]") {
  auto options = PeerHarness::default_options();
  options.ping_interval = options.ping_timeout = std::chrono::hours(1);  // only the stall counts here
  PeerHarness h(options);
  const auto blocks = other_chain(2);
  const PeerId p = h.handshaked(false);
  h.peers.on_message(p, headers_of(blocks));
  REQUIRE(asked_blocks(h.sink, p).size() == 2);
  h.clock.advance(net::kBlockStallTimeout);
  h.peers.on_tick();
  CHECK_FALSE(h.sink.disconnected.contains(p));
  h.clock.advance(1s);
  h.peers.on_tick();
  CHECK(h.sink.disconnected.at(p).find("stalled on block") != std::string::npos);
  CHECK(h.sink.discouraged.empty());
  // Once it is gone another peer that has the blocks is asked.
  const PeerId q = h.handshaked(false, 3);
  h.close(p);
  h.peers.on_message(q, headers_of(blocks));
  CHECK(asked_blocks(h.sink, q).size() == 2);
}

TEST_CASE("transactions: asked of one announcer, checked one at a time, relayed to the others",
          "[daemon][net][peer_manager]") {
  PeerHarness h;
  // Key 1 owns a mature coinbase to spend.
  extend(h.chain, regtest().coinbase_maturity + 2, pub(1));
  const Transaction tx = make_transfer(key_from_seed(1), pub(2), 1000, kMinRelayFee, 0);
  const Hash256 id = txid(tx);
  const PeerId a = h.handshaked(false, 2);
  const PeerId b = h.handshaked(false, 3);
  const PeerId c = h.handshaked(true, 4);
  h.peers.on_message(a, net::InvMsg{{{net::InvType::kTx, id}}});
  h.peers.on_message(b, net::InvMsg{{{net::InvType::kTx, id}}});
  CHECK(h.sink.take<net::GetDataMsg>(a).size() == 1);
  CHECK(h.sink.take<net::GetDataMsg>(b).empty());  // asked of one announcer at a time
  SECTION("the announcer does not have it: the next announcer is asked") {
    h.peers.on_message(a, net::NotFoundMsg{{{net::InvType::kTx, id}}});
    CHECK(h.sink.take<net::GetDataMsg>(b).size() == 1);
  }
  SECTION("the announcer is slow: the next announcer is asked after the timeout") {
    h.clock.advance(kTxRequestTimeout + 1s);
    h.peers.on_tick();
    CHECK(h.sink.take<net::GetDataMsg>(b).size() == 1);
  }
  SECTION("delivered: checked with the reader paused, then relayed to all but its source") {
    h.peers.on_message(a, net::TxMsg{tx});
    CHECK(h.sink.is_paused(a));
    CHECK(h.services.pending() == 1);
    h.services.run_pending();
    CHECK_FALSE(h.sink.is_paused(a));
    CHECK(h.mempool.contains(id));
    CHECK(h.sink.take<net::InvMsg>(a).empty());
    CHECK(h.sink.take<net::InvMsg>(b).empty());  // it announced it to us
    CHECK(h.sink.take<net::InvMsg>(c).size() == 1);
    // The same transaction again costs no second check.
    h.peers.on_message(b, net::TxMsg{tx});
    CHECK(h.services.submitted_txs.size() == 1);
  }
}

TEST_CASE("a transaction with a bad signature discourages its sender and is not checked twice",
          "[daemon][net][peer_manager]") {
  PeerHarness h;
  extend(h.chain, regtest().coinbase_maturity + 2, pub(1));
  Transaction tx = make_transfer(key_from_seed(1), pub(2), 1000, kMinRelayFee, 0);
  tx.amount += 1;  // the signature no longer covers it
  const PeerId a = h.handshaked(false, 2);
  const PeerId b = h.handshaked(false, 3);
  h.peers.on_message(a, net::TxMsg{tx});
  h.services.run_pending();
  REQUIRE(h.sink.discouraged.size() == 1);
  CHECK(h.sink.discouraged[0].second.find("invalid transaction") != std::string::npos);
  CHECK_FALSE(h.mempool.contains(txid(tx)));
  h.peers.on_message(b, net::TxMsg{tx});  // remembered as rejected: no second signature check
  CHECK(h.services.submitted_txs.size() == 1);
}

TEST_CASE("addresses: getaddr answered once to inbound peers; unsolicited floods ignored",
          "[daemon][net][peer_manager]") {
  PeerHarness h;
  for (std::uint8_t i = 1; i <= 20; ++i) h.book.add(net::NetAddress::from_ipv4({10, 0, 0, i}, 8433), "test", kNow);
  const PeerId in = h.handshaked(true, 2);
  const std::size_t before = h.book.size();
  h.peers.on_message(in, net::GetAddrMsg{});
  auto replies = h.sink.take<net::AddrMsg>(in);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].addresses.size() == before - 1);  // all but the asker's own listening address
  h.peers.on_message(in, net::GetAddrMsg{});
  CHECK(h.sink.take<net::AddrMsg>(in).empty());  // once per connection

  const PeerId out = h.handshaked(false, 3);
  h.peers.on_message(out, net::GetAddrMsg{});
  CHECK(h.sink.take<net::AddrMsg>(out).empty());  // only inbound peers are answered

  net::AddrMsg flood;
  for (std::uint8_t i = 0; i <= kMaxUnsolicitedAddr; ++i) {
    flood.addresses.push_back(net::NetAddress::from_ipv4({10, 1, 0, i}, 8433));
  }
  const std::size_t book_before = h.book.size();
  h.peers.on_message(in, flood);  // one entry over the bound, never asked for
  CHECK(h.book.size() == book_before);
  flood.addresses.pop_back();  // exactly at the bound: taken, as far as the rate limit allows
  h.clock.advance(100s);       // 1 token to start with, 0.1 a second: 11 now
  const auto expected = size_if_added(h.book, flood.addresses, v4_peer(2), h.clock.unix_now());
  h.peers.on_message(in, flood);
  CHECK(h.book.size() == expected);
  CHECK(expected > book_before + kMaxUnsolicitedAddr / 2);
  CHECK(h.sink.discouraged.empty());
}

TEST_CASE("getdata: blocks and pooled transactions are served, the rest is notfound", "[daemon][net][peer_manager]") {
  PeerHarness h;
  const auto mined = extend(h.chain, 2, pub(1));
  const PeerId p = h.handshaked(true);
  Hash256 unknown;
  unknown.bytes[0] = 1;
  h.peers.on_message(p, net::GetDataMsg{{{net::InvType::kBlock, mined[1].hash()},
                                         {net::InvType::kBlock, unknown},
                                         {net::InvType::kTx, unknown}}});
  auto served = h.sink.take<net::BlockMsg>(p);
  REQUIRE(served.size() == 1);
  CHECK(served[0].block.hash() == mined[1].hash());
  auto missing = h.sink.take<net::NotFoundMsg>(p);
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].items.size() == 2);
}

TEST_CASE("new blocks are announced to every peer that does not know them", "[daemon][net][peer_manager]") {
  PeerHarness h;
  const PeerId a = h.handshaked(false, 2);
  const PeerId b = h.handshaked(true, 3);
  const Block blk = make_block(h.chain, h.chain.tip(), pub(1));
  h.peers.on_message(a, net::BlockMsg{blk});  // a has it
  h.services.run_pending();
  CHECK(h.chain.tip()->hash == blk.hash());
  CHECK(h.sink.take<net::InvMsg>(a).empty());
  auto inv = h.sink.take<net::InvMsg>(b);
  REQUIRE(inv.size() == 1);
  CHECK(inv[0].items.at(0).hash == blk.hash());
}

TEST_CASE("work before cost: low-work blocks and branches cost nothing", "[daemon][net][peer_manager]") {
  PeerHarness h;
  extend(h.chain, 5, pub(1));           // our tip: height 5
  const auto side = other_chain(3, 7);  // a branch from genesis with less work
  const PeerId p = h.handshaked(false);
  SECTION("unrequested blocks of a lower-work branch are neither queued nor checked") {
    for (const auto& b : side) h.peers.on_message(p, net::BlockMsg{b});
    CHECK(h.services.queued_blocks.empty());
    for (const auto& b : side) CHECK(h.chain.lookup(b.hash()) == nullptr);
    CHECK(h.sink.discouraged.empty());  // not a fault: it may simply be behind
    // For the blocks whose parent we do not know, we asked for headers instead.
    CHECK(h.sink.take<net::GetHeadersMsg>(p).size() == side.size() - 1);
  }
  SECTION("headers of a lower-work branch do not make us download it") {
    h.peers.on_message(p, headers_of(side));
    CHECK(asked_blocks(h.sink, p).empty());
  }
  SECTION("an unrequested block that extends our tip is taken") {
    const Block next = make_block(h.chain, h.chain.tip(), pub(2));
    h.peers.on_message(p, net::BlockMsg{next});
    REQUIRE(h.services.queued_blocks.size() == 1);
    h.services.run_pending();
    CHECK(h.chain.tip()->hash == next.hash());
  }
}

TEST_CASE("a peer that asks for blocks and does not read is not served past the backlog bound",
          "[daemon][net][peer_manager]") {
  PeerHarness h;
  const auto mined = extend(h.chain, 3, pub(1));
  const PeerId p = h.handshaked(true);
  net::GetDataMsg ask;
  for (const auto& b : mined) ask.items.push_back({net::InvType::kBlock, b.hash()});
  SECTION("below the bound everything is served at once") {
    h.peers.on_message(p, ask);
    CHECK(h.sink.take<net::BlockMsg>(p).size() == 3);
    CHECK_FALSE(h.sink.is_paused(p));
  }
  SECTION("one byte under the bound: one block, then the rest waits, reading paused") {
    h.sink.queue_bytes[p] = kMaxGetDataBacklogBytes - 1;
    h.peers.on_message(p, ask);
    CHECK(h.sink.take<net::BlockMsg>(p).size() == 1);
    CHECK(h.sink.is_paused(p));
    CHECK(h.peers.peer(p)->getdata_backlog.size() == 2);
    h.peers.on_tick();  // time alone serves nothing
    CHECK(h.sink.take<net::BlockMsg>(p).empty());
    h.drain(p);  // the peer read what it asked for
    CHECK(h.sink.take<net::BlockMsg>(p).size() == 2);
    CHECK_FALSE(h.sink.is_paused(p));
  }
  SECTION("at the bound nothing is served until the queue is written out") {
    h.sink.queue_bytes[p] = kMaxGetDataBacklogBytes;
    h.peers.on_message(p, ask);
    CHECK(h.sink.take<net::BlockMsg>(p).empty());
    CHECK(h.sink.is_paused(p));
    h.drain(p);
    CHECK(h.sink.take<net::BlockMsg>(p).size() == 3);
  }
  CHECK(h.sink.discouraged.empty());
}

TEST_CASE("unsolicited addresses are rate-limited per peer; the getaddr reply is not",
          "[daemon][net][peer_manager]") {
  PeerHarness h;
  const PeerId flooder = h.handshaked(true, 2);
  std::uint32_t next = 0;
  auto address = [&next] {  // in 256 network groups (10.<n % 256>/16)
    const std::uint32_t n = next++;
    return net::NetAddress::from_ipv4(
        {10, static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n >> 16)},
        8433);
  };
  auto ten = [&address] {
    net::AddrMsg m;
    for (std::size_t i = 0; i < kMaxUnsolicitedAddr; ++i) m.addresses.push_back(address());
    return m;
  };
  // The address book takes what the rate limit lets through as far as its buckets for this
  // source allow: the expected sizes come from a copy given exactly the addresses let through.
  const auto source = v4_peer(2);
  // 100 messages at once: one token, so one address (the first).
  const auto first = ten();
  next -= static_cast<std::uint32_t>(kMaxUnsolicitedAddr);
  const auto one = size_if_added(h.book, {first.addresses[0]}, source, h.clock.unix_now());
  REQUIRE(one == h.book.size() + 1);
  for (int i = 0; i < 100; ++i) h.peers.on_message(flooder, ten());
  CHECK(h.book.size() == one);
  // An hour later: 0.1 a second, 360 more (the first 360 of the next messages).
  h.clock.advance(3600s);
  std::vector<net::NetAddress> passed;
  for (std::uint32_t i = 0; i < 360; ++i) passed.push_back(address());
  next -= 360;
  const auto after_hour = size_if_added(h.book, passed, source, h.clock.unix_now());
  for (int i = 0; i < 100; ++i) h.peers.on_message(flooder, ten());
  CHECK(h.book.size() == after_hour);
  CHECK(after_hour > one + 180);
  // The reply to our getaddr (an outbound peer) is taken whole, once.
  const PeerId out = h.handshaked(false, 3);
  net::AddrMsg reply;
  for (std::size_t i = 0; i < net::kMaxAddrPerMessage; ++i) reply.addresses.push_back(address());
  const std::size_t before = h.book.size();
  const auto whole = size_if_added(h.book, reply.addresses, v4_peer(3), h.clock.unix_now());
  h.peers.on_message(out, reply);
  CHECK(h.book.size() == whole);
  CHECK(whole > before + 360);  // far beyond any token count
  for (auto& a : reply.addresses) a = address();
  h.peers.on_message(out, reply);  // a second "reply" is unsolicited and over 10 entries: ignored
  CHECK(h.book.size() == whole);
}

TEST_CASE("a getaddr reply leaves out the asker and addresses known dead", "[daemon][net][peer_manager]") {
  PeerHarness h;
  const auto alive = net::NetAddress::from_ipv4({10, 0, 0, 1}, 8433);
  const auto dead = net::NetAddress::from_ipv4({10, 0, 0, 2}, 8433);
  h.book.add(alive, "test", kNow);
  h.book.add(dead, "test", kNow);
  for (int i = 0; i < kAddrDeadFailures; ++i) h.book.mark_attempt(dead, kNow);
  const PeerId asker = h.handshaked(true, 7);  // 127.0.0.7:40000, listening on 28433 (in the book now)
  h.peers.on_message(asker, net::GetAddrMsg{});
  auto replies = h.sink.take<net::AddrMsg>(asker);
  REQUIRE(replies.size() == 1);
  std::set<std::string> got;
  for (const auto& a : replies[0].addresses) got.insert(a.to_string());
  CHECK(got.contains(alive.to_string()));
  CHECK_FALSE(got.contains(dead.to_string()));
  CHECK_FALSE(got.contains("127.0.0.7:28433"));
  CHECK(got.size() == 1);
}

TEST_CASE("a new listening peer's address is relayed to two other peers", "[daemon][net][peer_manager]") {
  PeerHarness h;
  std::vector<PeerId> others;
  for (std::uint8_t n = 2; n < 6; ++n) others.push_back(h.handshaked(n % 2 == 0, n));
  const PeerId newcomer = h.connect(true, 9);
  h.peers.on_message(newcomer, h.version());
  h.peers.on_message(newcomer, net::VerackMsg{});
  std::size_t told = 0;
  for (PeerId id : others) {
    for (const auto& m : h.sink.take<net::AddrMsg>(id)) {
      REQUIRE(m.addresses.size() == 1);
      CHECK(m.addresses[0].to_string() == "127.0.0.9:28433");
      ++told;
    }
  }
  CHECK(told == kAddrRelayFanout);
  CHECK(h.sink.take<net::AddrMsg>(newcomer).empty());  // not back to itself
}

TEST_CASE("a stale tip asks for one more outbound connection until a new block arrives",
          "[daemon][net][peer_manager]") {
  auto options = PeerHarness::default_options();
  options.ping_interval = options.ping_timeout = std::chrono::hours(1);
  PeerHarness h(options);
  h.clock.advance(kStaleTipAge + 1s);
  h.peers.on_tick();
  CHECK(h.sink.stale_tip_reports.empty());  // no peers: nobody could have told us of a block
  const PeerId p = h.handshaked(false);
  h.peers.on_tick();
  CHECK(h.sink.stale_tip_reports == std::vector<bool>{true});
  h.peers.on_tick();
  CHECK(h.sink.stale_tip_reports.size() == 1);  // said once
  h.peers.on_message(p, net::BlockMsg{make_block(h.chain, h.chain.tip(), pub(1))});
  h.services.run_pending();
  CHECK(h.sink.stale_tip_reports == std::vector<bool>{true, false});
  // Not stale again before another kStaleTipAge without a block.
  h.clock.advance(kStaleTipAge);
  h.peers.on_tick();
  CHECK(h.sink.stale_tip_reports.size() == 2);
  h.clock.advance(1s);
  h.peers.on_tick();
  CHECK(h.sink.stale_tip_reports == std::vector<bool>{true, false, true});
}

namespace {

//! Every account rich, at nonce 0: lets a test pool transfers without building a funded chain.
class RichView final : public AccountView {
 public:
  Account account(const PublicKey&) const override { return {1000 * kCoin, 0}; }
};

Hash256 fake_txid(std::uint32_t n) {
  Hash256 h;
  h.bytes[0] = 0x7e;
  for (int i = 0; i < 4; ++i) h.bytes[static_cast<std::size_t>(i + 1)] = static_cast<std::uint8_t>(n >> (8 * i));
  return h;
}

std::set<Hash256> inv_txids(FakeSink& sink, PeerId peer, std::size_t* messages = nullptr) {
  std::set<Hash256> out;
  const auto invs = sink.take<net::InvMsg>(peer);
  if (messages) *messages = invs.size();
  for (const auto& m : invs) {
    for (const auto& item : m.items) out.insert(item.hash);
  }
  return out;
}

}  // namespace

TEST_CASE("a burst of transactions is announced to a peer at kMaxInvTxPerTick a tick, none left out",
          "[daemon][net][peer_manager]") {
  PeerHarness h;
  const PeerId c = h.handshaked(true, 4);
  const RichView rich;
  const std::size_t n = kMaxInvTxPerTick + 500;
  std::vector<Hash256> ids;
  for (std::uint32_t i = 0; i < n; ++i) {
    Transaction tx;
    tx.sender[0] = static_cast<std::uint8_t>(i);
    tx.sender[1] = static_cast<std::uint8_t>(i >> 8);
    tx.recipient = pub(2);
    tx.amount = 1000;
    tx.fee = kMinRelayFee;
    REQUIRE(h.mempool.accept(tx, rich, kNow, true).ok());
    ids.push_back(txid(tx));
    h.peers.transaction_accepted(ids.back(), 0);
  }
  std::size_t messages = 0;
  auto told = inv_txids(h.sink, c, &messages);
  CHECK(told.size() == kMaxInvTxPerTick);  // at once, while the budget lasts
  CHECK(messages == kMaxInvTxPerTick);
  h.peers.on_tick();
  const auto rest = inv_txids(h.sink, c, &messages);
  CHECK(messages == 1);  // the rest in one inv at the next tick
  told.insert(rest.begin(), rest.end());
  CHECK(told == std::set<Hash256>(ids.begin(), ids.end()));
}

TEST_CASE("announcements beyond the in-flight bound are fetched later, not dropped", "[daemon][net][peer_manager]") {
  PeerHarness h;
  const PeerId a = h.handshaked(false, 2);
  const std::uint32_t n = kMaxTxRequestsPerPeer + 100;
  net::InvMsg inv;
  for (std::uint32_t i = 0; i < n; ++i) inv.items.push_back({net::InvType::kTx, fake_txid(i)});
  h.peers.on_message(a, inv);
  std::set<Hash256> asked;
  for (const auto& g : h.sink.take<net::GetDataMsg>(a)) {
    for (const auto& item : g.items) asked.insert(item.hash);
  }
  CHECK(asked.size() == kMaxTxRequestsPerPeer);
  // It does not have 100 of them: the 100 deferred ones are asked now.
  net::NotFoundMsg nf;
  for (std::uint32_t i = 0; i < 100; ++i) nf.items.push_back({net::InvType::kTx, fake_txid(i)});
  h.peers.on_message(a, nf);
  for (const auto& g : h.sink.take<net::GetDataMsg>(a)) {
    for (const auto& item : g.items) asked.insert(item.hash);
  }
  CHECK(asked.size() == n);
  CHECK(h.sink.discouraged.empty());
}
