#include "chain/sig_verifier.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>

namespace cheese {

namespace {
// Signatures per work item: large enough that queueing costs nothing next to ~50 us per check.
constexpr std::size_t kChunk = 32;
}  // namespace

SignatureVerifier::SignatureVerifier(std::size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  ensure_sodium();
  workers_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

SignatureVerifier::~SignatureVerifier() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void SignatureVerifier::post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void SignatureVerifier::worker_loop() {
  // Named for top -H, perf and debuggers (at most 15 characters).
  pthread_setname_np(pthread_self(), "cheese-verify");
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left to run
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

void SignatureVerifier::verify_block_async(std::shared_ptr<const Block> block, NetworkMagic magic,
                                           std::function<void(Verdict)> done) {
  const std::size_t n = block->txs.size();
  if (n <= 1) {
    done(Verdict{});
    return;
  }
  struct Shared {
    std::shared_ptr<const Block> block;
    NetworkMagic magic;
    std::function<void(Verdict)> done;
    std::atomic<std::size_t> next{1};
    std::atomic<std::size_t> first_bad;
    std::atomic<std::size_t> running;
  };
  const std::size_t tasks = std::min(workers_.size(), (n - 1 + kChunk - 1) / kChunk);
  auto shared = std::make_shared<Shared>();
  shared->block = std::move(block);
  shared->magic = magic;
  shared->done = std::move(done);
  shared->first_bad = n;
  shared->running = tasks;
  for (std::size_t t = 0; t < tasks; ++t) {
    post([shared, n] {
      for (;;) {
        const std::size_t begin = shared->next.fetch_add(kChunk);
        // Stop early once a failure is known before this chunk.
        if (begin >= n || begin > shared->first_bad.load()) break;
        const auto v = check_block_signatures(*shared->block, shared->magic, begin, begin + kChunk);
        if (!v) {
          std::size_t cur = shared->first_bad.load();
          while (v.tx_index < cur && !shared->first_bad.compare_exchange_weak(cur, v.tx_index)) {
          }
        }
      }
      if (shared->running.fetch_sub(1) == 1) {
        const std::size_t bad = shared->first_bad.load();
        shared->done(bad < n ? Verdict::fail(Reject::kTxBadSignature, bad) : Verdict{});
      }
    });
  }
}

std::future<Verdict> SignatureVerifier::verify_block_async(std::shared_ptr<const Block> block, NetworkMagic magic) {
  auto promise = std::make_shared<std::promise<Verdict>>();
  auto future = promise->get_future();
  verify_block_async(std::move(block), magic, [promise](Verdict v) { promise->set_value(v); });
  return future;
}

Verdict SignatureVerifier::verify_block(const Block& block, const NetworkMagic& magic) {
  // A non-owning shared_ptr: this call waits for every task before `block` goes away.
  std::shared_ptr<const Block> view(std::shared_ptr<const Block>{}, &block);
  return verify_block_async(std::move(view), magic).get();
}

}  // namespace cheese
