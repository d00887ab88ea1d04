/* A fixed pool of worker threads behind gc_env.parallel_for.
 *
 * A pool of N threads runs N-1 pthreads; the thread that calls
 * parallel_for is the N-th worker. Work is handed out in chunks of at
 * least `grain` indices from one atomic counter, so uneven chunks balance
 * themselves. One loop runs on the pool at a time: a parallel_for issued
 * while the pool is busy (a nested call from inside a task, or a second
 * application thread) runs inline on its caller, serially — never a
 * deadlock, never a lost index.
 */
#ifndef GC_RT_THREAD_POOL_H
#define GC_RT_THREAD_POOL_H

#include <stdint.h>

#include "graphc/status.h"
#include "kernel/kernel_abi.h"

typedef struct gc_thread_pool gc_thread_pool;

/* nthreads >= 1 counts the calling thread; 1 means no extra threads. */
graphc_status_t gc_thread_pool_create(int nthreads, gc_thread_pool **out);
/* Joins the workers. Must not be called while a loop is running. */
void gc_thread_pool_free(gc_thread_pool *pool);
int gc_thread_pool_size(const gc_thread_pool *pool);

/* gc_env.parallel_for with `user` = the pool: runs fn over [0, n). */
void gc_thread_pool_parallel_for(void *user, int64_t n, int64_t grain, gc_task_fn fn,
                                 void *closure);

#endif
