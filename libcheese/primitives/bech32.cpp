#include "primitives/bech32.hpp"

#include <algorithm>
#include <stdexcept>

namespace cheese {

namespace {

constexpr std::string_view kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr std::uint32_t kBech32Const = 1;
constexpr std::uint32_t kBech32mConst = 0x2bc830a3;
constexpr std::size_t kChecksumLength = 6;
constexpr char kSeparator = '1';

//! Alphabet index of a lower-case character, -1 when it is not in the alphabet.
constexpr std::array<std::int8_t, 128> make_charset_rev() {
  std::array<std::int8_t, 128> rev{};
  for (auto& v : rev) v = -1;
  for (std::size_t i = 0; i < kCharset.size(); ++i) {
    rev[static_cast<unsigned char>(kCharset[i])] = static_cast<std::int8_t>(i);
  }
  return rev;
}
constexpr auto kCharsetRev = make_charset_rev();

std::uint32_t polymod_step(std::uint32_t chk, std::uint8_t value) {
  static constexpr std::uint32_t kGen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  const std::uint32_t top = chk >> 25;
  chk = ((chk & 0x1ffffff) << 5) ^ value;
  for (int i = 0; i < 5; ++i) {
    if ((top >> i) & 1) chk ^= kGen[i];
  }
  return chk;
}

//! Polymod over hrp_expand(hrp) || values; hrp must already be lower case.
std::uint32_t polymod(std::string_view hrp, std::span<const std::uint8_t> values) {
  std::uint32_t chk = 1;
  for (char c : hrp) chk = polymod_step(chk, static_cast<std::uint8_t>(c >> 5));
  chk = polymod_step(chk, 0);
  for (char c : hrp) chk = polymod_step(chk, static_cast<std::uint8_t>(c & 31));
  for (auto v : values) chk = polymod_step(chk, v);
  return chk;
}

std::uint32_t encoding_const(Bech32Encoding enc) {
  return enc == Bech32Encoding::kBech32m ? kBech32mConst : kBech32Const;
}

bool is_hrp_char(unsigned char c) { return c >= 33 && c <= 126; }

char to_lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::string_view to_string(Bech32Error e) {
  switch (e) {
    case Bech32Error::kInvalidCharacter: return "invalid-character";
    case Bech32Error::kMixedCase: return "mixed-case";
    case Bech32Error::kTooLong: return "too-long";
    case Bech32Error::kNoSeparator: return "no-separator";
    case Bech32Error::kEmptyHrp: return "empty-hrp";
    case Bech32Error::kBadHrpCharacter: return "bad-hrp-character";
    case Bech32Error::kTooShortChecksum: return "too-short-checksum";
    case Bech32Error::kBadChecksum: return "bad-checksum";
    case Bech32Error::kWrongEncoding: return "wrong-encoding";
    case Bech32Error::kWrongHrp: return "wrong-hrp";
    case Bech32Error::kBadPadding: return "bad-padding";
    case Bech32Error::kBadLength: return "bad-length";
  }
  return "unknown";
}

std::string bech32_encode(Bech32Encoding enc, std::string_view hrp, std::span<const std::uint8_t> data5) {
  if (hrp.empty()) throw std::invalid_argument("bech32_encode: empty hrp");
  if (hrp.size() + 1 + data5.size() + kChecksumLength > kBech32MaxLength) {
    throw std::invalid_argument("bech32_encode: result longer than 90 characters");
  }
  std::string out;
  out.reserve(hrp.size() + 1 + data5.size() + kChecksumLength);
  for (char c : hrp) {
    if (!is_hrp_char(static_cast<unsigned char>(c))) {
      throw std::invalid_argument("bech32_encode: hrp character out of range");
    }
    out.push_back(to_lower_ascii(c));
  }
  const std::string_view lower_hrp{out};
  std::uint32_t chk = 1;
  {
    // The checksum covers hrp_expand(hrp) || data || six zeros.
    std::vector<std::uint8_t> values(data5.begin(), data5.end());
    for (auto v : values) {
      if (v > 31) throw std::invalid_argument("bech32_encode: value above 31");
    }
    values.resize(values.size() + kChecksumLength, 0);
    chk = polymod(lower_hrp, values) ^ encoding_const(enc);
  }
  out.push_back(kSeparator);
  for (auto v : data5) out.push_back(kCharset[v]);
  for (std::size_t i = 0; i < kChecksumLength; ++i) {
    out.push_back(kCharset[(chk >> (5 * (kChecksumLength - 1 - i))) & 31]);
  }
  return out;
}

Result<Bech32Decoded, Bech32Error> bech32_decode(std::string_view s) {
  if (s.size() > kBech32MaxLength) return Unexpected{Bech32Error::kTooLong};

  bool has_lower = false;
  bool has_upper = false;
  for (char c : s) {
    if (c >= 'a' && c <= 'z') has_lower = true;
    if (c >= 'A' && c <= 'Z') has_upper = true;
  }
  if (has_lower && has_upper) return Unexpected{Bech32Error::kMixedCase};

  // The separator is the last '1': the hrp may itself contain '1'.
  const std::size_t sep = s.rfind(kSeparator);
  if (sep == std::string_view::npos) return Unexpected{Bech32Error::kNoSeparator};
  if (sep == 0) return Unexpected{Bech32Error::kEmptyHrp};
  if (s.size() - sep - 1 < kChecksumLength) return Unexpected{Bech32Error::kTooShortChecksum};

  Bech32Decoded out;
  out.hrp.reserve(sep);
  for (char c : s.substr(0, sep)) {
    if (!is_hrp_char(static_cast<unsigned char>(c))) {
      return Unexpected{Bech32Error::kBadHrpCharacter};
    }
    out.hrp.push_back(to_lower_ascii(c));
  }

  std::vector<std::uint8_t> values;
  values.reserve(s.size() - sep - 1);
  for (char c : s.substr(sep + 1)) {
    const auto uc = static_cast<unsigned char>(to_lower_ascii(c));
    if (uc >= kCharsetRev.size() || kCharsetRev[uc] < 0) {
      return Unexpected{Bech32Error::kInvalidCharacter};
    }
    values.push_back(static_cast<std::uint8_t>(kCharsetRev[uc]));
  }

  const std::uint32_t check = polymod(out.hrp, values);
  if (check == kBech32Const) {
    out.encoding = Bech32Encoding::kBech32;
  } else if (check == kBech32mConst) {
    out.encoding = Bech32Encoding::kBech32m;
  } else {
    return Unexpected{Bech32Error::kBadChecksum};
  }
  values.resize(values.size() - kChecksumLength);
  out.data5 = std::move(values);
  return out;
}

std::optional<Bytes> convert_bits(ByteSpan in, int from_bits, int to_bits, bool pad) {
  if (from_bits < 1 || from_bits > 8 || to_bits < 1 || to_bits > 8) {
    throw std::invalid_argument("convert_bits: group sizes must be 1..8 bits");
  }
  const auto from = static_cast<unsigned>(from_bits);
  const auto to = static_cast<unsigned>(to_bits);
  const std::uint32_t max_out = (1U << to) - 1;
  std::uint32_t acc = 0;
  unsigned bits = 0;
  Bytes out;
  out.reserve((in.size() * from + to - 1) / to);
  for (auto v : in) {
    if ((v >> from) != 0) return std::nullopt;
    // Keep only the bits not yet emitted, so acc never overflows.
    acc = ((acc << from) | v) & ((1U << (from + to - 1)) - 1);
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & max_out));
    }
  }
  if (pad) {
    if (bits > 0) out.push_back(static_cast<std::uint8_t>((acc << (to - bits)) & max_out));
  } else if (bits >= from || ((acc << (to - bits)) & max_out) != 0) {
    return std::nullopt;
  }
  return out;
}

std::string encode_address(std::string_view hrp, const std::array<std::uint8_t, 32>& pubkey) {
  const auto data5 = convert_bits(pubkey, 8, 5, true);  // cannot fail for 8-bit input
  return bech32_encode(Bech32Encoding::kBech32m, hrp, *data5);
}

Result<std::array<std::uint8_t, 32>, Bech32Error> decode_address(std::string_view expected_hrp,
                                                                 std::string_view address) {
  auto decoded = bech32_decode(address);
  if (!decoded) return Unexpected{decoded.error()};
  if (decoded->encoding != Bech32Encoding::kBech32m) {
    return Unexpected{Bech32Error::kWrongEncoding};
  }
  if (decoded->hrp != expected_hrp) return Unexpected{Bech32Error::kWrongHrp};
  // 32 bytes are 256 bits: 52 groups of 5 with 4 bits of zero padding.
  constexpr std::size_t kGroups = (32 * 8 + 4) / 5;
  if (decoded->data5.size() != kGroups) return Unexpected{Bech32Error::kBadLength};
  const auto payload = convert_bits(decoded->data5, 5, 8, false);
  if (!payload) return Unexpected{Bech32Error::kBadPadding};
  std::array<std::uint8_t, 32> out{};
  std::copy(payload->begin(), payload->end(), out.begin());
  return out;
}

}  // namespace cheese
