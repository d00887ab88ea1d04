/* The LLVM backend's inline math (codegen/cpu/emit_math.c): accuracy in
 * ulp over wide ranges including zeros, infinities, NaN, subnormal and huge
 * arguments; vectorisation of transcendental chains (checked in the
 * optimised IR); and a printed (not asserted) bandwidth comparison of a
 * fused gelu(x*w+b) with copy and triad loops compiled the same way. */
#include <pthread.h>
#include <time.h>

#include "llvm_harness.h"

TestSuite(llvm_math, .init = llvm_setup);

/* ---- inline math: accuracy in ulp over wide ranges ------------------------------------ */

static const kir_unary_op math_ops[] = {KU_EXP, KU_LOG, KU_TANH, KU_SIGMOID, KU_ERF, KU_SIN, KU_COS};
static const char *const math_names[] = {"exp", "log", "tanh", "sigmoid", "erf", "sin", "cos", "pow"};
#define NMATH 7

/* Kernel i: y_i[o] = op_i(x[o]); kernel NMATH: y[o] = pow(x[o], z[o]). */
static kir_program *math_prog(kir_type t) {
  kir_program *p = prog(1);
  graphc_dtype_t dt = t == KIR_F32 ? GRAPHC_F32 : GRAPHC_F64;
  int x = buf(p, dt, 0), z = buf(p, dt, 0), y = buf(p, dt, 0);
  for (int i = 0; i <= NMATH; i++) {
    kir_kernel *k = kern(p, 1, (int[]){0});
    int o = OUTER(k, 0), xv = LOAD(k, t, x, o);
    store(k, 0, NULL, y, o, i < NMATH ? UN(k, t, math_ops[i], xv) : BIN(k, t, KB_POW, xv, LOAD(k, t, z, o)));
  }
  return p;
}

static long double ref_math(int i, long double x, long double y) {
  switch (i) {
    case 0: return expl(x);
    case 1: return logl(x);
    case 2: return tanhl(x);
    case 3: return 1.0L / (1.0L + expl(-x));
    case 4: return erfl(x);
    case 5: return sinl(x);
    case 6: return cosl(x);
    default: return powl(x, y);
  }
}

/* |got - ref| in units of the last place of ref in a format with `mant`
 * bits (24 or 53) and smallest exponent emin; 0 for matching specials. */
static double ulps(double got, long double ref, int mant, int emin) {
  if (isnan(ref)) return isnan(got) ? 0 : INFINITY;
  if (isinf(ref) || isinf(got)) return got == ref ? 0 : INFINITY;
  if (got == ref) return 0;
  int e;
  frexpl(ref, &e);
  if (e - 1 < emin) e = emin + 1;
  return (double)(fabsl(got - ref) / ldexpl(1.0L, e - mant));
}

static double gen_value(bool f32, int i) {
  switch (i % 5) {
    case 0: { /* any bit pattern: huge, tiny, subnormal, inf, NaN */
      uint64_t r = next_rand();
      if (f32) {
        float f;
        uint32_t u = (uint32_t)r;
        memcpy(&f, &u, 4);
        return f;
      }
      double d;
      memcpy(&d, &r, 8);
      return d;
    }
    case 1: return uniform(-12, 12);
    case 2: return ldexp(uniform(-1, 1), -(int)(next_rand() % 40));
    case 3: return uniform(-760, 760);
    default: return uniform(-1.2, 1.2);
  }
}

static void check_math(kir_type t, const double *limits) {
  bool f32 = t == KIR_F32;
  kir_program *p = math_prog(t);
  gc_cpu_jit_module *m = jit(p, NULL);
  static const double specials[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1.0, -1.0, 0.5, 0.55, 1e-45, 1e-310,
                                    FLT_MIN, DBL_MIN, FLT_MAX, DBL_MAX, 88.72283935546875, 89.0, -87.5,
                                    -103.5, 709.7, -745.0, 3.9, 4.0, 5.9, 6.0, 1e8, 1e22, 3.4e38, -3.4e38};
  int nsp = (int)(sizeof specials / sizeof *specials), n = 200000;
  double *xd = malloc(sizeof(double) * (size_t)n), *zd = malloc(sizeof(double) * (size_t)n);
  for (int i = 0; i < n; i++) {
    xd[i] = i < nsp * nsp ? specials[i % nsp] : gen_value(f32, i);
    zd[i] = i < nsp * nsp ? specials[i / nsp] : i % 3 == 0 ? (double)((int)(next_rand() % 13) - 6) : i % 3 == 1 ? uniform(-8, 8) : (double)(next_rand() % 9) / 2 - 2;
    if (f32) xd[i] = (float)xd[i], zd[i] = (float)zd[i];
  }
  void *x = malloc((f32 ? 4 : 8) * (size_t)n), *z = malloc((f32 ? 4 : 8) * (size_t)n), *y = malloc((f32 ? 4 : 8) * (size_t)n);
  for (int i = 0; i < n; i++) {
    if (f32) ((float *)x)[i] = (float)xd[i], ((float *)z)[i] = (float)zd[i];
    else ((double *)x)[i] = xd[i], ((double *)z)[i] = zd[i];
  }
  for (int f = 0; f <= NMATH; f++) {
    void *bufs[3] = {x, z, y};
    run(m, f, 0, n, bufs, (int64_t[]){n});
    double worst = 0, at = 0, atz = 0;
    for (int i = 0; i < n; i++) {
      double got = f32 ? ((float *)y)[i] : ((double *)y)[i];
      long double ref = ref_math(f, xd[i], zd[i]);
      double u = f32 ? ulps(got, ref, 24, -126) : ulps(got, ref, 53, -1022);
      double rounded = f32 ? (float)ref : (double)ref;
      if (isinf(rounded) && !isinf(ref)) u = got == rounded ? 0 : INFINITY; /* overflows the format */
      if (u > worst) worst = u, at = xd[i], atz = zd[i];
    }
    printf("%s %s: max error %.2f ulp (at x=%a, y=%a)\n", math_names[f], f32 ? "f32" : "f64", worst, at, atz);
    cr_assert(worst <= limits[f], "%s %s: %.2f ulp at x=%a y=%a", math_names[f], f32 ? "f32" : "f64", worst, at, atz);
  }
  /* signs of zero and the limits at infinity */
  for (int f = 0; f < NMATH; f++) {
    void *bufs[3] = {x, z, y};
    if (f32) ((float *)x)[0] = -0.0f;
    else ((double *)x)[0] = -0.0;
    run(m, f, 0, 1, bufs, (int64_t[]){1});
    double got = f32 ? ((float *)y)[0] : ((double *)y)[0];
    if (f == 2 || f == 4 || f == 5) cr_assert(got == 0 && signbit(got), "%s(-0) = %g", math_names[f], got);
  }
  free(xd), free(zd), free(x), free(y), free(z);
  drop(p, m);
}

Test(llvm_math, math_f32_within_4_ulp) {
  /* exp log tanh sigmoid erf sin cos pow */
  check_math(KIR_F32, (double[]){4, 4, 4, 4, 4, 4, 4, 4});
}

Test(llvm_math, math_f64_within_a_few_ulp) {
  check_math(KIR_F64, (double[]){4, 4, 4, 4, 4, 4, 4, 4});
}

/* ---- vectorisation and bandwidth ------------------------------------------------------ */

/* y = gelu(x*w + b) elementwise over 4 arrays (16 bytes per element). */
static kir_program *gelu_prog(void) {
  kir_program *p = prog(1);
  int x = buf(p, GRAPHC_F32, 0), w = buf(p, GRAPHC_F32, 0), b = buf(p, GRAPHC_F32, 0), y = buf(p, GRAPHC_F32, 0);
  kir_kernel *k = kern(p, 1, (int[]){0});
  int o = OUTER(k, 0);
  int v = BIN(k, KIR_F32, KB_ADD, BIN(k, KIR_F32, KB_MUL, LOAD(k, KIR_F32, x, o), LOAD(k, KIR_F32, w, o)), LOAD(k, KIR_F32, b, o));
  int e = UN(k, KIR_F32, KU_ERF, BIN(k, KIR_F32, KB_MUL, v, CF(k, KIR_F32, 0.7071067811865476)));
  int g = BIN(k, KIR_F32, KB_MUL, BIN(k, KIR_F32, KB_MUL, CF(k, KIR_F32, 0.5), v), BIN(k, KIR_F32, KB_ADD, CF(k, KIR_F32, 1.0), e));
  store(k, 0, NULL, y, o, g);
  /* kernel 1: copy y = x; kernel 2: triad y = x + 3 w */
  k = kern(p, 1, (int[]){0});
  o = OUTER(k, 0);
  store(k, 0, NULL, y, o, LOAD(k, KIR_F32, x, o));
  k = kern(p, 1, (int[]){0});
  o = OUTER(k, 0);
  store(k, 0, NULL, y, o, BIN(k, KIR_F32, KB_ADD, LOAD(k, KIR_F32, x, o), BIN(k, KIR_F32, KB_MUL, CF(k, KIR_F32, 3.0), LOAD(k, KIR_F32, w, o))));
  return p;
}

static bool has_vectors(const char *ir) { return strstr(ir, "<16 x float>") || strstr(ir, "<8 x float>"); }

Test(llvm_math, exp_chain_gelu_and_softmax_vectorise) {
  gc_cpu_options o;
  gc_cpu_options_init(&o);
  o.dump_llvm_ir = true;
  kir_program *p = prog(1); /* y = exp(x) * tanh(x) + sigmoid(x) */
  int x = buf(p, GRAPHC_F32, 0), y = buf(p, GRAPHC_F32, 0);
  kir_kernel *k = kern(p, 1, (int[]){0});
  int xv = LOAD(k, KIR_F32, x, OUTER(k, 0));
  int v = BIN(k, KIR_F32, KB_ADD, BIN(k, KIR_F32, KB_MUL, UN(k, KIR_F32, KU_EXP, xv), UN(k, KIR_F32, KU_TANH, xv)),
              UN(k, KIR_F32, KU_SIGMOID, xv));
  store(k, 0, NULL, y, OUTER(k, 0), v);
  kir_program *progs[3] = {p, gelu_prog(), softmax_prog()};
  const char *names[3] = {"exp chain", "gelu", "softmax"};
  for (int i = 0; i < 3; i++) {
    gc_cpu_jit_module *m = jit(progs[i], &o);
    const char *ir = gc_cpu_jit_llvm_ir(m);
    cr_assert_not_null(ir);
    cr_assert(has_vectors(ir), "%s was not vectorised:\n%s", names[i], ir);
    for (const char *c = strstr(ir, "call "); c; c = strstr(c + 1, "call ")) { /* intrinsics only */
      const char *at = strchr(c, '@');
      cr_assert(at && strncmp(at, "@llvm.", 6) == 0, "%s calls a function: %.80s", names[i], c);
    }
    cr_assert_null(strstr(ir, "@gc."), "%s: a math helper was not inlined", names[i]);
    drop(progs[i], m);
  }
  /* f64 sin: huge arguments branch to an exact path, called through a
   * masked vector variant so the loop still vectorises */
  p = prog(1);
  x = buf(p, GRAPHC_F64, 0), y = buf(p, GRAPHC_F64, 0);
  k = kern(p, 1, (int[]){0});
  store(k, 0, NULL, y, OUTER(k, 0), UN(k, KIR_F64, KU_SIN, LOAD(k, KIR_F64, x, OUTER(k, 0))));
  gc_cpu_jit_module *ms = jit(p, &o);
  const char *ir = gc_cpu_jit_llvm_ir(ms);
  cr_assert(strstr(ir, "<8 x double>") && strstr(ir, "@gc.sinhuge.f64.m8("), "f64 sin:\n%s", ir);
  drop(p, ms);
  /* without the option there is no text */
  p = gelu_prog();
  gc_cpu_jit_module *m = jit(p, NULL);
  cr_assert_null(gc_cpu_jit_llvm_ir(m));
  drop(p, m);
}

typedef struct bw_task { gc_kernel_fn fn; int64_t begin, end; void **bufs; int64_t *sizes; } bw_task;
static void *bw_thread(void *arg) {
  bw_task *t = arg;
  gc_env env = {.version = GC_ENV_VERSION, .size = sizeof env};
  t->fn(t->begin, t->end, (void *const *)t->bufs, t->sizes, &env);
  return NULL;
}
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
/* One run of kernel fn over [0, n) split over `threads` threads. */
static double seconds(gc_kernel_fn fn, int64_t n, void **bufs, int threads) {
  pthread_t th[2];
  bw_task t[2];
  int64_t sizes[1] = {n};
  double t0 = now();
  for (int i = 0; i < threads; i++) {
    t[i] = (bw_task){fn, n * i / threads, n * (i + 1) / threads, bufs, sizes};
    pthread_create(&th[i], NULL, bw_thread, &t[i]);
  }
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  return now() - t0;
}
static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

Test(llvm_math, gelu_bandwidth_beside_copy_and_triad, .timeout = 120) {
  int64_t n = (int64_t)1 << 24;
  float *x = malloc(4 * (size_t)n), *w = malloc(4 * (size_t)n), *b = malloc(4 * (size_t)n), *y = malloc(4 * (size_t)n);
  for (int64_t i = 0; i < n; i++) x[i] = (float)uniform(-3, 3), w[i] = 1.5f, b[i] = 0.25f, y[i] = 0;
  kir_program *p = gelu_prog();
  gc_cpu_jit_module *m = jit(p, NULL);
  void *bufs[4] = {x, w, b, y};
  /* interleaved, medians: memory bandwidth drifts (../shared/BASELINES.md) */
  enum { REPS = 9 };
  for (int threads = 1; threads <= 2; threads++) {
    double tg[REPS], tc[REPS], tt[REPS], ratio[REPS];
    for (int r = 0; r < REPS; r++) {
      tg[r] = seconds(gc_cpu_jit_kernel(m, 0), n, bufs, threads);
      tc[r] = seconds(gc_cpu_jit_kernel(m, 1), n, bufs, threads);
      tt[r] = seconds(gc_cpu_jit_kernel(m, 2), n, bufs, threads);
      ratio[r] = (16.0 / tg[r]) / (12.0 / tt[r]);
    }
    double g = median(tg, REPS), c = median(tc, REPS), t = median(tt, REPS);
    printf("%d thread%s, 16M f32: gelu(x*w+b) %.2f ms = %.1f GB/s (16 B/elem), %.2fx triad; copy %.1f GB/s "
           "(8 B/elem); triad %.1f GB/s (12 B/elem)\n", threads, threads > 1 ? "s" : "", g * 1e3,
           16.0 * (double)n / g / 1e9, median(ratio, REPS), 8.0 * (double)n / c / 1e9, 12.0 * (double)n / t / 1e9);
  }
  run(m, 0, 0, n, bufs, (int64_t[]){n});
  for (int64_t i = 0; i < n; i += 4099) {
    double v = (double)x[i] * 1.5 + 0.25, ref = 0.5 * v * (1 + erf(v * 0.7071067811865476));
    cr_assert(fabs(y[i] - ref) <= 1e-6 * (1 + fabs(ref)), "gelu at %lld: %g vs %g", (long long)i, y[i], ref);
  }
  free(x), free(w), free(b), free(y);
  drop(p, m);
}
