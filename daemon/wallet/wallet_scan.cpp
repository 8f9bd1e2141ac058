// Following the chain and the mempool: chain scans in slices, reorgs, rescanblockchain, the
// mempool's transactions, and our unconfirmed transfers offered to the mempool again.

#include <chrono>
#include <iterator>
#include <optional>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "daemon/rpc/util.hpp"
#include "daemon/validation/block_processor.hpp"
#include "daemon/wallet/wallet_manager.hpp"
#include "daemon/wallet/wallet_records.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace cheese {

namespace wallet_records {

std::vector<WalletTx> records_of(const Wallet& w, const Transaction& tx, const Hash256& id,
                                 std::optional<std::uint64_t> height, std::int64_t time) {
  std::vector<WalletTx> out;
  const bool from_us = !tx.is_coinbase() && w.is_mine(tx.sender);
  const bool to_us = w.is_mine(tx.recipient);
  if (!from_us && !to_us) return out;
  const Bytes raw = tx.is_coinbase() ? Bytes{} : serialize(tx);
  auto record = [&](TxDirection direction, const PublicKey& own) {
    WalletTx r;
    r.txid = id;
    r.direction = direction;
    r.height = height;
    r.amount = tx.amount;
    r.own = own;
    r.time = time;
    r.raw = raw;
    return r;
  };
  if (from_us) {
    WalletTx r = record(TxDirection::kSend, tx.sender);
    r.fee = tx.fee;
    r.counterparty = tx.recipient;
    out.push_back(std::move(r));
  }
  if (to_us && tx.is_coinbase()) out.push_back(record(TxDirection::kGenerate, tx.recipient));
  if (to_us && !tx.is_coinbase()) {
    WalletTx r = record(TxDirection::kReceive, tx.recipient);
    r.counterparty = tx.sender;
    out.push_back(std::move(r));
  }
  return out;
}

void mark_used(Wallet& w, const std::vector<WalletTx>& records) {
  for (const auto& r : records) {
    if (r.own) {
      if (auto st = w.mark_used(*r.own); !st) {
        log_info("wallet {}: cannot mark address used: {}", w.name(), st.error().message);
      }
    }
  }
}

}  // namespace wallet_records

namespace {

using wallet_records::mark_used;
using wallet_records::records_of;

using Senders = std::unordered_set<PublicKey, PublicKeyHasher>;

//! The wallet's records of one block of the active chain at height `h` (their keys marked used).
//! Adds to `touched` the senders of the block that have unconfirmed records in the wallet (their
//! nonce moved: some of those records may never confirm now).
std::vector<WalletTx> block_records(LoadedWallet& e, const Block& block, std::uint64_t h, std::int64_t time,
                                    Senders& touched) {
  Wallet& w = e.wallet;
  std::vector<WalletTx> records;
  for (const auto& tx : block.txs) {
    if (!tx.is_coinbase() && e.pending_by_sender.contains(tx.sender)) touched.insert(tx.sender);
    if (!(w.is_mine(tx.recipient) || (!tx.is_coinbase() && w.is_mine(tx.sender)))) continue;
    auto r = records_of(w, tx, txid(tx), h, time);
    if (!r.empty()) {
      mark_used(w, r);
      records.insert(records.end(), std::make_move_iterator(r.begin()), std::make_move_iterator(r.end()));
    }
  }
  return records;
}

//! The first height a scan of the wallet starts at, after moving its records above a fork back
//! to unconfirmed (a reorg); nullopt when the wallet cannot be read or written (logged).
std::optional<std::uint64_t> first_height_to_scan(const Chainstate& chain, LoadedWallet& e) {
  Wallet& w = e.wallet;
  auto synced = w.synced_to();
  if (!synced) {
    log_info("wallet {}: {}", w.name(), synced.error().message);
    return std::nullopt;
  }
  // Blocks scanned after the stored sync point held none of the wallet's transactions (a block
  // with some writes the sync point with them): go on from the last one scanned while it is
  // still on the active chain, else from the stored sync point, which handles reorgs.
  const BlockIndex* scanned = e.scanned ? chain.lookup(e.scanned->hash) : nullptr;
  if (scanned && chain.is_active(scanned) && (!*synced || scanned->height > (*synced)->height)) {
    return scanned->height + 1;
  }
  if (!*synced) return 0;
  const BlockIndex* idx = chain.lookup((*synced)->hash);
  if (idx && chain.is_active(idx)) return idx->height + 1;
  // A reorg (or a chain that no longer has the block): records above the fork are
  // unconfirmed again until the blocks of the active chain are scanned.
  std::uint64_t fork = 0;
  const BlockIndex* f = idx;
  while (f && !chain.is_active(f)) f = f->prev;
  if (f) fork = f->height;
  const BlockIndex* at = chain.at_height(fork);
  if (auto st = w.unconfirm_above(fork, WalletBlockRef{at->hash, fork}); !st) {
    log_info("wallet {}: {}", w.name(), st.error().message);
    return std::nullopt;
  }
  // More records are unconfirmed now: read them again, and look at the whole mempool once more.
  e.pending_loaded = false;
  e.mempool_recorded = false;
  return f ? fork + 1 : 0;
}

}  // namespace

void WalletManager::sync(const std::shared_ptr<LoadedWallet>& e) {
  if (e->busy || e->scanning) {
    e->needs_sync = true;  // after the passphrase operation; a running scan goes to the tip anyway
    return;
  }
  e->needs_sync = false;
  if (scan_slice(*e, std::chrono::steady_clock::now() + scan_slice_)) return;
  e->scanning = true;
  if (!tasks_.spawn(fmt::format("wallet {}: chain scan", e->wallet.name()), continue_scan(e))) {
    e->scanning = false;  // stopped: the node is shutting down
    return;
  }
  log_info("wallet {}: scanning the chain from height {} in the background", e->wallet.name(), e->scan_from);
}

asio::awaitable<void> WalletManager::continue_scan(std::shared_ptr<LoadedWallet> e) {
  // The scan is over however this ends, also when stop() cancels it (operation_aborted at the
  // post): wait_scanned() must not wait forever.
  struct ScanOver {
    LoadedWallet& e;
    ~ScanOver() { e.scanning = false; }
  } scan_over{*e};
  for (;;) {
    // Let RPC, P2P and block connection run between slices.
    co_await asio::post(io_, asio::use_awaitable);
    if (e->unloaded) break;
    if (e->busy) {
      e->needs_sync = true;  // off_thread syncs once the passphrase operation is over
      break;
    }
    if (scan_slice(*e, std::chrono::steady_clock::now() + scan_slice_)) break;
  }
  if (!e->unloaded && !e->busy) {
    log_info("wallet {}: chain scan finished in {:.1f} s", e->wallet.name(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - e->scan_started).count());
  }
}

bool WalletManager::scan_slice(LoadedWallet& e, std::chrono::steady_clock::time_point deadline) {
  Wallet& w = e.wallet;
  const Chainstate& chain = chain_;
  // The mempool's records first: a block below may confirm some of them.
  flush_queued(e);
  const std::optional<std::uint64_t> start = first_height_to_scan(chain, e);
  if (!start) return true;
  if (!e.pending_loaded) load_pending(e);
  const std::uint64_t from = *start;
  if (!e.scanning) {
    e.scan_from = from;
    e.scan_started = std::chrono::steady_clock::now();
  }
  std::size_t found = 0;
  Senders touched;
  for (std::uint64_t h = from; h <= chain.height(); ++h) {
    const BlockIndex* idx = chain.at_height(h);
    auto block = chain.read_block(idx->hash);
    if (!block) {
      log_info("wallet {}: block {} at height {} is not stored; stopping the scan", w.name(),
               idx->hash.to_display_hex(), h);
      break;
    }
    std::vector<WalletTx> records = block_records(e, *block, h, idx->header.time, touched);
    // Blocks without our transactions only move the sync point; write it every 1,000 blocks,
    // where this slice ends, and at the tip, except while more blocks wait in the node's queue
    // (initial sync: one wallet commit per block would cost an fsync each).
    e.scanned = WalletBlockRef{idx->hash, h};
    const bool slice_over = h != chain.height() && std::chrono::steady_clock::now() >= deadline;
    const bool at_tip = h == chain.height();
    const bool write = !records.empty() || h % 1000 == 0 || slice_over ||
                       (at_tip && blocks_.queued_block_bytes() == 0);
    if (!write) continue;
    found += records.size();
    // Not synced at commit: after a power loss the scan from the stored sync point writes the
    // same records again (docs/wallet.md, "Durability").
    if (auto st = w.record_transactions(records, WalletBlockRef{idx->hash, h}, WalletSync::kRederivable); !st) {
      log_info("wallet {}: {}", w.name(), st.error().message);
      return true;
    }
    for (const auto& r : records) wallet_records::erase_pending(e, r.txid);
    if (slice_over) {
      drop_conflicted(e, &touched);
      return false;
    }
  }
  if (from == 0 && chain.height() > 0) {
    log_info("wallet {}: scanned {} blocks, {} records", w.name(), chain.height() + 1, found);
  }
  if (!e.mempool_recorded) {
    record_mempool(e);
    drop_conflicted(e);
  } else {
    drop_conflicted(e, &touched);
  }
  return true;
}

asio::awaitable<std::uint64_t> WalletManager::rescan(std::shared_ptr<LoadedWallet> e, std::uint64_t from_height) {
  const Chainstate& chain = chain_;
  if (from_height > chain.height()) {
    throw RpcError(kRpcInvalidParameter,
                   fmt::format("start_height {} is above the tip ({})", from_height, chain.height()));
  }
  std::optional<WalletBlockRef> before;
  if (from_height > 0) before = WalletBlockRef{chain.at_height(from_height - 1)->hash, from_height - 1};
  if (auto st = e->wallet.unconfirm_above(from_height == 0 ? 0 : from_height - 1, before); !st) {
    throw_wallet_error(st.error());
  }
  e->scanned.reset();  // from the moved-back sync point
  e->pending_loaded = false;
  e->mempool_recorded = false;
  sync(e);
  co_await wait_scanned(e);
  co_return chain.height();
}

asio::awaitable<void> WalletManager::wait_scanned(std::shared_ptr<LoadedWallet> e) {
  asio::steady_timer timer(io_);
  while (e->scanning) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::use_awaitable);
  }
  if (e->unloaded) throw RpcError(kRpcWalletNotFound, fmt::format("Wallet \"{}\" was unloaded", e->wallet.name()));
}

}  // namespace cheese
