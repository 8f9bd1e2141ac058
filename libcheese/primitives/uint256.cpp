#include "primitives/uint256.hpp"

#include <stdexcept>

namespace cheese {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

U256 U256::from_hash(const Hash256& h) {
  U256 r;
  for (std::size_t i = 0; i < kLimbs; ++i) {
    r.limbs_[i] = std::uint32_t{h.bytes[4 * i]} | (std::uint32_t{h.bytes[4 * i + 1]} << 8) |
                  (std::uint32_t{h.bytes[4 * i + 2]} << 16) | (std::uint32_t{h.bytes[4 * i + 3]} << 24);
  }
  return r;
}

Hash256 U256::to_hash() const {
  Hash256 h;
  for (std::size_t i = 0; i < kLimbs; ++i) {
    for (std::size_t b = 0; b < 4; ++b) {
      h.bytes[4 * i + b] = static_cast<std::uint8_t>(limbs_[i] >> (8 * b));
    }
  }
  return h;
}

std::optional<U256> U256::from_hex(std::string_view big_endian_hex) {
  if (big_endian_hex.empty() || big_endian_hex.size() > 64) return std::nullopt;
  U256 r;
  // Digit k counted from the right lands in limb k / 8, at bit 4 * (k % 8).
  const std::size_t n = big_endian_hex.size();
  for (std::size_t k = 0; k < n; ++k) {
    const int d = hex_digit(big_endian_hex[n - 1 - k]);
    if (d < 0) return std::nullopt;
    r.limbs_[k / 8] |= static_cast<std::uint32_t>(d) << (4 * (k % 8));
  }
  return r;
}

std::string U256::to_hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t k = 0; k < 64; ++k) {
    out[63 - k] = kDigits[(limbs_[k / 8] >> (4 * (k % 8))) & 0xf];
  }
  return out;
}

void U256::divmod(const U256& num, const U256& den, U256& quot, U256& rem) {
  quot = U256{};
  rem = num;
  const unsigned num_bits = num.bits();
  const unsigned den_bits = den.bits();
  if (num_bits < den_bits) return;
  // Schoolbook binary long division: align the divisor with the dividend's top bit and
  // subtract it wherever it fits.
  unsigned shift = num_bits - den_bits;
  U256 d = den << shift;
  while (true) {
    if (rem >= d) {
      rem -= d;
      quot.limbs_[shift / 32] |= std::uint32_t{1} << (shift % 32);
    }
    if (shift == 0) break;
    d >>= 1;
    --shift;
  }
}

U256& U256::operator/=(const U256& o) {
  if (o.is_zero()) throw std::domain_error("U256 division by zero");
  U256 q;
  U256 r;
  divmod(*this, o, q, r);
  return *this = q;
}

U256& U256::operator%=(const U256& o) {
  if (o.is_zero()) throw std::domain_error("U256 modulo by zero");
  U256 q;
  U256 r;
  divmod(*this, o, q, r);
  return *this = r;
}

}  // namespace cheese
