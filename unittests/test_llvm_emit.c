/* The LLVM CPU backend (codegen/cpu): kernel IR programs built by hand,
 * JIT-compiled and compared with plain C evaluations of the same semantics:
 * broadcasting loads, reductions, multi-stage kernels, every operator and
 * cast for every compute type, every storage dtype (f16/bf16 rounding
 * against the interpreter's), AOT objects, and LLVM failures as statuses.
 * The inline math and vectorisation are in test_llvm_math.c. */
#include <pthread.h>

#include "llvm_harness.h"

TestSuite(llvm_emit, .init = llvm_setup);

/* ---- elementwise with broadcasting, sizes 0, 1, 7, 1023 ------------------------- */

/* y[r, c] = x[r, c] * w[c] + b[r] over outer [rows, cols]. */
static kir_program *axpb(void) {
  kir_program *p = prog(3); /* rows, cols, rows*cols */
  int x = buf(p, GRAPHC_F32, 2), w = buf(p, GRAPHC_F32, 1), b = buf(p, GRAPHC_F32, 0), y = buf(p, GRAPHC_F32, 2);
  kir_kernel *k = kern(p, 2, (int[]){0, 1});
  int r = OUTER(k, 0), c = OUTER(k, 1);
  int idx = BIN(k, KIR_I64, KB_ADD, BIN(k, KIR_I64, KB_MUL, r, SIZE(k, 1)), c);
  int v = BIN(k, KIR_F32, KB_MUL, LOAD(k, KIR_F32, x, idx), LOAD(k, KIR_F32, w, c));
  store(k, 0, NULL, y, idx, BIN(k, KIR_F32, KB_ADD, v, LOAD(k, KIR_F32, b, r)));
  return p;
}

Test(llvm_emit, elementwise_broadcast_all_sizes) {
  kir_program *p = axpb();
  gc_cpu_jit_module *m = jit(p, NULL);
  int64_t shapes[][2] = {{1, 1}, {3, 7}, {2, 1023}, {0, 5}, {5, 0}, {7, 1}, {1, 1023}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int64_t R = shapes[s][0], C = shapes[s][1], n = R * C, sizes[3] = {R, C, n};
    float *x = malloc(sizeof(float) * (size_t)(n + 1)), *w = malloc(sizeof(float) * (size_t)(C + 1));
    float *b = malloc(sizeof(float) * (size_t)(R + 1)), *y = malloc(sizeof(float) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++) x[i] = (float)uniform(-4, 4), y[i] = -1;
    for (int64_t i = 0; i < C; i++) w[i] = (float)uniform(-2, 2);
    for (int64_t i = 0; i < R; i++) b[i] = (float)uniform(-1, 1);
    y[n] = 12345; /* must not be written */
    void *bufs[4] = {x, w, b, y};
    /* the runtime's chunks start and end in the middle of rows */
    for (int64_t lo = 0; lo < n; lo += 5) run(m, 0, lo, lo + 5 < n ? lo + 5 : n, bufs, sizes);
    run(m, 0, 3, 3, bufs, sizes); /* empty range */
    for (int64_t i = 0; i < n; i++)
      cr_assert_eq(y[i], x[i] * w[i % C] + b[i / C], "%lldx%lld at %lld", (long long)R, (long long)C, (long long)i);
    cr_assert_eq(y[n], 12345);
    free(x), free(w), free(b), free(y);
  }
  drop(p, m);
}

/* y[flat] = sum of o_d * 100^(rank-1-d): every outer coordinate, for
 * chunks that start and end anywhere (rows are stepped, not divided). */
Test(llvm_emit, outer_coordinates_of_every_point) {
  int64_t shapes[][4] = {{2, 3, 5, 1}, {3, 1, 4, 1}, {1, 1, 1, 1}, {4, 2, 1, 3}, {2, 2, 2, 2}};
  int ranks[] = {3, 3, 3, 4, 4};
  for (int s = 0; s < 5; s++) {
    int r = ranks[s];
    kir_program *p = prog(r);
    int y = buf(p, GRAPHC_I64, 0);
    kir_kernel *k = kern(p, r, (int[]){0, 1, 2, 3});
    int flat = CI(k, KIR_I64, 0), code = CI(k, KIR_I64, 0);
    for (int d = 0; d < r; d++) {
      flat = BIN(k, KIR_I64, KB_ADD, BIN(k, KIR_I64, KB_MUL, flat, SIZE(k, d)), OUTER(k, d));
      code = BIN(k, KIR_I64, KB_ADD, BIN(k, KIR_I64, KB_MUL, code, CI(k, KIR_I64, 100)), OUTER(k, d));
    }
    store(k, 0, NULL, y, flat, code);
    gc_cpu_jit_module *m = jit(p, NULL);
    int64_t n = 1, out[64];
    for (int d = 0; d < r; d++) n *= shapes[s][d];
    for (int chunk = 1; chunk <= 7; chunk += 3) {
      memset(out, 0xff, sizeof out);
      for (int64_t lo = 0; lo < n; lo += chunk) run(m, 0, lo, lo + chunk < n ? lo + chunk : n, (void *[]){out}, shapes[s]);
      for (int64_t i = 0; i < n; i++) {
        int64_t want = 0, rem = i, scale = 1;
        for (int d = r - 1; d >= 0; d--, scale *= 100) want += rem % shapes[s][d] * scale, rem /= shapes[s][d];
        cr_assert_eq(out[i], want, "shape %d chunk %d point %lld: %lld", s, chunk, (long long)i, (long long)out[i]);
      }
    }
    drop(p, m);
  }
}

/* A chain of 100000 operations: emission does not recurse. */
Test(llvm_emit, very_deep_expression_chains) {
  kir_program *p = prog(1);
  int x = buf(p, GRAPHC_I64, 0);
  kir_kernel *k = kern(p, 1, (int[]){0});
  int v = LOAD(k, KIR_I64, x, OUTER(k, 0)), one = CI(k, KIR_I64, 1);
  for (int i = 0; i < 100000; i++) v = BIN(k, KIR_I64, i % 2 ? KB_ADD : KB_SUB, v, one);
  store(k, 0, NULL, x, OUTER(k, 0), BIN(k, KIR_I64, KB_ADD, v, CI(k, KIR_I64, 5)));
  gc_cpu_jit_module *m = jit(p, NULL);
  int64_t xs[3] = {1, 2, 3};
  run(m, 0, 0, 3, (void *[]){xs}, (int64_t[]){3});
  cr_assert(xs[0] == 6 && xs[1] == 7 && xs[2] == 8);
  drop(p, m);
}

/* ---- reductions ------------------------------------------------------------------ */

Test(llvm_emit, row_reductions_with_nan_and_empty_rows) {
  kir_combine combs[] = {KIR_SUM, KIR_MAX, KIR_MIN};
  kir_type accs[] = {KIR_F32, KIR_F64};
  for (int ci = 0; ci < 3; ci++)
    for (int ai = 0; ai < 2; ai++) {
      kir_program *p = prog(2); /* rows, cols */
      int x = buf(p, GRAPHC_F32, 0), y = buf(p, accs[ai] == KIR_F32 ? GRAPHC_F32 : GRAPHC_F64, 0);
      kir_kernel *k = kern(p, 1, (int[]){0});
      int idx = BIN(k, KIR_I64, KB_ADD, BIN(k, KIR_I64, KB_MUL, OUTER(k, 0), SIZE(k, 1)), INNER(k, 0));
      reduce(k, 1, (int[]){1}, combs[ci], accs[ai], LOAD(k, KIR_F32, x, idx));
      store(k, 0, NULL, y, OUTER(k, 0), ACC(k, accs[ai], 0));
      gc_cpu_jit_module *m = jit(p, NULL);
      int64_t cols_list[] = {0, 1, 7, 1023};
      for (int t = 0; t < 4; t++) {
        int64_t R = 4, C = cols_list[t], sizes[2] = {R, C};
        float *xs = malloc(sizeof(float) * (size_t)(R * C + 1));
        double out[4] = {0}, *od = out;
        float outf[4];
        for (int64_t i = 0; i < R * C; i++) xs[i] = (float)uniform(-100, 100);
        if (C > 1) xs[1 * C + C / 2] = NAN; /* row 1 has a NaN */
        void *bufs[2] = {xs, accs[ai] == KIR_F32 ? (void *)outf : (void *)od};
        run(m, 0, 0, R, bufs, sizes);
        for (int64_t r = 0; r < R; r++) {
          double ref = combs[ci] == KIR_SUM ? 0 : combs[ci] == KIR_MAX ? -INFINITY : INFINITY;
          bool nan = false;
          for (int64_t c = 0; c < C; c++) {
            double v = xs[r * C + c];
            nan |= isnan(v);
            ref = combs[ci] == KIR_SUM ? ref + v : combs[ci] == KIR_MAX ? fmax(ref, v) : fmin(ref, v);
          }
          double got = accs[ai] == KIR_F32 ? outf[r] : od[r];
          if (nan) cr_assert(isnan(got), "comb %d row %lld: %g", ci, (long long)r, got);
          else cr_assert(fabs(got - ref) <= 1e-4 * (1 + fabs(ref)) || got == ref, "comb %d acc %d cols %lld row %lld: %g vs %g",
                         ci, ai, (long long)C, (long long)r, got, ref);
        }
        free(xs);
      }
      drop(p, m);
    }
}

/* Integer max and a sum over two inner dims, and a kernel with no outer dims. */
Test(llvm_emit, reductions_over_two_inner_dims_and_scalar_kernels) {
  kir_program *p = prog(3); /* a, b, a*b */
  int x = buf(p, GRAPHC_I32, 2), y = buf(p, GRAPHC_I64, 0);
  kir_kernel *k = kern(p, 0, NULL);
  int idx = BIN(k, KIR_I64, KB_ADD, BIN(k, KIR_I64, KB_MUL, INNER(k, 0), SIZE(k, 1)), INNER(k, 1));
  reduce(k, 2, (int[]){0, 1}, KIR_MAX, KIR_I64, LOAD(k, KIR_I64, x, idx));
  reduce(k, 2, (int[]){0, 1}, KIR_SUM, KIR_I64, LOAD(k, KIR_I64, x, idx));
  kir_stage *s = stage(k, KIR_STORE, 0, NULL);
  s->nstores = 2;
  s->stores[0] = (kir_store){y, CI(k, KIR_I64, 0), ACC(k, KIR_I64, 0)};
  s->stores[1] = (kir_store){y, CI(k, KIR_I64, 1), ACC(k, KIR_I64, 1)};
  gc_cpu_jit_module *m = jit(p, NULL);
  int32_t xs[6 * 37];
  int64_t mx = INT64_MIN, sum = 0, out[2];
  for (int i = 0; i < 6 * 37; i++) xs[i] = (int32_t)(next_rand() % 2000001) - 1000000, mx = xs[i] > mx ? xs[i] : mx, sum += xs[i];
  void *bufs[2] = {xs, out};
  run(m, 0, 0, 1, bufs, (int64_t[]){6, 37, 6 * 37});
  cr_assert_eq(out[0], mx);
  cr_assert_eq(out[1], sum);
  run(m, 0, 0, 1, bufs, (int64_t[]){0, 37, 0}); /* empty: the initial values */
  cr_assert_eq(out[0], INT64_MIN);
  cr_assert_eq(out[1], 0);
  drop(p, m);
}

/* ---- softmax: three stages in one kernel --------------------------------------------- */

Test(llvm_emit, softmax_three_stages) {
  kir_program *p = softmax_prog();
  gc_cpu_jit_module *m = jit(p, NULL);
  int64_t R = 5, C = 1023;
  float *x = malloc(sizeof(float) * (size_t)(R * C)), *y = malloc(sizeof(float) * (size_t)(R * C));
  for (int64_t i = 0; i < R * C; i++) x[i] = (float)uniform(-30, 30);
  x[2 * C + 3] = NAN; /* row 2 is all NaN */
  void *bufs[2] = {x, y};
  run(m, 0, 0, R, bufs, (int64_t[]){R, C});
  for (int64_t r = 0; r < R; r++) {
    double mx = -INFINITY, s = 0;
    for (int64_t c = 0; c < C; c++) mx = fmax(mx, x[r * C + c]);
    for (int64_t c = 0; c < C; c++) s += exp((float)(x[r * C + c] - mx)); /* f32 difference */
    for (int64_t c = 0; c < C; c++) {
      double ref = exp((float)(x[r * C + c] - mx)) / s, got = y[r * C + c];
      if (r == 2) cr_assert(isnan(got));
      else cr_assert(fabs(got - ref) <= 1e-6 * ref + 1e-30, "row %lld col %lld: %g vs %g", (long long)r, (long long)c, got, ref);
    }
  }
  free(x), free(y);
  drop(p, m);
}

/* ---- every operator for every compute type ---------------------------------------- */

static graphc_dtype_t natural_dt(kir_type t) {
  return t == KIR_F32 ? GRAPHC_F32 : t == KIR_F64 ? GRAPHC_F64 : t == KIR_I64 ? GRAPHC_I64 : GRAPHC_BOOL;
}
/* A value of type t held in a double (bool 0/1, i64 exact only when small:
 * ints go through int64_t arrays, see get/put). */
typedef union val { double f; int64_t i; } val;
static void put(void *a, kir_type t, int i, val v) {
  if (t == KIR_F32) ((float *)a)[i] = (float)v.f;
  else if (t == KIR_F64) ((double *)a)[i] = v.f;
  else if (t == KIR_I64) ((int64_t *)a)[i] = v.i;
  else ((uint8_t *)a)[i] = (uint8_t)(v.i != 0);
}
static val get(const void *a, kir_type t, int i) {
  val v;
  if (t == KIR_F32) v.f = ((const float *)a)[i];
  else if (t == KIR_F64) v.f = ((const double *)a)[i];
  else v.i = t == KIR_I64 ? ((const int64_t *)a)[i] : ((const uint8_t *)a)[i];
  return v;
}

/* Kernel per entry: y = kind/op over loads of a, b, c (types in_t; a is
 * bool for a select), y of type out_t. */
static kir_program *ops_prog(kir_expr_kind kind, const int *ops, int nops, kir_type in_t, kir_type out_t) {
  kir_program *p = prog(1);
  int a = buf(p, natural_dt(kind == KX_SELECT ? KIR_BOOL : in_t), 0), b = buf(p, natural_dt(in_t), 0);
  int c = buf(p, natural_dt(in_t), 0), y = buf(p, natural_dt(out_t), 0);
  for (int i = 0; i < nops; i++) {
    kir_kernel *k = kern(p, 1, (int[]){0});
    int o = OUTER(k, 0), av = LOAD(k, kind == KX_SELECT ? KIR_BOOL : in_t, a, o), bv = LOAD(k, in_t, b, o);
    int v = X(k, kind, out_t, ops[i], av, bv, LOAD(k, in_t, c, o));
    store(k, 0, NULL, y, o, v);
  }
  return p;
}

static const double fvals[] = {0.0, -0.0, 1.0, -1.0, 2.5, -3.75, 1e30, -1e-30, INFINITY, -INFINITY, NAN, 7.0, 0.5};
static const int64_t ivals[] = {0, 1, -1, 2, -2, 7, -7, 63, 64, 65, 1000003, INT64_MIN, INT64_MAX, -1000003};
#define NF ((int)(sizeof fvals / sizeof *fvals))
#define NI ((int)(sizeof ivals / sizeof *ivals))

static int64_t py_floordiv(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return (int64_t)(0 - (uint64_t)a);
  int64_t q = a / b;
  return (a % b != 0 && ((a % b < 0) != (b < 0))) ? q - 1 : q;
}
static int64_t py_mod(int64_t a, int64_t b) {
  if (b == 0 || b == -1) return 0;
  int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
static int64_t ipow_ref(int64_t b, int64_t e) {
  if (e < 0) return b == 1 ? 1 : b == -1 ? (e & 1 ? -1 : 1) : 0;
  uint64_t r = 1, x = (uint64_t)b;
  for (; e; e >>= 1, x *= x)
    if (e & 1) r *= x;
  return (int64_t)r;
}
static val ref_binary(int op, kir_type t, val a, val b) {
  val r = {0};
  if (t == KIR_F32 || t == KIR_F64) {
    double x = a.f, y = b.f;
    bool s = t == KIR_F32;
    switch (op) {
      case KB_ADD: r.f = s ? (double)((float)x + (float)y) : x + y; break;
      case KB_SUB: r.f = s ? (double)((float)x - (float)y) : x - y; break;
      case KB_MUL: r.f = s ? (double)((float)x * (float)y) : x * y; break;
      case KB_DIV: r.f = s ? (double)((float)x / (float)y) : x / y; break;
      case KB_POW: r.f = s ? (double)(float)pow(x, y) : (double)powl(x, y); break;
      case KB_MAX: r.f = isnan(x) || isnan(y) ? NAN : x > y ? x : y; break;
      case KB_MIN: r.f = isnan(x) || isnan(y) ? NAN : x < y ? x : y; break;
    }
    return r;
  }
  uint64_t x = (uint64_t)a.i, y = (uint64_t)b.i;
  bool bl = t == KIR_BOOL;
  switch (op) {
    case KB_ADD: r.i = bl ? (a.i | b.i) : (int64_t)(x + y); break;
    case KB_SUB: r.i = (int64_t)(x - y); break;
    case KB_MUL: r.i = bl ? (a.i & b.i) : (int64_t)(x * y); break;
    case KB_DIV: r.i = b.i == 0 ? 0 : b.i == -1 ? (int64_t)(0 - x) : a.i / b.i; break;
    case KB_POW: r.i = ipow_ref(a.i, b.i); break;
    case KB_MAX: r.i = a.i > b.i ? a.i : b.i; break;
    case KB_MIN: r.i = a.i < b.i ? a.i : b.i; break;
    case KB_AND: r.i = a.i & b.i; break;
    case KB_OR: r.i = a.i | b.i; break;
    case KB_XOR: r.i = a.i ^ b.i; break;
    case KB_FLOORDIV: r.i = py_floordiv(a.i, b.i); break;
    case KB_MOD: r.i = py_mod(a.i, b.i); break;
    case KB_SHL: r.i = (int64_t)(x << (y & 63)); break;
    case KB_SHR: r.i = (int64_t)(x >> (y & 63)); break;
  }
  return r;
}
static bool same(kir_type t, val a, val b) {
  if (t == KIR_F32 || t == KIR_F64) return (isnan(a.f) && isnan(b.f)) || a.f == b.f;
  return a.i == b.i;
}
static int fill_pairs(kir_type t, void *a, void *b) {
  int n = 0, nv = t == KIR_BOOL ? 2 : (t == KIR_I64 ? NI : NF);
  for (int i = 0; i < nv; i++)
    for (int j = 0; j < nv; j++, n++) {
      val x, y;
      if (t == KIR_F32 || t == KIR_F64) x.f = fvals[i], y.f = fvals[j];
      else if (t == KIR_I64) x.i = ivals[i], y.i = ivals[j];
      else x.i = i, y.i = j;
      put(a, t, n, x), put(b, t, n, y);
    }
  return n;
}

Test(llvm_emit, binary_ops_every_type) {
  static const int fops[] = {KB_ADD, KB_SUB, KB_MUL, KB_DIV, KB_POW, KB_MAX, KB_MIN};
  static const int iops[] = {KB_ADD, KB_SUB, KB_MUL, KB_DIV, KB_POW, KB_MAX, KB_MIN,
                             KB_AND, KB_OR, KB_XOR, KB_FLOORDIV, KB_MOD, KB_SHL, KB_SHR};
  static const int bops[] = {KB_ADD, KB_MUL, KB_MAX, KB_MIN, KB_AND, KB_OR, KB_XOR};
  kir_type types[] = {KIR_F32, KIR_F64, KIR_I64, KIR_BOOL};
  for (int ti = 0; ti < 4; ti++) {
    kir_type t = types[ti];
    const int *ops = t == KIR_I64 ? iops : t == KIR_BOOL ? bops : fops;
    int nops = t == KIR_I64 ? 14 : 7;
    kir_program *p = ops_prog(KX_BINARY, ops, nops, t, t);
    gc_cpu_jit_module *m = jit(p, NULL);
    int64_t a[NI * NI], b[NI * NI], c[NI * NI], y[NI * NI];
    int n = fill_pairs(t, a, b);
    for (int o = 0; o < nops; o++) {
      void *bufs[4] = {a, b, c, y};
      run(m, o, 0, n, bufs, (int64_t[]){n});
      for (int i = 0; i < n; i++) {
        val want = ref_binary(ops[o], t, get(a, t, i), get(b, t, i)), got = get(y, t, i);
        bool ok = same(t, want, got);
        if (ops[o] == KB_POW && !ok && (t == KIR_F32 || t == KIR_F64)) ok = fabs(got.f - want.f) <= 4e-7 * fabs(want.f);
        cr_assert(ok, "type %s op %d element %d: got %g/%lld want %g/%lld", (int)t == 0 ? "f32" : (int)t == 1 ? "f64" : (int)t == 2 ? "i64" : "bool", ops[o], i,
                  got.f, (long long)got.i, want.f, (long long)want.i);
      }
    }
    drop(p, m);
  }
}

Test(llvm_emit, compare_select_unary_every_type) {
  kir_type types[] = {KIR_F32, KIR_F64, KIR_I64, KIR_BOOL};
  for (int ti = 0; ti < 4; ti++) {
    kir_type t = types[ti];
    bool fl = t == KIR_F32 || t == KIR_F64;
    int64_t a[NI * NI], b[NI * NI], c[NI * NI], y[NI * NI];
    int n = fill_pairs(t, a, b);
    /* comparisons, NaN unordered (ne is true) */
    kir_program *p = ops_prog(KX_CMP, (int[]){KC_EQ, KC_NE, KC_LT, KC_LE, KC_GT, KC_GE}, 6, t, KIR_BOOL);
    gc_cpu_jit_module *m = jit(p, NULL);
    for (int o = 0; o < 6; o++) {
      run(m, o, 0, n, (void *[]){a, b, c, y}, (int64_t[]){n});
      for (int i = 0; i < n; i++) {
        val x = get(a, t, i), z = get(b, t, i);
        bool r[6];
        if (fl) r[0] = x.f == z.f, r[1] = x.f != z.f, r[2] = x.f < z.f, r[3] = x.f <= z.f, r[4] = x.f > z.f, r[5] = x.f >= z.f;
        else r[0] = x.i == z.i, r[1] = x.i != z.i, r[2] = x.i < z.i, r[3] = x.i <= z.i, r[4] = x.i > z.i, r[5] = x.i >= z.i;
        cr_assert_eq(((uint8_t *)y)[i], r[o], "cmp %d type %d element %d", o, t, i);
      }
    }
    drop(p, m);
    /* select: c ? a : b with the condition from a bool buffer */
    uint8_t cond[NI * NI];
    for (int i = 0; i < n; i++) cond[i] = (uint8_t)(i % 3 == 0);
    p = ops_prog(KX_SELECT, (int[]){0}, 1, t, t);
    m = jit(p, NULL);
    run(m, 0, 0, n, (void *[]){cond, a, b, y}, (int64_t[]){n});
    for (int i = 0; i < n; i++) cr_assert(same(t, get(y, t, i), get(cond[i] ? a : b, t, i)), "select type %d at %d", t, i);
    drop(p, m);
    /* unary operators that are not transcendental */
    int uops[6], nu = 0;
    if (t != KIR_BOOL) uops[nu++] = KU_NEG;
    uops[nu++] = KU_ABS, uops[nu++] = KU_FLOOR;
    if (fl) uops[nu++] = KU_SQRT, uops[nu++] = KU_RSQRT;
    else uops[nu++] = KU_NOT;
    p = ops_prog(KX_UNARY, uops, nu, t, t);
    m = jit(p, NULL);
    for (int o = 0; o < nu; o++) {
      run(m, o, 0, n, (void *[]){a, b, c, y}, (int64_t[]){n});
      for (int i = 0; i < n; i++) {
        val x = get(a, t, i), want;
        bool s = t == KIR_F32;
        int64_t xi = x.i;
        double xf = x.f;
        switch (uops[o]) {
          case KU_NEG: if (fl) want.f = -xf; else want.i = (int64_t)(0 - (uint64_t)xi); break;
          case KU_ABS: if (fl) want.f = fabs(xf); else want.i = xi == INT64_MIN || xi >= 0 ? xi : -xi; break;
          case KU_FLOOR: if (fl) want.f = floor(xf); else want.i = xi; break;
          case KU_SQRT: want.f = s ? (double)sqrtf((float)xf) : sqrt(xf); break;
          case KU_RSQRT: want.f = s ? (double)(1.0f / sqrtf((float)xf)) : 1.0 / sqrt(xf); break;
          default: want.i = t == KIR_BOOL ? !xi : ~xi; break;
        }
        cr_assert(same(t, get(y, t, i), want), "unary %d type %d element %d", uops[o], t, i);
      }
    }
    drop(p, m);
  }
}

/* Casts between the four compute types; then casts that round through a
 * narrower storage dtype. */
Test(llvm_emit, casts_every_pair_and_rounding) {
  kir_type types[] = {KIR_F32, KIR_F64, KIR_I64, KIR_BOOL};
  static const double fv[] = {0.0, -0.0, 2.7, -2.7, 1e30, -1e30, INFINITY, -INFINITY, NAN, 0.5, 9.3e18, -9.3e18};
  static const int64_t iv[] = {0, 1, -1, 5, INT64_MAX, INT64_MIN, (int64_t)1 << 53 | 1, 255, 256, -129, 2, 3};
  for (int fi = 0; fi < 4; fi++)
    for (int ti = 0; ti < 4; ti++) {
      kir_type from = types[fi], to = types[ti];
      kir_program *p = prog(1);
      int a = buf(p, natural_dt(from), 0), y = buf(p, natural_dt(to), 0);
      kir_kernel *k = kern(p, 1, (int[]){0});
      store(k, 0, NULL, y, OUTER(k, 0), X(k, KX_CAST, to, 0, LOAD(k, from, a, OUTER(k, 0)), 0, 0));
      gc_cpu_jit_module *m = jit(p, NULL);
      int64_t av[12], yv[12];
      for (int i = 0; i < 12; i++) {
        val v;
        if (from == KIR_F32 || from == KIR_F64) v.f = fv[i];
        else v.i = from == KIR_BOOL ? i & 1 : iv[i];
        put(av, from, i, v);
      }
      run(m, 0, 0, 12, (void *[]){av, yv}, (int64_t[]){12});
      for (int i = 0; i < 12; i++) {
        val x = get(av, from, i), want;
        bool ff = from == KIR_F32 || from == KIR_F64;
        if (to == KIR_BOOL) want.i = ff ? x.f != 0 : x.i != 0;
        else if (to == KIR_I64) want.i = !ff ? x.i : isnan(x.f) ? 0 : x.f >= 0x1p63 ? INT64_MAX : x.f < -0x1p63 ? INT64_MIN : (int64_t)x.f;
        else if (ff) want.f = to == KIR_F32 ? (double)(float)x.f : x.f;
        else want.f = to == KIR_F32 ? (double)(float)x.i : (double)x.i;
        cr_assert(same(to, get(yv, to, i), want), "cast %d -> %d element %d", from, to, i);
      }
      drop(p, m);
    }
  /* rounding through a storage dtype kept in registers */
  struct { kir_type t; graphc_dtype_t dt; } rt[] = {{KIR_F32, GRAPHC_F16}, {KIR_F32, GRAPHC_BF16}, {KIR_F64, GRAPHC_F32},
                                                    {KIR_I64, GRAPHC_I32}, {KIR_I64, GRAPHC_BOOL}, {KIR_F64, GRAPHC_F16}};
  for (int r = 0; r < 6; r++) {
    kir_program *p = prog(1);
    int a = buf(p, natural_dt(rt[r].t), 0), y = buf(p, natural_dt(rt[r].t), 0);
    kir_kernel *k = kern(p, 1, (int[]){0});
    int c = kir_expr_add(k, (kir_expr){.kind = KX_CAST, .type = rt[r].t, .a = LOAD(k, rt[r].t, a, OUTER(k, 0)), .dtype = rt[r].dt});
    store(k, 0, NULL, y, OUTER(k, 0), c);
    gc_cpu_jit_module *m = jit(p, NULL);
    int64_t av[12], yv[12];
    for (int i = 0; i < 12; i++) put(av, rt[r].t, i, rt[r].t == KIR_I64 ? (val){.i = iv[i]} : (val){.f = fv[i] * 1.0001});
    run(m, 0, 0, 12, (void *[]){av, yv}, (int64_t[]){12});
    for (int i = 0; i < 12; i++) {
      val x = get(av, rt[r].t, i), want;
      switch (rt[r].dt) {
        case GRAPHC_F16: want.f = gc_f16_to_f32(gc_f32_to_f16((float)x.f)); break;
        case GRAPHC_BF16: want.f = gc_bf16_to_f32(gc_f32_to_bf16((float)x.f)); break;
        case GRAPHC_F32: want.f = (float)x.f; break;
        case GRAPHC_I32: want.i = (int32_t)(uint32_t)(uint64_t)x.i; break;
        default: want.i = x.i != 0; break;
      }
      cr_assert(same(rt[r].t, get(yv, rt[r].t, i), want), "round-through %d element %d", r, i);
    }
    drop(p, m);
  }
}

/* ---- storage dtypes: f16/bf16 exhaustively against the interpreter's ---------------- */

/* y (dtype out) [o] = x (dtype in) [o] through compute type t. */
static gc_cpu_jit_module *copy_jit(kir_program **pp, graphc_dtype_t in, kir_type t, graphc_dtype_t out) {
  kir_program *p = *pp = prog(1);
  int x = buf(p, in, 0), y = buf(p, out, 0);
  kir_kernel *k = kern(p, 1, (int[]){0});
  store(k, 0, NULL, y, OUTER(k, 0), LOAD(k, t, x, OUTER(k, 0)));
  return jit(p, NULL);
}

Test(llvm_emit, f16_bf16_round_to_nearest_even) {
  int n = 1 << 16;
  uint16_t *h = malloc(2 * (size_t)n);
  float *f = malloc(4 * (size_t)n);
  for (int i = 0; i < n; i++) h[i] = (uint16_t)i;
  for (int bf = 0; bf < 2; bf++) { /* every f16 / bf16 pattern loads like the interpreter's */
    kir_program *p;
    gc_cpu_jit_module *m = copy_jit(&p, bf ? GRAPHC_BF16 : GRAPHC_F16, KIR_F32, GRAPHC_F32);
    run(m, 0, 0, n, (void *[]){h, f}, (int64_t[]){n});
    for (int i = 0; i < n; i++) {
      float want = bf ? gc_bf16_to_f32(h[i]) : gc_f16_to_f32(h[i]);
      cr_assert(memcmp(&want, &f[i], 4) == 0, "%s %04x: %a vs %a", bf ? "bf16" : "f16", i, f[i], want);
    }
    drop(p, m);
  }
  /* stores: every f16 value, the midpoints between neighbours (ties),
   * values just off them, and random bit patterns */
  int ns = 4 * n + (1 << 20);
  float *src = malloc(4 * (size_t)ns);
  uint16_t *dst = malloc(2 * (size_t)ns);
  for (int i = 0; i < n; i++) {
    float a = gc_f16_to_f32((uint16_t)i), b = gc_f16_to_f32((uint16_t)(i + 1));
    float mid = (float)(((double)a + (double)b) / 2);
    src[4 * i] = a, src[4 * i + 1] = mid, src[4 * i + 2] = nextafterf(mid, INFINITY), src[4 * i + 3] = nextafterf(mid, -INFINITY);
  }
  for (int i = 4 * n; i < ns; i++) {
    uint32_t u = (uint32_t)next_rand();
    memcpy(&src[i], &u, 4);
  }
  double *srcd = malloc(8 * (size_t)ns);
  for (int i = 0; i < ns; i++) srcd[i] = (double)src[i] * (i % 7 ? 1.0 : 1.0000001);
  for (int bf = 0; bf < 2; bf++)
    for (int wide = 0; wide < 2; wide++) { /* from f32, and from f64 (rounded through f32 like PyTorch) */
      kir_program *p;
      gc_cpu_jit_module *m = copy_jit(&p, wide ? GRAPHC_F64 : GRAPHC_F32, wide ? KIR_F64 : KIR_F32, bf ? GRAPHC_BF16 : GRAPHC_F16);
      run(m, 0, 0, ns, (void *[]){wide ? (void *)srcd : (void *)src, dst}, (int64_t[]){ns});
      for (int i = 0; i < ns; i++) {
        float v = wide ? (float)srcd[i] : src[i];
        uint16_t want = bf ? gc_f32_to_bf16(v) : gc_f32_to_f16(v);
        cr_assert_eq(dst[i], want, "%s from %s %a: %04x vs %04x", bf ? "bf16" : "f16", wide ? "f64" : "f32", v, dst[i], want);
      }
      drop(p, m);
    }
  free(h), free(f), free(src), free(dst), free(srcd);
}

Test(llvm_emit, integer_and_bool_storage) {
  int32_t i32[6] = {0, 1, -1, INT32_MAX, INT32_MIN, 77};
  int64_t i64[6];
  kir_program *p;
  gc_cpu_jit_module *m = copy_jit(&p, GRAPHC_I32, KIR_I64, GRAPHC_I64); /* sign extends */
  run(m, 0, 0, 6, (void *[]){i32, i64}, (int64_t[]){6});
  for (int i = 0; i < 6; i++) cr_assert_eq(i64[i], (int64_t)i32[i]);
  drop(p, m);
  int64_t wide[6] = {0, (int64_t)1 << 32 | 5, -1, INT64_MIN, INT64_MAX, -77};
  m = copy_jit(&p, GRAPHC_I64, KIR_I64, GRAPHC_I32); /* wraps */
  run(m, 0, 0, 6, (void *[]){wide, i32}, (int64_t[]){6});
  for (int i = 0; i < 6; i++) cr_assert_eq(i32[i], (int32_t)(uint32_t)(uint64_t)wide[i]);
  drop(p, m);
  uint8_t bytes[6] = {0, 1, 2, 255, 0, 128}, out[6];
  m = copy_jit(&p, GRAPHC_BOOL, KIR_BOOL, GRAPHC_BOOL); /* any nonzero byte is true, stored as 1 */
  run(m, 0, 0, 6, (void *[]){bytes, out}, (int64_t[]){6});
  for (int i = 0; i < 6; i++) cr_assert_eq(out[i], bytes[i] != 0);
  drop(p, m);
  float fl[6];
  m = copy_jit(&p, GRAPHC_I32, KIR_F32, GRAPHC_F32);
  run(m, 0, 0, 6, (void *[]){i32, fl}, (int64_t[]){6});
  for (int i = 0; i < 6; i++) cr_assert_eq(fl[i], (float)i32[i]);
  drop(p, m);
  double d[6] = {1.9, -1.9, NAN, 3e9, -3e9, 0.4};
  m = copy_jit(&p, GRAPHC_F64, KIR_I64, GRAPHC_I32); /* truncate, saturate to i64, wrap to i32 */
  run(m, 0, 0, 6, (void *[]){d, i32}, (int64_t[]){6});
  int32_t want[6] = {1, -1, 0, (int32_t)(uint32_t)3000000000u, (int32_t)(uint32_t)(uint64_t)(int64_t)-3000000000LL, 0};
  for (int i = 0; i < 6; i++) cr_assert_eq(i32[i], want[i], "element %d: %d", i, i32[i]);
  drop(p, m);
}

/* ---- AOT objects ------------------------------------------------------------------------ */

static bool contains(const void *hay, size_t n, const char *needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; i + k < n; i++)
    if (memcmp((const char *)hay + i, needle, k + 1) == 0) return true; /* NUL-terminated in strtab */
  return false;
}

Test(llvm_emit, object_is_elf_with_kernel_symbols_and_loads_into_the_jit) {
  kir_program *p = axpb();
  kir_program *sm = softmax_prog(); /* a second kernel in the same program */
  p->kernels = realloc(p->kernels, sizeof *p->kernels * 2);
  p->kernels[1] = sm->kernels[0];
  snprintf(p->kernels[1].name, sizeof p->kernels[1].name, "softmax");
  p->nkernels = 2;
  sm->nkernels = 0;
  kir_program_free(sm);
  free(sm);
  void *obj = NULL;
  size_t len = 0;
  OK(gc_cpu_emit_object(p, NULL, "mymodel", &obj, &len));
  const unsigned char *b = obj;
  cr_assert(len > 64 && memcmp(b, "\177ELF", 4) == 0, "not ELF");
  cr_assert_eq(b[4], 2);                        /* 64-bit */
  cr_assert_eq(b[16] | b[17] << 8, 1);          /* ET_REL */
  cr_assert(contains(obj, len, "mymodel_k0") && contains(obj, len, "mymodel_k1"));
  cr_assert(!contains(obj, len, "gc.exp.f32"), "math helpers stay internal and inlined");
  /* the cache's path: the object loaded into a JIT runs like a compile */
  gc_cpu_jit_module *m = NULL;
  OK(gc_cpu_jit_object(obj, len, "mymodel", 2, &m));
  float x[6] = {1, 2, 3, 4, 5, 6}, w[3] = {1, 10, 100}, bb[2] = {0.5f, -0.5f}, y[6];
  run(m, 0, 0, 6, (void *[]){x, w, bb, y}, (int64_t[]){2, 3, 6});
  for (int i = 0; i < 6; i++) cr_assert_eq(y[i], x[i] * w[i % 3] + bb[i / 3]);
  cr_assert_not_null(gc_cpu_jit_kernel(m, 1));
  cr_assert_null(gc_cpu_jit_kernel(m, 2));
  cr_assert_null(gc_cpu_jit_kernel(m, -1));
  gc_cpu_jit_free(m);
  FAILS(gc_cpu_jit_object(obj, len, "other", 2, &m), GRAPHC_STATUS_INTERNAL, "other_k0");
  cr_assert_null(m);
  FAILS(gc_cpu_jit_object("not an object", 13, "mymodel", 1, &m), GRAPHC_STATUS_INTERNAL, "LLVM");
  free(obj);
  kir_program_free(p);
  free(p);
}

/* ---- options, targets and errors --------------------------------------------------------- */

Test(llvm_emit, every_opt_level_and_cpu_gives_the_same_results) {
  gc_cpu_options o;
  const char *cpus[] = {NULL, "x86-64", "x86-64-v3", "native"};
  char *host = NULL, *features = NULL;
  OK(gc_cpu_target_info(&host, &features));
  cr_assert(strlen(host) > 0 && strchr(features, '+'), "host '%s' features '%s'", host, features);
  free(host), free(features);
  char *id = NULL;
  OK(gc_cpu_codegen_id(&id));
  cr_assert(strstr(id, "graphc-cpu ") == id && strstr(id, " llvm 19."), "%s", id);
  free(id);
  for (int lvl = 0; lvl <= 3; lvl++)
    for (int c = 0; c < 4; c++) {
      gc_cpu_options_init(&o);
      o.opt_level = lvl;
      o.cpu_name_override = cpus[c];
      kir_program *p = softmax_prog();
      gc_cpu_jit_module *m = jit(p, &o);
      float x[3 * 9], y[3 * 9];
      for (int i = 0; i < 27; i++) x[i] = (float)(i % 7) - 3;
      run(m, 0, 0, 3, (void *[]){x, y}, (int64_t[]){3, 9});
      for (int r = 0; r < 3; r++) {
        double s = 0;
        for (int i = 0; i < 9; i++) s += y[r * 9 + i];
        cr_assert(fabs(s - 1) < 1e-6, "O%d cpu %s row %d sums to %g", lvl, cpus[c] ? cpus[c] : "host", r, s);
      }
      drop(p, m);
    }
}

Test(llvm_emit, llvm_failures_and_bad_input_are_statuses) {
  gc_cpu_options o;
  gc_cpu_jit_module *m = (gc_cpu_jit_module *)1;
  kir_program *p = axpb();
  gc_cpu_options_init(&o);
  o.cpu_name_override = "pentium9000";
  FAILS(gc_cpu_jit(p, &o, &m), GRAPHC_STATUS_INVALID_ARGUMENT, "'pentium9000'");
  cr_assert_null(m);
  o.cpu_name_override = "znver4; rm -rf";
  FAILS(gc_cpu_jit(p, &o, &m), GRAPHC_STATUS_INVALID_ARGUMENT, "not a CPU name");
  gc_cpu_options_init(&o);
  o.features_override = "+avx2,avx512f";
  FAILS(gc_cpu_jit(p, &o, &m), GRAPHC_STATUS_INVALID_ARGUMENT, "'avx512f'");
  gc_cpu_options_init(&o);
  o.opt_level = 7;
  FAILS(gc_cpu_jit(p, &o, &m), GRAPHC_STATUS_INVALID_ARGUMENT, "opt_level");
  void *obj;
  size_t len;
  FAILS(gc_cpu_emit_object(p, NULL, "9lives", &obj, &len), GRAPHC_STATUS_INVALID_ARGUMENT, "C identifier");
  FAILS(gc_cpu_emit_object(p, NULL, NULL, &obj, &len), GRAPHC_STATUS_INVALID_ARGUMENT, "prefix");
  FAILS(gc_cpu_jit(NULL, NULL, &m), GRAPHC_STATUS_INVALID_ARGUMENT, "NULL");
  FAILS(gc_cpu_jit(p, NULL, NULL), GRAPHC_STATUS_INVALID_ARGUMENT, "NULL");
  /* ill-formed kernel IR: caught by the verifier or the type checks */
  p->kernels[0].exprs[p->kernels[0].stages[0].stores[0].value].b = 999;
  FAILS(gc_cpu_jit(p, NULL, &m), GRAPHC_STATUS_INTERNAL, "kernel IR");
  drop(p, NULL);
  p = prog(1);
  int x = buf(p, GRAPHC_I64, 0);
  kir_kernel *k = kern(p, 1, (int[]){0});
  int e = UN(k, KIR_I64, KU_EXP, LOAD(k, KIR_I64, x, OUTER(k, 0)));
  store(k, 0, NULL, x, OUTER(k, 0), e);
  FAILS(gc_cpu_jit(p, NULL, &m), GRAPHC_STATUS_INTERNAL, "exp of i64");
  k->exprs[e].op = KU_NEG;
  k->stages[0].stores[0].value = INNER(k, 0); /* no inner dims in this stage */
  FAILS(gc_cpu_jit(p, NULL, &m), GRAPHC_STATUS_INTERNAL, "inner coordinate 0");
  drop(p, NULL);
  /* a program without kernels compiles to an empty module */
  p = prog(0);
  m = jit(p, NULL);
  cr_assert_null(gc_cpu_jit_kernel(m, 0));
  drop(p, m);
}

/* cat-like: two STORE stages write the two halves of one output; the
 * stages around them read it before and after (loads are not reused
 * across a STORE stage). */
Test(llvm_emit, several_store_stages_in_order) {
  kir_program *p = prog(2); /* n, 2n */
  int a = buf(p, GRAPHC_F32, 0), b = buf(p, GRAPHC_F32, 0), y = buf(p, GRAPHC_F32, 1), z = buf(p, GRAPHC_F32, 0);
  int w = buf(p, GRAPHC_F32, 0);
  kir_kernel *k = kern(p, 1, (int[]){0});
  int o = OUTER(k, 0), hi = BIN(k, KIR_I64, KB_ADD, o, SIZE(k, 0));
  int yo = LOAD(k, KIR_F32, y, o); /* one node read before and after the stores */
  store(k, 0, NULL, z, o, yo);
  store(k, 0, NULL, y, o, LOAD(k, KIR_F32, a, o));
  store(k, 0, NULL, y, hi, LOAD(k, KIR_F32, b, o));
  store(k, 0, NULL, w, o, BIN(k, KIR_F32, KB_ADD, yo, LOAD(k, KIR_F32, y, hi)));
  gc_cpu_jit_module *m = jit(p, NULL);
  float av[37], bv[37], yv[74], zv[37], wv[37];
  for (int i = 0; i < 37; i++) av[i] = (float)i, bv[i] = (float)(100 * i), yv[i] = yv[37 + i] = -1;
  run(m, 0, 0, 37, (void *[]){av, bv, yv, zv, wv}, (int64_t[]){37, 74});
  for (int i = 0; i < 37; i++) {
    cr_assert_eq(zv[i], -1);
    cr_assert_eq(yv[i], av[i]);
    cr_assert_eq(yv[37 + i], bv[i]);
    cr_assert_eq(wv[i], av[i] + bv[i], "element %d: %g", i, wv[i]);
  }
  drop(p, m);
}

/* Compiles may run on several threads at once (each in its own context). */
static void *compile_twice(void *arg) {
  for (int i = 0; i < 3; i++) {
    kir_program *p = softmax_prog();
    gc_cpu_jit_module *m = NULL;
    graphc_status_t st = gc_cpu_jit(p, NULL, &m);
    if (st) {
      graphc_status_free(st);
      *(int *)arg = 1;
    }
    gc_cpu_jit_free(m);
    kir_program_free(p);
    free(p);
  }
  return NULL;
}

Test(llvm_emit, concurrent_compiles) {
  pthread_t th[2];
  int failed[2] = {0, 0};
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, compile_twice, &failed[i]);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  cr_assert(!failed[0] && !failed[1]);
}
