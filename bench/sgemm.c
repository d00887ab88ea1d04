/* matmul 1024^3 and 2048^3 f32 through graphc_compile beside OpenBLAS's
 * cblas_sgemm called directly in the same program with the same thread
 * count, interleaved (blas, graphc, blas, graphc, ...). GFLOP/s, medians.
 * Asserts nothing about time. */
#include <cblas.h>
#include <math.h>

#include "bench_common.h"

#define REPS 7

static const char *const kMatmulGraph =
    "graph mm(a: f32[M, K] input, b: f32[K, N] input) {\n"
    "  %c = matmul(a, b)\n"
    "  return %c\n"
    "}\n";

/* A few entries of c against a double dot product. */
static int spot_check(const float *a, const float *b, const float *c, int64_t n) {
  for (int64_t t = 0; t < 5; t++) {
    int64_t i = (t * 397) % n, j = (t * 211 + 7) % n;
    double acc = 0;
    for (int64_t k = 0; k < n; k++) acc += (double)a[i * n + k] * b[k * n + j];
    if (fabs(c[i * n + j] - acc) > 1e-3 * (1.0 + fabs(acc))) {
      fprintf(stderr, "sgemm: c[%lld, %lld] = %g, want %g\n", (long long)i, (long long)j,
              c[i * n + j], acc);
      return 1;
    }
  }
  return 0;
}

static int bench_size(graphc_executable_t *exe, int64_t n, int threads) {
  float *a = bench_alloc_f32(n * n, 1.0f), *b = bench_alloc_f32(n * n, 1.0f);
  float *c = bench_alloc_f32(n * n, 0.0f);
  if (!a || !b || !c) {
    fprintf(stderr, "sgemm: out of memory\n");
    return 1;
  }
  int64_t shape[2] = {n, n};
  DLTensor ta = bench_f32_tensor(a, 2, shape), tb = bench_f32_tensor(b, 2, shape);
  DLTensor *inputs[2] = {&ta, &tb};
  const double flop = 2.0 * (double)n * n * n;
  double gc[REPS], bl[REPS], ratio[REPS];
  int bad = 0;
  for (int r = -1; r < REPS && !bad; r++) {
    /* graphc's executable sets OpenBLAS's (process-wide) thread count;
     * set it again so the direct call runs with the same threads. */
    openblas_set_num_threads(threads);
    double t0 = bench_now_ms();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0f, a,
                (int)n, b, (int)n, 0.0f, c, (int)n);
    double tbl = bench_now_ms() - t0;
    DLManagedTensor *out = NULL;
    t0 = bench_now_ms();
    bad = bench_check(graphc_executable_run(exe, inputs, 2, &out, 1), "run");
    double tgc = bench_now_ms() - t0;
    if (bad) break;
    if (r < 0) bad = spot_check(a, b, out->dl_tensor.data, n);
    out->deleter(out);
    if (r < 0) continue;
    gc[r] = flop / (tgc * 1e6);
    bl[r] = flop / (tbl * 1e6);
    ratio[r] = gc[r] / bl[r];
  }
  if (!bad) {
    double g = bench_median(gc, REPS), o = bench_median(bl, REPS), q = bench_median(ratio, REPS);
    double gbest = 0, obest = 0;
    for (int r = 0; r < REPS; r++) {
      gbest = gc[r] > gbest ? gc[r] : gbest;
      obest = bl[r] > obest ? bl[r] : obest;
    }
    printf("sgemm %lld^3, %d threads: graphc %.1f GFLOP/s  OpenBLAS cblas_sgemm %.1f GFLOP/s  "
           "ratio %.3f (median of %d pairs)  target >= 0.95\n",
           (long long)n, threads, g, o, q, REPS);
    printf("  best of %d: graphc %.1f GFLOP/s, OpenBLAS %.1f GFLOP/s\n", REPS, gbest, obest);
    printf("KV sgemm%lld_gflops %.1f\nKV blas%lld_gflops %.1f\nKV sgemm%lld_ratio %.3f\n",
           (long long)n, g, (long long)n, o, (long long)n, q);
    printf("KV sgemm%lld_best_gflops %.1f\nKV blas%lld_best_gflops %.1f\n", (long long)n, gbest,
           (long long)n, obest);
  }
  free(a), free(b), free(c);
  return bad;
}

int main(void) {
  const int threads = bench_threads();
  graphc_context_t *ctx = bench_context(threads);
  if (!ctx) return 1;
  graphc_graph_t *g = NULL;
  graphc_executable_t *exe = NULL;
  if (bench_check(bench_parse(ctx, kMatmulGraph, "mm.gc", &g), "parse")) return 1;
  if (bench_compile_times(g, "sgemm", 5)) return 1;
  if (bench_check(bench_compile(g, NULL, &exe), "compile")) return 1;
  int bad = bench_size(exe, 1024, threads) || bench_size(exe, 2048, threads);
  graphc_executable_release(exe);
  graphc_graph_release(g);
  graphc_context_release(ctx);
  return bad;
}
