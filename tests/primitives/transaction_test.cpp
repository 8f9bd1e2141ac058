#include "primitives/transaction.hpp"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "primitives/amount.hpp"
#include "primitives/keys.hpp"
#include "primitives/serialize.hpp"
#include "primitives/sha256.hpp"
#include "test_util.hpp"

using namespace cheese;
using cheese::test::hex;

namespace {

// The primitives layer does not link consensus (chain_params); these are the values
// libcheese/consensus/params.cpp gives main and regtest. tests/consensus/validation_test.cpp
// repeats the cross-network check with chain_params() itself.
constexpr NetworkMagic kMainMagic = {0xc8, 0xe3, 0x5e, 0xd1};
constexpr NetworkMagic kRegtestMagic = {0xfa, 0xce, 0xc4, 0xee};

SecretKey key_from_byte(std::uint8_t b) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(b);
  return SecretKey::from_seed(seed);
}

template <std::size_t N>
std::array<std::uint8_t, N> filled(std::uint8_t b) {
  std::array<std::uint8_t, N> a{};
  a.fill(b);
  return a;
}

//! A transfer whose every field is distinguishable in the encoding (not validly signed).
Transaction sample_transfer() {
  Transaction tx;
  tx.kind = TxKind::kTransfer;
  tx.sender = filled<32>(0x11);
  tx.recipient = filled<32>(0x22);
  tx.amount = 0x0102030405060708ULL;
  tx.fee = 0x1112131415161718ULL;
  tx.nonce = 0x2122232425262728ULL;
  tx.signature = filled<64>(0x33);
  return tx;
}

Transaction sample_coinbase(std::size_t extra_len = 5) {
  Bytes extra(extra_len);
  for (std::size_t i = 0; i < extra_len; ++i) extra[i] = static_cast<std::uint8_t>(0xa0 + i);
  return make_coinbase(filled<32>(0x44), 0x0a0b0c0d0e0f1011ULL, 0x3132333435363738ULL, extra);
}

Transaction signed_transfer(const NetworkMagic& magic = kRegtestMagic) {
  const SecretKey key = key_from_byte(7);
  Transaction tx;
  tx.recipient = key_from_byte(8).public_key();
  tx.amount = 5 * kCoin;
  tx.fee = 1000;
  tx.nonce = 3;
  sign_transaction(tx, key, magic);
  return tx;
}

Bytes slice(const Bytes& b, std::size_t from, std::size_t len) {
  REQUIRE(from + len <= b.size());
  return Bytes(b.begin() + static_cast<std::ptrdiff_t>(from), b.begin() + static_cast<std::ptrdiff_t>(from + len));
}

}  // namespace

// ---- serialization ----

TEST_CASE("a transfer round-trips through its serialization", "[primitives][transaction]") {
  for (const Transaction& tx : {sample_transfer(), signed_transfer(), Transaction{}}) {
    const Bytes bytes = serialize(tx);
    CHECK(bytes.size() == kTransferSize);
    CHECK(serialized_size(tx) == bytes.size());
    auto decoded = decode_transaction(bytes);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == tx);
    CHECK(serialize(*decoded) == bytes);
  }
}

TEST_CASE("a coinbase round-trips through its serialization", "[primitives][transaction]") {
  for (std::size_t len : {std::size_t{0}, std::size_t{1}, std::size_t{5}, kMaxCoinbaseExtra}) {
    INFO("extra length " << len);
    const Transaction tx = sample_coinbase(len);
    const Bytes bytes = serialize(tx);
    CHECK(bytes.size() == serialized_size(tx));
    auto decoded = decode_transaction(bytes);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == tx);
    CHECK(decoded->is_coinbase());
    CHECK(serialize(*decoded) == bytes);
  }
}

TEST_CASE("serialized sizes: transfer 153 bytes, coinbase 1+32+8+8+varint+extra", "[primitives][transaction]") {
  STATIC_REQUIRE(kTransferSize == 153);
  STATIC_REQUIRE(kMinCoinbaseSize == 50);
  CHECK(serialize(sample_transfer()).size() == 153);
  CHECK(serialized_size(sample_transfer()) == 153);
  // The varint length prefix is one byte up to 252, three bytes from 253 (beyond the consensus
  // limit of 100, but serialized_size must still agree with serialize).
  for (std::size_t len : {std::size_t{0}, std::size_t{1}, std::size_t{99}, std::size_t{100}, std::size_t{252},
                          std::size_t{253}, std::size_t{300}}) {
    INFO("extra length " << len);
    const Transaction cb = sample_coinbase(len);
    const std::size_t expected = 1 + 32 + 8 + 8 + (len < 253 ? 1 : 3) + len;
    CHECK(serialized_size(cb) == expected);
    CHECK(serialize(cb).size() == expected);
  }
  CHECK(serialize(sample_coinbase(0)).size() == kMinCoinbaseSize);
}

TEST_CASE("a transfer's bytes: kind 0, sender, recipient, amount, fee, nonce (LE), signature",
          "[primitives][transaction]") {
  const Bytes b = serialize(sample_transfer());
  REQUIRE(b.size() == 153);
  CHECK(b[0] == 0x00);
  CHECK(slice(b, 1, 32) == Bytes(32, 0x11));
  CHECK(slice(b, 33, 32) == Bytes(32, 0x22));
  CHECK(slice(b, 65, 8) == hex("0807060504030201"));
  CHECK(slice(b, 73, 8) == hex("1817161514131211"));
  CHECK(slice(b, 81, 8) == hex("2827262524232221"));
  CHECK(slice(b, 89, 64) == Bytes(64, 0x33));
}

TEST_CASE("a coinbase's bytes: kind 1, recipient, amount, height (LE), varint length, extra",
          "[primitives][transaction]") {
  const Bytes b = serialize(sample_coinbase(5));
  REQUIRE(b.size() == 1 + 32 + 8 + 8 + 1 + 5);
  CHECK(b[0] == 0x01);
  CHECK(slice(b, 1, 32) == Bytes(32, 0x44));
  CHECK(slice(b, 33, 8) == hex("11100f0e0d0c0b0a"));
  CHECK(slice(b, 41, 8) == hex("3837363534333231"));
  CHECK(b[49] == 5);
  CHECK(slice(b, 50, 5) == hex("a0a1a2a3a4"));
  // A coinbase has no sender, fee or signature on the wire.
  Transaction cb = sample_coinbase(5);
  cb.sender = filled<32>(0x77);
  cb.fee = 999;
  cb.signature = filled<64>(0x88);
  CHECK(serialize(cb) == b);
}

// ---- decoding failures ----

TEST_CASE("every truncation of a transfer is rejected as truncated", "[primitives][transaction]") {
  const Bytes full = serialize(signed_transfer());
  for (std::size_t len = 0; len < full.size(); ++len) {
    INFO("prefix length " << len);
    auto r = decode_transaction(ByteSpan(full).first(len));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == DecodeError::kTruncated);
  }
}

TEST_CASE("every truncation of a coinbase is rejected (truncated, or oversized extra length)",
          "[primitives][transaction]") {
  const Bytes full = serialize(sample_coinbase(5));
  const std::size_t length_prefix_end = 1 + 32 + 8 + 8 + 1;
  for (std::size_t len = 0; len < full.size(); ++len) {
    INFO("prefix length " << len);
    auto r = decode_transaction(ByteSpan(full).first(len));
    REQUIRE_FALSE(r.has_value());
    // Once the length prefix is read, it claims more bytes than remain.
    CHECK(r.error() == (len < length_prefix_end ? DecodeError::kTruncated : DecodeError::kOversized));
  }
}

TEST_CASE("a byte after a transaction is trailing data", "[primitives][transaction]") {
  for (const Transaction& tx : {signed_transfer(), sample_coinbase(5), sample_coinbase(0)}) {
    Bytes b = serialize(tx);
    b.push_back(0x00);
    auto r = decode_transaction(b);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == DecodeError::kTrailingData);
  }
}

TEST_CASE("an unknown kind byte is an invalid value", "[primitives][transaction]") {
  for (std::uint8_t kind : {std::uint8_t{2}, std::uint8_t{0x7f}, std::uint8_t{0xff}}) {
    INFO("kind " << int{kind});
    Bytes b = serialize(signed_transfer());
    b[0] = kind;
    auto r = decode_transaction(b);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == DecodeError::kInvalidValue);
    // Even alone, the byte is invalid before any truncation.
    auto alone = decode_transaction(Bytes{kind});
    REQUIRE_FALSE(alone.has_value());
    CHECK(alone.error() == DecodeError::kInvalidValue);
  }
}

TEST_CASE("a coinbase extra longer than kMaxCoinbaseExtra is oversized", "[primitives][transaction]") {
  auto at_limit = decode_transaction(serialize(sample_coinbase(kMaxCoinbaseExtra)));
  CHECK(at_limit.has_value());
  for (std::size_t len : {kMaxCoinbaseExtra + 1, std::size_t{252}, std::size_t{253}, std::size_t{5000}}) {
    INFO("extra length " << len);
    auto r = decode_transaction(serialize(sample_coinbase(len)));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == DecodeError::kOversized);
  }
  // A huge length prefix is refused before anything is allocated.
  Bytes huge = serialize(sample_coinbase(0));
  huge.pop_back();
  for (auto byte : hex("ffffffffffffffffff")) huge.push_back(byte);
  auto r = decode_transaction(huge);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == DecodeError::kOversized);
}

TEST_CASE("a non-canonical extra length is rejected", "[primitives][transaction]") {
  Bytes b = serialize(sample_coinbase(0));
  b.pop_back();
  for (auto byte : hex("fd0000")) b.push_back(byte);  // 0 as a 3-byte varint
  auto r = decode_transaction(b);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == DecodeError::kNonCanonical);
}

// ---- txid ----

TEST_CASE("txid is SHA-256d of the serialization", "[primitives][transaction]") {
  for (const Transaction& tx : {signed_transfer(), sample_transfer(), sample_coinbase(5)}) {
    CHECK(txid(tx) == sha256d(serialize(tx)));
  }
}

TEST_CASE("a transfer's txid changes when any field changes", "[primitives][transaction]") {
  const Transaction base = sample_transfer();
  const Hash256 id = txid(base);
  const std::vector<std::pair<const char*, std::function<void(Transaction&)>>> mutations = {
      {"sender", [](Transaction& t) { t.sender[31] ^= 1; }},
      {"recipient", [](Transaction& t) { t.recipient[0] ^= 1; }},
      {"amount", [](Transaction& t) { t.amount += 1; }},
      {"fee", [](Transaction& t) { t.fee += 1; }},
      {"nonce", [](Transaction& t) { t.nonce += 1; }},
      {"signature", [](Transaction& t) { t.signature[63] ^= 0x80; }},
      {"kind", [](Transaction& t) { t.kind = TxKind::kCoinbase; }},
  };
  for (const auto& [name, mutate] : mutations) {
    INFO("field " << name);
    Transaction tx = base;
    mutate(tx);
    CHECK(txid(tx) != id);
  }
}

TEST_CASE("a coinbase's txid changes with recipient, amount, height and extra", "[primitives][transaction]") {
  const Transaction base = sample_coinbase(5);
  const Hash256 id = txid(base);
  const std::vector<std::pair<const char*, std::function<void(Transaction&)>>> mutations = {
      {"recipient", [](Transaction& t) { t.recipient[5] ^= 1; }},
      {"amount", [](Transaction& t) { t.amount -= 1; }},
      {"height", [](Transaction& t) { t.nonce += 1; }},
      {"extra byte", [](Transaction& t) { t.extra[0] ^= 1; }},
      {"extra length", [](Transaction& t) { t.extra.push_back(0); }},
      {"extra removed", [](Transaction& t) { t.extra.clear(); }},
  };
  for (const auto& [name, mutate] : mutations) {
    INFO("field " << name);
    Transaction tx = base;
    mutate(tx);
    CHECK(txid(tx) != id);
  }
}

TEST_CASE("coinbases of different heights have different txids", "[primitives][transaction]") {
  const PublicKey miner = filled<32>(0x55);
  CHECK(txid(make_coinbase(miner, 50 * kCoin, 1)) != txid(make_coinbase(miner, 50 * kCoin, 2)));
}

TEST_CASE("two equal payments with different nonces are distinct transactions", "[primitives][transaction]") {
  const SecretKey key = key_from_byte(1);
  Transaction a;
  a.recipient = key_from_byte(2).public_key();
  a.amount = kCoin;
  a.fee = 100;
  a.nonce = 0;
  Transaction b = a;
  b.nonce = 1;
  sign_transaction(a, key, kRegtestMagic);
  sign_transaction(b, key, kRegtestMagic);
  CHECK(verify_transaction_signature(a, kRegtestMagic));
  CHECK(verify_transaction_signature(b, kRegtestMagic));
  CHECK(txid(a) != txid(b));
  CHECK(a.signature != b.signature);
}

// ---- signatures ----

TEST_CASE("a signed transfer verifies and names its signer as sender", "[primitives][transaction]") {
  const SecretKey key = key_from_byte(7);
  const Transaction tx = signed_transfer();
  CHECK(tx.sender == key.public_key());
  CHECK(verify_transaction_signature(tx, kRegtestMagic));
  // Ed25519 is deterministic: signing again gives the same signature and txid.
  CHECK(signed_transfer() == tx);
}

TEST_CASE("the signature message is domain tag, magic, then every field but the signature",
          "[primitives][transaction]") {
  const Transaction tx = sample_transfer();
  const Bytes msg = signature_message(tx, kRegtestMagic);
  const std::string tag = "cheesechain/transfer/v1";
  REQUIRE(msg.size() == tag.size() + 4 + kTransferSize - 64);
  CHECK(std::equal(tag.begin(), tag.end(), msg.begin()));
  CHECK(slice(msg, tag.size(), 4) == Bytes(kRegtestMagic.begin(), kRegtestMagic.end()));
  const Bytes wire = serialize(tx);
  CHECK(slice(msg, tag.size() + 4, kTransferSize - 64) == slice(wire, 0, kTransferSize - 64));
  CHECK(signature_message(tx, kMainMagic) != msg);
}

TEST_CASE("changing any signed field invalidates the signature", "[primitives][transaction]") {
  const Transaction base = signed_transfer();
  REQUIRE(verify_transaction_signature(base, kRegtestMagic));
  const std::vector<std::pair<const char*, std::function<void(Transaction&)>>> mutations = {
      {"sender", [](Transaction& t) { t.sender = key_from_byte(9).public_key(); }},
      {"recipient", [](Transaction& t) { t.recipient[0] ^= 1; }},
      {"amount", [](Transaction& t) { t.amount += 1; }},
      {"fee", [](Transaction& t) { t.fee -= 1; }},
      {"nonce", [](Transaction& t) { t.nonce += 1; }},
      {"signature", [](Transaction& t) { t.signature[0] ^= 1; }},
      {"signature zeroed", [](Transaction& t) { t.signature = Signature{}; }},
  };
  for (const auto& [name, mutate] : mutations) {
    INFO("field " << name);
    Transaction tx = base;
    mutate(tx);
    CHECK_FALSE(verify_transaction_signature(tx, kRegtestMagic));
  }
}

TEST_CASE("a transfer signed for one network does not verify on another", "[primitives][transaction]") {
  const Transaction regtest_tx = signed_transfer(kRegtestMagic);
  CHECK(verify_transaction_signature(regtest_tx, kRegtestMagic));
  CHECK_FALSE(verify_transaction_signature(regtest_tx, kMainMagic));
  const Transaction main_tx = signed_transfer(kMainMagic);
  CHECK(verify_transaction_signature(main_tx, kMainMagic));
  CHECK_FALSE(verify_transaction_signature(main_tx, kRegtestMagic));
}

TEST_CASE("a coinbase never has a valid signature", "[primitives][transaction]") {
  CHECK_FALSE(verify_transaction_signature(sample_coinbase(5), kRegtestMagic));
  CHECK_FALSE(verify_transaction_signature(make_coinbase(PublicKey{}, 0, 0), kRegtestMagic));
  // Not even one carrying a real key and its signature over the coinbase's fields.
  const SecretKey key = key_from_byte(3);
  Transaction cb = make_coinbase(key_from_byte(4).public_key(), kCoin, 10);
  sign_transaction(cb, key, kRegtestMagic);
  CHECK(verify_signature(cb.sender, signature_message(cb, kRegtestMagic), cb.signature));
  CHECK_FALSE(verify_transaction_signature(cb, kRegtestMagic));
  // And a transfer's signature does not carry over when the kind is changed.
  Transaction flipped = signed_transfer();
  flipped.kind = TxKind::kCoinbase;
  CHECK_FALSE(verify_transaction_signature(flipped, kRegtestMagic));
}

TEST_CASE("make_coinbase fills recipient, amount, height and extra", "[primitives][transaction]") {
  const PublicKey miner = filled<32>(0x66);
  const Transaction cb = make_coinbase(miner, 12345, 77, hex("beef"));
  CHECK(cb.is_coinbase());
  CHECK(cb.kind == TxKind::kCoinbase);
  CHECK(cb.recipient == miner);
  CHECK(cb.amount == 12345);
  CHECK(cb.nonce == 77);
  CHECK(cb.extra == hex("beef"));
  CHECK(cb.sender == PublicKey{});
  CHECK(cb.fee == 0);
}
