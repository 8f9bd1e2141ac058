#pragma once

#include <coroutine>

#include <boost/asio.hpp>

#include "daemon/node/context.hpp"
#include "daemon/node/options.hpp"

namespace cheese {

namespace asio = boost::asio;

//! Builds the node's parts into a NodeContext, runs the io thread until a stop is requested, then
//! closes listeners and sessions first and the miner and wallets last (Bitcoin Core's init.cpp). One io_context
//! thread runs RPC and P2P sessions; Chainstate and Mempool live on that thread; signature checks and mining run on
//! worker threads and post their results back.
class Node {
 public:
  explicit Node(NodeOptions options);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  //! Starts listening (RPC, P2P, tracker) and runs until request_stop(). Returns an exit code.
  int run();
  //! Asks for a clean shutdown (from a signal, the stop RPC, a fatal storage error or a test).
  void request_stop();

  asio::io_context& io() { return io_; }
  NodeContext& context() { return ctx_; }

 private:
  void write_cookie();
  void fatal_error(const std::string& what);

  asio::io_context io_{1};
  NodeContext ctx_;
  std::string rpc_auth_;  //!< the expected "Basic ..." header value
  asio::signal_set signals_{io_};
  bool stopping_ = false;
  int exit_code_ = 0;
};

//! Registers the RPC methods of each area (daemon/rpc/*.cpp).
void register_control_rpcs(NodeContext& node, RpcTable& table);
void register_chain_rpcs(NodeContext& node, RpcTable& table);
void register_net_rpcs(NodeContext& node, RpcTable& table);
void register_mining_rpcs(NodeContext& node, RpcTable& table);

}  // namespace cheese
