#pragma once

// HMAC-SHA512 (RFC 2104/4231) and PBKDF2-HMAC-SHA512 (RFC 8018) on libsodium's
// crypto_auth_hmacsha512_* primitives, as BIP-39 and SLIP-0010 need them.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>

#include "primitives/bytes.hpp"

namespace cheese {

inline constexpr std::size_t kHmacSha512Size = 64;

//! HMAC-SHA512(key, concatenation of the parts) into out (64 bytes). Keys of any length.
void hmac_sha512(ByteSpan key, std::initializer_list<ByteSpan> parts, std::span<std::uint8_t, kHmacSha512Size> out);

//! PBKDF2 with HMAC-SHA512 as the PRF; out may have any length. iterations >= 1
//! (std::invalid_argument otherwise).
void pbkdf2_hmac_sha512(ByteSpan password, ByteSpan salt, std::uint32_t iterations, std::span<std::uint8_t> out);

}  // namespace cheese
