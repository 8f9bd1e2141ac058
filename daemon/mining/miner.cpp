#include "daemon/mining/miner.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include "daemon/validation/block_processor.hpp"
#include "io/run_on_pool.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace cheese {

namespace {

//! One proof-of-work search (on a search thread; solve_header starts the other stripes' threads).
std::optional<std::uint32_t> search(const BlockTemplate& tmpl, unsigned threads, const std::atomic<bool>& cancel,
                                    std::atomic<std::uint64_t>& hashes, std::uint64_t budget) {
  // A real search runs at the lowest priority (as bitcoind's miner threads did): the search
  // threads, which inherit it, yield to the io thread and to the signature checks of a competing
  // block. Easy targets (regtest, met within a few hashes) keep the normal priority, so that
  // mining many blocks on a busy machine does not wait for the scheduler each time.
  const std::uint8_t* t = tmpl.target.bytes.data();
  const std::uint32_t top = t[28] | (t[29] << 8) | (t[30] << 16) | (std::uint32_t{t[31]} << 24);
  if (top < 0x1000) {  // about 2^20 hashes or more per block
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
  }
  return solve_header(tmpl.block.header, tmpl.target, threads, cancel, hashes, budget);
}

}  // namespace

void SearchThreads::post(std::function<void()> job) {
  std::erase_if(jobs_, [](const Job& j) { return j.done->load(); });
  auto done = std::make_shared<std::atomic<bool>>(false);
  jobs_.push_back({std::jthread([job = std::move(job), done] {
                     job();
                     done->store(true);
                   }),
                   done});
}

Miner::Miner(asio::io_context& io, Chainstate& chain, Mempool& mempool, BlockProcessor& blocks, unsigned threads)
    : chain_(chain),
      mempool_(mempool),
      blocks_(blocks),
      threads_(threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : threads),
      hashes_(std::make_shared<std::atomic<std::uint64_t>>(0)),
      tasks_(io.get_executor(),
             [](std::string_view, std::string_view what) { log_info("Background mining stopped: {}", what); }) {}

Miner::~Miner() { stop(); }

void Miner::stop() {
  stopped_ = true;
  generating_ = false;
  ++generation_;
  if (cancel_) cancel_->store(true);
  tasks_.close();              // the background loop ends at its next co_await (operation_aborted, not logged)
  search_threads_.join_all();  // the cancelled search returns within a few thousand hashes
}

void Miner::tip_changed() {
  if (cancel_) cancel_->store(true);
}

double Miner::hashrate() const {
  if (rate_samples_.size() < 2) return 0;
  const auto& [t0, h0] = rate_samples_.front();
  const auto& [t1, h1] = rate_samples_.back();
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  return secs > 0 ? static_cast<double>(h1 - h0) / secs : 0;
}

asio::awaitable<std::optional<Hash256>> Miner::mine_one(const PublicKey& to, std::uint64_t max_tries,
                                                        unsigned threads, std::optional<std::uint64_t> generation) {
  std::uint64_t tried = 0;
  while (!stopped_ && tried < max_tries && (!generation || *generation == generation_)) {
    auto tmpl = std::make_shared<BlockTemplate>(
        create_block_template(chain_, mempool_, to, unix_now(), ++extra_nonce_));
    const Hash256 prev = tmpl->block.header.prev_hash;
    if (test_target_ && !hash_meets_target(tmpl->target, *test_target_)) tmpl->target = *test_target_;
    searching_on_ = prev;
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    cancel_ = cancel;
    auto hashes = hashes_;
    const std::uint64_t budget = max_tries - tried;
    const std::uint64_t before = hashes->load();
    // The search runs on its own threads (never the io thread); run_on_pool brings the result back.
    // GCC 12 destroys temporaries captured in a co_await expression twice: name the job and the awaitable.
    auto job = [tmpl, cancel, hashes, budget, threads] { return search(*tmpl, threads, *cancel, *hashes, budget); };
    auto searching = io::run_on_pool<std::optional<std::uint32_t>>(search_threads_, std::move(job));
    const std::optional<std::uint32_t> nonce = co_await std::move(searching);
    if (cancel_ == cancel) searching_on_.reset();  // else a newer search has started meanwhile
    tried += hashes->load() - before;
    rate_samples_.emplace_back(std::chrono::steady_clock::now(), hashes->load());
    if (rate_samples_.size() > 32) rate_samples_.erase(rate_samples_.begin());
    if (stopped_) co_return std::nullopt;
    if (!nonce) {
      if (chain_.tip()->hash != prev || cancel->load()) continue;  // new tip or template: start over
      continue;  // nonce space (or budget) used up: a new extra-nonce gives a new space
    }
    tmpl->block.header.nonce = *nonce;
    auto block = std::make_shared<const Block>(std::move(tmpl->block));
    const Hash256 hash = block->hash();
    const auto submitted = co_await blocks_.submit_block(block);
    if (submitted.result.verdict && chain_.is_active(chain_.lookup(hash))) {
      ++blocks_found_;
      log_debug("mining", "mined block {} at height {}", hash.to_display_hex(), chain_.height());
      co_return hash;
    }
    if (!submitted.result.verdict) {
      log_info("Mined block {} was rejected: {}", hash.to_display_hex(), to_string(submitted.result.verdict.reason));
    }
  }
  co_return std::nullopt;
}

asio::awaitable<std::vector<Hash256>> Miner::generate(PublicKey to, std::uint64_t n, std::uint64_t max_tries) {
  std::vector<Hash256> out;
  for (std::uint64_t i = 0; i < n && !stopped_; ++i) {
    auto h = co_await mine_one(to, max_tries, threads_, std::nullopt);
    if (!h) break;
    out.push_back(*h);
  }
  co_return out;
}

void Miner::set_generate(bool on, PublicKey to, unsigned threads) {
  ++generation_;
  if (cancel_) cancel_->store(true);
  generating_ = on;
  if (!on) return;
  if (threads > 0) threads_ = threads;
  generate_to_ = to;
  if (!tasks_.spawn("background mining", background_loop(generation_))) {
    generating_ = false;  // stopped: the node is shutting down
    return;
  }
  log_info("Mining started on {} thread{}", threads_, threads_ == 1 ? "" : "s");
}

asio::awaitable<void> Miner::background_loop(std::uint64_t gen) {
  while (generation_ == gen && !stopped_) {
    (void)co_await mine_one(generate_to_, ~std::uint64_t{0}, threads_, gen);
  }
}

}  // namespace cheese
