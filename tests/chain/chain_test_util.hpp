#pragma once

// Helpers for the chain-layer tests: temporary directories, deterministic keys, signed transfers
// and a builder of valid (or deliberately broken) regtest blocks on top of any known block.
// Header-only: tests/CMakeLists.txt compiles only *_test.cpp files into test_chain.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <csignal>

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chain/chainstate.hpp"
#include "consensus/params.hpp"
#include "consensus/validation.hpp"
#include "primitives/block.hpp"
#include "primitives/keys.hpp"
#include "primitives/transaction.hpp"

namespace cheese::test {

inline const ChainParams& regtest() { return chain_params(Network::kRegtest); }

//! A fixed "node clock" for the tests: far enough after the regtest genesis for any test chain
//! (blocks are 60 s apart) and independent of the machine's clock.
inline const std::int64_t kNow = std::int64_t{regtest().genesis.header.time} + 30 * 24 * 3600;

//! A fresh directory under the system temp directory, removed (with everything in it) on scope
//! exit. The name carries the pid and a counter, so parallel test processes never collide.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static std::atomic<unsigned> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("cheese-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
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

//! Kills and reaps a child process if the test leaves its scope early (a failed REQUIRE).
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ~ChildGuard() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  //! Sends SIGKILL (harmless if it already exited) and reaps it; returns the wait status.
  int kill_and_reap() {
    ::kill(pid_, SIGKILL);
    return reap();
  }
  //! Waits for it to exit by itself; returns the wait status.
  int reap() {
    int status = 0;
    const pid_t got = ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return got < 0 ? -1 : status;
  }

 private:
  pid_t pid_;
};

//! The key RFC 8032 derives from a seed of 32 equal bytes `n` (deterministic across runs).
inline SecretKey key_from_seed(std::uint8_t n) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(n);
  return SecretKey::from_seed(seed);
}

inline PublicKey pub(std::uint8_t n) { return key_from_seed(n).public_key(); }

//! A transfer signed by `from` for the regtest network.
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

//! Where a new block goes: its parent's hash, height, time and the bits it must carry.
struct ParentInfo {
  Hash256 hash;
  std::uint64_t height = 0;
  std::uint32_t time = 0;
  std::uint32_t bits = 0;  //!< bits the child must carry
};

inline ParentInfo parent_of(const Chainstate& cs, const BlockIndex* parent) {
  REQUIRE(parent != nullptr);
  return {parent->hash, parent->height, parent->header.time, cs.next_bits(parent)};
}

//! A parent that is only a Block (it need not be known to any Chainstate), at `height`.
inline ParentInfo parent_of(const Block& parent, std::uint64_t height) {
  return {parent.hash(), height, parent.header.time, next_work_required(height + 1, parent.header.time, regtest())};
}

//! Knobs for blocks that break one rule on purpose; the defaults make a valid block.
struct BlockOptions {
  std::optional<std::uint32_t> time;             //!< default parent time + 60
  std::optional<std::uint32_t> bits;             //!< default what the chain expects
  std::optional<Amount> coinbase_amount;         //!< default subsidy + fees
  std::optional<std::uint64_t> coinbase_height;  //!< default the block's height
  std::optional<Bytes> extra;                    //!< default a counter, so no two blocks are equal
  bool bad_pow = false;                          //!< search for a nonce that FAILS the PoW check

  // One-knob constructors (GCC warns about designated initializers that omit members).
  static BlockOptions at_time(std::uint32_t t) {
    BlockOptions o;
    o.time = t;
    return o;
  }
  static BlockOptions with_bits(std::uint32_t b) {
    BlockOptions o;
    o.bits = b;
    return o;
  }
  static BlockOptions paying(Amount a) {
    BlockOptions o;
    o.coinbase_amount = a;
    return o;
  }
  static BlockOptions coinbase_at(std::uint64_t h) {
    BlockOptions o;
    o.coinbase_height = h;
    return o;
  }
  static BlockOptions failing_pow() {
    BlockOptions o;
    o.bad_pow = true;
    return o;
  }
};

//! Sets the merkle root and searches nonces until the PoW check passes (or, with
//! want_valid == false, fails with kBlockHighHash). Bounded; the test fails if no nonce fits.
inline void mine(Block& b, bool want_valid = true) {
  b.header.merkle_root = merkle_root(b);
  for (std::uint32_t nonce = 0; nonce < 100'000; ++nonce) {
    b.header.nonce = nonce;
    const Verdict v = check_header_pow(b.header, regtest());
    if (want_valid ? v.ok() : v.reason == Reject::kBlockHighHash) return;
  }
  FAIL("no nonce in 100000 gives the wanted proof-of-work outcome");
}

inline Bytes next_extra() {
  static std::atomic<std::uint32_t> counter{0};
  const std::uint32_t n = counter++;
  return Bytes{static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n >> 16),
               static_cast<std::uint8_t>(n >> 24)};
}

//! A mined regtest block on `parent` paying subsidy + fees to `miner`, with `transfers`.
inline Block make_block(const ParentInfo& parent, const PublicKey& miner, std::vector<Transaction> transfers = {},
                        const BlockOptions& opt = {}) {
  const std::uint64_t height = parent.height + 1;
  Amount fees = 0;
  for (const auto& tx : transfers) fees += tx.fee;
  Block b;
  b.header.version = 1;
  b.header.prev_hash = parent.hash;
  b.header.time = opt.time.value_or(parent.time + 60);
  b.header.bits = opt.bits.value_or(parent.bits);
  b.txs.push_back(make_coinbase(miner, opt.coinbase_amount.value_or(block_subsidy(height, regtest()) + fees),
                                opt.coinbase_height.value_or(height), opt.extra.value_or(next_extra())));
  for (auto& tx : transfers) b.txs.push_back(std::move(tx));
  mine(b, !opt.bad_pow);
  return b;
}

inline Block make_block(const Chainstate& cs, const BlockIndex* parent, const PublicKey& miner,
                        std::vector<Transaction> transfers = {}, const BlockOptions& opt = {}) {
  return make_block(parent_of(cs, parent), miner, std::move(transfers), opt);
}

//! Submits a block that must be accepted; returns the result.
inline ProcessBlockResult submit_ok(Chainstate& cs, const Block& b, std::int64_t now = kNow) {
  auto r = cs.process_block(b, now);
  INFO("rejected: " << to_string(r.verdict.reason) << " (tx " << r.verdict.tx_index << ")");
  REQUIRE(r.verdict.ok());
  return r;
}

//! Mines `n` blocks on the active tip, each paying `miner`; returns them.
inline std::vector<Block> extend(Chainstate& cs, std::size_t n, const PublicKey& miner) {
  std::vector<Block> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(make_block(cs, cs.tip(), miner));
    const auto r = submit_ok(cs, out.back());
    REQUIRE(cs.tip()->hash == out.back().hash());
    (void)r;
  }
  return out;
}

//! Mines `n` blocks on a given block (which need not be the tip); returns them in order.
inline std::vector<Block> extend_from(Chainstate& cs, const BlockIndex* from, std::size_t n, const PublicKey& miner) {
  std::vector<Block> out;
  const BlockIndex* parent = from;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(make_block(cs, parent, miner));
    (void)submit_ok(cs, out.back());
    parent = cs.lookup(out.back().hash());
    REQUIRE(parent != nullptr);
  }
  return out;
}

//! The blocks of the active chain after genesis, read back from the store.
inline std::vector<Block> active_blocks(const Chainstate& cs) {
  std::vector<Block> out;
  for (std::uint64_t h = 1; h <= cs.height(); ++h) {
    auto b = cs.read_block(cs.at_height(h)->hash);
    REQUIRE(b.has_value());
    out.push_back(std::move(*b));
  }
  return out;
}

//! What an independent node reached after being fed only `blocks`, in order.
struct FreshOutcome {
  Hash256 tip;
  std::uint64_t height = 0;
  std::map<PublicKey, Account> accounts;
};

//! `db_file` may be ":memory:" (SQLite's in-memory database) where many replays must be fast.
inline FreshOutcome feed_fresh(const std::filesystem::path& db_file, const std::vector<Block>& blocks) {
  const bool in_memory = db_file == ":memory:";
  if (!in_memory) std::filesystem::remove(db_file);
  // The independent node's clock is late enough for every block it is given.
  std::int64_t now = kNow;
  for (const auto& b : blocks) now = std::max(now, std::int64_t{b.header.time});
  FreshOutcome out;
  {
    Chainstate fresh(db_file, regtest(), 1);
    for (const auto& b : blocks) {
      const auto r = fresh.process_block(b, now);
      INFO("fresh chainstate rejected a block: " << to_string(r.verdict.reason));
      REQUIRE(r.verdict.ok());
    }
    out.tip = fresh.tip()->hash;
    out.height = fresh.height();
    out.accounts = fresh.all_accounts();
  }
  if (!in_memory) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_file.string() + suffix);
  }
  return out;
}

//! The state checks every test runs after a change: stored state equals a replay of the active
//! chain, equals an independent node fed only the active chain; the database is sound.
inline void check_consistent(const Chainstate& cs, const std::filesystem::path& scratch_db) {
  REQUIRE(cs.check_integrity() == "");
  const auto accounts = cs.all_accounts();
  REQUIRE(accounts == cs.replay_account_state());
  const FreshOutcome fresh = feed_fresh(scratch_db, active_blocks(cs));
  REQUIRE(fresh.tip == cs.tip()->hash);
  REQUIRE(fresh.height == cs.height());
  REQUIRE(fresh.accounts == accounts);
}

inline std::vector<Hash256> hashes(const std::vector<Block>& blocks) {
  std::vector<Hash256> out;
  out.reserve(blocks.size());
  for (const auto& b : blocks) out.push_back(b.hash());
  return out;
}

}  // namespace cheese::test

namespace Catch {
template <>
struct StringMaker<cheese::Hash256> {
  static std::string convert(const cheese::Hash256& h) { return h.to_display_hex(); }
};
template <>
struct StringMaker<cheese::Account> {
  static std::string convert(const cheese::Account& a) {
    return "{balance " + std::to_string(a.balance) + ", nonce " + std::to_string(a.nonce) + "}";
  }
};
template <>
struct StringMaker<cheese::Reject> {
  static std::string convert(cheese::Reject r) { return std::string(cheese::to_string(r)); }
};
}  // namespace Catch
