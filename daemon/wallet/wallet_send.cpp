// Sending: the checks of `send`/`sendtoaddress`, the payment built by the wallet library's pure
// builder (libcheese/wallet/payment.hpp: which addresses pay, signed transfers), and submission
// to the mempool.

#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "daemon/rpc/util.hpp"
#include "daemon/validation/block_processor.hpp"
#include "daemon/wallet/wallet_manager.hpp"
#include "util/log.hpp"
#include "util/time.hpp"
#include "wallet/payment.hpp"

namespace cheese {

namespace {

//! What each address can spend now: confirmed balance minus its pending spends.
std::vector<SpendableAddress> spendable_addresses(const std::vector<WalletManager::AddressState>& states) {
  std::vector<SpendableAddress> out;
  out.reserve(states.size());
  for (const auto& s : states) {
    out.push_back(
        {s.address.pubkey, s.balance > s.pending_out ? s.balance - s.pending_out : 0, s.next_nonce, s.room});
  }
  return out;
}

//! The RpcError of a payment the builder refuses: -6 for want of funds, the wallet error's own
//! code for a key (-13 locked, ...).
[[noreturn]] void throw_payment_error(const PaymentError& e, std::size_t window) {
  switch (e.code) {
    case PaymentErrc::kInvalidAmount: throw RpcError(kRpcTypeError, "Invalid amount: it must be above 0");
    case PaymentErrc::kNoSingleSource:
      throw RpcError(kRpcInsufficientFunds,
                     fmt::format("Insufficient funds in one address: the largest holds {} CHZ spendable, the payment "
                                 "needs {} CHZ (amount + fee); `send` can split it over several addresses",
                                 format_amount(e.largest), format_amount(e.needed)));
    case PaymentErrc::kInsufficientFunds:
      throw RpcError(kRpcInsufficientFunds,
                     fmt::format("Insufficient funds: {} CHZ spendable (confirmed, minus pending spends), "
                                 "{} CHZ needed (amount + fee)",
                                 format_amount(e.spendable), format_amount(e.needed)));
    case PaymentErrc::kSenderWindowFull:
      throw RpcError(kRpcInsufficientFunds,
                     fmt::format("Too many payments waiting: the wallet's funded addresses that could pay {} CHZ "
                                 "(amount + fee) already have {} transactions each waiting in the mempool, its limit "
                                 "per sending address. Wait for the next block to confirm some, or keep funds on "
                                 "more addresses of the wallet (send to a new address, getnewaddress) so that more "
                                 "payments can wait at once",
                                 format_amount(e.needed), window));
    case PaymentErrc::kKey:
      if (e.key_error) throw_wallet_error(*e.key_error);
      break;
    case PaymentErrc::kDuplicateSource: break;
  }
  throw RpcError(kRpcWalletError, fmt::format("cannot build the payment: {}", to_string(e.code)));
}

//! Offers the signed transactions to the mempool in order; -26 at the first refused, naming
//! those already sent.
asio::awaitable<WalletSendResult> submit_payment(BlockProcessor& blocks, const ChainParams& params,
                                                 std::vector<Transaction> txs, Amount fee) {
  WalletSendResult out;
  for (auto& tx : txs) {
    const Hash256 id = txid(tx);
    const PublicKey sender = tx.sender;
    const std::uint64_t nonce = tx.nonce;
    // Never a replacement: a pooled transaction with this nonce is not ours to push out.
    const MempoolAccept a = co_await blocks.submit_transaction(std::move(tx), 0, ReplacePolicy::kNever);
    if (!a.ok()) {
      std::string why = std::string(to_string(a.reason));
      if (a.reason == MempoolReject::kConsensus) why = std::string(to_string(a.consensus));
      if (a.reason == MempoolReject::kConflict) {
        why += fmt::format(": {} already has a transaction with nonce {} waiting, which the wallet does not replace",
                           address_of(sender, params), nonce);
      }
      std::string sent_ids;
      for (const auto& done : out.txids) sent_ids += (sent_ids.empty() ? "" : ", ") + done.to_display_hex();
      throw RpcError(kRpcVerifyRejected,
                     out.txids.empty()
                         ? fmt::format("the mempool refused the transaction: {}", why)
                         : fmt::format("the mempool refused transaction {} of {} ({}); these were sent: {}",
                                       out.txids.size() + 1, txs.size(), why, sent_ids));
    }
    out.txids.push_back(id);
    out.fee += fee;
    out.senders.push_back(sender);
  }
  co_return out;
}

}  // namespace

asio::awaitable<WalletSendResult> WalletManager::send(std::shared_ptr<LoadedWallet> e, PublicKey to, Amount amount,
                                                      std::optional<Amount> fee_param, bool split) {
  if (amount == 0 || !money_range(amount)) throw RpcError(kRpcTypeError, "Invalid amount: it must be above 0");
  if (fee_param && *fee_param > kMaxWalletFee) {
    throw RpcError(kRpcInvalidParameter,
                   fmt::format("fee {} CHZ is above the wallet's limit of {} CHZ per transaction",
                               format_amount(*fee_param), format_amount(kMaxWalletFee)));
  }
  // One send at a time per wallet, from reading the next nonces to recording the txids: a send
  // that suspends (signature check, file write) cannot be overtaken by one that reads the same
  // nonce.
  const auto turn = co_await e->send_lock.lock();
  if (!turn) {
    throw RpcError(kRpcWalletError,
                   fmt::format("Too many sends waiting for wallet \"{}\": {} already wait behind the one in progress "
                               "(the limit per wallet); retry once some have returned",
                               e->wallet.name(), kMaxQueuedWalletSends));
  }
  co_await wait_idle(e);
  const Amount fee = fee_param ? *fee_param : default_fee();
  if (fee > kMaxWalletFee) {
    throw RpcError(kRpcInvalidParameter,
                   fmt::format("fee {} CHZ is above the wallet's limit of {} CHZ per transaction", format_amount(fee),
                               format_amount(kMaxWalletFee)));
  }
  if (fee < mempool_.min_fee()) {
    throw RpcError(kRpcInvalidParameter, fmt::format("fee {} CHZ is below what the mempool accepts now ({} CHZ)",
                                                     format_amount(fee), format_amount(mempool_.min_fee())));
  }
  // Before planning: a locked wallet answers -13 even when its funds would not do.
  if (e->wallet.is_locked()) {
    throw RpcError(kRpcUnlockNeeded, "Error: Please enter the wallet passphrase with walletpassphrase first.");
  }
  // Our earlier transfers that left the mempool (evicted, a restart) go back first, so that
  // their nonces are not given to this payment.
  co_await offer_pending_sends(e);
  co_await wait_idle(e);
  const std::vector<SpendableAddress> sources = spendable_addresses(address_states(*e));
  const Wallet& wallet = e->wallet;
  const SigningKeyLookup key_for = [&wallet](const PublicKey& pk) { return wallet.key_for(pk); };
  // Every transaction is signed before any is submitted: a key problem then sends nothing.
  auto built = build_payment(sources, PaymentRequest{to, amount, fee, split}, key_for, chain_.params().magic);
  if (!built) throw_payment_error(built.error(), mempool_.limits().max_per_sender);
  const std::vector<Transaction> signed_txs = *built;
  auto submitting = submit_payment(blocks_, chain_.params(), std::move(*built), fee);
  WalletSendResult out = co_await std::move(submitting);
  // The txids are acknowledged only once the send's records are on disk (docs/wallet.md,
  // "Durability"): written now, synced at commit, with whatever else waits for a write.
  co_await wait_idle(e);
  for (std::size_t i = 0; i < out.txids.size(); ++i) enqueue(*e, signed_txs[i], out.txids[i], unix_now(), true);
  if (!flush_queued(*e, WalletSync::kDurable)) {
    std::string ids;
    for (const auto& id : out.txids) ids += (ids.empty() ? "" : ", ") + id.to_display_hex();
    throw RpcError(
        kRpcWalletError,
        fmt::format("the payment was sent ({}) but the wallet file could not record it; see the log", ids));
  }
  log_info("wallet {}: sent {} CHZ to {} in {} transaction(s)", e->wallet.name(), format_amount(amount),
           address_of(to, chain_.params()), out.txids.size());
  co_return out;
}

}  // namespace cheese
