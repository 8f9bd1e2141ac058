#pragma once

#include <cstdint>

#include "primitives/hash.hpp"
#include "primitives/uint256.hpp"

namespace cheese {

//! A decoded compact ("nBits") target with Bitcoin's sign and overflow flags.
struct CompactTarget {
  U256 target;
  bool negative = false;  //!< sign bit set on a non-zero mantissa
  bool overflow = false;  //!< the value does not fit in 256 bits
};

//! Decodes nBits exactly as Bitcoin's arith_uint256::SetCompact (bits shifted past 2^256
//! are dropped; the flags say whether the value is usable as a target).
CompactTarget decode_compact(std::uint32_t bits);
//! Encodes a non-negative target exactly as Bitcoin's arith_uint256::GetCompact: the
//! mantissa keeps the 3 most significant bytes (the rest is truncated), never with 0x00800000 set.
std::uint32_t encode_compact(const U256& target);

//! Bitcoin's CheckProofOfWork: bits decode to a positive, non-overflowing target <= pow_limit,
//! and the hash (as a little-endian number) <= target.
[[nodiscard]] bool check_proof_of_work(const Hash256& block_hash, std::uint32_t bits, const U256& pow_limit);

//! Expected number of hashes for a target: 2^256 / (target + 1), computed as
//! (~target / (target + 1)) + 1; zero for invalid (negative, overflowing or zero) bits.
U256 block_work(std::uint32_t bits);

}  // namespace cheese
