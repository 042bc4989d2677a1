// What the attention files (attention.c, attention_x86.c) share: one KV head's view of the
// paged cache, the tile of queries that read it together, and the arithmetic every kernel
// level repeats in the same order (see attention.c for the contract).
#ifndef TESSERA_ATTENTION_H
#define TESSERA_ATTENTION_H

#include <math.h>

#include "exp.h"
#include "internal.h"

enum { TK_ATTENTION_TILE = TK_ATTENTION_TILE_QUERIES, TK_MAX_HEAD_DIM = 512 };

typedef struct {
  const uint16_t *keys;    // this KV head's keys: key j at keys + slot(j) * kv_dim
  const uint16_t *values;  // likewise
  const int32_t *table;    // the sequence's physical blocks
  int block_size;
  int kv_dim;
  int dim;
  float scale;
} head_view;

/// Up to TK_ATTENTION_TILE queries of one sequence that read the same KV head: query i sees
/// keys first_key[i] ..< key_count[i]. scores holds max_keys floats per query.
typedef struct {
  const float *q[TK_ATTENTION_TILE];
  float *out[TK_ATTENTION_TILE];
  int first_key[TK_ATTENTION_TILE];
  int key_count[TK_ATTENTION_TILE];
  int count;
  float *scores;
  int max_keys;
} attention_tile;

/// The cache slot of consecutive keys, a block table entry per block_size of them (no
/// division per key).
typedef struct {
  const int32_t *table;
  int block_size;
  int block;
  int offset;
} key_walk;

static inline key_walk tk_key_walk(const head_view *h, int first) {
  return (key_walk){h->table, h->block_size, first / h->block_size, first % h->block_size};
}

static inline size_t tk_next_slot(key_walk *w) {
  const size_t slot = (size_t)w->table[w->block] * w->block_size + w->offset;
  if (++w->offset == w->block_size) {
    w->offset = 0;
    w->block++;
  }
  return slot;
}

/// scores[j] = tk_attention_exp(scores[j] - max); returns 1 / their sum, added in key order.
static inline float tk_exponentiate(float *scores, int count, float max) {
  float sum = 0.0f;
  for (int j = 0; j < count; j++) {
    scores[j] = tk_attention_exp(scores[j] - max);
    sum = sum + scores[j];
  }
  return 1.0f / sum;
}

/// 1 / Σ_j e_j (scores already exponentiated) for every query of the tile, each sum one chain
/// in key order as in tk_exponentiate. Queries that read the same keys (the heads of a row)
/// run their chains side by side, so that each add's latency hides behind the others'.
static inline void tk_inverse_sums(const attention_tile *tile, float *inverse) {
  for (int i = 0; i < tile->count;) {
    const int from = tile->first_key[i], to = tile->key_count[i];
    int n = 1;
    while (i + n < tile->count && n < 4 && tile->first_key[i + n] == from &&
           tile->key_count[i + n] == to)
      n++;
    const float *row[4];
    for (int c = 0; c < 4; c++)
      row[c] = tile->scores + (size_t)(i + (c < n ? c : 0)) * tile->max_keys;
    float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int j = from; j < to; j++) {  // four chains always; the extra ones repeat row 0
      sum[0] = sum[0] + row[0][j];
      sum[1] = sum[1] + row[1][j];
      sum[2] = sum[2] + row[2][j];
      sum[3] = sum[3] + row[3][j];
    }
    for (int c = 0; c < n; c++) inverse[i + c] = 1.0f / sum[c];
    i += n;
  }
}

/// Where the rows `TK_PREFETCH_KEYS` ahead of the next widened one are, so that they are on
/// their way from memory while the group before them is computed.
enum { TK_PREFETCH_KEYS = 32 };

typedef struct {
  key_walk walk;
  int next;  // the key `walk` is at
  int last;  // keys from here on are not read
} lookahead;

static inline lookahead tk_lookahead(const head_view *h, int first, int last) {
  const int at = first + TK_PREFETCH_KEYS;
  return (lookahead){at < last ? tk_key_walk(h, at) : (key_walk){0}, at, last};
}

/// Starts loading the next row ahead (`count` f16 values from `base` in it), if there is one.
static inline void tk_prefetch_ahead(lookahead *ahead, const uint16_t *base, int kv_dim,
                                     int count) {
  if (ahead->next >= ahead->last) return;
  const char *row = (const char *)(base + tk_next_slot(&ahead->walk) * kv_dim);
  for (int byte = 0; byte < 2 * count; byte += 64) __builtin_prefetch(row + byte, 0, 3);
  ahead->next++;
}

/// 1 / Σ_j e_j of one query (scores already exponentiated), one chain in key order.
static inline float tk_inverse_sum(const attention_tile *tile, int query) {
  const float *row = tile->scores + (size_t)query * tile->max_keys;
  float sum = 0.0f;
  for (int j = tile->first_key[query]; j < tile->key_count[query]; j++) sum = sum + row[j];
  return 1.0f / sum;
}

/// A tile's work in three parts, so that one tile can also be split across threads (a decode
/// step at long context: one tile, every thread): scores of a range of keys (each thread its
/// own range; `max` gathers each query's largest score), then each query's probabilities,
/// then p·v for a range of output dimensions [begin, end) (multiples of 64; each thread its
/// own). A key's score, a query's softmax and an output dimension never depend on the split,
/// so it gives the bits of the whole tile.
typedef struct {
  void (*scores)(const head_view *h, const attention_tile *tile, int first, int last,
                 float *max);
  void (*probabilities)(const attention_tile *tile, int query, float max);
  void (*weigh)(const head_view *h, const attention_tile *tile, int first, int last, int begin,
                int end);
} attention_parts;

extern const attention_parts tk_attention_parts_avx2;
extern const attention_parts tk_attention_parts_avx512;

/// The tile's queries, each computing exactly what the portable kernel does.
void tk_attend_tile_avx2(const head_view *h, const attention_tile *tile);
void tk_attend_tile_avx512(const head_view *h, const attention_tile *tile);

#endif
