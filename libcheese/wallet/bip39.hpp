#pragma once

// BIP-39 recovery phrases with the English wordlist.
//
// Normalization: words may be separated by any ASCII whitespace and typed in any case; the
// phrase is lower-cased and joined with single spaces before it is checked or hashed. The
// English words are ASCII, so this is also their NFKD form. The seed passphrase is used as
// given: BIP-39 asks for NFKD, which equals the input for ASCII; a non-ASCII passphrase gives
// the seed of other BIP-39 tools only if it was typed in NFKD form (cheesechain wallets always
// use the empty seed passphrase; see docs/wallet.md).

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "primitives/bytes.hpp"
#include "primitives/result.hpp"
#include "primitives/secure_buffer.hpp"

namespace cheese {

inline constexpr std::size_t kBip39WordlistSize = 2048;
inline constexpr std::size_t kBip39SeedSize = 64;
inline constexpr std::uint32_t kBip39Pbkdf2Rounds = 2048;
//! The entropy of a cheesechain wallet: 256 bits, 24 words.
inline constexpr std::size_t kWalletEntropySize = 32;

//! The 2048 English words, sorted (generated at build time from python3-mnemonic's english.txt).
std::span<const std::string_view, kBip39WordlistSize> bip39_wordlist();
//! Index of a lower-case word in the wordlist.
std::optional<std::size_t> bip39_word_index(std::string_view word);

enum class MnemonicErrc {
  kWrongWordCount,  //!< not 12, 15, 18, 21 or 24 words
  kUnknownWord,     //!< a word that is not in the English wordlist
  kBadChecksum,     //!< every word is valid but the checksum bits do not match (a wrong word)
};

std::string_view to_string(MnemonicErrc e);

//! Why a phrase was refused, with enough detail to tell the user what to fix.
struct MnemonicError {
  MnemonicErrc code = MnemonicErrc::kWrongWordCount;
  std::size_t word_count = 0;  //!< words in the phrase
  std::size_t position = 0;    //!< kUnknownWord: 1-based position of the word
  std::string word;            //!< kUnknownWord: the word as normalized (lower case)
};

//! A sentence for the user, e.g. `word 5 "abandn" is not in the BIP-39 English wordlist`.
std::string describe(const MnemonicError& e);

//! The phrase of 16, 20, 24, 28 or 32 bytes of entropy (12..24 words); std::invalid_argument
//! for any other length.
SecretString generate_mnemonic(ByteSpan entropy);

//! Lower-cased words joined by single spaces (no validation).
SecretString normalize_mnemonic(std::string_view phrase);

//! The entropy a phrase encodes, after checking word count, words and checksum.
Result<SecureBuffer, MnemonicError> mnemonic_to_entropy(std::string_view phrase);

//! The 64-byte BIP-39 seed: PBKDF2-HMAC-SHA512(normalized phrase, "mnemonic" + passphrase,
//! 2048 rounds). Like BIP-39 itself, this does not check the phrase: validate it first with
//! mnemonic_to_entropy.
SecureBuffer mnemonic_to_seed(std::string_view phrase, std::string_view passphrase = {});

}  // namespace cheese
