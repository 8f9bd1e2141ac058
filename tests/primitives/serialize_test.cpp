#include <catch2/catch.hpp>

#include "primitives/serialize.hpp"
#include "test_util.hpp"

using namespace cheese;
using cheese::test::hex;

TEST_CASE("integers are little-endian and round-trip", "[primitives][serialize]") {
  Writer w;
  w.u8(0xab);
  w.u16(0x1234);
  w.u32(0xdeadbeef);
  w.u64(0x0102030405060708ULL);
  w.i64(-2);
  CHECK(to_hex(w.bytes()) == "ab3412efbeadde0807060504030201feffffffffffffff");
  Reader r(w.bytes());
  CHECK(r.u8() == 0xab);
  CHECK(r.u16() == 0x1234);
  CHECK(r.u32() == 0xdeadbeef);
  CHECK(r.u64() == 0x0102030405060708ULL);
  CHECK(r.i64() == -2);
  r.expect_end();
  CHECK(r.ok());
}

TEST_CASE("varints use Bitcoin's CompactSize and reject non-shortest forms", "[primitives][serialize]") {
  const std::pair<std::uint64_t, const char*> cases[] = {
      {0, "00"},
      {0xfc, "fc"},
      {0xfd, "fdfd00"},
      {0xffff, "fdffff"},
      {0x10000, "fe00000100"},
      {0xffffffff, "feffffffff"},
      {0x100000000ULL, "ff0000000001000000"},
  };
  for (auto [value, encoded] : cases) {
    Writer w;
    w.varint(value);
    CHECK(to_hex(w.bytes()) == encoded);
    CHECK(varint_size(value) == w.size());
    auto bytes = hex(encoded);
    Reader r(bytes);
    CHECK(r.varint() == value);
    CHECK(r.ok());
  }
  for (const char* non_canonical : {"fdfc00", "feffff0000", "ffffffffff00000000"}) {
    auto bytes = hex(non_canonical);
    Reader r(bytes);
    (void)r.varint();
    CHECK_FALSE(r.ok());
    CHECK(r.error() == DecodeError::kNonCanonical);
  }
}

TEST_CASE("truncated input is an error and never read past", "[primitives][serialize]") {
  const auto bytes = hex("010203");
  Reader r(bytes);
  CHECK(r.u32() == 0);
  CHECK_FALSE(r.ok());
  CHECK(r.error() == DecodeError::kTruncated);
  // The first error is sticky; later reads return zeros.
  CHECK(r.u8() == 0);
  CHECK(r.error() == DecodeError::kTruncated);
  CHECK(r.remaining() == 0);

  for (const char* truncated_varint : {"fd", "fd01", "fe010203", "ff01020304050607"}) {
    auto b = hex(truncated_varint);
    Reader rv(b);
    (void)rv.varint();
    CHECK(rv.error() == DecodeError::kTruncated);
  }
}

TEST_CASE("length prefixes are checked before allocating", "[primitives][serialize]") {
  SECTION("a length beyond the input is refused, whatever the limit") {
    // Claims 2^32-1 bytes follow; only 2 do.
    auto bytes = hex("feffffffff0102");
    Reader r(bytes);
    auto v = r.var_bytes(std::numeric_limits<std::size_t>::max());
    CHECK(v.empty());
    CHECK(r.error() == DecodeError::kOversized);
  }
  SECTION("a length above the field's maximum is refused") {
    Writer w;
    w.var_bytes(Bytes(11, 0x55));
    Reader r(w.bytes());
    (void)r.var_bytes(10);
    CHECK(r.error() == DecodeError::kOversized);
  }
  SECTION("an item count is bounded by what the remaining bytes could hold") {
    auto bytes = hex(
        "0a"
        "00112233445566778899");  // 10 items claimed, 10 bytes left
    Reader ok(bytes);
    CHECK(ok.count(100, 1) == 10);
    Reader too_many(bytes);
    CHECK(too_many.count(100, 2) == 0);  // items of >= 2 bytes cannot fit
    CHECK(too_many.error() == DecodeError::kOversized);
  }
  SECTION("round trip of bytes and strings") {
    Writer w;
    w.var_bytes(hex("deadbeef"));
    w.var_string("cheese");
    Reader r(w.bytes());
    CHECK(r.var_bytes(4) == hex("deadbeef"));
    CHECK(r.var_string(6) == "cheese");
    r.expect_end();
    CHECK(r.ok());
  }
}

TEST_CASE("trailing bytes after an object are an error", "[primitives][serialize]") {
  auto bytes = hex("0100000000");
  Reader r(bytes);
  CHECK(r.u32() == 1);
  r.expect_end();
  CHECK(r.error() == DecodeError::kTrailingData);
}

TEST_CASE("hex helpers round-trip and reject malformed hex", "[primitives][serialize]") {
  CHECK(to_hex(hex("00ff10Ab")) == "00ff10ab");
  CHECK_FALSE(from_hex("0").has_value());
  CHECK_FALSE(from_hex("zz").has_value());
  CHECK(from_hex("")->empty());
  auto h = Hash256::from_display_hex("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
  REQUIRE(h.has_value());
  CHECK(h->bytes[0] == 0x6f);
  CHECK(h->bytes[31] == 0x00);
  CHECK(h->to_display_hex() == "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
  CHECK_FALSE(Hash256::from_display_hex("00").has_value());
}
