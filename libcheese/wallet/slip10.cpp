#include "wallet/slip10.hpp"

#include <charconv>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

#include "wallet/hmac_sha512.hpp"

namespace cheese {

std::uint32_t coin_type(Network network) { return network == Network::kMain ? kCoinTypeMain : kCoinTypeTestnet; }

ExtendedKey::ExtendedKey(SecureBuffer i) : i_(std::move(i)) {
  if (i_.size() != kHmacSha512Size) throw std::invalid_argument("an extended key is 64 bytes");
}

std::array<std::uint8_t, 33> ExtendedKey::slip10_public_key() const {
  std::array<std::uint8_t, 33> out{};
  const PublicKey pk = public_key();
  std::copy(pk.begin(), pk.end(), out.begin() + 1);
  return out;
}

ExtendedKey slip10_master_key(ByteSpan seed) {
  if (seed.size() < 16 || seed.size() > 64) throw std::invalid_argument("SLIP-0010 seeds are 16 to 64 bytes");
  // For Ed25519 every 256-bit string is a valid key, so SLIP-0010's retry never happens.
  SecureBuffer i(kHmacSha512Size);
  hmac_sha512(as_bytes("ed25519 seed"), {seed}, i.span().first<kHmacSha512Size>());
  return ExtendedKey(std::move(i));
}

ExtendedKey slip10_child_key(const ExtendedKey& parent, std::uint32_t index) {
  if ((index & kHardened) == 0) {
    throw std::invalid_argument("Ed25519 (SLIP-0010) derives hardened children only");
  }
  // I = HMAC-SHA512(c_par, 0x00 || k_par || ser32(i)); the child key is I_L, its chain code I_R.
  static constexpr std::array<std::uint8_t, 1> kZero = {0};
  const std::array<std::uint8_t, 4> ser = {static_cast<std::uint8_t>(index >> 24),
                                           static_cast<std::uint8_t>(index >> 16),
                                           static_cast<std::uint8_t>(index >> 8), static_cast<std::uint8_t>(index)};
  SecureBuffer i(kHmacSha512Size);
  hmac_sha512(parent.chain_code(), {kZero, parent.key(), ser}, i.span().first<kHmacSha512Size>());
  return ExtendedKey(std::move(i));
}

ExtendedKey slip10_derive(ByteSpan seed, std::span<const std::uint32_t> path) {
  ExtendedKey key = slip10_master_key(seed);
  for (std::uint32_t index : path) key = slip10_child_key(key, index);
  return key;
}

std::string_view to_string(PathError e) {
  switch (e) {
    case PathError::kSyntax: return "a derivation path looks like m/44'/8433'/0'/0'/0'";
    case PathError::kNotHardened: return "Ed25519 keys derive hardened children only (mark every element with ')";
    case PathError::kOutOfRange: return "a path element must be below 2^31";
  }
  return "invalid derivation path";
}

Result<std::vector<std::uint32_t>, PathError> parse_derivation_path(std::string_view path) {
  if (path.empty() || path.front() != 'm') return Unexpected(PathError::kSyntax);
  path.remove_prefix(1);
  std::vector<std::uint32_t> out;
  while (!path.empty()) {
    if (path.front() != '/') return Unexpected(PathError::kSyntax);
    path.remove_prefix(1);
    const std::size_t end = path.find('/');
    std::string_view element = path.substr(0, end);
    path.remove_prefix(end == std::string_view::npos ? path.size() : end);
    bool hardened = false;
    if (!element.empty() && (element.back() == '\'' || element.back() == 'h' || element.back() == 'H')) {
      hardened = true;
      element.remove_suffix(1);
    }
    // Digits only: from_chars would accept neither '+' nor spaces, but check for leading zeros.
    if (element.empty() || element.find_first_not_of("0123456789") != std::string_view::npos ||
        (element.size() > 1 && element.front() == '0')) {
      return Unexpected(PathError::kSyntax);
    }
    std::uint64_t value = 0;
    const auto [ptr, ec] = std::from_chars(element.data(), element.data() + element.size(), value);
    if (ec == std::errc::result_out_of_range || (ec == std::errc{} && value >= kHardened)) {
      return Unexpected(PathError::kOutOfRange);
    }
    if (ec != std::errc{} || ptr != element.data() + element.size()) return Unexpected(PathError::kSyntax);
    if (!hardened) return Unexpected(PathError::kNotHardened);
    out.push_back(static_cast<std::uint32_t>(value) | kHardened);
  }
  return out;
}

std::string format_derivation_path(std::span<const std::uint32_t> path) {
  std::string out = "m";
  for (std::uint32_t index : path) {
    out += fmt::format("/{}{}", index & ~kHardened, (index & kHardened) != 0 ? "'" : "");
  }
  return out;
}

std::vector<std::uint32_t> wallet_key_path(std::uint32_t coin, std::uint32_t account, std::uint32_t index) {
  if (((coin | account | index) & kHardened) != 0) {
    throw std::invalid_argument("coin type, account and index must be below 2^31");
  }
  return {kBip44Purpose | kHardened, coin | kHardened, account | kHardened, 0 | kHardened, index | kHardened};
}

}  // namespace cheese
