// AVX2 implementations of the quantized dot products, computing exactly what the portable
// ones in quant.c compute (see the contract in tessera_kernels.h): maddubs + madd give lane g
// the integer sum of elements 4g..4g+3, converted and fused into one accumulator per pair.
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
TK_AVX2 static inline __m256i lanes_unsigned(__m256i w, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}

/// The same for signed weights: |w| times x carrying w's sign.
TK_AVX2 static inline __m256i lanes_signed(__m256i w, __m256i x) {
  const __m256i product = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
  return _mm256_madd_epi16(product, _mm256_set1_epi16(1));
}

TK_AVX2 static inline __m256i unpack_q4_1(const uint8_t *w) { return unpack_nibbles(w + 4); }
TK_AVX2 static inline __m256i unpack_q4_0(const uint8_t *w) {
  return _mm256_sub_epi8(unpack_nibbles(w + 2), _mm256_set1_epi8(8));
}
TK_AVX2 static inline __m256i unpack_q8_0(const uint8_t *w) {
  return _mm256_loadu_si256((const __m256i *)(w + 2));
}

// A tile of R weight rows × T activation rows. Each weight block is unpacked once for the T
// activations and each activation block loaded once for the R rows; the R×T accumulators
// are independent chains, which hides the latency of the fused multiply-add. R and T are
// constants at every expansion, so the accumulators live in registers. Each (row, activation)
// pair still computes exactly the contract's sequence of operations.
#define TK_TILE(R, T, block_bytes, unpack, lanes, has_min)                                      \
  {                                                                                           \
    __m256 acc[R][T];                                                                         \
    float minimums[R][T];                                                                     \
    for (int r = 0; r < R; r++)                                                               \
      for (int t = 0; t < T; t++) {                                                           \
        acc[r][t] = _mm256_setzero_ps();                                                      \
        minimums[r][t] = 0.0f;                                                                \
      }                                                                                       \
    for (int i = 0; i < nb; i++) {                                                            \
      __m256i wq[R];                                                                          \
      float dw[R], mw[R];                                                                     \
      for (int r = 0; r < R; r++) {                                                           \
        const uint8_t *b = w + (size_t)r * row_bytes + (size_t)i * block_bytes;               \
        wq[r] = unpack(b);                                                                    \
        dw[r] = half(b);                                                                      \
        mw[r] = has_min ? half(b + 2) : 0.0f;                                                 \
      }                                                                                       \
      for (int t = 0; t < T; t++) {                                                           \
        const tk_block_q8 *xb = &x[t][i];                                                     \
        const __m256i xv = _mm256_loadu_si256((const __m256i *)xb->qs);                       \
        for (int r = 0; r < R; r++) {                                                         \
          const __m256 f = _mm256_cvtepi32_ps(lanes(wq[r], xv));                              \
          acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(dw[r] * xb->d), f, acc[r][t]);           \
          if (has_min) minimums[r][t] = fmaf(mw[r], xb->s, minimums[r][t]);                   \
        }                                                                                     \
      }                                                                                       \
    }                                                                                         \
    for (int r = 0; r < R; r++)                                                               \
      for (int t = 0; t < T; t++) out[(size_t)t * out_stride + r] = sum8(acc[r][t]) + minimums[r][t]; \
  }

#define TK_TILES_AVX2(name, block_bytes, unpack, lanes, has_min)                               \
  TK_AVX2 static void name(const uint8_t *w, size_t row_bytes, int rows,                       \
                           const tk_block_q8 *const *x, int count, int nb, float *out,          \
                           size_t out_stride) {                                                 \
    if (rows == 4 && count == 1) TK_TILE(4, 1, block_bytes, unpack, lanes, has_min)            \
    else if (rows == 4 && count == 2) TK_TILE(4, 2, block_bytes, unpack, lanes, has_min)       \
    else if (rows == 2 && count == 3) TK_TILE(2, 3, block_bytes, unpack, lanes, has_min)       \
    else if (rows == 2 && count == 4) TK_TILE(2, 4, block_bytes, unpack, lanes, has_min)       \
    else {                                                                                      \
      for (int row = 0; row < rows; row++, w += row_bytes, out++) {                             \
        switch (count) {                                                                        \
        case 4: TK_TILE(1, 4, block_bytes, unpack, lanes, has_min) break;                      \
        case 3: TK_TILE(1, 3, block_bytes, unpack, lanes, has_min) break;                      \
        case 2: TK_TILE(1, 2, block_bytes, unpack, lanes, has_min) break;                      \
        default: TK_TILE(1, 1, block_bytes, unpack, lanes, has_min) break;                     \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
  }

TK_TILES_AVX2(tile_q4_1_avx2, 20, unpack_q4_1, lanes_unsigned, 1)
TK_TILES_AVX2(tile_q4_0_avx2, 18, unpack_q4_0, lanes_signed, 0)
TK_TILES_AVX2(tile_q8_0_avx2, 34, unpack_q8_0, lanes_signed, 0)

tk_quant_tile_fn tk_quant_tile_avx2(int type) {
  switch (type) {
  case TK_TYPE_Q4_1: return tile_q4_1_avx2;
  case TK_TYPE_Q4_0: return tile_q4_0_avx2;
  case TK_TYPE_Q8_0: return tile_q8_0_avx2;
  default: return 0;
  }
}
#endif
