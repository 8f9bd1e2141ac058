// CompactSize varints. Properties: a successful decode consumed exactly varint_size(value)
// bytes and re-encoding gives those bytes back (only the shortest form is accepted); a failed
// decode is truncation or non-canonical; any 64-bit value round-trips through Writer/Reader.

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "fuzz_check.hpp"
#include "primitives/serialize.hpp"

using namespace cheese;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan in = fuzz::input(data, size);

  // Decode a sequence of varints until the input ends or one fails; re-encode them one after
  // the other into a single writer, which must reproduce the bytes consumed so far.
  Reader r(in);
  Writer w(size);
  while (!r.at_end()) {
    const std::size_t start = r.position();
    const std::uint64_t v = r.varint();
    if (!r.ok()) {
      FUZZ_CHECK(v == 0);
      FUZZ_CHECK(r.error() == DecodeError::kTruncated || r.error() == DecodeError::kNonCanonical);
      break;
    }
    FUZZ_CHECK(r.position() - start == varint_size(v));
    w.varint(v);
    FUZZ_CHECK(w.size() == r.position());
  }
  FUZZ_CHECK(
      std::equal(w.bytes().begin(), w.bytes().end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(w.size())));

  // Encode the first 8 bytes as a value (and a few values near the size boundaries).
  std::uint64_t value = 0;
  if (size > 0) std::memcpy(&value, data, std::min<std::size_t>(size, sizeof value));
  const unsigned shift = size > 8 ? data[8] % 64 : 0;
  for (const std::uint64_t v : {value, value >> shift, std::uint64_t{0xfc} + (value & 3),
                                std::uint64_t{0xfffe} + (value & 3), std::uint64_t{0xfffffffe} + (value & 3)}) {
    Writer one;
    one.varint(v);
    FUZZ_CHECK(one.size() == varint_size(v));
    Reader back(one.bytes());
    FUZZ_CHECK(back.varint() == v);
    back.expect_end();
    FUZZ_CHECK(back.ok());
  }
  return 0;
}
