// Run-time choice of kernels by CPU features: the binary runs on any x86-64 (and elsewhere),
// uses AVX2 where the CPU has it and AVX-512 VNNI's dot-product instruction where it has that.
// Every choice computes the same bits.
#include "internal.h"

#if defined(__x86_64__)
tk_panel_fn tk_panel_kernel_avx2(int type, int vnni);
#endif

static void panel_portable(int type, const uint8_t *blocks, int nb, const tk_q8_view *x,
                           int count, float out[][TK_PANEL_ROWS]) {
  for (int t = 0; t < count; t++)
    for (int r = 0; r < TK_PANEL_ROWS; r++)
      out[t][r] = tk_dot_panel_portable(type, blocks, r, x[t], nb);
}

#define TK_PANEL_PORTABLE(name, type)                                                          \
  static void name(const uint8_t *blocks, int nb, const tk_q8_view *x, int count,             \
                   float out[][TK_PANEL_ROWS]) {                                               \
    panel_portable(type, blocks, nb, x, count, out);                                           \
  }

TK_PANEL_PORTABLE(panel_q8_0_portable, TK_TYPE_Q8_0)
TK_PANEL_PORTABLE(panel_q4_0_portable, TK_TYPE_Q4_0)
TK_PANEL_PORTABLE(panel_q4_1_portable, TK_TYPE_Q4_1)
TK_PANEL_PORTABLE(panel_q5_0_portable, TK_TYPE_Q5_0)
TK_PANEL_PORTABLE(panel_q4_k_portable, TK_TYPE_Q4_K)
TK_PANEL_PORTABLE(panel_q6_k_portable, TK_TYPE_Q6_K)

enum {
  LEVEL_PORTABLE = TK_KERNELS_PORTABLE,
  LEVEL_AVX2 = TK_KERNELS_AVX2,
  LEVEL_VNNI = TK_KERNELS_AVX512_VNNI
};

static int detect_level(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c")))
    return LEVEL_PORTABLE;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vnni"))
    return LEVEL_VNNI;
  return LEVEL_AVX2;
#else
  return LEVEL_PORTABLE;
#endif
}

static int limit = -1;

void tk_limit_kernels(int level) { limit = level; }

int tk_kernels_supported(void) {
  static int detected = -1;
  if (detected < 0) detected = detect_level();
  return detected;
}

static int level(void) {
  const int supported = tk_kernels_supported();
  return limit >= 0 && limit < supported ? limit : supported;
}

int tk_has_avx2(void) { return level() >= LEVEL_AVX2; }

int tk_has_avx512(void) { return level() >= LEVEL_VNNI; }

const char *tk_kernel_name(void) {
  switch (level()) {
  case LEVEL_VNNI: return "avx512vnni";
  case LEVEL_AVX2: return "avx2";
  default: return "portable";
  }
}

tk_panel_fn tk_panel_kernel(int type) {
#if defined(__x86_64__)
  if (level() >= LEVEL_AVX2) {
    tk_panel_fn fn = tk_panel_kernel_avx2(type, level() == LEVEL_VNNI);
    if (fn) return fn;
  }
#endif
  switch (type) {
  case TK_TYPE_Q8_0: return panel_q8_0_portable;
  case TK_TYPE_Q4_0: return panel_q4_0_portable;
  case TK_TYPE_Q4_1: return panel_q4_1_portable;
  case TK_TYPE_Q5_0: return panel_q5_0_portable;
  case TK_TYPE_Q4_K: return panel_q4_k_portable;
  case TK_TYPE_Q6_K: return panel_q6_k_portable;
  default: return 0;
  }
}

float tk_dot_row_fast(int type, const uint8_t *matrix, int n, int row, const uint8_t *xq,
                      const float *xf) {
  tk_panel_fn fn = tk_panel_kernel(type);
  if (!fn) return tk_dot_row(type, matrix, n, row, xq, xf);
  const uint8_t *panel = matrix + (size_t)(row / TK_PANEL_ROWS) * tk_packed_panel_bytes(type, n);
  const tk_q8_view x = tk_q8_row_view(xq, n, 0);
  float out[1][TK_PANEL_ROWS];
  fn(panel, n / 32, &x, 1, out);
  return out[0][row % TK_PANEL_ROWS];
}
