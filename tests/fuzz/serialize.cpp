// Reader: a sequence of reads chosen by the input runs over the rest of the input and is
// compared with a simple reference model of the wire format. Properties: every read agrees
// with the model (value, position, sticky failure and its reason), nothing is read past the
// end (ASan: the data is the tail of libFuzzer's exact-size buffer), count() never answers
// more than max_count or than the remaining bytes could hold.

#include <algorithm>
#include <cstdint>

#include "fuzz_check.hpp"
#include "primitives/serialize.hpp"

using namespace cheese;

namespace {

//! What the Reader should do, written as plainly as possible.
class Model {
 public:
  explicit Model(ByteSpan in) : in_(in) {}

  bool ok() const { return ok_; }
  DecodeError error() const { return error_; }
  std::size_t pos() const { return pos_; }
  std::size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }

  void fail(DecodeError e) {
    if (ok_) {
      ok_ = false;
      error_ = e;
    }
  }
  //! Little-endian n bytes, or 0 and a failure when fewer remain.
  std::uint64_t le(std::size_t n) {
    if (!ok_) return 0;
    if (pos_ + n > in_.size()) {
      fail(DecodeError::kTruncated);
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | in_[pos_ + i];
    pos_ += n;
    return v;
  }
  std::uint64_t varint() {
    const std::uint64_t tag = le(1);
    if (!ok_) return 0;
    std::uint64_t v = tag;
    if (tag == 0xfd) v = le(2);
    if (tag == 0xfe) v = le(4);
    if (tag == 0xff) v = le(8);
    if (!ok_) return 0;
    const bool shortest = (tag < 0xfd) || (tag == 0xfd && v >= 0xfd) || (tag == 0xfe && v > 0xffff) ||
                          (tag == 0xff && v > 0xffffffffULL);
    if (!shortest) {
      fail(DecodeError::kNonCanonical);
      return 0;
    }
    return v;
  }
  std::uint64_t count(std::uint64_t max_count, std::size_t min_item_size) {
    const std::uint64_t n = varint();
    if (!ok_) return 0;
    // n items of min_item_size bytes must fit in what is left (computed without overflow).
    __extension__ using U128 = unsigned __int128;
    const bool fits = n <= max_count && U128{n} * min_item_size <= remaining();
    if (!fits) {
      fail(DecodeError::kOversized);
      return 0;
    }
    return n;
  }
  ByteSpan take(std::size_t n) {
    if (!ok_) return {};
    if (n > in_.size() - pos_) {
      fail(DecodeError::kTruncated);
      return {};
    }
    auto s = in_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  ByteSpan in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
  DecodeError error_ = DecodeError::kTruncated;
};

bool same_bytes(ByteSpan a, ByteSpan b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Layout: one byte n, then n operation bytes, then the bytes the Reader reads.
  if (size == 0) return 0;
  const std::size_t n_ops = std::min<std::size_t>(data[0], size - 1);
  const ByteSpan ops{data + 1, n_ops};
  const ByteSpan payload{data + 1 + n_ops, size - 1 - n_ops};

  Reader r(payload);
  Model m(payload);
  for (const std::uint8_t op : ops) {
    // Low 4 bits choose the read; the high 4 bits are its parameter.
    const unsigned arg = op >> 4;
    switch (op & 0x0f) {
      case 0: FUZZ_CHECK(r.u8() == m.le(1)); break;
      case 1: FUZZ_CHECK(r.u16() == m.le(2)); break;
      case 2: FUZZ_CHECK(r.u32() == m.le(4)); break;
      case 3: FUZZ_CHECK(r.u64() == m.le(8)); break;
      case 4: FUZZ_CHECK(static_cast<std::uint64_t>(r.i64()) == m.le(8)); break;
      case 5: {
        const Hash256 h = r.hash();
        const ByteSpan want = m.take(32);
        FUZZ_CHECK(want.empty() ? h.is_zero() : same_bytes(h.bytes, want));
        break;
      }
      case 6: {
        const auto a = r.array<3>();
        const ByteSpan want = m.take(3);
        FUZZ_CHECK(want.empty() ? a == decltype(a){} : same_bytes(a, want));
        break;
      }
      case 7: FUZZ_CHECK(r.varint() == m.varint()); break;
      case 8: {
        const std::size_t n = arg;
        const ByteSpan got = r.take(n);
        const ByteSpan want = m.take(n);
        FUZZ_CHECK(same_bytes(got, want));
        // A successful view lies inside the payload.
        if (!got.empty()) {
          FUZZ_CHECK(got.data() >= payload.data());
          FUZZ_CHECK(got.data() + got.size() <= payload.data() + payload.size());
        }
        break;
      }
      case 9:
      case 10: {
        // count(max_count, min_item_size) with small and large limits.
        const std::uint64_t max_count = (op & 1) ? UINT64_MAX : std::uint64_t{1} << arg;
        const std::size_t min_size = (op & 0x0f) == 9 ? arg : std::size_t{1} << arg;
        const std::size_t remaining_after_varint_bound = r.remaining();
        const std::uint64_t got = r.count(max_count, min_size);
        const std::uint64_t want = m.count(max_count, min_size);
        FUZZ_CHECK(got == want);
        FUZZ_CHECK(got <= max_count);
        if (r.ok() && min_size > 0) {
          FUZZ_CHECK(got <= r.remaining() / min_size);
          FUZZ_CHECK(got * min_size <= remaining_after_varint_bound);
        }
        break;
      }
      case 11: {
        const std::size_t max_len = std::size_t{1} << arg;
        const Bytes got = r.var_bytes(max_len);
        const std::uint64_t n = m.count(max_len, 1);
        const ByteSpan want = m.take(static_cast<std::size_t>(n));
        FUZZ_CHECK(got.size() <= max_len);
        FUZZ_CHECK(same_bytes(got, want));
        break;
      }
      case 12: {
        const std::size_t max_len = std::size_t{1} << arg;
        const std::string got = r.var_string(max_len);
        const std::uint64_t n = m.count(max_len, 1);
        const ByteSpan want = m.take(static_cast<std::size_t>(n));
        FUZZ_CHECK(same_bytes(as_bytes(got), want));
        break;
      }
      case 13: {
        r.expect_end();
        if (m.ok() && m.remaining() != 0) m.fail(DecodeError::kTrailingData);
        break;
      }
      case 14: {
        // An explicit failure from a caller's own check is sticky like any other.
        const auto e = static_cast<DecodeError>(arg % 5);
        r.fail(e);
        m.fail(e);
        break;
      }
      default: FUZZ_CHECK(r.at_end() == (m.remaining() == 0)); break;
    }
    FUZZ_CHECK(r.ok() == m.ok());
    FUZZ_CHECK(r.remaining() == m.remaining());
    FUZZ_CHECK(r.remaining() <= payload.size());
    if (r.ok()) {
      FUZZ_CHECK(r.position() == m.pos());
      FUZZ_CHECK(r.position() <= payload.size());
    } else {
      FUZZ_CHECK(r.error() == m.error());
    }
  }
  return 0;
}
