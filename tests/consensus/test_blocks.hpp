#pragma once

// Header-only helpers for building, signing and mining regtest blocks in unit tests.

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "consensus/params.hpp"
#include "consensus/pow.hpp"
#include "consensus/validation.hpp"
#include "primitives/block.hpp"
#include "primitives/keys.hpp"
#include "primitives/transaction.hpp"

namespace cheese::test {

inline const ChainParams& regtest() { return chain_params(Network::kRegtest); }

//! A deterministic key: the seed is 32 copies of `b`.
inline SecretKey key_from_byte(std::uint8_t b) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(b);
  return SecretKey::from_seed(seed);
}

//! A public key that is not a point anyone holds a key for: 32 copies of `b`.
inline PublicKey fake_key(std::uint8_t b) {
  PublicKey k{};
  k.fill(b);
  return k;
}

//! A signed transfer (regtest magic unless told otherwise).
inline Transaction make_transfer(const SecretKey& from, const PublicKey& to, Amount amount, Amount fee,
                                 std::uint64_t nonce, const NetworkMagic& magic = regtest().magic) {
  Transaction tx;
  tx.kind = TxKind::kTransfer;
  tx.recipient = to;
  tx.amount = amount;
  tx.fee = fee;
  tx.nonce = nonce;
  sign_transaction(tx, from, magic);
  return tx;
}

//! A transfer with no valid signature: for rules that do not look at signatures.
inline Transaction unsigned_transfer(const PublicKey& from, const PublicKey& to, Amount amount, Amount fee,
                                     std::uint64_t nonce) {
  Transaction tx;
  tx.kind = TxKind::kTransfer;
  tx.sender = from;
  tx.recipient = to;
  tx.amount = amount;
  tx.fee = fee;
  tx.nonce = nonce;
  return tx;
}

//! Searches nonces (bounded) for one whose hash meets (want_pass) or misses (!want_pass) the
//! header's own target. Regtest's target passes about half of all hashes.
[[nodiscard]] inline bool search_nonce(BlockHeader& h, const ChainParams& p, bool want_pass,
                                       std::uint32_t max_tries = 1000) {
  for (std::uint32_t i = 0; i < max_tries; ++i) {
    h.nonce = i;
    if (check_proof_of_work(block_hash(h), h.bits, p.pow_limit) == want_pass) return true;
  }
  return false;
}

//! Sets the merkle root from the body and mines the header; REQUIREs success.
inline void mine(Block& b, const ChainParams& p = regtest()) {
  b.header.merkle_root = merkle_root(b);
  REQUIRE(search_nonce(b.header, p, true));
}

//! Sets the merkle root from the body and picks a nonce whose hash misses the target.
inline void unmine(Block& b, const ChainParams& p = regtest()) {
  b.header.merkle_root = merkle_root(b);
  REQUIRE(search_nonce(b.header, p, false));
}

inline Amount sum_fees(const std::vector<Transaction>& txs) {
  Amount fees = 0;
  for (const auto& tx : txs) fees += tx.fee;
  return fees;
}

//! A mined regtest block at `height` whose coinbase pays subsidy + fees of `transfers` to `miner`.
inline Block make_block(std::uint64_t height, std::vector<Transaction> transfers,
                        const PublicKey& miner = fake_key(0xee), const Hash256& prev = Hash256{},
                        std::uint32_t time = 1'800'000'000, const ChainParams& p = regtest()) {
  Block b;
  b.header.version = 1;
  b.header.prev_hash = prev;
  b.header.time = time;
  b.header.bits = p.pow_limit_bits;
  const Amount reward = block_subsidy(height, p) + sum_fees(transfers);
  b.txs.push_back(make_coinbase(miner, reward, height));
  for (auto& tx : transfers) b.txs.push_back(std::move(tx));
  mine(b, p);
  return b;
}

//! In-memory account state for contextual rules.
class MapView : public AccountView {
 public:
  Account account(const PublicKey& key) const override {
    auto it = accounts.find(key);
    return it == accounts.end() ? Account{} : it->second;
  }
  std::unordered_map<PublicKey, Account, PublicKeyHasher> accounts;
};

}  // namespace cheese::test
