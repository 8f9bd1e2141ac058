#pragma once

// SLIP-0010 key derivation for Ed25519: master key from a BIP-39 seed (HMAC-SHA512 with the key
// "ed25519 seed") and hardened private-to-private child derivation, the only kind Ed25519 has.
//
// cheesechain's path (docs/wallet.md): m/44'/8433'/account'/0'/index' on main, coin type 1'
// (SLIP-0044 "Testnet (all coins)") on test and regtest. Every level is hardened.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "consensus/params.hpp"
#include "primitives/bytes.hpp"
#include "primitives/keys.hpp"
#include "primitives/result.hpp"
#include "primitives/secure_buffer.hpp"

namespace cheese {

inline constexpr std::uint32_t kHardened = 0x8000'0000U;
inline constexpr std::uint32_t kBip44Purpose = 44;
//! SLIP-0044 coin type of cheesechain's main network (unregistered in SLIP-0044 when chosen;
//! the main network's P2P port).
inline constexpr std::uint32_t kCoinTypeMain = 8433;
//! SLIP-0044 coin type 1, "Testnet (all coins)": test and regtest keys never equal main keys.
inline constexpr std::uint32_t kCoinTypeTestnet = 1;

std::uint32_t coin_type(Network network);

//! A SLIP-0010 extended private key: 32-byte key k and 32-byte chain code c, in guarded memory.
class ExtendedKey {
 public:
  //! From I = I_L || I_R (64 bytes).
  explicit ExtendedKey(SecureBuffer i);

  //! The private key: the Ed25519 seed that SecretKey::from_seed expands (RFC 8032).
  std::span<const std::uint8_t, 32> key() const { return std::span<const std::uint8_t, 32>(i_.data(), 32); }
  std::span<const std::uint8_t, 32> chain_code() const {
    return std::span<const std::uint8_t, 32>(i_.data() + 32, 32);
  }
  SecretKey signing_key() const { return SecretKey::from_seed(key()); }
  PublicKey public_key() const { return signing_key().public_key(); }
  //! SLIP-0010's serialization of the public key: 0x00 || Ed25519 public key (33 bytes).
  std::array<std::uint8_t, 33> slip10_public_key() const;
  //! The guarded bytes (to seal them while idle, or open them with SecureBuffer::Access).
  const SecureBuffer& buffer() const { return i_; }

 private:
  SecureBuffer i_;
};

//! The master key of a seed (16 to 64 bytes; std::invalid_argument otherwise).
ExtendedKey slip10_master_key(ByteSpan seed);
//! The hardened child `index` (which must have the kHardened bit; std::invalid_argument
//! otherwise, Ed25519 has no normal derivation).
ExtendedKey slip10_child_key(const ExtendedKey& parent, std::uint32_t index);
//! Master key, then one child per path element.
ExtendedKey slip10_derive(ByteSpan seed, std::span<const std::uint32_t> path);

enum class PathError {
  kSyntax,       //!< not "m" followed by "/<number>'" elements
  kNotHardened,  //!< an element without ' (or h, H): Ed25519 only derives hardened children
  kOutOfRange,   //!< an element of 2^31 or more (before the hardened bit is added)
};
std::string_view to_string(PathError e);

//! Parses "m/44'/8433'/0'/0'/5'" (hardened marks ', h or H); the elements carry kHardened.
Result<std::vector<std::uint32_t>, PathError> parse_derivation_path(std::string_view path);
//! "m/44'/8433'/0'/0'/5'".
std::string format_derivation_path(std::span<const std::uint32_t> path);

//! The path of a cheesechain account key: m/44'/coin'/account'/0'/index'.
std::vector<std::uint32_t> wallet_key_path(std::uint32_t coin, std::uint32_t account, std::uint32_t index);

}  // namespace cheese
