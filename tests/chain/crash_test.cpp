#include "chain/chainstate.hpp"

#include <poll.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chain/chain_test_util.hpp"
#include "chain/sqlite.hpp"

using namespace cheese;
using namespace cheese::test;

namespace {

//! Exit codes of the child; anything but kChildDone or death by SIGKILL fails the test.
enum ChildExit : int { kChildDone = 0, kChildException = 2, kChildBadBlock = 3, kChildRejected = 4 };

//! Runs in the forked child: opens the node's database and connects the prebuilt blocks from
//! wherever the database stands, each committed at once or, as during a node's initial sync,
//! deferred while more follow. No Catch2 here; the verdict is the exit code.
//! After each block it writes one byte to `progress`, so the parent kills it after a number of
//! blocks rather than after a time (a loaded machine oversleeps and would let it finish).
int child_connect(const std::filesystem::path& db, const std::vector<Bytes>& blocks, CommitMode mode,
                  int progress) noexcept {
  try {
    Chainstate cs(db, regtest(), 1);
    for (std::uint64_t h = cs.height(); h < blocks.size(); ++h) {
      auto b = decode_block(blocks[h]);
      if (!b) return kChildBadBlock;
      const auto r = cs.process_block(*b, kNow, false, h + 1 < blocks.size() ? mode : CommitMode::kNow);
      if (!r.verdict.ok()) return kChildRejected;
      const char one = 1;
      if (::write(progress, &one, 1) != 1) return kChildException;
    }
    return kChildDone;
  } catch (...) {
    return kChildException;
  }
}

struct Prebuilt {
  std::vector<Bytes> blocks;  //!< serialized, blocks[i] is at height i + 1
  std::vector<Hash256> hashes;
  std::map<PublicKey, Account> final_accounts;
};

//! A chain of `n` blocks with transfers among five keys, built in a scratch Chainstate.
Prebuilt prebuild(const std::filesystem::path& scratch_db, std::size_t n) {
  Prebuilt out;
  std::vector<SecretKey> keys;
  for (std::uint8_t i = 1; i <= 5; ++i) keys.push_back(key_from_seed(i));
  std::mt19937 rng(4242);
  Chainstate cs(scratch_db, regtest(), 2);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<Transaction> transfers;
    std::map<PublicKey, Account> work;
    for (const auto& k : keys) work[k.public_key()] = cs.account(k.public_key());
    // Many signed transfers per block: connecting takes long enough for kills to land midway.
    const std::size_t n_tx = 4 + rng() % 12;
    for (std::size_t t = 0; t < n_tx; ++t) {
      const SecretKey& from = keys[rng() % keys.size()];
      Account& s = work[from.public_key()];
      if (s.balance < 1000) continue;
      const Amount amount = 1 + rng() % (s.balance / 2);
      const Amount fee = rng() % 500;
      const PublicKey& to = keys[rng() % keys.size()].public_key();
      transfers.push_back(make_transfer(from, to, amount, fee, s.nonce));
      s.balance -= amount + fee;
      s.nonce += 1;
      if (work.count(to)) work[to].balance += amount;
    }
    const Block b = make_block(cs, cs.tip(), keys[i % keys.size()].public_key(), transfers);
    (void)submit_ok(cs, b);
    out.blocks.push_back(serialize(b));
    out.hashes.push_back(b.hash());
  }
  out.final_accounts = cs.all_accounts();
  return out;
}

//! After a crash: a sound database whose tip is a block of the prebuilt chain and whose state is
//! that of its active chain. Returns the height.
std::uint64_t check_after_crash(const std::filesystem::path& db, const Prebuilt& chain) {
  Chainstate cs(db, regtest(), 1);
  REQUIRE(cs.check_integrity() == "");
  const std::uint64_t h = cs.height();
  REQUIRE(h <= chain.blocks.size());
  if (h == 0) {
    REQUIRE(cs.tip()->hash == regtest().genesis_hash);
  } else {
    REQUIRE(cs.tip()->hash == chain.hashes[h - 1]);
  }
  for (std::uint64_t i = 1; i <= h; ++i) REQUIRE(cs.at_height(i)->hash == chain.hashes[i - 1]);
  REQUIRE(cs.all_accounts() == cs.replay_account_state());
  // A block that was stored before the crash but not yet connected is connected on reopen.
  if (h < chain.blocks.size()) REQUIRE_FALSE(cs.read_block(chain.hashes[h]).has_value());
  return h;
}

}  // namespace

TEST_CASE("a node killed at random moments reopens with a consistent chain", "[chain][crash]") {
  const CommitMode mode = GENERATE(CommitMode::kNow, CommitMode::kDeferred);
  CAPTURE(mode == CommitMode::kDeferred);
  TempDir dir("crash-kill");
  const auto db = dir.file("node.db");
  constexpr std::size_t kBlocks = 400;
  const Prebuilt chain = prebuild(dir.file("scratch.db"), kBlocks);
  REQUIRE(chain.hashes.size() == kBlocks);

  // One open creates the database, so that the first child does not race its creation.
  { Chainstate init(db, regtest(), 1); }

  std::mt19937 rng(20261125);
  std::uint64_t height = 0;
  int killed_midway = 0;
  for (int iteration = 0; iteration < 8; ++iteration) {
    CAPTURE(iteration, height);
    // Killed at a random moment after 1 to 40 more blocks: within the 8 iterations the child
    // never reaches the end of the 400, whatever the machine's speed or load.
    const std::size_t blocks_before_kill = 1 + rng() % 40;
    const auto delay = std::chrono::microseconds(rng() % 2'001);
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      ::_exit(child_connect(db, chain.blocks, mode, fds[1]));
    }
    ::close(fds[1]);
    ChildGuard guard(pid);
    std::size_t seen = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (seen < blocks_before_kill && std::chrono::steady_clock::now() < deadline) {
      pollfd pfd{fds[0], POLLIN, 0};
      if (::poll(&pfd, 1, 100) <= 0) continue;
      char buf[64];
      const ssize_t n = ::read(fds[0], buf, std::min(sizeof buf, blocks_before_kill - seen));
      if (n <= 0) break;  // the child finished or died
      seen += static_cast<std::size_t>(n);
    }
    std::this_thread::sleep_for(delay);
    const int status = guard.kill_and_reap();
    ::close(fds[0]);  // only now: a write to a closed pipe would kill the child with SIGPIPE
    REQUIRE(status != -1);
    const bool was_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    const bool finished = WIFEXITED(status) && WEXITSTATUS(status) == kChildDone;
    INFO("child status " << status << (WIFEXITED(status) ? " exit code " : " signal ")
                         << (WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status)));
    REQUIRE((was_killed || finished));

    const std::uint64_t now_height = check_after_crash(db, chain);
    REQUIRE(now_height >= height);
    if (was_killed && now_height < kBlocks) ++killed_midway;
    height = now_height;
  }
  CAPTURE(height, killed_midway);
  REQUIRE(killed_midway >= 4);

  // Finish in this process: the result is the chain the scratch node built.
  Chainstate cs(db, regtest(), 2);
  for (std::uint64_t h = cs.height(); h < kBlocks; ++h) {
    auto b = decode_block(chain.blocks[h]);
    REQUIRE(b.has_value());
    (void)submit_ok(cs, *b);
  }
  REQUIRE(cs.tip()->hash == chain.hashes.back());
  REQUIRE(cs.all_accounts() == chain.final_accounts);
  REQUIRE(cs.all_accounts() == cs.replay_account_state());
  REQUIRE(cs.check_integrity() == "");
}

namespace {

//! Writes a block into the store the way process_block's first transaction does, without the
//! second one (connecting it): the state a crash between the two leaves behind.
void store_without_connecting(const std::filesystem::path& db, const Block& b, std::uint64_t height) {
  Database raw(db, Database::Sync::kNormal);
  DbTransaction txn(raw);
  auto seq = raw.prepare("SELECT MAX(sequence) + 1 FROM block_index");
  REQUIRE(seq.step());
  const std::int64_t sequence = seq.column_int(0);
  seq.reset();
  const Bytes data = serialize(b);
  const auto header = serialize(b.header);
  raw.prepare("INSERT INTO blocks(hash, data) VALUES(?1, ?2)").bind(1, b.hash().span()).bind(2, ByteSpan{data}).run();
  raw.prepare(
         "INSERT INTO block_index(hash, height, header, status, sequence, tx_count, size, "
         "cb_recipient, cb_amount) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
      .bind(1, b.hash().span())
      .bind(2, static_cast<std::int64_t>(height))
      .bind(3, ByteSpan{header})
      .bind(4, std::int64_t{kStatusHaveData})
      .bind(5, sequence)
      .bind(6, static_cast<std::int64_t>(b.txs.size()))
      .bind(7, static_cast<std::int64_t>(data.size()))
      .bind(8, ByteSpan{b.txs[0].recipient})
      .bind(9, static_cast<std::int64_t>(b.txs[0].amount))
      .run();
  txn.commit();
}

}  // namespace

TEST_CASE("blocks stored but not connected before a crash are connected on reopen", "[chain][crash]") {
  TempDir dir("crash-stored");
  const auto db = dir.file("node.db");
  const SecretKey a = key_from_seed(1);
  const PublicKey b = pub(2), m = pub(3);

  SECTION("an extension of the tip") {
    Block next;
    {
      Chainstate cs(db, regtest(), 1);
      (void)extend(cs, 11, a.public_key());
      next = make_block(cs, cs.tip(), m, {make_transfer(a, b, 1 * kCoin, 10, 0)});
    }
    store_without_connecting(db, next, 12);
    Chainstate cs(db, regtest(), 1);
    REQUIRE(cs.tip()->hash == next.hash());
    REQUIRE(cs.account(b) == Account{1 * kCoin, 0});
    check_consistent(cs, dir.file("fresh.db"));
  }

  SECTION("a branch with more work than the tip (a reorg cut short)") {
    std::vector<Block> branch;
    std::uint64_t fork_height = 0;
    {
      Chainstate cs(db, regtest(), 1);
      (void)extend(cs, 12, a.public_key());
      fork_height = cs.height();
      ParentInfo parent = parent_of(cs, cs.tip());
      (void)extend(cs, 2, m);
      for (std::uint64_t i = 0; i < 3; ++i) {
        branch.push_back(make_block(
            parent, b,
            i == 0 ? std::vector<Transaction>{make_transfer(a, m, 3 * kCoin, 0, 0)} : std::vector<Transaction>{}));
        parent = parent_of(branch.back(), fork_height + i + 1);
      }
    }
    for (std::uint64_t i = 0; i < branch.size(); ++i) store_without_connecting(db, branch[i], fork_height + i + 1);
    Chainstate cs(db, regtest(), 1);
    REQUIRE(cs.tip()->hash == branch.back().hash());
    REQUIRE(cs.height() == fork_height + 3);
    REQUIRE(cs.account(m).balance == 3 * kCoin);
    check_consistent(cs, dir.file("fresh.db"));
  }
}
