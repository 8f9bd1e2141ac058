#include "chain/mempool.hpp"

#include <algorithm>
#include <queue>
#include <unordered_set>

namespace cheese {

namespace {

// Fee * size products need more than 64 bits in general (kMaxMoney * a large size).
__extension__ typedef unsigned __int128 Uint128;

//! fee_a / size_a < fee_b / size_b, in integers (sizes are never zero).
bool fee_rate_less(Amount fee_a, std::size_t size_a, Amount fee_b, std::size_t size_b) {
  return Uint128{fee_a} * Uint128{size_b} < Uint128{fee_b} * Uint128{size_a};
}

//! What a pooled transfer takes from its sender. check_transaction (run on everything that
//! enters the pool) guarantees the sum stays in the money range.
Amount cost(const Transaction& tx) { return tx.amount + tx.fee; }

}  // namespace

std::string_view to_string(MempoolReject r) {
  switch (r) {
    case MempoolReject::kOk: return "ok";
    case MempoolReject::kConsensus: return "consensus";
    case MempoolReject::kAlreadyKnown: return "already-known";
    case MempoolReject::kFeeTooLow: return "fee-too-low";
    case MempoolReject::kNonceTooFarAhead: return "nonce-too-far-ahead";
    case MempoolReject::kReplacementFeeTooLow: return "replacement-fee-too-low";
    case MempoolReject::kMempoolFull: return "mempool-full";
    case MempoolReject::kConflict: return "txn-mempool-conflict";
  }
  return "unknown";
}

bool Mempool::FeeOrder::operator()(const FeeKey& a, const FeeKey& b) const {
  if (fee_rate_less(a.fee, a.size, b.fee, b.size)) return true;
  if (fee_rate_less(b.fee, b.size, a.fee, a.size)) return false;
  // Equal rates: the newcomer is evicted first, the one that waited longer is mined first.
  if (a.time != b.time) return a.time > b.time;
  return a.txid < b.txid;
}

Mempool::Mempool(const ChainParams& params, MempoolLimits limits) : params_(params), limits_(limits) {}

MempoolAccept Mempool::precheck(const Transaction& tx, const AccountView& view, ReplacePolicy replace) const {
  MempoolAccept out;
  const auto refuse = [&out](MempoolReject reason, Reject consensus = Reject::kOk) {
    out.reason = reason;
    out.consensus = consensus;
    return out;
  };
  if (auto v = check_transaction(tx); !v) return refuse(MempoolReject::kConsensus, v.reason);
  if (contains(txid(tx))) return refuse(MempoolReject::kAlreadyKnown);
  if (tx.fee < limits_.min_relay_fee) return refuse(MempoolReject::kFeeTooLow);
  const Account account = view.account(tx.sender);
  if (tx.nonce < account.nonce) return refuse(MempoolReject::kConsensus, Reject::kTxNonceTooLow);
  if (tx.nonce - account.nonce >= limits_.max_per_sender) return refuse(MempoolReject::kNonceTooFarAhead);
  if (const auto sender_it = by_sender_.find(tx.sender); sender_it != by_sender_.end()) {
    if (const auto same = sender_it->second.find(tx.nonce); same != sender_it->second.end()) {
      if (replace == ReplacePolicy::kNever) return refuse(MempoolReject::kConflict);
      if (tx.fee < entries_.at(same->second).tx.fee + kMinReplacementFeeIncrement) {
        return refuse(MempoolReject::kReplacementFeeTooLow);
      }
    }
  }
  return out;
}

MempoolAccept Mempool::accept(const Transaction& tx, const AccountView& view, std::int64_t now,
                              bool signature_checked, ReplacePolicy replace) {
  MempoolAccept out;
  const auto refuse = [&out](MempoolReject reason, Reject consensus = Reject::kOk) {
    out.reason = reason;
    out.consensus = consensus;
    out.replaced.clear();
    out.evicted.clear();
    return out;
  };

  if (MempoolAccept pre = precheck(tx, view, replace); !pre.ok()) return pre;
  const Hash256 id = txid(tx);
  const Account account = view.account(tx.sender);
  static const Nonces kNoNonces;
  const auto sender_it = by_sender_.find(tx.sender);
  const Nonces& nonces = sender_it == by_sender_.end() ? kNoNonces : sender_it->second;
  const auto same_nonce = nonces.find(tx.nonce);

  // The costly check last among the cheap ones, but before anything that depends on the pool's
  // balance bookkeeping: a forged transaction is reported as such.
  if (!signature_checked) {
    if (auto v = check_transaction_signature(tx, params_.magic); !v) {
      return refuse(MempoolReject::kConsensus, v.reason);
    }
  }

  // The confirmed balance must cover every pooled transfer of the sender up to this nonce.
  Amount spent = 0;
  for (auto it = nonces.lower_bound(account.nonce); it != nonces.end() && it->first < tx.nonce; ++it) {
    spent += cost(entries_.at(it->second).tx);
  }
  const auto with_tx = add_amounts(spent, cost(tx));
  if (!with_tx || *with_tx > account.balance) {
    return refuse(MempoolReject::kConsensus, Reject::kTxInsufficientBalance);
  }
  spent = *with_tx;

  // What leaves the pool if tx enters: the transfer it replaces, then the sender's later nonces
  // from the first one the balance no longer covers.
  std::unordered_set<Hash256, Hash256Hasher> doomed;
  std::size_t freed = 0;
  const auto doom = [&](const Hash256& victim, std::vector<Hash256>& list) {
    if (!doomed.insert(victim).second) return;
    freed += entries_.at(victim).size;
    list.push_back(victim);
  };
  if (same_nonce != nonces.end()) doom(same_nonce->second, out.replaced);
  for (auto it = nonces.upper_bound(tx.nonce); it != nonces.end(); ++it) {
    const auto total = add_amounts(spent, cost(entries_.at(it->second).tx));
    if (!total || *total > account.balance) {
      for (; it != nonces.end(); ++it) doom(it->second, out.replaced);
      break;
    }
    spent = *total;
  }

  // Room: evict strictly lower fee rates, each with the later nonces that would be stuck
  // without it. If that is not enough, or would take one of tx's own predecessors, refuse.
  const std::size_t tx_size = serialized_size(tx);
  for (auto it = by_fee_.begin(); bytes_ - freed + tx_size > limits_.max_bytes; ++it) {
    if (it == by_fee_.end()) return refuse(MempoolReject::kMempoolFull);
    if (doomed.contains(it->txid)) continue;
    if (!fee_rate_less(it->fee, it->size, tx.fee, tx_size)) return refuse(MempoolReject::kMempoolFull);
    const Transaction& victim = entries_.at(it->txid).tx;
    if (victim.sender == tx.sender && victim.nonce < tx.nonce) {
      return refuse(MempoolReject::kMempoolFull);
    }
    const Nonces& victim_nonces = by_sender_.at(victim.sender);
    for (auto n = victim_nonces.find(victim.nonce); n != victim_nonces.end(); ++n) {
      doom(n->second, out.evicted);
    }
  }

  for (const auto& victim : out.replaced) remove(victim);
  for (const auto& victim : out.evicted) remove(victim);
  insert(tx, id, tx_size, now);
  return out;
}

void Mempool::block_connected(const Block& block, const AccountView& view) {
  std::unordered_set<PublicKey, PublicKeyHasher> senders;
  for (const auto& tx : block.txs) {
    if (tx.is_coinbase()) continue;
    remove(txid(tx));
    senders.insert(tx.sender);
  }
  // A block only lowers the balances of its senders (recipients and matured miners gain), so
  // only their pooled chains can have become invalid.
  for (const auto& sender : senders) revalidate_sender(sender, view.account(sender));
}

void Mempool::block_disconnected(const Block& block, const AccountView& view, std::int64_t now) {
  // The block's transfers were valid (and their signatures checked) when it was connected;
  // they come back whatever their fee, as in Bitcoin Core, and the size bound is enforced after.
  for (const auto& tx : block.txs) {
    if (tx.is_coinbase() || !check_transaction(tx)) continue;
    const Hash256 id = txid(tx);
    if (contains(id)) continue;
    if (auto s = by_sender_.find(tx.sender); s != by_sender_.end()) {
      // A pooled transfer with the same nonce conflicts with one that was mined: the mined one
      // is kept, since the rest of the reorg is likely to mine it again.
      if (auto n = s->second.find(tx.nonce); n != s->second.end()) remove(Hash256{n->second});
    }
    insert(tx, id, serialized_size(tx), now);
  }
  // Undoing a block lowers the balances of its recipients and of the miner it matured, and the
  // nonces of its senders: every chain is checked again.
  std::vector<PublicKey> senders;
  senders.reserve(by_sender_.size());
  for (const auto& [sender, nonces] : by_sender_) senders.push_back(sender);
  for (const auto& sender : senders) revalidate_sender(sender, view.account(sender));
  trim_to_size();
}

void Mempool::reorganize(const std::vector<Block>& disconnected, const std::vector<Block>& connected,
                         const AccountView& view, std::int64_t now, std::span<const PublicKey> also_changed) {
  std::unordered_set<PublicKey, PublicKeyHasher> changed(also_changed.begin(), also_changed.end());
  for (const auto& block : disconnected) {
    for (const auto& tx : block.txs) {
      if (tx.is_coinbase() || !check_transaction(tx)) continue;
      // Undone: the sender's nonce goes back, the recipient's balance down.
      changed.insert(tx.sender);
      changed.insert(tx.recipient);
      const Hash256 id = txid(tx);
      if (contains(id)) continue;
      if (auto s = by_sender_.find(tx.sender); s != by_sender_.end()) {
        // As block_disconnected: a pooled conflict gives way to the transfer that was mined.
        if (auto n = s->second.find(tx.nonce); n != s->second.end()) remove(Hash256{n->second});
      }
      insert(tx, id, serialized_size(tx), now);
    }
  }
  for (const auto& block : connected) {
    for (const auto& tx : block.txs) {
      if (tx.is_coinbase()) continue;
      remove(txid(tx));
      changed.insert(tx.sender);
    }
  }
  for (const auto& account : changed) {
    if (by_sender_.contains(account)) revalidate_sender(account, view.account(account));
  }
  trim_to_size();
}

std::size_t Mempool::expire(std::int64_t now) {
  std::size_t removed = 0;
  while (!by_time_.empty()) {
    const auto [time, id] = *by_time_.begin();
    if (now - time <= limits_.expiry_seconds) break;
    const Transaction& tx = entries_.at(id).tx;
    removed += remove_from_nonce(tx.sender, tx.nonce);
  }
  return removed;
}

std::vector<Transaction> Mempool::select_for_block(std::size_t max_bytes, const AccountView& view) const {
  // Per sender, the ready run: consecutive nonces from the confirmed one, covered by the balance.
  std::vector<std::vector<const MempoolEntry*>> runs;
  for (const auto& [sender, nonces] : by_sender_) {
    const Account account = view.account(sender);
    std::vector<const MempoolEntry*> run;
    Amount spent = 0;
    std::uint64_t expected = account.nonce;
    for (auto it = nonces.find(expected); it != nonces.end() && it->first == expected; ++it, ++expected) {
      const MempoolEntry& e = entries_.at(it->second);
      const auto total = add_amounts(spent, cost(e.tx));
      if (!total || *total > account.balance) break;
      spent = *total;
      run.push_back(&e);
    }
    if (!run.empty()) runs.push_back(std::move(run));
  }

  // Greedy by fee rate over the heads of the runs: a sender's next nonce becomes a candidate
  // only once its predecessor is in the block.
  using Cursor = std::pair<std::size_t, std::size_t>;  // run, position in it
  const auto lower_priority = [&runs](const Cursor& a, const Cursor& b) {
    return FeeOrder{}(fee_key(*runs[a.first][a.second]), fee_key(*runs[b.first][b.second]));
  };
  std::priority_queue<Cursor, std::vector<Cursor>, decltype(lower_priority)> heads(lower_priority);
  for (std::size_t r = 0; r < runs.size(); ++r) heads.emplace(r, 0);

  std::vector<Transaction> out;
  std::size_t remaining = max_bytes;
  while (!heads.empty()) {
    const auto [r, pos] = heads.top();
    heads.pop();
    const MempoolEntry& e = *runs[r][pos];
    if (e.size > remaining) continue;  // and the rest of this run with it: it would skip a nonce
    out.push_back(e.tx);
    remaining -= e.size;
    if (pos + 1 < runs[r].size()) heads.emplace(r, pos + 1);
  }
  return out;
}

bool Mempool::contains(const Hash256& id) const { return entries_.contains(id); }

const MempoolEntry* Mempool::find(const Hash256& id) const {
  const auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<const MempoolEntry*> Mempool::entries() const {
  std::vector<const MempoolEntry*> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) out.push_back(&e);
  return out;
}

std::pair<std::uint64_t, Amount> Mempool::pending_for(const PublicKey& sender, const AccountView& view) const {
  const Account account = view.account(sender);
  std::uint64_t next = account.nonce;
  Amount pending = 0;
  if (const auto s = by_sender_.find(sender); s != by_sender_.end()) {
    for (auto it = s->second.find(next); it != s->second.end() && it->first == next; ++it, ++next) {
      pending = add_amounts(pending, cost(entries_.at(it->second).tx)).value_or(kMaxMoney);
    }
  }
  return {next, pending};
}

Amount Mempool::min_fee() const {
  if (by_fee_.empty() || bytes_ + kTransferSize <= limits_.max_bytes) return limits_.min_relay_fee;
  // Strictly above the lowest pooled fee rate, for a transfer's size.
  const FeeKey& lowest = *by_fee_.begin();
  const Uint128 needed = Uint128{lowest.fee} * kTransferSize / lowest.size + 1;
  const Amount fee = needed > kMaxMoney ? kMaxMoney : static_cast<Amount>(needed);
  return std::max(limits_.min_relay_fee, fee);
}

void Mempool::insert(const Transaction& tx, const Hash256& id, std::size_t tx_size, std::int64_t now) {
  const auto [it, inserted] = entries_.emplace(id, MempoolEntry{tx, id, tx_size, now});
  if (!inserted) return;
  by_fee_.insert(fee_key(it->second));
  by_time_.emplace(now, id);
  by_sender_[tx.sender][tx.nonce] = id;
  bytes_ += tx_size;
}

void Mempool::remove(const Hash256& id) {
  const auto it = entries_.find(id);
  if (it == entries_.end()) return;
  const MempoolEntry& e = it->second;
  by_fee_.erase(fee_key(e));
  by_time_.erase({e.time, id});
  if (auto s = by_sender_.find(e.tx.sender); s != by_sender_.end()) {
    if (auto n = s->second.find(e.tx.nonce); n != s->second.end() && n->second == id) {
      s->second.erase(n);
    }
    if (s->second.empty()) by_sender_.erase(s);
  }
  bytes_ -= e.size;
  entries_.erase(it);
}

std::size_t Mempool::remove_from_nonce(PublicKey sender, std::uint64_t from) {
  const auto s = by_sender_.find(sender);
  if (s == by_sender_.end()) return 0;
  std::vector<Hash256> ids;
  for (auto it = s->second.lower_bound(from); it != s->second.end(); ++it) ids.push_back(it->second);
  for (const auto& id : ids) remove(id);
  return ids.size();
}

std::size_t Mempool::revalidate_sender(PublicKey sender, const Account& account) {
  const auto s = by_sender_.find(sender);
  if (s == by_sender_.end()) return 0;
  std::size_t removed = 0;
  // Below the confirmed nonce: confirmed already, or in conflict with a confirmed transfer.
  std::vector<Hash256> stale;
  for (auto it = s->second.begin(); it != s->second.end() && it->first < account.nonce; ++it) {
    stale.push_back(it->second);
  }
  for (const auto& id : stale) remove(id);
  removed += stale.size();

  const auto rest = by_sender_.find(sender);
  if (rest == by_sender_.end()) return removed;
  Amount spent = 0;
  for (const auto& [nonce, id] : rest->second) {
    const auto total = add_amounts(spent, cost(entries_.at(id).tx));
    if (nonce - account.nonce >= limits_.max_per_sender || !total || *total > account.balance) {
      return removed + remove_from_nonce(sender, nonce);
    }
    spent = *total;
  }
  return removed;
}

void Mempool::trim_to_size() {
  while (bytes_ > limits_.max_bytes && !by_fee_.empty()) {
    const Transaction& lowest = entries_.at(by_fee_.begin()->txid).tx;
    remove_from_nonce(lowest.sender, lowest.nonce);
  }
}

}  // namespace cheese
