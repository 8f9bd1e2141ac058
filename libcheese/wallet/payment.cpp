#include "wallet/payment.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

namespace cheese {

std::string_view to_string(PaymentErrc e) {
  switch (e) {
    case PaymentErrc::kInvalidAmount: return "invalid amount";
    case PaymentErrc::kDuplicateSource: return "address listed twice";
    case PaymentErrc::kInsufficientFunds: return "insufficient funds";
    case PaymentErrc::kNoSingleSource: return "insufficient funds in one address";
    case PaymentErrc::kKey: return "signing key unavailable";
    case PaymentErrc::kSenderWindowFull: return "too many payments waiting from the funded addresses";
  }
  return "payment error";
}

namespace {

Amount saturating_add(Amount a, Amount b) {
  return b > std::numeric_limits<Amount>::max() - a ? std::numeric_limits<Amount>::max() : a + b;
}

PaymentError payment_error(PaymentErrc code, std::optional<WalletError> key_error = std::nullopt) {
  PaymentError e;
  e.code = code;
  e.key_error = std::move(key_error);
  return e;
}

bool has_duplicates(std::span<const SpendableAddress> sources) {
  std::vector<PublicKey> keys;
  keys.reserve(sources.size());
  for (const auto& s : sources) keys.push_back(s.pubkey);
  std::sort(keys.begin(), keys.end());
  return std::adjacent_find(keys.begin(), keys.end()) != keys.end();
}

}  // namespace

namespace {

struct Usable {
  std::vector<SpendableAddress> sources;  //!< largest available first, ties by public key
  Amount total = 0;
};

Usable usable_sources(std::span<const SpendableAddress> sources, bool need_room) {
  Usable u;
  for (const auto& s : sources) {
    if (s.available == 0 || (need_room && s.room == 0)) continue;
    u.sources.push_back(s);
    u.total = saturating_add(u.total, s.available);
  }
  std::sort(u.sources.begin(), u.sources.end(), [](const SpendableAddress& a, const SpendableAddress& b) {
    return a.available != b.available ? a.available > b.available : a.pubkey < b.pubkey;
  });
  return u;
}

//! The plan over `usable` (empty when it cannot pay).
std::vector<PaymentPart> plan_over(const std::vector<SpendableAddress>& usable, const PaymentRequest& request) {
  const Amount amount = request.amount;
  const Amount fee = request.fee;
  const Amount needed = amount + fee;  // both are within the money range: no overflow
  std::vector<PaymentPart> plan;
  if (!usable.empty() && usable.front().available >= needed) {
    // The smallest balance that covers it alone, so large balances stay whole.
    const auto it = std::find_if(usable.rbegin(), usable.rend(),
                                 [&](const SpendableAddress& s) { return s.available >= needed; });
    plan.push_back({it->pubkey, amount, it->next_nonce});
  } else if (request.split) {
    Amount left = amount;
    for (const auto& s : usable) {
      if (left == 0) break;
      if (s.available <= fee) continue;
      const Amount part = std::min(left, s.available - fee);
      plan.push_back({s.pubkey, part, s.next_nonce});
      left -= part;
    }
    if (left > 0) plan.clear();
  }
  return plan;
}

}  // namespace

PaymentResult<std::vector<PaymentPart>> plan_payment(std::span<const SpendableAddress> sources,
                                                     const PaymentRequest& request) {
  if (request.amount == 0 || !money_range(request.amount) || !money_range(request.fee)) {
    return Unexpected(payment_error(PaymentErrc::kInvalidAmount));
  }
  if (has_duplicates(sources)) return Unexpected(payment_error(PaymentErrc::kDuplicateSource));
  const Usable with_room = usable_sources(sources, true);
  std::vector<PaymentPart> plan = plan_over(with_room.sources, request);
  if (!plan.empty()) return plan;
  const Usable all = usable_sources(sources, false);
  PaymentError e;
  e.needed = request.amount + request.fee;
  if (!plan_over(all.sources, request).empty()) {
    e.code = PaymentErrc::kSenderWindowFull;
    e.full = static_cast<std::size_t>(std::count_if(
        sources.begin(), sources.end(), [](const SpendableAddress& s) { return s.available > 0 && s.room == 0; }));
  } else {
    e.code = !request.split && all.total >= e.needed ? PaymentErrc::kNoSingleSource : PaymentErrc::kInsufficientFunds;
  }
  e.spendable = all.total;
  e.largest = all.sources.empty() ? 0 : all.sources.front().available;
  return Unexpected(std::move(e));
}

PaymentResult<std::vector<Transaction>> build_payment(std::span<const SpendableAddress> sources,
                                                      const PaymentRequest& request, const SigningKeyLookup& key_for,
                                                      const NetworkMagic& magic) {
  auto plan = plan_payment(sources, request);
  if (!plan) return Unexpected(std::move(plan).error());
  std::vector<Transaction> txs;
  txs.reserve(plan->size());
  for (const PaymentPart& part : *plan) {
    auto key = key_for(part.from);
    if (!key) return Unexpected(payment_error(PaymentErrc::kKey, std::move(key).error()));
    if (key->public_key() != part.from) {
      return Unexpected(payment_error(
          PaymentErrc::kKey,
          WalletError{WalletErrc::kUnknownKey, "the signing key does not belong to the paying address"}));
    }
    Transaction tx;
    tx.kind = TxKind::kTransfer;
    tx.sender = part.from;
    tx.recipient = request.to;
    tx.amount = part.amount;
    tx.fee = request.fee;
    tx.nonce = part.nonce;
    sign_transaction(tx, *key, magic);
    txs.push_back(std::move(tx));
  }
  return txs;
}

}  // namespace cheese
