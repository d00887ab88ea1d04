/* Shared harness of the op suites (unittests/test_ops_*.c): graphs are built
 * with the internal builder from dims written as text ("B, 3, 4"), run by the
 * reference interpreter, and the results compared with literal values.
 *
 * Header-only; a suite includes it once and declares itself with
 *   TestSuite(name, .init = ops_setup, .fini = ops_teardown);
 * so that every test starts with a fresh context `ctx` and an empty graph `g`.
 * The builders take the graph they add to, so tests can also build in regions
 * and in further graphs from new_graph(). */
#ifndef GRAPHC_UNITTESTS_OPS_HARNESS_H
#define GRAPHC_UNITTESTS_OPS_HARNESS_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "graphc/context.h"
#include "interp/interp_internal.h"
#include "ir/op.h"

/* ---- status, suite setup ------------------------------------------------- */

#include "test_common.h"

static graphc_context_t *ctx;
static gc_graph *g; /* the test's graph, empty at the start of each test */

static inline gc_graph *new_graph(void) {
  gc_graph *gr;
  OK(gc_graph_new(ctx, "t", NULL, &gr));
  return gr;
}

static inline void ops_setup(void) {
  OK(graphc_context_create(NULL, &ctx));
  g = new_graph();
}
static inline void ops_teardown(void) { graphc_context_release(ctx); }

/* ---- dims, types, inputs ------------------------------------------------- */

typedef struct {
  gc_dim d[GC_MAX_RANK + 2];
  int n;
} dimlist;

/* "B, -1, 4" -> dims in gr's table (new symbols are created); "" is rank 0.
 * A dim may be an expression: "(H + 2 - 3) // 2 + 1". */
static inline dimlist DL(gc_graph *gr, const char *s) {
  dimlist l = {.n = 0};
  const char *p = s;
  for (;;) {
    while (*p == ',' || *p == ' ') p++;
    if (!*p) break;
    size_t used = 0;
    cr_assert(l.n < GC_MAX_RANK + 2, "too many dims in '%s'", s);
    OK(gc_dim_parse(gc_graph_dims(gr), p, strlen(p), true, &l.d[l.n++], &used));
    p += used;
  }
  return l;
}

/* A type from a dtype and dims text as for DL. */
static inline gc_type type_from(gc_graph *gr, gc_dtype dt, const char *dims) {
  dimlist l = DL(gr, dims);
  cr_assert(l.n <= GC_MAX_RANK, "rank %d in '%s'", l.n, dims);
  gc_type t = {.dtype = dt, .rank = l.n};
  memcpy(t.dims, l.d, sizeof(gc_dim) * (size_t)l.n);
  return t;
}

/* Adds input `name` of dtype dt and dims text `dims` to gr. */
static inline int input(gc_graph *gr, const char *name, gc_dtype dt, const char *dims) {
  gc_type t = type_from(gr, dt, dims);
  int v;
  OK(gc_graph_add_input(gr, name, GRAPHC_ROLE_INPUT, &t, (gc_loc){0, 0}, &v));
  return v;
}

static inline const gc_type *vtype(gc_graph *gr, int v) { return &gr->values[v].type; }

/* The type of value v as text ("f32[B, 4]"); valid until the next call. */
static inline const char *type_of(gc_graph *gr, int v) {
  static char buf[256];
  gc_type_format(gc_graph_dims(gr), vtype(gr, v), buf, sizeof buf);
  return buf;
}

static inline void expect_type(gc_graph *gr, int v, const char *want) {
  const char *got = type_of(gr, v);
  cr_expect_str_eq(got, want, "value type %s, want %s", got, want);
}

/* ---- attributes ---------------------------------------------------------- */

#define S(...) ((int64_t[]){__VA_ARGS__})
#define NUM_I64(...) ((int)(sizeof S(__VA_ARGS__) / sizeof(int64_t)))

static inline graphc_attr_t A_INT(const char *name, int64_t v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_INT, .i = v};
}
static inline graphc_attr_t A_BOOL(const char *name, bool v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_BOOL, .i = v};
}
static inline graphc_attr_t A_FLOAT(const char *name, double v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_FLOAT, .f = v};
}
static inline graphc_attr_t A_STR(const char *name, const char *v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_STRING, .s = v};
}
static inline graphc_attr_t A_DTYPE(const char *name, gc_dtype v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_DTYPE, .dtype = v};
}
static inline graphc_attr_t A_DIMS(const char *name, const dimlist *l) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_DIMS, .dims = l->d, .count = l->n};
}
/* A_INTS("stride", 2, 1); the list lives as long as the enclosing block. */
#define A_INTS(n, ...)                                                           \
  ((graphc_attr_t){.name = n, .kind = GRAPHC_ATTR_INTS, .ints = S(__VA_ARGS__), \
                   .count = NUM_I64(__VA_ARGS__)})
#define A_NOINTS(n) ((graphc_attr_t){.name = n, .kind = GRAPHC_ATTR_INTS, .count = 0})

/* ---- nodes --------------------------------------------------------------- */

/* Adds node `op` to gr, taking region `body` unless it is NULL; *node gets
 * the node index. */
static inline graphc_status_t try_node(gc_graph *gr, const char *op, const int *ops, int nops,
                                       const graphc_attr_t *attrs, int nattrs, gc_graph *body,
                                       int *node) {
  return gc_graph_add_node(gr, op, ops, nops, attrs, nattrs, body ? &body : NULL, body ? 1 : 0,
                           NULL, (gc_loc){0, 0}, node);
}

/* Adds the node (with region `body`) and returns its first result. */
static inline int node_r(gc_graph *gr, const char *op, const int *ops, int nops,
                         const graphc_attr_t *attrs, int nattrs, gc_graph *body) {
  int n;
  OK(try_node(gr, op, ops, nops, attrs, nattrs, body, &n));
  cr_assert(gr->nodes[n].nresults > 0, "%s has no results", op);
  return gr->nodes[n].results[0];
}
static inline int node(gc_graph *gr, const char *op, const int *ops, int nops,
                       const graphc_attr_t *attrs, int nattrs) {
  return node_r(gr, op, ops, nops, attrs, nattrs, NULL);
}
static inline int node1(gc_graph *gr, const char *op, int x, const graphc_attr_t *attrs,
                        int nattrs) {
  return node(gr, op, &x, 1, attrs, nattrs);
}

/* Expects adding the node (with region `body`) to be rejected with a
 * VERIFY_ERROR that names the op and mentions `needle`. */
static inline void node_fails_r(gc_graph *gr, const char *op, const int *ops, int nops,
                                const graphc_attr_t *attrs, int nattrs, gc_graph *body,
                                const char *needle) {
  int n;
  graphc_status_t st = try_node(gr, op, ops, nops, attrs, nattrs, body, &n);
  cr_assert(st != NULL, "%s unexpectedly type-checked", op);
  const char *msg = graphc_status_message(st);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_VERIFY_ERROR, "%s: %s", op, msg);
  cr_expect(strstr(msg, needle) != NULL, "%s: message '%s' lacks '%s'", op, msg, needle);
  cr_expect(strstr(msg, op) != NULL, "message names the op: %s", msg);
  graphc_status_free(st);
}
static inline void node_fails(gc_graph *gr, const char *op, const int *ops, int nops,
                              const graphc_attr_t *attrs, int nattrs, const char *needle) {
  node_fails_r(gr, op, ops, nops, attrs, nattrs, NULL, needle);
}

/* ---- tensors ------------------------------------------------------------- */

/* A tensor of dtype dt and shape `shape` (rank entries) holding `vals`, or
 * 1, 2, 3, ... when vals is NULL. */
static inline gc_tensor mk(gc_dtype dt, int rank, const int64_t *shape, const double *vals) {
  gc_tensor t;
  OK(gc_tensor_alloc(&t, dt, rank, shape, 0));
  for (int64_t i = 0; i < t.numel; i++) gc_tensor_setf(&t, i, vals ? vals[i] : (double)(i + 1));
  return t;
}
/* T(GRAPHC_F32, S(2, 2), 1, 2, 3, 4); T0 is 0-d. */
#define T(dt, shp, ...) mk(dt, (int)(sizeof shp / sizeof(int64_t)), shp, (double[]){__VA_ARGS__})
#define T0(dt, v) mk(dt, 0, NULL, (double[]){v})

/* 0, 1, 2, ... */
static inline gc_tensor iota(gc_dtype dt, int rank, const int64_t *shape) {
  gc_tensor t;
  OK(gc_tensor_alloc(&t, dt, rank, shape, 0));
  for (int64_t i = 0; i < t.numel; i++) gc_tensor_seti(&t, i, i);
  return t;
}

static inline void free_all(gc_tensor *t, int n) {
  for (int i = 0; i < n; i++) gc_tensor_free(&t[i]);
}

/* ---- running ------------------------------------------------------------- */

/* Runs gr with outputs outs[0..nouts) on ins into res; ins stay the caller's. */
static inline graphc_status_t try_run(gc_graph *gr, const int *outs, int nouts, gc_tensor *ins,
                                      int nins, gc_tensor *res) {
  OK(gc_graph_set_outputs(gr, outs, nouts));
  return gc_interp_run_tensors(gr, 0, ins, nins, res);
}

/* Runs gr into res and frees the inputs. */
static inline void run_all(gc_graph *gr, const int *outs, int nouts, gc_tensor *ins, int nins,
                           gc_tensor *res) {
  OK(try_run(gr, outs, nouts, ins, nins, res));
  free_all(ins, nins);
}

/* Runs gr with `out` as its only output; frees the inputs. */
static inline gc_tensor run(gc_graph *gr, int out, gc_tensor *ins, int nins) {
  gc_tensor res;
  run_all(gr, &out, 1, ins, nins, &res);
  return res;
}

/* Expects running gr (at most 8 outputs) to fail with `code` and a message
 * mentioning `needle`; ins stay the caller's. */
static inline void run_fails(gc_graph *gr, const int *outs, int nouts, gc_tensor *ins, int nins,
                             graphc_status_code_t code, const char *needle) {
  gc_tensor res[8];
  cr_assert(nouts <= 8);
  graphc_status_t st = try_run(gr, outs, nouts, ins, nins, res);
  cr_assert(st != NULL, "run unexpectedly succeeded");
  cr_expect_eq(graphc_status_code(st), code, "%s", graphc_status_message(st));
  cr_expect(strstr(graphc_status_message(st), needle) != NULL, "message '%s' lacks '%s'",
            graphc_status_message(st), needle);
  graphc_status_free(st);
}

/* ---- comparing results --------------------------------------------------- */

static inline void expect_shape(const gc_tensor *t, int rank, const int64_t *shape) {
  cr_assert_eq(t->rank, rank, "rank %d, want %d", t->rank, rank);
  for (int d = 0; d < rank; d++)
    cr_assert_eq(t->shape[d], shape[d], "dim %d: %lld, want %lld", d, (long long)t->shape[d],
                 (long long)shape[d]);
}
#define SHAPE(t, ...) expect_shape(&(t), NUM_I64(__VA_ARGS__), S(__VA_ARGS__))

/* Expects dtype dt and the n elements `want` (NaN equals NaN; other values
 * within `tol` relative to max(1, |want|); tol 0 is exact). */
static inline void expect_vals(const gc_tensor *t, gc_dtype dt, int64_t n, const double *want,
                               double tol) {
  cr_assert_eq(t->dtype, dt, "dtype %s, want %s", graphc_dtype_name(t->dtype),
               graphc_dtype_name(dt));
  cr_assert_eq(t->numel, n, "numel %lld, want %lld", (long long)t->numel, (long long)n);
  for (int64_t i = 0; i < n; i++) {
    double got = gc_tensor_getf(t, i);
    bool same = (isnan(got) && isnan(want[i])) || got == want[i] ||
                fabs(got - want[i]) <= tol * fmax(1.0, fabs(want[i]));
    cr_expect(same, "element %lld: got %.17g, want %.17g", (long long)i, got, want[i]);
  }
}
#define EXPECT(t, dt, tol, ...)                                                          \
  expect_vals(&(t), dt, (int64_t)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)), \
              (double[]){__VA_ARGS__}, tol)

/* Both: shape shape[0..rank), dtype dt, elements `want` within `tol`. */
static inline void expect_tensor(const gc_tensor *t, gc_dtype dt, int rank, const int64_t *shape,
                                 const double *want, double tol) {
  expect_shape(t, rank, shape);
  int64_t n = 1;
  for (int d = 0; d < rank; d++) n *= shape[d];
  expect_vals(t, dt, n, want, tol);
}

#endif
