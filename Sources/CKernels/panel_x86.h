// What the x86 panel kernels (kernels_avx2.c, kernels_more_x86.c) share: their target
// attributes, the activation word they broadcast, and the specialization of a kernel body by
// activation count (1–4, so the compiler unrolls the tile).
#ifndef TESSERA_PANEL_X86_H
#define TESSERA_PANEL_X86_H
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "internal.h"

#define TK_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TK_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define TK_INLINE static inline __attribute__((always_inline))

/// The activation's four bytes at element 4k of block i, as one 32-bit value.
TK_INLINE int32_t activation_word(const tk_q8_view *x, int i, int k) {
  int32_t word;
  memcpy(&word, x->qs + 32 * i + 4 * k, 4);
  return word;
}

#define TK_PANEL_KERNEL(name, TARGET, body, type)                                             \
  TARGET static void name(const uint8_t *blocks, int nb, const tk_q8_view *x, int count,     \
                          float out[][TK_PANEL_ROWS]) {                                       \
    switch (count) {                                                                          \
    case 1: body(type, blocks, nb, x, 1, out); break;                                         \
    case 2: body(type, blocks, nb, x, 2, out); break;                                         \
    case 3: body(type, blocks, nb, x, 3, out); break;                                         \
    default: body(type, blocks, nb, x, 4, out); break;                                        \
    }                                                                                         \
  }

#endif
#endif
