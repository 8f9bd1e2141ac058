// Creating a wallet file and opening one: every check a file must pass before it is used, and
// the atomic write of a new wallet.

#include <sodium.h>

#include <algorithm>
#include <map>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "wallet/wallet_impl.hpp"

namespace cheese {

namespace fs = std::filesystem;
using wallet_detail::CryptoRecord;
using wallet_detail::DbError;
using wallet_detail::fail;
using wallet_detail::KeyEntry;
using wallet_detail::kFormatVersion;
using wallet_detail::MetaRows;
using wallet_detail::Stmt;

namespace wallet_detail {

//! The meta table of a wallet file, each value checked for its type when it is read.
class MetaRows {
 public:
  //! Reads every row; the plaintext seed, if any, goes straight into guarded memory.
  MetaRows(Db& db, const fs::path& path) : path_(path) {
    for (Stmt s = db.prepare("SELECT key, value FROM meta"); s.step();) {
      const std::string key = s.column_text(0);
      const ByteSpan blob = s.column_blob_view(1);
      types_[key] = s.column_is_int(1) ? kInt : s.column_is_blob(1) ? kBlob : s.column_is_text(1) ? kText : kOther;
      if (key == "seed") {
        if (!s.column_is_blob(1) || blob.size() != kWalletEntropySize) corrupt("malformed seed");
        plain_seed_ = SecureBuffer::copy_of(blob);
        continue;
      }
      values_[key] = {s.column_int(1), Bytes(blob.begin(), blob.end())};
    }
  }

  bool has(std::string_view key) const { return types_.contains(key); }

  std::string text(std::string_view key) const {
    if (!is(key, kText)) corrupt(fmt::format("meta field \"{}\" missing or not text", key));
    const Bytes& b = values_.find(key)->second.second;
    return std::string(b.begin(), b.end());
  }

  std::int64_t integer(std::string_view key) const {
    if (!is(key, kInt)) corrupt(fmt::format("meta field \"{}\" missing or not a number", key));
    return values_.find(key)->second.first;
  }

  template <typename Out>
  void blob(std::string_view key, Out& out) const {
    const Bytes* b = is(key, kBlob) ? &values_.find(key)->second.second : nullptr;
    if (b == nullptr || b->size() != out.size()) corrupt(fmt::format("meta field \"{}\" missing or malformed", key));
    std::copy(b->begin(), b->end(), out.begin());
  }

  //! The plaintext seed of an unencrypted wallet (empty otherwise).
  SecureBuffer take_plain_seed() { return std::move(plain_seed_); }

  [[noreturn]] void corrupt(std::string_view what) const {
    fail(WalletErrc::kCorrupt, fmt::format("wallet file {} is corrupt: {}", path_.string(), what));
  }

 private:
  enum Type { kInt, kBlob, kText, kOther };
  bool is(std::string_view key, Type type) const {
    const auto it = types_.find(key);
    return it != types_.end() && it->second == type;
  }

  fs::path path_;
  std::map<std::string, std::pair<std::int64_t, Bytes>, std::less<>> values_;  // int or blob/text
  std::map<std::string, Type, std::less<>> types_;
  SecureBuffer plain_seed_;
};

void write_new_wallet(const fs::path& file, std::string_view name, const SecureBuffer& entropy,
                      std::optional<std::string_view> passphrase, const WalletOptions& options) {
  check_name(name);
  if (passphrase) check_passphrase(*passphrase);
  check_kdf(options.kdf);
  std::error_code ec;
  if (fs::exists(fs::symlink_status(file, ec))) {
    fail(WalletErrc::kAlreadyExists,
         fmt::format("{} already exists: an existing file is never overwritten", file.string()));
  }
  const fs::path dir = parent_dir(file);
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) fail(WalletErrc::kStorage, fmt::format("cannot create directory {}: {}", dir.string(), ec.message()));
    fs::permissions(dir, fs::perms::owner_all, ec);
  }

  ensure_sodium();
  WalletId id{};
  randombytes_buf(id.data(), id.size());
  const std::uint32_t coin = coin_type(options.network);
  const ExtendedKey node = chain_node(entropy.span(), coin, kAccount);

  TempFile tmp(file, WalletErrc::kStorage);
  {
    Db db(tmp.path());
    set_pragmas(db);
    Txn txn(db);
    db.exec(fmt::format("PRAGMA application_id={}", static_cast<std::int32_t>(kApplicationId)));
    db.exec(fmt::format("PRAGMA user_version={}", kFormatVersion));
    db.exec(kSchema);
    put_meta(db, "format", kFormatTag);
    put_meta(db, "name", name);
    put_meta(db, "network", chain_params(options.network).name);
    put_meta(db, "coin_type", std::int64_t{coin});
    put_meta(db, "account", std::int64_t{kAccount});
    put_meta(db, "wallet_id", id);
    if (passphrase) {
      put_crypto_record(db, make_crypto_record(entropy.span(), *passphrase, options.kdf, id));
    } else {
      put_meta(db, "seed", entropy.span());  // plaintext: an unencrypted wallet (docs/wallet.md)
    }
    Stmt insert = db.prepare("INSERT INTO keys(idx, pubkey) VALUES(?, ?)");
    for (std::uint32_t i = 0; i < options.keypool_size; ++i) {
      insert.bind(1, std::int64_t{i}).bind(2, derive_pubkey(node, i)).run();
    }
    txn.commit();
  }
  fsync_path(tmp.path(), false, WalletErrc::kStorage);
  publish_no_replace(tmp.path(), file);
  tmp.release();
  fsync_path(dir, true, WalletErrc::kStorage);
}

}  // namespace wallet_detail

void Wallet::Impl::load(std::uint32_t keypool) {
  keypool_size = keypool;
  // Reads only: nothing is written before the file has passed every check.
  try {
    if (Stmt s = db.prepare("PRAGMA quick_check"); s.step() && s.column_text(0) != "ok") {
      corrupt(s.column_text(0));
    }
    if (static_cast<std::uint32_t>(db.query_int("PRAGMA application_id")) != wallet_detail::kApplicationId) {
      corrupt("not a cheesechain wallet application id");
    }
    const std::int64_t version = db.query_int("PRAGMA user_version");
    if (version > kFormatVersion) {
      fail(WalletErrc::kNewerVersion,
           fmt::format("wallet file {} has format version {}; this cheesechain reads version {}: use a newer "
                       "cheesed",
                       path.string(), version, kFormatVersion));
    }
    MetaRows meta(db, path);
    load_meta(meta);
    load_keys();
    if (SecureBuffer plain = meta.take_plain_seed(); !plain.empty()) load_secrets(std::move(plain));
  } catch (const DbError& e) {
    // While reading a file that claims to be ours, any SQLite failure means it is damaged.
    if (e.is_busy()) throw;
    corrupt(e.what());
  }
  set_pragmas();
}

void Wallet::Impl::load_meta(const MetaRows& meta) {
  if (meta.text("format") != wallet_detail::kFormatTag) corrupt("unknown format tag");
  name = meta.text("name");
  const auto net = parse_network(meta.text("network"));
  if (!net) corrupt("unknown network");
  network = *net;
  const std::int64_t coin_value = meta.integer("coin_type");
  const std::int64_t account_value = meta.integer("account");
  if (coin_value < 0 || coin_value >= kHardened || account_value < 0 || account_value >= kHardened) {
    corrupt("derivation path out of range");
  }
  coin = static_cast<std::uint32_t>(coin_value);
  account = static_cast<std::uint32_t>(account_value);
  meta.blob("wallet_id", wallet_id);

  const bool has_plain = meta.has("seed");
  const bool has_crypto = meta.has("kdf");
  if (has_plain == has_crypto) corrupt("it has both or neither of a plain and an encrypted seed");
  if (has_crypto) {
    if (meta.text("kdf") != wallet_detail::kKdfName) corrupt("unknown passphrase key derivation");
    CryptoRecord rec;
    const std::int64_t ops = meta.integer("kdf_ops");
    const std::int64_t mem = meta.integer("kdf_mem");
    if (ops <= 0 || mem <= 0) corrupt("Argon2id limits out of range");
    rec.kdf = {static_cast<std::uint64_t>(ops), static_cast<std::size_t>(mem)};
    if (!wallet_detail::kdf_in_range(rec.kdf)) corrupt("Argon2id limits out of range");
    meta.blob("kdf_salt", rec.salt);
    meta.blob("master_key_nonce", rec.master_key_nonce);
    meta.blob("master_key", rec.master_key);
    meta.blob("seed_nonce", rec.seed_nonce);
    meta.blob("encrypted_seed", rec.seed);
    crypto = rec;
  }
}

void Wallet::Impl::load_keys() {
  for (Stmt s = db.prepare("SELECT idx, pubkey, issued, label FROM keys ORDER BY idx"); s.step();) {
    const ByteSpan pk = s.column_blob_view(1);
    if (s.column_int(0) != static_cast<std::int64_t>(keys.size()) || pk.size() != 32) {
      corrupt("the key table has a gap or a malformed key");
    }
    KeyEntry entry;
    std::copy(pk.begin(), pk.end(), entry.pubkey.begin());
    entry.issued = s.column_int(2) != 0;
    entry.label = s.column_text(3);
    if (entry.issued && issued != keys.size()) corrupt("handed-out keys are not a prefix");
    if (entry.issued) ++issued;
    index_of.emplace(entry.pubkey, static_cast<std::uint32_t>(keys.size()));
    keys.push_back(std::move(entry));
  }
  if (index_of.size() != keys.size()) corrupt("duplicate keys");
}

std::unique_ptr<Wallet::Impl> Wallet::open_file(const fs::path& file, std::uint32_t keypool) {
  auto file_lock = std::make_unique<wallet_detail::FileLock>(file);
  // The SQLite header tells a foreign file from ours before SQLite touches it.
  wallet_detail::check_header(file, file_lock->read_header());
  auto impl = std::make_unique<Wallet::Impl>(file, std::move(file_lock));
  impl->load(keypool);
  impl->top_up();
  return impl;
}

}  // namespace cheese
