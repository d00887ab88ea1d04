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

