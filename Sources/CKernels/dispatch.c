// Run-time choice of kernels by CPU features: the binary runs on any x86-64 (and elsewhere)
// and uses AVX2 where the CPU has it. Every choice computes the same bits.
#include "internal.h"

tk_quant_tile_fn tk_quant_tile_avx2(int type);

#define TK_TILE_PORTABLE(name, dot)                                                            \
  static void name(const uint8_t *w, size_t row_bytes, int rows, const tk_block_q8 *const *x,  \
                   int count, int nb, float *out, size_t out_stride) {                          \
    for (int r = 0; r < rows; r++)                                                              \
      for (int t = 0; t < count; t++)                                                           \
        out[(size_t)t * out_stride + r] = dot(w + (size_t)r * row_bytes, x[t], nb);             \
  }

TK_TILE_PORTABLE(tile_q8_0_portable, tk_dot_q8_0_portable)
TK_TILE_PORTABLE(tile_q4_0_portable, tk_dot_q4_0_portable)
TK_TILE_PORTABLE(tile_q4_1_portable, tk_dot_q4_1_portable)

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

const char *tk_kernel_name(void) { return tk_has_avx2() ? "avx2" : "portable"; }

int tk_has_avx2(void) {
  static int avx2 = -1;
  if (avx2 < 0) avx2 = has_avx2();
  return avx2 && !forced_portable;
}

tk_quant_tile_fn tk_quant_tile(int type) {
#if defined(__x86_64__)
  if (tk_has_avx2()) {
    tk_quant_tile_fn fn = tk_quant_tile_avx2(type);
    if (fn) return fn;
  }
#endif
  switch (type) {
  case TK_TYPE_Q8_0: return tile_q8_0_portable;
  case TK_TYPE_Q4_0: return tile_q4_0_portable;
  case TK_TYPE_Q4_1: return tile_q4_1_portable;
  default: return 0;
  }
}

float tk_dot_row_fast(int type, const void *row, const tk_block_q8 *xq, const float *xf, int n) {
  tk_quant_tile_fn fn = tk_quant_tile(type);
  if (!fn) return tk_dot_row(type, row, xq, xf, n);
  float out;
  fn((const uint8_t *)row, 0, 1, &xq, 1, n / 32, &out, 1);
  return out;
}
