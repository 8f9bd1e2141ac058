#pragma once

#include <coroutine>

#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "chain/chainstate.hpp"
#include "chain/mempool.hpp"
#include "http_server.hpp"
#include "miner.hpp"
#include "net_manager.hpp"
#include "options.hpp"
#include "rpc.hpp"
#include "tracker_client.hpp"
#include "wallet_manager.hpp"
#include "webui/web_ui.hpp"

namespace cheese {

//! The outcome of offering a block to the node (from a peer, the miner or submitblock).
struct BlockSubmission {
  ProcessBlockResult result;
  bool accepted() const { return result.verdict.ok() && !result.duplicate; }
};

//! The node: one io_context thread runs RPC and P2P sessions; Chainstate and Mempool live on
//! that thread; signature checks and mining run on worker threads and post their results back.
class Node {
 public:
  explicit Node(NodeOptions options);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  //! Starts listening (RPC, later P2P) and runs until stop() is requested. Returns an exit code.
  int run();
  //! Asks for a clean shutdown (from a signal, the stop RPC, or a test).
  void request_stop();

  asio::io_context& io() { return io_; }
  const NodeOptions& options() const { return options_; }
  const ChainParams& params() const { return *options_.params; }
  Chainstate& chain() { return *chain_; }
  Mempool& mempool() { return *mempool_; }
  RpcTable& rpc_table() { return rpc_; }
  HttpServer& http() { return *http_; }
  std::int64_t now() const;
  std::chrono::steady_clock::time_point start_time() const { return started_; }
  std::filesystem::path cookie_path() const { return options_.datadir / ".cookie"; }
  //! The endpoints the RPC port actually listens on (useful with -rpcport=0 in tests).
  std::vector<tcp::endpoint> rpc_endpoints() const { return http_->endpoints(); }

  //! Checks signatures on the worker pool (off the io thread), then validates and connects the
  //! block on the io thread, updates the mempool and announces a new tip.
  asio::awaitable<BlockSubmission> submit_block(std::shared_ptr<const Block> block, std::uint64_t source_peer = 0);
  //! Checks the signature on the worker pool, then offers the transaction to the mempool.
  asio::awaitable<MempoolAccept> submit_transaction(Transaction tx, std::uint64_t source_peer = 0);
  NetManager& net() { return *net_; }
  //! The tracker client; nullptr when no tracker is configured.
  TrackerClient* tracker() { return tracker_.get(); }
  Miner& miner() { return *miner_; }
  WalletManager& wallets() { return *wallets_; }
  WebUi& web_ui() { return *web_; }

  //! Called on the io thread after every block submission that changed the chain (blocks
  //! connected or disconnected), after the mempool has been updated.
  using ChainListener = std::function<void(const ProcessBlockResult&)>;
  //! Called on the io thread after a transaction entered the mempool.
  using TxListener = std::function<void(const Transaction&, const Hash256& txid)>;
  void on_chain_change(ChainListener f) { chain_listeners_.push_back(std::move(f)); }
  void on_transaction(TxListener f) { tx_listeners_.push_back(std::move(f)); }

 private:
  void write_cookie();
  void register_rpc_methods();
  bool check_auth(std::string_view authorization, std::string_view target) const;
  asio::awaitable<HttpResult> handle_http(const HttpRequestInfo& req);
  void after_block(const ProcessBlockResult& r, std::uint64_t source_peer);

  NodeOptions options_;
  asio::io_context io_{1};
  std::unique_ptr<Chainstate> chain_;
  std::unique_ptr<Mempool> mempool_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<NetManager> net_;
  std::unique_ptr<TrackerClient> tracker_;
  std::unique_ptr<Miner> miner_;
  std::unique_ptr<WalletManager> wallets_;
  RpcTable rpc_;
  std::unique_ptr<WebUi> web_;
  std::vector<ChainListener> chain_listeners_;
  std::vector<TxListener> tx_listeners_;
  std::string rpc_auth_;  //!< the expected "Basic ..." header value
  std::chrono::steady_clock::time_point started_;
  asio::signal_set signals_{io_};
  bool stopping_ = false;
};

//! Registers the RPC methods of each area (rpc_*.cpp).
void register_control_rpcs(Node& node, RpcTable& table);
void register_chain_rpcs(Node& node, RpcTable& table);
void register_net_rpcs(Node& node, RpcTable& table);
void register_mining_rpcs(Node& node, RpcTable& table);

}  // namespace cheese
