/* The contract between generated kernels and the runtime.
 *
 * Generated code never links against libgraphc (or OpenBLAS): everything
 * it needs from outside arrives through the environment table, versioned
 * like a schema (IREE's executable library and TVM's context pointers work
 * the same way). A table with a smaller `size` than the code expects is
 * refused by the loader, never called past its end.
 */
#ifndef GC_KERNEL_ABI_H
#define GC_KERNEL_ABI_H

#include <stddef.h>
#include <stdint.h>

#define GC_ENV_VERSION 1

struct gc_env;

/* Work item of a parallel loop: processes [begin, end). */
typedef void (*gc_task_fn)(void *closure, int64_t begin, int64_t end);

typedef struct gc_env {
  uint32_t version; /* GC_ENV_VERSION */
  uint32_t size;    /* sizeof(gc_env) of the provider */
  /* Runs fn over [0, n) in chunks of at least `grain`, possibly in
   * parallel; returns when all chunks are done. The embedding application
   * may replace it (Halide's halide_do_par_for model). */
  void (*parallel_for)(void *user, int64_t n, int64_t grain, gc_task_fn fn, void *closure);
  void *parallel_user;
  /* Row-major GEMM, C = alpha*op(A)op(B) + beta*C (cblas semantics). */
  void (*sgemm)(void *user, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                float beta, float *c, int64_t ldc);
  void (*dgemm)(void *user, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                double alpha, const double *a, int64_t lda, const double *b, int64_t ldb,
                double beta, double *c, int64_t ldc);
  void *gemm_user;
  /* Reports a run-time failure (index out of range...) from generated code;
   * the runtime turns it into a status after the step. */
  void (*report_error)(void *user, int32_t code, const char *message);
  void *error_user;
} gc_env;

/* Every generated kernel: processes outer points [begin, end) of its
 * kernel's outer domain (row-major flattening of kir_kernel.outer).
 * `bufs` are the program's buffers by id; `sizes` the evaluated size
 * table. */
typedef void (*gc_kernel_fn)(int64_t begin, int64_t end, void *const *bufs,
                             const int64_t *sizes, const gc_env *env);

#endif
