#pragma once

// A cheesechain wallet: one SQLite file (docs/wallet.md) holding the 256-bit entropy of a
// 24-word BIP-39 recovery phrase, the public keys derived from it (SLIP-0010, m/44'/coin'/0'/0'/i')
// and the transactions the wallet has seen.
//
// Encrypted wallets store the entropy under a random master key (XChaCha20-Poly1305); the master
// key is wrapped by a key derived from the passphrase with Argon2id, whose parameters are in the
// file. The file then holds neither the entropy, the seed nor the phrase in any encoding.
// UNENCRYPTED wallets store the entropy in PLAINTEXT, as bitcoind's unencrypted wallets store
// their keys: anyone who can read the file can spend the funds.
//
// Secrets in memory live in libsodium's guarded memory and are wiped by lock(). A Wallet is not
// thread-safe. unlock(), encrypt() and change_passphrase() run Argon2id (about 2 s and 256 MiB
// with the MODERATE default): call them off the node's io thread.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "consensus/params.hpp"
#include "primitives/amount.hpp"
#include "primitives/bytes.hpp"
#include "primitives/hash.hpp"
#include "primitives/keys.hpp"
#include "primitives/result.hpp"
#include "primitives/secure_buffer.hpp"

namespace cheese {

enum class WalletErrc {
  kNotFound,            //!< no wallet file at the path
  kAlreadyExists,       //!< create/restore onto an existing file (which is left alone)
  kInvalidName,         //!< a wallet name that cannot be a file name
  kNotAWallet,          //!< the file is not a cheesechain wallet (another file or SQLite database)
  kCorrupt,             //!< a cheesechain wallet file that is damaged or truncated
  kNewerVersion,        //!< written by a newer cheesechain with a format this one cannot read
  kInUse,               //!< another process or connection has the file open
  kLocked,              //!< the operation needs the wallet unlocked (walletpassphrase)
  kWrongPassphrase,     //!< the passphrase does not decrypt the wallet
  kEmptyPassphrase,     //!< a passphrase must not be empty
  kNotEncrypted,        //!< unlock/lock/change_passphrase on an unencrypted wallet
  kAlreadyEncrypted,    //!< encrypt on an encrypted wallet
  kInvalidMnemonic,     //!< restore with a phrase that is not a valid BIP-39 phrase
  kUnknownKey,          //!< a public key that this wallet did not derive
  kKeypoolRanOut,       //!< a locked wallet has no pre-derived address left
  kInvalidTransaction,  //!< a transaction record with an amount out of range
  kBackupFailed,        //!< the backup could not be written
  kOutOfMemory,         //!< not enough memory for Argon2id
  kStorage,             //!< the file could not be read or written (disk full, I/O error, ...)
};

//! A short name of the error kind ("wallet is locked").
std::string_view to_string(WalletErrc e);

//! An error kind and a sentence a person can act on (it names the file where that helps).
struct WalletError {
  WalletErrc code = WalletErrc::kStorage;
  std::string message;
};

template <typename T>
using WalletResult = Result<T, WalletError>;
using WalletStatus = WalletResult<std::monostate>;

//! Argon2id cost, stored in the wallet file when the passphrase is set.
struct KdfLimits {
  std::uint64_t ops = 0;
  std::size_t mem = 0;  //!< bytes

  //! libsodium's MODERATE (3 passes, 256 MiB, about 2 s): the default on main and test.
  static KdfLimits moderate();
  //! libsodium's INTERACTIVE (2 passes, 64 MiB, about 0.3 s): the default on regtest.
  static KdfLimits interactive();
  //! The smallest Argon2id allows (1 pass, 8 KiB): for unit tests only.
  static KdfLimits minimum();
  static KdfLimits for_network(Network network);
  friend bool operator==(const KdfLimits&, const KdfLimits&) = default;
};

//! How many unused addresses a wallet keeps derived ahead (bitcoind's keypool). They let a locked
//! wallet hand out addresses and act as the look-ahead when payments are found on the chain.
inline constexpr std::uint32_t kDefaultKeypoolSize = 100;

struct WalletOptions {
  Network network = Network::kMain;
  KdfLimits kdf = KdfLimits::moderate();
  std::uint32_t keypool_size = kDefaultKeypoolSize;
};

//! An address the wallet has handed out.
struct WalletAddress {
  std::uint32_t index = 0;  //!< the last path element: m/44'/coin'/0'/0'/index'
  PublicKey pubkey{};
  std::string label;
  friend bool operator==(const WalletAddress&, const WalletAddress&) = default;
};

//! How a transaction touched the wallet (listtransactions' "category").
enum class TxDirection : std::uint8_t {
  kReceive = 0,   //!< paid to one of our addresses
  kSend = 1,      //!< paid from one of our addresses
  kGenerate = 2,  //!< a coinbase to one of our addresses
};
std::string_view to_string(TxDirection d);

//! A transaction as the wallet records it. A payment between two of our addresses is two
//! records, a send and a receive, as bitcoind lists it.
struct WalletTx {
  Hash256 txid;
  TxDirection direction = TxDirection::kReceive;
  std::optional<std::uint64_t> height;    //!< nullopt while unconfirmed
  Amount amount = 0;                      //!< crumbs moved, without the fee
  Amount fee = 0;                         //!< paid by us on a send, else 0
  std::optional<PublicKey> counterparty;  //!< recipient of a send, sender of a receive
  std::int64_t time = 0;                  //!< unix seconds (block time or first seen)
  std::optional<PublicKey> own;           //!< our key: the sender of a send, the recipient otherwise
  Bytes raw;                              //!< the serialized transaction (empty when not kept)
  friend bool operator==(const WalletTx&, const WalletTx&) = default;
};

//! How a write to the wallet file survives a power loss (docs/wallet.md, "Durability"). Both are
//! atomic (all of a call's rows or none) and survive a crash of the process (kill -9).
enum class WalletSync : std::uint8_t {
  //! On disk before the call returns (WAL synced at commit, SQLite's synchronous=FULL): what the
  //! node cannot learn again (a send the user was told about, keys handed out, passphrases).
  kDurable,
  //! Not synced at commit (synchronous=NORMAL): a power loss may undo the last such writes,
  //! never half of one and never one before a durable write that came after it. For what the
  //! chain and the mempool tell again: block records with their sync point (the scan from the
  //! stored sync point writes them again), payments seen in the mempool.
  kRederivable,
};

//! The last block whose transactions the wallet has recorded.
struct WalletBlockRef {
  Hash256 hash;
  std::uint64_t height = 0;
  friend bool operator==(const WalletBlockRef&, const WalletBlockRef&) = default;
};

struct CreatedWallet;

class Wallet {
 public:
  //! Creates a new wallet file (mode 0600, parent directory created 0700 if missing) from fresh
  //! random entropy; encrypted when a passphrase is given, and then returned locked. The
  //! recovery phrase is returned here once and never stored.
  static WalletResult<CreatedWallet> create(const std::filesystem::path& file, std::string_view name,
                                            std::optional<std::string_view> passphrase,
                                            const WalletOptions& options = {});
  //! Creates a wallet file from a recovery phrase (any case and spacing). Its keypool holds the
  //! first keypool_size addresses; the chain scan marks the used ones with mark_used().
  static WalletResult<Wallet> restore(const std::filesystem::path& file, std::string_view name,
                                      std::string_view phrase, std::optional<std::string_view> passphrase,
                                      const WalletOptions& options = {});
  //! Opens an existing wallet file, which stays open (and locked against other processes) until
  //! the Wallet is destroyed. Nothing is written to a file that fails the checks.
  static WalletResult<Wallet> open(const std::filesystem::path& file,
                                   std::uint32_t keypool_size = kDefaultKeypoolSize);

  Wallet(Wallet&&) noexcept;
  Wallet& operator=(Wallet&&) noexcept;
  Wallet(const Wallet&) = delete;
  Wallet& operator=(const Wallet&) = delete;
  ~Wallet();

  const std::string& name() const;
  const std::filesystem::path& path() const;
  Network network() const;
  //! The random identifier written at creation (hex).
  std::string id() const;
  //! The path of the key at `index`.
  std::vector<std::uint32_t> key_path(std::uint32_t index) const;

  bool is_encrypted() const;
  //! True for an encrypted wallet without its secrets in memory; never for an unencrypted one.
  bool is_locked() const;
  //! True while secrets (entropy, derivation key) are in memory.
  bool holds_secrets() const;
  //! The Argon2id cost stored in the file (nullopt when not encrypted).
  std::optional<KdfLimits> kdf_limits() const;

  //! Decrypts the secrets into guarded memory and refills the keypool. On an unlocked wallet it
  //! only checks the passphrase. kNotEncrypted, kEmptyPassphrase, kWrongPassphrase.
  WalletStatus unlock(std::string_view passphrase);
  //! Wipes the secrets from memory (no-op when not encrypted or already locked).
  void lock();
  //! Encrypts an unencrypted wallet and locks it. The plaintext entropy is erased from the file
  //! (secure_delete, then VACUUM); earlier backups stay unencrypted.
  WalletStatus encrypt(std::string_view passphrase, KdfLimits kdf = KdfLimits::moderate());
  //! Re-wraps the master key under a new passphrase (the lock state is unchanged); kdf defaults
  //! to the cost already stored.
  WalletStatus change_passphrase(std::string_view old_passphrase, std::string_view new_passphrase,
                                 std::optional<KdfLimits> kdf = std::nullopt);

  //! Hands out the next address from the keypool (and refills it when unlocked).
  WalletResult<WalletAddress> new_address(std::string_view label = {});
  //! Addresses handed out so far, by index.
  std::vector<WalletAddress> addresses() const;
  //! The bech32m address of a key on this wallet's network.
  std::string encode(const PublicKey& pubkey) const;
  //! The index of a key of this wallet, handed out or still in the keypool.
  std::optional<std::uint32_t> key_index(const PublicKey& pubkey) const;
  bool is_mine(const PublicKey& pubkey) const { return key_index(pubkey).has_value(); }
  //! Marks a key (and every earlier one) as handed out, e.g. when the chain shows a payment to a
  //! keypool address of a restored wallet; refills the keypool when unlocked.
  WalletStatus mark_used(const PublicKey& pubkey);
  //! Unused addresses still derived ahead.
  std::size_t keypool_remaining() const;

  //! The signing key of one of our public keys. kLocked, kUnknownKey.
  WalletResult<SecretKey> key_for(const PublicKey& pubkey) const;
  //! The recovery phrase again (needs the wallet unlocked).
  WalletResult<SecretString> mnemonic() const;

  //! A consistent copy of the wallet file (VACUUM INTO a temporary file beside dest, fsync,
  //! rename over dest), mode 0600. dest must not be the wallet's own file.
  WalletStatus backup(const std::filesystem::path& dest) const;

  //! Inserts a transaction record, or updates the record with the same txid and direction
  //! (a confirmation, a reorg back to the mempool).
  WalletStatus record_transaction(const WalletTx& tx);
  //! Inserts or updates several records and, when given, the block the wallet is synced to, in one
  //! SQLite transaction: after a crash either all of a block's records are there or none.
  WalletStatus record_transactions(std::span<const WalletTx> txs, std::optional<WalletBlockRef> synced_to,
                                   WalletSync sync = WalletSync::kDurable);
  //! The block recorded by the last record_transactions(..., synced_to) (nullopt: never synced).
  WalletResult<std::optional<WalletBlockRef>> synced_to() const;
  //! Marks every record above `height` unconfirmed (blocks disconnected by a reorg, or a rescan)
  //! and sets the synced-to block (nullopt: forget it), in one SQLite transaction.
  WalletStatus unconfirm_above(std::uint64_t height, std::optional<WalletBlockRef> synced_to);
  //! The records without a height, oldest first.
  WalletResult<std::vector<WalletTx>> unconfirmed_transactions() const;
  WalletResult<std::uint64_t> transaction_count() const;
  //! Forgets every record of a transaction (e.g. one that can never confirm).
  WalletStatus remove_transaction(const Hash256& txid);
  //! The same for several transactions, in one SQLite transaction.
  WalletStatus remove_transactions(std::span<const Hash256> txids, WalletSync sync = WalletSync::kRederivable);
  //! The records of one transaction (one per direction).
  WalletResult<std::vector<WalletTx>> find_transaction(const Hash256& txid) const;
  //! As listtransactions: skip the `skip` most recent records, take the next `count`, and return
  //! them oldest first (ordered by time, then by when they were recorded).
  WalletResult<std::vector<WalletTx>> list_transactions(std::size_t count, std::size_t skip = 0) const;

 private:
  struct Impl;
  explicit Wallet(std::unique_ptr<Impl> impl);
  //! Opens and checks a wallet file; nothing is written unless every check passes.
  static std::unique_ptr<Impl> open_file(const std::filesystem::path& file, std::uint32_t keypool_size);
  std::unique_ptr<Impl> impl_;
};

struct CreatedWallet {
  Wallet wallet;
  SecretString mnemonic;  //!< the 24 words, to be shown once and written down
};

//! The file of wallet `name` in `wallets_dir`: `<name>.wallet`. A name is 1 to 64 characters of
//! letters, digits, '_', '-' and '.', not starting with '.'.
WalletResult<std::filesystem::path> wallet_file_path(const std::filesystem::path& wallets_dir, std::string_view name);

}  // namespace cheese
