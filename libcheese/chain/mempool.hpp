#pragma once

// The pool of unconfirmed transfers. Everything here is node policy, not consensus: a block
// may contain transactions this pool would refuse (a fee below kMinRelayFee, for instance).
// The pool holds only transfers that would be valid on the current tip, possibly as a chain of
// consecutive nonces per sender; out-of-order arrivals (a gap in the nonces) are kept but are
// not "ready" until the gap is filled.

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "consensus/params.hpp"
#include "consensus/validation.hpp"
#include "primitives/amount.hpp"
#include "primitives/block.hpp"
#include "primitives/hash.hpp"
#include "primitives/keys.hpp"
#include "primitives/transaction.hpp"

namespace cheese {

//! Default bound on the serialized bytes of all pooled transactions.
inline constexpr std::size_t kDefaultMempoolMaxBytes = 64 * 1024 * 1024;
//! A sender's pooled nonces lie in [confirmed nonce, confirmed nonce + this).
inline constexpr std::size_t kMaxMempoolTxsPerSender = 25;
//! A transaction that has waited this long is dropped (with its sender's later nonces).
inline constexpr std::int64_t kDefaultMempoolExpirySeconds = 14 * 24 * 3600;
//! Policy, not consensus: the smallest fee (crumbs per transaction) this node relays and pools.
inline constexpr Amount kMinRelayFee = 1000;
//! A replacement (same sender and nonce) must pay at least this much more fee than the original.
inline constexpr Amount kMinReplacementFeeIncrement = 1000;

//! The node's mempool policy knobs.
struct MempoolLimits {
  std::size_t max_bytes = kDefaultMempoolMaxBytes;
  std::size_t max_per_sender = kMaxMempoolTxsPerSender;
  std::int64_t expiry_seconds = kDefaultMempoolExpirySeconds;
  Amount min_relay_fee = kMinRelayFee;
};

//! Why the mempool refused a transaction.
enum class MempoolReject : std::uint8_t {
  kOk,
  kConsensus,             //!< invalid against the tip; MempoolAccept::consensus says why
  kAlreadyKnown,          //!< this txid is already pooled
  kFeeTooLow,             //!< below the minimum relay fee
  kNonceTooFarAhead,      //!< nonce >= confirmed nonce + max_per_sender
  kReplacementFeeTooLow,  //!< same sender and nonce pooled; fee not raised by the increment
  kMempoolFull,           //!< pool full and the fee rate does not beat what would be evicted
  kConflict,              //!< same sender and nonce pooled, and ReplacePolicy::kNever was asked
};

//! Whether a transaction may replace a pooled one of the same sender and nonce.
enum class ReplacePolicy : std::uint8_t {
  //! Relay policy (peers, sendrawtransaction): it replaces when its fee is higher by at least
  //! kMinReplacementFeeIncrement, else kReplacementFeeTooLow.
  kByFee,
  //! Never (kConflict): the wallet's own sends, so that a second payment can never push out a
  //! first one that was acknowledged (a replacement has to be an explicit act).
  kNever,
};

std::string_view to_string(MempoolReject r);

//! The outcome of Mempool::accept.
struct [[nodiscard]] MempoolAccept {
  MempoolReject reason = MempoolReject::kOk;
  Reject consensus = Reject::kOk;
  //! Txids removed because of this transaction: the one it replaced (same sender and nonce) and
  //! any later nonces of the sender that the balance no longer covers.
  std::vector<Hash256> replaced;
  //! Txids evicted to make room (lowest fee rate first, each with its sender's later nonces).
  std::vector<Hash256> evicted;

  bool ok() const { return reason == MempoolReject::kOk; }
};

struct MempoolEntry {
  Transaction tx;
  Hash256 txid;
  std::size_t size;   //!< serialized bytes
  std::int64_t time;  //!< when it was added (seconds, as passed in)
};

//! The set of unconfirmed transfers, indexed by txid, by sender and nonce, by fee rate and by
//! arrival time. Not thread-safe: the node owns it on one thread. Never reads a clock.
class Mempool {
 public:
  explicit Mempool(const ChainParams& params, MempoolLimits limits = {});

  //! The cheap checks of accept() (form, duplicate, fee, nonce window, replacement fee), without
  //! the signature and without adding: run before a signature is checked, so a transaction the
  //! pool would refuse anyway costs no signature check.
  MempoolAccept precheck(const Transaction& tx, const AccountView& view,
                         ReplacePolicy replace = ReplacePolicy::kByFee) const;
  //! Checks tx against the chain (view = confirmed state at the tip) and the pool, and adds it.
  //! Runs check_transaction and, unless signature_checked, the signature check.
  MempoolAccept accept(const Transaction& tx, const AccountView& view, std::int64_t now,
                       bool signature_checked = false, ReplacePolicy replace = ReplacePolicy::kByFee);

  //! After a block is connected (view = state with it): removes its transactions, then drops the
  //! pooled transfers of its senders that became invalid (nonce too low, balance too small).
  void block_connected(const Block& block, const AccountView& view);

  //! After a block is disconnected (view = state without it): its transfers come back, then every
  //! sender is revalidated and the pool is trimmed to max_bytes.
  void block_disconnected(const Block& block, const AccountView& view, std::int64_t now);

  //! After a reorg (view = the state at the new tip), done once for the whole reorg: the
  //! transfers of the `disconnected` blocks (tip first) come back, those of the `connected` blocks
  //! (in order) leave, and only the pooled chains of accounts the reorg changed are checked again:
  //! the senders and recipients of those blocks, plus `also_changed` (the miners whose coinbase
  //! matured at a disconnected height, which only the chain knows). Then the pool is trimmed to
  //! max_bytes. The cost grows with the reorg's transactions, not with the pool.
  void reorganize(const std::vector<Block>& disconnected, const std::vector<Block>& connected,
                  const AccountView& view, std::int64_t now, std::span<const PublicKey> also_changed = {});

  //! Removes transactions older than expiry_seconds and their senders' later nonces; returns how
  //! many transactions were removed in total.
  std::size_t expire(std::int64_t now);

  //! A block template body: highest fee rate first, each sender's nonces in order (only the run of
  //! consecutive nonces from view's account nonce that its balance covers), at most max_bytes.
  std::vector<Transaction> select_for_block(std::size_t max_bytes, const AccountView& view) const;

  bool contains(const Hash256& txid) const;
  const MempoolEntry* find(const Hash256& txid) const;
  //! Every entry, in no particular order.
  std::vector<const MempoolEntry*> entries() const;
  std::size_t size() const { return entries_.size(); }
  //! Serialized bytes of all pooled transactions.
  std::size_t bytes() const { return bytes_; }

  //! The next nonce for a new transaction of `sender` (confirmed nonce + its consecutive pending
  //! ones) and the sum of amount + fee of those pending ones: what a wallet needs.
  std::pair<std::uint64_t, Amount> pending_for(const PublicKey& sender, const AccountView& view) const;

  //! Fee a new transfer needs to enter now: min_relay_fee, or above the lowest pooled fee rate
  //! when the pool has no room for another transfer.
  Amount min_fee() const;
  const MempoolLimits& limits() const { return limits_; }

 private:
  //! Eviction order: lowest fee rate first; among equal rates the newest goes first.
  struct FeeKey {
    Amount fee;
    std::size_t size;
    std::int64_t time;
    Hash256 txid;
  };
  struct FeeOrder {
    bool operator()(const FeeKey& a, const FeeKey& b) const;
  };
  using Nonces = std::map<std::uint64_t, Hash256>;

  static FeeKey fee_key(const MempoolEntry& e) { return {e.tx.fee, e.size, e.time, e.txid}; }

  void insert(const Transaction& tx, const Hash256& id, std::size_t tx_size, std::int64_t now);
  void remove(const Hash256& id);
  //! Removes the sender's pooled nonces >= from; returns how many. Takes the key by value:
  //! callers pass keys that live in entries this removes.
  std::size_t remove_from_nonce(PublicKey sender, std::uint64_t from);
  //! Drops the sender's transfers that are invalid against `account`; returns how many.
  std::size_t revalidate_sender(PublicKey sender, const Account& account);
  //! Evicts lowest fee-rate transactions (with descendants) until bytes() <= max_bytes.
  void trim_to_size();

  const ChainParams& params_;
  MempoolLimits limits_;
  std::unordered_map<Hash256, MempoolEntry, Hash256Hasher> entries_;
  std::unordered_map<PublicKey, Nonces, PublicKeyHasher> by_sender_;
  std::set<FeeKey, FeeOrder> by_fee_;
  std::set<std::pair<std::int64_t, Hash256>> by_time_;
  std::size_t bytes_ = 0;
};

}  // namespace cheese
