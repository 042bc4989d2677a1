// Activation quantization, packing, dequantization and the portable dot products.
// See tessera_kernels.h for the layouts and the arithmetic contract every implementation follows.
#include <math.h>
#include <string.h>

#include "internal.h"

size_t tk_q8_row_bytes(int n) { return (size_t)n + (size_t)(n / 32) * 8; }

void tk_quantize_rows_q8(const float *x, int rows, int n, uint8_t *out) {
  const int nb = n / 32;
  for (int r = 0; r < rows; r++, x += n, out += tk_q8_row_bytes(n)) {
    const tk_q8_view view = tk_q8_row_view(out, n, 0);
    int8_t *qs = (int8_t *)view.qs;
    float *d = (float *)view.d;
    float *s = (float *)view.s;
    for (int i = 0; i < nb; i++) {
      const float *xs = x + 32 * i;
      float amax = 0.0f;
      for (int j = 0; j < 32; j++) {
        const float a = fabsf(xs[j]);
        amax = a > amax ? a : amax;
      }
      const float scale = amax / 127.0f;
      const float inverse = amax != 0.0f ? 127.0f / amax : 0.0f;  // as ggml computes it
      int sum = 0;
      for (int j = 0; j < 32; j++) {
        // Round half to even (the SIMD rounding mode), never a libm-dependent rounding.
        const int q = (int)nearbyintf(xs[j] * inverse);
        qs[32 * i + j] = (int8_t)q;
        sum += q;
      }
      // Rounded to f16, as ggml stores them in its Q8_0/Q8_1 activation blocks.
      d[i] = tk_round_f16(scale);
      s[i] = tk_round_f16(scale * (float)sum);
    }
  }
}

int tk_type_uses_q8(int type) {
  return type == TK_TYPE_Q4_0 || type == TK_TYPE_Q4_1 || type == TK_TYPE_Q8_0;
}

size_t tk_packed_row_bytes(int type, int n) {
  const size_t nb = (size_t)n / 32;
  switch (type) {
  case TK_TYPE_Q4_0: return nb * (16 + 2);
  case TK_TYPE_Q4_1: return nb * (16 + 4);
  case TK_TYPE_Q8_0: return nb * (32 + 2);
  default: return 0;
  }
}

void tk_pack_rows(int type, const void *src, size_t src_row_bytes, int col_begin, int n,
                  int rows, uint8_t *dst) {
  const size_t block_bytes = tk_type_bytes(type, 32);
  const int quant_bytes = type == TK_TYPE_Q8_0 ? 32 : 16;
  const int header = type == TK_TYPE_Q4_1 ? 4 : 2;
  const int nb = n / 32;
  for (int r = 0; r < rows; r++, dst += tk_packed_row_bytes(type, n)) {
    const uint8_t *row = (const uint8_t *)src + (size_t)r * src_row_bytes +
                         (size_t)(col_begin / 32) * block_bytes;
    const tk_w_view view = tk_packed_view(type, dst, n, 0);
    for (int i = 0; i < nb; i++) {
      const uint8_t *block = row + (size_t)i * block_bytes;
      memcpy((uint8_t *)view.qs + (size_t)i * quant_bytes, block + header, (size_t)quant_bytes);
      ((uint16_t *)view.d)[i] = tk_load_u16(block);
      if (type == TK_TYPE_Q4_1) ((uint16_t *)view.m)[i] = tk_load_u16(block + 2);
    }
  }
}

void tk_dequantize_packed_row(int type, const uint8_t *row, int n, float *out) {
  const tk_w_view w = tk_packed_view(type, row, n, 0);
  for (int i = 0; i < n / 32; i++) {
    for (int e = 0; e < 32; e++) {
      float q;
      switch (type) {
      case TK_TYPE_Q8_0: q = (float)(int8_t)w.qs[32 * i + e]; break;
      case TK_TYPE_Q4_0: q = (float)(tk_nibble(w.qs + 16 * i, e) - 8); break;
      default: q = (float)tk_nibble(w.qs + 16 * i, e); break;
      }
      const float d = tk_f16_to_f32(w.d[i]);
      out[32 * i + e] = type == TK_TYPE_Q4_1 ? q * d + tk_f16_to_f32(w.m[i]) : q * d;
    }
  }
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
      for (int j = 0; j < 32; j++) out[32 * i + j] = (float)(tk_nibble(b + 2, j) - 8) * d;
    }
    break;
  case TK_TYPE_Q4_1:
    for (int i = 0; i < n / 32; i++, b += 20) {
      const float d = tk_f16_to_f32(tk_load_u16(b));
      const float m = tk_f16_to_f32(tk_load_u16(b + 2));
      for (int j = 0; j < 32; j++) out[32 * i + j] = (float)tk_nibble(b + 4, j) * d + m;
    }
    break;
  default:
    memset(out, 0, (size_t)n * sizeof(float));
  }
}

// The quantized dot product of one packed weight row and one activation row over nb blocks,
// written lane by lane as the contract in tessera_kernels.h states it.
float tk_dot_packed_portable(int type, tk_w_view w, tk_q8_view x, int nb) {
  float acc[8] = {0};
  float minimums = 0.0f;
  for (int i = 0; i < nb; i++) {
    const float scale = tk_f16_to_f32(w.d[i]) * x.d[i];
    for (int g = 0; g < 8; g++) {
      int sumi = 0;
      for (int e = 4 * g; e < 4 * g + 4; e++) {
        int q;
        switch (type) {
        case TK_TYPE_Q8_0: q = (int8_t)w.qs[32 * i + e]; break;
        case TK_TYPE_Q4_0: q = tk_nibble(w.qs + 16 * i, e) - 8; break;
        default: q = tk_nibble(w.qs + 16 * i, e); break;
        }
        sumi += q * x.qs[32 * i + e];
      }
      acc[g] = fmaf(scale, (float)sumi, acc[g]);
    }
    if (type == TK_TYPE_Q4_1) minimums = fmaf(tk_f16_to_f32(w.m[i]), x.s[i], minimums);
  }
  return tk_lane_sum8(acc) + minimums;
}

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

float tk_dot_row(int type, const uint8_t *row, int n, const uint8_t *xq, const float *xf) {
  if (!tk_type_uses_q8(type)) return tk_dot_float_portable(type, row, xf, n);
  return tk_dot_packed_portable(type, tk_packed_view(type, row, n, 0), tk_q8_row_view(xq, n, 0),
                                n / 32);
}
