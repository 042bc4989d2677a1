// AVX2 implementations of the quantized dot products, computing exactly what the portable
// ones in quant.c compute (see the contract in tessera_kernels.h): maddubs + madd give lane g
// the integer sum of elements 4g..4g+3, and no instruction fuses a multiply with an add.
// Each weight block is unpacked once and used for up to four activation rows.
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

#include "internal.h"

#define TK_AVX2 __attribute__((target("avx2,fma,f16c")))

/// ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), the contract's lane sum.
TK_AVX2 static inline float sum8(__m256 v) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

TK_AVX2 static inline float half(const uint8_t *p) {
  return _cvtsh_ss(tk_load_u16(p));
}

/// 16 bytes of nibbles → 32 bytes: low nibbles (elements 0..15), then high (16..31).
TK_AVX2 static inline __m256i unpack_nibbles(const uint8_t *qs) {
  const __m128i q = _mm_loadu_si128((const __m128i *)qs);
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(q, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
  return _mm256_set_m128i(hi, lo);
}

/// Lane g = Σ_{e=4g}^{4g+3} w[e]·x[e] for unsigned weights 0..15.
TK_AVX2 static inline __m256i lanes_unsigned(__m256i w, const int8_t *xq) {
  const __m256i x = _mm256_loadu_si256((const __m256i *)xq);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}

/// The same for signed weights: |w| times x carrying w's sign.
TK_AVX2 static inline __m256i lanes_signed(__m256i w, const int8_t *xq) {
  const __m256i x = _mm256_loadu_si256((const __m256i *)xq);
  const __m256i product = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
  return _mm256_madd_epi16(product, _mm256_set1_epi16(1));
}

// One block for every activation row: lanes → float, fused into the accumulator with the
// block scale. COUNT is a constant at every call, so the accumulators stay in registers.
#define TK_ROWS_BODY(COUNT, block_bytes, unpack, lanes, has_min)                               \
  {                                                                                           \
    __m256 acc[COUNT];                                                                        \
    float minimums[COUNT];                                                                    \
    for (int t = 0; t < COUNT; t++) {                                                         \
      acc[t] = _mm256_setzero_ps();                                                           \
      minimums[t] = 0.0f;                                                                     \
    }                                                                                         \
    for (int i = 0; i < nb; i++, w += block_bytes) {                                          \
      const __m256i wq = unpack(w);                                                           \
      const float dw = half(w);                                                               \
      const float mw = has_min ? half(w + 2) : 0.0f;                                          \
      for (int t = 0; t < COUNT; t++) {                                                       \
        const tk_block_q8 *xb = &x[t][i];                                                     \
        const __m256 f = _mm256_cvtepi32_ps(lanes(wq, xb->qs));                               \
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xb->d), f, acc[t]);                      \
        if (has_min) minimums[t] = fmaf(mw, xb->s, minimums[t]);                              \
      }                                                                                       \
    }                                                                                         \
    for (int t = 0; t < COUNT; t++) out[t] = sum8(acc[t]) + minimums[t];                      \
  }

#define TK_ROWS_AVX2(name, block_bytes, unpack, lanes, has_min)                                \
  TK_AVX2 static void name(const uint8_t *w, const tk_block_q8 *const *x, int count, int nb,    \
                           float *out) {                                                        \
    switch (count) {                                                                            \
    case 4: TK_ROWS_BODY(4, block_bytes, unpack, lanes, has_min) break;                         \
    case 3: TK_ROWS_BODY(3, block_bytes, unpack, lanes, has_min) break;                         \
    case 2: TK_ROWS_BODY(2, block_bytes, unpack, lanes, has_min) break;                         \
    default: TK_ROWS_BODY(1, block_bytes, unpack, lanes, has_min) break;                        \
    }                                                                                           \
  }

TK_AVX2 static inline __m256i unpack_q4_1(const uint8_t *w) { return unpack_nibbles(w + 4); }
TK_AVX2 static inline __m256i unpack_q4_0(const uint8_t *w) {
  return _mm256_sub_epi8(unpack_nibbles(w + 2), _mm256_set1_epi8(8));
}
TK_AVX2 static inline __m256i unpack_q8_0(const uint8_t *w) {
  return _mm256_loadu_si256((const __m256i *)(w + 2));
}

TK_ROWS_AVX2(rows_q4_1_avx2, 20, unpack_q4_1, lanes_unsigned, 1)
TK_ROWS_AVX2(rows_q4_0_avx2, 18, unpack_q4_0, lanes_signed, 0)
TK_ROWS_AVX2(rows_q8_0_avx2, 34, unpack_q8_0, lanes_signed, 0)

tk_quant_rows_fn tk_quant_rows_avx2(int type) {
  switch (type) {
  case TK_TYPE_Q4_1: return rows_q4_1_avx2;
  case TK_TYPE_Q4_0: return rows_q4_0_avx2;
  case TK_TYPE_Q8_0: return rows_q8_0_avx2;
  default: return 0;
  }
}
#endif
