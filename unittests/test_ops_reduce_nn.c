/* Tests for lib/ops/ops_reduce.c and lib/ops/ops_nn.c: sum, mean, amax,
 * amin, argmax, softmax, log_softmax, layer_norm, cross_entropy, mse_loss,
 * dropout — values against hand-computed numbers, empty and zero-size
 * cases, run-time errors, and infer errors. Graphs are built with the
 * internal builder and run with the reference interpreter. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "graphc/context.h"
#include "interp/interp_internal.h"
#include "ir/op.h"

/* ---- harness -------------------------------------------------------------- */

#define OK(expr)                                                                      \
  do {                                                                                \
    graphc_status_t ok_st_ = (expr);                                                  \
    cr_assert(ok_st_ == NULL, "%s failed: %s", #expr, graphc_status_message(ok_st_)); \
  } while (0)

static graphc_context_t *ctx;
static void setup(void) { OK(graphc_context_create(NULL, &ctx)); }
static void teardown(void) { graphc_context_release(ctx); }
TestSuite(reduce_nn, .init = setup, .fini = teardown);

static gc_graph *new_graph(void) {
  gc_graph *g;
  OK(gc_graph_new(ctx, "t", NULL, &g));
  return g;
}

/* Adds input `name` of dtype dt and shape text like "[2, B]". */
static int input(gc_graph *g, const char *name, gc_dtype dt, const char *shape) {
  gc_type t = {.dtype = dt};
  const char *p = shape + 1;
  while (*p != ']') {
    size_t used;
    OK(gc_dim_parse(gc_graph_dims(g), p, strlen(p), true, &t.dims[t.rank++], &used));
    p += used;
    while (*p == ',' || *p == ' ') p++;
  }
  int v;
  OK(gc_graph_add_input(g, name, GRAPHC_ROLE_INPUT, &t, (gc_loc){0, 0}, &v));
  return v;
}

static graphc_status_t try_node(gc_graph *g, const char *op, const int *ops, int nops,
                                const graphc_attr_t *attrs, int nattrs, int *out_value) {
  int node;
  graphc_status_t st = gc_graph_add_node(g, op, ops, nops, attrs, nattrs, NULL, 0, NULL,
                                         (gc_loc){0, 0}, &node);
  if (!st && out_value) *out_value = g->nodes[node].results[0];
  return st;
}

static int node(gc_graph *g, const char *op, const int *ops, int nops, const graphc_attr_t *attrs,
                int nattrs) {
  int v = -1;
  OK(try_node(g, op, ops, nops, attrs, nattrs, &v));
  return v;
}

/* Expects the node to be rejected with a VERIFY_ERROR mentioning `needle`. */
static void node_fails(gc_graph *g, const char *op, const int *ops, int nops,
                       const graphc_attr_t *attrs, int nattrs, const char *needle) {
  graphc_status_t st = try_node(g, op, ops, nops, attrs, nattrs, NULL);
  cr_assert(st != NULL, "%s unexpectedly accepted", op);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_VERIFY_ERROR, "%s: %s", op,
               graphc_status_message(st));
  cr_expect(strstr(graphc_status_message(st), needle) != NULL, "%s: message '%s' lacks '%s'", op,
            graphc_status_message(st), needle);
  cr_expect(strstr(graphc_status_message(st), op) != NULL, "message names the op: %s",
            graphc_status_message(st));
  graphc_status_free(st);
}

static const gc_type *vtype(gc_graph *g, int v) { return &g->values[v].type; }

/* A tensor of dtype dt, shape `shape` (rank r), values from doubles. */
static gc_tensor tens(gc_dtype dt, int r, const int64_t *shape, const double *vals) {
  gc_tensor t;
  OK(gc_tensor_alloc(&t, dt, r, shape, 0));
  for (int64_t i = 0; i < t.numel; i++) gc_tensor_setf(&t, i, vals[i]);
  return t;
}
#define S(...) ((int64_t[]){__VA_ARGS__})
#define T(dt, shp, ...) tens(dt, (int)(sizeof shp / sizeof(int64_t)), shp, (double[]){__VA_ARGS__})
#define T0(dt, v) tens(dt, 0, NULL, (double[]){v})

/* Runs g with `out` as its only output. */
static gc_tensor run(gc_graph *g, int out, gc_tensor *ins, int nins) {
  gc_tensor r;
  OK(gc_graph_set_outputs(g, &out, 1));
  OK(gc_interp_run_tensors(g, 0, ins, nins, &r));
  for (int i = 0; i < nins; i++) gc_tensor_free(&ins[i]);
  return r;
}

/* Compares every element (NaN equals NaN; tolerance relative `tol`). */
static void expect_vals(const gc_tensor *t, gc_dtype dt, int64_t n, const double *want, double tol) {
  cr_assert_eq(t->dtype, dt, "dtype %s, want %s", graphc_dtype_name(t->dtype), graphc_dtype_name(dt));
  cr_assert_eq(t->numel, n, "numel %lld, want %lld", (long long)t->numel, (long long)n);
  for (int64_t i = 0; i < n; i++) {
    double got = gc_tensor_getf(t, i);
    bool same = (isnan(got) && isnan(want[i])) || got == want[i] ||
                fabs(got - want[i]) <= tol * fmax(1.0, fabs(want[i]));
    cr_expect(same, "element %lld: got %.17g, want %.17g", (long long)i, got, want[i]);
  }
}
#define EXPECT(t, dt, tol, ...)                                                              \
  expect_vals(&(t), dt, (int64_t)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)), \
              (double[]){__VA_ARGS__}, tol)

#define A_STR(n, v) ((graphc_attr_t){.name = n, .kind = GRAPHC_ATTR_STRING, .s = v})
#define A_DTYPE(n, v) ((graphc_attr_t){.name = n, .kind = GRAPHC_ATTR_DTYPE, .dtype = v})

#define A_INT(n, v) ((graphc_attr_t){.name = n, .kind = GRAPHC_ATTR_INT, .i = v})
#define A_BOOL(n, v) ((graphc_attr_t){.name = n, .kind = GRAPHC_ATTR_BOOL, .i = v})
#define A_FLOAT(n, v) ((graphc_attr_t){.name = n, .kind = GRAPHC_ATTR_FLOAT, .f = v})
#define A_INTS(n, ...)                                                          \
  ((graphc_attr_t){.name = n, .kind = GRAPHC_ATTR_INTS, .ints = S(__VA_ARGS__), \
                   .count = (int)(sizeof S(__VA_ARGS__) / sizeof(int64_t))})
#define A_NOINTS(n) ((graphc_attr_t){.name = n, .kind = GRAPHC_ATTR_INTS, .count = 0})

/* Runs g expecting an eval failure with `code`; frees the inputs. */
static void run_fails(gc_graph *g, int out, gc_tensor *ins, int nins, graphc_status_code_t code,
                      const char *needle) {
  gc_tensor r;
  OK(gc_graph_set_outputs(g, &out, 1));
  graphc_status_t st = gc_interp_run_tensors(g, 0, ins, nins, &r);
  for (int i = 0; i < nins; i++) gc_tensor_free(&ins[i]);
  cr_assert(st != NULL, "run unexpectedly succeeded");
  cr_expect_eq(graphc_status_code(st), code, "%s", graphc_status_message(st));
  cr_expect(strstr(graphc_status_message(st), needle) != NULL, "message '%s' lacks '%s'",
            graphc_status_message(st), needle);
  graphc_status_free(st);
}

/* One single-input op on x (shape text `shape`), run. */
static gc_tensor op1(const char *op, gc_tensor x, const char *shape, const graphc_attr_t *attrs,
                     int nattrs) {
  gc_graph *g = new_graph();
  int xv = input(g, "x", x.dtype, shape);
  int y = node(g, op, &xv, 1, attrs, nattrs);
  return run(g, y, &x, 1);
}

static void expect_shape(const gc_tensor *t, int rank, const int64_t *shape) {
  cr_assert_eq(t->rank, rank, "rank %d, want %d", t->rank, rank);
  for (int d = 0; d < rank; d++)
    cr_expect_eq(t->shape[d], shape[d], "dim %d: %lld, want %lld", d, (long long)t->shape[d],
                 (long long)shape[d]);
}
#define SHAPE(t, ...) expect_shape(&(t), (int)(sizeof S(__VA_ARGS__) / sizeof(int64_t)), S(__VA_ARGS__))

/* ---- sum / mean ------------------------------------------------------------- */

Test(reduce_nn, sum_dims_keepdim) {
  gc_tensor r = op1("sum", T(GRAPHC_F32, S(2, 3), 1, 2, 3, 4, 5, 6), "[2, 3]", NULL, 0);
  SHAPE(r);
  EXPECT(r, GRAPHC_F32, 0, 21);
  gc_tensor_free(&r);
  graphc_attr_t a[2] = {A_INTS("dim", -1), A_BOOL("keepdim", 1)};
  r = op1("sum", T(GRAPHC_F32, S(2, 3), 1, 2, 3, 4, 5, 6), "[2, 3]", a, 2);
  SHAPE(r, 2, 1);
  EXPECT(r, GRAPHC_F32, 0, 6, 15);
  gc_tensor_free(&r);
  graphc_attr_t d0 = A_INTS("dim", 0);
  r = op1("sum", T(GRAPHC_F32, S(2, 3), 1, 2, 3, 4, 5, 6), "[2, 3]", &d0, 1);
  SHAPE(r, 3);
  EXPECT(r, GRAPHC_F32, 0, 5, 7, 9);
  gc_tensor_free(&r);
  /* middle dims of a rank-3 tensor; an empty list reduces everything */
  graphc_attr_t d02 = A_INTS("dim", 0, 2);
  r = op1("sum", T(GRAPHC_F64, S(2, 2, 2), 1, 2, 3, 4, 5, 6, 7, 8), "[2, 2, 2]", &d02, 1);
  EXPECT(r, GRAPHC_F64, 0, 1 + 2 + 5 + 6, 3 + 4 + 7 + 8);
  gc_tensor_free(&r);
  graphc_attr_t none = A_NOINTS("dim");
  r = op1("sum", T(GRAPHC_F64, S(2, 2), 1, 2, 3, 4), "[2, 2]", &none, 1);
  SHAPE(r);
  EXPECT(r, GRAPHC_F64, 0, 10);
  gc_tensor_free(&r);
}

Test(reduce_nn, sum_int_bool_empty) {
  gc_tensor r = op1("sum", T(GRAPHC_I32, S(2), 2147483647.0, 1), "[2]", NULL, 0);
  EXPECT(r, GRAPHC_I64, 0, 2147483648.0); /* i64 result, no i32 overflow */
  gc_tensor_free(&r);
  r = op1("sum", T(GRAPHC_BOOL, S(3), 1, 0, 1), "[3]", NULL, 0);
  EXPECT(r, GRAPHC_I64, 0, 2);
  gc_tensor_free(&r);
  graphc_attr_t d0 = A_INTS("dim", 0);
  r = op1("sum", T(GRAPHC_F32, S(0, 2), 0), "[0, 2]", &d0, 1);
  SHAPE(r, 2);
  EXPECT(r, GRAPHC_F32, 0, 0, 0);
  gc_tensor_free(&r);
  r = op1("mean", T(GRAPHC_F32, S(0, 2), 0), "[0, 2]", &d0, 1);
  EXPECT(r, GRAPHC_F32, 0, NAN, NAN);
  gc_tensor_free(&r);
  /* 0-d input: dim 0 / -1 allowed */
  graphc_attr_t dm1 = A_INTS("dim", -1);
  r = op1("sum", T0(GRAPHC_F32, 4), "[]", &dm1, 1);
  SHAPE(r);
  EXPECT(r, GRAPHC_F32, 0, 4);
  gc_tensor_free(&r);
}

Test(reduce_nn, mean_values) {
  graphc_attr_t d1 = A_INTS("dim", 1);
  gc_tensor r = op1("mean", T(GRAPHC_F16, S(2, 2), 1, 2, 3, 5), "[2, 2]", &d1, 1);
  EXPECT(r, GRAPHC_F16, 0, 1.5, 4);
  gc_tensor_free(&r);
}

Test(reduce_nn, reduce_infer_errors) {
  gc_graph *g = new_graph();
  int x = input(g, "x", GRAPHC_F32, "[2, B]"), i = input(g, "i", GRAPHC_I64, "[2]");
  graphc_attr_t dup = A_INTS("dim", 1, -1), oob = A_INTS("dim", 2);
  node_fails(g, "sum", &x, 1, &dup, 1, "more than once");
  node_fails(g, "amax", &x, 1, &oob, 1, "out of range");
  node_fails(g, "mean", &i, 1, NULL, 0, "float");
  int z = input(g, "z", GRAPHC_F32, "[3, 0]");
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
  gc_tensor r = op1("amax", T(GRAPHC_F32, S(2, 3), 1, NAN, 3, -1, -5, -2), "[2, 3]", &d1, 1);
  EXPECT(r, GRAPHC_F32, 0, NAN, -1);
  gc_tensor_free(&r);
  r = op1("amin", T(GRAPHC_F32, S(2, 3), 1, 7, 3, -1, -5, NAN), "[2, 3]", &d1, 1);
  EXPECT(r, GRAPHC_F32, 0, 1, NAN);
  gc_tensor_free(&r);
  r = op1("amin", T(GRAPHC_I32, S(3), 4, -9, 2), "[3]", NULL, 0);
  EXPECT(r, GRAPHC_I32, 0, -9);
  gc_tensor_free(&r);
  r = op1("amax", T(GRAPHC_BOOL, S(2), 0, 1), "[2]", NULL, 0);
  EXPECT(r, GRAPHC_BOOL, 0, 1);
  gc_tensor_free(&r);
}

Test(reduce_nn, amax_zero_size_at_run_time) {
  gc_graph *g = new_graph();
  int x = input(g, "x", GRAPHC_F32, "[B, 2]");
  graphc_attr_t d0 = A_INTS("dim", 0), d1 = A_INTS("dim", 1);
  int y = node(g, "amax", &x, 1, &d0, 1);
  gc_tensor in = T(GRAPHC_F32, S(0, 2), 0);
  run_fails(g, y, &in, 1, GRAPHC_STATUS_OUT_OF_RANGE, "size 0");
  /* over the non-empty dim it is fine: result [0] */
  g = new_graph();
  x = input(g, "x", GRAPHC_F32, "[B, 2]");
  y = node(g, "amin", &x, 1, &d1, 1);
  in = T(GRAPHC_F32, S(0, 2), 0);
  gc_tensor r = run(g, y, &in, 1);
  SHAPE(r, 0);
  gc_tensor_free(&r);
}

Test(reduce_nn, argmax) {
  graphc_attr_t d1 = A_INT("dim", 1);
  gc_tensor r = op1("argmax", T(GRAPHC_F32, S(2, 3), 5, 1, 5, 0, NAN, NAN), "[2, 3]", &d1, 1);
  EXPECT(r, GRAPHC_I64, 0, 0, 1); /* first max; first NaN wins */
  gc_tensor_free(&r);
  graphc_attr_t d0k[2] = {A_INT("dim", 0), A_BOOL("keepdim", 1)};
  r = op1("argmax", T(GRAPHC_I32, S(2, 3), 1, 9, 3, 4, 9, 2), "[2, 3]", d0k, 2);
  SHAPE(r, 1, 3);
  EXPECT(r, GRAPHC_I64, 0, 1, 0, 0);
  gc_tensor_free(&r);
  /* flattened; keepdim keeps every dim as 1 */
  graphc_attr_t k = A_BOOL("keepdim", 1);
  r = op1("argmax", T(GRAPHC_F64, S(2, 2), 1, 2, 8, 8), "[2, 2]", &k, 1);
  SHAPE(r, 1, 1);
  EXPECT(r, GRAPHC_I64, 0, 2);
  gc_tensor_free(&r);

  gc_graph *g = new_graph();
  int b = input(g, "b", GRAPHC_BOOL, "[3]");
  node_fails(g, "argmax", &b, 1, NULL, 0, "bool[3]");
  g = new_graph(); /* empty at run time: no maximum */
  int e = input(g, "e", GRAPHC_F32, "[N]");
  int y = node(g, "argmax", &e, 1, NULL, 0);
  gc_tensor in = T(GRAPHC_F32, S(0), 0);
  run_fails(g, y, &in, 1, GRAPHC_STATUS_OUT_OF_RANGE, "argmax");
}

/* ---- softmax -------------------------------------------------------------- */

Test(reduce_nn, softmax_stable) {
  graphc_attr_t d = A_INT("dim", -1);
  /* exp(1000) overflows and exp(-1000) underflows without subtracting the max */
  gc_tensor r = op1("softmax", T(GRAPHC_F64, S(2, 2), 1000, 1001, -1001, -1000), "[2, 2]", &d, 1);
  EXPECT(r, GRAPHC_F64, 1e-15, 0.2689414213699951, 0.7310585786300049, 0.2689414213699951,
         0.7310585786300049);
  gc_tensor_free(&r);
  r = op1("log_softmax", T(GRAPHC_F64, S(2, 2), 1000, 1001, -INFINITY, 0), "[2, 2]", &d, 1);
  EXPECT(r, GRAPHC_F64, 1e-15, -1.3132616875182228, -0.3132616875182228, -INFINITY, 0);
  gc_tensor_free(&r);
  /* along dim 0 of a [2, 2] */
  graphc_attr_t d0 = A_INT("dim", 0);
  r = op1("softmax", T(GRAPHC_F32, S(2, 2), 0, 5, 0, 5), "[2, 2]", &d0, 1);
  EXPECT(r, GRAPHC_F32, 0, 0.5, 0.5, 0.5, 0.5);
  gc_tensor_free(&r);
  r = op1("log_softmax", T0(GRAPHC_F32, 3), "[]", &d0, 1);
  EXPECT(r, GRAPHC_F32, 0, 0);
  gc_tensor_free(&r);

  gc_graph *g = new_graph();
  int i = input(g, "i", GRAPHC_I64, "[3]"), x = input(g, "x", GRAPHC_F32, "[3]");
  node_fails(g, "softmax", &i, 1, &d, 1, "float");
  graphc_attr_t bad = A_INT("dim", 1);
  node_fails(g, "log_softmax", &x, 1, &bad, 1, "out of range");
}

/* ---- layer_norm ------------------------------------------------------------ */

Test(reduce_nn, layer_norm) {
  gc_graph *g = new_graph();
  int v[3] = {input(g, "x", GRAPHC_F64, "[2, C]"), input(g, "w", GRAPHC_F64, "[C]"),
              input(g, "b", GRAPHC_F64, "[C]")};
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
  int x = input(g, "x", GRAPHC_F64, "[2, 2]");
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
  gc_graph *g = new_graph();
  int x = input(g, "x", GRAPHC_F32, "[2, C]"), w4 = input(g, "w", GRAPHC_F32, "[4]");
  int wh = input(g, "wh", GRAPHC_F16, "[C]"), i = input(g, "i", GRAPHC_I32, "[2, C]");
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
  gc_graph *g = new_graph();
  int v[2] = {input(g, "logits", GRAPHC_F64, "[N, 3]"), input(g, "target", GRAPHC_I64, "[N]")};
  *y = node(g, "cross_entropy", v, 2, attrs, nattrs);
  return g;
}

static double ce(const graphc_attr_t *attrs, int nattrs, double t0, double t1) {
  int y;
  gc_graph *g = ce_graph(attrs, nattrs, &y);
  gc_tensor ins[2] = {T(GRAPHC_F64, S(2, 3), 1, 2, 3, 1, 1, 1), T(GRAPHC_I64, S(2), t0, t1)};
  gc_tensor r = run(g, y, ins, 2);
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
  gc_graph *g = ce_graph(NULL, 0, &y);
  gc_tensor ins[2] = {T(GRAPHC_F64, S(2, 3), 1, 2, 3, 1, 1, 1), T(GRAPHC_I64, S(2), 0, 3)};
  run_fails(g, y, ins, 2, GRAPHC_STATUS_OUT_OF_RANGE, "out of range");
  g = new_graph();
  int lg = input(g, "logits", GRAPHC_F32, "[N, C]"), t32 = input(g, "t32", GRAPHC_I32, "[N]");
  int tm = input(g, "tm", GRAPHC_I64, "[M]"), l1 = input(g, "l1", GRAPHC_F32, "[C]");
  node_fails(g, "cross_entropy", (int[]){lg, t32}, 2, NULL, 0, "operand 1 (target)");
  node_fails(g, "cross_entropy", (int[]){lg, tm}, 2, NULL, 0, "i64[N]");
  node_fails(g, "cross_entropy", (int[]){l1, tm}, 2, NULL, 0, "operand 0 (logits)");
  int t = input(g, "t", GRAPHC_I64, "[N]");
  graphc_attr_t bad = A_FLOAT("label_smoothing", 1.5);
  node_fails(g, "cross_entropy", (int[]){lg, t}, 2, &bad, 1, "label_smoothing");
}

/* ---- mse_loss -------------------------------------------------------------- */

Test(reduce_nn, mse_loss) {
  static const char *const red[3] = {"mean", "sum", "none"};
  for (int k = 0; k < 3; k++) {
    gc_graph *g = new_graph();
    int v[2] = {input(g, "a", GRAPHC_F32, "[2, 2]"), input(g, "b", GRAPHC_I64, "[2]")};
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
  gc_graph *g = new_graph();
  int a = input(g, "a", GRAPHC_F32, "[3]"), i = input(g, "i", GRAPHC_I64, "[3]");
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

static gc_tensor dropout(double p, bool train, int64_t seed, gc_tensor x, const char *shape) {
  gc_graph *g = new_graph();
  int v[2] = {input(g, "x", x.dtype, shape), input(g, "seed", GRAPHC_I64, "[]")};
  graphc_attr_t a[2] = {A_FLOAT("p", p), A_BOOL("train", train)};
  int y = node(g, "dropout", v, 2, a, 2);
  gc_tensor ins[2] = {x, T0(GRAPHC_I64, (double)seed)};
  return run(g, y, ins, 2);
}

Test(reduce_nn, dropout_mask) {
  enum { N = 4000 };
  static double ones[N];
  for (int i = 0; i < N; i++) ones[i] = 1;
  gc_tensor r = dropout(0.25, true, 42, tens(GRAPHC_F32, 1, S(N), ones), "[4000]");
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
  r = dropout(0.25, true, 43, tens(GRAPHC_F32, 1, S(N), ones), "[4000]");
  int differ = 0;
  for (int i = 0; i < N; i++) differ += (gc_tensor_getf(&r, i) != 0) != reference_keep(42, i, 0.25);
  cr_expect(differ > 100, "seeds 42 and 43 give nearly the same mask (%d differ)", differ);
  gc_tensor_free(&r);
}

Test(reduce_nn, dropout_identity_and_all) {
  gc_tensor r = dropout(0.9, false, 1, T(GRAPHC_F32, S(3), 1, NAN, -3), "[3]");
  EXPECT(r, GRAPHC_F32, 0, 1, NAN, -3);
  gc_tensor_free(&r);
  r = dropout(0, true, 1, T(GRAPHC_F16, S(2), 1.5, 2), "[2]");
  EXPECT(r, GRAPHC_F16, 0, 1.5, 2);
  gc_tensor_free(&r);
  r = dropout(1, true, 1, T(GRAPHC_F32, S(3), 1, 2, 3), "[3]");
  EXPECT(r, GRAPHC_F32, 0, 0, 0, 0);
  gc_tensor_free(&r);
  r = dropout(0.5, false, 1, T(GRAPHC_I64, S(2), 7, 8), "[2]");
  EXPECT(r, GRAPHC_I64, 0, 7, 8);
  gc_tensor_free(&r);

  gc_graph *g = new_graph();
  int x = input(g, "x", GRAPHC_F32, "[3]"), s32 = input(g, "s32", GRAPHC_I32, "[]");
  int s = input(g, "s", GRAPHC_I64, "[]"), i = input(g, "i", GRAPHC_I64, "[3]");
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
