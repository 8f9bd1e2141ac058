#pragma once

// Secrets (seeds, phrases, keys) in libsodium's guarded memory: sodium_malloc places the bytes
// between guard pages, mlock()s them (best effort: a low RLIMIT_MEMLOCK only loses the mlock) and
// sodium_free wipes them before releasing.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "primitives/bytes.hpp"

namespace cheese {

//! A fixed-size byte buffer in sodium_malloc memory, zero-filled at construction and wiped on
//! reset() and destruction. Move-only; a moved-from buffer is empty.
class SecureBuffer {
 public:
  SecureBuffer() = default;
  //! Throws std::bad_alloc when libsodium cannot allocate.
  explicit SecureBuffer(std::size_t size);
  static SecureBuffer copy_of(ByteSpan bytes);

  SecureBuffer(SecureBuffer&& other) noexcept;
  SecureBuffer& operator=(SecureBuffer&& other) noexcept;
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;
  ~SecureBuffer();

  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<std::uint8_t> span() { return {data_, size_}; }
  ByteSpan span() const { return {data_, size_}; }
  //! The first n bytes (n <= size()).
  ByteSpan first(std::size_t n) const { return span().first(n); }
  //! Wipes and frees the bytes; the buffer becomes empty.
  void reset() noexcept;

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

//! Constant-time comparison of two buffers of equal size (false when the sizes differ).
[[nodiscard]] bool secure_equal(ByteSpan a, ByteSpan b);

//! Text that is a secret (a recovery phrase), kept in a SecureBuffer.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(SecureBuffer bytes) : bytes_(std::move(bytes)) {}
  static SecretString copy_of(std::string_view s) { return SecretString(SecureBuffer::copy_of(as_bytes(s))); }

  std::string_view view() const { return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()}; }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  void reset() noexcept { bytes_.reset(); }

 private:
  SecureBuffer bytes_;
};

}  // namespace cheese
