// CommitMode::kDeferred: while a node has more blocks queued (initial sync), connections of up to
// kMaxDeferredBlocks blocks share one SQLite transaction. These tests check what that must keep:
// reads see deferred connections at once; batches commit at the bound, with a kNow block, at a
// clean shutdown and before anything that is not a plain extension of the tip; a crash loses
// only deferred connections (never part of one); and after a storage failure the chainstate
// refuses every further change instead of running ahead of its database.
#include "chain/chainstate.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chain/chain_test_util.hpp"

using namespace cheese;
using namespace cheese::test;

namespace {

//! A chain of `n` blocks: 11 empty ones paying `a` (its first reward matures at height 11),
//! then one transfer from `a` per block to one of five recipients.
std::vector<Block> build_chain(const std::filesystem::path& scratch_db, std::size_t n) {
  const SecretKey a = key_from_seed(1);
  Chainstate src(scratch_db, regtest(), 1);
  std::vector<Block> out = extend(src, std::min<std::size_t>(n, 11), a.public_key());
  for (std::uint64_t i = 0; out.size() < n; ++i) {
    const auto tx = make_transfer(a, pub(static_cast<std::uint8_t>(10 + i % 5)), 1000 + i, 10, i);
    out.push_back(make_block(src, src.tip(), pub(3), {tx}));
    (void)submit_ok(src, out.back());
  }
  return out;
}

ProcessBlockResult deferred(Chainstate& cs, const Block& b) {
  auto r = cs.process_block(b, kNow, false, CommitMode::kDeferred);
  INFO("rejected: " << to_string(r.verdict.reason));
  REQUIRE(r.verdict.ok());
  return r;
}

}  // namespace

TEST_CASE("deferred connections are read at once and committed in batches", "[chain][deferred]") {
  TempDir dir("deferred-batches");
  const auto chain = build_chain(dir.file("scratch.db"), kMaxDeferredBlocks + 20);
  Chainstate cs(dir.file("node.db"), regtest(), 1);
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    const auto r = deferred(cs, chain[i]);
    REQUIRE(r.tip_changed);
    REQUIRE(cs.tip()->hash == chain[i].hash());
    // The bound: a batch is committed when it holds kMaxDeferredBlocks connections.
    REQUIRE(cs.uncommitted_blocks() == (i + 1) % kMaxDeferredBlocks);
  }
  REQUIRE(cs.uncommitted_blocks() == 19);
  // Reads see the uncommitted connections: balances, blocks and the transaction index.
  const Block& last_deferred = chain[chain.size() - 2];
  REQUIRE(cs.account(key_from_seed(1).public_key()).nonce == chain.size() - 12);
  REQUIRE(cs.read_block(last_deferred.hash()).has_value());
  const auto loc = cs.find_transaction(txid(last_deferred.txs[1]));
  REQUIRE(loc.has_value());
  REQUIRE(loc->height == chain.size() - 1);
  REQUIRE(cs.all_accounts() == cs.replay_account_state());

  // A block committed at once takes the deferred ones with it.
  (void)submit_ok(cs, chain.back());
  REQUIRE(cs.uncommitted_blocks() == 0);
  REQUIRE(cs.height() == chain.size());
  check_consistent(cs, dir.file("fresh.db"));
}

TEST_CASE("flush and a clean shutdown commit deferred connections", "[chain][deferred]") {
  TempDir dir("deferred-shutdown");
  const auto chain = build_chain(dir.file("scratch.db"), 30);
  const auto db = dir.file("node.db");
  {
    Chainstate cs(db, regtest(), 1);
    for (std::size_t i = 0; i < 20; ++i) (void)deferred(cs, chain[i]);
    REQUIRE(cs.uncommitted_blocks() == 20);
    cs.flush();
    REQUIRE(cs.uncommitted_blocks() == 0);
    for (std::size_t i = 20; i < 30; ++i) (void)deferred(cs, chain[i]);
    REQUIRE(cs.uncommitted_blocks() == 10);
  }
  Chainstate cs(db, regtest(), 1);
  REQUIRE(cs.height() == 30);
  REQUIRE(cs.tip()->hash == chain.back().hash());
  check_consistent(cs, dir.file("fresh.db"));
}

TEST_CASE("anything but a plain extension of the tip commits the batch first", "[chain][deferred]") {
  TempDir dir("deferred-other");
  const auto chain = build_chain(dir.file("scratch.db"), 24);
  Chainstate cs(dir.file("node.db"), regtest(), 1);
  for (std::size_t i = 0; i < 14; ++i) (void)deferred(cs, chain[i]);
  REQUIRE(cs.uncommitted_blocks() == 14);

  SECTION("an invalid block") {
    const Block bad = make_block(cs, cs.tip(), pub(3), {}, BlockOptions::paying(51 * kCoin));
    const auto r = cs.process_block(bad, kNow, false, CommitMode::kDeferred);
    REQUIRE(r.verdict.reason == Reject::kBlockBadCoinbaseAmount);
    REQUIRE(cs.uncommitted_blocks() == 0);
    REQUIRE(cs.tip()->hash == chain[13].hash());
    for (std::size_t i = 14; i < chain.size(); ++i) (void)deferred(cs, chain[i]);
  }

  SECTION("a block on a side branch, then a reorg onto that branch") {
    const BlockIndex* fork = cs.at_height(12);
    std::vector<Block> branch;
    ParentInfo parent = parent_of(cs, fork);
    for (std::uint64_t i = 0; i < 4; ++i) {
      branch.push_back(make_block(parent, pub(7)));
      parent = parent_of(branch.back(), fork->height + i + 1);
    }
    (void)deferred(cs, branch[0]);  // less work than the tip: stored, not connected
    REQUIRE(cs.uncommitted_blocks() == 0);
    REQUIRE(cs.tip()->hash == chain[13].hash());
    (void)deferred(cs, branch[1]);  // equal work: the first seen chain stays
    REQUIRE(cs.tip()->hash == chain[13].hash());
    const auto r = deferred(cs, branch[2]);  // more work: reorg
    REQUIRE(r.disconnected.size() == 2);
    REQUIRE(r.connected.size() == 3);
    REQUIRE(cs.tip()->hash == branch[2].hash());
    REQUIRE(cs.uncommitted_blocks() == 0);
    (void)deferred(cs, branch[3]);
    REQUIRE(cs.uncommitted_blocks() == 1);
  }

  SECTION("a block already stored, submitted to be committed at once") {
    const auto r = cs.process_block(chain[5], kNow, false, CommitMode::kNow);
    REQUIRE(r.duplicate);
    REQUIRE(cs.uncommitted_blocks() == 0);
  }

  cs.flush();
  check_consistent(cs, dir.file("fresh.db"));
}

TEST_CASE("a crash loses deferred connections and never part of one", "[chain][deferred][crash]") {
  TempDir dir("deferred-crash");
  const std::size_t extra = GENERATE(std::size_t{20}, kMaxDeferredBlocks + 6);
  CAPTURE(extra);
  const auto chain = build_chain(dir.file("scratch.db"), 5 + extra);
  const auto db = dir.file("node.db");
  { Chainstate init(db, regtest(), 1); }

  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: 5 blocks committed one by one, then `extra` deferred; report, then wait to die.
    int code = 0;
    try {
      Chainstate cs(db, regtest(), 1);
      for (std::size_t i = 0; i < 5; ++i) {
        if (!cs.process_block(chain[i], kNow).verdict.ok()) code = 3;
      }
      for (std::size_t i = 5; i < chain.size(); ++i) {
        if (!cs.process_block(chain[i], kNow, false, CommitMode::kDeferred).verdict.ok()) code = 3;
      }
      const char byte = code == 0 ? 'k' : 'x';
      if (::write(ready[1], &byte, 1) != 1) ::_exit(4);
      ::pause();
    } catch (...) {
      code = 2;
    }
    ::_exit(code);
  }
  ChildGuard child(pid);
  ::close(ready[1]);
  char byte = 0;
  const auto got = ::read(ready[0], &byte, 1);
  ::close(ready[0]);
  REQUIRE(got == 1);
  REQUIRE(byte == 'k');
  const int status = child.kill_and_reap();
  REQUIRE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));

  // What was committed survives: the first 5 blocks and every full batch of deferred ones.
  const std::size_t committed = 5 + (extra / kMaxDeferredBlocks) * kMaxDeferredBlocks;
  Chainstate cs(db, regtest(), 1);
  REQUIRE(cs.check_integrity() == "");
  REQUIRE(cs.height() == committed);
  REQUIRE(cs.tip()->hash == chain[committed - 1].hash());
  REQUIRE(cs.all_accounts() == cs.replay_account_state());
  REQUIRE_FALSE(cs.read_block(chain[committed].hash()).has_value());
  // The lost blocks are simply connected again.
  for (std::size_t i = committed; i < chain.size(); ++i) (void)submit_ok(cs, chain[i]);
  REQUIRE(cs.tip()->hash == chain.back().hash());
  check_consistent(cs, dir.file("fresh.db"));
}

TEST_CASE("after a storage failure the chainstate refuses every change until reopened", "[chain][deferred]") {
  TempDir dir("deferred-failure");
  const auto chain = build_chain(dir.file("scratch.db"), 20);
  const auto db = dir.file("node.db");
  { Chainstate init(db, regtest(), 1); }

  // In a child process: the file size limit (RLIMIT_FSIZE) makes the commit's WAL writes fail,
  // as a full disk would. Exit codes: 0 as expected, 10+ which expectation failed.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 0;
    try {
      std::signal(SIGXFSZ, SIG_IGN);  // a write past the limit then fails with EFBIG
      Chainstate cs(db, regtest(), 1);
      for (std::size_t i = 0; i < 5; ++i) {
        if (!cs.process_block(chain[i], kNow).verdict.ok()) ::_exit(10);
      }
      for (std::size_t i = 5; i < 15; ++i) {
        if (!cs.process_block(chain[i], kNow, false, CommitMode::kDeferred).verdict.ok()) ::_exit(11);
      }
      const auto wal_size = std::filesystem::file_size(db.string() + "-wal");
      const rlimit limit{wal_size, wal_size};
      rlimit unlimited{};
      ::getrlimit(RLIMIT_FSIZE, &unlimited);
      if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(12);
      bool threw = false;
      try {
        (void)cs.process_block(chain[15], kNow);  // commits the batch: the writes fail
      } catch (const StorageError&) {
        threw = true;
      }
      if (!threw) ::_exit(13);
      ::setrlimit(RLIMIT_FSIZE, &unlimited);  // the disk has room again; the chainstate must not care
      std::string message;
      try {
        (void)cs.process_block(chain[15], kNow);
      } catch (const StorageError& e) {
        message = e.what();
      }
      if (message.find("failed earlier") == std::string::npos) ::_exit(14);
      try {
        (void)cs.accept_header(chain[15].header, kNow);
        ::_exit(15);
      } catch (const StorageError&) {
      }
      try {
        cs.flush();
        ::_exit(16);
      } catch (const StorageError&) {
      }
    } catch (...) {
      code = 2;
    }
    ::_exit(code);
  }
  ChildGuard child(pid);
  const int status = child.reap();
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  // Reopened: the 5 committed blocks, nothing of the failed batch; then it goes on normally.
  Chainstate cs(db, regtest(), 1);
  REQUIRE(cs.check_integrity() == "");
  REQUIRE(cs.height() == 5);
  REQUIRE(cs.tip()->hash == chain[4].hash());
  REQUIRE(cs.all_accounts() == cs.replay_account_state());
  for (std::size_t i = 5; i < chain.size(); ++i) (void)submit_ok(cs, chain[i]);
  check_consistent(cs, dir.file("fresh.db"));
}
