// The Mempool as a state machine. The input is a script (fuzz_input.hpp): first the pool's limits
// (a small max_bytes so eviction and trimming happen, max_per_sender, expiry, min relay fee), then
// up to 64 operations: accept a transfer built from 8 fixed keys (fuzzed recipient, amount, fee
// and nonce; some with a flipped signature bit, signed by another key or for another network,
// some coinbases), accept a transfer again, connect a block (the pool's own selection, optionally
// with a conflicting transfer mined elsewhere), disconnect the last connected block, expire, select
// a block template, pending_for.
//
// The confirmed state is a real regtest Chainstate in a temporary directory, built once: six keys
// own matured coinbases, one of them has spent twice (nonce 2), one holds only a little, two own
// nothing. Connected blocks are applied to an overlay over it, so every input starts from the same
// state and the database is never written after setup.
//
// Properties, after every operation: the entry count and byte total agree with the entries;
// bytes() <= max_bytes; no two entries share a sender and nonce; every entry is a transfer found by
// its txid, with its serialized size; a sender's pooled nonces lie in [confirmed nonce, confirmed
// nonce + max_per_sender) and the confirmed balance covers all of them. A refused transaction
// leaves the pool unchanged; a forged one is never accepted; an accepted one is pooled and what it
// replaced or evicted is gone; evicted chains start with a lower fee rate than the newcomer. A
// block template is ready (consecutive nonces from the confirmed one, covered by the balance,
// within its byte limit); a connected block's transfers leave the pool; after expire(now) nothing
// older than expiry_seconds remains; pending_for agrees with the entries.

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chain/chainstate.hpp"
#include "chain/mempool.hpp"
#include "chain_fuzz_util.hpp"
#include "fuzz_check.hpp"
#include "fuzz_input.hpp"

using namespace cheese;
using namespace cheese::fuzz;

namespace {

constexpr std::size_t kKeys = 8;
constexpr std::uint8_t kMinerSeed = 100;

//! Confirmed state with the effect of the blocks this input connected on top.
class OverlayView : public AccountView {
 public:
  explicit OverlayView(const AccountView& base) : base_(base) {}
  Account account(const PublicKey& k) const override {
    const auto it = changed_.find(k);
    return it == changed_.end() ? base_.account(k) : it->second;
  }
  void set(const PublicKey& k, const Account& a) { changed_[k] = a; }

 private:
  const AccountView& base_;
  std::unordered_map<PublicKey, Account, PublicKeyHasher> changed_;
};

struct Setup {
  TempDir dir{"mempool"};
  std::unique_ptr<Chainstate> chain;
  std::vector<SecretKey> keys;
  std::vector<PublicKey> pubs;

  Setup() {
    for (std::size_t i = 0; i < kKeys; ++i) keys.push_back(key_from_seed(static_cast<std::uint8_t>(i + 1)));
    for (const auto& k : keys) pubs.push_back(k.public_key());
    chain = std::make_unique<Chainstate>(dir.file("chain.db"), regtest(), 1);
    const PublicKey miner = key_from_seed(kMinerSeed).public_key();
    std::uint32_t extra = 0;
    const auto submit = [&](const PublicKey& to, std::vector<Transaction> txs) {
      const BlockIndex* tip = chain->tip();
      const Block b = make_block(tip->hash, tip->height, tip->header.time, to, std::move(txs), extra++);
      FUZZ_CHECK(chain->process_block(b, kNow).verdict.ok());
    };
    // Keys 0..5 mine a block each; regtest credits a coinbase 10 blocks later.
    for (std::size_t i = 0; i < 6; ++i) submit(pubs[i], {});
    for (int i = 0; i < 11; ++i) submit(miner, {});
    // Key 0 spends twice (its nonce becomes 2); key 5 keeps only 0.001 CHZ.
    const Amount keep = kCoin / 1000;
    const Amount fee = kMinRelayFee;
    submit(miner, {make_transfer(keys[0], pubs[1], 3 * kCoin, fee, 0), make_transfer(keys[0], pubs[2], kCoin, fee, 1),
                   make_transfer(keys[5], miner, chain->account(pubs[5]).balance - keep - fee, fee, 0)});
    FUZZ_CHECK(chain->account(pubs[0]).nonce == 2);
    FUZZ_CHECK(chain->account(pubs[5]).balance == keep);
    FUZZ_CHECK(chain->account(pubs[6]).balance == 0);
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

Amount cost(const Transaction& tx) { return tx.amount + tx.fee; }

bool fee_rate_less(Amount fee_a, std::size_t size_a, Amount fee_b, std::size_t size_b) {
  __extension__ typedef unsigned __int128 Uint128;
  return Uint128{fee_a} * Uint128{size_b} < Uint128{fee_b} * Uint128{size_a};
}

void check_pool(const Mempool& pool, const AccountView& view) {
  const MempoolLimits& limits = pool.limits();
  const auto entries = pool.entries();
  FUZZ_CHECK(entries.size() == pool.size());
  std::size_t bytes = 0;
  std::map<PublicKey, std::map<std::uint64_t, const MempoolEntry*>> by_sender;
  for (const MempoolEntry* e : entries) {
    bytes += e->size;
    FUZZ_CHECK(e->tx.kind == TxKind::kTransfer);
    FUZZ_CHECK(pool.find(e->txid) == e);
    FUZZ_CHECK(pool.contains(e->txid));
    FUZZ_CHECK(txid(e->tx) == e->txid);
    FUZZ_CHECK(serialized_size(e->tx) == e->size);
    FUZZ_CHECK(by_sender[e->tx.sender].emplace(e->tx.nonce, e).second);  // one per sender and nonce
  }
  FUZZ_CHECK(bytes == pool.bytes());
  FUZZ_CHECK(pool.bytes() <= limits.max_bytes);
  for (const auto& [sender, nonces] : by_sender) {
    const Account account = view.account(sender);
    Amount total = 0;
    for (const auto& [nonce, e] : nonces) {
      FUZZ_CHECK(nonce >= account.nonce);
      FUZZ_CHECK(nonce - account.nonce < limits.max_per_sender);
      const auto sum = add_amounts(total, cost(e->tx));
      FUZZ_CHECK(sum.has_value());
      total = *sum;
    }
    FUZZ_CHECK(total <= account.balance);
  }
  FUZZ_CHECK(pool.min_fee() >= limits.min_relay_fee);
}

//! A template must be minable on `view`: per sender consecutive nonces from the confirmed one,
//! covered by the balance, at most max_bytes in all.
void check_template(const std::vector<Transaction>& txs, std::size_t max_bytes, const AccountView& view) {
  std::size_t bytes = 0;
  std::map<PublicKey, Account> state;
  for (const auto& tx : txs) {
    bytes += serialized_size(tx);
    auto [it, fresh] = state.try_emplace(tx.sender, Account{});
    if (fresh) it->second = view.account(tx.sender);
    FUZZ_CHECK(check_transfer_against(tx, it->second).ok());
    it->second.balance -= cost(tx);
    ++it->second.nonce;
  }
  FUZZ_CHECK(bytes <= max_bytes);
}

struct Connected {
  Block block;
  std::vector<std::pair<PublicKey, Account>> before;  //!< first-touch order
};

//! Applies the transfers of `b` to the overlay; returns the previous values.
std::vector<std::pair<PublicKey, Account>> apply(const Block& b, OverlayView& view) {
  std::vector<std::pair<PublicKey, Account>> before;
  const auto touch = [&](const PublicKey& k) {
    const Account a = view.account(k);
    if (std::none_of(before.begin(), before.end(), [&](const auto& p) { return p.first == k; })) {
      before.emplace_back(k, a);
    }
    return a;
  };
  for (const auto& tx : b.txs) {
    if (tx.is_coinbase()) continue;  // not credited before maturity
    Account s = touch(tx.sender);
    FUZZ_CHECK(check_transfer_against(tx, s).ok());
    s.balance -= cost(tx);
    ++s.nonce;
    view.set(tx.sender, s);
    Account r = touch(tx.recipient);
    r.balance += tx.amount;
    view.set(tx.recipient, r);
  }
  return before;
}

Amount fuzzed_amount(FuzzInput& in, Amount balance) {
  switch (in.byte() % 4) {
    case 0: return in.range<Amount>(0, 10 * kCoin);
    case 1: return balance / in.range<Amount>(1, 4);
    case 2: return in.integral<std::uint64_t>();
    default: return in.range<Amount>(0, 1000);
  }
}

Amount fuzzed_fee(FuzzInput& in, const Mempool& pool) {
  switch (in.byte() % 4) {
    case 0: return in.range<Amount>(0, 5000);
    case 1: return pool.min_fee() + in.range<Amount>(0, 2000);
    case 2: return in.range<Amount>(0, kCoin);
    default: return kMinRelayFee * in.range<Amount>(1, 8);
  }
}

enum class Forgery : std::uint8_t { kNone, kFlippedBit, kOtherKey, kOtherNetwork, kCoinbase };

struct Made {
  Transaction tx;
  Forgery forgery = Forgery::kNone;
};

Made fuzzed_transaction(FuzzInput& in, const Mempool& pool, const AccountView& view) {
  const Setup& s = setup();
  const std::size_t from = in.pick(kKeys);
  const PublicKey& to = s.pubs[in.pick(kKeys)];
  const Account account = view.account(s.pubs[from]);
  const Amount amount = fuzzed_amount(in, account.balance);
  const Amount fee = fuzzed_fee(in, pool);
  std::uint64_t nonce = account.nonce + in.range<std::uint64_t>(0, pool.limits().max_per_sender + 1);
  if (in.byte() % 4 == 0) nonce = pool.pending_for(s.pubs[from], view).first;
  if (in.byte() % 16 == 0 && nonce > 0) --nonce;  // a nonce already used

  Made m;
  m.tx = make_transfer(s.keys[from], to, amount, fee, nonce);
  const std::uint8_t forge = in.byte();
  if (forge % 16 == 1) {
    m.forgery = Forgery::kFlippedBit;
    const std::size_t bit = in.pick(m.tx.signature.size() * 8);
    m.tx.signature[bit / 8] ^= static_cast<std::uint8_t>(1U << (bit % 8));
  } else if (forge % 16 == 2) {
    m.forgery = Forgery::kOtherKey;
    const PublicKey sender = m.tx.sender;
    sign_transaction(m.tx, s.keys[(from + 1) % kKeys], regtest().magic);  // sets the sender
    m.tx.sender = sender;
  } else if (forge % 16 == 3) {
    m.forgery = Forgery::kOtherNetwork;
    sign_transaction(m.tx, s.keys[from], chain_params(Network::kTest).magic);
  } else if (forge % 16 == 4) {
    m.forgery = Forgery::kCoinbase;
    m.tx = make_coinbase(to, amount, nonce);
  }
  return m;
}

struct Snapshot {
  std::size_t size;
  std::size_t bytes;
  std::map<Hash256, MempoolEntry> entries;
};

Snapshot snapshot(const Mempool& pool) {
  Snapshot s{pool.size(), pool.bytes(), {}};
  for (const auto* e : pool.entries()) s.entries.emplace(e->txid, *e);
  return s;
}

void accept_and_check(Mempool& pool, const Made& m, const AccountView& view, std::int64_t now) {
  const Snapshot before = snapshot(pool);
  const Hash256 id = txid(m.tx);
  const bool was_pooled = pool.contains(id);
  // Half the offers come as a wallet's own sends do: never in place of a pooled transaction.
  const ReplacePolicy policy = (id.bytes[0] & 1) != 0 ? ReplacePolicy::kNever : ReplacePolicy::kByFee;
  bool same_nonce_pooled = false;
  for (const auto& [other_id, other] : before.entries) {
    if (other.tx.sender == m.tx.sender && other.tx.nonce == m.tx.nonce) same_nonce_pooled = true;
  }
  const MempoolAccept r = pool.accept(m.tx, view, now, false, policy);
  if (was_pooled) FUZZ_CHECK(r.reason == MempoolReject::kAlreadyKnown);
  if (policy == ReplacePolicy::kNever && same_nonce_pooled) FUZZ_CHECK(!r.ok());
  if (r.reason == MempoolReject::kConflict) FUZZ_CHECK(policy == ReplacePolicy::kNever && same_nonce_pooled);
  if (m.forgery != Forgery::kNone) FUZZ_CHECK(!r.ok());
  if (m.forgery == Forgery::kCoinbase) FUZZ_CHECK(r.reason == MempoolReject::kConsensus);
  if (!r.ok()) {
    FUZZ_CHECK(r.replaced.empty() && r.evicted.empty());
    FUZZ_CHECK(pool.size() == before.size && pool.bytes() == before.bytes);
    FUZZ_CHECK(pool.contains(id) == was_pooled);
    return;
  }
  FUZZ_CHECK(r.consensus == Reject::kOk);
  const MempoolEntry* e = pool.find(id);
  FUZZ_CHECK(e != nullptr && e->time == now && e->tx == m.tx);
  FUZZ_CHECK(m.tx.fee >= pool.limits().min_relay_fee);
  std::map<PublicKey, const MempoolEntry*> first_evicted;  // lowest evicted nonce per sender
  for (const auto& gone : r.replaced) {
    FUZZ_CHECK(!pool.contains(gone));
    const auto it = before.entries.find(gone);
    FUZZ_CHECK(it != before.entries.end() && it->second.tx.sender == m.tx.sender);
  }
  for (const auto& gone : r.evicted) {
    FUZZ_CHECK(!pool.contains(gone));
    const auto it = before.entries.find(gone);
    FUZZ_CHECK(it != before.entries.end());
    auto& first = first_evicted[it->second.tx.sender];
    if (first == nullptr || it->second.tx.nonce < first->tx.nonce) first = &it->second;
  }
  for (const auto& [sender, victim] : first_evicted) {
    FUZZ_CHECK(fee_rate_less(victim->tx.fee, victim->size, m.tx.fee, e->size));
  }
  FUZZ_CHECK(pool.size() == before.size + 1 - r.replaced.size() - r.evicted.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Setup& s = setup();
  FuzzInput in(data, size);

  MempoolLimits limits;
  limits.max_bytes = kTransferSize * in.range<std::size_t>(1, 40) + in.range<std::size_t>(0, 3) * 50;
  limits.max_per_sender = in.flag() ? kMaxMempoolTxsPerSender : in.range<std::size_t>(1, 6);
  limits.expiry_seconds = in.range<std::uint32_t>(1, 7200);
  limits.min_relay_fee = in.flag() ? kMinRelayFee : in.range<Amount>(0, 3000);
  Mempool pool(regtest(), limits);
  OverlayView view(*s.chain);
  std::vector<Connected> connected;
  std::vector<Transaction> made;
  std::int64_t now = kNow;
  std::uint32_t extra = 0;

  for (int op = 0; op < 64 && !in.empty(); ++op) {
    switch (in.byte() % 8) {
      case 0:
      case 1: {  // a new transaction
        now += in.range<std::uint32_t>(0, 600);
        const Made m = fuzzed_transaction(in, pool, view);
        accept_and_check(pool, m, view, now);
        made.push_back(m.tx);
        break;
      }
      case 2: {  // one seen before (perhaps pooled, mined or evicted)
        if (made.empty()) break;
        Made m;
        m.tx = made[in.pick(made.size())];
        if (!m.tx.is_coinbase() && check_transaction_signature(m.tx, regtest().magic).ok()) {
          accept_and_check(pool, m, view, now);
        }
        break;
      }
      case 3: {  // connect a block: the pool's template, maybe plus a conflicting transfer
        const std::size_t max_bytes = kTransferSize * in.range<std::size_t>(0, 12);
        std::vector<Transaction> txs = pool.select_for_block(max_bytes, view);
        check_template(txs, max_bytes, view);
        if (in.flag()) {
          const std::size_t from = in.pick(kKeys);
          const bool busy = std::any_of(txs.begin(), txs.end(),
                                        [&](const auto& t) { return t.sender == s.pubs[from]; });
          const Account a = view.account(s.pubs[from]);
          if (!busy && a.balance >= kMinRelayFee + 1) {
            txs.push_back(make_transfer(s.keys[from], s.pubs[in.pick(kKeys)],
                                        in.range<Amount>(1, a.balance - kMinRelayFee), kMinRelayFee, a.nonce));
          }
        }
        Block b;
        b.txs.push_back(make_coinbase(key_from_seed(kMinerSeed).public_key(), 0, 1000 + extra, {}));
        ++extra;
        b.txs.insert(b.txs.end(), txs.begin(), txs.end());
        b.header.merkle_root = merkle_root(b);
        auto before = apply(b, view);
        pool.block_connected(b, view);
        for (const auto& tx : txs) FUZZ_CHECK(!pool.contains(txid(tx)));
        connected.push_back({std::move(b), std::move(before)});
        break;
      }
      case 4: {  // disconnect the last connected block
        if (connected.empty()) break;
        Connected c = std::move(connected.back());
        connected.pop_back();
        for (auto it = c.before.rbegin(); it != c.before.rend(); ++it) view.set(it->first, it->second);
        now += in.range<std::uint32_t>(0, 600);
        pool.block_disconnected(c.block, view, now);
        break;
      }
      case 5: {  // expire
        now += in.range<std::uint32_t>(0, 2 * static_cast<std::uint32_t>(limits.expiry_seconds));
        const std::size_t before = pool.size();
        const std::size_t removed = pool.expire(now);
        FUZZ_CHECK(before - pool.size() == removed);
        for (const auto* e : pool.entries()) FUZZ_CHECK(now - e->time <= limits.expiry_seconds);
        break;
      }
      case 6: {  // a block template
        const std::size_t max_bytes = in.range<std::size_t>(0, 40 * kTransferSize);
        check_template(pool.select_for_block(max_bytes, view), max_bytes, view);
        break;
      }
      default: {  // what a wallet asks
        const PublicKey& who = s.pubs[in.pick(kKeys)];
        const auto [next, pending] = pool.pending_for(who, view);
        const Account a = view.account(who);
        FUZZ_CHECK(next >= a.nonce);
        std::map<std::uint64_t, Amount> costs;
        for (const auto* e : pool.entries()) {
          if (e->tx.sender == who) costs[e->tx.nonce] = cost(e->tx);
        }
        Amount sum = 0;
        for (std::uint64_t n = a.nonce; n < next; ++n) {
          FUZZ_CHECK(costs.contains(n));
          sum += costs[n];
        }
        FUZZ_CHECK(!costs.contains(next));
        FUZZ_CHECK(pending == sum);
        break;
      }
    }
    check_pool(pool, view);
  }
  return 0;
}
