// Causal attention over a paged f16 KV cache. Each (token, head) pair visits its keys in
// order 0...position, the same whether the token came in a prefill batch or alone in a
// decode step, so prefill and decode give the same bits. Threads split (token, head) pairs.
#include <math.h>

#include "tessera_kernels.h"
#include "internal.h"

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

static float dot_q_k(const float *q, const uint16_t *k, int n) {
  float sum = 0.0f;
  for (int i = 0; i < n; i += 32) {
    float lane[8] = {0};
    for (int j = 0; j < 4; j++) {
      for (int l = 0; l < 8; l++) {
        const int e = i + 8 * j + l;
        lane[l] = lane[l] + tk_round_f16(q[e]) * tk_f16_to_f32(k[e]);
      }
    }
    sum = sum + tk_lane_tree8(lane);
  }
  return sum;
}

typedef struct {
  const tk_attention_desc *d;
} attention_job;

static void attention_task(void *raw, int thread, int threads) {
  const tk_attention_desc *d = ((attention_job *)raw)->d;
  const int items = d->rows * d->head_count;
  const int per = (items + threads - 1) / threads;
  const int start = thread * per;
  const int end = start + per < items ? start + per : items;
  const int group = d->head_count / d->kv_head_count;
  const int dim = d->head_dim;
  const int q_stride = d->head_count * dim;
  const int bs = d->layer.block_size;
  const int kv_dim = d->layer.kv_dim;
  const float scale = 1.0f / sqrtf((float)dim);
  float *scores = d->scratch + (size_t)thread * d->max_keys;

  for (int item = start; item < end; item++) {
    const int t = item / d->head_count;
    const int h = item % d->head_count;
    const int kvh = h / group;
    const int key_count = d->positions[t] + 1;
    const int32_t *table = d->block_tables + d->table_offsets[t];
    const float *q = d->q + (size_t)t * q_stride + (size_t)h * dim;
    float *out = d->out + (size_t)t * q_stride + (size_t)h * dim;

    float max = -INFINITY;
    for (int j = 0; j < key_count; j++) {
      const size_t slot = (size_t)table[j / bs] * bs + j % bs;
      const float s = dot_q_k(q, d->layer.keys + slot * kv_dim + (size_t)kvh * dim, dim) * scale;
      scores[j] = s;
      max = s > max ? s : max;
    }
    float sum = 0.0f;
    for (int j = 0; j < key_count; j++) {
      scores[j] = expf(scores[j] - max);
      sum = sum + scores[j];
    }
    // Probabilities are normalized, then rounded to f16 as ggml feeds them to its f16 V product.
    const float inv = 1.0f / sum;
    for (int i = 0; i < dim; i++) out[i] = 0.0f;
    for (int j = 0; j < key_count; j++) {
      const size_t slot = (size_t)table[j / bs] * bs + j % bs;
      const uint16_t *v = d->layer.values + slot * kv_dim + (size_t)kvh * dim;
      const float p = tk_round_f16(scores[j] * inv);
      for (int i = 0; i < dim; i++) out[i] = out[i] + p * tk_f16_to_f32(v[i]);
    }
  }
}

void tk_attention(tk_pool *pool, const tk_attention_desc *desc) {
  attention_job job = {desc};
  tk_pool_run(pool, attention_task, &job);
}
