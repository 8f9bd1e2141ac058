// Following the mempool: the wallet's unconfirmed records kept in memory (LoadedWallet::pending),
// mempool transactions written in batches (kWalletFlushDelay), records that can no longer
// confirm, and our unconfirmed transfers offered to the mempool again. Each mempool transaction
// is looked at once, when it enters; a block costs what it changes for the wallet
// (docs/wallet.md, "Following the chain and the mempool").

#include <algorithm>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "daemon/validation/block_processor.hpp"
#include "daemon/wallet/wallet_manager.hpp"
#include "daemon/wallet/wallet_records.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace cheese {

namespace wallet_records {

WalletPending pending_info(const Wallet& w, const Transaction& tx) {
  WalletPending p;
  p.coinbase = tx.is_coinbase();
  if (!p.coinbase) {
    p.sender = tx.sender;
    p.nonce = tx.nonce;
    p.send = w.is_mine(tx.sender);
  }
  return p;
}

void add_pending(LoadedWallet& e, const Hash256& id, const WalletPending& info) {
  e.pending[id] = info;
  if (!info.coinbase) e.pending_by_sender[info.sender].insert(id);
  if (info.send) e.pending_sends.insert(id);
}

void erase_pending(LoadedWallet& e, const Hash256& id) {
  const auto it = e.pending.find(id);
  if (it == e.pending.end()) return;
  if (!it->second.coinbase) {
    if (auto s = e.pending_by_sender.find(it->second.sender); s != e.pending_by_sender.end()) {
      s->second.erase(id);
      if (s->second.empty()) e.pending_by_sender.erase(s);
    }
  }
  e.pending_sends.erase(id);
  e.pending.erase(it);
}

}  // namespace wallet_records

using wallet_records::add_pending;
using wallet_records::erase_pending;
using wallet_records::pending_info;
using wallet_records::records_of;

void WalletManager::load_pending(LoadedWallet& e) const {
  auto rows = e.wallet.unconfirmed_transactions();
  if (!rows) {
    log_info("wallet {}: {}", e.wallet.name(), rows.error().message);
    return;
  }
  e.pending.clear();
  e.pending_by_sender.clear();
  e.pending_sends.clear();
  for (const auto& r : *rows) {
    WalletPending info;
    if (r.raw.empty()) {
      info.coinbase = true;  // a reward whose block left the active chain
    } else if (auto tx = decode_transaction(r.raw)) {
      info = pending_info(e.wallet, *tx);
      // A send of ours whose nonce the active chain used for another transaction: kept in the
      // file as conflicted (drop_conflicted), neither offered again nor watched.
      if (info.send && info.nonce < chain_.account(info.sender).nonce) continue;
    } else {
      continue;
    }
    add_pending(e, r.txid, info);
  }
  e.pending_loaded = true;
}

bool WalletManager::enqueue(LoadedWallet& e, const Transaction& tx, const Hash256& id, std::int64_t time,
                            bool force) const {
  if (e.queued_ids.contains(id)) return true;
  if (!force && e.pending.contains(id)) return true;  // recorded already: keeps its first-seen time
  auto records = records_of(e.wallet, tx, id, std::nullopt, time);
  if (records.empty()) return false;
  e.queued.push_back({id, pending_info(e.wallet, tx), std::move(records)});
  e.queued_ids.insert(id);
  return true;
}

bool WalletManager::flush_queued(LoadedWallet& e, WalletSync sync) const {
  if (e.queued.empty()) return true;
  if (e.busy || e.unloaded) return false;
  std::vector<WalletTx> records;
  for (auto& q : e.queued) {
    wallet_records::mark_used(e.wallet, q.records);
    for (auto& r : q.records) records.push_back(std::move(r));
  }
  const auto st = e.wallet.record_transactions(records, std::nullopt, sync);
  if (!st) {
    log_info("wallet {}: {}", e.wallet.name(), st.error().message);
    e.mempool_recorded = false;  // the next sync looks at the whole mempool again
  } else {
    for (const auto& q : e.queued) add_pending(e, q.txid, q.info);
  }
  e.queued.clear();
  e.queued_ids.clear();
  return st.has_value();
}

void WalletManager::schedule_flush() {
  if (flush_armed_) return;
  flush_armed_ = true;
  flush_timer_.expires_after(kWalletFlushDelay);
  flush_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    flush_armed_ = false;
    for (auto& [name, e] : wallets_) flush_queued(*e);
  });
}

void WalletManager::record_mempool(LoadedWallet& e) {
  flush_queued(e);
  for (const auto* entry : mempool_.entries()) {
    if (e.pending.contains(entry->txid)) continue;
    const Transaction& tx = entry->tx;
    if (!e.wallet.is_mine(tx.recipient) && !e.wallet.is_mine(tx.sender)) continue;
    // A record already confirmed stays confirmed (the pool cannot hold a transaction of the active
    // chain, but a scan may not have reached the tip).
    if (auto known = e.wallet.find_transaction(entry->txid); known && !known->empty() && known->front().height) {
      continue;
    }
    enqueue(e, tx, entry->txid, entry->time);
  }
  flush_queued(e);
  e.mempool_recorded = true;
}

void WalletManager::drop_conflicted(LoadedWallet& e, const std::unordered_set<PublicKey, PublicKeyHasher>* senders) {
  std::vector<Hash256> gone;
  auto check_sender = [&](const PublicKey& sender, const std::unordered_set<Hash256, Hash256Hasher>& ids) {
    const std::uint64_t used = chain_.account(sender).nonce;
    for (const auto& id : ids) {
      const WalletPending& p = e.pending.at(id);
      if (p.nonce < used && !mempool_.contains(id)) gone.push_back(id);
    }
  };
  if (senders != nullptr) {
    for (const auto& s : *senders) {
      if (auto it = e.pending_by_sender.find(s); it != e.pending_by_sender.end()) check_sender(s, it->second);
    }
  } else {
    for (const auto& [s, ids] : e.pending_by_sender) check_sender(s, ids);
  }
  if (gone.empty()) return;
  // Our own sends stay in the file, unconfirmed: a send that was acknowledged is never forgotten
  // (listtransactions keeps it, gettransaction says it conflicted). Others' payments that can no
  // longer confirm are forgotten.
  std::vector<Hash256> forget;
  for (const auto& id : gone) {
    if (!e.pending.at(id).send) forget.push_back(id);
  }
  if (auto st = e.wallet.remove_transactions(forget); !forget.empty() && !st) {
    log_info("wallet {}: {}", e.wallet.name(), st.error().message);
    return;
  }
  for (const auto& id : gone) {
    const bool ours = e.pending.at(id).send;
    log_info("wallet {}: transaction {} can no longer confirm (nonce {} of its sender is used); {}", e.wallet.name(),
             id.to_display_hex(), e.pending.at(id).nonce, ours ? "kept as conflicted" : "forgetting it");
    erase_pending(e, id);
  }
}

namespace {

//! Our unconfirmed transfers that the mempool does not hold.
std::vector<Hash256> sends_to_offer(const LoadedWallet& e, const Mempool& pool) {
  std::vector<Hash256> out;
  for (const auto& id : e.pending_sends) {
    if (!pool.contains(id)) out.push_back(id);
  }
  return out;
}

}  // namespace

asio::awaitable<std::unordered_set<PublicKey, PublicKeyHasher>> WalletManager::offer_pending_sends(
    std::shared_ptr<LoadedWallet> e) {
  std::unordered_set<PublicKey, PublicKeyHasher> senders;
  if (!e->pending_loaded) load_pending(*e);
  std::vector<std::pair<std::int64_t, Transaction>> offers;
  for (const auto& id : sends_to_offer(*e, mempool_)) {
    auto rows = e->wallet.find_transaction(id);
    if (!rows) continue;
    for (const auto& r : *rows) {
      if (r.direction != TxDirection::kSend || r.raw.empty()) continue;
      if (auto tx = decode_transaction(r.raw)) offers.emplace_back(r.time, std::move(*tx));
    }
  }
  std::stable_sort(offers.begin(), offers.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second.nonce < b.second.nonce;
  });
  for (auto& [time, tx] : offers) {
    const Hash256 id = txid(tx);
    senders.insert(tx.sender);
    if (mempool_.contains(id)) continue;
    // Never in place of a pooled transaction with the same nonce: that one may be a later send
    // of this wallet that was acknowledged.
    const MempoolAccept a = co_await blocks_.submit_transaction(std::move(tx), 0, ReplacePolicy::kNever);
    if (e->unloaded) co_return senders;
    log_info("wallet {}: resubmitted {}: {}", e->wallet.name(), id.to_display_hex(),
             a.ok() ? std::string_view("accepted") : to_string(a.reason));
  }
  co_return senders;
}

asio::awaitable<void> WalletManager::resubmit(std::shared_ptr<LoadedWallet> e) {
  auto turn = co_await e->send_lock.lock();
  e->resubmit_waiting = false;
  if (!turn) {
    // kMaxQueuedWalletSends sends wait: each of them offers the missing transfers first.
    log_info("wallet {}: resubmission skipped, {} sends wait", e->wallet.name(), e->send_lock.waiting());
    co_return;
  }
  if (e->busy || e->unloaded) co_return;
  const auto senders = co_await offer_pending_sends(e);
  if (!e->busy && !e->unloaded) drop_conflicted(*e, &senders);
}

void WalletManager::spawn_resubmit(const std::shared_ptr<LoadedWallet>& e) {
  if (e->busy || e->unloaded || e->resubmit_waiting) return;
  if (!e->pending_loaded) load_pending(*e);
  if (sends_to_offer(*e, mempool_).empty()) return;
  e->resubmit_waiting = true;
  tasks_.spawn(fmt::format("wallet {}: resubmission", e->wallet.name()), resubmit(e));
}

// ---- notifications ------------------------------------------------------------------------------

void WalletManager::chain_changed() {
  for (auto& [name, e] : wallets_) {
    sync(e);
    spawn_resubmit(e);
  }
}

void WalletManager::transaction_added(const Transaction& tx, const Hash256& id) {
  for (auto& [name, e] : wallets_) {
    if (e->busy) {
      // Another thread holds the wallet: look at the whole mempool once it is free.
      e->mempool_recorded = false;
      e->needs_sync = true;
      continue;
    }
    if (enqueue(*e, tx, id, unix_now())) schedule_flush();
  }
}

}  // namespace cheese
