#pragma once

// Building a payment in cheesechain's account model, as a pure function: which of our addresses
// pay, and the signed transfers that pay it. No file, clock or database inside: balances and
// nonces come in as arguments, signing keys through a lookup, transactions go out. The daemon's
// `send` supplies the state (confirmed balance minus pending spends, next nonce per address)
// and submits the result.

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "primitives/amount.hpp"
#include "primitives/keys.hpp"
#include "primitives/result.hpp"
#include "primitives/transaction.hpp"
#include "wallet/wallet.hpp"

namespace cheese {

//! One of our addresses and what it can spend now.
struct SpendableAddress {
  PublicKey pubkey{};
  Amount available = 0;          //!< confirmed balance minus its pending spends (amount + fee)
  std::uint64_t next_nonce = 0;  //!< the nonce its next transaction must carry
  //! How many more transactions the mempool takes from it before a block (its per-sender window
  //! less those waiting); an address without room pays nothing.
  std::uint64_t room = std::numeric_limits<std::uint64_t>::max();
};

struct PaymentRequest {
  PublicKey to{};
  Amount amount = 0;   //!< crumbs the recipient receives, over all transactions
  Amount fee = 0;      //!< paid by each transaction
  bool split = false;  //!< may several addresses pay a part each (one transaction each)
};

//! One transaction of a payment before it is signed.
struct PaymentPart {
  PublicKey from{};
  Amount amount = 0;
  std::uint64_t nonce = 0;
  friend bool operator==(const PaymentPart&, const PaymentPart&) = default;
};

enum class PaymentErrc : std::uint8_t {
  kInvalidAmount,      //!< amount is 0 or out of the money range, or fee out of the money range
  kDuplicateSource,    //!< an address is listed twice among the sources
  kInsufficientFunds,  //!< everything spendable together is below amount + fee
  kNoSingleSource,     //!< enough in total, but no one address covers amount + fee and split is off
  kKey,                //!< a signing key could not be had (`key_error` says why: kLocked, ...)
  //! the funds are there, but the addresses that hold them have no room left in the mempool's
  //! per-sender window (too many payments from them wait for a block)
  kSenderWindowFull,
};
std::string_view to_string(PaymentErrc e);

struct PaymentError {
  PaymentErrc code = PaymentErrc::kInsufficientFunds;
  Amount spendable = 0;                  //!< the sum of every source's available amount
  Amount largest = 0;                    //!< the largest single available amount
  Amount needed = 0;                     //!< amount + fee
  std::size_t full = 0;                  //!< with kSenderWindowFull: funded addresses without room
  std::optional<WalletError> key_error;  //!< set with kKey
};

template <typename T>
using PaymentResult = Result<T, PaymentError>;

//! Chooses who pays, among the sources with room in their window. The smallest balance that covers
//! amount + fee alone pays it all, so large balances stay whole; otherwise, with split, the
//! largest balances first each pay up to their balance minus their own fee (a balance at or below
//! the fee is skipped). Ties are broken by public key, so the plan does not depend on the order of
//! `sources`. kSenderWindowFull when the payment would be possible if every source had room.
PaymentResult<std::vector<PaymentPart>> plan_payment(std::span<const SpendableAddress> sources,
                                                     const PaymentRequest& request);

//! The signing key of one of our public keys (e.g. Wallet::key_for).
using SigningKeyLookup = std::function<WalletResult<SecretKey>(const PublicKey&)>;

//! Plans the payment and signs every transfer for `magic`'s network. Every key is fetched before
//! anything is returned, so a key problem yields no transaction at all. Deterministic: Ed25519
//! signatures are, and nothing else is random.
PaymentResult<std::vector<Transaction>> build_payment(std::span<const SpendableAddress> sources,
                                                      const PaymentRequest& request, const SigningKeyLookup& key_for,
                                                      const NetworkMagic& magic);

}  // namespace cheese
