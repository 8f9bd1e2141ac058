// decode_transaction. Properties: the encoding is canonical, so a decoded transaction
// serializes back to exactly the input bytes and serialized_size equals the input size; txid
// is SHA-256d of the input; decoding is a prefix code (trailing bytes are rejected, and
// deserialize_transaction over input||tail stops where the input ends); the context-free rules
// and the signature check never crash.

#include <algorithm>
#include <cstdint>

#include "consensus/params.hpp"
#include "consensus/validation.hpp"
#include "fuzz_check.hpp"
#include "primitives/sha256.hpp"
#include "primitives/transaction.hpp"

using namespace cheese;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan in = fuzz::input(data, size);
  auto decoded = decode_transaction(in);
  if (!decoded) {
    // Only a coinbase has a variable size, so nothing else may be oversized.
    if (decoded.error() == DecodeError::kOversized) FUZZ_CHECK(size > 0 && data[0] == 1);
    return 0;
  }
  const Transaction& tx = *decoded;

  const Bytes again = serialize(tx);
  FUZZ_CHECK(std::equal(again.begin(), again.end(), in.begin(), in.end()));
  FUZZ_CHECK(serialized_size(tx) == size);
  FUZZ_CHECK(size >= kMinTransactionSize);
  FUZZ_CHECK(tx.is_coinbase() ? tx.extra.size() <= kMaxCoinbaseExtra : size == kTransferSize && tx.extra.empty());
  FUZZ_CHECK(txid(tx) == sha256d(in));

  // Inside a longer stream the same bytes decode to the same transaction and stop at its end.
  Bytes stream(in.begin(), in.end());
  stream.push_back(0x00);
  Reader r(stream);
  FUZZ_CHECK(deserialize_transaction(r) == tx);
  FUZZ_CHECK(r.ok() && r.position() == size);
  FUZZ_CHECK(!decode_transaction(stream));

  (void)check_transaction(tx);
  (void)check_transaction_signature(tx, chain_params(Network::kRegtest).magic);
  const Bytes msg = signature_message(tx, chain_params(Network::kMain).magic);
  FUZZ_CHECK(!msg.empty());
  return 0;
}
