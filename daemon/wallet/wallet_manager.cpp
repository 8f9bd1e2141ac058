#include "daemon/wallet/wallet_manager.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "util/log.hpp"
#include "daemon/validation/block_processor.hpp"
#include "util/time.hpp"
#include "daemon/node/options.hpp"  // NodeOptions as a plain struct (no link dependency)
#include "daemon/rpc/util.hpp"
#include "daemon/rpc/wallet_errors.hpp"

namespace cheese {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSettingsFile = "settings.json";

//! What one transaction means to a wallet: zero, one or two records (a payment to ourselves is
//! a send and a receive).
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

//! Hands out every keypool key a record uses (a restored wallet finds its addresses this way).
void mark_used(Wallet& w, const std::vector<WalletTx>& records) {
  for (const auto& r : records) {
    if (r.own) {
      if (auto st = w.mark_used(*r.own); !st) {
        log_info("wallet {}: cannot mark address used: {}", w.name(), st.error().message);
      }
    }
  }
}

void write_file_atomically(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot write {}", tmp.string()));
  const auto written = ::write(fd, content.data(), content.size());
  const bool ok = written == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error(fmt::format("cannot write {}", tmp.string()));
  fs::rename(tmp, path);
}

}  // namespace

void throw_wallet_error(const WalletError& e) { throw RpcError(rpc_error_code(e.code), e.message); }

WalletManager::WalletManager(asio::io_context& io, const NodeOptions& node_options, Chainstate& chain, Mempool& mempool,
                             BlockProcessor& blocks)
    : io_(io), node_options_(node_options), chain_(chain), mempool_(mempool), blocks_(blocks) {
  options_.network = chain.params().network;
  options_.kdf = KdfLimits::for_network(chain.params().network);
}

WalletManager::~WalletManager() {
  kdf_thread_.join();
  stop();
}

fs::path WalletManager::dir() const { return node_options_.datadir / "wallets"; }

void WalletManager::start() {
  if (started_) return;
  started_ = true;
  blocks_.on_chain_change([this](const ProcessBlockResult&, std::uint64_t) { chain_changed(); });
  blocks_.on_transaction([this](const Transaction& tx, const Hash256& id, std::uint64_t) { transaction_added(tx, id); });
  for (const auto& name : node_options_.wallets) {
    if (wallets_.contains(name)) continue;
    try {
      load(name, false);
    } catch (const RpcError& e) {
      throw std::runtime_error(fmt::format("-wallet={}: {}", name, e.what()));
    }
  }
  for (const auto& name : read_startup()) {
    if (wallets_.contains(name)) continue;
    try {
      load(name, false);
    } catch (const RpcError& e) {
      log_info("Wallet {} (in {}) was not loaded: {}", name, kSettingsFile, e.what());
    }
  }
}

void WalletManager::stop() {
  for (auto& [name, e] : wallets_) {
    e->relock.cancel();
    e->unloaded = true;
  }
  wallets_.clear();
}

std::vector<std::string> WalletManager::loaded() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : wallets_) out.push_back(name);
  return out;
}

std::vector<std::string> WalletManager::on_disk() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir(), ec)) {
    const auto& p = entry.path();
    if (p.extension() != ".wallet" || !entry.is_regular_file(ec)) continue;
    const std::string name = p.stem().string();
    if (auto file = wallet_file_path(dir(), name); file && *file == p) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> WalletManager::read_startup() const {
  std::vector<std::string> out;
  std::ifstream in(node_options_.datadir / kSettingsFile);
  if (!in) return out;
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  const json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_object()) {
    log_info("{} is not a JSON object; ignoring it", kSettingsFile);
    return out;
  }
  if (const auto* list = v.as_object().if_contains("wallet"); list && list->is_array()) {
    for (const auto& n : list->as_array()) {
      if (n.is_string()) out.emplace_back(n.as_string());
    }
  }
  return out;
}

void WalletManager::save_startup(const std::string& name, bool add) {
  std::vector<std::string> names = read_startup();
  const auto it = std::find(names.begin(), names.end(), name);
  if (add == (it != names.end())) return;
  if (add) {
    names.push_back(name);
  } else {
    names.erase(it);
  }
  json::object o;
  // Keep whatever else a newer version may have written.
  {
    std::ifstream in(node_options_.datadir / kSettingsFile);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      boost::system::error_code ec;
      json::value v = json::parse(ss.str(), ec);
      if (!ec && v.is_object()) o = std::move(v.as_object());
    }
  }
  json::array list;
  for (const auto& n : names) list.emplace_back(n);
  o["wallet"] = std::move(list);
  try {
    write_file_atomically(node_options_.datadir / kSettingsFile, json::serialize(o) + "\n");
  } catch (const std::exception& e) {
    log_info("Cannot update {}: {}", kSettingsFile, e.what());
  }
}

std::shared_ptr<LoadedWallet> WalletManager::attach(Wallet w, bool load_on_startup) {
  const std::string name = w.name();
  if (w.network() != chain_.params().network) {
    throw RpcError(kRpcWalletError, fmt::format("wallet {} belongs to the {} network, not {}", name,
                                                chain_params(w.network()).name, chain_.params().name));
  }
  auto e = std::make_shared<LoadedWallet>(std::move(w), io_);
  wallets_.emplace(name, e);
  if (load_on_startup) save_startup(name, true);
  sync(e);
  asio::co_spawn(io_, resubmit(e), asio::detached);
  log_info("Wallet {} loaded ({} addresses, {})", name, e->wallet.addresses().size(),
           e->wallet.is_encrypted() ? "encrypted" : "not encrypted");
  return e;
}

std::shared_ptr<LoadedWallet> WalletManager::load(const std::string& name, bool load_on_startup) {
  const auto file = new_wallet_path(name, std::nullopt);
  auto opened = Wallet::open(file);
  if (!opened) {
    if (opened.error().code == WalletErrc::kNotFound) {
      throw RpcError(kRpcWalletNotFound,
                     fmt::format("Wallet \"{}\" not found in {} (createwallet or restorewallet makes one)", name,
                                 dir().string()));
    }
    throw_wallet_error(opened.error());
  }
  return attach(std::move(*opened), load_on_startup);
}

template <typename T, typename Fn>
asio::awaitable<T> WalletManager::on_wallet_thread(Fn fn) {
  auto executor = co_await asio::this_coro::executor;
  // GCC 12 destroys temporaries captured in a co_await expression twice: name the initiation.
  auto initiation = [this, executor, fn = std::move(fn)](auto handler) mutable {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    asio::post(kdf_thread_, [executor, fn = std::move(fn), shared]() mutable {
      auto result = std::make_shared<T>(fn());
      asio::post(executor, [shared, result]() mutable { (*shared)(std::move(*result)); });
    });
  };
  auto pending = asio::async_initiate<decltype(asio::use_awaitable), void(T)>(initiation, asio::use_awaitable);
  T result = co_await std::move(pending);
  co_return result;
}

std::filesystem::path WalletManager::new_wallet_path(const std::string& name, const std::optional<std::string>& passphrase) const {
  const auto file = wallet_file_path(dir(), name);
  if (!file) throw_wallet_error(file.error());
  if (wallets_.contains(name)) throw RpcError(kRpcWalletAlreadyLoaded, fmt::format("Wallet \"{}\" is already loaded", name));
  if (wallets_.size() >= kMaxLoadedWallets) {
    throw RpcError(kRpcWalletError, fmt::format("at most {} wallets can be loaded at once", kMaxLoadedWallets));
  }
  if (passphrase && passphrase->empty()) throw RpcError(kRpcInvalidParameter, "the passphrase must not be empty");
  return *file;
}

asio::awaitable<WalletManager::Created> WalletManager::create(std::string name,
                                                              std::optional<std::string> passphrase,
                                                              bool load_on_startup) {
  // Argon2id (for an encrypted wallet) runs on the wallet thread, not the io thread.
  auto work = [path = new_wallet_path(name, passphrase), name, passphrase, options = options_]() {
    return Wallet::create(path, name, passphrase, options);
  };
  auto creating = on_wallet_thread<WalletResult<CreatedWallet>>(std::move(work));
  WalletResult<CreatedWallet> created = co_await std::move(creating);
  if (!created) throw_wallet_error(created.error());
  // Keys from a phrase drawn just now have no history: the wallet starts at the tip, no scan.
  const BlockIndex* tip = chain_.tip();
  if (auto st = created->wallet.record_transactions({}, WalletBlockRef{tip->hash, tip->height}); !st) {
    throw_wallet_error(st.error());
  }
  Created out;
  out.mnemonic = std::move(created->mnemonic);
  out.entry = attach(std::move(created->wallet), load_on_startup);
  co_return out;
}

asio::awaitable<std::shared_ptr<LoadedWallet>> WalletManager::restore(std::string name,
                                                                      std::string phrase,
                                                                      std::optional<std::string> passphrase,
                                                                      bool load_on_startup) {
  auto work = [path = new_wallet_path(name, passphrase), name, phrase, passphrase, options = options_]() {
    return Wallet::restore(path, name, phrase, passphrase, options);
  };
  auto restoring = on_wallet_thread<WalletResult<Wallet>>(std::move(work));
  WalletResult<Wallet> restored = co_await std::move(restoring);
  if (!restored) throw_wallet_error(restored.error());
  co_return attach(std::move(*restored), load_on_startup);
}

asio::awaitable<void> WalletManager::unload(const std::string& name, bool remove_from_startup) {
  auto it = wallets_.find(name);
  if (it == wallets_.end()) throw RpcError(kRpcWalletNotFound, fmt::format("Wallet \"{}\" is not loaded", name));
  auto e = it->second;
  co_await wait_idle(e);
  it = wallets_.find(name);
  if (it == wallets_.end() || it->second != e) co_return;
  e->relock.cancel();
  e->unloaded = true;
  wallets_.erase(it);
  if (remove_from_startup) save_startup(name, false);
  log_info("Wallet {} unloaded", name);
}

asio::awaitable<void> WalletManager::wait_idle(std::shared_ptr<LoadedWallet> e) {
  const auto deadline = std::chrono::steady_clock::now() + kWalletBusyWait;
  asio::steady_timer timer(io_);
  while (e->busy) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw RpcError(kRpcWalletError, "the wallet is busy checking a passphrase; try again");
    }
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::use_awaitable);
  }
  if (e->unloaded) throw RpcError(kRpcWalletNotFound, fmt::format("Wallet \"{}\" was unloaded", e->wallet.name()));
}

std::shared_ptr<LoadedWallet> WalletManager::default_wallet(const RpcRequest& r) const {
  if (!r.wallet.empty()) {
    const auto it = wallets_.find(r.wallet);
    return it == wallets_.end() ? nullptr : it->second;
  }
  if (wallets_.size() == 1) return wallets_.begin()->second;
  return nullptr;
}

asio::awaitable<std::shared_ptr<LoadedWallet>> WalletManager::for_request(const RpcRequest& r, bool while_scanning) {
  std::shared_ptr<LoadedWallet> e;
  if (!r.wallet.empty()) {
    const auto it = wallets_.find(r.wallet);
    if (it == wallets_.end()) {
      throw RpcError(kRpcWalletNotFound,
                     fmt::format("Requested wallet does not exist or is not loaded: \"{}\"", r.wallet));
    }
    e = it->second;
  } else if (wallets_.empty()) {
    throw RpcError(kRpcWalletNotFound,
                   "No wallet is loaded. Load a wallet using loadwallet or create a new one with createwallet.");
  } else if (wallets_.size() > 1) {
    throw RpcError(kRpcWalletNotSpecified,
                   "Wallet file not specified (must request wallet RPC through /wallet/<filename> uri-path, "
                   "or cheese-cli -rpcwallet=<name>).");
  } else {
    e = wallets_.begin()->second;
  }
  co_await wait_idle(e);
  if (e->scanning && !while_scanning) {
    const std::uint64_t tip = chain_.height();
    auto synced = e->wallet.synced_to();
    const std::uint64_t at = synced && *synced ? (*synced)->height : 0;
    throw RpcError(kRpcWalletError,
                   fmt::format("Wallet \"{}\" is currently scanning the chain (block {} of {}); wait, "
                               "getwalletinfo shows the progress",
                               e->wallet.name(), at, tip));
  }
  co_return e;
}

// ---- following the chain ------------------------------------------------------------------------

void WalletManager::sync(const std::shared_ptr<LoadedWallet>& e) {
  if (e->busy || e->scanning) {
    e->needs_sync = true;  // after the passphrase operation; a running scan goes to the tip anyway
    return;
  }
  e->needs_sync = false;
  if (scan_slice(*e, std::chrono::steady_clock::now() + scan_slice_)) return;
  e->scanning = true;
  log_info("wallet {}: scanning the chain from height {} in the background", e->wallet.name(), e->scan_from);
  asio::co_spawn(io_, continue_scan(e), asio::detached);
}

asio::awaitable<void> WalletManager::continue_scan(std::shared_ptr<LoadedWallet> e) {
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
  e->scanning = false;
  if (!e->unloaded && !e->busy) {
    log_info("wallet {}: chain scan finished in {:.1f} s", e->wallet.name(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - e->scan_started).count());
  }
}

bool WalletManager::scan_slice(LoadedWallet& e, std::chrono::steady_clock::time_point deadline) {
  Wallet& w = e.wallet;
  const Chainstate& chain = chain_;
  auto synced = w.synced_to();
  if (!synced) {
    log_info("wallet {}: {}", w.name(), synced.error().message);
    return true;
  }
  std::uint64_t from = 0;  // first height to scan
  // Blocks scanned after the stored sync point held none of the wallet's transactions (a block
  // with some writes the sync point with them): go on from the last one scanned while it is
  // still on the active chain, else from the stored sync point, which handles reorgs.
  const BlockIndex* scanned = e.scanned ? chain.lookup(e.scanned->hash) : nullptr;
  if (scanned && chain.is_active(scanned) && (!*synced || scanned->height > (*synced)->height)) {
    from = scanned->height + 1;
  } else if (*synced) {
    const BlockIndex* idx = chain.lookup((*synced)->hash);
    if (idx && chain.is_active(idx)) {
      from = idx->height + 1;
    } else {
      // A reorg (or a chain that no longer has the block): records above the fork are
      // unconfirmed again until the blocks of the active chain are scanned.
      std::uint64_t fork = 0;
      const BlockIndex* f = idx;
      while (f && !chain.is_active(f)) f = f->prev;
      if (f) fork = f->height;
      const BlockIndex* at = chain.at_height(fork);
      if (auto st = w.unconfirm_above(fork, WalletBlockRef{at->hash, fork}); !st) {
        log_info("wallet {}: {}", w.name(), st.error().message);
        return true;
      }
      from = fork + 1;
      if (!f) from = 0;
    }
  }
  if (!e.scanning) {
    e.scan_from = from;
    e.scan_started = std::chrono::steady_clock::now();
  }
  std::size_t found = 0;
  for (std::uint64_t h = from; h <= chain.height(); ++h) {
    const BlockIndex* idx = chain.at_height(h);
    auto block = chain.read_block(idx->hash);
    if (!block) {
      log_info("wallet {}: block {} at height {} is not stored; stopping the scan", w.name(),
               idx->hash.to_display_hex(), h);
      break;
    }
    std::vector<WalletTx> records;
    for (const auto& tx : block->txs) {
      auto r = records_of(w, tx, txid(tx), h, idx->header.time);
      if (!r.empty()) {
        mark_used(w, r);
        records.insert(records.end(), std::make_move_iterator(r.begin()), std::make_move_iterator(r.end()));
      }
    }
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
    if (auto st = w.record_transactions(records, WalletBlockRef{idx->hash, h}); !st) {
      log_info("wallet {}: {}", w.name(), st.error().message);
      return true;
    }
    if (slice_over) return false;
  }
  if (from == 0 && chain.height() > 0) {
    log_info("wallet {}: scanned {} blocks, {} records", w.name(), chain.height() + 1, found);
  }
  for (const auto* entry : mempool_.entries()) record_unconfirmed(e, entry->tx, entry->txid, entry->time);
  drop_conflicted(e);
  return true;
}

asio::awaitable<std::uint64_t> WalletManager::rescan(std::shared_ptr<LoadedWallet> e, std::uint64_t from_height) {
  const Chainstate& chain = chain_;
  if (from_height > chain.height()) {
    throw RpcError(kRpcInvalidParameter, fmt::format("start_height {} is above the tip ({})", from_height, chain.height()));
  }
  std::optional<WalletBlockRef> before;
  if (from_height > 0) before = WalletBlockRef{chain.at_height(from_height - 1)->hash, from_height - 1};
  if (auto st = e->wallet.unconfirm_above(from_height == 0 ? 0 : from_height - 1, before); !st) {
    throw_wallet_error(st.error());
  }
  e->scanned.reset();  // from the moved-back sync point
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

bool WalletManager::record_unconfirmed(LoadedWallet& e, const Transaction& tx, const Hash256& id, std::int64_t time) {
  auto records = records_of(e.wallet, tx, id, std::nullopt, time);
  if (records.empty()) return false;
  // A record already confirmed stays confirmed; one already pooled keeps its first-seen time.
  if (auto known = e.wallet.find_transaction(id); known && !known->empty()) {
    for (auto& r : records) {
      for (const auto& k : *known) {
        if (k.direction == r.direction) {
          r.height = k.height;
          r.time = k.time;
        }
      }
    }
  }
  mark_used(e.wallet, records);
  if (auto st = e.wallet.record_transactions(records, std::nullopt); !st) {
    log_info("wallet {}: {}", e.wallet.name(), st.error().message);
  }
  return true;
}

void WalletManager::drop_conflicted(LoadedWallet& e) {
  auto pending = e.wallet.unconfirmed_transactions();
  if (!pending) return;
  for (const auto& r : *pending) {
    if (mempool_.contains(r.txid) || r.raw.empty()) continue;
    auto tx = decode_transaction(r.raw);
    if (!tx || tx->is_coinbase()) continue;
    if (chain_.account(tx->sender).nonce > tx->nonce) {
      log_info("wallet {}: transaction {} can no longer confirm (nonce {} of its sender is used); forgetting it",
               e.wallet.name(), r.txid.to_display_hex(), tx->nonce);
      (void)e.wallet.remove_transaction(r.txid);
    }
  }
}

asio::awaitable<void> WalletManager::resubmit(std::shared_ptr<LoadedWallet> e) {
  auto pending = e->wallet.unconfirmed_transactions();
  if (!pending) co_return;
  for (const auto& r : *pending) {
    if (r.direction != TxDirection::kSend || r.raw.empty() || mempool_.contains(r.txid)) continue;
    auto tx = decode_transaction(r.raw);
    if (!tx) continue;
    const MempoolAccept a = co_await blocks_.submit_transaction(std::move(*tx));
    if (e->unloaded) co_return;
    log_info("wallet {}: resubmitted {}: {}", e->wallet.name(), r.txid.to_display_hex(),
             a.ok() ? "accepted" : "refused");
  }
  if (!e->busy && !e->unloaded) drop_conflicted(*e);
}

void WalletManager::chain_changed() {
  for (auto& [name, e] : wallets_) {
    sync(e);
    if (!e->busy) asio::co_spawn(io_, resubmit(e), asio::detached);
  }
}

void WalletManager::transaction_added(const Transaction& tx, const Hash256& id) {
  for (auto& [name, e] : wallets_) {
    if (e->busy) {
      e->needs_sync = true;
      continue;
    }
    record_unconfirmed(*e, tx, id, unix_now());
  }
}

// ---- balances -----------------------------------------------------------------------------------

WalletBalances WalletManager::balances(const LoadedWallet& e) const {
  WalletBalances b;
  const Chainstate& chain = chain_;
  const Mempool& pool = mempool_;
  for (const auto& a : e.wallet.addresses()) {
    b.confirmed += chain.account(a.pubkey).balance;
    b.pending_out += pool.pending_for(a.pubkey, chain).second;
  }
  for (const auto* entry : pool.entries()) {
    if (e.wallet.is_mine(entry->tx.recipient)) b.pending_in += entry->tx.amount;
  }
  const std::uint64_t maturity = chain_.params().coinbase_maturity;
  const std::uint64_t tip = chain.height();
  for (std::uint64_t h = tip >= maturity ? tip - maturity + 1 : 1; h <= tip && h > 0; ++h) {
    const BlockIndex* idx = chain.at_height(h);
    if (idx && e.wallet.is_mine(idx->coinbase_recipient)) b.immature += idx->coinbase_amount;
  }
  return b;
}

std::vector<WalletManager::AddressState> WalletManager::address_states(const LoadedWallet& e) const {
  std::vector<AddressState> out;
  const Chainstate& chain = chain_;
  for (const auto& a : e.wallet.addresses()) {
    AddressState s;
    s.address = a;
    s.balance = chain.account(a.pubkey).balance;
    const auto [nonce, pending] = mempool_.pending_for(a.pubkey, chain);
    s.next_nonce = nonce;
    s.pending_out = pending;
    out.push_back(std::move(s));
  }
  return out;
}

PublicKey WalletManager::mining_address(LoadedWallet& e) {
  const auto addresses = e.wallet.addresses();
  if (!addresses.empty()) return addresses.front().pubkey;
  return wallet_value(e.wallet.new_address("mining")).pubkey;
}

Amount WalletManager::default_fee() const { return std::max(kDefaultWalletFee, mempool_.min_fee()); }

// ---- sending ------------------------------------------------------------------------------------

asio::awaitable<WalletSendResult> WalletManager::send(std::shared_ptr<LoadedWallet> e, const PublicKey& to,
                                                      Amount amount, std::optional<Amount> fee_param, bool split) {
  co_await wait_idle(e);
  if (amount == 0 || !money_range(amount)) throw RpcError(kRpcTypeError, "Invalid amount: it must be above 0");
  const Amount fee = fee_param ? *fee_param : default_fee();
  if (fee > kMaxWalletFee) {
    throw RpcError(kRpcInvalidParameter,
                   fmt::format("fee {} CHZ is above the wallet's limit of {} CHZ per transaction", format_amount(fee),
                               format_amount(kMaxWalletFee)));
  }
  if (fee < mempool_.min_fee()) {
    throw RpcError(kRpcInvalidParameter, fmt::format("fee {} CHZ is below what the mempool accepts now ({} CHZ)",
                                                     format_amount(fee), format_amount(mempool_.min_fee())));
  }
  if (e->wallet.is_locked()) {
    throw RpcError(kRpcUnlockNeeded, "Error: Please enter the wallet passphrase with walletpassphrase first.");
  }
  // What each address can spend now: confirmed balance minus its pending spends.
  struct Source {
    PublicKey key;
    Amount available;
    std::uint64_t nonce;
  };
  std::vector<Source> sources;
  Amount total = 0;
  for (const auto& s : address_states(*e)) {
    if (s.balance <= s.pending_out) continue;
    const Amount avail = s.balance - s.pending_out;
    sources.push_back({s.address.pubkey, avail, s.next_nonce});
    total += avail;
  }
  std::sort(sources.begin(), sources.end(), [](const Source& a, const Source& b) {
    return a.available != b.available ? a.available > b.available : a.key < b.key;
  });
  std::vector<std::pair<Source, Amount>> plan;  // source, amount it pays
  if (!sources.empty() && sources.front().available >= amount + fee) {
    // The smallest balance that covers it alone, so large balances stay whole.
    auto it = std::find_if(sources.rbegin(), sources.rend(), [&](const Source& s) { return s.available >= amount + fee; });
    plan.emplace_back(*it, amount);
  } else if (split) {
    Amount left = amount;
    for (const auto& s : sources) {
      if (left == 0) break;
      if (s.available <= fee) continue;
      const Amount part = std::min(left, s.available - fee);
      plan.emplace_back(s, part);
      left -= part;
    }
    if (left > 0) plan.clear();
  }
  if (plan.empty()) {
    const Amount largest = sources.empty() ? 0 : sources.front().available;
    if (!split && total >= amount + fee) {
      throw RpcError(kRpcInsufficientFunds,
                     fmt::format("Insufficient funds in one address: the largest holds {} CHZ spendable, the payment "
                                 "needs {} CHZ (amount + fee); `send` can split it over several addresses",
                                 format_amount(largest), format_amount(amount + fee)));
    }
    throw RpcError(kRpcInsufficientFunds,
                   fmt::format("Insufficient funds: {} CHZ spendable (confirmed, minus pending spends), {} CHZ needed "
                               "(amount + fee)",
                               format_amount(total), format_amount(amount + fee)));
  }
  // Sign everything first: a key problem then sends nothing.
  std::vector<Transaction> txs;
  for (const auto& [source, part] : plan) {
    Transaction tx;
    tx.kind = TxKind::kTransfer;
    tx.sender = source.key;
    tx.recipient = to;
    tx.amount = part;
    tx.fee = fee;
    tx.nonce = source.nonce;
    auto key = e->wallet.key_for(source.key);
    if (!key) throw_wallet_error(key.error());
    sign_transaction(tx, *key, chain_.params().magic);
    txs.push_back(std::move(tx));
  }
  WalletSendResult out;
  for (auto& tx : txs) {
    const Hash256 id = txid(tx);
    const PublicKey sender = tx.sender;
    const MempoolAccept a = co_await blocks_.submit_transaction(std::move(tx));
    if (!a.ok()) {
      std::string why = std::string(to_string(a.reason));
      if (a.reason == MempoolReject::kConsensus) why = std::string(to_string(a.consensus));
      std::string sent_ids;
      for (const auto& done : out.txids) sent_ids += (sent_ids.empty() ? "" : ", ") + done.to_display_hex();
      throw RpcError(kRpcVerifyRejected,
                     out.txids.empty()
                         ? fmt::format("the mempool refused the transaction: {}", why)
                         : fmt::format("the mempool refused transaction {} of {} ({}); these were sent: {}",
                                       out.txids.size() + 1, txs.size(), why, sent_ids));
    }
    out.txids.push_back(id);
    out.fee += fee;
    out.senders.push_back(sender);
  }
  log_info("wallet {}: sent {} CHZ to {} in {} transaction(s)", e->wallet.name(), format_amount(amount),
           address_of(to, chain_.params()), out.txids.size());
  co_return out;
}

// ---- encryption ---------------------------------------------------------------------------------

template <typename Fn>
asio::awaitable<WalletStatus> WalletManager::off_thread(std::shared_ptr<LoadedWallet> e, Fn fn) {
  co_await wait_idle(e);
  e->busy = true;
  auto running = on_wallet_thread<WalletStatus>(std::move(fn));
  WalletStatus st = co_await std::move(running);
  e->busy = false;
  if (e->needs_sync && !e->unloaded) sync(e);
  co_return st;
}

asio::awaitable<void> WalletManager::unlock(std::shared_ptr<LoadedWallet> e, std::string passphrase,
                                            std::int64_t seconds) {
  if (!e->wallet.is_encrypted()) {
    throw RpcError(kRpcWalletWrongEncState,
                   "Error: running with an unencrypted wallet, but walletpassphrase was called.");
  }
  if (seconds < 0) throw RpcError(kRpcInvalidParameter, "Timeout cannot be negative.");
  if (passphrase.empty()) throw RpcError(kRpcInvalidParameter, "passphrase cannot be empty");
  seconds = std::min(seconds, kMaxUnlockSeconds);
  Wallet* w = &e->wallet;
  auto fn = [w, passphrase = std::move(passphrase)]() { return w->unlock(passphrase); };
  const WalletStatus st = co_await off_thread(e, std::move(fn));
  if (!st) throw_wallet_error(st.error());
  e->unlocked_until = unix_now() + seconds;
  e->relock.expires_after(std::chrono::seconds(seconds));
  arm_relock(e);
}

void WalletManager::arm_relock(const std::shared_ptr<LoadedWallet>& e) {
  std::weak_ptr<LoadedWallet> weak = e;
  e->relock.async_wait([this, weak](const boost::system::error_code& ec) {
    if (ec) return;
    auto entry = weak.lock();
    if (!entry || entry->unloaded) return;
    if (entry->busy) {
      // A passphrase operation holds the wallet: lock it as soon as that is over.
      entry->relock.expires_after(std::chrono::milliseconds(100));
      arm_relock(entry);
      return;
    }
    entry->wallet.lock();
    entry->unlocked_until = 0;
    log_info("wallet {}: locked again (walletpassphrase timeout)", entry->wallet.name());
  });
}

void WalletManager::lock(LoadedWallet& e) {
  if (!e.wallet.is_encrypted()) {
    throw RpcError(kRpcWalletWrongEncState, "Error: running with an unencrypted wallet, but walletlock was called.");
  }
  e.relock.cancel();
  e.wallet.lock();
  e.unlocked_until = 0;
}

asio::awaitable<void> WalletManager::encrypt(std::shared_ptr<LoadedWallet> e, std::string passphrase) {
  if (e->wallet.is_encrypted()) {
    throw RpcError(kRpcWalletWrongEncState,
                   "Error: running with an encrypted wallet, but encryptwallet was called.");
  }
  if (passphrase.empty()) throw RpcError(kRpcInvalidParameter, "passphrase cannot be empty");
  Wallet* w = &e->wallet;
  const KdfLimits kdf = options_.kdf;
  auto fn = [w, kdf, passphrase = std::move(passphrase)]() { return w->encrypt(passphrase, kdf); };
  const WalletStatus st = co_await off_thread(e, std::move(fn));
  if (!st) throw_wallet_error(st.error());
  e->unlocked_until = 0;
  log_info("wallet {}: encrypted", e->wallet.name());
}

asio::awaitable<void> WalletManager::change_passphrase(std::shared_ptr<LoadedWallet> e, std::string old_passphrase,
                                                       std::string new_passphrase) {
  if (!e->wallet.is_encrypted()) {
    throw RpcError(kRpcWalletWrongEncState,
                   "Error: running with an unencrypted wallet, but walletpassphrasechange was called.");
  }
  if (old_passphrase.empty() || new_passphrase.empty()) {
    throw RpcError(kRpcInvalidParameter, "passphrase cannot be empty");
  }
  Wallet* w = &e->wallet;
  auto fn = [w, o = std::move(old_passphrase), n = std::move(new_passphrase)]() { return w->change_passphrase(o, n); };
  const WalletStatus st = co_await off_thread(e, std::move(fn));
  if (!st) throw_wallet_error(st.error());
}

}  // namespace cheese
