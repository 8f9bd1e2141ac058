// The wallet's `send`: which addresses pay (the smallest that covers amount + fee alone, else with
// split the largest first), the nonces that follow pending spends, and the RPC errors it answers
// (-3 invalid amount, -8 fee out of bounds, -13 locked, -6 insufficient funds).
#include <coroutine>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>

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
