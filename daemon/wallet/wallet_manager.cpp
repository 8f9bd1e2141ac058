// The wallet manager: which wallets are loaded (createwallet, restorewallet, loadwallet,
// unloadwallet, the -wallet options and settings.json at startup) and how an RPC request finds
// its wallet. Following the chain is in wallet_scan.cpp, balances in wallet_balance.cpp, sending
// in wallet_send.cpp, passphrases in wallet_lock.cpp.

#include "daemon/wallet/wallet_manager.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "daemon/rpc/util.hpp"
#include "daemon/rpc/wallet_errors.hpp"
#include "daemon/validation/block_processor.hpp"
#include "daemon/wallet/wallet_settings.hpp"
#include "io/run_on_pool.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace cheese {

namespace fs = std::filesystem;

namespace {

std::optional<std::string_view> view_of(const std::optional<SecretString>& s) {
  if (!s) return std::nullopt;
  return s->view();
}

}  // namespace

void throw_wallet_error(const WalletError& e) { throw RpcError(rpc_error_code(e.code), e.message); }

WalletManager::WalletManager(asio::io_context& io, Options options, Chainstate& chain, Mempool& mempool,
                             BlockProcessor& blocks)
    : io_(io),
      node_options_(std::move(options)),
      chain_(chain),
      mempool_(mempool),
      blocks_(blocks),
      tasks_(io.get_executor(),
             [](std::string_view name, std::string_view what) { log_info("{} failed: {}", name, what); }),
      flush_timer_(io) {
  options_.network = chain.params().network;
  options_.kdf = KdfLimits::for_network(chain.params().network);
}

WalletManager::~WalletManager() {
  kdf_thread_.join();
  stop();
  alive_.reset();
}

fs::path WalletManager::dir() const { return node_options_.datadir / "wallets"; }

void WalletManager::start() {
  if (started_) return;
  started_ = true;
  blocks_.on_chain_change([this](const ProcessBlockResult&, std::uint64_t) { chain_changed(); });
  blocks_.on_transaction(
      [this](const Transaction& tx, const Hash256& id, std::uint64_t) { transaction_added(tx, id); });
  for (const auto& name : node_options_.wallets) {
    if (wallets_.contains(name)) continue;
    try {
      load(name, false);
    } catch (const RpcError& e) {
      throw std::runtime_error(fmt::format("-wallet={}: {}", name, e.what()));
    }
  }
  for (const auto& name : read_startup_wallets(node_options_.datadir)) {
    if (wallets_.contains(name)) continue;
    try {
      load(name, false);
    } catch (const RpcError& e) {
      log_info("Wallet {} (in {}) was not loaded: {}", name, kSettingsFile, e.what());
    }
  }
}

void WalletManager::stop() {
  flush_timer_.cancel();
  flush_armed_ = false;
  for (auto& [name, e] : wallets_) {
    flush_queued(*e);
    e->relock.cancel();
    e->unloaded = true;
  }
  wallets_.clear();
  // A scan or resubmission ends at its next co_await with operation_aborted, which the group does
  // not log after close(); one waiting for the mempool first gets its answer (not logged either).
  tasks_.close();
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

std::shared_ptr<LoadedWallet> WalletManager::attach(Wallet w, bool load_on_startup) {
  const std::string name = w.name();
  if (w.network() != chain_.params().network) {
    throw RpcError(kRpcWalletError, fmt::format("wallet {} belongs to the {} network, not {}", name,
                                                chain_params(w.network()).name, chain_.params().name));
  }
  auto e = std::make_shared<LoadedWallet>(std::move(w), io_);
  wallets_.emplace(name, e);
  if (load_on_startup) save_startup_wallet(node_options_.datadir, name, true);
  sync(e);
  spawn_resubmit(e);
  log_info("Wallet {} loaded ({} addresses, {})", name, e->wallet.addresses().size(),
           e->wallet.is_encrypted() ? "encrypted" : "not encrypted");
  return e;
}

std::shared_ptr<LoadedWallet> WalletManager::load(const std::string& name, bool load_on_startup) {
  const auto file = new_wallet_path(name, std::optional<SecretString>());
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

std::filesystem::path WalletManager::new_wallet_path(const std::string& name,
                                                     const std::optional<SecretString>& passphrase) const {
  const auto file = wallet_file_path(dir(), name);
  if (!file) throw_wallet_error(file.error());
  if (wallets_.contains(name))
    throw RpcError(kRpcWalletAlreadyLoaded, fmt::format("Wallet \"{}\" is already loaded", name));
  if (wallets_.size() >= kMaxLoadedWallets) {
    throw RpcError(kRpcWalletError, fmt::format("at most {} wallets can be loaded at once", kMaxLoadedWallets));
  }
  if (passphrase && passphrase->empty()) throw RpcError(kRpcInvalidParameter, "the passphrase must not be empty");
  return *file;
}

asio::awaitable<WalletManager::Created> WalletManager::create(std::string name,
                                                              std::optional<SecretString> passphrase,
                                                              bool load_on_startup) {
  // Argon2id (for an encrypted wallet) runs on the wallet thread, not the io thread.
  auto path = new_wallet_path(name, passphrase);
  auto work = [path = std::move(path), name, passphrase = std::move(passphrase), options = options_]() {
    return Wallet::create(path, name, view_of(passphrase), options);
  };
  auto creating = io::run_on_pool<WalletResult<CreatedWallet>>(kdf_thread_, std::move(work));
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

asio::awaitable<std::shared_ptr<LoadedWallet>> WalletManager::restore(std::string name, SecretString phrase,
                                                                      std::optional<SecretString> passphrase,
                                                                      bool load_on_startup) {
  auto path = new_wallet_path(name, passphrase);
  auto work = [path = std::move(path), name, phrase = std::move(phrase), passphrase = std::move(passphrase),
               options = options_]() {
    return Wallet::restore(path, name, phrase.view(), view_of(passphrase), options);
  };
  auto restoring = io::run_on_pool<WalletResult<Wallet>>(kdf_thread_, std::move(work));
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
  flush_queued(*e);
  e->unloaded = true;
  wallets_.erase(it);
  if (remove_from_startup) save_startup_wallet(node_options_.datadir, name, false);
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
  std::shared_ptr<LoadedWallet> e;
  if (!r.wallet.empty()) {
    const auto it = wallets_.find(r.wallet);
    if (it != wallets_.end()) e = it->second;
  } else if (wallets_.size() == 1) {
    e = wallets_.begin()->second;
  }
  if (e) flush_queued(*e);  // what the mempool brought in the last kWalletFlushDelay
  return e;
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
  flush_queued(*e);  // what the mempool brought in the last kWalletFlushDelay
  co_return e;
}

}  // namespace cheese
