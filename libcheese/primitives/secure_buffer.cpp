#include "primitives/secure_buffer.hpp"

#include <sodium.h>

#include <algorithm>
#include <new>
#include <utility>

#include "primitives/keys.hpp"

namespace cheese {

void secure_wipe(void* data, std::size_t size) noexcept {
  if (data != nullptr && size > 0) sodium_memzero(data, size);
}

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
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      sealed_(std::exchange(other.sealed_, false)),
      opened_(std::exchange(other.opened_, 0)) {}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    sealed_ = std::exchange(other.sealed_, false);
    opened_ = std::exchange(other.opened_, 0);
  }
  return *this;
}

SecureBuffer::~SecureBuffer() { reset(); }

void SecureBuffer::reset() noexcept {
  // sodium_free makes the pages writable, wipes and unlocks them, then unmaps them.
  if (data_ != nullptr) sodium_free(data_);
  data_ = nullptr;
  size_ = 0;
  sealed_ = false;
  opened_ = 0;
}

void SecureBuffer::seal() const noexcept {
  if (data_ == nullptr) return;
  sealed_ = true;
  if (opened_ == 0) sodium_mprotect_noaccess(data_);
}

SecureBuffer::Access::Access(const SecureBuffer& b) noexcept : b_(&b) {
  if (b_->opened_++ == 0 && b_->sealed_ && b_->data_ != nullptr) sodium_mprotect_readwrite(b_->data_);
}

SecureBuffer::Access::~Access() {
  if (--b_->opened_ == 0 && b_->sealed_ && b_->data_ != nullptr) sodium_mprotect_noaccess(b_->data_);
}

bool secure_equal(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace cheese
