// Block processing sequences on a regtest Chainstate (SQLite ":memory:", fresh for every input).
// The input is a script (fuzz_input.hpp): a prefix length (0..12 blocks of a fixed chain that
// matures the coinbases of four keys), then up to 48 steps:
//
//   0 extend the tip with a valid block (0..3 transfers of the funded keys)
//   1 fork: a coinbase-only block on the active block at a fuzzed height
//   2 extend any known branch tip (coinbase only)
//   3 an invalid block on the tip: coinbase overpays, wrong bits, failing proof of work, time not
//     after the median time past, too far in the future, a forged signature, a wrong nonce, an
//     overspend, the same transfer twice, a coinbase at the wrong height
//   4 submit an earlier block again
//   5 reorg: extend a branch that is not active by 1..3 coinbase-only blocks
//   6 out of order: a child before its parent, then the parent, then the child
//   7 headers first: accept_header, then the block
//
// Properties after every step: the account state equals a replay of the active chain
// (all_accounts() == replay_account_state()); no block with all its data that is not known invalid
// beats the tip (more work, or equal work and seen first); the active chain is linked and its tip
// valid. Per step: a valid block on the tip (and a coinbase-only block on any active block) is
// accepted; a valid block on the tip becomes the tip; an invalid one is refused and leaves the tip
// alone; a block already stored is reported as a duplicate and changes nothing; an orphan is
// refused as kBlockUnknownParent. After the script: check_integrity() passes and a fresh
// chainstate fed only the active chain reaches the same tip and accounts.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "chain/chainstate.hpp"
#include "chain_fuzz_util.hpp"
#include "fuzz_check.hpp"
#include "fuzz_input.hpp"

using namespace cheese;
using namespace cheese::fuzz;

namespace {

constexpr std::size_t kKeys = 4;
constexpr std::size_t kPrefix = 12;
constexpr Amount kFee = 1000;

struct Setup {
  std::vector<SecretKey> keys;
  std::vector<PublicKey> pubs;
  std::vector<Block> prefix;  //!< blocks 1..kPrefix, paying the keys in turn

  Setup() {
    for (std::size_t i = 0; i < kKeys; ++i) keys.push_back(key_from_seed(static_cast<std::uint8_t>(i + 1)));
    for (const auto& k : keys) pubs.push_back(k.public_key());
    const Block& genesis = regtest().genesis;
    Hash256 parent = genesis.hash();
    std::uint32_t time = genesis.header.time;
    for (std::size_t h = 0; h < kPrefix; ++h) {
      prefix.push_back(make_block(parent, h, time, pubs[h % kKeys], {}, static_cast<std::uint32_t>(h)));
      parent = prefix.back().hash();
      time = prefix.back().header.time;
    }
  }
};

const Setup& setup() {
  static const Setup s;
  return s;
}

//! The chain under test and everything the script built.
struct Run {
  std::unique_ptr<Chainstate> cs = std::make_unique<Chainstate>(":memory:", regtest(), 1);
  std::vector<Block> built;  //!< every block made (submitted or not)
  std::uint32_t extra = 1'000'000;

  Block block_on(const BlockIndex* parent, std::vector<Transaction> txs = {}) {
    const std::uint32_t n = extra++;
    return make_block(parent->hash, parent->height, parent->header.time, setup().pubs[n % kKeys], std::move(txs), n);
  }

  ProcessBlockResult submit(const Block& b) {
    built.push_back(b);
    return cs->process_block(b, kNow);
  }

  //! Up to n valid transfers on the active tip's state, from funded keys.
  std::vector<Transaction> transfers(FuzzInput& in, std::size_t n) {
    const Setup& s = setup();
    std::vector<Transaction> out;
    std::vector<Account> state;
    for (const auto& p : s.pubs) state.push_back(cs->account(p));
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t from = in.pick(kKeys);
      Account& a = state[from];
      const Amount fee = in.range<Amount>(0, 2000);
      if (a.balance <= fee + 1) continue;
      const Amount amount = in.range<Amount>(1, std::min<Amount>(a.balance - fee, kCoin));
      const std::size_t to = in.pick(kKeys);
      out.push_back(make_transfer(s.keys[from], s.pubs[to], amount, fee, a.nonce));
      a.balance -= amount + fee;
      ++a.nonce;
      if (to != from) state[to].balance += amount;
    }
    return out;
  }

  //! A funded key of the tip's state, if any.
  std::optional<std::size_t> funded(FuzzInput& in) const {
    const std::size_t start = in.pick(kKeys);
    for (std::size_t i = 0; i < kKeys; ++i) {
      const std::size_t k = (start + i) % kKeys;
      if (cs->account(setup().pubs[k]).balance > 2 * kFee) return k;
    }
    return std::nullopt;
  }

  //! Branch tips that are not known invalid.
  std::vector<const BlockIndex*> live_tips() const {
    std::vector<const BlockIndex*> out;
    for (const BlockIndex* t : cs->chain_tips()) {
      if (!t->failed() && t->have_data()) out.push_back(t);
    }
    return out;
  }
};

void check_state(const Run& r) {
  const Chainstate& cs = *r.cs;
  FUZZ_CHECK(cs.all_accounts() == cs.replay_account_state());
  const BlockIndex* tip = cs.tip();
  FUZZ_CHECK(!tip->failed());
  FUZZ_CHECK(cs.at_height(cs.height()) == tip);
  FUZZ_CHECK(tip->height == cs.height());
  for (std::uint64_t h = 1; h <= cs.height(); h += std::max<std::uint64_t>(1, cs.height() / 8)) {
    FUZZ_CHECK(cs.at_height(h)->prev == cs.at_height(h - 1));
  }
  for (const Block& b : r.built) {
    const BlockIndex* idx = cs.lookup(b.hash());
    if (idx == nullptr || !idx->have_chain_data || idx->failed()) continue;
    FUZZ_CHECK(idx->chain_work <= tip->chain_work);
    if (idx->chain_work == tip->chain_work) FUZZ_CHECK(idx->sequence >= tip->sequence);
  }
}

void check_refused(const ProcessBlockResult& res, const Hash256& old_tip, const Chainstate& cs) {
  FUZZ_CHECK(!res.verdict.ok());
  FUZZ_CHECK(cs.tip()->hash == old_tip);
}

//! Step 3: a block on the tip that breaks one rule.
void invalid_block(Run& r, FuzzInput& in) {
  Chainstate& cs = *r.cs;
  const BlockIndex* tip = cs.tip();
  const Hash256 old_tip = tip->hash;
  const Setup& s = setup();
  Block b = r.block_on(tip);
  const std::uint8_t rule = in.byte() % 10;
  switch (rule) {
    case 0: b.txs[0].amount += in.range<Amount>(1, kCoin); break;
    case 1:
      b.header.bits = regtest().pow_limit_bits - in.range<std::uint32_t>(1, 0xff);  // a little harder
      break;
    case 2:  // failing proof of work, below
      break;
    case 3:
      b.header.time = static_cast<std::uint32_t>(cs.median_time_past(tip)) - in.range<std::uint32_t>(0, 600);
      break;
    case 4:
      b.header.time = static_cast<std::uint32_t>(kNow + regtest().max_future_block_time) +
                      in.range<std::uint32_t>(1, 600);
      break;
    case 9:
      b.txs[0] = make_coinbase(b.txs[0].recipient, b.txs[0].amount, tip->height + in.range<std::uint64_t>(2, 50),
                               b.txs[0].extra);
      break;
    default: {
      const auto from = r.funded(in);
      if (!from) {
        b.txs[0].amount += 1;
        break;
      }
      const Account a = cs.account(s.pubs[*from]);
      Transaction tx = make_transfer(s.keys[*from], s.pubs[0], std::min<Amount>(a.balance - kFee, kCoin), kFee,
                                     a.nonce);
      const std::uint8_t kind = in.byte() % 4;
      if (kind == 0) {
        tx.signature[in.pick(tx.signature.size())] ^= 0x01;
      } else if (kind == 1) {
        tx = make_transfer(s.keys[*from], s.pubs[0], tx.amount, tx.fee, a.nonce + in.range<std::uint64_t>(1, 3));
      } else if (kind == 2) {
        // More than the balance plus a coinbase that may mature in this very block.
        tx = make_transfer(s.keys[*from], s.pubs[0], a.balance + 2 * regtest().initial_subsidy,
                           in.range<Amount>(1, 1000), a.nonce);
      }
      b.txs.push_back(tx);
      if (kind == 3) b.txs.push_back(tx);  // the same transfer twice
      b.txs[0].amount += b.txs.back().fee * (kind == 3 ? 2 : 1);
      break;
    }
  }
  // Only the chosen rule is broken: the merkle root is right and the proof of work holds
  // (except in case 2, where it is the rule).
  mine(b, rule != 2);
  check_refused(r.submit(b), old_tip, cs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Setup& s = setup();
  FuzzInput in(data, size);
  Run r;
  const std::size_t prefix = in.range<std::size_t>(0, kPrefix);
  for (std::size_t i = 0; i < prefix; ++i) {
    FUZZ_CHECK(r.cs->process_block(s.prefix[i], kNow, true).verdict.ok());
    r.built.push_back(s.prefix[i]);
  }

  for (int step = 0; step < 48 && !in.empty(); ++step) {
    Chainstate& cs = *r.cs;
    const Hash256 old_tip = cs.tip()->hash;
    switch (in.byte() % 8) {
      case 0: {
        const Block b = r.block_on(cs.tip(), r.transfers(in, in.range<std::size_t>(0, 3)));
        const auto res = r.submit(b);
        FUZZ_CHECK(res.verdict.ok());
        FUZZ_CHECK(cs.tip()->hash == b.hash());
        FUZZ_CHECK(res.tip_changed && !res.duplicate);
        break;
      }
      case 1: {
        const BlockIndex* parent = cs.at_height(in.range<std::uint64_t>(0, cs.height()));
        FUZZ_CHECK(r.submit(r.block_on(parent)).verdict.ok());
        break;
      }
      case 2: {
        const auto tips = r.live_tips();
        if (!tips.empty()) (void)r.submit(r.block_on(tips[in.pick(tips.size())]));
        break;
      }
      case 3: invalid_block(r, in); break;
      case 4: {
        if (r.built.empty()) break;
        const Block b = r.built[in.pick(r.built.size())];
        const BlockIndex* known = cs.lookup(b.hash());
        const bool stored = known != nullptr && (known->have_data() || known->failed());
        const auto res = r.submit(b);
        if (stored) {
          FUZZ_CHECK(res.duplicate);
          FUZZ_CHECK(!res.tip_changed && cs.tip()->hash == old_tip);
        }
        break;
      }
      case 5: {
        std::vector<const BlockIndex*> side;
        for (const BlockIndex* t : r.live_tips()) {
          if (!cs.is_active(t)) side.push_back(t);
        }
        if (side.empty()) break;
        const BlockIndex* parent = side[in.pick(side.size())];
        const std::size_t n = in.range<std::size_t>(1, 3);
        for (std::size_t i = 0; i < n && parent != nullptr; ++i) {
          const Block b = r.block_on(parent);
          (void)r.submit(b);
          parent = cs.lookup(b.hash());
          if (parent != nullptr && parent->failed()) break;
        }
        break;
      }
      case 6: {
        const Block parent = r.block_on(cs.tip());
        const Block child = make_block(parent.hash(), cs.height() + 1, parent.header.time, s.pubs[0], {}, r.extra++);
        const auto early = r.submit(child);
        FUZZ_CHECK(early.verdict.reason == Reject::kBlockUnknownParent);
        FUZZ_CHECK(cs.tip()->hash == old_tip);
        FUZZ_CHECK(r.submit(parent).verdict.ok());
        FUZZ_CHECK(r.submit(child).verdict.ok());
        FUZZ_CHECK(cs.tip()->hash == child.hash());
        break;
      }
      default: {
        const Block b = r.block_on(cs.tip());
        FUZZ_CHECK(cs.accept_header(b.header, kNow).ok());
        FUZZ_CHECK(cs.tip()->hash == old_tip);
        FUZZ_CHECK(r.submit(b).verdict.ok());
        FUZZ_CHECK(cs.tip()->hash == b.hash());
        break;
      }
    }
    check_state(r);
  }

  FUZZ_CHECK(r.cs->check_integrity().empty());
  std::vector<Block> active;
  for (std::uint64_t h = 1; h <= r.cs->height(); ++h) {
    auto b = r.cs->read_block(r.cs->at_height(h)->hash);
    FUZZ_CHECK(b.has_value());
    active.push_back(std::move(*b));
  }
  Chainstate fresh(":memory:", regtest(), 1);
  for (const Block& b : active) FUZZ_CHECK(fresh.process_block(b, kNow).verdict.ok());
  FUZZ_CHECK(fresh.tip()->hash == r.cs->tip()->hash);
  FUZZ_CHECK(fresh.all_accounts() == r.cs->all_accounts());
  return 0;
}
