/* Filling the environment table (codegen/kernel/kernel_abi.h) that every
 * generated kernel receives: parallel-for, GEMM, error reporting. */
#ifndef GC_RT_ENV_H
#define GC_RT_ENV_H

#include <stdatomic.h>
#include <stdbool.h>

#include "kernel/kernel_abi.h"

/* Where kernels report run-time failures during one run. The first report
 * wins; later ones (other threads, other chunks) are dropped. */
typedef struct gc_rt_error {
  atomic_bool set;
  int32_t code;
  char message[256];
} gc_rt_error;

typedef void (*gc_parallel_for_fn)(void *user, int64_t n, int64_t grain, gc_task_fn fn,
                                   void *closure);

/* Fills `env` (version, size, every entry). `err` receives reports. */
void gc_env_fill(gc_env *env, gc_parallel_for_fn parallel_for, void *parallel_user,
                 gc_rt_error *err);

/* The GEMM library behind env.sgemm/dgemm: "openblas" or "reference". */
const char *gc_env_blas_name(void);
/* Sets the library's own thread count (OpenBLAS keeps one per process). */
void gc_env_blas_set_threads(int n);

/* Largest m/n/k/ld the GEMM entries accept (cblas takes int). */
#define GC_ENV_GEMM_MAX_DIM 2147483647LL

#endif
