/* The runtime's thread pool (see thread_pool.h).
 *
 * A loop is published under the mutex as a generation; workers that wake
 * while it is still open join it (`active`), take chunks from the shared
 * counter, and leave. The caller closes the loop once the counter is
 * exhausted and waits only for workers that joined, so a worker the OS is
 * slow to wake never delays a loop it took no part in, and can never pick
 * up chunks of a later loop with the closure of an earlier one.
 *
 * Waking a sleeping thread costs tens of microseconds, more than a small
 * kernel, so a worker that finished a loop spins a little (GC_POOL_SPIN
 * pauses, some tens of microseconds) watching for the next one before it
 * sleeps: back-to-back kernel steps find it awake. */
#include "rt/thread_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "support/status.h"

#define GC_POOL_SPIN 4000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

struct gc_thread_pool {
  int nthreads; /* including the caller */
  pthread_t *threads;
  int nstarted;
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  _Atomic uint64_t generation; /* written under mu; read unlocked to spin */
  atomic_bool stop;
  bool open;
  int active; /* workers inside the open loop */
  /* The loop being run (valid while busy). */
  gc_task_fn fn;
  void *closure;
  int64_t n, chunk;
  _Atomic int64_t next;
  atomic_bool busy;
};

static void run_chunks(gc_thread_pool *p, gc_task_fn fn, void *closure, int64_t n, int64_t chunk) {
  for (;;) {
    int64_t b = atomic_fetch_add_explicit(&p->next, chunk, memory_order_relaxed);
    if (b >= n) return;
    fn(closure, b, n - b > chunk ? b + chunk : n);
  }
}

static void *worker_main(void *arg) {
  gc_thread_pool *p = arg;
  uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < GC_POOL_SPIN && atomic_load_explicit(&p->generation, memory_order_relaxed) == seen &&
                    !atomic_load_explicit(&p->stop, memory_order_relaxed);
         i++)
      cpu_relax();
    pthread_mutex_lock(&p->mu);
    while (p->generation == seen && !p->stop) pthread_cond_wait(&p->wake, &p->mu);
    if (p->stop) break;
    seen = p->generation;
    if (!p->open) { /* woke after the loop closed */
      pthread_mutex_unlock(&p->mu);
      continue;
    }
    p->active++;
    gc_task_fn fn = p->fn;
    void *closure = p->closure;
    int64_t n = p->n, chunk = p->chunk;
    pthread_mutex_unlock(&p->mu);
    run_chunks(p, fn, closure, n, chunk);
    pthread_mutex_lock(&p->mu);
    if (--p->active == 0 && !p->open) pthread_cond_signal(&p->done);
    pthread_mutex_unlock(&p->mu);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

graphc_status_t gc_thread_pool_create(int nthreads, gc_thread_pool **out) {
  *out = NULL;
  if (nthreads < 1 || nthreads > 1024)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "thread pool size %d is outside [1, 1024]",
                     nthreads);
  gc_thread_pool *p = calloc(1, sizeof *p);
  if (!p) return GC_OOM();
  p->nthreads = nthreads;
  atomic_init(&p->next, 0);
  atomic_init(&p->busy, false);
  atomic_init(&p->generation, 0);
  atomic_init(&p->stop, false);
  if (pthread_mutex_init(&p->mu, NULL) != 0) {
    free(p);
    return gc_status(GRAPHC_STATUS_RESOURCE_EXHAUSTED, "cannot create a mutex");
  }
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
  p->threads = calloc((size_t)nthreads, sizeof *p->threads);
  if (!p->threads) {
    gc_thread_pool_free(p);
    return GC_OOM();
  }
  for (int i = 0; i + 1 < nthreads; i++) {
    if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
      gc_thread_pool_free(p);
      return gc_status(GRAPHC_STATUS_RESOURCE_EXHAUSTED,
                       "cannot start worker thread %d of %d", i + 1, nthreads - 1);
    }
    p->nstarted++;
  }
  *out = p;
  return NULL;
}

void gc_thread_pool_free(gc_thread_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = true;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nstarted; i++) pthread_join(p->threads[i], NULL);
  free(p->threads);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

int gc_thread_pool_size(const gc_thread_pool *p) { return p ? p->nthreads : 1; }

void gc_thread_pool_parallel_for(void *user, int64_t n, int64_t grain, gc_task_fn fn,
                                 void *closure) {
  gc_thread_pool *p = user;
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  /* About four chunks per thread balance uneven work without making
   * chunks smaller than the caller's grain. */
  int64_t nt = p ? p->nthreads : 1;
  int64_t chunk = (n + 4 * nt - 1) / (4 * nt);
  if (chunk < grain) chunk = grain;
  bool expected = false;
  if (!p || p->nstarted == 0 || chunk >= n ||
      !atomic_compare_exchange_strong(&p->busy, &expected, true)) {
    fn(closure, 0, n); /* serial: one thread, one chunk, or the pool is in use */
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->closure = closure;
  p->n = n;
  p->chunk = chunk;
  atomic_store_explicit(&p->next, 0, memory_order_relaxed);
  p->open = true;
  p->generation++;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);

  run_chunks(p, fn, closure, n, chunk);

  pthread_mutex_lock(&p->mu);
  p->open = false;
  while (p->active > 0) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
  atomic_store(&p->busy, false);
}
