#include "wallet/hmac_sha512.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "primitives/keys.hpp"

namespace cheese {

namespace {

static_assert(crypto_auth_hmacsha512_BYTES == kHmacSha512Size);

//! libsodium is handed a valid pointer even for empty input.
const unsigned char* ptr(ByteSpan s) {
  static constexpr unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : s.data();
}

//! The keyed HMAC state and the working blocks hold key material: wiped on every exit.
struct Wiped {
  crypto_auth_hmacsha512_state keyed;
  crypto_auth_hmacsha512_state work;
  std::array<std::uint8_t, kHmacSha512Size> u;
  std::array<std::uint8_t, kHmacSha512Size> t;
  Wiped() = default;
  Wiped(const Wiped&) = delete;
  Wiped& operator=(const Wiped&) = delete;
  ~Wiped() { sodium_memzero(this, sizeof(*this)); }
};

}  // namespace

void hmac_sha512(ByteSpan key, std::initializer_list<ByteSpan> parts, std::span<std::uint8_t, kHmacSha512Size> out) {
  ensure_sodium();
  Wiped s;
  crypto_auth_hmacsha512_init(&s.work, ptr(key), key.size());
  for (ByteSpan p : parts) crypto_auth_hmacsha512_update(&s.work, ptr(p), p.size());
  crypto_auth_hmacsha512_final(&s.work, out.data());
}

void pbkdf2_hmac_sha512(ByteSpan password, ByteSpan salt, std::uint32_t iterations, std::span<std::uint8_t> out) {
  if (iterations == 0) throw std::invalid_argument("PBKDF2 needs at least one iteration");
  ensure_sodium();
  Wiped s;
  // The keyed state is computed once and copied for every HMAC of the password.
  crypto_auth_hmacsha512_init(&s.keyed, ptr(password), password.size());
  std::uint32_t block = 1;
  for (std::size_t done = 0; done < out.size(); ++block) {
    const std::array<std::uint8_t, 4> index = {
        static_cast<std::uint8_t>(block >> 24), static_cast<std::uint8_t>(block >> 16),
        static_cast<std::uint8_t>(block >> 8), static_cast<std::uint8_t>(block)};
    s.work = s.keyed;
    crypto_auth_hmacsha512_update(&s.work, ptr(salt), salt.size());
    crypto_auth_hmacsha512_update(&s.work, index.data(), index.size());
    crypto_auth_hmacsha512_final(&s.work, s.u.data());
    s.t = s.u;
    for (std::uint32_t i = 1; i < iterations; ++i) {
      s.work = s.keyed;
      crypto_auth_hmacsha512_update(&s.work, s.u.data(), s.u.size());
      crypto_auth_hmacsha512_final(&s.work, s.u.data());
      for (std::size_t j = 0; j < s.t.size(); ++j) s.t[j] ^= s.u[j];
    }
    const std::size_t n = std::min(s.t.size(), out.size() - done);
    std::copy_n(s.t.begin(), n, out.begin() + static_cast<std::ptrdiff_t>(done));
    done += n;
  }
}

}  // namespace cheese
