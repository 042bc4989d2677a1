// Causal attention over a paged f16 KV cache. Each (token, head) pair visits its keys in
// order first...position (first = 0, or position - window + 1 on a sliding-window layer), the
// same whether the token came in a prefill batch or alone in a decode step, so prefill and
// decode give the same bits.
//
// Per pair: q is rounded to f16 (as ggml feeds it to its f16 K product); score_j = (q·k_j) ·
// 1/sqrt(dim), with q·k in the float-dot order of tessera_kernels.h; e_j =
// tk_attention_exp(score_j - max) (exp.h), summed in key order; the probabilities e_j / sum,
// rounded to f16 (as ggml feeds them to its f16 V product); out = Σ_j p_j v_j, adding one key
// after another. The products are written as fused multiply-adds: a product of two f16 values
// is exact in f32, so fused or not gives the same bits, and the SIMD levels do half the
// operations. The SIMD kernels (attention_x86.c, attention_avx512.c) compute
// the same operations in the same order for every pair; they only share loads between the
// queries of a tile and between keys.
//
// Threads split tiles: up to TK_ATTENTION_TILE queries of one sequence that read the same KV
// head (the query heads of a group first, then consecutive rows), so K and V stream once per
// tile rather than once per query.
#include "attention.h"

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

static void scores_portable(const head_view *h, const attention_tile *tile, int first, int last,
                            float *max) {
  for (int i = 0; i < tile->count; i++) {
    float q[TK_MAX_HEAD_DIM];
    for (int e = 0; e < h->dim; e++) q[e] = tk_round_f16(tile->q[i][e]);
    const int from = tile->first_key[i] > first ? tile->first_key[i] : first;
    const int to = tile->key_count[i] < last ? tile->key_count[i] : last;
    float *scores = tile->scores + (size_t)i * tile->max_keys;
    key_walk walk = tk_key_walk(h, from);
    for (int j = from; j < to; j++) {
      const uint16_t *k = h->keys + tk_next_slot(&walk) * h->kv_dim;
      float dot = 0.0f;
      for (int b = 0; b < h->dim; b += 32) {
        float lane[8] = {0};
        for (int e = b; e < b + 32; e++) lane[e % 8] = fmaf(q[e], tk_f16_to_f32(k[e]), lane[e % 8]);
        dot = dot + tk_lane_tree8(lane);
      }
      const float s = dot * h->scale;
      scores[j] = s;
      max[i] = s > max[i] ? s : max[i];
    }
  }
}

static void probabilities_portable(const attention_tile *tile, int i, float max) {
  const int from = tile->first_key[i], count = tile->key_count[i] - from;
  float *row = tile->scores + (size_t)i * tile->max_keys + from;
  const float inv = tk_exponentiate(row, count, max);
  for (int j = 0; j < count; j++) row[j] = tk_round_f16(row[j] * inv);
}

static void weigh_portable(const head_view *h, const attention_tile *tile, int first, int last,
                           int begin, int end) {
  (void)first, (void)last;
  for (int i = 0; i < tile->count; i++) {
    float *out = tile->out[i];
    const float *p = tile->scores + (size_t)i * tile->max_keys;
    for (int e = begin; e < end; e++) out[e] = 0.0f;
    key_walk walk = tk_key_walk(h, tile->first_key[i]);
    for (int j = tile->first_key[i]; j < tile->key_count[i]; j++) {
      const uint16_t *v = h->values + tk_next_slot(&walk) * h->kv_dim;
      for (int e = begin; e < end; e++) out[e] = fmaf(p[j], tk_f16_to_f32(v[e]), out[e]);
    }
  }
}

static const attention_parts portable_parts = {scores_portable, probabilities_portable,
                                               weigh_portable};

/// The keys any query of the tile reads: [*first, *last).
static void tile_keys(const attention_tile *tile, int *first, int *last) {
  *first = tile->first_key[0];
  *last = tile->key_count[0];
  for (int i = 1; i < tile->count; i++) {
    *first = tile->first_key[i] < *first ? tile->first_key[i] : *first;
    *last = tile->key_count[i] > *last ? tile->key_count[i] : *last;
  }
}

static void attend_tile_portable(const head_view *h, const attention_tile *tile) {
  float max[TK_ATTENTION_TILE];
  int first, last;
  tile_keys(tile, &first, &last);
  for (int i = 0; i < tile->count; i++) max[i] = -INFINITY;
  scores_portable(h, tile, first, last, max);
  for (int i = 0; i < tile->count; i++) probabilities_portable(tile, i, max[i]);
  weigh_portable(h, tile, first, last, 0, h->dim);
}

/// How the job's queries are cut into items: `rows_per_item` consecutive rows times up to
/// `heads_per_item` query heads of one KV group.
typedef struct {
  const tk_attention_desc *d;
  tk_work work;
  int rows_per_item;
  int heads_per_item;
  int head_chunks;  // items per row chunk
} attention_job;

/// The shard's query heads [*begin, *end) that read local KV head `kvh`.
static void group_heads(const tk_attention_desc *d, int kvh, int *begin, int *end) {
  const int first = kvh * d->heads_per_kv_head - d->first_head_offset;
  const int last = first + d->heads_per_kv_head;
  *begin = first > 0 ? first : 0;
  *end = last < d->head_count ? last : d->head_count;
}

static int head_chunk_count(const tk_attention_desc *d, int heads_per_item) {
  int chunks = 0;
  for (int kvh = 0; kvh < d->kv_head_count; kvh++) {
    int begin, end;
    group_heads(d, kvh, &begin, &end);
    chunks += (end - begin + heads_per_item - 1) / heads_per_item;
  }
  return chunks;
}

/// Head chunk `index` (in KV-group order): its KV head and query heads [*begin, *end).
static int head_chunk(const tk_attention_desc *d, int heads_per_item, int index, int *begin,
                      int *end) {
  for (int kvh = 0; kvh < d->kv_head_count; kvh++) {
    int first, last;
    group_heads(d, kvh, &first, &last);
    const int chunks = (last - first + heads_per_item - 1) / heads_per_item;
    if (index < chunks) {
      *begin = first + index * heads_per_item;
      *end = *begin + heads_per_item < last ? *begin + heads_per_item : last;
      return kvh;
    }
    index -= chunks;
  }
  *begin = *end = 0;
  return 0;
}

/// The tile of rows t ..< t + n (one sequence) and query heads [head_begin, head_end) of KV head
/// kvh, with its scores at `scores`.
static void build_tile(const tk_attention_desc *d, int kvh, int head_begin, int head_end, int t,
                       int n, float *scores, head_view *view, attention_tile *tile) {
  const int dim = d->head_dim;
  const int q_stride = d->head_count * dim;
  *view = (head_view){
      .keys = d->layer.keys + (size_t)kvh * dim,
      .values = d->layer.values + (size_t)kvh * dim,
      .table = d->block_tables + d->table_offsets[t],
      .block_size = d->layer.block_size,
      .kv_dim = d->layer.kv_dim,
      .dim = dim,
      .scale = 1.0f / sqrtf((float)dim),
  };
  tile->count = 0;
  tile->scores = scores;
  tile->max_keys = d->max_keys;
  for (int r = t; r < t + n; r++) {
    const int count = d->positions[r] + 1;
    const int first = d->window > 0 && count > d->window ? count - d->window : 0;
    for (int head = head_begin; head < head_end; head++) {
      const int i = tile->count++;
      tile->q[i] = d->q + (size_t)r * q_stride + (size_t)head * dim;
      tile->out[i] = d->out + (size_t)r * q_stride + (size_t)head * dim;
      tile->first_key[i] = first;
      tile->key_count[i] = count;
    }
  }
}

static void attention_task(void *raw, int thread, int threads) {
  (void)threads;
  attention_job *job = raw;
  const tk_attention_desc *d = job->d;
  const int dim = d->head_dim;
  float *scores = d->scratch + (size_t)thread * TK_ATTENTION_TILE * d->max_keys;
#if defined(__x86_64__)
  const int avx512 = tk_has_avx512() && dim % 32 == 0;
  const int avx2 = tk_has_avx2() && dim % 64 == 0;
#endif

  for (int item = tk_claim(&job->work, thread); item >= 0; item = tk_claim(&job->work, thread)) {
    const int chunk = item / job->head_chunks;
    int head_begin, head_end;
    const int kvh = head_chunk(d, job->heads_per_item, item % job->head_chunks, &head_begin,
                               &head_end);
    const int row_end = (chunk + 1) * job->rows_per_item < d->rows
                            ? (chunk + 1) * job->rows_per_item
                            : d->rows;
    for (int t = chunk * job->rows_per_item; t < row_end;) {
      // The run of rows from t that belong to the same sequence (same block table).
      int n = 1;
      while (t + n < row_end && d->table_offsets[t + n] == d->table_offsets[t]) n++;
      head_view view;
      attention_tile tile;
      build_tile(d, kvh, head_begin, head_end, t, n, scores, &view, &tile);
#if defined(__x86_64__)
      if (avx512) {
        tk_attend_tile_avx512(&view, &tile);
        t += n;
        continue;
      }
      if (avx2) {
        tk_attend_tile_avx2(&view, &tile);
        t += n;
        continue;
      }
#endif
      attend_tile_portable(&view, &tile);
      t += n;
    }
  }
}

/// The parts of this level (and head dimension).
static const attention_parts *parts_for(int dim) {
#if defined(__x86_64__)
  if (tk_has_avx512() && dim % 32 == 0) return &tk_attention_parts_avx512;
  if (tk_has_avx2() && dim % 64 == 0) return &tk_attention_parts_avx2;
#endif
  return &portable_parts;
}

// MARK: One tile split across threads

static int split_min_keys = 2048;

void tk_attention_split_min_keys(int keys) { split_min_keys = keys > 0 ? keys : 2048; }

enum { SPLIT_KEYS = 512 };  // keys per score unit (a multiple of every key group)

/// A decode step's single tile on every thread: scores by key ranges, then probabilities by
/// query, then p·v by ranges of output dimensions.
typedef struct {
  const attention_parts *parts;
  head_view view;
  attention_tile tile;
  int first, last;
  int dims_per_unit;
  tk_work work;
  float max[TK_MAX_LANES][TK_ATTENTION_TILE];  // each thread's largest score per query
} split_job;

static void split_scores(void *raw, int thread, int threads) {
  (void)threads;
  split_job *job = raw;
  for (int u = tk_claim(&job->work, thread); u >= 0; u = tk_claim(&job->work, thread)) {
    const int from = job->first + u * SPLIT_KEYS;
    const int to = from + SPLIT_KEYS < job->last ? from + SPLIT_KEYS : job->last;
    job->parts->scores(&job->view, &job->tile, from, to, job->max[thread]);
  }
}

static void split_probabilities(void *raw, int thread, int threads) {
  split_job *job = raw;
  for (int i = tk_claim(&job->work, thread); i >= 0; i = tk_claim(&job->work, thread)) {
    float max = -INFINITY;
    for (int t = 0; t < threads && t < TK_MAX_LANES; t++)
      max = job->max[t][i] > max ? job->max[t][i] : max;
    job->parts->probabilities(&job->tile, i, max);
  }
}

static void split_values(void *raw, int thread, int threads) {
  (void)threads;
  split_job *job = raw;
  for (int u = tk_claim(&job->work, thread); u >= 0; u = tk_claim(&job->work, thread)) {
    const int begin = u * job->dims_per_unit;
    const int end = begin + job->dims_per_unit < job->view.dim ? begin + job->dims_per_unit
                                                               : job->view.dim;
    job->parts->weigh(&job->view, &job->tile, job->first, job->last, begin, end);
  }
}

/// Whether the step is one tile long enough to be worth splitting: then it is computed so.
static int attend_split(tk_pool *pool, const tk_attention_desc *d, int heads_per_item) {
  const int threads = tk_pool_thread_count(pool);
  if (threads < 2 || d->rows != 1 || d->head_dim % 64 != 0) return 0;
  if (head_chunk_count(d, heads_per_item) != 1) return 0;
  if (d->positions[0] + 1 < split_min_keys) return 0;
  split_job job;
  job.parts = parts_for(d->head_dim);
  int head_begin, head_end;
  const int kvh = head_chunk(d, heads_per_item, 0, &head_begin, &head_end);
  build_tile(d, kvh, head_begin, head_end, 0, 1, d->scratch, &job.view, &job.tile);
  tile_keys(&job.tile, &job.first, &job.last);
  for (int t = 0; t < threads && t < TK_MAX_LANES; t++)
    for (int i = 0; i < job.tile.count; i++) job.max[t][i] = -INFINITY;
  tk_work_init(&job.work, (job.last - job.first + SPLIT_KEYS - 1) / SPLIT_KEYS, threads);
  tk_pool_run(pool, split_scores, &job);
  tk_work_init(&job.work, job.tile.count, threads);
  tk_pool_run(pool, split_probabilities, &job);
  const int units = d->head_dim / 64 < threads ? d->head_dim / 64 : threads;
  job.dims_per_unit = (d->head_dim / 64 + units - 1) / units * 64;
  tk_work_init(&job.work, (d->head_dim + job.dims_per_unit - 1) / job.dims_per_unit, threads);
  tk_pool_run(pool, split_values, &job);
  return 1;
}

void tk_attention(tk_pool *pool, const tk_attention_desc *desc) {
  attention_job job;  // not an initializer: that would zero all 64 lanes on every call
  job.d = desc;
  const int threads = tk_pool_thread_count(pool);
  // A tile is the query heads of a KV group, then as many rows as fill TK_ATTENTION_TILE
  // queries. With fewer tiles than threads (decode), a group's heads are split further.
  const int group = desc->heads_per_kv_head < desc->head_count ? desc->heads_per_kv_head
                                                                : desc->head_count;
  job.heads_per_item = group < TK_ATTENTION_TILE ? group : TK_ATTENTION_TILE;
  if (job.heads_per_item < 1) job.heads_per_item = 1;
  job.rows_per_item = TK_ATTENTION_TILE / job.heads_per_item;
  const int row_chunks = (desc->rows + job.rows_per_item - 1) / job.rows_per_item;
  if (attend_split(pool, desc, job.heads_per_item)) return;
  job.head_chunks = head_chunk_count(desc, job.heads_per_item);
  while (job.heads_per_item > 1 && row_chunks * job.head_chunks < threads) {
    job.heads_per_item = (job.heads_per_item + 1) / 2;
    job.head_chunks = head_chunk_count(desc, job.heads_per_item);
  }
  tk_work_init(&job.work, row_chunks * job.head_chunks, threads);
  tk_pool_run(pool, attention_task, &job);
}
