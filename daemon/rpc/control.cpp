// Control RPCs (docs/rpc.md, "Control"): one function per method, each returning its table row.

#include <chrono>

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
#include "io/io_watchdog.hpp"

namespace cheese {

namespace {

RpcMethod help(const RpcTable& table) {
  return {"help",
          "control",
          {{"command", RpcType::kString, false, "the method to describe", "", "all commands"}},
          "Lists every method, or describes one.",
          "cheese-cli help getblock",
          [&table](RpcRequest& r) -> asio::awaitable<json::value> {
            co_return json::value(table.help_text(r.get_string("command")));
          }};
}

RpcMethod stop(NodeContext& node) {
  return {"stop",
          "control",
          {},
          "Stops cheesed cleanly (sessions closed, database flushed).",
          "cheese-cli stop",
          [&node](RpcRequest&) -> asio::awaitable<json::value> {
            node.request_stop();
            co_return json::value("cheesed stopping");
          }};
}

RpcMethod uptime(NodeContext& node) {
  return {"uptime",
          "control",
          {},
          "Seconds since cheesed started.",
          "cheese-cli uptime",
          [&node](RpcRequest&) -> asio::awaitable<json::value> {
            const auto elapsed = std::chrono::steady_clock::now() - node.started;
            co_return json::value(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count());
          }};
}

double milliseconds(std::chrono::microseconds us) { return static_cast<double>(us.count()) / 1000.0; }

RpcMethod getstallinfo(NodeContext& node) {
  return {"getstallinfo",
          "control",
          {},
          "Stalls of the io thread since start: turns longer than bound_ms that kept every RPC and P2P "
          "client waiting, how many, the longest, and per task (\"rpc <method>\", \"p2p <message>\", "
          "\"connect block\", or \"(unnamed)\").",
          "cheese-cli getstallinfo",
          [&node](RpcRequest&) -> asio::awaitable<json::value> {
            const io::IoStallStats& s = node.watchdog->stats();
            json::object o;
            o["bound_ms"] = s.bound.count();
            o["tick_ms"] = s.tick.count();
            o["idle_tick_ms"] = s.idle_tick.count();
            o["stalls"] = s.stalls;
            o["longest_ms"] = milliseconds(s.longest);
            o["longest_task"] = s.longest_task;
            json::object tasks;
            for (const auto& [name, t] : s.tasks) {
              tasks[name] = json::object{
                  {"stalls", t.stalls}, {"longest_ms", milliseconds(t.longest)}, {"total_ms", milliseconds(t.total)}};
            }
            o["tasks"] = std::move(tasks);
            co_return o;
          }};
}

}  // namespace

void register_control_rpcs(NodeContext& node, RpcTable& table) {
  for (auto m : {help(table), stop(node), uptime(node), getstallinfo(node)}) table.add(std::move(m));
}

}  // namespace cheese
