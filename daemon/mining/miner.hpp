#pragma once

#include <coroutine>

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "chain/miner.hpp"
#include "io/task_group.hpp"
#include "primitives/keys.hpp"

namespace cheese {

namespace asio = boost::asio;
class BlockProcessor;
class Chainstate;
class Mempool;

//! Where io::run_on_pool runs a proof-of-work search: each job on a thread of its own, which
//! solve_header uses as its first stripe (so a search of N threads adds exactly N threads), and
//! which takes a lowered priority without handing it on to unrelated work, as a reused pool
//! thread would. The threads are joined by join_all() (a search ends promptly once cancelled).
class SearchThreads {
 public:
  SearchThreads() = default;
  SearchThreads(const SearchThreads&) = delete;
  SearchThreads& operator=(const SearchThreads&) = delete;
  ~SearchThreads() { join_all(); }

  //! Starts `job` on a new thread; the threads of finished jobs are joined (instantly) first.
  void post(std::function<void()> job);
  //! Joins every thread (jthread: on destruction).
  void join_all() { jobs_.clear(); }

 private:
  struct Job {
    std::jthread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Job> jobs_;
};

//! The node's miner: proof-of-work search on worker threads (never the io thread), blocks
//! through the same validation as a peer's, a new tip cancels the search promptly.
class Miner {
 public:
  Miner(asio::io_context& io, Chainstate& chain, Mempool& mempool, BlockProcessor& blocks, unsigned threads);
  ~Miner();

  //! Mines `n` blocks to `to`; returns their hashes. Stops early after `max_tries` hashes per block.
  asio::awaitable<std::vector<Hash256>> generate(PublicKey to, std::uint64_t n, std::uint64_t max_tries);
  //! Starts (or stops) mining continuously in the background.
  void set_generate(bool on, PublicKey to, unsigned threads);
  bool generating() const { return generating_; }
  unsigned threads() const { return threads_; }
  //! Hashes per second over the last few seconds of work.
  double hashrate() const;
  std::uint64_t blocks_found() const { return blocks_found_; }
  //! Called when the tip changes: the current search (on an old tip) is abandoned.
  void tip_changed();
  void stop();
  //! The tip the current proof-of-work search builds on; nullopt when no search runs.
  std::optional<Hash256> searching_on() const { return searching_on_; }
  //! Tests only: search against `target` instead of the template's when it is harder (a zero
  //! target is never met, so the search threads keep working until cancelled). nullopt resets.
  void set_search_target_for_testing(std::optional<Hash256> target) { test_target_ = target; }

 private:
  //! One block: template, search on threads, submit. nullopt when cancelled or out of tries.
  asio::awaitable<std::optional<Hash256>> mine_one(const PublicKey& to, std::uint64_t max_tries, unsigned threads,
                                                   std::optional<std::uint64_t> generation);
  asio::awaitable<void> background_loop(std::uint64_t generation);

  Chainstate& chain_;
  Mempool& mempool_;
  BlockProcessor& blocks_;
  unsigned threads_;
  bool generating_ = false;
  PublicKey generate_to_{};
  std::uint64_t generation_ = 0;  //!< bumped to end a background loop
  std::uint64_t extra_nonce_ = 0;
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::shared_ptr<std::atomic<std::uint64_t>> hashes_;
  std::vector<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> rate_samples_;
  std::uint64_t blocks_found_ = 0;
  SearchThreads search_threads_;
  io::TaskGroup tasks_;  //!< the background loop of set_generate; stop() closes it
  bool stopped_ = false;
  std::optional<Hash256> searching_on_;
  std::optional<Hash256> test_target_;
};

}  // namespace cheese
