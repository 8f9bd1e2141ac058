#pragma once

#include <coroutine>

#include <boost/asio.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

#include "chain/chainstate.hpp"
#include "chain/mempool.hpp"
#include "io/task_group.hpp"

namespace cheese {

namespace asio = boost::asio;

//! The outcome of offering a block to the node (from a peer, the miner or submitblock).
struct BlockSubmission {
  ProcessBlockResult result;
  bool accepted() const { return result.verdict.ok() && !result.duplicate; }
};

//! Blocks received and waiting to be connected, at most this many bytes (serialized) in all: a
//! peer's next block waits until there is room. Their signatures are checked on the worker pool
//! while the blocks before them are connected.
inline constexpr std::size_t kMaxQueuedBlockBytes = 32 * 1024 * 1024;

//! The one way into the chain and the mempool for blocks and transactions from anywhere (peers,
//! the miner, RPC, wallets): the block queue and its connector, transaction submission, and the
//! chain notifications that follow (mempool update, then the listeners in the order registered).
//! Lives on the io thread; signature checks run on the chain's worker pool.
class BlockProcessor {
 public:
  //! Called when a change cannot be stored (disk full): the node must stop.
  using FatalError = std::function<void(const std::string&)>;
  BlockProcessor(asio::io_context& io, Chainstate& chain, Mempool& mempool, FatalError fatal);
  BlockProcessor(const BlockProcessor&) = delete;
  BlockProcessor& operator=(const BlockProcessor&) = delete;

  //! Checks signatures on the worker pool (off the io thread), then validates and connects the
  //! block on the io thread, updates the mempool and notifies. Returns once the block is
  //! processed and its connection committed (the miner, submitblock).
  asio::awaitable<BlockSubmission> submit_block(std::shared_ptr<const Block> block, std::uint64_t source_peer = 0);

  using BlockDone = std::function<void(const BlockSubmission&)>;
  //! For blocks from peers: queues the block behind those received before it and returns as soon
  //! as it is queued (waiting only while kMaxQueuedBlockBytes are queued); `done` is called on the
  //! io thread once it is processed. Signature checks of queued blocks run ahead on the worker
  //! pool; while more blocks are queued, connections share SQLite transactions
  //! (CommitMode::kDeferred), committed when the queue runs dry.
  asio::awaitable<void> queue_block(std::shared_ptr<const Block> block, std::uint64_t source_peer, BlockDone done);
  //! The same without waiting, for a caller that waits itself (the P2P message processor pauses
  //! the peer): false, and nothing queued, while has_room(block) is false.
  bool try_queue_block(std::shared_ptr<const Block> block, std::uint64_t source_peer, BlockDone done);
  //! True when a block of this size may be queued now.
  bool has_room(std::size_t bytes) const { return block_queue_.empty() || queued_bytes_ + bytes <= queue_limit_; }
  //! True while a block with this hash waits in the queue (the downloader does not ask again).
  bool block_queued(const Hash256& hash) const { return queued_hashes_.contains(hash); }
  std::size_t queued_block_bytes() const { return queued_bytes_; }
  //! Tests lower the bound (kMaxQueuedBlockBytes) to see it hold with a few small blocks.
  void set_block_queue_limit_for_testing(std::size_t bytes) { queue_limit_ = bytes; }

  //! Checks the signature on the worker pool, then offers the transaction to the mempool.
  //! `replace`: whether it may replace a pooled transaction of the same sender and nonce (the
  //! wallet's sends pass ReplacePolicy::kNever).
  asio::awaitable<MempoolAccept> submit_transaction(Transaction tx, std::uint64_t source_peer = 0,
                                                    ReplacePolicy replace = ReplacePolicy::kByFee);

  //! Called on the io thread after every block submission that changed the chain (blocks
  //! connected or disconnected) or was processed, after the mempool has been updated.
  using ChainListener = std::function<void(const ProcessBlockResult&, std::uint64_t source_peer)>;
  //! Called on the io thread after a transaction entered the mempool.
  using TxListener = std::function<void(const Transaction&, const Hash256& txid, std::uint64_t source_peer)>;
  //! Called when the queue has room again after being full (a paused reader may go on).
  using RoomListener = std::function<void()>;
  void on_chain_change(ChainListener f) { chain_listeners_.push_back(std::move(f)); }
  void on_transaction(TxListener f) { tx_listeners_.push_back(std::move(f)); }
  void on_room(RoomListener f) { room_listeners_.push_back(std::move(f)); }

  //! Drops the queued blocks (peers send them again); whoever waits for one in submit_block is
  //! abandoned with it. Blocks offered later are dropped too.
  void stop();

 private:
  struct QueuedBlock {
    std::shared_ptr<const Block> block;
    Hash256 hash;
    std::size_t bytes = 0;
    std::uint64_t source_peer = 0;
    bool durable = false;                                //!< committed before `done` runs (kNow), not deferred
    std::shared_ptr<std::optional<Verdict>> signatures;  //!< set on the io thread when checked
    BlockDone done;
  };

  asio::awaitable<void> enqueue_block(std::shared_ptr<const Block> block, std::uint64_t source_peer, bool durable,
                                      BlockDone done);
  //! Answers `done` at once for a duplicate or a header without proof of work; true if it did.
  bool settled_cheaply(const Block& block, const Hash256& hash, const BlockDone& done) const;
  void push(std::shared_ptr<const Block> block, const Hash256& hash, std::size_t bytes, std::uint64_t source_peer,
            bool durable, BlockDone done);
  asio::awaitable<void> connect_queued_blocks();
  void after_block(const ProcessBlockResult& r, std::uint64_t source_peer);
  //! The miners whose coinbase matured with the disconnected blocks (their balances went down).
  std::vector<PublicKey> matured_coinbases(const std::vector<Block>& disconnected) const;
  void wake();

  asio::io_context& io_;
  Chainstate& chain_;
  Mempool& mempool_;
  FatalError fatal_;
  std::vector<ChainListener> chain_listeners_;
  std::vector<TxListener> tx_listeners_;
  std::vector<RoomListener> room_listeners_;
  std::deque<QueuedBlock> block_queue_;
  std::unordered_set<Hash256, Hash256Hasher> queued_hashes_;
  std::size_t queued_bytes_ = 0;
  std::size_t queue_limit_ = kMaxQueuedBlockBytes;
  bool connector_running_ = false;
  bool was_full_ = false;
  bool stopped_ = false;
  io::TaskGroup tasks_;               //!< the connector and submit_block's enqueueing
  asio::steady_timer queue_changed_;  //!< cancelled to wake the connector and waiting peers
};

}  // namespace cheese
