/* Tests for lib/ops/ops_region.c: call, checkpoint and
 * scaled_dot_product_attention (with masks, causal masking, batch
 * broadcasting and score-function regions). Expected numbers are worked
 * out by hand in the comments. */
#include "ops_harness.h"

TestSuite(ops_region, .init = ops_setup, .fini = ops_teardown);

/* A new region of g, to be attached to a node. */
static gc_graph *region(const char *name) {
  gc_graph *r;
  OK(gc_graph_new(ctx, name, g, &r));
  return r;
}

/* ---- call, checkpoint ------------------------------------------------------ */

Test(ops_region, call_two_outputs) {
  int a = input(g, "a", GRAPHC_F32, "N"), b = input(g, "b", GRAPHC_F32, "N");
  gc_graph *r = region("body");
  int x = input(r, "x", GRAPHC_F32, "N"), y = input(r, "y", GRAPHC_F32, "N");
  int s = node(r, "add", (int[]){x, y}, 2, NULL, 0);
  int p = node(r, "mul", (int[]){x, y}, 2, NULL, 0);
  OK(gc_graph_set_outputs(r, (int[]){s, p}, 2));
  int n;
  OK(try_node(g, "call", (int[]){a, b}, 2, NULL, 0, r, &n));
  cr_assert_eq(g->nodes[n].nresults, 2);
  int r0 = g->nodes[n].results[0], r1 = g->nodes[n].results[1];
  cr_assert_str_eq(type_of(g, r0), "f32[N]");
  gc_tensor ins[2] = {mk(GRAPHC_F32, 1, (int64_t[]){3}, NULL),
                      mk(GRAPHC_F32, 1, (int64_t[]){3}, (double[]){10, 20, 30})};
  gc_tensor res[2];
  run_all(g, (int[]){r0, r1}, 2, ins, 2, res);
  expect_tensor(&res[0], GRAPHC_F32, 1, (int64_t[]){3}, (double[]){11, 22, 33}, 1e-6);
  expect_tensor(&res[1], GRAPHC_F32, 1, (int64_t[]){3}, (double[]){10, 40, 90}, 1e-6);
  free_all(res, 2);
}

Test(ops_region, checkpoint_passthrough_and_matmul) {
  int a = input(g, "a", GRAPHC_F64, "2, 2");
  gc_graph *r = region("ck");
  int x = input(r, "x", GRAPHC_F64, "2, 2");
  int m = node(r, "matmul", (int[]){x, x}, 2, NULL, 0);
  OK(gc_graph_set_outputs(r, (int[]){m, x}, 2));
  int n;
  OK(try_node(g, "checkpoint", &a, 1, NULL, 0, r, &n));
  int r0 = g->nodes[n].results[0], r1 = g->nodes[n].results[1];
  gc_tensor ins[1] = {mk(GRAPHC_F64, 2, (int64_t[]){2, 2}, NULL)};
  gc_tensor res[2];
  run_all(g, (int[]){r0, r1}, 2, ins, 1, res);
  expect_tensor(&res[0], GRAPHC_F64, 2, (int64_t[]){2, 2}, (double[]){7, 10, 15, 22}, 1e-6);
  expect_tensor(&res[1], GRAPHC_F64, 2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 4}, 1e-6);
  free_all(res, 2);
}

Test(ops_region, call_errors) {
  int a = input(g, "a", GRAPHC_F32, "N"), b = input(g, "b", GRAPHC_F64, "N"),
      c = input(g, "c", GRAPHC_F32, "M");
  gc_graph *r = region("body");
  int x = input(r, "x", GRAPHC_F32, "N"), y = input(r, "y", GRAPHC_F32, "N");
  OK(gc_graph_set_outputs(r, (int[]){x, y}, 2));
  node_fails_r(g, "call", &a, 1, NULL, 0, r,
               "region 'body' takes 2 inputs, but the op has 1 operands");

  r = region("body");
  x = input(r, "x", GRAPHC_F32, "N"), y = input(r, "y", GRAPHC_F32, "N");
  OK(gc_graph_set_outputs(r, &x, 1));
  node_fails_r(g, "call", (int[]){a, b}, 2, NULL, 0, r,
               "operand 1: region 'body' input 1 (%y) expects f32[N], got f64[N]");

  r = region("body");
  x = input(r, "x", GRAPHC_F32, "N"), y = input(r, "y", GRAPHC_F32, "N");
  OK(gc_graph_set_outputs(r, &x, 1));
  node_fails_r(g, "checkpoint", (int[]){a, c}, 2, NULL, 0, r, "expects f32[N], got f32[M]");

  r = region("empty");
  x = input(r, "x", GRAPHC_F32, "N");
  node_fails_r(g, "call", &a, 1, NULL, 0, r, "region 'empty' has no outputs");
}

/* ---- scaled_dot_product_attention ------------------------------------------ */

Test(ops_region, sdpa_types) {
  int q = input(g, "q", GRAPHC_F32, "B, H, S, D"), k = input(g, "k", GRAPHC_F32, "B, H, T, D");
  int v = input(g, "v", GRAPHC_F32, "B, H, T, E"), k1 = input(g, "k1", GRAPHC_F32, "1, H, T, D");
  int r = node(g, "scaled_dot_product_attention", (int[]){q, k, v}, 3, NULL, 0);
  cr_assert_str_eq(type_of(g, r), "f32[B, H, S, E]");
  int r2 = node(g, "scaled_dot_product_attention", (int[]){q, k1, v}, 3, NULL, 0);
  cr_assert_str_eq(type_of(g, r2), "f32[B, H, S, E]");
  int kbad = input(g, "kbad", GRAPHC_F32, "B, H, T, E"),
      vbad = input(g, "vbad", GRAPHC_F32, "B, H, S, E");
  int kh = input(g, "kh", GRAPHC_F16, "B, H, T, D"), q2 = input(g, "q2", GRAPHC_F32, "S, D");
  int kc = input(g, "kc", GRAPHC_F32, "C, H, T, D");
  node_fails(g, "scaled_dot_product_attention", (int[]){q, kbad, v}, 3, NULL, 0,
             "operand 1 (k): expected last dim D");
  node_fails(g, "scaled_dot_product_attention", (int[]){q, k, vbad}, 3, NULL, 0,
             "operand 2 (v): expected dim -2 to be T");
  node_fails(g, "scaled_dot_product_attention", (int[]){q, kh, v}, 3, NULL, 0,
             "operand 1 (k): expected dtype f32");
  node_fails(g, "scaled_dot_product_attention", (int[]){q2, q2, q2}, 3, NULL, 0,
             "expected rank >= 3");
  node_fails(g, "scaled_dot_product_attention", (int[]){q, kc, v}, 3, NULL, 0, "not broadcastable");
  node_fails(g, "scaled_dot_product_attention", (int[]){q, k, v, v}, 4, NULL, 0,
             "captures need a score function region");
}

Test(ops_region, sdpa_values_and_scale) {
  /* q [1, 2, 2]: row 0 = [1, 0], row 1 = [0, 0]; k rows [1, 0], [0, 1];
   * v rows [1, 10], [0, 20]. Row 0 scores [s, 0] with s the scale; row 1
   * uniform. */
  int q = input(g, "q", GRAPHC_F32, "1, 2, 2"), k = input(g, "k", GRAPHC_F32, "1, 2, 2");
  int v = input(g, "v", GRAPHC_F32, "1, 2, 2");
  int r1 = node(g, "scaled_dot_product_attention", (int[]){q, k, v}, 3, NULL, 0);
  graphc_attr_t sc[] = {A_FLOAT("scale", 2.0)};
  int r2 = node(g, "scaled_dot_product_attention", (int[]){q, k, v}, 3, sc, 1);
  cr_assert_str_eq(type_of(g, r1), "f32[1, 2, 2]");
  gc_tensor ins[3] = {mk(GRAPHC_F32, 3, (int64_t[]){1, 2, 2}, (double[]){1, 0, 0, 0}),
                      mk(GRAPHC_F32, 3, (int64_t[]){1, 2, 2}, (double[]){1, 0, 0, 1}),
                      mk(GRAPHC_F32, 3, (int64_t[]){1, 2, 2}, (double[]){1, 10, 0, 20})};
  gc_tensor res[2];
  run_all(g, (int[]){r1, r2}, 2, ins, 3, res);
  double w1 = 1 / (1 + exp(-1 / sqrt(2.0))), w2 = 1 / (1 + exp(-2.0));
  expect_tensor(&res[0], GRAPHC_F32, 3, (int64_t[]){1, 2, 2},
                (double[]){w1, 10 * w1 + 20 * (1 - w1), 0.5, 15}, 1e-6);
  expect_tensor(&res[1], GRAPHC_F32, 3, (int64_t[]){1, 2, 2},
                (double[]){w2, 10 * w2 + 20 * (1 - w2), 0.5, 15}, 1e-6);
  free_all(res, 2);
}

Test(ops_region, sdpa_causal_and_bool_mask) {
  /* q = 0, so weights are uniform over the kept keys; v rows 1, 2, 3 (Dv 1). */
  int q = input(g, "q", GRAPHC_F32, "1, 2, 4"), k = input(g, "k", GRAPHC_F32, "1, 3, 4");
  int v = input(g, "v", GRAPHC_F32, "1, 3, 1"), m = input(g, "m", GRAPHC_BOOL, "2, 3");
  graphc_attr_t causal[] = {A_BOOL("causal", true)};
  graphc_attr_t masked[] = {A_BOOL("has_mask", true)};
  int r1 = node(g, "scaled_dot_product_attention", (int[]){q, k, v}, 3, causal, 1);
  int r2 = node(g, "scaled_dot_product_attention", (int[]){q, k, v, m}, 4, masked, 1);
  gc_tensor ins[4] = {mk(GRAPHC_F32, 3, (int64_t[]){1, 2, 4}, (double[]){0, 0, 0, 0, 0, 0, 0, 0}),
                      mk(GRAPHC_F32, 3, (int64_t[]){1, 3, 4}, NULL),
                      mk(GRAPHC_F32, 3, (int64_t[]){1, 3, 1}, NULL),
                      mk(GRAPHC_BOOL, 2, (int64_t[]){2, 3}, (double[]){1, 0, 1, 0, 0, 0})};
  gc_tensor res[2];
  run_all(g, (int[]){r1, r2}, 2, ins, 4, res);
  /* causal, top-left aligned: row 0 sees key 0, row 1 keys 0-1 */
  expect_tensor(&res[0], GRAPHC_F32, 3, (int64_t[]){1, 2, 1}, (double[]){1, 1.5}, 1e-6);
  /* mask: row 0 keeps keys 0 and 2; row 1 keeps nothing -> zeros
   * (PyTorch's _safe_softmax) */
  expect_tensor(&res[1], GRAPHC_F32, 3, (int64_t[]){1, 2, 1}, (double[]){2, 0}, 1e-6);
  free_all(res, 2);
}

Test(ops_region, sdpa_float_mask_and_batch_broadcast) {
  /* q [2, 1, 1, 2] against k, v [1, 2, 2, *]: batch [2, 2]. Scale 1.
   * q batch 0 = 0 (uniform), batch 1 = [ln 3, 0]. Head 0 k rows [1,0],[0,0]
   * and v [1],[2]; head 1 k rows [0,0],[1,0] and v [3],[4]. */
  int q = input(g, "q", GRAPHC_F32, "2, 1, 1, 2"), k = input(g, "k", GRAPHC_F32, "1, 2, 2, 2");
  int v = input(g, "v", GRAPHC_F32, "1, 2, 2, 1"), m = input(g, "m", GRAPHC_F32, "2");
  graphc_attr_t a1[] = {A_FLOAT("scale", 1.0)};
  graphc_attr_t a2[] = {A_FLOAT("scale", 1.0), A_BOOL("has_mask", true)};
  int r1 = node(g, "scaled_dot_product_attention", (int[]){q, k, v}, 3, a1, 1);
  int r2 = node(g, "scaled_dot_product_attention", (int[]){q, k, v, m}, 4, a2, 2);
  cr_assert_str_eq(type_of(g, r1), "f32[2, 2, 1, 1]");
  double l3 = log(3.0);
  gc_tensor ins[4] = {mk(GRAPHC_F32, 4, (int64_t[]){2, 1, 1, 2}, (double[]){0, 0, l3, 0}),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 2, 2, 2}, (double[]){1, 0, 0, 0, 0, 0, 1, 0}),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 2, 2, 1}, (double[]){1, 2, 3, 4}),
                      mk(GRAPHC_F32, 1, (int64_t[]){2}, (double[]){0, l3})};
  gc_tensor res[2];
  run_all(g, (int[]){r1, r2}, 2, ins, 4, res);
  /* batch 1 head 0: scores [ln3, 0] -> 3/4, 1/4 -> 1.25; head 1: [0, ln3] -> 3.75 */
  expect_tensor(&res[0], GRAPHC_F32, 4, (int64_t[]){2, 2, 1, 1}, (double[]){1.5, 3.5, 1.25, 3.75},
                1e-6);
  /* + mask [0, ln3]: batch 0 -> 1/4, 3/4: 1.75, 3.75; batch 1 head 0 scores
   * [ln3, ln3] -> 1.5; head 1 [0, 2 ln3] -> 1/10, 9/10: 3.9 */
  expect_tensor(&res[1], GRAPHC_F32, 4, (int64_t[]){2, 2, 1, 1}, (double[]){1.75, 3.75, 1.5, 3.9},
                1e-6);
  free_all(res, 2);
}

/* Score function: score + h * kv_idx + bias[kv_idx] (bias a capture). */
static gc_graph *score_region(const char *bias_shape) {
  gc_graph *r = region("score_mod");
  int s = input(r, "score", GRAPHC_F32, "1, 2, 2, 2");
  input(r, "b", GRAPHC_I64, "1, 1, 1, 1");
  int h = input(r, "h", GRAPHC_I64, "1, 2, 1, 1");
  input(r, "q_idx", GRAPHC_I64, "1, 1, 2, 1");
  int kv = input(r, "kv_idx", GRAPHC_I64, "1, 1, 1, 2");
  int bias = input(r, "bias", GRAPHC_F32, bias_shape);
  int t = node(r, "mul", (int[]){h, kv}, 2, NULL, 0);
  int s1 = node(r, "add", (int[]){s, t}, 2, NULL, 0);
  int s2 = node(r, "add", (int[]){s1, bias}, 2, NULL, 0);
  OK(gc_graph_set_outputs(r, &s2, 1));
  return r;
}

Test(ops_region, sdpa_score_function) {
  /* B=1, H=2, Sq=Skv=2, D=2, Dv=1; q = 0 so scores start at 0.
   * Head 0: scores [0, ln2] -> 1/3, 2/3; head 1: [0, 1 + ln2] -> 1/(1+2e),
   * 2e/(1+2e). v: head 0 rows [0],[3], head 1 rows [0],[1]. */
  int q = input(g, "q", GRAPHC_F32, "1, 2, 2, 2"), k = input(g, "k", GRAPHC_F32, "1, 2, 2, 2");
  int v = input(g, "v", GRAPHC_F32, "1, 2, 2, 1"), bias = input(g, "bias", GRAPHC_F32, "2");
  int r1 = node_r(g, "scaled_dot_product_attention", (int[]){q, k, v, bias}, 4, NULL, 0,
                  score_region("2"));
  graphc_attr_t causal[] = {A_BOOL("causal", true)};
  int r2 = node_r(g, "scaled_dot_product_attention", (int[]){q, k, v, bias}, 4, causal, 1,
                  score_region("2"));
  cr_assert_str_eq(type_of(g, r1), "f32[1, 2, 2, 1]");
  double e = exp(1.0), h1 = 2 * e / (1 + 2 * e);
  gc_tensor ins[4] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 2, 2, 2}, (double[]){0, 0, 0, 0, 0, 0, 0, 0}),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 2, 2, 2}, NULL),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 2, 2, 1}, (double[]){0, 3, 0, 1}),
                      mk(GRAPHC_F32, 1, (int64_t[]){2}, (double[]){0, log(2.0)})};
  gc_tensor res[2];
  run_all(g, (int[]){r1, r2}, 2, ins, 4, res);
  expect_tensor(&res[0], GRAPHC_F32, 4, (int64_t[]){1, 2, 2, 1}, (double[]){2, 2, h1, h1}, 1e-6);
  /* causal after the score function: query 0 sees key 0 only (v = 0) */
  expect_tensor(&res[1], GRAPHC_F32, 4, (int64_t[]){1, 2, 2, 1}, (double[]){0, 2, 0, h1}, 1e-6);
  free_all(res, 2);
}

Test(ops_region, sdpa_score_function_errors) {
  int q = input(g, "q", GRAPHC_F32, "1, 2, 2, 2"), v = input(g, "v", GRAPHC_F32, "1, 2, 2, 1");
  int bias = input(g, "bias", GRAPHC_F32, "2"), q3 = input(g, "q3", GRAPHC_F32, "2, 2, 2");
  int bias3 = input(g, "bias3", GRAPHC_F32, "3");
  node_fails_r(g, "scaled_dot_product_attention", (int[]){q3, q3, q3, bias}, 4, NULL, 0,
               score_region("2"), "expected rank 4 (a score function is given)");
  node_fails_r(g, "scaled_dot_product_attention", (int[]){q, q, v, bias3}, 4, NULL, 0,
               score_region("2"),
               "operand 3 (capture 0): region 'score_mod' input 5 expects f32[2], got f32[3]");
  node_fails_r(g, "scaled_dot_product_attention", (int[]){q, q, v}, 3, NULL, 0, score_region("2"),
               "takes 6 inputs, expected 5");

  gc_graph *r = region("bad");
  int s = input(r, "score", GRAPHC_F32, "1, 2, 2, 2");
  input(r, "b", GRAPHC_I32, "1, 1, 1, 1");
  input(r, "h", GRAPHC_I64, "1, 2, 1, 1");
  input(r, "q_idx", GRAPHC_I64, "1, 1, 2, 1");
  input(r, "kv_idx", GRAPHC_I64, "1, 1, 1, 2");
  OK(gc_graph_set_outputs(r, &s, 1));
  node_fails_r(g, "scaled_dot_product_attention", (int[]){q, q, v}, 3, NULL, 0, r,
               "input 1 (b): expected i64[1, 1, 1, 1], got i32[1, 1, 1, 1]");

  r = region("two");
  s = input(r, "score", GRAPHC_F32, "1, 2, 2, 2");
  input(r, "b", GRAPHC_I64, "1, 1, 1, 1");
  input(r, "h", GRAPHC_I64, "1, 2, 1, 1");
  input(r, "q_idx", GRAPHC_I64, "1, 1, 2, 1");
  int kv = input(r, "kv_idx", GRAPHC_I64, "1, 1, 1, 2");
  OK(gc_graph_set_outputs(r, (int[]){s, kv}, 2));
  node_fails_r(g, "scaled_dot_product_attention", (int[]){q, q, v}, 3, NULL, 0, r,
               "must have 1 output");
}

Test(ops_region, sdpa_mask_errors) {
  int q = input(g, "q", GRAPHC_F32, "1, 2, 2"), m64 = input(g, "m64", GRAPHC_F64, "2, 2");
  int m3 = input(g, "m3", GRAPHC_BOOL, "3");
  graphc_attr_t masked[] = {A_BOOL("has_mask", true)};
  node_fails(g, "scaled_dot_product_attention", (int[]){q, q, q, m64}, 4, masked, 1,
             "operand 3 (mask): expected bool or f32");
  node_fails(g, "scaled_dot_product_attention", (int[]){q, q, q, m3}, 4, masked, 1,
             "operand 3 (mask): expected a shape broadcastable to the scores f32[1, 2, 2], "
             "got bool[3]");
  node_fails(g, "scaled_dot_product_attention", (int[]){q, q, q}, 3, masked, 1,
             "has_mask=true but there is no mask operand");
}
