// A persistent thread pool with a cheap fork/join: workers spin on a generation counter for a
// short while (a 1536×576 product is ~30 µs of work, so dispatch must cost far less), then
// sleep on a condition variable so an idle process does not burn its cores.
//
// A job is shared work, not one share per thread: tasks claim units from a counter in their
// context, and a worker joins a job only while it is open. The caller runs the task too, then
// closes the job and waits only for the workers that joined. So a worker the kernel has
// descheduled (an HTTP thread took its core) costs at most the unit it holds, never its whole
// share of the product: the threads that run take its units.
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "tessera_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TK_RELAX() _mm_pause()
#else
#define TK_RELAX() ((void)0)
#endif

enum { SPINS_BEFORE_SLEEP = 1 << 15, SPINS_BEFORE_YIELD = 1 << 12 };

#define JOB_CLOSED ((uint64_t)1 << 31)
#define JOB_ACTIVE_MASK (JOB_CLOSED - 1)

/// Enters job `generation` if it is still open; false if it has closed or moved on.
static int join_job(_Atomic uint64_t *job, unsigned generation) {
  uint64_t seen = atomic_load(job);
  for (;;) {
    if ((unsigned)(seen >> 32) != generation || (seen & JOB_CLOSED)) return 0;
    if (atomic_compare_exchange_weak(job, &seen, seen + 1)) return 1;
  }
}

struct tk_pool {
  int thread_count;
  pthread_t *threads;
  _Atomic unsigned generation;
  /// The current job: its generation in the high 32 bits, JOB_CLOSED, and the number of
  /// workers inside it in the low bits.
  _Atomic uint64_t job;
  _Atomic int stop;
  _Atomic int sleepers;
  _Atomic int resting;  // tk_pool_rest: sleep now instead of spinning
  tk_task_fn fn;
  void *ctx;
  pthread_mutex_t mutex;
  pthread_cond_t wake;
};

typedef struct {
  tk_pool *pool;
  int index;
} worker_arg;

static void *worker_main(void *raw) {
  worker_arg arg = *(worker_arg *)raw;
  free(raw);
  tk_pool *pool = arg.pool;
  unsigned seen = 0;
  for (;;) {
    unsigned generation;
    int spins = 0;
    while ((generation = atomic_load(&pool->generation)) == seen) {
      if (atomic_load(&pool->stop)) return NULL;
      if (++spins < SPINS_BEFORE_SLEEP && !atomic_load(&pool->resting)) {
        // Spin, then keep checking but give the core to any other runnable thread (a server's
        // HTTP threads, between steps) rather than hold it until the sleep.
        if (spins < SPINS_BEFORE_YIELD) {
          TK_RELAX();
        } else {
          sched_yield();
        }
        continue;
      }
      pthread_mutex_lock(&pool->mutex);
      atomic_fetch_add(&pool->sleepers, 1);
      while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop)) {
        pthread_cond_wait(&pool->wake, &pool->mutex);
      }
      atomic_fetch_sub(&pool->sleepers, 1);
      pthread_mutex_unlock(&pool->mutex);
      spins = 0;
    }
    seen = generation;
    if (atomic_load(&pool->stop)) return NULL;
    if (!join_job(&pool->job, generation)) continue;  // the caller finished without us
    pool->fn(pool->ctx, arg.index, pool->thread_count);
    atomic_fetch_sub(&pool->job, 1);
  }
}

tk_pool *tk_pool_create(int thread_count) {
  if (thread_count < 1) thread_count = 1;
  tk_pool *pool = calloc(1, sizeof(tk_pool));
  if (!pool) return NULL;
  pool->thread_count = thread_count;
  pthread_mutex_init(&pool->mutex, NULL);
  pthread_cond_init(&pool->wake, NULL);
  pool->threads = calloc((size_t)thread_count, sizeof(pthread_t));
  for (int i = 1; i < thread_count; i++) {
    worker_arg *arg = malloc(sizeof(worker_arg));
    arg->pool = pool;
    arg->index = i;
    if (pthread_create(&pool->threads[i], NULL, worker_main, arg) != 0) {
      free(arg);
      pool->thread_count = i;  // run with the threads that did start
      break;
    }
  }
  return pool;
}

void tk_pool_destroy(tk_pool *pool) {
  if (!pool) return;
  atomic_store(&pool->stop, 1);
  pthread_mutex_lock(&pool->mutex);
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->mutex);
  for (int i = 1; i < pool->thread_count; i++) pthread_join(pool->threads[i], NULL);
  pthread_cond_destroy(&pool->wake);
  pthread_mutex_destroy(&pool->mutex);
  free(pool->threads);
  free(pool);
}

int tk_pool_thread_count(const tk_pool *pool) { return pool ? pool->thread_count : 1; }

void tk_pool_rest(tk_pool *pool) {
  if (pool) atomic_store(&pool->resting, 1);
}

void tk_pool_run(tk_pool *pool, tk_task_fn fn, void *ctx) {
  if (!pool || pool->thread_count == 1) {
    fn(ctx, 0, 1);
    return;
  }
  atomic_store(&pool->resting, 0);
  pool->fn = fn;
  pool->ctx = ctx;
  const unsigned generation = atomic_load(&pool->generation) + 1;
  atomic_store(&pool->job, (uint64_t)generation << 32);
  atomic_store(&pool->generation, generation);
  if (atomic_load(&pool->sleepers) > 0) {
    pthread_mutex_lock(&pool->mutex);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
  }
  fn(ctx, 0, pool->thread_count);
  // No unit is left: close the job and wait for the workers inside it to finish theirs. If one
  // was descheduled (more threads than free cores), give the core away instead of burning the
  // timeslice it needs.
  atomic_fetch_or(&pool->job, JOB_CLOSED);
  for (int spins = 0; (atomic_load(&pool->job) & JOB_ACTIVE_MASK) > 0; spins++) {
    if (spins < SPINS_BEFORE_YIELD) {
      TK_RELAX();
    } else {
      sched_yield();
    }
  }
}
