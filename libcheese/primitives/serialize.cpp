#include "primitives/serialize.hpp"

namespace cheese {

std::string_view to_string(DecodeError e) {
  switch (e) {
    case DecodeError::kTruncated: return "truncated";
    case DecodeError::kOversized: return "oversized";
    case DecodeError::kNonCanonical: return "non-canonical";
    case DecodeError::kTrailingData: return "trailing-data";
    case DecodeError::kInvalidValue: return "invalid-value";
  }
  return "unknown";
}

void Writer::varint(std::uint64_t v) {
  if (v < 0xfd) {
    u8(static_cast<std::uint8_t>(v));
  } else if (v <= 0xffff) {
    u8(0xfd);
    u16(static_cast<std::uint16_t>(v));
  } else if (v <= 0xffffffff) {
    u8(0xfe);
    u32(static_cast<std::uint32_t>(v));
  } else {
    u8(0xff);
    u64(v);
  }
}

std::size_t varint_size(std::uint64_t v) {
  if (v < 0xfd) return 1;
  if (v <= 0xffff) return 3;
  if (v <= 0xffffffff) return 5;
  return 9;
}

ByteSpan Reader::take(std::size_t n) {
  if (!ok_) return {};
  if (in_.size() - pos_ < n) {
    fail(DecodeError::kTruncated);
    return {};
  }
  auto s = in_.subspan(pos_, n);
  pos_ += n;
  return s;
}

std::uint64_t Reader::le(int n) {
  auto s = take(static_cast<std::size_t>(n));
  if (s.empty()) return 0;
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= std::uint64_t{s[static_cast<std::size_t>(i)]} << (8 * i);
  return v;
}

Hash256 Reader::hash() {
  Hash256 h;
  h.bytes = array<32>();
  return h;
}

std::uint64_t Reader::varint() {
  const std::uint8_t tag = u8();
  std::uint64_t v = tag;
  std::uint64_t min = 0;
  if (tag == 0xfd) {
    v = u16();
    min = 0xfd;
  } else if (tag == 0xfe) {
    v = u32();
    min = 0x10000;
  } else if (tag == 0xff) {
    v = u64();
    min = 0x100000000ULL;
  }
  if (!ok_) return 0;
  if (v < min) {
    fail(DecodeError::kNonCanonical);
    return 0;
  }
  return v;
}

std::uint64_t Reader::count(std::uint64_t max_count, std::size_t min_item_size) {
  const std::uint64_t n = varint();
  if (!ok_) return 0;
  if (n > max_count || (min_item_size > 0 && n > remaining() / min_item_size)) {
    fail(DecodeError::kOversized);
    return 0;
  }
  return n;
}

Bytes Reader::var_bytes(std::size_t max_len) {
  const std::uint64_t n = count(max_len, 1);
  auto s = take(static_cast<std::size_t>(n));
  return Bytes(s.begin(), s.end());
}

std::string Reader::var_string(std::size_t max_len) {
  const std::uint64_t n = count(max_len, 1);
  auto s = take(static_cast<std::size_t>(n));
  return std::string(s.begin(), s.end());
}

}  // namespace cheese
