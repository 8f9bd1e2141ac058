#pragma once

// The wallet's Argon2id thread, in the shape io::run_on_pool takes. Internal to daemon/wallet/.

#include <coroutine>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <utility>

namespace cheese {

//! One thread for Argon2id (unlock, encrypt, change of passphrase, create and restore), so the io
//! thread never runs it; io::run_on_pool(kdf_thread, fn) runs fn there and resumes on the io thread.
class WalletKdfThread {
 public:
  void post(std::function<void()> job) { boost::asio::post(pool_, std::move(job)); }
  //! Waits for the job running (if any) and the queued ones.
  void join() { pool_.join(); }

 private:
  boost::asio::thread_pool pool_{1};
};

}  // namespace cheese
