#include "consensus/pow.hpp"

namespace cheese {

CompactTarget decode_compact(std::uint32_t bits) {
  const std::uint32_t size = bits >> 24;
  std::uint32_t word = bits & 0x007fffffu;
  CompactTarget out;
  if (size <= 3) {
    word >>= 8 * (3 - size);
    out.target = U256{word};
  } else {
    out.target = U256{word} << (8 * (size - 3));
  }
  out.negative = word != 0 && (bits & 0x00800000u) != 0;
  out.overflow = word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32));
  return out;
}

std::uint32_t encode_compact(const U256& target) {
  std::uint32_t size = (target.bits() + 7) / 8;
  std::uint32_t compact = 0;
  if (size <= 3) {
    compact = static_cast<std::uint32_t>(target.low64() << (8 * (3 - size)));
  } else {
    compact = static_cast<std::uint32_t>((target >> (8 * (size - 3))).low64());
  }
  // The mantissa is signed: if its top bit would be set, use one more byte of exponent.
  if ((compact & 0x00800000u) != 0) {
    compact >>= 8;
    ++size;
  }
  return compact | (size << 24);
}

bool check_proof_of_work(const Hash256& block_hash, std::uint32_t bits, const U256& pow_limit) {
  const CompactTarget t = decode_compact(bits);
  if (t.negative || t.overflow || t.target.is_zero() || t.target > pow_limit) return false;
  return U256::from_hash(block_hash) <= t.target;
}

U256 block_work(std::uint32_t bits) {
  const CompactTarget t = decode_compact(bits);
  if (t.negative || t.overflow || t.target.is_zero()) return U256{};
  // 2^256 does not fit, but 2^256 / (t + 1) == (2^256 - t - 1) / (t + 1) + 1 == ~t / (t + 1) + 1.
  // A valid compact target is below 2^256 - 1, so t + 1 never wraps to zero.
  return ~t.target / (t.target + 1) + 1;
}

}  // namespace cheese
