/* Tests for lib/ops/ops_linalg.c: matmul, linear, conv2d, max_pool2d,
 * avg_pool2d, adaptive_avg_pool2d. Graphs are built with the internal
 * builder and run by the reference interpreter; expected numbers are
 * worked out by hand in the comments. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "graphc/context.h"
#include "interp/interp_internal.h"
#include "ir/op.h"

#define OK(expr)                                                                   \
  do {                                                                             \
    graphc_status_t ok_st_ = (expr);                                               \
    cr_assert(ok_st_ == NULL, "%s failed: %s", #expr, graphc_status_message(ok_st_)); \
  } while (0)

static graphc_context_t *ctx;
static gc_graph *g;

static void setup(void) {
  OK(graphc_context_create(NULL, &ctx));
  OK(gc_graph_new(ctx, "t", NULL, &g));
}
static void teardown(void) { graphc_context_release(ctx); }

TestSuite(ops_linalg, .init = setup, .fini = teardown);

/* A type from "f32" and "B, 3, 4" ("" = rank 0). */
static gc_type T(gc_dtype dt, const char *shape) {
  gc_type t = {.dtype = dt};
  const char *p = shape;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    if (!*p) break;
    size_t used;
    OK(gc_dim_parse(gc_graph_dims(g), p, strlen(p), true, &t.dims[t.rank], &used));
    t.rank++;
    p += used;
  }
  return t;
}

static int input(const char *name, gc_dtype dt, const char *shape) {
  gc_type t = T(dt, shape);
  int v;
  OK(gc_graph_add_input(g, name, GRAPHC_ROLE_INPUT, &t, (gc_loc){0, 0}, &v));
  return v;
}

static graphc_status_t try_node(const char *op, const int *ops, int nops, const graphc_attr_t *attrs,
                                int nattrs, int *out_value) {
  int node;
  graphc_status_t st =
      gc_graph_add_node(g, op, ops, nops, attrs, nattrs, NULL, 0, NULL, (gc_loc){0, 0}, &node);
  if (!st) *out_value = g->nodes[node].results[0];
  return st;
}

static int node(const char *op, const int *ops, int nops, const graphc_attr_t *attrs, int nattrs) {
  int v = -1;
  OK(try_node(op, ops, nops, attrs, nattrs, &v));
  return v;
}

/* Asserts adding the node fails with a VERIFY_ERROR mentioning `needle`. */
static void node_err(const char *op, const int *ops, int nops, const graphc_attr_t *attrs,
                     int nattrs, const char *needle) {
  int v;
  graphc_status_t st = try_node(op, ops, nops, attrs, nattrs, &v);
  cr_assert(st != NULL, "%s unexpectedly type-checked", op);
  cr_assert_eq(graphc_status_code(st), GRAPHC_STATUS_VERIFY_ERROR, "%s",
               graphc_status_message(st));
  cr_assert(strstr(graphc_status_message(st), needle), "message '%s' lacks '%s'",
            graphc_status_message(st), needle);
  graphc_status_free(st);
}

static graphc_attr_t A_INTS(const char *name, const int64_t *v, int n) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_INTS, .ints = v, .count = n};
}
static graphc_attr_t A_INT(const char *name, int64_t v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_INT, .i = v};
}
static graphc_attr_t A_BOOL(const char *name, bool v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_BOOL, .i = v};
}

/* The result type of value v as text. */
static const char *type_of(int v) {
  static char buf[256];
  gc_type_format(gc_graph_dims(g), &g->values[v].type, buf, sizeof buf);
  return buf;
}

/* A tensor with the given shape (rank entries) and values. */
static gc_tensor mk(gc_dtype dt, int rank, const int64_t *shape, const double *vals) {
  gc_tensor t;
  OK(gc_tensor_alloc(&t, dt, rank, shape, 0));
  for (int64_t i = 0; i < t.numel; i++) gc_tensor_setf(&t, i, vals ? vals[i] : (double)(i + 1));
  return t;
}

/* Runs g with output `out` on `ins`; returns the output tensor. */
static gc_tensor run(int out, gc_tensor *ins, int nins) {
  OK(gc_graph_set_outputs(g, &out, 1));
  gc_tensor res;
  OK(gc_interp_run_tensors(g, 0, ins, nins, &res));
  for (int i = 0; i < nins; i++) gc_tensor_free(&ins[i]);
  return res;
}

static void expect(gc_tensor *t, int rank, const int64_t *shape, const double *want) {
  cr_assert_eq(t->rank, rank);
  for (int i = 0; i < rank; i++) cr_assert_eq(t->shape[i], shape[i], "dim %d: %lld", i, (long long)t->shape[i]);
  for (int64_t i = 0; i < t->numel; i++) {
    double got = gc_tensor_getf(t, i);
    if (isnan(want[i])) cr_assert(isnan(got), "[%lld]: %g, want nan", (long long)i, got);
    else cr_assert(fabs(got - want[i]) <= 1e-9 * (1 + fabs(want[i])), "[%lld]: %.17g, want %.17g",
                   (long long)i, got, want[i]);
  }
  gc_tensor_free(t);
}

/* ---- matmul ---------------------------------------------------------------- */

Test(ops_linalg, matmul_2d) {
  int a = input("a", GRAPHC_F32, "2, 3"), b = input("b", GRAPHC_F32, "3, 2");
  int r = node("matmul", (int[]){a, b}, 2, NULL, 0);
  cr_assert_str_eq(type_of(r), "f32[2, 2]");
  /* [[1,2,3],[4,5,6]] . [[1,2],[3,4],[5,6]] = [[22,28],[49,64]] */
  gc_tensor ins[2] = {mk(GRAPHC_F32, 2, (int64_t[]){2, 3}, NULL), mk(GRAPHC_F32, 2, (int64_t[]){3, 2}, NULL)};
  gc_tensor res = run(r, ins, 2);
  expect(&res, 2, (int64_t[]){2, 2}, (double[]){22, 28, 49, 64});
}

Test(ops_linalg, matmul_vector_cases) {
  int v = input("v", GRAPHC_F64, "3"), w = input("w", GRAPHC_F64, "3");
  int m = input("m", GRAPHC_F64, "3, 2"), n = input("n", GRAPHC_F64, "2, 3");
  int dot = node("matmul", (int[]){v, w}, 2, NULL, 0);
  int vm = node("matmul", (int[]){v, m}, 2, NULL, 0);
  int nv = node("matmul", (int[]){n, v}, 2, NULL, 0);
  cr_assert_str_eq(type_of(dot), "f64[]");
  cr_assert_str_eq(type_of(vm), "f64[2]");
  cr_assert_str_eq(type_of(nv), "f64[2]");
  OK(gc_graph_set_outputs(g, (int[]){dot, vm, nv}, 3));
  gc_tensor ins[4] = {mk(GRAPHC_F64, 1, (int64_t[]){3}, (double[]){1, 2, 3}),
                      mk(GRAPHC_F64, 1, (int64_t[]){3}, (double[]){4, 5, 6}),
                      mk(GRAPHC_F64, 2, (int64_t[]){3, 2}, NULL),
                      mk(GRAPHC_F64, 2, (int64_t[]){2, 3}, NULL)};
  gc_tensor res[3];
  OK(gc_interp_run_tensors(g, 0, ins, 4, res));
  for (int i = 0; i < 4; i++) gc_tensor_free(&ins[i]);
  expect(&res[0], 0, NULL, (double[]){32});
  /* [1,2,3] . [[1,2],[3,4],[5,6]] = [22, 28] */
  expect(&res[1], 1, (int64_t[]){2}, (double[]){22, 28});
  /* [[1,2,3],[4,5,6]] . [1,2,3] = [14, 32] */
  expect(&res[2], 1, (int64_t[]){2}, (double[]){14, 32});
}

Test(ops_linalg, matmul_batched_broadcast) {
  /* a [2, 1, 1, 2] x b [3, 2, 1]: batch [2, 1] with [3] -> [2, 3]. */
  int a = input("a", GRAPHC_F32, "2, 1, 1, 2"), b = input("b", GRAPHC_F32, "3, 2, 1");
  int r = node("matmul", (int[]){a, b}, 2, NULL, 0);
  cr_assert_str_eq(type_of(r), "f32[2, 3, 1, 1]");
  /* a rows: [1,2], [3,4]; b columns: [1,2], [3,4], [5,6]. */
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, (int64_t[]){2, 1, 1, 2}, NULL),
                      mk(GRAPHC_F32, 3, (int64_t[]){3, 2, 1}, NULL)};
  gc_tensor res = run(r, ins, 2);
  expect(&res, 4, (int64_t[]){2, 3, 1, 1}, (double[]){5, 11, 17, 11, 25, 39});
}

Test(ops_linalg, matmul_vector_with_batch) {
  /* v [2] x b [2, 2, 3] -> [2, 3]; b [2, 3, 2] x v... */
  int v = input("v", GRAPHC_F32, "2"), b = input("b", GRAPHC_F32, "2, 2, 3");
  int c = input("c", GRAPHC_F32, "2, 3, 2");
  int vb = node("matmul", (int[]){v, b}, 2, NULL, 0);
  int cv = node("matmul", (int[]){c, v}, 2, NULL, 0);
  cr_assert_str_eq(type_of(vb), "f32[2, 3]");
  cr_assert_str_eq(type_of(cv), "f32[2, 3]");
  OK(gc_graph_set_outputs(g, (int[]){vb, cv}, 2));
  gc_tensor ins[3] = {mk(GRAPHC_F32, 1, (int64_t[]){2}, (double[]){1, -1}),
                      mk(GRAPHC_F32, 3, (int64_t[]){2, 2, 3}, NULL),
                      mk(GRAPHC_F32, 3, (int64_t[]){2, 3, 2}, NULL)};
  gc_tensor res[2];
  OK(gc_interp_run_tensors(g, 0, ins, 3, res));
  for (int i = 0; i < 3; i++) gc_tensor_free(&ins[i]);
  /* row0 - row1 of each [2,3] matrix: always -3; each row of c: x - (x+1) = -1 */
  expect(&res[0], 2, (int64_t[]){2, 3}, (double[]){-3, -3, -3, -3, -3, -3});
  expect(&res[1], 2, (int64_t[]){2, 3}, (double[]){-1, -1, -1, -1, -1, -1});
}

Test(ops_linalg, matmul_symbolic) {
  int a = input("a", GRAPHC_F32, "B, M, K"), b = input("b", GRAPHC_F32, "K, N");
  int r = node("matmul", (int[]){a, b}, 2, NULL, 0);
  cr_assert_str_eq(type_of(r), "f32[B, M, N]");
  int c = input("c", GRAPHC_F32, "J, N");
  node_err("matmul", (int[]){a, c}, 2, NULL, 0, "contraction dims differ");
  int e = input("e", GRAPHC_F32, "C, K, N");
  node_err("matmul", (int[]){a, e}, 2, NULL, 0, "batch dims do not broadcast");
  int one = input("one", GRAPHC_F32, "1, K, N");
  int r2 = node("matmul", (int[]){a, one}, 2, NULL, 0);
  cr_assert_str_eq(type_of(r2), "f32[B, M, N]");
  /* Run with B=2, M=1, K=2, N=1: [[1,2]].[[1],[2]] = 5; [[3,4]] -> 11 */
  OK(gc_graph_set_outputs(g, &r, 1));
  gc_tensor res;
  gc_tensor ins[5] = {mk(GRAPHC_F32, 3, (int64_t[]){2, 1, 2}, NULL), mk(GRAPHC_F32, 2, (int64_t[]){2, 1}, NULL),
                      mk(GRAPHC_F32, 2, (int64_t[]){1, 1}, NULL), mk(GRAPHC_F32, 3, (int64_t[]){1, 2, 1}, NULL),
                      mk(GRAPHC_F32, 3, (int64_t[]){1, 2, 1}, NULL)};
  OK(gc_interp_run_tensors(g, 0, ins, 5, &res));
  for (int i = 0; i < 5; i++) gc_tensor_free(&ins[i]);
  expect(&res, 3, (int64_t[]){2, 1, 1}, (double[]){5, 11});
}

Test(ops_linalg, matmul_type_errors) {
  int a = input("a", GRAPHC_F32, "2, 3"), b = input("b", GRAPHC_F64, "3, 2");
  int s = input("s", GRAPHC_F32, ""), bb = input("bb", GRAPHC_BOOL, "3, 3");
  node_err("matmul", (int[]){a, b}, 2, NULL, 0, "operand 1 (b): expected dtype f32");
  node_err("matmul", (int[]){a, s}, 2, NULL, 0, "at least 1 dim");
  node_err("matmul", (int[]){bb, bb}, 2, NULL, 0, "float or integer dtype, got bool[3, 3]");
}

Test(ops_linalg, matmul_int_and_half) {
  int a = input("a", GRAPHC_I64, "2, 2"), h = input("h", GRAPHC_F16, "1, 3");
  int hb = input("hb", GRAPHC_F16, "3, 1");
  int r = node("matmul", (int[]){a, a}, 2, NULL, 0);
  int rh = node("matmul", (int[]){h, hb}, 2, NULL, 0);
  cr_assert_str_eq(type_of(r), "i64[2, 2]");
  cr_assert_str_eq(type_of(rh), "f16[1, 1]");
  OK(gc_graph_set_outputs(g, (int[]){r, rh}, 2));
  /* f16: 2048 + 1 + 1 accumulated exactly is 2050 (representable); a
   * f16 running sum would stick at 2048. */
  gc_tensor ins[3] = {mk(GRAPHC_I64, 2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 4}),
                      mk(GRAPHC_F16, 2, (int64_t[]){1, 3}, (double[]){2048, 1, 1}),
                      mk(GRAPHC_F16, 2, (int64_t[]){3, 1}, (double[]){1, 1, 1})};
  gc_tensor res[2];
  OK(gc_interp_run_tensors(g, 0, ins, 3, res));
  for (int i = 0; i < 3; i++) gc_tensor_free(&ins[i]);
  expect(&res[0], 2, (int64_t[]){2, 2}, (double[]){7, 10, 15, 22});
  expect(&res[1], 2, (int64_t[]){1, 1}, (double[]){2050});
}

/* ---- linear ---------------------------------------------------------------- */

Test(ops_linalg, linear) {
  int x = input("x", GRAPHC_F32, "B, 2, 3"), w = input("w", GRAPHC_F32, "2, 3");
  int b = input("b", GRAPHC_F32, "2");
  int r = node("linear", (int[]){x, w, b}, 3, NULL, 0);
  int r0 = node("linear", (int[]){x, w}, 2, NULL, 0);
  cr_assert_str_eq(type_of(r), "f32[B, 2, 2]");
  OK(gc_graph_set_outputs(g, (int[]){r, r0}, 2));
  /* x rows [1,2,3], [4,5,6]; w rows [1,0,0], [1,1,1]; bias [10, 20] */
  gc_tensor ins[3] = {mk(GRAPHC_F32, 3, (int64_t[]){1, 2, 3}, NULL),
                      mk(GRAPHC_F32, 2, (int64_t[]){2, 3}, (double[]){1, 0, 0, 1, 1, 1}),
                      mk(GRAPHC_F32, 1, (int64_t[]){2}, (double[]){10, 20})};
  gc_tensor res[2];
  OK(gc_interp_run_tensors(g, 0, ins, 3, res));
  for (int i = 0; i < 3; i++) gc_tensor_free(&ins[i]);
  expect(&res[0], 3, (int64_t[]){1, 2, 2}, (double[]){11, 26, 14, 35});
  expect(&res[1], 3, (int64_t[]){1, 2, 2}, (double[]){1, 6, 4, 15});
}

Test(ops_linalg, linear_errors) {
  int x = input("x", GRAPHC_F32, "4, 3"), w = input("w", GRAPHC_F32, "2, 5");
  int w3 = input("w3", GRAPHC_F32, "2, 3, 1"), b = input("b", GRAPHC_F32, "3");
  int w2 = input("w2", GRAPHC_F32, "2, 3");
  node_err("linear", (int[]){x, w}, 2, NULL, 0, "operand 1 (weight): expected [N, 3]");
  node_err("linear", (int[]){x, w3}, 2, NULL, 0, "operand 1 (weight): expected rank 2");
  node_err("linear", (int[]){x, w2, b}, 3, NULL, 0, "operand 2 (bias): expected [2]");
}

/* ---- conv2d ---------------------------------------------------------------- */

Test(ops_linalg, conv2d_stride_padding) {
  int x = input("x", GRAPHC_F32, "1, 1, 4, 4"), w = input("w", GRAPHC_F32, "1, 1, 2, 2");
  int64_t two[] = {2}, one[] = {1};
  graphc_attr_t at[] = {A_INTS("stride", two, 1), A_INTS("padding", one, 1)};
  int r = node("conv2d", (int[]){x, w}, 2, at, 2);
  /* (4 + 2 - 1 - 1) // 2 + 1 = 3 */
  cr_assert_str_eq(type_of(r), "f32[1, 1, 3, 3]");
  /* x = 1..16 row-major, w = [[1,0],[0,1]]: out = x[r-1][c-1] + x[r][c] for
   * window top-left (r-1, c-1) = (2i-1, 2j-1), zero outside. */
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 4, 4}, NULL),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 2, 2}, (double[]){1, 0, 0, 1})};
  gc_tensor res = run(r, ins, 2);
  expect(&res, 4, (int64_t[]){1, 1, 3, 3},
         (double[]){1, 3, 0, 9, 6 + 11, 8, 0, 14 + 0, 16 + 0});
}

Test(ops_linalg, conv2d_groups_bias_unbatched) {
  /* [C=2, 2, 2] with groups=2: each channel scaled by its own 1x1 weight. */
  int x = input("x", GRAPHC_F32, "2, 2, 2"), w = input("w", GRAPHC_F32, "2, 1, 1, 1");
  int b = input("b", GRAPHC_F32, "2");
  graphc_attr_t at[] = {A_INT("groups", 2)};
  int r = node("conv2d", (int[]){x, w, b}, 3, at, 1);
  cr_assert_str_eq(type_of(r), "f32[2, 2, 2]");
  gc_tensor ins[3] = {mk(GRAPHC_F32, 3, (int64_t[]){2, 2, 2}, NULL),
                      mk(GRAPHC_F32, 4, (int64_t[]){2, 1, 1, 1}, (double[]){2, -1}),
                      mk(GRAPHC_F32, 1, (int64_t[]){2}, (double[]){0.5, 100})};
  gc_tensor res = run(r, ins, 3);
  expect(&res, 3, (int64_t[]){2, 2, 2}, (double[]){2.5, 4.5, 6.5, 8.5, 95, 94, 93, 92});
}

Test(ops_linalg, conv2d_dilation_multichannel) {
  /* x [1, 2, 3, 3] (values 1..18), w [1, 2, 2, 2] all ones, dilation 2:
   * one output = sum of the corners of both channels =
   * (1+3+7+9) + (10+12+16+18) = 20 + 56 = 76 */
  int x = input("x", GRAPHC_F32, "1, 2, 3, 3"), w = input("w", GRAPHC_F32, "1, 2, 2, 2");
  int64_t d2[] = {2, 2};
  graphc_attr_t at[] = {A_INTS("dilation", d2, 2)};
  int r = node("conv2d", (int[]){x, w}, 2, at, 1);
  cr_assert_str_eq(type_of(r), "f32[1, 1, 1, 1]");
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 2, 3, 3}, NULL),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 2, 2, 2}, (double[]){1, 1, 1, 1, 1, 1, 1, 1})};
  gc_tensor res = run(r, ins, 2);
  expect(&res, 4, (int64_t[]){1, 1, 1, 1}, (double[]){76});
}

Test(ops_linalg, conv2d_symbolic) {
  int x = input("x", GRAPHC_F32, "N, 3, H, W"), w = input("w", GRAPHC_F32, "8, 3, 3, 3");
  int64_t two[] = {2, 2}, one[] = {1, 1};
  graphc_attr_t at[] = {A_INTS("stride", two, 2), A_INTS("padding", one, 2)};
  int r = node("conv2d", (int[]){x, w}, 2, at, 2);
  gc_type want = T(GRAPHC_F32, "N, 8, (H + 2 - 3) // 2 + 1, (W - 1) // 2 + 1");
  cr_assert(gc_type_equal(&g->values[r].type, &want), "got %s", type_of(r));
  /* Runs with H=5, W=6: sizes 3 and 3. */
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 3, 5, 6}, NULL),
                      mk(GRAPHC_F32, 4, (int64_t[]){8, 3, 3, 3}, NULL)};
  gc_tensor res = run(r, ins, 2);
  cr_assert_eq(res.shape[2], 3);
  cr_assert_eq(res.shape[3], 3);
  gc_tensor_free(&res);
}

Test(ops_linalg, conv2d_errors) {
  int x = input("x", GRAPHC_F32, "1, 4, 5, 5"), w = input("w", GRAPHC_F32, "6, 3, 3, 3");
  int w2 = input("w2", GRAPHC_F32, "3, 2, 3, 3"), w7 = input("w7", GRAPHC_F32, "2, 4, 7, 7");
  int xi = input("xi", GRAPHC_I64, "1, 4, 5, 5");
  node_err("conv2d", (int[]){x, w}, 2, NULL, 0, "expected 4 input channels");
  graphc_attr_t g2[] = {A_INT("groups", 2)};
  node_err("conv2d", (int[]){x, w2}, 2, g2, 1, "divisible by groups=2");
  node_err("conv2d", (int[]){x, w7}, 2, NULL, 0, "smaller than the dilated kernel size 7");
  node_err("conv2d", (int[]){xi, w7}, 2, NULL, 0, "expected a float dtype");
  int64_t bad[] = {1, 2, 3};
  graphc_attr_t s3[] = {A_INTS("stride", bad, 3)};
  int w4 = input("w4", GRAPHC_F32, "2, 4, 3, 3");
  node_err("conv2d", (int[]){x, w4}, 2, s3, 1, "attribute 'stride': expected 1 or 2 values");
  int64_t zero[] = {0};
  graphc_attr_t s0[] = {A_INTS("stride", zero, 1)};
  node_err("conv2d", (int[]){x, w4}, 2, s0, 1, "attribute 'stride'");
}

/* ---- pooling --------------------------------------------------------------- */

Test(ops_linalg, max_pool2d_basic_and_padding) {
  int x = input("x", GRAPHC_F32, "1, 1, 4, 4"), y = input("y", GRAPHC_F32, "1, 3, 3");
  int64_t k2[] = {2}, p1[] = {1};
  graphc_attr_t a1[] = {A_INTS("kernel_size", k2, 1)};
  graphc_attr_t a2[] = {A_INTS("kernel_size", k2, 1), A_INTS("padding", p1, 1)};
  int r1 = node("max_pool2d", &x, 1, a1, 1);
  int r2 = node("max_pool2d", &y, 1, a2, 2);
  cr_assert_str_eq(type_of(r1), "f32[1, 1, 2, 2]");
  cr_assert_str_eq(type_of(r2), "f32[1, 2, 2]");
  OK(gc_graph_set_outputs(g, (int[]){r1, r2}, 2));
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 4, 4}, NULL), mk(GRAPHC_F32, 3, (int64_t[]){1, 3, 3}, NULL)};
  gc_tensor res[2];
  OK(gc_interp_run_tensors(g, 0, ins, 2, res));
  for (int i = 0; i < 2; i++) gc_tensor_free(&ins[i]);
  expect(&res[0], 4, (int64_t[]){1, 1, 2, 2}, (double[]){6, 8, 14, 16});
  /* windows rows {-1,0},{1,2} x cols {-1,0},{1,2} over 1..9 */
  expect(&res[1], 3, (int64_t[]){1, 2, 2}, (double[]){1, 3, 7, 9});
}

Test(ops_linalg, max_pool2d_ceil_mode) {
  int x = input("x", GRAPHC_F32, "1, 1, 5, 5"), z = input("z", GRAPHC_F32, "1, 1, 4, 4");
  int64_t k2[] = {2}, k1[] = {1}, s2[] = {2};
  graphc_attr_t a1[] = {A_INTS("kernel_size", k2, 1), A_BOOL("ceil_mode", true)};
  /* kernel 1, stride 2 on 4: ceil((4-1)/2)+1 = 3 windows, but the last one
   * would start at 4, outside the input: PyTorch drops it -> 2. */
  graphc_attr_t a2[] = {A_INTS("kernel_size", k1, 1), A_INTS("stride", s2, 1),
                        A_BOOL("ceil_mode", true)};
  int r1 = node("max_pool2d", &x, 1, a1, 2);
  int r2 = node("max_pool2d", &z, 1, a2, 3);
  cr_assert_str_eq(type_of(r1), "f32[1, 1, 3, 3]");
  cr_assert_str_eq(type_of(r2), "f32[1, 1, 2, 2]");
  OK(gc_graph_set_outputs(g, (int[]){r1, r2}, 2));
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 5, 5}, NULL),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 4, 4}, NULL)};
  gc_tensor res[2];
  OK(gc_interp_run_tensors(g, 0, ins, 2, res));
  for (int i = 0; i < 2; i++) gc_tensor_free(&ins[i]);
  expect(&res[0], 4, (int64_t[]){1, 1, 3, 3}, (double[]){7, 9, 10, 17, 19, 20, 22, 24, 25});
  expect(&res[1], 4, (int64_t[]){1, 1, 2, 2}, (double[]){1, 3, 9, 11});
}

Test(ops_linalg, max_pool2d_symbolic_ceil) {
  int x = input("x", GRAPHC_F32, "N, C, H, W");
  int64_t k3[] = {3}, s2[] = {2}, p1[] = {1}, k1[] = {1};
  graphc_attr_t a1[] = {A_INTS("kernel_size", k3, 1), A_INTS("stride", s2, 1),
                        A_INTS("padding", p1, 1), A_BOOL("ceil_mode", true)};
  graphc_attr_t a2[] = {A_INTS("kernel_size", k1, 1), A_INTS("stride", s2, 1),
                        A_BOOL("ceil_mode", true)};
  int r1 = node("max_pool2d", &x, 1, a1, 4);
  int r2 = node("max_pool2d", &x, 1, a2, 3);
  gc_type w1 = T(GRAPHC_F32, "N, C, H // 2 + 1, W // 2 + 1");
  gc_type w2 = T(GRAPHC_F32, "N, C, (H + 1) // 2, (W + 1) // 2");
  cr_assert(gc_type_equal(&g->values[r1].type, &w1), "got %s", type_of(r1));
  cr_assert(gc_type_equal(&g->values[r2].type, &w2), "got %s", type_of(r2));
  /* H=5, W=6: PyTorch gives 3x4 and 3x3. */
  OK(gc_graph_set_outputs(g, (int[]){r1, r2}, 2));
  gc_tensor ins[1] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 5, 6}, NULL)};
  gc_tensor res[2];
  OK(gc_interp_run_tensors(g, 0, ins, 1, res));
  gc_tensor_free(&ins[0]);
  cr_assert(res[0].shape[2] == 3 && res[0].shape[3] == 4);
  cr_assert(res[1].shape[2] == 3 && res[1].shape[3] == 3);
  /* r1 row 0 covers rows {0,1}: cols {0,1} -> 8; the last window, col {5} -> 12 */
  cr_assert_eq(gc_tensor_getf(&res[0], 0), 8);
  cr_assert_eq(gc_tensor_getf(&res[0], 3), 12);
  gc_tensor_free(&res[0]);
  gc_tensor_free(&res[1]);
}

Test(ops_linalg, max_pool2d_dilation_nan_int) {
  int x = input("x", GRAPHC_F32, "1, 1, 3, 3"), xi = input("xi", GRAPHC_I32, "1, 1, 2, 2");
  int64_t k2[] = {2}, d2[] = {2};
  graphc_attr_t a1[] = {A_INTS("kernel_size", k2, 1), A_INTS("dilation", d2, 1)};
  graphc_attr_t a2[] = {A_INTS("kernel_size", k2, 1)};
  int r1 = node("max_pool2d", &x, 1, a1, 2);
  int r2 = node("max_pool2d", &xi, 1, a2, 1);
  cr_assert_str_eq(type_of(r1), "f32[1, 1, 1, 1]");
  cr_assert_str_eq(type_of(r2), "i32[1, 1, 1, 1]");
  OK(gc_graph_set_outputs(g, (int[]){r1, r2}, 2));
  /* corners 1, 3, 7, 9 except 3 is NaN -> NaN; the centre 100 is skipped */
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 3, 3}, (double[]){1, 2, NAN, 4, 100, 6, 7, 8, 9}),
                      mk(GRAPHC_I32, 4, (int64_t[]){1, 1, 2, 2}, (double[]){-5, -2, -9, -3})};
  gc_tensor res[2];
  OK(gc_interp_run_tensors(g, 0, ins, 2, res));
  for (int i = 0; i < 2; i++) gc_tensor_free(&ins[i]);
  expect(&res[0], 4, (int64_t[]){1, 1, 1, 1}, (double[]){NAN});
  expect(&res[1], 4, (int64_t[]){1, 1, 1, 1}, (double[]){-2});
}

Test(ops_linalg, pool_errors) {
  int x = input("x", GRAPHC_F32, "1, 1, 3, 3"), x2 = input("x2", GRAPHC_F32, "3, 3");
  int64_t k2[] = {2}, p2[] = {2}, k5[] = {5}, k0[] = {0};
  graphc_attr_t a1[] = {A_INTS("kernel_size", k2, 1), A_INTS("padding", p2, 1)};
  graphc_attr_t a2[] = {A_INTS("kernel_size", k5, 1)};
  graphc_attr_t a3[] = {A_INTS("kernel_size", k0, 1)};
  graphc_attr_t a4[] = {A_INTS("kernel_size", k2, 1)};
  node_err("max_pool2d", &x, 1, a1, 2, "at most half of kernel_size");
  node_err("avg_pool2d", &x, 1, a1, 2, "at most half of kernel_size");
  node_err("max_pool2d", &x, 1, a2, 1, "output size is too small");
  node_err("max_pool2d", &x, 1, a3, 1, "attribute 'kernel_size'");
  node_err("max_pool2d", &x2, 1, a4, 1, "operand 0 (input): expected rank 4");
  int xi = input("xi", GRAPHC_I32, "1, 1, 4, 4");
  node_err("avg_pool2d", &xi, 1, a4, 1, "expected a float or i64 dtype");
  node_err("adaptive_avg_pool2d", &xi, 1, (graphc_attr_t[]){A_INTS("output_size", k2, 1)}, 1,
           "expected a float dtype");
}

Test(ops_linalg, avg_pool2d_padding_divisors) {
  int x = input("x", GRAPHC_F32, "1, 1, 3, 3");
  int64_t k2[] = {2}, p1[] = {1};
  graphc_attr_t a1[] = {A_INTS("kernel_size", k2, 1), A_INTS("padding", p1, 1)};
  graphc_attr_t a2[] = {A_INTS("kernel_size", k2, 1), A_INTS("padding", p1, 1),
                        A_BOOL("count_include_pad", false)};
  graphc_attr_t a3[] = {A_INTS("kernel_size", k2, 1), A_BOOL("ceil_mode", true)};
  int r1 = node("avg_pool2d", &x, 1, a1, 2);
  int r2 = node("avg_pool2d", &x, 1, a2, 3);
  int r3 = node("avg_pool2d", &x, 1, a3, 2);
  cr_assert_str_eq(type_of(r3), "f32[1, 1, 2, 2]");
  OK(gc_graph_set_outputs(g, (int[]){r1, r2, r3}, 3));
  gc_tensor ins[1] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 3, 3}, NULL)};
  gc_tensor res[3];
  OK(gc_interp_run_tensors(g, 0, ins, 1, res));
  gc_tensor_free(&ins[0]);
  /* windows: {1}, {2,3}, {4,7}, {5,6,8,9} */
  expect(&res[0], 4, (int64_t[]){1, 1, 2, 2}, (double[]){0.25, 1.25, 2.75, 7});
  expect(&res[1], 4, (int64_t[]){1, 1, 2, 2}, (double[]){1, 2.5, 5.5, 7});
  /* ceil mode: windows clipped to the input count only what is inside:
   * {1,2,4,5}/4, {3,6}/2, {7,8}/2, {9}/1 */
  expect(&res[2], 4, (int64_t[]){1, 1, 2, 2}, (double[]){3, 4.5, 7.5, 9});
}

Test(ops_linalg, adaptive_avg_pool2d) {
  int x = input("x", GRAPHC_F32, "1, 1, 5"), y = input("y", GRAPHC_F32, "N, C, H, W");
  int64_t o13[] = {1, 3}, o2[] = {2};
  graphc_attr_t a1[] = {A_INTS("output_size", o13, 2)};
  graphc_attr_t a2[] = {A_INTS("output_size", o2, 1)};
  int r1 = node("adaptive_avg_pool2d", &x, 1, a1, 1);
  int r2 = node("adaptive_avg_pool2d", &y, 1, a2, 1);
  cr_assert_str_eq(type_of(r1), "f32[1, 1, 3]");
  cr_assert_str_eq(type_of(r2), "f32[N, C, 2, 2]");
  OK(gc_graph_set_outputs(g, (int[]){r1, r2}, 2));
  gc_tensor ins[2] = {mk(GRAPHC_F32, 3, (int64_t[]){1, 1, 5}, NULL),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 3, 3}, NULL)};
  gc_tensor res[2];
  OK(gc_interp_run_tensors(g, 0, ins, 2, res));
  for (int i = 0; i < 2; i++) gc_tensor_free(&ins[i]);
  /* 5 -> 3: windows [0,2), [1,4), [3,5) */
  expect(&res[0], 3, (int64_t[]){1, 1, 3}, (double[]){1.5, 3, 4.5});
  /* 3 -> 2: windows [0,2), [1,3) in both dims over 1..9 */
  expect(&res[1], 4, (int64_t[]){1, 1, 2, 2}, (double[]){3, 4, 6, 7});
}

Test(ops_linalg, avg_pool2d_int64_truncates) {
  int x = input("x", GRAPHC_I64, "1, 1, 2, 2");
  int64_t k2[] = {2};
  graphc_attr_t a[] = {A_INTS("kernel_size", k2, 1)};
  int r = node("avg_pool2d", &x, 1, a, 1);
  cr_assert_str_eq(type_of(r), "i64[1, 1, 1, 1]");
  OK(gc_graph_set_outputs(g, &r, 1));
  /* (-1 - 2 - 3 - 1) / 4 = -7 / 4 -> -1 (toward zero, as C++ does) */
  gc_tensor ins[1] = {mk(GRAPHC_I64, 4, (int64_t[]){1, 1, 2, 2}, (double[]){-1, -2, -3, -1})};
  gc_tensor res = run(r, ins, 1);
  expect(&res, 4, (int64_t[]){1, 1, 1, 1}, (double[]){-1});
}

Test(ops_linalg, matmul_empty_contraction) {
  int a = input("a", GRAPHC_F32, "2, K"), b = input("b", GRAPHC_F32, "K, 3");
  int r = node("matmul", (int[]){a, b}, 2, NULL, 0);
  gc_tensor ins[2] = {mk(GRAPHC_F32, 2, (int64_t[]){2, 0}, NULL), mk(GRAPHC_F32, 2, (int64_t[]){0, 3}, NULL)};
  gc_tensor res = run(r, ins, 2);
  expect(&res, 2, (int64_t[]){2, 3}, (double[]){0, 0, 0, 0, 0, 0});
}

/* Symbolic inputs too small for the window fail at run time, not at build
 * time. */
static void expect_run_error(int out, const int64_t *xshape, const char *needle) {
  OK(gc_graph_set_outputs(g, &out, 1));
  int nin = g->ninputs;
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, xshape, NULL), mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 3, 3}, NULL)};
  gc_tensor res;
  graphc_status_t st = gc_interp_run_tensors(g, 0, ins, nin, &res);
  gc_tensor_free(&ins[0]);
  gc_tensor_free(&ins[1]);
  cr_assert(st != NULL, "ran");
  cr_assert_eq(graphc_status_code(st), GRAPHC_STATUS_OUT_OF_RANGE, "%s", graphc_status_message(st));
  cr_assert(strstr(graphc_status_message(st), needle), "%s", graphc_status_message(st));
  graphc_status_free(st);
}

Test(ops_linalg, conv2d_runtime_too_small) {
  /* H=2 with a 3x3 kernel: output H is 0 */
  int x = input("x", GRAPHC_F32, "1, 1, H, W"), w = input("w", GRAPHC_F32, "1, 1, 3, 3");
  int c = node("conv2d", (int[]){x, w}, 2, NULL, 0);
  expect_run_error(c, (int64_t[]){1, 1, 2, 3}, "smaller than the dilated kernel");
}

Test(ops_linalg, max_pool2d_runtime_too_small) {
  /* H=1 with a 2x2 window: output H is (1 - 2) // 2 + 1 = 0 */
  int x = input("x", GRAPHC_F32, "1, 1, H, W");
  int64_t k2[] = {2};
  graphc_attr_t a[] = {A_INTS("kernel_size", k2, 1)};
  int p = node("max_pool2d", &x, 1, a, 1);
  expect_run_error(p, (int64_t[]){1, 1, 1, 2}, "too small");
}
