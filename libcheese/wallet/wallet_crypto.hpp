#pragma once

// How an encrypted wallet keeps its secrets (docs/wallet.md): the entropy sealed under a random
// master key (XChaCha20-Poly1305), the master key sealed under a key derived from the passphrase
// (Argon2id), each ciphertext bound to its purpose and to the wallet's id.

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "primitives/bytes.hpp"
#include "primitives/secure_buffer.hpp"
#include "wallet/bip39.hpp"
#include "wallet/wallet.hpp"
#include "wallet/wallet_db.hpp"

namespace cheese::wallet_detail {

inline constexpr std::string_view kKdfName = "argon2id13";
inline constexpr std::size_t kWalletIdSize = 16;
inline constexpr std::size_t kKeySize = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
inline constexpr std::size_t kNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
inline constexpr std::size_t kTagSize = crypto_aead_xchacha20poly1305_ietf_ABYTES;
inline constexpr std::size_t kSaltSize = crypto_pwhash_SALTBYTES;
inline constexpr std::size_t kSealedSize = kKeySize + kTagSize;  // both secrets are 32 bytes
inline constexpr std::uint64_t kMaxKdfMem = std::uint64_t{4} << 30;

static_assert(kKeySize == 32 && kNonceSize == 24 && kTagSize == 16 && kSaltSize == 16);
static_assert(kWalletEntropySize == kKeySize);

using WalletId = std::array<std::uint8_t, kWalletIdSize>;

//! Everything an encrypted wallet stores about its secrets.
struct CryptoRecord {
  KdfLimits kdf;
  std::array<std::uint8_t, kSaltSize> salt{};
  std::array<std::uint8_t, kNonceSize> master_key_nonce{};
  std::array<std::uint8_t, kSealedSize> master_key{};  //!< the master key sealed by the passphrase key
  std::array<std::uint8_t, kNonceSize> seed_nonce{};
  std::array<std::uint8_t, kSealedSize> seed{};  //!< the entropy sealed by the master key
};

bool kdf_in_range(const KdfLimits& k);
//! Throws std::invalid_argument: the limits come from the program, not from the file.
void check_kdf(const KdfLimits& k);
//! Fails with kEmptyPassphrase.
void check_passphrase(std::string_view passphrase);

//! Seals `entropy` under a fresh master key, which it wraps under the passphrase.
CryptoRecord make_crypto_record(ByteSpan entropy, std::string_view passphrase, const KdfLimits& kdf,
                                const WalletId& id);
//! Wraps `master_key` under a fresh salt and passphrase key.
void wrap_master_key(CryptoRecord& rec, ByteSpan master_key, std::string_view passphrase, const KdfLimits& kdf,
                     const WalletId& id);
//! The master key; fails with kWrongPassphrase (or kOutOfMemory from Argon2id).
SecureBuffer unwrap_master_key(const CryptoRecord& rec, std::string_view passphrase, const WalletId& id);
//! The entropy sealed in `rec` (nullopt: it does not match the master key).
std::optional<SecureBuffer> unseal_seed(const CryptoRecord& rec, ByteSpan master_key, const WalletId& id);

//! Writes the record's meta rows (within the caller's SQLite transaction).
void put_crypto_record(Db& db, const CryptoRecord& rec);

}  // namespace cheese::wallet_detail
