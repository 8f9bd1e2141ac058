// decode_block, then check_block with regtest parameters. Properties: a decoded block
// serializes back to exactly the input bytes, serialized_size equals the input size, and the
// transaction count is within what the input could hold; check_block never crashes. Then the
// block is repaired (merkle root recomputed, regtest bits, a few nonces ground, which on
// regtest's limit succeeds about every second try) so the rules behind the merkle and proof-of-work
// checks are reached too: the repaired block may fail only on its body.

#include <algorithm>
#include <cstdint>

#include "consensus/params.hpp"
#include "consensus/pow.hpp"
#include "consensus/validation.hpp"
#include "fuzz_check.hpp"
#include "primitives/block.hpp"

using namespace cheese;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan in = fuzz::input(data, size);
  auto decoded = decode_block(in);
  if (!decoded) {
    FUZZ_CHECK(size >= kHeaderSize || decoded.error() == DecodeError::kTruncated);
    return 0;
  }
  const Block& b = *decoded;

  const Bytes again = serialize(b);
  FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin(), in.end()));
  FUZZ_CHECK(serialized_size(b) == size);
  FUZZ_CHECK(size <= kMaxBlockSize);
  FUZZ_CHECK(b.txs.size() <= (size - kHeaderSize) / kMinTransactionSize);
  FUZZ_CHECK(decode_header(in.first(kHeaderSize)).value() == b.header);

  const ChainParams& p = chain_params(Network::kRegtest);
  const Verdict v = check_block(b, p);
  if (v.ok()) {
    FUZZ_CHECK(!b.txs.empty() && b.txs[0].is_coinbase());
    FUZZ_CHECK(merkle_root(b) == b.header.merkle_root);
    FUZZ_CHECK(check_header_pow(b.header, p).ok());
  } else {
    FUZZ_CHECK(v.tx_index < std::max<std::size_t>(b.txs.size(), 1));
  }
  (void)check_block_signatures(b, p.magic, 0, b.txs.size());

  Block fixed = b;
  fixed.header.merkle_root = merkle_root(fixed);
  fixed.header.bits = p.pow_limit_bits;
  bool mined = false;
  for (int i = 0; i < 32; ++i, ++fixed.header.nonce) {
    if (check_header_pow(fixed.header, p).ok()) {
      mined = true;
      break;
    }
  }
  if (!mined) return 0;
  const Verdict body = check_block(fixed, p);
  FUZZ_CHECK(body.reason != Reject::kBlockBadMerkleRoot);
  FUZZ_CHECK(body.reason != Reject::kBlockHighHash);
  FUZZ_CHECK(body.reason != Reject::kBlockBadBitsRange);
  FUZZ_CHECK(body.reason != Reject::kBlockOversized);
  if (body.ok()) {
    // A valid block stays valid through a serialization round trip.
    const Bytes wire = serialize(fixed);
    auto back = decode_block(wire);
    FUZZ_CHECK(back.has_value() && *back == fixed);
    FUZZ_CHECK(check_block(*back, p).ok());
  }
  return 0;
}
