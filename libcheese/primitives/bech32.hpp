#pragma once

// Bech32 (BIP-173) and Bech32m (BIP-350) strings, and cheesechain addresses built on them.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "primitives/bytes.hpp"
#include "primitives/result.hpp"

namespace cheese {

enum class Bech32Encoding { kBech32, kBech32m };

//! Why a string is not a valid bech32/bech32m string or cheesechain address.
enum class Bech32Error {
  kInvalidCharacter,  //!< a data or checksum character outside the bech32 alphabet
  kMixedCase,         //!< both upper- and lower-case letters
  kTooLong,           //!< more than 90 characters
  kNoSeparator,       //!< no '1' separating the human-readable part from the data
  kEmptyHrp,          //!< nothing before the separator
  kBadHrpCharacter,   //!< a human-readable-part character outside US-ASCII 33..126
  kTooShortChecksum,  //!< fewer than 6 characters after the separator
  kBadChecksum,       //!< checksum is neither bech32 nor bech32m (a typo)
  kWrongEncoding,     //!< valid bech32 where bech32m is required (or vice versa)
  kWrongHrp,          //!< valid string for another network or application
  kBadPadding,        //!< non-zero or more than 4 bits of padding in the 5-to-8 regrouping
  kBadLength,         //!< payload has the wrong number of bytes
};

std::string_view to_string(Bech32Error e);

//! Characters of a bech32 string, including the separator and checksum.
inline constexpr std::size_t kBech32MaxLength = 90;
//! Address human-readable parts, one per network.
inline constexpr std::string_view kAddressHrpMain = "chz";
inline constexpr std::string_view kAddressHrpTest = "tchz";
inline constexpr std::string_view kAddressHrpRegtest = "rchz";

struct Bech32Decoded {
  Bech32Encoding encoding;
  std::string hrp;                  //!< lower case
  std::vector<std::uint8_t> data5;  //!< 5-bit values, checksum removed
};

//! Lower-case bech32/bech32m string of hrp (lower-cased here) and 5-bit values. Throws
//! std::invalid_argument on a programming error: an empty hrp or one with a character outside
//! 33..126, a value above 31, or a result longer than 90 characters.
std::string bech32_encode(Bech32Encoding enc, std::string_view hrp, std::span<const std::uint8_t> data5);

//! Parses and verifies a bech32 or bech32m string (either all lower or all upper case).
Result<Bech32Decoded, Bech32Error> bech32_decode(std::string_view s);

//! Regroups bits (8->5 with padding, 5->8 rejecting non-zero/excess padding). nullopt when an
//! input value has more than from_bits bits or the padding is invalid; from_bits and to_bits
//! must be in 1..8 (std::invalid_argument otherwise).
std::optional<Bytes> convert_bits(ByteSpan in, int from_bits, int to_bits, bool pad);

//! Bech32m of the 32-byte Ed25519 public key, no witness version: convert_bits(pubkey, 8, 5, true).
std::string encode_address(std::string_view hrp, const std::array<std::uint8_t, 32>& pubkey);

//! Decodes and checks: bech32m (not bech32), hrp equals expected_hrp (lower case), payload
//! exactly 32 bytes with valid padding.
Result<std::array<std::uint8_t, 32>, Bech32Error> decode_address(std::string_view expected_hrp,
                                                                 std::string_view address);

}  // namespace cheese
