#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "consensus/asert.hpp"
#include "primitives/amount.hpp"
#include "primitives/block.hpp"
#include "primitives/uint256.hpp"

namespace cheese {

enum class Network { kMain, kTest, kRegtest };

//! Everything that differs between main, test and regtest. Immutable; one instance per network.
struct ChainParams {
  Network network;
  std::string name;         //!< "main", "test", "regtest" (as -chain= takes them)
  std::string data_subdir;  //!< "" for main, "testnet", "regtest"
  NetworkMagic magic;
  std::string address_hrp;  //!< bech32m human-readable part: chz, tchz, rchz
  std::uint16_t default_p2p_port;
  std::uint16_t default_rpc_port;

  std::uint32_t pow_limit_bits;
  U256 pow_limit;
  bool no_retargeting;                  //!< regtest: every block at pow_limit_bits
  std::int64_t target_spacing = 60;     //!< seconds
  std::int64_t asert_half_life = 3600;  //!< seconds
  std::uint64_t coinbase_maturity;      //!< blocks before a coinbase is credited
  std::uint64_t halving_interval = 210'000;
  Amount initial_subsidy = 50 * kCoin;
  //! A block's time may be at most this far ahead of the node's clock: 10 minutes, a sixth of
  //! the ASERT half-life, so a block stamped at the limit eases the next target by 2^(1/6), 12 %
  //! (docs/consensus.md; Bitcoin's 2 hours would be 4x with a 1-hour half-life).
  std::int64_t max_future_block_time = 10 * 60;
  std::size_t median_time_span = 11;
  //! Work a chain must have before its headers are stored or its blocks downloaded (Bitcoin Core's
  //! nMinimumChainWork, -minimumchainwork). Zero on every network: none has launched. At launch
  //! main and test get the work of a recent block, raised with each release.
  U256 minimum_chain_work{};

  Block genesis;
  Hash256 genesis_hash;

  AsertParams asert() const { return {target_spacing, asert_half_life, pow_limit}; }
};

const ChainParams& chain_params(Network n);
//! "main", "test" (or "testnet"), "regtest"; nullopt otherwise.
std::optional<Network> parse_network(std::string_view name);

//! Block reward at a height: 50 CHZ halved every halving_interval blocks, zero after 64 halvings.
Amount block_subsidy(std::uint64_t height, const ChainParams& p);

//! The compact target a block at `height` must carry, given its parent's timestamp.
//! ASERT (aserti3-2d) anchored at the genesis block, whose parent time is taken to be
//! genesis.time - target_spacing; regtest always answers pow_limit_bits.
std::uint32_t next_work_required(std::uint64_t height, std::int64_t parent_time, const ChainParams& p);

//! Builds a genesis block (used by chain_params and by the test that re-mines it).
Block make_genesis_block(std::uint32_t time, std::uint32_t bits, std::uint32_t nonce, std::string_view message);

}  // namespace cheese
