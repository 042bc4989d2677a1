// Row-parallel dispatch of the small ops (see tessera_kernels.h). A step of one or a few rows
// runs on the calling thread: splitting it would cost more than it saves.
#include "internal.h"

enum { MIN_ROWS_TO_SPLIT = 8 };

typedef void (*rows_fn)(const void *ctx, int begin, int end);

typedef struct {
  rows_fn fn;
  const void *ctx;
  int rows;
  tk_work work;
} rows_job;

static void rows_task(void *raw, int thread, int threads) {
  rows_job *job = raw;
  for (int unit = tk_claim(&job->work, thread); unit >= 0; unit = tk_claim(&job->work, thread)) {
    int begin, end;
    tk_unit_range(job->rows, threads, unit, &begin, &end);
    job->fn(job->ctx, begin, end);
  }
}

static void parallel_rows(tk_pool *pool, int rows, rows_fn fn, const void *ctx) {
  if (rows < MIN_ROWS_TO_SPLIT || tk_pool_thread_count(pool) == 1) {
    fn(ctx, 0, rows);
    return;
  }
  // Fields one by one: an initializer would zero all 64 lanes (4 KiB) on every call.
  rows_job job;
  job.fn = fn;
  job.ctx = ctx;
  job.rows = rows;
  const int threads = tk_pool_thread_count(pool);
  tk_work_init(&job.work, tk_unit_count(rows, threads), threads);
  tk_pool_run(pool, rows_task, &job);
}

typedef struct {
  const float *x;
  int n;
  uint8_t *out;
} quantize_ctx;

static void quantize_rows(const void *raw, int begin, int end) {
  const quantize_ctx *c = raw;
  tk_quantize_rows_q8(c->x + (size_t)begin * c->n, end - begin, c->n,
                      c->out + (size_t)begin * tk_q8_row_bytes(c->n));
}

void tk_quantize_rows_q8_parallel(tk_pool *pool, const float *x, int rows, int n, uint8_t *out) {
  const quantize_ctx ctx = {x, n, out};
  parallel_rows(pool, rows, quantize_rows, &ctx);
}

typedef struct {
  const float *x;
  const float *weight;
  float *out;
  int n;
  float eps;
} rmsnorm_ctx;

static void rmsnorm_rows(const void *raw, int begin, int end) {
  const rmsnorm_ctx *c = raw;
  tk_rmsnorm(c->x + (size_t)begin * c->n, c->weight, c->out + (size_t)begin * c->n, end - begin,
             c->n, c->eps);
}

void tk_rmsnorm_parallel(tk_pool *pool, const float *x, const float *weight, float *out, int rows,
                         int n, float eps) {
  const rmsnorm_ctx ctx = {x, weight, out, n, eps};
  parallel_rows(pool, rows, rmsnorm_rows, &ctx);
}

typedef struct {
  const float *gate;
  const float *up;
  float *out;
  int n;
} swiglu_ctx;

static void swiglu_rows(const void *raw, int begin, int end) {
  const swiglu_ctx *c = raw;
  const size_t offset = (size_t)begin * c->n;
  tk_swiglu(c->gate + offset, c->up + offset, c->out + offset, (end - begin) * c->n);
}

void tk_swiglu_parallel(tk_pool *pool, const float *gate, const float *up, float *out, int rows,
                        int n) {
  const swiglu_ctx ctx = {gate, up, out, n};
  parallel_rows(pool, rows, swiglu_rows, &ctx);
}

static void geglu_rows(const void *raw, int begin, int end) {
  const swiglu_ctx *c = raw;
  const size_t offset = (size_t)begin * c->n;
  tk_geglu(c->gate + offset, c->up + offset, c->out + offset, (end - begin) * c->n);
}

void tk_geglu_parallel(tk_pool *pool, const float *gate, const float *up, float *out, int rows,
                       int n) {
  const swiglu_ctx ctx = {gate, up, out, n};
  parallel_rows(pool, rows, geglu_rows, &ctx);
}
