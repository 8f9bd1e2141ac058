#include "io/task_group.hpp"

#include <coroutine>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <map>
#include <vector>

namespace cheese::io {

namespace asio = boost::asio;

struct TaskGroup::State {
  State(asio::any_io_executor ex, ErrorLog l) : executor(std::move(ex)), log(std::move(l)) {}

  void finished(std::uint64_t id, const std::string& name, std::exception_ptr e);

  asio::any_io_executor executor;
  ErrorLog log;
  bool closed = false;
  std::uint64_t next_id = 1;
  //! One signal per running task. The coroutine's cancellation state lives inside its signal's
  //! slot, so a signal is destroyed only after the coroutine has unwound (see finished()).
  std::map<std::uint64_t, std::unique_ptr<asio::cancellation_signal>> tasks;
  std::vector<asio::steady_timer*> joiners;  //!< woken when `tasks` becomes empty
};

namespace {

bool is_cancellation(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& ex) {
    return ex.code() == asio::error::operation_aborted;
  } catch (...) {
    return false;
  }
}

std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

void TaskGroup::State::finished(std::uint64_t id, const std::string& name, std::exception_ptr e) {
  if (auto it = tasks.find(id); it != tasks.end()) {
    // The completion handler runs inside the finishing coroutine's frame: destroy its signal later.
    asio::post(executor, [signal = std::move(it->second)] {});
    tasks.erase(it);
  }
  if (e && log && !(closed && is_cancellation(e))) log(name, what_of(e));
  if (tasks.empty()) {
    for (auto* t : joiners) t->cancel();
  }
}

TaskGroup::TaskGroup(asio::any_io_executor executor, ErrorLog log)
    : state_(std::make_shared<State>(std::move(executor), std::move(log))) {}

TaskGroup::~TaskGroup() { state_->closed = true; }

bool TaskGroup::spawn(std::string name, asio::awaitable<void> task) {
  if (state_->closed) return false;
  const std::uint64_t id = state_->next_id++;
  auto& signal = state_->tasks[id];
  signal = std::make_unique<asio::cancellation_signal>();
  asio::co_spawn(state_->executor, std::move(task),
                 asio::bind_cancellation_slot(signal->slot(),
                                              [state = state_, id, name = std::move(name)](std::exception_ptr e) {
                                                state->finished(id, name, std::move(e));
                                              }));
  return true;
}

void TaskGroup::close() {
  if (state_->closed) return;
  state_->closed = true;
  // Emitting may complete a task's pending operation; collect the ids first.
  std::vector<std::uint64_t> ids;
  for (const auto& [id, signal] : state_->tasks) ids.push_back(id);
  for (auto id : ids) {
    if (auto it = state_->tasks.find(id); it != state_->tasks.end())
      it->second->emit(asio::cancellation_type::terminal);
  }
}

bool TaskGroup::closed() const { return state_->closed; }

std::size_t TaskGroup::size() const { return state_->tasks.size(); }

asio::awaitable<void> TaskGroup::join() {
  auto state = state_;
  asio::steady_timer wake(state->executor, asio::steady_timer::time_point::max());
  state->joiners.push_back(&wake);
  struct Unregister {
    State& s;
    asio::steady_timer* t;
    ~Unregister() { s.joiners.erase(std::remove(s.joiners.begin(), s.joiners.end(), t), s.joiners.end()); }
  } unregister{*state, &wake};
  while (!state->tasks.empty()) {
    co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace cheese::io
