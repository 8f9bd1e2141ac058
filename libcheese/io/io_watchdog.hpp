#pragma once

// The io thread's watchdog: measures how long the io thread is kept from its other work, names
// the task that held it, counts and logs every stall over a bound. Used by cheesed (daemon/node).

#include <coroutine>

#include <array>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace cheese::io {

//! A turn of the io thread longer than this is a stall: logged, counted, exported (getstallinfo).
inline constexpr std::chrono::milliseconds kIoStallWarning{50};
//! Period of the lag timer, the io thread's heartbeat, while the io thread works. A stall is
//! measured as how late the timer fires, so a reported stall is at most this much shorter than the
//! real one.
inline constexpr std::chrono::milliseconds kIoLagTick{10};
//! Period of the lag timer while the io thread is idle: after kIoQuietBeats beats on time with no
//! named task begun, the heartbeat slows to this, and the next named task brings kIoLagTick back at
//! once (and is measured from its start). An idle cheesed, whose P2P tick (a named task) runs
//! every 500 ms, then wakes 19 times a second instead of 297 (bench/idle_bench.py): 1,000 simulated
//! nodes fit on one small host. An unnamed turn that begins while idle is reported up to this much
//! shorter than it was.
inline constexpr std::chrono::milliseconds kIoIdleTick{500};
//! Beats on time with no named task begun after which the heartbeat slows to kIoIdleTick.
inline constexpr std::uint32_t kIoQuietBeats = 3;
//! Longest task name kept (longer ones are cut): names are copied, never referenced.
inline constexpr std::size_t kIoTaskNameMax = 63;

//! Stalls of one named task.
struct IoTaskStalls {
  std::uint64_t stalls = 0;
  std::chrono::microseconds longest{0};
  std::chrono::microseconds total{0};
};

//! What the watchdog has seen since start: plain data, read by the getstallinfo RPC (and by a
//! metrics endpoint, once there is one).
struct IoStallStats {
  std::chrono::milliseconds bound = kIoStallWarning;
  std::chrono::milliseconds tick = kIoLagTick;
  std::chrono::milliseconds idle_tick = kIoIdleTick;
  std::uint64_t beats = 0;  //!< lag-timer fires since start (fewer per second while idle)
  std::uint64_t stalls = 0;
  std::chrono::microseconds longest{0};
  std::string longest_task;                                //!< empty until the first stall
  std::map<std::string, IoTaskStalls, std::less<>> tasks;  //!< by task name ("(unnamed)" for none)
};

//! The io thread's heartbeat and its observer (Go's sysmon, in small).
//!
//! - A lag timer on the io thread fires every `tick`; when it fires later than due by more than
//!   `bound`, the io thread was held that long by one turn: a stall.
//! - Code at the dispatch points (each RPC call, each P2P message, each block connection) opens a
//!   Scope naming what runs. A watcher thread samples the current name while the heartbeat is
//!   late, so the stall is named after the task that was running during it, even when that task
//!   never returns to say so. A stall during which no scope was open is "(unnamed)".
//!
//! A Scope that spans a co_await keeps its name while suspended: a stall by unnamed work in that
//! time is then named after it. Scopes around synchronous work name exactly.
//! Everything but the watcher thread's sampling runs on the io thread.
class IoWatchdog {
 public:
  using Clock = std::chrono::steady_clock;
  //! Called on the io thread for every stall: the task's name and how long it held the thread.
  using Logger = std::function<void(std::string_view task, std::chrono::microseconds held)>;

  IoWatchdog(boost::asio::any_io_executor io, Logger log, std::chrono::milliseconds bound = kIoStallWarning,
             std::chrono::milliseconds tick = kIoLagTick, std::chrono::milliseconds idle_tick = kIoIdleTick);
  ~IoWatchdog();
  IoWatchdog(const IoWatchdog&) = delete;
  IoWatchdog& operator=(const IoWatchdog&) = delete;

  //! Starts the lag timer and the watcher thread; makes this the watchdog of the calling thread
  //! (scope_here). Call on the io thread.
  void start();
  //! Stops both (idempotent); the destructor calls it.
  void stop();

  //! Names what the io thread runs until the scope ends. Scopes do not nest: at its end a scope
  //! clears the name if it is still its own (a later scope's name stays until that one ends).
  class Scope {
   public:
    Scope(IoWatchdog* w, std::string_view kind, std::string_view name);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    IoWatchdog* watchdog_;
    std::uint64_t id_ = 0;
  };

  //! A scope named "<kind> <name>" (e.g. "rpc getblock", "p2p headers").
  Scope scope(std::string_view kind, std::string_view name) { return Scope(this, kind, name); }
  //! The same on the watchdog started on this thread; does nothing where none was (unit tests),
  //! so dispatch points in any layer can name their work in one line without being handed one.
  static Scope scope_here(std::string_view kind, std::string_view name);

  //! Counts and logs a stall (the lag timer calls this). Io thread only.
  void record(std::string_view task, std::chrono::microseconds held);
  const IoStallStats& stats() const { return stats_; }
  //! True while the heartbeat runs at idle_tick (io thread).
  bool idle() const { return idle_; }

 private:
  void arm();
  void on_tick();
  //! A named task begins while idle: the heartbeat goes back to `tick`, counted from now.
  void wake();
  void watch();
  std::uint64_t set_name(std::string_view kind, std::string_view name);
  void clear_name(std::uint64_t id);

  boost::asio::steady_timer timer_;
  Logger log_;
  IoStallStats stats_;
  Clock::time_point due_;
  bool running_ = false;
  bool idle_ = false;                //!< the heartbeat runs at idle_tick
  std::uint32_t quiet_beats_ = 0;    //!< beats on time in a row with no named task begun
  std::uint64_t tasks_begun_ = 0;    //!< scopes opened so far (io thread)
  std::uint64_t tasks_at_beat_ = 0;  //!< tasks_begun_ at the last beat

  // Shared with the watcher thread.
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::array<char, kIoTaskNameMax + 1> name_{};  //!< what runs now ("" for nothing named)
  std::uint64_t name_id_ = 0;                    //!< the scope that set name_
  std::array<char, kIoTaskNameMax + 1> seen_{};  //!< the name seen during the current late beat
  std::uint64_t seen_beat_ = ~std::uint64_t{0};  //!< the beat `seen_` belongs to
  std::atomic<std::uint64_t> beat_{0};           //!< lag-timer fires so far
  std::atomic<std::int64_t> last_beat_ns_{0};    //!< when the timer last fired (steady clock)
  std::atomic<std::int64_t> tick_ns_{0};         //!< the heartbeat's period now (tick or idle_tick)
  std::uint64_t wakes_ = 0;                      //!< wake() calls: the watcher re-reads tick_ns_
  std::thread watcher_;
};

}  // namespace cheese::io
