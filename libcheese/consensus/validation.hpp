#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "consensus/params.hpp"
#include "primitives/block.hpp"
#include "primitives/transaction.hpp"

namespace cheese {

//! Why a transaction or block was rejected. Precise enough for the network layer to decide
//! whether the sender misbehaved (see is_misbehavior) and whether the block may be marked
//! permanently invalid (see is_permanent_failure).
enum class Reject : std::uint8_t {
  kOk = 0,
  // transactions, context-free
  kTxCoinbaseOutOfPlace,  //!< a coinbase anywhere but first in a block, or relayed alone
  kTxZeroAmount,
  kTxAmountOutOfRange,  //!< amount, fee or amount + fee above the total supply
  kTxBadSignature,
  kTxCoinbaseExtraTooLong,
  // transactions, against account state
  kTxNonceTooLow,   //!< nonce already used: a replay or a double spend
  kTxNonceTooHigh,  //!< an earlier nonce of the sender is not confirmed yet
  kTxInsufficientBalance,
  kTxBalanceOverflow,  //!< the recipient's balance would leave the money range
  // blocks, context-free
  kBlockOversized,
  kBlockHighHash,       //!< proof of work does not meet the header's target
  kBlockBadBitsRange,   //!< bits negative, overflowing or easier than the network's limit
  kBlockBadMerkleRoot,  //!< body does not match the header (possibly mutated in transit)
  kBlockNoTransactions,
  kBlockFirstNotCoinbase,
  kBlockDuplicateTx,
  // blocks, against the chain
  kBlockUnknownParent,
  kBlockParentInvalid,
  kBlockKnownInvalid,  //!< this block was found invalid before
  kBlockBadBits,       //!< not the ASERT-expected target
  kBlockTimeTooOld,    //!< not after the median of the previous 11 blocks
  kBlockTimeTooNew,    //!< more than 2 hours ahead of this node's clock
  kBlockBadCoinbaseHeight,
  kBlockBadCoinbaseAmount,  //!< coinbase must pay exactly subsidy + fees
  kBlockBadGenesis,
};

std::string_view to_string(Reject r);
//! True when only a peer that broke the rules (or relays for one) could have sent this.
bool is_misbehavior(Reject r);
//! False for rejections that could change later or that do not prove the header bad:
//! a future timestamp, an unknown parent, a mutated body (kBlockBadMerkleRoot).
bool is_permanent_failure(Reject r);

//! The outcome of a check: kOk, or a reason with the index of the offending transaction.
struct [[nodiscard]] Verdict {
  Reject reason = Reject::kOk;
  std::size_t tx_index = 0;
  bool ok() const { return reason == Reject::kOk; }
  explicit operator bool() const { return ok(); }
  static Verdict fail(Reject r, std::size_t index = 0) { return {r, index}; }
};

struct PublicKeyHasher {
  std::size_t operator()(const PublicKey& k) const noexcept {
    std::size_t h = 0;
    for (std::size_t i = 0; i < sizeof(std::size_t); ++i) h = (h << 8) | k[i];
    return h;
  }
};

//! Per-account state: a balance and the count of confirmed transfers it sent.
//! An account that was never touched is {0, 0}.
struct Account {
  Amount balance = 0;
  std::uint64_t nonce = 0;
  friend bool operator==(const Account&, const Account&) = default;
};

//! Read-only view of account state that rules are evaluated against.
class AccountView {
 public:
  virtual ~AccountView() = default;
  virtual Account account(const PublicKey& key) const = 0;
};

//! The effect of a block on account state: new values, and the values before (undo data).
struct StateDelta {
  std::unordered_map<PublicKey, Account, PublicKeyHasher> after;
  std::vector<std::pair<PublicKey, Account>> before;  //!< in first-touch order
};

//! A coinbase reward that becomes spendable when a block is connected (delayed credit).
struct MaturingReward {
  PublicKey miner;
  Amount amount;
};

// ---- context-free ----

//! A transfer's own fields (no signature, no state): kind, amount and fee ranges.
Verdict check_transaction(const Transaction& tx);
Verdict check_transaction_signature(const Transaction& tx, const NetworkMagic& magic);
//! Proof of work of a header against its own bits and the network's limit.
Verdict check_header_pow(const BlockHeader& h, const ChainParams& p);
//! Everything about a block that needs no chain: size, PoW, merkle root, coinbase first and
//! only, transaction fields, duplicates. Signatures are checked separately (they are costly).
Verdict check_block(const Block& b, const ChainParams& p);
//! Every transfer's signature, in [begin, end).
Verdict check_block_signatures(const Block& b, const NetworkMagic& magic, std::size_t begin, std::size_t end);

// ---- contextual ----

//! What a header is checked against: where it would sit and what the chain expects there.
struct HeaderContext {
  std::uint64_t height;
  std::int64_t median_time_past;  //!< of the previous median_time_span blocks
  std::uint32_t expected_bits;
};
Verdict check_header_contextual(const BlockHeader& h, const HeaderContext& ctx, std::int64_t now,
                                const ChainParams& p);

//! Applies a block to `view`: first credits `matured` (the coinbase of block height - maturity,
//! so the block's own transfers may spend it), then the transfers in order, checking coinbase
//! height, nonces, balances and that the coinbase pays exactly subsidy + fees.
//! Fills `delta`; on failure `delta` is unspecified.
Verdict connect_block_transactions(const Block& b, std::uint64_t height, const ChainParams& p,
                                   const AccountView& view, std::optional<MaturingReward> matured, StateDelta& delta);

//! The contextual check of one transfer against an account's state: nonce and balance.
Verdict check_transfer_against(const Transaction& tx, const Account& sender);

//! Median of the given timestamps (the last `median_time_span` block times).
std::int64_t median_time(std::span<const std::int64_t> times);

}  // namespace cheese
