#include "wallet/payment.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "consensus/params.hpp"
#include "wallet/wallet.hpp"
#include "wallet/wallet_test_util.hpp"

using namespace cheese;

namespace {

SecretKey key_n(std::uint8_t n) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(n);
  return SecretKey::from_seed(seed);
}

//! Keys 1..9 and a lookup over them that counts its calls.
struct Keys {
  std::map<PublicKey, std::uint8_t> seed_of;
  int lookups = 0;
  Keys() {
    for (std::uint8_t n = 1; n <= 9; ++n) seed_of.emplace(key_n(n).public_key(), n);
  }
  SigningKeyLookup lookup() {
    return [this](const PublicKey& pk) -> WalletResult<SecretKey> {
      ++lookups;
      const auto it = seed_of.find(pk);
      if (it == seed_of.end()) return Unexpected(WalletError{WalletErrc::kUnknownKey, "unknown"});
      return key_n(it->second);
    };
  }
};

const NetworkMagic& regtest_magic() { return chain_params(Network::kRegtest).magic; }

PublicKey pub(std::uint8_t n) { return key_n(n).public_key(); }
const PublicKey kTo = pub(9);

PaymentRequest request(Amount amount, Amount fee, bool split = false) { return {kTo, amount, fee, split}; }

PaymentError error_of(const PaymentResult<std::vector<Transaction>>& r) {
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

Amount total_amount(const std::vector<Transaction>& txs) {
  Amount sum = 0;
  for (const auto& tx : txs) sum += tx.amount;
  return sum;
}

}  // namespace

TEST_CASE("Payment: the smallest address that covers amount + fee pays alone", "[wallet][payment]") {
  Keys keys;
  const std::vector<SpendableAddress> sources = {{pub(1), 1000, 5}, {pub(2), 500, 0}, {pub(3), 300, 7}};

  auto txs = build_payment(sources, request(250, 50), keys.lookup(), regtest_magic());
  REQUIRE(txs.has_value());
  REQUIRE(txs->size() == 1);
  const Transaction& tx = txs->front();
  CHECK(tx.kind == TxKind::kTransfer);
  CHECK(tx.sender == pub(3));  // 300 = 250 + 50 exactly: the fee is on top of the amount
  CHECK(tx.recipient == kTo);
  CHECK(tx.amount == 250);
  CHECK(tx.fee == 50);
  CHECK(tx.nonce == 7);
  CHECK(verify_transaction_signature(tx, regtest_magic()));
  CHECK_FALSE(verify_transaction_signature(tx, chain_params(Network::kMain).magic));
  Transaction tampered = tx;
  tampered.amount += 1;
  CHECK_FALSE(verify_transaction_signature(tampered, regtest_magic()));

  // One crumb more and address 3 no longer covers it: the next smallest pays.
  auto more = build_payment(sources, request(251, 50), keys.lookup(), regtest_magic());
  REQUIRE(more.has_value());
  REQUIRE(more->size() == 1);
  CHECK(more->front().sender == pub(2));
  CHECK(more->front().nonce == 0);
  CHECK(more->front().amount == 251);

  // A zero fee is the caller's business (the daemon enforces the mempool minimum).
  auto free = build_payment(sources, request(1000, 0), keys.lookup(), regtest_magic());
  REQUIRE(free.has_value());
  CHECK(free->front().sender == pub(1));
  CHECK(free->front().fee == 0);
  CHECK(free->front().amount == 1000);
}

TEST_CASE("Payment: insufficient funds signs nothing and says how much there is", "[wallet][payment]") {
  Keys keys;
  const std::vector<SpendableAddress> sources = {{pub(1), 400, 1}, {pub(2), 0, 3}, {pub(3), 199, 2}};
  for (const bool split : {false, true}) {
    INFO("split " << split);
    const PaymentError e = error_of(build_payment(sources, request(550, 50, split), keys.lookup(), regtest_magic()));
    CHECK(e.code == PaymentErrc::kInsufficientFunds);
    CHECK(e.spendable == 599);
    CHECK(e.largest == 400);
    CHECK(e.needed == 600);
    CHECK_FALSE(e.key_error.has_value());
  }
  CHECK(error_of(build_payment({}, request(1, 0), keys.lookup(), regtest_magic())).code ==
        PaymentErrc::kInsufficientFunds);
  CHECK(keys.lookups == 0);  // no key is fetched for a payment that cannot be made
}

TEST_CASE("Payment: split over several addresses, each paying its own fee and nonce", "[wallet][payment]") {
  Keys keys;
  // Address 4 holds no more than a fee and is skipped when splitting.
  const std::vector<SpendableAddress> sources = {{pub(1), 500, 9}, {pub(2), 600, 3}, {pub(4), 50, 1}};

  SECTION("without split, enough in total but not in one address") {
    const PaymentError e = error_of(build_payment(sources, request(1000, 50), keys.lookup(), regtest_magic()));
    CHECK(e.code == PaymentErrc::kNoSingleSource);
    CHECK(e.spendable == 1150);
    CHECK(e.largest == 600);
    CHECK(e.needed == 1050);
  }
  SECTION("with split, the largest first, amounts exact") {
    auto txs = build_payment(sources, request(1000, 50, true), keys.lookup(), regtest_magic());
    REQUIRE(txs.has_value());
    REQUIRE(txs->size() == 2);
    CHECK((*txs)[0].sender == pub(2));
    CHECK((*txs)[0].amount == 550);  // 600 - its fee
    CHECK((*txs)[0].nonce == 3);
    CHECK((*txs)[1].sender == pub(1));
    CHECK((*txs)[1].amount == 450);  // the rest
    CHECK((*txs)[1].nonce == 9);
    CHECK(total_amount(*txs) == 1000);
    for (const auto& tx : *txs) {
      CHECK(tx.fee == 50);
      CHECK(tx.recipient == kTo);
      CHECK(verify_transaction_signature(tx, regtest_magic()));
    }
  }
  SECTION("the fee of each part can make a split fall short") {
    // 1,100 spendable covers 1,050 + 50 once, but two transactions pay two fees.
    const std::vector<SpendableAddress> two = {{pub(1), 500, 0}, {pub(2), 600, 0}};
    CHECK(error_of(build_payment(two, request(1050, 50, true), keys.lookup(), regtest_magic())).code ==
          PaymentErrc::kInsufficientFunds);
    CHECK(error_of(build_payment(two, request(1050, 50, false), keys.lookup(), regtest_magic())).code ==
          PaymentErrc::kNoSingleSource);
    auto exact = build_payment(two, request(1000, 50, true), keys.lookup(), regtest_magic());
    REQUIRE(exact.has_value());
    CHECK(total_amount(*exact) == 1000);
  }
}

TEST_CASE("Payment: nonces follow the account state given, and the order of sources does not matter",
          "[wallet][payment]") {
  Keys keys;
  std::vector<SpendableAddress> state = {{pub(1), 10'000, 41}};
  std::vector<std::uint64_t> nonces;
  for (int i = 0; i < 3; ++i) {
    auto txs = build_payment(state, request(1000, 100), keys.lookup(), regtest_magic());
    REQUIRE(txs.has_value());
    REQUIRE(txs->size() == 1);
    nonces.push_back(txs->front().nonce);
    // What the daemon's state shows once the transfer is pending.
    state[0].available -= 1100;
    state[0].next_nonce += 1;
  }
  CHECK(nonces == std::vector<std::uint64_t>{41, 42, 43});
  CHECK(state[0].available == 6700);

  // Equal balances are ordered by key: shuffling the input gives the same signed transactions.
  const std::vector<SpendableAddress> a = {{pub(1), 300, 1}, {pub(2), 300, 2}, {pub(3), 300, 3}};
  const std::vector<SpendableAddress> b = {a[2], a[0], a[1]};
  auto from_a = build_payment(a, request(500, 10, true), keys.lookup(), regtest_magic());
  auto from_b = build_payment(b, request(500, 10, true), keys.lookup(), regtest_magic());
  REQUIRE(from_a.has_value());
  REQUIRE(from_b.has_value());
  CHECK(*from_a == *from_b);
  CHECK(from_a->size() == 2);
  CHECK((*from_a)[0].nonce != (*from_a)[1].nonce);  // different senders, each with its own nonce
}

TEST_CASE("Payment: invalid amounts and duplicate sources", "[wallet][payment]") {
  Keys keys;
  const std::vector<SpendableAddress> sources = {{pub(1), kMaxMoney, 0}};
  for (const auto& [amount, fee] :
       std::vector<std::pair<Amount, Amount>>{{0, 10}, {kMaxMoney + 1, 0}, {10, kMaxMoney + 1}}) {
    INFO(amount << " + " << fee);
    CHECK(error_of(build_payment(sources, request(amount, fee), keys.lookup(), regtest_magic())).code ==
          PaymentErrc::kInvalidAmount);
  }
  const std::vector<SpendableAddress> twice = {{pub(1), 100, 0}, {pub(1), 100, 1}};
  CHECK(error_of(build_payment(twice, request(10, 1), keys.lookup(), regtest_magic())).code ==
        PaymentErrc::kDuplicateSource);
  CHECK(to_string(PaymentErrc::kNoSingleSource) == "insufficient funds in one address");
}

TEST_CASE("Payment: a key problem yields no transaction", "[wallet][payment]") {
  const std::vector<SpendableAddress> sources = {{pub(1), 500, 0}, {pub(2), 600, 0}};
  SECTION("a locked wallet") {
    int calls = 0;
    const SigningKeyLookup locked_second = [&](const PublicKey& pk) -> WalletResult<SecretKey> {
      ++calls;
      if (pk == pub(1)) return Unexpected(WalletError{WalletErrc::kLocked, "locked"});
      return key_n(2);
    };
    const PaymentError e = error_of(build_payment(sources, request(1000, 50, true), locked_second, regtest_magic()));
    CHECK(e.code == PaymentErrc::kKey);
    REQUIRE(e.key_error.has_value());
    CHECK(e.key_error->code == WalletErrc::kLocked);
    CHECK(calls == 2);
  }
  SECTION("a key that does not match its address") {
    const SigningKeyLookup wrong = [](const PublicKey&) -> WalletResult<SecretKey> { return key_n(7); };
    const PaymentError e = error_of(build_payment(sources, request(100, 5), wrong, regtest_magic()));
    CHECK(e.code == PaymentErrc::kKey);
    REQUIRE(e.key_error.has_value());
    CHECK(e.key_error->code == WalletErrc::kUnknownKey);
  }
}

TEST_CASE("Payment: signed with a wallet's own keys", "[wallet][payment]") {
  test::TempDir dir;
  WalletOptions options;
  options.network = Network::kRegtest;
  options.kdf = KdfLimits::minimum();
  options.keypool_size = 3;
  auto created = Wallet::create(dir.path() / "pay.wallet", "pay", std::nullopt, options);
  REQUIRE(created.has_value());
  Wallet& w = created->wallet;
  const auto a = w.new_address();
  const auto b = w.new_address();
  REQUIRE((a.has_value() && b.has_value()));
  const std::vector<SpendableAddress> sources = {{a->pubkey, 700, 2}, {b->pubkey, 400, 5}};
  const SigningKeyLookup from_wallet = [&](const PublicKey& pk) { return w.key_for(pk); };

  auto txs = build_payment(sources, request(1000, 20, true), from_wallet, regtest_magic());
  REQUIRE(txs.has_value());
  REQUIRE(txs->size() == 2);
  CHECK(total_amount(*txs) == 1000);
  for (const auto& tx : *txs) {
    CHECK(w.is_mine(tx.sender));
    CHECK(verify_transaction_signature(tx, regtest_magic()));
  }
  CHECK((*txs)[0].sender == a->pubkey);
  CHECK((*txs)[0].nonce == 2);
  CHECK((*txs)[1].nonce == 5);
}

TEST_CASE("Payment: an address without room in its mempool window does not pay", "[wallet][payment]") {
  Keys keys;
  // Address 3 would be chosen (the smallest that covers 300), but it has no room: 2 pays.
  const std::vector<SpendableAddress> sources = {{pub(1), 1000, 5, 25}, {pub(2), 500, 0, 1}, {pub(3), 300, 7, 0}};
  auto txs = build_payment(sources, request(250, 50), keys.lookup(), regtest_magic());
  REQUIRE(txs.has_value());
  REQUIRE(txs->size() == 1);
  CHECK(txs->front().sender == pub(2));
  CHECK(txs->front().nonce == 0);

  // Split skips the full address too: 1000 - 50 and 500 - 50 pay 1,200 without address 3.
  auto split = build_payment(sources, request(1200, 50, true), keys.lookup(), regtest_magic());
  REQUIRE(split.has_value());
  REQUIRE(split->size() == 2);
  CHECK(split->at(0).sender == pub(1));
  CHECK(split->at(1).sender == pub(2));

  // Enough funds, but only on addresses without room: kSenderWindowFull, and no key fetched.
  const std::vector<SpendableAddress> full = {{pub(1), 1000, 25, 0}, {pub(2), 500, 25, 0}, {pub(4), 10, 0, 25}};
  const int before = keys.lookups;
  const PaymentError e = error_of(build_payment(full, request(250, 50), keys.lookup(), regtest_magic()));
  CHECK(e.code == PaymentErrc::kSenderWindowFull);
  CHECK(e.full == 2);
  CHECK(e.needed == 300);
  CHECK(keys.lookups == before);
  // Not enough even with room everywhere: still insufficient funds, not a full window.
  CHECK(error_of(build_payment(full, request(2000, 50, true), keys.lookup(), regtest_magic())).code ==
        PaymentErrc::kInsufficientFunds);
}
