#pragma once

// The RPC methods' worker threads, in the shape io::run_on_pool takes.

#include <coroutine>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <utility>

namespace cheese {

//! Threads that build large RPC results (verbose mempool, blocks) as JSON text. A method takes a
//! snapshot of what it needs on the io thread (the chainstate and the mempool are only read
//! there), builds and serialises on a worker with io::run_on_pool, and the io thread only sends.
inline constexpr unsigned kRpcWorkerThreads = 2;
//! Nice value of the worker threads: on a busy machine the io thread, which serves everyone, gets
//! the CPU before a large result is built.
inline constexpr int kRpcWorkerNice = 10;

class RpcWorkers {
 public:
  void post(std::function<void()> job) {
    boost::asio::post(pool_, [job = std::move(job)] {
      // Linux: a thread's own nice value (setpriority on its thread id), set at its first job.
      thread_local const bool niced = ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)),
                                                    kRpcWorkerNice) == 0;
      (void)niced;
      job();
    });
  }
  //! Waits for the running and the queued jobs.
  void join() { pool_.join(); }

 private:
  boost::asio::thread_pool pool_{kRpcWorkerThreads};
};

}  // namespace cheese
