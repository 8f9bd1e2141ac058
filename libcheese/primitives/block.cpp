#include "primitives/block.hpp"

#include "primitives/sha256.hpp"

namespace cheese {

void serialize(Writer& w, const BlockHeader& h) {
  w.u32(h.version);
  w.hash(h.prev_hash);
  w.hash(h.merkle_root);
  w.u32(h.time);
  w.u32(h.bits);
  w.u32(h.nonce);
}

std::array<std::uint8_t, kHeaderSize> serialize(const BlockHeader& h) {
  Writer w(kHeaderSize);
  serialize(w, h);
  std::array<std::uint8_t, kHeaderSize> out{};
  std::copy(w.bytes().begin(), w.bytes().end(), out.begin());
  return out;
}

BlockHeader deserialize_header(Reader& r) {
  BlockHeader h;
  h.version = r.u32();
  h.prev_hash = r.hash();
  h.merkle_root = r.hash();
  h.time = r.u32();
  h.bits = r.u32();
  h.nonce = r.u32();
  return h;
}

Result<BlockHeader, DecodeError> decode_header(ByteSpan bytes) {
  Reader r(bytes);
  auto h = deserialize_header(r);
  r.expect_end();
  if (!r.ok()) return Unexpected{r.error()};
  return h;
}

Hash256 block_hash(const BlockHeader& h) { return sha256d(serialize(h)); }

void serialize(Writer& w, const Block& b) {
  serialize(w, b.header);
  w.varint(b.txs.size());
  for (const auto& tx : b.txs) serialize(w, tx);
}

Bytes serialize(const Block& b) {
  Writer w(serialized_size(b));
  serialize(w, b);
  return std::move(w).take();
}

std::size_t serialized_size(const Block& b) {
  std::size_t n = kHeaderSize + varint_size(b.txs.size());
  for (const auto& tx : b.txs) n += serialized_size(tx);
  return n;
}

Result<Block, DecodeError> decode_block(ByteSpan bytes) {
  if (bytes.size() > kMaxBlockSize) return Unexpected{DecodeError::kOversized};
  Reader r(bytes);
  Block b;
  b.header = deserialize_header(r);
  const auto n = r.count(kMaxBlockSize / kMinTransactionSize, kMinTransactionSize);
  b.txs.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n && r.ok(); ++i) b.txs.push_back(deserialize_transaction(r));
  r.expect_end();
  if (!r.ok()) return Unexpected{r.error()};
  return b;
}

Hash256 merkle_root(std::span<const Hash256> txids) {
  if (txids.empty()) return Hash256{};
  static constexpr std::uint8_t kLeaf[1] = {0x00};
  static constexpr std::uint8_t kInner[1] = {0x01};
  std::vector<Hash256> level;
  level.reserve(txids.size());
  for (const auto& id : txids) level.push_back(sha256d(kLeaf, id.span()));
  std::array<std::uint8_t, 64> pair{};
  while (level.size() > 1) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < level.size(); i += 2) {
      if (i + 1 == level.size()) {
        level[out++] = level[i];
        continue;
      }
      std::copy(level[i].bytes.begin(), level[i].bytes.end(), pair.begin());
      std::copy(level[i + 1].bytes.begin(), level[i + 1].bytes.end(), pair.begin() + 32);
      level[out++] = sha256d(kInner, pair);
    }
    level.resize(out);
  }
  return level[0];
}

Hash256 merkle_root(const Block& b) {
  std::vector<Hash256> ids;
  ids.reserve(b.txs.size());
  for (const auto& tx : b.txs) ids.push_back(txid(tx));
  return merkle_root(ids);
}

}  // namespace cheese
