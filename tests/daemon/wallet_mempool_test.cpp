// The wallet and the mempool: payments waiting for a block are recorded once each (not again at
// every block), a block that holds them confirms each record exactly once, and `send` spreads
// many payments before a block over the wallet's funded addresses (each address's nonce window
// in the mempool, kMaxMempoolTxsPerSender), with the documented error when no address has room.
#include <coroutine>

#include <algorithm>
#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "chain/chain_test_util.hpp"
#include "daemon/in_process_node.hpp"
#include "daemon/node/node.hpp"
#include "daemon/rpc/server.hpp"
#include "daemon/wallet/wallet_manager.hpp"

namespace asio = boost::asio;
using namespace cheese;
using namespace cheese::test;

namespace {

//! A block on the node's tip paying `miner`, holding `transfers`.
Block next_block(InProcessNode& n, const PublicKey& miner, std::vector<Transaction> transfers = {}) {
  const ParentInfo parent = n.on_io([&] { return parent_of(*n.ctx().chain, n.ctx().chain->tip()); });
  return make_block(parent, miner, std::move(transfers));
}

void submit_block(InProcessNode& n, const Block& b) {
  const BlockSubmission r = n.submit(b);
  INFO("rejected: " << to_string(r.result.verdict.reason));
  REQUIRE(r.accepted());
}

//! The wallet's records, after the writes still queued (kWalletFlushDelay), as an RPC sees them.
std::vector<WalletTx> records(InProcessNode& n, const std::string& wallet) {
  return n.on_io([&] {
    RpcRequest req;
    req.wallet = wallet;
    auto e = n.ctx().wallets->default_wallet(req);
    REQUIRE(e);
    return wallet_value(e->wallet.list_transactions(100'000));
  });
}

MempoolAccept submit_tx(InProcessNode& n, Transaction tx) {
  return n.await_on_io<MempoolAccept>([&]() { return n.ctx().blocks->submit_transaction(tx); });
}

std::vector<Transaction> pooled_transactions(InProcessNode& n) {
  return n.on_io([&] {
    std::vector<Transaction> out;
    for (const auto* entry : n.ctx().mempool->entries()) out.push_back(entry->tx);
    // A block holds each sender's transfers in nonce order.
    std::sort(out.begin(), out.end(), [](const Transaction& a, const Transaction& b) {
      return a.sender != b.sender ? a.sender < b.sender : a.nonce < b.nonce;
    });
    return out;
  });
}

}  // namespace

TEST_CASE("payments waiting in the mempool are recorded once; the block that holds them confirms each once",
          "[daemon][wallet][mempool]") {
  InProcessNode n;
  WalletManager& wm = *n.ctx().wallets;
  auto created = n.await_on_io<WalletManager::Created>([&]() { return wm.create("w", std::nullopt, false); });
  auto e = created.entry;
  const PublicKey to = n.on_io([&] { return wallet_value(e->wallet.new_address("in")).pubkey; });
  // A sender outside the wallet: one coinbase, matured by ten blocks (regtest maturity 10).
  const SecretKey payer = key_from_seed(7);
  submit_block(n, next_block(n, payer.public_key()));
  for (int i = 0; i < 10; ++i) submit_block(n, next_block(n, pub(8)));

  constexpr std::uint64_t kWaiting = 20;
  std::set<Hash256> ids;
  for (std::uint64_t nonce = 0; nonce < kWaiting; ++nonce) {
    const Transaction tx = make_transfer(payer, to, kCoin + nonce, kMinRelayFee, nonce);
    REQUIRE(submit_tx(n, tx).ok());
    ids.insert(txid(tx));
  }
  auto count_of = [&](const std::vector<WalletTx>& rs, const Hash256& id) {
    return std::count_if(rs.begin(), rs.end(), [&](const WalletTx& r) { return r.txid == id; });
  };

  // Three blocks without them: each payment is still listed once, unconfirmed, with its amount.
  for (int i = 0; i < 3; ++i) submit_block(n, next_block(n, pub(8)));
  {
    const auto rs = records(n, "w");
    REQUIRE(rs.size() == kWaiting);
    for (const auto& id : ids) CHECK(count_of(rs, id) == 1);
    for (const auto& r : rs) {
      CHECK_FALSE(r.height.has_value());
      CHECK(r.direction == TxDirection::kReceive);
    }
    CHECK(n.on_io([&] { return e->pending.size(); }) == kWaiting);
  }

  // The block that holds them: every record confirmed at its height, still once each.
  submit_block(n, next_block(n, pub(8), pooled_transactions(n)));
  const std::uint64_t height = n.on_io([&] { return n.ctx().chain->height(); });
  const auto rs = records(n, "w");
  REQUIRE(rs.size() == kWaiting);
  for (const auto& id : ids) CHECK(count_of(rs, id) == 1);
  for (const auto& r : rs) CHECK(r.height == std::optional<std::uint64_t>(height));
  CHECK(n.on_io([&] { return e->pending.size(); }) == 0);
}

TEST_CASE("send: more payments than one address's mempool window wait before a block, from other addresses",
          "[daemon][wallet][send]") {
  InProcessNode n;
  WalletManager& wm = *n.ctx().wallets;
  auto created = n.await_on_io<WalletManager::Created>([&]() { return wm.create("payer", std::nullopt, false); });
  auto e = created.entry;
  const PublicKey a = n.on_io([&] { return wm.mining_address(*e); });
  const PublicKey b = n.on_io([&] { return wallet_value(e->wallet.new_address("second")).pubkey; });
  // a: 100 CHZ, b: 50 CHZ, matured.
  submit_block(n, next_block(n, a));
  submit_block(n, next_block(n, a));
  submit_block(n, next_block(n, b));
  for (int i = 0; i < 10; ++i) submit_block(n, next_block(n, pub(8)));
  const std::size_t window = n.on_io([&] { return n.ctx().mempool->limits().max_per_sender; });
  REQUIRE(window == kMaxMempoolTxsPerSender);

  auto send = [&]() {
    return n.await_on_io<WalletSendResult>([&]() { return wm.send(e, pub(9), kCoin, std::nullopt, false); });
  };
  // b, the smallest balance that covers each payment, pays until its window is full; then a.
  std::map<PublicKey, std::size_t> from;
  for (std::size_t i = 0; i < 2 * window; ++i) {
    const WalletSendResult r = send();
    REQUIRE(r.senders.size() == 1);
    ++from[r.senders[0]];
  }
  CHECK(from[b] == window);
  CHECK(from[a] == window);
  CHECK(n.on_io([&] { return n.ctx().mempool->size(); }) == 2 * window);

  // Every funded address is full: the documented error, and nothing sent.
  try {
    (void)send();
    FAIL("the send succeeded");
  } catch (const RpcError& err) {
    CHECK(err.code == kRpcInsufficientFunds);
    CHECK(std::string(err.what()) ==
          fmt::format("Too many payments waiting: the wallet's funded addresses that could pay 1.00010000 CHZ "
                      "(amount + fee) already have {} transactions each waiting in the mempool, its limit per "
                      "sending address. Wait for the next block to confirm some, or keep funds on more addresses "
                      "of the wallet (send to a new address, getnewaddress) so that more payments can wait at once",
                      window));
  }
  CHECK(n.on_io([&] { return n.ctx().mempool->size(); }) == 2 * window);

  // A block confirms them: room again.
  submit_block(n, next_block(n, pub(8), pooled_transactions(n)));
  CHECK(n.on_io([&] { return n.ctx().mempool->size(); }) == 0);
  CHECK(send().senders.size() == 1);
  // Every send is recorded once, as a send.
  const auto rs = records(n, "payer");
  const auto sends = std::count_if(rs.begin(), rs.end(),
                                   [](const WalletTx& r) { return r.direction == TxDirection::kSend; });
  CHECK(sends == static_cast<std::ptrdiff_t>(2 * window + 1));
}
