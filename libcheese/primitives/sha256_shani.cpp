// SHA-256 with the x86 SHA extensions. This file alone is compiled with -msha -msse4.1 -mssse3,
// and sha256.cpp calls into it only after CPUID reported those extensions. It deliberately
// includes no header that defines inline functions or templates (only the intrinsics and the
// integer typedefs): a copy instantiated here could be the one the linker keeps for the whole
// program, and would then run on CPUs without SHA-NI.

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace cheese::detail {

// Defined in sha256.cpp, which also declares the functions below.
alignas(16) extern const std::uint32_t kSha256RoundConstants[64];

void sha256_compress_shani(std::uint32_t state[8], const std::uint8_t* blocks, std::size_t n);
void sha256d_header_shani(const std::uint32_t midstate[8], const std::uint8_t tail[16], std::uint32_t nonce,
                          std::uint8_t out[32]);
void sha256d_header_2way_shani(const std::uint32_t midstate[8], const std::uint8_t tail[16], std::uint32_t nonce0,
                               std::uint32_t nonce1, std::uint8_t out0[32], std::uint8_t out1[32]);
void sha256_compress_2way_shani(std::uint32_t state0[8], const std::uint8_t* blocks0, std::uint32_t state1[8],
                                const std::uint8_t* blocks1, std::size_t n);
std::uint64_t header_scan_shani(const std::uint32_t midstate[8], const std::uint8_t tail[16],
                                std::uint32_t top_target, std::uint32_t first, std::uint64_t count);

}  // namespace cheese::detail

namespace {

using cheese::detail::kSha256RoundConstants;

// The SHA-NI round instruction keeps the state as two registers, (A,B,E,F) and (C,D,G,H),
// highest lane first; the message registers hold four schedule words, lowest lane first.

//! Reverses the bytes of each 32-bit lane (big-endian words <-> integers).
[[gnu::always_inline]] inline __m128i byte_swap_mask() {
  return _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
}

[[gnu::always_inline]] inline __m128i round_constants(int group) {
  return _mm_load_si128(reinterpret_cast<const __m128i*>(kSha256RoundConstants + 4 * group));
}

[[gnu::always_inline]] inline __m128i set_words(std::uint32_t w3, std::uint32_t w2, std::uint32_t w1,
                                                std::uint32_t w0) {
  return _mm_set_epi32(static_cast<int>(w3), static_cast<int>(w2), static_cast<int>(w1), static_cast<int>(w0));
}

//! (A,B,C,D), (E,F,G,H) in lane order -> (A,B,E,F), (C,D,G,H) as the round instruction wants.
[[gnu::always_inline]] inline void to_round_layout(__m128i abcd, __m128i efgh, __m128i& abef, __m128i& cdgh) {
  const __m128i cdab = _mm_shuffle_epi32(abcd, 0xb1);
  const __m128i efgh_rev = _mm_shuffle_epi32(efgh, 0x1b);
  abef = _mm_alignr_epi8(cdab, efgh_rev, 8);
  cdgh = _mm_blend_epi16(efgh_rev, cdab, 0xf0);
}

//! The inverse of to_round_layout.
[[gnu::always_inline]] inline void from_round_layout(__m128i abef, __m128i cdgh, __m128i& abcd, __m128i& efgh) {
  const __m128i feba = _mm_shuffle_epi32(abef, 0x1b);
  const __m128i dchg = _mm_shuffle_epi32(cdgh, 0xb1);
  abcd = _mm_blend_epi16(feba, dchg, 0xf0);
  efgh = _mm_alignr_epi8(dchg, feba, 8);
}

//! Message words 4g..4g+3 into m[g % 4], from the four previous groups held in m.
[[gnu::always_inline]] inline void schedule(__m128i m[4], int g) {
  const __m128i prev1 = m[(g + 3) % 4];
  const __m128i prev2 = m[(g + 2) % 4];
  __m128i& cur = m[g % 4];
  cur = _mm_sha256msg1_epu32(cur, m[(g + 1) % 4]);
  cur = _mm_add_epi32(cur, _mm_alignr_epi8(prev1, prev2, 4));
  cur = _mm_sha256msg2_epu32(cur, prev1);
}

//! Four rounds with the message-plus-constant words wk.
[[gnu::always_inline]] inline void rounds4(__m128i& abef, __m128i& cdgh, __m128i wk) {
  cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
  abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));
}

//! 64 rounds on message m (clobbered); the caller adds the input state afterwards.
[[gnu::always_inline]] inline void rounds64(__m128i& abef, __m128i& cdgh, __m128i m[4]) {
#pragma GCC unroll 16
  for (int g = 0; g < 16; ++g) {
    if (g >= 4) schedule(m, g);
    rounds4(abef, cdgh, _mm_add_epi32(m[g % 4], round_constants(g)));
  }
}

//! Two independent streams, interleaved instruction by instruction so that the round
//! instructions of one fill the latency of the other's.
[[gnu::always_inline]] inline void rounds64_2way(__m128i& abef0, __m128i& cdgh0, __m128i m0[4], __m128i& abef1,
                                                 __m128i& cdgh1, __m128i m1[4]) {
#pragma GCC unroll 16
  for (int g = 0; g < 16; ++g) {
    if (g >= 4) {
      schedule(m0, g);
      schedule(m1, g);
    }
    const __m128i k = round_constants(g);
    const __m128i wk0 = _mm_add_epi32(m0[g % 4], k);
    const __m128i wk1 = _mm_add_epi32(m1[g % 4], k);
    cdgh0 = _mm_sha256rnds2_epu32(cdgh0, abef0, wk0);
    cdgh1 = _mm_sha256rnds2_epu32(cdgh1, abef1, wk1);
    abef0 = _mm_sha256rnds2_epu32(abef0, cdgh0, _mm_shuffle_epi32(wk0, 0x0e));
    abef1 = _mm_sha256rnds2_epu32(abef1, cdgh1, _mm_shuffle_epi32(wk1, 0x0e));
  }
}

[[gnu::always_inline]] inline void load_state(const std::uint32_t state[8], __m128i& abef, __m128i& cdgh) {
  to_round_layout(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state)),
                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4)), abef, cdgh);
}

[[gnu::always_inline]] inline void initial_state(__m128i& abef, __m128i& cdgh) {
  abef = set_words(0x6a09e667, 0xbb67ae85, 0x510e527f, 0x9b05688c);
  cdgh = set_words(0x3c6ef372, 0xa54ff53a, 0x1f83d9ab, 0x5be0cd19);
}

//! First block of the tail: header bytes 64..75 as big-endian words, the nonce (little-endian
//! in the header) as the fourth; the other three registers are the fixed padding for 640 bits.
[[gnu::always_inline]] inline void tail_message(__m128i tail_words, std::uint32_t nonce, __m128i m[4]) {
  m[0] = _mm_insert_epi32(tail_words, static_cast<int>(__builtin_bswap32(nonce)), 3);
  m[1] = set_words(0, 0, 0, 0x80000000);
  m[2] = _mm_setzero_si128();
  m[3] = set_words(640, 0, 0, 0);
}

//! Block of the second hash: the first digest (its state words, already in message order)
//! followed by the fixed padding for 256 bits.
[[gnu::always_inline]] inline void digest_message(__m128i abef, __m128i cdgh, __m128i m[4]) {
  from_round_layout(abef, cdgh, m[0], m[1]);
  m[2] = set_words(0, 0, 0, 0x80000000);
  m[3] = set_words(256, 0, 0, 0);
}

[[gnu::always_inline]] inline void store_digest(__m128i abef, __m128i cdgh, std::uint8_t out[32]) {
  __m128i abcd;
  __m128i efgh;
  from_round_layout(abef, cdgh, abcd, efgh);
  const __m128i swap = byte_swap_mask();
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_shuffle_epi8(abcd, swap));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), _mm_shuffle_epi8(efgh, swap));
}

}  // namespace

namespace cheese::detail {

void sha256_compress_shani(std::uint32_t state[8], const std::uint8_t* blocks, std::size_t n) {
  __m128i abef;
  __m128i cdgh;
  load_state(state, abef, cdgh);
  const __m128i swap = byte_swap_mask();
  for (std::size_t blk = 0; blk < n; ++blk, blocks += 64) {
    const __m128i abef_in = abef;
    const __m128i cdgh_in = cdgh;
    __m128i m[4];
    for (int i = 0; i < 4; ++i) {
      m[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks + 16 * i)), swap);
    }
    rounds64(abef, cdgh, m);
    abef = _mm_add_epi32(abef, abef_in);
    cdgh = _mm_add_epi32(cdgh, cdgh_in);
  }
  __m128i abcd;
  __m128i efgh;
  from_round_layout(abef, cdgh, abcd, efgh);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), abcd);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), efgh);
}

void sha256d_header_shani(const std::uint32_t midstate[8], const std::uint8_t tail[16], std::uint32_t nonce,
                          std::uint8_t out[32]) {
  __m128i mid_abef;
  __m128i mid_cdgh;
  load_state(midstate, mid_abef, mid_cdgh);
  const __m128i tail_words = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tail)),
                                              byte_swap_mask());

  __m128i m[4];
  tail_message(tail_words, nonce, m);
  __m128i abef = mid_abef;
  __m128i cdgh = mid_cdgh;
  rounds64(abef, cdgh, m);
  abef = _mm_add_epi32(abef, mid_abef);
  cdgh = _mm_add_epi32(cdgh, mid_cdgh);

  digest_message(abef, cdgh, m);
  __m128i iv_abef;
  __m128i iv_cdgh;
  initial_state(iv_abef, iv_cdgh);
  abef = iv_abef;
  cdgh = iv_cdgh;
  rounds64(abef, cdgh, m);
  store_digest(_mm_add_epi32(abef, iv_abef), _mm_add_epi32(cdgh, iv_cdgh), out);
}

void sha256d_header_2way_shani(const std::uint32_t midstate[8], const std::uint8_t tail[16], std::uint32_t nonce0,
                               std::uint32_t nonce1, std::uint8_t out0[32], std::uint8_t out1[32]) {
  __m128i mid_abef;
  __m128i mid_cdgh;
  load_state(midstate, mid_abef, mid_cdgh);
  const __m128i tail_words = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tail)),
                                              byte_swap_mask());

  __m128i m0[4];
  __m128i m1[4];
  tail_message(tail_words, nonce0, m0);
  tail_message(tail_words, nonce1, m1);
  __m128i abef0 = mid_abef;
  __m128i cdgh0 = mid_cdgh;
  __m128i abef1 = mid_abef;
  __m128i cdgh1 = mid_cdgh;
  rounds64_2way(abef0, cdgh0, m0, abef1, cdgh1, m1);
  abef0 = _mm_add_epi32(abef0, mid_abef);
  cdgh0 = _mm_add_epi32(cdgh0, mid_cdgh);
  abef1 = _mm_add_epi32(abef1, mid_abef);
  cdgh1 = _mm_add_epi32(cdgh1, mid_cdgh);

  digest_message(abef0, cdgh0, m0);
  digest_message(abef1, cdgh1, m1);
  __m128i iv_abef;
  __m128i iv_cdgh;
  initial_state(iv_abef, iv_cdgh);
  abef0 = iv_abef;
  cdgh0 = iv_cdgh;
  abef1 = iv_abef;
  cdgh1 = iv_cdgh;
  rounds64_2way(abef0, cdgh0, m0, abef1, cdgh1, m1);
  store_digest(_mm_add_epi32(abef0, iv_abef), _mm_add_epi32(cdgh0, iv_cdgh), out0);
  store_digest(_mm_add_epi32(abef1, iv_abef), _mm_add_epi32(cdgh1, iv_cdgh), out1);
}

void sha256_compress_2way_shani(std::uint32_t state0[8], const std::uint8_t* blocks0, std::uint32_t state1[8],
                                const std::uint8_t* blocks1, std::size_t n) {
  __m128i abef0;
  __m128i cdgh0;
  __m128i abef1;
  __m128i cdgh1;
  load_state(state0, abef0, cdgh0);
  load_state(state1, abef1, cdgh1);
  const __m128i swap = byte_swap_mask();
  for (std::size_t blk = 0; blk < n; ++blk, blocks0 += 64, blocks1 += 64) {
    const __m128i abef0_in = abef0;
    const __m128i cdgh0_in = cdgh0;
    const __m128i abef1_in = abef1;
    const __m128i cdgh1_in = cdgh1;
    __m128i m0[4];
    __m128i m1[4];
    for (int i = 0; i < 4; ++i) {
      m0[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks0 + 16 * i)), swap);
      m1[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks1 + 16 * i)), swap);
    }
    rounds64_2way(abef0, cdgh0, m0, abef1, cdgh1, m1);
    abef0 = _mm_add_epi32(abef0, abef0_in);
    cdgh0 = _mm_add_epi32(cdgh0, cdgh0_in);
    abef1 = _mm_add_epi32(abef1, abef1_in);
    cdgh1 = _mm_add_epi32(cdgh1, cdgh1_in);
  }
  __m128i abcd;
  __m128i efgh;
  from_round_layout(abef0, cdgh0, abcd, efgh);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state0), abcd);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state0 + 4), efgh);
  from_round_layout(abef1, cdgh1, abcd, efgh);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state1), abcd);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state1 + 4), efgh);
}

// The nonce search. Per nonce a header hash costs two compressions (the tail block on the
// midstate, then the 32-byte digest); what makes it cheaper than two header_hash calls:
//  - two nonces are hashed side by side, so the round instructions of one stream fill the
//    latency of the other's (the SHA unit's throughput rather than its latency);
//  - rounds 0 and 1 of the tail block see only header bytes 64..71, which do not depend on the
//    nonce: they are done once per midstate (31 instead of 32 double-rounds);
//  - the message words after the nonce are fixed padding, so their round-constant sums are
//    precomputed, and the second block's padding words likewise;
//  - a block hash only qualifies if its most significant 32-bit word (the last state word H of
//    the second compression, byte-reversed) is at most the target's: H after 64 rounds is F
//    after 62, so the last double-round of the second compression is skipped too, and the
//    digest is never stored. Candidates are checked in full by the caller.
// The loop keeps everything in registers: no memcpy, no byte swaps of message words.
namespace {

struct ScanConstants {
  __m128i mid_abef;  //!< midstate
  __m128i mid_cdgh;
  __m128i abef_r2;     //!< (A,B,E,F) of the tail block after rounds 0 and 1
  __m128i tail_words;  //!< header words 16..18 (big-endian), lane 3 free for the nonce
  __m128i wk1;         //!< message + constants of rounds 4..7, 8..11, 12..15 (fixed padding)
  __m128i wk2;
  __m128i wk3;
  __m128i pad_m2;  //!< tail block message words 8..11 and 12..15
  __m128i pad_m3;
  __m128i iv_abef;
  __m128i iv_cdgh;
  __m128i d_m2;  //!< second block message words 8..11 and 12..15
  __m128i d_m3;
  __m128i d_wk2;
  __m128i d_wk3;
};

[[gnu::always_inline]] inline void rounds2(__m128i& abef, __m128i& cdgh, __m128i wk) {
  cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
}

//! Two streams: rounds 4g..4g+3 (schedule first when g >= 4) with message m (ring of 4).
[[gnu::always_inline]] inline void group_2way(int g, __m128i& abef0, __m128i& cdgh0, __m128i m0[4], __m128i& abef1,
                                              __m128i& cdgh1, __m128i m1[4], bool last_half_only = false) {
  if (g >= 4) {
    schedule(m0, g);
    schedule(m1, g);
  }
  const __m128i k = round_constants(g);
  const __m128i wk0 = _mm_add_epi32(m0[g % 4], k);
  const __m128i wk1 = _mm_add_epi32(m1[g % 4], k);
  cdgh0 = _mm_sha256rnds2_epu32(cdgh0, abef0, wk0);
  cdgh1 = _mm_sha256rnds2_epu32(cdgh1, abef1, wk1);
  if (last_half_only) return;
  abef0 = _mm_sha256rnds2_epu32(abef0, cdgh0, _mm_shuffle_epi32(wk0, 0x0e));
  abef1 = _mm_sha256rnds2_epu32(abef1, cdgh1, _mm_shuffle_epi32(wk1, 0x0e));
}

//! Rounds 4g..4g+3 of both streams with the same precomputed message-plus-constant words.
[[gnu::always_inline]] inline void group_2way_fixed(__m128i& abef0, __m128i& cdgh0, __m128i& abef1, __m128i& cdgh1,
                                                    __m128i wk) {
  const __m128i wk_hi = _mm_shuffle_epi32(wk, 0x0e);
  cdgh0 = _mm_sha256rnds2_epu32(cdgh0, abef0, wk);
  cdgh1 = _mm_sha256rnds2_epu32(cdgh1, abef1, wk);
  abef0 = _mm_sha256rnds2_epu32(abef0, cdgh0, wk_hi);
  abef1 = _mm_sha256rnds2_epu32(abef1, cdgh1, wk_hi);
}

ScanConstants scan_constants(const std::uint32_t midstate[8], const std::uint8_t tail[16]) {
  ScanConstants c;
  load_state(midstate, c.mid_abef, c.mid_cdgh);
  c.tail_words = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tail)), byte_swap_mask());
  c.tail_words = _mm_insert_epi32(c.tail_words, 0, 3);
  __m128i m[4];
  tail_message(c.tail_words, 0, m);
  // Rounds 0 and 1 use message words 0 and 1 only.
  __m128i cdgh = c.mid_cdgh;
  rounds2(c.mid_abef, cdgh, _mm_add_epi32(m[0], round_constants(0)));
  c.abef_r2 = cdgh;
  c.wk1 = _mm_add_epi32(m[1], round_constants(1));
  c.wk2 = _mm_add_epi32(m[2], round_constants(2));
  c.wk3 = _mm_add_epi32(m[3], round_constants(3));
  c.pad_m2 = m[2];
  c.pad_m3 = m[3];
  initial_state(c.iv_abef, c.iv_cdgh);
  c.d_m2 = set_words(0, 0, 0, 0x80000000);
  c.d_m3 = set_words(256, 0, 0, 0);
  c.d_wk2 = _mm_add_epi32(c.d_m2, round_constants(2));
  c.d_wk3 = _mm_add_epi32(c.d_m3, round_constants(3));
  return c;
}

//! The last state word (H) of sha256d(header) for two nonces; only F after 62 rounds of the
//! second compression is needed for it.
[[gnu::always_inline]] inline void top_words_2way(const ScanConstants& c, __m128i nonce_words, std::uint32_t& h0,
                                                  std::uint32_t& h1) {
  // nonce_words: lane 0 and lane 1 hold the two nonces as big-endian message words.
  __m128i m0[4];
  __m128i m1[4];
  m0[0] = _mm_blend_epi16(c.tail_words, _mm_shuffle_epi32(nonce_words, 0x00), 0xc0);
  m1[0] = _mm_blend_epi16(c.tail_words, _mm_shuffle_epi32(nonce_words, 0x55), 0xc0);
  m0[1] = m1[1] = set_words(0, 0, 0, 0x80000000);
  m0[2] = m1[2] = c.pad_m2;
  m0[3] = m1[3] = c.pad_m3;

  // Tail block: rounds 2 and 3 (rounds 0 and 1 are in abef_r2), then 4..63.
  __m128i cdgh0 = c.abef_r2;
  __m128i cdgh1 = c.abef_r2;
  __m128i abef0;
  __m128i abef1;
  {
    const __m128i k = round_constants(0);
    abef0 = _mm_sha256rnds2_epu32(c.mid_abef, cdgh0, _mm_shuffle_epi32(_mm_add_epi32(m0[0], k), 0x0e));
    abef1 = _mm_sha256rnds2_epu32(c.mid_abef, cdgh1, _mm_shuffle_epi32(_mm_add_epi32(m1[0], k), 0x0e));
  }
  group_2way_fixed(abef0, cdgh0, abef1, cdgh1, c.wk1);
  group_2way_fixed(abef0, cdgh0, abef1, cdgh1, c.wk2);
  group_2way_fixed(abef0, cdgh0, abef1, cdgh1, c.wk3);
#pragma GCC unroll 12
  for (int g = 4; g < 16; ++g) group_2way(g, abef0, cdgh0, m0, abef1, cdgh1, m1);
  abef0 = _mm_add_epi32(abef0, c.mid_abef);
  cdgh0 = _mm_add_epi32(cdgh0, c.mid_cdgh);
  abef1 = _mm_add_epi32(abef1, c.mid_abef);
  cdgh1 = _mm_add_epi32(cdgh1, c.mid_cdgh);

  // Second block: the digest's state words are its message words 0..7.
  from_round_layout(abef0, cdgh0, m0[0], m0[1]);
  from_round_layout(abef1, cdgh1, m1[0], m1[1]);
  m0[2] = m1[2] = c.d_m2;
  m0[3] = m1[3] = c.d_m3;
  abef0 = abef1 = c.iv_abef;
  cdgh0 = cdgh1 = c.iv_cdgh;
  group_2way(0, abef0, cdgh0, m0, abef1, cdgh1, m1);
  group_2way(1, abef0, cdgh0, m0, abef1, cdgh1, m1);
  group_2way_fixed(abef0, cdgh0, abef1, cdgh1, c.d_wk2);
  group_2way_fixed(abef0, cdgh0, abef1, cdgh1, c.d_wk3);
#pragma GCC unroll 11
  for (int g = 4; g < 15; ++g) group_2way(g, abef0, cdgh0, m0, abef1, cdgh1, m1);
  // Rounds 60 and 61 only: the new (A,B,E,F) lands in cdgh; its F (lane 0) is H after 64 rounds.
  group_2way(15, abef0, cdgh0, m0, abef1, cdgh1, m1, true);
  h0 = static_cast<std::uint32_t>(_mm_cvtsi128_si32(cdgh0)) + 0x5be0cd19u;
  h1 = static_cast<std::uint32_t>(_mm_cvtsi128_si32(cdgh1)) + 0x5be0cd19u;
}

}  // namespace

std::uint64_t header_scan_shani(const std::uint32_t midstate[8], const std::uint8_t tail[16],
                                std::uint32_t top_target, std::uint32_t first, std::uint64_t count) {
  const ScanConstants c = scan_constants(midstate, tail);
  // The hash as a little-endian number has its top 32 bits in the byte reversal of H.
  std::uint64_t i = 0;
  for (; i + 1 < count; i += 2) {
    const auto n0 = static_cast<std::uint32_t>(first + i);
    const auto n1 = static_cast<std::uint32_t>(n0 + 1);
    const __m128i nonce_words = _mm_cvtsi32_si128(static_cast<int>(__builtin_bswap32(n0)));
    std::uint32_t h0;
    std::uint32_t h1;
    top_words_2way(c, _mm_insert_epi32(nonce_words, static_cast<int>(__builtin_bswap32(n1)), 1), h0, h1);
    if (__builtin_bswap32(h0) <= top_target) [[unlikely]]
      return i;
    if (__builtin_bswap32(h1) <= top_target) [[unlikely]]
      return i + 1;
  }
  if (i < count) {
    const auto n0 = static_cast<std::uint32_t>(first + i);
    const __m128i nonce_words = _mm_set1_epi32(static_cast<int>(__builtin_bswap32(n0)));
    std::uint32_t h0;
    std::uint32_t h1;
    top_words_2way(c, nonce_words, h0, h1);
    if (__builtin_bswap32(h0) <= top_target) return i;
  }
  return count;
}

}  // namespace cheese::detail

#endif  // x86
