/* Executables (internal view): a model description, one entry point per
 * kernel, a thread pool and the per-call state of the last run.
 *
 * An executable does not care where its kernels came from: the LLVM JIT,
 * an AOT object linked into the program, or the kernel-IR evaluator
 * (GC_EXEC_EVAL, a debug mode that needs no generated code at all).
 */
#ifndef GC_RT_EXECUTABLE_H
#define GC_RT_EXECUTABLE_H

#include <pthread.h>

#include "graphc/compile.h"
#include "kernel/kernel_abi.h"
#include "rt/block_cache.h"
#include "rt/env.h"
#include "rt/model.h"
#include "rt/thread_pool.h"

#define GC_EXECUTABLE_MAGIC 0x45584543u /* "EXEC" */
#define GC_ARENA_ALIGN 64

typedef enum gc_exec_mode {
  GC_EXEC_NATIVE, /* kernels[i] is generated code */
  GC_EXEC_EVAL,   /* every kernel runs through kir_eval */
} gc_exec_mode;

/* Entry points and whoever keeps their code alive. */
typedef struct gc_kernels {
  gc_kernel_fn *fns; /* nkernels entries, malloc'd (NULL in EVAL mode) */
  void *owner;       /* e.g. a JIT module; released with `release` */
  void (*release)(void *owner);
} gc_kernels;

struct graphc_executable_s {
  uint32_t magic;
  gc_model model;
  gc_kernels kernels;
  gc_exec_mode mode;
  gc_thread_pool *pool; /* NULL with one thread or the application's hook */
  int nthreads;         /* pool size when started */
  gc_parallel_for_fn parallel_for; /* the pool's, or the application's */
  void *parallel_user;
  graphc_cache_state_t cache_state;

  /* Run state, guarded by `mu` (runs of one executable serialize). */
  pthread_mutex_t mu;
  int64_t *symvals;
  bool *bound;
  int64_t *sizes;   /* evaluated size table */
  int64_t *bytes;   /* per buffer */
  int64_t *offsets; /* arena offsets of temps */
  void **bufs;      /* per buffer, for kernels */
  /* The plan of the last call, reused while its symbol values repeat. */
  int64_t *plan_syms;
  bool plan_valid;
  int64_t plan_peak;
  void *arena;
  int64_t arena_cap;
  gc_block_cache *blocks; /* output blocks, reused across calls */
  int64_t peak_bytes; /* of the last successful run */
  int64_t runs;
};

/* Takes over `model` and `kernels` (released on failure too). nthreads
 * counts the calling thread (>= 1). */
graphc_status_t gc_executable_create(gc_model *model, gc_kernels kernels, gc_exec_mode mode,
                                     int nthreads, graphc_executable_t **out);

/* The same, with the thread count and parallel-for hook of `ctx` (NULL:
 * one thread per core, the built-in pool). */
graphc_status_t gc_executable_create_in(graphc_context_t *ctx, gc_model *model, gc_kernels kernels,
                                        gc_exec_mode mode, graphc_executable_t **out);

graphc_status_t gc_executable_check(const graphc_executable_t *exe);

/* Plans the arena: offsets of TEMP buffers (others get -1) and the peak,
 * from per-buffer byte counts (wraps gc_memplan). */
graphc_status_t gc_rt_plan(const kir_program *p, const int64_t *bytes, int64_t *offsets,
                           int64_t *peak);

#endif
