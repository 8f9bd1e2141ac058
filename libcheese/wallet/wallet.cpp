// The Wallet class: its life (create, restore, open), its state, encryption and backup. The
// parts live beside it: wallet_file (the file on disk), wallet_crypto (passphrase and secrets),
// wallet_open (loading and writing a wallet file), wallet_keys (keys and addresses),
// wallet_records (transaction records) and payment (building a signed payment).

#include "wallet/wallet.hpp"

#include <sodium.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include <fmt/format.h>

#include "wallet/bip39.hpp"
#include "wallet/wallet_impl.hpp"

namespace cheese {

namespace fs = std::filesystem;
using wallet_detail::check_kdf;
using wallet_detail::check_passphrase;
using wallet_detail::CryptoRecord;
using wallet_detail::DbError;
using wallet_detail::errno_text;
using wallet_detail::fail;
using wallet_detail::fsync_path;
using wallet_detail::guarded;
using wallet_detail::make_crypto_record;
using wallet_detail::parent_dir;
using wallet_detail::put_crypto_record;
using wallet_detail::TempFile;
using wallet_detail::Txn;
using wallet_detail::unseal_seed;
using wallet_detail::unwrap_master_key;
using wallet_detail::wrap_master_key;
using wallet_detail::write_new_wallet;

namespace wallet_detail {

// ---- errors -----------------------------------------------------------------------------------

WalletError storage_error(const fs::path& path, const DbError& e) {
  if (e.is_busy()) {
    return {WalletErrc::kInUse,
            fmt::format("wallet file {} is in use by another process (or already loaded)", path.string())};
  }
  if (e.is_corrupt()) {
    return {WalletErrc::kCorrupt, fmt::format("wallet file {} is corrupt: {}", path.string(), e.what())};
  }
  return {WalletErrc::kStorage, fmt::format("wallet file {}: {}", path.string(), e.what())};
}

// ---- names ------------------------------------------------------------------------------------

namespace {

constexpr std::size_t kMaxNameLength = 64;

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

}  // namespace

void check_name(std::string_view name) {
  if (!valid_name(name)) {
    fail(WalletErrc::kInvalidName,
         fmt::format("invalid wallet name \"{}\": use 1 to {} letters, digits, '_', '-' or '.', not starting "
                     "with '.'",
                     name, kMaxNameLength));
  }
}

}  // namespace wallet_detail

// ---- public helpers ---------------------------------------------------------------------------

std::string_view to_string(WalletErrc e) {
  switch (e) {
    case WalletErrc::kNotFound: return "wallet not found";
    case WalletErrc::kAlreadyExists: return "wallet already exists";
    case WalletErrc::kInvalidName: return "invalid wallet name";
    case WalletErrc::kNotAWallet: return "not a wallet file";
    case WalletErrc::kCorrupt: return "wallet file corrupt";
    case WalletErrc::kNewerVersion: return "wallet file from a newer version";
    case WalletErrc::kInUse: return "wallet file in use";
    case WalletErrc::kLocked: return "wallet is locked";
    case WalletErrc::kWrongPassphrase: return "wrong passphrase";
    case WalletErrc::kEmptyPassphrase: return "empty passphrase";
    case WalletErrc::kNotEncrypted: return "wallet is not encrypted";
    case WalletErrc::kAlreadyEncrypted: return "wallet is already encrypted";
    case WalletErrc::kInvalidMnemonic: return "invalid recovery phrase";
    case WalletErrc::kUnknownKey: return "key not in wallet";
    case WalletErrc::kKeypoolRanOut: return "keypool ran out";
    case WalletErrc::kInvalidTransaction: return "invalid transaction record";
    case WalletErrc::kBackupFailed: return "backup failed";
    case WalletErrc::kOutOfMemory: return "out of memory";
    case WalletErrc::kStorage: return "wallet storage error";
  }
  return "wallet error";
}

std::string_view to_string(TxDirection d) {
  switch (d) {
    case TxDirection::kReceive: return "receive";
    case TxDirection::kSend: return "send";
    case TxDirection::kGenerate: return "generate";
  }
  return "unknown";
}

WalletResult<fs::path> wallet_file_path(const fs::path& wallets_dir, std::string_view name) {
  return guarded(wallets_dir, [&] {
    wallet_detail::check_name(name);
    return wallets_dir / (std::string(name) + ".wallet");
  });
}

// ---- the wallet -------------------------------------------------------------------------------

Wallet::Wallet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Wallet::Wallet(Wallet&&) noexcept = default;
Wallet& Wallet::operator=(Wallet&&) noexcept = default;
Wallet::~Wallet() = default;

WalletResult<CreatedWallet> Wallet::create(const fs::path& file, std::string_view name,
                                           std::optional<std::string_view> passphrase, const WalletOptions& options) {
  return guarded(file, [&] {
    ensure_sodium();
    SecureBuffer entropy(kWalletEntropySize);
    randombytes_buf(entropy.data(), entropy.size());
    write_new_wallet(file, name, entropy, passphrase, options);
    return CreatedWallet{Wallet(open_file(file, options.keypool_size)), generate_mnemonic(entropy.span())};
  });
}

WalletResult<Wallet> Wallet::restore(const fs::path& file, std::string_view name, std::string_view phrase,
                                     std::optional<std::string_view> passphrase, const WalletOptions& options) {
  return guarded(file, [&] {
    auto entropy = mnemonic_to_entropy(phrase);
    if (!entropy) fail(WalletErrc::kInvalidMnemonic, describe(entropy.error()));
    if (entropy->size() != kWalletEntropySize) {
      fail(WalletErrc::kInvalidMnemonic,
           fmt::format("a cheesechain recovery phrase has 24 words, not {}", entropy->size() * 3 / 4));
    }
    write_new_wallet(file, name, *entropy, passphrase, options);
    return Wallet(open_file(file, options.keypool_size));
  });
}

WalletResult<Wallet> Wallet::open(const fs::path& file, std::uint32_t keypool_size) {
  return guarded(file, [&] { return Wallet(open_file(file, keypool_size)); });
}

const std::string& Wallet::name() const { return impl_->name; }
const fs::path& Wallet::path() const { return impl_->path; }
Network Wallet::network() const { return impl_->network; }
std::string Wallet::id() const { return to_hex(impl_->wallet_id); }
std::vector<std::uint32_t> Wallet::key_path(std::uint32_t index) const {
  return wallet_key_path(impl_->coin, impl_->account, index);
}
bool Wallet::is_encrypted() const { return impl_->crypto.has_value(); }
bool Wallet::is_locked() const { return impl_->crypto.has_value() && !impl_->node.has_value(); }
bool Wallet::holds_secrets() const { return impl_->node.has_value() || !impl_->entropy.empty(); }
std::optional<KdfLimits> Wallet::kdf_limits() const {
  if (!impl_->crypto) return std::nullopt;
  return impl_->crypto->kdf;
}

WalletStatus Wallet::unlock(std::string_view passphrase) {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    if (!w.crypto) {
      fail(WalletErrc::kNotEncrypted, "the wallet is not encrypted: it has no passphrase to unlock it with");
    }
    check_passphrase(passphrase);
    const SecureBuffer master_key = unwrap_master_key(*w.crypto, passphrase, w.wallet_id);
    if (!w.node) {
      auto entropy = unseal_seed(*w.crypto, master_key.span(), w.wallet_id);
      if (!entropy) w.corrupt("the encrypted seed does not match its master key");
      w.load_secrets(std::move(*entropy));
      try {
        w.top_up();
      } catch (...) {
        w.wipe_secrets();
        throw;
      }
    }
    return std::monostate{};
  });
}

void Wallet::lock() {
  if (impl_->crypto) impl_->wipe_secrets();
}

WalletStatus Wallet::encrypt(std::string_view passphrase, KdfLimits kdf) {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    if (w.crypto) fail(WalletErrc::kAlreadyEncrypted, "the wallet is already encrypted: use walletpassphrasechange");
    check_passphrase(passphrase);
    check_kdf(kdf);
    const CryptoRecord rec = [&] {
      const Impl::SecretsOpen open(w);
      return make_crypto_record(w.entropy.span(), passphrase, kdf, w.wallet_id);
    }();
    {
      Txn txn(w.db);
      put_crypto_record(w.db, rec);
      // secure_delete (set at open) overwrites the plaintext with zeros within this transaction.
      w.db.prepare("DELETE FROM meta WHERE key = 'seed'").run();
      txn.commit();
    }
    try {
      w.db.exec("VACUUM");  // also drops the freed pages; the plaintext is already zeroed
    } catch (const DbError&) {
      // Not fatal (e.g. no room for the copy VACUUM makes): the encryption is committed.
    }
    try {
      // Folds the log into the file (the zeroed pages replace the plaintext there) and truncates
      // the log, which held page images from before the deletion.
      w.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch (const DbError&) {
      // Not fatal either: the next checkpoint (at 1,000 pages, or at close) does it.
    }
    w.crypto = rec;
    w.wipe_secrets();
    return std::monostate{};
  });
}

WalletStatus Wallet::change_passphrase(std::string_view old_passphrase, std::string_view new_passphrase,
                                       std::optional<KdfLimits> kdf) {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    if (!w.crypto) fail(WalletErrc::kNotEncrypted, "the wallet is not encrypted: use encryptwallet");
    check_passphrase(old_passphrase);
    check_passphrase(new_passphrase);
    const KdfLimits limits = kdf.value_or(w.crypto->kdf);
    check_kdf(limits);
    const SecureBuffer master_key = unwrap_master_key(*w.crypto, old_passphrase, w.wallet_id);
    CryptoRecord rec = *w.crypto;
    wrap_master_key(rec, master_key.span(), new_passphrase, limits, w.wallet_id);
    Txn txn(w.db);
    put_crypto_record(w.db, rec);
    txn.commit();
    w.crypto = rec;
    return std::monostate{};
  });
}

WalletStatus Wallet::backup(const fs::path& dest) const {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    std::error_code ec;
    if (fs::equivalent(dest, w.path, ec)) {
      fail(WalletErrc::kBackupFailed, "the backup destination is the wallet file itself");
    }
    if (dest.filename().empty() || fs::is_directory(dest, ec)) {
      fail(WalletErrc::kBackupFailed, fmt::format("backup destination {} is a directory, not a file", dest.string()));
    }
    const fs::path dir = parent_dir(dest);
    if (!fs::is_directory(dir, ec)) {
      fail(WalletErrc::kBackupFailed, fmt::format("backup directory {} does not exist", dir.string()));
    }
    TempFile tmp(dest, WalletErrc::kBackupFailed);
    try {
      // VACUUM INTO writes a consistent, compact copy into the (empty) temporary file.
      w.db.prepare("VACUUM INTO ?").bind(1, std::string_view(tmp.path().string())).run();
    } catch (const DbError& e) {
      fail(WalletErrc::kBackupFailed, fmt::format("cannot back up to {}: {}", dest.string(), e.what()));
    }
    fsync_path(tmp.path(), false, WalletErrc::kBackupFailed);
    if (::rename(tmp.path().c_str(), dest.c_str()) != 0) {
      fail(WalletErrc::kBackupFailed, fmt::format("cannot write {}: {}", dest.string(), errno_text(errno)));
    }
    tmp.release();
    fsync_path(dir, true, WalletErrc::kBackupFailed);
    return std::monostate{};
  });
}

}  // namespace cheese
