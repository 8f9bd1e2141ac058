#include "wallet/bip39.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "primitives/keys.hpp"
#include "wallet/bip39_wordlist.hpp"
#include "wallet/hmac_sha512.hpp"

namespace cheese {

namespace {

constexpr std::size_t kBitsPerWord = 11;
constexpr std::size_t kMinWords = 12;
constexpr std::size_t kMaxWords = 24;
constexpr std::size_t kMaxEntropy = 32;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

//! Word boundaries of a phrase, as [begin, end) offsets into it (no copy of the secret).
std::vector<std::pair<std::size_t, std::size_t>> split_words(std::string_view phrase) {
  std::vector<std::pair<std::size_t, std::size_t>> words;
  std::size_t i = 0;
  while (i < phrase.size()) {
    while (i < phrase.size() && is_space(phrase[i])) ++i;
    const std::size_t begin = i;
    while (i < phrase.size() && !is_space(phrase[i])) ++i;
    if (i > begin) words.emplace_back(begin, i);
  }
  return words;
}

//! SHA-256 of the entropy; its first ENT/32 bits are the checksum.
std::array<std::uint8_t, crypto_hash_sha256_BYTES> checksum_hash(ByteSpan entropy) {
  ensure_sodium();
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> h{};
  crypto_hash_sha256(h.data(), entropy.data(), entropy.size());
  return h;
}

}  // namespace

std::span<const std::string_view, kBip39WordlistSize> bip39_wordlist() { return detail::kBip39English; }

std::optional<std::size_t> bip39_word_index(std::string_view word) {
  const auto& list = detail::kBip39English;
  const auto it = std::lower_bound(list.begin(), list.end(), word);
  if (it == list.end() || *it != word) return std::nullopt;
  return static_cast<std::size_t>(it - list.begin());
}

std::string_view to_string(MnemonicErrc e) {
  switch (e) {
    case MnemonicErrc::kWrongWordCount: return "wrong number of words";
    case MnemonicErrc::kUnknownWord: return "unknown word";
    case MnemonicErrc::kBadChecksum: return "bad checksum";
  }
  return "invalid recovery phrase";
}

std::string describe(const MnemonicError& e) {
  switch (e.code) {
    case MnemonicErrc::kWrongWordCount:
      return fmt::format("a recovery phrase has 12, 15, 18, 21 or 24 words, not {}", e.word_count);
    case MnemonicErrc::kUnknownWord:
      return fmt::format("word {} \"{}\" is not in the BIP-39 English wordlist", e.position, e.word);
    case MnemonicErrc::kBadChecksum:
      return "the checksum of the recovery phrase does not match: a word is wrong or misplaced";
  }
  return std::string(to_string(e.code));
}

SecretString generate_mnemonic(ByteSpan entropy) {
  const std::size_t n = entropy.size();
  if (n < 16 || n > kMaxEntropy || n % 4 != 0) {
    throw std::invalid_argument("BIP-39 entropy must be 16, 20, 24, 28 or 32 bytes");
  }
  const auto hash = checksum_hash(entropy);
  // entropy || checksum byte(s): ENT + ENT/32 bits, at most 264 bits = 33 bytes.
  SecureBuffer bits(n + 1);
  std::copy(entropy.begin(), entropy.end(), bits.data());
  bits.data()[n] = hash[0];
  const std::size_t word_count = (n * 8 + n / 4) / kBitsPerWord;

  std::array<std::size_t, kMaxWords> indexes{};
  std::size_t length = word_count - 1;  // separating spaces
  for (std::size_t w = 0; w < word_count; ++w) {
    std::size_t index = 0;
    for (std::size_t b = w * kBitsPerWord; b < (w + 1) * kBitsPerWord; ++b) {
      const auto bit = static_cast<std::size_t>((bits.data()[b / 8] >> (7 - b % 8)) & 1);
      index = (index << 1) | bit;
    }
    indexes[w] = index;
    length += detail::kBip39English[index].size();
  }
  SecureBuffer out(length);
  std::size_t pos = 0;
  for (std::size_t w = 0; w < word_count; ++w) {
    if (w > 0) out.data()[pos++] = ' ';
    for (char c : detail::kBip39English[indexes[w]]) out.data()[pos++] = static_cast<std::uint8_t>(c);
  }
  sodium_memzero(indexes.data(), sizeof(indexes));
  return SecretString(std::move(out));
}

SecretString normalize_mnemonic(std::string_view phrase) {
  const auto words = split_words(phrase);
  std::size_t length = words.empty() ? 0 : words.size() - 1;
  for (const auto& [b, e] : words) length += e - b;
  SecureBuffer out(length);
  std::size_t pos = 0;
  for (std::size_t w = 0; w < words.size(); ++w) {
    if (w > 0) out.data()[pos++] = ' ';
    for (std::size_t i = words[w].first; i < words[w].second; ++i) {
      out.data()[pos++] = static_cast<std::uint8_t>(lower(phrase[i]));
    }
  }
  return SecretString(std::move(out));
}

Result<SecureBuffer, MnemonicError> mnemonic_to_entropy(std::string_view phrase) {
  const SecretString normalized = normalize_mnemonic(phrase);
  const std::string_view text = normalized.view();
  const auto words = split_words(text);
  const std::size_t count = words.size();
  if (count < kMinWords || count > kMaxWords || count % 3 != 0) {
    return Unexpected(MnemonicError{MnemonicErrc::kWrongWordCount, count, 0, {}});
  }
  const std::size_t total_bits = count * kBitsPerWord;
  const std::size_t checksum_bits = total_bits / 33;
  const std::size_t entropy_bytes = (total_bits - checksum_bits) / 8;

  SecureBuffer bits(kMaxEntropy + 1);
  for (std::size_t w = 0; w < count; ++w) {
    const std::string_view word = text.substr(words[w].first, words[w].second - words[w].first);
    const auto index = bip39_word_index(word);
    if (!index) {
      return Unexpected(MnemonicError{MnemonicErrc::kUnknownWord, count, w + 1, std::string(word)});
    }
    for (std::size_t i = 0; i < kBitsPerWord; ++i) {
      if (((*index >> (kBitsPerWord - 1 - i)) & 1U) != 0) {
        const std::size_t b = w * kBitsPerWord + i;
        bits.data()[b / 8] = static_cast<std::uint8_t>(bits.data()[b / 8] | (0x80U >> (b % 8)));
      }
    }
  }
  SecureBuffer entropy = SecureBuffer::copy_of(bits.first(entropy_bytes));
  const auto hash = checksum_hash(entropy.span());
  const auto mask = static_cast<std::uint8_t>(0xFFU << (8 - checksum_bits));
  if ((bits.data()[entropy_bytes] & mask) != (hash[0] & mask)) {
    return Unexpected(MnemonicError{MnemonicErrc::kBadChecksum, count, 0, {}});
  }
  return entropy;
}

SecureBuffer mnemonic_to_seed(std::string_view phrase, std::string_view passphrase) {
  const SecretString normalized = normalize_mnemonic(phrase);
  constexpr std::string_view kSaltPrefix = "mnemonic";
  SecureBuffer salt(kSaltPrefix.size() + passphrase.size());
  std::copy(kSaltPrefix.begin(), kSaltPrefix.end(), salt.data());
  std::copy(passphrase.begin(), passphrase.end(), salt.data() + kSaltPrefix.size());
  SecureBuffer seed(kBip39SeedSize);
  pbkdf2_hmac_sha512(as_bytes(normalized.view()), salt.span(), kBip39Pbkdf2Rounds, seed.span());
  return seed;
}

}  // namespace cheese
