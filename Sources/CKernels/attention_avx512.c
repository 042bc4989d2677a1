// The attention tile in AVX-512: every (query, key) pair computes what attend_portable does, in
// the same order, as the AVX2 tile does, sixteen lanes wide:
// - q·k of sixteen keys at once: key m and key m + 8 share a register, one in each 256-bit
//   half, so each half runs the AVX2 tile's eight lane sums and its hadd transpose (per 128-bit
//   lane, which is what hadd is) for its eight keys;
// - tk_attention_exp on sixteen scores at a time;
// - p·v accumulates up to 256 output dimensions in registers over a group of keys.
#include "attention.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TK_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma,f16c")))
#define TK_INLINE static inline __attribute__((always_inline))

enum { KEY_GROUP = 16, VALUE_GROUP = 16 };

/// A group of sixteen keys (from `walk`) widened to f32 in pairs: chunk c (eight elements) of
/// key m < 8 at out + (m · dim / 8 + c) · 16, with the same chunk of key m + 8 after it, so one
/// load gives both. Keys from g on are zero.
TK_AVX512 TK_INLINE void widen_key_pairs(const head_view *h, key_walk *walk, lookahead *ahead,
                                         int g, float *out) {
  const int dim = h->dim, chunks = dim / 8;
  for (int r = 0; r < KEY_GROUP; r++) {
    float *dest = out + (size_t)(r & 7) * chunks * 16 + (r >> 3) * 8;
    if (r >= g) {
      for (int c = 0; c < chunks; c++) _mm256_store_ps(dest + (size_t)c * 16, _mm256_setzero_ps());
      continue;
    }
    tk_prefetch_ahead(ahead, h->keys, h->kv_dim, dim);
    const uint16_t *row = h->keys + tk_next_slot(walk) * h->kv_dim;
    for (int c = 0; c < chunks; c++)
      _mm256_store_ps(dest + (size_t)c * 16,
                      _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 8 * c))));
  }
}

/// Rows of `g` consecutive values (from `walk`) widened to f32: out[r][begin ..< end] (rows of
/// dim).
TK_AVX512 TK_INLINE void widen_values(const head_view *h, key_walk *walk, lookahead *ahead, int g,
                                      int begin, int end, float *out) {
  const int dim = h->dim;
  for (int r = 0; r < g; r++) {
    tk_prefetch_ahead(ahead, h->values + begin, h->kv_dim, end - begin);
    const uint16_t *row = h->values + tk_next_slot(walk) * h->kv_dim;
    for (int e = begin; e < end; e += 16)
      _mm512_store_ps(out + (size_t)r * dim + e,
                      _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + e))));
  }
}

/// _mm256_hadd_ps in each 256-bit half: per 128-bit lane (a0 + a1, a2 + a3, b0 + b1, b2 + b3).
TK_AVX512 TK_INLINE __m512 hadd_halves(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x88), _mm512_shuffle_ps(a, b, 0xDD));
}

/// The sixteen tree8 sums, in key order, of lane[m] = (key m's eight lanes, key m + 8's).
TK_AVX512 TK_INLINE __m512 tree8_of_sixteen(const __m512 lane[8]) {
  const __m512 a = hadd_halves(lane[0], lane[1]), b = hadd_halves(lane[2], lane[3]);
  const __m512 c = hadd_halves(lane[4], lane[5]), d = hadd_halves(lane[6], lane[7]);
  const __m512 ab = hadd_halves(a, b), cd = hadd_halves(c, d);
  // In each half, as in AVX2: (low 128 bits of ab, of cd) + (high 128 bits of ab, of cd).
  const __m512i low = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
  const __m512i high =
      _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
  return _mm512_add_ps(_mm512_permutex2var_ps(ab, low, cd), _mm512_permutex2var_ps(ab, high, cd));
}

/// Eight floats of q in both halves.
TK_AVX512 TK_INLINE __m512 both_halves(const float *q) {
  return _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(_mm256_load_ps(q))));
}

/// q·k for a group of sixteen keys widened in pairs: per 32-element block, lane l = Σ q[e]
/// k[e] over e = b + l, b + l + 8, … (fused), then dot += tree8(lane).
TK_AVX512 TK_INLINE __m512 dots_of_sixteen(const float *q, const float *pairs, int dim) {
  const int chunks = dim / 8;
  __m512 dot = _mm512_setzero_ps();
  for (int c0 = 0; c0 < chunks; c0 += 4) {
    __m512 lane[8];
    for (int m = 0; m < 8; m++) lane[m] = _mm512_setzero_ps();
    for (int c = c0; c < c0 + 4; c++) {
      const __m512 qc = both_halves(q + 8 * c);
      for (int m = 0; m < 8; m++)
        lane[m] =
            _mm512_fmadd_ps(qc, _mm512_load_ps(pairs + ((size_t)m * chunks + c) * 16), lane[m]);
    }
    dot = _mm512_add_ps(dot, tree8_of_sixteen(lane));
  }
  return dot;
}

/// Scores of every query of the tile (scaled q·k), and each query's maximum.
TK_AVX512 static void score_tile(const head_view *h, const attention_tile *tile, const float *q,
                                 int first, int last, float *max) {
  _Alignas(64) float pairs[KEY_GROUP * TK_MAX_HEAD_DIM];
  const int dim = h->dim;
  const __m512 scale = _mm512_set1_ps(h->scale);
  __m512 vmax[TK_ATTENTION_TILE];
  for (int i = 0; i < tile->count; i++) vmax[i] = _mm512_set1_ps(-INFINITY);
  key_walk walk = tk_key_walk(h, first);
  lookahead ahead = tk_lookahead(h, first, last);
  for (int j0 = first; j0 < last; j0 += KEY_GROUP) {
    const int g = last - j0 < KEY_GROUP ? last - j0 : KEY_GROUP;
    widen_key_pairs(h, &walk, &ahead, g, pairs);
    for (int i = 0; i < tile->count; i++) {
      const int from = tile->first_key[i] > j0 ? tile->first_key[i] : j0;
      const int to = tile->key_count[i] < j0 + g ? tile->key_count[i] : j0 + g;
      if (from >= to) continue;
      const __m512 s = _mm512_mul_ps(dots_of_sixteen(q + (size_t)i * dim, pairs, dim), scale);
      float *row = tile->scores + (size_t)i * tile->max_keys;
      if (from == j0 && to == j0 + KEY_GROUP) {
        _mm512_storeu_ps(row + j0, s);
        vmax[i] = _mm512_max_ps(vmax[i], s);
        continue;
      }
      _Alignas(64) float part[KEY_GROUP];
      _mm512_store_ps(part, s);
      for (int j = from; j < to; j++) {
        row[j] = part[j - j0];
        max[i] = part[j - j0] > max[i] ? part[j - j0] : max[i];
      }
    }
  }
  for (int i = 0; i < tile->count; i++) {
    const float m = _mm512_reduce_max_ps(vmax[i]);
    max[i] = m > max[i] ? m : max[i];
  }
}

/// scores[j] = tk_attention_exp(scores[j] - max), sixteen keys at a time.
TK_AVX512 TK_INLINE void exponentiate(float *scores, int count, float max) {
  const __m512 m = _mm512_set1_ps(max);
  int j = 0;
  for (; j + 16 <= count; j += 16)
    _mm512_storeu_ps(scores + j, tk_attention_exp16(_mm512_sub_ps(_mm512_loadu_ps(scores + j), m)));
  for (; j < count; j++) scores[j] = tk_attention_exp(scores[j] - max);
}

/// The probabilities p_j = f16(e_j · inv), sixteen at a time (cvtps_ph rounds to nearest even,
/// as tk_round_f16 does).
TK_AVX512 TK_INLINE void normalize(float *row, int count, float inv) {
  const __m512 scale = _mm512_set1_ps(inv);
  int j = 0;
  for (; j + 16 <= count; j += 16) {
    const __m512 p = _mm512_mul_ps(_mm512_loadu_ps(row + j), scale);
    _mm512_storeu_ps(row + j, _mm512_cvtph_ps(_mm512_cvtps_ph(p, _MM_FROUND_TO_NEAREST_INT)));
  }
  for (; j < count; j++) row[j] = tk_round_f16(row[j] * inv);
}

/// out[0 ..< 16 vectors] += Σ_{j in from ..< to} p_j v_j, one key after another.
TK_AVX512 TK_INLINE void weigh_chunk(float *out, const float *p, const float *values, int dim,
                                     int j0, int from, int to, int vectors) {
  __m512 acc[16];
  for (int v = 0; v < vectors; v++) acc[v] = _mm512_loadu_ps(out + 16 * v);
  for (int j = from; j < to; j++) {
    const __m512 pj = _mm512_set1_ps(p[j]);
    const float *row = values + (size_t)(j - j0) * dim;
    for (int v = 0; v < vectors; v++)
      acc[v] = _mm512_fmadd_ps(pj, _mm512_load_ps(row + 16 * v), acc[v]);
  }
  for (int v = 0; v < vectors; v++) _mm512_storeu_ps(out + 16 * v, acc[v]);
}

/// out[i][begin ..< end] = Σ_j p_ij v_j over the tile's keys, one key after another for every
/// dimension.
TK_AVX512 static void weigh_values(const head_view *h, const attention_tile *tile, int first,
                                   int last, int begin, int end) {
  _Alignas(64) float values[VALUE_GROUP * TK_MAX_HEAD_DIM];
  const int dim = h->dim;
  const int width = (end - begin) % 256 == 0 ? 256 : (end - begin) % 64 == 0 ? 64 : 32;
  for (int i = 0; i < tile->count; i++)
    memset(tile->out[i] + begin, 0, sizeof(float) * (end - begin));
  key_walk walk = tk_key_walk(h, first);
  lookahead ahead = tk_lookahead(h, first, last);
  for (int j0 = first; j0 < last; j0 += VALUE_GROUP) {
    const int g = last - j0 < VALUE_GROUP ? last - j0 : VALUE_GROUP;
    widen_values(h, &walk, &ahead, g, begin, end, values);
    for (int i = 0; i < tile->count; i++) {
      const int from = tile->first_key[i] > j0 ? tile->first_key[i] : j0;
      const int to = tile->key_count[i] < j0 + g ? tile->key_count[i] : j0 + g;
      if (from >= to) continue;
      const float *p = tile->scores + (size_t)i * tile->max_keys;
      float *out = tile->out[i];
      // Constant widths, so that the accumulators stay in registers.
      for (int e = begin; e < end; e += width) {
        if (width == 256) weigh_chunk(out + e, p, values + e, dim, j0, from, to, 16);
        else if (width == 64) weigh_chunk(out + e, p, values + e, dim, j0, from, to, 4);
        else weigh_chunk(out + e, p, values + e, dim, j0, from, to, 2);
      }
    }
  }
}

/// The tile's q rounded to f16 (as ggml feeds it to its f16 K product).
TK_AVX512 TK_INLINE void round_queries(const attention_tile *tile, int dim, float *q) {
  for (int i = 0; i < tile->count; i++) {
    for (int e = 0; e < dim; e += 16) {
      const __m512 x = _mm512_loadu_ps(tile->q[i] + e);
      _mm512_store_ps(q + (size_t)i * dim + e,
                      _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT)));
    }
  }
}

TK_AVX512 static void scores_part(const head_view *h, const attention_tile *tile, int first,
                                  int last, float *max) {
  _Alignas(64) float q[TK_ATTENTION_TILE * TK_MAX_HEAD_DIM];
  round_queries(tile, h->dim, q);
  score_tile(h, tile, q, first, last, max);
}

TK_AVX512 static void probabilities_part(const attention_tile *tile, int i, float max) {
  const int from = tile->first_key[i], count = tile->key_count[i] - from;
  float *row = tile->scores + (size_t)i * tile->max_keys + from;
  exponentiate(row, count, max);
  normalize(row, count, tk_inverse_sum(tile, i));
}

const attention_parts tk_attention_parts_avx512 = {scores_part, probabilities_part,
                                                   weigh_values};

/// The tile's queries (head dim a multiple of 32), each computing what the portable kernel does.
TK_AVX512 void tk_attend_tile_avx512(const head_view *h, const attention_tile *tile) {
  _Alignas(64) float q[TK_ATTENTION_TILE * TK_MAX_HEAD_DIM];
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
  for (int i = 0; i < tile->count; i++) {
    const int from = tile->first_key[i];
    normalize(tile->scores + (size_t)i * tile->max_keys + from, tile->key_count[i] - from,
              inverse[i]);
  }
  weigh_values(h, tile, first, last, 0, dim);
}
#endif
