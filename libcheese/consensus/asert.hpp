#pragma once

#include <cstdint>

#include "primitives/uint256.hpp"

namespace cheese {

//! Parameters of aserti3-2d. Preconditions (std::invalid_argument otherwise):
//! target_spacing >= 0, half_life > 0, 0 < pow_limit < 2^239 (room for the 17-bit fixed-point factor).
struct AsertParams {
  std::int64_t target_spacing;  //!< ideal seconds between blocks
  std::int64_t half_life;       //!< seconds off schedule that double (late) or halve the target
  U256 pow_limit;               //!< easiest allowed target
};

//! aserti3-2d (Bitcoin Cash's ASERT) next target bits, integer only, exactly as specified:
//! target = anchor_target * 2^((time_diff - target_spacing * (height_diff + 1)) / half_life)
//! in 16.16 fixed point with the spec's cubic 2^x, clamped to [1, pow_limit].
//! The spec's "current block" is the parent of the block being built, so
//! - anchor_bits: nBits of the anchor block (a valid target <= pow_limit);
//! - time_diff: timestamp of the new block's parent - timestamp of the anchor block's parent;
//! - height_diff: height of the new block's parent - anchor height (>= 0), which is
//!   new block height - anchor height - 1.
//! On schedule (parent time = anchor parent time + spacing * (new height - anchor height)) the
//! anchor's target comes back unchanged. Throws std::invalid_argument on a broken precondition.
std::uint32_t asert_next_bits(std::uint32_t anchor_bits, std::int64_t time_diff, std::int64_t height_diff,
                              const AsertParams& p);

}  // namespace cheese
