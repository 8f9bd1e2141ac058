#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "consensus/validation.hpp"

namespace cheese {

//! A pool of worker threads that checks Ed25519 signatures of blocks in parallel.
//! Signature checks are context-free, so they may run while the caller does other work;
//! account state is still applied in order by the caller.
class SignatureVerifier {
 public:
  //! threads == 0 means one per hardware thread.
  explicit SignatureVerifier(std::size_t threads = 0);
  ~SignatureVerifier();
  SignatureVerifier(const SignatureVerifier&) = delete;
  SignatureVerifier& operator=(const SignatureVerifier&) = delete;

  //! Checks every transfer signature of the block on all workers; waits for the result.
  Verdict verify_block(const Block& block, const NetworkMagic& magic);
  //! The same without waiting: `done` is called once, on a worker thread, with the verdict
  //! (the first failing transaction in block order).
  void verify_block_async(std::shared_ptr<const Block> block, NetworkMagic magic, std::function<void(Verdict)> done);
  std::future<Verdict> verify_block_async(std::shared_ptr<const Block> block, NetworkMagic magic);
  //! Runs any CPU-heavy job on the pool.
  void post(std::function<void()> job);
  std::size_t threads() const { return workers_.size(); }

 private:
  void worker_loop();
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace cheese
