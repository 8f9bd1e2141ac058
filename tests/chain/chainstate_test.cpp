#include "chain/chainstate.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "chain/chain_test_util.hpp"
#include "chain/sqlite.hpp"

using namespace cheese;
using namespace cheese::test;

namespace {

//! The message of the StorageError that opening `db` throws, or "" when it opens.
std::string open_error(const std::filesystem::path& db, Network net) {
  try {
    Chainstate cs(db, chain_params(net), 1);
  } catch (const StorageError& e) {
    return e.what();
  }
  return "";
}

Amount total_balance(const std::map<PublicKey, Account>& accounts) {
  Amount sum = 0;
  for (const auto& [k, a] : accounts) sum += a.balance;
  return sum;
}

}  // namespace

TEST_CASE("a fresh database starts at genesis and a reopen keeps the tip", "[chain][chainstate]") {
  TempDir dir("cs-open");
  const auto db = dir.file("chain.db");
  Hash256 tip_hash;
  {
    Chainstate cs(db, regtest(), 1);
    REQUIRE(cs.height() == 0);
    REQUIRE(cs.tip()->hash == regtest().genesis_hash);
    REQUIRE(cs.tip()->height == 0);
    REQUIRE(cs.tip()->prev == nullptr);
    REQUIRE(cs.at_height(0) == cs.tip());
    REQUIRE(cs.at_height(1) == nullptr);
    REQUIRE(cs.best_header() == cs.tip());
    REQUIRE(cs.all_accounts().empty());
    REQUIRE(cs.replay_account_state().empty());
    REQUIRE(cs.check_integrity() == "");
    REQUIRE(cs.read_block(regtest().genesis_hash) == regtest().genesis);
    const auto loc = cs.find_transaction(txid(regtest().genesis.txs[0]));
    REQUIRE(loc.has_value());
    REQUIRE(loc->block_hash == regtest().genesis_hash);
    REQUIRE(loc->height == 0);
    REQUIRE(cs.chain_tips() == std::vector<const BlockIndex*>{cs.tip()});
  }
  {
    // Reopening an untouched database changes nothing.
    Chainstate cs(db, regtest(), 1);
    REQUIRE(cs.height() == 0);
    REQUIRE(cs.tip()->hash == regtest().genesis_hash);
    (void)extend(cs, 12, pub(1));
    tip_hash = cs.tip()->hash;
  }
  {
    Chainstate cs(db, regtest(), 1);
    REQUIRE(cs.height() == 12);
    REQUIRE(cs.tip()->hash == tip_hash);
    REQUIRE(cs.check_integrity() == "");
    REQUIRE(cs.account(pub(1)).balance == 2 * 50 * kCoin);
    REQUIRE(cs.all_accounts() == cs.replay_account_state());
    // The reopened node keeps extending the same chain.
    (void)extend(cs, 1, pub(1));
    REQUIRE(cs.height() == 13);
    REQUIRE(cs.at_height(12)->hash == tip_hash);
  }
}

TEST_CASE("a database of another network is refused", "[chain][chainstate]") {
  TempDir dir("cs-network");
  const auto db = dir.file("chain.db");
  {
    Chainstate cs(db, regtest(), 1);
    (void)extend(cs, 2, pub(1));
  }
  const std::string main_error = open_error(db, Network::kMain);
  CAPTURE(main_error);
  REQUIRE(main_error.find("another network") != std::string::npos);
  REQUIRE(main_error.find(db.string()) != std::string::npos);
  REQUIRE(open_error(db, Network::kTest).find("another network") != std::string::npos);
  // The refused opens left the regtest database as it was.
  Chainstate cs(db, regtest(), 1);
  REQUIRE(cs.height() == 2);
  REQUIRE(cs.check_integrity() == "");
}

TEST_CASE("a file that is not a database is refused with a clear message", "[chain][chainstate]") {
  TempDir dir("cs-garbage");
  for (std::size_t size : {std::size_t{8}, std::size_t{100}, std::size_t{4096}, std::size_t{65536}}) {
    CAPTURE(size);
    const auto db = dir.file("garbage-" + std::to_string(size) + ".db");
    std::string garbage(size, '\0');
    for (std::size_t i = 0; i < size; ++i) garbage[i] = static_cast<char>((i * 131 + 7) % 251);
    {
      std::ofstream out(db, std::ios::binary);
      out.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    }
    const std::string error = open_error(db, Network::kRegtest);
    CAPTURE(error);
    REQUIRE(error.find("not a cheesechain database") != std::string::npos);
    REQUIRE(error.find(db.string()) != std::string::npos);
    // The file was not touched.
    REQUIRE(std::filesystem::file_size(db) == size);
    std::string after(size, '\0');
    std::ifstream in(db, std::ios::binary);
    in.read(after.data(), static_cast<std::streamsize>(size));
    REQUIRE(after == garbage);
  }
}

TEST_CASE("a database with a newer schema version is refused", "[chain][chainstate]") {
  TempDir dir("cs-schema");
  const auto db = dir.file("chain.db");
  { Chainstate cs(db, regtest(), 1); }
  {
    Database raw(db, Database::Sync::kNormal);
    raw.prepare("UPDATE meta SET value = ?1 WHERE key = 'schema_version'").bind(1, kChainSchemaVersion + 1).run();
  }
  const std::string error = open_error(db, Network::kRegtest);
  CAPTURE(error);
  REQUIRE(error.find("schema version " + std::to_string(kChainSchemaVersion + 1)) != std::string::npos);
  REQUIRE(error.find("newer") != std::string::npos);
}

TEST_CASE("an SQLite database of another program is refused", "[chain][chainstate]") {
  TempDir dir("cs-foreign");
  const auto db = dir.file("wallet.db");
  {
    Database raw(db, Database::Sync::kNormal);
    raw.exec("CREATE TABLE keys(id INTEGER PRIMARY KEY, secret BLOB); INSERT INTO keys(secret) VALUES(x'00');");
  }
  const std::string error = open_error(db, Network::kRegtest);
  CAPTURE(error);
  REQUIRE(error.find("not a cheesechain database") != std::string::npos);
  // Refusing it did not add chain tables to the other program's file.
  Database raw(db, Database::Sync::kNormal);
  auto q = raw.prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'");
  REQUIRE(q.step());
  REQUIRE(q.column_int(0) == 1);
}

TEST_CASE("connecting blocks credits matured coinbases and applies transfers", "[chain][chainstate]") {
  TempDir dir("cs-connect");
  Chainstate cs(dir.file("chain.db"), regtest(), 2);
  const SecretKey a = key_from_seed(1);
  const SecretKey b = key_from_seed(2);
  const PublicKey c = pub(3);
  const std::uint64_t maturity = regtest().coinbase_maturity;
  REQUIRE(maturity == 10);

  std::vector<Block> chain;
  for (std::uint64_t h = 1; h <= 30; ++h) {
    chain.push_back(make_block(cs, cs.tip(), a.public_key()));
    const auto r = submit_ok(cs, chain.back());
    REQUIRE(r.tip_changed);
    REQUIRE(r.connected.size() == 1);
    REQUIRE(r.connected[0] == chain.back());
    REQUIRE(r.disconnected.empty());
    REQUIRE(cs.height() == h);
    REQUIRE(cs.tip()->coinbase_amount == 50 * kCoin);
    // Connecting block h credits the coinbase of block h - 10; the genesis block (h - 10 == 0)
    // is never credited, so after h blocks the miner holds 50 CHZ for blocks 1 .. h - 10.
    const Amount expected = h > maturity ? (h - maturity) * 50 * kCoin : 0;
    REQUIRE(cs.account(a.public_key()) == Account{expected, 0});
    // The genesis coinbase pays the all-zero key; it never appears.
    REQUIRE(cs.account(PublicKey{}) == Account{});
  }
  REQUIRE(cs.account(a.public_key()).balance == 50 * kCoin * (30 - 10));
  REQUIRE(cs.all_accounts().size() == 1);

  // Block 31, mined by C, carries two transfers A -> B with fees.
  const Transaction t1 = make_transfer(a, b.public_key(), 7 * kCoin, 1000, 0);
  const Transaction t2 = make_transfer(a, b.public_key(), 3 * kCoin, 2500, 1);
  const Block b31 = make_block(cs, cs.tip(), c, {t1, t2});
  REQUIRE(b31.txs[0].amount == 50 * kCoin + 3500);
  (void)submit_ok(cs, b31);
  REQUIRE(cs.tip()->hash == b31.hash());
  REQUIRE(cs.tip()->coinbase_amount == 50 * kCoin + 3500);
  REQUIRE(cs.tip()->coinbase_recipient == c);
  // Block 31 also credited block 21 to A.
  REQUIRE(cs.account(a.public_key()) == Account{21 * 50 * kCoin - 10 * kCoin - 3500, 2});
  REQUIRE(cs.account(b.public_key()) == Account{10 * kCoin, 0});
  REQUIRE(cs.account(c) == Account{});  // immature

  // Block 32: B pays 1 CHZ back with no fee.
  const Transaction t3 = make_transfer(b, a.public_key(), 1 * kCoin, 0, 0);
  const Block b32 = make_block(cs, cs.tip(), a.public_key(), {t3});
  (void)submit_ok(cs, b32);
  REQUIRE(cs.account(b.public_key()) == Account{9 * kCoin, 1});

  // C's reward (subsidy + both fees) is credited exactly when block 41 is connected.
  (void)extend(cs, 8, a.public_key());
  REQUIRE(cs.height() == 40);
  REQUIRE(cs.account(c) == Account{});
  (void)extend(cs, 1, a.public_key());
  REQUIRE(cs.account(c) == Account{50 * kCoin + 3500, 0});
  // Blocks 1..30 matured to A, block 31 to C; block 32's reward is not credited until 42.
  REQUIRE(cs.account(a.public_key()) == Account{30 * 50 * kCoin - 10 * kCoin - 3500 + 1 * kCoin, 2});
  // Nothing is created or lost: balances sum to the 31 credited subsidies (fees only moved).
  REQUIRE(total_balance(cs.all_accounts()) == 31 * 50 * kCoin);

  SECTION("transactions are found where they were confirmed") {
    const auto l1 = cs.find_transaction(txid(t1));
    REQUIRE(l1.has_value());
    REQUIRE(l1->block_hash == b31.hash());
    REQUIRE(l1->height == 31);
    REQUIRE(l1->index == 1);
    const auto l2 = cs.find_transaction(txid(t2));
    REQUIRE(l2.has_value());
    REQUIRE(l2->index == 2);
    const auto l3 = cs.find_transaction(txid(t3));
    REQUIRE(l3.has_value());
    REQUIRE(l3->block_hash == b32.hash());
    REQUIRE(l3->height == 32);
    const auto lcb = cs.find_transaction(txid(b31.txs[0]));
    REQUIRE(lcb.has_value());
    REQUIRE(lcb->index == 0);
    REQUIRE(lcb->height == 31);
    REQUIRE_FALSE(cs.find_transaction(txid(make_transfer(a, c, 1, 0, 99))).has_value());
  }

  SECTION("blocks read back exactly as they were submitted") {
    REQUIRE(cs.read_block(b31.hash()) == b31);
    REQUIRE(cs.read_block(b32.hash()) == b32);
    REQUIRE(cs.read_block_bytes(b31.hash()) == serialize(b31));
    for (std::size_t i = 0; i < chain.size(); ++i) {
      REQUIRE(cs.read_block(chain[i].hash()) == chain[i]);
      REQUIRE(cs.at_height(i + 1)->hash == chain[i].hash());
      REQUIRE(cs.lookup(chain[i].hash()) == cs.at_height(i + 1));
      REQUIRE(cs.is_active(cs.at_height(i + 1)));
    }
    REQUIRE_FALSE(cs.read_block(Hash256{}).has_value());
    REQUIRE(cs.lookup(Hash256{}) == nullptr);
    // A duplicate submission is reported and changes nothing.
    const auto before = cs.all_accounts();
    const auto r = cs.process_block(b31, kNow);
    REQUIRE(r.duplicate);
    REQUIRE(r.verdict.ok());
    REQUIRE_FALSE(r.tip_changed);
    REQUIRE(cs.all_accounts() == before);
  }

  SECTION("locator and find_fork") {
    const auto loc = cs.locator();
    REQUIRE(loc.front() == cs.tip()->hash);
    REQUIRE(loc.back() == regtest().genesis_hash);
    std::vector<std::uint64_t> heights;
    for (const auto& h : loc) {
      const BlockIndex* idx = cs.lookup(h);
      REQUIRE(idx != nullptr);
      REQUIRE(cs.is_active(idx));
      heights.push_back(idx->height);
    }
    // At least 10 one by one, then gaps that at least double, then genesis.
    for (std::size_t i = 1; i < 10; ++i) REQUIRE(heights[i] + 1 == heights[i - 1]);
    std::uint64_t last_gap = 1;
    for (std::size_t i = 1; i + 1 < heights.size(); ++i) {
      const std::uint64_t gap = heights[i - 1] - heights[i];
      REQUIRE(gap >= last_gap);
      if (i > 11) REQUIRE(gap == 2 * last_gap);
      last_gap = gap;
    }
    REQUIRE(loc.size() < 10 + 8);
    REQUIRE(cs.find_fork(loc) == cs.tip());

    // A side branch from height 20: its locator leads back to the fork point.
    const auto side = extend_from(cs, cs.at_height(20), 3, pub(9));
    REQUIRE(cs.height() == 41);
    const BlockIndex* side_tip = cs.lookup(side.back().hash());
    REQUIRE_FALSE(cs.is_active(side_tip));
    const auto side_loc = cs.locator(side_tip);
    REQUIRE(side_loc.front() == side.back().hash());
    REQUIRE(side_loc.back() == regtest().genesis_hash);
    REQUIRE(cs.find_fork(side_loc) == cs.at_height(20));
    // A peer that knows none of our blocks but genesis.
    REQUIRE(cs.find_fork({Hash256{}, side.back().hash()}) == cs.at_height(0));
    REQUIRE(cs.find_fork({}) == cs.at_height(0));
    // A locator that is only a block in the middle of the active chain.
    REQUIRE(cs.find_fork({chain[14].hash()}) == cs.at_height(15));
  }

  REQUIRE(cs.check_integrity() == "");
  REQUIRE(cs.all_accounts() == cs.replay_account_state());
}

TEST_CASE("headers first then bodies in any order", "[chain][chainstate]") {
  TempDir dir("cs-headers");
  Chainstate cs(dir.file("chain.db"), regtest(), 2);
  (void)extend(cs, 3, pub(1));
  const BlockIndex* base = cs.tip();
  const auto blocks = [&] {
    std::vector<Block> out;
    ParentInfo parent = parent_of(cs, base);
    for (std::uint64_t i = 0; i < 4; ++i) {
      out.push_back(make_block(parent, pub(2)));
      parent = parent_of(out.back(), base->height + i + 1);
    }
    return out;
  }();
  // A header whose parent is unknown is refused; in order they are all accepted.
  REQUIRE(cs.accept_header(blocks[1].header, kNow).reason == Reject::kBlockUnknownParent);
  for (const auto& blk : blocks) {
    const BlockIndex* out = nullptr;
    REQUIRE(cs.accept_header(blk.header, kNow, &out).ok());
    REQUIRE(out != nullptr);
    REQUIRE_FALSE(out->have_data());
  }
  REQUIRE(cs.best_header()->hash == blocks[3].hash());
  REQUIRE(cs.tip() == base);
  // A header again is fine; a bad one is refused.
  REQUIRE(cs.accept_header(blocks[2].header, kNow).ok());
  BlockHeader bad_bits = make_block(cs, base, pub(2), {}, BlockOptions::with_bits(0x201fffff)).header;
  REQUIRE(cs.accept_header(bad_bits, kNow).reason == Reject::kBlockBadBits);

  // Bodies 3, 1, 2, 0: nothing connects until block 0's body fills the gap.
  for (std::size_t i : {3u, 1u, 2u}) {
    const auto r = submit_ok(cs, blocks[i]);
    REQUIRE_FALSE(r.tip_changed);
    REQUIRE(cs.tip() == base);
  }
  const auto r = submit_ok(cs, blocks[0]);
  REQUIRE(r.tip_changed);
  REQUIRE(hashes(r.connected) == hashes(blocks));
  REQUIRE(cs.tip()->hash == blocks[3].hash());
  check_consistent(cs, dir.file("fresh.db"));
}

TEST_CASE("invalid blocks are rejected and change nothing", "[chain][chainstate]") {
  TempDir dir("cs-reject");
  Chainstate cs(dir.file("chain.db"), regtest(), 2);
  const SecretKey a = key_from_seed(1);
  const PublicKey b = pub(2);
  const PublicKey miner = pub(3);
  (void)extend(cs, 12, a.public_key());  // A holds 2 x 50 CHZ
  const Amount a_balance = 2 * 50 * kCoin;
  REQUIRE(cs.account(a.public_key()).balance == a_balance);
  // Block 13 credits block 3's reward to A before its transfers, so they may spend it too.
  const Amount a_spendable = a_balance + 50 * kCoin;

  const BlockIndex* const tip = cs.tip();
  const auto accounts = cs.all_accounts();
  auto expect_rejected = [&](const Block& blk, Reject reason, std::int64_t now = kNow) {
    const auto r = cs.process_block(blk, now);
    INFO("verdict " << to_string(r.verdict.reason));
    REQUIRE(r.verdict.reason == reason);
    REQUIRE_FALSE(r.tip_changed);
    REQUIRE(r.connected.empty());
    REQUIRE(r.disconnected.empty());
    REQUIRE(cs.tip() == tip);
    REQUIRE(cs.all_accounts() == accounts);
    REQUIRE(cs.check_integrity() == "");
    return r;
  };

  SECTION("unknown parent") {
    const Block parent = make_block(cs, tip, miner);  // never submitted
    const Block orphan = make_block(parent_of(parent, 13), miner);
    (void)expect_rejected(orphan, Reject::kBlockUnknownParent);
    REQUIRE(cs.lookup(orphan.hash()) == nullptr);
    // Not held against it: once the parent arrives, it connects.
    (void)submit_ok(cs, parent);
    (void)submit_ok(cs, orphan);
    REQUIRE(cs.tip()->hash == orphan.hash());
  }

  SECTION("proof of work above the target") {
    const Block blk = make_block(cs, tip, miner, {}, BlockOptions::failing_pow());
    (void)expect_rejected(blk, Reject::kBlockHighHash);
    REQUIRE(cs.lookup(blk.hash()) == nullptr);
  }

  SECTION("bits other than the expected ones") {
    // Harder than regtest's fixed target: the PoW is fine, the bits are not what the chain wants.
    const Block harder = make_block(cs, tip, miner, {}, BlockOptions::with_bits(0x201fffff));
    REQUIRE(check_header_pow(harder.header, regtest()).ok());
    (void)expect_rejected(harder, Reject::kBlockBadBits);
    REQUIRE(cs.lookup(harder.hash()) == nullptr);
    // Easier than the network's limit.
    Block easier = make_block(cs, tip, miner);
    easier.header.bits = 0x2100ffff;
    (void)expect_rejected(easier, Reject::kBlockBadBitsRange);
    easier.header.bits = 0;
    (void)expect_rejected(easier, Reject::kBlockBadBitsRange);
  }

  SECTION("time not after the median of the last 11 blocks") {
    const auto mtp = cs.median_time_past(tip);
    REQUIRE(mtp == tip->ancestor(7)->header.time);
    const Block old = make_block(cs, tip, miner, {}, BlockOptions::at_time(static_cast<std::uint32_t>(mtp)));
    (void)expect_rejected(old, Reject::kBlockTimeTooOld);
    const Block older = make_block(cs, tip, miner, {}, BlockOptions::at_time(static_cast<std::uint32_t>(mtp - 1000)));
    (void)expect_rejected(older, Reject::kBlockTimeTooOld);
    // One second later is fine, even though it is before the parent's time.
    const Block ok = make_block(cs, tip, miner, {}, BlockOptions::at_time(static_cast<std::uint32_t>(mtp + 1)));
    (void)submit_ok(cs, ok);
  }

  SECTION("time more than 2 hours ahead of the node's clock") {
    const auto limit = static_cast<std::uint32_t>(kNow + regtest().max_future_block_time);
    const Block future = make_block(cs, tip, miner, {}, BlockOptions::at_time(limit + 1));
    (void)expect_rejected(future, Reject::kBlockTimeTooNew);
    REQUIRE(cs.lookup(future.hash()) == nullptr);
    // Not held against it: a second later on the node's clock it is acceptable.
    (void)submit_ok(cs, future, kNow + 1);
    REQUIRE(cs.tip()->hash == future.hash());
    // Exactly at the limit is accepted.
    const Block at_limit = make_block(cs, cs.tip(), miner, {}, BlockOptions::at_time(limit + 2));
    (void)submit_ok(cs, at_limit, kNow + 2);
  }

  SECTION("a body that does not match the merkle root") {
    const Transaction t = make_transfer(a, b, 1 * kCoin, 100, 0);
    const Block good = make_block(cs, tip, miner, {t});
    Block dropped = good;
    dropped.txs.pop_back();
    (void)expect_rejected(dropped, Reject::kBlockBadMerkleRoot);
    Block swapped = good;
    swapped.txs[0].extra.push_back(0x42);
    (void)expect_rejected(swapped, Reject::kBlockBadMerkleRoot);
    Block resigned = good;
    resigned.txs[1] = make_transfer(a, b, 2 * kCoin, 100, 0);
    (void)expect_rejected(resigned, Reject::kBlockBadMerkleRoot);
    // Still mutated on a second try (not "known invalid").
    (void)expect_rejected(dropped, Reject::kBlockBadMerkleRoot);
    // The header was not condemned: the same header with its real body is accepted.
    const BlockIndex* known = cs.lookup(good.hash());
    if (known) REQUIRE_FALSE(known->failed());
    const auto r = submit_ok(cs, good);
    REQUIRE_FALSE(r.duplicate);
    REQUIRE(r.tip_changed);
    REQUIRE(cs.tip()->hash == good.hash());
    REQUIRE(cs.account(b) == Account{1 * kCoin, 0});
  }

  SECTION("coinbase paying other than subsidy + fees") {
    const Transaction t = make_transfer(a, b, 1 * kCoin, 100, 0);
    const Block more = make_block(cs, tip, miner, {t}, BlockOptions::paying(50 * kCoin + 101));
    (void)expect_rejected(more, Reject::kBlockBadCoinbaseAmount);
    const Block less = make_block(cs, tip, miner, {t}, BlockOptions::paying(50 * kCoin + 99));
    (void)expect_rejected(less, Reject::kBlockBadCoinbaseAmount);
    const Block no_fee = make_block(cs, tip, miner, {t}, BlockOptions::paying(50 * kCoin));
    (void)expect_rejected(no_fee, Reject::kBlockBadCoinbaseAmount);
    const Block huge = make_block(cs, tip, miner, {}, BlockOptions::paying(kMaxMoney + 1));
    (void)expect_rejected(huge, Reject::kBlockBadCoinbaseAmount);
    (void)submit_ok(cs, make_block(cs, tip, miner, {t}));
  }

  SECTION("coinbase with the wrong height") {
    const Block high = make_block(cs, tip, miner, {}, BlockOptions::coinbase_at(14));
    (void)expect_rejected(high, Reject::kBlockBadCoinbaseHeight);
    const Block low = make_block(cs, tip, miner, {}, BlockOptions::coinbase_at(12));
    (void)expect_rejected(low, Reject::kBlockBadCoinbaseHeight);
  }

  SECTION("a transfer with a bad signature") {
    Transaction flipped = make_transfer(a, b, 1 * kCoin, 0, 0);
    flipped.signature[10] ^= 0x01;
    const auto r1 = expect_rejected(make_block(cs, tip, miner, {flipped}), Reject::kTxBadSignature);
    REQUIRE(r1.verdict.tx_index == 1);
    Transaction changed = make_transfer(a, b, 1 * kCoin, 0, 0);
    changed.amount = 2 * kCoin;
    const Transaction good = make_transfer(a, b, 1 * kCoin, 0, 0);
    const auto r2 = expect_rejected(make_block(cs, tip, miner, {good, changed}), Reject::kTxBadSignature);
    REQUIRE(r2.verdict.tx_index == 2);
    // Signed for another network.
    Transaction foreign = make_transfer(a, b, 1 * kCoin, 0, 0);
    sign_transaction(foreign, a, chain_params(Network::kMain).magic);
    (void)expect_rejected(make_block(cs, tip, miner, {foreign}), Reject::kTxBadSignature);
    // Signed by someone else than the sender.
    Transaction forged = make_transfer(key_from_seed(7), b, 1 * kCoin, 0, 0);
    forged.sender = a.public_key();
    (void)expect_rejected(make_block(cs, tip, miner, {forged}), Reject::kTxBadSignature);
    // Many transfers, checked in chunks on several threads: the first bad one is reported.
    std::vector<Transaction> many;
    for (std::uint64_t n = 0; n < 100; ++n) many.push_back(make_transfer(a, b, 1000, 1, n));
    many[79].signature[5] ^= 0x04;
    many[49].signature[5] ^= 0x04;
    const auto r3 = expect_rejected(make_block(cs, tip, miner, many), Reject::kTxBadSignature);
    REQUIRE(r3.verdict.tx_index == 50);
    many[79].signature[5] ^= 0x04;
    many[49].signature[5] ^= 0x04;
    (void)submit_ok(cs, make_block(cs, tip, miner, many));
    REQUIRE(cs.account(a.public_key()).nonce == 100);
  }

  SECTION("a replayed nonce") {
    const Transaction t = make_transfer(a, b, 1 * kCoin, 0, 0);
    (void)submit_ok(cs, make_block(cs, tip, miner, {t}));
    const BlockIndex* tip2 = cs.tip();
    const auto accounts2 = cs.all_accounts();
    auto rejected_on_tip2 = [&](std::vector<Transaction> txs, Reject reason, std::size_t index) {
      const auto r = cs.process_block(make_block(cs, tip2, miner, std::move(txs)), kNow);
      REQUIRE(r.verdict.reason == reason);
      REQUIRE(r.verdict.tx_index == index);
      REQUIRE(cs.tip() == tip2);
      REQUIRE(cs.all_accounts() == accounts2);
    };
    // The very same transaction again.
    rejected_on_tip2({t}, Reject::kTxNonceTooLow, 1);
    // A different transaction with the used nonce.
    rejected_on_tip2({make_transfer(a, miner, 2 * kCoin, 5, 0)}, Reject::kTxNonceTooLow, 1);
    // A nonce from the future.
    rejected_on_tip2({make_transfer(a, b, 1 * kCoin, 0, 2)}, Reject::kTxNonceTooHigh, 1);
    // Two transactions with one nonce in one block.
    rejected_on_tip2({make_transfer(a, b, 1 * kCoin, 0, 1), make_transfer(a, miner, 1 * kCoin, 0, 1)},
                     Reject::kTxNonceTooLow, 2);
    REQUIRE(cs.account(a.public_key()).nonce == 1);
    (void)submit_ok(cs, make_block(cs, tip2, miner, {make_transfer(a, b, 1 * kCoin, 0, 1)}));
    REQUIRE(cs.account(a.public_key()).nonce == 2);
  }

  SECTION("a transfer above the sender's balance") {
    const Amount fee = 1000;
    const Block over = make_block(cs, tip, miner, {make_transfer(a, b, a_spendable - fee + 1, fee, 0)});
    const auto r = expect_rejected(over, Reject::kTxInsufficientBalance);
    REQUIRE(r.verdict.tx_index == 1);
    // Two transfers that fit one by one but not together.
    const Block both = make_block(
        cs, tip, miner, {make_transfer(a, b, a_spendable / 2, 0, 0), make_transfer(a, b, a_spendable / 2, 1, 1)});
    REQUIRE(expect_rejected(both, Reject::kTxInsufficientBalance).verdict.tx_index == 2);
    // A sender that never had anything.
    const Block empty = make_block(cs, tip, miner, {make_transfer(key_from_seed(8), b, 1, 0, 0)});
    (void)expect_rejected(empty, Reject::kTxInsufficientBalance);
    // Everything, fee included, is exactly enough.
    (void)submit_ok(cs, make_block(cs, tip, miner, {make_transfer(a, b, a_spendable - fee, fee, 0)}));
    REQUIRE(cs.account(a.public_key()) == Account{0, 1});
    REQUIRE(cs.account(b) == Account{a_spendable - fee, 0});
  }

  SECTION("blocks descending from an invalid block, and invalid blocks submitted again") {
    // Invalid without context (bad signature): refused before it is stored.
    Transaction bad_sig = make_transfer(a, b, 1 * kCoin, 0, 0);
    bad_sig.signature[0] ^= 0x80;
    const Block bad1 = make_block(cs, tip, miner, {bad_sig});
    (void)expect_rejected(bad1, Reject::kTxBadSignature);
    REQUIRE(cs.lookup(bad1.hash()) != nullptr);
    REQUIRE((cs.lookup(bad1.hash())->status & kStatusFailed) != 0);
    // Invalid only against account state: stored, then refused when connected.
    const Block bad2 = make_block(cs, tip, miner, {make_transfer(a, b, a_spendable, 1, 0)});
    (void)expect_rejected(bad2, Reject::kTxInsufficientBalance);
    REQUIRE((cs.lookup(bad2.hash())->status & kStatusFailed) != 0);

    for (const Block* bad : {&bad1, &bad2}) {
      const BlockIndex* bad_idx = cs.lookup(bad->hash());
      REQUIRE(bad_idx != nullptr);
      const Block child = make_block(cs, bad_idx, miner);
      const auto rc = expect_rejected(child, Reject::kBlockParentInvalid);
      REQUIRE_FALSE(rc.duplicate);
      // Submitted again: reported as known invalid, without being validated again.
      const auto again = expect_rejected(*bad, Reject::kBlockKnownInvalid);
      REQUIRE(again.duplicate);
      REQUIRE(again.invalidated.empty());
      // A valid child of the invalid block's parent is unaffected.
    }
    REQUIRE(cs.best_header() == cs.tip());
    (void)submit_ok(cs, make_block(cs, tip, miner, {make_transfer(a, b, 1 * kCoin, 0, 0)}));
    REQUIRE(cs.height() == 13);
  }

  // Whatever happened, the store agrees with a replay and with a node fed only the active chain.
  check_consistent(cs, dir.file("fresh.db"));
}
