#include "primitives/block.hpp"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <set>
#include <vector>

#include "primitives/serialize.hpp"
#include "primitives/sha256.hpp"
#include "primitives/transaction.hpp"
#include "primitives/uint256.hpp"
#include "test_util.hpp"

using namespace cheese;
using cheese::test::hex;

namespace {

// Bitcoin's genesis block header (block 0 of main net).
constexpr const char* kBitcoinGenesisHeader =
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e"
    "67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";
constexpr const char* kBitcoinGenesisHash = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
constexpr const char* kBitcoinGenesisMerkle = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";

Hash256 display_hash(std::string_view s) {
  auto h = Hash256::from_display_hex(s);
  if (!h) FAIL("bad display hash in test: " << s);
  return *h;
}

//! A distinct hash per n (SHA-256d of n's bytes), to stand in for txids.
Hash256 id(std::uint32_t n) {
  const std::array<std::uint8_t, 4> b = {static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
                                         static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 24)};
  return sha256d(b);
}

Hash256 leaf(const Hash256& txid) {
  const std::array<std::uint8_t, 1> prefix = {0x00};
  Bytes b(prefix.begin(), prefix.end());
  b.insert(b.end(), txid.bytes.begin(), txid.bytes.end());
  return sha256d(b);
}

Hash256 inner(const Hash256& l, const Hash256& r) {
  Bytes b{0x01};
  b.insert(b.end(), l.bytes.begin(), l.bytes.end());
  b.insert(b.end(), r.bytes.begin(), r.bytes.end());
  return sha256d(b);
}

Hash256 root(std::vector<Hash256> ids) { return merkle_root(std::span<const Hash256>(ids)); }

Transaction transfer(std::uint8_t who, std::uint64_t nonce) {
  Transaction tx;
  tx.sender.fill(who);
  tx.recipient.fill(static_cast<std::uint8_t>(who + 1));
  tx.amount = 1000 + nonce;
  tx.fee = 10;
  tx.nonce = nonce;
  tx.signature.fill(static_cast<std::uint8_t>(0x40 + who));
  return tx;
}

Block sample_block() {
  Block b;
  b.header.version = 2;
  b.header.prev_hash = id(1);
  b.header.time = 1'800'000'000;
  b.header.bits = 0x207fffff;
  b.header.nonce = 42;
  PublicKey miner{};
  miner.fill(0x99);
  b.txs.push_back(make_coinbase(miner, 50 * kCoin + 20, 7, hex("c0ffee")));
  b.txs.push_back(transfer(1, 0));
  b.txs.push_back(transfer(2, 5));
  b.header.merkle_root = merkle_root(b);
  return b;
}

Bytes cat(const Bytes& a, const Bytes& b) {
  Bytes out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

}  // namespace

// ---- header ----

TEST_CASE("a header is 80 bytes in Bitcoin's layout", "[primitives][block]") {
  BlockHeader h;
  h.version = 0x01020304;
  h.prev_hash.bytes.fill(0xaa);
  h.merkle_root.bytes.fill(0xbb);
  h.time = 0x11121314;
  h.bits = 0x1d00ffff;
  h.nonce = 0x21222324;
  const auto b = serialize(h);
  STATIC_REQUIRE(std::tuple_size_v<decltype(b)> == 80);
  const Bytes bytes(b.begin(), b.end());
  CHECK(Bytes(bytes.begin(), bytes.begin() + 4) == hex("04030201"));
  CHECK(Bytes(bytes.begin() + 4, bytes.begin() + 36) == Bytes(32, 0xaa));
  CHECK(Bytes(bytes.begin() + 36, bytes.begin() + 68) == Bytes(32, 0xbb));
  CHECK(Bytes(bytes.begin() + 68, bytes.begin() + 72) == hex("14131211"));
  CHECK(Bytes(bytes.begin() + 72, bytes.begin() + 76) == hex("ffff001d"));
  CHECK(Bytes(bytes.begin() + 76, bytes.begin() + 80) == hex("24232221"));
  // The Writer overload writes the same bytes.
  Writer w;
  serialize(w, h);
  CHECK(w.bytes() == bytes);
  CHECK(block_hash(h) == sha256d(bytes));
}

TEST_CASE("Bitcoin's genesis header decodes, re-encodes and hashes as in Bitcoin", "[primitives][block]") {
  const Bytes raw = hex(kBitcoinGenesisHeader);
  REQUIRE(raw.size() == kHeaderSize);
  auto h = decode_header(raw);
  REQUIRE(h.has_value());
  CHECK(h->version == 1);
  CHECK(h->prev_hash.is_zero());
  CHECK(h->merkle_root.to_display_hex() == kBitcoinGenesisMerkle);
  CHECK(h->time == 1231006505);
  CHECK(h->bits == 0x1d00ffff);
  CHECK(h->nonce == 2083236893);
  const auto reencoded = serialize(*h);
  CHECK(Bytes(reencoded.begin(), reencoded.end()) == raw);
  CHECK(block_hash(*h).to_display_hex() == kBitcoinGenesisHash);
  CHECK(block_hash(*h) == display_hash(kBitcoinGenesisHash));
  // The hash meets the 0x1d00ffff target (0xffff << 208); tests/consensus/validation_test.cpp
  // runs the same header through check_proof_of_work and check_header_pow.
  const U256 target = U256{0xffff} << 208;
  CHECK(U256::from_hash(block_hash(*h)) <= target);
  BlockHeader flipped = *h;
  flipped.nonce ^= 1;
  CHECK(U256::from_hash(block_hash(flipped)) > target);
}

TEST_CASE("a header must be exactly 80 bytes", "[primitives][block]") {
  const Bytes raw = hex(kBitcoinGenesisHeader);
  for (std::size_t len = 0; len < raw.size(); ++len) {
    INFO("prefix length " << len);
    auto r = decode_header(ByteSpan(raw).first(len));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == DecodeError::kTruncated);
  }
  Bytes longer = raw;
  longer.push_back(0);
  auto r = decode_header(longer);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == DecodeError::kTrailingData);
}

// ---- block encoding ----

TEST_CASE("a block round-trips through its serialization", "[primitives][block]") {
  const Block b = sample_block();
  const Bytes bytes = serialize(b);
  CHECK(bytes.size() == serialized_size(b));
  CHECK(bytes.size() == 80 + 1 + (1 + 32 + 8 + 8 + 1 + 3) + 2 * kTransferSize);
  const auto header = serialize(b.header);
  CHECK(std::equal(header.begin(), header.end(), bytes.begin()));
  CHECK(bytes[80] == 3);  // transaction count
  auto decoded = decode_block(bytes);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == b);
  CHECK(decoded->hash() == b.hash());
  CHECK(serialize(*decoded) == bytes);
}

TEST_CASE("a block with no transactions round-trips", "[primitives][block]") {
  Block b;
  b.header.bits = 0x207fffff;
  const Bytes bytes = serialize(b);
  CHECK(bytes.size() == 81);
  auto decoded = decode_block(bytes);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == b);
}

TEST_CASE("decode_block rejects input longer than kMaxBlockSize before parsing", "[primitives][block]") {
  // A structurally valid block of exactly kMaxBlockSize bytes is accepted; one byte more is not.
  Block b = sample_block();
  b.txs.resize(1);
  b.txs[0].extra = Bytes(12, 0x01);
  for (std::uint64_t n = 0; n < 6535; ++n) b.txs.push_back(transfer(3, n));
  REQUIRE(serialized_size(b) == kMaxBlockSize);
  const Bytes exact = serialize(b);
  REQUIRE(exact.size() == kMaxBlockSize);
  auto ok = decode_block(exact);
  REQUIRE(ok.has_value());
  CHECK(ok->txs.size() == 6536);

  b.txs[0].extra.push_back(0x02);
  const Bytes over = serialize(b);
  REQUIRE(over.size() == kMaxBlockSize + 1);
  auto r = decode_block(over);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == DecodeError::kOversized);

  // Size alone decides: garbage of that length is refused as oversized, not as malformed.
  auto garbage = decode_block(Bytes(kMaxBlockSize + 1, 0xff));
  REQUIRE_FALSE(garbage.has_value());
  CHECK(garbage.error() == DecodeError::kOversized);
}

TEST_CASE("a transaction count the input cannot hold is oversized", "[primitives][block]") {
  const auto header = serialize(sample_block().header);
  const Bytes h(header.begin(), header.end());
  // Each case would reserve() gigabytes if the count were trusted.
  for (const char* count : {"ffffffffffffffffff", "feffffffff", "fd1027" /* 10000 */, "fd204e" /* 20000 */}) {
    INFO("count " << count);
    auto r = decode_block(cat(h, hex(count)));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == DecodeError::kOversized);
  }
  // Two transactions need at least 2 * kMinTransactionSize bytes; one coinbase is not enough.
  Bytes one_cb = cat(h, Bytes{2});
  one_cb = cat(one_cb, serialize(make_coinbase(PublicKey{}, 1, 0)));
  REQUIRE(one_cb.size() - 81 < 2 * kMinTransactionSize);
  auto r = decode_block(one_cb);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == DecodeError::kOversized);
}

TEST_CASE("every truncation of a block is rejected", "[primitives][block]") {
  const Bytes full = serialize(sample_block());
  for (std::size_t len = 0; len < full.size(); ++len) {
    INFO("prefix length " << len);
    auto r = decode_block(ByteSpan(full).first(len));
    REQUIRE_FALSE(r.has_value());
    if (len <= kHeaderSize) {
      CHECK(r.error() == DecodeError::kTruncated);
    } else {
      // Inside the body either a field is cut short, or a length prefix (the transaction count,
      // the coinbase extra) claims more than what is left.
      CHECK((r.error() == DecodeError::kTruncated || r.error() == DecodeError::kOversized));
    }
  }
}

TEST_CASE("a byte after a block is trailing data", "[primitives][block]") {
  Bytes b = serialize(sample_block());
  b.push_back(0);
  auto r = decode_block(b);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == DecodeError::kTrailingData);
}

TEST_CASE("a block holding a transaction of unknown kind is an invalid value", "[primitives][block]") {
  Bytes b = serialize(sample_block());
  const std::size_t second_tx = 80 + 1 + serialized_size(sample_block().txs[0]);
  REQUIRE(b[second_tx] == 0x00);
  b[second_tx] = 0x02;
  auto r = decode_block(b);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == DecodeError::kInvalidValue);
}

TEST_CASE("a block with a non-canonical transaction count is rejected", "[primitives][block]") {
  const Block blk = sample_block();
  Bytes b = serialize(blk);
  b[80] = 0xfd;
  b.insert(b.begin() + 81, {0x03, 0x00});
  auto r = decode_block(b);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == DecodeError::kNonCanonical);
}

// ---- merkle root ----

TEST_CASE("merkle root of no transactions is zero", "[primitives][block]") {
  CHECK(root({}).is_zero());
  CHECK(merkle_root(Block{}).is_zero());
}

TEST_CASE("merkle root of one transaction is SHA-256d(0x00 || txid)", "[primitives][block]") {
  const Hash256 a = id(1);
  CHECK(root({a}) == leaf(a));
  CHECK(root({a}) == sha256d(hex("00"), a.span()));
  // Not the txid itself, as Bitcoin would have it.
  CHECK(root({a}) != a);
}

TEST_CASE("merkle root of two transactions is SHA-256d(0x01 || leaf0 || leaf1)", "[primitives][block]") {
  const Hash256 a = id(1);
  const Hash256 b = id(2);
  Bytes preimage{0x01};
  const Hash256 la = sha256d(cat(Bytes{0x00}, Bytes(a.bytes.begin(), a.bytes.end())));
  const Hash256 lb = sha256d(cat(Bytes{0x00}, Bytes(b.bytes.begin(), b.bytes.end())));
  preimage.insert(preimage.end(), la.bytes.begin(), la.bytes.end());
  preimage.insert(preimage.end(), lb.bytes.begin(), lb.bytes.end());
  CHECK(root({a, b}) == sha256d(preimage));
}

TEST_CASE("an odd node is carried up unchanged, never paired with itself", "[primitives][block]") {
  const Hash256 a = id(1), b = id(2), c = id(3), d = id(4), e = id(5);
  CHECK(root({a, b, c}) == inner(inner(leaf(a), leaf(b)), leaf(c)));
  CHECK(root({a, b, c, d}) == inner(inner(leaf(a), leaf(b)), inner(leaf(c), leaf(d))));
  CHECK(root({a, b, c, d, e}) == inner(inner(inner(leaf(a), leaf(b)), inner(leaf(c), leaf(d))), leaf(e)));
  // Bitcoin would pair c with itself; here that is a different root.
  CHECK(root({a, b, c}) != inner(inner(leaf(a), leaf(b)), inner(leaf(c), leaf(c))));
}

TEST_CASE("merkle root of a block is over its txids", "[primitives][block]") {
  const Block b = sample_block();
  std::vector<Hash256> ids;
  for (const auto& tx : b.txs) ids.push_back(txid(tx));
  CHECK(merkle_root(b) == root(ids));
  CHECK(merkle_root(b) == b.header.merkle_root);
}

TEST_CASE("CVE-2012-2459: duplicating the last transactions changes the root", "[primitives][block]") {
  const Hash256 a = id(1), b = id(2), c = id(3), d = id(4), e = id(5), f = id(6);
  CHECK(root({a, b, c}) != root({a, b, c, c}));
  CHECK(root({a}) != root({a, a}));
  CHECK(root({a, b, c, d, e}) != root({a, b, c, d, e, e}));
  // Bitcoin's six-transaction variant: [a..f] vs [a..f, e, f].
  CHECK(root({a, b, c, d, e, f}) != root({a, b, c, d, e, f, e, f}));
}

TEST_CASE("no two transaction lists of up to 8 share a merkle root", "[primitives][block]") {
  // All lists of length 1..4 over a 3-letter alphabet (with repeats) plus some longer ones:
  // their roots are pairwise distinct.
  const std::vector<Hash256> alphabet = {id(1), id(2), id(3)};
  std::vector<std::vector<Hash256>> lists;
  for (std::size_t len = 1; len <= 4; ++len) {
    std::size_t combos = 1;
    for (std::size_t i = 0; i < len; ++i) combos *= alphabet.size();
    for (std::size_t k = 0; k < combos; ++k) {
      std::vector<Hash256> list;
      std::size_t x = k;
      for (std::size_t i = 0; i < len; ++i, x /= alphabet.size()) list.push_back(alphabet[x % alphabet.size()]);
      lists.push_back(list);
    }
  }
  for (std::uint32_t n = 5; n <= 8; ++n) {
    std::vector<Hash256> list;
    for (std::uint32_t i = 0; i < n; ++i) list.push_back(id(i));
    lists.push_back(list);
  }
  std::set<Hash256> roots;
  for (const auto& l : lists) roots.insert(root(l));
  CHECK(roots.size() == lists.size());
}

TEST_CASE("reordering transactions changes the merkle root", "[primitives][block]") {
  const Hash256 a = id(1), b = id(2), c = id(3), d = id(4);
  CHECK(root({a, b}) != root({b, a}));
  std::vector<Hash256> list = {a, b, c, d};
  const Hash256 original = root(list);
  std::sort(list.begin(), list.end());
  std::set<Hash256> seen;
  std::size_t permutations = 0;
  do {
    seen.insert(root(list));
    ++permutations;
  } while (std::next_permutation(list.begin(), list.end()));
  CHECK(permutations == 24);
  CHECK(seen.size() == 24);
  CHECK(seen.count(original) == 1);
}

TEST_CASE("leaf and inner hashes are domain-separated", "[primitives][block]") {
  const Hash256 a = id(1), b = id(2), c = id(3), d = id(4);
  // The same 32 bytes hashed as a leaf and with the inner prefix differ.
  CHECK(leaf(a) != sha256d(hex("01"), a.span()));
  CHECK(leaf(a) != sha256d(a.span()));
  // The same 64 bytes as an inner node and under the leaf prefix differ.
  Bytes pair(a.bytes.begin(), a.bytes.end());
  pair.insert(pair.end(), b.bytes.begin(), b.bytes.end());
  CHECK(inner(a, b) != sha256d(hex("00"), pair));
  CHECK(inner(a, b) != sha256d(pair));
  // A list whose "txids" are the inner nodes of another list does not share its root.
  const Hash256 n0 = inner(leaf(a), leaf(b));
  const Hash256 n1 = inner(leaf(c), leaf(d));
  CHECK(root({a, b, c, d}) == inner(n0, n1));
  CHECK(root({n0, n1}) != root({a, b, c, d}));
  // Nor does a one-transaction list whose txid is the root of another.
  CHECK(root({root({a, b})}) != root({a, b}));
}

TEST_CASE("changing a transaction changes the merkle root", "[primitives][block]") {
  Block b = sample_block();
  const Hash256 original = merkle_root(b);
  for (std::size_t i = 0; i < b.txs.size(); ++i) {
    INFO("tx " << i);
    Block m = b;
    m.txs[i].amount += 1;
    CHECK(merkle_root(m) != original);
  }
}
