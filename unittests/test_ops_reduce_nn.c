/* Tests for lib/ops/ops_reduce.c and lib/ops/ops_nn.c: sum, mean, amax,
 * amin, argmax, softmax, log_softmax, layer_norm, cross_entropy, mse_loss,
 * dropout — values against hand-computed numbers, empty and zero-size
 * cases, run-time errors, and infer errors. Graphs are built with the
 * internal builder and run with the reference interpreter. */
#include "ops_harness.h"

TestSuite(reduce_nn, .init = ops_setup, .fini = ops_teardown);

/* One single-input op on x (dims text `dims`) in a new graph, run. */
static gc_tensor op1(const char *op, gc_tensor x, const char *dims, const graphc_attr_t *attrs,
                     int nattrs) {
  gc_graph *gr = new_graph();
  int xv = input(gr, "x", x.dtype, dims);
  int y = node(gr, op, &xv, 1, attrs, nattrs);
  return run(gr, y, &x, 1);
}

/* ---- sum / mean ------------------------------------------------------------- */

Test(reduce_nn, sum_dims_keepdim) {
  gc_tensor r = op1("sum", T(GRAPHC_F32, S(2, 3), 1, 2, 3, 4, 5, 6), "2, 3", NULL, 0);
  SHAPE(r);
  EXPECT(r, GRAPHC_F32, 0, 21);
  gc_tensor_free(&r);
  graphc_attr_t a[2] = {A_INTS("dim", -1), A_BOOL("keepdim", 1)};
  r = op1("sum", T(GRAPHC_F32, S(2, 3), 1, 2, 3, 4, 5, 6), "2, 3", a, 2);
  SHAPE(r, 2, 1);
  EXPECT(r, GRAPHC_F32, 0, 6, 15);
  gc_tensor_free(&r);
  graphc_attr_t d0 = A_INTS("dim", 0);
  r = op1("sum", T(GRAPHC_F32, S(2, 3), 1, 2, 3, 4, 5, 6), "2, 3", &d0, 1);
  SHAPE(r, 3);
  EXPECT(r, GRAPHC_F32, 0, 5, 7, 9);
  gc_tensor_free(&r);
  /* middle dims of a rank-3 tensor; an empty list reduces everything */
  graphc_attr_t d02 = A_INTS("dim", 0, 2);
  r = op1("sum", T(GRAPHC_F64, S(2, 2, 2), 1, 2, 3, 4, 5, 6, 7, 8), "2, 2, 2", &d02, 1);
  EXPECT(r, GRAPHC_F64, 0, 1 + 2 + 5 + 6, 3 + 4 + 7 + 8);
  gc_tensor_free(&r);
  graphc_attr_t none = A_NOINTS("dim");
  r = op1("sum", T(GRAPHC_F64, S(2, 2), 1, 2, 3, 4), "2, 2", &none, 1);
  SHAPE(r);
  EXPECT(r, GRAPHC_F64, 0, 10);
  gc_tensor_free(&r);
}

Test(reduce_nn, sum_int_bool_empty) {
  gc_tensor r = op1("sum", T(GRAPHC_I32, S(2), 2147483647.0, 1), "2", NULL, 0);
  EXPECT(r, GRAPHC_I64, 0, 2147483648.0); /* i64 result, no i32 overflow */
  gc_tensor_free(&r);
  r = op1("sum", T(GRAPHC_BOOL, S(3), 1, 0, 1), "3", NULL, 0);
  EXPECT(r, GRAPHC_I64, 0, 2);
  gc_tensor_free(&r);
  graphc_attr_t d0 = A_INTS("dim", 0);
  r = op1("sum", T(GRAPHC_F32, S(0, 2), 0), "0, 2", &d0, 1);
  SHAPE(r, 2);
  EXPECT(r, GRAPHC_F32, 0, 0, 0);
  gc_tensor_free(&r);
  r = op1("mean", T(GRAPHC_F32, S(0, 2), 0), "0, 2", &d0, 1);
  EXPECT(r, GRAPHC_F32, 0, NAN, NAN);
  gc_tensor_free(&r);
  /* 0-d input: dim 0 / -1 allowed */
  graphc_attr_t dm1 = A_INTS("dim", -1);
  r = op1("sum", T0(GRAPHC_F32, 4), "", &dm1, 1);
  SHAPE(r);
  EXPECT(r, GRAPHC_F32, 0, 4);
  gc_tensor_free(&r);
}

Test(reduce_nn, mean_values) {
  graphc_attr_t d1 = A_INTS("dim", 1);
  gc_tensor r = op1("mean", T(GRAPHC_F16, S(2, 2), 1, 2, 3, 5), "2, 2", &d1, 1);
  EXPECT(r, GRAPHC_F16, 0, 1.5, 4);
  gc_tensor_free(&r);
}

Test(reduce_nn, reduce_infer_errors) {
  int x = input(g, "x", GRAPHC_F32, "2, B"), i = input(g, "i", GRAPHC_I64, "2");
  graphc_attr_t dup = A_INTS("dim", 1, -1), oob = A_INTS("dim", 2);
  node_fails(g, "sum", &x, 1, &dup, 1, "more than once");
  node_fails(g, "amax", &x, 1, &oob, 1, "out of range");
  node_fails(g, "mean", &i, 1, NULL, 0, "float");
  int z = input(g, "z", GRAPHC_F32, "3, 0");
  graphc_attr_t d1 = A_INTS("dim", 1), d0 = A_INTS("dim", 0);
  node_fails(g, "amin", &z, 1, &d1, 1, "size 0");
  node_fails(g, "amax", &z, 1, NULL, 0, "size 0");
  int ok = node(g, "amax", &z, 1, &d0, 1); /* reduces a non-empty dim: [0] */
  cr_expect_eq(vtype(g, ok)->rank, 1);
  graphc_attr_t k[2] = {A_INTS("dim", 1), A_BOOL("keepdim", 1)};
  int s = node(g, "sum", &x, 1, k, 2);
  int64_t one;
  cr_expect(gc_dim_is_const(gc_graph_dims(g), vtype(g, s)->dims[1], &one) && one == 1);
  cr_expect_eq(vtype(g, s)->dims[0], vtype(g, x)->dims[0]);
}

/* ---- amax / amin / argmax ------------------------------------------------- */

Test(reduce_nn, amax_amin) {
  graphc_attr_t d1 = A_INTS("dim", 1);
  gc_tensor r = op1("amax", T(GRAPHC_F32, S(2, 3), 1, NAN, 3, -1, -5, -2), "2, 3", &d1, 1);
  EXPECT(r, GRAPHC_F32, 0, NAN, -1);
  gc_tensor_free(&r);
  r = op1("amin", T(GRAPHC_F32, S(2, 3), 1, 7, 3, -1, -5, NAN), "2, 3", &d1, 1);
  EXPECT(r, GRAPHC_F32, 0, 1, NAN);
  gc_tensor_free(&r);
  r = op1("amin", T(GRAPHC_I32, S(3), 4, -9, 2), "3", NULL, 0);
  EXPECT(r, GRAPHC_I32, 0, -9);
  gc_tensor_free(&r);
  r = op1("amax", T(GRAPHC_BOOL, S(2), 0, 1), "2", NULL, 0);
  EXPECT(r, GRAPHC_BOOL, 0, 1);
  gc_tensor_free(&r);
}

Test(reduce_nn, amax_zero_size_at_run_time) {
  int x = input(g, "x", GRAPHC_F32, "B, 2");
  graphc_attr_t d0 = A_INTS("dim", 0), d1 = A_INTS("dim", 1);
  int y = node(g, "amax", &x, 1, &d0, 1);
  gc_tensor in = T(GRAPHC_F32, S(0, 2), 0);
  run_fails(g, &y, 1, &in, 1, GRAPHC_STATUS_OUT_OF_RANGE, "size 0");
  gc_tensor_free(&in);
  /* over the non-empty dim it is fine: result [0] */
  g = new_graph();
  x = input(g, "x", GRAPHC_F32, "B, 2");
  y = node(g, "amin", &x, 1, &d1, 1);
  in = T(GRAPHC_F32, S(0, 2), 0);
  gc_tensor r = run(g, y, &in, 1);
  SHAPE(r, 0);
  gc_tensor_free(&r);
}

Test(reduce_nn, argmax) {
  graphc_attr_t d1 = A_INT("dim", 1);
  gc_tensor r = op1("argmax", T(GRAPHC_F32, S(2, 3), 5, 1, 5, 0, NAN, NAN), "2, 3", &d1, 1);
  EXPECT(r, GRAPHC_I64, 0, 0, 1); /* first max; first NaN wins */
  gc_tensor_free(&r);
  graphc_attr_t d0k[2] = {A_INT("dim", 0), A_BOOL("keepdim", 1)};
  r = op1("argmax", T(GRAPHC_I32, S(2, 3), 1, 9, 3, 4, 9, 2), "2, 3", d0k, 2);
  SHAPE(r, 1, 3);
  EXPECT(r, GRAPHC_I64, 0, 1, 0, 0);
  gc_tensor_free(&r);
  /* flattened; keepdim keeps every dim as 1 */
  graphc_attr_t k = A_BOOL("keepdim", 1);
  r = op1("argmax", T(GRAPHC_F64, S(2, 2), 1, 2, 8, 8), "2, 2", &k, 1);
  SHAPE(r, 1, 1);
  EXPECT(r, GRAPHC_I64, 0, 2);
  gc_tensor_free(&r);

  int b = input(g, "b", GRAPHC_BOOL, "3");
  node_fails(g, "argmax", &b, 1, NULL, 0, "bool[3]");
  g = new_graph(); /* empty at run time: no maximum */
  int e = input(g, "e", GRAPHC_F32, "N");
  int y = node(g, "argmax", &e, 1, NULL, 0);
  gc_tensor in = T(GRAPHC_F32, S(0), 0);
  run_fails(g, &y, 1, &in, 1, GRAPHC_STATUS_OUT_OF_RANGE, "argmax");
  gc_tensor_free(&in);
}

/* ---- softmax -------------------------------------------------------------- */

Test(reduce_nn, softmax_stable) {
  graphc_attr_t d = A_INT("dim", -1);
  /* exp(1000) overflows and exp(-1000) underflows without subtracting the max */
  gc_tensor r = op1("softmax", T(GRAPHC_F64, S(2, 2), 1000, 1001, -1001, -1000), "2, 2", &d, 1);
  EXPECT(r, GRAPHC_F64, 1e-15, 0.2689414213699951, 0.7310585786300049, 0.2689414213699951,
         0.7310585786300049);
  gc_tensor_free(&r);
  r = op1("log_softmax", T(GRAPHC_F64, S(2, 2), 1000, 1001, -INFINITY, 0), "2, 2", &d, 1);
  EXPECT(r, GRAPHC_F64, 1e-15, -1.3132616875182228, -0.3132616875182228, -INFINITY, 0);
  gc_tensor_free(&r);
  /* along dim 0 of a [2, 2] */
  graphc_attr_t d0 = A_INT("dim", 0);
  r = op1("softmax", T(GRAPHC_F32, S(2, 2), 0, 5, 0, 5), "2, 2", &d0, 1);
  EXPECT(r, GRAPHC_F32, 0, 0.5, 0.5, 0.5, 0.5);
  gc_tensor_free(&r);
  r = op1("log_softmax", T0(GRAPHC_F32, 3), "", &d0, 1);
  EXPECT(r, GRAPHC_F32, 0, 0);
  gc_tensor_free(&r);

  int i = input(g, "i", GRAPHC_I64, "3"), x = input(g, "x", GRAPHC_F32, "3");
  node_fails(g, "softmax", &i, 1, &d, 1, "float");
  graphc_attr_t bad = A_INT("dim", 1);
  node_fails(g, "log_softmax", &x, 1, &bad, 1, "out of range");
}

/* ---- layer_norm ------------------------------------------------------------ */

Test(reduce_nn, layer_norm) {
  int v[3] = {input(g, "x", GRAPHC_F64, "2, C"), input(g, "w", GRAPHC_F64, "C"),
              input(g, "b", GRAPHC_F64, "C")};
  gc_dim c = vtype(g, v[0])->dims[1];
  graphc_attr_t ns = {.name = "normalized_shape", .kind = GRAPHC_ATTR_DIMS, .dims = &c, .count = 1};
  int y = node(g, "layer_norm", v, 3, &ns, 1);
  gc_tensor ins[3] = {T(GRAPHC_F64, S(2, 3), 1, 2, 3, 2, 4, 6), T(GRAPHC_F64, S(3), 1, 2, 3),
                      T(GRAPHC_F64, S(3), 0.5, 0, 0)};
  gc_tensor r = run(g, y, ins, 3);
  EXPECT(r, GRAPHC_F64, 1e-14, -0.7247356859083902, 0, 3.6742070577251704, -0.7247425750014138, 0,
         3.6742277250042417);
  gc_tensor_free(&r);

  /* no weight/bias, normalising both dims, eps 0: mean 2.5, var 1.25 */
  g = new_graph();
  int x = input(g, "x", GRAPHC_F64, "2, 2");
  gc_dim two = vtype(g, x)->dims[0];
  gc_dim dims2[2] = {two, two};
  graphc_attr_t a[2] = {{.name = "normalized_shape", .kind = GRAPHC_ATTR_DIMS, .dims = dims2, .count = 2},
                        A_FLOAT("eps", 0)};
  y = node(g, "layer_norm", &x, 1, a, 2);
  gc_tensor in = T(GRAPHC_F64, S(2, 2), 1, 2, 3, 4);
  r = run(g, y, &in, 1);
  double s = sqrt(1.25);
  EXPECT(r, GRAPHC_F64, 1e-15, -1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s);
  gc_tensor_free(&r);
}

Test(reduce_nn, layer_norm_errors) {
  int x = input(g, "x", GRAPHC_F32, "2, C"), w4 = input(g, "w", GRAPHC_F32, "4");
  int wh = input(g, "wh", GRAPHC_F16, "C"), i = input(g, "i", GRAPHC_I32, "2, C");
  gc_dim c = vtype(g, x)->dims[1], two = vtype(g, x)->dims[0];
  graphc_attr_t ns = {.name = "normalized_shape", .kind = GRAPHC_ATTR_DIMS, .dims = &c, .count = 1};
  graphc_attr_t ns2 = {.name = "normalized_shape", .kind = GRAPHC_ATTR_DIMS, .dims = &two, .count = 1};
  node_fails(g, "layer_norm", &x, 1, &ns2, 1, "normalized_shape");
  node_fails(g, "layer_norm", (int[]){x, w4}, 2, &ns, 1, "operand 1 (weight)");
  node_fails(g, "layer_norm", (int[]){x, wh}, 2, &ns, 1, "f16[C]");
  node_fails(g, "layer_norm", &i, 1, &ns, 1, "float");
  graphc_attr_t empty = {.name = "normalized_shape", .kind = GRAPHC_ATTR_DIMS, .count = 0};
  node_fails(g, "layer_norm", &x, 1, &empty, 1, "normalized_shape");
}

/* ---- cross_entropy --------------------------------------------------------- */

static gc_graph *ce_graph(const graphc_attr_t *attrs, int nattrs, int *y) {
  gc_graph *gr = new_graph();
  int v[2] = {input(gr, "logits", GRAPHC_F64, "N, 3"), input(gr, "target", GRAPHC_I64, "N")};
  *y = node(gr, "cross_entropy", v, 2, attrs, nattrs);
  return gr;
}

static double ce(const graphc_attr_t *attrs, int nattrs, double t0, double t1) {
  int y;
  gc_graph *gr = ce_graph(attrs, nattrs, &y);
  gc_tensor ins[2] = {T(GRAPHC_F64, S(2, 3), 1, 2, 3, 1, 1, 1), T(GRAPHC_I64, S(2), t0, t1)};
  gc_tensor r = run(gr, y, ins, 2);
  SHAPE(r);
  double v = gc_tensor_getf(&r, 0);
  gc_tensor_free(&r);
  return v;
}

Test(reduce_nn, cross_entropy_values) {
  cr_expect_float_eq(ce(NULL, 0, 2, 0), 0.7531091265562453, 1e-14);
  graphc_attr_t ign = A_INT("ignore_index", 0);
  cr_expect_float_eq(ce(&ign, 1, 2, 0), 0.4076059644443806, 1e-14);
  graphc_attr_t ls = A_FLOAT("label_smoothing", 0.1);
  cr_expect_float_eq(ce(&ls, 1, 2, 0), 0.8031091265562453, 1e-14);
  /* every target ignored: nan, as PyTorch */
  cr_expect(isnan(ce(NULL, 0, -100, -100)));
}

Test(reduce_nn, cross_entropy_errors) {
  int y;
  g = ce_graph(NULL, 0, &y);
  gc_tensor ins[2] = {T(GRAPHC_F64, S(2, 3), 1, 2, 3, 1, 1, 1), T(GRAPHC_I64, S(2), 0, 3)};
  run_fails(g, &y, 1, ins, 2, GRAPHC_STATUS_OUT_OF_RANGE, "out of range");
  free_all(ins, 2);
  g = new_graph();
  int lg = input(g, "logits", GRAPHC_F32, "N, C"), t32 = input(g, "t32", GRAPHC_I32, "N");
  int tm = input(g, "tm", GRAPHC_I64, "M"), l1 = input(g, "l1", GRAPHC_F32, "C");
  node_fails(g, "cross_entropy", (int[]){lg, t32}, 2, NULL, 0, "operand 1 (target)");
  node_fails(g, "cross_entropy", (int[]){lg, tm}, 2, NULL, 0, "i64[N]");
  node_fails(g, "cross_entropy", (int[]){l1, tm}, 2, NULL, 0, "operand 0 (logits)");
  int t = input(g, "t", GRAPHC_I64, "N");
  graphc_attr_t bad = A_FLOAT("label_smoothing", 1.5);
  node_fails(g, "cross_entropy", (int[]){lg, t}, 2, &bad, 1, "label_smoothing");
}

/* ---- mse_loss -------------------------------------------------------------- */

Test(reduce_nn, mse_loss) {
  static const char *const red[3] = {"mean", "sum", "none"};
  for (int k = 0; k < 3; k++) {
    g = new_graph();
    int v[2] = {input(g, "a", GRAPHC_F32, "2, 2"), input(g, "b", GRAPHC_I64, "2")};
    graphc_attr_t a = A_STR("reduction", red[k]);
    int y = node(g, "mse_loss", v, 2, &a, 1);
    gc_tensor ins[2] = {T(GRAPHC_F32, S(2, 2), 1, 2, 3, 4), T(GRAPHC_I64, S(2), 1, 0)};
    gc_tensor r = run(g, y, ins, 2);
    /* diffs 0, 2, 2, 4 -> squares 0, 4, 4, 16 */
    if (k == 0) EXPECT(r, GRAPHC_F32, 0, 6);
    if (k == 1) EXPECT(r, GRAPHC_F32, 0, 24);
    if (k == 2) {
      SHAPE(r, 2, 2);
      EXPECT(r, GRAPHC_F32, 0, 0, 4, 4, 16);
    }
    gc_tensor_free(&r);
  }
  g = new_graph();
  int a = input(g, "a", GRAPHC_F32, "3"), i = input(g, "i", GRAPHC_I64, "3");
  graphc_attr_t bad = A_STR("reduction", "max");
  node_fails(g, "mse_loss", (int[]){a, a}, 2, &bad, 1, "'max'");
  node_fails(g, "mse_loss", (int[]){i, i}, 2, NULL, 0, "float");
}

/* ---- dropout --------------------------------------------------------------- */

/* The documented mask: keep index i when u >= p, u from splitmix64. */
static bool reference_keep(int64_t seed, int64_t i, double p) {
  uint64_t z = (uint64_t)seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)i);
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1p-53 >= p;
}

static gc_tensor dropout(double p, bool train, int64_t seed, gc_tensor x, const char *dims) {
  gc_graph *gr = new_graph();
  int v[2] = {input(gr, "x", x.dtype, dims), input(gr, "seed", GRAPHC_I64, "")};
  graphc_attr_t a[2] = {A_FLOAT("p", p), A_BOOL("train", train)};
  int y = node(gr, "dropout", v, 2, a, 2);
  gc_tensor ins[2] = {x, T0(GRAPHC_I64, (double)seed)};
  return run(gr, y, ins, 2);
}

Test(reduce_nn, dropout_mask) {
  enum { N = 4000 };
  static double ones[N];
  for (int i = 0; i < N; i++) ones[i] = 1;
  gc_tensor r = dropout(0.25, true, 42, mk(GRAPHC_F32, 1, S(N), ones), "4000");
  int kept = 0;
  for (int i = 0; i < N; i++) {
    double v = gc_tensor_getf(&r, i);
    bool keep = reference_keep(42, i, 0.25);
    kept += keep;
    cr_assert(v == (keep ? (double)(float)(1.0 / 0.75) : 0.0), "element %d: %g", i, v);
  }
  cr_expect(kept > 2850 && kept < 3150, "kept %d of %d at p=0.25", kept, N);
  gc_tensor_free(&r);
  /* another seed, another mask */
  r = dropout(0.25, true, 43, mk(GRAPHC_F32, 1, S(N), ones), "4000");
  int differ = 0;
  for (int i = 0; i < N; i++) differ += (gc_tensor_getf(&r, i) != 0) != reference_keep(42, i, 0.25);
  cr_expect(differ > 100, "seeds 42 and 43 give nearly the same mask (%d differ)", differ);
  gc_tensor_free(&r);
}

Test(reduce_nn, dropout_identity_and_all) {
  gc_tensor r = dropout(0.9, false, 1, T(GRAPHC_F32, S(3), 1, NAN, -3), "3");
  EXPECT(r, GRAPHC_F32, 0, 1, NAN, -3);
  gc_tensor_free(&r);
  r = dropout(0, true, 1, T(GRAPHC_F16, S(2), 1.5, 2), "2");
  EXPECT(r, GRAPHC_F16, 0, 1.5, 2);
  gc_tensor_free(&r);
  r = dropout(1, true, 1, T(GRAPHC_F32, S(3), 1, 2, 3), "3");
  EXPECT(r, GRAPHC_F32, 0, 0, 0, 0);
  gc_tensor_free(&r);
  r = dropout(0.5, false, 1, T(GRAPHC_I64, S(2), 7, 8), "2");
  EXPECT(r, GRAPHC_I64, 0, 7, 8);
  gc_tensor_free(&r);

  int x = input(g, "x", GRAPHC_F32, "3"), s32 = input(g, "s32", GRAPHC_I32, "");
  int s = input(g, "s", GRAPHC_I64, ""), i = input(g, "i", GRAPHC_I64, "3");
  graphc_attr_t p = A_FLOAT("p", 0.5), big = A_FLOAT("p", 1.5);
  node_fails(g, "dropout", (int[]){x, s32}, 2, &p, 1, "operand 1 (seed)");
  node_fails(g, "dropout", (int[]){x, s}, 2, &big, 1, "between 0 and 1");
  node_fails(g, "dropout", (int[]){i, s}, 2, &p, 1, "float");
}

Test(reduce_nn, flags_and_docs) {
  static const char *const ops[] = {"sum", "mean", "amax", "amin", "argmax", "softmax", "log_softmax",
                                    "layer_norm", "cross_entropy", "mse_loss", "dropout"};
  for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
    const gc_op_info *op = gc_op_lookup(ops[k], strlen(ops[k]));
    cr_assert_not_null(op, "%s not registered", ops[k]);
    cr_expect(op->doc && *op->doc, "%s has no doc", ops[k]);
    bool random = strcmp(ops[k], "dropout") == 0;
    cr_expect(!!(op->flags & GC_OPF_RANDOM) == random, "%s: RANDOM flag", ops[k]);
    cr_expect(!!(op->flags & GC_OPF_REDUCTION) == !random, "%s: REDUCTION flag", ops[k]);
  }
}
