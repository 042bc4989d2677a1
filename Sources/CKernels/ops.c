// Element-wise and normalization ops of the forward pass. Reductions use the fixed 8-lane
// order of tessera_kernels.h so any vectorized version gives the same bits.
#include <math.h>
#include <pthread.h>

#include "tessera_kernels.h"
#include "internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static float sum_squares(const float *x, int n) {
  float sum = 0.0f;
  for (int i = 0; i < n; i += 32) {
    float lane[8] = {0};
    for (int k = 0; k < 4; k++) {
      for (int l = 0; l < 8; l++) {
        const float v = x[i + 8 * k + l];
        lane[l] = lane[l] + v * v;
      }
    }
    sum = sum + tk_lane_tree8(lane);
  }
  return sum;
}

void tk_rmsnorm(const float *x, const float *weight, float *out, int rows, int n, float eps) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * n;
    float *o = out + (size_t)r * n;
    const float mean = sum_squares(xr, n) / (float)n;
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) o[i] = (xr[i] * scale) * weight[i];
  }
}

void tk_rope(float *x, const int32_t *positions, int rows, int head_count, int head_dim,
             int rope_dims, float freq_base) {
  // θ_i = p · base^(-2i/dims), built by repeated multiplication as llama.cpp does.
  const float theta_scale = powf(freq_base, -2.0f / (float)rope_dims);
  for (int r = 0; r < rows; r++) {
    float cosines[256], sines[256];
    float theta = (float)positions[r];
    const int pairs = rope_dims / 2 < 256 ? rope_dims / 2 : 256;
    for (int i = 0; i < pairs; i++) {
      cosines[i] = cosf(theta);
      sines[i] = sinf(theta);
      theta *= theta_scale;
    }
    for (int h = 0; h < head_count; h++) {
      float *v = x + (size_t)r * head_count * head_dim + (size_t)h * head_dim;
      for (int i = 0; i < pairs; i++) {
        const float x0 = v[2 * i], x1 = v[2 * i + 1];
        v[2 * i] = x0 * cosines[i] - x1 * sines[i];
        v[2 * i + 1] = x0 * sines[i] + x1 * cosines[i];
      }
    }
  }
}

void tk_rope_neox(float *x, const int32_t *positions, int rows, int head_count, int head_dim,
                  int rope_dims, float freq_base) {
  const float theta_scale = powf(freq_base, -2.0f / (float)rope_dims);
  const int half = rope_dims / 2 < 256 ? rope_dims / 2 : 256;
  for (int r = 0; r < rows; r++) {
    float cosines[256], sines[256];
    float theta = (float)positions[r];
    for (int i = 0; i < half; i++) {
      cosines[i] = cosf(theta);
      sines[i] = sinf(theta);
      theta *= theta_scale;
    }
    for (int h = 0; h < head_count; h++) {
      float *v = x + (size_t)r * head_count * head_dim + (size_t)h * head_dim;
      for (int i = 0; i < half; i++) {
        const float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * cosines[i] - x1 * sines[i];
        v[i + half] = x0 * sines[i] + x1 * cosines[i];
      }
    }
  }
}

/// GELU of every f16 value, rounded to f16 (as ggml's table holds it), filled on first use.
static float gelu_table[65536];
static pthread_once_t gelu_once = PTHREAD_ONCE_INIT;

static void fill_gelu_table(void) {
  const float sqrt_2_over_pi = 0.79788456080286535587989211986876f;
  for (uint32_t bits = 0; bits < 65536; bits++) {
    const float x = tk_f16_to_f32((uint16_t)bits);
    gelu_table[bits] =
        tk_round_f16(0.5f * x * (1.0f + tanhf(sqrt_2_over_pi * x * (1.0f + 0.044715f * x * x))));
  }
}

static inline float geglu_one(float g, float up) {
  if (g <= -10.0f) return 0.0f;
  if (g >= 10.0f) return g * up;
  return gelu_table[tk_f32_to_f16(g)] * up;
}

#if defined(__x86_64__)
/// geglu_one on eight lanes: F16C rounds the gate to its f16 index as tk_f32_to_f16 does (to
/// nearest even), and a gather reads the table.
__attribute__((target("avx2,fma,f16c"))) static int geglu_avx2(const float *gate,
                                                               const float *up, float *out,
                                                               int n) {
  const __m256 low = _mm256_set1_ps(-10.0f), high = _mm256_set1_ps(10.0f);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256i index =
        _mm256_cvtepu16_epi32(_mm256_cvtps_ph(g, _MM_FROUND_TO_NEAREST_INT));
    const __m256 gelu = _mm256_i32gather_ps(gelu_table, index, 4);
    const __m256 factor = _mm256_blendv_ps(gelu, g, _mm256_cmp_ps(g, high, _CMP_GE_OQ));
    const __m256 product = _mm256_mul_ps(factor, _mm256_loadu_ps(up + i));
    _mm256_storeu_ps(out + i, _mm256_andnot_ps(_mm256_cmp_ps(g, low, _CMP_LE_OQ), product));
  }
  return i;
}
#endif

void tk_geglu(const float *gate, const float *up, float *out, int n) {
  pthread_once(&gelu_once, fill_gelu_table);
  int i = 0;
#if defined(__x86_64__)
  if (tk_has_avx2()) i = geglu_avx2(gate, up, out, n);
#endif
  for (; i < n; i++) out[i] = geglu_one(gate[i], up[i]);
}

void tk_swiglu(const float *gate, const float *up, float *out, int n) {
  for (int i = 0; i < n; i++) {
    const float g = gate[i];
    out[i] = (g / (1.0f + expf(-g))) * up[i];
  }
}

void tk_fold_partials(float *x, const float *partials, int unit_count, size_t unit_stride, int n) {
  for (int i = 0; i < n; i++) {
    float sum = partials[i];
    for (int u = 1; u < unit_count; u++) sum = sum + partials[(size_t)u * unit_stride + i];
    x[i] = x[i] + sum;
  }
}
