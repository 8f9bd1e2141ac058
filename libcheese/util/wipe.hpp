#pragma once

// Wiping memory that held a secret (a passphrase in an RPC body, a recovery phrase in a reply)
// before it goes back to the heap (docs/wallet.md, "Secrets in memory"). explicit_bzero is
// glibc's zeroing that the compiler may not drop as a dead store.

#include <cstddef>
#include <new>
#include <string>

namespace cheese {

//! Overwrites n bytes at p with zeros (explicit_bzero, which the compiler keeps).
void wipe_memory(void* p, std::size_t n) noexcept;

//! Overwrites a string's characters with zeros (explicit_bzero, which the compiler keeps) and
//! empties it. For texts that held a secret (an RPC body with a passphrase).
void wipe_string(std::string& s) noexcept;

//! A standard allocator whose freed blocks are overwritten with zeros first (for strings and
//! buffers that may hold a secret).
template <typename T>
struct WipingAllocator {
  using value_type = T;
  WipingAllocator() = default;
  template <typename U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}  // NOLINT(implicit)
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept {
    wipe_memory(p, n * sizeof(T));
    ::operator delete(p);
  }
  template <typename U>
  friend bool operator==(const WipingAllocator&, const WipingAllocator<U>&) {
    return true;
  }
};

}  // namespace cheese
