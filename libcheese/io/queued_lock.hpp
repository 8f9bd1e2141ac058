#pragma once

#include <coroutine>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <memory>
#include <optional>

namespace cheese::io {

//! A first-come first-served lock for coroutines on one executor thread, with a bounded queue:
//! lock() takes it at once when it is free, else waits its turn behind at most `max_waiting`
//! others, and answers nullopt at once when that many already wait (the caller refuses the work
//! instead of piling it up). Waiting suspends the coroutine, never the thread. A waiter whose
//! coroutine is cancelled leaves the queue (operation_aborted). Used from the executor's thread
//! only (one io thread: no atomics); the lock may be destroyed while guards still exist.
class QueuedLock {
 public:
  struct State;
  //! Holds the lock; releasing it (destruction, or release()) hands it to the first waiter.
  class Guard {
   public:
    Guard() = default;
    explicit Guard(std::shared_ptr<State> s) : state_(std::move(s)) {}
    Guard(Guard&& o) noexcept = default;
    Guard& operator=(Guard&& o) noexcept;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() { release(); }
    void release();
    bool owns() const { return state_ != nullptr; }

   private:
    std::shared_ptr<State> state_;
  };

  QueuedLock(boost::asio::any_io_executor executor, std::size_t max_waiting);
  QueuedLock(const QueuedLock&) = delete;
  QueuedLock& operator=(const QueuedLock&) = delete;

  //! The lock, once it is this caller's turn; nullopt at once when max_waiting() callers wait.
  boost::asio::awaitable<std::optional<Guard>> lock();
  bool locked() const;
  std::size_t waiting() const;  //!< callers queued behind the holder
  std::size_t max_waiting() const;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace cheese::io
