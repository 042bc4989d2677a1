// Matrix products split across the pool by output rows, never by a row's reduction, so a row's
// bits do not depend on the thread count. Each weight row is used for the whole batch while it
// is in cache.
#include "tessera_kernels.h"
#include "internal.h"

typedef struct {
  const tk_matmul_desc *descs;
  int count;
} matmul_job;

static void run_desc(const tk_matmul_desc *d, int row_start, int row_end) {
  const size_t col_offset = tk_type_bytes(d->type, d->col_begin);
  const uint8_t *weights = d->weight + col_offset;
  const tk_quant_tile_fn tile = tk_quant_tile(d->type);
  if (!tile) {  // float weights
    for (int r = row_start; r < row_end; r++) {
      const uint8_t *row = weights + (size_t)(d->row_begin + r) * d->row_bytes;
      for (int b = 0; b < d->batch; b++) {
        d->out[(size_t)b * d->out_stride + r] =
            tk_dot_row(d->type, row, NULL, d->xf + (size_t)b * d->x_stride, d->col_count);
      }
    }
    return;
  }
  // Groups of up to four activation rows; within a group, tiles of rows (4 for one or two
  // activations, 2 for more). The thread's rows stay in cache across groups.
  const int nb = d->col_count / 32;
  for (int b = 0; b < d->batch; b += TK_TILE_ACTIVATIONS) {
    const int count = d->batch - b < TK_TILE_ACTIVATIONS ? d->batch - b : TK_TILE_ACTIVATIONS;
    const tk_block_q8 *x[TK_TILE_ACTIVATIONS];
    for (int t = 0; t < count; t++) x[t] = d->xq + (size_t)(b + t) * (d->x_stride / 32);
    const int tile_rows = count <= 2 ? 4 : 2;
    for (int r = row_start; r < row_end; r += tile_rows) {
      const int rows = row_end - r < tile_rows ? row_end - r : tile_rows;
      tile(weights + (size_t)(d->row_begin + r) * d->row_bytes, d->row_bytes, rows, x, count, nb,
           d->out + (size_t)b * d->out_stride + r, (size_t)d->out_stride);
    }
  }
}

static void matmul_task(void *raw, int thread, int threads) {
  const matmul_job *job = raw;
  for (int i = 0; i < job->count; i++) {
    const tk_matmul_desc *d = &job->descs[i];
    const int per = (d->row_count + threads - 1) / threads;
    const int start = thread * per;
    int end = start + per;
    if (end > d->row_count) end = d->row_count;
    if (start < end) run_desc(d, start, end);
  }
}

void tk_matmul(tk_pool *pool, const tk_matmul_desc *descs, int count) {
  matmul_job job = {descs, count};
  tk_pool_run(pool, matmul_task, &job);
}
