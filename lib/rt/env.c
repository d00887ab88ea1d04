/* The environment table: parallel-for from the executable (its pool or
 * the application's hook), GEMM from OpenBLAS's cblas when the build links
 * it (GRAPHC_HAVE_OPENBLAS) and a plain reference loop otherwise, and a
 * first-report-wins error slot. */
#include "rt/env.h"

#include <string.h>

#ifdef GRAPHC_HAVE_OPENBLAS
#include <cblas.h>
#endif

#ifdef GRAPHC_HAVE_OPENBLAS
static void sgemm_blas(void *user, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                       const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                       float *c, int64_t ldc) {
  (void)user;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (blasint)m, (blasint)n, (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, c,
              (blasint)ldc);
}

static void dgemm_blas(void *user, int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha,
                       const double *a, int64_t lda, const double *b, int64_t ldb, double beta,
                       double *c, int64_t ldc) {
  (void)user;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (blasint)m, (blasint)n, (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, c,
              (blasint)ldc);
}
#else
/* Reference GEMM, written once for both element types: correct, slow.
 * beta == 0 overwrites C without reading it (cblas semantics). */
#define GC_REF_GEMM(NAME, T)                                                                   \
  static void NAME(void *user, int ta, int tb, int64_t m, int64_t n, int64_t k, T alpha,      \
                   const T *a, int64_t lda, const T *b, int64_t ldb, T beta, T *c, int64_t ldc) { \
    (void)user;                                                                                \
    for (int64_t i = 0; i < m; i++)                                                            \
      for (int64_t j = 0; j < n; j++) {                                                        \
        T acc = 0;                                                                             \
        for (int64_t p = 0; p < k; p++)                                                        \
          acc += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]); \
        T *cij = &c[i * ldc + j];                                                              \
        *cij = beta == 0 ? alpha * acc : alpha * acc + beta * *cij;                            \
      }                                                                                        \
  }
GC_REF_GEMM(sgemm_blas, float)
GC_REF_GEMM(dgemm_blas, double)
#endif

const char *gc_env_blas_name(void) {
#ifdef GRAPHC_HAVE_OPENBLAS
  return "openblas";
#else
  return "reference";
#endif
}

void gc_env_blas_set_threads(int n) {
#ifdef GRAPHC_HAVE_OPENBLAS
  if (n >= 1) openblas_set_num_threads(n);
#else
  (void)n;
#endif
}

static void report_error(void *user, int32_t code, const char *message) {
  gc_rt_error *e = user;
  if (!e) return;
  bool expected = false;
  if (!atomic_compare_exchange_strong(&e->set, &expected, true)) return;
  e->code = code;
  size_t n = message ? strnlen(message, sizeof e->message - 1) : 0;
  if (n) memcpy(e->message, message, n);
  e->message[n] = 0;
}

void gc_env_fill(gc_env *env, gc_parallel_for_fn parallel_for, void *parallel_user,
                 gc_rt_error *err) {
  memset(env, 0, sizeof *env);
  env->version = GC_ENV_VERSION;
  env->size = (uint32_t)sizeof *env;
  env->parallel_for = parallel_for;
  env->parallel_user = parallel_user;
  env->sgemm = sgemm_blas;
  env->dgemm = dgemm_blas;
  env->gemm_user = NULL;
  env->report_error = report_error;
  env->error_user = err;
}
