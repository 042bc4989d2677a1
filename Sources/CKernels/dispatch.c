// Run-time choice of kernels by CPU features: the binary runs on any x86-64 (and elsewhere)
// and uses AVX2 where the CPU has it. Every choice computes the same bits.
#include "internal.h"

tk_quant_rows_fn tk_quant_rows_avx2(int type);

static void rows_q8_0_portable(const uint8_t *w, const tk_block_q8 *const *x, int count, int nb,
                               float *out) {
  for (int t = 0; t < count; t++) out[t] = tk_dot_q8_0_portable(w, x[t], nb);
}
static void rows_q4_0_portable(const uint8_t *w, const tk_block_q8 *const *x, int count, int nb,
                               float *out) {
  for (int t = 0; t < count; t++) out[t] = tk_dot_q4_0_portable(w, x[t], nb);
}
static void rows_q4_1_portable(const uint8_t *w, const tk_block_q8 *const *x, int count, int nb,
                               float *out) {
  for (int t = 0; t < count; t++) out[t] = tk_dot_q4_1_portable(w, x[t], nb);
}

static int has_avx2(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
#else
  return 0;
#endif
}

static int forced_portable;

void tk_force_portable(int on) { forced_portable = on; }

const char *tk_kernel_name(void) { return !forced_portable && has_avx2() ? "avx2" : "portable"; }

tk_quant_rows_fn tk_quant_rows(int type) {
#if defined(__x86_64__)
  static int avx2 = -1;
  if (avx2 < 0) avx2 = has_avx2();
  if (avx2 && !forced_portable) {
    tk_quant_rows_fn fn = tk_quant_rows_avx2(type);
    if (fn) return fn;
  }
#endif
  switch (type) {
  case TK_TYPE_Q8_0: return rows_q8_0_portable;
  case TK_TYPE_Q4_0: return rows_q4_0_portable;
  case TK_TYPE_Q4_1: return rows_q4_1_portable;
  default: return 0;
  }
}

float tk_dot_row_fast(int type, const void *row, const tk_block_q8 *xq, const float *xf, int n) {
  tk_quant_rows_fn fn = tk_quant_rows(type);
  if (!fn) return tk_dot_row(type, row, xq, xf, n);
  float out;
  fn((const uint8_t *)row, &xq, 1, n / 32, &out);
  return out;
}
