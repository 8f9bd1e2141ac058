#pragma once

#include <algorithm>
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "primitives/bytes.hpp"

namespace cheese {

//! A 32-byte hash in internal byte order (as SHA-256 produced it).
//! Displayed byte-reversed, as Bitcoin displays block hashes and txids.
struct Hash256 {
  std::array<std::uint8_t, 32> bytes{};

  auto operator<=>(const Hash256&) const = default;
  bool is_zero() const {
    return std::all_of(bytes.begin(), bytes.end(), [](auto b) { return b == 0; });
  }
  ByteSpan span() const { return bytes; }
  //! Byte-reversed hex, as shown to users.
  std::string to_display_hex() const;
  //! Parses 64 hex digits in display (byte-reversed) order.
  static std::optional<Hash256> from_display_hex(std::string_view hex);
  static Hash256 from_span(ByteSpan s);  // s.size() must be 32
};

struct Hash256Hasher {
  std::size_t operator()(const Hash256& h) const noexcept {
    std::size_t out = 0;
    for (int i = 0; i < 8; ++i) out = (out << 8) | h.bytes[static_cast<std::size_t>(i)];
    return out;
  }
};

}  // namespace cheese
