#include "primitives/keys.hpp"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

namespace cheese {

namespace {

static_assert(crypto_sign_PUBLICKEYBYTES == std::tuple_size_v<PublicKey>);
static_assert(crypto_sign_BYTES == std::tuple_size_v<Signature>);
static_assert(crypto_sign_SECRETKEYBYTES == 64);
static_assert(crypto_sign_SEEDBYTES == 32);

//! libsodium is handed a valid pointer even for an empty message.
const unsigned char* message_ptr(ByteSpan message) {
  static constexpr unsigned char kEmpty = 0;
  return message.empty() ? &kEmpty : message.data();
}

}  // namespace

void ensure_sodium() {
  // A function-local static is initialised exactly once, even with concurrent callers.
  static const int rc = sodium_init();
  if (rc < 0) throw std::runtime_error("sodium_init() failed");
}

SecretKey::SecretKey() : sk_(crypto_sign_SECRETKEYBYTES) {}

SecretKey SecretKey::generate() {
  ensure_sodium();
  SecretKey key;
  PublicKey pk{};
  crypto_sign_keypair(pk.data(), key.sk_.data());
  return key;
}

SecretKey SecretKey::from_seed(std::span<const std::uint8_t, 32> seed) {
  ensure_sodium();
  SecretKey key;
  PublicKey pk{};
  crypto_sign_seed_keypair(pk.data(), key.sk_.data(), seed.data());
  return key;
}

SecretKey::SecretKey(SecretKey&& other) noexcept = default;
SecretKey& SecretKey::operator=(SecretKey&& other) noexcept = default;
SecretKey::~SecretKey() = default;

SecretKey SecretKey::clone() const {
  if (empty()) throw std::logic_error("SecretKey::clone of a moved-from key");
  SecretKey copy;
  std::copy(sk_.span().begin(), sk_.span().end(), copy.sk_.data());
  return copy;
}

PublicKey SecretKey::public_key() const {
  PublicKey pk{};
  if (empty()) return pk;
  std::copy(sk_.span().begin() + 32, sk_.span().end(), pk.begin());
  return pk;
}

Signature SecretKey::sign(ByteSpan message) const {
  if (empty()) throw std::logic_error("SecretKey::sign on a moved-from key");
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, message_ptr(message), message.size(), sk_.data());
  return sig;
}

std::array<std::uint8_t, 32> SecretKey::seed() const {
  std::array<std::uint8_t, 32> out{};
  if (!empty()) std::copy(sk_.span().begin(), sk_.span().begin() + 32, out.begin());
  return out;
}

bool SecretKey::empty() const noexcept { return sk_.empty(); }

bool verify_signature(const PublicKey& pk, ByteSpan message, const Signature& sig) {
  ensure_sodium();
  return crypto_sign_verify_detached(sig.data(), message_ptr(message), message.size(), pk.data()) == 0;
}

}  // namespace cheese
