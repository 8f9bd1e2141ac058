// A wallet's chain scan (restorewallet, loadwallet of a wallet far behind, rescanblockchain) runs
// on the io thread in slices (kWalletScanSlice): between slices the node goes on (other handlers
// run), the wallet's RPCs other than getwalletinfo are refused with -4, and the finished scan
// finds everything. The test shortens the slices so that a short chain needs many of them.
#include <coroutine>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chain/chain_test_util.hpp"
#include "daemon/in_process_node.hpp"
#include "daemon/node/node.hpp"
#include "daemon/rpc/server.hpp"
#include "daemon/wallet/wallet_manager.hpp"

namespace asio = boost::asio;
using namespace cheese;
using namespace cheese::test;
using namespace std::chrono_literals;

namespace {

//! What a coroutine running beside the scan saw, one observation per turn of the io loop.
struct Beside {
  std::size_t turns_while_scanning = 0;
  std::size_t refused = 0;  //!< getbalance-style requests refused with -4 meanwhile
  std::size_t other_errors = 0;
  bool saw_progress = false;  //!< the sync point moved between two turns
};

asio::awaitable<void> watch(NodeContext& node, std::shared_ptr<Beside> out, std::shared_ptr<bool> done) {
  WalletManager& wm = (*node.wallets);
  RpcRequest req;
  req.wallet = "restored";
  std::optional<std::uint64_t> last_height;
  for (int i = 0; i < 1'000'000 && !*done; ++i) {
    if (auto e = wm.default_wallet(req); e && e->scanning) {
      ++out->turns_while_scanning;
      auto at = e->wallet.synced_to();
      if (at && *at) {
        if (last_height && (*at)->height > *last_height) out->saw_progress = true;
        last_height = (*at)->height;
      }
      try {
        auto asking = wm.for_request(req);
        (void)co_await std::move(asking);
      } catch (const RpcError& err) {
        if (err.code == kRpcWalletError) {
          ++out->refused;
        } else {
          ++out->other_errors;
        }
      }
    }
    co_await asio::post((*node.io), asio::use_awaitable);
  }
}

}  // namespace

TEST_CASE("a chain scan runs in slices while the node goes on", "[daemon][wallet][scan]") {
  InProcessNode n;
  NodeContext& node = n.ctx();
  WalletManager& wm = (*node.wallets);

  // A fresh wallet starts at the tip (no scan); 160 blocks then pay its mining address.
  auto created = n.await_on_io<WalletManager::Created>([&]() { return wm.create("original", std::nullopt, false); });
  REQUIRE_FALSE(created.entry->scanning);
  const PublicKey miner = n.on_io([&] { return wm.mining_address(*created.entry); });
  const std::string phrase(created.mnemonic.view());
  {
    TempDir dir("scan-chain");
    Chainstate src(dir.file("scratch.db"), regtest(), 1);
    for (int i = 0; i < 160; ++i) {
      const Block b = make_block(src, src.tip(), miner);
      (void)submit_ok(src, b);
      REQUIRE(n.submit(b).accepted());
    }
  }
  REQUIRE(n.on_io([&] { return node.chain->height(); }) == 160);

  // Restored with 50 µs slices: the scan of 160 blocks takes many of them.
  n.on_io([&] {
    wm.set_scan_slice_for_testing(50us);
    return 0;
  });
  auto beside = std::make_shared<Beside>();
  auto done = std::make_shared<bool>(false);
  auto restored = n.await_on_io<std::shared_ptr<LoadedWallet>>(
      [&]() -> asio::awaitable<std::shared_ptr<LoadedWallet>> {
        asio::co_spawn((*node.io), watch(node, beside, done), asio::detached);
        auto e = co_await wm.restore("restored", SecretString::copy_of(phrase), std::nullopt, false);
        co_await wm.wait_scanned(e);
        *done = true;
        co_return e;
      });

  CAPTURE(beside->turns_while_scanning, beside->refused, beside->other_errors);
  REQUIRE(beside->turns_while_scanning >= 3);                // other handlers ran between slices
  REQUIRE(beside->saw_progress);                             // and the sync point moved in between
  REQUIRE(beside->refused == beside->turns_while_scanning);  // -4 while scanning, every time
  REQUIRE(beside->other_errors == 0);

  // The finished scan found every coinbase: same balances and history as the original.
  n.on_io([&] {
    REQUIRE_FALSE(restored->scanning);
    const WalletBalances a = wm.balances(*created.entry);
    const WalletBalances b = wm.balances(*restored);
    REQUIRE(b.confirmed == a.confirmed);
    REQUIRE(b.immature == a.immature);
    REQUIRE(a.confirmed > 0);
    REQUIRE(restored->wallet.transaction_count().value() == 160);
    REQUIRE(created.entry->wallet.transaction_count().value() == 160);
    auto at = restored->wallet.synced_to();
    REQUIRE((at && *at && (*at)->height == 160));
    return 0;
  });

  // rescanblockchain from height 100 runs in slices too and returns when done.
  const std::uint64_t stop = n.await_on_io<std::uint64_t>([&]() { return wm.rescan(restored, 100); });
  REQUIRE(stop == 160);
  n.on_io([&] {
    REQUIRE_FALSE(restored->scanning);
    REQUIRE(restored->wallet.transaction_count().value() == 160);
    REQUIRE(wm.balances(*restored).confirmed == wm.balances(*created.entry).confirmed);
    return 0;
  });
}

namespace {

//! Queues blocks as a peer does and records, as each is processed, the wallet's stored sync
//! height (what a crash would leave).
asio::awaitable<void> feed_and_watch(NodeContext& node, std::vector<std::shared_ptr<const Block>> blocks,
                                     std::shared_ptr<LoadedWallet> e,
                                     std::shared_ptr<std::vector<std::uint64_t>> stored,
                                     std::shared_ptr<std::promise<void>> all_done) {
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    BlockProcessor::BlockDone done = [e, stored, all_done, total = blocks.size()](const BlockSubmission&) {
      auto at = e->wallet.synced_to();
      stored->push_back(at && *at ? (*at)->height : 0);
      if (stored->size() == total) all_done->set_value();
    };
    auto queued = node.blocks->queue_block(blocks[i], 1, std::move(done));
    co_await std::move(queued);
  }
}

}  // namespace

TEST_CASE("during initial sync the wallet stores its sync point only with its own transactions",
          "[daemon][wallet][scan]") {
  InProcessNode n;
  NodeContext& node = n.ctx();
  WalletManager& wm = (*node.wallets);
  auto created = n.await_on_io<WalletManager::Created>([&]() { return wm.create("follower", std::nullopt, false); });
  auto e = created.entry;
  const PublicKey mine = n.on_io([&] { return wm.mining_address(*e); });

  // 150 blocks; every 10th pays the wallet.
  std::vector<std::shared_ptr<const Block>> blocks;
  {
    TempDir dir("scan-follow");
    Chainstate src(dir.file("scratch.db"), regtest(), 1);
    for (int i = 1; i <= 150; ++i) {
      const Block b = make_block(src, src.tip(), i % 10 == 0 ? mine : pub(9));
      (void)submit_ok(src, b);
      blocks.push_back(std::make_shared<const Block>(b));
    }
  }
  auto stored = std::make_shared<std::vector<std::uint64_t>>();
  auto all_done = std::make_shared<std::promise<void>>();
  auto finished = all_done->get_future();
  asio::post((*node.io), [&node, blocks, e, stored, all_done] {
    asio::co_spawn((*node.io), feed_and_watch(node, blocks, e, stored, all_done), asio::detached);
  });
  REQUIRE(finished.wait_for(60s) == std::future_status::ready);

  n.on_io([&] {
    // While blocks were queued, the stored sync point moved only with the wallet's own blocks
    // (one wallet commit each), not once per block; the last block, with the queue empty, stored it.
    std::set<std::uint64_t> heights(stored->begin(), stored->end());
    CAPTURE(heights.size());
    REQUIRE(heights.size() <= 16 + 1);
    for (std::uint64_t h : heights) REQUIRE((h == 0 || h % 10 == 0 || h == 150));
    auto at = e->wallet.synced_to();
    REQUIRE((at && *at && (*at)->height == 150));
    REQUIRE(e->scanned.has_value());
    REQUIRE(e->scanned->height == 150);
    REQUIRE(e->wallet.transaction_count().value() == 15);
    return 0;
  });
}

TEST_CASE("stop() ends a running chain scan: no slice after it, the wallet not left scanning",
          "[daemon][wallet][scan]") {
  InProcessNode n;
  NodeContext& node = n.ctx();
  WalletManager& wm = (*node.wallets);

  auto created = n.await_on_io<WalletManager::Created>([&]() { return wm.create("original", std::nullopt, false); });
  const PublicKey miner = n.on_io([&] { return wm.mining_address(*created.entry); });
  const std::string phrase(created.mnemonic.view());
  {
    TempDir dir("scan-stop");
    Chainstate src(dir.file("scratch.db"), regtest(), 1);
    for (int i = 0; i < 60; ++i) {
      const Block b = make_block(src, src.tip(), miner);
      (void)submit_ok(src, b);
      REQUIRE(n.submit(b).accepted());
    }
  }

  // With 1 µs slices the restored wallet's scan goes on in the wallet manager's task group; stop()
  // right after the restore (before the scan's first background slice) cancels it.
  n.on_io([&] {
    wm.set_scan_slice_for_testing(1us);
    return 0;
  });
  auto restored = n.await_on_io<std::shared_ptr<LoadedWallet>>(
      [&]() -> asio::awaitable<std::shared_ptr<LoadedWallet>> {
        auto e = co_await wm.restore("restored", SecretString::copy_of(phrase), std::nullopt, false);
        REQUIRE(e->scanning);
        wm.stop();
        co_return e;
      });
  const auto synced_at_stop = n.on_io([&] { return restored->scanned; });
  bool over = false;
  for (int i = 0; i < 100 && !over; ++i) {
    over = n.on_io([&] { return !restored->scanning; });
    if (!over) std::this_thread::sleep_for(10ms);
  }
  REQUIRE(over);
  n.on_io([&] {
    REQUIRE(restored->unloaded);
    REQUIRE(wm.loaded().empty());
    // No slice ran after stop(): the scan stopped where the restore's first slice left it.
    REQUIRE(synced_at_stop.has_value());  // the restore's slice scanned at least one block
    REQUIRE(restored->scanned.has_value());
    REQUIRE(restored->scanned->height == synced_at_stop->height);
    REQUIRE(restored->scanned->height < 60);
    return 0;
  });
  // A wallet task started after stop() is refused: a sync does not leave the wallet scanning.
  n.on_io([&] {
    restored->scanned.reset();
    restored->unloaded = false;
    wm.sync(restored);
    REQUIRE_FALSE(restored->scanning);
    return 0;
  });
}
