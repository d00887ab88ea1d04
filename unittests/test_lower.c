/* Lowering (codegen/kernel/lower*.c, fuse.c) checked end to end: every
 * graph is lowered fused and unfused, verified, run by the reference
 * executor (kir_eval) on random inputs and compared with the graph
 * interpreter, at sizes 1, 7 and 1023 of a symbolic dim and a symbolic
 * batch. The fusion rules, run-time checks, UNIMPLEMENTED ops and the
 * examples are in test_lower_fusion.c. */
#include "lower_harness.h"

TestSuite(lower, .init = lh_setup, .fini = lh_teardown);

static const char *const SIZES[] = {"B=3 N=1", "B=3 N=7", "B=2 N=1023"};

/* Runs `text` at every size of SIZES. */
static void each_size(const char *text, lh_opts o) {
  for (size_t i = 0; i < sizeof SIZES / sizeof SIZES[0]; i++) {
    o.syms = SIZES[i];
    lh_check(text, &o, false);
  }
}

/* One op over inputs `decl` (text of the input list), e.g.
 * one_op("x: f32[B, N] input", "exp(x)"). */
static void one_op(const char *decl, const char *call, lh_opts o) {
  char text[1024];
  snprintf(text, sizeof text, "graph t(%s) {\n  %%y = %s\n  return %%y\n}\n", decl, call);
  each_size(text, o);
}

static const lh_opts ANY = {0}, POS = {.positive = true};

Test(lower, unary_f32) {
  static const char *const ops[] = {"neg", "abs", "relu", "exp", "tanh", "sigmoid", "silu", "erf", "sin", "cos"};
  char call[64];
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    snprintf(call, sizeof call, "%s(x)", ops[i]);
    one_op("x: f32[B, N] input", call, ANY);
  }
  one_op("x: f32[B, N] input", "log(x)", POS);
  one_op("x: f32[B, N] input", "sqrt(x)", POS);
  one_op("x: f32[B, N] input", "rsqrt(x)", POS);
  one_op("x: f32[B, N] input", "gelu(x)", ANY);
  one_op("x: f32[B, N] input", "gelu(x, approximate=tanh)", ANY);
}

Test(lower, unary_dtypes) {
  static const char *const dts[] = {"f16", "bf16", "f64"};
  char decl[64];
  for (size_t i = 0; i < 3; i++) {
    snprintf(decl, sizeof decl, "x: %s[B, N] input", dts[i]);
    one_op(decl, "exp(x)", ANY);
    one_op(decl, "gelu(x)", ANY);
    one_op(decl, "gelu(x, approximate=tanh)", ANY);
    one_op(decl, "silu(x)", ANY);
    one_op(decl, "relu(x)", ANY);
    one_op(decl, "log(x)", POS);
  }
  one_op("x: i32[B, N] input", "neg(x)", ANY);
  one_op("x: i64[B, N] input", "abs(x)", ANY);
  one_op("x: i32[B, N] input", "relu(x)", ANY);
  one_op("x: i32[B, N] input", "exp(x)", ANY);
  one_op("x: bool[B, N] input", "sigmoid(x)", ANY);
  one_op("x: i64[N] input", "cos(x)", ANY);
}

Test(lower, binary_broadcast) {
  static const char *const ops[] = {"add", "sub", "mul", "div", "maximum", "minimum",
                                    "eq", "ne", "lt", "le", "gt", "ge"};
  static const char *const decls[] = {
      "a: f32[B, N] input, b: f32[B, N] input", "a: f32[B, N] input, b: f32[N] input",
      "a: f32[B, 1] input, b: f32[N] input",    "a: f32[B, N] input, b: f32[] input",
      "a: f32[1, N] input, b: f32[B, 1] input"};
  char call[64];
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    for (size_t d = 0; d < sizeof decls / sizeof decls[0]; d++) {
      snprintf(call, sizeof call, "%s(a, b)", ops[i]);
      one_op(decls[d], call, ANY);
    }
  one_op("a: f32[B, N] input, b: f32[N] input", "pow(a, b)", POS);
}

Test(lower, binary_dtypes) {
  one_op("a: i32[B, N] input, b: i64[N] input", "add(a, b)", ANY);
  one_op("a: i32[B, N] input, b: i32[N] input", "mul(a, b)", ANY);
  one_op("a: i32[B, N] input, b: i32[N] input", "div(a, b)", (lh_opts){.int_lo = 1, .int_hi = 9});
  one_op("a: i64[B, N] input, b: i64[N] input", "pow(a, b)", (lh_opts){.int_lo = -3, .int_hi = 4});
  one_op("a: i32[B, N] input, b: f32[N] input", "sub(a, b)", ANY);
  one_op("a: f16[B, N] input, b: bf16[N] input", "add(a, b)", ANY);
  one_op("a: f16[B, N] input, b: f16[B, N] input", "mul(a, b)", ANY);
  one_op("a: bf16[B, N] input, b: f32[] input", "mul(a, b)", ANY);
  one_op("a: f64[B, N] input, b: f32[N] input", "div(a, b)", ANY);
  one_op("a: bool[B, N] input, b: bool[N] input", "add(a, b)", ANY);
  one_op("a: bool[B, N] input, b: bool[N] input", "mul(a, b)", ANY);
  one_op("a: bool[B, N] input, b: i32[N] input", "maximum(a, b)", ANY);
  one_op("a: i64[B, N] input, b: i32[N] input", "lt(a, b)", ANY);
  one_op("a: f16[B, N] input, b: f32[] input", "ge(a, b)", ANY);
}

Test(lower, where_cast) {
  one_op("c: bool[B, N] input, a: f32[N] input, b: f32[B, 1] input", "where(c, a, b)", ANY);
  one_op("c: bool[N] input, a: i32[B, N] input, b: f16[] input", "where(c, a, b)", ANY);
  static const char *const dts[] = {"f32", "f64", "f16", "bf16", "i32", "i64", "bool"};
  char decl[64], call[64];
  for (size_t i = 0; i < 7; i++)
    for (size_t j = 0; j < 7; j++) {
      snprintf(decl, sizeof decl, "x: %s[B, N] input", dts[i]);
      snprintf(call, sizeof call, "cast(x, dtype=%s)", dts[j]);
      lh_opts o = {.int_lo = -300, .int_hi = 300};
      for (size_t s = 0; s < 2; s++) {
        o.syms = SIZES[s];
        char text[256];
        snprintf(text, sizeof text, "graph t(%s) {\n  %%y = %s\n  return %%y\n}\n", decl, call);
        lh_check(text, &o, false);
      }
    }
}

Test(lower, dropout) {
  one_op("x: f32[B, N] input, seed: i64[] input", "dropout(x, seed, p=0.25)", ANY);
  one_op("x: f16[B, N] input, seed: i64[] input", "dropout(x, seed, p=0.5)", ANY);
  one_op("x: f64[B, N] input, seed: i64[] input", "dropout(x, seed, p=1.0)", ANY);
  one_op("x: f32[B, N] input, seed: i64[] input", "dropout(x, seed, p=0.5, train=false)", ANY);
  one_op("x: i32[B, N] input, seed: i64[] input", "dropout(x, seed, p=1.0)", ANY);
}

Test(lower, creation) {
  each_size("graph t(x: f32[B, N] input) {\n  %f = full(shape=[B, N], value=-1.5)\n"
            "  %z = zeros(shape=[N], dtype=i32)\n  %o = ones(shape=[2, N], dtype=bf16)\n"
            "  %r = arange(end=[N], start=0, step=1)\n  %s = arange(end=[2*N], start=1, step=2, dtype=f32)\n"
            "  %h = full(shape=[N], value=0.1, dtype=f16)\n  %y = add(x, %r)\n"
            "  return %f, %z, %o, %r, %s, %h, %y\n}\n",
            ANY);
}

Test(lower, reductions) {
  static const char *const calls[] = {
      "sum(x)", "sum(x, dim=[1])", "sum(x, dim=[0], keepdim=true)", "sum(x, dim=[0, 2])", "mean(x, dim=[-1])",
      "mean(x, dim=[1], keepdim=true)", "amax(x, dim=[2])", "amin(x, dim=[0, 1], keepdim=true)", "amax(x)",
      "argmax(x, dim=1)", "argmax(x, dim=2, keepdim=true)", "argmax(x)", "mean(x)"};
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) one_op("x: f32[B, N, 3] input", calls[i], ANY);
  one_op("x: i32[B, N] input", "sum(x, dim=[1])", ANY);
  one_op("x: bool[B, N] input", "sum(x)", ANY);
  one_op("x: i64[B, N] input", "amax(x, dim=[0])", ANY);
  one_op("x: i32[B, N] input", "argmax(x, dim=0)", (lh_opts){.int_lo = -1000, .int_hi = 1000});
  one_op("x: f16[B, N] input", "sum(x, dim=[1])", ANY);
  one_op("x: bf16[B, N] input", "mean(x, dim=[0])", ANY);
  one_op("x: f64[B, N] input", "amin(x, dim=[1])", ANY);
}

Test(lower, normalisation) {
  one_op("x: f32[B, N] input", "softmax(x, dim=-1)", ANY);
  one_op("x: f32[B, N] input", "softmax(x, dim=0)", ANY);
  one_op("x: f32[B, N, 3] input", "log_softmax(x, dim=1)", ANY);
  one_op("x: f16[B, N] input", "softmax(x, dim=1)", ANY);
  one_op("x: f64[B, N] input", "log_softmax(x, dim=-1)", ANY);
  one_op("x: f32[B, N] input", "layer_norm(x, normalized_shape=[N])", ANY);
  one_op("x: f32[B, N] input, w: f32[N] input, b: f32[N] input", "layer_norm(x, w, b, normalized_shape=[N])", ANY);
  one_op("x: f32[B, 3, N] input, w: f32[3, N] input", "layer_norm(x, w, normalized_shape=[3, N], eps=0.001)", ANY);
  one_op("x: f16[B, N] input, w: f32[N] input, b: f32[N] input", "layer_norm(x, w, b, normalized_shape=[N])", ANY);
}

Test(lower, losses) {
  one_op("a: f32[B, N] input, b: f32[N] input", "mse_loss(a, b)", ANY);
  one_op("a: f32[B, N] input, b: f32[B, N] input", "mse_loss(a, b, reduction=sum)", ANY);
  one_op("a: f64[B, N] input, b: f64[B, 1] input", "mse_loss(a, b, reduction=none)", ANY);
  lh_opts t = {.int_lo = 0, .int_hi = 5};
  each_size("graph t(x: f32[N, 5] input, t: i64[N] input) {\n  %y = cross_entropy(x, t)\n  return %y\n}\n", t);
  each_size("graph t(x: f32[N, 5] input, t: i64[N] input) {\n"
            "  %y = cross_entropy(x, t, label_smoothing=0.2, ignore_index=3)\n  return %y\n}\n", t);
  each_size("graph t(x: f64[B, 5] input, t: i64[B] input) {\n  %y = cross_entropy(x, t, ignore_index=1)\n"
            "  return %y\n}\n", (lh_opts){.int_lo = 0, .int_hi = 2});
}

Test(lower, matmul_linear) {
  one_op("a: f32[B, N] input, b: f32[N, 5] input", "matmul(a, b)", ANY);
  one_op("a: f32[B, 4, N] input, b: f32[N, 5] input", "matmul(a, b)", ANY);
  one_op("a: f32[B, 4, N] input, b: f32[B, N, 5] input", "matmul(a, b)", ANY);
  one_op("a: f32[2, 1, 4, N] input, b: f32[B, N, 3] input", "matmul(a, b)", ANY);
  one_op("a: f32[N] input, b: f32[B, N, 3] input", "matmul(a, b)", ANY);
  one_op("a: f64[B, N] input, b: f64[N] input", "matmul(a, b)", ANY);
  one_op("a: f32[N] input, b: f32[N] input", "matmul(a, b)", ANY);
  one_op("a: i32[B, N] input, b: i32[N, 3] input", "matmul(a, b)", ANY);
  one_op("a: f16[B, N] input, b: f16[N, 3] input", "matmul(a, b)", ANY);
  one_op("x: f32[B, N] input, w: f32[6, N] input, b: f32[6] input", "linear(x, w, b)", ANY);
  one_op("x: f32[B, 2, N] input, w: f32[6, N] input", "linear(x, w)", ANY);
  one_op("x: f32[N] input, w: f32[6, N] input, b: f32[6] input", "linear(x, w, b)", ANY);
  one_op("x: i64[B, N] input, w: i64[6, N] input, b: i64[6] input", "linear(x, w, b)", ANY);
  one_op("x: bf16[B, N] input, w: bf16[6, N] input", "linear(x, w)", ANY);
  /* transposed and sliced operands */
  each_size("graph t(a: f32[N, B] input, b: f32[5, N] input) {\n  %at = transpose(a, dim0=0, dim1=1)\n"
            "  %bt = permute(b, dims=[1, 0])\n  %y = matmul(%at, %bt)\n  return %y\n}\n", ANY);
  each_size("graph t(a: f32[B, 8] input, b: f32[N, 8] input) {\n  %s = slice(a, dim=1, start=2, end=6)\n"
            "  %c = slice(b, dim=1, start=0, end=4)\n  %y = linear(%s, %c)\n  return %y\n}\n", ANY);
  each_size("graph t(a: f32[B, N, 4] input, b: f32[4, 3] input) {\n  %t = exp(a)\n"
            "  %y = matmul(%t, b)\n  return %y\n}\n", ANY);
}

Test(lower, conv_pool) {
  lh_opts o = {0};
  const char *const sz[] = {"B=2 N=5", "B=1 N=8"};
  const char *const g[] = {
      "graph t(x: f32[B, 3, N, N] input, w: f32[4, 3, 3, 3] input, b: f32[4] input) {\n"
      "  %y = conv2d(x, w, b, padding=[1, 1])\n  return %y\n}\n",
      "graph t(x: f32[B, 4, N, N] input, w: f32[6, 2, 2, 3] input) {\n"
      "  %y = conv2d(x, w, stride=[2, 1], padding=[1, 0], dilation=[1, 2], groups=2)\n  return %y\n}\n",
      "graph t(x: f32[2, N, N] input, w: f32[3, 2, 1, 1] input) {\n  %y = conv2d(x, w)\n  return %y\n}\n",
      "graph t(x: f32[B, 2, N, N] input) {\n  %y = max_pool2d(x, kernel_size=[2, 2])\n  return %y\n}\n",
      "graph t(x: f32[B, 2, N, N] input) {\n  %y = max_pool2d(x, kernel_size=[3], stride=[2], padding=[1],"
      " dilation=[1], ceil_mode=true)\n  return %y\n}\n",
      "graph t(x: i32[B, 2, N, N] input) {\n  %y = max_pool2d(x, kernel_size=[2], padding=[1])\n  return %y\n}\n",
      "graph t(x: f32[B, 2, N, N] input) {\n  %y = avg_pool2d(x, kernel_size=[3], stride=[2], padding=[1])\n"
      "  return %y\n}\n",
      "graph t(x: f32[B, 2, N, N] input) {\n  %y = avg_pool2d(x, kernel_size=[3], stride=[2], padding=[1],"
      " ceil_mode=true, count_include_pad=false)\n  return %y\n}\n",
      "graph t(x: i64[B, 2, N, N] input) {\n  %y = avg_pool2d(x, kernel_size=[2], padding=[1])\n  return %y\n}\n",
      "graph t(x: f32[B, 2, N, N] input) {\n  %y = adaptive_avg_pool2d(x, output_size=[3, 2])\n  return %y\n}\n",
  };
  for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
    for (size_t s = 0; s < 2; s++) {
      o.syms = sz[s];
      lh_check(g[i], &o, false);
    }
}

Test(lower, views) {
  each_size("graph t(x: f32[B, N, 4] input) {\n  %r = reshape(x, shape=[B, N*4])\n  %e = exp(%r)\n"
            "  %p = permute(x, dims=[2, 0, 1])\n  %t = transpose(x, dim0=0, dim1=2)\n"
            "  %u = unsqueeze(x, dim=1)\n  %s = squeeze(%u, dim=[1])\n  %n = neg(%s)\n"
            "  return %r, %e, %p, %t, %u, %n\n}\n", ANY);
  each_size("graph t(x: f32[B, N] input, y: f32[1, N] input) {\n  %e = expand(y, shape=[2, B, -1])\n"
            "  %s = slice(x, dim=1, start=0, end=1)\n  %s2 = slice(x, dim=0, start=-2, step=2)\n"
            "  %s3 = slice(x, dim=1, start=1)\n  %a = add(%e, x)\n  return %e, %s, %s2, %s3, %a\n}\n", ANY);
  each_size("graph t(x: f32[B, N] input, y: i32[B, 2] input, z: f16[B, 1] input) {\n"
            "  %c = cat(x, y, z, dim=1)\n  %d = cat(x, x, dim=0)\n  return %c, %d\n}\n", ANY);
  each_size("graph t(x: f32[B, 6] input, y: f32[N, 6] input) {\n  %c = cat(x, y, dim=0)\n"
            "  %a, %b = split(%c, dim=1, sizes=[2, 4])\n  %e = exp(%b)\n  return %a, %b, %e\n}\n", ANY);
  each_size("graph t(x: f32[B, N, 3] input) {\n  %a, %b, %c = split(x, dim=2, sizes=[1, 1, 1])\n"
            "  %s = add(%a, %c)\n  %r = reshape(%s, shape=[B*N])\n  return %r, %b\n}\n", ANY);
}

Test(lower, index_ops) {
  lh_opts o = {.int_lo = 0, .int_hi = 3};
  each_size("graph t(i: i64[B, N] input, w: f32[3, 5] input) {\n  %y = embedding(i, w)\n  return %y\n}\n", o);
  each_size("graph t(x: f32[3, N] input, i: i32[B] input) {\n  %y = index_select(x, i, dim=0)\n"
            "  return %y\n}\n", o);
  each_size("graph t(x: f32[B, 4] input, i: i64[B, 3] input) {\n  %y = gather(x, i, dim=1)\n  return %y\n}\n", o);
  each_size("graph t(x: f32[3, N] input, i: i64[2, N] input) {\n  %y = gather(x, i, dim=0)\n  return %y\n}\n", o);
}

Test(lower, attention) {
  const char *const sz[] = {"B=2 N=5", "B=1 N=1"};
  const char *const g[] = {
      "graph t(q: f32[B, 2, N, 4] input, k: f32[B, 2, 6, 4] input, v: f32[B, 2, 6, 3] input) {\n"
      "  %y = scaled_dot_product_attention(q, k, v)\n  return %y\n}\n",
      "graph t(q: f32[B, N, 4] input, k: f32[B, N, 4] input, v: f32[B, N, 4] input) {\n"
      "  %y = scaled_dot_product_attention(q, k, v, causal=true, scale=0.3)\n  return %y\n}\n",
      "graph t(q: f32[B, N, 4] input, k: f32[1, 6, 4] input, v: f32[B, 6, 2] input, m: bool[N, 6] input) {\n"
      "  %y = scaled_dot_product_attention(q, k, v, m, has_mask=true)\n  return %y\n}\n",
      "graph t(q: f64[B, N, 4] input, k: f64[B, 6, 4] input, v: f64[B, 6, 2] input, m: f64[B, 1, 6] input) {\n"
      "  %y = scaled_dot_product_attention(q, k, v, m, has_mask=true, causal=true)\n  return %y\n}\n",
      "graph t(q: f16[B, N, 4] input, k: f16[B, N, 4] input, v: f16[B, N, 4] input) {\n"
      "  %y = scaled_dot_product_attention(q, k, v)\n  return %y\n}\n",
  };
  for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
    for (size_t s = 0; s < 2; s++) lh_check(g[i], &(lh_opts){.syms = sz[s]}, false);
}

Test(lower, empty_sizes) {
  const char *const sz[] = {"B=3 N=0", "B=0 N=4"};
  const char *const g[] = {
      "graph t(x: f32[B, N] input, y: f32[N] input) {\n  %a = add(x, y)\n  %e = gelu(%a)\n  return %e\n}\n",
      "graph t(x: f32[B, N] input) {\n  %s = sum(x, dim=[1])\n  %m = mean(x, dim=[0])\n  %t = sum(x)\n"
      "  return %s, %m, %t\n}\n",
      "graph t(x: f32[B, N] input) {\n  %s = softmax(x, dim=1)\n  %l = layer_norm(x, normalized_shape=[N])\n"
      "  return %s, %l\n}\n",
      "graph t(a: f32[B, N] input, b: f32[N, 3] input) {\n  %y = matmul(a, b)\n  %r = relu(%y)\n  return %r\n}\n",
      "graph t(a: f32[B, N] input, b: f32[B, 2] input) {\n  %c = cat(a, b, dim=1)\n  return %c\n}\n",
      "graph t(x: f32[B, N] input, w: f32[5, N] input) {\n  %y = linear(x, w)\n  return %y\n}\n",
  };
  for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
    for (size_t s = 0; s < 2; s++) lh_check(g[i], &(lh_opts){.syms = sz[s]}, false);
}

Test(lower, gradient_ops) {
  lh_opts idx = {.int_lo = 0, .int_hi = 4};
  one_op("x: f32[B, N] input", "detach(x)", ANY);
  one_op("x: f32[B, N] input", "narrow(x, dim=1, start=[1], length=[N - 1])", ANY);
  one_op("x: f32[B, N] input, s: f32[B, (N + 1)//2] input", "slice_scatter(x, s, dim=1, step=2)", ANY);
  one_op("x: f32[B, N] input, s: f32[1, N] input", "slice_scatter(x, s, dim=0, start=-1)", ANY);
  one_op("x: f32[4, N] input, i: i64[B] input, s: f32[B, N] input", "index_add(x, i, s, dim=0)", idx);
  one_op("x: i32[B, 4] input, i: i32[3] input, s: i32[B, 3] input", "index_add(x, i, s, dim=1)", idx);
  one_op("x: f32[4, N] input, i: i64[3, N] input, s: f32[3, N] input", "scatter_add(x, i, s, dim=0)", idx);
  one_op("x: f32[B, 5] input, i: i64[B, 2] input, s: f32[B, 2] input", "scatter_add(x, i, s, dim=1)", idx);
  const char *const sz[] = {"B=2 N=5", "B=1 N=8"};
  const char *const g[] = {
      "graph t(g: f32[B, 4, N, N] input, w: f32[4, 3, 3, 3] input) {\n"
      "  %y = conv2d_backward_input(g, w, input_shape=[B, 3, N, N], padding=[1, 1])\n  return %y\n}\n",
      "graph t(x: f32[B, 3, N, N] input, g: f32[B, 4, N, N] input) {\n"
      "  %y = conv2d_backward_weight(x, g, weight_shape=[4, 3, 3, 3], padding=[1, 1])\n  return %y\n}\n",
      "graph t(N: i64[] symbol, g: f32[B, 6, N//2 + 1, N - 4] input, w: f32[6, 2, 2, 3] input) {\n"
      "  %y = conv2d_backward_input(g, w, input_shape=[B, 4, N, N], stride=[2, 1], padding=[1, 0],"
      " dilation=[1, 2], groups=2)\n  return %y\n}\n",
      "graph t(x: f32[B, 4, N, N] input, g: f32[B, 6, N//2 + 1, N - 4] input) {\n"
      "  %y = conv2d_backward_weight(x, g, weight_shape=[6, 2, 2, 3], stride=[2, 1], padding=[1, 0],"
      " dilation=[1, 2], groups=2)\n  return %y\n}\n",
      "graph t(N: i64[] symbol, g: f32[3, N - 2, N - 2] input, w: f32[3, 2, 3, 3] input) {\n"
      "  %y = conv2d_backward_input(g, w, input_shape=[2, N, N])\n  return %y\n}\n",
      "graph t(N: i64[] symbol, g: f32[B, 2, N//2, N//2] input, x: f32[B, 2, N, N] input) {\n"
      "  %y = max_pool2d_backward(g, x, kernel_size=[2, 2])\n  return %y\n}\n",
      "graph t(N: i64[] symbol, g: f32[B, 2, (N - 1)//2 + 1, (N - 1)//2 + 1] input, x: f32[B, 2, N, N] input) {\n"
      "  %y = max_pool2d_backward(g, x, kernel_size=[3], stride=[2], padding=[1])\n  return %y\n}\n",
      "graph t(N: i64[] symbol, g: f32[B, 2, (N - 1)//2 + 1, (N - 1)//2 + 1] input) {\n"
      "  %y = avg_pool2d_backward(g, input_shape=[B, 2, N, N], kernel_size=[3], stride=[2], padding=[1])\n"
      "  return %y\n}\n",
      "graph t(N: i64[] symbol, g: f32[B, 2, (N - 1)//2 + 1, (N - 1)//2 + 1] input) {\n"
      "  %y = avg_pool2d_backward(g, input_shape=[B, 2, N, N], kernel_size=[3], stride=[2], padding=[1],"
      " count_include_pad=false)\n  return %y\n}\n",
      "graph t(N: i64[] symbol, g: f32[B, 2, 3, 2] input) {\n"
      "  %y = adaptive_avg_pool2d_backward(g, input_shape=[B, 2, N, N])\n  return %y\n}\n",
  };
  for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
    for (size_t s = 0; s < 2; s++) lh_check(g[i], &(lh_opts){.syms = sz[s]}, false);
}
