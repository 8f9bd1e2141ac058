#pragma once

// The wallet's keys: SLIP-0010 derivation along m/44'/coin'/account'/0'/index' from the BIP-39
// entropy.

#include <cstdint>

#include "primitives/bytes.hpp"
#include "primitives/keys.hpp"
#include "wallet/slip10.hpp"

namespace cheese::wallet_detail {

inline constexpr std::uint32_t kAccount = 0;

//! The node m/44'/coin'/account'/0' whose hardened children are the wallet's keys.
ExtendedKey chain_node(ByteSpan entropy, std::uint32_t coin, std::uint32_t account);

//! The public key at `index` (a hardened child of `node`).
PublicKey derive_pubkey(const ExtendedKey& node, std::uint32_t index);

}  // namespace cheese::wallet_detail
