// Headers anti-DoS: HeadersPresync on its own (two passes, commitments, bounds), and the message
// processor that uses it. What an attacker checks: a header chain without enough work leaves
// nothing in the header tree however long it is; a second pass that differs from the first is
// caught before anything is stored; invalid headers cost the sender its connection. What an
// honest peer checks: a chain with enough work is stored in full and its blocks are asked for.
#include <catch2/catch.hpp>

#include <algorithm>

#include "consensus/pow.hpp"
#include "daemon/net/headers_presync.hpp"
#include "daemon/net/peer_harness.hpp"

using namespace cheese;
using namespace cheese::test;

namespace {

//! `n` valid regtest headers on `parent`; `tag` makes a distinct branch; `spacing` seconds apart.
std::vector<BlockHeader> header_chain(const Hash256& parent, std::uint32_t parent_time, std::size_t n,
                                      std::uint8_t tag, std::uint32_t spacing = 60) {
  std::vector<BlockHeader> out;
  Hash256 prev = parent;
  for (std::size_t i = 0; i < n; ++i) {
    BlockHeader h;
    h.prev_hash = prev;
    h.merkle_root.bytes.fill(tag);
    h.time = parent_time + spacing * static_cast<std::uint32_t>(i + 1);
    h.bits = regtest().pow_limit_bits;
    while (!check_proof_of_work(block_hash(h), h.bits, regtest().pow_limit)) ++h.nonce;
    prev = block_hash(h);
    out.push_back(h);
  }
  return out;
}

std::vector<BlockHeader> on_genesis(std::size_t n, std::uint8_t tag) {
  return header_chain(regtest().genesis_hash, regtest().genesis.header.time, n, tag);
}

//! Work of a regtest chain `height` blocks above genesis (genesis included).
U256 work_at(std::uint64_t height) { return block_work(regtest().pow_limit_bits) * U256{height + 1}; }

std::vector<BlockHeader> slice(const std::vector<BlockHeader>& v, std::size_t from, std::size_t n) {
  return {v.begin() + static_cast<std::ptrdiff_t>(from),
          v.begin() + static_cast<std::ptrdiff_t>(std::min(v.size(), from + n))};
}

net::HeadersMsg message(const std::vector<BlockHeader>& v, std::size_t from, std::size_t n) {
  return net::HeadersMsg{slice(v, from, n)};
}

struct ChainFixture {
  TempDir dir{"presync"};
  Chainstate chain{dir.file("chain.sqlite"), regtest(), 1};
  const BlockIndex* genesis() const { return chain.tip(); }
  bool stores_any(const std::vector<BlockHeader>& v) const {
    return std::any_of(v.begin(), v.end(), [&](const BlockHeader& h) { return chain.lookup(block_hash(h)); });
  }
};

constexpr HeadersPresync::Limits kSmall{10, 50};  // a commitment every 10 headers; 5 must follow a release

}  // namespace

TEST_CASE("presync: a chain that ends below the threshold leaves nothing but is not misbehaviour",
          "[daemon][net][presync]") {
  ChainFixture f;
  const auto peer_chain = on_genesis(150, 1);
  HeadersPresync sync(f.chain, f.genesis(), work_at(1000), kNow, kSmall);
  auto r = sync.process(slice(peer_chain, 0, 100), true, kNow);
  CHECK_FALSE(r.finished);
  CHECK(r.release.empty());
  REQUIRE(r.request);
  CHECK(r.request->locator.front() == block_hash(peer_chain[99]));  // continue after what we saw
  CHECK(r.request->locator.back() == regtest().genesis_hash);
  CHECK(sync.commitments() == 10);  // all that 100 headers cost: 10 bits
  r = sync.process(slice(peer_chain, 100, 50), false, kNow);
  CHECK(r.finished);
  CHECK_FALSE(r.misbehavior);
  CHECK_FALSE(r.failure.empty());
  CHECK(r.release.empty());
  CHECK(sync.commitments() == 0);
  CHECK_FALSE(f.stores_any(peer_chain));
}

TEST_CASE("presync: a chain with enough work is asked for again and released in order once proven",
          "[daemon][net][presync]") {
  ChainFixture f;
  const auto peer_chain = on_genesis(300, 2);
  HeadersPresync sync(f.chain, f.genesis(), work_at(250), kNow, kSmall);
  // First pass: 300 headers in messages of 100; the threshold is reached at header 250.
  auto r = sync.process(slice(peer_chain, 0, 100), true, kNow);
  r = sync.process(slice(peer_chain, 100, 100), true, kNow);
  CHECK_FALSE(sync.redownloading());
  r = sync.process(slice(peer_chain, 200, 100), true, kNow);
  REQUIRE(sync.redownloading());
  REQUIRE(r.request);
  CHECK(r.request->locator.front() == regtest().genesis_hash);  // from the start again
  CHECK(r.release.empty());
  // Second pass: nothing is released until 50 headers (5 commitments) follow it.
  std::vector<BlockHeader> released;
  r = sync.process(slice(peer_chain, 0, 40), true, kNow);
  CHECK(r.release.empty());
  r = sync.process(slice(peer_chain, 40, 60), true, kNow);
  CHECK(r.release.size() == 50);  // 100 checked, 50 held back
  released.insert(released.end(), r.release.begin(), r.release.end());
  r = sync.process(slice(peer_chain, 100, 200), true, kNow);
  CHECK(r.finished);
  CHECK(r.failure.empty());
  released.insert(released.end(), r.release.begin(), r.release.end());
  // Everything the second pass saw, in order, with its parent links restored.
  REQUIRE(released.size() == 300);
  CHECK(released == peer_chain);
  CHECK_FALSE(f.stores_any(peer_chain));  // storing is the caller's (HeaderSync::store)
}

TEST_CASE("presync: a second pass with another chain is caught by the commitments before any release",
          "[daemon][net][presync]") {
  ChainFixture f;
  const auto first = on_genesis(300, 3);
  const auto other = on_genesis(300, 4);  // same length and work, other headers
  // A commitment every 2 headers and 200 held back: 100 bits must match before a release.
  HeadersPresync sync(f.chain, f.genesis(), work_at(300), kNow, {2, 200});
  sync.process(first, true, kNow);
  REQUIRE(sync.redownloading());
  std::size_t released = 0;
  HeadersPresync::Result r;
  for (std::size_t from = 0; from < other.size() && !r.finished; from += 50) {
    r = sync.process(slice(other, from, 50), true, kNow);
    released += r.release.size();
  }
  CHECK(r.finished);
  CHECK_FALSE(r.misbehavior);  // a peer whose chain changed between the passes is not punished
  CHECK(r.failure.find("differs") != std::string::npos);
  CHECK(released == 0);
}

TEST_CASE("presync: invalid headers end it as misbehaviour, a header from the future does not",
          "[daemon][net][presync]") {
  ChainFixture f;
  auto chain = on_genesis(20, 5);
  HeadersPresync::Result r;
  SECTION("a header that does not link to the one before") {
    std::swap(chain[5], chain[6]);
    HeadersPresync sync(f.chain, f.genesis(), work_at(1000), kNow, kSmall);
    r = sync.process(chain, true, kNow);
    CHECK(r.misbehavior);
  }
  SECTION("a header without its proof of work") {
    BlockHeader& h = chain[19];
    while (check_proof_of_work(block_hash(h), h.bits, regtest().pow_limit)) ++h.nonce;
    HeadersPresync sync(f.chain, f.genesis(), work_at(1000), kNow, kSmall);
    r = sync.process(chain, true, kNow);
    CHECK(r.misbehavior);
    CHECK(r.failure.find("invalid header") != std::string::npos);
  }
  SECTION("a header whose time is not above the median of the 11 before it") {
    auto tail = header_chain(block_hash(chain[14]), chain[14].time - 600, 1, 6);
    chain.resize(15);
    chain.push_back(tail[0]);
    HeadersPresync sync(f.chain, f.genesis(), work_at(1000), kNow, kSmall);
    r = sync.process(chain, true, kNow);
    CHECK(r.misbehavior);
  }
  SECTION("a header more than two hours ahead of our clock: ends, without blame") {
    const std::int64_t now = chain[10].time - regtest().max_future_block_time;  // header 11 is too new
    HeadersPresync sync(f.chain, f.genesis(), work_at(1000), now, kSmall);
    r = sync.process(chain, true, now);
    CHECK(r.finished);
    CHECK_FALSE(r.misbehavior);
  }
  CHECK(r.finished);
  CHECK_FALSE(f.stores_any(chain));
}

TEST_CASE("presync: the commitment bound admits the fastest chain the median-time rule allows",
          "[daemon][net][presync]") {
  // A chain whose every header is stamped one second past the median of the 11 before it grows
  // about 6 headers a second; from genesis to the future limit past our clock (10 minutes) that is
  // 3,589 headers.
  // The bound (6 per second of that span, one commitment per header here) must let all of them in.
  ChainFixture f;
  const std::int64_t now = regtest().genesis.header.time;
  HeadersPresync sync(f.chain, f.genesis(), work_at(1'000'000), now, {1, 50});
  std::vector<std::int64_t> times{regtest().genesis.header.time};
  std::vector<BlockHeader> batch;
  Hash256 prev = regtest().genesis_hash;
  std::size_t total = 0;
  HeadersPresync::Result r;
  while (true) {
    std::vector<std::int64_t> last(times.end() - std::min<std::ptrdiff_t>(11, std::ssize(times)), times.end());
    const std::int64_t t = median_time(last) + 1;
    if (t > now + regtest().max_future_block_time) break;
    BlockHeader h;
    h.prev_hash = prev;
    h.time = static_cast<std::uint32_t>(t);
    h.bits = regtest().pow_limit_bits;
    while (!check_proof_of_work(block_hash(h), h.bits, regtest().pow_limit)) ++h.nonce;
    prev = block_hash(h);
    times.push_back(t);
    batch.push_back(h);
    if (batch.size() == net::kMaxHeadersPerMessage) {
      r = sync.process(batch, true, now);
      REQUIRE_FALSE(r.finished);
      total += batch.size();
      batch.clear();
    }
  }
  total += batch.size();
  r = sync.process(batch, true, now);
  CHECK_FALSE(r.finished);
  CHECK(total == 3'589);
  CHECK(sync.commitments() == total);
  CHECK(sync.commitments() <= sync.max_commitments());
  // One more header than the bound would take is impossible to stamp validly: the next is too new.
  CHECK(sync.max_commitments() - total < 20);
}

TEST_CASE("anti-DoS: headers of low-work branches are not stored, whatever their number", "[daemon][net][presync]") {
  PeerHarness h;
  extend(h.chain, 200, pub(1));
  const PeerId p = h.handshaked(false);
  const auto tips_before = h.chain.chain_tips().size();
  // The attack: 300 sibling headers on genesis, each a new chain tip on the old node.
  std::vector<BlockHeader> siblings;
  for (std::uint8_t i = 0; i < 150; ++i) {
    for (std::uint8_t k = 0; k < 2; ++k) siblings.push_back(on_genesis(1, static_cast<std::uint8_t>(i * 2 + k))[0]);
  }
  for (const auto& s : siblings) h.peers.on_message(p, net::HeadersMsg{{s}});
  CHECK(h.chain.chain_tips().size() == tips_before);
  CHECK(std::none_of(siblings.begin(), siblings.end(),
                     [&](const BlockHeader& s) { return h.chain.lookup(block_hash(s)); }));
  CHECK(h.sink.discouraged.empty());  // a short side branch is not an offence
  CHECK(h.peers.peer(p)->presync == nullptr);

  SECTION("a branch forking within 144 blocks of the tip is stored (an honest fork)") {
    const BlockIndex* fork = h.chain.at_height(100);
    const auto branch = header_chain(fork->hash, fork->header.time, 2, 77);
    h.peers.on_message(p, net::HeadersMsg{branch});
    CHECK(h.chain.lookup(block_hash(branch[1])) != nullptr);
  }
  SECTION("one forking further back is not") {
    const BlockIndex* fork = h.chain.at_height(50);
    const auto branch = header_chain(fork->hash, fork->header.time, 2, 78);
    h.peers.on_message(p, net::HeadersMsg{branch});
    CHECK(h.chain.lookup(block_hash(branch[0])) == nullptr);
  }
}

TEST_CASE("anti-DoS: below -minimumchainwork a long chain is presynced and dropped; with enough work it is stored",
          "[daemon][net][presync]") {
  auto options = PeerHarness::default_options();
  options.minimum_chain_work = work_at(2500);
  PeerHarness h(options);
  const PeerId p = h.handshaked(false);
  const std::size_t kMax = net::kMaxHeadersPerMessage;

  SECTION("2,400 headers: presynced, never stored, no blame") {
    const auto peer_chain = on_genesis(2400, 9);
    h.peers.on_message(p, message(peer_chain, 0, kMax));
    REQUIRE(h.peers.peer(p)->presync != nullptr);
    auto asks = h.sink.take<net::GetHeadersMsg>(p);
    REQUIRE(asks.size() == 1);
    CHECK(asks[0].locator.front() == block_hash(peer_chain[kMax - 1]));
    h.peers.on_message(p, message(peer_chain, kMax, kMax));
    CHECK(h.peers.peer(p)->presync == nullptr);
    CHECK(h.chain.best_header()->height == 0);
    CHECK(h.chain.lookup(block_hash(peer_chain.front())) == nullptr);
    CHECK(h.sink.discouraged.empty());
    CHECK(h.sink.take<net::GetDataMsg>(p).empty());
  }
  SECTION("4,100 headers: presynced, downloaded again, stored, and its blocks asked for") {
    const auto peer_chain = on_genesis(4100, 10);
    h.peers.on_message(p, message(peer_chain, 0, kMax));
    h.peers.on_message(p, message(peer_chain, kMax, kMax));  // reaches 2,500: second pass
    auto asks = h.sink.take<net::GetHeadersMsg>(p);
    REQUIRE(asks.size() == 2);
    CHECK(asks[1].locator.front() == regtest().genesis_hash);
    CHECK(h.chain.best_header()->height == 0);
    h.peers.on_message(p, message(peer_chain, 0, kMax));
    CHECK(h.chain.best_header()->height == 0);  // held back until the work is shown again
    h.peers.on_message(p, message(peer_chain, kMax, kMax));
    CHECK(h.chain.best_header()->height == 2 * kMax);
    CHECK(h.peers.peer(p)->presync == nullptr);
    asks = h.sink.take<net::GetHeadersMsg>(p);
    REQUIRE_FALSE(asks.empty());  // the rest the usual way
    h.peers.on_message(p, message(peer_chain, 2 * kMax - 1, kMax));
    CHECK(h.chain.best_header()->hash == block_hash(peer_chain.back()));
    CHECK_FALSE(h.sink.take<net::GetDataMsg>(p).empty());
    CHECK(h.sink.discouraged.empty());
  }
  SECTION("an invalid header in a presync discourages the peer") {
    auto peer_chain = on_genesis(kMax, 11);
    BlockHeader& bad = peer_chain[kMax / 2];
    bad.bits = 0x1d00ffff;  // not the required bits
    for (std::size_t i = kMax / 2 + 1; i < kMax; ++i) {
      peer_chain[i] = header_chain(block_hash(peer_chain[i - 1]), peer_chain[i - 1].time, 1, 11)[0];
    }
    h.peers.on_message(p, message(peer_chain, 0, kMax));
    CHECK(h.sink.discouraged.size() == 1);
    CHECK(h.chain.best_header()->height == 0);
  }
  SECTION("an unrequested block below the minimum chain work is not processed") {
    const Block next = make_block(h.chain, h.chain.tip(), pub(2));
    h.peers.on_message(p, net::BlockMsg{next});
    CHECK(h.services.queued_blocks.empty());
  }
}

TEST_CASE("anti-DoS: an unrequested block more than 288 blocks above the tip is not processed",
          "[daemon][net][presync]") {
  PeerHarness h;
  TempDir dir("presync-src");
  Chainstate src(dir.file("src.sqlite"), regtest(), 1);
  const auto blocks = extend(src, kMaxUnrequestedBlocksAhead + 2, pub(3));
  const PeerId a = h.handshaked(false, 2);
  const PeerId b = h.handshaked(false, 3);
  net::HeadersMsg m;
  for (const auto& blk : blocks) m.headers.push_back(blk.header);
  h.peers.on_message(a, m);  // we know the headers, and asked a for the first blocks
  h.services.queued_blocks.clear();
  h.peers.on_message(b, net::BlockMsg{blocks.back()});  // height 290, nobody asked b
  CHECK(h.services.queued_blocks.empty());
  h.peers.on_message(b, net::BlockMsg{blocks[kMaxUnrequestedBlocksAhead - 1]});  // height 288
  CHECK(h.services.queued_blocks.size() == 1);
}
