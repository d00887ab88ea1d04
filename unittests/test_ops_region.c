/* Tests for lib/ops/ops_region.c: call, checkpoint and
 * scaled_dot_product_attention (with masks, causal masking, batch
 * broadcasting and score-function regions). Expected numbers are worked
 * out by hand in the comments. */
#include <criterion/criterion.h>
#include <math.h>
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

TestSuite(ops_region, .init = setup, .fini = teardown);

/* A type from a dtype and "B, 3, 4" ("" = rank 0). */
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

static int input_in(gc_graph *graph, const char *name, gc_dtype dt, const char *shape) {
  gc_type t = T(dt, shape);
  int v;
  OK(gc_graph_add_input(graph, name, GRAPHC_ROLE_INPUT, &t, (gc_loc){0, 0}, &v));
  return v;
}
static int input(const char *name, gc_dtype dt, const char *shape) {
  return input_in(g, name, dt, shape);
}

static gc_graph *region(const char *name) {
  gc_graph *r;
  OK(gc_graph_new(ctx, name, g, &r));
  return r;
}

/* Adds a node to `graph`; returns the node index or -1 with *st set. */
static graphc_status_t try_node(gc_graph *graph, const char *op, const int *ops, int nops,
                                const graphc_attr_t *attrs, int nattrs, gc_graph *r, int *node) {
  return gc_graph_add_node(graph, op, ops, nops, attrs, nattrs, r ? &r : NULL, r ? 1 : 0, NULL,
                           (gc_loc){0, 0}, node);
}

/* First result of a new node. */
static int node_in(gc_graph *graph, const char *op, const int *ops, int nops,
                   const graphc_attr_t *attrs, int nattrs, gc_graph *r) {
  int n;
  OK(try_node(graph, op, ops, nops, attrs, nattrs, r, &n));
  return graph->nodes[n].results[0];
}
static int node(const char *op, const int *ops, int nops, const graphc_attr_t *attrs, int nattrs,
                gc_graph *r) {
  return node_in(g, op, ops, nops, attrs, nattrs, r);
}

static void node_err(const char *op, const int *ops, int nops, const graphc_attr_t *attrs,
                     int nattrs, gc_graph *r, const char *needle) {
  int n;
  graphc_status_t st = try_node(g, op, ops, nops, attrs, nattrs, r, &n);
  cr_assert(st != NULL, "%s unexpectedly type-checked", op);
  cr_assert_eq(graphc_status_code(st), GRAPHC_STATUS_VERIFY_ERROR, "%s",
               graphc_status_message(st));
  cr_assert(strstr(graphc_status_message(st), needle), "message '%s' lacks '%s'",
            graphc_status_message(st), needle);
  graphc_status_free(st);
}

static graphc_attr_t A_BOOL(const char *name, bool v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_BOOL, .i = v};
}
static graphc_attr_t A_FLOAT(const char *name, double v) {
  return (graphc_attr_t){.name = name, .kind = GRAPHC_ATTR_FLOAT, .f = v};
}

static const char *type_of(int v) {
  static char buf[256];
  gc_type_format(gc_graph_dims(g), &g->values[v].type, buf, sizeof buf);
  return buf;
}

static gc_tensor mk(gc_dtype dt, int rank, const int64_t *shape, const double *vals) {
  gc_tensor t;
  OK(gc_tensor_alloc(&t, dt, rank, shape, 0));
  for (int64_t i = 0; i < t.numel; i++) gc_tensor_setf(&t, i, vals ? vals[i] : (double)(i + 1));
  return t;
}

/* Runs g with `nout` outputs on `ins` (freed). */
static void run(const int *outs, int nout, gc_tensor *ins, int nins, gc_tensor *res) {
  OK(gc_graph_set_outputs(g, outs, nout));
  OK(gc_interp_run_tensors(g, 0, ins, nins, res));
  for (int i = 0; i < nins; i++) gc_tensor_free(&ins[i]);
}

static void expect(gc_tensor *t, int rank, const int64_t *shape, const double *want) {
  cr_assert_eq(t->rank, rank);
  for (int i = 0; i < rank; i++) cr_assert_eq(t->shape[i], shape[i], "dim %d: %lld", i, (long long)t->shape[i]);
  for (int64_t i = 0; i < t->numel; i++) {
    double got = gc_tensor_getf(t, i);
    cr_assert(fabs(got - want[i]) <= 1e-6 * (1 + fabs(want[i])), "[%lld]: %.17g, want %.17g",
              (long long)i, got, want[i]);
  }
  gc_tensor_free(t);
}

/* ---- call, checkpoint ------------------------------------------------------ */

Test(ops_region, call_two_outputs) {
  int a = input("a", GRAPHC_F32, "N"), b = input("b", GRAPHC_F32, "N");
  gc_graph *r = region("body");
  int x = input_in(r, "x", GRAPHC_F32, "N"), y = input_in(r, "y", GRAPHC_F32, "N");
  int s = node_in(r, "add", (int[]){x, y}, 2, NULL, 0, NULL);
  int p = node_in(r, "mul", (int[]){x, y}, 2, NULL, 0, NULL);
  OK(gc_graph_set_outputs(r, (int[]){s, p}, 2));
  int n;
  OK(try_node(g, "call", (int[]){a, b}, 2, NULL, 0, r, &n));
  cr_assert_eq(g->nodes[n].nresults, 2);
  int r0 = g->nodes[n].results[0], r1 = g->nodes[n].results[1];
  cr_assert_str_eq(type_of(r0), "f32[N]");
  gc_tensor ins[2] = {mk(GRAPHC_F32, 1, (int64_t[]){3}, NULL),
                      mk(GRAPHC_F32, 1, (int64_t[]){3}, (double[]){10, 20, 30})};
  gc_tensor res[2];
  run((int[]){r0, r1}, 2, ins, 2, res);
  expect(&res[0], 1, (int64_t[]){3}, (double[]){11, 22, 33});
  expect(&res[1], 1, (int64_t[]){3}, (double[]){10, 40, 90});
}

Test(ops_region, checkpoint_passthrough_and_matmul) {
  int a = input("a", GRAPHC_F64, "2, 2");
  gc_graph *r = region("ck");
  int x = input_in(r, "x", GRAPHC_F64, "2, 2");
  int m = node_in(r, "matmul", (int[]){x, x}, 2, NULL, 0, NULL);
  OK(gc_graph_set_outputs(r, (int[]){m, x}, 2));
  int n;
  OK(try_node(g, "checkpoint", &a, 1, NULL, 0, r, &n));
  int r0 = g->nodes[n].results[0], r1 = g->nodes[n].results[1];
  gc_tensor ins[1] = {mk(GRAPHC_F64, 2, (int64_t[]){2, 2}, NULL)};
  gc_tensor res[2];
  run((int[]){r0, r1}, 2, ins, 1, res);
  expect(&res[0], 2, (int64_t[]){2, 2}, (double[]){7, 10, 15, 22});
  expect(&res[1], 2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 4});
}

Test(ops_region, call_errors) {
  int a = input("a", GRAPHC_F32, "N"), b = input("b", GRAPHC_F64, "N"), c = input("c", GRAPHC_F32, "M");
  gc_graph *r = region("body");
  int x = input_in(r, "x", GRAPHC_F32, "N"), y = input_in(r, "y", GRAPHC_F32, "N");
  OK(gc_graph_set_outputs(r, (int[]){x, y}, 2));
  node_err("call", &a, 1, NULL, 0, r, "region 'body' takes 2 inputs, but the op has 1 operands");

  r = region("body");
  x = input_in(r, "x", GRAPHC_F32, "N"), y = input_in(r, "y", GRAPHC_F32, "N");
  OK(gc_graph_set_outputs(r, &x, 1));
  node_err("call", (int[]){a, b}, 2, NULL, 0, r, "operand 1: region 'body' input 1 (%y) expects f32[N], got f64[N]");

  r = region("body");
  x = input_in(r, "x", GRAPHC_F32, "N"), y = input_in(r, "y", GRAPHC_F32, "N");
  OK(gc_graph_set_outputs(r, &x, 1));
  node_err("checkpoint", (int[]){a, c}, 2, NULL, 0, r, "expects f32[N], got f32[M]");

  r = region("empty");
  x = input_in(r, "x", GRAPHC_F32, "N");
  node_err("call", &a, 1, NULL, 0, r, "region 'empty' has no outputs");
}

/* ---- scaled_dot_product_attention ------------------------------------------ */

Test(ops_region, sdpa_types) {
  int q = input("q", GRAPHC_F32, "B, H, S, D"), k = input("k", GRAPHC_F32, "B, H, T, D");
  int v = input("v", GRAPHC_F32, "B, H, T, E"), k1 = input("k1", GRAPHC_F32, "1, H, T, D");
  int r = node("scaled_dot_product_attention", (int[]){q, k, v}, 3, NULL, 0, NULL);
  cr_assert_str_eq(type_of(r), "f32[B, H, S, E]");
  int r2 = node("scaled_dot_product_attention", (int[]){q, k1, v}, 3, NULL, 0, NULL);
  cr_assert_str_eq(type_of(r2), "f32[B, H, S, E]");
  int kbad = input("kbad", GRAPHC_F32, "B, H, T, E"), vbad = input("vbad", GRAPHC_F32, "B, H, S, E");
  int kh = input("kh", GRAPHC_F16, "B, H, T, D"), q2 = input("q2", GRAPHC_F32, "S, D");
  int kc = input("kc", GRAPHC_F32, "C, H, T, D");
  node_err("scaled_dot_product_attention", (int[]){q, kbad, v}, 3, NULL, 0, NULL, "operand 1 (k): expected last dim D");
  node_err("scaled_dot_product_attention", (int[]){q, k, vbad}, 3, NULL, 0, NULL, "operand 2 (v): expected dim -2 to be T");
  node_err("scaled_dot_product_attention", (int[]){q, kh, v}, 3, NULL, 0, NULL, "operand 1 (k): expected dtype f32");
  node_err("scaled_dot_product_attention", (int[]){q2, q2, q2}, 3, NULL, 0, NULL, "expected rank >= 3");
  node_err("scaled_dot_product_attention", (int[]){q, kc, v}, 3, NULL, 0, NULL, "not broadcastable");
  node_err("scaled_dot_product_attention", (int[]){q, k, v, v}, 4, NULL, 0, NULL,
           "captures need a score function region");
}

Test(ops_region, sdpa_values_and_scale) {
  /* q [1, 2, 2]: row 0 = [1, 0], row 1 = [0, 0]; k rows [1, 0], [0, 1];
   * v rows [1, 10], [0, 20]. Row 0 scores [s, 0] with s the scale; row 1
   * uniform. */
  int q = input("q", GRAPHC_F32, "1, 2, 2"), k = input("k", GRAPHC_F32, "1, 2, 2");
  int v = input("v", GRAPHC_F32, "1, 2, 2");
  int r1 = node("scaled_dot_product_attention", (int[]){q, k, v}, 3, NULL, 0, NULL);
  graphc_attr_t sc[] = {A_FLOAT("scale", 2.0)};
  int r2 = node("scaled_dot_product_attention", (int[]){q, k, v}, 3, sc, 1, NULL);
  cr_assert_str_eq(type_of(r1), "f32[1, 2, 2]");
  gc_tensor ins[3] = {mk(GRAPHC_F32, 3, (int64_t[]){1, 2, 2}, (double[]){1, 0, 0, 0}),
                      mk(GRAPHC_F32, 3, (int64_t[]){1, 2, 2}, (double[]){1, 0, 0, 1}),
                      mk(GRAPHC_F32, 3, (int64_t[]){1, 2, 2}, (double[]){1, 10, 0, 20})};
  gc_tensor res[2];
  run((int[]){r1, r2}, 2, ins, 3, res);
  double w1 = 1 / (1 + exp(-1 / sqrt(2.0))), w2 = 1 / (1 + exp(-2.0));
  expect(&res[0], 3, (int64_t[]){1, 2, 2}, (double[]){w1, 10 * w1 + 20 * (1 - w1), 0.5, 15});
  expect(&res[1], 3, (int64_t[]){1, 2, 2}, (double[]){w2, 10 * w2 + 20 * (1 - w2), 0.5, 15});
}

Test(ops_region, sdpa_causal_and_bool_mask) {
  /* q = 0, so weights are uniform over the kept keys; v rows 1, 2, 3 (Dv 1). */
  int q = input("q", GRAPHC_F32, "1, 2, 4"), k = input("k", GRAPHC_F32, "1, 3, 4");
  int v = input("v", GRAPHC_F32, "1, 3, 1"), m = input("m", GRAPHC_BOOL, "2, 3");
  graphc_attr_t causal[] = {A_BOOL("causal", true)};
  graphc_attr_t masked[] = {A_BOOL("has_mask", true)};
  int r1 = node("scaled_dot_product_attention", (int[]){q, k, v}, 3, causal, 1, NULL);
  int r2 = node("scaled_dot_product_attention", (int[]){q, k, v, m}, 4, masked, 1, NULL);
  gc_tensor ins[4] = {mk(GRAPHC_F32, 3, (int64_t[]){1, 2, 4}, (double[]){0, 0, 0, 0, 0, 0, 0, 0}),
                      mk(GRAPHC_F32, 3, (int64_t[]){1, 3, 4}, NULL),
                      mk(GRAPHC_F32, 3, (int64_t[]){1, 3, 1}, NULL),
                      mk(GRAPHC_BOOL, 2, (int64_t[]){2, 3}, (double[]){1, 0, 1, 0, 0, 0})};
  gc_tensor res[2];
  run((int[]){r1, r2}, 2, ins, 4, res);
  /* causal, top-left aligned: row 0 sees key 0, row 1 keys 0-1 */
  expect(&res[0], 3, (int64_t[]){1, 2, 1}, (double[]){1, 1.5});
  /* mask: row 0 keeps keys 0 and 2; row 1 keeps nothing -> zeros
   * (PyTorch's _safe_softmax) */
  expect(&res[1], 3, (int64_t[]){1, 2, 1}, (double[]){2, 0});
}

Test(ops_region, sdpa_float_mask_and_batch_broadcast) {
  /* q [2, 1, 1, 2] against k, v [1, 2, 2, *]: batch [2, 2]. Scale 1.
   * q batch 0 = 0 (uniform), batch 1 = [ln 3, 0]. Head 0 k rows [1,0],[0,0]
   * and v [1],[2]; head 1 k rows [0,0],[1,0] and v [3],[4]. */
  int q = input("q", GRAPHC_F32, "2, 1, 1, 2"), k = input("k", GRAPHC_F32, "1, 2, 2, 2");
  int v = input("v", GRAPHC_F32, "1, 2, 2, 1"), m = input("m", GRAPHC_F32, "2");
  graphc_attr_t a1[] = {A_FLOAT("scale", 1.0)};
  graphc_attr_t a2[] = {A_FLOAT("scale", 1.0), A_BOOL("has_mask", true)};
  int r1 = node("scaled_dot_product_attention", (int[]){q, k, v}, 3, a1, 1, NULL);
  int r2 = node("scaled_dot_product_attention", (int[]){q, k, v, m}, 4, a2, 2, NULL);
  cr_assert_str_eq(type_of(r1), "f32[2, 2, 1, 1]");
  double l3 = log(3.0);
  gc_tensor ins[4] = {mk(GRAPHC_F32, 4, (int64_t[]){2, 1, 1, 2}, (double[]){0, 0, l3, 0}),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 2, 2, 2}, (double[]){1, 0, 0, 0, 0, 0, 1, 0}),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 2, 2, 1}, (double[]){1, 2, 3, 4}),
                      mk(GRAPHC_F32, 1, (int64_t[]){2}, (double[]){0, l3})};
  gc_tensor res[2];
  run((int[]){r1, r2}, 2, ins, 4, res);
  /* batch 1 head 0: scores [ln3, 0] -> 3/4, 1/4 -> 1.25; head 1: [0, ln3] -> 3.75 */
  expect(&res[0], 4, (int64_t[]){2, 2, 1, 1}, (double[]){1.5, 3.5, 1.25, 3.75});
  /* + mask [0, ln3]: batch 0 -> 1/4, 3/4: 1.75, 3.75; batch 1 head 0 scores
   * [ln3, ln3] -> 1.5; head 1 [0, 2 ln3] -> 1/10, 9/10: 3.9 */
  expect(&res[1], 4, (int64_t[]){2, 2, 1, 1}, (double[]){1.75, 3.75, 1.5, 3.9});
}

/* Score function: score + h * kv_idx + bias[kv_idx] (bias a capture). */
static gc_graph *score_region(const char *bias_shape) {
  gc_graph *r = region("score_mod");
  int s = input_in(r, "score", GRAPHC_F32, "1, 2, 2, 2");
  input_in(r, "b", GRAPHC_I64, "1, 1, 1, 1");
  int h = input_in(r, "h", GRAPHC_I64, "1, 2, 1, 1");
  input_in(r, "q_idx", GRAPHC_I64, "1, 1, 2, 1");
  int kv = input_in(r, "kv_idx", GRAPHC_I64, "1, 1, 1, 2");
  int bias = input_in(r, "bias", GRAPHC_F32, bias_shape);
  int t = node_in(r, "mul", (int[]){h, kv}, 2, NULL, 0, NULL);
  int s1 = node_in(r, "add", (int[]){s, t}, 2, NULL, 0, NULL);
  int s2 = node_in(r, "add", (int[]){s1, bias}, 2, NULL, 0, NULL);
  OK(gc_graph_set_outputs(r, &s2, 1));
  return r;
}

Test(ops_region, sdpa_score_function) {
  /* B=1, H=2, Sq=Skv=2, D=2, Dv=1; q = 0 so scores start at 0.
   * Head 0: scores [0, ln2] -> 1/3, 2/3; head 1: [0, 1 + ln2] -> 1/(1+2e),
   * 2e/(1+2e). v: head 0 rows [0],[3], head 1 rows [0],[1]. */
  int q = input("q", GRAPHC_F32, "1, 2, 2, 2"), k = input("k", GRAPHC_F32, "1, 2, 2, 2");
  int v = input("v", GRAPHC_F32, "1, 2, 2, 1"), bias = input("bias", GRAPHC_F32, "2");
  int r1 = node("scaled_dot_product_attention", (int[]){q, k, v, bias}, 4, NULL, 0, score_region("2"));
  graphc_attr_t causal[] = {A_BOOL("causal", true)};
  int r2 = node("scaled_dot_product_attention", (int[]){q, k, v, bias}, 4, causal, 1, score_region("2"));
  cr_assert_str_eq(type_of(r1), "f32[1, 2, 2, 1]");
  double e = exp(1.0), h1 = 2 * e / (1 + 2 * e);
  gc_tensor ins[4] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 2, 2, 2}, (double[]){0, 0, 0, 0, 0, 0, 0, 0}),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 2, 2, 2}, NULL),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 2, 2, 1}, (double[]){0, 3, 0, 1}),
                      mk(GRAPHC_F32, 1, (int64_t[]){2}, (double[]){0, log(2.0)})};
  gc_tensor res[2];
  run((int[]){r1, r2}, 2, ins, 4, res);
  expect(&res[0], 4, (int64_t[]){1, 2, 2, 1}, (double[]){2, 2, h1, h1});
  /* causal after the score function: query 0 sees key 0 only (v = 0) */
  expect(&res[1], 4, (int64_t[]){1, 2, 2, 1}, (double[]){0, 2, 0, h1});
}

Test(ops_region, sdpa_score_function_errors) {
  int q = input("q", GRAPHC_F32, "1, 2, 2, 2"), v = input("v", GRAPHC_F32, "1, 2, 2, 1");
  int bias = input("bias", GRAPHC_F32, "2"), q3 = input("q3", GRAPHC_F32, "2, 2, 2");
  int bias3 = input("bias3", GRAPHC_F32, "3");
  node_err("scaled_dot_product_attention", (int[]){q3, q3, q3, bias}, 4, NULL, 0,
           score_region("2"), "expected rank 4 (a score function is given)");
  node_err("scaled_dot_product_attention", (int[]){q, q, v, bias3}, 4, NULL, 0,
           score_region("2"), "operand 3 (capture 0): region 'score_mod' input 5 expects f32[2], got f32[3]");
  node_err("scaled_dot_product_attention", (int[]){q, q, v}, 3, NULL, 0, score_region("2"),
           "takes 6 inputs, expected 5");

  gc_graph *r = region("bad");
  int s = input_in(r, "score", GRAPHC_F32, "1, 2, 2, 2");
  input_in(r, "b", GRAPHC_I32, "1, 1, 1, 1");
  input_in(r, "h", GRAPHC_I64, "1, 2, 1, 1");
  input_in(r, "q_idx", GRAPHC_I64, "1, 1, 2, 1");
  input_in(r, "kv_idx", GRAPHC_I64, "1, 1, 1, 2");
  OK(gc_graph_set_outputs(r, &s, 1));
  node_err("scaled_dot_product_attention", (int[]){q, q, v}, 3, NULL, 0, r,
           "input 1 (b): expected i64[1, 1, 1, 1], got i32[1, 1, 1, 1]");

  r = region("two");
  s = input_in(r, "score", GRAPHC_F32, "1, 2, 2, 2");
  input_in(r, "b", GRAPHC_I64, "1, 1, 1, 1");
  input_in(r, "h", GRAPHC_I64, "1, 2, 1, 1");
  input_in(r, "q_idx", GRAPHC_I64, "1, 1, 2, 1");
  int kv = input_in(r, "kv_idx", GRAPHC_I64, "1, 1, 1, 2");
  OK(gc_graph_set_outputs(r, (int[]){s, kv}, 2));
  node_err("scaled_dot_product_attention", (int[]){q, q, v}, 3, NULL, 0, r, "must have 1 output");
}

Test(ops_region, sdpa_mask_errors) {
  int q = input("q", GRAPHC_F32, "1, 2, 2"), m64 = input("m64", GRAPHC_F64, "2, 2");
  int m3 = input("m3", GRAPHC_BOOL, "3");
  graphc_attr_t masked[] = {A_BOOL("has_mask", true)};
  node_err("scaled_dot_product_attention", (int[]){q, q, q, m64}, 4, masked, 1, NULL,
           "operand 3 (mask): expected bool or f32");
  node_err("scaled_dot_product_attention", (int[]){q, q, q, m3}, 4, masked, 1, NULL,
           "operand 3 (mask): expected a shape broadcastable to the scores f32[1, 2, 2], got bool[3]");
  node_err("scaled_dot_product_attention", (int[]){q, q, q}, 3, masked, 1, NULL,
           "has_mask=true but there is no mask operand");
}
