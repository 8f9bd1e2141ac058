// Chain and mempool RPCs (docs/rpc.md, "Blockchain", "Mempool"): one function per method, each
// returning its table row; register_chain_rpcs at the end is the table.

#include <fmt/format.h>

#include "chain/chainstate.hpp"
#include "chain/mempool.hpp"
#include "daemon/http/http_server.hpp"
#include "daemon/mining/miner.hpp"
#include "daemon/net/connman.hpp"
#include "daemon/net/peer_manager.hpp"
#include "daemon/net/tracker_client.hpp"
#include "daemon/node/context.hpp"
#include "daemon/node/node.hpp"
#include "daemon/rpc/big_reads.hpp"
#include "daemon/rpc/rpc_workers.hpp"
#include "daemon/rpc/util.hpp"
#include "daemon/validation/block_processor.hpp"
#include "daemon/wallet/wallet_manager.hpp"
#include "primitives/bech32.hpp"

namespace cheese {

namespace {

constexpr char kNoSuchTransaction[] = "No such transaction in the mempool or the active chain";

const BlockIndex* block_by_hash(NodeContext& node, const Hash256& hash) {
  const BlockIndex* idx = node.chain->lookup(hash);
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

//! getblock: the header and the stored bytes read here, the JSON built on a worker.
asio::awaitable<void> block_json(NodeContext& node, RpcRequest& r, const BlockIndex* idx, int verbosity) {
  auto snapshot = std::make_shared<BlockSnapshot>();
  auto bytes = node.chain->read_block_bytes(idx->hash);
  if (!bytes) throw RpcError(kRpcMiscError, "Block not available (only its header is known)");
  snapshot->bytes = std::move(*bytes);
  if (verbosity > 0) snapshot->header = header_json((*node.chain), idx);
  const ChainParams& params = *node.params;
  // GCC 12 destroys temporaries captured in a co_await expression twice: name the awaitable.
  auto building = build_on_worker(
      *node.rpc_workers, [snapshot, verbosity, &params] { return block_json_text(*snapshot, verbosity, params); });
  r.raw_result = co_await std::move(building);
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

//! A transaction of the mempool or the active chain, with where it is.
struct LocatedTx {
  Transaction tx;
  json::object location;  //!< confirmations, in_mempool and the block or the mempool time
};

std::optional<LocatedTx> locate_transaction(NodeContext& node, const Hash256& id) {
  if (const MempoolEntry* e = node.mempool->find(id)) {
    return LocatedTx{e->tx, {{"confirmations", 0}, {"in_mempool", true}, {"time", e->time}}};
  }
  auto loc = node.chain->find_transaction(id);
  if (!loc) return std::nullopt;
  auto block = node.chain->read_block(loc->block_hash);
  if (!block || loc->index >= block->txs.size()) throw RpcError(kRpcMiscError, "Transaction data not available");
  json::object where;
  where["blockhash"] = loc->block_hash.to_display_hex();
  where["blockheight"] = loc->height;
  where["confirmations"] = node.chain->height() - loc->height + 1;
  where["blocktime"] = node.chain->lookup(loc->block_hash)->header.time;
  where["in_mempool"] = false;
  return LocatedTx{block->txs[loc->index], std::move(where)};
}

//! transaction_json followed by the location fields.
json::object located_json(const LocatedTx& t, const ChainParams& p) {
  json::object o = transaction_json(t.tx, p);
  for (const auto& kv : t.location) o[kv.key()] = kv.value();
  return o;
}

RpcMethod getblockchaininfo(NodeContext& node) {
  return {"getblockchaininfo",
          "blockchain",
          {},
          "State of the chain: network, height, best block, difficulty, sync progress, disk use.",
          "cheese-cli getblockchaininfo",
          [&node](RpcRequest&) -> asio::awaitable<json::value> {
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
            o["verificationprogress"] = best->height <= chain.height()
                                            ? 1.0
                                            : static_cast<double>(chain.height()) / headers;
            o["initialblockdownload"] = std::int64_t{tip->header.time} < unix_now() - 24 * 3600;
            o["chainwork"] = tip->chain_work.to_hex();
            o["size_on_disk"] = chain.size_on_disk();
            o["warnings"] = "";
            co_return o;
          }};
}

RpcMethod getblockcount(NodeContext& node) {
  return {"getblockcount",
          "blockchain",
          {},
          "Height of the most-work valid chain.",
          "cheese-cli getblockcount",
          [&node](RpcRequest&) -> asio::awaitable<json::value> { co_return json::value(node.chain->height()); }};
}

RpcMethod getbestblockhash(NodeContext& node) {
  return {"getbestblockhash",
          "blockchain",
          {},
          "Hash of the tip of the most-work valid chain.",
          "cheese-cli getbestblockhash",
          [&node](RpcRequest&) -> asio::awaitable<json::value> {
            co_return json::value(node.chain->tip()->hash.to_display_hex());
          }};
}

RpcMethod getblockhash(NodeContext& node) {
  return {"getblockhash",
          "blockchain",
          {{"height", RpcType::kInt, true, "height in the active chain"}},
          "Hash of the block at a height of the active chain.",
          "cheese-cli getblockhash 0",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const std::int64_t h = r.get_int("height");
            const BlockIndex* idx = h < 0 ? nullptr : node.chain->at_height(static_cast<std::uint64_t>(h));
            if (!idx) throw RpcError(kRpcInvalidParameter, "Block height out of range");
            co_return json::value(idx->hash.to_display_hex());
          }};
}

RpcMethod getblock(NodeContext& node) {
  return {"getblock",
          "blockchain",
          {{"blockhash", RpcType::kHash, true, "the block hash"},
           {"verbosity", RpcType::kInt, false, "0: hex, 1: object with txids, 2: object with transactions", 1}},
          "A block as hex or as an object.",
          "cheese-cli getblock <hash> 2",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const BlockIndex* idx = block_by_hash(node, r.get_hash("blockhash"));
            const std::int64_t verbosity = r.get_int("verbosity");
            if (verbosity < 0 || verbosity > 2) throw RpcError(kRpcInvalidParameter, "verbosity must be 0, 1 or 2");
            co_await block_json(node, r, idx, static_cast<int>(verbosity));
            co_return nullptr;
          }};
}

RpcMethod getblockheader(NodeContext& node) {
  return {"getblockheader",
          "blockchain",
          {{"blockhash", RpcType::kHash, true, "the block hash"},
           {"verbose", RpcType::kBool, false, "true: an object; false: 80 bytes of hex", true}},
          "A block header as an object or hex.",
          "cheese-cli getblockheader <hash>",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const BlockIndex* idx = block_by_hash(node, r.get_hash("blockhash"));
            if (!r.get_bool("verbose")) co_return json::value(to_hex(serialize(idx->header)));
            co_return header_json((*node.chain), idx);
          }};
}

RpcMethod getchaintips(NodeContext& node) {
  return {"getchaintips",
          "blockchain",
          {},
          "Every known branch tip: height, hash, branch length and status (active, valid-fork, "
          "valid-headers, headers-only, invalid).",
          "cheese-cli getchaintips",
          [&node](RpcRequest&) -> asio::awaitable<json::value> {
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
          }};
}

RpcMethod getrawtransaction(NodeContext& node) {
  return {"getrawtransaction",
          "blockchain",
          {{"txid", RpcType::kHash, true, "the transaction id"},
           {"verbose", RpcType::kBool, false, "false: hex; true: an object", false}},
          "A transaction of the mempool or the active chain.",
          "cheese-cli getrawtransaction <txid> true",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            auto found = locate_transaction(node, r.get_hash("txid"));
            if (!found) throw RpcError(kRpcInvalidAddress, kNoSuchTransaction);
            if (!r.get_bool("verbose")) co_return json::value(to_hex(serialize(found->tx)));
            co_return located_json(*found, (*node.params));
          }};
}

RpcMethod gettransaction(NodeContext& node) {
  return {"gettransaction",
          "blockchain",
          {{"txid", RpcType::kHash, true, "the transaction id"}},
          "A transaction of the mempool or the active chain as an object, with confirmations; with the wallet's "
          "view (net, wallet_fee, details) when the wallet knows it.",
          "cheese-cli gettransaction <txid>",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const Hash256 id = r.get_hash("txid");
            auto found = locate_transaction(node, id);
            if (!found) {
              // The wallet remembers transactions that left the mempool or were reorged out.
              if (auto o = wallet_only_transaction(node, r, id)) co_return *o;
              throw RpcError(kRpcInvalidAddress, kNoSuchTransaction);
            }
            json::object o = located_json(*found, (*node.params));
            for (auto& kv : wallet_transaction_fields(node, r, id)) o[kv.key()] = kv.value();
            co_return o;
          }};
}

RpcMethod getrawmempool(NodeContext& node) {
  return {"getrawmempool",
          "mempool",
          {{"verbose", RpcType::kBool, false, "false: txids; true: an object per txid", false}},
          "Transactions waiting in the mempool.",
          "cheese-cli getrawmempool true",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            // A copy of the entries here; sorted and serialised on a worker (issue 19: 142 ms on
            // the io thread at 20,000 transactions before).
            auto rows = std::make_shared<std::vector<MempoolRow>>(snapshot_mempool(*node.mempool));
            const bool verbose = r.get_bool("verbose");
            const ChainParams& params = *node.params;
            auto building = build_on_worker(*node.rpc_workers, [rows, verbose, &params] {
              return mempool_json_text(std::move(*rows), verbose, params);
            });
            r.raw_result = co_await std::move(building);
            co_return nullptr;
          }};
}

RpcMethod getmempoolinfo(NodeContext& node) {
  return {"getmempoolinfo",
          "mempool",
          {},
          "Size, bytes, limits and fees of the mempool.",
          "cheese-cli getmempoolinfo",
          [&node](RpcRequest&) -> asio::awaitable<json::value> {
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
          }};
}

RpcMethod sendrawtransaction(NodeContext& node) {
  return {"sendrawtransaction",
          "mempool",
          {{"hexstring", RpcType::kString, true, "a serialized transaction"}},
          "Submits a signed transaction to the mempool and relays it; returns its txid.",
          "cheese-cli sendrawtransaction <hex>",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            auto bytes = from_hex(r.get_string("hexstring"));
            if (!bytes) throw RpcError(kRpcDeserializationError, "TX decode failed: not hex");
            auto tx = decode_transaction(*bytes);
            if (!tx) {
              throw RpcError(kRpcDeserializationError, fmt::format("TX decode failed: {}", to_string(tx.error())));
            }
            const Hash256 id = txid(*tx);
            if (node.chain->find_transaction(id)) {
              throw RpcError(kRpcVerifyAlreadyInChain, "Transaction already in block chain");
            }
            const auto result = co_await node.blocks->submit_transaction(std::move(*tx));
            if (!result.ok() && result.reason != MempoolReject::kAlreadyKnown) {
              const std::string why = result.reason == MempoolReject::kConsensus
                                          ? std::string(to_string(result.consensus))
                                          : std::string(to_string(result.reason));
              throw RpcError(kRpcVerifyRejected, why);
            }
            co_return json::value(id.to_display_hex());
          }};
}

RpcMethod submitblock(NodeContext& node) {
  return {"submitblock",
          "mining",
          {{"hexdata", RpcType::kString, true, "a serialized block"}},
          "Validates and connects a block; null when accepted, otherwise the reason "
          "(duplicate, duplicate-invalid, inconclusive, or the rejection reason).",
          "cheese-cli submitblock <hex>",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            auto bytes = from_hex(r.get_string("hexdata"));
            if (!bytes) throw RpcError(kRpcDeserializationError, "Block decode failed: not hex");
            auto block = decode_block(*bytes);
            if (!block) {
              throw RpcError(kRpcDeserializationError,
                             fmt::format("Block decode failed: {}", to_string(block.error())));
            }
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
            if (!node.chain->is_active(node.chain->lookup(hash))) co_return json::value("inconclusive");
            co_return json::value(nullptr);
          }};
}

RpcMethod getaccount(NodeContext& node) {
  return {"getaccount",
          "blockchain",
          {{"address", RpcType::kString, true, "an address"}},
          "Confirmed balance and nonce of an address, its immature coinbase rewards, and what the "
          "mempool holds for it.",
          "cheese-cli getaccount rchz1...",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const std::string address = r.get_string("address");
            const PublicKey key = parse_address(address, (*node.params));
            const Account a = node.chain->account(key);
            const auto [next_nonce, pending] = node.mempool->pending_for(key, (*node.chain));
            json::object o;
            o["address"] = address;
            o["balance"] = amount_value(a.balance);
            o["nonce"] = a.nonce;
            o["immature"] = amount_value(immature_rewards(node, key));
            o["pending_spend"] = amount_value(pending);
            o["next_nonce"] = next_nonce;
            co_return o;
          }};
}

RpcMethod validateaddress(NodeContext& node) {
  return {"validateaddress",
          "util",
          {{"address", RpcType::kString, true, "an address"}},
          "Whether an address is valid on this network, and its public key.",
          "cheese-cli validateaddress rchz1...",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const std::string address = r.get_string("address");
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
          }};
}

}  // namespace

void register_chain_rpcs(NodeContext& node, RpcTable& table) {
  for (auto m :
       {getblockchaininfo(node), getblockcount(node), getbestblockhash(node), getblockhash(node), getblock(node),
        getblockheader(node), getchaintips(node), getrawtransaction(node), gettransaction(node), getrawmempool(node),
        getmempoolinfo(node), sendrawtransaction(node), submitblock(node), getaccount(node), validateaddress(node)}) {
    table.add(std::move(m));
  }
}

}  // namespace cheese
