// Run-time choice of kernels by CPU features: the binary runs on any x86-64 (and elsewhere),
// uses AVX2 where the CPU has it and AVX-512 VNNI's dot-product instruction where it has that.
// Every choice computes the same bits.
#include "internal.h"

#if defined(__x86_64__)
tk_quant_tile_fn tk_quant_tile_avx2(int type, int vnni);
#endif

static void tile_portable(int type, const tk_w_view *w, int rows, const tk_q8_view *x, int count,
                          int nb, float *out, size_t out_stride) {
  for (int r = 0; r < rows; r++)
    for (int t = 0; t < count; t++)
      out[(size_t)t * out_stride + r] = tk_dot_packed_portable(type, w[r], x[t], nb);
}

#define TK_TILE_PORTABLE(name, type)                                                           \
  static void name(const tk_w_view *w, int rows, const tk_q8_view *x, int count, int nb,       \
                   float *out, size_t out_stride) {                                             \
    tile_portable(type, w, rows, x, count, nb, out, out_stride);                               \
  }

TK_TILE_PORTABLE(tile_q8_0_portable, TK_TYPE_Q8_0)
TK_TILE_PORTABLE(tile_q4_0_portable, TK_TYPE_Q4_0)
TK_TILE_PORTABLE(tile_q4_1_portable, TK_TYPE_Q4_1)

enum { LEVEL_PORTABLE = 0, LEVEL_AVX2 = 1, LEVEL_VNNI = 2 };

static int detect_level(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c")))
    return LEVEL_PORTABLE;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512vnni"))
    return LEVEL_VNNI;
  return LEVEL_AVX2;
#else
  return LEVEL_PORTABLE;
#endif
}

static int forced_portable;

void tk_force_portable(int on) { forced_portable = on; }

static int level(void) {
  static int detected = -1;
  if (detected < 0) detected = detect_level();
  return forced_portable ? LEVEL_PORTABLE : detected;
}

int tk_has_avx2(void) { return level() >= LEVEL_AVX2; }

const char *tk_kernel_name(void) {
  switch (level()) {
  case LEVEL_VNNI: return "avx512vnni";
  case LEVEL_AVX2: return "avx2";
  default: return "portable";
  }
}

tk_quant_tile_fn tk_quant_tile(int type) {
#if defined(__x86_64__)
  if (level() >= LEVEL_AVX2) {
    tk_quant_tile_fn fn = tk_quant_tile_avx2(type, level() == LEVEL_VNNI);
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

float tk_dot_row_fast(int type, const uint8_t *row, int n, const uint8_t *xq, const float *xf) {
  tk_quant_tile_fn fn = tk_quant_tile(type);
  if (!fn) return tk_dot_row(type, row, n, xq, xf);
  const tk_w_view w = tk_packed_view(type, row, n, 0);
  const tk_q8_view x = tk_q8_row_view(xq, n, 0);
  float out;
  fn(&w, 1, &x, 1, n / 32, &out, 1);
  return out;
}
