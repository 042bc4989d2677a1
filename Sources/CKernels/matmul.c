// Matrix products split across the pool by output rows (whole panels for quantized weights),
// never by a row's reduction, so a row's bits do not depend on the thread count or on which
// thread computed it.
#include "tessera_kernels.h"
#include "internal.h"

typedef struct {
  const tk_matmul_desc *descs;
  int count;
  tk_work work;
} matmul_job;

/// Float weights, in ggml's layout: rows [start, end) of the product, one dot at a time.
static void run_float(const tk_matmul_desc *d, int start, int end) {
  const size_t col_offset = tk_type_bytes(d->type, d->col_begin);
  for (int r = start; r < end; r++) {
    const uint8_t *row = d->weight + (size_t)(d->row_begin + r) * d->stride_bytes + col_offset;
    for (int b = 0; b < d->batch; b++) {
      const float *x = d->xf + (size_t)b * d->x_row_elements + d->x_col_begin;
      d->out[(size_t)b * d->out_stride + r] = tk_dot_float_portable(d->type, row, x, d->col_count);
    }
  }
}

/// The panels that hold the product's rows: [first, first + count).
static void panel_range(const tk_matmul_desc *d, int *first, int *count) {
  *first = d->row_begin / TK_PANEL_ROWS;
  *count = (d->row_begin + d->row_count + TK_PANEL_ROWS - 1) / TK_PANEL_ROWS - *first;
}

/// Quantized weights: panels [start, end), each computed whole for up to four activation rows
/// at a time; rows outside the product are dropped. Activations are the outer loop, so a
/// unit's panels stay in cache across groups.
static void run_panels(const tk_matmul_desc *d, int start, int end) {
  const tk_panel_fn kernel = tk_panel_kernel(d->type);
  const int nb = d->col_count / 32;
  const size_t first_block = (size_t)(d->col_begin / 32) * tk_panel_block_bytes(d->type);
  const size_t x_row_bytes = tk_q8_row_bytes(d->x_row_elements);
  for (int b = 0; b < d->batch; b += TK_TILE_ACTIVATIONS) {
    const int count = d->batch - b < TK_TILE_ACTIVATIONS ? d->batch - b : TK_TILE_ACTIVATIONS;
    tk_q8_view x[TK_TILE_ACTIVATIONS];
    for (int t = 0; t < count; t++) {
      x[t] = tk_q8_row_view(d->xq + (size_t)(b + t) * x_row_bytes, d->x_row_elements,
                            d->x_col_begin / 32);
    }
    for (int p = start; p < end; p++) {
      float tile[TK_TILE_ACTIVATIONS][TK_PANEL_ROWS] __attribute__((aligned(64)));
      kernel(d->weight + (size_t)p * d->stride_bytes + first_block, nb, x, count, tile);
      const int lo = p * TK_PANEL_ROWS - d->row_begin;  // product row of the panel's first row
      const int from = lo < 0 ? -lo : 0;
      const int to = d->row_count - lo < TK_PANEL_ROWS ? d->row_count - lo : TK_PANEL_ROWS;
      for (int t = 0; t < count; t++) {
        float *out = d->out + (size_t)(b + t) * d->out_stride;
        for (int j = from; j < to; j++) out[lo + j] = tile[t][j];
      }
    }
  }
}

/// A product's work items: panels for quantized weights, rows for float ones.
static int item_count(const tk_matmul_desc *d) {
  if (!tk_type_uses_q8(d->type)) return d->row_count;
  int first, count;
  panel_range(d, &first, &count);
  return count;
}

static void run_items(const tk_matmul_desc *d, int begin, int end) {
  if (tk_type_uses_q8(d->type)) {
    int first, count;
    panel_range(d, &first, &count);
    run_panels(d, first + begin, first + end);
  } else {
    run_float(d, begin, end);
  }
}

// Units follow the products in order; each product is cut into TK_UNITS_PER_THREAD units per
// thread (fewer if it has fewer items).
static void matmul_task(void *raw, int thread, int threads) {
  matmul_job *job = raw;
  for (int unit = tk_claim(&job->work, thread); unit >= 0; unit = tk_claim(&job->work, thread)) {
    int i = 0;
    for (; i < job->count; i++) {
      const int units = tk_unit_count(item_count(&job->descs[i]), threads);
      if (unit < units) break;
      unit -= units;
    }
    const tk_matmul_desc *d = &job->descs[i];
    int begin, end;
    tk_unit_range(item_count(d), threads, unit, &begin, &end);
    run_items(d, begin, end);
  }
}

void tk_matmul(tk_pool *pool, const tk_matmul_desc *descs, int count) {
  matmul_job job;  // not an initializer: that would zero all 64 lanes on every call
  job.descs = descs;
  job.count = count;
  const int threads = tk_pool_thread_count(pool);
  int units = 0;
  for (int i = 0; i < count; i++) units += tk_unit_count(item_count(&descs[i]), threads);
  tk_work_init(&job.work, units, threads);
  tk_pool_run(pool, matmul_task, &job);
}
