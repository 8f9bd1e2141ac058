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
void sha256d_header_shani(const std::uint32_t midstate[8], const std::uint8_t tail[16],
                          std::uint32_t nonce, std::uint8_t out[32]);
void sha256d_header_2way_shani(const std::uint32_t midstate[8], const std::uint8_t tail[16],
                               std::uint32_t nonce0, std::uint32_t nonce1, std::uint8_t out0[32],
                               std::uint8_t out1[32]);

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

[[gnu::always_inline]] inline __m128i set_words(std::uint32_t w3, std::uint32_t w2,
                                                std::uint32_t w1, std::uint32_t w0) {
  return _mm_set_epi32(static_cast<int>(w3), static_cast<int>(w2), static_cast<int>(w1),
                       static_cast<int>(w0));
}

//! (A,B,C,D), (E,F,G,H) in lane order -> (A,B,E,F), (C,D,G,H) as the round instruction wants.
[[gnu::always_inline]] inline void to_round_layout(__m128i abcd, __m128i efgh, __m128i& abef,
                                                   __m128i& cdgh) {
  const __m128i cdab = _mm_shuffle_epi32(abcd, 0xb1);
  const __m128i efgh_rev = _mm_shuffle_epi32(efgh, 0x1b);
  abef = _mm_alignr_epi8(cdab, efgh_rev, 8);
  cdgh = _mm_blend_epi16(efgh_rev, cdab, 0xf0);
}

//! The inverse of to_round_layout.
[[gnu::always_inline]] inline void from_round_layout(__m128i abef, __m128i cdgh, __m128i& abcd,
                                                     __m128i& efgh) {
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
[[gnu::always_inline]] inline void rounds64_2way(__m128i& abef0, __m128i& cdgh0, __m128i m0[4],
                                                 __m128i& abef1, __m128i& cdgh1, __m128i m1[4]) {
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

[[gnu::always_inline]] inline void load_state(const std::uint32_t state[8], __m128i& abef,
                                              __m128i& cdgh) {
  to_round_layout(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state)),
                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4)), abef, cdgh);
}

[[gnu::always_inline]] inline void initial_state(__m128i& abef, __m128i& cdgh) {
  abef = set_words(0x6a09e667, 0xbb67ae85, 0x510e527f, 0x9b05688c);
  cdgh = set_words(0x3c6ef372, 0xa54ff53a, 0x1f83d9ab, 0x5be0cd19);
}

//! First block of the tail: header bytes 64..75 as big-endian words, the nonce (little-endian
//! in the header) as the fourth; the other three registers are the fixed padding for 640 bits.
[[gnu::always_inline]] inline void tail_message(__m128i tail_words, std::uint32_t nonce,
                                                __m128i m[4]) {
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
      m[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks + 16 * i)),
                              swap);
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

void sha256d_header_shani(const std::uint32_t midstate[8], const std::uint8_t tail[16],
                          std::uint32_t nonce, std::uint8_t out[32]) {
  __m128i mid_abef;
  __m128i mid_cdgh;
  load_state(midstate, mid_abef, mid_cdgh);
  const __m128i tail_words =
      _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tail)), byte_swap_mask());

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

void sha256d_header_2way_shani(const std::uint32_t midstate[8], const std::uint8_t tail[16],
                               std::uint32_t nonce0, std::uint32_t nonce1, std::uint8_t out0[32],
                               std::uint8_t out1[32]) {
  __m128i mid_abef;
  __m128i mid_cdgh;
  load_state(midstate, mid_abef, mid_cdgh);
  const __m128i tail_words =
      _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tail)), byte_swap_mask());

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

}  // namespace cheese::detail

#endif  // x86
