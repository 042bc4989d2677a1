// Run-time choice of kernels by CPU features: the binary runs on any x86-64 (and elsewhere),
// uses AVX2 where the CPU has it, AVX-VNNI's 256-bit dot product where it has that and not
// AVX-512, and AVX-512 VNNI's where it has that. TESSERA_KERNELS caps the level (portable,
// avx2, avxvnni, avx512vnni; read by the executable, Core's KernelLevel). Every choice computes
// the same bits.
#include "internal.h"

#if defined(__x86_64__)
tk_panel_fn tk_panel_kernel_avx2(int type, int level);
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
  LEVEL_AVX_VNNI = TK_KERNELS_AVX_VNNI,
  LEVEL_AVX512_VNNI = TK_KERNELS_AVX512_VNNI
};

/// The levels this CPU runs, one bit each (portable always).
static int detect_levels(void) {
  int levels = 1 << LEVEL_PORTABLE;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c")))
    return levels;
  levels |= 1 << LEVEL_AVX2;
  // LEVEL_AVX_VNNI is not reported yet: its 256-bit vpdpbusd panels are not written, and a
  // level that ran the AVX2 panels under another name would mislead (see docs/DECISIONS.md).
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni"))
    levels |= 1 << LEVEL_AVX512_VNNI;
#endif
  return levels;
}

static int available_levels(void) {
  static int detected = 0;
  if (detected == 0) detected = detect_levels();
  return detected;
}

static int limit = -1;

void tk_limit_kernels(int level) { limit = level; }

int tk_kernels_available(int level) {
  return level >= 0 && level < 31 && (available_levels() >> level & 1);
}

int tk_kernels_supported(void) {
  int best = 0;
  for (int level = 0; level <= LEVEL_AVX512_VNNI; level++) {
    if (tk_kernels_available(level)) best = level;
  }
  return best;
}

/// The level in use: the best one the CPU has, at most the limit. Levels are not nested (a
/// CPU may have AVX-512 VNNI and not AVX-VNNI), so a cap picks the best available level at
/// or below it.
static int level(void) {
  const int cap = limit >= 0 ? limit : LEVEL_AVX512_VNNI;
  for (int candidate = cap; candidate > 0; candidate--) {
    if (tk_kernels_available(candidate)) return candidate;
  }
  return LEVEL_PORTABLE;
}

int tk_kernel_level(void) { return level(); }

int tk_has_avx2(void) { return level() >= LEVEL_AVX2; }

int tk_has_avx512(void) { return level() >= LEVEL_AVX512_VNNI; }

const char *tk_kernel_name(void) {
  switch (level()) {
  case LEVEL_AVX512_VNNI: return "avx512vnni";
  case LEVEL_AVX_VNNI: return "avxvnni";
  case LEVEL_AVX2: return "avx2";
  default: return "portable";
  }
}

tk_panel_fn tk_panel_kernel(int type) {
#if defined(__x86_64__)
  if (level() >= LEVEL_AVX2) {
    tk_panel_fn fn = tk_panel_kernel_avx2(type, level());
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
