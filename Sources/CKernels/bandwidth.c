// Single-core streaming read bandwidth, measured the way decode reads weights: one thread,
// sequential, software prefetch ahead of the loads. Three loops (64-bit scalar, AVX2, AVX-512
// where the CPU has them) each read the buffer `passes` times; the fastest loop's rate is the
// machine's figure, so that decode's fraction of it is a fraction of what one core can read.
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum { PREFETCH_AHEAD = 1024 };

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t read_scalar(const uint8_t *buffer, size_t bytes) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i < bytes; i += 64) {
    __builtin_prefetch(buffer + i + PREFETCH_AHEAD);
    const uint64_t *line = (const uint64_t *)(buffer + i);
    a ^= line[0] ^ line[4];
    b ^= line[1] ^ line[5];
    c ^= line[2] ^ line[6];
    d ^= line[3] ^ line[7];
  }
  return a ^ b ^ c ^ d;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static uint64_t read_avx2(const uint8_t *buffer, size_t bytes) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  for (size_t i = 0; i < bytes; i += 128) {
    _mm_prefetch((const char *)(buffer + i + PREFETCH_AHEAD), _MM_HINT_T0);
    _mm_prefetch((const char *)(buffer + i + PREFETCH_AHEAD + 64), _MM_HINT_T0);
    a = _mm256_xor_si256(a, _mm256_load_si256((const __m256i *)(buffer + i)));
    b = _mm256_xor_si256(b, _mm256_load_si256((const __m256i *)(buffer + i + 32)));
    c = _mm256_xor_si256(c, _mm256_load_si256((const __m256i *)(buffer + i + 64)));
    d = _mm256_xor_si256(d, _mm256_load_si256((const __m256i *)(buffer + i + 96)));
  }
  const __m256i all = _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d));
  return (uint64_t)_mm256_extract_epi64(all, 0) ^ (uint64_t)_mm256_extract_epi64(all, 3);
}

__attribute__((target("avx512f"))) static uint64_t read_avx512(const uint8_t *buffer,
                                                               size_t bytes) {
  __m512i a = _mm512_setzero_si512(), b = a;
  for (size_t i = 0; i < bytes; i += 128) {
    _mm_prefetch((const char *)(buffer + i + PREFETCH_AHEAD), _MM_HINT_T0);
    _mm_prefetch((const char *)(buffer + i + PREFETCH_AHEAD + 64), _MM_HINT_T0);
    a = _mm512_xor_si512(a, _mm512_load_si512(buffer + i));
    b = _mm512_xor_si512(b, _mm512_load_si512(buffer + i + 64));
  }
  return (uint64_t)_mm512_reduce_add_epi64(_mm512_xor_si512(a, b));
}
#endif

typedef uint64_t (*read_loop)(const uint8_t *, size_t);

double tk_read_bandwidth(size_t bytes, int passes, int *fastest) {
  bytes &= ~(size_t)127;
  if (bytes == 0 || passes < 1) return 0;
  // PREFETCH_AHEAD bytes of slack: the prefetches run past the end, never the loads.
  uint8_t *buffer = aligned_alloc(64, bytes + PREFETCH_AHEAD + 128);
  if (!buffer) return 0;
  memset(buffer, 1, bytes + PREFETCH_AHEAD + 128);  // faults the pages in before timing
  read_loop loops[3] = {read_scalar, 0, 0};
#if defined(__x86_64__)
  if (tk_kernels_available(TK_KERNELS_AVX2)) loops[1] = read_avx2;
  if (tk_kernels_available(TK_KERNELS_AVX512_VNNI)) loops[2] = read_avx512;
#endif
  volatile uint64_t sink = 0;
  double best = 0;
  for (int loop = 0; loop < 3; loop++) {
    if (!loops[loop]) continue;
    sink ^= loops[loop](buffer, bytes);  // one untimed pass: TLB and prefetcher warm
    const double start = now_seconds();
    for (int pass = 0; pass < passes; pass++) sink ^= loops[loop](buffer, bytes);
    const double rate = (double)bytes * passes / (now_seconds() - start);
    if (rate > best) {
      best = rate;
      if (fastest) *fastest = loop;
    }
  }
  free(buffer);
  return best;
}
