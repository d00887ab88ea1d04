/* Shared helpers of the CPU benchmarks (bench/ programs): clocks, medians,
 * DLPack tensors, compiling .gc text, and compile-time measurement.
 *
 * Every benchmark prints human-readable lines and, for bench/run.sh's
 * summary table, "KV <key> <value>" lines. Nothing here asserts a time. */
#ifndef GRAPHC_BENCH_COMMON_H
#define GRAPHC_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "graphc/compile.h"
#include "graphc/graphc.h"
#include "graphc/text.h"

static inline double bench_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts a copy). */
static inline double bench_median(const double *v, int n) {
  double tmp[256];
  if (n <= 0 || n > 256) return 0.0;
  memcpy(tmp, v, sizeof(double) * (size_t)n);
  qsort(tmp, (size_t)n, sizeof(double), bench_cmp_double);
  return n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
}

static inline double bench_min(const double *v, int n) {
  double m = v[0];
  for (int i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
  return m;
}

/* Reports a failed status and frees it; returns 1 on failure. */
static inline int bench_check(graphc_status_t st, const char *what) {
  if (!st) return 0;
  fprintf(stderr, "bench: %s: %s\n", what, graphc_status_message(st));
  graphc_status_free(st);
  return 1;
}

static inline DLTensor bench_f32_tensor(float *data, int ndim, int64_t *shape) {
  DLTensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.device.device_type = kDLCPU;
  t.ndim = ndim;
  t.dtype.code = kDLFloat;
  t.dtype.bits = 32;
  t.dtype.lanes = 1;
  t.shape = shape;
  return t;
}

/* 64-byte aligned floats filled with a deterministic pattern in
 * [-scale, scale], touched so no page fault lands in a timed region. */
static inline float *bench_alloc_f32(int64_t n, float scale) {
  void *p = NULL;
  if (posix_memalign(&p, 64, sizeof(float) * (size_t)(n > 0 ? n : 1))) return NULL;
  float *f = p;
  for (int64_t i = 0; i < n; i++) f[i] = scale * (float)((i * 7919) % 193 - 96) / 96.0f;
  return f;
}

static inline graphc_status_t bench_parse(graphc_context_t *ctx, const char *text,
                                          const char *name, graphc_graph_t **out) {
  return graphc_graph_parse(ctx, text, strlen(text), name, out);
}

/* Compiles `graph` with the cache off (cold) or on in `cache_dir`. */
static inline graphc_status_t bench_compile(const graphc_graph_t *graph, const char *cache_dir,
                                            graphc_executable_t **out) {
  graphc_compile_options_t o;
  graphc_compile_options_init(&o);
  o.cache_enable = cache_dir != NULL;
  o.cache_dir = cache_dir;
  return graphc_compile(graph, &o, out);
}

/* Compile time of `graph` in ms: median of `reps` cold compiles (cache
 * disabled) and of `reps` compiles that hit a fresh on-disk cache (a
 * temporary directory, filled by one compile first). Prints KV lines
 * <key>_compile_cold_ms and <key>_compile_warm_ms. Returns 1 on failure. */
static inline int bench_compile_times(const graphc_graph_t *graph, const char *key, int reps) {
  double cold[16], warm[16];
  if (reps > 16) reps = 16;
  for (int r = 0; r < reps; r++) {
    graphc_executable_t *exe = NULL;
    double t0 = bench_now_ms();
    if (bench_check(bench_compile(graph, NULL, &exe), "cold compile")) return 1;
    cold[r] = bench_now_ms() - t0;
    graphc_executable_release(exe);
  }
  char dir[] = "/tmp/graphc-bench-cache-XXXXXX";
  if (!mkdtemp(dir)) {
    fprintf(stderr, "bench: mkdtemp failed\n");
    return 1;
  }
  graphc_executable_t *exe = NULL;
  if (bench_check(bench_compile(graph, dir, &exe), "filling the cache")) return 1;
  graphc_executable_release(exe);
  int hits = 0;
  for (int r = 0; r < reps; r++) {
    double t0 = bench_now_ms();
    if (bench_check(bench_compile(graph, dir, &exe), "cached compile")) return 1;
    warm[r] = bench_now_ms() - t0;
    hits += graphc_executable_cache_state(exe) == GRAPHC_CACHE_HIT;
    graphc_executable_release(exe);
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", dir);
  double c = bench_median(cold, reps), w = bench_median(warm, reps);
  printf("  compile %-10s cold (cache off) %8.1f ms   warm (cache hit %d/%d) %7.2f ms   "
         "(medians of %d)\n", key, c, hits, reps, w, reps);
  printf("KV %s_compile_cold_ms %.2f\nKV %s_compile_warm_ms %.3f\n", key, c, key, w);
  if (hits != reps) printf("KV %s_compile_warm_note cache-not-hit\n", key);
  return 0;
}

/* A context with `threads` workers. */
static inline graphc_context_t *bench_context(int threads) {
  graphc_context_options_t co;
  graphc_context_options_init(&co);
  co.num_threads = threads;
  graphc_context_t *ctx = NULL;
  if (bench_check(graphc_context_create(&co, &ctx), "context")) return NULL;
  return ctx;
}

/* Benchmark thread count: $GRAPHC_BENCH_THREADS, default 2. */
static inline int bench_threads(void) {
  const char *s = getenv("GRAPHC_BENCH_THREADS");
  int n = s ? atoi(s) : 2;
  return n > 0 ? n : 2;
}

#endif /* GRAPHC_BENCH_COMMON_H */
