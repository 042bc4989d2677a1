// See malloc_counter.h. glibc exports its allocator under __libc_* names, which these
// definitions forward to; defining the public names in the test executable makes every
// library in the process (the Swift runtime included) call them.
#include "malloc_counter.h"

#include <stddef.h>

#if defined(__GLIBC__)
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Thread_local uint64_t thread_allocations;

void *malloc(size_t size) {
  thread_allocations++;
  return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
  thread_allocations++;
  return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
  thread_allocations++;
  return __libc_realloc(pointer, size);
}

void *memalign(size_t alignment, size_t size) {
  thread_allocations++;
  return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
  thread_allocations++;
  return __libc_memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
  if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return 22;  // EINVAL
  thread_allocations++;
  void *pointer = __libc_memalign(alignment, size);
  if (!pointer && size != 0) return 12;  // ENOMEM
  *out = pointer;
  return 0;
}

uint64_t malloc_counter_thread_allocations(void) { return thread_allocations; }
int malloc_counter_is_active(void) { return 1; }
#else
uint64_t malloc_counter_thread_allocations(void) { return 0; }
int malloc_counter_is_active(void) { return 0; }
#endif
