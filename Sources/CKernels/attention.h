// What the attention files (attention.c, attention_x86.c) share: one KV head's view of the
// paged cache, the tile of queries that read it together, and the arithmetic every kernel
// level repeats in the same order (see attention.c for the contract).
#ifndef TESSERA_ATTENTION_H
#define TESSERA_ATTENTION_H

#include <math.h>

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

/// scores[j] = exp(scores[j] - max), summed in key order; returns 1 / the sum.
static inline float tk_exponentiate(float *scores, int count, float max) {
  float sum = 0.0f;
  for (int j = 0; j < count; j++) {
    scores[j] = expf(scores[j] - max);
    sum = sum + scores[j];
  }
  return 1.0f / sum;
}

/// The tile's queries, each computing exactly what the portable kernel does.
void tk_attend_tile_avx2(const head_view *h, const attention_tile *tile);

#endif
