#include "consensus/validation.hpp"

#include <algorithm>

#include "consensus/pow.hpp"

namespace cheese {

std::string_view to_string(Reject r) {
  switch (r) {
    case Reject::kOk: return "ok";
    case Reject::kTxCoinbaseOutOfPlace: return "tx-coinbase-out-of-place";
    case Reject::kTxZeroAmount: return "tx-zero-amount";
    case Reject::kTxAmountOutOfRange: return "tx-amount-out-of-range";
    case Reject::kTxBadSignature: return "tx-bad-signature";
    case Reject::kTxCoinbaseExtraTooLong: return "tx-coinbase-extra-too-long";
    case Reject::kTxNonceTooLow: return "tx-nonce-too-low";
    case Reject::kTxNonceTooHigh: return "tx-nonce-too-high";
    case Reject::kTxInsufficientBalance: return "tx-insufficient-balance";
    case Reject::kTxBalanceOverflow: return "tx-balance-overflow";
    case Reject::kBlockOversized: return "block-oversized";
    case Reject::kBlockHighHash: return "block-high-hash";
    case Reject::kBlockBadBitsRange: return "block-bad-bits-range";
    case Reject::kBlockBadMerkleRoot: return "block-bad-merkle-root";
    case Reject::kBlockNoTransactions: return "block-no-transactions";
    case Reject::kBlockFirstNotCoinbase: return "block-first-not-coinbase";
    case Reject::kBlockDuplicateTx: return "block-duplicate-tx";
    case Reject::kBlockUnknownParent: return "block-unknown-parent";
    case Reject::kBlockParentInvalid: return "block-parent-invalid";
    case Reject::kBlockKnownInvalid: return "block-known-invalid";
    case Reject::kBlockBadBits: return "block-bad-bits";
    case Reject::kBlockTimeTooOld: return "block-time-too-old";
    case Reject::kBlockTimeTooNew: return "block-time-too-new";
    case Reject::kBlockBadCoinbaseHeight: return "block-bad-coinbase-height";
    case Reject::kBlockBadCoinbaseAmount: return "block-bad-coinbase-amount";
    case Reject::kBlockBadGenesis: return "block-bad-genesis";
  }
  return "unknown";
}

bool is_misbehavior(Reject r) {
  switch (r) {
    case Reject::kOk:
    // A peer may relay a transaction that was valid on its tip but not on ours.
    case Reject::kTxNonceTooLow:
    case Reject::kTxNonceTooHigh:
    case Reject::kTxInsufficientBalance:
    case Reject::kTxBalanceOverflow:
    // Clocks differ, and a peer may know a parent we have not seen yet.
    case Reject::kBlockTimeTooNew:
    case Reject::kBlockUnknownParent: return false;
    default: return true;
  }
}

bool is_permanent_failure(Reject r) {
  switch (r) {
    case Reject::kOk:
    case Reject::kBlockTimeTooNew:
    case Reject::kBlockUnknownParent:
    // The header commits to the body only through the merkle root: a body that does not match
    // it proves nothing about the header. Every later body check is of the committed body.
    case Reject::kBlockBadMerkleRoot: return false;
    default: return true;
  }
}

Verdict check_transaction(const Transaction& tx) {
  if (tx.is_coinbase()) return Verdict::fail(Reject::kTxCoinbaseOutOfPlace);
  if (tx.amount == 0) return Verdict::fail(Reject::kTxZeroAmount);
  if (!money_range(tx.amount) || !money_range(tx.fee) || !add_amounts(tx.amount, tx.fee)) {
    return Verdict::fail(Reject::kTxAmountOutOfRange);
  }
  return {};
}

Verdict check_transaction_signature(const Transaction& tx, const NetworkMagic& magic) {
  if (!verify_transaction_signature(tx, magic)) return Verdict::fail(Reject::kTxBadSignature);
  return {};
}

Verdict check_header_pow(const BlockHeader& h, const ChainParams& p) {
  const auto target = decode_compact(h.bits);
  if (target.negative || target.overflow || target.target.is_zero() || target.target > p.pow_limit) {
    return Verdict::fail(Reject::kBlockBadBitsRange);
  }
  if (!check_proof_of_work(block_hash(h), h.bits, p.pow_limit)) {
    return Verdict::fail(Reject::kBlockHighHash);
  }
  return {};
}

Verdict check_block(const Block& b, const ChainParams& p) {
  if (auto v = check_header_pow(b.header, p); !v) return v;
  std::vector<Hash256> ids;
  ids.reserve(b.txs.size());
  for (const auto& tx : b.txs) ids.push_back(txid(tx));
  if (merkle_root(ids) != b.header.merkle_root) return Verdict::fail(Reject::kBlockBadMerkleRoot);
  if (b.txs.empty()) return Verdict::fail(Reject::kBlockNoTransactions);
  if (serialized_size(b) > kMaxBlockSize) return Verdict::fail(Reject::kBlockOversized);

  if (!b.txs[0].is_coinbase()) return Verdict::fail(Reject::kBlockFirstNotCoinbase);
  if (b.txs[0].extra.size() > kMaxCoinbaseExtra) return Verdict::fail(Reject::kTxCoinbaseExtraTooLong);
  if (!money_range(b.txs[0].amount)) return Verdict::fail(Reject::kBlockBadCoinbaseAmount);
  for (std::size_t i = 1; i < b.txs.size(); ++i) {
    if (auto v = check_transaction(b.txs[i]); !v) return Verdict::fail(v.reason, i);
  }
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
    return Verdict::fail(Reject::kBlockDuplicateTx);
  }
  return {};
}

Verdict check_block_signatures(const Block& b, const NetworkMagic& magic, std::size_t begin, std::size_t end) {
  end = std::min(end, b.txs.size());
  for (std::size_t i = std::max<std::size_t>(begin, 1); i < end; ++i) {
    if (auto v = check_transaction_signature(b.txs[i], magic); !v) return Verdict::fail(v.reason, i);
  }
  return {};
}

Verdict check_header_contextual(const BlockHeader& h, const HeaderContext& ctx, std::int64_t now,
                                const ChainParams& p) {
  if (h.bits != ctx.expected_bits) return Verdict::fail(Reject::kBlockBadBits);
  if (std::int64_t{h.time} <= ctx.median_time_past) return Verdict::fail(Reject::kBlockTimeTooOld);
  if (std::int64_t{h.time} > now + p.max_future_block_time) {
    return Verdict::fail(Reject::kBlockTimeTooNew);
  }
  return {};
}

Verdict check_transfer_against(const Transaction& tx, const Account& sender) {
  if (tx.nonce < sender.nonce) return Verdict::fail(Reject::kTxNonceTooLow);
  if (tx.nonce > sender.nonce) return Verdict::fail(Reject::kTxNonceTooHigh);
  // check_transaction guarantees amount + fee is in range.
  if (sender.balance < tx.amount + tx.fee) return Verdict::fail(Reject::kTxInsufficientBalance);
  return {};
}

namespace {

class DeltaView {
 public:
  DeltaView(const AccountView& base, StateDelta& delta) : base_(base), delta_(delta) {}
  Account& get(const PublicKey& key) {
    auto it = delta_.after.find(key);
    if (it != delta_.after.end()) return it->second;
    const Account before = base_.account(key);
    delta_.before.emplace_back(key, before);
    return delta_.after.emplace(key, before).first->second;
  }

 private:
  const AccountView& base_;
  StateDelta& delta_;
};

}  // namespace

Verdict connect_block_transactions(const Block& b, std::uint64_t height, const ChainParams& p,
                                   const AccountView& view, std::optional<MaturingReward> matured,
                                   StateDelta& delta) {
  delta = {};
  if (b.txs.empty() || !b.txs[0].is_coinbase()) return Verdict::fail(Reject::kBlockFirstNotCoinbase);
  const Transaction& coinbase = b.txs[0];
  if (coinbase.nonce != height) return Verdict::fail(Reject::kBlockBadCoinbaseHeight);

  DeltaView state(view, delta);
  // The matured reward is credited first, so the block's own transfers may already spend it.
  if (matured && matured->amount > 0) {
    Account& miner = state.get(matured->miner);
    auto credited = add_amounts(miner.balance, matured->amount);
    if (!credited) return Verdict::fail(Reject::kTxBalanceOverflow);
    miner.balance = *credited;
  }
  Amount fees = 0;
  for (std::size_t i = 1; i < b.txs.size(); ++i) {
    const Transaction& tx = b.txs[i];
    if (tx.is_coinbase()) return Verdict::fail(Reject::kTxCoinbaseOutOfPlace, i);
    Account& sender = state.get(tx.sender);
    if (auto v = check_transfer_against(tx, sender); !v) return Verdict::fail(v.reason, i);
    sender.balance -= tx.amount + tx.fee;
    sender.nonce += 1;
    Account& recipient = state.get(tx.recipient);
    auto credited = add_amounts(recipient.balance, tx.amount);
    if (!credited) return Verdict::fail(Reject::kTxBalanceOverflow, i);
    recipient.balance = *credited;
    auto new_fees = add_amounts(fees, tx.fee);
    if (!new_fees) return Verdict::fail(Reject::kTxAmountOutOfRange, i);
    fees = *new_fees;
  }
  auto expected = add_amounts(block_subsidy(height, p), fees);
  if (!expected || coinbase.amount != *expected) return Verdict::fail(Reject::kBlockBadCoinbaseAmount);

  return {};
}

std::int64_t median_time(std::span<const std::int64_t> times) {
  if (times.empty()) return 0;
  std::vector<std::int64_t> sorted(times.begin(), times.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted[sorted.size() / 2];
}

}  // namespace cheese
