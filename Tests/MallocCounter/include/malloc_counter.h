// Counts heap allocations made by the calling thread, for tests that prove a loop allocates
// nothing. The test process's malloc family is interposed (forwarding to glibc's own
// allocator), and each thread keeps its own count, so tests running in parallel on other
// threads do not disturb the figure.
#ifndef MALLOC_COUNTER_H
#define MALLOC_COUNTER_H

#include <stdint.h>

/// Allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made by this
/// thread since the process started.
uint64_t malloc_counter_thread_allocations(void);

/// Whether the interposition is active in this process (it is on glibc).
int malloc_counter_is_active(void);

#endif
