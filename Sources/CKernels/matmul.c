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
  const tk_quant_rows_fn rows = tk_quant_rows(d->type);
  for (int r = row_start; r < row_end; r++) {
    const uint8_t *row = d->weight + (size_t)(d->row_begin + r) * d->row_bytes + col_offset;
    if (!rows) {  // float weights
      for (int b = 0; b < d->batch; b++) {
        d->out[(size_t)b * d->out_stride + r] =
            tk_dot_row(d->type, row, NULL, d->xf + (size_t)b * d->x_stride, d->col_count);
      }
      continue;
    }
    // Up to four activation rows share each unpacked weight block.
    for (int b = 0; b < d->batch; b += TK_MAX_ROWS_AT_ONCE) {
      const int count = d->batch - b < TK_MAX_ROWS_AT_ONCE ? d->batch - b : TK_MAX_ROWS_AT_ONCE;
      const tk_block_q8 *x[TK_MAX_ROWS_AT_ONCE];
      float out[TK_MAX_ROWS_AT_ONCE];
      for (int t = 0; t < count; t++) x[t] = d->xq + (size_t)(b + t) * (d->x_stride / 32);
      rows(row, x, count, d->col_count / 32, out);
      for (int t = 0; t < count; t++) d->out[(size_t)(b + t) * d->out_stride + r] = out[t];
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
