#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "primitives/hash.hpp"
#include "primitives/result.hpp"
#include "primitives/serialize.hpp"
#include "primitives/transaction.hpp"

namespace cheese {

inline constexpr std::size_t kHeaderSize = 80;
//! Consensus limit on a block's serialized size (header, count and transactions).
inline constexpr std::size_t kMaxBlockSize = 1'000'000;

//! 80 bytes in Bitcoin's layout, little-endian: version, previous hash, merkle root, time,
//! compact target bits, nonce.
struct BlockHeader {
  std::uint32_t version = 1;
  Hash256 prev_hash{};
  Hash256 merkle_root{};
  std::uint32_t time = 0;
  std::uint32_t bits = 0;
  std::uint32_t nonce = 0;

  friend bool operator==(const BlockHeader&, const BlockHeader&) = default;
};

std::array<std::uint8_t, kHeaderSize> serialize(const BlockHeader& h);
void serialize(Writer& w, const BlockHeader& h);
BlockHeader deserialize_header(Reader& r);
Result<BlockHeader, DecodeError> decode_header(ByteSpan bytes);
//! Block hash = SHA-256d of the 80 header bytes.
Hash256 block_hash(const BlockHeader& h);

struct Block {
  BlockHeader header;
  std::vector<Transaction> txs;  //!< txs[0] is the coinbase

  Hash256 hash() const { return block_hash(header); }
  friend bool operator==(const Block&, const Block&) = default;
};

void serialize(Writer& w, const Block& b);
Bytes serialize(const Block& b);
std::size_t serialized_size(const Block& b);
//! Decodes exactly one block of at most kMaxBlockSize bytes.
Result<Block, DecodeError> decode_block(ByteSpan bytes);

//! Merkle root with domain separation: leaves are SHA-256d(0x00 || txid), inner nodes
//! SHA-256d(0x01 || left || right), and an odd node is carried up unchanged (never paired with
//! itself), so no two different transaction lists share a root (no CVE-2012-2459).
//! The root of an empty list is all zeros.
Hash256 merkle_root(std::span<const Hash256> txids);
Hash256 merkle_root(const Block& b);

}  // namespace cheese
