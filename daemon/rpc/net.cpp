// Network RPCs (docs/rpc.md, "Network"): one function per method, each returning its table row;
// register_net_rpcs at the end is the table.

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

RpcMethod getpeerinfo(NodeContext& node) {
  return {
      "getpeerinfo",
      "network",
      {},
      "Every connected peer: address, direction, version, best height, bytes, ping time, since when.",
      "cheese-cli getpeerinfo",
      [&node](RpcRequest&) -> asio::awaitable<json::value> {
        json::array out;
        const auto steady_now = std::chrono::steady_clock::now();
        const std::int64_t wall_now = unix_now();
        auto ago = [&](std::chrono::steady_clock::time_point t) {
          return wall_now - std::chrono::duration_cast<std::chrono::seconds>(steady_now - t).count();
        };
        for (const auto& c : node.connman->connections()) {
          const ConnectionInfo& info = c->info();
          const ConnectionStats& st = c->stats();
          const PeerState* p = node.peerman->peer(info.id);
          json::object o;
          o["id"] = info.id;
          o["addr"] = info.address.to_string();
          o["inbound"] = info.inbound;
          o["connection_type"] = to_string(info.kind());
          if (p && p->version) o["relaytxes"] = p->wants_relay();
          o["handshake_done"] = p && p->handshake_done;
          if (p && p->version) {
            o["version"] = p->version->protocol_version;
            o["subver"] = p->version->user_agent;
            o["startingheight"] = p->version->best_height;
            o["listenport"] = p->version->listen_port;
          }
          // What a peer we dialled said of its inbound load (`slots`, docs/protocol.md 7.8).
          if (p && p->slots) {
            o["peer_slots"] = json::object{{"inbound", p->slots->inbound}, {"max_inbound", p->slots->max_inbound}};
          }
          o["synced_headers"] = p && p->best_known ? static_cast<std::int64_t>(p->best_known->height)
                                                   : std::int64_t{-1};
          // Headers anti-DoS: height reached by the presync of this peer's low-work chain.
          o["presynced_headers"] = p && p->presync ? static_cast<std::int64_t>(p->presync->height())
                                                   : std::int64_t{-1};
          o["inflight"] = node.peerman->downloads().in_flight(info.id);
          o["bytessent"] = st.bytes_sent;
          o["bytesrecv"] = st.bytes_recv;
          o["conntime"] = st.connected_at;
          o["lastsend"] = ago(st.last_send);
          o["lastrecv"] = ago(st.last_recv);
          if (p && p->ping_seconds) o["pingtime"] = *p->ping_seconds;
          out.push_back(std::move(o));
        }
        co_return out;
      }};
}

RpcMethod getconnectioncount(NodeContext& node) {
  return {"getconnectioncount",
          "network",
          {},
          "Number of connected peers.",
          "cheese-cli getconnectioncount",
          [&node](RpcRequest&) -> asio::awaitable<json::value> {
            co_return json::value(node.connman->connection_count());
          }};
}

//! getnetworkinfo's `listenaddresses`: where the P2P listeners listen.
json::array listen_addresses_json(const ConnManager& net) {
  json::array out;
  for (const auto& a : net.listen_addresses()) out.push_back(json::string(a.to_string()));
  return out;
}

//! getnetworkinfo's `networks`, as bitcoind's (without proxies): -onlynet limits the others.
json::array networks_json(const ConnManager& net) {
  json::array out;
  for (IpNetwork n : kAllIpNetworks) {
    const bool reachable = net.local_addresses().reachable().contains(n);
    out.push_back(json::object{{"name", to_string(n)}, {"limited", !reachable}, {"reachable", reachable}});
  }
  return out;
}

//! getnetworkinfo's `localaddresses`: what we advertise, with its score.
json::array local_addresses_json(const ConnManager& net) {
  json::array out;
  for (const auto& l : net.local_addresses().all()) {
    out.push_back(json::object{{"address", l.address.ip_string()}, {"port", l.address.port}, {"score", l.score}});
  }
  return out;
}

RpcMethod getnetworkinfo(NodeContext& node) {
  return {"getnetworkinfo",
          "network",
          {},
          "The P2P layer: version, protocol, listeners, local addresses, networks, connections, totals.",
          "cheese-cli getnetworkinfo",
          [&node](RpcRequest&) -> asio::awaitable<json::value> {
            auto& net = *node.connman;
            json::object o;
            o["version"] = 100;
            o["subversion"] = "/cheesed:0.1.0/";
            o["protocolversion"] = net::kProtocolVersion;
            o["network"] = node.params->name;
            o["localrelay"] = true;
            o["networkactive"] = true;
            o["listening"] = net.options().listen;
            o["port"] = net.listen_port();
            o["connections"] = net.connection_count();
            o["connections_out"] = net.outbound_count();
            o["connections_in"] = net.connection_count() - net.outbound_count();
            o["addressbook"] = net.address_book().size();
            o["totalbytessent"] = net.total_bytes_sent();
            o["totalbytesrecv"] = net.total_bytes_recv();
            o["relayfee"] = amount_value(node.mempool->limits().min_relay_fee);
            o["listenaddresses"] = listen_addresses_json(net);
            o["networks"] = networks_json(net);
            o["localaddresses"] = local_addresses_json(net);
            o["warnings"] = "";
            co_return o;
          }};
}

RpcMethod addnode(NodeContext& node) {
  return {"addnode",
          "network",
          {{"node", RpcType::kString, true, "host:port of the peer"},
           {"command", RpcType::kString, true, "add (keep connected), remove, or onetry (connect once)"}},
          "Adds or removes a peer to keep connected to, or connects once.",
          "cheese-cli addnode 127.0.0.1:28433 add",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const std::string target = r.get_string("node");
            const std::string command = r.get_string("command");
            if (command != "add" && command != "remove" && command != "onetry") {
              throw RpcError(kRpcInvalidParameter, "command must be add, remove or onetry");
            }
            const std::string err = node.connman->addnode(target, command);
            if (err == "Node already added") throw RpcError(kRpcNodeAlreadyAdded, "Error: Node already added");
            if (err == "Node has not been added") throw RpcError(kRpcNodeNotAdded, "Error: Node has not been added.");
            if (!err.empty()) throw RpcError(kRpcInvalidParameter, err);
            co_return json::value(nullptr);
          }};
}

RpcMethod getaddednodeinfo(NodeContext& node) {
  return {
      "getaddednodeinfo",
      "network",
      {{"node", RpcType::kString, false, "only this added node (as added)", "", "all nodes"}},
      "The added nodes (-addnode, addnode add): whether each is connected, and to which address.",
      "cheese-cli getaddednodeinfo",
      [&node](RpcRequest& r) -> asio::awaitable<json::value> {
        const std::string only = r.get_string("node");
        const auto infos = node.connman->added_node_info(only);
        if (!only.empty() && infos.empty()) {
          throw RpcError(kRpcNodeNotAdded, "Error: Node has not been added.");
        }
        json::array out;
        for (const auto& i : infos) {
          json::array addresses;
          if (i.connected) addresses.push_back(json::object{{"address", i.address}, {"connected", "outbound"}});
          out.push_back(json::object{{"addednode", i.node}, {"connected", i.connected}, {"addresses", addresses}});
        }
        co_return out;
      }};
}

RpcMethod disconnectnode(NodeContext& node) {
  return {"disconnectnode",
          "network",
          {{"address", RpcType::kString, false, "ip:port of the peer (as getpeerinfo shows it)", "",
            "fallback to nodeid"},
           {"nodeid", RpcType::kInt, false, "or its id", 0, "fallback to address"}},
          "Disconnects a peer.",
          "cheese-cli disconnectnode 127.0.0.1:28433",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const std::string address = r.get_string("address");
            const std::int64_t id = r.get_int("nodeid");
            if (address.empty() == (id == 0)) {
              throw RpcError(kRpcInvalidParameter, "give exactly one of address and nodeid");
            }
            if (!node.connman->disconnect_node(address, static_cast<std::uint64_t>(id))) {
              throw RpcError(kRpcNodeNotConnected, "Node not found in connected nodes");
            }
            co_return json::value(nullptr);
          }};
}

RpcMethod listbanned(NodeContext& node) {
  return {"listbanned",
          "network",
          {},
          "Banned and discouraged addresses with the time their ban ends.",
          "cheese-cli listbanned",
          [&node](RpcRequest&) -> asio::awaitable<json::value> {
            json::array out;
            for (const auto& [k, until] : node.connman->banned()) {
              out.push_back(json::object{{"address", k}, {"banned_until", until}});
            }
            co_return out;
          }};
}

RpcMethod setban(NodeContext& node) {
  return {"setban",
          "network",
          {{"subnet", RpcType::kString, true, "an IP address (or ip:port for a loopback peer)"},
           {"command", RpcType::kString, true, "add or remove"},
           {"bantime", RpcType::kInt, false, "seconds, or an absolute time with absolute=true", 86400},
           {"absolute", RpcType::kBool, false, "bantime is a unix time", false}},
          "Bans or unbans an address; a ban disconnects matching peers and refuses them.",
          "cheese-cli setban 192.0.2.7 add 3600",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const std::string subnet = r.get_string("subnet");
            const std::string command = r.get_string("command");
            auto parsed = net::NetAddress::parse_endpoint(subnet, 0);
            if (!parsed) throw RpcError(kRpcInvalidIpOrSubnet, fmt::format("Error: Invalid IP: {}", subnet));
            const std::string key = parsed->port != 0 ? parsed->to_string() : parsed->ip_string();
            if (command == "add") {
              const std::int64_t bantime = r.get_int("bantime");
              if (bantime <= 0) throw RpcError(kRpcInvalidParameter, "bantime must be positive");
              const std::int64_t until = r.get_bool("absolute") ? bantime : unix_now() + bantime;
              if (node.connman->banned().contains(key))
                throw RpcError(kRpcInvalidIpOrSubnet, "Error: IP already banned");
              node.connman->ban(key, until, "banned by setban");
            } else if (command == "remove") {
              if (!node.connman->unban(key))
                throw RpcError(kRpcInvalidIpOrSubnet, "Error: Unban failed. Address was not previously banned.");
            } else {
              throw RpcError(kRpcInvalidParameter, "command must be add or remove");
            }
            co_return json::value(nullptr);
          }};
}

RpcMethod clearbanned(NodeContext& node) {
  return {"clearbanned",
          "network",
          {},
          "Removes every ban.",
          "cheese-cli clearbanned",
          [&node](RpcRequest&) -> asio::awaitable<json::value> {
            node.connman->clear_bans();
            co_return json::value(nullptr);
          }};
}

}  // namespace

void register_net_rpcs(NodeContext& node, RpcTable& table) {
  for (auto m : {getpeerinfo(node), getconnectioncount(node), getnetworkinfo(node), addnode(node),
                 getaddednodeinfo(node), disconnectnode(node), listbanned(node), setban(node), clearbanned(node)}) {
    table.add(std::move(m));
  }
}

}  // namespace cheese
