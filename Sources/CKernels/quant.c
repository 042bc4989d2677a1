// Activation quantization, dequantization and the per-row dot products (portable versions).
// See tessera_kernels.h for the arithmetic contract every implementation follows.
#include <math.h>
#include <string.h>

#include "tessera_kernels.h"
#include "internal.h"

void tk_quantize_q8(const float *x, int n, tk_block_q8 *out) {
  for (int i = 0; i < n / 32; i++) {
    const float *xs = x + 32 * i;
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) {
      float a = fabsf(xs[j]);
      amax = a > amax ? a : amax;
    }
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;  // as ggml computes it
    int sum = 0;
    for (int j = 0; j < 32; j++) {
      // Round half to even (the SIMD rounding mode), never a libm-dependent rounding.
      int q = (int)nearbyintf(xs[j] * id);
      out[i].qs[j] = (int8_t)q;
      sum += q;
    }
    // Scales are rounded to f16, as ggml stores them in its Q8_0/Q8_1 activation blocks: the
    // same numbers llama.cpp computes with, at no cost.
    out[i].d = tk_f16_to_f32(tk_f32_to_f16(d));
    out[i].s = tk_f16_to_f32(tk_f32_to_f16(d * (float)sum));
  }
}

int tk_type_uses_q8(int type) {
  return type == TK_TYPE_Q4_0 || type == TK_TYPE_Q4_1 || type == TK_TYPE_Q8_0;
}

void tk_dequantize_row(int type, const void *row, int n, float *out) {
  const uint8_t *b = (const uint8_t *)row;
  switch (type) {
  case TK_TYPE_F32:
    memcpy(out, row, (size_t)n * sizeof(float));
    break;
  case TK_TYPE_F16:
    for (int i = 0; i < n; i++) out[i] = tk_f16_to_f32(tk_load_u16(b + 2 * i));
    break;
  case TK_TYPE_BF16:
    for (int i = 0; i < n; i++) out[i] = tk_bf16_to_f32(tk_load_u16(b + 2 * i));
    break;
  case TK_TYPE_Q8_0:
    for (int i = 0; i < n / 32; i++, b += 34) {
      const float d = tk_f16_to_f32(tk_load_u16(b));
      for (int j = 0; j < 32; j++) out[32 * i + j] = (float)(int8_t)b[2 + j] * d;
    }
    break;
  case TK_TYPE_Q4_0:
    for (int i = 0; i < n / 32; i++, b += 18) {
      const float d = tk_f16_to_f32(tk_load_u16(b));
      for (int j = 0; j < 16; j++) {
        out[32 * i + j] = (float)((b[2 + j] & 0xF) - 8) * d;
        out[32 * i + j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
      }
    }
    break;
  case TK_TYPE_Q4_1:
    for (int i = 0; i < n / 32; i++, b += 20) {
      const float d = tk_f16_to_f32(tk_load_u16(b));
      const float m = tk_f16_to_f32(tk_load_u16(b + 2));
      for (int j = 0; j < 16; j++) {
        out[32 * i + j] = (float)(b[4 + j] & 0xF) * d + m;
        out[32 * i + j + 16] = (float)(b[4 + j] >> 4) * d + m;
      }
    }
    break;
  default:
    memset(out, 0, (size_t)n * sizeof(float));
  }
}

// The quantized dot products, written lane by lane as the contract in tessera_kernels.h
// states them. `weight` is the block's e-th integer weight.
#define TK_QUANT_DOT(name, block_bytes, qs_offset, weight, has_min)                            \
  float name(const uint8_t *w, const tk_block_q8 *x, int nb) {                                 \
    float acc[8] = {0};                                                                        \
    float minimums = 0.0f;                                                                     \
    for (int i = 0; i < nb; i++, w += block_bytes) {                                           \
      const uint8_t *qs = w + qs_offset;                                                       \
      const float scale = tk_f16_to_f32(tk_load_u16(w)) * x[i].d;                              \
      for (int g = 0; g < 8; g++) {                                                            \
        int sumi = 0;                                                                          \
        for (int e = 4 * g; e < 4 * g + 4; e++) sumi += (weight) * x[i].qs[e];                 \
        acc[g] = fmaf(scale, (float)sumi, acc[g]);                                             \
      }                                                                                        \
      if (has_min) minimums = fmaf(tk_f16_to_f32(tk_load_u16(w + 2)), x[i].s, minimums);       \
    }                                                                                          \
    return tk_lane_sum8(acc) + minimums;                                                       \
  }

TK_QUANT_DOT(tk_dot_q8_0_portable, 34, 2, (int8_t)qs[e], 0)
TK_QUANT_DOT(tk_dot_q4_0_portable, 18, 2, (e < 16 ? (qs[e] & 0xF) : (qs[e - 16] >> 4)) - 8, 0)
TK_QUANT_DOT(tk_dot_q4_1_portable, 20, 4, (e < 16 ? (qs[e] & 0xF) : (qs[e - 16] >> 4)), 1)

// Float weights: per 32-block, lane l adds w[8k+l]*x[8k+l] for k = 0..3 in order; lanes are
// combined as ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)); blocks add in order. n % 32 == 0.
float tk_dot_float_portable(int type, const uint8_t *w, const float *x, int n) {
  float sum = 0.0f;
  for (int i = 0; i < n; i += 32) {
    float lane[8] = {0};
    for (int k = 0; k < 4; k++) {
      for (int l = 0; l < 8; l++) {
        const int e = i + 8 * k + l;
        float wv;
        if (type == TK_TYPE_F32) {
          memcpy(&wv, w + 4 * e, 4);
        } else if (type == TK_TYPE_F16) {
          wv = tk_f16_to_f32(tk_load_u16(w + 2 * e));
        } else {
          wv = tk_bf16_to_f32(tk_load_u16(w + 2 * e));
        }
        lane[l] = lane[l] + wv * x[e];
      }
    }
    sum = sum + tk_lane_tree8(lane);
  }
  return sum;
}

float tk_dot_row(int type, const void *row, const tk_block_q8 *xq, const float *xf, int n) {
  const uint8_t *w = (const uint8_t *)row;
  switch (type) {
  case TK_TYPE_Q8_0: return tk_dot_q8_0_portable(w, xq, n / 32);
  case TK_TYPE_Q4_0: return tk_dot_q4_0_portable(w, xq, n / 32);
  case TK_TYPE_Q4_1: return tk_dot_q4_1_portable(w, xq, n / 32);
  case TK_TYPE_F32:
  case TK_TYPE_F16:
  case TK_TYPE_BF16: return tk_dot_float_portable(type, w, xf, n);
  default: return 0.0f;
  }
}
