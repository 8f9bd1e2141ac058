#pragma once

// Secrets (seeds, phrases, signing keys, passphrases) in libsodium's guarded memory
// (docs/wallet.md, "Secrets in memory"): sodium_malloc places the bytes on pages of their own
// between guard pages and mlock()s them (best effort: a low RLIMIT_MEMLOCK only loses the mlock,
// then they may be swapped); sodium_free wipes them before unmapping. A buffer kept for long can
// be sealed (sodium_mprotect_noaccess) while idle, so that a stray read or write faults; a
// SecureBuffer::Access opens it for the length of a scope.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "primitives/bytes.hpp"

namespace cheese {

//! Overwrites `size` bytes with zeros in a way the compiler cannot drop (sodium_memzero).
void secure_wipe(void* data, std::size_t size) noexcept;

//! A fixed-size byte buffer in sodium_malloc memory, zero-filled at construction and wiped on
//! reset() and destruction. Move-only: a move hands over the pages (no copy of the bytes is made)
//! and leaves the source empty.
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
  //! Wipes and frees the bytes (sealed or not); the buffer becomes empty.
  void reset() noexcept;

  //! Makes the pages inaccessible (sodium_mprotect_noaccess) whenever no Access is open. For
  //! buffers kept while idle; the buffer stays sealed until reset().
  void seal() const noexcept;
  //! True while the pages are inaccessible.
  bool sealed() const { return sealed_ && opened_ == 0 && data_ != nullptr; }

  //! Opens a sealed buffer (read and write) for its lifetime; nests. The last Access to end seals
  //! it again. The buffer must outlive the Access and must not be moved meanwhile.
  class Access {
   public:
    explicit Access(const SecureBuffer& b) noexcept;
    Access(const Access&) = delete;
    Access& operator=(const Access&) = delete;
    ~Access();

   private:
    const SecureBuffer* b_;
  };

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  mutable bool sealed_ = false;  //!< sealed while idle
  mutable int opened_ = 0;       //!< live Access objects
};

//! Constant-time comparison of two buffers of equal size (false when the sizes differ).
[[nodiscard]] bool secure_equal(ByteSpan a, ByteSpan b);

//! Text that is a secret (a recovery phrase, a passphrase), kept in a SecureBuffer.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(SecureBuffer bytes) : bytes_(std::move(bytes)) {}
  static SecretString copy_of(std::string_view s) { return SecretString(SecureBuffer::copy_of(as_bytes(s))); }

  std::string_view view() const { return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()}; }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  void reset() noexcept { bytes_.reset(); }
  const SecureBuffer& buffer() const { return bytes_; }

 private:
  SecureBuffer bytes_;
};

}  // namespace cheese
