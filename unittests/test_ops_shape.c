/* Tests for lib/ops/ops_shape.c: inferred types (symbolic dims included),
 * interpreter results against hand-computed values, and infer / eval
 * errors. Graphs are built with the internal builder and run with
 * gc_interp_run_tensors. */
#include <criterion/criterion.h>
#include <stdint.h>
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

TestSuite(ops_shape, .init = setup, .fini = teardown);

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
static graphc_attr_t A_INTS(const char *name, const int64_t *v, int n) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_INTS, .ints = v, .count = n};
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

/* ---- reshape / view ------------------------------------------------------ */

Test(ops_shape, reshape_infers_minus_one) {
  int x = input("x", GRAPHC_F32, "B, S, 4");
  dimlist s1 = DL("-1, 2");
  expect_type(node1("reshape", x, (graphc_attr_t[]){A_DIMS("shape", &s1)}, 1), "f32[2*B*S, 2]");
  dimlist s2 = DL("B, -1");
  expect_type(node1("view", x, (graphc_attr_t[]){A_DIMS("shape", &s2)}, 1), "f32[B, 4*S]");
  dimlist s3 = DL("-1, S, 2, 2");
  expect_type(node1("reshape", x, (graphc_attr_t[]){A_DIMS("shape", &s3)}, 1), "f32[B, S, 2, 2]");
  dimlist s4 = DL("B*S*4");
  expect_type(node1("reshape", x, (graphc_attr_t[]){A_DIMS("shape", &s4)}, 1), "f32[4*B*S]");
  OK(gc_graph_verify(g));
}

Test(ops_shape, reshape_errors) {
  int x = input("x", GRAPHC_F32, "B, 10");
  int op[] = {x};
  dimlist bad1 = DL("B, -1, -1");
  expect_infer_error("reshape", op, 1, (graphc_attr_t[]){A_DIMS("shape", &bad1)}, 1,
                     "only one dimension can be -1");
  dimlist bad2 = DL("B, 3, -1");
  expect_infer_error("reshape", op, 1, (graphc_attr_t[]){A_DIMS("shape", &bad2)}, 1,
                     "not provably equal");
  dimlist bad3 = DL("B, 5");
  expect_infer_error("view", op, 1, (graphc_attr_t[]){A_DIMS("shape", &bad3)}, 1,
                     "not provably equal");
  dimlist bad4 = DL("0, -1");
  expect_infer_error("reshape", op, 1, (graphc_attr_t[]){A_DIMS("shape", &bad4)}, 1, "ambiguous");
  dimlist bad5 = DL("-2, 5");
  expect_infer_error("reshape", op, 1, (graphc_attr_t[]){A_DIMS("shape", &bad5)}, 1,
                     "invalid size -2");
  dimlist bad6 = DL("T, 10"); /* T unrelated to B */
  expect_infer_error("reshape", op, 1, (graphc_attr_t[]){A_DIMS("shape", &bad6)}, 1,
                     "not provably equal");
}

Test(ops_shape, reshape_runs) {
  int x = input("x", GRAPHC_I64, "2, 3");
  dimlist s = DL("3, -1");
  int y = node1("reshape", x, (graphc_attr_t[]){A_DIMS("shape", &s)}, 1);
  expect_type(y, "i64[3, 2]");
  gc_tensor in = iota(GRAPHC_I64, 2, (int64_t[]){2, 3}), out;
  OK(run(&y, 1, &in, 1, &out));
  expect_tensor(&out, GRAPHC_I64, 2, (int64_t[]){3, 2}, (double[]){0, 1, 2, 3, 4, 5});
  free_all(&out, 1);
  free_all(&in, 1);
}

Test(ops_shape, reshape_to_scalar) {
  int x = input("x", GRAPHC_F16, "1, 1");
  dimlist s = DL("");
  int y = node1("reshape", x, (graphc_attr_t[]){A_DIMS("shape", &s)}, 1);
  expect_type(y, "f16[]");
  gc_tensor in = mk(GRAPHC_F16, 2, (int64_t[]){1, 1}, (double[]){1.5}), out;
  OK(run(&y, 1, &in, 1, &out));
  expect_tensor(&out, GRAPHC_F16, 0, NULL, (double[]){1.5});
  free_all(&out, 1);
  free_all(&in, 1);
}

/* ---- permute / transpose ------------------------------------------------- */

Test(ops_shape, permute) {
  int x = input("x", GRAPHC_F32, "2, B, 3");
  int64_t perm[] = {2, 0, -2};
  int y = node1("permute", x, (graphc_attr_t[]){A_INTS("dims", perm, 3)}, 1);
  expect_type(y, "f32[3, 2, B]");
  gc_tensor in = iota(GRAPHC_F32, 3, (int64_t[]){2, 2, 3}), out;
  OK(run(&y, 1, &in, 1, &out));
  /* out[k][i][j] = in[i][j][k] = 6i + 3j + k */
  expect_tensor(&out, GRAPHC_F32, 3, (int64_t[]){3, 2, 2},
                (double[]){0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11});
  free_all(&out, 1);
  free_all(&in, 1);
}

Test(ops_shape, permute_errors) {
  int x = input("x", GRAPHC_F32, "2, 3");
  int op[] = {x};
  int64_t rep[] = {0, 0}, short_[] = {0}, far[] = {0, 2};
  expect_infer_error("permute", op, 1, (graphc_attr_t[]){A_INTS("dims", rep, 2)}, 1, "repeated");
  expect_infer_error("permute", op, 1, (graphc_attr_t[]){A_INTS("dims", short_, 1)}, 1, "rank 2");
  expect_infer_error("permute", op, 1, (graphc_attr_t[]){A_INTS("dims", far, 2)}, 1,
                     "out of range");
}

Test(ops_shape, transpose) {
  int x = input("x", GRAPHC_BF16, "2, 3");
  int y = node1("transpose", x, (graphc_attr_t[]){A_INT("dim0", -1), A_INT("dim1", 0)}, 2);
  expect_type(y, "bf16[3, 2]");
  gc_tensor in = iota(GRAPHC_BF16, 2, (int64_t[]){2, 3}), out;
  OK(run(&y, 1, &in, 1, &out));
  expect_tensor(&out, GRAPHC_BF16, 2, (int64_t[]){3, 2}, (double[]){0, 3, 1, 4, 2, 5});
  free_all(&out, 1);
  free_all(&in, 1);
  int op[] = {x};
  expect_infer_error("transpose", op, 1, (graphc_attr_t[]){A_INT("dim0", 2), A_INT("dim1", 0)}, 2,
                     "dim0=2 is out of range");
}

/* ---- expand -------------------------------------------------------------- */

Test(ops_shape, expand) {
  int x = input("x", GRAPHC_I32, "3, 1");
  dimlist s = DL("2, -1, 4");
  int y = node1("expand", x, (graphc_attr_t[]){A_DIMS("shape", &s)}, 1);
  expect_type(y, "i32[2, 3, 4]");
  gc_tensor in = iota(GRAPHC_I32, 2, (int64_t[]){3, 1}), out;
  OK(run(&y, 1, &in, 1, &out));
  double want[24];
  for (int i = 0; i < 24; i++) want[i] = (i / 4) % 3;
  expect_tensor(&out, GRAPHC_I32, 3, (int64_t[]){2, 3, 4}, want);
  free_all(&out, 1);
  free_all(&in, 1);
}

Test(ops_shape, expand_symbolic_and_errors) {
  int x = input("x", GRAPHC_F32, "B, 1");
  dimlist ok = DL("B, S");
  expect_type(node1("expand", x, (graphc_attr_t[]){A_DIMS("shape", &ok)}, 1), "f32[B, S]");
  int op[] = {x};
  dimlist mism = DL("3, S");
  expect_infer_error("expand", op, 1, (graphc_attr_t[]){A_DIMS("shape", &mism)}, 1,
                     "non-singleton dim 0");
  dimlist lead = DL("-1, B, 2");
  expect_infer_error("expand", op, 1, (graphc_attr_t[]){A_DIMS("shape", &lead)}, 1,
                     "new leading dim 0");
  dimlist few = DL("4");
  expect_infer_error("expand", op, 1, (graphc_attr_t[]){A_DIMS("shape", &few)}, 1, "got 1");
}

/* ---- slice --------------------------------------------------------------- */

static void slice_const_case(int64_t start, int64_t end, int64_t step, const double *want, int n) {
  gc_tensor in = iota(GRAPHC_F64, 1, (int64_t[]){7}), out;
  graphc_attr_t at[4] = {A_INT("dim", 0), A_INT("start", start), A_INT("end", end),
                         A_INT("step", step)};
  int x = input("x", GRAPHC_F64, "7");
  int y = node1("slice", x, at, 4);
  OK(run(&y, 1, &in, 1, &out));
  expect_tensor(&out, GRAPHC_F64, 1, (int64_t[]){n}, want);
  free_all(&out, 1);
  free_all(&in, 1);
}

/* Python: list(range(7))[start:end:step] */
Test(ops_shape, slice_const_clamping) { slice_const_case(1, 5, 2, (double[]){1, 3}, 2); }
Test(ops_shape, slice_const_negative) { slice_const_case(-3, -1, 1, (double[]){4, 5}, 2); }
Test(ops_shape, slice_const_clamped_out) { slice_const_case(-100, 100, 3, (double[]){0, 3, 6}, 3); }
Test(ops_shape, slice_const_empty) { slice_const_case(5, 2, 1, NULL, 0); }
Test(ops_shape, slice_const_default_end) {
  slice_const_case(4, INT64_MAX, 1, (double[]){4, 5, 6}, 3);
}

Test(ops_shape, slice_symbolic_types) {
  int x = input("x", GRAPHC_F32, "B, S");
  graphc_attr_t a1[] = {A_INT("dim", 1), A_INT("start", 1)};
  expect_type(node1("slice", x, a1, 2), "f32[B, S - 1]");
  graphc_attr_t a2[] = {A_INT("dim", 1), A_INT("start", 1), A_INT("step", 2)};
  expect_type(node1("slice", x, a2, 3), "f32[B, S//2]");
  graphc_attr_t a3[] = {A_INT("dim", -1), A_INT("start", -3)};
  expect_type(node1("slice", x, a3, 2), "f32[B, 3]");
  graphc_attr_t a4[] = {A_INT("dim", 0), A_INT("start", 2), A_INT("end", 6)};
  expect_type(node1("slice", x, a4, 3), "f32[4, S]");
  graphc_attr_t a5[] = {A_INT("dim", 0), A_INT("end", -1)};
  expect_type(node1("slice", x, a5, 2), "f32[B - 1, S]");
  graphc_attr_t a6[] = {A_INT("dim", 0), A_INT("start", 6), A_INT("end", 2)};
  expect_type(node1("slice", x, a6, 3), "f32[0, S]");
  int op[] = {x};
  graphc_attr_t bad[] = {A_INT("dim", 0), A_INT("step", 0)};
  expect_infer_error("slice", op, 1, bad, 2, "step must be >= 1");
}

Test(ops_shape, slice_symbolic_runs_and_checks_bounds) {
  int x = input("x", GRAPHC_I64, "S");
  graphc_attr_t a[] = {A_INT("dim", 0), A_INT("start", 1), A_INT("end", 4)};
  int y = node1("slice", x, a, 3);
  expect_type(y, "i64[3]");
  gc_tensor in = iota(GRAPHC_I64, 1, (int64_t[]){6}), out;
  OK(run(&y, 1, &in, 1, &out));
  expect_tensor(&out, GRAPHC_I64, 1, (int64_t[]){3}, (double[]){1, 2, 3});
  free_all(&out, 1);
  free_all(&in, 1);
  /* S = 3: Python would clamp to 2 elements; the graph assumed 3. */
  gc_tensor small = iota(GRAPHC_I64, 1, (int64_t[]){3});
  graphc_status_t st = run(&y, 1, &small, 1, &out);
  cr_assert(st != NULL);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_OUT_OF_RANGE, "%s", graphc_status_message(st));
  cr_expect(strstr(graphc_status_message(st), "slice") != NULL, "%s", graphc_status_message(st));
  graphc_status_free(st);
  free_all(&small, 1);
}

/* ---- cat / split --------------------------------------------------------- */

Test(ops_shape, cat_promotes_and_concatenates) {
  int a = input("a", GRAPHC_I32, "2, 1");
  int b = input("b", GRAPHC_F32, "2, 2");
  int ops[] = {a, b};
  int y = node_k("cat", ops, 2, (graphc_attr_t[]){A_INT("dim", -1)}, 1, 0);
  expect_type(y, "f32[2, 3]");
  gc_tensor in[2] = {mk(GRAPHC_I32, 2, (int64_t[]){2, 1}, (double[]){7, 8}),
                     mk(GRAPHC_F32, 2, (int64_t[]){2, 2}, (double[]){0.5, 1.5, 2.5, 3.5})};
  gc_tensor out;
  OK(run(&y, 1, in, 2, &out));
  expect_tensor(&out, GRAPHC_F32, 2, (int64_t[]){2, 3}, (double[]){7, 0.5, 1.5, 8, 2.5, 3.5});
  free_all(&out, 1);
  free_all(in, 2);
}

Test(ops_shape, cat_symbolic_and_errors) {
  int a = input("a", GRAPHC_F32, "B, 4");
  int b = input("b", GRAPHC_F32, "S, 4");
  int c = input("c", GRAPHC_F32, "B, 5");
  int s = input("s", GRAPHC_F32, "");
  int ab[] = {a, b, a};
  expect_type(node_k("cat", ab, 3, (graphc_attr_t[]){A_INT("dim", 0)}, 1, 0), "f32[2*B + S, 4]");
  int ac[] = {a, c};
  expect_infer_error("cat", ac, 2, (graphc_attr_t[]){A_INT("dim", 0)}, 1,
                     "expected size 4 at dim 1");
  int as[] = {a, s};
  expect_infer_error("cat", as, 2, (graphc_attr_t[]){A_INT("dim", 0)}, 1, "expected rank 2");
  int sa[] = {s, a};
  expect_infer_error("cat", sa, 2, (graphc_attr_t[]){A_INT("dim", 0)}, 1, "0-d");
}

Test(ops_shape, split) {
  int x = input("x", GRAPHC_F32, "2, 5");
  int64_t sizes[] = {1, 0, 4};
  int n;
  graphc_attr_t at[] = {A_INT("dim", 1), A_INTS("sizes", sizes, 3)};
  OK(try_node("split", &x, 1, at, 2, &n));
  cr_assert_eq(g->nodes[n].nresults, 3);
  int *r = g->nodes[n].results;
  expect_type(r[0], "f32[2, 1]");
  expect_type(r[1], "f32[2, 0]");
  expect_type(r[2], "f32[2, 4]");
  OK(gc_graph_verify(g));
  gc_tensor in = iota(GRAPHC_F32, 2, (int64_t[]){2, 5}), out[3];
  OK(run(r, 3, &in, 1, out));
  expect_tensor(&out[0], GRAPHC_F32, 2, (int64_t[]){2, 1}, (double[]){0, 5});
  expect_tensor(&out[1], GRAPHC_F32, 2, (int64_t[]){2, 0}, NULL);
  expect_tensor(&out[2], GRAPHC_F32, 2, (int64_t[]){2, 4}, (double[]){1, 2, 3, 4, 6, 7, 8, 9});
  free_all(out, 3);
  free_all(&in, 1);
  int64_t bad[] = {2, 2};
  int op[] = {x};
  expect_infer_error("split", op, 1, (graphc_attr_t[]){A_INT("dim", 1), A_INTS("sizes", bad, 2)}, 2,
                     "sum to 4");
  int64_t neg[] = {6, -1};
  expect_infer_error("split", op, 1, (graphc_attr_t[]){A_INT("dim", 1), A_INTS("sizes", neg, 2)}, 2,
                     ">= 0");
}

/* ---- squeeze / unsqueeze ------------------------------------------------- */

Test(ops_shape, squeeze_unsqueeze) {
  int x = input("x", GRAPHC_F32, "1, B, 1, 3");
  expect_type(node1("squeeze", x, NULL, 0), "f32[B, 3]");
  int64_t d1[] = {-2, 1, 3}; /* B and 3 are kept, as PyTorch does */
  expect_type(node1("squeeze", x, (graphc_attr_t[]){A_INTS("dim", d1, 3)}, 1), "f32[1, B, 3]");
  expect_type(node1("unsqueeze", x, (graphc_attr_t[]){A_INT("dim", -1)}, 1), "f32[1, B, 1, 3, 1]");
  expect_type(node1("unsqueeze", x, (graphc_attr_t[]){A_INT("dim", 1)}, 1), "f32[1, 1, B, 1, 3]");
  int op[] = {x};
  int64_t dup[] = {0, -4};
  expect_infer_error("squeeze", op, 1, (graphc_attr_t[]){A_INTS("dim", dup, 2)}, 1,
                     "more than once");
  expect_infer_error("unsqueeze", op, 1, (graphc_attr_t[]){A_INT("dim", 6)}, 1, "out of range");
}

Test(ops_shape, squeeze_runs) {
  int x = input("x", GRAPHC_BOOL, "1, 3");
  int y = node1("squeeze", x, NULL, 0);
  int z = node1("unsqueeze", y, (graphc_attr_t[]){A_INT("dim", 1)}, 1);
  expect_type(z, "bool[3, 1]");
  gc_tensor in = mk(GRAPHC_BOOL, 2, (int64_t[]){1, 3}, (double[]){1, 0, 1}), out;
  OK(run(&z, 1, &in, 1, &out));
  expect_tensor(&out, GRAPHC_BOOL, 2, (int64_t[]){3, 1}, (double[]){1, 0, 1});
  free_all(&out, 1);
  free_all(&in, 1);
}
