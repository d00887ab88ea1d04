/* Tests for lib/ops/ops_shape.c: inferred types (symbolic dims included),
 * interpreter results against hand-computed values, and infer / eval
 * errors. Graphs are built with the internal builder and run with
 * gc_interp_run_tensors. */
#include "ops_harness.h"

TestSuite(ops_shape, .init = ops_setup, .fini = ops_teardown);

/* ---- reshape / view ------------------------------------------------------ */

Test(ops_shape, reshape_infers_minus_one) {
  int x = input(g, "x", GRAPHC_F32, "B, S, 4");
  dimlist s1 = DL(g, "-1, 2");
  expect_type(g, node1(g, "reshape", x, (graphc_attr_t[]){A_DIMS("shape", &s1)}, 1),
              "f32[2*B*S, 2]");
  dimlist s2 = DL(g, "B, -1");
  expect_type(g, node1(g, "view", x, (graphc_attr_t[]){A_DIMS("shape", &s2)}, 1), "f32[B, 4*S]");
  dimlist s3 = DL(g, "-1, S, 2, 2");
  expect_type(g, node1(g, "reshape", x, (graphc_attr_t[]){A_DIMS("shape", &s3)}, 1),
              "f32[B, S, 2, 2]");
  dimlist s4 = DL(g, "B*S*4");
  expect_type(g, node1(g, "reshape", x, (graphc_attr_t[]){A_DIMS("shape", &s4)}, 1), "f32[4*B*S]");
  OK(gc_graph_verify(g));
}

Test(ops_shape, reshape_errors) {
  int x = input(g, "x", GRAPHC_F32, "B, 10");
  int op[] = {x};
  dimlist bad1 = DL(g, "B, -1, -1");
  node_fails(g, "reshape", op, 1, (graphc_attr_t[]){A_DIMS("shape", &bad1)}, 1,
             "only one dimension can be -1");
  dimlist bad2 = DL(g, "B, 3, -1");
  node_fails(g, "reshape", op, 1, (graphc_attr_t[]){A_DIMS("shape", &bad2)}, 1,
             "not provably equal");
  dimlist bad3 = DL(g, "B, 5");
  node_fails(g, "view", op, 1, (graphc_attr_t[]){A_DIMS("shape", &bad3)}, 1, "not provably equal");
  dimlist bad4 = DL(g, "0, -1");
  node_fails(g, "reshape", op, 1, (graphc_attr_t[]){A_DIMS("shape", &bad4)}, 1, "ambiguous");
  dimlist bad5 = DL(g, "-2, 5");
  node_fails(g, "reshape", op, 1, (graphc_attr_t[]){A_DIMS("shape", &bad5)}, 1, "invalid size -2");
  dimlist bad6 = DL(g, "T, 10"); /* T unrelated to B */
  node_fails(g, "reshape", op, 1, (graphc_attr_t[]){A_DIMS("shape", &bad6)}, 1,
             "not provably equal");
}

Test(ops_shape, reshape_runs) {
  int x = input(g, "x", GRAPHC_I64, "2, 3");
  dimlist s = DL(g, "3, -1");
  int y = node1(g, "reshape", x, (graphc_attr_t[]){A_DIMS("shape", &s)}, 1);
  expect_type(g, y, "i64[3, 2]");
  gc_tensor in = iota(GRAPHC_I64, 2, (int64_t[]){2, 3}), out;
  OK(try_run(g, &y, 1, &in, 1, &out));
  expect_tensor(&out, GRAPHC_I64, 2, (int64_t[]){3, 2}, (double[]){0, 1, 2, 3, 4, 5}, 0);
  free_all(&out, 1);
  free_all(&in, 1);
}

Test(ops_shape, reshape_to_scalar) {
  int x = input(g, "x", GRAPHC_F16, "1, 1");
  dimlist s = DL(g, "");
  int y = node1(g, "reshape", x, (graphc_attr_t[]){A_DIMS("shape", &s)}, 1);
  expect_type(g, y, "f16[]");
  gc_tensor in = mk(GRAPHC_F16, 2, (int64_t[]){1, 1}, (double[]){1.5}), out;
  OK(try_run(g, &y, 1, &in, 1, &out));
  expect_tensor(&out, GRAPHC_F16, 0, NULL, (double[]){1.5}, 0);
  free_all(&out, 1);
  free_all(&in, 1);
}

/* ---- permute / transpose ------------------------------------------------- */

Test(ops_shape, permute) {
  int x = input(g, "x", GRAPHC_F32, "2, B, 3");
  int y = node1(g, "permute", x, (graphc_attr_t[]){A_INTS("dims", 2, 0, -2)}, 1);
  expect_type(g, y, "f32[3, 2, B]");
  gc_tensor in = iota(GRAPHC_F32, 3, (int64_t[]){2, 2, 3}), out;
  OK(try_run(g, &y, 1, &in, 1, &out));
  /* out[k][i][j] = in[i][j][k] = 6i + 3j + k */
  expect_tensor(&out, GRAPHC_F32, 3, (int64_t[]){3, 2, 2},
                (double[]){0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11}, 0);
  free_all(&out, 1);
  free_all(&in, 1);
}

Test(ops_shape, permute_errors) {
  int x = input(g, "x", GRAPHC_F32, "2, 3");
  int op[] = {x};
  node_fails(g, "permute", op, 1, (graphc_attr_t[]){A_INTS("dims", 0, 0)}, 1, "repeated");
  node_fails(g, "permute", op, 1, (graphc_attr_t[]){A_INTS("dims", 0)}, 1, "rank 2");
  node_fails(g, "permute", op, 1, (graphc_attr_t[]){A_INTS("dims", 0, 2)}, 1, "out of range");
}

Test(ops_shape, transpose) {
  int x = input(g, "x", GRAPHC_BF16, "2, 3");
  int y = node1(g, "transpose", x, (graphc_attr_t[]){A_INT("dim0", -1), A_INT("dim1", 0)}, 2);
  expect_type(g, y, "bf16[3, 2]");
  gc_tensor in = iota(GRAPHC_BF16, 2, (int64_t[]){2, 3}), out;
  OK(try_run(g, &y, 1, &in, 1, &out));
  expect_tensor(&out, GRAPHC_BF16, 2, (int64_t[]){3, 2}, (double[]){0, 3, 1, 4, 2, 5}, 0);
  free_all(&out, 1);
  free_all(&in, 1);
  int op[] = {x};
  node_fails(g, "transpose", op, 1, (graphc_attr_t[]){A_INT("dim0", 2), A_INT("dim1", 0)}, 2,
             "dim0=2 is out of range");
}

/* ---- expand -------------------------------------------------------------- */

Test(ops_shape, expand) {
  int x = input(g, "x", GRAPHC_I32, "3, 1");
  dimlist s = DL(g, "2, -1, 4");
  int y = node1(g, "expand", x, (graphc_attr_t[]){A_DIMS("shape", &s)}, 1);
  expect_type(g, y, "i32[2, 3, 4]");
  gc_tensor in = iota(GRAPHC_I32, 2, (int64_t[]){3, 1}), out;
  OK(try_run(g, &y, 1, &in, 1, &out));
  double want[24];
  for (int i = 0; i < 24; i++) want[i] = (i / 4) % 3;
  expect_tensor(&out, GRAPHC_I32, 3, (int64_t[]){2, 3, 4}, want, 0);
  free_all(&out, 1);
  free_all(&in, 1);
}

Test(ops_shape, expand_symbolic_and_errors) {
  int x = input(g, "x", GRAPHC_F32, "B, 1");
  dimlist ok = DL(g, "B, S");
  expect_type(g, node1(g, "expand", x, (graphc_attr_t[]){A_DIMS("shape", &ok)}, 1), "f32[B, S]");
  int op[] = {x};
  dimlist mism = DL(g, "3, S");
  node_fails(g, "expand", op, 1, (graphc_attr_t[]){A_DIMS("shape", &mism)}, 1,
             "non-singleton dim 0");
  dimlist lead = DL(g, "-1, B, 2");
  node_fails(g, "expand", op, 1, (graphc_attr_t[]){A_DIMS("shape", &lead)}, 1, "new leading dim 0");
  dimlist few = DL(g, "4");
  node_fails(g, "expand", op, 1, (graphc_attr_t[]){A_DIMS("shape", &few)}, 1, "got 1");
}

/* ---- slice --------------------------------------------------------------- */

static void slice_const_case(int64_t start, int64_t end, int64_t step, const double *want, int n) {
  gc_tensor in = iota(GRAPHC_F64, 1, (int64_t[]){7}), out;
  graphc_attr_t at[4] = {A_INT("dim", 0), A_INT("start", start), A_INT("end", end),
                         A_INT("step", step)};
  int x = input(g, "x", GRAPHC_F64, "7");
  int y = node1(g, "slice", x, at, 4);
  OK(try_run(g, &y, 1, &in, 1, &out));
  expect_tensor(&out, GRAPHC_F64, 1, (int64_t[]){n}, want, 0);
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
  int x = input(g, "x", GRAPHC_F32, "B, S");
  graphc_attr_t a1[] = {A_INT("dim", 1), A_INT("start", 1)};
  expect_type(g, node1(g, "slice", x, a1, 2), "f32[B, S - 1]");
  graphc_attr_t a2[] = {A_INT("dim", 1), A_INT("start", 1), A_INT("step", 2)};
  expect_type(g, node1(g, "slice", x, a2, 3), "f32[B, S//2]");
  graphc_attr_t a3[] = {A_INT("dim", -1), A_INT("start", -3)};
  expect_type(g, node1(g, "slice", x, a3, 2), "f32[B, 3]");
  graphc_attr_t a4[] = {A_INT("dim", 0), A_INT("start", 2), A_INT("end", 6)};
  expect_type(g, node1(g, "slice", x, a4, 3), "f32[4, S]");
  graphc_attr_t a5[] = {A_INT("dim", 0), A_INT("end", -1)};
  expect_type(g, node1(g, "slice", x, a5, 2), "f32[B - 1, S]");
  graphc_attr_t a6[] = {A_INT("dim", 0), A_INT("start", 6), A_INT("end", 2)};
  expect_type(g, node1(g, "slice", x, a6, 3), "f32[0, S]");
  int op[] = {x};
  graphc_attr_t bad[] = {A_INT("dim", 0), A_INT("step", 0)};
  node_fails(g, "slice", op, 1, bad, 2, "step must be >= 1");
}

Test(ops_shape, slice_symbolic_runs_and_checks_bounds) {
  int x = input(g, "x", GRAPHC_I64, "S");
  graphc_attr_t a[] = {A_INT("dim", 0), A_INT("start", 1), A_INT("end", 4)};
  int y = node1(g, "slice", x, a, 3);
  expect_type(g, y, "i64[3]");
  gc_tensor in = iota(GRAPHC_I64, 1, (int64_t[]){6}), out;
  OK(try_run(g, &y, 1, &in, 1, &out));
  expect_tensor(&out, GRAPHC_I64, 1, (int64_t[]){3}, (double[]){1, 2, 3}, 0);
  free_all(&out, 1);
  free_all(&in, 1);
  /* S = 3: Python would clamp to 2 elements; the graph assumed 3. */
  gc_tensor small = iota(GRAPHC_I64, 1, (int64_t[]){3});
  run_fails(g, &y, 1, &small, 1, GRAPHC_STATUS_OUT_OF_RANGE, "slice");
  free_all(&small, 1);
}

/* ---- cat / split --------------------------------------------------------- */

Test(ops_shape, cat_promotes_and_concatenates) {
  int a = input(g, "a", GRAPHC_I32, "2, 1");
  int b = input(g, "b", GRAPHC_F32, "2, 2");
  int ops[] = {a, b};
  int y = node(g, "cat", ops, 2, (graphc_attr_t[]){A_INT("dim", -1)}, 1);
  expect_type(g, y, "f32[2, 3]");
  gc_tensor in[2] = {mk(GRAPHC_I32, 2, (int64_t[]){2, 1}, (double[]){7, 8}),
                     mk(GRAPHC_F32, 2, (int64_t[]){2, 2}, (double[]){0.5, 1.5, 2.5, 3.5})};
  gc_tensor out;
  OK(try_run(g, &y, 1, in, 2, &out));
  expect_tensor(&out, GRAPHC_F32, 2, (int64_t[]){2, 3}, (double[]){7, 0.5, 1.5, 8, 2.5, 3.5}, 0);
  free_all(&out, 1);
  free_all(in, 2);
}

Test(ops_shape, cat_symbolic_and_errors) {
  int a = input(g, "a", GRAPHC_F32, "B, 4");
  int b = input(g, "b", GRAPHC_F32, "S, 4");
  int c = input(g, "c", GRAPHC_F32, "B, 5");
  int s = input(g, "s", GRAPHC_F32, "");
  int ab[] = {a, b, a};
  expect_type(g, node(g, "cat", ab, 3, (graphc_attr_t[]){A_INT("dim", 0)}, 1), "f32[2*B + S, 4]");
  int ac[] = {a, c};
  node_fails(g, "cat", ac, 2, (graphc_attr_t[]){A_INT("dim", 0)}, 1, "expected size 4 at dim 1");
  int as[] = {a, s};
  node_fails(g, "cat", as, 2, (graphc_attr_t[]){A_INT("dim", 0)}, 1, "expected rank 2");
  int sa[] = {s, a};
  node_fails(g, "cat", sa, 2, (graphc_attr_t[]){A_INT("dim", 0)}, 1, "0-d");
}

Test(ops_shape, split) {
  int x = input(g, "x", GRAPHC_F32, "2, 5");
  int n;
  graphc_attr_t at[] = {A_INT("dim", 1), A_INTS("sizes", 1, 0, 4)};
  OK(try_node(g, "split", &x, 1, at, 2, NULL, &n));
  cr_assert_eq(g->nodes[n].nresults, 3);
  int *r = g->nodes[n].results;
  expect_type(g, r[0], "f32[2, 1]");
  expect_type(g, r[1], "f32[2, 0]");
  expect_type(g, r[2], "f32[2, 4]");
  OK(gc_graph_verify(g));
  gc_tensor in = iota(GRAPHC_F32, 2, (int64_t[]){2, 5}), out[3];
  OK(try_run(g, r, 3, &in, 1, out));
  expect_tensor(&out[0], GRAPHC_F32, 2, (int64_t[]){2, 1}, (double[]){0, 5}, 0);
  expect_tensor(&out[1], GRAPHC_F32, 2, (int64_t[]){2, 0}, NULL, 0);
  expect_tensor(&out[2], GRAPHC_F32, 2, (int64_t[]){2, 4}, (double[]){1, 2, 3, 4, 6, 7, 8, 9}, 0);
  free_all(out, 3);
  free_all(&in, 1);
  int op[] = {x};
  node_fails(g, "split", op, 1, (graphc_attr_t[]){A_INT("dim", 1), A_INTS("sizes", 2, 2)}, 2,
             "sum to 4");
  node_fails(g, "split", op, 1, (graphc_attr_t[]){A_INT("dim", 1), A_INTS("sizes", 6, -1)}, 2,
             ">= 0");
}

/* ---- squeeze / unsqueeze ------------------------------------------------- */

Test(ops_shape, squeeze_unsqueeze) {
  int x = input(g, "x", GRAPHC_F32, "1, B, 1, 3");
  expect_type(g, node1(g, "squeeze", x, NULL, 0), "f32[B, 3]");
  /* B and 3 are kept, as PyTorch does */
  expect_type(g, node1(g, "squeeze", x, (graphc_attr_t[]){A_INTS("dim", -2, 1, 3)}, 1),
              "f32[1, B, 3]");
  expect_type(g, node1(g, "unsqueeze", x, (graphc_attr_t[]){A_INT("dim", -1)}, 1),
              "f32[1, B, 1, 3, 1]");
  expect_type(g, node1(g, "unsqueeze", x, (graphc_attr_t[]){A_INT("dim", 1)}, 1),
              "f32[1, 1, B, 1, 3]");
  int op[] = {x};
  node_fails(g, "squeeze", op, 1, (graphc_attr_t[]){A_INTS("dim", 0, -4)}, 1, "more than once");
  node_fails(g, "unsqueeze", op, 1, (graphc_attr_t[]){A_INT("dim", 6)}, 1, "out of range");
}

Test(ops_shape, squeeze_runs) {
  int x = input(g, "x", GRAPHC_BOOL, "1, 3");
  int y = node1(g, "squeeze", x, NULL, 0);
  int z = node1(g, "unsqueeze", y, (graphc_attr_t[]){A_INT("dim", 1)}, 1);
  expect_type(g, z, "bool[3, 1]");
  gc_tensor in = mk(GRAPHC_BOOL, 2, (int64_t[]){1, 3}, (double[]){1, 0, 1}), out;
  OK(try_run(g, &z, 1, &in, 1, &out));
  expect_tensor(&out, GRAPHC_BOOL, 2, (int64_t[]){3, 1}, (double[]){1, 0, 1}, 0);
  free_all(&out, 1);
  free_all(&in, 1);
}
