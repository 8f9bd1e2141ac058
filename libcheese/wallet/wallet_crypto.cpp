#include "wallet/wallet_crypto.hpp"

#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "wallet/wallet_file.hpp"
#include "wallet/wallet_internal.hpp"

namespace cheese {

KdfLimits KdfLimits::moderate() { return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE}; }
KdfLimits KdfLimits::interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}
KdfLimits KdfLimits::minimum() { return {crypto_pwhash_argon2id_OPSLIMIT_MIN, crypto_pwhash_argon2id_MEMLIMIT_MIN}; }
KdfLimits KdfLimits::for_network(Network network) {
  return network == Network::kRegtest ? interactive() : moderate();
}

namespace wallet_detail {

namespace {

//! Additional data binds each ciphertext to its purpose and to this wallet.
Bytes aad(std::string_view purpose, const WalletId& id) {
  Bytes out(purpose.begin(), purpose.end());
  out.insert(out.end(), id.begin(), id.end());
  return out;
}
constexpr std::string_view kMasterKeyPurpose = "cheesechain wallet master key v1";
constexpr std::string_view kSeedPurpose = "cheesechain wallet seed v1";

SecureBuffer passphrase_key(std::string_view passphrase, ByteSpan salt, const KdfLimits& kdf) {
  ensure_sodium();
  SecureBuffer key(kKeySize);
  if (crypto_pwhash(key.data(), key.size(), passphrase.data(), passphrase.size(), salt.data(), kdf.ops, kdf.mem,
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    fail(WalletErrc::kOutOfMemory,
         fmt::format("not enough memory for the passphrase key derivation (Argon2id, {} MiB)", kdf.mem >> 20));
  }
  return key;
}

void seal(ByteSpan key, ByteSpan plaintext, ByteSpan ad, std::array<std::uint8_t, kNonceSize>& nonce,
          std::array<std::uint8_t, kSealedSize>& out) {
  randombytes_buf(nonce.data(), nonce.size());
  unsigned long long out_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), &out_len, plaintext.data(), plaintext.size(), ad.data(),
                                             ad.size(), nullptr, nonce.data(), key.data());
}

std::optional<SecureBuffer> unseal(ByteSpan key, ByteSpan nonce, ByteSpan sealed, ByteSpan ad) {
  SecureBuffer out(sealed.size() - kTagSize);
  unsigned long long out_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &out_len, nullptr, sealed.data(), sealed.size(),
                                                 ad.data(), ad.size(), nonce.data(), key.data()) != 0) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

bool kdf_in_range(const KdfLimits& k) {
  return k.ops >= crypto_pwhash_argon2id_OPSLIMIT_MIN && k.ops <= crypto_pwhash_argon2id_OPSLIMIT_MAX &&
         k.mem >= crypto_pwhash_argon2id_MEMLIMIT_MIN && k.mem <= crypto_pwhash_argon2id_MEMLIMIT_MAX &&
         k.mem <= kMaxKdfMem;
}

void check_kdf(const KdfLimits& k) {
  if (!kdf_in_range(k)) throw std::invalid_argument("Argon2id limits out of range");
}

void check_passphrase(std::string_view passphrase) {
  if (passphrase.empty()) fail(WalletErrc::kEmptyPassphrase, "the passphrase cannot be empty");
}

void wrap_master_key(CryptoRecord& rec, ByteSpan master_key, std::string_view passphrase, const KdfLimits& kdf,
                     const WalletId& id) {
  rec.kdf = kdf;
  randombytes_buf(rec.salt.data(), rec.salt.size());
  const SecureBuffer kek = passphrase_key(passphrase, rec.salt, kdf);
  seal(kek.span(), master_key, aad(kMasterKeyPurpose, id), rec.master_key_nonce, rec.master_key);
}

CryptoRecord make_crypto_record(ByteSpan entropy, std::string_view passphrase, const KdfLimits& kdf,
                                const WalletId& id) {
  ensure_sodium();
  CryptoRecord rec;
  SecureBuffer master_key(kKeySize);
  crypto_aead_xchacha20poly1305_ietf_keygen(master_key.data());
  seal(master_key.span(), entropy, aad(kSeedPurpose, id), rec.seed_nonce, rec.seed);
  wrap_master_key(rec, master_key.span(), passphrase, kdf, id);
  return rec;
}

SecureBuffer unwrap_master_key(const CryptoRecord& rec, std::string_view passphrase, const WalletId& id) {
  const SecureBuffer kek = passphrase_key(passphrase, rec.salt, rec.kdf);
  auto mk = unseal(kek.span(), rec.master_key_nonce, rec.master_key, aad(kMasterKeyPurpose, id));
  if (!mk) fail(WalletErrc::kWrongPassphrase, "the wallet passphrase entered was incorrect");
  return std::move(*mk);
}

std::optional<SecureBuffer> unseal_seed(const CryptoRecord& rec, ByteSpan master_key, const WalletId& id) {
  return unseal(master_key, rec.seed_nonce, rec.seed, aad(kSeedPurpose, id));
}

void put_crypto_record(Db& db, const CryptoRecord& rec) {
  put_meta(db, "kdf", kKdfName);
  put_meta(db, "kdf_salt", rec.salt);
  put_meta(db, "kdf_ops", static_cast<std::int64_t>(rec.kdf.ops));
  put_meta(db, "kdf_mem", static_cast<std::int64_t>(rec.kdf.mem));
  put_meta(db, "master_key_nonce", rec.master_key_nonce);
  put_meta(db, "master_key", rec.master_key);
  put_meta(db, "seed_nonce", rec.seed_nonce);
  put_meta(db, "encrypted_seed", rec.seed);
}

}  // namespace wallet_detail
}  // namespace cheese
