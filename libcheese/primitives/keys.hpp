#pragma once

// Ed25519 account keys and signatures (libsodium's crypto_sign_*).

#include <array>
#include <cstdint>
#include <span>

#include "primitives/bytes.hpp"
#include "primitives/secure_buffer.hpp"

namespace cheese {

using PublicKey = std::array<std::uint8_t, 32>;
using Signature = std::array<std::uint8_t, 64>;

//! Calls sodium_init() once (thread-safe); throws std::runtime_error if it fails.
void ensure_sodium();

//! Ed25519 secret key (libsodium's 64-byte seed||pk form) in guarded memory (SecureBuffer): wiped
//! and freed on destruction; a move hands the pages over and leaves the source empty. Not copyable
//! (explicit clone()).
class SecretKey {
 public:
  //! A fresh key from libsodium's CSPRNG.
  static SecretKey generate();
  //! The key RFC 8032 derives from a 32-byte seed.
  static SecretKey from_seed(std::span<const std::uint8_t, 32> seed);

  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  ~SecretKey();

  SecretKey clone() const;
  PublicKey public_key() const;
  //! Detached signature of message; throws std::logic_error on a moved-from key.
  Signature sign(ByteSpan message) const;
  //! The 32-byte seed (for explicit wallet export only).
  std::array<std::uint8_t, 32> seed() const;
  //! True for a moved-from key (its bytes were handed over, none are left here).
  bool empty() const noexcept;

 private:
  SecretKey();
  SecureBuffer sk_;
};

//! Checks a detached Ed25519 signature (libsodium rejects non-canonical and small-order inputs).
[[nodiscard]] bool verify_signature(const PublicKey& pk, ByteSpan message, const Signature& sig);

}  // namespace cheese
