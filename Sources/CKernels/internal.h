// Helpers shared by the kernel files; not part of the public interface.
#ifndef TESSERA_KERNELS_INTERNAL_H
#define TESSERA_KERNELS_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

// MARK: Work units for pool tasks (see pool.c)
//
// A job's units are dealt out in contiguous shares, one lane per thread, so that each thread
// works on the same rows step after step (its caches keep them); a thread that finishes its
// share takes units from the others' lanes, so a descheduled thread holds up at most one unit.

enum { TK_UNITS_PER_THREAD = 4, TK_MAX_LANES = 64 };

typedef struct {
  _Atomic int next;
  int end;
  char padding[56];  // one lane per cache line: a thread's own claims stay local
} tk_lane;

typedef struct {
  tk_lane lanes[TK_MAX_LANES];
  int lane_count;
} tk_work;

/// Deals units [0, units) to `threads` lanes (at most TK_MAX_LANES).
static inline void tk_work_init(tk_work *work, int units, int threads) {
  const int lanes = threads < TK_MAX_LANES ? threads : TK_MAX_LANES;
  work->lane_count = lanes;
  for (int i = 0; i < lanes; i++) {
    atomic_init(&work->lanes[i].next, (int)((long)units * i / lanes));
    work->lanes[i].end = (int)((long)units * (i + 1) / lanes);
  }
}

/// The next unit for `thread`: from its own lane, then from the others'; -1 when none is left.
static inline int tk_claim(tk_work *work, int thread) {
  for (int k = 0; k < work->lane_count; k++) {
    tk_lane *lane = &work->lanes[(thread + k) % work->lane_count];
    if (atomic_load_explicit(&lane->next, memory_order_relaxed) >= lane->end) continue;
    const int unit = atomic_fetch_add_explicit(&lane->next, 1, memory_order_relaxed);
    if (unit < lane->end) return unit;
  }
  return -1;
}

/// How many units `items` items are cut into for `threads` threads.
static inline int tk_unit_count(int items, int threads) {
  const int wanted = threads * TK_UNITS_PER_THREAD;
  return items < wanted ? items : wanted;
}

/// Items [begin, end) of unit `unit`: units as equal as possible, in item order.
static inline void tk_unit_range(int items, int threads, int unit, int *begin, int *end) {
  const int units = tk_unit_count(items, threads);
  const int base = items / units, extra = items % units;
  *begin = unit * base + (unit < extra ? unit : extra);
  *end = *begin + base + (unit < extra ? 1 : 0);
}

static inline uint16_t tk_load_u16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

/// f16 → f32 through a 256 KiB table filled at load (see half.c): portable and fast where the
/// CPU has no F16C, and exact either way.
extern float tk_f16_table[65536];

static inline float tk_f16_to_f32(uint16_t bits) { return tk_f16_table[bits]; }

/// f32 → f16, rounding to nearest even (IEEE 754's default, and F16C's), NaN kept quiet.
static inline uint16_t tk_f32_to_f16(float value) {
  uint32_t x;
  memcpy(&x, &value, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t magnitude = x & 0x7FFFFFFF;
  if (magnitude >= 0x7F800000) {  // Inf or NaN
    return (uint16_t)(sign | 0x7C00 | (magnitude > 0x7F800000 ? 0x200 : 0));
  }
  if (magnitude >= 0x477FF000) return (uint16_t)(sign | 0x7C00);  // rounds to ≥ 65520: Inf
  if (magnitude < 0x38800000) {  // below the smallest normal f16: subnormal or zero
    if (magnitude < 0x33000000) return (uint16_t)sign;  // below half the smallest subnormal
    const uint32_t exponent = magnitude >> 23;
    const uint32_t mantissa = (magnitude & 0x7FFFFF) | 0x800000;
    const uint32_t shift = 126 - exponent;  // 14 + (112 - exponent) - 1 + 1
    uint32_t half = mantissa >> shift;
    const uint32_t remainder = mantissa & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = ((magnitude >> 13) - (112u << 10));
  const uint32_t remainder = magnitude & 0x1FFF;
  if (remainder > 0x1000 || (remainder == 0x1000 && (half & 1))) half++;
  return (uint16_t)(sign | half);
}

/// `value` rounded to the nearest f16, back in f32.
static inline float tk_round_f16(float value) { return tk_f16_to_f32(tk_f32_to_f16(value)); }

static inline float tk_bf16_to_f32(uint16_t bits) {
  uint32_t v = (uint32_t)bits << 16;
  float f;
  memcpy(&f, &v, 4);
  return f;
}

/// The fixed combination of 8 lane sums used by every float reduction.
static inline float tk_lane_tree8(const float lane[8]) {
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/// Bytes of `count` elements of a type (count a multiple of the block size).
static inline size_t tk_type_bytes(int type, int count) {
  switch (type) {
  case 0: return (size_t)count * 4;
  case 1:
  case 30: return (size_t)count * 2;
  case 2: return (size_t)count / 32 * 18;
  case 3: return (size_t)count / 32 * 20;
  case 6: return (size_t)count / 32 * 22;
  case 8: return (size_t)count / 32 * 34;
  case 12: return (size_t)count / 256 * 144;
  case 14: return (size_t)count / 256 * 210;
  default: return 0;
  }
}

#include "tessera_kernels.h"

/// Element e (0..31) of a ggml block of 16 nibble bytes: low nibbles are 0..15, high 16..31.
static inline int tk_nibble(const uint8_t *qs, int e) {
  return e < 16 ? (qs[e] & 0xF) : (qs[e - 16] >> 4);
}

/// Bytes of one panel block's quants: 16 rows × 32 elements (Q5_0: nibbles, then 8 × 64 bits of
/// fifth bits).
static inline size_t tk_panel_quant_bytes(int type) {
  switch (type) {
  case TK_TYPE_Q8_0:
  case TK_TYPE_Q6_K: return 512;
  case TK_TYPE_Q5_0: return 320;
  default: return 256;
  }
}

/// Bytes of one panel block: quants, then the 16 rows' scales (see tessera_kernels.h).
static inline size_t tk_panel_block_bytes(int type) {
  switch (type) {
  case TK_TYPE_Q4_1: return 256 + 64;
  case TK_TYPE_Q5_0: return 320 + 32;
  case TK_TYPE_Q4_K: return 256 + 96;
  case TK_TYPE_Q6_K: return 512 + 64;
  default: return tk_panel_quant_bytes(type) + 32;
  }
}

/// The stored quant of element e (0..31) of row r (0..15) in a panel block, unsigned as stored
/// (Q8_0's is the signed byte).
static inline int tk_panel_quant(int type, const uint8_t *block, int r, int e) {
  if (type == TK_TYPE_Q8_0) return (int8_t)block[(e / 4) * 64 + 4 * r + e % 4];
  if (type == TK_TYPE_Q6_K) return block[(e / 4) * 64 + 4 * r + e % 4];
  const int k = e / 4;
  const uint8_t byte = block[(k / 2) * 64 + 4 * r + e % 4];
  int q = (k & 1) ? byte >> 4 : byte & 0xF;
  if (type == TK_TYPE_Q5_0) {
    uint64_t fifth;
    memcpy(&fifth, block + 256 + 8 * k, 8);
    q |= (int)((fifth >> (4 * r + e % 4)) & 1) << 4;
  }
  return q;
}

/// Weight element e (0..31) of row r (0..15) in a panel block, as the integer the contract
/// multiplies (Q4_0: q − 8, Q5_0: q − 16, Q6_K: q − 32).
static inline int tk_panel_weight(int type, const uint8_t *block, int r, int e) {
  const int q = tk_panel_quant(type, block, r, e);
  switch (type) {
  case TK_TYPE_Q4_0: return q - 8;
  case TK_TYPE_Q5_0: return q - 16;
  case TK_TYPE_Q6_K: return q - 32;
  default: return q;
  }
}

/// Row r's scale d (every type) and minimum scale (Q4_1's m, Q4_K's dmin) in a panel block, as
/// f16 bits.
static inline uint16_t tk_panel_scale(int type, const uint8_t *block, int r) {
  return tk_load_u16(block + tk_panel_quant_bytes(type) + 2 * r);
}
static inline uint16_t tk_panel_minimum(int type, const uint8_t *block, int r) {
  return tk_load_u16(block + tk_panel_quant_bytes(type) + 32 + 2 * r);
}

/// K-quants' integer sub-block scales of row r: Q4_K's 6-bit scale (`which` 0) and minimum
/// (`which` 1) of the block; Q6_K's signed scales of its first (`which` 0) and second 16
/// elements.
static inline int tk_panel_subscale(int type, const uint8_t *block, int r, int which) {
  const uint8_t *at = block + tk_panel_quant_bytes(type) + (type == TK_TYPE_Q4_K ? 64 : 32);
  const uint8_t byte = at[16 * which + r];
  return type == TK_TYPE_Q6_K ? (int8_t)byte : byte;
}

/// Row r's weight scale for a block, in f32 (Q4_K's d · scale: exact, 11 × 6 bits).
static inline float tk_panel_weight_scale(int type, const uint8_t *block, int r) {
  const float d = tk_f16_to_f32(tk_panel_scale(type, block, r));
  return type == TK_TYPE_Q4_K ? d * (float)tk_panel_subscale(type, block, r, 0) : d;
}

/// Where the parts of an activation row are, from block `block` on.
typedef struct {
  const int8_t *qs;
  const float *d;
  const float *s;
  const int32_t *sum;
  const int32_t *half;  // Σqs over each block's first 16 elements
} tk_q8_view;

static inline tk_q8_view tk_q8_row_view(const uint8_t *row, int n, int block) {
  const int nb = n / 32;
  const float *d = (const float *)(row + n);
  const int32_t *sums = (const int32_t *)(d + 2 * nb);
  tk_q8_view view = {(const int8_t *)row + (size_t)block * 32, d + block, d + nb + block,
                     sums + block, sums + nb + block};
  return view;
}

// MARK: ggml's Q5_0 and K-quant blocks (ggml_blocks.c)

/// The stored (unsigned) quant of element e of a row in ggml's layout.
int tk_ggml_quant(int type, const uint8_t *row, int e);
/// The scales that apply to 32-element block `block` of a row in ggml's layout: d (every
/// type), Q4_K's dmin and its sub-block's scale and minimum (first, second), Q6_K's two
/// 16-element scales.
void tk_ggml_block_scales(int type, const uint8_t *row, int block, uint16_t *d, uint16_t *dmin,
                          int *first, int *second);
/// Expands n elements of a row in ggml's layout, in ggml's order of operations.
void tk_ggml_dequantize_blocks(int type, const uint8_t *row, int n, float *out);

/// Row r of a panel (from its first used block on) times an activation row over nb blocks.
float tk_dot_panel_portable(int type, const uint8_t *blocks, int r, tk_q8_view x, int nb);
float tk_dot_float_portable(int type, const uint8_t *w, const float *x, int n);

enum { TK_TILE_ACTIVATIONS = 4 };

/// out[t][r] = row r of a panel · x[t] for all 16 rows and t < count (≤ TK_TILE_ACTIVATIONS),
/// over nb blocks from `blocks` on (x's views start at the same block).
typedef void (*tk_panel_fn)(const uint8_t *blocks, int nb, const tk_q8_view *x, int count,
                            float out[][TK_PANEL_ROWS]);

/// Whether the AVX2 kernels are in use (the CPU has AVX2, FMA and F16C, and tests have not
/// forced the portable ones).
int tk_has_avx2(void);
/// Whether the AVX-512 kernels may run (the CPU has them and no test limited the level).
int tk_has_avx512(void);

/// The panel kernel chosen for this CPU for a weight type (NULL for float types).
tk_panel_fn tk_panel_kernel(int type);

#endif
