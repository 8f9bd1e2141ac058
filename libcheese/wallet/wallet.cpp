#include "wallet/wallet.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "primitives/bech32.hpp"
#include "wallet/bip39.hpp"
#include "wallet/slip10.hpp"
#include "wallet/wallet_db.hpp"

namespace cheese {

namespace fs = std::filesystem;
using wallet_detail::Db;
using wallet_detail::DbError;
using wallet_detail::Stmt;
using wallet_detail::Txn;

namespace {

// ---- file format (docs/wallet.md) -------------------------------------------------------------

constexpr std::uint32_t kApplicationId = 0x43485A57;  // "CHZW" in the SQLite header, offset 68
constexpr std::int64_t kFormatVersion = 1;            // PRAGMA user_version, offset 60
constexpr std::string_view kFormatTag = "cheesechain-wallet";
constexpr std::string_view kKdfName = "argon2id13";
constexpr std::size_t kSqliteHeaderSize = 100;
constexpr std::string_view kSqliteMagic{"SQLite format 3\0", 16};

constexpr std::size_t kWalletIdSize = 16;
constexpr std::size_t kKeySize = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr std::size_t kNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagSize = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t kSaltSize = crypto_pwhash_SALTBYTES;
constexpr std::size_t kSealedSize = kKeySize + kTagSize;  // both secrets are 32 bytes
constexpr std::uint64_t kMaxKdfMem = std::uint64_t{4} << 30;
constexpr std::uint32_t kAccount = 0;
constexpr std::size_t kMaxNameLength = 64;

static_assert(kKeySize == 32 && kNonceSize == 24 && kTagSize == 16 && kSaltSize == 16);
static_assert(kWalletEntropySize == kKeySize);

constexpr std::string_view kSchema = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY NOT NULL,
  value NOT NULL
) WITHOUT ROWID;
CREATE TABLE keys(
  idx INTEGER PRIMARY KEY CHECK (idx >= 0),
  pubkey BLOB NOT NULL UNIQUE CHECK (length(pubkey) = 32),
  issued INTEGER NOT NULL DEFAULT 0 CHECK (issued IN (0, 1)),
  label TEXT NOT NULL DEFAULT ''
);
CREATE TABLE transactions(
  id INTEGER PRIMARY KEY,
  txid BLOB NOT NULL CHECK (length(txid) = 32),
  direction INTEGER NOT NULL CHECK (direction IN (0, 1, 2)),
  height INTEGER CHECK (height IS NULL OR height >= 0),
  amount INTEGER NOT NULL CHECK (amount >= 0),
  fee INTEGER NOT NULL CHECK (fee >= 0),
  counterparty BLOB CHECK (counterparty IS NULL OR length(counterparty) = 32),
  time INTEGER NOT NULL,
  own BLOB CHECK (own IS NULL OR length(own) = 32),
  raw BLOB,
  UNIQUE (txid, direction)
);
CREATE INDEX transactions_by_time ON transactions(time, id);
CREATE TABLE sync(
  id INTEGER PRIMARY KEY CHECK (id = 0),
  hash BLOB NOT NULL CHECK (length(hash) = 32),
  height INTEGER NOT NULL CHECK (height >= 0)
);
)sql";

// ---- errors -----------------------------------------------------------------------------------

//! Thrown inside the implementation, returned as a WalletError at the public boundary.
struct Failure {
  WalletError error;
};

[[noreturn]] void fail(WalletErrc code, std::string message) { throw Failure{{code, std::move(message)}}; }

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

//! Runs f, turning the implementation's exceptions into a WalletError.
template <typename F>
auto guarded(const fs::path& path, F&& f) -> WalletResult<std::invoke_result_t<F>> {
  try {
    return std::forward<F>(f)();
  } catch (const Failure& e) {
    return Unexpected(e.error);
  } catch (const DbError& e) {
    return Unexpected(storage_error(path, e));
  }
}

// ---- files ------------------------------------------------------------------------------------

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string random_hex(std::size_t bytes) {
  ensure_sodium();
  Bytes b(bytes);
  randombytes_buf(b.data(), b.size());
  return to_hex(b);
}

//! A new empty file with mode 0600; fails if anything exists at the path.
void create_exclusive(const fs::path& p, WalletErrc code) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, S_IRUSR | S_IWUSR);
  if (fd < 0) {
    const int err = errno;
    fail(err == EEXIST ? WalletErrc::kAlreadyExists : code,
         fmt::format("cannot create {}: {}", p.string(), errno_text(err)));
  }
  const int rc = ::fchmod(fd, S_IRUSR | S_IWUSR);  // exactly 0600, whatever the umask
  const int err = errno;
  ::close(fd);
  if (rc != 0) fail(code, fmt::format("cannot set mode 0600 on {}: {}", p.string(), errno_text(err)));
}

void fsync_path(const fs::path& p, bool directory, WalletErrc code) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) fail(code, fmt::format("cannot open {} to sync it: {}", p.string(), errno_text(errno)));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot sync a directory (EINVAL); the file itself was synced.
  if (rc != 0 && !(directory && err == EINVAL)) {
    fail(code, fmt::format("cannot sync {}: {}", p.string(), errno_text(err)));
  }
}

fs::path parent_dir(const fs::path& file) {
  const fs::path parent = file.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

//! A temporary file beside `dest` that is removed (with its journal) unless released.
class TempFile {
 public:
  TempFile(const fs::path& dest, WalletErrc code)
      : path_(parent_dir(dest) / fmt::format(".{}.{}.tmp", dest.filename().string(), random_hex(8))) {
    create_exclusive(path_, code);
  }
  ~TempFile() {
    if (!released_) {
      std::error_code ec;
      fs::remove(path_, ec);
      fs::remove(fs::path(path_.string() + "-journal"), ec);
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const fs::path& path() const { return path_; }
  void release() { released_ = true; }

 private:
  fs::path path_;
  bool released_ = false;
};

//! Moves a finished temporary file to `dest` without ever replacing an existing file.
void publish_no_replace(const fs::path& tmp, const fs::path& dest) {
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE) == 0) return;
  int err = errno;
  if (err == EINVAL || err == ENOSYS) {  // no RENAME_NOREPLACE on this file system: link + unlink
    if (::link(tmp.c_str(), dest.c_str()) == 0) {
      ::unlink(tmp.c_str());
      return;
    }
    err = errno;
  }
  fail(err == EEXIST ? WalletErrc::kAlreadyExists : WalletErrc::kStorage,
       err == EEXIST ? fmt::format("{} already exists: an existing file is never overwritten", dest.string())
                     : fmt::format("cannot create {}: {}", dest.string(), errno_text(err)));
}

//! A descriptor of the wallet file holding flock(LOCK_EX) for as long as the wallet is open, so
//! that a second cheesed (or a second load in this one) is refused. flock is independent of the
//! POSIX locks SQLite takes, and this descriptor stays open until after SQLite has closed, so
//! closing it never drops SQLite's locks.
class FileLock {
 public:
  explicit FileLock(const fs::path& p) : path_(p) {
    fd_ = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      const int err = errno;
      if (err == ENOENT) fail(WalletErrc::kNotFound, fmt::format("no wallet file at {}", p.string()));
      fail(WalletErrc::kStorage, fmt::format("cannot open {}: {}", p.string(), errno_text(err)));
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      close();
      fail(WalletErrc::kNotAWallet, fmt::format("{} is not a regular file, so not a wallet", p.string()));
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      close();
      if (err == EWOULDBLOCK) {
        fail(WalletErrc::kInUse,
             fmt::format("wallet file {} is in use by another process (or already loaded)", p.string()));
      }
      fail(WalletErrc::kStorage, fmt::format("cannot lock {}: {}", p.string(), errno_text(err)));
    }
  }
  ~FileLock() { close(); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  //! Up to the first 100 bytes of the file (the SQLite header).
  std::string read_header() const {
    std::string header(kSqliteHeaderSize, '\0');
    std::size_t got = 0;
    while (got < header.size()) {
      const ssize_t n = ::pread(fd_, header.data() + got, header.size() - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail(WalletErrc::kStorage, fmt::format("cannot read {}: {}", path_.string(), errno_text(errno)));
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    header.resize(got);
    return header;
  }

 private:
  void close() noexcept {
    if (fd_ >= 0) ::close(fd_);  // also releases the flock
    fd_ = -1;
  }
  fs::path path_;
  int fd_ = -1;
};

std::uint32_t be32_at(std::string_view s, std::size_t offset) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(s[offset + i]);
  return v;
}

// ---- names ------------------------------------------------------------------------------------

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

void check_name(std::string_view name) {
  if (!valid_name(name)) {
    fail(WalletErrc::kInvalidName,
         fmt::format("invalid wallet name \"{}\": use 1 to {} letters, digits, '_', '-' or '.', not starting "
                     "with '.'",
                     name, kMaxNameLength));
  }
}

// ---- cryptography -----------------------------------------------------------------------------

bool kdf_in_range(const KdfLimits& k) {
  return k.ops >= crypto_pwhash_argon2id_OPSLIMIT_MIN && k.ops <= crypto_pwhash_argon2id_OPSLIMIT_MAX &&
         k.mem >= crypto_pwhash_argon2id_MEMLIMIT_MIN && k.mem <= crypto_pwhash_argon2id_MEMLIMIT_MAX &&
         k.mem <= kMaxKdfMem;
}

void check_kdf(const KdfLimits& k) {
  if (!kdf_in_range(k)) throw std::invalid_argument("Argon2id limits out of range");
}

void check_passphrase(std::string_view passphrase) {
  if (passphrase.empty()) fail(WalletErrc::kEmptyPassphrase, "the passphrase cannot be empty");
}

using WalletId = std::array<std::uint8_t, kWalletIdSize>;

//! Everything an encrypted wallet stores about its secrets.
struct CryptoRecord {
  KdfLimits kdf;
  std::array<std::uint8_t, kSaltSize> salt{};
  std::array<std::uint8_t, kNonceSize> master_key_nonce{};
  std::array<std::uint8_t, kSealedSize> master_key{};  //!< the master key sealed by the passphrase key
  std::array<std::uint8_t, kNonceSize> seed_nonce{};
  std::array<std::uint8_t, kSealedSize> seed{};  //!< the entropy sealed by the master key
};

//! Additional data binds each ciphertext to its purpose and to this wallet.
Bytes aad(std::string_view purpose, const WalletId& id) {
  Bytes out(purpose.begin(), purpose.end());
  out.insert(out.end(), id.begin(), id.end());
  return out;
}
constexpr std::string_view kMasterKeyPurpose = "cheesechain wallet master key v1";
constexpr std::string_view kSeedPurpose = "cheesechain wallet seed v1";

SecureBuffer passphrase_key(std::string_view passphrase, ByteSpan salt, const KdfLimits& kdf) {
  ensure_sodium();
  SecureBuffer key(kKeySize);
  if (crypto_pwhash(key.data(), key.size(), passphrase.data(), passphrase.size(), salt.data(), kdf.ops, kdf.mem,
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    fail(WalletErrc::kOutOfMemory,
         fmt::format("not enough memory for the passphrase key derivation (Argon2id, {} MiB)", kdf.mem >> 20));
  }
  return key;
}

void seal(ByteSpan key, ByteSpan plaintext, ByteSpan ad, std::array<std::uint8_t, kNonceSize>& nonce,
          std::array<std::uint8_t, kSealedSize>& out) {
  randombytes_buf(nonce.data(), nonce.size());
  unsigned long long out_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), &out_len, plaintext.data(), plaintext.size(), ad.data(),
                                             ad.size(), nullptr, nonce.data(), key.data());
}

std::optional<SecureBuffer> unseal(ByteSpan key, ByteSpan nonce, ByteSpan sealed, ByteSpan ad) {
  SecureBuffer out(sealed.size() - kTagSize);
  unsigned long long out_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &out_len, nullptr, sealed.data(), sealed.size(),
                                                 ad.data(), ad.size(), nonce.data(), key.data()) != 0) {
    return std::nullopt;
  }
  return out;
}

//! Wraps `master_key` under a fresh salt and passphrase key.
void wrap_master_key(CryptoRecord& rec, ByteSpan master_key, std::string_view passphrase, const KdfLimits& kdf,
                     const WalletId& id) {
  rec.kdf = kdf;
  randombytes_buf(rec.salt.data(), rec.salt.size());
  const SecureBuffer kek = passphrase_key(passphrase, rec.salt, kdf);
  seal(kek.span(), master_key, aad(kMasterKeyPurpose, id), rec.master_key_nonce, rec.master_key);
}

CryptoRecord make_crypto_record(ByteSpan entropy, std::string_view passphrase, const KdfLimits& kdf,
                                const WalletId& id) {
  ensure_sodium();
  CryptoRecord rec;
  SecureBuffer master_key(kKeySize);
  crypto_aead_xchacha20poly1305_ietf_keygen(master_key.data());
  seal(master_key.span(), entropy, aad(kSeedPurpose, id), rec.seed_nonce, rec.seed);
  wrap_master_key(rec, master_key.span(), passphrase, kdf, id);
  return rec;
}

SecureBuffer unwrap_master_key(const CryptoRecord& rec, std::string_view passphrase, const WalletId& id) {
  const SecureBuffer kek = passphrase_key(passphrase, rec.salt, rec.kdf);
  auto mk = unseal(kek.span(), rec.master_key_nonce, rec.master_key, aad(kMasterKeyPurpose, id));
  if (!mk) fail(WalletErrc::kWrongPassphrase, "the wallet passphrase entered was incorrect");
  return std::move(*mk);
}

// ---- keys -------------------------------------------------------------------------------------

//! The node m/44'/coin'/account'/0' whose hardened children are the wallet's keys.
ExtendedKey chain_node(ByteSpan entropy, std::uint32_t coin, std::uint32_t account) {
  const SecretString phrase = generate_mnemonic(entropy);
  const SecureBuffer seed = mnemonic_to_seed(phrase.view());
  auto path = wallet_key_path(coin, account, 0);
  path.pop_back();
  return slip10_derive(seed.span(), path);
}

PublicKey derive_pubkey(const ExtendedKey& node, std::uint32_t index) {
  return slip10_child_key(node, index | kHardened).public_key();
}

//! Meta rows of a new wallet, in one transaction with the rest of its creation.
void put_meta(Db& db, std::string_view key, std::int64_t v) {
  db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)").bind(1, key).bind(2, v).run();
}
void put_meta(Db& db, std::string_view key, ByteSpan v) {
  db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)").bind(1, key).bind(2, v).run();
}
void put_meta(Db& db, std::string_view key, std::string_view v) {
  db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)").bind(1, key).bind(2, v).run();
}

void put_crypto_record(Db& db, const CryptoRecord& rec) {
  put_meta(db, "kdf", kKdfName);
  put_meta(db, "kdf_salt", rec.salt);
  put_meta(db, "kdf_ops", static_cast<std::int64_t>(rec.kdf.ops));
  put_meta(db, "kdf_mem", static_cast<std::int64_t>(rec.kdf.mem));
  put_meta(db, "master_key_nonce", rec.master_key_nonce);
  put_meta(db, "master_key", rec.master_key);
  put_meta(db, "seed_nonce", rec.seed_nonce);
  put_meta(db, "encrypted_seed", rec.seed);
}

}  // namespace

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

int rpc_error_code(WalletErrc e) {
  // bitcoind's codes (src/rpc/protocol.h); docs/rpc.md lists them.
  switch (e) {
    case WalletErrc::kNotFound: return -18;           // RPC_WALLET_NOT_FOUND
    case WalletErrc::kInvalidName: return -8;         // RPC_INVALID_PARAMETER
    case WalletErrc::kLocked: return -13;             // RPC_WALLET_UNLOCK_NEEDED
    case WalletErrc::kWrongPassphrase: return -14;    // RPC_WALLET_PASSPHRASE_INCORRECT
    case WalletErrc::kEmptyPassphrase: return -8;     // RPC_INVALID_PARAMETER
    case WalletErrc::kNotEncrypted: return -15;       // RPC_WALLET_WRONG_ENC_STATE
    case WalletErrc::kAlreadyEncrypted: return -15;   // RPC_WALLET_WRONG_ENC_STATE
    case WalletErrc::kInvalidMnemonic: return -5;     // RPC_INVALID_ADDRESS_OR_KEY
    case WalletErrc::kKeypoolRanOut: return -12;      // RPC_WALLET_KEYPOOL_RAN_OUT
    case WalletErrc::kInvalidTransaction: return -8;  // RPC_INVALID_PARAMETER
    case WalletErrc::kOutOfMemory: return -7;         // RPC_OUT_OF_MEMORY
    case WalletErrc::kAlreadyExists:
    case WalletErrc::kNotAWallet:
    case WalletErrc::kCorrupt:
    case WalletErrc::kNewerVersion:
    case WalletErrc::kInUse:
    case WalletErrc::kUnknownKey:
    case WalletErrc::kBackupFailed:
    case WalletErrc::kStorage: return -4;  // RPC_WALLET_ERROR
  }
  return -4;
}

std::string_view to_string(TxDirection d) {
  switch (d) {
    case TxDirection::kReceive: return "receive";
    case TxDirection::kSend: return "send";
    case TxDirection::kGenerate: return "generate";
  }
  return "unknown";
}

KdfLimits KdfLimits::moderate() { return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE}; }
KdfLimits KdfLimits::interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}
KdfLimits KdfLimits::minimum() {
  return {crypto_pwhash_argon2id_OPSLIMIT_MIN, crypto_pwhash_argon2id_MEMLIMIT_MIN};
}
KdfLimits KdfLimits::for_network(Network network) {
  return network == Network::kRegtest ? interactive() : moderate();
}

WalletResult<fs::path> wallet_file_path(const fs::path& wallets_dir, std::string_view name) {
  return guarded(wallets_dir, [&] {
    check_name(name);
    return wallets_dir / (std::string(name) + ".wallet");
  });
}

// ---- the wallet -------------------------------------------------------------------------------

namespace {

struct KeyEntry {
  PublicKey pubkey{};
  bool issued = false;
  std::string label;
};

}  // namespace

struct Wallet::Impl {
  Impl(const fs::path& file, std::unique_ptr<FileLock> file_lock)
      : path(file), lock(std::move(file_lock)), db(file) {}

  fs::path path;
  std::unique_ptr<FileLock> lock;  //!< declared before db: released after SQLite has closed
  Db db;
  std::string name;
  Network network = Network::kMain;
  std::uint32_t coin = 0;
  std::uint32_t account = kAccount;
  WalletId wallet_id{};
  std::optional<CryptoRecord> crypto;
  std::uint32_t keypool_size = kDefaultKeypoolSize;
  std::vector<KeyEntry> keys;                    //!< by index
  std::size_t issued = 0;                        //!< keys [0, issued) are handed out
  std::map<PublicKey, std::uint32_t> index_of;  //!< every key, issued or in the keypool
  // Secrets, present while unlocked (always for an unencrypted wallet).
  SecureBuffer entropy;
  std::optional<ExtendedKey> node;

  void load(std::uint32_t keypool);
  void set_pragmas();
  void load_secrets(SecureBuffer secret);
  void wipe_secrets() {
    node.reset();
    entropy.reset();
  }
  const ExtendedKey& unlocked_node() const {
    if (!node) {
      fail(WalletErrc::kLocked,
           "the wallet is locked: unlock it first with walletpassphrase (or use a keypool address)");
    }
    return *node;
  }
  //! Derives keys until at least max(keypool_size, min_unused) are unused (needs the secrets).
  void top_up(std::size_t min_unused = 0);
  std::uint32_t index_or_fail(const PublicKey& pk) const {
    const auto it = index_of.find(pk);
    if (it == index_of.end()) fail(WalletErrc::kUnknownKey, "this public key does not belong to the wallet");
    return it->second;
  }
  [[noreturn]] void corrupt(std::string_view what) const {
    fail(WalletErrc::kCorrupt, fmt::format("wallet file {} is corrupt: {}", path.string(), what));
  }
  WalletTx read_tx(const Stmt& s) const;
};

void Wallet::Impl::load(std::uint32_t keypool) {
  keypool_size = keypool;
  // Reads only: nothing is written before the file has passed every check.
  try {
    if (Stmt s = db.prepare("PRAGMA quick_check"); s.step() && s.column_text(0) != "ok") {
      corrupt(s.column_text(0));
    }
    if (static_cast<std::uint32_t>(db.query_int("PRAGMA application_id")) != kApplicationId) {
      corrupt("not a cheesechain wallet application id");
    }
    const std::int64_t version = db.query_int("PRAGMA user_version");
    if (version > kFormatVersion) {
      fail(WalletErrc::kNewerVersion,
           fmt::format("wallet file {} has format version {}; this cheesechain reads version {}: use a newer "
                       "cheesed",
                       path.string(), version, kFormatVersion));
    }

    std::map<std::string, std::pair<std::int64_t, Bytes>, std::less<>> meta;  // int or blob/text
    std::map<std::string, int, std::less<>> types;
    SecureBuffer plain;  // the plaintext seed goes straight into guarded memory
    for (Stmt s = db.prepare("SELECT key, value FROM meta"); s.step();) {
      const std::string key = s.column_text(0);
      const ByteSpan blob = s.column_blob_view(1);
      types[key] = s.column_is_int(1) ? 0 : s.column_is_blob(1) ? 1 : s.column_is_text(1) ? 2 : 3;
      if (key == "seed") {
        if (!s.column_is_blob(1) || blob.size() != kWalletEntropySize) corrupt("malformed seed");
        plain = SecureBuffer::copy_of(blob);
        continue;
      }
      meta[key] = {s.column_int(1), Bytes(blob.begin(), blob.end())};
    }
    const auto text = [&](std::string_view key) {
      const auto it = types.find(key);
      if (it == types.end() || it->second != 2) corrupt(fmt::format("meta field \"{}\" missing or not text", key));
      const Bytes& b = meta.find(key)->second.second;
      return std::string(b.begin(), b.end());
    };
    const auto integer = [&](std::string_view key) {
      const auto it = types.find(key);
      if (it == types.end() || it->second != 0) corrupt(fmt::format("meta field \"{}\" missing or not a number", key));
      return meta.find(key)->second.first;
    };
    const auto blob = [&](std::string_view key, auto& out) {
      const auto it = types.find(key);
      const Bytes* b = it != types.end() && it->second == 1 ? &meta.find(key)->second.second : nullptr;
      if (b == nullptr || b->size() != out.size()) corrupt(fmt::format("meta field \"{}\" missing or malformed", key));
      std::copy(b->begin(), b->end(), out.begin());
    };

    if (text("format") != kFormatTag) corrupt("unknown format tag");
    name = text("name");
    const auto net = parse_network(text("network"));
    if (!net) corrupt("unknown network");
    network = *net;
    const std::int64_t coin_value = integer("coin_type");
    const std::int64_t account_value = integer("account");
    if (coin_value < 0 || coin_value >= kHardened || account_value < 0 || account_value >= kHardened) {
      corrupt("derivation path out of range");
    }
    coin = static_cast<std::uint32_t>(coin_value);
    account = static_cast<std::uint32_t>(account_value);
    blob("wallet_id", wallet_id);

    const bool has_plain = types.contains("seed");
    const bool has_crypto = types.contains("kdf");
    if (has_plain == has_crypto) corrupt("it has both or neither of a plain and an encrypted seed");
    if (has_crypto) {
      if (text("kdf") != kKdfName) corrupt("unknown passphrase key derivation");
      CryptoRecord rec;
      const std::int64_t ops = integer("kdf_ops");
      const std::int64_t mem = integer("kdf_mem");
      if (ops <= 0 || mem <= 0) corrupt("Argon2id limits out of range");
      rec.kdf = {static_cast<std::uint64_t>(ops), static_cast<std::size_t>(mem)};
      if (!kdf_in_range(rec.kdf)) corrupt("Argon2id limits out of range");
      blob("kdf_salt", rec.salt);
      blob("master_key_nonce", rec.master_key_nonce);
      blob("master_key", rec.master_key);
      blob("seed_nonce", rec.seed_nonce);
      blob("encrypted_seed", rec.seed);
      crypto = rec;
    }

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
    if (!plain.empty()) load_secrets(std::move(plain));
  } catch (const DbError& e) {
    // While reading a file that claims to be ours, any SQLite failure means it is damaged.
    if (e.is_busy()) throw;
    corrupt(e.what());
  }
  set_pragmas();
}

void Wallet::Impl::set_pragmas() {
  // A rollback journal that is deleted at every commit keeps the wallet one file. (SQLite's
  // locking_mode=EXCLUSIVE is not used: it keeps the journal, with old page images, beside the
  // file; FileLock gives the exclusivity instead.) secure_delete overwrites deleted content.
  db.exec("PRAGMA journal_mode=DELETE");
  db.exec("PRAGMA synchronous=FULL");
  db.exec("PRAGMA secure_delete=ON");
}

void Wallet::Impl::load_secrets(SecureBuffer secret) {
  ExtendedKey derived = chain_node(secret.span(), coin, account);
  // Every stored key must be one this seed derives: a locked wallet hands out keypool keys
  // unchecked, so a key swapped in the file would otherwise receive payments we cannot spend.
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (derive_pubkey(derived, static_cast<std::uint32_t>(i)) != keys[i].pubkey) {
      corrupt(fmt::format("key {} was not derived from its seed", i));
    }
  }
  entropy = std::move(secret);
  node.emplace(std::move(derived));
}

void Wallet::Impl::top_up(std::size_t min_unused) {
  if (!node) return;
  const std::size_t want = std::max<std::size_t>(keypool_size, min_unused);
  if (keys.size() - issued >= want) return;
  const std::size_t first = keys.size();
  const std::size_t count = want - (keys.size() - issued);
  if (first + count > kHardened) fail(WalletErrc::kKeypoolRanOut, "the wallet has used every index");
  std::vector<PublicKey> fresh;
  fresh.reserve(count);
  Txn txn(db);
  Stmt insert = db.prepare("INSERT INTO keys(idx, pubkey) VALUES(?, ?)");
  for (std::size_t i = 0; i < count; ++i) {
    const auto index = static_cast<std::uint32_t>(first + i);
    fresh.push_back(derive_pubkey(*node, index));
    insert.bind(1, std::int64_t{index}).bind(2, fresh.back()).run();
  }
  txn.commit();
  for (const PublicKey& pk : fresh) {
    index_of.emplace(pk, static_cast<std::uint32_t>(keys.size()));
    keys.push_back({pk, false, {}});
  }
}

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

//! Writes a complete wallet to a temporary file, then moves it into place without replacing
//! anything: a crash leaves either no wallet or a whole one.
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
    db.exec("PRAGMA journal_mode=DELETE");
    db.exec("PRAGMA synchronous=FULL");
    db.exec("PRAGMA secure_delete=ON");
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

}  // namespace

std::unique_ptr<Wallet::Impl> Wallet::open_file(const fs::path& file, std::uint32_t keypool) {
  auto file_lock = std::make_unique<FileLock>(file);
  // The SQLite header tells a foreign file from ours before SQLite touches it.
  const std::string header = file_lock->read_header();
  if (header.empty()) fail(WalletErrc::kNotAWallet, fmt::format("{} is empty, not a cheesechain wallet", file.string()));
  if (!header.starts_with(kSqliteMagic)) {
    if (header.size() < kSqliteMagic.size() && kSqliteMagic.starts_with(header)) {
      fail(WalletErrc::kCorrupt, fmt::format("wallet file {} is corrupt: truncated", file.string()));
    }
    fail(WalletErrc::kNotAWallet,
         fmt::format("{} is not a cheesechain wallet: it is not an SQLite database (a damaged file or a "
                     "different kind of file)",
                     file.string()));
  }
  if (header.size() < kSqliteHeaderSize) {
    fail(WalletErrc::kCorrupt, fmt::format("wallet file {} is corrupt: truncated", file.string()));
  }
  if (const std::uint32_t app = be32_at(header, 68); app != kApplicationId) {
    fail(WalletErrc::kNotAWallet,
         app == 0 ? fmt::format("{} is an SQLite database but not a cheesechain wallet", file.string())
                  : fmt::format("{} is an SQLite database of another application (application_id {:#010x}), "
                                "not a cheesechain wallet",
                                file.string(), app));
  }
  const auto version = static_cast<std::int32_t>(be32_at(header, 60));
  if (version > kFormatVersion) {
    fail(WalletErrc::kNewerVersion,
         fmt::format("wallet file {} has format version {}; this cheesechain reads version {}: use a newer cheesed",
                     file.string(), version, kFormatVersion));
  }
  if (version < 1) fail(WalletErrc::kCorrupt, fmt::format("wallet file {} is corrupt: no format version", file.string()));

  auto impl = std::make_unique<Wallet::Impl>(file, std::move(file_lock));
  impl->load(keypool);
  impl->top_up();
  return impl;
}

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
      auto entropy = unseal(master_key.span(), w.crypto->seed_nonce, w.crypto->seed, aad(kSeedPurpose, w.wallet_id));
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
    const CryptoRecord rec = make_crypto_record(w.entropy.span(), passphrase, kdf, w.wallet_id);
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

WalletResult<WalletAddress> Wallet::new_address(std::string_view label) {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    if (w.issued == w.keys.size()) {
      if (!w.node) {
        fail(WalletErrc::kKeypoolRanOut,
             "keypool ran out: unlock the wallet (walletpassphrase) so that it can derive more addresses");
      }
      w.top_up(1);
    }
    const auto index = static_cast<std::uint32_t>(w.issued);
    {
      Txn txn(w.db);
      w.db.prepare("UPDATE keys SET issued = 1, label = ? WHERE idx = ?").bind(1, label).bind(2, std::int64_t{index}).run();
      txn.commit();
    }
    KeyEntry& entry = w.keys[index];
    entry.issued = true;
    entry.label = std::string(label);
    ++w.issued;
    WalletAddress address{index, entry.pubkey, entry.label};  // before top_up() may grow `keys`
    w.top_up();
    return address;
  });
}

std::vector<WalletAddress> Wallet::addresses() const {
  std::vector<WalletAddress> out;
  out.reserve(impl_->issued);
  for (std::size_t i = 0; i < impl_->issued; ++i) {
    const KeyEntry& e = impl_->keys[i];
    out.push_back({static_cast<std::uint32_t>(i), e.pubkey, e.label});
  }
  return out;
}

std::string Wallet::encode(const PublicKey& pubkey) const {
  return encode_address(chain_params(impl_->network).address_hrp, pubkey);
}

std::optional<std::uint32_t> Wallet::key_index(const PublicKey& pubkey) const {
  const auto it = impl_->index_of.find(pubkey);
  if (it == impl_->index_of.end()) return std::nullopt;
  return it->second;
}

WalletStatus Wallet::mark_used(const PublicKey& pubkey) {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    const std::uint32_t index = w.index_or_fail(pubkey);
    if (index >= w.issued) {
      Txn txn(w.db);
      w.db.prepare("UPDATE keys SET issued = 1 WHERE idx <= ? AND issued = 0").bind(1, std::int64_t{index}).run();
      txn.commit();
      for (std::size_t i = w.issued; i <= index; ++i) w.keys[i].issued = true;
      w.issued = std::size_t{index} + 1;
      w.top_up();
    }
    return std::monostate{};
  });
}

std::size_t Wallet::keypool_remaining() const { return impl_->keys.size() - impl_->issued; }

WalletResult<SecretKey> Wallet::key_for(const PublicKey& pubkey) const {
  const Impl& w = *impl_;
  return guarded(w.path, [&] {
    const ExtendedKey& node = w.unlocked_node();
    const std::uint32_t index = w.index_or_fail(pubkey);
    SecretKey key = slip10_child_key(node, index | kHardened).signing_key();
    if (key.public_key() != pubkey) w.corrupt("a stored key does not match its derivation");
    return key;
  });
}

WalletResult<SecretString> Wallet::mnemonic() const {
  const Impl& w = *impl_;
  return guarded(w.path, [&] {
    w.unlocked_node();
    return generate_mnemonic(w.entropy.span());
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

namespace {

void check_record(const WalletTx& tx) {
  if (!money_range(tx.amount) || !money_range(tx.fee)) {
    fail(WalletErrc::kInvalidTransaction, "amount or fee out of range");
  }
  if (tx.height && *tx.height > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    fail(WalletErrc::kInvalidTransaction, "height out of range");
  }
}

void upsert_record(Db& db, const WalletTx& tx) {
  Stmt s = db.prepare(
      "INSERT INTO transactions(txid, direction, height, amount, fee, counterparty, time, own, raw) "
      "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT(txid, direction) DO UPDATE SET height = excluded.height, amount = excluded.amount, "
      "fee = excluded.fee, counterparty = excluded.counterparty, time = excluded.time, "
      "own = coalesce(excluded.own, own), raw = coalesce(excluded.raw, raw)");
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

}  // namespace

WalletStatus Wallet::record_transaction(const WalletTx& tx) {
  return record_transactions(std::span<const WalletTx>(&tx, 1), std::nullopt);
}

WalletStatus Wallet::record_transactions(std::span<const WalletTx> txs, std::optional<WalletBlockRef> synced_to) {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    for (const auto& tx : txs) check_record(tx);
    if (synced_to && synced_to->height > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail(WalletErrc::kInvalidTransaction, "height out of range");
    }
    Txn txn(w.db);
    for (const auto& tx : txs) upsert_record(w.db, tx);
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
    const auto h = static_cast<std::int64_t>(std::min<std::uint64_t>(height, std::numeric_limits<std::int64_t>::max()));
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
  return guarded(w.path, [&] {
    return static_cast<std::uint64_t>(w.db.query_int("SELECT count(*) FROM transactions"));
  });
}

WalletStatus Wallet::remove_transaction(const Hash256& txid) {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    w.db.prepare("DELETE FROM transactions WHERE txid = ?").bind(1, txid.span()).run();
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
    s.bind(1, static_cast<std::int64_t>(std::min(count, kMax))).bind(2, static_cast<std::int64_t>(std::min(skip, kMax)));
    while (s.step()) out.push_back(w.read_tx(s));
    std::reverse(out.begin(), out.end());
    return out;
  });
}

}  // namespace cheese
