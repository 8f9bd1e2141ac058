#pragma once

// The node's wallets: which are loaded, how RPC requests find theirs, how they follow the chain
// and the mempool, and how they send. Runs on the io thread; Argon2id (unlock, encrypt, change
// of passphrase) runs on a thread of its own while the wallet is marked busy.
//
// One class, several files: loading and RPC lookup in wallet_manager.cpp, settings.json in
// wallet_settings.cpp, following the chain and the mempool in wallet_scan.cpp, balances in
// wallet_balance.cpp, sending in wallet_send.cpp, passphrases and the relock timer in
// wallet_lock.cpp.

#include <coroutine>

#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "chain/mempool.hpp"
#include "daemon/rpc/server.hpp"
#include "daemon/wallet/wallet_thread.hpp"
#include "io/queued_lock.hpp"
#include "io/task_group.hpp"
#include "wallet/wallet.hpp"

namespace cheese {

namespace asio = boost::asio;
class BlockProcessor;
class Chainstate;
class Mempool;
struct NodeContext;
struct ProcessBlockResult;

//! Default fee of a wallet payment: ten times the minimum relay fee (0.0001 CHZ), or more when
//! the mempool is full and asks for more (docs/wallet.md, "Fees").
inline constexpr Amount kDefaultWalletFee = 10 * kMinRelayFee;
//! The highest fee a wallet pays without being told to: a guard against typing 10 for 0.0010.
inline constexpr Amount kMaxWalletFee = 100'000'000;  // 1 CHZ
//! walletpassphrase timeouts are clamped to this, as bitcoind does (about 3 years).
inline constexpr std::int64_t kMaxUnlockSeconds = 100'000'000;
//! How many wallets a node loads at once.
inline constexpr std::size_t kMaxLoadedWallets = 32;
//! How long an RPC waits for a wallet busy with Argon2id before answering -4.
inline constexpr auto kWalletBusyWait = std::chrono::seconds(60);
//! A chain scan (a new, restored or loaded wallet far behind the tip, rescanblockchain) runs on the
//! io thread in slices of at most this long, so RPC and P2P go on between slices.
inline constexpr auto kWalletScanSlice = std::chrono::milliseconds(100);
//! Mempool transactions that touch a wallet are written to its file together, at most this long
//! after the first of them entered the mempool: one SQLite commit for a burst of
//! sendrawtransaction, not one each. Wallet RPCs write what is waiting before they read.
inline constexpr auto kWalletFlushDelay = std::chrono::milliseconds(10);

//! Sends of one wallet that may wait behind the one in progress. Choosing the nonce, signing,
//! entering the mempool and recording the send happen one send at a time per wallet (a send that
//! read the same next nonce as another would conflict with it); the others wait their turn, in
//! order, without blocking the io thread. A send beyond this many waiting is refused at once with
//! RPC error -4 (docs/rpc.md, "Sends under concurrency"). Other wallets are not held up.
inline constexpr std::size_t kMaxQueuedWalletSends = 32;

//! A transaction the wallet has recorded as unconfirmed: what is needed to tell, without reading
//! the file, whether it can still confirm and whether it is ours to offer the mempool again.
struct WalletPending {
  PublicKey sender{};       //!< zero for a coinbase (an orphaned reward)
  std::uint64_t nonce = 0;  //!< the transfer's nonce
  bool coinbase = false;
  bool send = false;  //!< sent by one of the wallet's addresses (resubmitted after a restart or reorg)
};

//! The records of one mempool transaction waiting for the next write (kWalletFlushDelay).
struct WalletQueuedTx {
  Hash256 txid;
  WalletPending info;
  std::vector<WalletTx> records;
};

struct LoadedWallet {
  LoadedWallet(Wallet w, asio::io_context& io)
      : wallet(std::move(w)), relock(io), send_lock(io.get_executor(), kMaxQueuedWalletSends) {}
  Wallet wallet;
  asio::steady_timer relock;  //!< fires walletlock after walletpassphrase's timeout
  //! Held from choosing the nonces of a send (or a resubmission) until it is in the mempool and
  //! recorded: the wallet's submissions run one at a time (kMaxQueuedWalletSends wait at most).
  io::QueuedLock send_lock;
  bool resubmit_waiting = false;    //!< a resubmission waits for send_lock (one is enough)
  std::int64_t unlocked_until = 0;  //!< unix seconds; 0 while locked
  bool busy = false;                //!< Argon2id runs on another thread: hands off
  bool needs_sync = false;          //!< chain or mempool changed while busy or scanning
  bool unloaded = false;
  bool scanning = false;        //!< a chain scan continues in slices (kWalletScanSlice)
  std::uint64_t scan_from = 0;  //!< first height of that scan
  //! The last block scanned (the stored sync point may be older: blocks without the wallet's
  //! transactions are not written one by one while more blocks are queued).
  std::optional<WalletBlockRef> scanned;
  std::chrono::steady_clock::time_point scan_started;

  // The mempool bookkeeping (wallet_mempool.cpp), so that a block costs what it changes for the
  // wallet, not what waits in the mempool.
  //! Every transaction with an unconfirmed record, and those by sender (to drop the ones a
  //! block's nonces made impossible). Read from the file once, then kept up to date.
  std::unordered_map<Hash256, WalletPending, Hash256Hasher> pending;
  std::unordered_map<PublicKey, std::unordered_set<Hash256, Hash256Hasher>, PublicKeyHasher> pending_by_sender;
  std::unordered_set<Hash256, Hash256Hasher> pending_sends;  //!< those sent by the wallet
  bool pending_loaded = false;
  //! The whole mempool has been looked at since the wallet was loaded, rescanned or busy; after
  //! that, each transaction is seen once, as it enters.
  bool mempool_recorded = false;
  std::vector<WalletQueuedTx> queued;
  std::unordered_set<Hash256, Hash256Hasher> queued_ids;
};

struct WalletBalances {
  Amount confirmed = 0;    //!< credited on the active chain (matured coinbases included)
  Amount pending_out = 0;  //!< amount + fee of our transfers waiting in the mempool
  Amount pending_in = 0;   //!< payments to us waiting in the mempool
  Amount immature = 0;     //!< coinbases to us not yet mature
  Amount trusted() const { return confirmed > pending_out ? confirmed - pending_out : 0; }
};

struct WalletSendResult {
  std::vector<Hash256> txids;
  Amount fee = 0;  //!< total over all transactions
  std::vector<PublicKey> senders;
};

class WalletManager {
 public:
  //! Where the wallets live and which to load at start (-wallet), besides settings.json's.
  struct Options {
    std::filesystem::path datadir;  //!< the network's data directory (wallets/ and settings.json)
    std::vector<std::string> wallets;
  };
  WalletManager(asio::io_context& io, Options options, Chainstate& chain, Mempool& mempool, BlockProcessor& blocks);
  ~WalletManager();
  WalletManager(const WalletManager&) = delete;
  WalletManager& operator=(const WalletManager&) = delete;

  //! Loads the -wallet wallets (a missing one is an error: throws) and those of settings.json
  //! (a failure is logged), and subscribes to chain and mempool changes.
  void start();
  //! Closes every wallet (lock timers cancelled, secrets wiped) and cancels the background work
  //! (chain scans, resubmissions).
  void stop();

  std::filesystem::path dir() const;
  std::vector<std::string> loaded() const;
  //! Wallet files in dir() (listwalletdir).
  std::vector<std::string> on_disk() const;

  //! The wallet an RPC request means: /wallet/<name>, else the only loaded one; waits while it
  //! is busy. RpcError -18 (not loaded / none loaded), -19 (several loaded, none named).
  //! `while_scanning`: also during a chain scan (getwalletinfo reports its progress); other
  //! methods get -4 until it has finished.
  asio::awaitable<std::shared_ptr<LoadedWallet>> for_request(const RpcRequest& r, bool while_scanning = false);
  //! As for_request, but nullptr when no wallet is loaded or the choice is ambiguous.
  std::shared_ptr<LoadedWallet> default_wallet(const RpcRequest& r) const;

  struct Created {
    std::shared_ptr<LoadedWallet> entry;
    SecretString mnemonic;
  };
  // Passphrases and recovery phrases arrive in guarded memory (RpcRequest::take_secret) and are
  // wiped when these calls end (docs/wallet.md, "Secrets in memory").
  asio::awaitable<Created> create(std::string name, std::optional<SecretString> passphrase, bool load_on_startup);
  asio::awaitable<std::shared_ptr<LoadedWallet>> restore(std::string name, SecretString phrase,
                                                         std::optional<SecretString> passphrase,
                                                         bool load_on_startup);
  std::shared_ptr<LoadedWallet> load(const std::string& name, bool load_on_startup);
  asio::awaitable<void> unload(const std::string& name, bool remove_from_startup);

  //! Records what the active chain and the mempool hold for this wallet since it last synced
  //! (the whole chain for a new or restored wallet), and handles reorgs. A scan that does not
  //! finish within kWalletScanSlice goes on in slices (LoadedWallet::scanning); wallet RPCs other
  //! than getwalletinfo are refused meanwhile (-4), as bitcoind does during a rescan.
  void sync(const std::shared_ptr<LoadedWallet>& e);
  //! Scans the active chain again from `from_height` (rescanblockchain): records above it become
  //! unconfirmed, then the blocks are scanned as in sync(). Returns once the scan has finished,
  //! with the last height scanned.
  asio::awaitable<std::uint64_t> rescan(std::shared_ptr<LoadedWallet> e, std::uint64_t from_height);
  //! Waits until the wallet's chain scan (if any) has finished; throws if it was unloaded.
  asio::awaitable<void> wait_scanned(std::shared_ptr<LoadedWallet> e);
  //! Tests shorten the slices (kWalletScanSlice) to see a short chain scanned in many of them.
  void set_scan_slice_for_testing(std::chrono::steady_clock::duration d) { scan_slice_ = d; }

  WalletBalances balances(const LoadedWallet& e) const;
  //! Balance (confirmed), pending spend and next nonce of each handed-out address.
  struct AddressState {
    WalletAddress address;
    Amount balance = 0;
    Amount pending_out = 0;
    std::uint64_t next_nonce = 0;
    //! How many more transactions the mempool takes from it before a block (its per-sender
    //! window, kMaxMempoolTxsPerSender, less those waiting).
    std::uint64_t room = 0;
  };
  std::vector<AddressState> address_states(const LoadedWallet& e) const;
  //! Where `mine`/`setgenerate` pay by default: the wallet's first address (handed out now if
  //! there is none), so rewards add up in one account.
  PublicKey mining_address(LoadedWallet& e);

  //! Signs and submits a payment. One transaction from the address that covers amount + fee;
  //! when none does and `split` is set, several from the largest balances down, each paying
  //! `fee`. Runs under e->send_lock (after the wallet's earlier sends; -4 when
  //! kMaxQueuedWalletSends already wait) and never replaces a pooled transaction.
  //! RpcError -6 insufficient funds, -13 locked, -26 refused by the mempool.
  //! `to` is taken by value: the coroutine outlives its caller's temporaries.
  asio::awaitable<WalletSendResult> send(std::shared_ptr<LoadedWallet> e, PublicKey to, Amount amount,
                                         std::optional<Amount> fee, bool split);
  //! The fee a payment pays when none is given.
  Amount default_fee() const;

  asio::awaitable<void> unlock(std::shared_ptr<LoadedWallet> e, SecretString passphrase, std::int64_t seconds);
  //! Wipes and frees every decrypted secret of the wallet (Wallet::lock).
  void lock(LoadedWallet& e);
  asio::awaitable<void> encrypt(std::shared_ptr<LoadedWallet> e, SecretString passphrase);
  asio::awaitable<void> change_passphrase(std::shared_ptr<LoadedWallet> e, SecretString old_passphrase,
                                          SecretString new_passphrase);

 private:
  //! Waits for the relock timer, then locks the wallet (later, if it is busy at that moment).
  void arm_relock(const std::shared_ptr<LoadedWallet>& e);
  void chain_changed();
  void transaction_added(const Transaction& tx, const Hash256& id);
  //! Queues the records of a mempool transaction that touches the wallet (not already pending or
  //! queued); true if it does. `force`: also when already pending (to write it again, durably).
  bool enqueue(LoadedWallet& e, const Transaction& tx, const Hash256& id, std::int64_t time,
               bool force = false) const;
  //! Writes the queued records in one SQLite transaction; false if they could not be written
  //! (nothing is written while the wallet is busy).
  bool flush_queued(LoadedWallet& e, WalletSync sync = WalletSync::kRederivable) const;
  //! Arms the flush timer (kWalletFlushDelay) unless it is armed.
  void schedule_flush();
  //! Reads the unconfirmed records into LoadedWallet::pending (once, and after a reorg or rescan).
  void load_pending(LoadedWallet& e) const;
  //! Records every mempool transaction that touches the wallet and is not recorded yet.
  void record_mempool(LoadedWallet& e);
  //! Drops unconfirmed records that can never confirm (not pooled, and their sender's nonce is
  //! used on chain); only those of `senders` when given.
  void drop_conflicted(LoadedWallet& e, const std::unordered_set<PublicKey, PublicKeyHasher>* senders = nullptr);
  //! Offers our unconfirmed transfers that the mempool lacks to it again, oldest first, never
  //! replacing a pooled one; the caller holds e->send_lock. Returns the senders offered.
  asio::awaitable<std::unordered_set<PublicKey, PublicKeyHasher>> offer_pending_sends(
      std::shared_ptr<LoadedWallet> e);
  //! offer_pending_sends under send_lock (after a restart or a reorg), then drops what can no
  //! longer confirm.
  asio::awaitable<void> resubmit(std::shared_ptr<LoadedWallet> e);
  //! Starts resubmit(e) in tasks_.
  void spawn_resubmit(const std::shared_ptr<LoadedWallet>& e);
  //! Checks a name for createwallet/restorewallet/loadwallet: valid, not loaded, room for one more,
  //! no empty passphrase. Returns the wallet's file.
  std::filesystem::path new_wallet_path(const std::string& name, const std::optional<SecretString>& passphrase) const;
  //! Runs fn on the Argon2id thread with the wallet marked busy.
  template <typename Fn>
  asio::awaitable<WalletStatus> off_thread(std::shared_ptr<LoadedWallet> e, Fn fn);
  std::shared_ptr<LoadedWallet> attach(Wallet w, bool load_on_startup);
  asio::awaitable<void> wait_idle(std::shared_ptr<LoadedWallet> e);
  //! Scans blocks after the sync point until the tip or `deadline`; true when it reached the tip
  //! (then the mempool is recorded too).
  bool scan_slice(LoadedWallet& e, std::chrono::steady_clock::time_point deadline);
  asio::awaitable<void> continue_scan(std::shared_ptr<LoadedWallet> e);

  asio::io_context& io_;
  Options node_options_;
  Chainstate& chain_;
  Mempool& mempool_;
  BlockProcessor& blocks_;
  std::map<std::string, std::shared_ptr<LoadedWallet>, std::less<>> wallets_;
  WalletKdfThread kdf_thread_;
  //! Chain scans and resubmissions; each also ends by itself once its wallet is unloaded.
  io::TaskGroup tasks_;
  std::chrono::steady_clock::duration scan_slice_ = kWalletScanSlice;
  asio::steady_timer flush_timer_;
  bool flush_armed_ = false;
  //! Expires with the manager: a flush already due when it is destroyed does nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  WalletOptions options_;
  bool started_ = false;
};

//! Throws the RpcError for a wallet error (its code as bitcoind answers, its message).
[[noreturn]] void throw_wallet_error(const WalletError& e);
template <typename T>
T wallet_value(WalletResult<T> r) {
  if (!r) throw_wallet_error(r.error());
  return std::move(*r);
}

void register_wallet_rpcs(NodeContext& node, RpcTable& table);
//! The wallet fields gettransaction adds for a transaction the request's wallet knows (net,
//! wallet_fee, details); empty when no wallet applies.
json::object wallet_transaction_fields(NodeContext& node, const RpcRequest& r, const Hash256& id);
//! gettransaction of a transaction only the wallet knows (neither pooled nor on the active chain):
//! the stored transaction with confirmations 0 and the wallet fields; nullopt when unknown.
std::optional<json::object> wallet_only_transaction(NodeContext& node, const RpcRequest& r, const Hash256& id);

}  // namespace cheese
