/* Tests for lib/ops/ops_linalg.c: matmul, linear, conv2d, max_pool2d,
 * avg_pool2d, adaptive_avg_pool2d. Graphs are built with the internal
 * builder and run by the reference interpreter; expected numbers are
 * worked out by hand in the comments. */
#include "ops_harness.h"

TestSuite(ops_linalg, .init = ops_setup, .fini = ops_teardown);

/* ---- matmul ---------------------------------------------------------------- */

Test(ops_linalg, matmul_2d) {
  int a = input(g, "a", GRAPHC_F32, "2, 3"), b = input(g, "b", GRAPHC_F32, "3, 2");
  int r = node(g, "matmul", (int[]){a, b}, 2, NULL, 0);
  cr_assert_str_eq(type_of(g, r), "f32[2, 2]");
  /* [[1,2,3],[4,5,6]] . [[1,2],[3,4],[5,6]] = [[22,28],[49,64]] */
  gc_tensor ins[2] = {mk(GRAPHC_F32, 2, (int64_t[]){2, 3}, NULL), mk(GRAPHC_F32, 2, (int64_t[]){3, 2}, NULL)};
  gc_tensor res = run(g, r, ins, 2);
  expect_tensor(&res, GRAPHC_F32, 2, (int64_t[]){2, 2}, (double[]){22, 28, 49, 64}, 1e-9);
  gc_tensor_free(&res);
}

Test(ops_linalg, matmul_vector_cases) {
  int v = input(g, "v", GRAPHC_F64, "3"), w = input(g, "w", GRAPHC_F64, "3");
  int m = input(g, "m", GRAPHC_F64, "3, 2"), n = input(g, "n", GRAPHC_F64, "2, 3");
  int dot = node(g, "matmul", (int[]){v, w}, 2, NULL, 0);
  int vm = node(g, "matmul", (int[]){v, m}, 2, NULL, 0);
  int nv = node(g, "matmul", (int[]){n, v}, 2, NULL, 0);
  cr_assert_str_eq(type_of(g, dot), "f64[]");
  cr_assert_str_eq(type_of(g, vm), "f64[2]");
  cr_assert_str_eq(type_of(g, nv), "f64[2]");
  gc_tensor ins[4] = {mk(GRAPHC_F64, 1, (int64_t[]){3}, (double[]){1, 2, 3}),
                      mk(GRAPHC_F64, 1, (int64_t[]){3}, (double[]){4, 5, 6}),
                      mk(GRAPHC_F64, 2, (int64_t[]){3, 2}, NULL),
                      mk(GRAPHC_F64, 2, (int64_t[]){2, 3}, NULL)};
  gc_tensor res[3];
  run_all(g, (int[]){dot, vm, nv}, 3, ins, 4, res);
  expect_tensor(&res[0], GRAPHC_F64, 0, NULL, (double[]){32}, 1e-9);
  /* [1,2,3] . [[1,2],[3,4],[5,6]] = [22, 28] */
  expect_tensor(&res[1], GRAPHC_F64, 1, (int64_t[]){2}, (double[]){22, 28}, 1e-9);
  /* [[1,2,3],[4,5,6]] . [1,2,3] = [14, 32] */
  expect_tensor(&res[2], GRAPHC_F64, 1, (int64_t[]){2}, (double[]){14, 32}, 1e-9);
  free_all(res, 3);
}

Test(ops_linalg, matmul_batched_broadcast) {
  /* a [2, 1, 1, 2] x b [3, 2, 1]: batch [2, 1] with [3] -> [2, 3]. */
  int a = input(g, "a", GRAPHC_F32, "2, 1, 1, 2"), b = input(g, "b", GRAPHC_F32, "3, 2, 1");
  int r = node(g, "matmul", (int[]){a, b}, 2, NULL, 0);
  cr_assert_str_eq(type_of(g, r), "f32[2, 3, 1, 1]");
  /* a rows: [1,2], [3,4]; b columns: [1,2], [3,4], [5,6]. */
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, (int64_t[]){2, 1, 1, 2}, NULL),
                      mk(GRAPHC_F32, 3, (int64_t[]){3, 2, 1}, NULL)};
  gc_tensor res = run(g, r, ins, 2);
  expect_tensor(&res, GRAPHC_F32, 4, (int64_t[]){2, 3, 1, 1}, (double[]){5, 11, 17, 11, 25, 39},
                1e-9);
  gc_tensor_free(&res);
}

Test(ops_linalg, matmul_vector_with_batch) {
  /* v [2] x b [2, 2, 3] -> [2, 3]; b [2, 3, 2] x v... */
  int v = input(g, "v", GRAPHC_F32, "2"), b = input(g, "b", GRAPHC_F32, "2, 2, 3");
  int c = input(g, "c", GRAPHC_F32, "2, 3, 2");
  int vb = node(g, "matmul", (int[]){v, b}, 2, NULL, 0);
  int cv = node(g, "matmul", (int[]){c, v}, 2, NULL, 0);
  cr_assert_str_eq(type_of(g, vb), "f32[2, 3]");
  cr_assert_str_eq(type_of(g, cv), "f32[2, 3]");
  gc_tensor ins[3] = {mk(GRAPHC_F32, 1, (int64_t[]){2}, (double[]){1, -1}),
                      mk(GRAPHC_F32, 3, (int64_t[]){2, 2, 3}, NULL),
                      mk(GRAPHC_F32, 3, (int64_t[]){2, 3, 2}, NULL)};
  gc_tensor res[2];
  run_all(g, (int[]){vb, cv}, 2, ins, 3, res);
  /* row0 - row1 of each [2,3] matrix: always -3; each row of c: x - (x+1) = -1 */
  expect_tensor(&res[0], GRAPHC_F32, 2, (int64_t[]){2, 3}, (double[]){-3, -3, -3, -3, -3, -3},
                1e-9);
  expect_tensor(&res[1], GRAPHC_F32, 2, (int64_t[]){2, 3}, (double[]){-1, -1, -1, -1, -1, -1},
                1e-9);
  free_all(res, 2);
}

Test(ops_linalg, matmul_symbolic) {
  int a = input(g, "a", GRAPHC_F32, "B, M, K"), b = input(g, "b", GRAPHC_F32, "K, N");
  int r = node(g, "matmul", (int[]){a, b}, 2, NULL, 0);
  cr_assert_str_eq(type_of(g, r), "f32[B, M, N]");
  int c = input(g, "c", GRAPHC_F32, "J, N");
  node_fails(g, "matmul", (int[]){a, c}, 2, NULL, 0, "contraction dims differ");
  int e = input(g, "e", GRAPHC_F32, "C, K, N");
  node_fails(g, "matmul", (int[]){a, e}, 2, NULL, 0, "batch dims do not broadcast");
  int one = input(g, "one", GRAPHC_F32, "1, K, N");
  int r2 = node(g, "matmul", (int[]){a, one}, 2, NULL, 0);
  cr_assert_str_eq(type_of(g, r2), "f32[B, M, N]");
  /* Run with B=2, M=1, K=2, N=1: [[1,2]].[[1],[2]] = 5; [[3,4]] -> 11 */
  gc_tensor ins[5] = {mk(GRAPHC_F32, 3, (int64_t[]){2, 1, 2}, NULL), mk(GRAPHC_F32, 2, (int64_t[]){2, 1}, NULL),
                      mk(GRAPHC_F32, 2, (int64_t[]){1, 1}, NULL), mk(GRAPHC_F32, 3, (int64_t[]){1, 2, 1}, NULL),
                      mk(GRAPHC_F32, 3, (int64_t[]){1, 2, 1}, NULL)};
  gc_tensor res = run(g, r, ins, 5);
  expect_tensor(&res, GRAPHC_F32, 3, (int64_t[]){2, 1, 1}, (double[]){5, 11}, 1e-9);
  gc_tensor_free(&res);
}

Test(ops_linalg, matmul_type_errors) {
  int a = input(g, "a", GRAPHC_F32, "2, 3"), b = input(g, "b", GRAPHC_F64, "3, 2");
  int s = input(g, "s", GRAPHC_F32, ""), bb = input(g, "bb", GRAPHC_BOOL, "3, 3");
  node_fails(g, "matmul", (int[]){a, b}, 2, NULL, 0, "operand 1 (b): expected dtype f32");
  node_fails(g, "matmul", (int[]){a, s}, 2, NULL, 0, "at least 1 dim");
  node_fails(g, "matmul", (int[]){bb, bb}, 2, NULL, 0, "float or integer dtype, got bool[3, 3]");
}

Test(ops_linalg, matmul_int_and_half) {
  int a = input(g, "a", GRAPHC_I64, "2, 2"), h = input(g, "h", GRAPHC_F16, "1, 3");
  int hb = input(g, "hb", GRAPHC_F16, "3, 1");
  int r = node(g, "matmul", (int[]){a, a}, 2, NULL, 0);
  int rh = node(g, "matmul", (int[]){h, hb}, 2, NULL, 0);
  cr_assert_str_eq(type_of(g, r), "i64[2, 2]");
  cr_assert_str_eq(type_of(g, rh), "f16[1, 1]");
  /* f16: 2048 + 1 + 1 accumulated exactly is 2050 (representable); a
   * f16 running sum would stick at 2048. */
  gc_tensor ins[3] = {mk(GRAPHC_I64, 2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 4}),
                      mk(GRAPHC_F16, 2, (int64_t[]){1, 3}, (double[]){2048, 1, 1}),
                      mk(GRAPHC_F16, 2, (int64_t[]){3, 1}, (double[]){1, 1, 1})};
  gc_tensor res[2];
  run_all(g, (int[]){r, rh}, 2, ins, 3, res);
  expect_tensor(&res[0], GRAPHC_I64, 2, (int64_t[]){2, 2}, (double[]){7, 10, 15, 22}, 1e-9);
  expect_tensor(&res[1], GRAPHC_F16, 2, (int64_t[]){1, 1}, (double[]){2050}, 1e-9);
  free_all(res, 2);
}

/* ---- linear ---------------------------------------------------------------- */

Test(ops_linalg, linear) {
  int x = input(g, "x", GRAPHC_F32, "B, 2, 3"), w = input(g, "w", GRAPHC_F32, "2, 3");
  int b = input(g, "b", GRAPHC_F32, "2");
  int r = node(g, "linear", (int[]){x, w, b}, 3, NULL, 0);
  int r0 = node(g, "linear", (int[]){x, w}, 2, NULL, 0);
  cr_assert_str_eq(type_of(g, r), "f32[B, 2, 2]");
  /* x rows [1,2,3], [4,5,6]; w rows [1,0,0], [1,1,1]; bias [10, 20] */
  gc_tensor ins[3] = {mk(GRAPHC_F32, 3, (int64_t[]){1, 2, 3}, NULL),
                      mk(GRAPHC_F32, 2, (int64_t[]){2, 3}, (double[]){1, 0, 0, 1, 1, 1}),
                      mk(GRAPHC_F32, 1, (int64_t[]){2}, (double[]){10, 20})};
  gc_tensor res[2];
  run_all(g, (int[]){r, r0}, 2, ins, 3, res);
  expect_tensor(&res[0], GRAPHC_F32, 3, (int64_t[]){1, 2, 2}, (double[]){11, 26, 14, 35}, 1e-9);
  expect_tensor(&res[1], GRAPHC_F32, 3, (int64_t[]){1, 2, 2}, (double[]){1, 6, 4, 15}, 1e-9);
  free_all(res, 2);
}

Test(ops_linalg, linear_errors) {
  int x = input(g, "x", GRAPHC_F32, "4, 3"), w = input(g, "w", GRAPHC_F32, "2, 5");
  int w3 = input(g, "w3", GRAPHC_F32, "2, 3, 1"), b = input(g, "b", GRAPHC_F32, "3");
  int w2 = input(g, "w2", GRAPHC_F32, "2, 3");
  node_fails(g, "linear", (int[]){x, w}, 2, NULL, 0, "operand 1 (weight): expected [N, 3]");
  node_fails(g, "linear", (int[]){x, w3}, 2, NULL, 0, "operand 1 (weight): expected rank 2");
  node_fails(g, "linear", (int[]){x, w2, b}, 3, NULL, 0, "operand 2 (bias): expected [2]");
}

/* ---- conv2d ---------------------------------------------------------------- */

Test(ops_linalg, conv2d_stride_padding) {
  int x = input(g, "x", GRAPHC_F32, "1, 1, 4, 4"), w = input(g, "w", GRAPHC_F32, "1, 1, 2, 2");
  graphc_attr_t at[] = {A_INTS("stride", 2), A_INTS("padding", 1)};
  int r = node(g, "conv2d", (int[]){x, w}, 2, at, 2);
  /* (4 + 2 - 1 - 1) // 2 + 1 = 3 */
  cr_assert_str_eq(type_of(g, r), "f32[1, 1, 3, 3]");
  /* x = 1..16 row-major, w = [[1,0],[0,1]]: out = x[r-1][c-1] + x[r][c] for
   * window top-left (r-1, c-1) = (2i-1, 2j-1), zero outside. */
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 4, 4}, NULL),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 2, 2}, (double[]){1, 0, 0, 1})};
  gc_tensor res = run(g, r, ins, 2);
  expect_tensor(&res, GRAPHC_F32, 4, (int64_t[]){1, 1, 3, 3},
                (double[]){1, 3, 0, 9, 6 + 11, 8, 0, 14 + 0, 16 + 0}, 1e-9);
  gc_tensor_free(&res);
}

Test(ops_linalg, conv2d_groups_bias_unbatched) {
  /* [C=2, 2, 2] with groups=2: each channel scaled by its own 1x1 weight. */
  int x = input(g, "x", GRAPHC_F32, "2, 2, 2"), w = input(g, "w", GRAPHC_F32, "2, 1, 1, 1");
  int b = input(g, "b", GRAPHC_F32, "2");
  graphc_attr_t at[] = {A_INT("groups", 2)};
  int r = node(g, "conv2d", (int[]){x, w, b}, 3, at, 1);
  cr_assert_str_eq(type_of(g, r), "f32[2, 2, 2]");
  gc_tensor ins[3] = {mk(GRAPHC_F32, 3, (int64_t[]){2, 2, 2}, NULL),
                      mk(GRAPHC_F32, 4, (int64_t[]){2, 1, 1, 1}, (double[]){2, -1}),
                      mk(GRAPHC_F32, 1, (int64_t[]){2}, (double[]){0.5, 100})};
  gc_tensor res = run(g, r, ins, 3);
  expect_tensor(&res, GRAPHC_F32, 3, (int64_t[]){2, 2, 2},
                (double[]){2.5, 4.5, 6.5, 8.5, 95, 94, 93, 92}, 1e-9);
  gc_tensor_free(&res);
}

Test(ops_linalg, conv2d_dilation_multichannel) {
  /* x [1, 2, 3, 3] (values 1..18), w [1, 2, 2, 2] all ones, dilation 2:
   * one output = sum of the corners of both channels =
   * (1+3+7+9) + (10+12+16+18) = 20 + 56 = 76 */
  int x = input(g, "x", GRAPHC_F32, "1, 2, 3, 3"), w = input(g, "w", GRAPHC_F32, "1, 2, 2, 2");
  graphc_attr_t at[] = {A_INTS("dilation", 2, 2)};
  int r = node(g, "conv2d", (int[]){x, w}, 2, at, 1);
  cr_assert_str_eq(type_of(g, r), "f32[1, 1, 1, 1]");
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 2, 3, 3}, NULL),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 2, 2, 2}, (double[]){1, 1, 1, 1, 1, 1, 1, 1})};
  gc_tensor res = run(g, r, ins, 2);
  expect_tensor(&res, GRAPHC_F32, 4, (int64_t[]){1, 1, 1, 1}, (double[]){76}, 1e-9);
  gc_tensor_free(&res);
}

Test(ops_linalg, conv2d_symbolic) {
  int x = input(g, "x", GRAPHC_F32, "N, 3, H, W"), w = input(g, "w", GRAPHC_F32, "8, 3, 3, 3");
  graphc_attr_t at[] = {A_INTS("stride", 2, 2), A_INTS("padding", 1, 1)};
  int r = node(g, "conv2d", (int[]){x, w}, 2, at, 2);
  gc_type want = type_from(g, GRAPHC_F32, "N, 8, (H + 2 - 3) // 2 + 1, (W - 1) // 2 + 1");
  cr_assert(gc_type_equal(&g->values[r].type, &want), "got %s", type_of(g, r));
  /* Runs with H=5, W=6: sizes 3 and 3. */
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 3, 5, 6}, NULL),
                      mk(GRAPHC_F32, 4, (int64_t[]){8, 3, 3, 3}, NULL)};
  gc_tensor res = run(g, r, ins, 2);
  cr_assert_eq(res.shape[2], 3);
  cr_assert_eq(res.shape[3], 3);
  gc_tensor_free(&res);
}

Test(ops_linalg, conv2d_errors) {
  int x = input(g, "x", GRAPHC_F32, "1, 4, 5, 5"), w = input(g, "w", GRAPHC_F32, "6, 3, 3, 3");
  int w2 = input(g, "w2", GRAPHC_F32, "3, 2, 3, 3"), w7 = input(g, "w7", GRAPHC_F32, "2, 4, 7, 7");
  int xi = input(g, "xi", GRAPHC_I64, "1, 4, 5, 5");
  node_fails(g, "conv2d", (int[]){x, w}, 2, NULL, 0, "expected 4 input channels");
  graphc_attr_t g2[] = {A_INT("groups", 2)};
  node_fails(g, "conv2d", (int[]){x, w2}, 2, g2, 1, "divisible by groups=2");
  node_fails(g, "conv2d", (int[]){x, w7}, 2, NULL, 0, "smaller than the dilated kernel size 7");
  node_fails(g, "conv2d", (int[]){xi, w7}, 2, NULL, 0, "expected a float dtype");
  graphc_attr_t s3[] = {A_INTS("stride", 1, 2, 3)};
  int w4 = input(g, "w4", GRAPHC_F32, "2, 4, 3, 3");
  node_fails(g, "conv2d", (int[]){x, w4}, 2, s3, 1, "attribute 'stride': expected 1 or 2 values");
  graphc_attr_t s0[] = {A_INTS("stride", 0)};
  node_fails(g, "conv2d", (int[]){x, w4}, 2, s0, 1, "attribute 'stride'");
}

/* ---- pooling --------------------------------------------------------------- */

Test(ops_linalg, max_pool2d_basic_and_padding) {
  int x = input(g, "x", GRAPHC_F32, "1, 1, 4, 4"), y = input(g, "y", GRAPHC_F32, "1, 3, 3");
  graphc_attr_t a1[] = {A_INTS("kernel_size", 2)};
  graphc_attr_t a2[] = {A_INTS("kernel_size", 2), A_INTS("padding", 1)};
  int r1 = node(g, "max_pool2d", &x, 1, a1, 1);
  int r2 = node(g, "max_pool2d", &y, 1, a2, 2);
  cr_assert_str_eq(type_of(g, r1), "f32[1, 1, 2, 2]");
  cr_assert_str_eq(type_of(g, r2), "f32[1, 2, 2]");
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 4, 4}, NULL), mk(GRAPHC_F32, 3, (int64_t[]){1, 3, 3}, NULL)};
  gc_tensor res[2];
  run_all(g, (int[]){r1, r2}, 2, ins, 2, res);
  expect_tensor(&res[0], GRAPHC_F32, 4, (int64_t[]){1, 1, 2, 2}, (double[]){6, 8, 14, 16}, 1e-9);
  /* windows rows {-1,0},{1,2} x cols {-1,0},{1,2} over 1..9 */
  expect_tensor(&res[1], GRAPHC_F32, 3, (int64_t[]){1, 2, 2}, (double[]){1, 3, 7, 9}, 1e-9);
  free_all(res, 2);
}

Test(ops_linalg, max_pool2d_ceil_mode) {
  int x = input(g, "x", GRAPHC_F32, "1, 1, 5, 5"), z = input(g, "z", GRAPHC_F32, "1, 1, 4, 4");
  graphc_attr_t a1[] = {A_INTS("kernel_size", 2), A_BOOL("ceil_mode", true)};
  /* kernel 1, stride 2 on 4: ceil((4-1)/2)+1 = 3 windows, but the last one
   * would start at 4, outside the input: PyTorch drops it -> 2. */
  graphc_attr_t a2[] = {A_INTS("kernel_size", 1), A_INTS("stride", 2), A_BOOL("ceil_mode", true)};
  int r1 = node(g, "max_pool2d", &x, 1, a1, 2);
  int r2 = node(g, "max_pool2d", &z, 1, a2, 3);
  cr_assert_str_eq(type_of(g, r1), "f32[1, 1, 3, 3]");
  cr_assert_str_eq(type_of(g, r2), "f32[1, 1, 2, 2]");
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 5, 5}, NULL),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 4, 4}, NULL)};
  gc_tensor res[2];
  run_all(g, (int[]){r1, r2}, 2, ins, 2, res);
  expect_tensor(&res[0], GRAPHC_F32, 4, (int64_t[]){1, 1, 3, 3},
                (double[]){7, 9, 10, 17, 19, 20, 22, 24, 25}, 1e-9);
  expect_tensor(&res[1], GRAPHC_F32, 4, (int64_t[]){1, 1, 2, 2}, (double[]){1, 3, 9, 11}, 1e-9);
  free_all(res, 2);
}

Test(ops_linalg, max_pool2d_symbolic_ceil) {
  int x = input(g, "x", GRAPHC_F32, "N, C, H, W");
  graphc_attr_t a1[] = {A_INTS("kernel_size", 3), A_INTS("stride", 2), A_INTS("padding", 1),
                        A_BOOL("ceil_mode", true)};
  graphc_attr_t a2[] = {A_INTS("kernel_size", 1), A_INTS("stride", 2), A_BOOL("ceil_mode", true)};
  int r1 = node(g, "max_pool2d", &x, 1, a1, 4);
  int r2 = node(g, "max_pool2d", &x, 1, a2, 3);
  gc_type w1 = type_from(g, GRAPHC_F32, "N, C, H // 2 + 1, W // 2 + 1");
  gc_type w2 = type_from(g, GRAPHC_F32, "N, C, (H + 1) // 2, (W + 1) // 2");
  cr_assert(gc_type_equal(&g->values[r1].type, &w1), "got %s", type_of(g, r1));
  cr_assert(gc_type_equal(&g->values[r2].type, &w2), "got %s", type_of(g, r2));
  /* H=5, W=6: PyTorch gives 3x4 and 3x3. */
  gc_tensor ins[1] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 5, 6}, NULL)};
  gc_tensor res[2];
  run_all(g, (int[]){r1, r2}, 2, ins, 1, res);
  cr_assert(res[0].shape[2] == 3 && res[0].shape[3] == 4);
  cr_assert(res[1].shape[2] == 3 && res[1].shape[3] == 3);
  /* r1 row 0 covers rows {0,1}: cols {0,1} -> 8; the last window, col {5} -> 12 */
  cr_assert_eq(gc_tensor_getf(&res[0], 0), 8);
  cr_assert_eq(gc_tensor_getf(&res[0], 3), 12);
  gc_tensor_free(&res[0]);
  gc_tensor_free(&res[1]);
}

Test(ops_linalg, max_pool2d_dilation_nan_int) {
  int x = input(g, "x", GRAPHC_F32, "1, 1, 3, 3"), xi = input(g, "xi", GRAPHC_I32, "1, 1, 2, 2");
  graphc_attr_t a1[] = {A_INTS("kernel_size", 2), A_INTS("dilation", 2)};
  graphc_attr_t a2[] = {A_INTS("kernel_size", 2)};
  int r1 = node(g, "max_pool2d", &x, 1, a1, 2);
  int r2 = node(g, "max_pool2d", &xi, 1, a2, 1);
  cr_assert_str_eq(type_of(g, r1), "f32[1, 1, 1, 1]");
  cr_assert_str_eq(type_of(g, r2), "i32[1, 1, 1, 1]");
  /* corners 1, 3, 7, 9 except 3 is NaN -> NaN; the centre 100 is skipped */
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 3, 3}, (double[]){1, 2, NAN, 4, 100, 6, 7, 8, 9}),
                      mk(GRAPHC_I32, 4, (int64_t[]){1, 1, 2, 2}, (double[]){-5, -2, -9, -3})};
  gc_tensor res[2];
  run_all(g, (int[]){r1, r2}, 2, ins, 2, res);
  expect_tensor(&res[0], GRAPHC_F32, 4, (int64_t[]){1, 1, 1, 1}, (double[]){NAN}, 1e-9);
  expect_tensor(&res[1], GRAPHC_I32, 4, (int64_t[]){1, 1, 1, 1}, (double[]){-2}, 1e-9);
  free_all(res, 2);
}

Test(ops_linalg, pool_errors) {
  int x = input(g, "x", GRAPHC_F32, "1, 1, 3, 3"), x2 = input(g, "x2", GRAPHC_F32, "3, 3");
  graphc_attr_t a1[] = {A_INTS("kernel_size", 2), A_INTS("padding", 2)};
  graphc_attr_t a2[] = {A_INTS("kernel_size", 5)};
  graphc_attr_t a3[] = {A_INTS("kernel_size", 0)};
  graphc_attr_t a4[] = {A_INTS("kernel_size", 2)};
  node_fails(g, "max_pool2d", &x, 1, a1, 2, "at most half of kernel_size");
  node_fails(g, "avg_pool2d", &x, 1, a1, 2, "at most half of kernel_size");
  node_fails(g, "max_pool2d", &x, 1, a2, 1, "output size is too small");
  node_fails(g, "max_pool2d", &x, 1, a3, 1, "attribute 'kernel_size'");
  node_fails(g, "max_pool2d", &x2, 1, a4, 1, "operand 0 (input): expected rank 4");
  int xi = input(g, "xi", GRAPHC_I32, "1, 1, 4, 4");
  node_fails(g, "avg_pool2d", &xi, 1, a4, 1, "expected a float or i64 dtype");
  node_fails(g, "adaptive_avg_pool2d", &xi, 1, (graphc_attr_t[]){A_INTS("output_size", 2)}, 1,
             "expected a float dtype");
}

Test(ops_linalg, avg_pool2d_padding_divisors) {
  int x = input(g, "x", GRAPHC_F32, "1, 1, 3, 3");
  graphc_attr_t a1[] = {A_INTS("kernel_size", 2), A_INTS("padding", 1)};
  graphc_attr_t a2[] = {A_INTS("kernel_size", 2), A_INTS("padding", 1),
                        A_BOOL("count_include_pad", false)};
  graphc_attr_t a3[] = {A_INTS("kernel_size", 2), A_BOOL("ceil_mode", true)};
  int r1 = node(g, "avg_pool2d", &x, 1, a1, 2);
  int r2 = node(g, "avg_pool2d", &x, 1, a2, 3);
  int r3 = node(g, "avg_pool2d", &x, 1, a3, 2);
  cr_assert_str_eq(type_of(g, r3), "f32[1, 1, 2, 2]");
  gc_tensor ins[1] = {mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 3, 3}, NULL)};
  gc_tensor res[3];
  run_all(g, (int[]){r1, r2, r3}, 3, ins, 1, res);
  /* windows: {1}, {2,3}, {4,7}, {5,6,8,9} */
  expect_tensor(&res[0], GRAPHC_F32, 4, (int64_t[]){1, 1, 2, 2}, (double[]){0.25, 1.25, 2.75, 7},
                1e-9);
  expect_tensor(&res[1], GRAPHC_F32, 4, (int64_t[]){1, 1, 2, 2}, (double[]){1, 2.5, 5.5, 7}, 1e-9);
  /* ceil mode: windows clipped to the input count only what is inside:
   * {1,2,4,5}/4, {3,6}/2, {7,8}/2, {9}/1 */
  expect_tensor(&res[2], GRAPHC_F32, 4, (int64_t[]){1, 1, 2, 2}, (double[]){3, 4.5, 7.5, 9}, 1e-9);
  free_all(res, 3);
}

Test(ops_linalg, adaptive_avg_pool2d) {
  int x = input(g, "x", GRAPHC_F32, "1, 1, 5"), y = input(g, "y", GRAPHC_F32, "N, C, H, W");
  graphc_attr_t a1[] = {A_INTS("output_size", 1, 3)};
  graphc_attr_t a2[] = {A_INTS("output_size", 2)};
  int r1 = node(g, "adaptive_avg_pool2d", &x, 1, a1, 1);
  int r2 = node(g, "adaptive_avg_pool2d", &y, 1, a2, 1);
  cr_assert_str_eq(type_of(g, r1), "f32[1, 1, 3]");
  cr_assert_str_eq(type_of(g, r2), "f32[N, C, 2, 2]");
  gc_tensor ins[2] = {mk(GRAPHC_F32, 3, (int64_t[]){1, 1, 5}, NULL),
                      mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 3, 3}, NULL)};
  gc_tensor res[2];
  run_all(g, (int[]){r1, r2}, 2, ins, 2, res);
  /* 5 -> 3: windows [0,2), [1,4), [3,5) */
  expect_tensor(&res[0], GRAPHC_F32, 3, (int64_t[]){1, 1, 3}, (double[]){1.5, 3, 4.5}, 1e-9);
  /* 3 -> 2: windows [0,2), [1,3) in both dims over 1..9 */
  expect_tensor(&res[1], GRAPHC_F32, 4, (int64_t[]){1, 1, 2, 2}, (double[]){3, 4, 6, 7}, 1e-9);
  free_all(res, 2);
}

Test(ops_linalg, avg_pool2d_int64_truncates) {
  int x = input(g, "x", GRAPHC_I64, "1, 1, 2, 2");
  graphc_attr_t a[] = {A_INTS("kernel_size", 2)};
  int r = node(g, "avg_pool2d", &x, 1, a, 1);
  cr_assert_str_eq(type_of(g, r), "i64[1, 1, 1, 1]");
  OK(gc_graph_set_outputs(g, &r, 1));
  /* (-1 - 2 - 3 - 1) / 4 = -7 / 4 -> -1 (toward zero, as C++ does) */
  gc_tensor ins[1] = {mk(GRAPHC_I64, 4, (int64_t[]){1, 1, 2, 2}, (double[]){-1, -2, -3, -1})};
  gc_tensor res = run(g, r, ins, 1);
  expect_tensor(&res, GRAPHC_I64, 4, (int64_t[]){1, 1, 1, 1}, (double[]){-1}, 1e-9);
  gc_tensor_free(&res);
}

Test(ops_linalg, matmul_empty_contraction) {
  int a = input(g, "a", GRAPHC_F32, "2, K"), b = input(g, "b", GRAPHC_F32, "K, 3");
  int r = node(g, "matmul", (int[]){a, b}, 2, NULL, 0);
  gc_tensor ins[2] = {mk(GRAPHC_F32, 2, (int64_t[]){2, 0}, NULL), mk(GRAPHC_F32, 2, (int64_t[]){0, 3}, NULL)};
  gc_tensor res = run(g, r, ins, 2);
  expect_tensor(&res, GRAPHC_F32, 2, (int64_t[]){2, 3}, (double[]){0, 0, 0, 0, 0, 0}, 1e-9);
  gc_tensor_free(&res);
}

/* Symbolic inputs too small for the window fail at run time, not at build
 * time. */
static void expect_run_error(int out, const int64_t *xshape, const char *needle) {
  gc_tensor ins[2] = {mk(GRAPHC_F32, 4, xshape, NULL), mk(GRAPHC_F32, 4, (int64_t[]){1, 1, 3, 3}, NULL)};
  run_fails(g, &out, 1, ins, g->ninputs, GRAPHC_STATUS_OUT_OF_RANGE, needle);
  free_all(ins, 2);
}

Test(ops_linalg, conv2d_runtime_too_small) {
  /* H=2 with a 3x3 kernel: output H is 0 */
  int x = input(g, "x", GRAPHC_F32, "1, 1, H, W"), w = input(g, "w", GRAPHC_F32, "1, 1, 3, 3");
  int c = node(g, "conv2d", (int[]){x, w}, 2, NULL, 0);
  expect_run_error(c, (int64_t[]){1, 1, 2, 3}, "smaller than the dilated kernel");
}

Test(ops_linalg, max_pool2d_runtime_too_small) {
  /* H=1 with a 2x2 window: output H is (1 - 2) // 2 + 1 = 0 */
  int x = input(g, "x", GRAPHC_F32, "1, 1, H, W");
  graphc_attr_t a[] = {A_INTS("kernel_size", 2)};
  int p = node(g, "max_pool2d", &x, 1, a, 1);
  expect_run_error(p, (int64_t[]){1, 1, 1, 2}, "too small");
}
