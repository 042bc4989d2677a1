// SIMD implementations of the quantized panel products, computing exactly what
// tk_dot_panel_portable computes (the contract in tessera_kernels.h).
//
// A panel holds 16 weight rows interleaved four elements at a time (see the layout in
// tessera_kernels.h), so one 32-bit lane holds four consecutive elements of one row: a dot
// product instruction against four activation bytes broadcast to every lane advances all 16
// rows at once, and eight of them cover a block. The block's integer sums (exact, in any order)
// then take one fused multiply-add per lane — one accumulator chain per row, 16 rows per
// vector — so the work per block is a handful of instructions for 16 rows, not per row.
//
// AVX-512 VNNI: one 512-bit register is the whole panel (vpdpbusd: unsigned weights × signed
// activations; Q8_0's signed weights are offset by 128 and the offset's product, 128·Σx,
// subtracted; Q4_0's −8 likewise). AVX2: two 256-bit halves of 8 rows, with maddubs + madd.
#if defined(__x86_64__)
#include "panel_x86.h"

// MARK: AVX-512 VNNI: one panel per 512-bit register

TK_VNNI TK_INLINE void panel_vnni(int type, const uint8_t *blocks, int nb, const tk_q8_view *x,
                                  int count, float out[][TK_PANEL_ROWS]) {
  const size_t block_bytes = tk_panel_block_bytes(type);
  const size_t quant_bytes = tk_panel_quant_bytes(type);
  const __m512i nibble = _mm512_set1_epi8(0x0F);
  const __m512i offset = _mm512_set1_epi8((char)0x80);
  __m512 acc[TK_TILE_ACTIVATIONS];
  __m512 minimums[TK_TILE_ACTIVATIONS];
  for (int t = 0; t < count; t++) {
    acc[t] = _mm512_setzero_ps();
    minimums[t] = _mm512_setzero_ps();
  }
  for (int i = 0; i < nb; i++) {
    const uint8_t *block = blocks + (size_t)i * block_bytes;
    __m512i w[8];
    if (type == TK_TYPE_Q8_0) {
      for (int k = 0; k < 8; k++) {
        w[k] = _mm512_xor_si512(_mm512_loadu_si512(block + 64 * k), offset);
      }
    } else {
      for (int q = 0; q < 4; q++) {
        const __m512i packed = _mm512_loadu_si512(block + 64 * q);
        w[2 * q] = _mm512_and_si512(packed, nibble);
        w[2 * q + 1] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), nibble);
      }
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(block + quant_bytes)));
    const __m512 mw =
        type == TK_TYPE_Q4_1
            ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(block + quant_bytes + 32)))
            : _mm512_setzero_ps();
    for (int t = 0; t < count; t++) {
      __m512i even = _mm512_setzero_si512();
      __m512i odd = _mm512_setzero_si512();
      for (int k = 0; k < 8; k += 2) {
        even = _mm512_dpbusd_epi32(even, w[k], _mm512_set1_epi32(activation_word(&x[t], i, k)));
        odd = _mm512_dpbusd_epi32(odd, w[k + 1],
                                  _mm512_set1_epi32(activation_word(&x[t], i, k + 1)));
      }
      __m512i product = _mm512_add_epi32(even, odd);
      if (type == TK_TYPE_Q8_0) {
        product = _mm512_sub_epi32(product, _mm512_set1_epi32(128 * x[t].sum[i]));
      } else if (type == TK_TYPE_Q4_0) {
        product = _mm512_sub_epi32(product, _mm512_set1_epi32(8 * x[t].sum[i]));
      }
      const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(x[t].d[i]));
      acc[t] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(product), acc[t]);
      if (type == TK_TYPE_Q4_1) {
        minimums[t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(x[t].s[i]), minimums[t]);
      }
    }
  }
  for (int t = 0; t < count; t++) {
    const __m512 result = type == TK_TYPE_Q4_1 ? _mm512_add_ps(acc[t], minimums[t]) : acc[t];
    _mm512_storeu_ps(out[t], result);
  }
}

// MARK: AVX2: a panel as two halves of 8 rows

/// Products of 8 rows' four elements with the broadcast activation word, summed in pairs
/// (int16 lanes: |pair| ≤ 2·15·127 for nibbles, so eight of them cannot overflow).
TK_AVX2 TK_INLINE __m256i pairs_avx2(int type, __m256i w, __m256i x) {
  if (type == TK_TYPE_Q8_0) {  // signed weights: |w| times x with w's sign
    return _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
  }
  return _mm256_maddubs_epi16(w, x);
}

TK_AVX2 TK_INLINE void panel_avx2(int type, const uint8_t *blocks, int nb, const tk_q8_view *x,
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
      const uint8_t *block = blocks + (size_t)i * block_bytes + 32 * half;
      __m256i w[8];
      if (type == TK_TYPE_Q8_0) {
        for (int k = 0; k < 8; k++) w[k] = _mm256_loadu_si256((const __m256i *)(block + 64 * k));
      } else {
        for (int q = 0; q < 4; q++) {
          const __m256i packed = _mm256_loadu_si256((const __m256i *)(block + 64 * q));
          w[2 * q] = _mm256_and_si256(packed, nibble);
          w[2 * q + 1] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble);
        }
      }
      const uint8_t *scales = blocks + (size_t)i * block_bytes + quant_bytes + 16 * half;
      const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)scales));
      const __m256 mw = type == TK_TYPE_Q4_1
                            ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(scales + 32)))
                            : _mm256_setzero_ps();
      for (int t = 0; t < count; t++) {
        __m256i product = _mm256_setzero_si256();
        if (type == TK_TYPE_Q8_0) {  // int16 pairs can reach 2·128·127: widen each
          for (int k = 0; k < 8; k++) {
            const __m256i xk = _mm256_set1_epi32(activation_word(&x[t], i, k));
            product = _mm256_add_epi32(product, _mm256_madd_epi16(pairs_avx2(type, w[k], xk), ones));
          }
        } else {
          __m256i pairs = _mm256_setzero_si256();
          for (int k = 0; k < 8; k++) {
            const __m256i xk = _mm256_set1_epi32(activation_word(&x[t], i, k));
            pairs = _mm256_add_epi16(pairs, pairs_avx2(type, w[k], xk));
          }
          product = _mm256_madd_epi16(pairs, ones);
          if (type == TK_TYPE_Q4_0) {
            product = _mm256_sub_epi32(product, _mm256_set1_epi32(8 * x[t].sum[i]));
          }
        }
        const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(x[t].d[i]));
        acc[t] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(product), acc[t]);
        if (type == TK_TYPE_Q4_1) {
          minimums[t] = _mm256_fmadd_ps(mw, _mm256_set1_ps(x[t].s[i]), minimums[t]);
        }
      }
    }
    for (int t = 0; t < count; t++) {
      const __m256 result = type == TK_TYPE_Q4_1 ? _mm256_add_ps(acc[t], minimums[t]) : acc[t];
      _mm256_storeu_ps(out[t] + 8 * half, result);
    }
  }
}

// MARK: Specializations by type and activation count

TK_PANEL_KERNEL(panel_q4_0_avx2, TK_AVX2, panel_avx2, TK_TYPE_Q4_0)
TK_PANEL_KERNEL(panel_q4_1_avx2, TK_AVX2, panel_avx2, TK_TYPE_Q4_1)
TK_PANEL_KERNEL(panel_q8_0_avx2, TK_AVX2, panel_avx2, TK_TYPE_Q8_0)
TK_PANEL_KERNEL(panel_q4_0_vnni, TK_VNNI, panel_vnni, TK_TYPE_Q4_0)
TK_PANEL_KERNEL(panel_q4_1_vnni, TK_VNNI, panel_vnni, TK_TYPE_Q4_1)
TK_PANEL_KERNEL(panel_q8_0_vnni, TK_VNNI, panel_vnni, TK_TYPE_Q8_0)

tk_panel_fn tk_panel_kernel_more(int type, int level);

tk_panel_fn tk_panel_kernel_avx2(int type, int level) {
  const int vnni = level >= TK_KERNELS_AVX512_VNNI;
  switch (type) {
  case TK_TYPE_Q4_0: return vnni ? panel_q4_0_vnni : panel_q4_0_avx2;
  case TK_TYPE_Q4_1: return vnni ? panel_q4_1_vnni : panel_q4_1_avx2;
  case TK_TYPE_Q8_0: return vnni ? panel_q8_0_vnni : panel_q8_0_avx2;
  default: return tk_panel_kernel_more(type, level);
  }
}
#endif
