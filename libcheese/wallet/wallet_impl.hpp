#pragma once

// Wallet::Impl, the state behind a Wallet, shared by wallet.cpp, wallet_open.cpp,
// wallet_keys.cpp and wallet_records.cpp. Internal to libcheese/wallet.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "wallet/slip10.hpp"
#include "wallet/wallet.hpp"
#include "wallet/wallet_crypto.hpp"
#include "wallet/wallet_db.hpp"
#include "wallet/wallet_file.hpp"
#include "wallet/wallet_internal.hpp"
#include "wallet/wallet_keys.hpp"

namespace cheese {

namespace wallet_detail {

struct KeyEntry {
  PublicKey pubkey{};
  bool issued = false;
  std::string label;
};

class MetaRows;

//! Writes a complete wallet to a temporary file, then moves it into place without replacing
//! anything: a crash leaves either no wallet or a whole one.
void write_new_wallet(const std::filesystem::path& file, std::string_view name, const SecureBuffer& entropy,
                      std::optional<std::string_view> passphrase, const WalletOptions& options);

}  // namespace wallet_detail

struct Wallet::Impl {
  using FileLock = wallet_detail::FileLock;
  using Db = wallet_detail::Db;
  using Stmt = wallet_detail::Stmt;

  Impl(const std::filesystem::path& file, std::unique_ptr<FileLock> file_lock)
      : path(file), lock(std::move(file_lock)), db(file) {}

  std::filesystem::path path;
  std::unique_ptr<FileLock> lock;  //!< declared before db: released after SQLite has closed
  Db db;
  std::string name;
  Network network = Network::kMain;
  std::uint32_t coin = 0;
  std::uint32_t account = wallet_detail::kAccount;
  wallet_detail::WalletId wallet_id{};
  std::optional<wallet_detail::CryptoRecord> crypto;
  std::uint32_t keypool_size = kDefaultKeypoolSize;
  std::vector<wallet_detail::KeyEntry> keys;    //!< by index
  std::size_t issued = 0;                       //!< keys [0, issued) are handed out
  std::map<PublicKey, std::uint32_t> index_of;  //!< every key, issued or in the keypool
  // Secrets, present while unlocked (always for an unencrypted wallet), in guarded memory that
  // is sealed (no access) between uses: a function that reads them holds a SecretsOpen.
  SecureBuffer entropy;
  std::optional<ExtendedKey> node;

  //! Opens the sealed secrets for the length of a scope; nests.
  class SecretsOpen {
   public:
    explicit SecretsOpen(const Impl& w) {
      if (!w.entropy.empty()) entropy_.emplace(w.entropy);
      if (w.node) node_.emplace(w.node->buffer());
    }

   private:
    std::optional<SecureBuffer::Access> entropy_;
    std::optional<SecureBuffer::Access> node_;
  };

  //! Reads and checks the whole file (wallet_open.cpp); writes nothing.
  void load(std::uint32_t keypool);
  void load_meta(const wallet_detail::MetaRows& meta);
  void load_keys();
  void set_pragmas() { wallet_detail::set_pragmas(db); }
  //! Checks every stored key against the seed, then keeps the secrets (wallet_keys.cpp).
  void load_secrets(SecureBuffer secret);
  //! Wipes and frees every secret (lock).
  void wipe_secrets() {
    node.reset();
    entropy.reset();
  }
  const ExtendedKey& unlocked_node() const {
    if (!node) {
      wallet_detail::fail(WalletErrc::kLocked,
                          "the wallet is locked: unlock it first with walletpassphrase (or use a keypool address)");
    }
    return *node;
  }
  //! Derives keys until at least max(keypool_size, min_unused) are unused (needs the secrets).
  void top_up(std::size_t min_unused = 0);
  std::uint32_t index_or_fail(const PublicKey& pk) const {
    const auto it = index_of.find(pk);
    if (it == index_of.end()) {
      wallet_detail::fail(WalletErrc::kUnknownKey, "this public key does not belong to the wallet");
    }
    return it->second;
  }
  [[noreturn]] void corrupt(std::string_view what) const {
    wallet_detail::fail(WalletErrc::kCorrupt, fmt::format("wallet file {} is corrupt: {}", path.string(), what));
  }
  //! One row of `SELECT txid, direction, height, amount, fee, counterparty, time, own, raw`
  //! (wallet_records.cpp).
  WalletTx read_tx(const Stmt& s) const;
};

}  // namespace cheese
