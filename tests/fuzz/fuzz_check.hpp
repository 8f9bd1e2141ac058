#pragma once

// A property check for fuzz targets: prints what failed and aborts, so libFuzzer keeps the input
// as a crash artifact. Never compiled out (unlike assert under NDEBUG).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)

namespace cheese::fuzz {

//! The fuzzer's input as a byte span.
inline std::span<const std::uint8_t> input(const std::uint8_t* data, std::size_t size) { return {data, size}; }

//! The fuzzer's input as a string (arbitrary bytes, not necessarily UTF-8).
inline std::string_view input_string(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace cheese::fuzz
