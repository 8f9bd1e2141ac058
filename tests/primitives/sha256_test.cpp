#include "primitives/sha256.hpp"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "test_util.hpp"

using namespace cheese;
using cheese::test::hex;

namespace {

std::string_view name(Sha256Backend b) {
  switch (b) {
    case Sha256Backend::kPortable: return "portable";
    case Sha256Backend::kShaNi: return "sha-ni";
  }
  return "?";
}

//! The backends this CPU can run; warns when the SHA-NI path cannot be tested here.
std::vector<Sha256Backend> testable_backends() {
  std::vector<Sha256Backend> out{Sha256Backend::kPortable};
  if (sha256_shani_supported()) {
    out.push_back(Sha256Backend::kShaNi);
  } else {
    WARN("SKIPPED: this CPU has no SHA-NI; only the portable SHA-256 path was tested");
  }
  return out;
}

//! Selects a backend for the scope and restores the one that was active before.
class ScopedBackend {
 public:
  explicit ScopedBackend(Sha256Backend b) : previous_(sha256_backend()) {
    REQUIRE(sha256_select_backend(b));
    REQUIRE(sha256_backend() == b);
  }
  ~ScopedBackend() { sha256_select_backend(previous_); }
  ScopedBackend(const ScopedBackend&) = delete;
  ScopedBackend& operator=(const ScopedBackend&) = delete;

 private:
  Sha256Backend previous_;
};

std::string hex_of(const Sha256Digest& d) { return to_hex(d); }

const std::string_view kGenesisHeader =
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac7"
    "2c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";
const std::string_view kGenesisHash = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
constexpr std::uint32_t kGenesisNonce = 0x7c2bac1d;

std::span<const std::uint8_t, 80> header_span(const Bytes& b) {
  REQUIRE(b.size() == 80);
  return std::span<const std::uint8_t, 80>(b.data(), 80);
}

void patch_nonce(Bytes& header, std::uint32_t nonce) {
  for (std::size_t i = 0; i < 4; ++i) header[76 + i] = static_cast<std::uint8_t>(nonce >> (8 * i));
}

}  // namespace

TEST_CASE("sha256 FIPS 180-2 examples", "[primitives][sha256]") {
  for (auto b : testable_backends()) {
    ScopedBackend scoped(b);
    INFO("backend " << name(b));
    CHECK(hex_of(sha256(as_bytes(""))) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(hex_of(sha256(as_bytes("abc"))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(hex_of(sha256(as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const std::string million(1'000'000, 'a');
    CHECK(hex_of(sha256(as_bytes(million))) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
}

TEST_CASE("sha256 padding boundaries", "[primitives][sha256]") {
  // Lengths around the 55/56-byte point where the length no longer fits in the last block.
  const std::vector<std::pair<std::size_t, std::string_view>> vectors = {
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {57, "f13b2d724659eb3bf47f2dd6af1accc87b81f09f59f2b75e5c0bed6589dfe8c6"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
      {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
      {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
      {128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"},
  };
  for (auto b : testable_backends()) {
    ScopedBackend scoped(b);
    for (const auto& [len, expected] : vectors) {
      INFO("backend " << name(b) << ", " << len << " bytes of 'a'");
      CHECK(hex_of(sha256(as_bytes(std::string(len, 'a')))) == expected);
    }
  }
}

TEST_CASE("sha256 streaming in irregular chunks", "[primitives][sha256]") {
  const std::string million(1'000'000, 'a');
  const ByteSpan all = as_bytes(million);
  const std::array<std::size_t, 9> chunk_sizes = {1, 63, 64, 65, 1000, 0, 127, 129, 4096};
  for (auto b : testable_backends()) {
    ScopedBackend scoped(b);
    INFO("backend " << name(b));
    Sha256 hasher;
    std::size_t pos = 0;
    for (std::size_t i = 0; pos < all.size(); ++i) {
      const std::size_t n = std::min(chunk_sizes[i % chunk_sizes.size()], all.size() - pos);
      hasher.write(all.subspan(pos, n));
      pos += n;
    }
    CHECK(hex_of(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    // finalize() resets, so the hasher is reusable; reset() drops what was written.
    CHECK(hex_of(hasher.write(as_bytes("abc")).finalize()) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hasher.write(as_bytes("garbage"));
    hasher.reset();
    CHECK(hex_of(hasher.finalize()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  }
}

TEST_CASE("sha256d and its two-part form", "[primitives][sha256]") {
  for (auto b : testable_backends()) {
    ScopedBackend scoped(b);
    INFO("backend " << name(b));
    CHECK(to_hex(sha256d(as_bytes("")).bytes) == "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456");
    CHECK(to_hex(sha256d(as_bytes("hello")).bytes) ==
          "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50");

    const Bytes header = hex(kGenesisHeader);
    CHECK(sha256d(header).to_display_hex() == kGenesisHash);
    for (std::size_t split : {std::size_t{0}, std::size_t{1}, std::size_t{64}, std::size_t{79}, std::size_t{80}}) {
      const ByteSpan all = header;
      CHECK(sha256d(all.first(split), all.subspan(split)).to_display_hex() == kGenesisHash);
    }
  }
}

TEST_CASE("header midstate hashes match sha256d", "[primitives][sha256]") {
  for (auto b : testable_backends()) {
    ScopedBackend scoped(b);
    INFO("backend " << name(b));
    Bytes header = hex(kGenesisHeader);
    const HeaderMidstate m = header_midstate(header_span(header));
    CHECK(header_hash(m, kGenesisNonce).to_display_hex() == kGenesisHash);

    for (std::uint32_t nonce : {0u, 1u, 0x80000000u, 0xffffffffu, 0x12345678u}) {
      INFO("nonce " << nonce);
      patch_nonce(header, nonce);
      CHECK(header_hash(m, nonce) == sha256d(header));
    }

    std::mt19937 rng(20240601);
    for (int i = 0; i < 1000; ++i) {
      const std::uint32_t n0 = static_cast<std::uint32_t>(rng());
      const std::uint32_t n1 = (i % 2 == 0) ? n0 + 1 : static_cast<std::uint32_t>(rng());
      Hash256 h0;
      Hash256 h1;
      header_hash_2way(m, n0, n1, h0, h1);
      if (h0 != header_hash(m, n0) || h1 != header_hash(m, n1)) {
        FAIL_CHECK("2-way mismatch for nonces " << n0 << ", " << n1);
      }
    }
    Hash256 g0;
    Hash256 g1;
    header_hash_2way(m, kGenesisNonce, kGenesisNonce, g0, g1);
    CHECK(g0.to_display_hex() == kGenesisHash);
    CHECK(g1.to_display_hex() == kGenesisHash);
  }
}

TEST_CASE("sha256 backends agree on random compressions", "[primitives][sha256]") {
  if (!sha256_shani_supported()) {
    WARN("SKIPPED: this CPU has no SHA-NI; nothing to compare the portable path with");
    return;
  }
  std::mt19937 rng(42);
  std::vector<std::uint8_t> blocks(64 * 8);
  for (int iter = 0; iter < 500; ++iter) {
    std::uint32_t start[8];
    for (auto& w : start) w = static_cast<std::uint32_t>(rng());
    for (auto& byte : blocks) byte = static_cast<std::uint8_t>(rng());
    const std::size_t n = 1 + static_cast<std::size_t>(iter) % 8;

    std::array<std::uint32_t, 8> portable;
    std::array<std::uint32_t, 8> shani;
    std::copy(std::begin(start), std::end(start), portable.begin());
    std::copy(std::begin(start), std::end(start), shani.begin());
    {
      ScopedBackend scoped(Sha256Backend::kPortable);
      sha256_compress(portable.data(), blocks.data(), n);
    }
    {
      ScopedBackend scoped(Sha256Backend::kShaNi);
      sha256_compress(shani.data(), blocks.data(), n);
    }
    if (portable != shani) FAIL_CHECK("backends differ at iteration " << iter << ", " << n << " blocks");
  }
  SUCCEED("500 random compressions agree");
}

TEST_CASE("sha256 backend selection", "[primitives][sha256]") {
  const Sha256Backend before = sha256_backend();
  CHECK(before == (sha256_shani_supported() ? Sha256Backend::kShaNi : Sha256Backend::kPortable));
  {
    ScopedBackend scoped(Sha256Backend::kPortable);
    CHECK(sha256_backend() == Sha256Backend::kPortable);
    // Selecting SHA-NI where it is missing fails and leaves the portable backend in place.
    CHECK(sha256_select_backend(Sha256Backend::kShaNi) == sha256_shani_supported());
  }
  CHECK(sha256_backend() == before);
}

namespace {

//! Every nonce in [first, first + count) that header_search reports, by repeated calls.
std::vector<std::uint32_t> all_hits(const HeaderMidstate& m, const Hash256& target, std::uint32_t first,
                                    std::uint64_t count) {
  std::vector<std::uint32_t> out;
  std::uint64_t offset = 0;
  while (offset < count) {
    std::uint64_t tried = 0;
    const auto n = header_search(m, target, static_cast<std::uint32_t>(first + offset), count - offset, tried);
    REQUIRE(tried <= count - offset);
    if (!n) {
      REQUIRE(tried == count - offset);
      break;
    }
    REQUIRE(*n == static_cast<std::uint32_t>(first + offset + tried - 1));
    out.push_back(*n);
    offset += tried;
  }
  return out;
}

//! The same by hashing every nonce with header_hash and comparing whole numbers.
std::vector<std::uint32_t> brute_hits(const HeaderMidstate& m, const Hash256& target, std::uint32_t first,
                                      std::uint64_t count) {
  std::vector<std::uint32_t> out;
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto nonce = static_cast<std::uint32_t>(first + i);
    const Hash256 h = header_hash(m, nonce);
    bool meets = true;
    for (std::size_t b = 32; b-- > 0;) {
      if (h.bytes[b] != target.bytes[b]) {
        meets = h.bytes[b] < target.bytes[b];
        break;
      }
    }
    if (meets) out.push_back(nonce);
  }
  return out;
}

Hash256 target_with_top(std::uint32_t top) {
  Hash256 t{};
  for (std::size_t i = 0; i < 28; ++i) t.bytes[i] = 0xff;
  for (std::size_t i = 0; i < 4; ++i) t.bytes[28 + i] = static_cast<std::uint8_t>(top >> (8 * i));
  return t;
}

}  // namespace

TEST_CASE("the nonce search finds exactly the nonces the portable path finds", "[primitives][sha256]") {
  Bytes header = hex(kGenesisHeader);
  const HeaderMidstate m = header_midstate(header_span(header));
  // About one hash in 512 qualifies; odd counts and a range across 2^32 (nonces wrap).
  const Hash256 target = target_with_top(0x007fffff);
  struct Range {
    std::uint32_t first;
    std::uint64_t count;
  };
  const Range ranges[] = {{0, 40001}, {0xffffff00u, 777}, {kGenesisNonce - 1000, 2000}, {12345, 1}, {7, 0}};
  for (const auto& r : ranges) {
    INFO("range " << r.first << " + " << r.count);
    std::vector<std::uint32_t> portable;
    {
      ScopedBackend scoped(Sha256Backend::kPortable);
      portable = all_hits(m, target, r.first, r.count);
      CHECK(portable == brute_hits(m, target, r.first, r.count));
    }
    if (r.count > 10000) CHECK(portable.size() > 20);
    for (auto b : testable_backends()) {
      ScopedBackend scoped(b);
      INFO("backend " << name(b));
      CHECK(all_hits(m, target, r.first, r.count) == portable);
    }
  }
  // Bitcoin's genesis nonce meets its own target (bits 0x1d00ffff), and nothing just before it does.
  Hash256 genesis_target{};
  genesis_target.bytes[26] = 0xff;
  genesis_target.bytes[27] = 0xff;
  for (auto b : testable_backends()) {
    ScopedBackend scoped(b);
    INFO("backend " << name(b));
    std::uint64_t tried = 0;
    const auto n = header_search(m, genesis_target, kGenesisNonce - 5000, 10000, tried);
    REQUIRE(n.has_value());
    CHECK(*n == kGenesisNonce);
    CHECK(tried == 5001);
  }
}

TEST_CASE("the nonce search compares the whole hash when the top 32 bits tie", "[primitives][sha256]") {
  Bytes header = hex(kGenesisHeader);
  const HeaderMidstate m = header_midstate(header_span(header));
  for (auto b : testable_backends()) {
    ScopedBackend scoped(b);
    INFO("backend " << name(b));
    for (std::uint32_t nonce : {3u, 1000u, 0xfffffffeu}) {
      const Hash256 h = header_hash(m, nonce);
      std::uint64_t tried = 0;
      // Target equal to the hash: met.
      auto n = header_search(m, h, nonce, 1, tried);
      CHECK(n == std::optional<std::uint32_t>(nonce));
      // Same top 32 bits, one less in the lowest differing position below them: not met.
      Hash256 below = h;
      std::size_t i = 0;
      while (i < 28 && below.bytes[i] == 0) ++i;
      REQUIRE(i < 28);
      --below.bytes[i];
      n = header_search(m, below, nonce, 1, tried);
      CHECK_FALSE(n.has_value());
      CHECK(tried == 1);
      // In a 2-nonce scan where only the second is met.
      if (nonce != 0xfffffffeu) {
        const Hash256 h1 = header_hash(m, nonce + 1);
        const Hash256& lower = std::lexicographical_compare(h.bytes.rbegin(), h.bytes.rend(), h1.bytes.rbegin(),
                                                            h1.bytes.rend())
                                   ? h
                                   : h1;
        n = header_search(m, lower, nonce, 2, tried);
        REQUIRE(n.has_value());
        CHECK(header_hash(m, *n) == lower);
      }
    }
  }
}
