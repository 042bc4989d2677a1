// Causal attention over a paged f16 KV cache. Each (token, head) pair visits its keys in
// order first...position (first = 0, or position - window + 1 on a sliding-window layer), the
// same whether the token came in a prefill batch or alone in a decode step, so prefill and
// decode give the same bits. Threads split (token, head) pairs.
//
// Per pair: q is rounded to f16 (as ggml feeds it to its f16 K product); score_j = (q·k_j) ·
// 1/sqrt(dim), with q·k in the float-dot order of tessera_kernels.h; softmax with the
// probabilities normalized, then rounded to f16 (as ggml feeds them to its f16 V product);
// out = Σ_j p_j v_j, adding one key after another. The AVX2 version computes the same
// operations in the same order, eight dimensions at a time.
#include <math.h>

#include "internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define TK_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

void tk_kv_store(uint16_t *keys, uint16_t *values, int kv_dim, const float *k, const float *v,
                 const int32_t *slots, int rows) {
  for (int r = 0; r < rows; r++) {
    uint16_t *kd = keys + (size_t)slots[r] * kv_dim;
    uint16_t *vd = values + (size_t)slots[r] * kv_dim;
    for (int i = 0; i < kv_dim; i++) {
      kd[i] = tk_f32_to_f16(k[(size_t)r * kv_dim + i]);
      vd[i] = tk_f32_to_f16(v[(size_t)r * kv_dim + i]);
    }
  }
}

typedef struct {
  const uint16_t *keys;    // this head's keys: key j at keys + slot(j) * kv_dim
  const uint16_t *values;  // likewise
  const int32_t *table;
  int block_size;
  int kv_dim;
  int first_key;  // the window's first key (0: all of them)
  int key_count;  // keys up to and including the query's own position
  int dim;
  float scale;
} head_view;

static inline size_t slot_of(const head_view *h, int j) {
  return ((size_t)h->table[j / h->block_size] * h->block_size + j % h->block_size) * h->kv_dim;
}

/// scores[j] = exp(scores[j] - max), summed in key order; returns 1 / the sum.
static inline float exponentiate(float *scores, int count, float max) {
  float sum = 0.0f;
  for (int j = 0; j < count; j++) {
    scores[j] = expf(scores[j] - max);
    sum = sum + scores[j];
  }
  return 1.0f / sum;
}

static void attend_portable(const head_view *h, const float *q_in, float *out, float *scores) {
  float q[512];
  for (int i = 0; i < h->dim; i++) q[i] = tk_round_f16(q_in[i]);
  float max = -INFINITY;
  for (int j = h->first_key; j < h->key_count; j++) {
    const uint16_t *k = h->keys + slot_of(h, j);
    float dot = 0.0f;
    for (int b = 0; b < h->dim; b += 32) {
      float lane[8] = {0};
      for (int step = 0; step < 4; step++) {
        for (int l = 0; l < 8; l++) {
          const int e = b + 8 * step + l;
          lane[l] = lane[l] + q[e] * tk_f16_to_f32(k[e]);
        }
      }
      dot = dot + tk_lane_tree8(lane);
    }
    const float s = dot * h->scale;
    scores[j] = s;
    max = s > max ? s : max;
  }
  const float inv =
      exponentiate(scores + h->first_key, h->key_count - h->first_key, max);
  for (int i = 0; i < h->dim; i++) out[i] = 0.0f;
  for (int j = h->first_key; j < h->key_count; j++) {
    const uint16_t *v = h->values + slot_of(h, j);
    const float p = tk_round_f16(scores[j] * inv);
    for (int i = 0; i < h->dim; i++) out[i] = out[i] + p * tk_f16_to_f32(v[i]);
  }
}

#if defined(__x86_64__)
TK_AVX2 static inline float tree8_avx2(__m256 v) {
  __m256 h = _mm256_hadd_ps(v, v);  // (l0+l1, l2+l3, …) in each half
  h = _mm256_hadd_ps(h, h);         // ((l0+l1)+(l2+l3)) low, ((l4+l5)+(l6+l7)) high
  return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}

TK_AVX2 static inline __m256 load_f16x8(const uint16_t *p) {
  return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

#endif

#if defined(__x86_64__)
/// Up to four consecutive query rows of one sequence and head: each key and value is loaded
/// once for all of them, and every (query, key) pair computes exactly what attend_portable does.
TK_AVX2 static void attend_tile_avx2(const head_view *h, const int *first_keys,
                                     const int *key_counts, int n, const float *const *q_in,
                                     float *const *outs, float *scores, int max_keys) {
  enum { TILE = 4 };
  __m256 q[TILE][64];
  __m256 acc[TILE][64];
  float max[TILE], inv[TILE];  // inv: 1 / Σ exp, per query
  const int vectors = h->dim / 8;
  int last = 0;
  int first = max_keys;
  for (int i = 0; i < n; i++) {
    first = first_keys[i] < first ? first_keys[i] : first;
    for (int v = 0; v < vectors; v++) {
      q[i][v] = _mm256_cvtph_ps(
          _mm256_cvtps_ph(_mm256_loadu_ps(q_in[i] + 8 * v), _MM_FROUND_TO_NEAREST_INT));
    }
    max[i] = -INFINITY;
    last = key_counts[i] > last ? key_counts[i] : last;
  }
  for (int j = first; j < last; j++) {
    const uint16_t *k = h->keys + slot_of(h, j);
    __m256 kv[64];
    for (int v = 0; v < vectors; v++) kv[v] = load_f16x8(k + 8 * v);
    for (int i = 0; i < n; i++) {
      if (j < first_keys[i] || j >= key_counts[i]) continue;
      float dot = 0.0f;
      for (int b = 0; b < vectors; b += 4) {
        __m256 lane = _mm256_mul_ps(q[i][b], kv[b]);
        lane = _mm256_add_ps(lane, _mm256_mul_ps(q[i][b + 1], kv[b + 1]));
        lane = _mm256_add_ps(lane, _mm256_mul_ps(q[i][b + 2], kv[b + 2]));
        lane = _mm256_add_ps(lane, _mm256_mul_ps(q[i][b + 3], kv[b + 3]));
        dot = dot + tree8_avx2(lane);
      }
      const float s = dot * h->scale;
      scores[(size_t)i * max_keys + j] = s;
      max[i] = s > max[i] ? s : max[i];
    }
  }
  for (int i = 0; i < n; i++) {
    float *row = scores + (size_t)i * max_keys;
    inv[i] = exponentiate(row + first_keys[i], key_counts[i] - first_keys[i], max[i]);
    // The probabilities, normalized and rounded to f16, eight at a time (the same rounding as
    // tk_round_f16, to nearest even).
    const __m256 scale = _mm256_set1_ps(inv[i]);
    int j = first_keys[i];
    for (; j + 8 <= key_counts[i]; j += 8) {
      const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(row + j), scale);
      _mm256_storeu_ps(row + j, _mm256_cvtph_ps(_mm256_cvtps_ph(p, _MM_FROUND_TO_NEAREST_INT)));
    }
    for (; j < key_counts[i]; j++) row[j] = tk_round_f16(row[j] * inv[i]);
    for (int v = 0; v < vectors; v++) acc[i][v] = _mm256_setzero_ps();
  }
  for (int j = first; j < last; j++) {
    const uint16_t *values = h->values + slot_of(h, j);
    __m256 vv[64];
    for (int v = 0; v < vectors; v++) vv[v] = load_f16x8(values + 8 * v);
    for (int i = 0; i < n; i++) {
      if (j < first_keys[i] || j >= key_counts[i]) continue;
      const __m256 p = _mm256_set1_ps(scores[(size_t)i * max_keys + j]);
      for (int v = 0; v < vectors; v++) acc[i][v] = _mm256_add_ps(acc[i][v], _mm256_mul_ps(p, vv[v]));
    }
  }
  for (int i = 0; i < n; i++) {
    for (int v = 0; v < vectors; v++) _mm256_storeu_ps(outs[i] + 8 * v, acc[i][v]);
  }
}
#endif

typedef struct {
  const tk_attention_desc *d;
  tk_work work;  // a unit is an item
} attention_job;

enum { QUERY_TILE = 4 };

// Work items are (four consecutive rows, head); inside an item, rows of one sequence run as a
// tile (AVX2) or one by one (portable). Threads claim items one at a time.
static void attention_task(void *raw, int thread, int threads) {
  (void)threads;
  attention_job *job = raw;
  const tk_attention_desc *d = job->d;
  const int group = d->heads_per_kv_head;
  const int dim = d->head_dim;
  const int q_stride = d->head_count * dim;
  float *scores = d->scratch + (size_t)thread * QUERY_TILE * d->max_keys;
#if defined(__x86_64__)
  const int avx2 = tk_has_avx2();
#endif

  for (int item = tk_claim(&job->work, thread); item >= 0; item = tk_claim(&job->work, thread)) {
    const int chunk = item / d->head_count;
    const int head = item % d->head_count;
    const int kvh = (d->first_head_offset + head) / group;
    const int chunk_end = (chunk + 1) * QUERY_TILE < d->rows ? (chunk + 1) * QUERY_TILE : d->rows;
    for (int t = chunk * QUERY_TILE; t < chunk_end;) {
      // The run of rows from t that belong to the same sequence (same block table).
      int n = 1;
      while (t + n < chunk_end && d->table_offsets[t + n] == d->table_offsets[t]) n++;
      head_view view = {
          .keys = d->layer.keys + (size_t)kvh * dim,
          .values = d->layer.values + (size_t)kvh * dim,
          .table = d->block_tables + d->table_offsets[t],
          .block_size = d->layer.block_size,
          .kv_dim = d->layer.kv_dim,
          .first_key = 0,
          .key_count = 0,
          .dim = dim,
          .scale = 1.0f / sqrtf((float)dim),
      };
      const float *q[QUERY_TILE];
      float *out[QUERY_TILE];
      int key_counts[QUERY_TILE], first_keys[QUERY_TILE];
      for (int i = 0; i < n; i++) {
        q[i] = d->q + (size_t)(t + i) * q_stride + (size_t)head * dim;
        out[i] = d->out + (size_t)(t + i) * q_stride + (size_t)head * dim;
        key_counts[i] = d->positions[t + i] + 1;
        const int first = d->window > 0 ? key_counts[i] - d->window : 0;
        first_keys[i] = first > 0 ? first : 0;
      }
#if defined(__x86_64__)
      if (avx2) {
        attend_tile_avx2(&view, first_keys, key_counts, n, q, out, scores, d->max_keys);
        t += n;
        continue;
      }
#endif
      for (int i = 0; i < n; i++) {
        view.first_key = first_keys[i];
        view.key_count = key_counts[i];
        attend_portable(&view, q[i], out[i], scores);
      }
      t += n;
    }
  }
}

void tk_attention(tk_pool *pool, const tk_attention_desc *desc) {
  attention_job job;  // not an initializer: that would zero all 64 lanes on every call
  job.d = desc;
  const int chunks = (desc->rows + QUERY_TILE - 1) / QUERY_TILE;
  tk_work_init(&job.work, chunks * desc->head_count, tk_pool_thread_count(pool));
  tk_pool_run(pool, attention_task, &job);
}
