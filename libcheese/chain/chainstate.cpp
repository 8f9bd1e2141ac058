#include "chain/chainstate.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "consensus/pow.hpp"

namespace cheese {

namespace {

Bytes encode_undo(const StateDelta& delta) {
  Writer w;
  w.varint(delta.before.size());
  for (const auto& [key, acct] : delta.before) {
    w.raw(key);
    w.u64(acct.balance);
    w.u64(acct.nonce);
  }
  return std::move(w).take();
}

std::vector<std::pair<PublicKey, Account>> decode_undo(ByteSpan bytes) {
  Reader r(bytes);
  const auto n = r.count(1'000'000, 48);
  std::vector<std::pair<PublicKey, Account>> out;
  out.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    PublicKey k = r.array<32>();
    Account a;
    a.balance = r.u64();
    a.nonce = r.u64();
    out.emplace_back(k, a);
  }
  r.expect_end();
  if (!r.ok()) throw StorageError("undo data is corrupt");
  return out;
}

//! Entries of the account cache (about 100 bytes each): the accounts of a few thousand blocks.
constexpr std::size_t kAccountCacheEntries = 1u << 18;

std::int64_t to_db(std::uint64_t v) { return static_cast<std::int64_t>(v); }
std::uint64_t from_db(std::int64_t v) { return static_cast<std::uint64_t>(v); }

}  // namespace

struct Chainstate::Statements {
  explicit Statements(Database& db)
      : get_account(db.prepare("SELECT balance, nonce FROM accounts WHERE pubkey = ?1")),
        put_account(
            db.prepare("INSERT INTO accounts(pubkey, balance, nonce) VALUES(?1, ?2, ?3) "
                       "ON CONFLICT(pubkey) DO UPDATE SET balance = excluded.balance, nonce = excluded.nonce")),
        del_account(db.prepare("DELETE FROM accounts WHERE pubkey = ?1")),
        put_index(
            db.prepare("INSERT INTO block_index(hash, height, header, status, sequence, tx_count, size, "
                       "cb_recipient, cb_amount) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                       "ON CONFLICT(hash) DO UPDATE SET status = excluded.status, tx_count = excluded.tx_count, "
                       "size = excluded.size, cb_recipient = excluded.cb_recipient, cb_amount = excluded.cb_amount")),
        put_block(db.prepare("INSERT OR REPLACE INTO blocks(hash, data) VALUES(?1, ?2)")),
        get_block(db.prepare("SELECT data FROM blocks WHERE hash = ?1")),
        put_undo(db.prepare("INSERT OR REPLACE INTO undo(hash, data) VALUES(?1, ?2)")),
        get_undo(db.prepare("SELECT data FROM undo WHERE hash = ?1")),
        del_undo(db.prepare("DELETE FROM undo WHERE hash = ?1")),
        put_active(db.prepare("INSERT OR REPLACE INTO active_chain(height, hash) VALUES(?1, ?2)")),
        del_active(db.prepare("DELETE FROM active_chain WHERE height = ?1")),
        put_tx(db.prepare("INSERT OR REPLACE INTO tx_index(txid, block_hash, height, position) "
                          "VALUES(?1, ?2, ?3, ?4)")),
        del_tx(db.prepare("DELETE FROM tx_index WHERE txid = ?1")),
        get_tx(db.prepare("SELECT block_hash, height, position FROM tx_index WHERE txid = ?1")),
        put_meta(db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)")),
        get_meta(db.prepare("SELECT value FROM meta WHERE key = ?1")) {}

  Statement get_account, put_account, del_account;
  Statement put_index;
  Statement put_block, get_block;
  Statement put_undo, get_undo, del_undo;
  Statement put_active, del_active;
  Statement put_tx, del_tx, get_tx;
  Statement put_meta, get_meta;
};

const BlockIndex* BlockIndex::ancestor(std::uint64_t at_height) const {
  if (at_height > height) return nullptr;
  const BlockIndex* p = this;
  while (p && p->height > at_height) p = p->prev;
  return p;
}

bool Chainstate::CandidateOrder::operator()(const BlockIndex* a, const BlockIndex* b) const {
  if (a->chain_work != b->chain_work) return a->chain_work > b->chain_work;
  if (a->sequence != b->sequence) return a->sequence < b->sequence;
  return a < b;
}

Chainstate::Chainstate(const std::filesystem::path& db_file, const ChainParams& params, std::size_t verify_threads)
    : params_(params), verifier_(verify_threads) {
  db_ = std::make_unique<Database>(db_file, Database::Sync::kNormal);
  // One process owns the chain database (the data directory is locked): no file locks per
  // transaction, a bigger page cache, and checkpoints (the only fsyncs in WAL/NORMAL) every
  // 32 MB of WAL rather than every 4 MB.
  db_->exec("PRAGMA locking_mode=EXCLUSIVE");
  db_->exec("PRAGMA cache_size=-65536");
  db_->exec("PRAGMA wal_autocheckpoint=32768");
  create_schema();
  stmt_ = std::make_unique<Statements>(*db_);
  load_index();
  if (index_.empty()) {
    init_genesis();
  } else {
    // A crash between storing a block and connecting it, or in the middle of a reorg, leaves a
    // stored chain with more work than the tip: finish connecting it now.
    ProcessBlockResult ignored;
    activate_best_chain(ignored, nullptr);
  }
}

Chainstate::~Chainstate() {
  try {
    commit_pending_store();  // deferred connections are valid: keep them at a clean shutdown
  } catch (...) {
  }
  stmt_.reset();
  try {
    // Fold the WAL back into the main file so a clean shutdown leaves one file.
    db_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (...) {
  }
}

void Chainstate::create_schema() {
  // One transaction: a crash while creating the database cannot leave a half-made schema that
  // the next start would mistake for another program's database.
  DbTransaction txn(*db_);
  auto tables = db_->prepare(
      "SELECT COUNT(*), COALESCE(SUM(name = 'meta'), 0) FROM sqlite_master WHERE type = 'table'");
  if (!tables.step()) throw StorageError("cannot list the tables of " + db_->path().string());
  const bool is_new = tables.column_int(0) == 0;
  const bool has_meta = tables.column_int(1) > 0;
  tables.reset();
  if (!is_new && !has_meta) {
    throw StorageError(fmt::format("database {} is not a cheesechain database (it holds another program's tables)",
                                   db_->path().string()));
  }
  db_->exec(
      "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);"
      "CREATE TABLE IF NOT EXISTS block_index(hash BLOB PRIMARY KEY, height INTEGER NOT NULL, "
      "  header BLOB NOT NULL, status INTEGER NOT NULL, sequence INTEGER NOT NULL, "
      "  tx_count INTEGER NOT NULL, size INTEGER NOT NULL, cb_recipient BLOB, "
      "  cb_amount INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS blocks(hash BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS undo(hash BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS accounts(pubkey BLOB PRIMARY KEY, balance INTEGER NOT NULL, "
      "  nonce INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS active_chain(height INTEGER PRIMARY KEY, hash BLOB NOT NULL);"
      "CREATE TABLE IF NOT EXISTS tx_index(txid BLOB PRIMARY KEY, block_hash BLOB NOT NULL, "
      "  height INTEGER NOT NULL, position INTEGER NOT NULL) WITHOUT ROWID;");
  auto get = db_->prepare("SELECT value FROM meta WHERE key = ?1");
  get.bind(1, std::string_view{"schema_version"});
  if (!get.step()) {
    get.reset();
    if (!is_new) {
      throw StorageError(fmt::format(
          "database {} is not a cheesechain database (its meta table has no schema version)", db_->path().string()));
    }
    auto put = db_->prepare("INSERT INTO meta(key, value) VALUES(?1, ?2)");
    put.bind(1, std::string_view{"schema_version"}).bind(2, kChainSchemaVersion).run();
    put.bind(1, std::string_view{"network"}).bind(2, ByteSpan{params_.magic}).run();
    txn.commit();
    return;
  }
  const auto version = get.column_int(0);
  get.reset();
  if (version > kChainSchemaVersion) {
    throw StorageError(
        fmt::format("database {} has schema version {}, newer than this build supports ({}); upgrade cheesed",
                    db_->path().string(), version, kChainSchemaVersion));
  }
  if (version < 1) {
    throw StorageError(fmt::format("database {} has an unknown schema version {}", db_->path().string(), version));
  }
  get.bind(1, std::string_view{"network"});
  if (!get.step() || get.column_blob(0) != Bytes(params_.magic.begin(), params_.magic.end())) {
    throw StorageError(
        fmt::format("database {} belongs to another network than {}", db_->path().string(), params_.name));
  }
  get.reset();
  txn.commit();
}

BlockIndex* Chainstate::add_index(const BlockHeader& h, std::uint64_t sequence, std::uint32_t status) {
  auto entry = std::make_unique<BlockIndex>();
  BlockIndex* idx = entry.get();
  idx->hash = block_hash(h);
  idx->header = h;
  idx->status = status;
  idx->sequence = sequence;
  next_sequence_ = std::max(next_sequence_, sequence + 1);
  if (auto it = index_.find(h.prev_hash); it != index_.end() && !h.prev_hash.is_zero()) {
    idx->prev = it->second.get();
    idx->height = idx->prev->height + 1;
    idx->chain_work = idx->prev->chain_work + block_work(h.bits);
    idx->prev->children.push_back(idx);
  } else {
    idx->chain_work = block_work(h.bits);
  }
  index_.emplace(idx->hash, std::move(entry));
  return idx;
}

void Chainstate::persist_index(const BlockIndex* idx) {
  auto& s = stmt_->put_index;
  const auto header = serialize(idx->header);
  s.bind(1, idx->hash.span())
      .bind(2, to_db(idx->height))
      .bind(3, ByteSpan{header})
      .bind(4, std::int64_t{idx->status})
      .bind(5, to_db(idx->sequence))
      .bind(6, std::int64_t{idx->tx_count})
      .bind(7, std::int64_t{idx->size})
      .bind(8, ByteSpan{idx->coinbase_recipient})
      .bind(9, to_db(idx->coinbase_amount));
  s.run();
}

void Chainstate::load_index() {
  auto q = db_->prepare(
      "SELECT header, status, sequence, tx_count, size, cb_recipient, cb_amount, height "
      "FROM block_index ORDER BY height, sequence");
  while (q.step()) {
    auto header = decode_header(q.column_blob_view(0));
    if (!header) throw StorageError("block index holds a corrupt header");
    BlockIndex* idx = add_index(*header, from_db(q.column_int(2)), static_cast<std::uint32_t>(q.column_int(1)));
    idx->tx_count = static_cast<std::uint32_t>(q.column_int(3));
    idx->size = static_cast<std::uint32_t>(q.column_int(4));
    auto cb = q.column_blob_view(5);
    if (cb.size() == 32) std::copy(cb.begin(), cb.end(), idx->coinbase_recipient.begin());
    idx->coinbase_amount = from_db(q.column_int(6));
    if (idx->height != from_db(q.column_int(7)) || (!idx->prev && idx->hash != params_.genesis_hash)) {
      throw StorageError("block index is inconsistent (a header without its parent)");
    }
  }
  if (index_.empty()) return;

  // Ordered by height, so parents come before children.
  std::vector<BlockIndex*> by_height;
  by_height.reserve(index_.size());
  for (auto& [h, e] : index_) by_height.push_back(e.get());
  std::sort(by_height.begin(), by_height.end(), [](auto* a, auto* b) { return a->height < b->height; });
  for (BlockIndex* idx : by_height) {
    idx->have_chain_data = idx->have_data() && (!idx->prev || idx->prev->have_chain_data);
    if (idx->have_chain_data && !idx->failed()) candidates_.insert(idx);
    if (!idx->failed()) update_best_header(idx);
  }

  auto tip_q = db_->prepare("SELECT value FROM meta WHERE key = 'tip'");
  if (!tip_q.step()) throw StorageError("database has blocks but no tip");
  const BlockIndex* tip = lookup(Hash256::from_span(tip_q.column_blob_view(0)));
  if (!tip) throw StorageError("database tip is not in the block index");
  active_.assign(tip->height + 1, nullptr);
  for (auto* p = const_cast<BlockIndex*>(tip); p; p = p->prev) active_[p->height] = p;
  // Candidates with less work than the tip can never become active again.
  std::erase_if(candidates_, [&](const BlockIndex* c) { return c->chain_work < tip->chain_work; });
}

void Chainstate::init_genesis() {
  const Block& g = params_.genesis;
  DbTransaction txn(*db_);
  BlockIndex* idx = add_index(g.header, next_sequence_, kStatusHaveData | kStatusConnected);
  idx->tx_count = static_cast<std::uint32_t>(g.txs.size());
  idx->size = static_cast<std::uint32_t>(serialized_size(g));
  // The genesis reward is never credited (as in Bitcoin): its coinbase stays unspendable.
  idx->coinbase_recipient = g.txs[0].recipient;
  idx->coinbase_amount = 0;
  idx->have_chain_data = true;
  persist_index(idx);
  const Bytes data = serialize(g);
  stmt_->put_block.bind(1, idx->hash.span()).bind(2, ByteSpan{data}).run();
  stmt_->put_active.bind(1, std::int64_t{0}).bind(2, idx->hash.span()).run();
  stmt_->put_tx.bind(1, txid(g.txs[0]).span())
      .bind(2, idx->hash.span())
      .bind(3, std::int64_t{0})
      .bind(4, std::int64_t{0})
      .run();
  stmt_->put_meta.bind(1, std::string_view{"tip"}).bind(2, idx->hash.span()).run();
  txn.commit();
  active_ = {idx};
  candidates_.insert(idx);
  best_header_ = idx;
}

const BlockIndex* Chainstate::lookup(const Hash256& hash) const {
  auto it = index_.find(hash);
  return it == index_.end() ? nullptr : it->second.get();
}

const BlockIndex* Chainstate::at_height(std::uint64_t h) const { return h < active_.size() ? active_[h] : nullptr; }

bool Chainstate::is_active(const BlockIndex* idx) const {
  return idx && idx->height < active_.size() && active_[idx->height] == idx;
}

std::vector<const BlockIndex*> Chainstate::chain_tips() const {
  std::vector<const BlockIndex*> tips;
  for (const auto& [h, e] : index_) {
    if (e->children.empty()) tips.push_back(e.get());
  }
  // The active tip always counts, even if it has (header-only) children.
  if (std::find(tips.begin(), tips.end(), tip()) == tips.end()) tips.push_back(tip());
  return tips;
}

std::vector<Hash256> Chainstate::locator(const BlockIndex* from) const {
  if (!from) from = tip();
  std::vector<Hash256> out;
  std::uint64_t step = 1;
  const BlockIndex* p = from;
  while (p) {
    out.push_back(p->hash);
    if (p->height == 0) break;
    const std::uint64_t next = p->height > step ? p->height - step : 0;
    p = is_active(p) ? at_height(next) : p->ancestor(next);
    if (out.size() > 10) step *= 2;
  }
  return out;
}

const BlockIndex* Chainstate::find_fork(const std::vector<Hash256>& loc) const {
  for (const auto& h : loc) {
    const BlockIndex* idx = lookup(h);
    if (idx && is_active(idx)) return idx;
  }
  return active_.front();
}

std::int64_t Chainstate::median_time_past(const BlockIndex* idx) const {
  std::vector<std::int64_t> times;
  times.reserve(params_.median_time_span);
  for (const BlockIndex* p = idx; p && times.size() < params_.median_time_span; p = p->prev) {
    times.push_back(p->header.time);
  }
  return median_time(times);
}

std::uint32_t Chainstate::next_bits(const BlockIndex* parent) const {
  return next_work_required(parent->height + 1, parent->header.time, params_);
}

void Chainstate::update_best_header(BlockIndex* idx) {
  if (!best_header_ || idx->chain_work > best_header_->chain_work) best_header_ = idx;
}

Verdict Chainstate::accept_header(const BlockHeader& h, std::int64_t now, const BlockIndex** out) {
  check_usable();
  const Hash256 hash = block_hash(h);
  if (const BlockIndex* known = lookup(hash)) {
    if (out) *out = known;
    if (known->failed()) {
      return Verdict::fail((known->status & kStatusFailed) ? Reject::kBlockKnownInvalid
                                                           : Reject::kBlockParentInvalid);
    }
    return {};
  }
  if (hash == params_.genesis_hash) return {};
  const BlockIndex* parent = lookup(h.prev_hash);
  if (!parent) return Verdict::fail(Reject::kBlockUnknownParent);
  if (parent->failed()) return Verdict::fail(Reject::kBlockParentInvalid);
  if (auto v = check_header_pow(h, params_); !v) return v;
  const HeaderContext ctx{parent->height + 1, median_time_past(parent), next_bits(parent)};
  if (auto v = check_header_contextual(h, ctx, now, params_); !v) return v;

  BlockIndex* idx = add_index(h, next_sequence_, 0);
  try {
    persist_index(idx);
  } catch (const std::exception& e) {
    // A failed write inside a transaction may have rolled back deferred connections with it.
    if (pending_store_) abandon_transaction(e.what());
    throw;
  }
  update_best_header(idx);
  if (out) *out = idx;
  return {};
}

void Chainstate::received_data(BlockIndex* idx) {
  if (!(idx->prev == nullptr || idx->prev->have_chain_data)) return;
  std::vector<BlockIndex*> todo{idx};
  while (!todo.empty()) {
    BlockIndex* p = todo.back();
    todo.pop_back();
    p->have_chain_data = true;
    if (!p->failed() && p->chain_work >= tip()->chain_work) candidates_.insert(p);
    for (BlockIndex* c : p->children) {
      if (c->have_data() && !c->have_chain_data) todo.push_back(c);
    }
  }
}

void Chainstate::mark_failed(BlockIndex* idx) {
  commit_pending_store();
  DbTransaction txn(*db_);
  idx->status |= kStatusFailed;
  candidates_.erase(idx);
  persist_index(idx);
  std::vector<BlockIndex*> todo(idx->children.begin(), idx->children.end());
  while (!todo.empty()) {
    BlockIndex* p = todo.back();
    todo.pop_back();
    p->status |= kStatusFailedParent;
    candidates_.erase(p);
    persist_index(p);
    todo.insert(todo.end(), p->children.begin(), p->children.end());
  }
  txn.commit();
  if (best_header_ && best_header_->failed()) {
    best_header_ = active_.back();
    for (auto& [h, e] : index_) {
      if (!e->failed()) update_best_header(e.get());
    }
  }
}

ProcessBlockResult Chainstate::process_block(const Block& b, std::int64_t now, bool signatures_checked,
                                             CommitMode commit) {
  const Verdict ok;
  return process_block_impl(b, now, signatures_checked ? &ok : nullptr, commit);
}

ProcessBlockResult Chainstate::process_block_with_signatures(const Block& b, std::int64_t now, Verdict signatures,
                                                             CommitMode commit) {
  return process_block_impl(b, now, &signatures, commit);
}

void Chainstate::check_usable() const {
  if (!failure_.empty()) {
    throw StorageError(
        fmt::format("the chain database {} failed earlier ({}); restart cheesed", db_->path().string(), failure_));
  }
}

void Chainstate::flush() {
  check_usable();
  try {
    commit_pending_store();
  } catch (const std::exception& e) {
    abandon_transaction(e.what());
    throw;
  }
}

void Chainstate::abandon_transaction(const std::string& why) {
  pending_store_.reset();  // rolls back whatever is still open
  deferred_blocks_ = 0;
  account_cache_.clear();
  failure_ = why;
}

ProcessBlockResult Chainstate::process_block_impl(const Block& b, std::int64_t now, const Verdict* signatures,
                                                  CommitMode commit) {
  check_usable();
  ProcessBlockResult result;
  const Hash256 hash = b.hash();
  BlockIndex* idx = nullptr;
  if (auto it = index_.find(hash); it != index_.end()) idx = it->second.get();
  // Known invalid first: a block that failed when connected has its body stored too.
  if (idx && (idx->failed() || idx->have_data())) {
    result.duplicate = true;
    if (idx->failed()) {
      result.verdict = Verdict::fail((idx->status & kStatusFailed) ? Reject::kBlockKnownInvalid
                                                                   : Reject::kBlockParentInvalid);
    }
    if (commit == CommitMode::kNow) flush();  // connections deferred by the blocks before it
    return result;
  }

  // One transaction for the new header, the body and, in the common case of a block on the tip,
  // its connection: the transaction stays open (pending_store_) until connect_tip commits it with
  // the connection, instead of three commits per block. Any other path (a rejected block, a side
  // branch, a reorg, a block that fails to connect) commits what was stored first, so a crash
  // leaves either the block stored and connected or nothing of it, or a stored side block, as
  // before. With CommitMode::kDeferred the transaction may already be open (connections of the
  // blocks before this one) and may stay open after it.
  if (!pending_store_) pending_store_.emplace(*db_);
  defer_commit_ = commit == CommitMode::kDeferred;
  struct ResetDefer {
    bool& flag;
    ~ResetDefer() { flag = false; }
  } reset_defer{defer_commit_};  // on every way out, early returns included
  try {
    // Header first: PoW, known parent, bits and time, so nothing unproven is stored.
    if (!idx) {
      const BlockIndex* added = nullptr;
      result.verdict = accept_header(b.header, now, &added);
      if (!result.verdict) {
        commit_pending_store();
        return result;
      }
      idx = const_cast<BlockIndex*>(added);
    }

    result.verdict = check_block(b, params_);
    if (result.verdict) result.verdict = signatures ? *signatures : verifier_.verify_block(b, params_.magic);
    if (!result.verdict) {
      if (is_permanent_failure(result.verdict.reason)) mark_failed(idx);
      commit_pending_store();
      return result;
    }

    const Bytes data = serialize(b);
    stmt_->put_block.bind(1, hash.span()).bind(2, ByteSpan{data}).run();
    idx->status |= kStatusHaveData;
    idx->tx_count = static_cast<std::uint32_t>(b.txs.size());
    idx->size = static_cast<std::uint32_t>(data.size());
    idx->coinbase_recipient = b.txs[0].recipient;
    idx->coinbase_amount = b.txs[0].amount;
    persist_index(idx);
    if (idx->prev != tip()) commit_pending_store();  // a side branch, or its parent is missing
    received_data(idx);
    const BlockIndex* old_tip = tip();
    activate_best_chain(result, &b);
    // Still open: deferred connections, or a block stored but not connected (equal work).
    if (!defer_commit_ || deferred_blocks_ >= kMaxDeferredBlocks || !result.disconnected.empty()) {
      commit_pending_store();
    }
    result.tip_changed = tip() != old_tip;
  } catch (const std::exception& e) {
    abandon_transaction(e.what());
    throw;
  }
  return result;
}

void Chainstate::commit_pending_store() {
  if (!pending_store_) return;
  pending_store_->commit();
  pending_store_.reset();
  deferred_blocks_ = 0;
}

void Chainstate::activate_best_chain(ProcessBlockResult& result, const Block* just_received) {
  // After a block failed to connect, the tip may be a prefix of the failed branch that only ties
  // the chain we left: then the first seen of the equal-work chains (CandidateOrder) wins again,
  // as if the invalid block had been refused on arrival.
  bool after_failure = false;
  for (;;) {
    if (candidates_.empty()) return;
    BlockIndex* best = *candidates_.begin();
    BlockIndex* current = active_.back();
    if (best == current || best->chain_work < current->chain_work) return;
    // Equal work keeps the chain we had first.
    if (best->chain_work == current->chain_work && !after_failure) return;

    // Walk both back to the fork point.
    const BlockIndex* fork = best;
    while (fork->height > current->height) fork = fork->prev;
    while (!is_active(fork)) fork = fork->prev;
    while (active_.back() != fork) disconnect_tip(result);

    std::vector<BlockIndex*> path;
    for (BlockIndex* p = best; p != fork; p = p->prev) path.push_back(p);
    std::reverse(path.begin(), path.end());
    for (BlockIndex* step : path) {
      std::optional<Block> loaded;
      const Block* body = nullptr;
      if (just_received && step->hash == just_received->hash()) {
        body = just_received;
      } else {
        loaded = read_block(step->hash);
        if (!loaded) throw StorageError("a stored block body is missing");
        body = &*loaded;
      }
      const Verdict v = connect_tip(step, *body);
      if (!v) {
        mark_failed(step);
        result.invalidated.emplace_back(step->hash, v);
        after_failure = true;
        if (just_received && result.verdict) {
          if (step->hash == just_received->hash()) {
            result.verdict = v;
          } else if (const BlockIndex* j = lookup(just_received->hash()); j && j->failed()) {
            // The submitted block descends from the block that just failed.
            result.verdict = Verdict::fail(Reject::kBlockParentInvalid);
          }
        }
        break;  // pick the best remaining candidate
      }
      result.connected.push_back(*body);
    }
    // Blocks that can no longer beat the tip are not worth keeping as candidates.
    std::erase_if(candidates_, [&](const BlockIndex* c) { return c->chain_work < tip()->chain_work; });
    candidates_.insert(active_.back());
  }
}

Verdict Chainstate::connect_tip(BlockIndex* idx, const Block& b) {
  std::optional<MaturingReward> matured;
  if (idx->height > params_.coinbase_maturity) {
    const BlockIndex* m = active_[idx->height - params_.coinbase_maturity];
    matured = MaturingReward{m->coinbase_recipient, m->coinbase_amount};
  }
  StateDelta delta;
  if (auto v = connect_block_transactions(b, idx->height, params_, *this, matured, delta); !v) {
    commit_pending_store();  // the body stays stored; the block is then marked invalid
    return v;
  }

  // Connect in the open transaction (it stored this block's body, or holds deferred connections).
  if (!pending_store_) pending_store_.emplace(*db_);
  std::vector<std::pair<PublicKey, Account>> written;
  written.reserve(delta.after.size());
  for (const auto& [key, acct] : delta.after) {
    if (acct == Account{}) {
      stmt_->del_account.bind(1, ByteSpan{key}).run();
    } else {
      stmt_->put_account.bind(1, ByteSpan{key}).bind(2, to_db(acct.balance)).bind(3, to_db(acct.nonce)).run();
    }
    written.emplace_back(key, acct);
  }
  const Bytes undo = encode_undo(delta);
  stmt_->put_undo.bind(1, idx->hash.span()).bind(2, ByteSpan{undo}).run();
  stmt_->put_active.bind(1, to_db(idx->height)).bind(2, idx->hash.span()).run();
  for (std::size_t i = 0; i < b.txs.size(); ++i) {
    stmt_->put_tx.bind(1, txid(b.txs[i]).span())
        .bind(2, idx->hash.span())
        .bind(3, to_db(idx->height))
        .bind(4, static_cast<std::int64_t>(i))
        .run();
  }
  stmt_->put_meta.bind(1, std::string_view{"tip"}).bind(2, idx->hash.span()).run();
  const std::uint32_t old_status = idx->status;
  idx->status |= kStatusConnected;
  if (idx->status != old_status) persist_index(idx);
  cache_accounts(written);
  active_.push_back(idx);
  ++deferred_blocks_;
  if (!defer_commit_ || deferred_blocks_ >= kMaxDeferredBlocks) commit_pending_store();
  return {};
}

void Chainstate::disconnect_tip(ProcessBlockResult& result) {
  commit_pending_store();
  BlockIndex* idx = active_.back();
  if (!idx->prev) throw std::logic_error("cannot disconnect the genesis block");
  auto block = read_block(idx->hash);
  if (!block) throw StorageError("a stored block body is missing");
  auto& gu = stmt_->get_undo;
  gu.bind(1, idx->hash.span());
  if (!gu.step()) {
    gu.reset();
    throw StorageError("undo data of an active block is missing");
  }
  const auto undo = decode_undo(gu.column_blob_view(0));
  gu.reset();

  DbTransaction txn(*db_);
  // Restore in reverse first-touch order (each key appears once, so order is cosmetic).
  for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
    if (it->second == Account{}) {
      stmt_->del_account.bind(1, ByteSpan{it->first}).run();
    } else {
      stmt_->put_account.bind(1, ByteSpan{it->first})
          .bind(2, to_db(it->second.balance))
          .bind(3, to_db(it->second.nonce))
          .run();
    }
  }
  stmt_->del_undo.bind(1, idx->hash.span()).run();
  stmt_->del_active.bind(1, to_db(idx->height)).run();
  for (const auto& tx : block->txs) stmt_->del_tx.bind(1, txid(tx).span()).run();
  stmt_->put_meta.bind(1, std::string_view{"tip"}).bind(2, idx->prev->hash.span()).run();
  txn.commit();
  cache_accounts(undo);
  active_.pop_back();
  result.disconnected.push_back(std::move(*block));
}

std::optional<Bytes> Chainstate::read_block_bytes(const Hash256& hash) const {
  auto& s = stmt_->get_block;
  s.bind(1, hash.span());
  std::optional<Bytes> out;
  if (s.step()) out = s.column_blob(0);
  s.reset();
  return out;
}

std::optional<Block> Chainstate::read_block(const Hash256& hash) const {
  auto bytes = read_block_bytes(hash);
  if (!bytes) return std::nullopt;
  auto b = decode_block(*bytes);
  if (!b) throw StorageError("a stored block is corrupt");
  return std::move(*b);
}

std::optional<TxLocation> Chainstate::find_transaction(const Hash256& id) const {
  auto& s = stmt_->get_tx;
  s.bind(1, id.span());
  std::optional<TxLocation> out;
  if (s.step()) {
    out = TxLocation{Hash256::from_span(s.column_blob_view(0)), from_db(s.column_int(1)),
                     static_cast<std::uint32_t>(s.column_int(2))};
  }
  s.reset();
  return out;
}

void Chainstate::cache_accounts(const std::vector<std::pair<PublicKey, Account>>& written) {
  if (account_cache_.size() + written.size() > kAccountCacheEntries) account_cache_.clear();
  for (const auto& [key, acct] : written) account_cache_[key] = acct;
}

Account Chainstate::account(const PublicKey& key) const {
  if (auto it = account_cache_.find(key); it != account_cache_.end()) return it->second;
  if (account_cache_.size() >= kAccountCacheEntries) account_cache_.clear();
  Account a = read_account(key);
  account_cache_.emplace(key, a);
  return a;
}

Account Chainstate::read_account(const PublicKey& key) const {
  auto& s = stmt_->get_account;
  s.bind(1, ByteSpan{key});
  Account a;
  if (s.step()) {
    a.balance = from_db(s.column_int(0));
    a.nonce = from_db(s.column_int(1));
  }
  s.reset();
  return a;
}

std::map<PublicKey, Account> Chainstate::all_accounts() const {
  std::map<PublicKey, Account> out;
  auto q = db_->prepare("SELECT pubkey, balance, nonce FROM accounts");
  while (q.step()) {
    auto k = q.column_blob_view(0);
    if (k.size() != 32) throw StorageError("accounts table holds a malformed key");
    PublicKey key{};
    std::copy(k.begin(), k.end(), key.begin());
    out[key] = Account{from_db(q.column_int(1)), from_db(q.column_int(2))};
  }
  return out;
}

namespace {
class MapView final : public AccountView {
 public:
  explicit MapView(std::map<PublicKey, Account>& m) : m_(m) {}
  Account account(const PublicKey& key) const override {
    auto it = m_.find(key);
    return it == m_.end() ? Account{} : it->second;
  }

 private:
  std::map<PublicKey, Account>& m_;
};
}  // namespace

std::map<PublicKey, Account> Chainstate::replay_account_state() const {
  std::map<PublicKey, Account> state;
  MapView view(state);
  for (std::size_t h = 1; h < active_.size(); ++h) {
    auto block = read_block(active_[h]->hash);
    if (!block) throw StorageError("a stored block body is missing");
    std::optional<MaturingReward> matured;
    if (h > params_.coinbase_maturity) {
      const BlockIndex* m = active_[h - params_.coinbase_maturity];
      matured = MaturingReward{m->coinbase_recipient, m->coinbase_amount};
    }
    StateDelta delta;
    if (!connect_block_transactions(*block, h, params_, view, matured, delta)) {
      throw StorageError(fmt::format("stored active block at height {} no longer validates", h));
    }
    for (const auto& [k, a] : delta.after) {
      if (a == Account{}) {
        state.erase(k);
      } else {
        state[k] = a;
      }
    }
  }
  return state;
}

void Chainstate::rebuild_account_state() {
  flush();
  const auto state = replay_account_state();
  DbTransaction txn(*db_);
  account_cache_.clear();
  db_->exec("DELETE FROM accounts");
  for (const auto& [k, a] : state) {
    stmt_->put_account.bind(1, ByteSpan{k}).bind(2, to_db(a.balance)).bind(3, to_db(a.nonce)).run();
  }
  txn.commit();
}

std::string Chainstate::check_integrity() const {
  auto q = db_->prepare("PRAGMA integrity_check");
  std::string problems;
  while (q.step()) {
    const auto line = q.column_text(0);
    if (line != "ok") problems += line + "\n";
  }
  if (!problems.empty()) return problems;
  auto count = db_->prepare("SELECT COUNT(*), MAX(height) FROM active_chain");
  if (!count.step() || from_db(count.column_int(0)) != active_.size() || from_db(count.column_int(1)) != height()) {
    return "active_chain table does not match the tip";
  }
  auto undo = db_->prepare("SELECT COUNT(*) FROM undo");
  if (!undo.step() || from_db(undo.column_int(0)) != active_.size() - 1) {
    return "undo data does not match the active chain";
  }
  return {};
}

std::uint64_t Chainstate::size_on_disk() const {
  std::error_code ec;
  std::uint64_t total = 0;
  for (const char* suffix : {"", "-wal"}) {
    auto n = std::filesystem::file_size(db_->path().string() + suffix, ec);
    if (!ec) total += n;
  }
  return total;
}

}  // namespace cheese
