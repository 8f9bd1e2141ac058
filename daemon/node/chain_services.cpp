#include "daemon/node/chain_services.hpp"

#include "util/log.hpp"

namespace cheese {

namespace {

asio::awaitable<void> check_transaction(BlockProcessor& blocks, Transaction tx, PeerId source,
                                        std::function<void(const MempoolAccept&)> done) {
  // GCC 12 destroys temporaries inside a co_await expression twice: name the awaitable first.
  auto submitting = blocks.submit_transaction(std::move(tx), source);
  const MempoolAccept r = co_await std::move(submitting);
  done(r);
}

}  // namespace

NodeChainServices::NodeChainServices(asio::io_context& io, BlockProcessor& blocks)
    : blocks_(blocks), tasks_(io.get_executor(), [](std::string_view name, std::string_view what) {
        log_info("{} ended: {}", name, what);
      }) {}

bool NodeChainServices::try_queue_block(std::shared_ptr<const Block> block, PeerId source,
                                        std::function<void(const ProcessBlockResult&)> done) {
  return blocks_.try_queue_block(std::move(block), source,
                                 [done = std::move(done)](const BlockSubmission& s) { done(s.result); });
}

void NodeChainServices::submit_transaction(Transaction tx, PeerId source,
                                           std::function<void(const MempoolAccept&)> done) {
  tasks_.spawn("transaction check", check_transaction(blocks_, std::move(tx), source, std::move(done)));
}

}  // namespace cheese
