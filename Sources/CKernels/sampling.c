// The sampler's exp, built from IEEE-754 +, -, ×, ÷ only, and its vocabulary-sized sums.
//
// Why not libm: glibc and Apple's libm may round exp differently in the last bit, and a
// last-bit difference can (very rarely) move a sampling boundary or change a reported logprob.
// The determinism contract promises the same token on any machine, so the sampler's exp is
// this one, whose every step is a correctly rounded basic operation (this target is compiled
// with -ffp-contract=off, so nothing is fused into an FMA). The AVX2 version performs the same
// operations lane by lane, so it gives the same bits.
//
// exp: Cody–Waite reduction x = k·ln2 + r with |r| ≤ ln2/2 (fdlibm's split of ln2), a degree-13
// Taylor polynomial for e^r (truncation < 1e-17 relative), then scaling by 2^k in two normal
// powers of two, so that only the last product can round (into the subnormal range).
#include <math.h>

#include "exp.h"
#include "internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define TK_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

static inline double power_of_two(int e) {  // e in the normal range [-1022, 1023]
  const uint64_t bits = (uint64_t)(1023 + e) << 52;
  double value;
  memcpy(&value, &bits, 8);
  return value;
}

double tk_exp(double x) {
  if (isnan(x)) return x;
  if (x > EXP_MAX) return INFINITY;
  if (x < EXP_MIN) return 0;
  // Round to nearest by adding and removing 1.5 × 2^52.
  const double k = (x * LOG2_E + ROUNDING_SHIFTER) - ROUNDING_SHIFTER;
  const double r = (x - k * LN2_HIGH) - k * LN2_LOW;
  double p = TAYLOR[0];
  for (int i = 1; i < 14; i++) p = p * r + TAYLOR[i];
  const int exponent = (int)k;  // in [-1075, 1024]
  const int half = exponent / 2;
  return p * power_of_two(half) * power_of_two(exponent - half);
}

/// The exponent of weight i: (logit - max) / divisor, in double; a NaN logit counts as -inf.
static inline double distance(const float *logits, const int32_t *ids, int i, double max,
                              double divisor) {
  const float logit = logits[ids ? ids[i] : i];
  return ((double)(isnan(logit) ? -INFINITY : logit) - max) / divisor;
}

/// The sum's fixed order: eight lane sums (lane j adds terms j, j + 8, j + 16, … in order),
/// combined as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)).
static inline double lanes_total(const double lane[8]) {
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

static double exp_sum_portable(const float *logits, const int32_t *ids, int count, double max,
                               double divisor) {
  double lane[8] = {0};
  for (int i = 0; i < count; i++) {
    lane[i % 8] = lane[i % 8] + tk_exp(distance(logits, ids, i, max, divisor));
  }
  return lanes_total(lane);
}

/// Terms [i, i + 8) one by one, for a group with a NaN or an overflow in it.
static void exp8_scalar(const float *logits, const int32_t *ids, int i, double max,
                        double divisor, double out[8]) {
  for (int j = 0; j < 8; j++) out[j] = tk_exp(distance(logits, ids, i + j, max, divisor));
}

/// The lanes after the last whole group of eight, added one by one.
static double finish_lanes(double lane[8], const float *logits, const int32_t *ids, int from,
                           int count, double max, double divisor) {
  for (int i = from; i < count; i++) {
    lane[i % 8] = lane[i % 8] + tk_exp(distance(logits, ids, i, max, divisor));
  }
  return lanes_total(lane);
}

#if defined(__x86_64__)
/// (logit - max) / divisor for four terms from i.
TK_AVX2 static inline __m256d distance4_avx2(const float *logits, const int32_t *ids, int i,
                                             __m256d max, __m256d divisor) {
  const __m128 logit = ids ? _mm_i32gather_ps(logits, _mm_loadu_si128((const __m128i *)(ids + i)), 4)
                           : _mm_loadu_ps(logits + i);
  return _mm256_div_pd(_mm256_sub_pd(_mm256_cvtps_pd(logit), max), divisor);
}

TK_AVX2 static inline int unusual4_avx2(__m256d x) {
  return _mm256_movemask_pd(_mm256_or_pd(_mm256_cmp_pd(x, x, _CMP_UNORD_Q),
                                         _mm256_cmp_pd(x, _mm256_set1_pd(EXP_MAX), _CMP_GT_OQ)));
}

/// Lanes 0–3 and 4–7 in two registers.
TK_AVX2 static double exp_sum_avx2(const float *logits, const int32_t *ids, int count,
                                   double max, double divisor) {
  const __m256d max4 = _mm256_set1_pd(max), divisor4 = _mm256_set1_pd(divisor);
  __m256d low = _mm256_setzero_pd(), high = _mm256_setzero_pd();
  int i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256d x_low = distance4_avx2(logits, ids, i, max4, divisor4);
    const __m256d x_high = distance4_avx2(logits, ids, i + 4, max4, divisor4);
    if (unusual4_avx2(x_low) | unusual4_avx2(x_high)) {
      double w[8];
      exp8_scalar(logits, ids, i, max, divisor, w);
      low = _mm256_add_pd(low, _mm256_loadu_pd(w));
      high = _mm256_add_pd(high, _mm256_loadu_pd(w + 4));
    } else {
      low = _mm256_add_pd(low, exp4_avx2(x_low));
      high = _mm256_add_pd(high, exp4_avx2(x_high));
    }
  }
  double lane[8];
  _mm256_storeu_pd(lane, low);
  _mm256_storeu_pd(lane + 4, high);
  return finish_lanes(lane, logits, ids, i, count, max, divisor);
}

#define TK_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma,f16c")))

/// All eight lanes in one register.
TK_AVX512 static double exp_sum_avx512(const float *logits, const int32_t *ids, int count,
                                       double max, double divisor) {
  const __m512d max8 = _mm512_set1_pd(max), divisor8 = _mm512_set1_pd(divisor);
  const __m512d exp_max = _mm512_set1_pd(EXP_MAX);
  __m512d lanes = _mm512_setzero_pd();
  int i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 logit =
        ids ? _mm256_i32gather_ps(logits, _mm256_loadu_si256((const __m256i *)(ids + i)), 4)
            : _mm256_loadu_ps(logits + i);
    const __m512d x = _mm512_div_pd(_mm512_sub_pd(_mm512_cvtps_pd(logit), max8), divisor8);
    const __mmask8 unusual = _mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q) |
                             _mm512_cmp_pd_mask(x, exp_max, _CMP_GT_OQ);
    if (unusual) {
      double w[8];
      exp8_scalar(logits, ids, i, max, divisor, w);
      lanes = _mm512_add_pd(lanes, _mm512_loadu_pd(w));
    } else {
      lanes = _mm512_add_pd(lanes, exp8_avx512(x));
    }
  }
  double lane[8];
  _mm512_storeu_pd(lane, lanes);
  return finish_lanes(lane, logits, ids, i, count, max, divisor);
}
#endif

double tk_exp_sum(const float *logits, const int32_t *ids, int count, float max_logit,
                  double divisor) {
#if defined(__x86_64__)
  if (tk_has_avx512()) return exp_sum_avx512(logits, ids, count, (double)max_logit, divisor);
  if (tk_has_avx2()) return exp_sum_avx2(logits, ids, count, (double)max_logit, divisor);
#endif
  return exp_sum_portable(logits, ids, count, (double)max_logit, divisor);
}

// MARK: Buckets by distance from the largest logit (the sampler's counting sort)

int tk_bucket_candidates(const float *logits, int count, float max_logit, float per_nat,
                         int near_count, uint16_t *bucket_of, int32_t *start, int32_t *out) {
  const float near_limit = (float)near_count / per_nat;
  const uint16_t excluded = UINT16_MAX;
  // Bucket of every id (a loop the compiler vectorizes), then the counts.
  for (int id = 0; id < count; id++) {
    const float logit = logits[id];
    const float distance = max_logit - logit;  // ≥ 0; +inf if it overflows
    const int bucket = distance < near_limit ? (int)(distance * per_nat) : near_count;
    bucket_of[id] = (logit == -INFINITY || isnan(logit)) ? excluded : (uint16_t)bucket;
  }
  for (int b = 0; b <= near_count + 1; b++) start[b] = 0;
  for (int id = 0; id < count; id++) {
    if (bucket_of[id] != excluded) start[bucket_of[id] + 1]++;
  }
  for (int b = 0; b <= near_count; b++) start[b + 1] += start[b];
  // Scatter, members in id order; start[b] is advanced to start[b + 1] as it fills...
  for (int id = 0; id < count; id++) {
    if (bucket_of[id] != excluded) out[start[bucket_of[id]]++] = id;
  }
  // ...so shifting back by one bucket restores the starts.
  for (int b = near_count + 1; b > 0; b--) start[b] = start[b - 1];
  start[0] = 0;
  return start[near_count + 1];
}

// MARK: The row's largest logit

void tk_copy_without_nan(const float *in, float *out, int count) {
  for (int i = 0; i < count; i++) out[i] = isnan(in[i]) ? -INFINITY : in[i];
}

#if defined(__x86_64__)
TK_AVX2 static float max_avx2(const float *row, int count) {
  __m256 best = _mm256_set1_ps(-INFINITY);
  int i = 0;
  for (; i + 8 <= count; i += 8) best = _mm256_max_ps(best, _mm256_loadu_ps(row + i));
  float lane[8], max = -INFINITY;
  _mm256_storeu_ps(lane, best);
  for (int j = 0; j < 8; j++) max = lane[j] > max ? lane[j] : max;
  for (; i < count; i++) max = row[i] > max ? row[i] : max;
  return max;
}
#endif

int tk_argmax(const float *row, int count) {
  if (count <= 0) return -1;
  float max = -INFINITY;
#if defined(__x86_64__)
  if (tk_has_avx2()) {
    max = max_avx2(row, count);
  } else
#endif
  {
    for (int i = 0; i < count; i++) max = row[i] > max ? row[i] : max;
  }
  for (int i = 0; i < count; i++) {
    if (row[i] == max) return i;
  }
  return 0;  // every value is -inf
}

// MARK: Drawing without truncation: float weights, in id order

// When no stage truncates the candidates, any fixed order of the vocabulary samples the same
// distribution, so the draw walks ids in order and needs no sorting. Weights are floats (as
// ggml's softmax is): w = tk_expf((logit - max) / T) (exp.h). Block sums of 64 weights, each
// added in id order in double, then the total over blocks in order: the draw finds its block
// by the block sums and its token inside the block one weight at a time.

enum { SAMPLE_BLOCK = 64 };

static void weights_portable(const float *logits, int count, float max, float temperature,
                             float *w) {
  for (int i = 0; i < count; i++) w[i] = tk_expf((logits[i] - max) / temperature);
}

#if defined(__x86_64__)
TK_AVX512 static void weights_avx512(const float *logits, int count, float max,
                                     float temperature, float *w) {
  const __m512 max16 = _mm512_set1_ps(max), t16 = _mm512_set1_ps(temperature);
  int i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m512 x = _mm512_div_ps(_mm512_sub_ps(_mm512_loadu_ps(logits + i), max16), t16);
    _mm512_storeu_ps(w + i, tk_expf16(x));
  }
  weights_portable(logits + i, count - i, max, temperature, w + i);
}

TK_AVX2 static void weights_avx2(const float *logits, int count, float max, float temperature,
                                 float *w) {
  const __m256 max8 = _mm256_set1_ps(max), t8 = _mm256_set1_ps(temperature);
  int i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 x = _mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps(logits + i), max8), t8);
    _mm256_storeu_ps(w + i, tk_expf8(x));
  }
  weights_portable(logits + i, count - i, max, temperature, w + i);
}
#endif

void tk_sample_weights(const float *logits, int count, float max_logit, float temperature,
                       float *weights) {
#if defined(__x86_64__)
  if (tk_has_avx512()) return weights_avx512(logits, count, max_logit, temperature, weights);
  if (tk_has_avx2()) return weights_avx2(logits, count, max_logit, temperature, weights);
#endif
  weights_portable(logits, count, max_logit, temperature, weights);
}

int tk_draw_in_id_order(const float *logits, int count, float max_logit, float temperature,
                        double uniform, float *weights, double *block_sums) {
  tk_sample_weights(logits, count, max_logit, temperature, weights);
  const int blocks = (count + SAMPLE_BLOCK - 1) / SAMPLE_BLOCK;
  for (int b = 0; b < blocks; b++) {
    const int end = (b + 1) * SAMPLE_BLOCK < count ? (b + 1) * SAMPLE_BLOCK : count;
    double sum = 0;
    for (int i = b * SAMPLE_BLOCK; i < end; i++) sum = sum + (double)weights[i];
    block_sums[b] = sum;
  }
  double total = 0;
  for (int b = 0; b < blocks; b++) total = total + block_sums[b];
  const double threshold = uniform * total;
  double cumulative = 0;
  int last = -1;  // the last id with weight > 0 before the crossing
  for (int b = 0; b < blocks; b++) {
    if (block_sums[b] > 0) {
      const int end = (b + 1) * SAMPLE_BLOCK < count ? (b + 1) * SAMPLE_BLOCK : count;
      if (cumulative + block_sums[b] > threshold) {
        for (int i = b * SAMPLE_BLOCK; i < end; i++) {
          if (weights[i] <= 0) continue;
          cumulative = cumulative + (double)weights[i];
          last = i;
          if (cumulative > threshold) return i;
        }
        continue;  // rounding: the block's own order fell just short; go on
      }
      for (int i = end - 1; i >= b * SAMPLE_BLOCK; i--) {
        if (weights[i] > 0) {
          last = i;
          break;
        }
      }
    }
    cumulative = cumulative + block_sums[b];
  }
  return last;  // only when rounding leaves the walk just short of u · total
}
