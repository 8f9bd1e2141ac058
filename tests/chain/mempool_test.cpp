#include "chain/mempool.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "consensus/params.hpp"
#include "consensus/validation.hpp"
#include "primitives/block.hpp"
#include "primitives/keys.hpp"
#include "primitives/transaction.hpp"

using namespace cheese;

namespace {

const ChainParams& regtest() { return chain_params(Network::kRegtest); }

SecretKey key(std::uint8_t n) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(n);
  return SecretKey::from_seed(seed);
}

class MapView : public AccountView {
 public:
  Account account(const PublicKey& k) const override {
    const auto it = accounts.find(k);
    return it == accounts.end() ? Account{} : it->second;
  }
  void set(const PublicKey& k, Amount balance, std::uint64_t nonce = 0) { accounts[k] = {balance, nonce}; }

  std::unordered_map<PublicKey, Account, PublicKeyHasher> accounts;
};

//! A signed transfer from `from`; `recipient_seed` picks the recipient (so that two transfers
//! with equal fields but different recipients are distinct).
Transaction transfer(const SecretKey& from, std::uint64_t nonce, Amount amount, Amount fee,
                     std::uint8_t recipient_seed = 200) {
  Transaction tx;
  tx.kind = TxKind::kTransfer;
  tx.sender = from.public_key();
  tx.recipient = key(recipient_seed).public_key();
  tx.amount = amount;
  tx.fee = fee;
  tx.nonce = nonce;
  sign_transaction(tx, from, regtest().magic);
  return tx;
}

Block block_of(std::vector<Transaction> transfers, std::uint64_t height = 1) {
  Block b;
  Amount fees = 0;
  for (const auto& tx : transfers) fees += tx.fee;
  b.txs.push_back(make_coinbase(key(250).public_key(), block_subsidy(height, regtest()) + fees, height));
  b.txs.insert(b.txs.end(), transfers.begin(), transfers.end());
  b.header.merkle_root = merkle_root(b);
  return b;
}

std::vector<Hash256> ids(const std::vector<Transaction>& txs) {
  std::vector<Hash256> out;
  for (const auto& tx : txs) out.push_back(txid(tx));
  return out;
}

std::vector<Hash256> sorted(std::vector<Hash256> v) {
  std::sort(v.begin(), v.end());
  return v;
}

//! Every index agrees: entry count, byte total, at most one transaction per sender and nonce.
void check_consistent(const Mempool& pool) {
  std::size_t total = 0;
  std::vector<std::pair<PublicKey, std::uint64_t>> slots;
  for (const auto* e : pool.entries()) {
    total += e->size;
    CHECK(e->txid == txid(e->tx));
    CHECK(pool.find(e->txid) == e);
    slots.emplace_back(e->tx.sender, e->tx.nonce);
  }
  CHECK(total == pool.bytes());
  CHECK(pool.entries().size() == pool.size());
  std::sort(slots.begin(), slots.end());
  CHECK(std::adjacent_find(slots.begin(), slots.end()) == slots.end());
  CHECK(pool.bytes() <= pool.limits().max_bytes);
}

constexpr Amount kFee = 2000;
constexpr std::int64_t kNow = 1'700'000'000;

}  // namespace

TEST_CASE("mempool accepts a valid transfer", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto alice = key(1);
  view.set(alice.public_key(), 10 * kCoin);
  const auto tx = transfer(alice, 0, kCoin, kFee);

  const auto r = pool.accept(tx, view, kNow);
  CHECK(r.ok());
  CHECK(r.reason == MempoolReject::kOk);
  CHECK(r.consensus == Reject::kOk);
  CHECK(r.replaced.empty());
  CHECK(r.evicted.empty());
  CHECK(pool.contains(txid(tx)));
  REQUIRE(pool.find(txid(tx)) != nullptr);
  CHECK(pool.find(txid(tx))->tx == tx);
  CHECK(pool.find(txid(tx))->time == kNow);
  CHECK(pool.find(txid(tx))->size == kTransferSize);
  CHECK(pool.size() == 1);
  CHECK(pool.bytes() == kTransferSize);
  CHECK(pool.pending_for(alice.public_key(), view) == std::pair<std::uint64_t, Amount>{1, kCoin + kFee});
  CHECK(pool.min_fee() == kMinRelayFee);
  CHECK(to_string(MempoolReject::kOk) == "ok");
  check_consistent(pool);
}

TEST_CASE("mempool refuses a transaction it already has", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto alice = key(1);
  view.set(alice.public_key(), 10 * kCoin);
  const auto tx = transfer(alice, 0, kCoin, kFee);
  REQUIRE(pool.accept(tx, view, kNow).ok());
  const auto r = pool.accept(tx, view, kNow + 1);
  CHECK(r.reason == MempoolReject::kAlreadyKnown);
  CHECK(to_string(r.reason) == "already-known");
  CHECK(pool.size() == 1);
  CHECK(pool.find(txid(tx))->time == kNow);
}

TEST_CASE("mempool refuses a fee below the relay minimum", "[chain][mempool]") {
  MapView view;
  const auto alice = key(1);
  view.set(alice.public_key(), 10 * kCoin);
  {
    Mempool pool(regtest());
    const auto r = pool.accept(transfer(alice, 0, kCoin, kMinRelayFee - 1), view, kNow);
    CHECK(r.reason == MempoolReject::kFeeTooLow);
    CHECK(pool.size() == 0);
    CHECK(pool.accept(transfer(alice, 0, kCoin, kMinRelayFee), view, kNow).ok());
  }
  {
    // The minimum is policy: a node may configure it away.
    Mempool pool(regtest(), MempoolLimits{.min_relay_fee = 0});
    CHECK(pool.accept(transfer(alice, 0, kCoin, 0), view, kNow).ok());
  }
}

TEST_CASE("mempool refuses a coinbase", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto r = pool.accept(make_coinbase(key(1).public_key(), 50 * kCoin, 7), view, kNow);
  CHECK(r.reason == MempoolReject::kConsensus);
  CHECK(r.consensus == Reject::kTxCoinbaseOutOfPlace);
  CHECK(pool.size() == 0);
}

TEST_CASE("mempool refuses a bad signature unless already checked", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto alice = key(1);
  view.set(alice.public_key(), 10 * kCoin);

  auto forged = transfer(alice, 0, kCoin, kFee);
  forged.amount += 1;  // signature no longer covers the fields
  auto r = pool.accept(forged, view, kNow);
  CHECK(r.reason == MempoolReject::kConsensus);
  CHECK(r.consensus == Reject::kTxBadSignature);

  // Signed for another network.
  auto foreign = transfer(alice, 0, kCoin, kFee);
  sign_transaction(foreign, alice, chain_params(Network::kMain).magic);
  r = pool.accept(foreign, view, kNow);
  CHECK(r.reason == MempoolReject::kConsensus);
  CHECK(r.consensus == Reject::kTxBadSignature);
  CHECK(pool.size() == 0);

  // The caller vouches for the signature (e.g. checked on the worker pool): not checked again.
  CHECK(pool.accept(forged, view, kNow, /*signature_checked=*/true).ok());
}

TEST_CASE("mempool refuses a nonce below the confirmed one", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto alice = key(1);
  view.set(alice.public_key(), 10 * kCoin, 5);
  const auto r = pool.accept(transfer(alice, 4, kCoin, kFee), view, kNow);
  CHECK(r.reason == MempoolReject::kConsensus);
  CHECK(r.consensus == Reject::kTxNonceTooLow);
  CHECK(pool.accept(transfer(alice, 5, kCoin, kFee), view, kNow).ok());
}

TEST_CASE("mempool refuses a nonce too far ahead of the confirmed one", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto alice = key(1);
  view.set(alice.public_key(), 10 * kCoin, 5);
  const auto r = pool.accept(transfer(alice, 5 + kMaxMempoolTxsPerSender, kCoin, kFee), view, kNow);
  CHECK(r.reason == MempoolReject::kNonceTooFarAhead);
  CHECK(pool.size() == 0);
  CHECK(pool.accept(transfer(alice, 5 + kMaxMempoolTxsPerSender - 1, kCoin, kFee), view, kNow).ok());
}

TEST_CASE("mempool keeps a nonce gap but only the consecutive run is ready", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto alice = key(1);
  view.set(alice.public_key(), 10 * kCoin, 3);
  const auto tx3 = transfer(alice, 3, kCoin, kFee);
  const auto tx4 = transfer(alice, 4, kCoin, kFee);
  const auto tx5 = transfer(alice, 5, kCoin, kFee);

  REQUIRE(pool.accept(tx5, view, kNow).ok());
  REQUIRE(pool.accept(tx4, view, kNow).ok());
  CHECK(pool.size() == 2);
  CHECK(pool.select_for_block(kMaxBlockSize, view).empty());
  CHECK(pool.pending_for(alice.public_key(), view) == std::pair<std::uint64_t, Amount>{3, 0});

  REQUIRE(pool.accept(tx3, view, kNow).ok());
  CHECK(pool.select_for_block(kMaxBlockSize, view) == std::vector<Transaction>{tx3, tx4, tx5});
  CHECK(pool.pending_for(alice.public_key(), view) == std::pair<std::uint64_t, Amount>{6, 3 * (kCoin + kFee)});
  check_consistent(pool);
}

TEST_CASE("mempool checks the balance across a sender's chain of nonces", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto alice = key(1);
  view.set(alice.public_key(), 3 * kCoin);

  // Alone, one transfer can exceed the balance.
  auto r = pool.accept(transfer(alice, 0, 3 * kCoin, kFee), view, kNow);
  CHECK(r.reason == MempoolReject::kConsensus);
  CHECK(r.consensus == Reject::kTxInsufficientBalance);

  REQUIRE(pool.accept(transfer(alice, 0, kCoin, kFee), view, kNow).ok());
  REQUIRE(pool.accept(transfer(alice, 1, kCoin, kFee), view, kNow).ok());
  // Each fits the balance on its own, but not after the two before it.
  r = pool.accept(transfer(alice, 2, kCoin, kFee), view, kNow);
  CHECK(r.reason == MempoolReject::kConsensus);
  CHECK(r.consensus == Reject::kTxInsufficientBalance);
  // Exactly the rest is fine.
  CHECK(pool.accept(transfer(alice, 2, kCoin - 3 * kFee, kFee), view, kNow).ok());
  CHECK(pool.pending_for(alice.public_key(), view).second == 3 * kCoin);

  // An out-of-order arrival counts the pooled predecessors too, across a gap.
  const auto bob = key(2);
  view.set(bob.public_key(), kCoin);
  REQUIRE(pool.accept(transfer(bob, 0, kCoin / 2, kFee), view, kNow).ok());
  r = pool.accept(transfer(bob, 2, kCoin / 2, kFee), view, kNow);
  CHECK(r.reason == MempoolReject::kConsensus);
  CHECK(r.consensus == Reject::kTxInsufficientBalance);
  check_consistent(pool);
}

TEST_CASE("mempool filling a gap drops later nonces the balance no longer covers", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto alice = key(1);
  view.set(alice.public_key(), 3 * kCoin);
  const auto tx1 = transfer(alice, 1, kCoin, kFee);
  const auto tx2 = transfer(alice, 2, kCoin, kFee);
  REQUIRE(pool.accept(tx1, view, kNow).ok());
  REQUIRE(pool.accept(tx2, view, kNow).ok());
  // Nonce 0 comes first in any block: it stays, and nonce 2 no longer fits behind it.
  const auto tx0 = transfer(alice, 0, kCoin, kFee);
  const auto r = pool.accept(tx0, view, kNow);
  REQUIRE(r.ok());
  CHECK(r.replaced == std::vector<Hash256>{txid(tx2)});
  CHECK(pool.contains(txid(tx0)));
  CHECK(pool.contains(txid(tx1)));
  CHECK_FALSE(pool.contains(txid(tx2)));
  check_consistent(pool);
}

TEST_CASE("mempool replaces same sender and nonce only for a higher fee", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto alice = key(1);
  view.set(alice.public_key(), 10 * kCoin);
  const auto original = transfer(alice, 0, kCoin, kFee);
  REQUIRE(pool.accept(original, view, kNow).ok());

  const auto cheap = transfer(alice, 0, kCoin, kFee + kMinReplacementFeeIncrement - 1, 201);
  auto r = pool.accept(cheap, view, kNow);
  CHECK(r.reason == MempoolReject::kReplacementFeeTooLow);
  CHECK(to_string(r.reason) == "replacement-fee-too-low");
  CHECK(pool.contains(txid(original)));
  CHECK_FALSE(pool.contains(txid(cheap)));

  const auto bumped = transfer(alice, 0, kCoin, kFee + kMinReplacementFeeIncrement, 201);
  r = pool.accept(bumped, view, kNow + 10);
  REQUIRE(r.ok());
  CHECK(r.replaced == std::vector<Hash256>{txid(original)});
  CHECK(r.evicted.empty());
  CHECK_FALSE(pool.contains(txid(original)));
  CHECK(pool.contains(txid(bumped)));
  CHECK(pool.size() == 1);
  check_consistent(pool);
}

TEST_CASE("mempool never replaces when asked not to (a wallet's own sends)", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto alice = key(1);
  view.set(alice.public_key(), 10 * kCoin);
  const auto first = transfer(alice, 0, kCoin, kFee);
  REQUIRE(pool.accept(first, view, kNow, false, ReplacePolicy::kNever).ok());
  // A second payment with the same nonce and a far higher fee: refused, the first stays.
  const auto second = transfer(alice, 0, 2 * kCoin, kFee * 10, 202);
  CHECK(pool.precheck(second, view, ReplacePolicy::kNever).reason == MempoolReject::kConflict);
  const auto r = pool.accept(second, view, kNow, false, ReplacePolicy::kNever);
  CHECK(r.reason == MempoolReject::kConflict);
  CHECK(to_string(r.reason) == "txn-mempool-conflict");
  CHECK(r.replaced.empty());
  CHECK(pool.contains(txid(first)));
  CHECK_FALSE(pool.contains(txid(second)));
  CHECK(pool.size() == 1);
  // The next nonce is no conflict; relay policy (the default) still replaces by fee.
  CHECK(pool.accept(transfer(alice, 1, kCoin, kFee), view, kNow, false, ReplacePolicy::kNever).ok());
  const auto relayed = pool.accept(second, view, kNow);
  REQUIRE(relayed.ok());
  CHECK(relayed.replaced.front() == txid(first));
  check_consistent(pool);
}

TEST_CASE("mempool replacement drops later nonces the balance no longer covers", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto alice = key(1);
  view.set(alice.public_key(), 4 * kCoin);
  const auto tx0 = transfer(alice, 0, kCoin, kFee);
  const auto tx1 = transfer(alice, 1, kCoin, kFee);
  const auto tx2 = transfer(alice, 2, kCoin, kFee);
  const auto tx3 = transfer(alice, 3, kCoin / 2, kFee);
  for (const auto& tx : {tx0, tx1, tx2, tx3}) REQUIRE(pool.accept(tx, view, kNow).ok());

  // A larger nonce-0 payment: nonce 1 still fits, nonces 2 and 3 no longer do.
  const auto bigger = transfer(alice, 0, 2 * kCoin, 10 * kFee);
  const auto r = pool.accept(bigger, view, kNow);
  REQUIRE(r.ok());
  CHECK(r.replaced == std::vector<Hash256>{txid(tx0), txid(tx2), txid(tx3)});
  CHECK(pool.contains(txid(bigger)));
  CHECK(pool.contains(txid(tx1)));
  CHECK(pool.size() == 2);
  CHECK(pool.pending_for(alice.public_key(), view) == std::pair<std::uint64_t, Amount>{2, 3 * kCoin + 11 * kFee});
  check_consistent(pool);
}

TEST_CASE("mempool never holds two transfers with the same sender and nonce", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto alice = key(1);
  view.set(alice.public_key(), 10 * kCoin);
  const auto to_bob = transfer(alice, 0, 5 * kCoin, kFee, 2);
  const auto to_carol = transfer(alice, 0, 5 * kCoin, kFee, 3);
  const auto to_dave = transfer(alice, 0, 5 * kCoin, kFee + kMinReplacementFeeIncrement, 4);
  const auto count_nonce0 = [&] {
    const auto all = pool.entries();
    return std::count_if(all.begin(), all.end(), [&](const MempoolEntry* e) {
      return e->tx.sender == alice.public_key() && e->tx.nonce == 0;
    });
  };
  REQUIRE(pool.accept(to_bob, view, kNow).ok());
  CHECK(pool.accept(to_carol, view, kNow).reason == MempoolReject::kReplacementFeeTooLow);
  CHECK(count_nonce0() == 1);
  REQUIRE(pool.accept(to_dave, view, kNow).ok());
  CHECK(count_nonce0() == 1);
  CHECK(pool.contains(txid(to_dave)));
  CHECK_FALSE(pool.contains(txid(to_bob)));
  // The displaced spend cannot come back at its old fee either.
  CHECK(pool.accept(to_bob, view, kNow).reason == MempoolReject::kReplacementFeeTooLow);
  CHECK(count_nonce0() == 1);
  check_consistent(pool);
}

TEST_CASE("mempool size bound evicts the lowest fee rate with its descendants", "[chain][mempool]") {
  Mempool pool(regtest(), MempoolLimits{.max_bytes = 3 * kTransferSize});
  MapView view;
  std::vector<SecretKey> keys;
  for (std::uint8_t i = 1; i <= 6; ++i) {
    keys.push_back(key(i));
    view.set(keys.back().public_key(), 10 * kCoin);
  }
  const auto& a = keys[0];
  const auto& c = keys[2];
  const auto& d = keys[3];
  const auto& e = keys[4];
  const auto& f = keys[5];

  const auto a0 = transfer(a, 0, kCoin, 1500);
  const auto a1 = transfer(a, 1, kCoin, 9000);  // well paid, but stuck without a0
  const auto c0 = transfer(c, 0, kCoin, 5000);
  for (const auto& tx : {a0, a1, c0}) REQUIRE(pool.accept(tx, view, kNow).ok());
  CHECK(pool.bytes() == 3 * kTransferSize);
  CHECK(pool.min_fee() == 1501);

  // Not above the lowest fee rate: refused, nothing changes.
  for (Amount fee : {Amount{1000}, Amount{1500}}) {
    const auto r = pool.accept(transfer(f, 0, kCoin, fee), view, kNow);
    CHECK(r.reason == MempoolReject::kMempoolFull);
    CHECK(r.evicted.empty());
    CHECK(pool.size() == 3);
  }

  const auto d0 = transfer(d, 0, kCoin, 3000);
  auto r = pool.accept(d0, view, kNow + 1);
  REQUIRE(r.ok());
  CHECK(sorted(r.evicted) == sorted({txid(a0), txid(a1)}));
  CHECK_FALSE(pool.contains(txid(a0)));
  CHECK_FALSE(pool.contains(txid(a1)));
  CHECK(pool.size() == 2);
  CHECK(pool.min_fee() == kMinRelayFee);  // room for one more

  const auto e0 = transfer(e, 0, kCoin, 2000);
  REQUIRE(pool.accept(e0, view, kNow + 2).ok());
  CHECK(pool.min_fee() == 2001);
  r = pool.accept(transfer(f, 0, kCoin, 2000), view, kNow + 3);
  CHECK(r.reason == MempoolReject::kMempoolFull);
  CHECK(to_string(r.reason) == "mempool-full");
  CHECK(pool.size() == 3);

  // A newcomer never evicts its own predecessor (it would be stuck): refused instead.
  r = pool.accept(transfer(e, 1, kCoin, 50'000), view, kNow + 3);
  CHECK(r.reason == MempoolReject::kMempoolFull);
  CHECK(pool.contains(txid(e0)));
  CHECK(pool.size() == 3);

  // But a better newcomer takes the lowest slot.
  const auto f0 = transfer(f, 0, kCoin, 2001);
  r = pool.accept(f0, view, kNow + 4);
  REQUIRE(r.ok());
  CHECK(r.evicted == std::vector<Hash256>{txid(e0)});
  CHECK(sorted(ids(pool.select_for_block(kMaxBlockSize, view))) == sorted({txid(c0), txid(d0), txid(f0)}));
  check_consistent(pool);
}

TEST_CASE("mempool expires old transactions and their descendants", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto alice = key(1);
  const auto bob = key(2);
  view.set(alice.public_key(), 10 * kCoin);
  view.set(bob.public_key(), 10 * kCoin);
  const auto a0 = transfer(alice, 0, kCoin, kFee);
  const auto a1 = transfer(alice, 1, kCoin, kFee);
  const auto b0 = transfer(bob, 0, kCoin, kFee);
  REQUIRE(pool.accept(a0, view, kNow).ok());
  REQUIRE(pool.accept(a1, view, kNow + 1000).ok());
  REQUIRE(pool.accept(b0, view, kNow + 500).ok());

  CHECK(pool.expire(kNow + kDefaultMempoolExpirySeconds) == 0);  // exactly at expiry: kept
  CHECK(pool.size() == 3);
  // a0 is too old; a1 is young but would be stuck without it.
  CHECK(pool.expire(kNow + kDefaultMempoolExpirySeconds + 1) == 2);
  CHECK(pool.size() == 1);
  CHECK(pool.contains(txid(b0)));
  CHECK(pool.expire(kNow + 500 + kDefaultMempoolExpirySeconds + 1) == 1);
  CHECK(pool.size() == 0);
  CHECK(pool.bytes() == 0);
}

TEST_CASE("mempool block template orders by fee rate within nonce order and limits", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto a = key(1);
  const auto b = key(2);
  const auto c = key(3);
  const auto s = key(4);
  for (const auto* k : {&a, &b, &c, &s}) view.set(k->public_key(), 10 * kCoin);

  const auto a0 = transfer(a, 0, kCoin, 2000);
  const auto b0 = transfer(b, 0, kCoin, 5000);
  const auto c0 = transfer(c, 0, kCoin, 3000);
  const auto s0 = transfer(s, 0, kCoin, 1000);    // low fee first...
  const auto s1 = transfer(s, 1, kCoin, 50'000);  // ...high fee nonce after it
  for (const auto& tx : {s1, a0, b0, c0, s0}) REQUIRE(pool.accept(tx, view, kNow).ok());

  SECTION("fee rate order, a nonce never before its predecessor") {
    CHECK(pool.select_for_block(kMaxBlockSize, view) == std::vector<Transaction>{b0, c0, a0, s0, s1});
  }
  SECTION("max_bytes") {
    CHECK(pool.select_for_block(2 * kTransferSize, view) == std::vector<Transaction>{b0, c0});
    CHECK(pool.select_for_block(2 * kTransferSize + kTransferSize - 1, view) == std::vector<Transaction>{b0, c0});
    CHECK(pool.select_for_block(0, view).empty());
  }
  SECTION("balances and nonces of the given view") {
    MapView later = view;
    later.set(b.public_key(), kCoin);          // no longer covers b0
    later.set(s.public_key(), 10 * kCoin, 1);  // s0 confirmed elsewhere: s1 is next
    CHECK(pool.select_for_block(kMaxBlockSize, later) == std::vector<Transaction>{s1, c0, a0});
    later.set(s.public_key(), kCoin + 50'000, 0);  // covers s0 but not s0 + s1
    CHECK(pool.select_for_block(kMaxBlockSize, later) == std::vector<Transaction>{c0, a0, s0});
  }
}

TEST_CASE("mempool block_connected removes confirmed and invalidated transfers", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto a = key(1);
  const auto b = key(2);
  const auto d = key(4);
  view.set(a.public_key(), 10 * kCoin);
  view.set(b.public_key(), 10 * kCoin);
  view.set(d.public_key(), 10 * kCoin);

  const auto a0 = transfer(a, 0, kCoin, kFee);
  const auto a1 = transfer(a, 1, kCoin, kFee);
  const auto b0 = transfer(b, 0, kCoin, kFee, 2);
  const auto b0_elsewhere = transfer(b, 0, kCoin, kFee, 3);  // a double spend mined by someone else
  const auto d1 = transfer(d, 1, 4 * kCoin, kFee);
  const auto d2 = transfer(d, 2, 4 * kCoin, kFee);
  const auto d0_big = transfer(d, 0, 5 * kCoin, kFee);  // never pooled here
  for (const auto& tx : {a0, a1, b0, d1, d2}) REQUIRE(pool.accept(tx, view, kNow).ok());

  const MapView before = view;
  const Block block = block_of({a0, b0_elsewhere, d0_big});
  view.set(a.public_key(), 10 * kCoin - kCoin - kFee, 1);
  view.set(b.public_key(), 10 * kCoin - kCoin - kFee, 1);
  view.set(d.public_key(), 10 * kCoin - 5 * kCoin - kFee, 1);
  pool.block_connected(block, view);

  CHECK_FALSE(pool.contains(txid(a0)));  // confirmed
  CHECK(pool.contains(txid(a1)));
  CHECK_FALSE(pool.contains(txid(b0)));  // its nonce is used
  CHECK(pool.contains(txid(d1)));
  CHECK_FALSE(pool.contains(txid(d2)));  // d's balance covers d1 only
  CHECK(pool.size() == 2);
  CHECK(pool.select_for_block(kMaxBlockSize, view) == std::vector<Transaction>{a1, d1});
  check_consistent(pool);

  SECTION("block_disconnected brings its transfers back") {
    // view after undoing the block; a recipient of the block had spent what it received.
    const auto r = key(200);  // the recipient of every transfer above
    MapView with_block = view;
    with_block.set(r.public_key(), 7 * kCoin);
    const auto r0 = transfer(r, 0, 6 * kCoin, kFee, 5);
    REQUIRE(pool.accept(r0, with_block, kNow).ok());

    pool.block_disconnected(block, before, kNow + 60);
    CHECK(pool.contains(txid(a0)));
    CHECK(pool.contains(txid(a1)));
    CHECK(pool.contains(txid(b0_elsewhere)));  // the spend that was mined, not ours
    CHECK_FALSE(pool.contains(txid(b0)));
    CHECK(pool.contains(txid(d0_big)));
    CHECK(pool.contains(txid(d1)));
    CHECK_FALSE(pool.contains(txid(r0)));  // r has nothing before the block
    CHECK(pool.find(txid(a0))->time == kNow + 60);
    // Equal fees: the order between senders is free, each sender's nonces are in order.
    const auto selected = ids(pool.select_for_block(kMaxBlockSize, before));
    CHECK(sorted(selected) == sorted(ids({a0, b0_elsewhere, d0_big, a1, d1})));
    const auto position = [&](const Transaction& tx) {
      return std::find(selected.begin(), selected.end(), txid(tx)) - selected.begin();
    };
    CHECK(position(a0) < position(a1));
    CHECK(position(d0_big) < position(d1));
    check_consistent(pool);
  }
}

TEST_CASE("mempool block_disconnected trims to the size bound", "[chain][mempool]") {
  Mempool pool(regtest(), MempoolLimits{.max_bytes = 2 * kTransferSize});
  MapView view;
  const auto a = key(1);
  const auto b = key(2);
  const auto c = key(3);
  for (const auto* k : {&a, &b, &c}) view.set(k->public_key(), 10 * kCoin);
  const auto a0 = transfer(a, 0, kCoin, 9000);
  const auto b0 = transfer(b, 0, kCoin, 500);  // below the relay fee, but it was mined
  const auto c0 = transfer(c, 0, kCoin, 4000);
  const MapView before = view;
  view.set(a.public_key(), 9 * kCoin - 9000, 1);
  view.set(b.public_key(), 9 * kCoin - 500, 1);
  REQUIRE(pool.accept(c0, view, kNow).ok());

  pool.block_disconnected(block_of({a0, b0}), before, kNow);
  CHECK(pool.size() == 2);
  CHECK(pool.contains(txid(a0)));
  CHECK(pool.contains(txid(c0)));
  CHECK_FALSE(pool.contains(txid(b0)));
  check_consistent(pool);
}

namespace {

//! A MapView that counts its reads: what a reorg costs in account lookups.
class CountingView final : public AccountView {
 public:
  explicit CountingView(const MapView& v) : view(v) {}
  Account account(const PublicKey& k) const override {
    ++reads;
    return view.account(k);
  }
  const MapView& view;
  mutable std::size_t reads = 0;
};

}  // namespace

TEST_CASE("mempool reorganize: once for the whole reorg, checking only the accounts it changed", "[chain][mempool]") {
  Mempool pool(regtest());
  MapView view;
  const auto a = key(1);
  const auto b = key(2);
  const auto m = key(3);     // a miner whose coinbase matured at a disconnected height
  const auto r = key(200);   // the recipient of a, b transfers
  const auto r2 = key(201);  // the recipient of the new branch's transfer
  for (const auto* k : {&a, &b, &m}) view.set(k->public_key(), 10 * kCoin);
  // 300 bystanders with pooled transfers: a reorg that does not touch them must not read them.
  std::vector<SecretKey> bystanders;
  for (int i = 0; i < 300; ++i) {
    std::array<std::uint8_t, 32> seed{};
    seed[0] = 0xb5;  // no fill pattern of key(): distinct from every other key here
    seed[1] = static_cast<std::uint8_t>(i);
    seed[2] = static_cast<std::uint8_t>(i >> 8);
    bystanders.push_back(SecretKey::from_seed(seed));
    view.set(bystanders.back().public_key(), kCoin);
    REQUIRE(pool.accept(transfer(bystanders.back(), 0, kCoin / 2, kFee), view, kNow).ok());
  }
  // Old branch (disconnected): two blocks with a0, a1 and b0.
  const auto a0 = transfer(a, 0, kCoin, kFee);
  const auto a1 = transfer(a, 1, kCoin, kFee);
  const auto b0 = transfer(b, 0, kCoin, kFee);
  // New branch (connected): a0 again and b's double spend b0' to r2.
  const auto b0_new = transfer(b, 0, 2 * kCoin, kFee, 201);
  // Pooled on the old tip: r spends what it got from a and b; m spends its matured coinbase.
  MapView old_tip = view;
  old_tip.set(a.public_key(), 10 * kCoin - 2 * (kCoin + kFee), 2);
  old_tip.set(b.public_key(), 10 * kCoin - kCoin - kFee, 1);
  old_tip.set(r.public_key(), 3 * kCoin);
  old_tip.set(m.public_key(), 60 * kCoin);
  const auto r0 = transfer(r, 0, 2 * kCoin, kFee, 7);
  const auto m0 = transfer(m, 0, 40 * kCoin, kFee, 8);
  REQUIRE(pool.accept(r0, old_tip, kNow).ok());
  REQUIRE(pool.accept(m0, old_tip, kNow).ok());

  // The new tip: a0 and b0' confirmed, r got nothing, m's coinbase is not mature any more.
  MapView new_tip = view;
  new_tip.set(a.public_key(), 10 * kCoin - kCoin - kFee, 1);
  new_tip.set(b.public_key(), 10 * kCoin - 2 * kCoin - kFee, 1);
  new_tip.set(r2.public_key(), 2 * kCoin);
  CountingView counting(new_tip);
  const std::vector<PublicKey> matured{m.public_key()};
  pool.reorganize({block_of({b0}, 2), block_of({a0, a1}, 1)}, {block_of({a0, b0_new}, 1)}, counting, kNow + 60,
                  matured);

  CHECK_FALSE(pool.contains(txid(a0)));  // confirmed again on the new branch
  CHECK(pool.contains(txid(a1)));        // back, and valid on the new tip
  CHECK_FALSE(pool.contains(txid(b0)));  // its nonce is used by b0'
  CHECK_FALSE(pool.contains(txid(b0_new)));
  CHECK_FALSE(pool.contains(txid(r0)));  // r has nothing on the new branch
  CHECK_FALSE(pool.contains(txid(m0)));  // m's matured coinbase was taken back
  for (const auto& k : bystanders) CHECK(pool.pending_for(k.public_key(), new_tip).first == 1);
  // Accounts read: a, b, r, r2's are not pooled (not read), m; never the 300 bystanders.
  CHECK(counting.reads <= 4);
  check_consistent(pool);
}
