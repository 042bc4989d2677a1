// The exps whose every step the arithmetic contract fixes, built from IEEE-754 +, -, × only,
// so that the portable code and every SIMD level give the same bits (this target is compiled
// with -ffp-contract=off).
//
// tk_exp (double; sampling.c defines the scalar one): see sampling.c. Its lanes here serve the
// sampler's sums and attention's softmax numerator, (float)tk_exp(x): within 1e-16 of e^x
// before the one rounding to float, so nearly always the correctly rounded float, as glibc's
// expf nearly always is. (A float polynomial's few ulps moved enough of attention's f16
// probabilities to flip near-ties of SmolLM2's goldens.)
//
// tk_expf (float, for x ≤ 0), the sampler's weights when nothing is truncated: Cody–Waite
// reduction x = k·ln2 + r with Cephes's split of ln 2 (k·C1 is exact), a degree-7 Taylor
// polynomial for e^r (truncation < 1e-8 relative), then scaling by 2^k. Below e^-87 (and
// for NaN) the result is 0: next to the maximum's e^0 = 1 such a weight cannot matter. Above 0
// the scaling would overflow its exponent field; callers pass x - max.
#ifndef TESSERA_EXP_H
#define TESSERA_EXP_H

#include <stdint.h>
#include <string.h>

#include "tessera_kernels.h"

static const double LN2_HIGH = 6.93147180369123816490e-01;  // low 32 bits zero
static const double LN2_LOW = 1.90821492927058770002e-10;
static const double LOG2_E = 1.44269504088896338700;
static const double ROUNDING_SHIFTER = 6755399441055744.0;  // 1.5 × 2^52
static const double EXP_MAX = 709.782712893384;
static const double EXP_MIN = -745.1332191019411;

/// 1/n! for n = 13 … 0, the Horner order.
static const double TAYLOR[14] = {
    1.0 / 6227020800, 1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880,
    1.0 / 40320,      1.0 / 5040,      1.0 / 720,      1.0 / 120,     1.0 / 24,
    1.0 / 6,          0.5,             1,              1};

static const float TK_EXPF_MIN = -87.0f;
static const float TK_LOG2_E_F = 1.44269504088896341f;
static const float TK_EXPF_SHIFTER = 12582912.0f;  // 1.5 × 2^23: adding it rounds to an integer
static const float TK_LN2_C1 = 0.693359375f;       // exact in 9 bits
static const float TK_LN2_C2 = -2.12194440e-4f;
/// 1/n! for n = 7 … 0, the Horner order.
static const float TK_EXPF_TAYLOR[8] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24,
                                        1.0f / 6,    0.5f,        1.0f,        1.0f};

static inline float tk_expf(float x) {
  if (!(x >= TK_EXPF_MIN)) return 0;  // also NaN
  const float k = (x * TK_LOG2_E_F + TK_EXPF_SHIFTER) - TK_EXPF_SHIFTER;
  const float r = (x - k * TK_LN2_C1) - k * TK_LN2_C2;
  float p = TK_EXPF_TAYLOR[0];
  for (int i = 1; i < 8; i++) p = p * r + TK_EXPF_TAYLOR[i];
  const uint32_t bits = (uint32_t)((int)k + 127) << 23;  // k in [-126, 0] for x ≤ 0
  float scale;
  memcpy(&scale, &bits, 4);
  return p * scale;
}

/// Attention's softmax numerator for x = score - max ≤ 0: (float)tk_exp(x), and 0 below -87
/// (a weight under 1e-38 next to the maximum's 1; it rounds to an f16 probability of 0 anyway)
/// and for NaN.
static inline float tk_attention_exp(float x) {
  return x >= TK_EXPF_MIN ? (float)tk_exp((double)x) : 0.0f;
}

#if defined(__x86_64__)
#include <immintrin.h>

/// tk_exp on four lanes, for x that is not NaN and not above EXP_MAX.
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline __m256d
exp4_avx2(__m256d x) {
  const __m256d shifter = _mm256_set1_pd(ROUNDING_SHIFTER);
  const __m256d k = _mm256_sub_pd(
      _mm256_add_pd(_mm256_mul_pd(x, _mm256_set1_pd(LOG2_E)), shifter), shifter);
  const __m256d r = _mm256_sub_pd(_mm256_sub_pd(x, _mm256_mul_pd(k, _mm256_set1_pd(LN2_HIGH))),
                                  _mm256_mul_pd(k, _mm256_set1_pd(LN2_LOW)));
  __m256d p = _mm256_set1_pd(TAYLOR[0]);
  for (int i = 1; i < 14; i++) p = _mm256_add_pd(_mm256_mul_pd(p, r), _mm256_set1_pd(TAYLOR[i]));
  // Below EXP_MIN k may be out of range: those lanes compute with k = 0 and become 0 below.
  const __m256d underflow = _mm256_cmp_pd(x, _mm256_set1_pd(EXP_MIN), _CMP_LT_OQ);
  const __m128i exponent = _mm256_cvttpd_epi32(_mm256_andnot_pd(underflow, k));  // exact
  // exponent / 2, truncating toward zero like C's division: add 1 to negative values first.
  const __m128i half = _mm_srai_epi32(_mm_add_epi32(exponent, _mm_srli_epi32(exponent, 31)), 1);
  const __m256i bias = _mm256_set1_epi64x(1023);
  const __m256d scale_a = _mm256_castsi256_pd(
      _mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(half), bias), 52));
  const __m256d scale_b = _mm256_castsi256_pd(_mm256_slli_epi64(
      _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm_sub_epi32(exponent, half)), bias), 52));
  return _mm256_andnot_pd(underflow, _mm256_mul_pd(_mm256_mul_pd(p, scale_a), scale_b));
}

/// tk_exp on eight lanes, for x that is not NaN and not above EXP_MAX.
__attribute__((target("avx512f,avx512vl,avx2,fma,f16c"), always_inline)) static inline __m512d
exp8_avx512(__m512d x) {
  const __m512d shifter = _mm512_set1_pd(ROUNDING_SHIFTER);
  const __m512d k = _mm512_sub_pd(
      _mm512_add_pd(_mm512_mul_pd(x, _mm512_set1_pd(LOG2_E)), shifter), shifter);
  const __m512d r = _mm512_sub_pd(_mm512_sub_pd(x, _mm512_mul_pd(k, _mm512_set1_pd(LN2_HIGH))),
                                  _mm512_mul_pd(k, _mm512_set1_pd(LN2_LOW)));
  __m512d p = _mm512_set1_pd(TAYLOR[0]);
  for (int i = 1; i < 14; i++) p = _mm512_add_pd(_mm512_mul_pd(p, r), _mm512_set1_pd(TAYLOR[i]));
  const __mmask8 kept = _mm512_cmp_pd_mask(x, _mm512_set1_pd(EXP_MIN), _CMP_GE_OQ);
  const __m256i exponent = _mm512_cvttpd_epi32(_mm512_maskz_mov_pd(kept, k));  // exact
  const __m256i half =
      _mm256_srai_epi32(_mm256_add_epi32(exponent, _mm256_srli_epi32(exponent, 31)), 1);
  const __m512i bias = _mm512_set1_epi64(1023);
  const __m512d scale_a = _mm512_castsi512_pd(
      _mm512_slli_epi64(_mm512_add_epi64(_mm512_cvtepi32_epi64(half), bias), 52));
  const __m512d scale_b = _mm512_castsi512_pd(_mm512_slli_epi64(
      _mm512_add_epi64(_mm512_cvtepi32_epi64(_mm256_sub_epi32(exponent, half)), bias), 52));
  return _mm512_maskz_mov_pd(kept, _mm512_mul_pd(_mm512_mul_pd(p, scale_a), scale_b));
}

/// tk_attention_exp on eight lanes.
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline __m256
tk_attention_exp8(__m256 x) {
  const __m256d low = exp4_avx2(_mm256_cvtps_pd(_mm256_castps256_ps128(x)));
  const __m256d high = exp4_avx2(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)));
  const __m256 e = _mm256_set_m128(_mm256_cvtpd_ps(high), _mm256_cvtpd_ps(low));
  return _mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(TK_EXPF_MIN), _CMP_GE_OQ), e);
}

/// tk_attention_exp on sixteen lanes.
__attribute__((target("avx512f,avx512vl,avx2,fma,f16c"), always_inline)) static inline __m512
tk_attention_exp16(__m512 x) {
  const __m512d low = exp8_avx512(_mm512_cvtps_pd(_mm512_castps512_ps256(x)));
  const __m512d high = exp8_avx512(
      _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))));
  const __m512d e = _mm512_insertf64x4(
      _mm512_castpd256_pd512(_mm256_castps_pd(_mm512_cvtpd_ps(low))),
      _mm256_castps_pd(_mm512_cvtpd_ps(high)), 1);
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(TK_EXPF_MIN), _CMP_GE_OQ),
                             _mm512_castpd_ps(e));
}

/// tk_expf on eight lanes.
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline __m256 tk_expf8(__m256 x) {
  const __m256 shifter = _mm256_set1_ps(TK_EXPF_SHIFTER);
  const __m256 kept = _mm256_cmp_ps(x, _mm256_set1_ps(TK_EXPF_MIN), _CMP_GE_OQ);
  const __m256 k = _mm256_sub_ps(
      _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(TK_LOG2_E_F)), shifter), shifter);
  const __m256 r = _mm256_sub_ps(_mm256_sub_ps(x, _mm256_mul_ps(k, _mm256_set1_ps(TK_LN2_C1))),
                                 _mm256_mul_ps(k, _mm256_set1_ps(TK_LN2_C2)));
  __m256 p = _mm256_set1_ps(TK_EXPF_TAYLOR[0]);
  for (int j = 1; j < 8; j++)
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(TK_EXPF_TAYLOR[j]));
  const __m256i exponent = _mm256_cvttps_epi32(_mm256_and_ps(kept, k));
  const __m256 scale = _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(exponent, _mm256_set1_epi32(127)), 23));
  return _mm256_and_ps(kept, _mm256_mul_ps(p, scale));
}

/// tk_expf on sixteen lanes.
__attribute__((target("avx512f,avx512vl,avx2,fma,f16c"), always_inline)) static inline __m512
tk_expf16(__m512 x) {
  const __m512 shifter = _mm512_set1_ps(TK_EXPF_SHIFTER);
  const __mmask16 kept = _mm512_cmp_ps_mask(x, _mm512_set1_ps(TK_EXPF_MIN), _CMP_GE_OQ);
  const __m512 k = _mm512_sub_ps(
      _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(TK_LOG2_E_F)), shifter), shifter);
  const __m512 r = _mm512_sub_ps(_mm512_sub_ps(x, _mm512_mul_ps(k, _mm512_set1_ps(TK_LN2_C1))),
                                 _mm512_mul_ps(k, _mm512_set1_ps(TK_LN2_C2)));
  __m512 p = _mm512_set1_ps(TK_EXPF_TAYLOR[0]);
  for (int j = 1; j < 8; j++)
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(TK_EXPF_TAYLOR[j]));
  const __m512i exponent = _mm512_cvttps_epi32(_mm512_maskz_mov_ps(kept, k));
  const __m512 scale = _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_add_epi32(exponent, _mm512_set1_epi32(127)), 23));
  return _mm512_maskz_mov_ps(kept, _mm512_mul_ps(p, scale));
}
#endif

#endif
