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

static inline float tk_f16_to_f32(uint16_t bits) {
  _Float16 h;
  memcpy(&h, &bits, 2);
  return (float)h;
}

static inline uint16_t tk_f32_to_f16(float value) {
  _Float16 h = (_Float16)value;
  uint16_t bits;
  memcpy(&bits, &h, 2);
  return bits;
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
  case 8: return (size_t)count / 32 * 34;
  default: return 0;
  }
}

#endif
