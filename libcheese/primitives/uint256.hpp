#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "primitives/hash.hpp"

namespace cheese {

//! Unsigned 256-bit integer for targets and chain work. Arithmetic wraps modulo 2^256
//! (as Bitcoin's arith_uint256 does); shifting by 256 or more bits gives zero; dividing
//! by zero throws std::domain_error.
class U256 {
 public:
  static constexpr std::size_t kLimbs = 8;  //!< 32-bit limbs, least significant first

  constexpr U256() = default;
  constexpr U256(std::uint64_t v)  // NOLINT(implicit): a small number is a U256
      : limbs_{static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(v >> 32)} {}

  //! The hash read as a little-endian number (byte 0 least significant), as Bitcoin compares
  //! block hashes with targets.
  static U256 from_hash(const Hash256& h);
  //! The inverse of from_hash: 32 bytes, least significant first.
  Hash256 to_hash() const;
  //! 1 to 64 hex digits (either case, no prefix), most significant first; nullopt otherwise.
  static std::optional<U256> from_hex(std::string_view big_endian_hex);
  //! 64 lower-case hex digits, most significant first.
  std::string to_hex() const;

  //! Index of the highest set bit plus one; 0 for zero.
  constexpr unsigned bits() const {
    for (std::size_t i = kLimbs; i-- > 0;) {
      if (limbs_[i] != 0) {
        return static_cast<unsigned>(32 * i) + static_cast<unsigned>(std::bit_width(limbs_[i]));
      }
    }
    return 0;
  }
  //! The least significant 64 bits.
  constexpr std::uint64_t low64() const { return limbs_[0] | (std::uint64_t{limbs_[1]} << 32); }
  constexpr bool is_zero() const {
    for (auto l : limbs_) {
      if (l != 0) return false;
    }
    return true;
  }

  constexpr bool operator==(const U256&) const = default;
  constexpr std::strong_ordering operator<=>(const U256& o) const {
    for (std::size_t i = kLimbs; i-- > 0;) {
      if (limbs_[i] != o.limbs_[i]) return limbs_[i] <=> o.limbs_[i];
    }
    return std::strong_ordering::equal;
  }

  constexpr U256 operator~() const {
    U256 r;
    for (std::size_t i = 0; i < kLimbs; ++i) r.limbs_[i] = ~limbs_[i];
    return r;
  }
  constexpr U256& operator&=(const U256& o) {
    for (std::size_t i = 0; i < kLimbs; ++i) limbs_[i] &= o.limbs_[i];
    return *this;
  }
  constexpr U256& operator|=(const U256& o) {
    for (std::size_t i = 0; i < kLimbs; ++i) limbs_[i] |= o.limbs_[i];
    return *this;
  }
  constexpr U256& operator^=(const U256& o) {
    for (std::size_t i = 0; i < kLimbs; ++i) limbs_[i] ^= o.limbs_[i];
    return *this;
  }

  //! Wraps modulo 2^256.
  constexpr U256& operator+=(const U256& o) {
    std::uint64_t carry = 0;
    for (std::size_t i = 0; i < kLimbs; ++i) {
      carry += std::uint64_t{limbs_[i]} + o.limbs_[i];
      limbs_[i] = static_cast<std::uint32_t>(carry);
      carry >>= 32;
    }
    return *this;
  }
  //! Wraps modulo 2^256 (0 - 1 is 2^256 - 1).
  constexpr U256& operator-=(const U256& o) {
    std::uint64_t borrow = 0;
    for (std::size_t i = 0; i < kLimbs; ++i) {
      const std::uint64_t sub = std::uint64_t{o.limbs_[i]} + borrow;
      borrow = limbs_[i] < sub ? 1 : 0;
      limbs_[i] = static_cast<std::uint32_t>((std::uint64_t{limbs_[i]} - sub) & 0xffffffffu);
    }
    return *this;
  }
  //! Wraps modulo 2^256.
  constexpr U256& operator*=(const U256& o) {
    U256 r;
    for (std::size_t i = 0; i < kLimbs; ++i) {
      std::uint64_t carry = 0;
      for (std::size_t j = 0; i + j < kLimbs; ++j) {
        const std::uint64_t t = std::uint64_t{limbs_[i]} * o.limbs_[j] + r.limbs_[i + j] + carry;
        r.limbs_[i + j] = static_cast<std::uint32_t>(t);
        carry = t >> 32;
      }
    }
    return *this = r;
  }
  //! Throws std::domain_error when o is zero.
  U256& operator/=(const U256& o);
  //! Throws std::domain_error when o is zero.
  U256& operator%=(const U256& o);

  //! Bits shifted past the top are lost; a shift of 256 or more gives zero.
  constexpr U256& operator<<=(unsigned shift) {
    U256 r;
    const std::size_t limb_shift = shift / 32;
    const unsigned bit_shift = shift % 32;
    for (std::size_t i = kLimbs; i-- > 0;) {
      if (i < limb_shift) break;
      const std::size_t src = i - limb_shift;
      std::uint32_t v = limbs_[src] << bit_shift;
      if (bit_shift != 0 && src > 0) v |= limbs_[src - 1] >> (32 - bit_shift);
      r.limbs_[i] = v;
    }
    return *this = r;
  }
  //! A shift of 256 or more gives zero.
  constexpr U256& operator>>=(unsigned shift) {
    U256 r;
    const std::size_t limb_shift = shift / 32;
    const unsigned bit_shift = shift % 32;
    for (std::size_t i = 0; i + limb_shift < kLimbs; ++i) {
      const std::size_t src = i + limb_shift;
      std::uint32_t v = limbs_[src] >> bit_shift;
      if (bit_shift != 0 && src + 1 < kLimbs) v |= limbs_[src + 1] << (32 - bit_shift);
      r.limbs_[i] = v;
    }
    return *this = r;
  }

  friend constexpr U256 operator&(U256 a, const U256& b) { return a &= b; }
  friend constexpr U256 operator|(U256 a, const U256& b) { return a |= b; }
  friend constexpr U256 operator^(U256 a, const U256& b) { return a ^= b; }
  friend constexpr U256 operator+(U256 a, const U256& b) { return a += b; }
  friend constexpr U256 operator-(U256 a, const U256& b) { return a -= b; }
  friend constexpr U256 operator*(U256 a, const U256& b) { return a *= b; }
  friend U256 operator/(U256 a, const U256& b) { return a /= b; }
  friend U256 operator%(U256 a, const U256& b) { return a %= b; }
  friend constexpr U256 operator<<(U256 a, unsigned shift) { return a <<= shift; }
  friend constexpr U256 operator>>(U256 a, unsigned shift) { return a >>= shift; }

 private:
  //! Quotient and remainder; the divisor is non-zero.
  static void divmod(const U256& num, const U256& den, U256& quot, U256& rem);

  std::array<std::uint32_t, kLimbs> limbs_{};
};

}  // namespace cheese
