// Tracker RPCs (docs/rpc.md, "Network"): one function per method, each returning its table row.

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
#include "daemon/validation/block_processor.hpp"

namespace cheese {

namespace {

RpcMethod gettrackerinfo(NodeContext& node) {
  return {"gettrackerinfo",
          "network",
          {},
          "Each configured tracker (-tracker=host:port): whether the node is connected and registered, its "
          "registration id, the address the tracker sees, how many peer addresses it gave, and the last error.",
          "cheese-cli gettrackerinfo",
          [&node](RpcRequest&) -> asio::awaitable<json::value> {
            json::array out;
            if (node.tracker.get() == nullptr) co_return out;
            for (const auto& t : node.tracker.get()->status()) {
              json::object o;
              o["address"] = t.address;
              o["connected"] = t.connected;
              o["registered"] = t.registered;
              o["node_id"] = t.node_id != 0 ? fmt::format("{:016x}", t.node_id) : std::string();
              o["observed"] = t.observed;
              o["heartbeat_interval"] = t.heartbeat_interval;
              o["registered_since"] = t.registered_since;
              o["registrations"] = t.registrations;
              o["peers_received"] = t.peers_received;
              o["last_error"] = t.last_error;
              out.push_back(std::move(o));
            }
            co_return out;
          }};
}

}  // namespace

void register_tracker_rpcs(NodeContext& node, RpcTable& table) {
  for (auto m : {gettrackerinfo(node)}) {
    table.add(std::move(m));
  }
}

}  // namespace cheese
