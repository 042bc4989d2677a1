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
  const tk_quant_tile_fn tile = tk_quant_tile(d->type);
  if (!tile) {  // float weights, in ggml's layout
    const size_t col_offset = tk_type_bytes(d->type, d->col_begin);
    for (int r = row_start; r < row_end; r++) {
      const uint8_t *row = d->weight + (size_t)(d->row_begin + r) * d->row_bytes + col_offset;
      for (int b = 0; b < d->batch; b++) {
        const float *x = d->xf + (size_t)b * d->x_row_elements + d->x_col_begin;
        d->out[(size_t)b * d->out_stride + r] = tk_dot_float_portable(d->type, row, x, d->col_count);
      }
    }
    return;
  }
  // Groups of up to four activation rows; within a group, tiles of rows. Decode (one
  // activation) walks the rows two at a time, each streamed alone — measured faster than 4-row
  // tiles, whose interleaved streams wait longer on memory; prefill uses 4×2 and 2×4 tiles
  // for reuse. The thread's rows stay in cache across groups.
  const int nb = d->col_count / 32;
  const size_t x_row_bytes = tk_q8_row_bytes(d->x_row_elements);
  for (int b = 0; b < d->batch; b += TK_TILE_ACTIVATIONS) {
    const int count = d->batch - b < TK_TILE_ACTIVATIONS ? d->batch - b : TK_TILE_ACTIVATIONS;
    tk_q8_view x[TK_TILE_ACTIVATIONS];
    for (int t = 0; t < count; t++) {
      x[t] = tk_q8_row_view(d->xq + (size_t)(b + t) * x_row_bytes, d->x_row_elements,
                            d->x_col_begin / 32);
    }
    const int tile_rows = count == 1 ? 2 : count == 2 ? 4 : 2;
    for (int r = row_start; r < row_end; r += tile_rows) {
      const int rows = row_end - r < tile_rows ? row_end - r : tile_rows;
      // Fetch the next tile's rows: decode streams every weight once per token, and the
      // hardware prefetcher alone leaves the loads waiting on memory.
      const int ahead = r + tile_rows;
      if (ahead + tile_rows <= row_end) {
        const uint8_t *next = d->weight + (size_t)(d->row_begin + ahead) * d->row_bytes;
        for (size_t line = 0; line < (size_t)tile_rows * d->row_bytes; line += 64) {
          __builtin_prefetch(next + line, 0, 3);
        }
      }
      tk_w_view w[TK_TILE_ROWS];
      for (int i = 0; i < rows; i++) {
        w[i] = tk_packed_view(d->type, d->weight + (size_t)(d->row_begin + r + i) * d->row_bytes,
                              d->row_elements, d->col_begin / 32);
      }
      tile(w, rows, x, count, nb, d->out + (size_t)b * d->out_stride + r, (size_t)d->out_stride);
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
