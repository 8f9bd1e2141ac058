#include "consensus/validation.hpp"

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "consensus/params.hpp"
#include "consensus/pow.hpp"
#include "consensus/test_blocks.hpp"
#include "primitives/block.hpp"
#include "primitives/transaction.hpp"
#include "test_util.hpp"

using namespace cheese;
using namespace cheese::test;

namespace {

constexpr std::uint64_t kHeight = 20;  // above regtest maturity, subsidy 50 CHZ
constexpr Amount kSubsidy = 50 * kCoin;

//! Applies a delta to a view, as the chain layer does when it connects a block.
void apply(MapView& view, const StateDelta& delta) {
  for (const auto& [key, account] : delta.after) view.accounts[key] = account;
}

//! Runs connect_block_transactions on a fresh delta.
Verdict connect(const Block& b, const MapView& view, StateDelta& delta, std::uint64_t height = kHeight,
                std::optional<MaturingReward> matured = std::nullopt) {
  return connect_block_transactions(b, height, regtest(), view, matured, delta);
}

//! A mined block at kHeight holding `txs` after a correct coinbase.
Block block_with(std::vector<Transaction> txs) { return make_block(kHeight, std::move(txs)); }

BlockHeader bitcoin_genesis_header() {
  auto h = decode_header(
      hex("0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e"
          "67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"));
  REQUIRE(h.has_value());
  return *h;
}

struct Keys {
  SecretKey alice = key_from_byte(1);
  SecretKey bob = key_from_byte(2);
  SecretKey carol = key_from_byte(3);
  PublicKey a = alice.public_key();
  PublicKey b = bob.public_key();
  PublicKey c = carol.public_key();
};

}  // namespace

// ===================== check_transaction =====================

TEST_CASE("check_transaction accepts a plain transfer and the amount boundaries", "[consensus][validation]") {
  Keys k;
  CHECK(check_transaction(make_transfer(k.alice, k.b, kCoin, 100, 0)).ok());
  CHECK(check_transaction(unsigned_transfer(k.a, k.b, 1, 0, 0)).ok());
  CHECK(check_transaction(unsigned_transfer(k.a, k.b, kMaxMoney, 0, 0)).ok());
  CHECK(check_transaction(unsigned_transfer(k.a, k.b, 1, kMaxMoney - 1, 0)).ok());
  CHECK(check_transaction(unsigned_transfer(k.a, k.b, kMaxMoney / 2, kMaxMoney / 2, 0)).ok());
}

TEST_CASE("check_transaction: a coinbase on its own is out of place", "[consensus][validation]") {
  const Verdict v = check_transaction(make_coinbase(fake_key(1), kSubsidy, 1));
  CHECK(v.reason == Reject::kTxCoinbaseOutOfPlace);
  CHECK_FALSE(v.ok());
  CHECK_FALSE(static_cast<bool>(v));
}

TEST_CASE("check_transaction: a zero amount is rejected", "[consensus][validation]") {
  Keys k;
  CHECK(check_transaction(make_transfer(k.alice, k.b, 0, 100, 0)).reason == Reject::kTxZeroAmount);
  CHECK(check_transaction(unsigned_transfer(k.a, k.b, 0, 0, 0)).reason == Reject::kTxZeroAmount);
}

TEST_CASE("check_transaction: an amount above the total supply is out of range", "[consensus][validation]") {
  Keys k;
  CHECK(check_transaction(unsigned_transfer(k.a, k.b, kMaxMoney + 1, 0, 0)).reason == Reject::kTxAmountOutOfRange);
  CHECK(check_transaction(unsigned_transfer(k.a, k.b, ~Amount{0}, 0, 0)).reason == Reject::kTxAmountOutOfRange);
}

TEST_CASE("check_transaction: a fee above the total supply is out of range", "[consensus][validation]") {
  Keys k;
  CHECK(check_transaction(unsigned_transfer(k.a, k.b, 1, kMaxMoney + 1, 0)).reason == Reject::kTxAmountOutOfRange);
  // Would wrap amount + fee to 0 in 64 bits.
  CHECK(check_transaction(unsigned_transfer(k.a, k.b, 1, ~Amount{0}, 0)).reason == Reject::kTxAmountOutOfRange);
}

TEST_CASE("check_transaction: amount + fee above the total supply is out of range", "[consensus][validation]") {
  Keys k;
  CHECK(check_transaction(unsigned_transfer(k.a, k.b, kMaxMoney, 1, 0)).reason == Reject::kTxAmountOutOfRange);
  CHECK(check_transaction(unsigned_transfer(k.a, k.b, kMaxMoney / 2 + 1, kMaxMoney / 2, 0)).reason ==
        Reject::kTxAmountOutOfRange);
}

// ===================== check_transaction_signature =====================

TEST_CASE("check_transaction_signature accepts a transfer signed for the network", "[consensus][validation]") {
  Keys k;
  CHECK(check_transaction_signature(make_transfer(k.alice, k.b, kCoin, 1, 0), regtest().magic).ok());
}

TEST_CASE("check_transaction_signature: a bad signature is rejected", "[consensus][validation]") {
  Keys k;
  Transaction tx = make_transfer(k.alice, k.b, kCoin, 1, 0);
  tx.signature[10] ^= 0x01;
  CHECK(check_transaction_signature(tx, regtest().magic).reason == Reject::kTxBadSignature);
  // Signed by one key, claiming another as sender.
  Transaction forged = make_transfer(k.alice, k.b, kCoin, 1, 0);
  forged.sender = k.c;
  CHECK(check_transaction_signature(forged, regtest().magic).reason == Reject::kTxBadSignature);
  // A coinbase carries no signature.
  CHECK(check_transaction_signature(make_coinbase(k.a, kSubsidy, 1), regtest().magic).reason ==
        Reject::kTxBadSignature);
}

TEST_CASE("check_transaction_signature: a transfer of another network is a bad signature",
          "[consensus][validation]") {
  Keys k;
  const auto& main = chain_params(Network::kMain);
  const auto& test = chain_params(Network::kTest);
  const Transaction for_main = make_transfer(k.alice, k.b, kCoin, 1, 0, main.magic);
  CHECK(check_transaction_signature(for_main, main.magic).ok());
  CHECK(check_transaction_signature(for_main, regtest().magic).reason == Reject::kTxBadSignature);
  CHECK(check_transaction_signature(for_main, test.magic).reason == Reject::kTxBadSignature);
  const Transaction for_regtest = make_transfer(k.alice, k.b, kCoin, 1, 0);
  CHECK(check_transaction_signature(for_regtest, main.magic).reason == Reject::kTxBadSignature);
}

// ===================== check_header_pow =====================

TEST_CASE("Bitcoin's genesis header passes the proof-of-work check", "[consensus][validation]") {
  const BlockHeader h = bitcoin_genesis_header();
  CHECK(block_hash(h).to_display_hex() == "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
  CHECK(check_proof_of_work(block_hash(h), 0x1d00ffff, decode_compact(0x1d00ffff).target));
  // Main's limit (0x1e0fffff) is easier than 0x1d00ffff, so the whole header check passes.
  CHECK(check_header_pow(h, chain_params(Network::kMain)).ok());

  BlockHeader flipped = h;
  flipped.nonce ^= 0x00000100;
  CHECK_FALSE(check_proof_of_work(block_hash(flipped), 0x1d00ffff, decode_compact(0x1d00ffff).target));
  CHECK(check_header_pow(flipped, chain_params(Network::kMain)).reason == Reject::kBlockHighHash);
}

TEST_CASE("check_header_pow: a hash above the target is a high hash", "[consensus][validation]") {
  Block b = block_with({});
  CHECK(check_header_pow(b.header, regtest()).ok());
  unmine(b);
  CHECK(check_header_pow(b.header, regtest()).reason == Reject::kBlockHighHash);
  CHECK(check_block(b, regtest()).reason == Reject::kBlockHighHash);
}

TEST_CASE("check_header_pow: negative bits are out of range", "[consensus][validation]") {
  Block b = block_with({});
  for (std::uint32_t bits : {0x20800001u, 0x04923456u, 0x1d80ffffu}) {
    INFO("bits 0x" << std::hex << bits);
    REQUIRE(decode_compact(bits).negative);
    b.header.bits = bits;
    CHECK(check_header_pow(b.header, regtest()).reason == Reject::kBlockBadBitsRange);
    CHECK(check_block(b, regtest()).reason == Reject::kBlockBadBitsRange);
  }
}

TEST_CASE("check_header_pow: overflowing bits are out of range", "[consensus][validation]") {
  BlockHeader h = block_with({}).header;
  for (std::uint32_t bits : {0xff123456u, 0x21010000u, 0x23000001u}) {
    INFO("bits 0x" << std::hex << bits);
    REQUIRE(decode_compact(bits).overflow);
    h.bits = bits;
    CHECK(check_header_pow(h, regtest()).reason == Reject::kBlockBadBitsRange);
  }
}

TEST_CASE("check_header_pow: a target easier than the network's limit is out of range", "[consensus][validation]") {
  BlockHeader h = block_with({}).header;
  h.bits = 0x2100ffff;  // 0xffff << 240 > regtest's 0x7fffff << 232
  REQUIRE(decode_compact(h.bits).target > regtest().pow_limit);
  CHECK(check_header_pow(h, regtest()).reason == Reject::kBlockBadBitsRange);
  // Regtest's own bits are far easier than main's limit.
  h.bits = regtest().pow_limit_bits;
  REQUIRE(check_header_pow(h, regtest()).ok());
  CHECK(check_header_pow(h, chain_params(Network::kMain)).reason == Reject::kBlockBadBitsRange);
  // One step above main's limit.
  h.bits = 0x1e100000;
  CHECK(check_header_pow(h, chain_params(Network::kMain)).reason == Reject::kBlockBadBitsRange);
}

TEST_CASE("check_header_pow: a zero target is out of range", "[consensus][validation]") {
  BlockHeader h = block_with({}).header;
  for (std::uint32_t bits : {0x00000000u, 0x03000000u, 0x01003456u}) {
    INFO("bits 0x" << std::hex << bits);
    h.bits = bits;
    CHECK(check_header_pow(h, regtest()).reason == Reject::kBlockBadBitsRange);
  }
}

// ===================== check_block =====================

TEST_CASE("check_block accepts a mined block with signed transfers", "[consensus][validation]") {
  Keys k;
  const Block b = block_with({make_transfer(k.alice, k.b, kCoin, 10, 0), make_transfer(k.bob, k.c, 2 * kCoin, 20, 4),
                              make_transfer(k.alice, k.c, kCoin, 10, 1)});
  CHECK(check_block(b, regtest()).ok());
  CHECK(check_block(make_block(1, {}), regtest()).ok());
}

TEST_CASE("check_block: a body that does not match the merkle root is rejected", "[consensus][validation]") {
  Keys k;
  Block b = block_with({make_transfer(k.alice, k.b, kCoin, 10, 0)});
  REQUIRE(check_block(b, regtest()).ok());
  const BlockHeader header = b.header;
  b.txs[1].amount += 1;  // mutated in transit; the header (and its PoW) is unchanged
  REQUIRE(b.header == header);
  CHECK(check_block(b, regtest()).reason == Reject::kBlockBadMerkleRoot);
  // Dropping a transaction, or appending one, is caught the same way.
  Block dropped = block_with({make_transfer(k.alice, k.b, kCoin, 10, 0)});
  dropped.txs.pop_back();
  CHECK(check_block(dropped, regtest()).reason == Reject::kBlockBadMerkleRoot);
  Block grown = block_with({make_transfer(k.alice, k.b, kCoin, 10, 0)});
  grown.txs.push_back(grown.txs.back());
  CHECK(check_block(grown, regtest()).reason == Reject::kBlockBadMerkleRoot);
}

TEST_CASE("check_block: a block without transactions is rejected", "[consensus][validation]") {
  Block b;
  b.header.time = 1'800'000'000;
  b.header.bits = regtest().pow_limit_bits;
  mine(b);
  REQUIRE(b.header.merkle_root.is_zero());
  CHECK(check_block(b, regtest()).reason == Reject::kBlockNoTransactions);
}

TEST_CASE("check_block: a first transaction that is not a coinbase is rejected", "[consensus][validation]") {
  Keys k;
  Block b;
  b.header.bits = regtest().pow_limit_bits;
  b.txs.push_back(make_transfer(k.alice, k.b, kCoin, 10, 0));
  b.txs.push_back(make_coinbase(k.c, kSubsidy + 10, kHeight));
  mine(b);
  CHECK(check_block(b, regtest()).reason == Reject::kBlockFirstNotCoinbase);
}

TEST_CASE("check_block: a second coinbase is out of place at index 1", "[consensus][validation]") {
  Keys k;
  Block b = block_with({});
  b.txs.push_back(make_coinbase(k.c, kSubsidy, kHeight + 1));
  mine(b);
  const Verdict v = check_block(b, regtest());
  CHECK(v.reason == Reject::kTxCoinbaseOutOfPlace);
  CHECK(v.tx_index == 1);
}

TEST_CASE("check_block: a transfer failing its own checks is reported with its index", "[consensus][validation]") {
  Keys k;
  Block b = block_with({make_transfer(k.alice, k.b, kCoin, 10, 0), make_transfer(k.alice, k.b, 0, 10, 1),
                        unsigned_transfer(k.a, k.b, kMaxMoney + 1, 0, 2)});
  const Verdict v = check_block(b, regtest());
  CHECK(v.reason == Reject::kTxZeroAmount);
  CHECK(v.tx_index == 2);
}

TEST_CASE("check_block: a duplicate transaction is rejected", "[consensus][validation]") {
  Keys k;
  const Transaction tx = make_transfer(k.alice, k.b, kCoin, 10, 0);
  Block b = block_with({tx, make_transfer(k.bob, k.c, kCoin, 10, 0), tx});
  CHECK(check_block(b, regtest()).reason == Reject::kBlockDuplicateTx);
  // Adjacent duplicates too.
  Block adjacent = block_with({tx, tx});
  CHECK(check_block(adjacent, regtest()).reason == Reject::kBlockDuplicateTx);
}

TEST_CASE("check_block: a block above 1 MB is oversized, exactly 1 MB is not", "[consensus][validation]") {
  // 6535 transfers and a coinbase with 12 extra bytes serialize to exactly 1,000,000 bytes.
  std::vector<Transaction> txs;
  txs.reserve(6600);
  const PublicKey sender = fake_key(0x01);
  const PublicKey recipient = fake_key(0x02);
  for (std::uint64_t n = 0; n < 6535; ++n) txs.push_back(unsigned_transfer(sender, recipient, 1, 0, n));
  Block exact = make_block(kHeight, txs);
  exact.txs[0].extra = Bytes(12, 0x5a);
  mine(exact);
  REQUIRE(serialized_size(exact) == kMaxBlockSize);
  CHECK(check_block(exact, regtest()).ok());

  for (std::uint64_t n = 6535; n < 6600; ++n) txs.push_back(unsigned_transfer(sender, recipient, 1, 0, n));
  const Block big = make_block(kHeight, txs);
  REQUIRE(serialized_size(big) > kMaxBlockSize);
  CHECK(check_block(big, regtest()).reason == Reject::kBlockOversized);

  // One byte over.
  exact.txs[0].extra.push_back(0x5a);
  mine(exact);
  REQUIRE(serialized_size(exact) == kMaxBlockSize + 1);
  CHECK(check_block(exact, regtest()).reason == Reject::kBlockOversized);
}

TEST_CASE("check_block: a coinbase extra longer than 100 bytes is rejected", "[consensus][validation]") {
  Block b = block_with({});
  b.txs[0].extra = Bytes(kMaxCoinbaseExtra, 0x01);
  mine(b);
  CHECK(check_block(b, regtest()).ok());
  b.txs[0].extra.push_back(0x02);
  mine(b);
  CHECK(check_block(b, regtest()).reason == Reject::kTxCoinbaseExtraTooLong);
}

TEST_CASE("check_block: a coinbase above the total supply is a bad coinbase amount", "[consensus][validation]") {
  Block b = block_with({});
  b.txs[0].amount = kMaxMoney + 1;
  mine(b);
  CHECK(check_block(b, regtest()).reason == Reject::kBlockBadCoinbaseAmount);
}

// ===================== check_block_signatures =====================

TEST_CASE("check_block_signatures reports the index of the first bad signature", "[consensus][validation]") {
  Keys k;
  std::vector<Transaction> txs;
  for (std::uint64_t n = 0; n < 6; ++n) txs.push_back(make_transfer(k.alice, k.b, kCoin, 1, n));
  const NetworkMagic& magic = regtest().magic;
  Block good = block_with(txs);
  CHECK(check_block_signatures(good, magic, 0, good.txs.size()).ok());
  CHECK(check_block_signatures(good, magic, 0, 1000).ok());  // end is clamped

  txs[2].signature[0] ^= 1;  // block index 3
  txs[4].amount += 1;        // block index 5
  Block bad = block_with(txs);
  REQUIRE(check_block(bad, regtest()).ok());  // signatures are not part of check_block

  Verdict v = check_block_signatures(bad, magic, 0, bad.txs.size());
  CHECK(v.reason == Reject::kTxBadSignature);
  CHECK(v.tx_index == 3);
  v = check_block_signatures(bad, magic, 4, bad.txs.size());
  CHECK(v.reason == Reject::kTxBadSignature);
  CHECK(v.tx_index == 5);
  // Ranges that exclude the bad ones pass, and the coinbase is never checked.
  CHECK(check_block_signatures(bad, magic, 0, 3).ok());
  CHECK(check_block_signatures(bad, magic, 6, bad.txs.size()).ok());
  CHECK(check_block_signatures(bad, magic, 0, 1).ok());
  // Another network's magic fails at the first transfer.
  v = check_block_signatures(good, chain_params(Network::kMain).magic, 0, good.txs.size());
  CHECK(v.reason == Reject::kTxBadSignature);
  CHECK(v.tx_index == 1);
}

// ===================== check_header_contextual =====================

namespace {

constexpr std::int64_t kMtp = 1'800'000'000;
constexpr std::int64_t kNow = 1'800'003'600;

BlockHeader header_at(std::int64_t time) {
  BlockHeader h;
  h.bits = regtest().pow_limit_bits;
  h.time = static_cast<std::uint32_t>(time);
  return h;
}

HeaderContext context() { return {kHeight, kMtp, regtest().pow_limit_bits}; }

}  // namespace

TEST_CASE("check_header_contextual accepts a header between the median time and 10 minutes ahead",
          "[consensus][validation]") {
  CHECK(check_header_contextual(header_at(kMtp + 1), context(), kNow, regtest()).ok());
  CHECK(check_header_contextual(header_at(kNow), context(), kNow, regtest()).ok());
  CHECK(check_header_contextual(header_at(kNow + 600), context(), kNow, regtest()).ok());  // at the limit
}

TEST_CASE("check_header_contextual: bits other than the expected ones are bad bits", "[consensus][validation]") {
  BlockHeader h = header_at(kMtp + 60);
  h.bits = 0x1e0fffff;
  CHECK(check_header_contextual(h, context(), kNow, regtest()).reason == Reject::kBlockBadBits);
  // Harder than expected is just as wrong as easier.
  HeaderContext ctx = context();
  ctx.expected_bits = 0x1d00ffff;
  h.bits = 0x1c00ffff;
  CHECK(check_header_contextual(h, ctx, kNow, chain_params(Network::kMain)).reason == Reject::kBlockBadBits);
  h.bits = 0x1d00ffff;
  CHECK(check_header_contextual(h, ctx, kNow, chain_params(Network::kMain)).ok());
}

TEST_CASE("check_header_contextual: a time not after the median time past is too old", "[consensus][validation]") {
  CHECK(check_header_contextual(header_at(kMtp), context(), kNow, regtest()).reason == Reject::kBlockTimeTooOld);
  CHECK(check_header_contextual(header_at(kMtp - 1), context(), kNow, regtest()).reason == Reject::kBlockTimeTooOld);
  CHECK(check_header_contextual(header_at(0), context(), kNow, regtest()).reason == Reject::kBlockTimeTooOld);
}

TEST_CASE("check_header_contextual: a time more than 10 minutes ahead is too new", "[consensus][validation]") {
  for (const Network n : {Network::kMain, Network::kTest, Network::kRegtest}) {
    const auto& p = chain_params(n);
    HeaderContext ctx = context();
    ctx.expected_bits = p.pow_limit_bits;
    BlockHeader at_limit = header_at(kNow + 600);
    at_limit.bits = p.pow_limit_bits;
    CHECK(check_header_contextual(at_limit, ctx, kNow, p).ok());
    BlockHeader beyond = header_at(kNow + 601);
    beyond.bits = p.pow_limit_bits;
    CHECK(check_header_contextual(beyond, ctx, kNow, p).reason == Reject::kBlockTimeTooNew);
  }
  CHECK(check_header_contextual(header_at(0xffffffff), context(), kNow, regtest()).reason ==
        Reject::kBlockTimeTooNew);
  // The same header is fine once the clock has caught up.
  CHECK(check_header_contextual(header_at(kNow + 601), context(), kNow + 1, regtest()).ok());
}

TEST_CASE("a block stamped at the future limit eases the next target by under 20 % (12 %)",
          "[consensus][validation]") {
  // What a miner buys with the limit: the child of a block stamped max_future_block_time ahead of
  // schedule may carry this much easier a target (ASERT, 1-hour half-life: 2^(600/3600) = 1.122).
  const ChainParams& p = chain_params(Network::kMain);
  const std::uint64_t height = 1000;
  const std::int64_t on_schedule = std::int64_t{p.genesis.header.time} + p.target_spacing * (height - 1);
  const U256 normal = decode_compact(next_work_required(height, on_schedule, p)).target;
  const U256 eased = decode_compact(next_work_required(height, on_schedule + p.max_future_block_time, p)).target;
  CHECK(eased * U256{100} > normal * U256{111});
  CHECK(eased * U256{100} < normal * U256{114});
  // The 2 hours Bitcoin allows would have made it 4x easier.
  const U256 two_hours = decode_compact(next_work_required(height, on_schedule + 7200, p)).target;
  CHECK(two_hours * U256{100} > normal * U256{395});
}

// ===================== connect_block_transactions =====================

TEST_CASE("connect_block_transactions applies transfers and leaves the coinbase for maturity",
          "[consensus][validation]") {
  Keys k;
  MapView view;
  view.accounts[k.a] = {10 * kCoin, 0};
  const Block b = block_with({make_transfer(k.alice, k.b, 3 * kCoin, 1000, 0)});
  StateDelta delta;
  REQUIRE(connect(b, view, delta).ok());
  CHECK(delta.after.at(k.a) == Account{10 * kCoin - 3 * kCoin - 1000, 1});
  CHECK(delta.after.at(k.b) == Account{3 * kCoin, 0});
  // The coinbase is credited only when it matures (delayed credit), not now.
  CHECK(delta.after.count(b.txs[0].recipient) == 0);
  CHECK(delta.after.size() == 2);
}

TEST_CASE("connect_block_transactions: a coinbase of the wrong height is rejected", "[consensus][validation]") {
  for (std::uint64_t coinbase_height : {kHeight - 1, kHeight + 1, std::uint64_t{0}}) {
    INFO("coinbase height " << coinbase_height);
    Block b = block_with({});
    b.txs[0].nonce = coinbase_height;
    mine(b);
    MapView view;
    StateDelta delta;
    CHECK(connect(b, view, delta).reason == Reject::kBlockBadCoinbaseHeight);
  }
}

TEST_CASE("connect_block_transactions: a coinbase above subsidy + fees is a bad amount", "[consensus][validation]") {
  Keys k;
  MapView view;
  view.accounts[k.a] = {10 * kCoin, 0};
  Block b = block_with({make_transfer(k.alice, k.b, kCoin, 500, 0)});
  REQUIRE(b.txs[0].amount == kSubsidy + 500);
  b.txs[0].amount += 1;
  mine(b);
  StateDelta delta;
  CHECK(connect(b, view, delta).reason == Reject::kBlockBadCoinbaseAmount);
}

TEST_CASE("connect_block_transactions: a coinbase below subsidy + fees is a bad amount", "[consensus][validation]") {
  Keys k;
  MapView view;
  view.accounts[k.a] = {10 * kCoin, 0};
  Block b = block_with({make_transfer(k.alice, k.b, kCoin, 500, 0)});
  b.txs[0].amount -= 1;
  mine(b);
  StateDelta delta;
  CHECK(connect(b, view, delta).reason == Reject::kBlockBadCoinbaseAmount);
  // Leaving out the fees is just as wrong.
  b.txs[0].amount = kSubsidy;
  mine(b);
  CHECK(connect(b, view, delta).reason == Reject::kBlockBadCoinbaseAmount);
}

TEST_CASE("connect_block_transactions: a coinbase of exactly subsidy + fees is accepted", "[consensus][validation]") {
  Keys k;
  MapView view;
  view.accounts[k.a] = {10 * kCoin, 0};
  view.accounts[k.b] = {10 * kCoin, 7};
  const Block b = block_with({make_transfer(k.alice, k.c, kCoin, 500, 0), make_transfer(k.bob, k.c, kCoin, 250, 7)});
  REQUIRE(b.txs[0].amount == kSubsidy + 750);
  StateDelta delta;
  CHECK(connect(b, view, delta).ok());
  // After a halving the subsidy is 25 CHZ.
  const std::uint64_t halved = regtest().halving_interval;
  Block later = make_block(halved, {});
  CHECK(later.txs[0].amount == 25 * kCoin);
  CHECK(connect(later, view, delta, halved).ok());
}

TEST_CASE("connect_block_transactions: a nonce already used is too low (replay)", "[consensus][validation]") {
  Keys k;
  MapView view;
  view.accounts[k.a] = {10 * kCoin, 0};
  const Transaction tx = make_transfer(k.alice, k.b, kCoin, 100, 0);
  StateDelta delta;
  REQUIRE(connect(block_with({tx}), view, delta).ok());
  apply(view, delta);
  REQUIRE(view.account(k.a).nonce == 1);
  // The same signed transfer in a later block.
  const Verdict v = connect(block_with({tx}), view, delta);
  CHECK(v.reason == Reject::kTxNonceTooLow);
  CHECK(v.tx_index == 1);
}

TEST_CASE("connect_block_transactions: a nonce beyond the next one is too high (gap)", "[consensus][validation]") {
  Keys k;
  MapView view;
  view.accounts[k.a] = {10 * kCoin, 3};
  StateDelta delta;
  const Verdict v = connect(block_with({make_transfer(k.alice, k.b, kCoin, 100, 4)}), view, delta);
  CHECK(v.reason == Reject::kTxNonceTooHigh);
  CHECK(v.tx_index == 1);
}

TEST_CASE("connect_block_transactions: spending more than the balance is rejected", "[consensus][validation]") {
  Keys k;
  MapView view;
  view.accounts[k.a] = {kCoin, 0};
  StateDelta delta;
  // Exactly the balance is fine.
  CHECK(connect(block_with({make_transfer(k.alice, k.b, kCoin - 100, 100, 0)}), view, delta).ok());
  // One crumb more, counting the fee, is not.
  Verdict v = connect(block_with({make_transfer(k.alice, k.b, kCoin - 100, 101, 0)}), view, delta);
  CHECK(v.reason == Reject::kTxInsufficientBalance);
  CHECK(v.tx_index == 1);
  // An account never seen has nothing.
  v = connect(block_with({make_transfer(k.carol, k.b, 1, 0, 0)}), view, delta);
  CHECK(v.reason == Reject::kTxInsufficientBalance);
  CHECK(v.tx_index == 1);
  // The second spend of a sender sees the balance the first left.
  v = connect(
      block_with({make_transfer(k.alice, k.b, kCoin / 2, 0, 0), make_transfer(k.alice, k.b, kCoin / 2, 1, 1)}), view,
      delta);
  CHECK(v.reason == Reject::kTxInsufficientBalance);
  CHECK(v.tx_index == 2);
}

TEST_CASE("connect_block_transactions: consecutive nonces of one sender in one block", "[consensus][validation]") {
  Keys k;
  MapView view;
  view.accounts[k.a] = {10 * kCoin, 5};
  StateDelta delta;
  const Block b = block_with(
      {make_transfer(k.alice, k.b, kCoin, 100, 5), make_transfer(k.alice, k.c, 2 * kCoin, 200, 6)});
  REQUIRE(connect(b, view, delta).ok());
  CHECK(delta.after.at(k.a) == Account{10 * kCoin - 3 * kCoin - 300, 7});
  CHECK(delta.after.at(k.b).balance == kCoin);
  CHECK(delta.after.at(k.c).balance == 2 * kCoin);
  // Out of order they are not valid: n+1 before n is a gap.
  const Block swapped = block_with(
      {make_transfer(k.alice, k.c, 2 * kCoin, 200, 6), make_transfer(k.alice, k.b, kCoin, 100, 5)});
  const Verdict v = connect(swapped, view, delta);
  CHECK(v.reason == Reject::kTxNonceTooHigh);
  CHECK(v.tx_index == 1);
}

TEST_CASE("connect_block_transactions: two transfers with one nonce are a double spend", "[consensus][validation]") {
  Keys k;
  MapView view;
  view.accounts[k.a] = {10 * kCoin, 0};
  StateDelta delta;
  const Block b = block_with(
      {make_transfer(k.alice, k.b, kCoin, 100, 0), make_transfer(k.alice, k.c, kCoin, 100, 0)});
  REQUIRE(check_block(b, regtest()).ok());  // distinct txids: only state reveals the double spend
  const Verdict v = connect(b, view, delta);
  CHECK(v.reason == Reject::kTxNonceTooLow);
  CHECK(v.tx_index == 2);
}

TEST_CASE("connect_block_transactions: a recipient balance above the total supply overflows",
          "[consensus][validation]") {
  Keys k;
  MapView view;
  view.accounts[k.a] = {10 * kCoin, 0};
  view.accounts[k.b] = {kMaxMoney, 0};
  StateDelta delta;
  const Verdict v = connect(
      block_with({make_transfer(k.alice, k.c, kCoin, 0, 0), make_transfer(k.alice, k.b, 1, 0, 1)}), view, delta);
  CHECK(v.reason == Reject::kTxBalanceOverflow);
  CHECK(v.tx_index == 2);
}

TEST_CASE("connect_block_transactions: fees summing above the total supply are out of range",
          "[consensus][validation]") {
  Keys k;
  MapView view;
  view.accounts[k.a] = {kMaxMoney, 0};
  view.accounts[k.b] = {kMaxMoney, 0};
  StateDelta delta;
  const Verdict v = connect(
      block_with({make_transfer(k.alice, k.c, 1, kMaxMoney - 1, 0), make_transfer(k.bob, k.c, 1, kMaxMoney - 1, 0)}),
      view, delta);
  CHECK(v.reason == Reject::kTxAmountOutOfRange);
  CHECK(v.tx_index == 2);
}

TEST_CASE("connect_block_transactions: the first transaction must be a coinbase, and only it",
          "[consensus][validation]") {
  Keys k;
  MapView view;
  view.accounts[k.a] = {10 * kCoin, 0};
  StateDelta delta;
  CHECK(connect(Block{}, view, delta).reason == Reject::kBlockFirstNotCoinbase);
  Block no_coinbase;
  no_coinbase.txs.push_back(make_transfer(k.alice, k.b, kCoin, 0, 0));
  CHECK(connect(no_coinbase, view, delta).reason == Reject::kBlockFirstNotCoinbase);
  Block two = block_with({make_transfer(k.alice, k.b, kCoin, 0, 0)});
  two.txs.push_back(make_coinbase(k.c, 0, kHeight));
  const Verdict v = connect(two, view, delta);
  CHECK(v.reason == Reject::kTxCoinbaseOutOfPlace);
  CHECK(v.tx_index == 2);
}

TEST_CASE("connect_block_transactions credits the matured coinbase and records undo data",
          "[consensus][validation]") {
  Keys k;
  const PublicKey miner = fake_key(0x77);
  MapView view;
  view.accounts[k.a] = {10 * kCoin, 2};
  view.accounts[k.b] = {5, 9};
  view.accounts[miner] = {123, 4};
  const Block b = block_with({make_transfer(k.alice, k.b, kCoin, 100, 2)});
  StateDelta delta;
  REQUIRE(connect(b, view, delta, kHeight, MaturingReward{miner, kSubsidy + 77}).ok());

  CHECK(delta.after.at(miner) == Account{123 + kSubsidy + 77, 4});
  CHECK(delta.after.at(k.a) == Account{10 * kCoin - kCoin - 100, 3});
  CHECK(delta.after.at(k.b) == Account{5 + kCoin, 9});
  // Undo data: every touched account's prior value, once, in first-touch order (the matured
  // reward is credited before the transfers).
  REQUIRE(delta.before.size() == 3);
  CHECK(delta.before[0] == std::pair<PublicKey, Account>{miner, {123, 4}});
  CHECK(delta.before[1] == std::pair<PublicKey, Account>{k.a, {10 * kCoin, 2}});
  CHECK(delta.before[2] == std::pair<PublicKey, Account>{k.b, {5, 9}});

  // Undo restores the view exactly.
  MapView undone = view;
  apply(undone, delta);
  for (const auto& [key, account] : delta.before) undone.accounts[key] = account;
  CHECK(undone.accounts == view.accounts);
}

TEST_CASE("connect_block_transactions: the block's own transfers may spend the matured reward",
          "[consensus][validation]") {
  Keys k;
  MapView view;  // alice has nothing until her reward matures in this very block
  const Block b = block_with({make_transfer(k.alice, k.b, kSubsidy - 10, 10, 0)});
  StateDelta delta;
  CHECK(connect(b, view, delta).reason == Reject::kTxInsufficientBalance);
  REQUIRE(connect(b, view, delta, kHeight, MaturingReward{k.a, kSubsidy}).ok());
  CHECK(delta.after.at(k.a) == Account{0, 1});
  CHECK(delta.after.at(k.b) == Account{kSubsidy - 10, 0});
  // A matured reward that would overflow the miner's balance is rejected.
  view.accounts[k.c] = {kMaxMoney, 0};
  CHECK(connect(block_with({}), view, delta, kHeight, MaturingReward{k.c, 1}).reason == Reject::kTxBalanceOverflow);
}

TEST_CASE("connect_block_transactions: a matured reward to a new account, and none at all",
          "[consensus][validation]") {
  const PublicKey miner = fake_key(0x78);
  MapView view;
  StateDelta delta;
  const Block b = block_with({});
  REQUIRE(connect(b, view, delta, kHeight, MaturingReward{miner, kSubsidy}).ok());
  CHECK(delta.after.at(miner) == Account{kSubsidy, 0});
  REQUIRE(delta.before.size() == 1);
  CHECK(delta.before[0].first == miner);
  CHECK(delta.before[0].second == Account{});
  // A zero reward (or none) touches nothing.
  REQUIRE(connect(b, view, delta, kHeight, MaturingReward{miner, 0}).ok());
  CHECK(delta.after.empty());
  CHECK(delta.before.empty());
  REQUIRE(connect(b, view, delta).ok());
  CHECK(delta.after.empty());
}

TEST_CASE("connect_block_transactions: an account touched twice is recorded in undo data once",
          "[consensus][validation]") {
  Keys k;
  MapView view;
  view.accounts[k.a] = {10 * kCoin, 0};
  view.accounts[k.b] = {10 * kCoin, 0};
  StateDelta delta;
  const Block b = block_with({make_transfer(k.alice, k.b, kCoin, 0, 0), make_transfer(k.bob, k.a, 2 * kCoin, 0, 0),
                              make_transfer(k.alice, k.a, kCoin, 5, 1)});
  REQUIRE(connect(b, view, delta).ok());
  REQUIRE(delta.before.size() == 2);
  CHECK(delta.before[0] == std::pair<PublicKey, Account>{k.a, {10 * kCoin, 0}});
  CHECK(delta.before[1] == std::pair<PublicKey, Account>{k.b, {10 * kCoin, 0}});
  // A payment to oneself costs only the fee.
  CHECK(delta.after.at(k.a) == Account{10 * kCoin - kCoin + 2 * kCoin - 5, 2});
  CHECK(delta.after.at(k.b) == Account{10 * kCoin + kCoin - 2 * kCoin, 1});
}

TEST_CASE("a reward matures and is spent after coinbase_maturity blocks", "[consensus][validation]") {
  // Connect a short regtest chain; the test plays the chain layer's part of passing the
  // coinbase of height h - maturity as the matured reward.
  const SecretKey miner_key = key_from_byte(9);
  const PublicKey miner = miner_key.public_key();
  const std::uint64_t maturity = regtest().coinbase_maturity;
  MapView view;
  std::vector<Block> chain;
  Hash256 prev = regtest().genesis_hash;
  for (std::uint64_t h = 1; h <= maturity + 1; ++h) {
    // Nothing is spendable before the first reward matures.
    REQUIRE(view.account(miner).balance == 0);
    Block b = make_block(h, {}, miner, prev, static_cast<std::uint32_t>(1'800'000'000 + h * 60));
    REQUIRE(check_block(b, regtest()).ok());
    std::optional<MaturingReward> matured;
    if (h > maturity) {
      const Transaction& reward = chain[h - maturity - 1].txs[0];  // the coinbase of height h - maturity
      matured = MaturingReward{reward.recipient, reward.amount};
    }
    StateDelta delta;
    REQUIRE(connect(b, view, delta, h, matured).ok());
    apply(view, delta);
    prev = b.hash();
    chain.push_back(std::move(b));
  }
  CHECK(view.account(miner) == Account{kSubsidy, 0});
  // Now the miner can spend it.
  const std::uint64_t h = maturity + 2;
  Block spend = make_block(h, {make_transfer(miner_key, fake_key(0x10), kSubsidy - 1000, 1000, 0)}, miner, prev);
  StateDelta delta;
  CHECK(connect(spend, view, delta, h).ok());
  Block overspend = make_block(h, {make_transfer(miner_key, fake_key(0x10), kSubsidy, 1, 0)}, miner, prev);
  CHECK(connect(overspend, view, delta, h).reason == Reject::kTxInsufficientBalance);
}

// ===================== median_time =====================

TEST_CASE("median_time is the middle of the sorted timestamps", "[consensus][validation]") {
  const std::vector<std::int64_t> eleven = {100, 90, 80, 110, 70, 120, 60, 130, 50, 140, 40};
  CHECK(median_time(eleven) == 90);
  const std::vector<std::int64_t> increasing = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  CHECK(median_time(increasing) == 6);
  const std::vector<std::int64_t> one = {42};
  CHECK(median_time(one) == 42);
  // Fewer than 11 near the start of the chain: the upper middle, as Bitcoin's GetMedianTimePast.
  const std::vector<std::int64_t> two = {10, 20};
  CHECK(median_time(two) == 20);
  const std::vector<std::int64_t> four = {40, 10, 30, 20};
  CHECK(median_time(four) == 30);
  const std::vector<std::int64_t> repeated = {5, 5, 5, 1, 9};
  CHECK(median_time(repeated) == 5);
  CHECK(median_time({}) == 0);
}

// ===================== classification =====================

namespace {

constexpr Reject kLast = Reject::kBlockBadGenesis;

std::vector<Reject> all_rejects() {
  std::vector<Reject> out;
  for (int i = 0; i <= static_cast<int>(kLast); ++i) out.push_back(static_cast<Reject>(i));
  return out;
}

}  // namespace

TEST_CASE("every rejection reason has a distinct name", "[consensus][validation]") {
  std::set<std::string> names;
  for (Reject r : all_rejects()) {
    const std::string name(to_string(r));
    INFO(static_cast<int>(r) << " " << name);
    CHECK(name != "unknown");
    CHECK_FALSE(name.empty());
    names.insert(name);
  }
  CHECK(names.size() == all_rejects().size());
}

TEST_CASE("is_misbehavior: what an honest peer may send is not misbehavior", "[consensus][validation]") {
  for (Reject r : {Reject::kOk, Reject::kBlockTimeTooNew, Reject::kBlockUnknownParent, Reject::kTxNonceTooLow,
                   Reject::kTxNonceTooHigh, Reject::kTxInsufficientBalance, Reject::kTxBalanceOverflow}) {
    INFO(to_string(r));
    CHECK_FALSE(is_misbehavior(r));
  }
}

TEST_CASE("is_misbehavior: invalid data only a rule breaker produces is misbehavior", "[consensus][validation]") {
  for (Reject r :
       {Reject::kTxBadSignature, Reject::kBlockHighHash, Reject::kBlockBadMerkleRoot, Reject::kBlockBadBitsRange,
        Reject::kTxCoinbaseOutOfPlace, Reject::kTxZeroAmount, Reject::kTxAmountOutOfRange, Reject::kBlockDuplicateTx,
        Reject::kBlockOversized, Reject::kBlockBadCoinbaseAmount, Reject::kBlockTimeTooOld}) {
    INFO(to_string(r));
    CHECK(is_misbehavior(r));
  }
}

TEST_CASE("is_permanent_failure: a mutated body, a future time or an unknown parent are not final",
          "[consensus][validation]") {
  for (Reject r : {Reject::kOk, Reject::kBlockBadMerkleRoot, Reject::kBlockTimeTooNew, Reject::kBlockUnknownParent}) {
    INFO(to_string(r));
    CHECK_FALSE(is_permanent_failure(r));
  }
  for (Reject r : {Reject::kBlockHighHash, Reject::kBlockBadBitsRange, Reject::kBlockDuplicateTx,
                   Reject::kBlockOversized, Reject::kTxBadSignature, Reject::kBlockBadCoinbaseAmount,
                   Reject::kBlockTimeTooOld, Reject::kBlockBadBits, Reject::kTxNonceTooLow}) {
    INFO(to_string(r));
    CHECK(is_permanent_failure(r));
  }
}

TEST_CASE("Verdict::fail carries the reason and index", "[consensus][validation]") {
  const Verdict ok{};
  CHECK(ok.ok());
  CHECK(static_cast<bool>(ok));
  const Verdict v = Verdict::fail(Reject::kTxZeroAmount, 4);
  CHECK_FALSE(v.ok());
  CHECK(v.reason == Reject::kTxZeroAmount);
  CHECK(v.tx_index == 4);
  CHECK(Verdict::fail(Reject::kBlockHighHash).tx_index == 0);
}
