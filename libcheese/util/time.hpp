#pragma once

#include <chrono>
#include <cstdint>

namespace cheese {

//! Seconds since the Unix epoch, from the system clock (the node's "now" for chain rules and
//! timestamps; timeouts use the steady clock).
inline std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace cheese
