#pragma once

// Chain helpers of the stateful fuzz targets: deterministic keys, signed transfers, mined regtest
// blocks and a temporary directory. tests/chain/chain_test_util.hpp has the same for the unit
// tests, but reports through Catch2; these report through FUZZ_CHECK.

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <unistd.h>

#include "consensus/params.hpp"
#include "consensus/validation.hpp"
#include "fuzz_check.hpp"
#include "primitives/block.hpp"
#include "primitives/keys.hpp"
#include "primitives/transaction.hpp"

namespace cheese::fuzz {

inline const ChainParams& regtest() { return chain_params(Network::kRegtest); }

//! The node clock of the targets: well after the regtest genesis, fixed.
inline const std::int64_t kNow = std::int64_t{regtest().genesis.header.time} + 30 * 24 * 3600;

//! The key RFC 8032 derives from a seed of 32 bytes `n` (the same keys as the chain tests).
inline SecretKey key_from_seed(std::uint8_t n) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(n);
  return SecretKey::from_seed(seed);
}

inline Transaction make_transfer(const SecretKey& from, const PublicKey& to, Amount amount, Amount fee,
                                 std::uint64_t nonce) {
  Transaction tx;
  tx.kind = TxKind::kTransfer;
  tx.sender = from.public_key();
  tx.recipient = to;
  tx.amount = amount;
  tx.fee = fee;
  tx.nonce = nonce;
  sign_transaction(tx, from, regtest().magic);
  return tx;
}

//! Sets the merkle root and grinds nonces until the proof of work passes (or, with
//! want_valid == false, fails). On regtest about every second nonce passes.
inline void mine(Block& b, bool want_valid = true) {
  b.header.merkle_root = merkle_root(b);
  for (std::uint32_t nonce = 0; nonce < 10'000; ++nonce) {
    b.header.nonce = nonce;
    if (check_header_pow(b.header, regtest()).ok() == want_valid) return;
  }
  std::fprintf(stderr, "no nonce in 10000 gives the wanted proof-of-work outcome\n");
  std::abort();
}

//! A block on `parent` (hash, height, time) paying `coinbase_amount` (default subsidy + fees).
inline Block make_block(const Hash256& parent, std::uint64_t parent_height, std::uint32_t parent_time,
                        const PublicKey& miner, std::vector<Transaction> transfers, std::uint32_t extra) {
  const std::uint64_t height = parent_height + 1;
  Amount fees = 0;
  for (const auto& tx : transfers) fees += tx.fee;
  Block b;
  b.header.version = 1;
  b.header.prev_hash = parent;
  b.header.time = parent_time + 60;
  b.header.bits = regtest().pow_limit_bits;
  const Bytes extra_bytes{static_cast<std::uint8_t>(extra), static_cast<std::uint8_t>(extra >> 8),
                          static_cast<std::uint8_t>(extra >> 16), static_cast<std::uint8_t>(extra >> 24)};
  b.txs.push_back(make_coinbase(miner, block_subsidy(height, regtest()) + fees, height, extra_bytes));
  for (auto& tx : transfers) b.txs.push_back(std::move(tx));
  mine(b);
  return b;
}

//! A fresh directory, removed with its contents on scope exit. It is in /dev/shm when that is
//! writable: SQLite's fsyncs cost nothing there (a wallet input takes 0.6 ms instead of 10 ms), and
//! the targets test parsing and state, not durability. Else under the system temp directory.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static std::atomic<unsigned> counter{0};
    const std::filesystem::path base = ::access("/dev/shm", W_OK) == 0 ? std::filesystem::path("/dev/shm")
                                                                       : std::filesystem::temp_directory_path();
    path_ = base / ("cheese-fuzz-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path file(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace cheese::fuzz
