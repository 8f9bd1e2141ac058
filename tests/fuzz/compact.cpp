// Compact target bits ("nBits"). Properties: decoding any bits never crashes; a usable target
// (not negative, not overflowing) re-encodes to bits that decode to the same target, and that
// encoding is a fixed point; block_work is zero exactly for unusable bits; any 256-bit value
// encodes to a target no larger than itself that keeps its top 23 significant bits' worth.

#include <cstdint>
#include <cstring>

#include "consensus/pow.hpp"
#include "fuzz_check.hpp"
#include "primitives/uint256.hpp"

using namespace cheese;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  std::uint32_t bits = 0;
  for (int i = 3; i >= 0; --i) bits = (bits << 8) | data[i];

  const CompactTarget t = decode_compact(bits);
  const bool usable = !t.negative && !t.overflow && !t.target.is_zero();
  FUZZ_CHECK(block_work(bits).is_zero() == !usable);
  if (!t.negative && !t.overflow) {
    const std::uint32_t canonical = encode_compact(t.target);
    const CompactTarget back = decode_compact(canonical);
    FUZZ_CHECK(back.target == t.target);
    FUZZ_CHECK(!back.negative && !back.overflow);
    FUZZ_CHECK(encode_compact(back.target) == canonical);
  }

  // The rest of the input (up to 32 bytes) as a 256-bit value, little-endian.
  if (size > 4) {
    Hash256 h;
    std::memcpy(h.bytes.data(), data + 4, std::min<std::size_t>(size - 4, 32));
    const U256 value = U256::from_hash(h);
    const std::uint32_t c = encode_compact(value);
    const CompactTarget rounded = decode_compact(c);
    FUZZ_CHECK(!rounded.negative && !rounded.overflow);
    FUZZ_CHECK(rounded.target <= value);
    // Truncation keeps the top bits: what is lost is below the encoding's last mantissa byte.
    const unsigned size_bytes = c >> 24;
    const U256 lost = value - rounded.target;
    FUZZ_CHECK(size_bytes <= 3 ? lost.is_zero() : lost.bits() <= 8 * (size_bytes - 3));
  }
  return 0;
}
