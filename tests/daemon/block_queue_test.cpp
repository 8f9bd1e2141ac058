// The node's block queue (Node::queue_block, the path of blocks from peers; Node::submit_block
// for the miner and submitblock): blocks are connected in the order received, their signature
// checks run ahead on the worker pool, connections share SQLite transactions while more blocks
// wait and are committed when the queue runs dry, a peer waits while the queue holds
// its byte limit, a block from the miner is committed before it is reported, and an invalid
// block in the queue leaves the blocks before it connected.
#include <coroutine>

#include <algorithm>
#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <vector>

#include "chain/chain_test_util.hpp"
#include "daemon/in_process_node.hpp"
#include "daemon/node/node.hpp"

namespace asio = boost::asio;
using namespace cheese;
using namespace cheese::test;
using namespace std::chrono_literals;

namespace {

//! `n` blocks: 11 empty ones paying key 1 (its first reward matures at height 11), then one
//! transfer from key 1 per block; built in a scratch chainstate, whose final accounts are kept.
struct TestChain {
  std::vector<std::shared_ptr<const Block>> blocks;
  std::map<PublicKey, Account> accounts;
};

TestChain build_chain(std::size_t n) {
  TempDir dir("queue-chain");
  const SecretKey a = key_from_seed(1);
  Chainstate src(dir.file("scratch.db"), regtest(), 1);
  TestChain out;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::vector<Transaction> txs;
    if (i >= 11) txs.push_back(make_transfer(a, pub(static_cast<std::uint8_t>(10 + i % 5)), 1000 + i, 10, i - 11));
    const Block b = make_block(src, src.tip(), a.public_key(), txs);
    (void)submit_ok(src, b);
    out.blocks.push_back(std::make_shared<const Block>(b));
  }
  out.accounts = src.all_accounts();
  return out;
}

//! What one queued block's `done` callback saw.
struct Outcome {
  std::size_t index = 0;
  Verdict verdict;
  bool duplicate = false;
  std::size_t uncommitted = 0;  //!< chain().uncommitted_blocks() when it ran
};

//! Queues `blocks` one after the other as a peer's reader does (waiting whenever queue_block
//! waits), then collects every outcome. Also records, each time queue_block returned, the
//! queued bytes and how many blocks had been processed by then.
struct PeerRun {
  std::vector<Outcome> outcomes;
  std::size_t max_queued_bytes = 0;
  std::vector<std::size_t> processed_when_queued;
};

asio::awaitable<void> feed_blocks(NodeContext& node, const std::vector<std::shared_ptr<const Block>>& blocks,
                                  std::shared_ptr<PeerRun> run, std::shared_ptr<std::promise<void>> all_done) {
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    BlockProcessor::BlockDone done = [&node, run, all_done, i, total = blocks.size()](const BlockSubmission& s) {
      run->outcomes.push_back({i, s.result.verdict, s.result.duplicate, node.chain->uncommitted_blocks()});
      if (run->outcomes.size() == total) all_done->set_value();
    };
    auto queued = node.blocks->queue_block(blocks[i], 1, std::move(done));
    co_await std::move(queued);
    run->max_queued_bytes = std::max(run->max_queued_bytes, node.blocks->queued_block_bytes());
    run->processed_when_queued.push_back(run->outcomes.size());
  }
}

PeerRun feed_as_peer(InProcessNode& n, const std::vector<std::shared_ptr<const Block>>& blocks) {
  auto run = std::make_shared<PeerRun>();
  auto all_done = std::make_shared<std::promise<void>>();
  auto finished = all_done->get_future();
  NodeContext& node = n.ctx();
  asio::post((*node.io), [&node, &blocks, run, all_done] {
    asio::co_spawn((*node.io), feed_blocks(node, blocks, run, all_done), asio::detached);
  });
  REQUIRE(finished.wait_for(60s) == std::future_status::ready);
  return n.on_io([run] { return *run; });
}

//! Queues all blocks but the last as a peer would (not waiting for their outcome), then submits
//! the last one as the miner does; reports whether it was accepted and what was left uncommitted.
asio::awaitable<void> queue_then_submit(NodeContext& node, const TestChain& chain,
                                        std::shared_ptr<std::promise<std::pair<bool, std::size_t>>> reported) {
  for (std::size_t i = 0; i + 1 < chain.blocks.size(); ++i) {
    auto queued = node.blocks->queue_block(chain.blocks[i], 1, [](const BlockSubmission&) {});
    co_await std::move(queued);
  }
  auto submitting = node.blocks->submit_block(chain.blocks.back());
  const BlockSubmission s = co_await std::move(submitting);
  reported->set_value({s.accepted(), node.chain->uncommitted_blocks()});
}

}  // namespace

TEST_CASE("queued blocks connect in order and are committed when the queue runs dry", "[daemon][blockqueue]") {
  const TestChain chain = build_chain(150);
  InProcessNode n;
  const PeerRun run = feed_as_peer(n, chain.blocks);
  REQUIRE(run.outcomes.size() == chain.blocks.size());
  std::size_t deferred_seen = 0;
  for (std::size_t i = 0; i < run.outcomes.size(); ++i) {
    CAPTURE(i);
    REQUIRE(run.outcomes[i].index == i);  // processed in the order received
    REQUIRE(run.outcomes[i].verdict.ok());
    REQUIRE_FALSE(run.outcomes[i].duplicate);
    REQUIRE(run.outcomes[i].uncommitted <= kMaxDeferredBlocks);
    if (run.outcomes[i].uncommitted > 0) ++deferred_seen;
  }
  // The peer queued every block before the first was connected: connections were deferred
  // (batches of kMaxDeferredBlocks), and the last one committed everything.
  REQUIRE(deferred_seen > chain.blocks.size() / 2);
  REQUIRE(run.outcomes.back().uncommitted == 0);
  n.on_io([&] {
    Chainstate& cs = (*n.ctx().chain);
    REQUIRE(cs.tip()->hash == chain.blocks.back()->hash());
    REQUIRE(cs.uncommitted_blocks() == 0);
    REQUIRE(n.ctx().blocks->queued_block_bytes() == 0);
    REQUIRE(cs.all_accounts() == chain.accounts);
    REQUIRE(cs.all_accounts() == cs.replay_account_state());
    return 0;
  });

  // The same blocks again: duplicates, answered without queueing.
  const PeerRun again = feed_as_peer(n, {chain.blocks.begin(), chain.blocks.begin() + 5});
  for (const auto& o : again.outcomes) REQUIRE(o.duplicate);
  REQUIRE(again.max_queued_bytes == 0);
}

TEST_CASE("a peer's next block waits while the queue holds its byte limit", "[daemon][blockqueue]") {
  const TestChain chain = build_chain(40);
  std::size_t biggest = 0;
  for (const auto& b : chain.blocks) biggest = std::max(biggest, serialized_size(*b));
  const std::size_t limit = 3 * biggest;
  InProcessNode n;
  n.on_io([&] {
    n.ctx().blocks->set_block_queue_limit_for_testing(limit);
    return 0;
  });
  const PeerRun run = feed_as_peer(n, chain.blocks);
  REQUIRE(run.outcomes.size() == chain.blocks.size());
  for (const auto& o : run.outcomes) REQUIRE(o.verdict.ok());
  REQUIRE(run.max_queued_bytes <= limit);
  REQUIRE(run.max_queued_bytes > biggest);  // it did queue ahead
  // The peer had to wait: when it queued its last block, all but the few that fit in the limit
  // had been processed.
  std::size_t smallest = biggest;
  for (const auto& b : chain.blocks) smallest = std::min(smallest, serialized_size(*b));
  REQUIRE(run.processed_when_queued.back() + limit / smallest + 1 >= chain.blocks.size());
  REQUIRE(n.on_io([&] { return n.ctx().chain->tip()->hash; }) == chain.blocks.back()->hash());
}

TEST_CASE("a block from the miner or submitblock is committed before it is reported", "[daemon][blockqueue]") {
  const TestChain chain = build_chain(60);
  InProcessNode n;
  // 59 blocks queued by a peer (not awaited), then the 60th submitted as the miner does.
  auto reported = std::make_shared<std::promise<std::pair<bool, std::size_t>>>();
  auto result = reported->get_future();
  NodeContext& node = n.ctx();
  asio::post((*node.io), [&node, &chain, reported] {
    asio::co_spawn((*node.io), queue_then_submit(node, chain, reported), asio::detached);
  });
  REQUIRE(result.wait_for(60s) == std::future_status::ready);
  const auto [accepted, uncommitted] = result.get();
  REQUIRE(accepted);
  REQUIRE(uncommitted == 0);
  REQUIRE(n.tip() == chain.blocks.back()->hash());
}

TEST_CASE("an invalid block in the queue: the blocks before it stay connected", "[daemon][blockqueue]") {
  TestChain chain = build_chain(30);
  // Block 20 gets a bad signature (mined again, so only the signature is wrong); 21..29 are
  // rebuilt on top of it.
  {
    Block bad = *chain.blocks[20];
    bad.txs[1].signature[5] ^= 0x40;
    mine(bad);
    chain.blocks[20] = std::make_shared<const Block>(bad);
    Block parent = bad;
    for (std::size_t i = 21; i < chain.blocks.size(); ++i) {
      const Block child = make_block(parent_of(parent, i), pub(3));
      chain.blocks[i] = std::make_shared<const Block>(child);
      parent = child;
    }
  }
  InProcessNode n;
  const PeerRun run = feed_as_peer(n, chain.blocks);
  REQUIRE(run.outcomes.size() == chain.blocks.size());
  for (std::size_t i = 0; i < 20; ++i) REQUIRE(run.outcomes[i].verdict.ok());
  REQUIRE(run.outcomes[20].verdict.reason == Reject::kTxBadSignature);
  // Its child is refused as such; the blocks after that never got into the index (no headers
  // were announced first), so they come back as orphans, and none is connected.
  REQUIRE(run.outcomes[21].verdict.reason == Reject::kBlockParentInvalid);
  for (std::size_t i = 22; i < chain.blocks.size(); ++i) {
    CAPTURE(i);
    REQUIRE(run.outcomes[i].verdict.reason == Reject::kBlockUnknownParent);
  }
  n.on_io([&] {
    Chainstate& cs = (*n.ctx().chain);
    REQUIRE(cs.tip()->hash == chain.blocks[19]->hash());
    REQUIRE(cs.uncommitted_blocks() == 0);
    REQUIRE(cs.all_accounts() == cs.replay_account_state());
    return 0;
  });
}

TEST_CASE("a node stops with blocks still in its queue", "[daemon][blockqueue]") {
  const TestChain chain = build_chain(200);
  auto n = std::make_unique<InProcessNode>();
  auto reported = std::make_shared<std::promise<std::pair<bool, std::size_t>>>();
  NodeContext& node = n->ctx();
  // A peer queues 199 blocks and the miner submits the 200th; the stop comes right after, while
  // most of them still wait (and submit_block waits for its block).
  asio::post((*node.io), [&node, &chain, reported] {
    asio::co_spawn((*node.io), queue_then_submit(node, chain, reported), asio::detached);
    node.request_stop();
  });
  auto stopping = std::async(std::launch::async, [&n] { n.reset(); });
  REQUIRE(stopping.wait_for(30s) == std::future_status::ready);
}

TEST_CASE("cheap checks first: a block with an unknown parent costs no signature check", "[daemon][blockqueue]") {
  const TestChain chain = build_chain(14);  // blocks 12..14 carry transfers
  InProcessNode n;
  // Blocks 2.. have an unknown parent on a fresh node; sent again and again, none is queued (so
  // none reaches the signature checks) and each is answered at once.
  std::size_t answered = 0;
  const bool all_settled = n.on_io([&] {
    bool settled = true;
    for (int round = 0; round < 50; ++round) {
      for (std::size_t i = 1; i < chain.blocks.size(); ++i) {
        std::optional<Verdict> verdict;
        const bool taken = n.ctx().blocks->try_queue_block(
            chain.blocks[i], 1, [&](const BlockSubmission& s) { verdict = s.result.verdict; });
        settled = settled && taken && verdict && verdict->reason == Reject::kBlockUnknownParent;
        settled = settled && n.ctx().blocks->queued_block_bytes() == 0;
        answered += verdict ? 1 : 0;
      }
    }
    return settled;
  });
  CHECK(all_settled);
  CHECK(answered == 50 * (chain.blocks.size() - 1));
  CHECK(n.tip() == regtest().genesis_hash);
}

TEST_CASE("a reorg that fails half way: the mempool keeps its transactions, nothing of the branch is announced",
          "[daemon][blockqueue]") {
  // Base: 12 blocks paying key 1 (its first reward matures at 11). Active branch A: a1, a2.
  // Branch B: b1 (spends T from key 1), b2 (a transfer from an empty account: valid until
  // connected), b3. Receiving b3 makes B the most-work chain: a1 and a2 go, b1 connects, b2 fails,
  // and the node goes back to A.
  TempDir dir("failed-reorg");
  Chainstate src(dir.file("scratch.db"), regtest(), 1);
  const auto base = extend(src, 12, pub(1));
  const auto branch_a = extend(src, 2, pub(4));
  const Transaction t = make_transfer(key_from_seed(1), pub(2), 5000, kMinRelayFee, 0);
  const Block b1 = make_block(parent_of(base.back(), 12), pub(5), {t});
  const Block b2 = make_block(parent_of(b1, 13), pub(5),
                              {make_transfer(key_from_seed(3), pub(2), 5000, kMinRelayFee, 0)});
  const Block b3 = make_block(parent_of(b2, 14), pub(5));

  InProcessNode n;
  for (const auto& b : base) REQUIRE(n.submit(b).accepted());
  for (const auto& b : branch_a) REQUIRE(n.submit(b).accepted());
  const MempoolAccept pooled = n.await_on_io<MempoolAccept>([&]() { return n.ctx().blocks->submit_transaction(t); });
  REQUIRE(pooled.ok());
  auto announced = std::make_shared<std::vector<Hash256>>();
  n.on_io([&] {
    n.ctx().blocks->on_chain_change([announced](const ProcessBlockResult& r, std::uint64_t) {
      for (const auto& b : r.connected) announced->push_back(b.hash());
    });
    return 0;
  });
  (void)n.submit(b1);
  (void)n.submit(b2);
  (void)n.submit(b3);
  CHECK(n.tip() == branch_a.back().hash());
  CHECK(n.on_io([&] { return n.ctx().mempool->contains(txid(t)); }));
  CHECK(n.on_io([&] { return *announced; }).empty());
}

TEST_CASE("cheap checks first: a mutated block (bad merkle root) costs no signature check", "[daemon][blockqueue]") {
  const TestChain chain = build_chain(14);
  InProcessNode n;
  for (std::size_t i = 0; i < 12; ++i) REQUIRE(n.submit(*chain.blocks[i]).accepted());
  // Block 13 with its transfer changed after mining: the header (and its proof of work) still
  // holds, the merkle root no longer does.
  Block mutated = *chain.blocks[12];
  REQUIRE(mutated.txs.size() == 2);
  mutated.txs[1].amount += 1;
  auto block = std::make_shared<const Block>(mutated);
  const bool answered_at_once = n.on_io([&] {
    std::optional<Verdict> verdict;
    const bool taken = n.ctx().blocks->try_queue_block(block, 1,
                                                       [&](const BlockSubmission& s) { verdict = s.result.verdict; });
    return taken && verdict && verdict->reason == Reject::kBlockBadMerkleRoot &&
           n.ctx().blocks->queued_block_bytes() == 0;
  });
  CHECK(answered_at_once);
  // The real block is still welcome (the mutated one marked nothing invalid).
  CHECK(n.submit(*chain.blocks[12]).accepted());
}
