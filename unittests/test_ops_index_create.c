/* Tests for lib/ops/ops_index.c and lib/ops/ops_create.c: inferred types,
 * interpreter results against hand-computed values, unbacked symbols
 * (nonzero, item) used downstream, and infer / eval errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "interp/interp_internal.h"
#include "ir/op.h"

/* ---- harness ------------------------------------------------------------ */

#define OK(expr)                                                                      \
  do {                                                                                \
    graphc_status_t ok_st_ = (expr);                                                  \
    cr_assert(ok_st_ == NULL, "%s failed: %s", #expr, graphc_status_message(ok_st_)); \
  } while (0)

static graphc_context_t *ctx;
static gc_graph *g;

static void setup(void) {
  OK(graphc_context_create(NULL, &ctx));
  OK(gc_graph_new(ctx, "t", NULL, &g));
}
static void teardown(void) { graphc_context_release(ctx); }

TestSuite(ops_ic, .init = setup, .fini = teardown);

typedef struct {
  gc_dim d[GC_MAX_RANK + 2];
  int n;
} dimlist;

/* "B, -1, 4" -> dim ids (new symbols are created). "" is rank 0. */
static dimlist DL(const char *s) {
  dimlist l = {.n = 0};
  size_t len = strlen(s), pos = 0;
  while (pos < len) {
    size_t used = 0;
    cr_assert(l.n < GC_MAX_RANK + 2);
    OK(gc_dim_parse(gc_graph_dims(g), s + pos, len - pos, true, &l.d[l.n++], &used));
    pos += used;
    while (pos < len && (s[pos] == ',' || s[pos] == ' ')) pos++;
  }
  return l;
}

static int input(const char *name, gc_dtype dt, const char *dims) {
  dimlist l = DL(dims);
  gc_type t = {.dtype = dt, .rank = l.n};
  memcpy(t.dims, l.d, sizeof(gc_dim) * (size_t)l.n);
  int v;
  OK(gc_graph_add_input(g, name, GRAPHC_ROLE_INPUT, &t, (gc_loc){0, 0}, &v));
  return v;
}

static graphc_attr_t A_INT(const char *name, int64_t v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_INT, .i = v};
}
static graphc_attr_t A_DIMS(const char *name, const dimlist *l) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_DIMS, .dims = l->d, .count = l->n};
}

static graphc_status_t try_node(const char *op, const int *ops, int nops,
                                const graphc_attr_t *attrs, int nattrs, int *node) {
  return gc_graph_add_node(g, op, ops, nops, attrs, nattrs, NULL, 0, NULL, (gc_loc){0, 0}, node);
}

/* Adds the node and returns its result `k`. */
static int node_k(const char *op, const int *ops, int nops, const graphc_attr_t *attrs, int nattrs,
                  int k) {
  int n;
  OK(try_node(op, ops, nops, attrs, nattrs, &n));
  cr_assert(k < g->nodes[n].nresults);
  return g->nodes[n].results[k];
}
static int node1(const char *op, int x, const graphc_attr_t *attrs, int nattrs) {
  return node_k(op, &x, 1, attrs, nattrs, 0);
}

/* Asserts adding the node fails with a verify error mentioning `needle`. */
static void expect_infer_error(const char *op, const int *ops, int nops, const graphc_attr_t *attrs,
                               int nattrs, const char *needle) {
  int n;
  graphc_status_t st = try_node(op, ops, nops, attrs, nattrs, &n);
  cr_assert(st != NULL, "%s unexpectedly type-checked", op);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_VERIFY_ERROR, "%s", graphc_status_message(st));
  cr_expect(strstr(graphc_status_message(st), needle) != NULL, "message '%s' lacks '%s'",
            graphc_status_message(st), needle);
  cr_expect(strstr(graphc_status_message(st), op) != NULL, "message does not name the op");
  graphc_status_free(st);
}

static void expect_type(int v, const char *want) {
  char buf[256];
  gc_type_format(gc_graph_dims(g), &g->values[v].type, buf, sizeof buf);
  cr_expect_str_eq(buf, want, "value type %s, want %s", buf, want);
}

static gc_tensor mk(gc_dtype dt, int rank, const int64_t *shape, const double *vals) {
  gc_tensor t;
  OK(gc_tensor_alloc(&t, dt, rank, shape, 0));
  for (int64_t i = 0; i < t.numel; i++) gc_tensor_setf(&t, i, vals[i]);
  return t;
}
/* 0, 1, 2, ... */
static gc_tensor iota(gc_dtype dt, int rank, const int64_t *shape) {
  gc_tensor t;
  OK(gc_tensor_alloc(&t, dt, rank, shape, 0));
  for (int64_t i = 0; i < t.numel; i++) gc_tensor_seti(&t, i, i);
  return t;
}

static void expect_tensor(const gc_tensor *t, gc_dtype dt, int rank, const int64_t *shape,
                          const double *vals) {
  cr_assert_eq(t->dtype, dt);
  cr_assert_eq(t->rank, rank);
  for (int d = 0; d < rank; d++) cr_assert_eq(t->shape[d], shape[d], "dim %d: %ld vs %ld", d,
                                              (long)t->shape[d], (long)shape[d]);
  for (int64_t i = 0; i < t->numel; i++)
    cr_expect_eq(gc_tensor_getf(t, i), vals[i], "element %ld: %g, want %g", (long)i,
                 gc_tensor_getf(t, i), vals[i]);
}

/* Runs g with outputs `outs` on inputs `in`. */
static graphc_status_t run(const int *outs, int nouts, gc_tensor *in, int nin, gc_tensor *out) {
  OK(gc_graph_set_outputs(g, outs, nouts));
  return gc_interp_run_tensors(g, 0, in, nin, out);
}

static void free_all(gc_tensor *t, int n) {
  for (int i = 0; i < n; i++) gc_tensor_free(&t[i]);
}

/* Asserts running fails with OUT_OF_RANGE mentioning `needle`. */
static void expect_eval_error(const int *outs, int nouts, gc_tensor *in, int nin,
                              const char *needle) {
  gc_tensor out[4];
  graphc_status_t st = run(outs, nouts, in, nin, out);
  cr_assert(st != NULL, "run unexpectedly succeeded");
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_OUT_OF_RANGE, "%s", graphc_status_message(st));
  cr_expect(strstr(graphc_status_message(st), needle) != NULL, "message '%s' lacks '%s'",
            graphc_status_message(st), needle);
  graphc_status_free(st);
}

static graphc_attr_t A_FLOAT(const char *name, double v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_FLOAT, .f = v};
}
static graphc_attr_t A_DTYPE(const char *name, gc_dtype dt) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_DTYPE, .dtype = dt};
}

/* ---- index_select -------------------------------------------------------- */

Test(ops_ic, index_select) {
  int x = input("x", GRAPHC_F32, "3, 2");
  int idx = input("idx", GRAPHC_I32, "K");
  int ops[] = {x, idx};
  int y = node_k("index_select", ops, 2, (graphc_attr_t[]){A_INT("dim", 0)}, 1, 0);
  expect_type(y, "f32[K, 2]");
  gc_tensor in[2] = {iota(GRAPHC_F32, 2, (int64_t[]){3, 2}),
                     mk(GRAPHC_I32, 1, (int64_t[]){4}, (double[]){2, 0, 2, 1})};
  gc_tensor out;
  OK(run(&y, 1, in, 2, &out));
  expect_tensor(&out, GRAPHC_F32, 2, (int64_t[]){4, 2}, (double[]){4, 5, 0, 1, 4, 5, 2, 3});
  free_all(&out, 1);
  gc_tensor_seti(&in[1], 3, 3);
  expect_eval_error(&y, 1, in, 2, "index 3 is out of range");
  gc_tensor_seti(&in[1], 3, -1);
  expect_eval_error(&y, 1, in, 2, "index -1 is out of range");
  free_all(in, 2);
}

Test(ops_ic, index_select_errors) {
  int x = input("x", GRAPHC_F32, "3, 2");
  int fi = input("fi", GRAPHC_F32, "2");
  int i2 = input("i2", GRAPHC_I64, "2, 2");
  int a[] = {x, fi}, b[] = {x, i2};
  graphc_attr_t d0[] = {A_INT("dim", 0)};
  expect_infer_error("index_select", a, 2, d0, 1, "operand 1 (index): expected an i32 or i64");
  expect_infer_error("index_select", b, 2, d0, 1, "operand 1 (index): expected rank 1");
  int c[] = {x, input("i1", GRAPHC_I64, "2")};
  expect_infer_error("index_select", c, 2, (graphc_attr_t[]){A_INT("dim", 2)}, 1, "out of range");
}

/* ---- gather -------------------------------------------------------------- */

Test(ops_ic, gather) {
  int x = input("x", GRAPHC_I64, "2, 3");
  int idx = input("idx", GRAPHC_I64, "2, 2");
  int ops[] = {x, idx};
  int y = node_k("gather", ops, 2, (graphc_attr_t[]){A_INT("dim", 1)}, 1, 0);
  expect_type(y, "i64[2, 2]");
  gc_tensor in[2] = {iota(GRAPHC_I64, 2, (int64_t[]){2, 3}),
                     mk(GRAPHC_I64, 2, (int64_t[]){2, 2}, (double[]){2, 0, 1, 1})};
  gc_tensor out;
  OK(run(&y, 1, in, 2, &out));
  /* out[i][j] = x[i][idx[i][j]] */
  expect_tensor(&out, GRAPHC_I64, 2, (int64_t[]){2, 2}, (double[]){2, 0, 4, 4});
  free_all(&out, 1);
  gc_tensor_seti(&in[1], 1, 3);
  expect_eval_error(&y, 1, in, 2, "index 3 is out of range");
  free_all(in, 2);
}

Test(ops_ic, gather_shapes) {
  int x = input("x", GRAPHC_F32, "B, 4");
  int small = input("small", GRAPHC_I64, "B, 9");
  int i3 = input("i3", GRAPHC_I64, "3, 2");
  int isym = input("isym", GRAPHC_I64, "S, 2");
  int big = input("big", GRAPHC_I64, "B, 5");
  int r1[] = {x, input("i1", GRAPHC_I64, "4")};
  graphc_attr_t d0[] = {A_INT("dim", 0)}, d1[] = {A_INT("dim", 1)};
  expect_type(node_k("gather", (int[]){x, small}, 2, d1, 1, 0), "f32[B, 9]");
  expect_infer_error("gather", r1, 2, d0, 1, "expected rank 2");
  expect_infer_error("gather", (int[]){x, i3}, 2, d1, 1, "provably <=");
  expect_infer_error("gather", (int[]){x, isym}, 2, d1, 1, "provably <=");
  expect_infer_error("gather", (int[]){x, big}, 2, d0, 1, "size 5 at dim 1");
}

/* ---- embedding ----------------------------------------------------------- */

Test(ops_ic, embedding) {
  int idx = input("idx", GRAPHC_I64, "2, 2");
  int w = input("w", GRAPHC_F16, "V, 3");
  int ops[] = {idx, w};
  int y = node_k("embedding", ops, 2, NULL, 0, 0);
  expect_type(y, "f16[2, 2, 3]");
  gc_tensor in[2] = {mk(GRAPHC_I64, 2, (int64_t[]){2, 2}, (double[]){1, 0, 1, 2}),
                     iota(GRAPHC_F16, 2, (int64_t[]){3, 3})};
  gc_tensor out;
  OK(run(&y, 1, in, 2, &out));
  expect_tensor(&out, GRAPHC_F16, 3, (int64_t[]){2, 2, 3},
                (double[]){3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  free_all(&out, 1);
  gc_tensor_seti(&in[0], 0, 3);
  expect_eval_error(&y, 1, in, 2, "embedding index 3");
  free_all(in, 2);
  int fw = input("fw", GRAPHC_F32, "3");
  expect_infer_error("embedding", (int[]){idx, fw}, 2, NULL, 0,
                     "operand 1 (weight): expected rank 2");
  expect_infer_error("embedding", (int[]){w, w}, 2, NULL, 0, "operand 0 (indices)");
}

/* ---- nonzero / item ------------------------------------------------------ */

Test(ops_ic, nonzero_binds_symbol) {
  int x = input("x", GRAPHC_F32, "2, 3");
  int n;
  OK(try_node("nonzero", &x, 1, NULL, 0, &n));
  int idx = g->nodes[n].results[0], cnt = g->nodes[n].results[1];
  const char *u = g->values[cnt].name;
  char want[64];
  snprintf(want, sizeof want, "i64[%s, 2]", u);
  expect_type(idx, want);
  expect_type(cnt, "i64[]");
  cr_expect_geq(g->values[cnt].sym, 0);
  /* A downstream op sized by the unbacked symbol. */
  dimlist s = DL(u);
  int z = node_k("ones", NULL, 0, (graphc_attr_t[]){A_DIMS("shape", &s)}, 1, 0);
  OK(gc_graph_verify(g)); /* re-inference reproduces the recorded types */
  gc_tensor in = mk(GRAPHC_F32, 2, (int64_t[]){2, 3}, (double[]){0, 1.5, 0, NAN, 0, -2});
  gc_tensor out[3];
  OK(run((int[]){idx, cnt, z}, 3, &in, 1, out));
  expect_tensor(&out[0], GRAPHC_I64, 2, (int64_t[]){3, 2}, (double[]){0, 1, 1, 0, 1, 2});
  expect_tensor(&out[1], GRAPHC_I64, 0, NULL, (double[]){3});
  expect_tensor(&out[2], GRAPHC_F32, 1, (int64_t[]){3}, (double[]){1, 1, 1});
  free_all(out, 3);
  free_all(&in, 1);
}

Test(ops_ic, nonzero_empty_and_scalar) {
  int x = input("x", GRAPHC_BOOL, "");
  int n;
  OK(try_node("nonzero", &x, 1, NULL, 0, &n));
  int *r = g->nodes[n].results;
  gc_tensor in = mk(GRAPHC_BOOL, 0, NULL, (double[]){0}), out[2];
  OK(run(r, 2, &in, 1, out));
  expect_tensor(&out[0], GRAPHC_I64, 2, (int64_t[]){0, 0}, NULL);
  expect_tensor(&out[1], GRAPHC_I64, 0, NULL, (double[]){0});
  free_all(out, 2);
  gc_tensor_seti(&in, 0, 1);
  OK(run(r, 2, &in, 1, out));
  expect_tensor(&out[0], GRAPHC_I64, 2, (int64_t[]){1, 0}, NULL);
  expect_tensor(&out[1], GRAPHC_I64, 0, NULL, (double[]){1});
  free_all(out, 2);
  free_all(&in, 1);
}

Test(ops_ic, item_sizes_arange) {
  int x = input("x", GRAPHC_I32, "1, 1");
  int v = node1("item", x, NULL, 0);
  expect_type(v, "i64[]");
  cr_assert_geq(g->values[v].sym, 0);
  dimlist e = DL(g->values[v].name);
  int a = node_k("arange", NULL, 0, (graphc_attr_t[]){A_DIMS("end", &e), A_INT("start", 1)}, 2, 0);
  OK(gc_graph_verify(g));
  gc_tensor in = mk(GRAPHC_I32, 2, (int64_t[]){1, 1}, (double[]){4}), out[2];
  OK(run((int[]){v, a}, 2, &in, 1, out));
  expect_tensor(&out[0], GRAPHC_I64, 0, NULL, (double[]){4});
  expect_tensor(&out[1], GRAPHC_I64, 1, (int64_t[]){3}, (double[]){1, 2, 3});
  free_all(out, 2);
  free_all(&in, 1);
}

Test(ops_ic, item_errors) {
  int f = input("f", GRAPHC_F32, "1");
  int many = input("many", GRAPHC_I64, "2");
  int sym = input("sym", GRAPHC_I64, "B");
  expect_infer_error("item", &f, 1, NULL, 0, "expected an integer or bool");
  expect_infer_error("item", &many, 1, NULL, 0, "exactly one element");
  expect_infer_error("item", &sym, 1, NULL, 0, "exactly one element");
}

/* ---- full / zeros / ones ------------------------------------------------- */

Test(ops_ic, full_casts_value) {
  int b = input("b", GRAPHC_F32, "B");
  (void)b;
  dimlist s = DL("2, B");
  int f = node_k("full", NULL, 0, (graphc_attr_t[]){A_DIMS("shape", &s), A_FLOAT("value", -2.7),
                                                    A_DTYPE("dtype", GRAPHC_I32)}, 3, 0);
  expect_type(f, "i32[2, B]");
  dimlist s2 = DL("3");
  int h = node_k("full", NULL, 0, (graphc_attr_t[]){A_DIMS("shape", &s2), A_FLOAT("value", 0.1),
                                                    A_DTYPE("dtype", GRAPHC_F16)}, 3, 0);
  graphc_attr_t zat[] = {A_DIMS("shape", &s2), A_DTYPE("dtype", GRAPHC_BOOL)};
  int z = node_k("zeros", NULL, 0, zat, 2, 0);
  int o = node_k("ones", NULL, 0, (graphc_attr_t[]){A_DIMS("shape", &s2)}, 1, 0);
  expect_type(o, "f32[3]");
  gc_tensor in = iota(GRAPHC_F32, 1, (int64_t[]){2}), out[4];
  OK(run((int[]){f, h, z, o}, 4, &in, 1, out));
  expect_tensor(&out[0], GRAPHC_I32, 2, (int64_t[]){2, 2}, (double[]){-2, -2, -2, -2});
  double h01 = 0.0999755859375; /* 0.1 rounded to f16 */
  expect_tensor(&out[1], GRAPHC_F16, 1, (int64_t[]){3}, (double[]){h01, h01, h01});
  expect_tensor(&out[2], GRAPHC_BOOL, 1, (int64_t[]){3}, (double[]){0, 0, 0});
  expect_tensor(&out[3], GRAPHC_F32, 1, (int64_t[]){3}, (double[]){1, 1, 1});
  free_all(out, 4);
  free_all(&in, 1);
}

Test(ops_ic, full_errors) {
  dimlist neg = DL("2, -1"), s = DL("2");
  graphc_attr_t negat[] = {A_DIMS("shape", &neg), A_FLOAT("value", 1)};
  expect_infer_error("full", NULL, 0, negat, 2,
                     "invalid size -1");
  expect_infer_error("full", NULL, 0, (graphc_attr_t[]){A_DIMS("shape", &s), A_FLOAT("value", 3e9),
                                                        A_DTYPE("dtype", GRAPHC_I32)}, 3,
                     "without overflow");
  expect_infer_error("full", NULL, 0, (graphc_attr_t[]){A_DIMS("shape", &s), A_FLOAT("value", NAN),
                                                        A_DTYPE("dtype", GRAPHC_I64)}, 3,
                     "without overflow");
}

/* ---- arange -------------------------------------------------------------- */

static void arange_case(int64_t start, int64_t end, int64_t step, gc_dtype dt, const double *want,
                        int n) {
  char es[32];
  snprintf(es, sizeof es, "%ld", (long)end);
  dimlist e = DL(es);
  graphc_attr_t at[] = {A_DIMS("end", &e), A_INT("start", start), A_INT("step", step),
                        A_DTYPE("dtype", dt)};
  int a = node_k("arange", NULL, 0, at, 4, 0);
  gc_tensor out;
  OK(run(&a, 1, NULL, 0, &out));
  expect_tensor(&out, dt, 1, (int64_t[]){n}, want);
  free_all(&out, 1);
}

/* Python: list(range(start, end, step)) */
Test(ops_ic, arange_const) { arange_case(0, 5, 2, GRAPHC_I64, (double[]){0, 2, 4}, 3); }
Test(ops_ic, arange_negative_step) { arange_case(3, -3, -2, GRAPHC_I32, (double[]){3, 1, -1}, 3); }
Test(ops_ic, arange_empty) { arange_case(4, 4, 1, GRAPHC_F32, NULL, 0); }
Test(ops_ic, arange_float) { arange_case(-1, 2, 1, GRAPHC_F64, (double[]){-1, 0, 1}, 3); }

Test(ops_ic, arange_symbolic) {
  int x = input("x", GRAPHC_F32, "N");
  dimlist e = DL("N");
  int a = node_k("arange", NULL, 0, (graphc_attr_t[]){A_DIMS("end", &e), A_INT("start", 1),
                                                      A_INT("step", 3)}, 3, 0);
  expect_type(a, "i64[(N + 1)//3]");
  gc_tensor in = iota(GRAPHC_F32, 1, (int64_t[]){8}), out;
  OK(run(&a, 1, &in, 1, &out));
  expect_tensor(&out, GRAPHC_I64, 1, (int64_t[]){3}, (double[]){1, 4, 7});
  free_all(&out, 1);
  free_all(&in, 1);
  /* N = 0 < start: torch.arange(1, 0, 3) is an error, not empty. */
  gc_tensor zero = iota(GRAPHC_F32, 1, (int64_t[]){0});
  expect_eval_error(&a, 1, &zero, 1, "inconsistent");
  free_all(&zero, 1);
  (void)x;
}

Test(ops_ic, arange_errors) {
  dimlist e = DL("5"), two = DL("5, 6"), sym = DL("N");
  expect_infer_error("arange", NULL, 0, (graphc_attr_t[]){A_DIMS("end", &e), A_INT("step", 0)}, 2,
                     "nonzero");
  expect_infer_error("arange", NULL, 0, (graphc_attr_t[]){A_DIMS("end", &e), A_INT("step", -1)}, 2,
                     "opposite sign");
  expect_infer_error("arange", NULL, 0, (graphc_attr_t[]){A_DIMS("end", &two)}, 1, "exactly one");
  expect_infer_error("arange", NULL, 0, (graphc_attr_t[]){A_DIMS("end", &sym), A_INT("step", -1)},
                     2, "constant end");
  graphc_attr_t boolat[] = {A_DIMS("end", &e), A_DTYPE("dtype", GRAPHC_BOOL)};
  expect_infer_error("arange", NULL, 0, boolat, 2, "bool");
}
