#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "primitives/bytes.hpp"
#include "primitives/hash.hpp"

namespace cheese {

//! Why a byte string could not be decoded.
enum class DecodeError {
  kTruncated,     //!< input ended inside a field
  kOversized,     //!< a length prefix exceeds its limit or the remaining input
  kNonCanonical,  //!< a value that has a shorter (canonical) encoding
  kTrailingData,  //!< bytes left over after a complete object
  kInvalidValue,  //!< a field holds a value its type does not allow
};

std::string_view to_string(DecodeError e);

//! Appends canonical little-endian encodings to a byte vector.
class Writer {
 public:
  Writer() = default;
  explicit Writer(std::size_t reserve) { out_.reserve(reserve); }

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { le(v, 2); }
  void u32(std::uint32_t v) { le(v, 4); }
  void u64(std::uint64_t v) { le(v, 8); }
  void i64(std::int64_t v) { le(static_cast<std::uint64_t>(v), 8); }
  void raw(ByteSpan b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void hash(const Hash256& h) { raw(h.bytes); }
  //! CompactSize, as Bitcoin: 1, 3, 5 or 9 bytes, shortest form.
  void varint(std::uint64_t v);
  //! A length (varint) followed by the bytes.
  void var_bytes(ByteSpan b) {
    varint(b.size());
    raw(b);
  }
  void var_string(std::string_view s) { var_bytes(as_bytes(s)); }

  const Bytes& bytes() const& { return out_; }
  Bytes&& take() && { return std::move(out_); }
  std::size_t size() const { return out_.size(); }

 private:
  void le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes out_;
};

//! Bounds-checked reader over a byte span. The first failure is sticky: later reads
//! return zeros and never touch memory past the end; check ok()/error() at the end.
class Reader {
 public:
  explicit Reader(ByteSpan in) : in_(in) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(le(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(le(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(le(4)); }
  std::uint64_t u64() { return le(8); }
  std::int64_t i64() { return static_cast<std::int64_t>(le(8)); }
  Hash256 hash();
  template <std::size_t N>
  std::array<std::uint8_t, N> array() {
    std::array<std::uint8_t, N> out{};
    if (auto s = take(N); !s.empty()) std::memcpy(out.data(), s.data(), N);
    return out;
  }
  //! Canonical CompactSize; fails on a non-shortest encoding.
  std::uint64_t varint();
  //! A varint length, then at most max_len bytes (checked before any allocation).
  Bytes var_bytes(std::size_t max_len);
  std::string var_string(std::size_t max_len);
  //! The next n bytes as a view into the input (empty on failure).
  ByteSpan take(std::size_t n);
  //! A count of items each at least min_item_size bytes long, checked against both max_count
  //! and what the remaining input could hold, so a caller may reserve() it safely.
  std::uint64_t count(std::uint64_t max_count, std::size_t min_item_size);

  void fail(DecodeError e) {
    if (ok_) {
      ok_ = false;
      error_ = e;
    }
  }
  bool ok() const { return ok_; }
  DecodeError error() const { return error_; }
  std::size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }
  std::size_t position() const { return pos_; }
  bool at_end() const { return remaining() == 0; }
  //! Fails with kTrailingData unless all input was consumed.
  void expect_end() {
    if (ok_ && pos_ != in_.size()) fail(DecodeError::kTrailingData);
  }

 private:
  std::uint64_t le(int n);
  ByteSpan in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
  DecodeError error_ = DecodeError::kTruncated;
};

std::size_t varint_size(std::uint64_t v);

}  // namespace cheese
