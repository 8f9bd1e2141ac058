#include "primitives/uint256.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

#include "test_util.hpp"

using namespace cheese;

namespace {

U256 h(std::string_view s) {
  auto v = U256::from_hex(s);
  if (!v) FAIL("bad U256 hex literal in test: " << s);
  return *v;
}

const U256 kMax = ~U256{};

}  // namespace

TEST_CASE("U256 hex round-trips and rejects malformed input", "[primitives][uint256]") {
  CHECK(U256{}.to_hex() == std::string(64, '0'));
  CHECK(kMax.to_hex() == std::string(64, 'f'));
  CHECK(U256{0x0123456789abcdefULL}.to_hex() == "0000000000000000000000000000000000000000000000000123456789abcdef");
  const std::string s = "00000000ffff0000000000000000000000000000000000000000000000000000";
  CHECK(h(s).to_hex() == s);
  CHECK(h("00000000FFFF0000000000000000000000000000000000000000000000000000") == h(s));
  CHECK(h("1") == U256{1});
  CHECK(h("100010001") == U256{0x100010001ULL});
  CHECK_FALSE(U256::from_hex(""));
  CHECK_FALSE(U256::from_hex("0x12"));
  CHECK_FALSE(U256::from_hex("12 3"));
  CHECK_FALSE(U256::from_hex(std::string(65, '0')));
  CHECK(U256::from_hex(std::string(64, 'F')) == kMax);
}

TEST_CASE("U256 from_hash/to_hash are little-endian", "[primitives][uint256]") {
  Hash256 hash;
  for (std::size_t i = 0; i < 32; ++i) hash.bytes[i] = static_cast<std::uint8_t>(i + 1);
  const U256 v = U256::from_hash(hash);
  CHECK(v.to_hex() == "201f1e1d1c1b1a191817161514131211100f0e0d0c0b0a090807060504030201");
  CHECK(v.low64() == 0x0807060504030201ULL);
  CHECK(v.to_hash() == hash);
  // Display hex is byte-reversed, so it reads as the big-endian number.
  const auto genesis = Hash256::from_display_hex("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
  REQUIRE(genesis);
  CHECK(U256::from_hash(*genesis).to_hex() == "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
  Hash256 one;
  one.bytes[0] = 1;
  CHECK(U256::from_hash(one) == U256{1});
  CHECK(U256{1}.to_hash() == one);
}

TEST_CASE("U256 bits, low64, comparisons", "[primitives][uint256]") {
  CHECK(U256{}.bits() == 0);
  CHECK(U256{}.is_zero());
  CHECK_FALSE(U256{1}.is_zero());
  CHECK(U256{1}.bits() == 1);
  CHECK(U256{0x80000000ULL}.bits() == 32);
  CHECK(U256{0x100000000ULL}.bits() == 33);
  CHECK((U256{1} << 255).bits() == 256);
  CHECK(kMax.bits() == 256);
  CHECK(h("ffffffffffffffffffffffffffffffff").low64() == ~std::uint64_t{0});

  CHECK(U256{1} < U256{2});
  CHECK((U256{1} << 64) > U256{~std::uint64_t{0}});
  CHECK((U256{1} << 255) > (kMax >> 1));
  CHECK((kMax >> 1) < (U256{1} << 255));
  CHECK(U256{5} == 5);
  CHECK(U256{5} != 6);
  CHECK(U256{5} <= U256{5});
  CHECK((U256{5} <=> U256{7}) == std::strong_ordering::less);
  // The most significant limb decides, not the first one in memory.
  CHECK(h("1000000000000000000000000000000000000000000000000000000000000000") >
        h("0fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"));
  CHECK(h("100000000000000000000000000000000") > h("ffffffffffffffffffffffffffffffff"));
}

TEST_CASE("U256 addition and subtraction carry and wrap", "[primitives][uint256]") {
  CHECK(U256{0xffffffffULL} + 1 == U256{0x100000000ULL});
  CHECK(U256{~std::uint64_t{0}} + 1 == U256{1} << 64);
  CHECK(kMax + 1 == U256{});  // wraps modulo 2^256
  CHECK(U256{} - 1 == kMax);
  CHECK((U256{1} << 128) - 1 == h("ffffffffffffffffffffffffffffffff"));
  const U256 a = h("123456789abcdef0fedcba98765432100f1e2d3c4b5a69788796a5b4c3d2e1f0");
  const U256 b = h("0fedcba987654321123456789abcdef0ffeeddccbbaa99887766554433221100");
  CHECK(a + b - b == a);
  CHECK(a - b + b == a);
  CHECK(a + b == b + a);
  CHECK(a - a == U256{});
  CHECK(a + ~a == kMax);
  CHECK(~a + 1 == U256{} - a);  // two's complement
  U256 c = a;
  c += b;
  c -= a;
  CHECK(c == b);
}

TEST_CASE("U256 multiplication", "[primitives][uint256]") {
  CHECK(U256{0xffffffffffffffffULL} * U256{0xffffffffffffffffULL} == h("fffffffffffffffe0000000000000001"));
  CHECK((U256{1} << 128) * (U256{1} << 127) == U256{1} << 255);
  CHECK((U256{1} << 128) * (U256{1} << 128) == U256{});  // wraps
  CHECK(kMax * kMax == U256{1});                         // (-1)^2 mod 2^256
  CHECK(kMax * 2 == kMax - 1);
  const U256 a = h("123456789abcdef0fedcba98765432100f1e2d3c4b5a6978");
  const U256 b = h("0fedcba987654321123456789abcdef0");
  CHECK(a * b == b * a);
  CHECK(a * (b + 3) == a * b + a * 3);
  CHECK(a * 1 == a);
  CHECK(a * 0 == U256{});
  // 0x1d00ffff target times the largest ASERT factor.
  CHECK(h("ffff0000000000000000000000000000000000000000000000000000") * 131071 ==
        h("1fffd00010000000000000000000000000000000000000000000000000000"));
  U256 c = a;
  c *= 10;
  CHECK(c == a * 10);
}

TEST_CASE("U256 shifts across limb boundaries", "[primitives][uint256]") {
  const U256 one{1};
  for (unsigned s = 0; s < 256; ++s) {
    const U256 v = one << s;
    CHECK(v.bits() == s + 1);
    CHECK((v >> s) == one);
  }
  CHECK((one << 256) == U256{});
  CHECK((kMax >> 256) == U256{});
  CHECK((kMax << 1000) == U256{});
  CHECK((kMax << 0) == kMax);
  CHECK((kMax >> 0) == kMax);
  CHECK((U256{0xffffffffffffffffULL} << 4) == h("ffffffffffffffff0"));
  CHECK((U256{0xffffffffffffffffULL} << 32) == h("ffffffffffffffff00000000"));
  CHECK((U256{0xffffffffffffffffULL} << 36) == h("ffffffffffffffff000000000"));
  CHECK((U256{0xffffffffffffffffULL} << 60) == h("ffffffffffffffff000000000000000"));
  CHECK((U256{0xffffffffffffffffULL} << 220) ==
        h("fffffffff0000000000000000000000000000000000000000000000000000000"));
  CHECK((h("fffffffff0000000000000000000000000000000000000000000000000000000") >> 220) == U256{0xfffffffffULL});
  CHECK((kMax >> 255) == one);
  CHECK((kMax >> 33) == h("7fffffffffffffffffffffffffffffffffffffffffffffffffffffff"));
  CHECK((kMax << 33) == h("fffffffffffffffffffffffffffffffffffffffffffffffffffffffe00000000"));
  const U256 a = h("123456789abcdef0fedcba98765432100f1e2d3c4b5a69788796a5b4c3d2e1f0");
  CHECK((a << 4) == h("23456789abcdef0fedcba98765432100f1e2d3c4b5a69788796a5b4c3d2e1f00"));
  CHECK((a >> 4) == h("0123456789abcdef0fedcba98765432100f1e2d3c4b5a69788796a5b4c3d2e1f"));
  CHECK((a >> 68) == h("123456789abcdef0fedcba98765432100f1e2d3c4b5a697"));
  CHECK(((a >> 100) << 100) == (a & ~((one << 100) - 1)));
  U256 c = a;
  c <<= 8;
  c >>= 8;
  CHECK(c == (a & (kMax >> 8)));
}

TEST_CASE("U256 bitwise operators", "[primitives][uint256]") {
  const U256 a = h("ff00ff00");
  const U256 b = h("0ff00ff0");
  CHECK((a & b) == h("0f000f00"));
  CHECK((a | b) == h("fff0fff0"));
  CHECK((a ^ b) == h("f0f0f0f0"));
  CHECK((~U256{}) == kMax);
}

TEST_CASE("U256 division and modulo", "[primitives][uint256]") {
  CHECK(U256{100} / 7 == U256{14});
  CHECK(U256{100} % 7 == U256{2});
  CHECK(U256{6} / 7 == U256{});
  CHECK(U256{6} % 7 == U256{6});
  CHECK(kMax / 1 == kMax);
  CHECK(kMax % 1 == U256{});
  CHECK(kMax / kMax == U256{1});
  CHECK(kMax / 2 == kMax >> 1);
  CHECK((U256{1} << 200) / (U256{1} << 100) == U256{1} << 100);
  CHECK(kMax / 3 == h("5555555555555555555555555555555555555555555555555555555555555555"));
  CHECK(kMax % 3 == U256{});
  CHECK(kMax % 10 == U256{5});  // 2^256 - 1 = ...639935
  CHECK(kMax / 10 == h("1999999999999999999999999999999999999999999999999999999999999999"));
  CHECK(kMax / h("100000000000000000000000000000000") == h("ffffffffffffffffffffffffffffffff"));
  // Bitcoin's genesis chainwork: 2^256 / (target + 1) for nBits 0x1d00ffff.
  const U256 pow_limit = h("00000000ffff0000000000000000000000000000000000000000000000000000");
  CHECK(~pow_limit / (pow_limit + 1) + 1 == U256{0x100010001ULL});

  const U256 a = h("123456789abcdef0fedcba98765432100f1e2d3c4b5a69788796a5b4c3d2e1f0");
  const U256 b = h("fedcba9876543210123456789");
  const U256 q = a / b;
  const U256 r = a % b;
  CHECK(r < b);
  CHECK(q * b + r == a);
  CHECK((q * b) / b == q);
  CHECK(a / a == U256{1});
  CHECK(a % a == U256{});
  CHECK(b / a == U256{});
  CHECK(b % a == b);
  U256 c = a;
  c /= b;
  CHECK(c == q);
  c = a;
  c %= b;
  CHECK(c == r);

  CHECK_THROWS_AS(a / U256{}, std::domain_error);
  CHECK_THROWS_AS(a % U256{}, std::domain_error);
  CHECK_THROWS_AS(a / 0, std::domain_error);
}

TEST_CASE("U256 basic operations are usable at compile time", "[primitives][uint256]") {
  constexpr U256 v = (U256{0xffff} << 208) + 1;
  static_assert(v.bits() == 224);
  static_assert((v >> 208).low64() == 0xffff);
  static_assert(v * 2 > v);
  CHECK(v.to_hex() == "00000000ffff0000000000000000000000000000000000000000000000000001");
}
