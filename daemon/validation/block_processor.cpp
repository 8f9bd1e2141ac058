#include "daemon/validation/block_processor.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "io/io_watchdog.hpp"
#include "io/run_on_pool.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace cheese {

BlockProcessor::BlockProcessor(asio::io_context& io, Chainstate& chain, Mempool& mempool, FatalError fatal)
    : io_(io),
      chain_(chain),
      mempool_(mempool),
      fatal_(std::move(fatal)),
      tasks_(io.get_executor(),
             [this](std::string_view name, std::string_view what) {
               if (name == "block connector") {
                 connector_running_ = false;
                 fatal_(std::string(what));  // a storage failure: the node must stop
               } else {
                 log_info("{} ended: {}", name, what);
               }
             }),
      queue_changed_(io) {
  queue_changed_.expires_at(std::chrono::steady_clock::time_point::max());  // only ever cancelled
}

void BlockProcessor::stop() {
  stopped_ = true;
  block_queue_.clear();
  queued_hashes_.clear();
  queued_bytes_ = 0;
  wake();  // peers waiting to queue a block, and the connector, stop waiting
}

void BlockProcessor::wake() {
  queue_changed_.cancel();
  if (was_full_ && has_room(0) && !stopped_) {
    was_full_ = false;
    for (const auto& f : room_listeners_) f();
  }
}

asio::awaitable<BlockSubmission> BlockProcessor::submit_block(std::shared_ptr<const Block> block,
                                                              std::uint64_t source_peer) {
  auto executor = co_await asio::this_coro::executor;
  // GCC 12 destroys temporaries captured in a co_await expression twice: name the initiation.
  auto initiation = [this, block, source_peer, executor](auto handler) {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    BlockDone done = [shared, executor](const BlockSubmission& s) {
      asio::post(executor, [shared, s]() mutable { (*shared)(std::move(s)); });
    };
    tasks_.spawn("submit_block", enqueue_block(block, source_peer, /*durable=*/true, std::move(done)));
  };
  auto pending = asio::async_initiate<decltype(asio::use_awaitable), void(BlockSubmission)>(initiation,
                                                                                            asio::use_awaitable);
  BlockSubmission out = co_await std::move(pending);
  co_return out;
}

asio::awaitable<void> BlockProcessor::queue_block(std::shared_ptr<const Block> block, std::uint64_t source_peer,
                                                  BlockDone done) {
  return enqueue_block(std::move(block), source_peer, /*durable=*/false, std::move(done));
}

bool BlockProcessor::settled_cheaply(const Block& block, const Hash256& hash, const BlockDone& done) const {
  // Cheap checks first, before any signature: a block we already have (or that is already
  // queued), one known invalid, one whose parent is unknown or invalid, or one that fails the
  // context-free checks (proof of work, merkle root, size) is answered at once. So the same block
  // re-sent, or a block on a branch we never heard of, costs a lookup and a few hashes, not a
  // signature check per transaction.
  const BlockIndex* known = chain_.lookup(hash);
  BlockSubmission s;
  if ((known && known->have_data() && !known->failed()) || queued_hashes_.contains(hash)) {
    s.result.duplicate = true;
  } else if (known && known->failed()) {
    s.result.duplicate = true;
    s.result.verdict = Verdict::fail(Reject::kBlockKnownInvalid);
  } else if (const BlockIndex* parent = chain_.lookup(block.header.prev_hash);
             !known && !parent && !queued_hashes_.contains(block.header.prev_hash)) {
    s.result.verdict = Verdict::fail(Reject::kBlockUnknownParent);
  } else if (!known && parent && parent->failed()) {
    s.result.verdict = Verdict::fail(Reject::kBlockParentInvalid);
  } else if (const Verdict v = check_block(block, chain_.params()); !v) {
    // Proof of work, merkle root, size and the form of each transaction, all without signatures
    // (also for a header we accepted: its body may be mutated).
    s.result.verdict = v;
  } else {
    return false;
  }
  done(s);
  return true;
}

bool BlockProcessor::try_queue_block(std::shared_ptr<const Block> block, std::uint64_t source_peer, BlockDone done) {
  if (stopped_) return true;  // dropped, as the blocks still queued are at stop
  const Hash256 hash = block->hash();
  if (settled_cheaply(*block, hash, done)) return true;
  const std::size_t bytes = serialized_size(*block);
  if (!has_room(bytes)) {
    was_full_ = true;
    return false;
  }
  push(std::move(block), hash, bytes, source_peer, /*durable=*/false, std::move(done));
  return true;
}

asio::awaitable<void> BlockProcessor::enqueue_block(std::shared_ptr<const Block> block, std::uint64_t source_peer,
                                                    bool durable, BlockDone done) {
  if (stopped_) co_return;  // dropped, as the blocks still queued are at stop
  const Hash256 hash = block->hash();
  const std::size_t bytes = serialized_size(*block);
  boost::system::error_code ec;
  for (;;) {
    if (settled_cheaply(*block, hash, done)) co_return;
    if (has_room(bytes)) break;
    was_full_ = true;
    co_await queue_changed_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_) co_return;
  }
  push(std::move(block), hash, bytes, source_peer, durable, std::move(done));
}

void BlockProcessor::push(std::shared_ptr<const Block> block, const Hash256& hash, std::size_t bytes,
                          std::uint64_t source_peer, bool durable, BlockDone done) {
  auto signatures = std::make_shared<std::optional<Verdict>>();
  block_queue_.push_back(QueuedBlock{block, hash, bytes, source_peer, durable, signatures, std::move(done)});
  queued_hashes_.insert(hash);
  queued_bytes_ += bytes;
  auto executor = io_.get_executor();
  chain_.verifier().verify_block_async(block, chain_.params().magic, [this, signatures, executor](Verdict v) {
    asio::post(executor, [this, signatures, v] {
      *signatures = v;
      queue_changed_.cancel();  // wakes the connector
    });
  });
  if (connector_running_) return;
  connector_running_ = true;
  tasks_.spawn("block connector", connect_queued_blocks());
}

asio::awaitable<void> BlockProcessor::connect_queued_blocks() {
  boost::system::error_code ec;
  while (!block_queue_.empty() && !stopped_) {
    if (!*block_queue_.front().signatures) {
      co_await queue_changed_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    QueuedBlock item = std::move(block_queue_.front());
    block_queue_.pop_front();
    queued_hashes_.erase(item.hash);
    queued_bytes_ -= item.bytes;
    wake();  // room for a peer waiting to queue its block
    // While more blocks wait (initial sync), connections share one SQLite transaction; a block
    // from the miner or submitblock, and the last queued one, commit before anyone hears of them.
    const CommitMode mode = item.durable || block_queue_.empty() ? CommitMode::kNow : CommitMode::kDeferred;
    BlockSubmission out;
    const auto named = io::IoWatchdog::scope_here("connect block", {});  // the io watchdog's name
    out.result = chain_.process_block_with_signatures(*item.block, unix_now(), **item.signatures, mode);
    after_block(out.result, item.source_peer);
    item.done(out);
  }
  chain_.flush();
  connector_running_ = false;
}

namespace {

//! A reorg that fails half way lists blocks that were connected and disconnected again (the valid
//! start of the failed branch, the old chain's blocks taken off and put back): only the net change
//! counts, for the mempool and for what is announced. Each block's connections minus
//! disconnections is +1 (newly active), -1 (no longer active) or 0 (as before).
ProcessBlockResult net_change(const ProcessBlockResult& r) {
  std::map<Hash256, int> balance;
  for (const auto& b : r.connected) ++balance[b.hash()];
  for (const auto& b : r.disconnected) --balance[b.hash()];
  const bool plain = std::all_of(balance.begin(), balance.end(), [](const auto& e) { return e.second != 0; });
  if (plain) return r;
  ProcessBlockResult out;
  out.verdict = r.verdict;
  out.duplicate = r.duplicate;
  out.tip_changed = r.tip_changed;
  out.invalidated = r.invalidated;
  std::set<Hash256> taken;
  for (const auto& b : r.disconnected) {
    if (balance[b.hash()] < 0 && taken.insert(b.hash()).second) out.disconnected.push_back(b);
  }
  for (const auto& b : r.connected) {
    if (balance[b.hash()] > 0 && taken.insert(b.hash()).second) out.connected.push_back(b);
  }
  return out;
}

}  // namespace

std::vector<PublicKey> BlockProcessor::matured_coinbases(const std::vector<Block>& disconnected) const {
  // Disconnecting the block at height h takes back the coinbase that matured with it (that of its
  // ancestor at h - maturity): that miner's balance goes down.
  std::vector<PublicKey> miners;
  const std::uint64_t maturity = chain_.params().coinbase_maturity;
  for (const auto& b : disconnected) {
    const BlockIndex* idx = chain_.lookup(b.hash());
    if (!idx || idx->height <= maturity) continue;
    if (const BlockIndex* m = idx->ancestor(idx->height - maturity)) miners.push_back(m->coinbase_recipient);
  }
  return miners;
}

void BlockProcessor::after_block(const ProcessBlockResult& result, std::uint64_t source_peer) {
  const ProcessBlockResult r = net_change(result);
  if (r.disconnected.empty()) {
    for (const auto& b : r.connected) mempool_.block_connected(b, chain_);
  } else {
    mempool_.reorganize(r.disconnected, r.connected, chain_, unix_now(), matured_coinbases(r.disconnected));
  }
  if (r.tip_changed) {
    log_info("New tip {} at height {} ({} tx in mempool)", chain_.tip()->hash.to_display_hex(), chain_.height(),
             mempool_.size());
  }
  for (const auto& [hash, v] : r.invalidated) {
    log_info("Block {} is invalid: {}", hash.to_display_hex(), to_string(v.reason));
  }
  if (r.connected.empty() && r.disconnected.empty()) return;
  for (const auto& f : chain_listeners_) f(r, source_peer);
}

asio::awaitable<MempoolAccept> BlockProcessor::submit_transaction(Transaction tx, std::uint64_t source_peer,
                                                                  ReplacePolicy replace) {
  const auto magic = chain_.params().magic;
  auto shared = std::make_shared<const Transaction>(std::move(tx));
  // Cheap checks first: a transaction the pool would refuse anyway costs no signature check.
  if (!shared->is_coinbase()) {
    if (MempoolAccept pre = mempool_.precheck(*shared, chain_, replace); !pre.ok()) co_return pre;
  }
  // GCC 12 destroys a lambda temporary inside a co_await expression twice (here: one reference
  // of `shared` too many released, a use-after-free found by ASan): name it first.
  auto check = [shared, magic] { return !shared->is_coinbase() && verify_transaction_signature(*shared, magic); };
  auto checking = io::run_on_pool<bool>(chain_.verifier(), std::move(check));
  const bool sig_ok = co_await std::move(checking);
  if (!sig_ok && !shared->is_coinbase()) {
    MempoolAccept r;
    r.reason = MempoolReject::kConsensus;
    r.consensus = Reject::kTxBadSignature;
    co_return r;
  }
  MempoolAccept r = mempool_.accept(*shared, chain_, unix_now(), /*signature_checked=*/true, replace);
  if (r.ok()) {
    const Hash256 id = txid(*shared);
    log_debug("mempool", "accepted tx {} ({} in mempool)", id.to_display_hex(), mempool_.size());
    for (const auto& f : tx_listeners_) f(*shared, id, source_peer);
  }
  co_return r;
}

}  // namespace cheese
