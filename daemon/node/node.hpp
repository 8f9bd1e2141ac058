#pragma once

#include <coroutine>

#include <boost/asio.hpp>
#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include "chain/chainstate.hpp"
#include "chain/mempool.hpp"
#include "daemon/http/http_server.hpp"
#include "daemon/mining/miner.hpp"
#include "daemon/net/net_manager.hpp"
#include "daemon/node/options.hpp"
#include "daemon/rpc/server.hpp"
#include "daemon/net/tracker_client.hpp"
#include "daemon/wallet/wallet_manager.hpp"
#include "daemon/webui/web_ui.hpp"

namespace cheese {

//! The outcome of offering a block to the node (from a peer, the miner or submitblock).
struct BlockSubmission {
  ProcessBlockResult result;
  bool accepted() const { return result.verdict.ok() && !result.duplicate; }
};

//! Blocks received and waiting to be connected, at most this many bytes (serialized) in all: a
//! peer's next block waits until there is room. Their signatures are checked on the worker pool
//! while the blocks before them are connected.
inline constexpr std::size_t kMaxQueuedBlockBytes = 32 * 1024 * 1024;

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
  //! block on the io thread, updates the mempool and announces a new tip. Returns once the block
  //! is processed and its connection committed (the miner, submitblock).
  asio::awaitable<BlockSubmission> submit_block(std::shared_ptr<const Block> block, std::uint64_t source_peer = 0);
  using BlockDone = std::function<void(const BlockSubmission&)>;
  //! For blocks from peers: queues the block behind those received before it and returns as soon
  //! as it is queued (waiting only while kMaxQueuedBlockBytes are queued); `done` is called on the
  //! io thread once it is processed. Signature checks of queued blocks run ahead on the worker
  //! pool; while more blocks are queued, connections share SQLite transactions
  //! (CommitMode::kDeferred), committed when the queue runs dry.
  asio::awaitable<void> queue_block(std::shared_ptr<const Block> block, std::uint64_t source_peer, BlockDone done);
  //! True while a block with this hash waits in the queue (the downloader does not ask again).
  bool block_queued(const Hash256& hash) const { return queued_hashes_.contains(hash); }
  std::size_t queued_block_bytes() const { return queued_bytes_; }
  //! Tests lower the bound (kMaxQueuedBlockBytes) to see it hold with a few small blocks.
  void set_block_queue_limit_for_testing(std::size_t bytes) { queue_limit_ = bytes; }
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
  int exit_code_ = 0;

  asio::awaitable<void> enqueue_block(std::shared_ptr<const Block> block, std::uint64_t source_peer, bool durable,
                                      BlockDone done);
  asio::awaitable<void> connect_queued_blocks();
  void fatal_error(const std::string& what);

  struct QueuedBlock {
    std::shared_ptr<const Block> block;
    Hash256 hash;
    std::size_t bytes = 0;
    std::uint64_t source_peer = 0;
    bool durable = false;  //!< committed before `done` runs (kNow), not deferred
    std::shared_ptr<std::optional<Verdict>> signatures;  //!< set on the io thread when checked
    BlockDone done;
  };
  std::deque<QueuedBlock> block_queue_;
  std::unordered_set<Hash256, Hash256Hasher> queued_hashes_;
  std::size_t queued_bytes_ = 0;
  std::size_t queue_limit_ = kMaxQueuedBlockBytes;
  bool connector_running_ = false;
  asio::steady_timer queue_changed_{io_};  //!< cancelled to wake the connector and waiting peers
};

//! Registers the RPC methods of each area (rpc_*.cpp).
void register_control_rpcs(Node& node, RpcTable& table);
void register_chain_rpcs(Node& node, RpcTable& table);
void register_net_rpcs(Node& node, RpcTable& table);
void register_mining_rpcs(Node& node, RpcTable& table);

}  // namespace cheese
