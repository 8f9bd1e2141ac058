#pragma once

// A small FuzzedDataProvider: turns the fuzzer's bytes into choices for the stateful targets.
// Reads from the front; once the input is used up every read answers 0 (or the lowest choice),
// so a short input is a short but valid script and a target stops when empty() is true.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

namespace cheese::fuzz {

class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size) : rest_(data, size) {}

  bool empty() const { return rest_.empty(); }
  std::size_t remaining() const { return rest_.size(); }

  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    const std::uint8_t b = rest_[0];
    rest_ = rest_.subspan(1);
    return b;
  }

  bool flag() { return (byte() & 1) != 0; }

  //! An unsigned integer from sizeof(T) bytes, little-endian (missing bytes are 0).
  template <std::unsigned_integral T>
  T integral() {
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>(v | (T{byte()} << (8 * i)));
    return v;
  }

  //! A value in [lo, hi], from as few bytes as the range needs.
  template <std::unsigned_integral T>
  T range(T lo, T hi) {
    if (hi <= lo) return lo;
    const std::uint64_t span = std::uint64_t{hi} - lo;
    std::uint64_t v = 0;
    for (std::uint64_t covered = 0; covered < span; covered = (covered << 8) | 0xff) {
      v = (v << 8) | byte();
      if (covered > (UINT64_MAX >> 8)) break;
    }
    return static_cast<T>(lo + (span == UINT64_MAX ? v : v % (span + 1)));
  }

  //! An index below n (n > 0).
  std::size_t pick(std::size_t n) { return n == 0 ? 0 : range<std::size_t>(0, n - 1); }

  //! Up to `max` bytes (fewer when the input ends).
  std::span<const std::uint8_t> bytes(std::size_t max) {
    const std::size_t n = max < rest_.size() ? max : rest_.size();
    const auto out = rest_.first(n);
    rest_ = rest_.subspan(n);
    return out;
  }

  //! Everything that is left.
  std::span<const std::uint8_t> rest() { return bytes(rest_.size()); }

 private:
  std::span<const std::uint8_t> rest_;
};

}  // namespace cheese::fuzz
