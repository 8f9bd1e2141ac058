#include <chrono>

#include "daemon/node/node.hpp"

namespace cheese {

void register_control_rpcs(Node& node, RpcTable& table) {
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
                                         std::chrono::steady_clock::now() - node.start_time())
                                         .count());
             }});
}

}  // namespace cheese
