// bech32_decode / decode_address over arbitrary strings. Properties: a decoded string is at
// most 90 characters, not mixed case, and re-encodes (same encoding, hrp and data) to exactly
// the lower-cased input; decode_address succeeds for at most one hrp and then encode_address
// gives the lower-cased input back; and in the other direction the input bytes, encoded as
// data or as a key, decode back unchanged.

#include <algorithm>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "primitives/bech32.hpp"

using namespace cheese;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view s = fuzz::input_string(data, size);

  auto decoded = bech32_decode(s);
  if (decoded) {
    FUZZ_CHECK(s.size() <= kBech32MaxLength);
    FUZZ_CHECK(s == lower(s) || s == upper(s));  // never mixed case
    FUZZ_CHECK(std::all_of(decoded->data5.begin(), decoded->data5.end(), [](auto v) { return v < 32; }));
    FUZZ_CHECK(bech32_encode(decoded->encoding, decoded->hrp, decoded->data5) == lower(s));
  }

  int addresses = 0;
  for (const auto hrp : {kAddressHrpMain, kAddressHrpTest, kAddressHrpRegtest}) {
    auto key = decode_address(hrp, s);
    if (!key) {
      FUZZ_CHECK(decoded || key.error() == decoded.error());
      continue;
    }
    ++addresses;
    FUZZ_CHECK(decoded && decoded->encoding == Bech32Encoding::kBech32m && decoded->hrp == hrp);
    FUZZ_CHECK(encode_address(hrp, *key) == lower(s));
  }
  FUZZ_CHECK(addresses <= 1);

  // The other direction: the input as 5-bit data under a fixed hrp (as much as fits).
  Bytes data5(data, data + std::min<std::size_t>(size, kBech32MaxLength - 5 - 6));
  for (auto& v : data5) v &= 31;
  for (const auto enc : {Bech32Encoding::kBech32, Bech32Encoding::kBech32m}) {
    const std::string encoded = bech32_encode(enc, "rchz", data5);
    auto back = bech32_decode(encoded);
    FUZZ_CHECK(back && back->encoding == enc && back->hrp == "rchz" && back->data5 == data5);
  }
  // ...and its first 32 bytes as a public key.
  std::array<std::uint8_t, 32> key{};
  std::copy_n(data, std::min<std::size_t>(size, key.size()), key.begin());
  auto key_back = decode_address(kAddressHrpTest, encode_address(kAddressHrpTest, key));
  FUZZ_CHECK(key_back && *key_back == key);

  // Regrouping 8 -> 5 -> 8 bits is lossless.
  const auto five = convert_bits(fuzz::input(data, size), 8, 5, true);
  FUZZ_CHECK(five.has_value());
  const auto eight = convert_bits(*five, 5, 8, false);
  FUZZ_CHECK(eight && std::equal(eight->begin(), eight->end(), data, data + size));
  return 0;
}
