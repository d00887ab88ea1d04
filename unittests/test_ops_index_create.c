/* Tests for lib/ops/ops_index.c and lib/ops/ops_create.c: inferred types,
 * interpreter results against hand-computed values, unbacked symbols
 * (nonzero, item) used downstream, and infer / eval errors. */
#include <stdio.h>

#include "ops_harness.h"

TestSuite(ops_ic, .init = ops_setup, .fini = ops_teardown);

/* ---- index_select -------------------------------------------------------- */

Test(ops_ic, index_select) {
  int x = input(g, "x", GRAPHC_F32, "3, 2");
  int idx = input(g, "idx", GRAPHC_I32, "K");
  int ops[] = {x, idx};
  int y = node(g, "index_select", ops, 2, (graphc_attr_t[]){A_INT("dim", 0)}, 1);
  expect_type(g, y, "f32[K, 2]");
  gc_tensor in[2] = {iota(GRAPHC_F32, 2, (int64_t[]){3, 2}),
                     mk(GRAPHC_I32, 1, (int64_t[]){4}, (double[]){2, 0, 2, 1})};
  gc_tensor out;
  OK(try_run(g, &y, 1, in, 2, &out));
  expect_tensor(&out, GRAPHC_F32, 2, (int64_t[]){4, 2}, (double[]){4, 5, 0, 1, 4, 5, 2, 3}, 0);
  free_all(&out, 1);
  gc_tensor_seti(&in[1], 3, 3);
  run_fails(g, &y, 1, in, 2, GRAPHC_STATUS_OUT_OF_RANGE, "index 3 is out of range");
  gc_tensor_seti(&in[1], 3, -1);
  run_fails(g, &y, 1, in, 2, GRAPHC_STATUS_OUT_OF_RANGE, "index -1 is out of range");
  free_all(in, 2);
}

Test(ops_ic, index_select_errors) {
  int x = input(g, "x", GRAPHC_F32, "3, 2");
  int fi = input(g, "fi", GRAPHC_F32, "2");
  int i2 = input(g, "i2", GRAPHC_I64, "2, 2");
  int a[] = {x, fi}, b[] = {x, i2};
  graphc_attr_t d0[] = {A_INT("dim", 0)};
  node_fails(g, "index_select", a, 2, d0, 1, "operand 1 (index): expected an i32 or i64");
  node_fails(g, "index_select", b, 2, d0, 1, "operand 1 (index): expected rank 1");
  int c[] = {x, input(g, "i1", GRAPHC_I64, "2")};
  node_fails(g, "index_select", c, 2, (graphc_attr_t[]){A_INT("dim", 2)}, 1, "out of range");
}

/* ---- gather -------------------------------------------------------------- */

Test(ops_ic, gather) {
  int x = input(g, "x", GRAPHC_I64, "2, 3");
  int idx = input(g, "idx", GRAPHC_I64, "2, 2");
  int ops[] = {x, idx};
  int y = node(g, "gather", ops, 2, (graphc_attr_t[]){A_INT("dim", 1)}, 1);
  expect_type(g, y, "i64[2, 2]");
  gc_tensor in[2] = {iota(GRAPHC_I64, 2, (int64_t[]){2, 3}),
                     mk(GRAPHC_I64, 2, (int64_t[]){2, 2}, (double[]){2, 0, 1, 1})};
  gc_tensor out;
  OK(try_run(g, &y, 1, in, 2, &out));
  /* out[i][j] = x[i][idx[i][j]] */
  expect_tensor(&out, GRAPHC_I64, 2, (int64_t[]){2, 2}, (double[]){2, 0, 4, 4}, 0);
  free_all(&out, 1);
  gc_tensor_seti(&in[1], 1, 3);
  run_fails(g, &y, 1, in, 2, GRAPHC_STATUS_OUT_OF_RANGE, "index 3 is out of range");
  free_all(in, 2);
}

Test(ops_ic, gather_shapes) {
  int x = input(g, "x", GRAPHC_F32, "B, 4");
  int small = input(g, "small", GRAPHC_I64, "B, 9");
  int i3 = input(g, "i3", GRAPHC_I64, "3, 2");
  int isym = input(g, "isym", GRAPHC_I64, "S, 2");
  int big = input(g, "big", GRAPHC_I64, "B, 5");
  int r1[] = {x, input(g, "i1", GRAPHC_I64, "4")};
  graphc_attr_t d0[] = {A_INT("dim", 0)}, d1[] = {A_INT("dim", 1)};
  expect_type(g, node(g, "gather", (int[]){x, small}, 2, d1, 1), "f32[B, 9]");
  node_fails(g, "gather", r1, 2, d0, 1, "expected rank 2");
  node_fails(g, "gather", (int[]){x, i3}, 2, d1, 1, "provably <=");
  node_fails(g, "gather", (int[]){x, isym}, 2, d1, 1, "provably <=");
  node_fails(g, "gather", (int[]){x, big}, 2, d0, 1, "size 5 at dim 1");
}

/* ---- embedding ----------------------------------------------------------- */

Test(ops_ic, embedding) {
  int idx = input(g, "idx", GRAPHC_I64, "2, 2");
  int w = input(g, "w", GRAPHC_F16, "V, 3");
  int ops[] = {idx, w};
  int y = node(g, "embedding", ops, 2, NULL, 0);
  expect_type(g, y, "f16[2, 2, 3]");
  gc_tensor in[2] = {mk(GRAPHC_I64, 2, (int64_t[]){2, 2}, (double[]){1, 0, 1, 2}),
                     iota(GRAPHC_F16, 2, (int64_t[]){3, 3})};
  gc_tensor out;
  OK(try_run(g, &y, 1, in, 2, &out));
  expect_tensor(&out, GRAPHC_F16, 3, (int64_t[]){2, 2, 3},
                (double[]){3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8}, 0);
  free_all(&out, 1);
  gc_tensor_seti(&in[0], 0, 3);
  run_fails(g, &y, 1, in, 2, GRAPHC_STATUS_OUT_OF_RANGE, "embedding index 3");
  free_all(in, 2);
  int fw = input(g, "fw", GRAPHC_F32, "3");
  node_fails(g, "embedding", (int[]){idx, fw}, 2, NULL, 0, "operand 1 (weight): expected rank 2");
  node_fails(g, "embedding", (int[]){w, w}, 2, NULL, 0, "operand 0 (indices)");
}

/* ---- nonzero / item ------------------------------------------------------ */

Test(ops_ic, nonzero_binds_symbol) {
  int x = input(g, "x", GRAPHC_F32, "2, 3");
  int n;
  OK(try_node(g, "nonzero", &x, 1, NULL, 0, NULL, &n));
  int idx = g->nodes[n].results[0], cnt = g->nodes[n].results[1];
  const char *u = g->values[cnt].name;
  char want[64];
  snprintf(want, sizeof want, "i64[%s, 2]", u);
  expect_type(g, idx, want);
  expect_type(g, cnt, "i64[]");
  cr_expect_geq(g->values[cnt].sym, 0);
  /* A downstream op sized by the unbacked symbol. */
  dimlist s = DL(g, u);
  int z = node(g, "ones", NULL, 0, (graphc_attr_t[]){A_DIMS("shape", &s)}, 1);
  OK(gc_graph_verify(g)); /* re-inference reproduces the recorded types */
  gc_tensor in = mk(GRAPHC_F32, 2, (int64_t[]){2, 3}, (double[]){0, 1.5, 0, NAN, 0, -2});
  gc_tensor out[3];
  OK(try_run(g, (int[]){idx, cnt, z}, 3, &in, 1, out));
  expect_tensor(&out[0], GRAPHC_I64, 2, (int64_t[]){3, 2}, (double[]){0, 1, 1, 0, 1, 2}, 0);
  expect_tensor(&out[1], GRAPHC_I64, 0, NULL, (double[]){3}, 0);
  expect_tensor(&out[2], GRAPHC_F32, 1, (int64_t[]){3}, (double[]){1, 1, 1}, 0);
  free_all(out, 3);
  free_all(&in, 1);
}

Test(ops_ic, nonzero_empty_and_scalar) {
  int x = input(g, "x", GRAPHC_BOOL, "");
  int n;
  OK(try_node(g, "nonzero", &x, 1, NULL, 0, NULL, &n));
  int *r = g->nodes[n].results;
  gc_tensor in = mk(GRAPHC_BOOL, 0, NULL, (double[]){0}), out[2];
  OK(try_run(g, r, 2, &in, 1, out));
  expect_tensor(&out[0], GRAPHC_I64, 2, (int64_t[]){0, 0}, NULL, 0);
  expect_tensor(&out[1], GRAPHC_I64, 0, NULL, (double[]){0}, 0);
  free_all(out, 2);
  gc_tensor_seti(&in, 0, 1);
  OK(try_run(g, r, 2, &in, 1, out));
  expect_tensor(&out[0], GRAPHC_I64, 2, (int64_t[]){1, 0}, NULL, 0);
  expect_tensor(&out[1], GRAPHC_I64, 0, NULL, (double[]){1}, 0);
  free_all(out, 2);
  free_all(&in, 1);
}

Test(ops_ic, item_sizes_arange) {
  int x = input(g, "x", GRAPHC_I32, "1, 1");
  int v = node1(g, "item", x, NULL, 0);
  expect_type(g, v, "i64[]");
  cr_assert_geq(g->values[v].sym, 0);
  dimlist e = DL(g, g->values[v].name);
  int a = node(g, "arange", NULL, 0, (graphc_attr_t[]){A_DIMS("end", &e), A_INT("start", 1)}, 2);
  OK(gc_graph_verify(g));
  gc_tensor in = mk(GRAPHC_I32, 2, (int64_t[]){1, 1}, (double[]){4}), out[2];
  OK(try_run(g, (int[]){v, a}, 2, &in, 1, out));
  expect_tensor(&out[0], GRAPHC_I64, 0, NULL, (double[]){4}, 0);
  expect_tensor(&out[1], GRAPHC_I64, 1, (int64_t[]){3}, (double[]){1, 2, 3}, 0);
  free_all(out, 2);
  free_all(&in, 1);
}

Test(ops_ic, item_errors) {
  int f = input(g, "f", GRAPHC_F32, "1");
  int many = input(g, "many", GRAPHC_I64, "2");
  int sym = input(g, "sym", GRAPHC_I64, "B");
  node_fails(g, "item", &f, 1, NULL, 0, "expected an integer or bool");
  node_fails(g, "item", &many, 1, NULL, 0, "exactly one element");
  node_fails(g, "item", &sym, 1, NULL, 0, "exactly one element");
}

/* ---- full / zeros / ones ------------------------------------------------- */

Test(ops_ic, full_casts_value) {
  int b = input(g, "b", GRAPHC_F32, "B");
  (void)b;
  dimlist s = DL(g, "2, B");
  int f = node(g, "full", NULL, 0,
               (graphc_attr_t[]){A_DIMS("shape", &s), A_FLOAT("value", -2.7),
                                 A_DTYPE("dtype", GRAPHC_I32)},
               3);
  expect_type(g, f, "i32[2, B]");
  dimlist s2 = DL(g, "3");
  int h = node(g, "full", NULL, 0,
               (graphc_attr_t[]){A_DIMS("shape", &s2), A_FLOAT("value", 0.1),
                                 A_DTYPE("dtype", GRAPHC_F16)},
               3);
  graphc_attr_t zat[] = {A_DIMS("shape", &s2), A_DTYPE("dtype", GRAPHC_BOOL)};
  int z = node(g, "zeros", NULL, 0, zat, 2);
  int o = node(g, "ones", NULL, 0, (graphc_attr_t[]){A_DIMS("shape", &s2)}, 1);
  expect_type(g, o, "f32[3]");
  gc_tensor in = iota(GRAPHC_F32, 1, (int64_t[]){2}), out[4];
  OK(try_run(g, (int[]){f, h, z, o}, 4, &in, 1, out));
  expect_tensor(&out[0], GRAPHC_I32, 2, (int64_t[]){2, 2}, (double[]){-2, -2, -2, -2}, 0);
  double h01 = 0.0999755859375; /* 0.1 rounded to f16 */
  expect_tensor(&out[1], GRAPHC_F16, 1, (int64_t[]){3}, (double[]){h01, h01, h01}, 0);
  expect_tensor(&out[2], GRAPHC_BOOL, 1, (int64_t[]){3}, (double[]){0, 0, 0}, 0);
  expect_tensor(&out[3], GRAPHC_F32, 1, (int64_t[]){3}, (double[]){1, 1, 1}, 0);
  free_all(out, 4);
  free_all(&in, 1);
}

Test(ops_ic, full_errors) {
  dimlist neg = DL(g, "2, -1"), s = DL(g, "2");
  graphc_attr_t negat[] = {A_DIMS("shape", &neg), A_FLOAT("value", 1)};
  node_fails(g, "full", NULL, 0, negat, 2, "invalid size -1");
  node_fails(g, "full", NULL, 0,
             (graphc_attr_t[]){A_DIMS("shape", &s), A_FLOAT("value", 3e9),
                               A_DTYPE("dtype", GRAPHC_I32)},
             3, "without overflow");
  node_fails(g, "full", NULL, 0,
             (graphc_attr_t[]){A_DIMS("shape", &s), A_FLOAT("value", NAN),
                               A_DTYPE("dtype", GRAPHC_I64)},
             3, "without overflow");
}

/* ---- arange -------------------------------------------------------------- */

static void arange_case(int64_t start, int64_t end, int64_t step, gc_dtype dt, const double *want,
                        int n) {
  char es[32];
  snprintf(es, sizeof es, "%ld", (long)end);
  dimlist e = DL(g, es);
  graphc_attr_t at[] = {A_DIMS("end", &e), A_INT("start", start), A_INT("step", step),
                        A_DTYPE("dtype", dt)};
  int a = node(g, "arange", NULL, 0, at, 4);
  gc_tensor out;
  OK(try_run(g, &a, 1, NULL, 0, &out));
  expect_tensor(&out, dt, 1, (int64_t[]){n}, want, 0);
  free_all(&out, 1);
}

/* Python: list(range(start, end, step)) */
Test(ops_ic, arange_const) { arange_case(0, 5, 2, GRAPHC_I64, (double[]){0, 2, 4}, 3); }
Test(ops_ic, arange_negative_step) { arange_case(3, -3, -2, GRAPHC_I32, (double[]){3, 1, -1}, 3); }
Test(ops_ic, arange_empty) { arange_case(4, 4, 1, GRAPHC_F32, NULL, 0); }
Test(ops_ic, arange_float) { arange_case(-1, 2, 1, GRAPHC_F64, (double[]){-1, 0, 1}, 3); }

Test(ops_ic, arange_symbolic) {
  int x = input(g, "x", GRAPHC_F32, "N");
  dimlist e = DL(g, "N");
  int a = node(g, "arange", NULL, 0,
               (graphc_attr_t[]){A_DIMS("end", &e), A_INT("start", 1), A_INT("step", 3)}, 3);
  expect_type(g, a, "i64[(N + 1)//3]");
  gc_tensor in = iota(GRAPHC_F32, 1, (int64_t[]){8}), out;
  OK(try_run(g, &a, 1, &in, 1, &out));
  expect_tensor(&out, GRAPHC_I64, 1, (int64_t[]){3}, (double[]){1, 4, 7}, 0);
  free_all(&out, 1);
  free_all(&in, 1);
  /* N = 0 < start: torch.arange(1, 0, 3) is an error, not empty. */
  gc_tensor zero = iota(GRAPHC_F32, 1, (int64_t[]){0});
  run_fails(g, &a, 1, &zero, 1, GRAPHC_STATUS_OUT_OF_RANGE, "inconsistent");
  free_all(&zero, 1);
  (void)x;
}

Test(ops_ic, arange_errors) {
  dimlist e = DL(g, "5"), two = DL(g, "5, 6"), sym = DL(g, "N");
  node_fails(g, "arange", NULL, 0, (graphc_attr_t[]){A_DIMS("end", &e), A_INT("step", 0)}, 2,
             "nonzero");
  node_fails(g, "arange", NULL, 0, (graphc_attr_t[]){A_DIMS("end", &e), A_INT("step", -1)}, 2,
             "opposite sign");
  node_fails(g, "arange", NULL, 0, (graphc_attr_t[]){A_DIMS("end", &two)}, 1, "exactly one");
  node_fails(g, "arange", NULL, 0, (graphc_attr_t[]){A_DIMS("end", &sym), A_INT("step", -1)}, 2,
             "constant end");
  graphc_attr_t boolat[] = {A_DIMS("end", &e), A_DTYPE("dtype", GRAPHC_BOOL)};
  node_fails(g, "arange", NULL, 0, boolat, 2, "bool");
}
