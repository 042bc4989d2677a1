// Helpers shared by the kernel files; not part of the public interface.
#ifndef TESSERA_KERNELS_INTERNAL_H
#define TESSERA_KERNELS_INTERNAL_H

#include <stdint.h>
#include <string.h>

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

/// The lane sum of the quantized contract: ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
static inline float tk_lane_sum8(const float l[8]) {
  return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

/// Bytes of `count` elements of a type (count a multiple of the block size).
static inline size_t tk_type_bytes(int type, int count) {
  switch (type) {
  case 0: return (size_t)count * 4;
  case 1:
  case 30: return (size_t)count * 2;
  case 2: return (size_t)count / 32 * 18;
  case 3: return (size_t)count / 32 * 20;
  case 8: return (size_t)count / 32 * 34;
  default: return 0;
  }
}

#include "tessera_kernels.h"

/// Element e (0..31) of a block of 16 nibble bytes: low nibbles are 0..15, high 16..31.
static inline int tk_nibble(const uint8_t *qs, int e) {
  return e < 16 ? (qs[e] & 0xF) : (qs[e - 16] >> 4);
}

/// Where the parts of a packed weight row are, from block `block` on.
typedef struct {
  const uint8_t *qs;
  const uint16_t *d;  // f16
  const uint16_t *m;  // f16 (Q4_1)
} tk_w_view;

/// Where the parts of an activation row are, from block `block` on.
typedef struct {
  const int8_t *qs;
  const float *d;
  const float *s;
} tk_q8_view;

static inline tk_w_view tk_packed_view(int type, const uint8_t *row, int n, int block) {
  const int nb = n / 32;
  const int quant_bytes = type == TK_TYPE_Q8_0 ? 32 : 16;
  const uint16_t *d = (const uint16_t *)(row + (size_t)nb * quant_bytes);
  tk_w_view view = {row + (size_t)block * quant_bytes, d + block, d + nb + block};
  return view;
}

static inline tk_q8_view tk_q8_row_view(const uint8_t *row, int n, int block) {
  const float *d = (const float *)(row + n);
  tk_q8_view view = {(const int8_t *)row + (size_t)block * 32, d + block, d + n / 32 + block};
  return view;
}

float tk_dot_packed_portable(int type, tk_w_view w, tk_q8_view x, int nb);
float tk_dot_float_portable(int type, const uint8_t *w, const float *x, int n);

/// out[t * out_stride + r] = w[r] · x[t] for r < rows, t < count (count ≤ TK_TILE_ACTIVATIONS),
/// over nb blocks.
typedef void (*tk_quant_tile_fn)(const tk_w_view *w, int rows, const tk_q8_view *x, int count,
                                 int nb, float *out, size_t out_stride);
enum { TK_TILE_ACTIVATIONS = 4, TK_TILE_ROWS = 4 };

/// Whether the AVX2 kernels are in use (the CPU has AVX2, FMA and F16C, and tests have not
/// forced the portable ones).
int tk_has_avx2(void);

/// The quantized tile kernel chosen for this CPU for a weight type (NULL for float types).
tk_quant_tile_fn tk_quant_tile(int type);

#endif
