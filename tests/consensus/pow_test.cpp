#include "consensus/pow.hpp"

#include <catch2/catch.hpp>
#include <cstdint>

#include "primitives/uint256.hpp"
#include "test_util.hpp"

using namespace cheese;

namespace {

U256 h(std::string_view s) {
  auto v = U256::from_hex(s);
  if (!v) FAIL("bad U256 hex literal in test: " << s);
  return *v;
}

Hash256 display_hash(std::string_view s) {
  auto v = Hash256::from_display_hex(s);
  if (!v) FAIL("bad display hash in test: " << s);
  return *v;
}

struct CompactCase {
  std::uint32_t bits;
  const char* target_hex;
  std::uint32_t reencoded;  // Bitcoin's GetCompact(negative) of the decoded value
  bool negative;
  bool overflow;
};

}  // namespace

TEST_CASE("compact bits decode and encode as Bitcoin's SetCompact/GetCompact", "[consensus][pow]") {
  // The cases of Bitcoin Core's arith_uint256_tests (bignum_SetCompact).
  const CompactCase cases[] = {
      {0x00000000, "0", 0, false, false},
      {0x00123456, "0", 0, false, false},
      {0x01003456, "0", 0, false, false},
      {0x02000056, "0", 0, false, false},
      {0x03000000, "0", 0, false, false},
      {0x04000000, "0", 0, false, false},
      {0x00923456, "0", 0, false, false},
      {0x01803456, "0", 0, false, false},
      {0x02800056, "0", 0, false, false},
      {0x03800000, "0", 0, false, false},
      {0x04800000, "0", 0, false, false},
      {0x01123456, "12", 0x01120000, false, false},
      {0x01fedcba, "7e", 0x01fe0000, true, false},
      {0x02123456, "1234", 0x02123400, false, false},
      {0x03123456, "123456", 0x03123456, false, false},
      {0x04123456, "12345600", 0x04123456, false, false},
      {0x04923456, "12345600", 0x04923456, true, false},
      {0x05009234, "92340000", 0x05009234, false, false},
      {0x20123456, "1234560000000000000000000000000000000000000000000000000000000000", 0x20123456, false, false},
  };
  for (const auto& c : cases) {
    INFO("bits 0x" << std::hex << c.bits);
    const CompactTarget t = decode_compact(c.bits);
    CHECK(t.target == h(c.target_hex));
    CHECK(t.negative == c.negative);
    CHECK(t.overflow == c.overflow);
    // encode_compact is the non-negative GetCompact; Bitcoin adds the sign bit for negatives.
    const std::uint32_t sign = c.negative ? 0x00800000u : 0u;
    CHECK((encode_compact(t.target) | sign) == c.reencoded);
  }

  const CompactTarget over = decode_compact(0xff123456);
  CHECK_FALSE(over.negative);
  CHECK(over.overflow);

  // The round trip of 0x01123456 lands on the canonical 0x01120000.
  CHECK(decode_compact(0x01120000).target == h("12"));
  CHECK(encode_compact(decode_compact(0x01120000).target) == 0x01120000u);
  // Never an encoding with the sign bit set.
  CHECK(encode_compact(U256{0x80}) == 0x02008000u);
  CHECK(encode_compact(U256{}) == 0u);
  CHECK(encode_compact(U256{1}) == 0x01010000u);
  CHECK(encode_compact(~U256{}) == 0x2100ffffu);
}

TEST_CASE("compact overflow boundaries", "[consensus][pow]") {
  CHECK_FALSE(decode_compact(0x2000ffff).overflow);  // size 32 with a 3-byte mantissa fits
  CHECK_FALSE(decode_compact(0x207fffff).overflow);
  CHECK_FALSE(decode_compact(0x2100ffff).overflow);  // 0xffff << 240
  CHECK(decode_compact(0x21010000).overflow);
  CHECK_FALSE(decode_compact(0x220000ff).overflow);  // 0xff << 248
  CHECK(decode_compact(0x22000100).overflow);
  CHECK(decode_compact(0x23000001).overflow);
  CHECK_FALSE(decode_compact(0x23000000).overflow);  // a zero mantissa never overflows
  CHECK(decode_compact(0x2100ffff).target == h("ffff") << 240);
}

TEST_CASE("canonical compact values round-trip", "[consensus][pow]") {
  for (std::uint32_t bits : {0x1d00ffffu, 0x1b0404cbu, 0x1a2b3c4du, 0x1802aee8u, 0x17469789u, 0x01010000u,
                             0x207fffffu, 0x03123456u, 0x05009234u}) {
    INFO("bits 0x" << std::hex << bits);
    const CompactTarget t = decode_compact(bits);
    CHECK_FALSE(t.negative);
    CHECK_FALSE(t.overflow);
    CHECK(encode_compact(t.target) == bits);
  }
  CHECK(decode_compact(0x1d00ffff).target == h("00000000ffff0000000000000000000000000000000000000000000000000000"));
  // Encoding truncates to three significant bytes.
  CHECK(encode_compact(h("00000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffff")) == 0x1d00ffffu);
}

TEST_CASE("Bitcoin's genesis block passes the proof-of-work check", "[consensus][pow]") {
  const U256 pow_limit = decode_compact(0x1d00ffff).target;
  const Hash256 genesis = display_hash("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
  CHECK(check_proof_of_work(genesis, 0x1d00ffff, pow_limit));

  // The hash's own three leading bytes as a target are just below it; one more is enough.
  CHECK_FALSE(check_proof_of_work(genesis, 0x1b19d668, pow_limit));
  CHECK(check_proof_of_work(genesis, 0x1b19d669, pow_limit));
  CHECK_FALSE(check_proof_of_work(genesis, 0x1a19d668, pow_limit));

  // A hash above the target fails; the target itself passes.
  const Hash256 above = display_hash("00000000ffff0000000000000000000000000000000000000000000000000001");
  CHECK_FALSE(check_proof_of_work(above, 0x1d00ffff, pow_limit));
  CHECK(check_proof_of_work(pow_limit.to_hash(), 0x1d00ffff, pow_limit));
  Hash256 flipped = genesis;
  flipped.bytes[31] = 0x01;  // the most significant byte
  CHECK_FALSE(check_proof_of_work(flipped, 0x1d00ffff, pow_limit));

  // Bits easier than the limit, negative, overflowing or zero fail even for a zero hash.
  const Hash256 zero{};
  CHECK(check_proof_of_work(zero, 0x1d00ffff, pow_limit));
  CHECK_FALSE(check_proof_of_work(zero, 0x1d010000, pow_limit));
  CHECK_FALSE(check_proof_of_work(zero, 0x207fffff, pow_limit));
  CHECK_FALSE(check_proof_of_work(zero, 0x1d80ffff, pow_limit));  // negative
  CHECK_FALSE(check_proof_of_work(zero, 0x04923456, pow_limit));  // negative
  CHECK_FALSE(check_proof_of_work(zero, 0xff123456, pow_limit));  // overflow
  CHECK_FALSE(check_proof_of_work(zero, 0x00000000, pow_limit));  // zero target
  CHECK_FALSE(check_proof_of_work(zero, 0x01003456, pow_limit));  // zero target
}

TEST_CASE("block work is 2^256 / (target + 1)", "[consensus][pow]") {
  CHECK(block_work(0x1d00ffff) == U256{0x100010001ULL});  // Bitcoin's genesis chainwork
  CHECK(block_work(0x207fffff) == U256{2});               // regtest-style limit: 2^256 / ~2^255
  CHECK(block_work(0x01010000) == (U256{1} << 255));      // target 1: 2^256 / 2
  CHECK(block_work(0x2100ffff) == U256{1});               // 2^16 / 0xffff, rounded down
  // A harder target is more work.
  CHECK(block_work(0x1b0404cb) > block_work(0x1d00ffff));
  CHECK(block_work(0x1b0404cb) == h("3fb3ab764c00"));
  // Invalid bits carry no work.
  CHECK(block_work(0x00000000) == U256{});
  CHECK(block_work(0x01003456) == U256{});
  CHECK(block_work(0x04923456) == U256{});
  CHECK(block_work(0xff123456) == U256{});
}
