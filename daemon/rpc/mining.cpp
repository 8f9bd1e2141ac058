// Mining RPCs (docs/rpc.md, "Mining"): one function per method, each returning its table row;
// register_mining_rpcs at the end is the table. submitblock is in chain.cpp.

#include <fmt/format.h>

#include "chain/chainstate.hpp"
#include "chain/mempool.hpp"
#include "consensus/pow.hpp"
#include "daemon/mining/miner.hpp"
#include "daemon/net/connman.hpp"
#include "daemon/net/peer_manager.hpp"
#include "daemon/net/tracker_client.hpp"
#include "daemon/node/context.hpp"
#include "daemon/node/node.hpp"
#include "daemon/rpc/util.hpp"
#include "daemon/validation/block_processor.hpp"
#include "daemon/wallet/wallet_manager.hpp"

namespace cheese {

namespace {

constexpr std::uint64_t kDefaultMaxTries = 1'000'000;
constexpr std::int64_t kMaxBlocksPerCall = 10'000;
constexpr char kWalletAddress[] = "the wallet's address";

std::uint64_t nblocks_param(const RpcRequest& r) {
  const std::int64_t n = r.get_int("nblocks");
  if (n < 0 || n > kMaxBlocksPerCall) {
    throw RpcError(kRpcInvalidParameter, fmt::format("nblocks must be 0..{}", kMaxBlocksPerCall));
  }
  return static_cast<std::uint64_t>(n);
}

json::value hashes_json(const std::vector<Hash256>& hashes) {
  json::array out;
  for (const auto& h : hashes) out.push_back(json::value(h.to_display_hex()));
  return out;
}

//! The address a mining RPC pays: the "address" parameter, else the default wallet's (once
//! wallets exist), else an error that says what to pass.
asio::awaitable<PublicKey> mining_address(NodeContext& node, const RpcRequest& r) {
  if (r.has("address")) co_return parse_address(r.get_string("address"), (*node.params));
  if (r.wallet.empty() && node.wallets->loaded().empty()) {
    throw RpcError(kRpcWalletNotFound,
                   "No wallet is loaded: give the address that receives the rewards, or create a wallet "
                   "(createwallet)");
  }
  auto e = co_await node.wallets->for_request(r);
  co_return node.wallets->mining_address(*e);
}

//! Network hash rate: the work of the last (up to) 120 blocks over the time they took.
double network_hashps(const Chainstate& chain) {
  const BlockIndex* tip = chain.tip();
  const std::uint64_t span = std::min<std::uint64_t>(120, chain.height());
  if (span == 0) return 0;
  const BlockIndex* first = chain.at_height(chain.height() - span);
  const double secs = std::max<double>(
      1.0, static_cast<double>(std::int64_t{tip->header.time} - std::int64_t{first->header.time}));
  U256 work = tip->chain_work - first->chain_work;
  double w = 0;
  const Hash256 wb = work.to_hash();
  for (std::size_t i = 32; i-- > 0;) w = w * 256.0 + wb.bytes[i];
  return w / secs;
}

RpcMethod generatetoaddress(NodeContext& node) {
  return {"generatetoaddress",
          "mining",
          {{"nblocks", RpcType::kInt, true, "how many blocks to mine"},
           {"address", RpcType::kString, true, "who receives the block rewards"},
           {"maxtries", RpcType::kInt, false, "hashes to try per block before giving up", kDefaultMaxTries}},
          "Mines blocks now (on the mining threads) and returns their hashes.",
          "cheese-cli generatetoaddress 11 rchz1...",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const std::uint64_t n = nblocks_param(r);
            const PublicKey to = parse_address(r.get_string("address"), (*node.params));
            const std::int64_t tries = r.get_int("maxtries");
            if (tries <= 0) throw RpcError(kRpcInvalidParameter, "maxtries must be positive");
            co_return hashes_json(co_await node.miner->generate(to, n, static_cast<std::uint64_t>(tries)));
          }};
}

RpcMethod mine(NodeContext& node) {
  return {"mine",
          "mining",
          {{"nblocks", RpcType::kInt, false, "how many blocks", 1},
           {"address", RpcType::kString, false, "who receives the rewards", std::nullopt, kWalletAddress}},
          "Mines blocks now and returns their hashes (cheese-cli mine [n]).",
          "cheese-cli mine 5",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const std::uint64_t n = nblocks_param(r);
            const PublicKey to = co_await mining_address(node, r);
            co_return hashes_json(co_await node.miner->generate(to, n, ~std::uint64_t{0}));
          }};
}

RpcMethod setgenerate(NodeContext& node) {
  return {"setgenerate",
          "mining",
          {{"generate", RpcType::kBool, true, "true to mine continuously, false to stop"},
           {"genproclimit", RpcType::kInt, false, "mining threads (0 = all cores)", 0, "-genthreads"},
           {"address", RpcType::kString, false, "who receives the rewards", std::nullopt, kWalletAddress}},
          "Starts or stops continuous mining in the background.",
          "cheese-cli setgenerate true 2",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const bool on = r.get_bool("generate");
            const std::int64_t threads = r.get_int("genproclimit");
            if (threads < 0 || threads > 1024) throw RpcError(kRpcInvalidParameter, "genproclimit must be 0..1024");
            PublicKey to{};
            if (on) to = co_await mining_address(node, r);
            node.miner->set_generate(on, to, static_cast<unsigned>(threads));
            co_return json::value(nullptr);
          }};
}

RpcMethod getmininginfo(NodeContext& node) {
  return {"getmininginfo",
          "mining",
          {},
          "Mining state: blocks, difficulty, network and local hash rate, threads, pooled transactions.",
          "cheese-cli getmininginfo",
          [&node](RpcRequest&) -> asio::awaitable<json::value> {
            auto& chain = (*node.chain);
            json::object o;
            o["blocks"] = chain.height();
            o["difficulty"] = difficulty_of(chain.tip()->header.bits, (*node.params));
            o["networkhashps"] = network_hashps(chain);
            o["localhashps"] = node.miner->hashrate();
            o["generate"] = node.miner->generating();
            o["genproclimit"] = node.miner->threads();
            o["pooledtx"] = node.mempool->size();
            o["chain"] = node.params->name;
            o["warnings"] = "";
            co_return o;
          }};
}

json::object block_template_json(NodeContext& node, const BlockTemplate& t) {
  json::object o;
  o["version"] = t.block.header.version;
  o["previousblockhash"] = t.block.header.prev_hash.to_display_hex();
  o["height"] = t.height;
  o["curtime"] = t.block.header.time;
  o["mintime"] = node.chain->median_time_past(node.chain->tip()) + 1;
  o["bits"] = fmt::format("{:08x}", t.block.header.bits);
  o["target"] = decode_compact(t.block.header.bits).target.to_hex();
  o["coinbasevalue"] = amount_value(t.block.txs[0].amount);
  o["fees"] = amount_value(t.fees);
  o["sizelimit"] = kMaxBlockSize;
  json::array txs;
  for (std::size_t i = 1; i < t.block.txs.size(); ++i) {
    txs.push_back(json::object{{"txid", txid(t.block.txs[i]).to_display_hex()},
                               {"fee", amount_value(t.block.txs[i].fee)},
                               {"hex", to_hex(serialize(t.block.txs[i]))}});
  }
  o["transactions"] = std::move(txs);
  o["blockhex"] = to_hex(serialize(t.block));
  return o;
}

RpcMethod getblocktemplate(NodeContext& node) {
  return {"getblocktemplate",
          "mining",
          {{"address", RpcType::kString, false, "who the coinbase pays", std::nullopt, kWalletAddress}},
          "A block to mine: an external miner varies the header nonce (bytes 76..79 of blockhex) until "
          "the hash is at most target, then calls submitblock with the whole block.",
          "cheese-cli getblocktemplate rchz1...",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const PublicKey to = co_await mining_address(node, r);
            static std::uint64_t extra = 0;
            const BlockTemplate t = create_block_template((*node.chain), (*node.mempool), to, unix_now(), ++extra);
            co_return block_template_json(node, t);
          }};
}

}  // namespace

void register_mining_rpcs(NodeContext& node, RpcTable& table) {
  for (auto m :
       {generatetoaddress(node), mine(node), setgenerate(node), getmininginfo(node), getblocktemplate(node)}) {
    table.add(std::move(m));
  }
}

}  // namespace cheese
