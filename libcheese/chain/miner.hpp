#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "chain/chainstate.hpp"
#include "chain/mempool.hpp"
#include "primitives/block.hpp"
#include "primitives/uint256.hpp"

namespace cheese {

//! A block ready for the proof-of-work search.
struct BlockTemplate {
  Block block;
  std::uint64_t height = 0;
  Amount fees = 0;
  Hash256 target{};  //!< little-endian, as block hashes compare against it
};

//! Builds a block on the active tip: mempool transactions by fee rate (nonce order per sender,
//! balances respected) within the size limit, a coinbase paying subsidy + fees to `miner` with
//! the height and `extra_nonce`, the expected bits, and a time after the median time past.
BlockTemplate create_block_template(const Chainstate& chain, const Mempool& mempool, const PublicKey& miner,
                                    std::int64_t now, std::uint64_t extra_nonce);
//! Rewrites the coinbase's extra-nonce and the merkle root (when the nonce space ran out).
void set_extra_nonce(BlockTemplate& t, std::uint64_t extra_nonce);

//! True when a block hash (little-endian number) is at or below the target.
bool hash_meets_target(const Hash256& hash, const Hash256& target);

//! Searches nonces first, first+1, ..., first+count-1 (mod 2^32) of the header, two at a time on
//! the midstate. Returns the first nonce that meets the target, or nullopt when the range is done
//! or `cancel` became true (checked every few thousand hashes). Adds the hashes done to `hashes`.
std::optional<std::uint32_t> search_nonces(const BlockHeader& header, const Hash256& target, std::uint32_t first,
                                           std::uint64_t count, const std::atomic<bool>& cancel,
                                           std::atomic<std::uint64_t>& hashes);

//! Searches the whole nonce space on `threads` threads (each a stripe); returns the nonce found,
//! or nullopt when exhausted, cancelled, or `max_hashes` were tried.
std::optional<std::uint32_t> solve_header(const BlockHeader& header, const Hash256& target, unsigned threads,
                                          const std::atomic<bool>& cancel, std::atomic<std::uint64_t>& hashes,
                                          std::uint64_t max_hashes);

}  // namespace cheese
