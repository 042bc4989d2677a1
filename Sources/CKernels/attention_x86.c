// The attention tile in AVX2: every (query, key) pair computes what attend_portable does, in
// the same order. What is shared is loads and conversions:
// - keys and values are widened from f16 once per group of keys, for all queries of the tile;
// - q·k of eight keys is reduced together: their eight lane vectors go through one transpose
//   of hadds that computes each key's ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7));
// - every product is a fused multiply-add, as fmaf is in the portable kernel;
// - p·v accumulates 64 output dimensions in registers over a group of keys.
#include "attention.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TK_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TK_INLINE static inline __attribute__((always_inline))

enum { KEY_GROUP = 8, VALUE_GROUP = 16 };

/// Rows of `g` consecutive keys (from `walk`) widened to f32: out[r][begin ..< end] (rows of
/// dim).
TK_AVX2 TK_INLINE void widen(const uint16_t *base, int kv_dim, key_walk *walk, lookahead *ahead,
                             int g, int dim, int begin, int end, float *out) {
  for (int r = 0; r < g; r++) {
    tk_prefetch_ahead(ahead, base + begin, kv_dim, end - begin);
    const uint16_t *row = base + tk_next_slot(walk) * kv_dim;
    for (int e = begin; e < end; e += 8)
      _mm256_store_ps(out + (size_t)r * dim + e,
                      _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + e))));
  }
}

/// The eight tree8 sums of eight lane vectors, in key order.
TK_AVX2 TK_INLINE __m256 tree8_of_eight(const __m256 lane[8]) {
  const __m256 a = _mm256_hadd_ps(lane[0], lane[1]);
  const __m256 b = _mm256_hadd_ps(lane[2], lane[3]);
  const __m256 c = _mm256_hadd_ps(lane[4], lane[5]);
  const __m256 d = _mm256_hadd_ps(lane[6], lane[7]);
  const __m256 ab = _mm256_hadd_ps(a, b);  // keys 0-3: (l0+l1)+(l2+l3) low, (l4+l5)+(l6+l7) high
  const __m256 cd = _mm256_hadd_ps(c, d);  // keys 4-7 likewise
  return _mm256_add_ps(_mm256_permute2f128_ps(ab, cd, 0x20), _mm256_permute2f128_ps(ab, cd, 0x31));
}

/// q·k for eight widened keys: per 32-element block, lane l = Σ q[e] k[e] over e = b + l,
/// b + l + 8, … (fused), then dot += tree8(lane).
TK_AVX2 TK_INLINE __m256 dots_of_eight(const float *q, const float *keys, int dim) {
  __m256 dot = _mm256_setzero_ps();
  for (int b = 0; b < dim; b += 32) {
    __m256 lane[8];
    for (int r = 0; r < 8; r++) lane[r] = _mm256_setzero_ps();
    for (int e = b; e < b + 32; e += 8) {
      const __m256 qe = _mm256_load_ps(q + e);
      for (int r = 0; r < 8; r++)
        lane[r] = _mm256_fmadd_ps(qe, _mm256_load_ps(keys + (size_t)r * dim + e), lane[r]);
    }
    dot = _mm256_add_ps(dot, tree8_of_eight(lane));
  }
  return dot;
}

TK_AVX2 TK_INLINE float max_of(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

/// Scores of every query of the tile (scaled q·k), and each query's maximum.
TK_AVX2 static void score_tile(const head_view *h, const attention_tile *tile, const float *q,
                               int first, int last, float *max) {
  _Alignas(32) float keys[KEY_GROUP * TK_MAX_HEAD_DIM];
  const int dim = h->dim;
  const __m256 scale = _mm256_set1_ps(h->scale);
  __m256 vmax[TK_ATTENTION_TILE];
  for (int i = 0; i < tile->count; i++) vmax[i] = _mm256_set1_ps(-INFINITY);
  key_walk walk = tk_key_walk(h, first);
  lookahead ahead = tk_lookahead(h, first, last);
  for (int j0 = first; j0 < last; j0 += KEY_GROUP) {
    const int g = last - j0 < KEY_GROUP ? last - j0 : KEY_GROUP;
    widen(h->keys, h->kv_dim, &walk, &ahead, g, dim, 0, dim, keys);
    if (g < KEY_GROUP) memset(keys + (size_t)g * dim, 0, sizeof(float) * (KEY_GROUP - g) * dim);
    for (int i = 0; i < tile->count; i++) {
      const int from = tile->first_key[i] > j0 ? tile->first_key[i] : j0;
      const int to = tile->key_count[i] < j0 + g ? tile->key_count[i] : j0 + g;
      if (from >= to) continue;
      const __m256 s = _mm256_mul_ps(dots_of_eight(q + (size_t)i * dim, keys, dim), scale);
      float *row = tile->scores + (size_t)i * tile->max_keys;
      if (from == j0 && to == j0 + KEY_GROUP) {
        _mm256_storeu_ps(row + j0, s);
        vmax[i] = _mm256_max_ps(vmax[i], s);
        continue;
      }
      _Alignas(32) float part[KEY_GROUP];
      _mm256_store_ps(part, s);
      for (int j = from; j < to; j++) {
        row[j] = part[j - j0];
        max[i] = part[j - j0] > max[i] ? part[j - j0] : max[i];
      }
    }
  }
  for (int i = 0; i < tile->count; i++) {
    const float m = max_of(vmax[i]);
    max[i] = m > max[i] ? m : max[i];
  }
}

/// out[i][begin ..< end] = Σ_j p_ij v_j over the tile's keys, one key after another for every
/// dimension.
TK_AVX2 static void weigh_values(const head_view *h, const attention_tile *tile, int first,
                                 int last, int begin, int end) {
  _Alignas(32) float values[VALUE_GROUP * TK_MAX_HEAD_DIM];
  const int dim = h->dim;
  for (int i = 0; i < tile->count; i++)
    memset(tile->out[i] + begin, 0, sizeof(float) * (end - begin));
  key_walk walk = tk_key_walk(h, first);
  lookahead ahead = tk_lookahead(h, first, last);
  for (int j0 = first; j0 < last; j0 += VALUE_GROUP) {
    const int g = last - j0 < VALUE_GROUP ? last - j0 : VALUE_GROUP;
    widen(h->values, h->kv_dim, &walk, &ahead, g, dim, begin, end, values);
    for (int i = 0; i < tile->count; i++) {
      const int from = tile->first_key[i] > j0 ? tile->first_key[i] : j0;
      const int to = tile->key_count[i] < j0 + g ? tile->key_count[i] : j0 + g;
      if (from >= to) continue;
      const float *p = tile->scores + (size_t)i * tile->max_keys;
      float *out = tile->out[i];
      for (int e = begin; e < end; e += 64) {
        __m256 acc[8];
        for (int v = 0; v < 8; v++) acc[v] = _mm256_loadu_ps(out + e + 8 * v);
        for (int j = from; j < to; j++) {
          const __m256 pj = _mm256_set1_ps(p[j]);
          const float *row = values + (size_t)(j - j0) * dim + e;
          for (int v = 0; v < 8; v++)
            acc[v] = _mm256_fmadd_ps(pj, _mm256_load_ps(row + 8 * v), acc[v]);
        }
        for (int v = 0; v < 8; v++) _mm256_storeu_ps(out + e + 8 * v, acc[v]);
      }
    }
  }
}

/// scores[j] = tk_attention_exp(scores[j] - max), eight keys at a time.
TK_AVX2 TK_INLINE void exponentiate(float *scores, int count, float max) {
  const __m256 m = _mm256_set1_ps(max);
  int j = 0;
  for (; j + 8 <= count; j += 8)
    _mm256_storeu_ps(scores + j, tk_attention_exp8(_mm256_sub_ps(_mm256_loadu_ps(scores + j), m)));
  for (; j < count; j++) scores[j] = tk_attention_exp(scores[j] - max);
}

/// The tile's q rounded to f16 (as ggml feeds it to its f16 K product).
TK_AVX2 TK_INLINE void round_queries(const attention_tile *tile, int dim, float *q) {
  for (int i = 0; i < tile->count; i++) {
    for (int e = 0; e < dim; e += 8) {
      const __m256 x = _mm256_loadu_ps(tile->q[i] + e);
      _mm256_store_ps(q + (size_t)i * dim + e,
                      _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT)));
    }
  }
}

/// The probabilities of query i, normalized and rounded to f16 eight at a time (the same
/// rounding as tk_round_f16, to nearest even).
TK_AVX2 TK_INLINE void normalize(const attention_tile *tile, int i, float inv) {
  float *row = tile->scores + (size_t)i * tile->max_keys;
  const int to = tile->key_count[i];
  const __m256 scale = _mm256_set1_ps(inv);
  int j = tile->first_key[i];
  for (; j + 8 <= to; j += 8) {
    const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(row + j), scale);
    _mm256_storeu_ps(row + j, _mm256_cvtph_ps(_mm256_cvtps_ph(p, _MM_FROUND_TO_NEAREST_INT)));
  }
  for (; j < to; j++) row[j] = tk_round_f16(row[j] * inv);
}

TK_AVX2 static void scores_part(const head_view *h, const attention_tile *tile, int first,
                                int last, float *max) {
  _Alignas(32) float q[TK_ATTENTION_TILE * TK_MAX_HEAD_DIM];
  round_queries(tile, h->dim, q);
  score_tile(h, tile, q, first, last, max);
}

TK_AVX2 static void probabilities_part(const attention_tile *tile, int i, float max) {
  const int from = tile->first_key[i];
  exponentiate(tile->scores + (size_t)i * tile->max_keys + from, tile->key_count[i] - from, max);
  normalize(tile, i, tk_inverse_sum(tile, i));
}

const attention_parts tk_attention_parts_avx2 = {scores_part, probabilities_part, weigh_values};

TK_AVX2 void tk_attend_tile_avx2(const head_view *h, const attention_tile *tile) {
  _Alignas(32) float q[TK_ATTENTION_TILE * TK_MAX_HEAD_DIM];
  float max[TK_ATTENTION_TILE];
  const int dim = h->dim;
  int first = tile->first_key[0], last = tile->key_count[0];
  for (int i = 0; i < tile->count; i++) {
    first = tile->first_key[i] < first ? tile->first_key[i] : first;
    last = tile->key_count[i] > last ? tile->key_count[i] : last;
    max[i] = -INFINITY;
  }
  round_queries(tile, dim, q);
  score_tile(h, tile, q, first, last, max);
  for (int i = 0; i < tile->count; i++) {
    const int from = tile->first_key[i];
    exponentiate(tile->scores + (size_t)i * tile->max_keys + from, tile->key_count[i] - from,
                 max[i]);
  }
  float inverse[TK_ATTENTION_TILE];
  tk_inverse_sums(tile, inverse);
  for (int i = 0; i < tile->count; i++) normalize(tile, i, inverse[i]);
  weigh_values(h, tile, first, last, 0, dim);
}
#endif
