#pragma once

#include <coroutine>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace cheese::io {

//! Owns every coroutine it spawns (silkworm's task_group: nothing detached): each gets a
//! cancellation slot; close() cancels all (terminal) and refuses new ones; join() waits for all.
//! Used from the executor's thread only (one io thread: no locks).
class TaskGroup {
 public:
  //! Called with the task's name and the exception text when a task ends with an exception.
  //! Not called for the operation_aborted a task throws after close() cancelled it.
  using ErrorLog = std::function<void(std::string_view name, std::string_view what)>;

  explicit TaskGroup(boost::asio::any_io_executor executor, ErrorLog log = {});
  //! Does not cancel anything: close() and join() first. Destroying a group whose tasks still run
  //! is safe only once the io_context is stopped (they never resume); their bookkeeping then lives
  //! until the io_context destroys them.
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  //! Starts `task`; false (task not started) after close().
  bool spawn(std::string name, boost::asio::awaitable<void> task);
  //! Emits terminal cancellation to every running task and refuses new ones. Idempotent.
  void close();
  bool closed() const;
  std::size_t size() const;  //!< tasks running
  //! Completes once no task is running (typically after close()).
  boost::asio::awaitable<void> join();

 private:
  struct State;
  std::shared_ptr<State> state_;  //!< shared with the completion handlers of running tasks
};

}  // namespace cheese::io
