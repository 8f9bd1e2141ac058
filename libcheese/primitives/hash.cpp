#include "primitives/hash.hpp"

#include <cassert>
#include <cstring>

namespace cheese {

std::string Hash256::to_display_hex() const {
  std::array<std::uint8_t, 32> rev{};
  std::reverse_copy(bytes.begin(), bytes.end(), rev.begin());
  return to_hex(rev);
}

std::optional<Hash256> Hash256::from_display_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto raw = from_hex(hex);
  if (!raw) return std::nullopt;
  Hash256 h;
  std::reverse_copy(raw->begin(), raw->end(), h.bytes.begin());
  return h;
}

Hash256 Hash256::from_span(ByteSpan s) {
  assert(s.size() == 32);
  Hash256 h;
  std::memcpy(h.bytes.data(), s.data(), 32);
  return h;
}

}  // namespace cheese
