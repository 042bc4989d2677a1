// Activation quantization, packing, dequantization and the portable dot products.
// See tessera_kernels.h for the layouts and the arithmetic contract every implementation follows.
#include <math.h>
#include <string.h>

#include "internal.h"

size_t tk_q8_row_bytes(int n) { return (size_t)n + (size_t)(n / 32) * 16; }

#if defined(__x86_64__)
#include <immintrin.h>

/// tk_quantize_rows_q8 in AVX2: the same maximum, scale and inverse per block; cvtps_epi32
/// rounds half to even as nearbyintf does (the default rounding mode); the integer sums are
/// exact in any order.
__attribute__((target("avx2,fma,f16c"))) static void quantize_rows_q8_avx2(const float *x,
                                                                           int rows, int n,
                                                                           uint8_t *out) {
  const int nb = n / 32;
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int r = 0; r < rows; r++, x += n, out += tk_q8_row_bytes(n)) {
    const tk_q8_view view = tk_q8_row_view(out, n, 0);
    int8_t *qs = (int8_t *)view.qs;
    float *d = (float *)view.d;
    float *s = (float *)view.s;
    int32_t *sums = (int32_t *)view.sum;
    int32_t *halves = (int32_t *)view.half;
    for (int i = 0; i < nb; i++) {
      const float *xs = x + 32 * i;
      const __m256 v0 = _mm256_loadu_ps(xs), v1 = _mm256_loadu_ps(xs + 8);
      const __m256 v2 = _mm256_loadu_ps(xs + 16), v3 = _mm256_loadu_ps(xs + 24);
      const __m256 m = _mm256_max_ps(
          _mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
          _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
      __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
      m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
      m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
      const float amax = _mm_cvtss_f32(m4);
      const float scale = amax / 127.0f;
      const __m256 inverse = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
      const __m256i q0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, inverse));
      const __m256i q1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, inverse));
      const __m256i q2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, inverse));
      const __m256i q3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, inverse));
      const __m256i bytes = _mm256_permutevar8x32_epi32(
          _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3)), order);
      _mm256_storeu_si256((__m256i *)(qs + 32 * i), bytes);
      _Alignas(32) int32_t lane[8];
      _mm256_store_si256((__m256i *)lane, _mm256_add_epi32(q0, q1));
      int half = 0;
      for (int l = 0; l < 8; l++) half += lane[l];
      _mm256_store_si256((__m256i *)lane, _mm256_add_epi32(q2, q3));
      int sum = half;
      for (int l = 0; l < 8; l++) sum += lane[l];
      d[i] = tk_round_f16(scale);
      s[i] = tk_round_f16(scale * (float)sum);
      sums[i] = sum;
      halves[i] = half;
    }
  }
}
#endif

void tk_quantize_rows_q8(const float *x, int rows, int n, uint8_t *out) {
#if defined(__x86_64__)
  if (tk_has_avx2()) {
    quantize_rows_q8_avx2(x, rows, n, out);
    return;
  }
#endif
  const int nb = n / 32;
  for (int r = 0; r < rows; r++, x += n, out += tk_q8_row_bytes(n)) {
    const tk_q8_view view = tk_q8_row_view(out, n, 0);
    int8_t *qs = (int8_t *)view.qs;
    float *d = (float *)view.d;
    float *s = (float *)view.s;
    int32_t *sums = (int32_t *)view.sum;
    int32_t *halves = (int32_t *)view.half;
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
        if (j == 15) halves[i] = sum;
      }
      // Rounded to f16, as ggml stores them in its Q8_0/Q8_1 activation blocks.
      d[i] = tk_round_f16(scale);
      s[i] = tk_round_f16(scale * (float)sum);
      sums[i] = sum;
    }
  }
}

int tk_type_uses_q8(int type) {
  switch (type) {
  case TK_TYPE_Q4_0:
  case TK_TYPE_Q4_1:
  case TK_TYPE_Q5_0:
  case TK_TYPE_Q8_0:
  case TK_TYPE_Q4_K:
  case TK_TYPE_Q6_K: return 1;
  default: return 0;
  }
}

/// Whether a type is read through ggml_blocks.c (Q5_0 and the K-quants).
static int is_element_coded(int type) {
  return type == TK_TYPE_Q5_0 || type == TK_TYPE_Q4_K || type == TK_TYPE_Q6_K;
}

/// Stores quant q of element e of row r in a panel block (the block starts zeroed).
static void panel_store(int type, uint8_t *out, int r, int e, int q) {
  const int k = e / 4;
  if (type == TK_TYPE_Q6_K) {
    out[k * 64 + 4 * r + e % 4] = (uint8_t)q;
    return;
  }
  out[(k / 2) * 64 + 4 * r + e % 4] |= (uint8_t)((k & 1) ? (q & 0xF) << 4 : q & 0xF);
  const int bit = 4 * r + e % 4;
  if (type == TK_TYPE_Q5_0 && (q & 0x10)) out[256 + 8 * k + bit / 8] |= (uint8_t)(1 << (bit % 8));
}

/// Packs one row of Q5_0 or a K-quant (elements [col_begin, col_begin + n)) as row r.
static void pack_element_coded(int type, const uint8_t *source, int col_begin, int n, int r,
                               uint8_t *panel) {
  const size_t block_bytes = tk_panel_block_bytes(type);
  const size_t quant_bytes = tk_panel_quant_bytes(type);
  for (int i = 0; i < n / 32; i++) {
    uint8_t *out = panel + (size_t)i * block_bytes;
    const int block = col_begin / 32 + i;
    for (int e = 0; e < 32; e++) panel_store(type, out, r, e, tk_ggml_quant(type, source, 32 * block + e));
    uint16_t d, dmin;
    int first, second;
    tk_ggml_block_scales(type, source, block, &d, &dmin, &first, &second);
    memcpy(out + quant_bytes + 2 * r, &d, 2);
    if (type == TK_TYPE_Q4_K) {
      memcpy(out + quant_bytes + 32 + 2 * r, &dmin, 2);
      out[quant_bytes + 64 + r] = (uint8_t)first;
      out[quant_bytes + 80 + r] = (uint8_t)second;
    } else if (type == TK_TYPE_Q6_K) {
      out[quant_bytes + 32 + r] = (uint8_t)(int8_t)first;
      out[quant_bytes + 48 + r] = (uint8_t)(int8_t)second;
    }
  }
}

size_t tk_packed_panel_bytes(int type, int n) {
  if (!tk_type_uses_q8(type)) return 0;
  return (size_t)(n / 32) * tk_panel_block_bytes(type);
}

size_t tk_packed_matrix_bytes(int type, int rows, int n) {
  const size_t panels = ((size_t)rows + TK_PANEL_ROWS - 1) / TK_PANEL_ROWS;
  return panels * tk_packed_panel_bytes(type, n);
}

void tk_pack_matrix(int type, const void *src, size_t src_row_bytes, int col_begin, int n,
                    int rows, uint8_t *dst) {
  const size_t ggml_block = tk_type_bytes(type, 32);
  const size_t block_bytes = tk_panel_block_bytes(type);
  const size_t quant_bytes = tk_panel_quant_bytes(type);
  const int nb = n / 32;
  memset(dst, 0, tk_packed_matrix_bytes(type, rows, n));  // padding rows: zero scales
  for (int row = 0; row < rows; row++) {
    const uint8_t *source = (const uint8_t *)src + (size_t)row * src_row_bytes +
                            (size_t)(col_begin / 32) * ggml_block;
    uint8_t *panel = dst + (size_t)(row / TK_PANEL_ROWS) * tk_packed_panel_bytes(type, n);
    const int r = row % TK_PANEL_ROWS;
    if (is_element_coded(type)) {
      pack_element_coded(type, (const uint8_t *)src + (size_t)row * src_row_bytes, col_begin, n, r,
                         panel);
      continue;
    }
    for (int i = 0; i < nb; i++) {
      const uint8_t *block = source + (size_t)i * ggml_block;
      uint8_t *out = panel + (size_t)i * block_bytes;
      const int header = type == TK_TYPE_Q4_1 ? 4 : 2;
      for (int e = 0; e < 32; e++) {
        const int k = e / 4;
        if (type == TK_TYPE_Q8_0) {
          out[k * 64 + 4 * r + e % 4] = block[header + e];
        } else {
          const uint8_t q = (uint8_t)tk_nibble(block + header, e);
          out[(k / 2) * 64 + 4 * r + e % 4] |= (uint8_t)((k & 1) ? q << 4 : q);
        }
      }
      memcpy(out + quant_bytes + 2 * r, block, 2);  // d
      if (type == TK_TYPE_Q4_1) memcpy(out + quant_bytes + 32 + 2 * r, block + 2, 2);  // m
    }
  }
}

void tk_dequantize_packed_row(int type, const uint8_t *matrix, int n, int row, float *out) {
  const uint8_t *panel = matrix + (size_t)(row / TK_PANEL_ROWS) * tk_packed_panel_bytes(type, n);
  const int r = row % TK_PANEL_ROWS;
  for (int i = 0; i < n / 32; i++) {
    const uint8_t *block = panel + (size_t)i * tk_panel_block_bytes(type);
    const float d = tk_f16_to_f32(tk_panel_scale(type, block, r));
    const float m = type == TK_TYPE_Q4_1 || type == TK_TYPE_Q4_K
                        ? tk_f16_to_f32(tk_panel_minimum(type, block, r))
                        : 0;
    for (int e = 0; e < 32; e++) {
      const float q = (float)tk_panel_weight(type, block, r, e);
      float value;
      switch (type) {
      case TK_TYPE_Q4_1: value = q * d + m; break;
      case TK_TYPE_Q4_K:  // as ggml: d·scale·q − dmin·min
        value = d * (float)tk_panel_subscale(type, block, r, 0) * q -
                m * (float)tk_panel_subscale(type, block, r, 1);
        break;
      case TK_TYPE_Q6_K: value = d * (float)tk_panel_subscale(type, block, r, e / 16) * q; break;
      default: value = q * d;
      }
      out[32 * i + e] = value;
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
  case TK_TYPE_Q5_0:
  case TK_TYPE_Q4_K:
  case TK_TYPE_Q6_K:
    tk_ggml_dequantize_blocks(type, b, n, out);
    break;
  default:
    memset(out, 0, (size_t)n * sizeof(float));
  }
}

// One row of a panel times one activation row over nb blocks, written as the contract in
// tessera_kernels.h states it.
float tk_dot_panel_portable(int type, const uint8_t *blocks, int r, tk_q8_view x, int nb) {
  const size_t block_bytes = tk_panel_block_bytes(type);
  float acc = 0.0f;
  float minimums = 0.0f;
  for (int i = 0; i < nb; i++) {
    const uint8_t *block = blocks + (size_t)i * block_bytes;
    int32_t halves[2] = {0, 0};
    for (int e = 0; e < 32; e++) halves[e / 16] += tk_panel_weight(type, block, r, e) * x.qs[32 * i + e];
    const int32_t product = type == TK_TYPE_Q6_K
                                ? tk_panel_subscale(type, block, r, 0) * halves[0] +
                                      tk_panel_subscale(type, block, r, 1) * halves[1]
                                : halves[0] + halves[1];
    const float scale = tk_panel_weight_scale(type, block, r) * x.d[i];
    acc = fmaf(scale, (float)product, acc);
    if (type == TK_TYPE_Q4_1) {
      minimums = fmaf(tk_f16_to_f32(tk_panel_minimum(type, block, r)), x.s[i], minimums);
    } else if (type == TK_TYPE_Q4_K) {
      const float mw = tk_f16_to_f32(tk_panel_minimum(type, block, r)) *
                       (float)tk_panel_subscale(type, block, r, 1);
      minimums = fmaf(mw, x.s[i], minimums);
    }
  }
  if (type == TK_TYPE_Q4_1) return acc + minimums;
  return type == TK_TYPE_Q4_K ? acc - minimums : acc;
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

float tk_dot_row(int type, const uint8_t *matrix, int n, int row, const uint8_t *xq,
                 const float *xf) {
  if (!tk_type_uses_q8(type)) {
    return tk_dot_float_portable(type, matrix + (size_t)row * tk_type_bytes(type, n), xf, n);
  }
  const uint8_t *panel = matrix + (size_t)(row / TK_PANEL_ROWS) * tk_packed_panel_bytes(type, n);
  return tk_dot_panel_portable(type, panel, row % TK_PANEL_ROWS, tk_q8_row_view(xq, n, 0),
                               n / 32);
}
