// SIMD panel products for Q5_0, Q4_K and Q6_K, computing exactly what tk_dot_panel_portable
// computes (the contract in tessera_kernels.h), in the style of kernels_avx2.c: one row per
// 32-bit lane, four elements per lane and instruction.
//
// What differs from Q4_0/Q8_0:
// - Q5_0's fifth bits come as a 64-bit mask per four elements of every row, expanded to bytes
//   (AVX-512: one masked move; AVX2: shuffle, and, compare) and or'ed onto the nibbles.
// - Q4_K's weight scale is d · scale per 32-block (exact in f32), its minimum dmin · min;
//   the minimum term is subtracted at the end.
// - Q6_K's unsigned 6-bit quants give the two 16-element halves' sums apart, each less 32 ×
//   the activations' half sum, times its own signed scale — integers, so exact in any order.
#if defined(__x86_64__)
#include "panel_x86.h"

TK_INLINE uint64_t fifth_bits(const uint8_t *block, int k) {
  uint64_t bits;
  memcpy(&bits, block + 256 + 8 * k, 8);
  return bits;
}

// MARK: AVX-512 VNNI

TK_VNNI TK_INLINE void more_vnni(int type, const uint8_t *blocks, int nb, const tk_q8_view *x,
                                 int count, float out[][TK_PANEL_ROWS]) {
  const size_t block_bytes = tk_panel_block_bytes(type);
  const size_t quant_bytes = tk_panel_quant_bytes(type);
  const __m512i nibble = _mm512_set1_epi8(0x0F);
  const __m512i fifth = _mm512_set1_epi8(0x10);
  __m512 acc[TK_TILE_ACTIVATIONS];
  __m512 minimums[TK_TILE_ACTIVATIONS];
  for (int t = 0; t < count; t++) {
    acc[t] = _mm512_setzero_ps();
    minimums[t] = _mm512_setzero_ps();
  }
  for (int i = 0; i < nb; i++) {
    const uint8_t *block = blocks + (size_t)i * block_bytes;
    const uint8_t *scales = block + quant_bytes;
    __m512i w[8];
    if (type == TK_TYPE_Q6_K) {
      for (int k = 0; k < 8; k++) w[k] = _mm512_loadu_si512(block + 64 * k);
    } else {
      for (int q = 0; q < 4; q++) {
        const __m512i packed = _mm512_loadu_si512(block + 64 * q);
        w[2 * q] = _mm512_and_si512(packed, nibble);
        w[2 * q + 1] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), nibble);
      }
      if (type == TK_TYPE_Q5_0) {
        for (int k = 0; k < 8; k++) {
          w[k] = _mm512_or_si512(w[k], _mm512_maskz_mov_epi8(fifth_bits(block, k), fifth));
        }
      }
    }
    __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)scales));
    __m512 mw = _mm512_setzero_ps();
    __m512i first = _mm512_setzero_si512(), second = _mm512_setzero_si512();
    if (type == TK_TYPE_Q4_K) {
      dw = _mm512_mul_ps(
          dw, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(scales + 64)))));
      mw = _mm512_mul_ps(
          _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(scales + 32))),
          _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(scales + 80)))));
    } else if (type == TK_TYPE_Q6_K) {
      first = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(scales + 32)));
      second = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(scales + 48)));
    }
    for (int t = 0; t < count; t++) {
      __m512i low = _mm512_setzero_si512(), high = _mm512_setzero_si512();
      for (int k = 0; k < 4; k++) {
        low = _mm512_dpbusd_epi32(low, w[k], _mm512_set1_epi32(activation_word(&x[t], i, k)));
        high = _mm512_dpbusd_epi32(high, w[k + 4], _mm512_set1_epi32(activation_word(&x[t], i, k + 4)));
      }
      __m512i product;
      if (type == TK_TYPE_Q6_K) {
        const int32_t half = x[t].half[i], rest = x[t].sum[i] - half;
        low = _mm512_sub_epi32(low, _mm512_set1_epi32(32 * half));
        high = _mm512_sub_epi32(high, _mm512_set1_epi32(32 * rest));
        product = _mm512_add_epi32(_mm512_mullo_epi32(first, low), _mm512_mullo_epi32(second, high));
      } else {
        product = _mm512_add_epi32(low, high);
        if (type == TK_TYPE_Q5_0) {
          product = _mm512_sub_epi32(product, _mm512_set1_epi32(16 * x[t].sum[i]));
        }
      }
      const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(x[t].d[i]));
      acc[t] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(product), acc[t]);
      if (type == TK_TYPE_Q4_K) {
        minimums[t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(x[t].s[i]), minimums[t]);
      }
    }
  }
  for (int t = 0; t < count; t++) {
    _mm512_storeu_ps(out[t], type == TK_TYPE_Q4_K ? _mm512_sub_ps(acc[t], minimums[t]) : acc[t]);
  }
}

// MARK: AVX2: two halves of 8 rows

/// 32 mask bits (bit b: byte b) as bytes 0x10 or 0.
TK_AVX2 TK_INLINE __m256i expand_fifth_avx2(uint32_t bits) {
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                          2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i select = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
  const __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread), select);
  return _mm256_and_si256(_mm256_cmpeq_epi8(v, select), _mm256_set1_epi8(0x10));
}

TK_AVX2 TK_INLINE void more_avx2(int type, const uint8_t *blocks, int nb, const tk_q8_view *x,
                                 int count, float out[][TK_PANEL_ROWS]) {
  const size_t block_bytes = tk_panel_block_bytes(type);
  const size_t quant_bytes = tk_panel_quant_bytes(type);
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int half = 0; half < 2; half++) {
    __m256 acc[TK_TILE_ACTIVATIONS];
    __m256 minimums[TK_TILE_ACTIVATIONS];
    for (int t = 0; t < count; t++) {
      acc[t] = _mm256_setzero_ps();
      minimums[t] = _mm256_setzero_ps();
    }
    for (int i = 0; i < nb; i++) {
      const uint8_t *block = blocks + (size_t)i * block_bytes;
      const uint8_t *scales = block + quant_bytes;
      __m256i w[8];
      if (type == TK_TYPE_Q6_K) {
        for (int k = 0; k < 8; k++) {
          w[k] = _mm256_loadu_si256((const __m256i *)(block + 64 * k + 32 * half));
        }
      } else {
        for (int q = 0; q < 4; q++) {
          const __m256i packed = _mm256_loadu_si256((const __m256i *)(block + 64 * q + 32 * half));
          w[2 * q] = _mm256_and_si256(packed, nibble);
          w[2 * q + 1] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble);
        }
        if (type == TK_TYPE_Q5_0) {
          for (int k = 0; k < 8; k++) {
            const uint32_t bits = (uint32_t)(fifth_bits(block, k) >> (32 * half));
            w[k] = _mm256_or_si256(w[k], expand_fifth_avx2(bits));
          }
        }
      }
      __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(scales + 16 * half)));
      __m256 mw = _mm256_setzero_ps();
      __m256i first = _mm256_setzero_si256(), second = _mm256_setzero_si256();
      if (type == TK_TYPE_Q4_K) {
        dw = _mm256_mul_ps(dw, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
                                   _mm_loadl_epi64((const __m128i *)(scales + 64 + 8 * half)))));
        mw = _mm256_mul_ps(
            _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(scales + 32 + 16 * half))),
            _mm256_cvtepi32_ps(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(scales + 80 + 8 * half)))));
      } else if (type == TK_TYPE_Q6_K) {
        first = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(scales + 32 + 8 * half)));
        second = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(scales + 48 + 8 * half)));
      }
      for (int t = 0; t < count; t++) {
        // int16 pair sums stay in range: nibbles 8 groups (2·15·127 each), 5-bit quants 4
        // (2·31·127), 6-bit quants 2 (2·63·127) before widening.
        const int per_widen = type == TK_TYPE_Q4_K ? 8 : type == TK_TYPE_Q5_0 ? 4 : 2;
        __m256i sums[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int k0 = 0; k0 < 8; k0 += per_widen) {
          __m256i pairs = _mm256_setzero_si256();
          for (int k = k0; k < k0 + per_widen; k++) {
            const __m256i xk = _mm256_set1_epi32(activation_word(&x[t], i, k));
            pairs = _mm256_add_epi16(pairs, _mm256_maddubs_epi16(w[k], xk));
          }
          sums[k0 / 4] = _mm256_add_epi32(sums[k0 / 4], _mm256_madd_epi16(pairs, ones));
        }
        __m256i product;
        if (type == TK_TYPE_Q6_K) {
          const int32_t first_half = x[t].half[i], rest = x[t].sum[i] - first_half;
          const __m256i low = _mm256_sub_epi32(sums[0], _mm256_set1_epi32(32 * first_half));
          const __m256i high = _mm256_sub_epi32(sums[1], _mm256_set1_epi32(32 * rest));
          product = _mm256_add_epi32(_mm256_mullo_epi32(first, low), _mm256_mullo_epi32(second, high));
        } else {
          product = _mm256_add_epi32(sums[0], sums[1]);
          if (type == TK_TYPE_Q5_0) {
            product = _mm256_sub_epi32(product, _mm256_set1_epi32(16 * x[t].sum[i]));
          }
        }
        const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(x[t].d[i]));
        acc[t] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(product), acc[t]);
        if (type == TK_TYPE_Q4_K) {
          minimums[t] = _mm256_fmadd_ps(mw, _mm256_set1_ps(x[t].s[i]), minimums[t]);
        }
      }
    }
    for (int t = 0; t < count; t++) {
      const __m256 result = type == TK_TYPE_Q4_K ? _mm256_sub_ps(acc[t], minimums[t]) : acc[t];
      _mm256_storeu_ps(out[t] + 8 * half, result);
    }
  }
}

TK_PANEL_KERNEL(panel_q5_0_avx2, TK_AVX2, more_avx2, TK_TYPE_Q5_0)
TK_PANEL_KERNEL(panel_q4_k_avx2, TK_AVX2, more_avx2, TK_TYPE_Q4_K)
TK_PANEL_KERNEL(panel_q6_k_avx2, TK_AVX2, more_avx2, TK_TYPE_Q6_K)
TK_PANEL_KERNEL(panel_q5_0_vnni, TK_VNNI, more_vnni, TK_TYPE_Q5_0)
TK_PANEL_KERNEL(panel_q4_k_vnni, TK_VNNI, more_vnni, TK_TYPE_Q4_K)
TK_PANEL_KERNEL(panel_q6_k_vnni, TK_VNNI, more_vnni, TK_TYPE_Q6_K)

tk_panel_fn tk_panel_kernel_more(int type, int level) {
  const int vnni = level >= TK_KERNELS_AVX512_VNNI;
  switch (type) {
  case TK_TYPE_Q5_0: return vnni ? panel_q5_0_vnni : panel_q5_0_avx2;
  case TK_TYPE_Q4_K: return vnni ? panel_q4_k_vnni : panel_q4_k_avx2;
  case TK_TYPE_Q6_K: return vnni ? panel_q6_k_vnni : panel_q6_k_avx2;
  default: return 0;
  }
}
#endif
