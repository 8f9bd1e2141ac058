// BlockDownload over a real regtest chain: which blocks a peer with a better header is asked
// for. What peers observe: at most net::kMaxBlocksInFlightPerPeer getdata items each, lowest
// first; a block asked of one peer is asked of no other until it arrives, is notfound or that
// peer leaves; a peer is reported stalled only after the timeout; nothing beyond
// kBlockDownloadWindow above the tip, nothing we have or hold in the queue, nothing when the
// peer is not ahead; a side branch with more work is fetched from the fork point, one with no more
// work than the tip never.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <set>
#include <vector>

#include "chain/chain_test_util.hpp"
#include "daemon/net/block_download.hpp"
#include "daemon/net/peer_harness.hpp"

using namespace cheese;
using namespace cheese::test;
using namespace std::chrono_literals;

namespace {

const BlockDownload::Clock::time_point kT0{std::chrono::hours(1)};
const BlockDownload::IsQueued kNothingQueued = [](const Hash256&) { return false; };

//! A chainstate with `active` blocks connected, and helpers to add headers (no bodies) on top of
//! any known block, as headers-first sync does.
struct Fixture {
  TempDir dir{"blockdl"};
  Chainstate chain{dir.file("chain.sqlite"), regtest(), 1};
  PublicKey miner = pub(3);

  explicit Fixture(std::size_t active = 3) { extend(chain, active, miner); }

  //! `n` valid blocks on `from`, their headers accepted (bodies not given); returns the blocks.
  std::vector<Block> headers_on(const BlockIndex* from, std::size_t n) {
    std::vector<Block> out;
    ParentInfo parent = parent_of(chain, from);
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(make_block(parent, miner));
      const BlockIndex* idx = nullptr;
      REQUIRE(chain.accept_header(out.back().header, kNow, &idx).ok());
      parent = parent_of(chain, idx);
    }
    return out;
  }
  const BlockIndex* index_of(const Block& b) const {
    const BlockIndex* idx = chain.lookup(b.hash());
    REQUIRE(idx != nullptr);
    return idx;
  }
};

std::vector<Hash256> first(const std::vector<Block>& blocks, std::size_t from, std::size_t n) {
  std::vector<Hash256> out;
  for (std::size_t i = from; i < from + n && i < blocks.size(); ++i) out.push_back(blocks[i].hash());
  return out;
}

}  // namespace

TEST_CASE("a peer ahead is asked for at most kMaxBlocksInFlightPerPeer blocks, lowest first",
          "[daemon][net][block_download]") {
  Fixture f;
  const auto ahead = f.headers_on(f.chain.tip(), 40);
  BlockDownload d;
  const auto got = d.next_requests(1, f.index_of(ahead.back()), f.chain, kNothingQueued, kT0);
  CHECK(got == first(ahead, 0, net::kMaxBlocksInFlightPerPeer));
  CHECK(d.in_flight(1) == net::kMaxBlocksInFlightPerPeer);
  // Full: asking again gives nothing more.
  CHECK(d.next_requests(1, f.index_of(ahead.back()), f.chain, kNothingQueued, kT0 + 1s).empty());
  // One arrives and waits in the node's queue: exactly one more, the next lowest.
  CHECK(d.received(1, ahead[0].hash()));
  const BlockDownload::IsQueued first_queued = [&](const Hash256& h) { return h == ahead[0].hash(); };
  CHECK(d.next_requests(1, f.index_of(ahead.back()), f.chain, first_queued, kT0 + 2s) ==
        first(ahead, net::kMaxBlocksInFlightPerPeer, 1));
  CHECK(d.in_flight(1) == net::kMaxBlocksInFlightPerPeer);
}

TEST_CASE("a peer whose best header is a few blocks ahead is asked for just those", "[daemon][net][block_download]") {
  Fixture f;
  const auto ahead = f.headers_on(f.chain.tip(), 3);
  BlockDownload d;
  CHECK(d.next_requests(1, f.index_of(ahead[1]), f.chain, kNothingQueued, kT0) == first(ahead, 0, 2));
  // It later shows the third.
  CHECK(d.next_requests(1, f.index_of(ahead[2]), f.chain, kNothingQueued, kT0) == first(ahead, 2, 1));
}

TEST_CASE("a block in flight from one peer is not asked of another until it is freed",
          "[daemon][net][block_download]") {
  Fixture f;
  const auto ahead = f.headers_on(f.chain.tip(), 40);
  const BlockIndex* best = f.index_of(ahead.back());
  BlockDownload d;
  const auto one = d.next_requests(1, best, f.chain, kNothingQueued, kT0);
  const auto two = d.next_requests(2, best, f.chain, kNothingQueued, kT0);
  CHECK(one == first(ahead, 0, 16));
  CHECK(two == first(ahead, 16, 16));
  const auto three = d.next_requests(3, best, f.chain, kNothingQueued, kT0);
  CHECK(three == first(ahead, 32, 8));
  CHECK(d.size() == 40);
  // Everything is in flight: a fourth peer gets nothing.
  CHECK(d.next_requests(4, best, f.chain, kNothingQueued, kT0).empty());
  CHECK(d.in_flight(4) == 0);

  SECTION("received from the peer asked") {
    CHECK(d.received(1, ahead[3].hash()));
    CHECK_FALSE(d.in_flight(ahead[3].hash()));
    CHECK(d.next_requests(4, best, f.chain, kNothingQueued, kT0) == first(ahead, 3, 1));
  }
  SECTION("received from another peer frees nothing") {
    CHECK_FALSE(d.received(2, ahead[3].hash()));
    CHECK(d.in_flight(ahead[3].hash()));
    CHECK(d.in_flight(1) == 16);
    CHECK(d.next_requests(4, best, f.chain, kNothingQueued, kT0).empty());
  }
  SECTION("notfound") {
    d.not_found(1, ahead[5].hash());
    d.not_found(2, ahead[6].hash());  // not asked of peer 2: ignored
    CHECK(d.in_flight(1) == 15);
    CHECK(d.next_requests(4, best, f.chain, kNothingQueued, kT0) == first(ahead, 5, 1));
  }
  SECTION("the peer leaves") {
    d.remove_peer(1);
    CHECK(d.in_flight(1) == 0);
    CHECK(d.size() == 24);
    CHECK(d.next_requests(4, best, f.chain, kNothingQueued, kT0) == first(ahead, 0, 16));
  }
}

TEST_CASE("stalled() reports a peer only once a block has been in flight longer than the timeout",
          "[daemon][net][block_download]") {
  Fixture f;
  const auto ahead = f.headers_on(f.chain.tip(), 20);
  const BlockIndex* best = f.index_of(ahead.back());
  constexpr auto kTimeout = net::kBlockStallTimeout;
  BlockDownload d;
  REQUIRE(d.next_requests(1, f.index_of(ahead[1]), f.chain, kNothingQueued, kT0).size() == 2);
  REQUIRE(d.next_requests(1, best, f.chain, kNothingQueued, kT0 + 10s).size() == 14);
  REQUIRE(d.next_requests(2, best, f.chain, kNothingQueued, kT0 + 20s).size() == 4);

  CHECK(d.stalled(kT0 + kTimeout, kTimeout).empty());
  using Stall = std::pair<PeerId, Hash256>;
  // Its oldest block is reported (of the two asked at kT0, the first in hash order).
  const Hash256 oldest = std::min(ahead[0].hash(), ahead[1].hash());
  CHECK(d.stalled(kT0 + kTimeout + 1s, kTimeout) == std::vector<Stall>{{1, oldest}});
  CHECK(d.stalled(kT0 + 20s + kTimeout, kTimeout) == std::vector<Stall>{{1, oldest}});
  const auto both = d.stalled(kT0 + 20s + kTimeout + 1s, kTimeout);
  REQUIRE(both.size() == 2);
  CHECK(both[0] == Stall{1, oldest});
  CHECK(both[1].first == 2);

  // Once the old blocks arrive, peer 1's oldest is one asked at kT0 + 10s.
  CHECK(d.received(1, ahead[0].hash()));
  CHECK(d.received(1, ahead[1].hash()));
  CHECK(d.stalled(kT0 + 10s + kTimeout, kTimeout).empty());
  const auto later = d.stalled(kT0 + 10s + kTimeout + 1s, kTimeout);
  REQUIRE(later.size() == 1);
  CHECK(later[0].first == 1);
  const auto asked_at_10s = first(ahead, 2, 14);
  CHECK(std::find(asked_at_10s.begin(), asked_at_10s.end(), later[0].second) != asked_at_10s.end());
}

TEST_CASE("nothing beyond kBlockDownloadWindow above the tip is asked, queued blocks are skipped",
          "[daemon][net][block_download]") {
  Fixture f(1);
  const std::uint64_t tip = f.chain.height();
  const auto ahead = f.headers_on(f.chain.tip(), kBlockDownloadWindow + 8);
  const BlockIndex* best = f.index_of(ahead.back());
  // Everything but the last 4 blocks inside the window waits in the node's queue.
  std::set<Hash256> queued;
  for (std::size_t i = 0; i + 4 < kBlockDownloadWindow; ++i) queued.insert(ahead[i].hash());
  const BlockDownload::IsQueued is_queued = [&](const Hash256& h) { return queued.contains(h); };
  BlockDownload d;
  const auto got = d.next_requests(1, best, f.chain, is_queued, kT0);
  CHECK(got == first(ahead, kBlockDownloadWindow - 4, 4));
  CHECK(f.index_of(ahead[kBlockDownloadWindow - 1])->height == tip + kBlockDownloadWindow);
  CHECK(d.next_requests(2, best, f.chain, is_queued, kT0).empty());
}

TEST_CASE("blocks already stored are not asked again", "[daemon][net][block_download]") {
  Fixture f;
  const auto ahead = f.headers_on(f.chain.tip(), 5);
  // The bodies of the 2nd and 4th arrived out of order: stored, not connected.
  for (std::size_t i : {1u, 3u}) {
    const auto r = f.chain.process_block(ahead[i], kNow);
    INFO(to_string(r.verdict.reason));
    REQUIRE(f.index_of(ahead[i])->have_data());
  }
  REQUIRE(f.chain.height() == 3);
  BlockDownload d;
  CHECK(d.next_requests(1, f.index_of(ahead.back()), f.chain, kNothingQueued, kT0) ==
        std::vector<Hash256>{ahead[0].hash(), ahead[2].hash(), ahead[4].hash()});
}

TEST_CASE("a peer that is not ahead of the active chain gets nothing", "[daemon][net][block_download]") {
  Fixture f(5);
  BlockDownload d;
  CHECK(d.next_requests(1, nullptr, f.chain, kNothingQueued, kT0).empty());
  CHECK(d.next_requests(1, f.chain.tip(), f.chain, kNothingQueued, kT0).empty());
  CHECK(d.next_requests(1, f.chain.at_height(2), f.chain, kNothingQueued, kT0).empty());
  CHECK(d.next_requests(1, f.chain.at_height(0), f.chain, kNothingQueued, kT0).empty());
  CHECK(d.size() == 0);
}

TEST_CASE("a side branch with more work is downloaded from the fork point", "[daemon][net][block_download]") {
  Fixture f(5);
  const BlockIndex* fork = f.chain.at_height(3);
  const auto side = f.headers_on(fork, 3);  // heights 4, 5, 6: more work than our 5
  REQUIRE(f.chain.height() == 5);
  REQUIRE(f.index_of(side.back())->chain_work > f.chain.tip()->chain_work);
  BlockDownload d;
  CHECK(d.next_requests(1, f.index_of(side.back()), f.chain, kNothingQueued, kT0) == first(side, 0, 3));

  SECTION("a side branch with no more work than our tip is never fetched (work before cost)") {
    BlockDownload d2;
    CHECK(d2.next_requests(2, f.index_of(side[0]), f.chain, kNothingQueued, kT0).empty());  // less work
    CHECK(d2.next_requests(2, f.index_of(side[1]), f.chain, kNothingQueued, kT0).empty());  // equal work
  }
}

// A block that arrives while the node's block queue is full is held in PeerState::waiting_block
// after BlockDownload::received() freed it: it counts as queued, so it is not downloaded twice
// while the node is busiest (a bug found by this test: it used to be asked for again at once).
TEST_CASE("a block held back while the block queue is full is not asked for again", "[daemon][net][block_download]") {
  PeerHarness h;
  TempDir src_dir("blockdl-src");
  Chainstate src(src_dir.file("src.sqlite"), regtest(), 1);
  const auto blocks = extend(src, 3, pub(1));
  const PeerId p = h.handshaked(true);
  const PeerId q = h.handshaked(true, 3);
  net::HeadersMsg m;
  for (const auto& b : blocks) m.headers.push_back(b.header);
  h.peers.on_message(p, m);
  const auto asked = h.sink.take<net::GetDataMsg>(p);
  REQUIRE(asked.size() == 1);
  REQUIRE(asked[0].items.size() == 3);
  h.sink.sent.clear();

  h.services.room = 0;  // the node is busy
  h.peers.on_message(p, net::BlockMsg{blocks[0]});
  REQUIRE(h.sink.is_paused(p));
  REQUIRE(h.services.queued_blocks.empty());
  std::vector<Hash256> asked_again;
  for (PeerId id : {p, q}) {
    for (const auto& g : h.sink.take<net::GetDataMsg>(id)) {
      for (const auto& item : g.items) asked_again.push_back(item.hash);
    }
  }
  CHECK(asked_again.empty());
  CHECK_FALSE(std::find(asked_again.begin(), asked_again.end(), blocks[0].hash()) != asked_again.end());

  // Room again: the held-back block is queued once.
  h.services.room = 10;
  h.peers.block_queue_room();
  CHECK(h.services.queued_blocks == std::vector<Hash256>{blocks[0].hash()});
}
