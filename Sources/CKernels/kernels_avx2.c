// SIMD implementations of the quantized dot products over packed rows, computing exactly what
// tk_dot_packed_portable computes (the contract in tessera_kernels.h): lane g of a block is the
// integer sum of elements 4g..4g+3 (AVX2 maddubs + madd, or one AVX-512 VNNI dpbusd), converted
// and fused into one accumulator per (row, activation) with the block's scale dw·dx.
//
// A tile is R weight rows × T activation rows: each weight block is unpacked once for the T
// activations and each activation block loaded once for the R rows, and the R×T accumulators
// are independent chains that hide the fused multiply-add's latency. Scale products are made
// eight blocks at a time from the packed f32 scales.
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

#include "internal.h"

#define TK_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TK_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")))

/// ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), the contract's lane sum.
#define TK_SUM8(v)                                                                            \
  ({                                                                                          \
    __m128 r_ = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));           \
    r_ = _mm_add_ps(r_, _mm_movehl_ps(r_, r_));                                               \
    r_ = _mm_add_ss(r_, _mm_movehdup_ps(r_));                                                 \
    _mm_cvtss_f32(r_);                                                                        \
  })

/// 16 bytes of nibbles → 32 bytes: low nibbles (elements 0..15), then high (16..31).
#define TK_UNPACK_NIBBLES(qs)                                                                 \
  ({                                                                                          \
    const __m256i both_ = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(qs))); \
    const __m256i shifted_ = _mm256_srli_epi16(both_, 4);                                     \
    _mm256_and_si256(_mm256_blend_epi32(both_, shifted_, 0xF0), _mm256_set1_epi8(0x0F));      \
  })

#define UNPACK_Q4_1(qs) TK_UNPACK_NIBBLES(qs)
#define UNPACK_Q4_0(qs) _mm256_sub_epi8(TK_UNPACK_NIBBLES(qs), _mm256_set1_epi8(8))
#define UNPACK_Q8_0(qs) _mm256_loadu_si256((const __m256i *)(qs))

// Lane sums: unsigned weights (Q4_1 nibbles) directly; signed ones as |w| times x·sign(w).
#define LANES_U_AVX2(w, x) _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1))
#define LANES_S_AVX2(w, x)                                                                    \
  _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)),     \
                    _mm256_set1_epi16(1))
#define LANES_U_VNNI(w, x) _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, x)
#define LANES_S_VNNI(w, x)                                                                    \
  _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w))

enum { CHUNK = 16 };  // blocks whose scale products are made at once

#define TK_TILE(R, T, QB, UNPACK, LANES, HAS_MIN)                                             \
  {                                                                                           \
    __m256 acc[R][T];                                                                         \
    float minimums[R][T];                                                                     \
    for (int r = 0; r < R; r++)                                                               \
      for (int t = 0; t < T; t++) {                                                           \
        acc[r][t] = _mm256_setzero_ps();                                                      \
        minimums[r][t] = 0.0f;                                                                \
      }                                                                                       \
    for (int start = 0; start < nb; start += CHUNK) {                                         \
      const int end = start + CHUNK < nb ? start + CHUNK : nb;                                \
      float scales[R][T][CHUNK] __attribute__((aligned(32)));                                 \
      float mins[R][CHUNK] __attribute__((aligned(32)));                                      \
      for (int r = 0; r < R; r++) {                                                           \
        int i = start;                                                                        \
        for (; i + 8 <= end; i += 8) {                                                        \
          const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w[r].d + i)));  \
          for (int t = 0; t < T; t++)                                                         \
            _mm256_store_ps(&scales[r][t][i - start], _mm256_mul_ps(dw, _mm256_loadu_ps(x[t].d + i))); \
          if (HAS_MIN)                                                                        \
            _mm256_store_ps(&mins[r][i - start],                                              \
                            _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w[r].m + i)))); \
        }                                                                                     \
        for (; i < end; i++) {                                                                \
          const float dw = _cvtsh_ss(w[r].d[i]);                                              \
          for (int t = 0; t < T; t++) scales[r][t][i - start] = dw * x[t].d[i];               \
          if (HAS_MIN) mins[r][i - start] = _cvtsh_ss(w[r].m[i]);                             \
        }                                                                                     \
      }                                                                                       \
      for (int i = start; i < end; i++) {                                                     \
        __m256i wq[R];                                                                        \
        for (int r = 0; r < R; r++) wq[r] = UNPACK(w[r].qs + (size_t)i * QB);                 \
        for (int t = 0; t < T; t++) {                                                         \
          const __m256i xv = _mm256_loadu_si256((const __m256i *)(x[t].qs + (size_t)i * 32)); \
          for (int r = 0; r < R; r++) {                                                       \
            const __m256 f = _mm256_cvtepi32_ps(LANES(wq[r], xv));                            \
            acc[r][t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&scales[r][t][i - start]), f, acc[r][t]); \
            if (HAS_MIN) minimums[r][t] = fmaf(mins[r][i - start], x[t].s[i], minimums[r][t]); \
          }                                                                                   \
        }                                                                                     \
      }                                                                                       \
    }                                                                                         \
    for (int r = 0; r < R; r++)                                                               \
      for (int t = 0; t < T; t++)                                                             \
        out[(size_t)t * out_stride + r] = TK_SUM8(acc[r][t]) + minimums[r][t];                \
  }

#define TK_TILES(name, TARGET, QB, UNPACK, LANES, HAS_MIN)                                      \
  TARGET static void name(const tk_w_view *w_all, int rows, const tk_q8_view *x, int count,     \
                          int nb, float *out_all, size_t out_stride) {                           \
    if (rows == 4 && count == 1) {                                                              \
      const tk_w_view *w = w_all;                                                               \
      float *out = out_all;                                                                     \
      TK_TILE(4, 1, QB, UNPACK, LANES, HAS_MIN)                                                 \
    } else if (rows == 4 && count == 2) {                                                       \
      const tk_w_view *w = w_all;                                                               \
      float *out = out_all;                                                                     \
      TK_TILE(4, 2, QB, UNPACK, LANES, HAS_MIN)                                                 \
    } else if (rows == 2 && count == 1 && QB == 16) {                                          \
      const tk_w_view *w = w_all;                                                               \
      float *out = out_all;                                                                     \
      TK_TILE(2, 1, QB, UNPACK, LANES, HAS_MIN)                                                 \
    } else if (rows == 2 && count == 4) {                                                       \
      const tk_w_view *w = w_all;                                                               \
      float *out = out_all;                                                                     \
      TK_TILE(2, 4, QB, UNPACK, LANES, HAS_MIN)                                                 \
    } else {                                                                                    \
      for (int row = 0; row < rows; row++) {                                                    \
        const tk_w_view *w = w_all + row;                                                       \
        float *out = out_all + row;                                                             \
        switch (count) {                                                                        \
        case 4: TK_TILE(1, 4, QB, UNPACK, LANES, HAS_MIN) break;                                \
        case 3: TK_TILE(1, 3, QB, UNPACK, LANES, HAS_MIN) break;                                \
        case 2: TK_TILE(1, 2, QB, UNPACK, LANES, HAS_MIN) break;                                \
        default: TK_TILE(1, 1, QB, UNPACK, LANES, HAS_MIN) break;                               \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
  }

TK_TILES(tile_q4_1_avx2, TK_AVX2, 16, UNPACK_Q4_1, LANES_U_AVX2, 1)
TK_TILES(tile_q4_0_avx2, TK_AVX2, 16, UNPACK_Q4_0, LANES_S_AVX2, 0)
TK_TILES(tile_q8_0_avx2, TK_AVX2, 32, UNPACK_Q8_0, LANES_S_AVX2, 0)
TK_TILES(tile_q4_1_vnni, TK_VNNI, 16, UNPACK_Q4_1, LANES_U_VNNI, 1)
TK_TILES(tile_q4_0_vnni, TK_VNNI, 16, UNPACK_Q4_0, LANES_S_VNNI, 0)
TK_TILES(tile_q8_0_vnni, TK_VNNI, 32, UNPACK_Q8_0, LANES_S_VNNI, 0)

tk_quant_tile_fn tk_quant_tile_avx2(int type, int vnni) {
  switch (type) {
  case TK_TYPE_Q4_1: return vnni ? tile_q4_1_vnni : tile_q4_1_avx2;
  case TK_TYPE_Q4_0: return vnni ? tile_q4_0_vnni : tile_q4_0_avx2;
  case TK_TYPE_Q8_0: return vnni ? tile_q8_0_vnni : tile_q8_0_avx2;
  default: return 0;
  }
}
#endif
