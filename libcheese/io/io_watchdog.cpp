#include "io/io_watchdog.hpp"

#include <algorithm>
#include <cstring>

namespace cheese::io {

namespace {

constexpr std::string_view kUnnamed = "(unnamed)";
//! The watcher samples no more often than this during a stall.
constexpr std::chrono::milliseconds kMinSamplePeriod{1};

thread_local IoWatchdog* this_thread_watchdog = nullptr;

std::int64_t steady_ns(IoWatchdog::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::string_view view(const std::array<char, kIoTaskNameMax + 1>& name) { return std::string_view(name.data()); }

}  // namespace

IoWatchdog::IoWatchdog(boost::asio::any_io_executor io, Logger log, std::chrono::milliseconds bound,
                       std::chrono::milliseconds tick, std::chrono::milliseconds idle_tick)
    : timer_(std::move(io)), log_(std::move(log)) {
  stats_.bound = bound;
  stats_.tick = tick;
  stats_.idle_tick = std::max(idle_tick, tick);
  tick_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(tick).count();
}

IoWatchdog::~IoWatchdog() { stop(); }

void IoWatchdog::start() {
  if (running_) return;
  running_ = true;
  this_thread_watchdog = this;
  last_beat_ns_ = steady_ns(Clock::now());
  watcher_ = std::thread([this] { watch(); });
  arm();
}

void IoWatchdog::stop() {
  if (!running_) return;
  running_ = false;
  if (this_thread_watchdog == this) this_thread_watchdog = nullptr;
  timer_.cancel();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

void IoWatchdog::arm() {
  // Setting the expiry cancels a wait still pending (wake()): its handler sees the error.
  due_ = Clock::now() + (idle_ ? stats_.idle_tick : stats_.tick);
  timer_.expires_at(due_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running_) return;
    on_tick();
  });
}

void IoWatchdog::on_tick() {
  const auto now = Clock::now();
  const auto late = std::chrono::duration_cast<std::chrono::microseconds>(now - due_);
  if (late > stats_.bound) {
    std::string task;
    {
      std::lock_guard lock(mutex_);
      if (seen_beat_ == beat_.load()) task = view(seen_);
    }
    record(task.empty() ? kUnnamed : task, late);
  }
  beat_.fetch_add(1);
  ++stats_.beats;
  last_beat_ns_ = steady_ns(now);
  // Quiet: on time, and no named task began since the last beat. A few in a row: idle.
  const bool quiet = late <= stats_.bound && tasks_begun_ == tasks_at_beat_;
  tasks_at_beat_ = tasks_begun_;
  quiet_beats_ = quiet ? quiet_beats_ + 1 : 0;
  idle_ = quiet_beats_ >= kIoQuietBeats;
  tick_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(idle_ ? stats_.idle_tick : stats_.tick).count();
  arm();
}

void IoWatchdog::wake() {
  idle_ = false;
  quiet_beats_ = 0;
  tick_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(stats_.tick).count();
  last_beat_ns_ = steady_ns(Clock::now());
  arm();
}

void IoWatchdog::watch() {
  // Sleeps until the heartbeat would be overdue by more than a tick (the io thread is then inside
  // one long turn); from then on samples the name twice per tick until the next beat. wake()
  // rouses it when the heartbeat speeds up.
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const std::int64_t tick_ns = tick_ns_.load();
    const std::int64_t overdue_at = last_beat_ns_.load() + 2 * tick_ns;
    const std::int64_t now_ns = steady_ns(Clock::now());
    const std::uint64_t wakes = wakes_;
    const auto woken = [this, wakes] { return stopping_ || wakes_ != wakes; };
    if (now_ns <= overdue_at) {
      wake_.wait_for(lock, std::chrono::nanoseconds(overdue_at - now_ns + 1), woken);
      continue;
    }
    const std::uint64_t beat = beat_.load();
    if (seen_beat_ != beat || seen_[0] == '\0') {
      seen_ = name_;
      seen_beat_ = beat;
    }
    const auto period = std::max<std::chrono::nanoseconds>(std::chrono::nanoseconds(tick_ns / 2), kMinSamplePeriod);
    wake_.wait_for(lock, period, woken);
  }
}

void IoWatchdog::record(std::string_view task, std::chrono::microseconds held) {
  ++stats_.stalls;
  if (held > stats_.longest) {
    stats_.longest = held;
    stats_.longest_task = std::string(task);
  }
  auto it = stats_.tasks.find(task);
  if (it == stats_.tasks.end()) it = stats_.tasks.emplace(std::string(task), IoTaskStalls{}).first;
  ++it->second.stalls;
  it->second.longest = std::max(it->second.longest, held);
  it->second.total += held;
  if (log_) log_(task, held);
}

std::uint64_t IoWatchdog::set_name(std::string_view kind, std::string_view name) {
  std::array<char, kIoTaskNameMax + 1> next{};
  std::size_t n = std::min(kind.size(), kIoTaskNameMax);
  std::memcpy(next.data(), kind.data(), n);
  if (!name.empty() && n < kIoTaskNameMax) {
    next[n++] = ' ';
    const std::size_t m = std::min(name.size(), kIoTaskNameMax - n);
    std::memcpy(next.data() + n, name.data(), m);
  }
  ++tasks_begun_;
  // Out of idle: the heartbeat first (the watcher reads it under the mutex), then the watcher.
  const bool waking = idle_ && running_;
  if (waking) wake();
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    name_ = next;
    id = ++name_id_;
    if (waking) ++wakes_;
  }
  if (waking) wake_.notify_all();
  return id;
}

void IoWatchdog::clear_name(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  if (name_id_ == id) name_[0] = '\0';
}

IoWatchdog::Scope::Scope(IoWatchdog* w, std::string_view kind, std::string_view name) : watchdog_(w) {
  if (watchdog_) id_ = watchdog_->set_name(kind, name);
}

IoWatchdog::Scope::~Scope() {
  if (watchdog_) watchdog_->clear_name(id_);
}

IoWatchdog::Scope IoWatchdog::scope_here(std::string_view kind, std::string_view name) {
  return Scope(this_thread_watchdog, kind, name);
}

}  // namespace cheese::io
