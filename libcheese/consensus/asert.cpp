#include "consensus/asert.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "consensus/pow.hpp"

namespace cheese {

namespace {

// 128-bit intermediates keep every input combination exact (no signed overflow).
__extension__ typedef __int128 Int128;

constexpr int kRadixBits = 16;  // the exponent is 16.16 fixed point
constexpr Int128 kRadix = Int128{1} << kRadixBits;

// 2^x ~= 1 + 0.695502049 x + 0.2262698 x^2 + 0.0782318 x^3 for 0 <= x < 1, scaled by 2^48.
constexpr std::uint64_t kC1 = 195766423245049ULL;
constexpr std::uint64_t kC2 = 971821376ULL;
constexpr std::uint64_t kC3 = 5127ULL;
constexpr std::uint64_t kRounding = std::uint64_t{1} << 47;
constexpr std::uint64_t kMaxFrac = 0xffff;
// The polynomial stays within 64 bits for every fraction, as the spec relies on.
static_assert(kC1 * kMaxFrac <= std::numeric_limits<std::uint64_t>::max() - kC2 * kMaxFrac * kMaxFrac -
                                    kC3 * kMaxFrac * kMaxFrac * kMaxFrac - kRounding);

// Beyond this many seconds off schedule the result saturates at 1 or pow_limit for any
// half_life (< 2^63), so clamping here keeps the fixed-point product inside 128 bits.
constexpr Int128 kDeltaLimit = Int128{1} << 90;

}  // namespace

std::uint32_t asert_next_bits(std::uint32_t anchor_bits, std::int64_t time_diff, std::int64_t height_diff,
                              const AsertParams& p) {
  if (p.target_spacing < 0) throw std::invalid_argument("asert: negative target spacing");
  if (p.half_life <= 0) throw std::invalid_argument("asert: half-life must be positive");
  // target * factor (< 2^17) must not wrap: pow_limit below 2^239. Bitcoin Cash's limit is 2^224;
  // cheesechain's main/test limit (0x1e0fffff) is about 2^236.
  if (p.pow_limit.is_zero() || p.pow_limit.bits() > 239) {
    throw std::invalid_argument("asert: pow_limit must be in [1, 2^239)");
  }
  if (height_diff < 0) throw std::invalid_argument("asert: block precedes the anchor");
  const CompactTarget anchor = decode_compact(anchor_bits);
  if (anchor.negative || anchor.overflow || anchor.target.is_zero() || anchor.target > p.pow_limit) {
    throw std::invalid_argument("asert: anchor bits are not a valid target <= pow_limit");
  }

  // The anchor's parent time is the reference, hence height_diff + 1 ideal block intervals.
  const Int128 delta = std::clamp(Int128{time_diff} - Int128{p.target_spacing} * (Int128{height_diff} + 1),
                                  -kDeltaLimit, kDeltaLimit);
  // C++ division truncates toward zero, as in the specification's reference code.
  const Int128 exponent = delta * kRadix / p.half_life;
  // Arithmetic shift floors, so the fraction below is always in [0, 2^16).
  const Int128 shifts = exponent >> kRadixBits;
  const auto frac = static_cast<std::uint64_t>(exponent - shifts * kRadix);

  const std::uint64_t factor = static_cast<std::uint64_t>(kRadix) +
                               ((kC1 * frac + kC2 * frac * frac + kC3 * frac * frac * frac + kRounding) >> 48);
  // anchor < 2^239 and factor < 2^17: no wrap.
  U256 next = anchor.target * U256{factor};

  // Multiply by 2^shifts and divide by the radix in one shift.
  const Int128 net_shift = shifts - kRadixBits;
  if (net_shift <= 0) {
    next = -net_shift >= 256 ? U256{} : next >> static_cast<unsigned>(-net_shift);
  } else if (net_shift >= 256 || next.bits() + static_cast<unsigned>(net_shift) > 256) {
    // The exact value is at least 2^256, far above any pow_limit.
    next = p.pow_limit;
  } else {
    next <<= static_cast<unsigned>(net_shift);
  }

  if (next.is_zero()) next = U256{1};  // 0 is not a valid target, 1 is
  if (next > p.pow_limit) next = p.pow_limit;
  return encode_compact(next);
}

}  // namespace cheese
