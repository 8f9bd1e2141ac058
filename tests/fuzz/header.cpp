// decode_header. Properties: exactly 80 bytes decode, and the header serializes back to them;
// the block hash is SHA-256d of the input, and the miner's midstate hashing (one and two
// nonces at a time) agrees with it; the proof-of-work check never crashes on any bits
// for any network, and agrees with check_proof_of_work.

#include <algorithm>
#include <cstdint>

#include "consensus/params.hpp"
#include "consensus/pow.hpp"
#include "consensus/validation.hpp"
#include "fuzz_check.hpp"
#include "primitives/block.hpp"
#include "primitives/sha256.hpp"

using namespace cheese;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan in = fuzz::input(data, size);
  auto decoded = decode_header(in);
  FUZZ_CHECK(decoded.has_value() == (size == kHeaderSize));
  if (!decoded) {
    FUZZ_CHECK(decoded.error() == (size < kHeaderSize ? DecodeError::kTruncated : DecodeError::kTrailingData));
    return 0;
  }
  const BlockHeader& h = *decoded;
  const auto again = serialize(h);
  FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin(), in.end()));
  Writer w;
  serialize(w, h);
  FUZZ_CHECK(w.bytes().size() == kHeaderSize);
  FUZZ_CHECK(block_hash(h) == sha256d(in));

  // The miner's midstate path hashes the same bytes (for this nonce and the next one).
  const HeaderMidstate mid = header_midstate(std::span<const std::uint8_t, kHeaderSize>(data, kHeaderSize));
  FUZZ_CHECK(header_hash(mid, h.nonce) == block_hash(h));
  BlockHeader next = h;
  next.nonce = h.nonce + 1;
  Hash256 h0;
  Hash256 h1;
  header_hash_2way(mid, h.nonce, next.nonce, h0, h1);
  FUZZ_CHECK(h0 == block_hash(h));
  FUZZ_CHECK(h1 == block_hash(next));

  for (const Network n : {Network::kMain, Network::kTest, Network::kRegtest}) {
    const ChainParams& p = chain_params(n);
    const Verdict v = check_header_pow(h, p);
    FUZZ_CHECK(v.ok() == check_proof_of_work(block_hash(h), h.bits, p.pow_limit));
    (void)block_work(h.bits);
  }
  return 0;
}
