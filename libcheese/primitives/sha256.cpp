#include "primitives/sha256.hpp"

#include <atomic>
#include <bit>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#define CHEESE_SHA256_X86 1
#include <cpuid.h>
#endif

namespace cheese {

namespace detail {

// Shared with sha256_shani.cpp. That file is compiled with -msha -msse4.1, so it includes no
// project or library header (an inline function instantiated there could be kept by the linker
// for everyone and then run on a CPU without those extensions); the declarations are repeated
// there instead, and a mismatch shows up as a link error because the names are mangled.
alignas(16) extern const std::uint32_t kSha256RoundConstants[64];
alignas(16) const std::uint32_t kSha256RoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#ifdef CHEESE_SHA256_X86
void sha256_compress_shani(std::uint32_t state[8], const std::uint8_t* blocks, std::size_t n);
void sha256d_header_shani(const std::uint32_t midstate[8], const std::uint8_t tail[16], std::uint32_t nonce,
                          std::uint8_t out[32]);
void sha256d_header_2way_shani(const std::uint32_t midstate[8], const std::uint8_t tail[16], std::uint32_t nonce0,
                               std::uint32_t nonce1, std::uint8_t out0[32], std::uint8_t out1[32]);
void sha256_compress_2way_shani(std::uint32_t state0[8], const std::uint8_t* blocks0, std::uint32_t state1[8],
                                const std::uint8_t* blocks1, std::size_t n);
std::uint64_t header_scan_shani(const std::uint32_t midstate[8], const std::uint8_t tail[16],
                                std::uint32_t top_target, std::uint32_t first, std::uint64_t count);
#endif

}  // namespace detail

namespace {

using detail::kSha256RoundConstants;

constexpr std::array<std::uint32_t, 8> kInitialState = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

std::uint32_t load_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

void store_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

void store_state_be(std::uint8_t out[32], const std::uint32_t state[8]) {
  for (std::size_t i = 0; i < 8; ++i) store_be32(out + 4 * i, state[i]);
}

// ---- Portable backend ----------------------------------------------------------------------

constexpr std::uint32_t big_sigma0(std::uint32_t x) { return std::rotr(x, 2) ^ std::rotr(x, 13) ^ std::rotr(x, 22); }
constexpr std::uint32_t big_sigma1(std::uint32_t x) { return std::rotr(x, 6) ^ std::rotr(x, 11) ^ std::rotr(x, 25); }
constexpr std::uint32_t small_sigma0(std::uint32_t x) { return std::rotr(x, 7) ^ std::rotr(x, 18) ^ (x >> 3); }
constexpr std::uint32_t small_sigma1(std::uint32_t x) { return std::rotr(x, 17) ^ std::rotr(x, 19) ^ (x >> 10); }

//! One compression of the message words w (used as the schedule ring, so clobbered).
void compress_words(std::uint32_t state[8], std::uint32_t w[16]) {
  std::uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  std::uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
#pragma GCC unroll 64
  for (std::size_t i = 0; i < 64; ++i) {
    if (i >= 16) {
      w[i & 15] += small_sigma1(w[(i - 2) & 15]) + w[(i - 7) & 15] + small_sigma0(w[(i - 15) & 15]);
    }
    const std::uint32_t t1 = h + big_sigma1(e) + (g ^ (e & (f ^ g))) + kSha256RoundConstants[i] + w[i & 15];
    const std::uint32_t t2 = big_sigma0(a) + ((a & b) | (c & (a | b)));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
  state[5] += f;
  state[6] += g;
  state[7] += h;
}

void compress_portable(std::uint32_t state[8], const std::uint8_t* blocks, std::size_t n) {
  for (std::size_t blk = 0; blk < n; ++blk, blocks += 64) {
    std::uint32_t w[16];
    for (std::size_t i = 0; i < 16; ++i) w[i] = load_be32(blocks + 4 * i);
    compress_words(state, w);
  }
}

//! The nonce is stored little-endian in header bytes 76..79; as a big-endian message word
//! that is its byte reversal.
constexpr std::uint32_t nonce_word(std::uint32_t nonce) {
  return ((nonce & 0xff) << 24) | ((nonce & 0xff00) << 8) | ((nonce >> 8) & 0xff00) | (nonce >> 24);
}

void header_hash_portable(const std::uint32_t midstate[8], const std::uint8_t tail[16], std::uint32_t nonce,
                          std::uint8_t out[32]) {
  // Second block of the header: 16 tail bytes, then padding for 80 bytes (640 bits).
  std::uint32_t w[16] = {load_be32(tail),
                         load_be32(tail + 4),
                         load_be32(tail + 8),
                         nonce_word(nonce),
                         0x80000000,
                         0,
                         0,
                         0,
                         0,
                         0,
                         0,
                         0,
                         0,
                         0,
                         0,
                         640};
  std::uint32_t first[8];
  std::memcpy(first, midstate, sizeof first);
  compress_words(first, w);
  // The single block of the second hash: the 32-byte digest, then padding for 256 bits. The
  // digest's big-endian bytes read back as big-endian words are the state words themselves.
  std::uint32_t w2[16] = {first[0],   first[1], first[2], first[3], first[4], first[5], first[6], first[7],
                          0x80000000, 0,        0,        0,        0,        0,        0,        256};
  std::uint32_t second[8];
  std::memcpy(second, kInitialState.data(), sizeof second);
  compress_words(second, w2);
  store_state_be(out, second);
}

void header_hash_2way_portable(const std::uint32_t midstate[8], const std::uint8_t tail[16], std::uint32_t nonce0,
                               std::uint32_t nonce1, std::uint8_t out0[32], std::uint8_t out1[32]) {
  header_hash_portable(midstate, tail, nonce0, out0);
  header_hash_portable(midstate, tail, nonce1, out1);
}

void compress_2way_portable(std::uint32_t state0[8], const std::uint8_t* blocks0, std::uint32_t state1[8],
                            const std::uint8_t* blocks1, std::size_t n) {
  compress_portable(state0, blocks0, n);
  compress_portable(state1, blocks1, n);
}

//! Offset of the first nonce in [first, first + count) whose hash has its top 32 bits (as a
//! little-endian number: the byte reversal of the last state word) at most top_target.
std::uint64_t header_scan_portable(const std::uint32_t midstate[8], const std::uint8_t tail[16],
                                   std::uint32_t top_target, std::uint32_t first, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint8_t out[32];
    header_hash_portable(midstate, tail, static_cast<std::uint32_t>(first + i), out);
    const std::uint32_t top = std::uint32_t{out[28]} | (std::uint32_t{out[29]} << 8) |
                              (std::uint32_t{out[30]} << 16) | (std::uint32_t{out[31]} << 24);
    if (top <= top_target) return i;
  }
  return count;
}

// ---- Dispatch ------------------------------------------------------------------------------

struct Backend {
  Sha256Backend kind;
  void (*compress)(std::uint32_t state[8], const std::uint8_t* blocks, std::size_t n);
  void (*header_hash)(const std::uint32_t midstate[8], const std::uint8_t tail[16], std::uint32_t nonce,
                      std::uint8_t out[32]);
  void (*header_hash_2way)(const std::uint32_t midstate[8], const std::uint8_t tail[16], std::uint32_t nonce0,
                           std::uint32_t nonce1, std::uint8_t out0[32], std::uint8_t out1[32]);
  void (*compress_2way)(std::uint32_t state0[8], const std::uint8_t* blocks0, std::uint32_t state1[8],
                        const std::uint8_t* blocks1, std::size_t n);
  std::uint64_t (*header_scan)(const std::uint32_t midstate[8], const std::uint8_t tail[16], std::uint32_t top_target,
                               std::uint32_t first, std::uint64_t count);
};

constexpr Backend kPortableBackend{Sha256Backend::kPortable,  compress_portable,      header_hash_portable,
                                   header_hash_2way_portable, compress_2way_portable, header_scan_portable};
#ifdef CHEESE_SHA256_X86
constexpr Backend kShaNiBackend{Sha256Backend::kShaNi,
                                detail::sha256_compress_shani,
                                detail::sha256d_header_shani,
                                detail::sha256d_header_2way_shani,
                                detail::sha256_compress_2way_shani,
                                detail::header_scan_shani};
#endif

bool detect_shani() {
#ifdef CHEESE_SHA256_X86
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool sse41 = (ecx & (1u << 19)) != 0;
  const bool ssse3 = (ecx & (1u << 9)) != 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool sha = (ebx & (1u << 29)) != 0;
  return sse41 && ssse3 && sha;
#else
  return false;
#endif
}

const Backend* default_backend() {
#ifdef CHEESE_SHA256_X86
  if (sha256_shani_supported()) return &kShaNiBackend;
#endif
  return &kPortableBackend;
}

// Process-wide because it describes the CPU, not any node's state. Constant-initialized to null
// so that hashing during another translation unit's static initialization is safe; the backends
// are constants, so relaxed ordering suffices.
constinit std::atomic<const Backend*> g_backend{nullptr};

const Backend& backend() {
  if (const Backend* b = g_backend.load(std::memory_order_relaxed); b != nullptr) [[likely]] {
    return *b;
  }
  const Backend* expected = nullptr;
  const Backend* detected = default_backend();
  g_backend.compare_exchange_strong(expected, detected, std::memory_order_relaxed);
  return expected != nullptr ? *expected : *detected;
}

//! SHA-256 of a 32-byte digest: one block with fixed padding.
Hash256 hash_digest(const Sha256Digest& digest) {
  std::uint8_t block[64] = {};
  std::memcpy(block, digest.data(), 32);
  block[32] = 0x80;
  block[62] = 0x01;  // 256 bits, big-endian
  std::uint32_t state[8];
  std::memcpy(state, kInitialState.data(), sizeof state);
  backend().compress(state, block, 1);
  Hash256 out;
  store_state_be(out.bytes.data(), state);
  return out;
}

}  // namespace

// ---- Public API ----------------------------------------------------------------------------

bool sha256_shani_supported() {
  static const bool supported = detect_shani();
  return supported;
}

Sha256Backend sha256_backend() { return backend().kind; }

bool sha256_select_backend(Sha256Backend b) {
  switch (b) {
    case Sha256Backend::kPortable: g_backend.store(&kPortableBackend, std::memory_order_relaxed); return true;
    case Sha256Backend::kShaNi:
#ifdef CHEESE_SHA256_X86
      if (!sha256_shani_supported()) return false;
      g_backend.store(&kShaNiBackend, std::memory_order_relaxed);
      return true;
#else
      return false;
#endif
  }
  return false;
}

void sha256_compress(std::uint32_t state[8], const std::uint8_t* blocks, std::size_t n) {
  if (n != 0) backend().compress(state, blocks, n);
}

void sha256_compress_2way(std::uint32_t state0[8], const std::uint8_t* blocks0, std::uint32_t state1[8],
                          const std::uint8_t* blocks1, std::size_t n) {
  if (n != 0) backend().compress_2way(state0, blocks0, state1, blocks1, n);
}

Sha256::Sha256() : state_(kInitialState), buffer_{} {}

void Sha256::reset() {
  state_ = kInitialState;
  total_ = 0;
}

Sha256& Sha256::write(ByteSpan data) {
  const std::uint8_t* p = data.data();
  std::size_t len = data.size();
  if (len == 0) return *this;
  std::size_t used = static_cast<std::size_t>(total_ % 64);
  total_ += len;
  if (used != 0) {
    const std::size_t take = std::min(64 - used, len);
    std::memcpy(buffer_.data() + used, p, take);
    p += take;
    len -= take;
    used += take;
    if (used < 64) return *this;
    backend().compress(state_.data(), buffer_.data(), 1);
  }
  if (const std::size_t blocks = len / 64; blocks != 0) {
    backend().compress(state_.data(), p, blocks);
    p += blocks * 64;
    len -= blocks * 64;
  }
  if (len != 0) std::memcpy(buffer_.data(), p, len);
  return *this;
}

Sha256Digest Sha256::finalize() {
  const std::uint64_t bits = total_ * 8;
  std::size_t used = static_cast<std::size_t>(total_ % 64);
  buffer_[used++] = 0x80;
  if (used > 56) {
    std::memset(buffer_.data() + used, 0, 64 - used);
    backend().compress(state_.data(), buffer_.data(), 1);
    used = 0;
  }
  std::memset(buffer_.data() + used, 0, 56 - used);
  store_be32(buffer_.data() + 56, static_cast<std::uint32_t>(bits >> 32));
  store_be32(buffer_.data() + 60, static_cast<std::uint32_t>(bits));
  backend().compress(state_.data(), buffer_.data(), 1);
  Sha256Digest digest;
  store_state_be(digest.data(), state_.data());
  reset();
  return digest;
}

Sha256Digest sha256(ByteSpan data) { return Sha256{}.write(data).finalize(); }

Hash256 sha256d(ByteSpan data) { return hash_digest(sha256(data)); }

Hash256 sha256d(ByteSpan a, ByteSpan b) { return hash_digest(Sha256{}.write(a).write(b).finalize()); }

HeaderMidstate header_midstate(std::span<const std::uint8_t, 80> header) {
  HeaderMidstate m{kInitialState, {}};
  backend().compress(m.state.data(), header.data(), 1);
  std::memcpy(m.tail.data(), header.data() + 64, 16);
  return m;
}

Hash256 header_hash(const HeaderMidstate& m, std::uint32_t nonce) {
  Hash256 out;
  backend().header_hash(m.state.data(), m.tail.data(), nonce, out.bytes.data());
  return out;
}

void header_hash_2way(const HeaderMidstate& m, std::uint32_t nonce0, std::uint32_t nonce1, Hash256& out0,
                      Hash256& out1) {
  backend().header_hash_2way(m.state.data(), m.tail.data(), nonce0, nonce1, out0.bytes.data(), out1.bytes.data());
}

std::optional<std::uint32_t> header_search(const HeaderMidstate& m, const Hash256& target, std::uint32_t first,
                                           std::uint64_t count, std::uint64_t& tried) {
  const Backend& b = backend();
  const std::uint8_t* t = target.bytes.data();
  const std::uint32_t top_target = std::uint32_t{t[28]} | (std::uint32_t{t[29]} << 8) | (std::uint32_t{t[30]} << 16) |
                                   (std::uint32_t{t[31]} << 24);
  std::uint64_t offset = 0;
  while (offset < count) {
    const std::uint64_t hit = offset + b.header_scan(m.state.data(), m.tail.data(), top_target,
                                                     static_cast<std::uint32_t>(first + offset), count - offset);
    if (hit >= count) break;
    // A candidate by its top 32 bits: compare the whole hash, most significant byte first.
    const auto nonce = static_cast<std::uint32_t>(first + hit);
    Hash256 h;
    b.header_hash(m.state.data(), m.tail.data(), nonce, h.bytes.data());
    bool meets = true;
    for (std::size_t i = 32; i-- > 0;) {
      if (h.bytes[i] != t[i]) {
        meets = h.bytes[i] < t[i];
        break;
      }
    }
    if (meets) {
      tried = hit + 1;
      return nonce;
    }
    offset = hit + 1;
  }
  tried = count;
  return std::nullopt;
}

}  // namespace cheese
