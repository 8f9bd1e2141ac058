// Passphrases: walletpassphrase and its timeout (the relock timer), walletlock, encryptwallet,
// walletpassphrasechange. Argon2id runs on the wallet thread while the wallet is marked busy.
// A passphrase stays in guarded memory (SecretString) and is wiped when the job that uses it
// ends; a lock (walletlock or the timer) wipes and frees every decrypted secret.

#include <algorithm>
#include <chrono>

#include "daemon/wallet/wallet_manager.hpp"
#include "io/run_on_pool.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace cheese {

template <typename Fn>
asio::awaitable<WalletStatus> WalletManager::off_thread(std::shared_ptr<LoadedWallet> e, Fn fn) {
  co_await wait_idle(e);
  e->busy = true;
  auto running = io::run_on_pool<WalletStatus>(kdf_thread_, std::move(fn));
  WalletStatus st = co_await std::move(running);
  e->busy = false;
  if (e->needs_sync && !e->unloaded) sync(e);
  co_return st;
}

asio::awaitable<void> WalletManager::unlock(std::shared_ptr<LoadedWallet> e, SecretString passphrase,
                                            std::int64_t seconds) {
  if (!e->wallet.is_encrypted()) {
    throw RpcError(kRpcWalletWrongEncState,
                   "Error: running with an unencrypted wallet, but walletpassphrase was called.");
  }
  if (seconds < 0) throw RpcError(kRpcInvalidParameter, "Timeout cannot be negative.");
  if (passphrase.empty()) throw RpcError(kRpcInvalidParameter, "passphrase cannot be empty");
  seconds = std::min(seconds, kMaxUnlockSeconds);
  Wallet* w = &e->wallet;
  auto fn = [w, passphrase = std::move(passphrase)]() { return w->unlock(passphrase.view()); };
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

asio::awaitable<void> WalletManager::encrypt(std::shared_ptr<LoadedWallet> e, SecretString passphrase) {
  if (e->wallet.is_encrypted()) {
    throw RpcError(kRpcWalletWrongEncState, "Error: running with an encrypted wallet, but encryptwallet was called.");
  }
  if (passphrase.empty()) throw RpcError(kRpcInvalidParameter, "passphrase cannot be empty");
  Wallet* w = &e->wallet;
  const KdfLimits kdf = options_.kdf;
  auto fn = [w, kdf, passphrase = std::move(passphrase)]() { return w->encrypt(passphrase.view(), kdf); };
  const WalletStatus st = co_await off_thread(e, std::move(fn));
  if (!st) throw_wallet_error(st.error());
  e->unlocked_until = 0;
  log_info("wallet {}: encrypted", e->wallet.name());
}

asio::awaitable<void> WalletManager::change_passphrase(std::shared_ptr<LoadedWallet> e, SecretString old_passphrase,
                                                       SecretString new_passphrase) {
  if (!e->wallet.is_encrypted()) {
    throw RpcError(kRpcWalletWrongEncState,
                   "Error: running with an unencrypted wallet, but walletpassphrasechange was called.");
  }
  if (old_passphrase.empty() || new_passphrase.empty()) {
    throw RpcError(kRpcInvalidParameter, "passphrase cannot be empty");
  }
  Wallet* w = &e->wallet;
  auto fn = [w, o = std::move(old_passphrase), n = std::move(new_passphrase)]() {
    return w->change_passphrase(o.view(), n.view());
  };
  const WalletStatus st = co_await off_thread(e, std::move(fn));
  if (!st) throw_wallet_error(st.error());
}

}  // namespace cheese
