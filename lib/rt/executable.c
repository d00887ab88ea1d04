/* Executables: creation, release, queries, the parallel-for hook and the
 * arena plan. Running is exec_run.c. */
#include "rt/executable.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/context.h"
#include "support/status.h"

#include "kernel/memplan.h"

graphc_status_t gc_executable_check(const graphc_executable_t *exe) {
  if (!exe) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "executable is NULL");
  if (exe->magic != GC_EXECUTABLE_MAGIC)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "executable handle is not a live executable");
  return NULL;
}

static void release_kernels(gc_kernels *k) {
  if (k->release) k->release(k->owner);
  free(k->fns);
  memset(k, 0, sizeof *k);
}

graphc_status_t gc_executable_create(gc_model *model, gc_kernels kernels, gc_exec_mode mode,
                                     int nthreads, graphc_executable_t **out) {
  *out = NULL;
  graphc_executable_t *e = calloc(1, sizeof *e);
  if (!e) {
    gc_model_free(model);
    release_kernels(&kernels);
    return GC_OOM();
  }
  e->model = *model;
  memset(model, 0, sizeof *model);
  e->kernels = kernels;
  e->mode = mode;
  e->magic = GC_EXECUTABLE_MAGIC;
  pthread_mutex_init(&e->mu, NULL);
  const kir_program *p = e->model.prog;
  size_t ns = (size_t)p->nsyms + 1, nz = (size_t)p->nsizes + 1, nb = (size_t)p->nbuffers + 1;
  e->symvals = calloc(ns, sizeof *e->symvals);
  e->bound = calloc(ns, sizeof *e->bound);
  e->plan_syms = calloc(ns, sizeof *e->plan_syms);
  e->sizes = calloc(nz, sizeof *e->sizes);
  e->bytes = calloc(nb, sizeof *e->bytes);
  e->offsets = calloc(nb, sizeof *e->offsets);
  e->bufs = calloc(nb, sizeof *e->bufs);
  graphc_status_t st = NULL;
  if (!e->symvals || !e->bound || !e->plan_syms || !e->sizes || !e->bytes || !e->offsets || !e->bufs)
    st = GC_OOM();
  if (!st && mode == GC_EXEC_NATIVE && p->nkernels && !e->kernels.fns)
    st = gc_status(GRAPHC_STATUS_INTERNAL, "executable has %d kernels but no code", p->nkernels);
  for (int k = 0; !st && mode == GC_EXEC_NATIVE && k < p->nkernels; k++)
    if (!e->kernels.fns[k])
      st = gc_status(GRAPHC_STATUS_INTERNAL, "kernel %d '%s' has no entry point", k,
                     p->kernels[k].name);
  if (!st) st = gc_block_cache_create(&e->blocks);
  e->nthreads = nthreads;
  if (!st && nthreads > 1) st = gc_thread_pool_create(nthreads, &e->pool);
  if (st) {
    graphc_executable_release(e);
    return st;
  }
  e->parallel_for = gc_thread_pool_parallel_for;
  e->parallel_user = e->pool;
  /* OpenBLAS keeps one thread count per process: match the pool so GEMMs
   * and fused kernels use the same cores. */
  gc_env_blas_set_threads(nthreads);
  *out = e;
  return NULL;
}

void graphc_executable_release(graphc_executable_t *e) {
  if (!e || e->magic != GC_EXECUTABLE_MAGIC) return;
  e->magic = 0;
  gc_thread_pool_free(e->pool);
  release_kernels(&e->kernels);
  gc_model_free(&e->model);
  free(e->symvals);
  free(e->bound);
  free(e->plan_syms);
  free(e->sizes);
  free(e->bytes);
  free(e->offsets);
  free(e->bufs);
  free(e->arena);
  gc_block_cache_close(e->blocks); /* outputs still alive keep it until their deleters */
  pthread_mutex_destroy(&e->mu);
  free(e);
}

int64_t graphc_executable_peak_bytes(const graphc_executable_t *e) {
  return gc_executable_check(e) ? -1 : e->peak_bytes;
}

static int count_or_minus_one(const graphc_executable_t *e, int which) {
  graphc_status_t st = gc_executable_check(e);
  if (st) {
    graphc_status_free(st);
    return -1;
  }
  return which == 0 ? e->model.prog->nkernels : which == 1 ? e->model.ninputs : e->model.noutputs;
}

int graphc_executable_num_kernels(const graphc_executable_t *e) { return count_or_minus_one(e, 0); }
int graphc_executable_num_inputs(const graphc_executable_t *e) { return count_or_minus_one(e, 1); }
int graphc_executable_num_outputs(const graphc_executable_t *e) { return count_or_minus_one(e, 2); }

graphc_cache_state_t graphc_executable_cache_state(const graphc_executable_t *e) {
  graphc_status_t st = gc_executable_check(e);
  if (st) {
    graphc_status_free(st);
    return GRAPHC_CACHE_DISABLED;
  }
  return e->cache_state;
}

graphc_status_t graphc_executable_set_parallel_for(graphc_executable_t *e, graphc_parallel_for_fn fn,
                                                   void *user) {
  GC_TRY(gc_executable_check(e));
  pthread_mutex_lock(&e->mu);
  if (fn) {
    /* The public and internal task types are the same function type. */
    e->parallel_for = (gc_parallel_for_fn)fn;
    e->parallel_user = user;
  } else {
    graphc_status_t st = NULL;
    if (!e->pool && e->nthreads > 1) st = gc_thread_pool_create(e->nthreads, &e->pool);
    if (st) {
      pthread_mutex_unlock(&e->mu);
      return st;
    }
    e->parallel_for = gc_thread_pool_parallel_for;
    e->parallel_user = e->pool;
  }
  pthread_mutex_unlock(&e->mu);
  return NULL;
}

graphc_status_t gc_rt_plan(const kir_program *p, const int64_t *bytes, int64_t *offsets,
                           int64_t *peak) {
  GC_TRY(gc_memplan(bytes, p->buffers, p->nbuffers, GC_ARENA_ALIGN, offsets, peak));
  for (int b = 0; b < p->nbuffers; b++)
    if (p->buffers[b].role == KIR_BUF_TEMP &&
        (offsets[b] < 0 || offsets[b] % GC_ARENA_ALIGN || offsets[b] + bytes[b] > *peak))
      return gc_status(GRAPHC_STATUS_INTERNAL,
                       "arena plan puts buffer %d '%s' (%lld bytes) at %lld, outside %lld bytes", b,
                       p->buffers[b].name, (long long)bytes[b], (long long)offsets[b],
                       (long long)*peak);
  return NULL;
}

/* The context keeps the application's parallel-for once ir/context.h has
 * the fields (GC_CONTEXT_HAS_PARALLEL_HOOK); until then only the
 * per-executable hook exists. */
graphc_status_t graphc_set_parallel_for(graphc_context_t *ctx, graphc_parallel_for_fn fn, void *user) {
  GC_TRY(gc_context_check(ctx));
#ifdef GC_CONTEXT_HAS_PARALLEL_HOOK
  ctx->parallel_for = fn;
  ctx->parallel_user = fn ? user : NULL;
  return NULL;
#else
  (void)fn, (void)user;
  return gc_status(GRAPHC_STATUS_UNIMPLEMENTED,
                   "this build keeps no parallel-for hook in the context; use "
                   "graphc_executable_set_parallel_for");
#endif
}

graphc_status_t gc_executable_create_in(graphc_context_t *ctx, gc_model *model, gc_kernels kernels,
                                        gc_exec_mode mode, graphc_executable_t **out) {
  int nthreads = 0;
  graphc_parallel_for_fn hook = NULL;
  void *hook_user = NULL;
  if (ctx) {
    graphc_status_t st = gc_context_check(ctx);
    if (st) {
      gc_model_free(model);
      release_kernels(&kernels);
      return st;
    }
    nthreads = ctx->options.num_threads;
#ifdef GC_CONTEXT_HAS_PARALLEL_HOOK
    hook = ctx->parallel_for;
    hook_user = ctx->parallel_user;
#endif
  }
  if (nthreads <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    nthreads = n > 0 ? (int)n : 1;
  }
  /* With the application's hook the pool would only sleep: don't start it. */
  GC_TRY(gc_executable_create(model, kernels, mode, hook ? 1 : nthreads, out));
  (*out)->nthreads = nthreads;
  if (hook) {
    (*out)->parallel_for = (gc_parallel_for_fn)hook;
    (*out)->parallel_user = hook_user;
    gc_env_blas_set_threads(nthreads);
  }
  return NULL;
}
