#pragma once

#include "daemon/net/peer_manager.hpp"
#include "daemon/validation/block_processor.hpp"
#include "io/task_group.hpp"

namespace cheese {

//! The message processor's way into the chain: BlockProcessor's queue and transaction checks.
class NodeChainServices final : public ChainServices {
 public:
  NodeChainServices(asio::io_context& io, BlockProcessor& blocks);
  bool block_queued(const Hash256& hash) const override { return blocks_.block_queued(hash); }
  bool try_queue_block(std::shared_ptr<const Block> block, PeerId source,
                       std::function<void(const ProcessBlockResult&)> done) override;
  void submit_transaction(Transaction tx, PeerId source, std::function<void(const MempoolAccept&)> done) override;
  //! Cancels the transaction checks still running (at shutdown); their `done` is not called.
  void stop() { tasks_.close(); }

 private:
  BlockProcessor& blocks_;
  io::TaskGroup tasks_;
};

}  // namespace cheese
