// The wallet's transaction records and its sync point: what the chain scan (daemon) writes as
// blocks connect and disconnect, and what listtransactions and friends read back.

#include <algorithm>
#include <limits>

#include "wallet/wallet_impl.hpp"

namespace cheese {

using wallet_detail::Db;
using wallet_detail::fail;
using wallet_detail::guarded;
using wallet_detail::Stmt;
using wallet_detail::Txn;

WalletTx Wallet::Impl::read_tx(const Stmt& s) const {
  WalletTx tx;
  const ByteSpan txid = s.column_blob_view(0);
  const std::int64_t direction = s.column_int(1);
  if (txid.size() != 32 || direction < 0 || direction > 2) corrupt("malformed transaction record");
  std::copy(txid.begin(), txid.end(), tx.txid.bytes.begin());
  tx.direction = static_cast<TxDirection>(direction);
  if (!s.column_is_null(2)) tx.height = static_cast<std::uint64_t>(s.column_int(2));
  tx.amount = static_cast<Amount>(s.column_int(3));
  tx.fee = static_cast<Amount>(s.column_int(4));
  if (!s.column_is_null(5)) {
    const ByteSpan cp = s.column_blob_view(5);
    if (cp.size() != 32) corrupt("malformed transaction record");
    PublicKey pk{};
    std::copy(cp.begin(), cp.end(), pk.begin());
    tx.counterparty = pk;
  }
  tx.time = s.column_int(6);
  if (!s.column_is_null(7)) {
    const ByteSpan own = s.column_blob_view(7);
    if (own.size() != 32) corrupt("malformed transaction record");
    PublicKey pk{};
    std::copy(own.begin(), own.end(), pk.begin());
    tx.own = pk;
  }
  if (!s.column_is_null(8)) {
    const ByteSpan raw = s.column_blob_view(8);
    tx.raw.assign(raw.begin(), raw.end());
  }
  return tx;
}

namespace {

void check_record(const WalletTx& tx) {
  if (!money_range(tx.amount) || !money_range(tx.fee)) {
    fail(WalletErrc::kInvalidTransaction, "amount or fee out of range");
  }
  if (tx.height && *tx.height > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    fail(WalletErrc::kInvalidTransaction, "height out of range");
  }
}

Stmt prepare_upsert(Db& db) {
  return db.prepare(
      "INSERT INTO transactions(txid, direction, height, amount, fee, counterparty, time, own, raw) "
      "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT(txid, direction) DO UPDATE SET height = excluded.height, amount = excluded.amount, "
      "fee = excluded.fee, counterparty = excluded.counterparty, time = excluded.time, "
      "own = coalesce(excluded.own, own), raw = coalesce(excluded.raw, raw)");
}

//! One record through a statement of prepare_upsert (reset afterwards).
void upsert_record(Stmt& s, const WalletTx& tx) {
  s.bind(1, tx.txid.span()).bind(2, static_cast<std::int64_t>(tx.direction));
  if (tx.height) {
    s.bind(3, static_cast<std::int64_t>(*tx.height));
  } else {
    s.bind_null(3);
  }
  s.bind(4, static_cast<std::int64_t>(tx.amount)).bind(5, static_cast<std::int64_t>(tx.fee));
  if (tx.counterparty) {
    s.bind(6, ByteSpan(*tx.counterparty));
  } else {
    s.bind_null(6);
  }
  s.bind(7, tx.time);
  if (tx.own) {
    s.bind(8, ByteSpan(*tx.own));
  } else {
    s.bind_null(8);
  }
  if (!tx.raw.empty()) {
    s.bind(9, ByteSpan(tx.raw));
  } else {
    s.bind_null(9);
  }
  s.run();
}

void put_sync(Db& db, const WalletBlockRef& ref) {
  db.prepare("INSERT OR REPLACE INTO sync(id, hash, height) VALUES(0, ?, ?)")
      .bind(1, ref.hash.span())
      .bind(2, static_cast<std::int64_t>(ref.height))
      .run();
}

//! For the life of one write: the connection's synchronous level for `sync` (connections stay at
//! FULL otherwise: wallet_file.cpp). Set outside the SQLite transaction, as SQLite requires.
class SyncLevel {
 public:
  SyncLevel(Db& db, WalletSync sync) : db_(db), relaxed_(sync == WalletSync::kRederivable) {
    if (relaxed_) db_.exec("PRAGMA synchronous=NORMAL");
  }
  ~SyncLevel() {
    if (!relaxed_) return;
    try {
      db_.exec("PRAGMA synchronous=FULL");
    } catch (const wallet_detail::DbError&) {
      // Cannot happen outside a transaction; the next durable write would still be atomic.
    }
  }
  SyncLevel(const SyncLevel&) = delete;
  SyncLevel& operator=(const SyncLevel&) = delete;

 private:
  Db& db_;
  bool relaxed_;
};

}  // namespace

WalletStatus Wallet::record_transaction(const WalletTx& tx) {
  return record_transactions(std::span<const WalletTx>(&tx, 1), std::nullopt);
}

WalletStatus Wallet::record_transactions(std::span<const WalletTx> txs, std::optional<WalletBlockRef> synced_to,
                                         WalletSync sync) {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    for (const auto& tx : txs) check_record(tx);
    if (synced_to && synced_to->height > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail(WalletErrc::kInvalidTransaction, "height out of range");
    }
    SyncLevel level(w.db, sync);
    Txn txn(w.db);
    if (!txs.empty()) {
      Stmt upsert = prepare_upsert(w.db);
      for (const auto& tx : txs) upsert_record(upsert, tx);
    }
    if (synced_to) {
      put_sync(w.db, *synced_to);
    }
    txn.commit();
    return std::monostate{};
  });
}

WalletResult<std::optional<WalletBlockRef>> Wallet::synced_to() const {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    std::optional<WalletBlockRef> out;
    Stmt s = w.db.prepare("SELECT hash, height FROM sync WHERE id = 0");
    if (s.step()) {
      const ByteSpan hash = s.column_blob_view(0);
      if (hash.size() != 32 || s.column_int(1) < 0) w.corrupt("malformed sync record");
      WalletBlockRef ref;
      std::copy(hash.begin(), hash.end(), ref.hash.bytes.begin());
      ref.height = static_cast<std::uint64_t>(s.column_int(1));
      out = ref;
    }
    return out;
  });
}

WalletStatus Wallet::unconfirm_above(std::uint64_t height, std::optional<WalletBlockRef> synced_to) {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    Txn txn(w.db);
    const auto h = static_cast<std::int64_t>(
        std::min<std::uint64_t>(height, std::numeric_limits<std::int64_t>::max()));
    w.db.prepare("UPDATE transactions SET height = NULL WHERE height > ?").bind(1, h).run();
    if (synced_to) {
      put_sync(w.db, *synced_to);
    } else {
      w.db.prepare("DELETE FROM sync").run();
    }
    txn.commit();
    return std::monostate{};
  });
}

WalletResult<std::vector<WalletTx>> Wallet::unconfirmed_transactions() const {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    std::vector<WalletTx> out;
    Stmt s = w.db.prepare(
        "SELECT txid, direction, height, amount, fee, counterparty, time, own, raw FROM transactions "
        "WHERE height IS NULL ORDER BY time, id");
    while (s.step()) out.push_back(w.read_tx(s));
    return out;
  });
}

WalletResult<std::uint64_t> Wallet::transaction_count() const {
  Impl& w = *impl_;
  return guarded(w.path,
                 [&] { return static_cast<std::uint64_t>(w.db.query_int("SELECT count(*) FROM transactions")); });
}

WalletStatus Wallet::remove_transaction(const Hash256& txid) {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    w.db.prepare("DELETE FROM transactions WHERE txid = ?").bind(1, txid.span()).run();
    return std::monostate{};
  });
}

WalletStatus Wallet::remove_transactions(std::span<const Hash256> txids, WalletSync sync) {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    if (txids.empty()) return std::monostate{};
    SyncLevel level(w.db, sync);
    Txn txn(w.db);
    Stmt s = w.db.prepare("DELETE FROM transactions WHERE txid = ?");
    for (const auto& id : txids) s.bind(1, id.span()).run();
    txn.commit();
    return std::monostate{};
  });
}

WalletResult<std::vector<WalletTx>> Wallet::find_transaction(const Hash256& txid) const {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    std::vector<WalletTx> out;
    Stmt s = w.db.prepare(
        "SELECT txid, direction, height, amount, fee, counterparty, time, own, raw FROM transactions WHERE txid = ? "
        "ORDER BY direction");
    s.bind(1, txid.span());
    while (s.step()) out.push_back(w.read_tx(s));
    return out;
  });
}

WalletResult<std::vector<WalletTx>> Wallet::list_transactions(std::size_t count, std::size_t skip) const {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    std::vector<WalletTx> out;
    Stmt s = w.db.prepare(
        "SELECT txid, direction, height, amount, fee, counterparty, time, own, raw FROM transactions "
        "ORDER BY time DESC, id DESC LIMIT ? OFFSET ?");
    s.bind(1, static_cast<std::int64_t>(std::min(count, kMax)))
        .bind(2, static_cast<std::int64_t>(std::min(skip, kMax)));
    while (s.step()) out.push_back(w.read_tx(s));
    std::reverse(out.begin(), out.end());
    return out;
  });
}

}  // namespace cheese
