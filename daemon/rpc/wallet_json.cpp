// The wallet's view of transactions as JSON: listtransactions entries and what gettransaction
// (chain.cpp) adds when the request's wallet knows the transaction.

#include "daemon/rpc/wallet_json.hpp"

#include <string>

#include <fmt/format.h>

#include "chain/chainstate.hpp"
#include "chain/mempool.hpp"
#include "daemon/rpc/util.hpp"
#include "daemon/wallet/wallet_manager.hpp"
#include "util/json.hpp"

namespace cheese {

namespace {

std::uint64_t confirmations(const NodeContext& node, const WalletTx& t) {
  if (!t.height) return 0;
  const std::uint64_t tip = node.chain->height();
  return *t.height <= tip ? tip - *t.height + 1 : 0;
}

//! Why a send of ours is neither confirmed nor in the mempool: `conflicted` (its sender's nonce
//! was used by another transaction on the active chain: it can never confirm) and `reason`.
void add_not_pooled_reason(const NodeContext& node, const WalletTx& t, json::object& o) {
  if (t.raw.empty()) return;
  const auto tx = decode_transaction(t.raw);
  if (!tx) return;
  const std::uint64_t used = node.chain->account(tx->sender).nonce;
  const bool conflicted = tx->nonce < used;
  o["conflicted"] = conflicted;
  o["reason"] = conflicted ? fmt::format(
                                 "nonce {} of {} was used by another transaction on the active chain: this "
                                 "one can never confirm",
                                 tx->nonce, address_of(tx->sender, (*node.params)))
                           : std::string(
                                 "not in the mempool (evicted, expired, or refused when offered again); the "
                                 "wallet offers it again after each block and before its next send");
}

}  // namespace

//! One entry of listtransactions / gettransaction's details, as bitcoind shows it.
json::object entry_json(NodeContext& node, const WalletTx& t) {
  const ChainParams& p = (*node.params);
  json::object o;
  const std::uint64_t conf = confirmations(node, t);
  switch (t.direction) {
    case TxDirection::kSend:
      o["address"] = t.counterparty ? address_of(*t.counterparty, p) : std::string();
      o["category"] = "send";
      o["amount"] = raw_number("-" + format_amount(t.amount));
      o["fee"] = raw_number("-" + format_amount(t.fee));
      if (t.own) o["from"] = address_of(*t.own, p);
      break;
    case TxDirection::kReceive:
      o["address"] = t.own ? address_of(*t.own, p) : std::string();
      o["category"] = "receive";
      o["amount"] = amount_value(t.amount);
      if (t.counterparty) o["from"] = address_of(*t.counterparty, p);
      break;
    case TxDirection::kGenerate:
      o["address"] = t.own ? address_of(*t.own, p) : std::string();
      // A coinbase whose block left the active chain can never confirm again: "orphan", as bitcoind.
      o["category"] = !t.height ? "orphan"
                      : conf > p.coinbase_maturity
                          ? "generate"
                          : "immature";  // credited once the tip is `maturity` blocks past it
      o["amount"] = amount_value(t.amount);
      break;
  }
  o["confirmations"] = conf;
  if (t.height) {
    if (const BlockIndex* idx = node.chain->at_height(*t.height)) {
      o["blockhash"] = idx->hash.to_display_hex();
      o["blockheight"] = *t.height;
      o["blocktime"] = idx->header.time;
    }
  } else {
    const bool pooled = node.mempool->contains(t.txid);
    o["in_mempool"] = pooled;
    if (!pooled && t.direction == TxDirection::kSend) add_not_pooled_reason(node, t, o);
  }
  o["txid"] = t.txid.to_display_hex();
  o["time"] = t.time;
  return o;
}

//! The wallet fields gettransaction adds for a transaction the request's wallet knows; an empty
//! object when there is no such wallet or record.
json::object wallet_transaction_fields(NodeContext& node, const RpcRequest& r, const Hash256& id) {
  json::object o;
  auto e = node.wallets->default_wallet(r);
  if (!e || e->busy) return o;
  auto records = e->wallet.find_transaction(id);
  if (!records || records->empty()) return o;
  json::array details;
  std::int64_t net = 0;  // |amounts| <= kMaxMoney < 2^63
  Amount fee = 0;
  for (const auto& t : *records) {
    details.push_back(entry_json(node, t));
    if (t.direction == TxDirection::kSend) {
      net -= static_cast<std::int64_t>(t.amount);
      fee += t.fee;
    } else {
      net += static_cast<std::int64_t>(t.amount);
    }
  }
  o["wallet"] = e->wallet.name();
  o["net"] = net < 0 ? raw_number("-" + format_amount(static_cast<Amount>(-net)))
                     : amount_value(static_cast<Amount>(net));
  o["wallet_fee"] = fee > 0 ? raw_number("-" + format_amount(fee)) : amount_value(0);
  o["details"] = std::move(details);
  return o;
}

std::optional<json::object> wallet_only_transaction(NodeContext& node, const RpcRequest& r, const Hash256& id) {
  auto e = node.wallets->default_wallet(r);
  if (!e || e->busy) return std::nullopt;
  auto records = e->wallet.find_transaction(id);
  if (!records || records->empty()) return std::nullopt;
  json::object o;
  const WalletTx& first = records->front();
  if (auto tx = decode_transaction(first.raw); tx && !first.raw.empty()) {
    o = transaction_json(*tx, (*node.params));
  } else {
    o["txid"] = id.to_display_hex();
    o["kind"] = first.direction == TxDirection::kGenerate ? "coinbase" : "transfer";
    o["amount"] = amount_value(first.amount);
  }
  o["confirmations"] = 0;
  o["in_mempool"] = false;
  o["time"] = first.time;
  for (auto& kv : wallet_transaction_fields(node, r, id)) o[kv.key()] = kv.value();
  // Why a send of ours is not in the mempool, from its record (listtransactions shows the same).
  if (const auto* details = o.if_contains("details"); details && details->is_array()) {
    for (const auto& d : details->get_array()) {
      const auto& entry = d.get_object();
      if (const auto* reason = entry.if_contains("reason")) {
        o["conflicted"] = entry.at("conflicted");
        o["reason"] = *reason;
        break;
      }
    }
  }
  return o;
}

}  // namespace cheese
