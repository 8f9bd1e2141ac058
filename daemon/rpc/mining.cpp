#include <fmt/format.h>

#include "consensus/pow.hpp"
#include "daemon/mining/miner.hpp"
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
#include "daemon/rpc/util.hpp"
#include "daemon/wallet/wallet_manager.hpp"

namespace cheese {

namespace {

constexpr std::uint64_t kDefaultMaxTries = 1'000'000;
constexpr std::int64_t kMaxBlocksPerCall = 10'000;

std::uint64_t blocks_param(const RpcRequest& r, std::size_t i, std::int64_t fallback) {
  const std::int64_t n = r.get_int(i, fallback);
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

}  // namespace

asio::awaitable<PublicKey> default_mining_address(NodeContext& node, const RpcRequest& r, std::size_t i);

void register_mining_rpcs(NodeContext& node, RpcTable& table) {
  table.add({"generatetoaddress", "mining",
             {{"nblocks", RpcType::kInt, true, "how many blocks to mine"},
              {"address", RpcType::kString, true, "who receives the block rewards"},
              {"maxtries", RpcType::kInt, false, "hashes to try per block before giving up (default 1000000)"}},
             "Mines blocks now (on the mining threads) and returns their hashes.",
             "cheese-cli generatetoaddress 11 rchz1...", [&node](RpcRequest& r) -> asio::awaitable<json::value> {
               const std::uint64_t n = blocks_param(r, 0, 1);
               const PublicKey to = parse_address(r.get_string(1), (*node.params));
               const std::int64_t tries = r.get_int(2, static_cast<std::int64_t>(kDefaultMaxTries));
               if (tries <= 0) throw RpcError(kRpcInvalidParameter, "maxtries must be positive");
               co_return hashes_json(co_await node.miner->generate(to, n, static_cast<std::uint64_t>(tries)));
             }});
  table.add({"mine", "mining",
             {{"nblocks", RpcType::kInt, false, "how many blocks (default 1)"},
              {"address", RpcType::kString, false, "who receives the rewards (default: the wallet's address)"}},
             "Mines blocks now and returns their hashes (cheese-cli mine [n]).", "cheese-cli mine 5",
             [&node](RpcRequest& r) -> asio::awaitable<json::value> {
               const std::uint64_t n = blocks_param(r, 0, 1);
               const PublicKey to = co_await default_mining_address(node, r, 1);
               co_return hashes_json(co_await node.miner->generate(to, n, ~std::uint64_t{0}));
             }});
  table.add({"setgenerate", "mining",
             {{"generate", RpcType::kBool, true, "true to mine continuously, false to stop"},
              {"genproclimit", RpcType::kInt, false, "mining threads (default -genthreads, 0 = all cores)"},
              {"address", RpcType::kString, false, "who receives the rewards (default: the wallet's address)"}},
             "Starts or stops continuous mining in the background.", "cheese-cli setgenerate true 2",
             [&node](RpcRequest& r) -> asio::awaitable<json::value> {
               const bool on = r.get_bool(0, false);
               const std::int64_t threads = r.get_int(1, 0);
               if (threads < 0 || threads > 1024) throw RpcError(kRpcInvalidParameter, "genproclimit must be 0..1024");
               PublicKey to{};
               if (on) to = co_await default_mining_address(node, r, 2);
               node.miner->set_generate(on, to, static_cast<unsigned>(threads));
               co_return json::value(nullptr);
             }});
  table.add({"getmininginfo", "mining", {},
             "Mining state: blocks, difficulty, network and local hash rate, threads, pooled transactions.",
             "cheese-cli getmininginfo", [&node](RpcRequest&) -> asio::awaitable<json::value> {
               auto& chain = (*node.chain);
               const BlockIndex* tip = chain.tip();
               json::object o;
               o["blocks"] = chain.height();
               o["difficulty"] = difficulty_of(tip->header.bits, (*node.params));
               // Work of the last (up to) 120 blocks over the time they took.
               const std::uint64_t span = std::min<std::uint64_t>(120, chain.height());
               double network_rate = 0;
               if (span > 0) {
                 const BlockIndex* first = chain.at_height(chain.height() - span);
                 const double secs = std::max<double>(1.0, static_cast<double>(std::int64_t{tip->header.time} - std::int64_t{first->header.time}));
                 U256 work = tip->chain_work - first->chain_work;
                 double w = 0;
                 const Hash256 wb = work.to_hash();
                 for (std::size_t i = 32; i-- > 0;) w = w * 256.0 + wb.bytes[i];
                 network_rate = w / secs;
               }
               o["networkhashps"] = network_rate;
               o["localhashps"] = node.miner->hashrate();
               o["generate"] = node.miner->generating();
               o["genproclimit"] = node.miner->threads();
               o["pooledtx"] = node.mempool->size();
               o["chain"] = node.params->name;
               o["warnings"] = "";
               co_return o;
             }});
  table.add({"getblocktemplate", "mining",
             {{"address", RpcType::kString, false, "who the coinbase pays (default: the wallet's address)"}},
             "A block to mine: an external miner varies the header nonce (bytes 76..79 of blockhex) until "
             "the hash is at most target, then calls submitblock with the whole block.",
             "cheese-cli getblocktemplate rchz1...", [&node](RpcRequest& r) -> asio::awaitable<json::value> {
               const PublicKey to = co_await default_mining_address(node, r, 0);
               static std::uint64_t extra = 0;
               const BlockTemplate t = create_block_template((*node.chain), (*node.mempool), to, unix_now(), ++extra);
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
               co_return o;
             }});
}

}  // namespace cheese

namespace cheese {

//! The address a mining RPC pays: the given parameter, else the default wallet's (once wallets
//! exist), else an error that says what to pass.
asio::awaitable<PublicKey> default_mining_address(NodeContext& node, const RpcRequest& r, std::size_t i) {
  if (r.has(i)) co_return parse_address(r.get_string(i), (*node.params));
  if (r.wallet.empty() && node.wallets->loaded().empty()) {
    throw RpcError(kRpcWalletNotFound,
                   "No wallet is loaded: give the address that receives the rewards, or create a wallet "
                   "(createwallet)");
  }
  auto e = co_await node.wallets->for_request(r);
  co_return node.wallets->mining_address(*e);
}

}  // namespace cheese
