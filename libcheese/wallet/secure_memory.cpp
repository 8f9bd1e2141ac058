#include "wallet/secure_memory.hpp"

#include <sodium.h>

#include <algorithm>
#include <new>
#include <utility>

#include "primitives/keys.hpp"

namespace cheese {

SecureBuffer::SecureBuffer(std::size_t size) {
  if (size == 0) return;
  ensure_sodium();
  void* p = sodium_malloc(size);
  if (p == nullptr) throw std::bad_alloc();
  data_ = static_cast<std::uint8_t*>(p);
  size_ = size;
  sodium_memzero(data_, size_);
}

SecureBuffer SecureBuffer::copy_of(ByteSpan bytes) {
  SecureBuffer out(bytes.size());
  if (!bytes.empty()) std::copy(bytes.begin(), bytes.end(), out.data_);
  return out;
}

SecureBuffer::SecureBuffer(SecureBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecureBuffer::~SecureBuffer() { reset(); }

void SecureBuffer::reset() noexcept {
  if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before unmapping
  data_ = nullptr;
  size_ = 0;
}

bool secure_equal(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace cheese
