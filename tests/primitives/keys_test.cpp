#include <catch2/catch.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "primitives/keys.hpp"
#include "test_util.hpp"

using namespace cheese;
using cheese::test::hex;

namespace {

template <std::size_t N>
std::array<std::uint8_t, N> hex_array(std::string_view s) {
  const Bytes b = hex(s);
  REQUIRE(b.size() == N);
  std::array<std::uint8_t, N> out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

struct Rfc8032Vector {
  const char* name;
  const char* secret_key;  // the 32-byte seed
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032, section 7.1 "Test Vectors for Ed25519", TEST 1, TEST 2 and TEST 3.
const std::vector<Rfc8032Vector> kRfc8032 = {
    {"TEST 1",
     "9d61b19deffd5a60ba844af492ec2cc4"
     "4449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a"
     "0ee172f3daa62325af021a68f707511a",
     "",
     "e5564300c360ac729086e2cc806e828a"
     "84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46b"
     "d25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2",
     "4ccd089b28ff96da9db6c346ec114e0f"
     "5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc"
     "9c982ccf2ec4968cc0cd55f12af4660c",
     "72",
     "92a009a9f0d4cab8720e820b5f642540"
     "a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c"
     "387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3",
     "c5aa8df43f9f837bedb7442f31dcb7b1"
     "66d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f058"
     "0816ed13ba3303ac5deb911548908025",
     "af82",
     "6291d657deec24024827e69c3abe01a3"
     "0ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc659"
     "4a7c15e9716ed28dc027beceea1ec40a"},
};

}  // namespace

TEST_CASE("RFC 8032 Ed25519 vectors", "[primitives][keys]") {
  for (const auto& v : kRfc8032) {
    INFO(v.name);
    const auto seed = hex_array<32>(v.secret_key);
    const auto expected_pk = hex_array<32>(v.public_key);
    const Bytes message = hex(v.message);
    const auto expected_sig = hex_array<64>(v.signature);

    const SecretKey key = SecretKey::from_seed(seed);
    CHECK(key.seed() == seed);
    CHECK(key.public_key() == expected_pk);
    const Signature sig = key.sign(message);
    CHECK(to_hex(sig) == to_hex(expected_sig));
    CHECK(verify_signature(expected_pk, message, expected_sig));

    // One bit flipped anywhere in the message: a one-byte message is appended to when empty.
    Bytes changed_message = message;
    if (changed_message.empty()) {
      changed_message.push_back(0);
    } else {
      changed_message[0] ^= 0x01;
    }
    CHECK_FALSE(verify_signature(expected_pk, changed_message, expected_sig));
    if (!message.empty()) {
      Bytes last_bit = message;
      last_bit.back() ^= 0x80;
      CHECK_FALSE(verify_signature(expected_pk, last_bit, expected_sig));
    }

    // One bit flipped in R (first half) and in S (second half).
    Signature bad_r = expected_sig;
    bad_r[0] ^= 0x01;
    CHECK_FALSE(verify_signature(expected_pk, message, bad_r));
    Signature bad_s = expected_sig;
    bad_s[32] ^= 0x01;
    CHECK_FALSE(verify_signature(expected_pk, message, bad_s));
    Signature bad_s_high = expected_sig;
    bad_s_high[63] ^= 0x10;  // also makes S non-canonical (>= L)
    CHECK_FALSE(verify_signature(expected_pk, message, bad_s_high));

    // A different public key: the next vector's.
    const auto& other = kRfc8032[(static_cast<std::size_t>(&v - kRfc8032.data()) + 1) % kRfc8032.size()];
    CHECK_FALSE(verify_signature(hex_array<32>(other.public_key), message, expected_sig));
    // And one bit flipped in this public key.
    PublicKey bad_pk = expected_pk;
    bad_pk[0] ^= 0x01;
    CHECK_FALSE(verify_signature(bad_pk, message, expected_sig));
  }
}

TEST_CASE("generated keys sign and verify", "[primitives][keys]") {
  const SecretKey a = SecretKey::generate();
  const SecretKey b = SecretKey::generate();
  CHECK(a.public_key() != b.public_key());
  CHECK_FALSE(a.empty());

  const Bytes message = hex("00010203fffe");
  const Signature sig = a.sign(message);
  CHECK(verify_signature(a.public_key(), message, sig));
  CHECK_FALSE(verify_signature(b.public_key(), message, sig));
  // Ed25519 is deterministic.
  CHECK(a.sign(message) == sig);

  // The seed reproduces the key (wallet export and import).
  const SecretKey restored = SecretKey::from_seed(a.seed());
  CHECK(restored.public_key() == a.public_key());
  CHECK(restored.sign(message) == sig);
}

TEST_CASE("SecretKey is wiped on move and cloned explicitly", "[primitives][keys]") {
  static_assert(!std::is_copy_constructible_v<SecretKey>);
  static_assert(!std::is_copy_assignable_v<SecretKey>);
  static_assert(std::is_nothrow_move_constructible_v<SecretKey>);
  static_assert(std::is_nothrow_move_assignable_v<SecretKey>);

  const auto seed = hex_array<32>(kRfc8032[0].secret_key);
  const auto pk = hex_array<32>(kRfc8032[0].public_key);
  const std::array<std::uint8_t, 32> zeros{};

  SECTION("move construction") {
    SecretKey original = SecretKey::from_seed(seed);
    SecretKey moved{std::move(original)};
    // The moved-from object stays valid (only its bytes were wiped), so inspecting it is defined.
    CHECK(original.empty());                                    // NOLINT(bugprone-use-after-move)
    CHECK(original.seed() == zeros);                            // NOLINT(bugprone-use-after-move)
    CHECK(original.public_key() == zeros);                      // NOLINT(bugprone-use-after-move)
    CHECK_THROWS_AS(original.sign(Bytes{}), std::logic_error);  // NOLINT(bugprone-use-after-move)
    CHECK(moved.seed() == seed);
    CHECK(moved.public_key() == pk);
  }
  SECTION("move assignment") {
    SecretKey original = SecretKey::from_seed(seed);
    SecretKey target = SecretKey::generate();
    target = std::move(original);
    CHECK(original.empty());          // NOLINT(bugprone-use-after-move)
    CHECK(original.seed() == zeros);  // NOLINT(bugprone-use-after-move)
    CHECK(target.seed() == seed);
    CHECK(target.public_key() == pk);
  }
  SECTION("self move-assignment keeps the key") {
    SecretKey key = SecretKey::from_seed(seed);
    SecretKey& alias = key;
    key = std::move(alias);
    CHECK(key.seed() == seed);
  }
  SECTION("clone copies, and the original stays intact") {
    const SecretKey original = SecretKey::from_seed(seed);
    const SecretKey copy = original.clone();
    CHECK(copy.seed() == seed);
    CHECK(original.seed() == seed);
    CHECK(copy.sign(Bytes{}) == original.sign(Bytes{}));
  }
}

TEST_CASE("ensure_sodium is idempotent", "[primitives][keys]") {
  CHECK_NOTHROW(ensure_sodium());
  CHECK_NOTHROW(ensure_sodium());
}
