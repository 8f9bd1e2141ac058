#pragma once

#include <coroutine>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "daemon/node/options.hpp"
#include "daemon/rpc/server.hpp"
#include "util/time.hpp"

namespace cheese {

class Chainstate;
class Mempool;
class BlockProcessor;
class ConnManager;
class PeerManager;
class TrackerClient;
class Miner;
class WalletManager;
class HttpServer;
class HttpRpc;
class NodeChainServices;
class WebUi;
class RpcWorkers;
namespace io {
class IoWatchdog;
}

//! The node's parts, owned here and built by Node (daemon/node/node.cpp) in dependency order: a
//! plain struct with no member functions (Bitcoin Core's node/context.h). A subsystem receives the
//! parts it uses; only the RPC methods and the web UI, at the top, see the whole context.
struct NodeContext {
  NodeOptions options;
  const ChainParams* params = nullptr;
  boost::asio::io_context* io = nullptr;
  std::chrono::steady_clock::time_point started;
  std::unique_ptr<Chainstate> chain;
  std::unique_ptr<Mempool> mempool;
  std::unique_ptr<BlockProcessor> blocks;             //!< block queue, connector, tx submission, notifications
  std::unique_ptr<NodeChainServices> chain_services;  //!< the processor's way into `blocks`
  std::unique_ptr<ConnManager> connman;               //!< sockets, slots, dialling, address book, bans
  std::unique_ptr<PeerManager> peerman;               //!< the P2P protocol (no I/O)
  std::unique_ptr<TrackerClient> tracker;             //!< nullptr without -tracker
  std::unique_ptr<Miner> miner;
  std::unique_ptr<WalletManager> wallets;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<HttpRpc> http_rpc;  //!< auth and routes of the RPC/web port
  RpcTable rpc;
  std::unique_ptr<RpcWorkers> rpc_workers;   //!< build large RPC results off the io thread
  std::unique_ptr<io::IoWatchdog> watchdog;  //!< the io thread's stall watchdog (getstallinfo)
  std::unique_ptr<WebUi> web;
  std::function<void()> request_stop;  //!< asks the node for a clean shutdown (the stop RPC)
  NodeContext();
  ~NodeContext();
};

}  // namespace cheese
