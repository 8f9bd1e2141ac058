// The wallet's `send`: which addresses pay (the smallest that covers amount + fee alone, else with
// split the largest first), the nonces that follow pending spends, and the RPC errors it answers
// (-3 invalid amount, -8 fee out of bounds, -13 locked, -6 insufficient funds).
#include <coroutine>

#include <algorithm>
#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
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

//! The RpcError a send answers: its code and message.
std::pair<int, std::string> send_error(InProcessNode& n, const std::shared_ptr<LoadedWallet>& e, Amount amount,
                                       std::optional<Amount> fee, bool split) {
  WalletManager& wm = *n.ctx().wallets;
  try {
    n.await_on_io<WalletSendResult>([&]() { return wm.send(e, pub(9), amount, fee, split); });
  } catch (const RpcError& err) {
    return {err.code, err.what()};
  }
  FAIL("the send succeeded");
  return {};
}

WalletSendResult send_ok(InProcessNode& n, const std::shared_ptr<LoadedWallet>& e, Amount amount, bool split) {
  WalletManager& wm = *n.ctx().wallets;
  return n.await_on_io<WalletSendResult>([&]() { return wm.send(e, pub(9), amount, std::nullopt, split); });
}

//! The pooled transaction with this id.
Transaction pooled(InProcessNode& n, const Hash256& id) {
  return n.on_io([&] {
    for (const auto* entry : n.ctx().mempool->entries()) {
      if (entry->txid == id) return entry->tx;
    }
    FAIL("not in the mempool");
    return Transaction{};
  });
}

}  // namespace

TEST_CASE("send: who pays, with which nonce, and its errors", "[daemon][wallet][send]") {
  InProcessNode n;
  NodeContext& node = n.ctx();
  WalletManager& wm = *node.wallets;
  auto created = n.await_on_io<WalletManager::Created>([&]() { return wm.create("payer", std::nullopt, false); });
  auto e = created.entry;
  const PublicKey a = n.on_io([&] { return wm.mining_address(*e); });
  const PublicKey b = n.on_io([&] { return wallet_value(e->wallet.new_address("second")).pubkey; });
  const Amount fee = n.on_io([&] { return wm.default_fee(); });
  const Amount min_fee = n.on_io([&] { return node.mempool->min_fee(); });

  // Nothing yet: the amount and fee checks come first, then the funds.
  CHECK(send_error(n, e, 0, std::nullopt, false) ==
        std::pair<int, std::string>{kRpcTypeError, "Invalid amount: it must be above 0"});
  CHECK(send_error(n, e, kCoin, kMaxWalletFee + 1, false).first == kRpcInvalidParameter);
  if (min_fee > 0) CHECK(send_error(n, e, kCoin, min_fee - 1, false).first == kRpcInvalidParameter);
  const std::string nothing = fmt::format(
      "Insufficient funds: 0.00000000 CHZ spendable (confirmed, minus pending spends), {} CHZ needed (amount + fee)",
      format_amount(kCoin + fee));
  CHECK(send_error(n, e, kCoin, std::nullopt, true) == std::pair<int, std::string>{kRpcInsufficientFunds, nothing});

  // Two coinbases to a, one to b, matured by ten more (regtest maturity 10): 100 and 50 CHZ.
  {
    TempDir dir("send-chain");
    Chainstate src(dir.file("scratch.db"), regtest(), 1);
    for (int i = 0; i < 13; ++i) {
      const Block block = make_block(src, src.tip(), i < 2 ? a : i == 2 ? b : pub(8));
      (void)submit_ok(src, block);
      REQUIRE(n.submit(block).accepted());
    }
  }
  REQUIRE(n.on_io([&] { return wm.balances(*e).confirmed; }) == 150 * kCoin);

  SECTION("errors name what there is") {
    CHECK(send_error(n, e, 120 * kCoin, std::nullopt, false) ==
          std::pair<int, std::string>{
              kRpcInsufficientFunds,
              fmt::format("Insufficient funds in one address: the largest holds 100.00000000 CHZ spendable, the "
                          "payment needs {} CHZ (amount + fee); `send` can split it over several addresses",
                          format_amount(120 * kCoin + fee))});
    CHECK(send_error(n, e, 150 * kCoin, std::nullopt, true) ==
          std::pair<int, std::string>{kRpcInsufficientFunds,
                                      fmt::format("Insufficient funds: 150.00000000 CHZ spendable (confirmed, minus "
                                                  "pending spends), {} CHZ needed (amount + fee)",
                                                  format_amount(150 * kCoin + fee))});
  }
  SECTION("the smallest that covers it pays, pending spends move the nonces, split pays from the largest") {
    const WalletSendResult first = send_ok(n, e, 40 * kCoin, false);
    REQUIRE(first.senders == std::vector<PublicKey>{b});
    CHECK(first.fee == fee);
    CHECK(pooled(n, first.txids[0]).nonce == 0);

    const WalletSendResult second = send_ok(n, e, 45 * kCoin, false);  // b has 10 - fee left
    REQUIRE(second.senders == std::vector<PublicKey>{a});
    CHECK(pooled(n, second.txids[0]).nonce == 0);

    // a: 55 - fee, b: 10 - fee spendable; 60 needs both, each paying its own fee.
    const WalletSendResult third = send_ok(n, e, 60 * kCoin, true);
    REQUIRE(third.senders == std::vector<PublicKey>{a, b});
    CHECK(third.fee == 2 * fee);
    const Transaction from_a = pooled(n, third.txids[0]);
    const Transaction from_b = pooled(n, third.txids[1]);
    CHECK(from_a.nonce == 1);
    CHECK(from_a.amount == 55 * kCoin - 2 * fee);
    CHECK(from_b.nonce == 1);
    CHECK(from_b.amount == 60 * kCoin - from_a.amount);
    CHECK(from_b.fee == fee);
    CHECK(n.on_io([&] { return wm.balances(*e).pending_out; }) == 145 * kCoin + 4 * fee);
  }
}

TEST_CASE("send: a locked wallet answers -13 before looking at its funds", "[daemon][wallet][send]") {
  InProcessNode n;
  WalletManager& wm = *n.ctx().wallets;
  auto created = n.await_on_io<WalletManager::Created>(
      [&]() { return wm.create("locked", SecretString::copy_of("secret"), false); });
  CHECK(send_error(n, created.entry, kCoin, std::nullopt, false) ==
        std::pair<int, std::string>{kRpcUnlockNeeded,
                                    "Error: Please enter the wallet passphrase with walletpassphrase first."});
}

namespace {

//! Rewards of 100 CHZ to a and 50 CHZ to b, matured (regtest maturity 10).
void fund_two_addresses(InProcessNode& n, const PublicKey& a, const PublicKey& b) {
  TempDir dir("send-queue-chain");
  Chainstate src(dir.file("scratch.db"), regtest(), 1);
  for (int i = 0; i < 13; ++i) {
    const Block block = make_block(src, src.tip(), i < 2 ? a : i == 2 ? b : pub(8));
    (void)submit_ok(src, block);
    REQUIRE(n.submit(block).accepted());
  }
}

//! The outcomes of sends started on the io thread without waiting for them (read on the io thread).
struct SendOutcomes {
  std::vector<WalletSendResult> ok;
  std::vector<std::pair<int, std::string>> refused;
  std::size_t done() const { return ok.size() + refused.size(); }
};

void start_send(WalletManager& wm, const std::shared_ptr<LoadedWallet>& e, Amount amount, std::optional<Amount> fee,
                const std::shared_ptr<SendOutcomes>& out) {
  asio::co_spawn(e->relock.get_executor(), wm.send(e, pub(9), amount, fee, false),
                 [out](std::exception_ptr ex, WalletSendResult r) {
                   if (!ex) {
                     out->ok.push_back(std::move(r));
                     return;
                   }
                   try {
                     std::rethrow_exception(ex);
                   } catch (const RpcError& err) {
                     out->refused.emplace_back(err.code, err.what());
                   } catch (const std::exception& other) {
                     out->refused.emplace_back(0, other.what());
                   }
                 });
}

//! Waits (bounded) until `count` of the sends have returned.
void wait_sends(InProcessNode& n, const std::shared_ptr<SendOutcomes>& out, std::size_t count) {
  for (int i = 0; i < 1500 && n.on_io([&] { return out->done(); }) < count; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(n.on_io([&] { return out->done(); }) == count);
}

//! Each sender's nonces among the pooled transactions: 0, 1, 2, ... with no two alike.
void check_consecutive_nonces(InProcessNode& n, const std::vector<WalletSendResult>& sends) {
  std::map<PublicKey, std::vector<std::uint64_t>> nonces;
  for (const auto& s : sends) {
    for (const auto& id : s.txids) {
      const Transaction tx = pooled(n, id);
      nonces[tx.sender].push_back(tx.nonce);
    }
  }
  for (auto& [sender, list] : nonces) {
    std::sort(list.begin(), list.end());
    for (std::size_t i = 0; i < list.size(); ++i) CHECK(list[i] == i);
  }
}

}  // namespace

TEST_CASE("send: concurrent sends of one wallet queue and never share a nonce", "[daemon][wallet][send]") {
  InProcessNode n;
  WalletManager& wm = *n.ctx().wallets;
  auto e = n.await_on_io<WalletManager::Created>([&]() { return wm.create("queue", std::nullopt, false); }).entry;
  const PublicKey a = n.on_io([&] { return wm.mining_address(*e); });
  const PublicKey b = n.on_io([&] { return wallet_value(e->wallet.new_address("second")).pubkey; });
  fund_two_addresses(n, a, b);
  const Amount fee = n.on_io([&] { return wm.default_fee(); });
  auto out = std::make_shared<SendOutcomes>();

  SECTION("started together, each with a higher fee: all enter the mempool, none replaced") {
    n.on_io([&] {
      for (int i = 0; i < 5; ++i) start_send(wm, e, kCoin, fee * static_cast<Amount>(i + 1), out);
      return 0;
    });
    wait_sends(n, out, 5);
    CHECK(n.on_io([&] { return out->refused; }).empty());
    const auto sends = n.on_io([&] { return out->ok; });
    REQUIRE(sends.size() == 5);
    check_consecutive_nonces(n, sends);
    CHECK(n.on_io([&] { return n.ctx().mempool->size(); }) == 5);
  }

  SECTION("at most kMaxQueuedWalletSends wait; one more is refused at once with -4") {
    // Hold the wallet's turn as a send in progress would.
    auto held = std::make_shared<std::optional<io::QueuedLock::Guard>>();
    REQUIRE(n.await_on_io<bool>([&]() -> asio::awaitable<bool> {
      *held = co_await e->send_lock.lock();
      co_return held->has_value();
    }));
    n.on_io([&] {
      for (std::size_t i = 0; i < kMaxQueuedWalletSends; ++i) start_send(wm, e, kCoin, std::nullopt, out);
      return 0;
    });
    CHECK(n.on_io([&] { return e->send_lock.waiting(); }) == kMaxQueuedWalletSends);
    CHECK(n.on_io([&] { return out->done(); }) == 0);
    // The bound reached: one more is refused without waiting, and queues nothing.
    const auto [code, message] = send_error(n, e, kCoin, std::nullopt, false);
    CHECK(code == kRpcWalletError);
    CHECK(message == fmt::format("Too many sends waiting for wallet \"queue\": {} already wait behind the one in "
                                 "progress (the limit per wallet); retry once some have returned",
                                 kMaxQueuedWalletSends));
    CHECK(n.on_io([&] { return e->send_lock.waiting(); }) == kMaxQueuedWalletSends);
    CHECK(n.on_io([&] { return n.ctx().mempool->size(); }) == 0);
    // Released: the queued sends run one after the other, in order, each with its own nonce.
    n.on_io([&] {
      held->reset();
      return 0;
    });
    wait_sends(n, out, kMaxQueuedWalletSends);
    CHECK(n.on_io([&] { return out->refused; }).empty());
    const auto sends = n.on_io([&] { return out->ok; });
    REQUIRE(sends.size() == kMaxQueuedWalletSends);
    check_consecutive_nonces(n, sends);
    CHECK(n.on_io([&] { return n.ctx().mempool->size(); }) == kMaxQueuedWalletSends);
    CHECK_FALSE(n.on_io([&] { return e->send_lock.locked(); }));
  }
}
