/* Tests for lib/ops/ops_elementwise.c: unary math, binary arithmetic and
 * comparisons (broadcasting, promotion, integer wraparound, NaN), where,
 * cast, and the infer errors. Graphs are built with the internal builder
 * and run with the reference interpreter. */
#include <stdio.h>

#include "ops_harness.h"

TestSuite(elementwise, .init = ops_setup, .fini = ops_teardown);

/* One unary op on a 1-D input, in a new graph. */
static gc_tensor unary(const char *op, gc_tensor x, const graphc_attr_t *attrs, int nattrs) {
  gc_graph *gr = new_graph();
  char shape[32];
  snprintf(shape, sizeof shape, "%lld", (long long)x.numel);
  int xv = input(gr, "x", x.dtype, shape);
  int y = node(gr, op, &xv, 1, attrs, nattrs);
  return run(gr, y, &x, 1);
}

/* One binary op on inputs of the given dims, in a new graph. */
static gc_tensor binary(const char *op, gc_tensor a, const char *sa, gc_tensor b, const char *sb) {
  gc_graph *gr = new_graph();
  int v[2] = {input(gr, "a", a.dtype, sa), input(gr, "b", b.dtype, sb)};
  int y = node(gr, op, v, 2, NULL, 0);
  gc_tensor ins[2] = {a, b};
  return run(gr, y, ins, 2);
}

/* ---- unary ---------------------------------------------------------------- */

Test(elementwise, unary_float_math) {
  gc_tensor r = unary("exp", T(GRAPHC_F64, S(3), 0, 1, -INFINITY), NULL, 0);
  EXPECT(r, GRAPHC_F64, 0, 1, M_E, 0);
  gc_tensor_free(&r);
  r = unary("log", T(GRAPHC_F64, S(3), 1, 0, -1), NULL, 0);
  EXPECT(r, GRAPHC_F64, 0, 0, -INFINITY, NAN);
  gc_tensor_free(&r);
  r = unary("rsqrt", T(GRAPHC_F32, S(2), 4, 0), NULL, 0);
  EXPECT(r, GRAPHC_F32, 0, 0.5, INFINITY);
  gc_tensor_free(&r);
  r = unary("sigmoid", T(GRAPHC_F64, S(3), 0, -1000, 1000), NULL, 0);
  EXPECT(r, GRAPHC_F64, 0, 0.5, 0, 1);
  gc_tensor_free(&r);
  r = unary("silu", T(GRAPHC_F64, S(2), 1, -1), NULL, 0);
  EXPECT(r, GRAPHC_F64, 1e-15, 0.7310585786300049, -0.2689414213699951);
  gc_tensor_free(&r);
  r = unary("tanh", T(GRAPHC_F64, S(2), 0.5, -30), NULL, 0);
  EXPECT(r, GRAPHC_F64, 1e-15, 0.46211715726000974, -1);
  gc_tensor_free(&r);
  r = unary("erf", T(GRAPHC_F64, S(2), 1, 0), NULL, 0);
  EXPECT(r, GRAPHC_F64, 1e-15, 0.8427007929497149, 0);
  gc_tensor_free(&r);
  r = unary("sin", T(GRAPHC_F64, S(2), M_PI / 2, 0), NULL, 0);
  EXPECT(r, GRAPHC_F64, 1e-15, 1, 0);
  gc_tensor_free(&r);
  r = unary("cos", T(GRAPHC_F64, S(1), 0), NULL, 0);
  EXPECT(r, GRAPHC_F64, 0, 1);
  gc_tensor_free(&r);
}

Test(elementwise, gelu_exact_and_tanh) {
  /* torch.nn.functional.gelu(torch.tensor([1., -1.], dtype=torch.float64)) */
  gc_tensor r = unary("gelu", T(GRAPHC_F64, S(2), 1, -1), NULL, 0);
  EXPECT(r, GRAPHC_F64, 1e-15, 0.8413447460685429, -0.15865525393145707);
  gc_tensor_free(&r);
  graphc_attr_t tanh_attr = A_STR("approximate", "tanh");
  r = unary("gelu", T(GRAPHC_F64, S(2), 1, -1), &tanh_attr, 1);
  EXPECT(r, GRAPHC_F64, 1e-15, 0.8411919906082768, -0.15880800939172324);
  gc_tensor_free(&r);
}

Test(elementwise, unary_int_and_f16) {
  /* int inputs of float-only ops compute in f32 */
  gc_tensor r = unary("sqrt", T(GRAPHC_I64, S(2), 4, 2), NULL, 0);
  EXPECT(r, GRAPHC_F32, 0, 2, (float)M_SQRT2);
  gc_tensor_free(&r);
  r = unary("exp", T(GRAPHC_BOOL, S(2), 1, 0), NULL, 0);
  EXPECT(r, GRAPHC_F32, 0, (float)M_E, 1);
  gc_tensor_free(&r);
  /* neg wraps: -INT32_MIN == INT32_MIN */
  r = unary("neg", T(GRAPHC_I32, S(2), -2147483648.0, 5), NULL, 0);
  EXPECT(r, GRAPHC_I32, 0, -2147483648.0, -5);
  gc_tensor_free(&r);
  r = unary("abs", T(GRAPHC_I64, S(2), -7, 3), NULL, 0);
  EXPECT(r, GRAPHC_I64, 0, 7, 3);
  gc_tensor_free(&r);
  r = unary("relu", T(GRAPHC_F32, S(3), -1, 2, NAN), NULL, 0);
  EXPECT(r, GRAPHC_F32, 0, 0, 2, NAN);
  gc_tensor_free(&r);
  /* f16 results are rounded to f16: exp(1) = 2.71875 in f16 */
  r = unary("exp", T(GRAPHC_F16, S(1), 1), NULL, 0);
  EXPECT(r, GRAPHC_F16, 0, 2.71875);
  gc_tensor_free(&r);
}

Test(elementwise, unary_errors) {
  int b = input(g, "b", GRAPHC_BOOL, "3"), x = input(g, "x", GRAPHC_F32, "3");
  node_fails(g, "neg", &b, 1, NULL, 0, "bool[3]");
  node_fails(g, "relu", &b, 1, NULL, 0, "operand 0");
  graphc_attr_t bad = A_STR("approximate", "fast");
  node_fails(g, "gelu", &x, 1, &bad, 1, "'fast'");
  /* a float-only op on ints infers f32 */
  int i = input(g, "i", GRAPHC_I32, "B");
  int y = node(g, "tanh", &i, 1, NULL, 0);
  cr_expect_eq(vtype(g, y)->dtype, GRAPHC_F32);
  cr_expect_eq(vtype(g, y)->dims[0], vtype(g, i)->dims[0]);
}

/* ---- binary --------------------------------------------------------------- */

Test(elementwise, add_broadcast) {
  gc_tensor r =
      binary("add", T(GRAPHC_F32, S(2, 1), 1, 2), "2, 1", T(GRAPHC_F32, S(3), 10, 20, 30), "3");
  cr_expect_eq(r.rank, 2);
  cr_expect_eq(r.shape[0], 2);
  cr_expect_eq(r.shape[1], 3);
  EXPECT(r, GRAPHC_F32, 0, 11, 21, 31, 12, 22, 32);
  gc_tensor_free(&r);
}

Test(elementwise, integer_arithmetic_wraps) {
  gc_tensor r =
      binary("add", T(GRAPHC_I32, S(2), 2147483647.0, 1), "2", T(GRAPHC_I32, S(2), 1, 2), "2");
  EXPECT(r, GRAPHC_I32, 0, -2147483648.0, 3);
  gc_tensor_free(&r);
  r = binary("mul", T(GRAPHC_I32, S(1), 65536), "1", T(GRAPHC_I32, S(1), 65536), "1");
  EXPECT(r, GRAPHC_I32, 0, 0);
  gc_tensor_free(&r);
  /* i32 tensor with an i64 0-d operand stays i32 (0-d loses the tie) */
  r = binary("sub", T(GRAPHC_I32, S(2), 5, 6), "2", T0(GRAPHC_I64, 7), "");
  EXPECT(r, GRAPHC_I32, 0, -2, -1);
  gc_tensor_free(&r);
  /* bool + bool is logical or, bool * bool logical and */
  r = binary("add", T(GRAPHC_BOOL, S(2), 1, 0), "2", T(GRAPHC_BOOL, S(2), 1, 0), "2");
  EXPECT(r, GRAPHC_BOOL, 0, 1, 0);
  gc_tensor_free(&r);
}

Test(elementwise, promotion) {
  /* i64 tensor with a 0-d f64: float category wins, f64 */
  gc_tensor r = binary("mul", T(GRAPHC_I64, S(2), 3, 4), "2", T0(GRAPHC_F64, 0.5), "");
  EXPECT(r, GRAPHC_F64, 0, 1.5, 2);
  gc_tensor_free(&r);
  /* f16 with bf16 gives f32 */
  r = binary("add", T(GRAPHC_F16, S(1), 1), "1", T(GRAPHC_BF16, S(1), 2), "1");
  EXPECT(r, GRAPHC_F32, 0, 3);
  gc_tensor_free(&r);
  /* f32 tensor with a 0-d f64: stays f32, the scalar rounds to f32 first */
  r = binary("sub", T(GRAPHC_F32, S(1), 0), "1", T0(GRAPHC_F64, 0.1), "");
  EXPECT(r, GRAPHC_F32, 0, -(double)0.1f);
  gc_tensor_free(&r);
  /* i64 beyond 2^24 compared in f32: 16777217 rounds to 16777216 */
  r = binary("eq", T(GRAPHC_I64, S(1), 16777217), "1", T(GRAPHC_F32, S(1), 16777216), "1");
  EXPECT(r, GRAPHC_BOOL, 0, 1);
  gc_tensor_free(&r);
}

Test(elementwise, div_and_pow) {
  gc_tensor r = binary("div", T(GRAPHC_I64, S(3), 7, 1, 0), "3", T(GRAPHC_I64, S(3), 2, 0, 0), "3");
  EXPECT(r, GRAPHC_F32, 0, 3.5, INFINITY, NAN);
  gc_tensor_free(&r);
  r = binary("pow", T(GRAPHC_I64, S(5), 3, 2, 1, -1, 2), "5",
             T(GRAPHC_I64, S(5), 4, -1, -5, -3, 63), "5");
  EXPECT(r, GRAPHC_I64, 0, 81, 0, 1, -1, -9223372036854775808.0);
  gc_tensor_free(&r);
  r = binary("pow", T(GRAPHC_I32, S(1), 3), "1", T(GRAPHC_I32, S(1), 21), "1");
  EXPECT(r, GRAPHC_I32, 0, (double)(int32_t)(uint32_t)10460353203ull); /* 3^21 wraps */
  gc_tensor_free(&r);
  r = binary("pow", T(GRAPHC_F32, S(2), 2, -8), "2", T0(GRAPHC_F64, 0.5), "");
  EXPECT(r, GRAPHC_F32, 0, (float)M_SQRT2, NAN);
  gc_tensor_free(&r);
}

Test(elementwise, maximum_minimum_nan) {
  gc_tensor r =
      binary("maximum", T(GRAPHC_F32, S(3), 1, NAN, 5), "3", T(GRAPHC_F32, S(3), 2, 0, NAN), "3");
  EXPECT(r, GRAPHC_F32, 0, 2, NAN, NAN);
  gc_tensor_free(&r);
  r = binary("minimum", T(GRAPHC_I64, S(2), 1, -4), "2", T(GRAPHC_I32, S(2), 2, -5), "2");
  EXPECT(r, GRAPHC_I64, 0, 1, -5);
  gc_tensor_free(&r);
}

Test(elementwise, comparisons) {
  static const char *const ops[] = {"eq", "ne", "lt", "le", "gt", "ge"};
  static const double want[6][3] = {
      {0, 1, 0}, {1, 0, 1}, {1, 0, 0}, {1, 1, 0}, {0, 0, 0}, {0, 1, 0},
  };
  for (int k = 0; k < 6; k++) {
    gc_tensor r =
        binary(ops[k], T(GRAPHC_F32, S(3), 1, 2, NAN), "3", T(GRAPHC_I32, S(3), 2, 2, 1), "3");
    expect_vals(&r, GRAPHC_BOOL, 3, want[k], 0);
    gc_tensor_free(&r);
  }
}

Test(elementwise, binary_errors) {
  int a = input(g, "a", GRAPHC_F32, "2, 3"), b = input(g, "b", GRAPHC_F32, "4");
  int p = input(g, "p", GRAPHC_BOOL, "3"), q = input(g, "q", GRAPHC_I64, "3");
  node_fails(g, "add", (int[]){a, b}, 2, NULL, 0, "broadcast");
  node_fails(g, "sub", (int[]){p, q}, 2, NULL, 0, "bool");
  node_fails(g, "pow", (int[]){p, p}, 2, NULL, 0, "bool");
  /* symbolic: B broadcasts with 1, not with S */
  int x = input(g, "x", GRAPHC_F32, "B, 1"), y = input(g, "y", GRAPHC_F32, "S");
  int z = node(g, "mul", (int[]){x, y}, 2, NULL, 0);
  cr_expect_eq(vtype(g, z)->rank, 2);
  cr_expect_eq(vtype(g, z)->dims[0], vtype(g, x)->dims[0]);
  cr_expect_eq(vtype(g, z)->dims[1], vtype(g, y)->dims[0]);
  int w = input(g, "w", GRAPHC_F32, "B");
  node_fails(g, "add", (int[]){w, y}, 2, NULL, 0, "broadcast");
  int c = node(g, "lt", (int[]){x, y}, 2, NULL, 0);
  cr_expect_eq(vtype(g, c)->dtype, GRAPHC_BOOL);
  int d = node(g, "div", (int[]){q, q}, 2, NULL, 0);
  cr_expect_eq(vtype(g, d)->dtype, GRAPHC_F32);
}

/* ---- where / cast ----------------------------------------------------------- */

Test(elementwise, where_broadcast_promote) {
  int v[3] = {input(g, "c", GRAPHC_BOOL, "2, 1"), input(g, "a", GRAPHC_I64, "2"),
              input(g, "b", GRAPHC_F32, "")};
  int y = node(g, "where", v, 3, NULL, 0);
  gc_tensor ins[3] = {T(GRAPHC_BOOL, S(2, 1), 1, 0), T(GRAPHC_I64, S(2), 3, 4), T0(GRAPHC_F32, -1.5)};
  gc_tensor r = run(g, y, ins, 3);
  EXPECT(r, GRAPHC_F32, 0, 3, 4, -1.5, -1.5);
  gc_tensor_free(&r);

  g = new_graph();
  int bad[3] = {input(g, "c", GRAPHC_I64, "2"), input(g, "a", GRAPHC_F32, "2"),
                input(g, "b", GRAPHC_F32, "2")};
  node_fails(g, "where", bad, 3, NULL, 0, "operand 0 (cond)");
}

Test(elementwise, cast) {
  graphc_attr_t to_i32 = A_DTYPE("dtype", GRAPHC_I32);
  gc_tensor r = unary("cast", T(GRAPHC_F32, S(3), -2.7, 2.7, 0.5), &to_i32, 1);
  EXPECT(r, GRAPHC_I32, 0, -2, 2, 0);
  gc_tensor_free(&r);
  r = unary("cast", T(GRAPHC_I64, S(1), 4294967297.0), &to_i32, 1); /* 2^32 + 1 wraps */
  EXPECT(r, GRAPHC_I32, 0, 1);
  gc_tensor_free(&r);
  graphc_attr_t to_bool = A_DTYPE("dtype", GRAPHC_BOOL);
  r = unary("cast", T(GRAPHC_F32, S(3), 0.1, 0, NAN), &to_bool, 1);
  EXPECT(r, GRAPHC_BOOL, 0, 1, 0, 1);
  gc_tensor_free(&r);
  graphc_attr_t to_bf16 = A_DTYPE("dtype", GRAPHC_BF16);
  r = unary("cast", T(GRAPHC_F64, S(1), 1.0 + 1.0 / 256), &to_bf16, 1); /* ties to even: 1.0 */
  EXPECT(r, GRAPHC_BF16, 0, 1);
  gc_tensor_free(&r);
  /* i64 -> f32 converts directly: 2^53 + 1 -> 2^53 */
  graphc_attr_t to_f32 = A_DTYPE("dtype", GRAPHC_F32);
  gc_tensor x;
  OK(gc_tensor_alloc(&x, GRAPHC_I64, 1, (int64_t[]){1}, 0));
  ((int64_t *)x.data)[0] = ((int64_t)1 << 53) + 1;
  r = unary("cast", x, &to_f32, 1);
  EXPECT(r, GRAPHC_F32, 0, 9007199254740992.0);
  gc_tensor_free(&r);
}

Test(elementwise, empty_and_flags) {
  gc_tensor r = binary("add", T(GRAPHC_F32, S(0), 0), "0", T(GRAPHC_F32, S(1), 1), "1");
  cr_expect_eq(r.numel, 0);
  gc_tensor_free(&r);
  static const char *const ops[] = {"neg", "gelu", "add", "ge", "where", "cast"};
  for (int i = 0; i < 6; i++) {
    const gc_op_info *op = gc_op_lookup(ops[i], strlen(ops[i]));
    cr_assert_not_null(op, "%s not registered", ops[i]);
    cr_expect(op->flags & GC_OPF_ELEMENTWISE, "%s lacks GC_OPF_ELEMENTWISE", ops[i]);
    cr_expect(op->doc && *op->doc, "%s has no doc", ops[i]);
  }
}
