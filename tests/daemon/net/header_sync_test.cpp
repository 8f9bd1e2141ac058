// HeaderSync over a real regtest chain: the getheaders we send, what a `headers` message does to
// the header tree, and our answer to a peer's getheaders. What a peer observes: our locator starts
// at the parent of our best header; a full message (kMaxHeadersPerMessage) and only a full one
// makes us ask for more; an invalid header is misbehavior naming it, a header on an unknown
// parent is not; our answer starts after the fork point and stops at the stop hash.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "chain/chain_test_util.hpp"
#include "daemon/net/header_sync.hpp"

using namespace cheese;
using namespace cheese::test;

namespace {

//! kMaxHeadersPerMessage + 1 valid regtest blocks on genesis, built once (about 0.1 s).
const std::vector<Block>& long_chain() {
  static const std::vector<Block> blocks = [] {
    std::vector<Block> out;
    const PublicKey miner = pub(4);
    ParentInfo parent = parent_of(regtest().genesis, 0);
    for (std::uint64_t h = 1; h <= net::kMaxHeadersPerMessage + 1; ++h) {
      out.push_back(make_block(parent, miner));
      parent = parent_of(out.back(), h);
    }
    return out;
  }();
  return blocks;
}

net::HeadersMsg headers_of(const std::vector<Block>& blocks, std::size_t from, std::size_t n) {
  net::HeadersMsg m;
  for (std::size_t i = from; i < from + n; ++i) m.headers.push_back(blocks.at(i).header);
  return m;
}

struct Fixture {
  TempDir dir{"hdrsync"};
  Chainstate chain{dir.file("chain.sqlite"), regtest(), 1};
  HeaderSync sync{chain};
};

Hash256 some_hash(std::uint8_t n) {
  Hash256 h;
  h.bytes.fill(n);
  return h;
}

}  // namespace

TEST_CASE("request(): the locator starts at the parent of our best header and ends at genesis",
          "[daemon][net][header_sync]") {
  Fixture f;
  SECTION("only genesis: the locator is genesis") {
    const auto m = f.sync.request();
    CHECK(m.locator == std::vector<Hash256>{regtest().genesis_hash});
    CHECK(m.stop_hash.is_zero());
  }
  SECTION("blocks connected") {
    extend(f.chain, 5, pub(1));
    const auto m = f.sync.request(some_hash(7));
    CHECK(m.locator == f.chain.locator(f.chain.at_height(4)));
    CHECK(m.locator.front() == f.chain.at_height(4)->hash);
    CHECK(m.locator.back() == regtest().genesis_hash);
    CHECK(m.stop_hash == some_hash(7));
  }
  SECTION("headers ahead of the blocks: from the best header's parent") {
    const auto& blocks = long_chain();
    for (std::size_t i = 0; i < 8; ++i) REQUIRE(f.chain.accept_header(blocks[i].header, kNow).ok());
    REQUIRE(f.chain.height() == 0);
    const auto m = f.sync.request();
    CHECK(m.locator.front() == blocks[6].hash());
    CHECK(m.locator.size() == 8);  // heights 7 .. 0, one by one
    CHECK(m.locator.back() == regtest().genesis_hash);
  }
  SECTION("long chain of headers: at most kMaxLocatorHashes, thinning out") {
    // The locator is logarithmic (10 hashes, then doubling steps), so a real chain never reaches
    // the cap of 101; this checks the shape and the bound on the longest chain we build.
    const auto& blocks = long_chain();
    for (const auto& b : blocks) REQUIRE(f.chain.accept_header(b.header, kNow).ok());
    const auto m = f.sync.request();
    CHECK(m.locator.size() <= net::kMaxLocatorHashes);
    CHECK(m.locator.front() == blocks[blocks.size() - 2].hash());
    CHECK(m.locator.back() == regtest().genesis_hash);
    CHECK(m.locator.size() < 30);
  }
}

TEST_CASE("process(): consecutive headers are accepted and the last reported, no more asked for a partial message",
          "[daemon][net][header_sync]") {
  Fixture f;
  const auto& blocks = long_chain();
  const auto r = f.sync.process(headers_of(blocks, 0, 5), kNow);
  CHECK(r.accepted == hashes({blocks.begin(), blocks.begin() + 5}));
  REQUIRE(r.last != nullptr);
  CHECK(r.last->hash == blocks[4].hash());
  CHECK(r.last->height == 5);
  CHECK_FALSE(r.misbehavior);
  CHECK_FALSE(r.unknown_start);
  CHECK_FALSE(r.more);
  CHECK(f.chain.best_header()->hash == blocks[4].hash());
  CHECK(f.chain.height() == 0);  // headers only

  // The same headers again: known, accepted again, nothing wrong.
  const auto again = f.sync.process(headers_of(blocks, 0, 5), kNow);
  CHECK(again.accepted.size() == 5);
  CHECK_FALSE(again.misbehavior);

  // An empty message does nothing.
  const auto none = f.sync.process(net::HeadersMsg{}, kNow);
  CHECK(none.accepted.empty());
  CHECK(none.last == nullptr);
  CHECK_FALSE(none.more);
  CHECK_FALSE(none.unknown_start);
}

TEST_CASE("process(): more headers are asked for exactly when the message is full", "[daemon][net][header_sync]") {
  const auto& blocks = long_chain();
  SECTION("kMaxHeadersPerMessage - 1 headers: no more") {
    Fixture f;
    const auto r = f.sync.process(headers_of(blocks, 0, net::kMaxHeadersPerMessage - 1), kNow);
    CHECK(r.accepted.size() == net::kMaxHeadersPerMessage - 1);
    CHECK_FALSE(r.more);
  }
  SECTION("kMaxHeadersPerMessage headers: more, from the last one") {
    Fixture f;
    const auto r = f.sync.process(headers_of(blocks, 0, net::kMaxHeadersPerMessage), kNow);
    CHECK(r.accepted.size() == net::kMaxHeadersPerMessage);
    REQUIRE(r.more);
    const Hash256 last = blocks[net::kMaxHeadersPerMessage - 1].hash();
    CHECK(r.more->locator.front() == last);
    CHECK(r.more->locator == f.chain.locator(f.chain.lookup(last)));
    CHECK(r.more->locator.size() <= net::kMaxLocatorHashes);
    CHECK(r.more->stop_hash.is_zero());
    // The answer to it is the one header after.
    const auto next = f.sync.process(headers_of(blocks, net::kMaxHeadersPerMessage, 1), kNow);
    CHECK(next.accepted == std::vector<Hash256>{blocks.back().hash()});
    CHECK_FALSE(next.more);
  }
}

TEST_CASE("process(): a header with bits other than required is misbehavior naming it, the headers before it stay",
          "[daemon][net][header_sync]") {
  Fixture f;
  const auto& blocks = long_chain();
  // Block 3 on block 2, with a harder target than regtest requires (its proof of work passes).
  const Block bad = make_block(parent_of(blocks[1], 2), pub(5), {}, BlockOptions::with_bits(0x203fffff));
  net::HeadersMsg m = headers_of(blocks, 0, 2);
  m.headers.push_back(bad.header);
  const auto r = f.sync.process(m, kNow);
  CHECK(r.accepted == hashes({blocks[0], blocks[1]}));
  REQUIRE(r.last != nullptr);
  CHECK(r.last->hash == blocks[1].hash());
  REQUIRE(r.misbehavior);
  CHECK_THAT(*r.misbehavior, Catch::Contains(bad.hash().to_display_hex()));
  CHECK_THAT(*r.misbehavior, Catch::Contains(std::string(to_string(Reject::kBlockBadBits))));
  CHECK_FALSE(r.unknown_start);
  CHECK(f.chain.lookup(bad.hash()) == nullptr);
}

TEST_CASE("process(): a header without its proof of work is misbehavior, and nothing of its message is stored",
          "[daemon][net][header_sync]") {
  Fixture f;
  const auto& blocks = long_chain();
  const Block bad = make_block(parent_of(blocks[1], 2), pub(5), {}, BlockOptions::failing_pow());
  net::HeadersMsg m = headers_of(blocks, 0, 2);
  m.headers.push_back(bad.header);
  const auto r = f.sync.process(m, kNow);
  CHECK(r.accepted.empty());
  REQUIRE(r.misbehavior);
  CHECK_THAT(*r.misbehavior, Catch::Contains(bad.hash().to_display_hex()));
  CHECK_THAT(*r.misbehavior, Catch::Contains(std::string(to_string(Reject::kBlockHighHash))));
  CHECK(f.chain.lookup(blocks[0].hash()) == nullptr);  // checked before anything is stored
}

TEST_CASE("process(): a header too far in the future stops the message but is not misbehavior",
          "[daemon][net][header_sync]") {
  Fixture f;
  const auto& blocks = long_chain();
  const Block future = make_block(parent_of(blocks[0], 1), pub(5), {},
                                  BlockOptions::at_time(static_cast<std::uint32_t>(kNow + 24 * 3600)));
  net::HeadersMsg m = headers_of(blocks, 0, 1);
  m.headers.push_back(future.header);
  const auto r = f.sync.process(m, kNow);
  CHECK(r.accepted == std::vector<Hash256>{blocks[0].hash()});
  CHECK_FALSE(r.misbehavior);
}

TEST_CASE("process(): a first header on an unknown parent is unknown_start, not misbehavior",
          "[daemon][net][header_sync]") {
  Fixture f;
  const auto& blocks = long_chain();
  const auto r = f.sync.process(headers_of(blocks, 3, 4), kNow);
  CHECK(r.unknown_start);
  CHECK_FALSE(r.misbehavior);
  CHECK(r.accepted.empty());
  CHECK(r.last == nullptr);
  CHECK_FALSE(r.more);
  CHECK(f.chain.lookup(blocks[3].hash()) == nullptr);

  SECTION("a gap later in the message is misbehavior, and nothing of the message is stored") {
    net::HeadersMsg m = headers_of(blocks, 0, 2);
    m.headers.push_back(blocks[5].header);
    const auto g = f.sync.process(m, kNow);
    CHECK(g.accepted.empty());
    CHECK_FALSE(g.unknown_start);
    REQUIRE(g.misbehavior);
    CHECK(g.misbehavior->find("non-consecutive") != std::string::npos);
    CHECK(f.chain.lookup(blocks[0].hash()) == nullptr);
  }
}

TEST_CASE("answer(): the active chain after the locator's fork point, up to the stop hash",
          "[daemon][net][header_sync]") {
  Fixture f;
  const auto ours = extend(f.chain, 10, pub(1));
  const auto height_of = [&](std::uint64_t h) { return f.chain.at_height(h); };

  SECTION("from a locator on our chain") {
    net::GetHeadersMsg m;
    m.locator = f.chain.locator(height_of(4));
    const auto r = f.sync.answer(m);
    REQUIRE(r.headers.size() == 6);
    CHECK(block_hash(r.headers.front()) == ours[4].hash());  // height 5
    CHECK(block_hash(r.headers.back()) == ours[9].hash());   // height 10
  }
  SECTION("up to the stop hash, included") {
    net::GetHeadersMsg m;
    m.locator = f.chain.locator(height_of(4));
    m.stop_hash = ours[6].hash();  // height 7
    const auto r = f.sync.answer(m);
    REQUIRE(r.headers.size() == 3);
    CHECK(block_hash(r.headers.back()) == ours[6].hash());
  }
  SECTION("a locator of unknown hashes then one of ours: from ours") {
    net::GetHeadersMsg m;
    m.locator = {some_hash(1), some_hash(2), height_of(8)->hash, height_of(2)->hash};
    const auto r = f.sync.answer(m);
    REQUIRE(r.headers.size() == 2);
    CHECK(block_hash(r.headers.front()) == ours[8].hash());
  }
  SECTION("a locator from a side branch: after the fork point") {
    const auto side = extend_from(f.chain, height_of(6), 2, pub(2));  // less work: stays a side branch
    REQUIRE(f.chain.tip()->hash == ours.back().hash());
    net::GetHeadersMsg m;
    m.locator = f.chain.locator(f.chain.lookup(side.back().hash()));
    const auto r = f.sync.answer(m);
    REQUIRE(r.headers.size() == 4);
    CHECK(block_hash(r.headers.front()) == ours[6].hash());  // height 7
  }
  SECTION("our tip: nothing") {
    net::GetHeadersMsg m;
    m.locator = f.chain.locator();
    CHECK(f.sync.answer(m).headers.empty());
  }
  SECTION("no locator hash on our chain: nothing (another chain)") {
    net::GetHeadersMsg m;
    m.locator = {some_hash(1), some_hash(2), chain_params(Network::kMain).genesis_hash};
    CHECK(f.sync.answer(m).headers.empty());
  }
  SECTION("an empty locator: from genesis") {
    const auto r = f.sync.answer(net::GetHeadersMsg{});
    REQUIRE(r.headers.size() == 10);
    CHECK(block_hash(r.headers.front()) == ours[0].hash());
    CHECK(r.headers.front().prev_hash == regtest().genesis_hash);
  }
  SECTION("an empty locator and a stop hash: from genesis to the stop hash") {
    net::GetHeadersMsg m;
    m.stop_hash = ours[0].hash();
    const auto r = f.sync.answer(m);
    REQUIRE(r.headers.size() == 1);
    CHECK(block_hash(r.headers.front()) == ours[0].hash());
  }
}

TEST_CASE("answer(): at most kMaxHeadersPerMessage headers", "[daemon][net][header_sync]") {
  Fixture f;
  const auto& blocks = long_chain();
  for (const auto& b : blocks) REQUIRE(f.chain.process_block(b, kNow).verdict.ok());
  REQUIRE(f.chain.height() == net::kMaxHeadersPerMessage + 1);
  const auto r = f.sync.answer(net::GetHeadersMsg{});
  REQUIRE(r.headers.size() == net::kMaxHeadersPerMessage);
  CHECK(block_hash(r.headers.back()) == blocks[net::kMaxHeadersPerMessage - 1].hash());
  // The follow-up from the last one gives the rest.
  net::GetHeadersMsg more;
  more.locator = f.chain.locator(f.chain.lookup(block_hash(r.headers.back())));
  const auto rest = f.sync.answer(more);
  REQUIRE(rest.headers.size() == 1);
  CHECK(block_hash(rest.headers.front()) == blocks.back().hash());
}
