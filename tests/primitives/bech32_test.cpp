#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "primitives/bech32.hpp"
#include "test_util.hpp"

using namespace cheese;
using cheese::test::hex;

namespace Catch {
template <>
struct StringMaker<Bech32Error> {
  static std::string convert(Bech32Error e) { return std::string{to_string(e)}; }
};
}  // namespace Catch

namespace {

std::string to_lower(std::string s) {
  for (auto& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string to_upper(std::string s) {
  for (auto& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

struct InvalidVector {
  std::string input;
  std::optional<Bech32Error> reason;  // nullopt where the BIP's reason has no single enum
};

//! A string starting with one raw byte (the BIPs write these as "0x20 + ...").
std::string with_byte(unsigned char b, std::string_view rest) {
  std::string s(1, static_cast<char>(b));
  s += rest;
  return s;
}

using Key32 = std::array<std::uint8_t, 32>;

Key32 random_key(std::mt19937& rng) {
  Key32 key{};
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : key) b = static_cast<std::uint8_t>(byte(rng));
  return key;
}

}  // namespace

// BIP-350, "Test vectors for Bech32m": valid strings.
TEST_CASE("BIP-350 valid bech32m strings decode and re-encode", "[primitives][bech32]") {
  const std::vector<std::string> vectors = {
      "A1LQFN3A",
      "a1lqfn3a",
      "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
      "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
      "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
      "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
      "?1v759aa",
  };
  for (const auto& s : vectors) {
    INFO(s);
    auto decoded = bech32_decode(s);
    REQUIRE(decoded.has_value());
    CHECK(decoded->encoding == Bech32Encoding::kBech32m);
    CHECK(bech32_encode(decoded->encoding, decoded->hrp, decoded->data5) == to_lower(s));
  }
}

// BIP-350, "Test vectors for Bech32m": invalid strings with the stated reasons.
TEST_CASE("BIP-350 invalid bech32m strings are rejected for the stated reason", "[primitives][bech32]") {
  const std::vector<InvalidVector> vectors = {
      {with_byte(0x20, "1xj0phk"), Bech32Error::kBadHrpCharacter},
      {with_byte(0x7f, "1g6xzxy"), Bech32Error::kBadHrpCharacter},
      {with_byte(0x80, "1vctc34"), Bech32Error::kBadHrpCharacter},
      {"an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
       Bech32Error::kTooLong},
      {"qyrz8wqd2c9m", Bech32Error::kNoSeparator},
      {"1qyrz8wqd2c9m", Bech32Error::kEmptyHrp},
      {"y1b0jsk6g", Bech32Error::kInvalidCharacter},
      {"lt1igcx5c0", Bech32Error::kInvalidCharacter},
      {"in1muywd", Bech32Error::kTooShortChecksum},
      {"mm1crxm3i", Bech32Error::kInvalidCharacter},  // invalid character in checksum
      {"au1s5cgom", Bech32Error::kInvalidCharacter},  // invalid character in checksum
      {"M1VUXWEZ", Bech32Error::kBadChecksum},        // checksum calculated with uppercase form of HRP
      {"16plkw9", Bech32Error::kEmptyHrp},
      {"1p2gdwpf", Bech32Error::kEmptyHrp},
  };
  for (const auto& v : vectors) {
    INFO(v.input);
    auto decoded = bech32_decode(v.input);
    REQUIRE_FALSE(decoded.has_value());
    if (v.reason) CHECK(decoded.error() == *v.reason);
  }
}

// BIP-173, "Test vectors": valid strings are bech32, not bech32m.
TEST_CASE("BIP-173 valid bech32 strings decode as bech32", "[primitives][bech32]") {
  const std::vector<std::string> vectors = {
      "A12UEL5L",
      "a12uel5l",
      "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
      "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
      "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
      "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
      "?1ezyfcl",
  };
  for (const auto& s : vectors) {
    INFO(s);
    auto decoded = bech32_decode(s);
    REQUIRE(decoded.has_value());
    CHECK(decoded->encoding == Bech32Encoding::kBech32);
    CHECK(bech32_encode(Bech32Encoding::kBech32, decoded->hrp, decoded->data5) == to_lower(s));
    // The same string is never valid bech32m, so an address decoder refuses it.
    auto address = decode_address(decoded->hrp, s);
    REQUIRE_FALSE(address.has_value());
    CHECK(address.error() == Bech32Error::kWrongEncoding);
  }
}

// BIP-173, "Test vectors": invalid strings with the stated reasons.
TEST_CASE("BIP-173 invalid bech32 strings are rejected for the stated reason", "[primitives][bech32]") {
  std::string bad_checksum_char = "de1lg7wt";
  bad_checksum_char.push_back(static_cast<char>(0xff));
  const std::vector<InvalidVector> vectors = {
      {with_byte(0x20, "1nwldj5"), Bech32Error::kBadHrpCharacter},
      {with_byte(0x7f, "1axkwrx"), Bech32Error::kBadHrpCharacter},
      {with_byte(0x80, "1eym55h"), Bech32Error::kBadHrpCharacter},
      {"an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
       Bech32Error::kTooLong},
      {"pzry9x0s0muk", Bech32Error::kNoSeparator},
      {"1pzry9x0s0muk", Bech32Error::kEmptyHrp},
      {"x1b4n0q5v", Bech32Error::kInvalidCharacter},
      {"li1dgmt3", Bech32Error::kTooShortChecksum},
      {bad_checksum_char, Bech32Error::kInvalidCharacter},
      {"A1G7SGD8", Bech32Error::kBadChecksum},
      {"10a06t8", Bech32Error::kEmptyHrp},
      {"1qzzfhee", Bech32Error::kEmptyHrp},
  };
  for (const auto& v : vectors) {
    INFO(v.input);
    auto decoded = bech32_decode(v.input);
    REQUIRE_FALSE(decoded.has_value());
    if (v.reason) CHECK(decoded.error() == *v.reason);
  }
}

// BIP-350, "Test vectors for v0-v16 native segregated witness addresses": exercises
// convert_bits on real programs (witness version, then the program regrouped 5-to-8).
TEST_CASE("BIP-350 segwit vectors regroup to their scriptPubKey", "[primitives][bech32]") {
  struct Valid {
    std::string address;
    std::string script_hex;
  };
  const std::vector<Valid> vectors = {
      {"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"},
      {"tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
       "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"},
      {"bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
       "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6"},
      {"BC1SW50QGDZ25J", "6002751e"},
      {"bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"},
      {"tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
       "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"},
      {"tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
       "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"},
      {"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
       "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"},
  };
  for (const auto& v : vectors) {
    INFO(v.address);
    auto decoded = bech32_decode(v.address);
    REQUIRE(decoded.has_value());
    REQUIRE_FALSE(decoded->data5.empty());
    const std::uint8_t version = decoded->data5[0];
    CHECK(decoded->encoding == (version == 0 ? Bech32Encoding::kBech32 : Bech32Encoding::kBech32m));
    const ByteSpan program5 = ByteSpan{decoded->data5}.subspan(1);
    auto program = convert_bits(program5, 5, 8, false);
    REQUIRE(program.has_value());
    const Bytes script = hex(v.script_hex);
    CHECK(script[0] == (version == 0 ? 0 : 0x50 + version));
    CHECK(script[1] == program->size());
    CHECK(Bytes(script.begin() + 2, script.end()) == *program);
    // And back: 8-to-5 with padding gives the same groups.
    CHECK(convert_bits(*program, 8, 5, true) == Bytes(program5.begin(), program5.end()));
  }

  // Invalid padding vectors: the checksum is fine, the regrouping is not.
  for (const char* address :
       {"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",   // > 4 bits of zeros
        "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j"}) {  // non-zero padding
    INFO(address);
    auto decoded = bech32_decode(address);
    REQUIRE(decoded.has_value());
    CHECK_FALSE(convert_bits(ByteSpan{decoded->data5}.subspan(1), 5, 8, false).has_value());
  }
  // Bech32 where bech32m is required and the reverse: decodes, but with the other encoding.
  auto v1_as_bech32 = bech32_decode("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd");
  REQUIRE(v1_as_bech32.has_value());
  CHECK(v1_as_bech32->encoding == Bech32Encoding::kBech32);
  auto v0_as_bech32m = bech32_decode("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh");
  REQUIRE(v0_as_bech32m.has_value());
  CHECK(v0_as_bech32m->encoding == Bech32Encoding::kBech32m);
  // Mixed case (BIP-350 invalid segwit list).
  auto mixed = bech32_decode("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq");
  REQUIRE_FALSE(mixed.has_value());
  CHECK(mixed.error() == Bech32Error::kMixedCase);
  // Invalid character in checksum.
  auto bad_char = bech32_decode("bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4");
  REQUIRE_FALSE(bad_char.has_value());
  CHECK(bad_char.error() == Bech32Error::kInvalidCharacter);
}

TEST_CASE("convert_bits regroups and checks padding", "[primitives][bech32]") {
  CHECK(convert_bits(Bytes{}, 8, 5, true) == Bytes{});
  CHECK(convert_bits(Bytes{0xff}, 8, 5, true) == Bytes{31, 28});
  CHECK(convert_bits(Bytes{31, 28}, 5, 8, false) == Bytes{0xff});
  CHECK_FALSE(convert_bits(Bytes{31, 29}, 5, 8, false).has_value());     // non-zero padding
  CHECK_FALSE(convert_bits(Bytes{31, 28, 0}, 5, 8, false).has_value());  // 7 bits of padding
  CHECK_FALSE(convert_bits(Bytes{32}, 5, 8, true).has_value());          // value above 5 bits
  CHECK(convert_bits(Bytes{1, 2, 3, 4, 5}, 8, 5, true) == Bytes{0, 4, 1, 0, 6, 1, 0, 5});
  CHECK_THROWS_AS(convert_bits(Bytes{1}, 0, 5, true), std::invalid_argument);
  CHECK_THROWS_AS(convert_bits(Bytes{1}, 8, 9, true), std::invalid_argument);
}

TEST_CASE("bech32_encode rejects programming errors", "[primitives][bech32]") {
  const Bytes ok{0, 1, 2};
  CHECK_THROWS_AS(bech32_encode(Bech32Encoding::kBech32m, "", ok), std::invalid_argument);
  CHECK_THROWS_AS(bech32_encode(Bech32Encoding::kBech32m, "a b", ok), std::invalid_argument);
  CHECK_THROWS_AS(bech32_encode(Bech32Encoding::kBech32m, "a", Bytes{32}), std::invalid_argument);
  CHECK_THROWS_AS(bech32_encode(Bech32Encoding::kBech32m, "a", Bytes(83, 0)), std::invalid_argument);
  CHECK(bech32_encode(Bech32Encoding::kBech32m, "a", Bytes(82, 0)).size() == 90);
  CHECK(bech32_encode(Bech32Encoding::kBech32m, "A", Bytes{}) == "a1lqfn3a");
}

TEST_CASE("addresses round-trip for random keys", "[primitives][bech32]") {
  std::mt19937 rng(350);
  for (int i = 0; i < 200; ++i) {
    const auto key = random_key(rng);
    for (auto hrp : {kAddressHrpMain, kAddressHrpTest, kAddressHrpRegtest}) {
      const std::string address = encode_address(hrp, key);
      INFO(address);
      CHECK(address.size() == hrp.size() + 1 + 52 + 6);
      CHECK(address.substr(0, hrp.size() + 1) == std::string{hrp} + "1");
      auto decoded = decode_address(hrp, address);
      REQUIRE(decoded.has_value());
      CHECK(*decoded == key);
    }
  }
  CHECK(encode_address("chz", Key32{}).size() == 62);
}

TEST_CASE("address typos are caught by the checksum", "[primitives][bech32]") {
  std::mt19937 rng(173);
  const auto key = random_key(rng);
  const std::string address = encode_address(kAddressHrpMain, key);
  constexpr std::string_view kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

  // Every single-character substitution after the separator, with every other alphabet letter.
  for (std::size_t pos = kAddressHrpMain.size() + 1; pos < address.size(); ++pos) {
    for (char c : kCharset) {
      if (c == address[pos]) continue;
      std::string typo = address;
      typo[pos] = c;
      auto decoded = decode_address(kAddressHrpMain, typo);
      REQUIRE_FALSE(decoded.has_value());
      REQUIRE(decoded.error() == Bech32Error::kBadChecksum);
    }
  }
  // Adjacent transpositions.
  for (std::size_t pos = kAddressHrpMain.size() + 1; pos + 1 < address.size(); ++pos) {
    if (address[pos] == address[pos + 1]) continue;
    std::string typo = address;
    std::swap(typo[pos], typo[pos + 1]);
    auto decoded = decode_address(kAddressHrpMain, typo);
    REQUIRE_FALSE(decoded.has_value());
    REQUIRE(decoded.error() == Bech32Error::kBadChecksum);
  }
  // A typo in the human-readable part is covered by the checksum too.
  std::string hrp_typo = address;
  hrp_typo[1] = 'x';
  auto decoded = decode_address(kAddressHrpMain, hrp_typo);
  REQUIRE_FALSE(decoded.has_value());
  CHECK(decoded.error() == Bech32Error::kBadChecksum);
  // A character outside the alphabet.
  std::string bad_char = address;
  bad_char[10] = 'b';
  decoded = decode_address(kAddressHrpMain, bad_char);
  REQUIRE_FALSE(decoded.has_value());
  CHECK(decoded.error() == Bech32Error::kInvalidCharacter);
}

TEST_CASE("addresses of another network or form are rejected", "[primitives][bech32]") {
  std::mt19937 rng(8433);
  const auto key = random_key(rng);

  SECTION("regtest address where main is expected") {
    auto decoded = decode_address(kAddressHrpMain, encode_address(kAddressHrpRegtest, key));
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error() == Bech32Error::kWrongHrp);
  }
  SECTION("whole address in upper case is accepted") {
    const std::string upper = to_upper(encode_address(kAddressHrpMain, key));
    auto decoded = decode_address(kAddressHrpMain, upper);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == key);
  }
  SECTION("mixed case is rejected") {
    std::string mixed = encode_address(kAddressHrpMain, key);
    mixed[0] = 'C';
    auto decoded = decode_address(kAddressHrpMain, mixed);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error() == Bech32Error::kMixedCase);
  }
  SECTION("bech32 (not bech32m) of the same data is rejected") {
    const auto data5 = convert_bits(key, 8, 5, true);
    const std::string bech32 = bech32_encode(Bech32Encoding::kBech32, kAddressHrpMain, *data5);
    auto decoded = decode_address(kAddressHrpMain, bech32);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error() == Bech32Error::kWrongEncoding);
  }
  SECTION("wrong payload length") {
    Bytes short_key(key.begin(), key.end() - 1);
    const auto data5 = convert_bits(short_key, 8, 5, true);
    auto decoded = decode_address(kAddressHrpMain, bech32_encode(Bech32Encoding::kBech32m, kAddressHrpMain, *data5));
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error() == Bech32Error::kBadLength);

    Bytes long_key(key.begin(), key.end());
    long_key.push_back(7);
    const auto data5_long = convert_bits(long_key, 8, 5, true);
    decoded = decode_address(kAddressHrpMain, bech32_encode(Bech32Encoding::kBech32m, kAddressHrpMain, *data5_long));
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error() == Bech32Error::kBadLength);
  }
  SECTION("non-zero padding bits") {
    auto data5 = *convert_bits(key, 8, 5, true);
    data5.back() |= 1;  // the last group carries 1 payload bit and 4 padding bits
    auto decoded = decode_address(kAddressHrpMain, bech32_encode(Bech32Encoding::kBech32m, kAddressHrpMain, data5));
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error() == Bech32Error::kBadPadding);
  }
  SECTION("errors have names") {
    CHECK(to_string(Bech32Error::kBadChecksum) == "bad-checksum");
    CHECK(to_string(Bech32Error::kWrongHrp) == "wrong-hrp");
  }
}
