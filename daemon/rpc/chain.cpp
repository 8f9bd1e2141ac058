#include <fmt/format.h>

#include "chain/chainstate.hpp"
#include "chain/mempool.hpp"
#include "daemon/http/http_server.hpp"
#include "daemon/mining/miner.hpp"
#include "daemon/net/connman.hpp"
#include "daemon/net/peer_manager.hpp"
#include "daemon/net/tracker_client.hpp"
#include "daemon/validation/block_processor.hpp"
#include "daemon/node/context.hpp"
#include "daemon/node/node.hpp"
#include "daemon/wallet/wallet_manager.hpp"
#include "daemon/webui/web_ui.hpp"
#include "primitives/bech32.hpp"
#include "daemon/rpc/util.hpp"
#include "daemon/wallet/wallet_manager.hpp"

namespace cheese {

namespace {

const BlockIndex* block_by_hash(NodeContext& node, const RpcRequest& r, std::size_t i) {
  const BlockIndex* idx = node.chain->lookup(r.get_hash(i));
  if (!idx) throw RpcError(kRpcInvalidParameter, "Block not found");
  return idx;
}

Amount immature_rewards(NodeContext& node, const PublicKey& key) {
  // Coinbases of the last `maturity` active blocks are not credited yet.
  const auto& chain = (*node.chain);
  Amount total = 0;
  const std::uint64_t maturity = node.params->coinbase_maturity;
  for (std::uint64_t h = chain.height() >= maturity ? chain.height() - maturity + 1 : 1; h <= chain.height(); ++h) {
    const BlockIndex* idx = chain.at_height(h);
    if (idx && idx->coinbase_recipient == key) total += idx->coinbase_amount;
  }
  return total;
}

json::value block_json(NodeContext& node, const BlockIndex* idx, int verbosity) {
  auto block = node.chain->read_block(idx->hash);
  if (!block) throw RpcError(kRpcMiscError, "Block not available (only its header is known)");
  if (verbosity == 0) return json::value(to_hex(serialize(*block)));
  json::object o = header_json((*node.chain), idx);
  o["size"] = serialized_size(*block);
  json::array txs;
  for (const auto& tx : block->txs) {
    if (verbosity >= 2) {
      txs.push_back(transaction_json(tx, (*node.params)));
    } else {
      txs.push_back(json::value(txid(tx).to_display_hex()));
    }
  }
  o["tx"] = std::move(txs);
  return o;
}

std::string chain_tip_status(const Chainstate& chain, const BlockIndex* tip) {
  if (chain.is_active(tip)) return "active";
  if (tip->failed()) return "invalid";
  const BlockIndex* p = tip;
  while (p && !chain.is_active(p)) {
    if (!p->have_data()) return "headers-only";
    p = p->prev;
  }
  return "valid-fork";
}

}  // namespace

void register_chain_rpcs(NodeContext& node, RpcTable& table) {
  table.add({"getblockchaininfo", "blockchain", {},
             "State of the chain: network, height, best block, difficulty, sync progress, disk use.",
             "cheese-cli getblockchaininfo", [&node](RpcRequest&) -> asio::awaitable<json::value> {
               auto& chain = (*node.chain);
               const BlockIndex* tip = chain.tip();
               const BlockIndex* best = chain.best_header();
               json::object o;
               o["chain"] = node.params->name;
               o["blocks"] = chain.height();
               o["headers"] = std::max(best->height, chain.height());
               o["bestblockhash"] = tip->hash.to_display_hex();
               o["difficulty"] = difficulty_of(tip->header.bits, (*node.params));
               o["time"] = tip->header.time;
               o["mediantime"] = chain.median_time_past(tip);
               const double headers = static_cast<double>(std::max<std::uint64_t>(best->height, 1));
               o["verificationprogress"] = best->height <= chain.height() ? 1.0 : static_cast<double>(chain.height()) / headers;
               o["initialblockdownload"] = std::int64_t{tip->header.time} < unix_now() - 24 * 3600;
               o["chainwork"] = tip->chain_work.to_hex();
               o["size_on_disk"] = chain.size_on_disk();
               o["warnings"] = "";
               co_return o;
             }});
  table.add({"getblockcount", "blockchain", {}, "Height of the most-work valid chain.", "cheese-cli getblockcount",
             [&node](RpcRequest&) -> asio::awaitable<json::value> { co_return json::value(node.chain->height()); }});
  table.add({"getbestblockhash", "blockchain", {}, "Hash of the tip of the most-work valid chain.",
             "cheese-cli getbestblockhash", [&node](RpcRequest&) -> asio::awaitable<json::value> {
               co_return json::value(node.chain->tip()->hash.to_display_hex());
             }});
  table.add({"getblockhash", "blockchain", {{"height", RpcType::kInt, true, "height in the active chain"}},
             "Hash of the block at a height of the active chain.", "cheese-cli getblockhash 0",
             [&node](RpcRequest& r) -> asio::awaitable<json::value> {
               const std::int64_t h = r.get_int(0, -1);
               const BlockIndex* idx = h < 0 ? nullptr : node.chain->at_height(static_cast<std::uint64_t>(h));
               if (!idx) throw RpcError(kRpcInvalidParameter, "Block height out of range");
               co_return json::value(idx->hash.to_display_hex());
             }});
  table.add({"getblock", "blockchain",
             {{"blockhash", RpcType::kHash, true, "the block hash"},
              {"verbosity", RpcType::kInt, false, "0: hex, 1 (default): object with txids, 2: object with transactions"}},
             "A block as hex or as an object.", "cheese-cli getblock <hash> 2",
             [&node](RpcRequest& r) -> asio::awaitable<json::value> {
               const BlockIndex* idx = block_by_hash(node, r, 0);
               const std::int64_t verbosity = r.get_int(1, 1);
               if (verbosity < 0 || verbosity > 2) throw RpcError(kRpcInvalidParameter, "verbosity must be 0, 1 or 2");
               co_return block_json(node, idx, static_cast<int>(verbosity));
             }});
  table.add({"getblockheader", "blockchain",
             {{"blockhash", RpcType::kHash, true, "the block hash"},
              {"verbose", RpcType::kBool, false, "true (default): an object; false: 80 bytes of hex"}},
             "A block header as an object or hex.", "cheese-cli getblockheader <hash>",
             [&node](RpcRequest& r) -> asio::awaitable<json::value> {
               const BlockIndex* idx = block_by_hash(node, r, 0);
               if (!r.get_bool(1, true)) co_return json::value(to_hex(serialize(idx->header)));
               co_return header_json((*node.chain), idx);
             }});
  table.add({"getchaintips", "blockchain", {},
             "Every known branch tip: height, hash, branch length and status (active, valid-fork, "
             "valid-headers, headers-only, invalid).",
             "cheese-cli getchaintips", [&node](RpcRequest&) -> asio::awaitable<json::value> {
               auto& chain = (*node.chain);
               json::array out;
               for (const BlockIndex* t : chain.chain_tips()) {
                 const BlockIndex* fork = t;
                 while (fork && !chain.is_active(fork)) fork = fork->prev;
                 json::object o;
                 o["height"] = t->height;
                 o["hash"] = t->hash.to_display_hex();
                 o["branchlen"] = t->height - (fork ? fork->height : 0);
                 o["status"] = chain_tip_status(chain, t);
                 out.push_back(std::move(o));
               }
               co_return out;
             }});
  auto tx_lookup = [&node](RpcRequest& r) -> asio::awaitable<json::value> {
    const Hash256 id = r.get_hash(0);
    const bool wallet_view = r.method->name == "gettransaction";
    const bool verbose = wallet_view || r.get_bool(1, false);
    if (const MempoolEntry* e = node.mempool->find(id)) {
      if (!verbose) co_return json::value(to_hex(serialize(e->tx)));
      json::object o = transaction_json(e->tx, (*node.params));
      o["confirmations"] = 0;
      o["in_mempool"] = true;
      o["time"] = e->time;
      if (wallet_view) {
        for (auto& kv : wallet_transaction_fields(node, r, id)) o[kv.key()] = kv.value();
      }
      co_return o;
    }
    auto loc = node.chain->find_transaction(id);
    if (!loc && wallet_view) {
      // The wallet remembers transactions that left the mempool or were reorged out.
      if (auto o = wallet_only_transaction(node, r, id)) co_return *o;
    }
    if (!loc) throw RpcError(kRpcInvalidAddress, "No such transaction in the mempool or the active chain");
    auto block = node.chain->read_block(loc->block_hash);
    if (!block || loc->index >= block->txs.size()) throw RpcError(kRpcMiscError, "Transaction data not available");
    const Transaction& tx = block->txs[loc->index];
    if (!verbose) co_return json::value(to_hex(serialize(tx)));
    json::object o = transaction_json(tx, (*node.params));
    o["blockhash"] = loc->block_hash.to_display_hex();
    o["blockheight"] = loc->height;
    o["confirmations"] = node.chain->height() - loc->height + 1;
    o["blocktime"] = node.chain->lookup(loc->block_hash)->header.time;
    o["in_mempool"] = false;
    if (wallet_view) {
      for (auto& kv : wallet_transaction_fields(node, r, id)) o[kv.key()] = kv.value();
    }
    co_return o;
  };
  table.add({"getrawtransaction", "blockchain",
             {{"txid", RpcType::kHash, true, "the transaction id"},
              {"verbose", RpcType::kBool, false, "false (default): hex; true: an object"}},
             "A transaction of the mempool or the active chain.", "cheese-cli getrawtransaction <txid> true",
             tx_lookup});
  table.add({"gettransaction", "blockchain", {{"txid", RpcType::kHash, true, "the transaction id"}},
             "A transaction of the mempool or the active chain as an object, with confirmations; with the wallet's "
             "view (net, wallet_fee, details) when the wallet knows it.",
             "cheese-cli gettransaction <txid>", tx_lookup});
  table.add({"getrawmempool", "mempool",
             {{"verbose", RpcType::kBool, false, "false (default): txids; true: an object per txid"}},
             "Transactions waiting in the mempool.", "cheese-cli getrawmempool true",
             [&node](RpcRequest& r) -> asio::awaitable<json::value> {
               auto entries = node.mempool->entries();
               std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->time < b->time; });
               if (!r.get_bool(0, false)) {
                 json::array out;
                 for (const auto* e : entries) out.push_back(json::value(e->txid.to_display_hex()));
                 co_return out;
               }
               json::object out;
               for (const auto* e : entries) {
                 json::object o;
                 o["size"] = e->size;
                 o["fee"] = amount_value(e->tx.fee);
                 o["time"] = e->time;
                 o["from"] = address_of(e->tx.sender, (*node.params));
                 o["to"] = address_of(e->tx.recipient, (*node.params));
                 o["amount"] = amount_value(e->tx.amount);
                 o["nonce"] = e->tx.nonce;
                 out[e->txid.to_display_hex()] = std::move(o);
               }
               co_return out;
             }});
  table.add({"getmempoolinfo", "mempool", {}, "Size, bytes, limits and fees of the mempool.",
             "cheese-cli getmempoolinfo", [&node](RpcRequest&) -> asio::awaitable<json::value> {
               const auto& m = (*node.mempool);
               json::object o;
               o["loaded"] = true;
               o["size"] = m.size();
               o["bytes"] = m.bytes();
               o["maxmempool"] = m.limits().max_bytes;
               o["expiryhours"] = m.limits().expiry_seconds / 3600;
               o["mempoolminfee"] = amount_value(m.min_fee());
               o["minrelaytxfee"] = amount_value(m.limits().min_relay_fee);
               co_return o;
             }});
  table.add({"sendrawtransaction", "mempool", {{"hexstring", RpcType::kString, true, "a serialized transaction"}},
             "Submits a signed transaction to the mempool and relays it; returns its txid.",
             "cheese-cli sendrawtransaction <hex>", [&node](RpcRequest& r) -> asio::awaitable<json::value> {
               auto bytes = from_hex(r.get_string(0));
               if (!bytes) throw RpcError(kRpcDeserializationError, "TX decode failed: not hex");
               auto tx = decode_transaction(*bytes);
               if (!tx) throw RpcError(kRpcDeserializationError, fmt::format("TX decode failed: {}", to_string(tx.error())));
               const Hash256 id = txid(*tx);
               if (node.chain->find_transaction(id)) throw RpcError(kRpcVerifyAlreadyInChain, "Transaction already in block chain");
               const auto result = co_await node.blocks->submit_transaction(std::move(*tx));
               if (!result.ok() && result.reason != MempoolReject::kAlreadyKnown) {
                 const std::string why = result.reason == MempoolReject::kConsensus
                                             ? std::string(to_string(result.consensus))
                                             : std::string(to_string(result.reason));
                 throw RpcError(kRpcVerifyRejected, why);
               }
               co_return json::value(id.to_display_hex());
             }});
  table.add({"submitblock", "mining", {{"hexdata", RpcType::kString, true, "a serialized block"}},
             "Validates and connects a block; null when accepted, otherwise the reason "
             "(duplicate, duplicate-invalid, inconclusive, or the rejection reason).",
             "cheese-cli submitblock <hex>", [&node](RpcRequest& r) -> asio::awaitable<json::value> {
               auto bytes = from_hex(r.get_string(0));
               if (!bytes) throw RpcError(kRpcDeserializationError, "Block decode failed: not hex");
               auto block = decode_block(*bytes);
               if (!block) throw RpcError(kRpcDeserializationError, fmt::format("Block decode failed: {}", to_string(block.error())));
               auto shared = std::make_shared<const Block>(std::move(*block));
               const Hash256 hash = shared->hash();
               auto submitted = co_await node.blocks->submit_block(shared);
               const auto& res = submitted.result;
               if (res.duplicate) {
                 // A block that failed when connected has its data stored: known, but invalid.
                 const BlockIndex* known = node.chain->lookup(hash);
                 const bool invalid = !res.verdict || (known && known->failed());
                 co_return json::value(invalid ? "duplicate-invalid" : "duplicate");
               }
               if (!res.verdict) co_return json::value(std::string(to_string(res.verdict.reason)));
               if (!node.chain->is_active(node.chain->lookup(hash))) {
                 co_return json::value("inconclusive");
               }
               co_return json::value(nullptr);
             }});
  table.add({"getaccount", "blockchain", {{"address", RpcType::kString, true, "an address"}},
             "Confirmed balance and nonce of an address, its immature coinbase rewards, and what the "
             "mempool holds for it.",
             "cheese-cli getaccount rchz1...", [&node](RpcRequest& r) -> asio::awaitable<json::value> {
               const PublicKey key = parse_address(r.get_string(0), (*node.params));
               const Account a = node.chain->account(key);
               const auto [next_nonce, pending] = node.mempool->pending_for(key, (*node.chain));
               json::object o;
               o["address"] = r.get_string(0);
               o["balance"] = amount_value(a.balance);
               o["nonce"] = a.nonce;
               o["immature"] = amount_value(immature_rewards(node, key));
               o["pending_spend"] = amount_value(pending);
               o["next_nonce"] = next_nonce;
               co_return o;
             }});
  table.add({"validateaddress", "util", {{"address", RpcType::kString, true, "an address"}},
             "Whether an address is valid on this network, and its public key.",
             "cheese-cli validateaddress rchz1...", [&node](RpcRequest& r) -> asio::awaitable<json::value> {
               const std::string address = r.get_string(0);
               json::object o;
               auto decoded = decode_address(node.params->address_hrp, address);
               o["isvalid"] = decoded.has_value();
               if (decoded) {
                 o["address"] = encode_address(node.params->address_hrp, *decoded);
                 o["publickey"] = to_hex(*decoded);
               } else {
                 o["error"] = decoded.error() == Bech32Error::kWrongHrp
                                  ? fmt::format("not an address of the {} network", node.params->name)
                                  : std::string(to_string(decoded.error()));
               }
               co_return o;
             }});
}

}  // namespace cheese
