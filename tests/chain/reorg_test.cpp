#include "chain/chainstate.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

#include "chain/chain_test_util.hpp"

using namespace cheese;
using namespace cheese::test;

namespace {

std::set<Hash256> tip_hashes(const Chainstate& cs) {
  std::set<Hash256> out;
  for (const BlockIndex* t : cs.chain_tips()) out.insert(t->hash);
  return out;
}

const BlockIndex* idx_of(const Chainstate& cs, const Block& b) {
  const BlockIndex* idx = cs.lookup(b.hash());
  REQUIRE(idx != nullptr);
  return idx;
}

//! Builds `n` blocks in a row on `parent` (which need not be known to any Chainstate).
std::vector<Block> build_branch(ParentInfo parent, std::size_t n, const PublicKey& miner,
                                std::map<std::uint64_t, std::vector<Transaction>> transfers = {}) {
  std::vector<Block> out;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t height = parent.height + 1;
    out.push_back(make_block(parent, miner, transfers[height]));
    parent = parent_of(out.back(), height);
  }
  return out;
}

}  // namespace

TEST_CASE("a longer fork overtakes and equal work keeps the first seen", "[chain][reorg]") {
  TempDir dir("reorg-basic");
  const auto db = dir.file("chain.db");
  std::optional<Chainstate> cs;
  cs.emplace(db, regtest(), 2);
  const SecretKey a = key_from_seed(1);
  const PublicKey b = pub(2), c = pub(3), m1 = pub(4), m2 = pub(5);
  (void)extend(*cs, 12, a.public_key());
  const BlockIndex* fork = cs->tip();
  const Amount a_start = cs->account(a.public_key()).balance;
  REQUIRE(a_start == 100 * kCoin);

  const Transaction to_b = make_transfer(a, b, 5 * kCoin, 100, 0);
  const Transaction to_c = make_transfer(a, c, 7 * kCoin, 200, 0);
  const Block a1 = make_block(*cs, fork, m1, {to_b});
  REQUIRE(submit_ok(*cs, a1).tip_changed);
  const Block a2 = make_block(*cs, idx_of(*cs, a1), m1);
  REQUIRE(submit_ok(*cs, a2).tip_changed);
  const auto state_a2 = cs->all_accounts();

  const Block b1 = make_block(*cs, fork, m2, {to_c});
  auto r = submit_ok(*cs, b1);
  REQUIRE_FALSE(r.tip_changed);
  const Block b2 = make_block(*cs, idx_of(*cs, b1), m2);
  r = submit_ok(*cs, b2);
  // Equal work: the first seen stays; the other branch is stored, not connected.
  REQUIRE_FALSE(r.tip_changed);
  REQUIRE(r.connected.empty());
  REQUIRE(cs->tip()->hash == a2.hash());
  REQUIRE(cs->read_block(b2.hash()) == b2);
  REQUIRE(idx_of(*cs, b2)->have_data());
  REQUIRE_FALSE(cs->is_active(idx_of(*cs, b2)));
  REQUIRE(cs->all_accounts() == state_a2);
  REQUIRE(cs->account(b) == Account{5 * kCoin, 0});
  REQUIRE(tip_hashes(*cs) == std::set<Hash256>{a2.hash(), b2.hash()});
  check_consistent(*cs, dir.file("fresh.db"));

  // A restart does not change the choice.
  cs.reset();
  cs.emplace(db, regtest(), 2);
  REQUIRE(cs->tip()->hash == a2.hash());
  REQUIRE(cs->all_accounts() == state_a2);

  const Block b3 = make_block(*cs, idx_of(*cs, b2), m2);
  r = submit_ok(*cs, b3);
  REQUIRE(r.tip_changed);
  REQUIRE(hashes(r.disconnected) == std::vector<Hash256>{a2.hash(), a1.hash()});
  REQUIRE(hashes(r.connected) == std::vector<Hash256>{b1.hash(), b2.hash(), b3.hash()});
  REQUIRE(r.invalidated.empty());
  REQUIRE(cs->tip()->hash == b3.hash());
  REQUIRE(cs->height() == 15);
  // A's transfer to B is undone, the one to C applied; A got blocks 1..5 credited.
  REQUIRE(cs->account(b) == Account{});
  REQUIRE(cs->account(c) == Account{7 * kCoin, 0});
  REQUIRE(cs->account(a.public_key()) == Account{5 * 50 * kCoin - 7 * kCoin - 200, 1});
  REQUIRE_FALSE(cs->find_transaction(txid(to_b)).has_value());
  REQUIRE(cs->find_transaction(txid(to_c))->block_hash == b1.hash());
  REQUIRE(tip_hashes(*cs) == std::set<Hash256>{a2.hash(), b3.hash()});
  check_consistent(*cs, dir.file("fresh.db"));

  // And back: a3 ties, a4 overtakes.
  const Block a3 = make_block(*cs, idx_of(*cs, a2), m1);
  REQUIRE_FALSE(submit_ok(*cs, a3).tip_changed);
  const Block a4 = make_block(*cs, idx_of(*cs, a3), m1);
  r = submit_ok(*cs, a4);
  REQUIRE(hashes(r.disconnected) == std::vector<Hash256>{b3.hash(), b2.hash(), b1.hash()});
  REQUIRE(hashes(r.connected) == std::vector<Hash256>{a1.hash(), a2.hash(), a3.hash(), a4.hash()});
  REQUIRE(cs->account(b) == Account{5 * kCoin, 0});
  REQUIRE(cs->account(c) == Account{});
  REQUIRE(cs->find_transaction(txid(to_b))->block_hash == a1.hash());
  REQUIRE_FALSE(cs->find_transaction(txid(to_c)).has_value());
  REQUIRE(tip_hashes(*cs) == std::set<Hash256>{a4.hash(), b3.hash()});
  check_consistent(*cs, dir.file("fresh.db"));
}

TEST_CASE("a deep reorg with transfers on both branches", "[chain][reorg]") {
  TempDir dir("reorg-deep");
  Chainstate cs(dir.file("chain.db"), regtest(), 2);
  const SecretKey a = key_from_seed(1), b = key_from_seed(2), c = key_from_seed(3);
  const PublicKey m1 = pub(4), m2 = pub(5);
  (void)extend(cs, 5, a.public_key());
  const BlockIndex* fork = cs.tip();
  REQUIRE(fork->height == 5);

  // Branch X: heights 6..13. A is credited 50 CHZ at each height from 11.
  const auto x = build_branch(parent_of(cs, fork), 8, m1,
                              {{11, {make_transfer(a, b.public_key(), 20 * kCoin, 1000, 0)}},
                               {12, {make_transfer(b, c.public_key(), 5 * kCoin, 0, 0)}},
                               {13, {make_transfer(a, c.public_key(), 10 * kCoin, 7, 1)}}});
  // Branch Y: heights 6..15, different transfers (A's nonce 0 spent differently).
  const auto y = build_branch(parent_of(cs, fork), 10, m2,
                              {{12, {make_transfer(a, c.public_key(), 60 * kCoin, 5, 0)}},
                               {14, {make_transfer(a, b.public_key(), 1 * kCoin, 0, 1)}},
                               {15, {make_transfer(c, b.public_key(), 30 * kCoin, 0, 0)}}});
  for (const auto& blk : x) REQUIRE(submit_ok(cs, blk).tip_changed);
  REQUIRE(cs.tip()->hash == x.back().hash());
  REQUIRE(cs.account(b.public_key()) == Account{15 * kCoin, 1});
  REQUIRE(cs.account(c.public_key()) == Account{15 * kCoin, 0});
  check_consistent(cs, dir.file("fresh.db"));

  for (std::size_t i = 0; i < 8; ++i) {
    const auto r = submit_ok(cs, y[i]);
    REQUIRE_FALSE(r.tip_changed);
    REQUIRE(r.connected.empty());
    REQUIRE(r.disconnected.empty());
  }
  REQUIRE(cs.tip()->hash == x.back().hash());
  auto r = submit_ok(cs, y[8]);
  REQUIRE(r.tip_changed);
  std::vector<Hash256> x_tip_first = hashes(x);
  std::reverse(x_tip_first.begin(), x_tip_first.end());
  REQUIRE(hashes(r.disconnected) == x_tip_first);
  REQUIRE(hashes(r.connected) == hashes(std::vector<Block>(y.begin(), y.begin() + 9)));
  r = submit_ok(cs, y[9]);
  REQUIRE(r.disconnected.empty());
  REQUIRE(hashes(r.connected) == std::vector<Hash256>{y[9].hash()});
  REQUIRE(cs.height() == 15);
  REQUIRE(cs.account(a.public_key()) == Account{5 * 50 * kCoin - 60 * kCoin - 5 - 1 * kCoin, 2});
  REQUIRE(cs.account(b.public_key()) == Account{31 * kCoin, 0});
  REQUIRE(cs.account(c.public_key()) == Account{30 * kCoin, 1});
  REQUIRE(cs.account(m1) == Account{});
  REQUIRE(cs.account(m2) == Account{});
  REQUIRE(tip_hashes(cs) == std::set<Hash256>{x.back().hash(), y.back().hash()});
  for (const auto& blk : x) REQUIRE_FALSE(cs.find_transaction(txid(blk.txs.back())).has_value());
  check_consistent(cs, dir.file("fresh.db"));

  // X comes back with three more blocks: a second deep reorg, now with M1's first reward.
  const auto x_more = build_branch(parent_of(x.back(), 13), 3, m1);
  REQUIRE_FALSE(submit_ok(cs, x_more[0]).tip_changed);
  REQUIRE_FALSE(submit_ok(cs, x_more[1]).tip_changed);
  r = submit_ok(cs, x_more[2]);
  REQUIRE(r.disconnected.size() == 10);
  REQUIRE(r.connected.size() == 11);
  REQUIRE(cs.height() == 16);
  REQUIRE(cs.account(m1) == Account{50 * kCoin, 0});  // block 6 (no fees) matured at 16
  REQUIRE(cs.account(c.public_key()) == Account{15 * kCoin, 0});
  check_consistent(cs, dir.file("fresh.db"));
}

TEST_CASE("a reorg onto a branch that turns out invalid falls back to the best valid chain", "[chain][reorg]") {
  TempDir dir("reorg-invalid");
  const auto db = dir.file("chain.db");
  std::optional<Chainstate> cs;
  cs.emplace(db, regtest(), 2);
  const SecretKey a = key_from_seed(1);
  const PublicKey b = pub(2), c = pub(3), m1 = pub(4), m2 = pub(5);
  (void)extend(*cs, 15, a.public_key());  // A holds 5 x 50 CHZ
  const BlockIndex* fork = cs->tip();

  const Block x1 = make_block(*cs, fork, m1, {make_transfer(a, b, 1 * kCoin, 0, 0)});
  (void)submit_ok(*cs, x1);
  const Block x2 = make_block(*cs, idx_of(*cs, x1), m1);
  (void)submit_ok(*cs, x2);
  const auto state_x2 = cs->all_accounts();

  SECTION("the invalid block is the second of three") {
    const Block y1 = make_block(*cs, fork, m2, {make_transfer(a, c, 2 * kCoin, 0, 0)});
    (void)submit_ok(*cs, y1);
    // Signed and well-formed, but A cannot pay it on this branch: only state can tell.
    const Block y2 = make_block(*cs, idx_of(*cs, y1), m2, {make_transfer(a, c, 10'000 * kCoin, 0, 1)});
    REQUIRE(check_block(y2, regtest()).ok());
    const auto r2 = submit_ok(*cs, y2);  // ties with x2: stored, not yet validated against state
    REQUIRE_FALSE(r2.tip_changed);
    REQUIRE(idx_of(*cs, y2)->have_data());
    REQUIRE_FALSE(idx_of(*cs, y2)->failed());
    const Block y3 = make_block(*cs, idx_of(*cs, y2), m2);

    const auto r3 = cs->process_block(y3, kNow);
    // y3 itself is fine, but it now descends from an invalid block.
    REQUIRE(r3.verdict.reason == Reject::kBlockParentInvalid);
    REQUIRE(r3.invalidated.size() == 1);
    REQUIRE(r3.invalidated[0].first == y2.hash());
    REQUIRE(r3.invalidated[0].second.reason == Reject::kTxInsufficientBalance);
    REQUIRE_FALSE(r3.tip_changed);
    REQUIRE(cs->tip()->hash == x2.hash());
    // What happened on the way, in order: off x2, x1; on y1; (y2 fails); off y1; on x1, x2.
    REQUIRE(hashes(r3.disconnected) == std::vector<Hash256>{x2.hash(), x1.hash(), y1.hash()});
    REQUIRE(hashes(r3.connected) == std::vector<Hash256>{y1.hash(), x1.hash(), x2.hash()});
    REQUIRE(cs->all_accounts() == state_x2);
    REQUIRE((idx_of(*cs, y2)->status & kStatusFailed) != 0);
    REQUIRE((idx_of(*cs, y3)->status & kStatusFailedParent) != 0);
    REQUIRE_FALSE(idx_of(*cs, y1)->failed());
    REQUIRE(cs->best_header() == cs->tip());
    REQUIRE(tip_hashes(*cs) == std::set<Hash256>{x2.hash(), y3.hash()});
    check_consistent(*cs, dir.file("fresh.db"));

    // Known invalid from now on, also after a restart.
    const Block y4 = make_block(*cs, idx_of(*cs, y3), m2);
    REQUIRE(cs->process_block(y4, kNow).verdict.reason == Reject::kBlockParentInvalid);
    cs.reset();
    cs.emplace(db, regtest(), 2);
    REQUIRE(cs->tip()->hash == x2.hash());
    REQUIRE((idx_of(*cs, y2)->status & kStatusFailed) != 0);
    auto again = cs->process_block(y2, kNow);
    REQUIRE(again.duplicate);
    REQUIRE(again.verdict.reason == Reject::kBlockKnownInvalid);
    again = cs->process_block(y3, kNow);
    REQUIRE(again.duplicate);
    REQUIRE(again.verdict.reason == Reject::kBlockParentInvalid);
    REQUIRE(cs->process_block(y4, kNow).verdict.reason == Reject::kBlockParentInvalid);
    REQUIRE(cs->all_accounts() == state_x2);

    // y1 was not condemned: a valid continuation of it wins.
    const Block z2 = make_block(*cs, idx_of(*cs, y1), m2);
    REQUIRE_FALSE(submit_ok(*cs, z2).tip_changed);
    const Block z3 = make_block(*cs, idx_of(*cs, z2), m2);
    const auto rz = submit_ok(*cs, z3);
    REQUIRE(rz.tip_changed);
    REQUIRE(cs->tip()->hash == z3.hash());
    REQUIRE(cs->account(c) == Account{2 * kCoin, 0});
    check_consistent(*cs, dir.file("fresh.db"));
  }

  SECTION("the valid part of the branch only ties: the first seen chain stays") {
    const Block y1 = make_block(*cs, fork, m2);
    (void)submit_ok(*cs, y1);
    const Block y2 = make_block(*cs, idx_of(*cs, y1), m2);
    (void)submit_ok(*cs, y2);
    const Block y3 = make_block(*cs, idx_of(*cs, y2), m2, {make_transfer(a, c, 10'000 * kCoin, 0, 0)});
    const auto r3 = cs->process_block(y3, kNow);
    REQUIRE(r3.verdict.reason == Reject::kTxInsufficientBalance);
    // x2 and y2 have equal work and x2 was seen first: the node is where it would be had it
    // known y3 was invalid from the start.
    REQUIRE(cs->tip()->hash == x2.hash());
    REQUIRE_FALSE(r3.tip_changed);
    REQUIRE(cs->all_accounts() == state_x2);
    check_consistent(*cs, dir.file("fresh.db"));
  }

  SECTION("the first block of the branch is invalid") {
    const Block y1 = make_block(*cs, fork, m2, {make_transfer(a, c, 1 * kCoin, 0, 1)});  // nonce gap
    (void)submit_ok(*cs, y1);
    const Block y2b = make_block(*cs, idx_of(*cs, y1), m2);
    (void)submit_ok(*cs, y2b);
    const Block y3 = make_block(*cs, idx_of(*cs, y2b), m2);
    const auto r3 = cs->process_block(y3, kNow);
    REQUIRE(r3.verdict.reason == Reject::kBlockParentInvalid);
    REQUIRE(r3.invalidated.size() == 1);
    REQUIRE(r3.invalidated[0].second.reason == Reject::kTxNonceTooHigh);
    REQUIRE(cs->tip()->hash == x2.hash());
    REQUIRE(cs->all_accounts() == state_x2);
    REQUIRE(tip_hashes(*cs) == std::set<Hash256>{x2.hash(), y3.hash()});
    check_consistent(*cs, dir.file("fresh.db"));
  }
}

TEST_CASE("a double spend on two branches is confirmed at most once", "[chain][reorg]") {
  TempDir dir("reorg-double");
  Chainstate cs(dir.file("chain.db"), regtest(), 2);
  const SecretKey a = key_from_seed(1);
  const PublicKey b = pub(2), c = pub(3), mx = pub(4), my = pub(5);
  (void)extend(cs, 12, a.public_key());
  const BlockIndex* fork = cs.tip();
  // Same sender, same nonce, different recipients: at most one can ever be confirmed.
  const Transaction to_b = make_transfer(a, b, 60 * kCoin, 10, 0);
  const Transaction to_c = make_transfer(a, c, 60 * kCoin, 20, 0);

  std::vector<Block> x{make_block(cs, fork, mx, {to_b})};
  std::vector<Block> y{make_block(cs, fork, my, {to_c})};
  (void)submit_ok(cs, x[0]);
  (void)submit_ok(cs, y[0]);

  auto check_once = [&] {
    const auto lb = cs.find_transaction(txid(to_b));
    const auto lc = cs.find_transaction(txid(to_c));
    REQUIRE(lb.has_value() != lc.has_value());
    const auto& loc = lb ? *lb : *lc;
    REQUIRE(cs.is_active(cs.lookup(loc.block_hash)));
    REQUIRE(cs.account(a.public_key()).nonce == 1);
    const bool paid_b = cs.account(b).balance == 60 * kCoin;
    const bool paid_c = cs.account(c).balance == 60 * kCoin;
    REQUIRE(paid_b != paid_c);
    REQUIRE(paid_b == lb.has_value());
    check_consistent(cs, dir.file("fresh.db"));
  };
  check_once();
  REQUIRE(cs.tip()->hash == x[0].hash());

  std::mt19937 rng(77);
  for (int round = 0; round < 8; ++round) {
    // Extend the losing branch until it wins; sometimes try to sneak the other spend into it.
    const bool x_active = cs.tip()->hash == x.back().hash();
    auto& loser = x_active ? y : x;
    const PublicKey& miner = x_active ? my : mx;
    const Transaction& other_spend = x_active ? to_b : to_c;
    const std::size_t extra = 1 + rng() % 3;
    const std::uint64_t target = cs.height() + extra;
    while (idx_of(cs, loser.back())->height < target) {
      if (rng() % 3 == 0) {
        const Block sneaky = make_block(cs, idx_of(cs, loser.back()), miner, {other_spend});
        const auto r = cs.process_block(sneaky, kNow);
        // Either refused at once (it would win) or stored and refused when tried.
        if (!r.verdict.ok()) REQUIRE(r.verdict.reason == Reject::kTxNonceTooLow);
      }
      loser.push_back(make_block(cs, idx_of(cs, loser.back()), miner));
      (void)submit_ok(cs, loser.back());
    }
    REQUIRE(cs.tip()->hash == loser.back().hash());
    check_once();
  }
}

namespace {

class MapView final : public AccountView {
 public:
  explicit MapView(const std::map<PublicKey, Account>& m) : m_(m) {}
  Account account(const PublicKey& key) const override {
    auto it = m_.find(key);
    return it == m_.end() ? Account{} : it->second;
  }

 private:
  const std::map<PublicKey, Account>& m_;
};

//! The test's own model of every block it made: where it sits, whether it is valid on its
//! branch, and the account state after it. Built with the consensus functions only.
struct ModelBlock {
  Block block;
  std::size_t parent = 0;
  std::uint64_t height = 0;
  bool valid = true;
  std::map<PublicKey, Account> state;
  std::size_t children = 0;
};

}  // namespace

TEST_CASE("random forks: stored state always equals a replay and an independent node", "[chain][reorg]") {
  TempDir dir("reorg-random");
  const auto db = dir.file("chain.db");
  std::optional<Chainstate> cs;
  cs.emplace(db, regtest(), 2);
  std::mt19937_64 rng(0xC4EE5E);
  auto uniform = [&](std::uint64_t lo, std::uint64_t hi) {  // inclusive
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  };

  std::vector<SecretKey> keys;
  for (std::uint8_t i = 1; i <= 5; ++i) keys.push_back(key_from_seed(i));
  const auto key_of = [&](const PublicKey& pk) -> const SecretKey& {
    for (const auto& k : keys) {
      if (k.public_key() == pk) return k;
    }
    FAIL("unknown key");
    return keys[0];
  };

  std::vector<ModelBlock> model{{regtest().genesis, std::numeric_limits<std::size_t>::max(), 0, true, {}, 0}};
  std::unordered_map<Hash256, std::size_t, Hash256Hasher> by_hash{{regtest().genesis_hash, 0}};
  std::size_t reorgs = 0, invalid_tried = 0, max_depth = 0;
  constexpr int kSteps = 200;

  for (int step = 0; step < kSteps; ++step) {
    CAPTURE(step);
    // Parent: mostly the tip, often a recent fork point, sometimes anything valid.
    const std::size_t tip_pos = by_hash.at(cs->tip()->hash);
    std::vector<std::size_t> valid_positions;
    for (std::size_t i = 0; i < model.size(); ++i) {
      if (model[i].valid) valid_positions.push_back(i);
    }
    // Competing branches get extended, so they overtake each other: reorgs of several depths.
    std::size_t parent = tip_pos;
    const auto pick = uniform(0, 99);
    const std::uint64_t tip_height = model[tip_pos].height;
    if (pick >= 30 && pick < 75) {
      std::vector<std::size_t> leaves;  // other branches' tips, not too far behind
      for (std::size_t i : valid_positions) {
        if (i != tip_pos && model[i].children == 0 && model[i].height + 3 >= tip_height) leaves.push_back(i);
      }
      if (!leaves.empty()) parent = leaves[uniform(0, leaves.size() - 1)];
    } else if (pick >= 75 && pick < 90) {
      std::vector<std::size_t> recent;
      for (std::size_t i : valid_positions) {
        if (model[i].height + 4 >= tip_height) recent.push_back(i);
      }
      parent = recent[uniform(0, recent.size() - 1)];
    } else if (pick >= 90) {
      parent = valid_positions[uniform(0, valid_positions.size() - 1)];
    }
    const ModelBlock& pm = model[parent];

    // Transfers valid against the parent's state, built up one by one.
    std::map<PublicKey, Account> work = pm.state;
    std::vector<Transaction> transfers;
    const auto n_transfers = uniform(0, 3);
    for (std::uint64_t t = 0; t < n_transfers; ++t) {
      std::vector<PublicKey> funded;
      for (const auto& [pk, acct] : work) {
        if (acct.balance >= 2) funded.push_back(pk);
      }
      if (funded.empty()) break;
      const PublicKey sender = funded[uniform(0, funded.size() - 1)];
      Account& s = work[sender];
      const Amount fee = uniform(0, std::min<Amount>(1000, s.balance - 1));
      const Amount amount = uniform(1, s.balance - fee);
      const PublicKey recipient = keys[uniform(0, keys.size() - 1)].public_key();
      transfers.push_back(make_transfer(key_of(sender), recipient, amount, fee, s.nonce));
      s.balance -= amount + fee;
      s.nonce += 1;
      work[recipient].balance += amount;
    }
    // Now and then a transfer that only state can refuse.
    if (uniform(0, 99) < 8) {
      const SecretKey& k = keys[uniform(0, keys.size() - 1)];
      const Account acct = work[k.public_key()];
      if (uniform(0, 1) == 0) {
        transfers.push_back(make_transfer(k, keys[0].public_key(), acct.balance + 1, 0, acct.nonce));
      } else {
        transfers.push_back(make_transfer(k, keys[0].public_key(), 1, 0, acct.nonce + 1));
      }
    }
    const PublicKey miner = keys[uniform(0, keys.size() - 1)].public_key();
    const Block blk = make_block(parent_of(pm.block, pm.height), miner, transfers);

    ModelBlock mb{blk, parent, pm.height + 1, false, {}, 0};
    {
      std::optional<MaturingReward> matured;
      if (mb.height > regtest().coinbase_maturity) {
        std::size_t anc = parent;
        while (model[anc].height > mb.height - regtest().coinbase_maturity) anc = model[anc].parent;
        matured = MaturingReward{model[anc].block.txs[0].recipient, model[anc].block.txs[0].amount};
      }
      StateDelta delta;
      MapView view(pm.state);
      if (connect_block_transactions(blk, mb.height, regtest(), view, matured, delta)) {
        mb.valid = true;
        mb.state = pm.state;
        for (const auto& [k, acct] : delta.after) {
          if (acct == Account{}) {
            mb.state.erase(k);
          } else {
            mb.state[k] = acct;
          }
        }
      }
    }
    const bool valid = mb.valid;
    if (valid) model[parent].children += 1;
    by_hash.emplace(blk.hash(), model.size());
    model.push_back(std::move(mb));

    const auto r = cs->process_block(blk, kNow);
    if (valid) {
      INFO("verdict " << to_string(r.verdict.reason));
      REQUIRE(r.verdict.ok());
    } else if (!r.verdict.ok()) {
      ++invalid_tried;
      REQUIRE((r.verdict.reason == Reject::kTxInsufficientBalance || r.verdict.reason == Reject::kTxNonceTooHigh));
    }
    for (const auto& [h, v] : r.invalidated) REQUIRE_FALSE(model[by_hash.at(h)].valid);
    if (!r.disconnected.empty()) {
      ++reorgs;
      max_depth = std::max(max_depth, r.disconnected.size());
    }

    // Fork choice: the tip is the first block submitted at the greatest valid height.
    std::size_t expected_tip = 0;
    for (std::size_t i = 0; i < model.size(); ++i) {
      if (model[i].valid && model[i].height > model[expected_tip].height) expected_tip = i;
    }
    REQUIRE(cs->tip()->hash == model[expected_tip].block.hash());
    for (std::uint64_t h = 0; h <= cs->height(); ++h) {
      REQUIRE(model[by_hash.at(cs->at_height(h)->hash)].valid);
    }

    // State: equal to the model, to a replay, to a rebuild and to an independent node.
    const auto accounts = cs->all_accounts();
    REQUIRE(accounts == model[expected_tip].state);
    REQUIRE(accounts == cs->replay_account_state());
    // account() (served from the account cache once read) agrees with the stored rows, also
    // for keys whose rows a reorg just deleted or restored.
    for (const auto& k : keys) {
      const auto it = accounts.find(k.public_key());
      REQUIRE(cs->account(k.public_key()) == (it == accounts.end() ? Account{} : it->second));
    }
    if (step % 3 == 0) {  // a rebuild clears the account cache; otherwise it lives on
      cs->rebuild_account_state();
      REQUIRE(cs->all_accounts() == accounts);
    }
    REQUIRE(cs->check_integrity() == "");
    const FreshOutcome fresh = feed_fresh(":memory:", active_blocks(*cs));
    REQUIRE(fresh.tip == cs->tip()->hash);
    REQUIRE(fresh.accounts == accounts);

    if (step % 50 == 49) {  // a restart now and then
      cs.reset();
      cs.emplace(db, regtest(), 2);
      REQUIRE(cs->tip()->hash == model[expected_tip].block.hash());
      REQUIRE(cs->all_accounts() == accounts);
    }
  }
  check_consistent(*cs, dir.file("fresh.db"));  // once more with an on-disk independent node
  // The walk did what it is for.
  CAPTURE(reorgs, invalid_tried, max_depth, cs->height());
  REQUIRE(reorgs >= 10);
  REQUIRE(max_depth >= 2);
  REQUIRE(invalid_tried >= 3);
  REQUIRE(cs->height() >= 60);
}
