#include <chrono>

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

namespace cheese {

void register_control_rpcs(NodeContext& node, RpcTable& table) {
  table.add({"help", "control", {{"command", RpcType::kString, false, "the method to describe"}},
             "Lists every method, or describes one.", "cheese-cli help getblock",
             [&table](RpcRequest& r) -> asio::awaitable<json::value> {
               co_return json::value(table.help_text(r.get_string(0)));
             }});
  table.add({"stop", "control", {}, "Stops cheesed cleanly (sessions closed, database flushed).", "cheese-cli stop",
             [&node](RpcRequest&) -> asio::awaitable<json::value> {
               node.request_stop();
               co_return json::value("cheesed stopping");
             }});
  table.add({"uptime", "control", {}, "Seconds since cheesed started.", "cheese-cli uptime",
             [&node](RpcRequest&) -> asio::awaitable<json::value> {
               co_return json::value(std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::steady_clock::now() - node.started)
                                         .count());
             }});
}

}  // namespace cheese
