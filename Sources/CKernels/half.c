// The f16 → f32 table behind tk_f16_to_f32, filled once when the library loads.
#include <string.h>

#include "internal.h"

float tk_f16_table[65536];

static float f16_to_f32_slow(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1F;
  uint32_t mantissa = h & 0x3FF;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      exponent = 113;
      while ((mantissa & 0x400) == 0) {
        mantissa <<= 1;
        exponent--;
      }
      bits = sign | (exponent << 23) | ((mantissa & 0x3FF) << 13);
    }
  } else if (exponent == 31) {
    bits = sign | 0x7F800000 | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

__attribute__((constructor)) static void fill_f16_table(void) {
  for (uint32_t i = 0; i < 65536; i++) tk_f16_table[i] = f16_to_f32_slow((uint16_t)i);
}

uint16_t tk_f16_from_f32(float value) { return tk_f32_to_f16(value); }

float tk_f32_from_f16(uint16_t bits) { return tk_f16_to_f32(bits); }
