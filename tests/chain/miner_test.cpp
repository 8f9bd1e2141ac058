#include <catch2/catch.hpp>

#include <thread>

#include "chain/mempool.hpp"
#include "chain/miner.hpp"
#include "chain_test_util.hpp"
#include "consensus/pow.hpp"

using namespace cheese;
using namespace cheese::test;

namespace {

//! A chain where `funder` has matured rewards: 12 blocks mined to it.
struct Funded {
  TempDir dir{"miner"};
  Chainstate chain{dir.file("chain.sqlite"), regtest(), 2};
  SecretKey funder = key_from_seed(1);
  Mempool mempool{regtest()};

  Funded() {
    for (int i = 0; i < 12; ++i) {
      auto t = create_block_template(chain, mempool, funder.public_key(), kNow, static_cast<std::uint64_t>(i));
      std::atomic<bool> cancel{false};
      std::atomic<std::uint64_t> hashes{0};
      auto nonce = solve_header(t.block.header, t.target, 1, cancel, hashes, 1'000'000);
      REQUIRE(nonce.has_value());
      t.block.header.nonce = *nonce;
      REQUIRE(chain.process_block(t.block, kNow).tip_changed);
    }
  }

  Block mine_template(const PublicKey& to) {
    auto t = create_block_template(chain, mempool, to, kNow, 99);
    std::atomic<bool> cancel{false};
    std::atomic<std::uint64_t> hashes{0};
    auto nonce = solve_header(t.block.header, t.target, 2, cancel, hashes, 1'000'000);
    REQUIRE(nonce.has_value());
    t.block.header.nonce = *nonce;
    return t.block;
  }
};

}  // namespace

TEST_CASE("a mined block is valid and its coinbase pays exactly reward + fees", "[chain][miner]") {
  Funded f;
  const auto a = f.chain.account(f.funder.public_key());
  REQUIRE(a.balance == 2 * 50 * kCoin);  // blocks 1 and 2 matured at heights 11 and 12

  // Three transfers with different fees from three senders: the funder pays them first.
  std::vector<SecretKey> senders;
  for (std::uint8_t i = 0; i < 3; ++i) senders.push_back(key_from_seed(static_cast<std::uint8_t>(10 + i)));
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto tx = make_transfer(f.funder, senders[i].public_key(), 10 * kCoin, 1000, i);
    REQUIRE(f.mempool.accept(tx, f.chain, kNow).ok());
  }
  Block b = f.mine_template(pub(50));
  REQUIRE(b.txs.size() == 4);
  REQUIRE(f.chain.process_block(b, kNow).tip_changed);
  f.mempool.block_connected(b, f.chain);
  CHECK(f.mempool.size() == 0);

  const Amount fees[3] = {5000, 90000, 20000};
  for (std::size_t i = 0; i < 3; ++i) {
    auto tx = make_transfer(senders[i], pub(60), kCoin, fees[i], 0);
    REQUIRE(f.mempool.accept(tx, f.chain, kNow).ok());
  }
  Block b2 = f.mine_template(pub(51));
  REQUIRE(b2.txs.size() == 4);
  CHECK(b2.txs[0].amount == block_subsidy(f.chain.height() + 1, regtest()) + 5000 + 90000 + 20000);
  // Highest fee first.
  CHECK(b2.txs[1].fee == 90000);
  CHECK(b2.txs[2].fee == 20000);
  CHECK(b2.txs[3].fee == 5000);
  CHECK(check_block(b2, regtest()).ok());
  auto r = f.chain.process_block(b2, kNow);
  CHECK(r.verdict.ok());
  CHECK(r.tip_changed);
}

TEST_CASE("templates keep each sender's nonce order even when a later nonce pays more", "[chain][miner]") {
  Funded f;
  for (std::uint64_t n = 0; n < 3; ++n) {
    const Amount fee = 1000 + n * 50000;  // nonce 2 pays the most, nonce 0 the least
    REQUIRE(f.mempool.accept(make_transfer(f.funder, pub(70), kCoin, fee, n), f.chain, kNow).ok());
  }
  auto t = create_block_template(f.chain, f.mempool, pub(52), kNow, 1);
  REQUIRE(t.block.txs.size() == 4);
  for (std::uint64_t n = 0; n < 3; ++n) CHECK(t.block.txs[n + 1].nonce == n);
}

TEST_CASE("a block template never exceeds the block size limit", "[chain][miner]") {
  Funded f;
  // Fill the mempool with more transfers than fit in one block: 8000 senders funded by a
  // synthetic view would need thousands of blocks, so use many nonces of many funded keys.
  // Simpler and just as strict: a tiny max size in the selector must be respected.
  MempoolLimits limits;
  Mempool big(regtest(), limits);
  for (std::uint64_t n = 0; n < 20; ++n) {
    REQUIRE(big.accept(make_transfer(f.funder, pub(71), kCoin / 100, 2000, n), f.chain, kNow).ok());
  }
  auto t = create_block_template(f.chain, big, pub(53), kNow, 1);
  CHECK(serialized_size(t.block) <= kMaxBlockSize);
  CHECK(t.block.txs.size() == 21);
  const auto picked = big.select_for_block(5 * kTransferSize + 10, f.chain);
  CHECK(picked.size() == 5);
}

TEST_CASE("the nonce search finds the nonce the hash check agrees with, on every backend", "[chain][miner]") {
  Funded f;
  auto t = create_block_template(f.chain, f.mempool, pub(54), kNow, 7);
  // A harder target than regtest's so that the search does real work: about 1 in 4096.
  const U256 hard = decode_compact(0x1f0fffff).target;
  const Hash256 target = hard.to_hash();
  std::atomic<bool> cancel{false};
  std::atomic<std::uint64_t> hashes{0};
  auto nonce = solve_header(t.block.header, target, 2, cancel, hashes, 1u << 22);
  REQUIRE(nonce.has_value());
  BlockHeader h = t.block.header;
  h.nonce = *nonce;
  CHECK(hash_meets_target(block_hash(h), target));
  CHECK(U256::from_hash(block_hash(h)) <= hard);
  CHECK(hashes.load() > 0);
  // And the single-threaded search from 0 finds the first such nonce, with nothing lower.
  std::atomic<std::uint64_t> h2{0};
  auto first = search_nonces(t.block.header, target, 0, 1u << 22, cancel, h2);
  REQUIRE(first.has_value());
  for (std::uint32_t n = 0; n < *first; ++n) {
    h.nonce = n;
    REQUIRE_FALSE(hash_meets_target(block_hash(h), target));
  }
}

TEST_CASE("cancelling a search stops every search thread promptly", "[chain][miner]") {
  Funded f;
  auto t = create_block_template(f.chain, f.mempool, pub(55), kNow, 8);
  Hash256 impossible{};  // target zero: no hash meets it
  std::atomic<bool> cancel{false};
  std::atomic<std::uint64_t> hashes{0};
  std::optional<std::uint32_t> result{0};
  std::thread searcher([&] { result = solve_header(t.block.header, impossible, 2, cancel, hashes, ~0ull); });
  // Wait (bounded) until the threads have done some work, then cancel.
  for (int i = 0; i < 200 && hashes.load() < 10000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto t0 = std::chrono::steady_clock::now();
  cancel.store(true);
  searcher.join();
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK_FALSE(result.has_value());
  // Generous bound: cancellation is checked every 8192 hashes.
  CHECK(waited < std::chrono::seconds(5));
}
