/* Gradients of the elementwise ops. Each rule writes PyTorch's backward
 * formula (tools/autograd/derivatives.yaml) with elementwise ops; binary
 * ops reduce the gradient over broadcast dims and cast it back to the
 * operand's dtype (ad_unbroadcast). */
#include <math.h>
#include <string.h>

#include "autodiff/ad.h"

#define G(c) ((c)->gout[0])
#define X(c) ((c)->in[0])
#define Y(c) ((c)->out[0])

static int zero_like_dtype(gc_ad *ad, int v) { return ad_scalar(ad, 0.0, ad_ty(ad, v)->dtype); }

/* Sets operand i's gradient from a full-shape gradient. */
static void set_in(gc_ad *ad, gc_grad_call *c, int i, int g) {
  if (!c->need[i]) return;
  gc_type t = *ad_ty(ad, c->in[i]);
  c->gin[i] = ad_unbroadcast(ad, g, &t);
}

/* ---- unary ---------------------------------------------------------------- */

static void g_neg(gc_ad *ad, gc_grad_call *c) { c->gin[0] = ad_un(ad, "neg", G(c)); }

/* grad * sgn(x), sgn(0) = 0 */
static void g_abs(gc_ad *ad, gc_grad_call *c) {
  gc_dtype dt = ad_ty(ad, X(c))->dtype;
  int z = zero_like_dtype(ad, X(c));
  int pos = ad_cast(ad, ad_bin(ad, "gt", X(c), z), dt);
  int neg = ad_cast(ad, ad_bin(ad, "lt", X(c), z), dt);
  c->gin[0] = ad_bin(ad, "mul", G(c), ad_bin(ad, "sub", pos, neg));
}

/* threshold_backward: grad where the result is > 0 */
static void g_relu(gc_ad *ad, gc_grad_call *c) {
  int z = zero_like_dtype(ad, Y(c));
  c->gin[0] = ad_where(ad, ad_bin(ad, "gt", Y(c), z), G(c), z);
}

static void g_exp(gc_ad *ad, gc_grad_call *c) { c->gin[0] = ad_bin(ad, "mul", G(c), Y(c)); }
static void g_log(gc_ad *ad, gc_grad_call *c) { c->gin[0] = ad_bin(ad, "div", G(c), X(c)); }

/* grad / (2 * result) */
static void g_sqrt(gc_ad *ad, gc_grad_call *c) {
  c->gin[0] = ad_bin(ad, "div", G(c), ad_mul_s(ad, Y(c), 2.0));
}

/* -0.5 * grad * result^3 */
static void g_rsqrt(gc_ad *ad, gc_grad_call *c) {
  int y3 = ad_bin(ad, "mul", ad_bin(ad, "mul", Y(c), Y(c)), Y(c));
  c->gin[0] = ad_bin(ad, "mul", ad_mul_s(ad, G(c), -0.5), y3);
}

/* grad * (1 - y^2) */
static void g_tanh(gc_ad *ad, gc_grad_call *c) {
  int one_m = ad_bin(ad, "sub", ad_scalar(ad, 1.0, ad_ty(ad, Y(c))->dtype),
                     ad_bin(ad, "mul", Y(c), Y(c)));
  c->gin[0] = ad_bin(ad, "mul", G(c), one_m);
}

/* grad * (1 - y) * y */
static void g_sigmoid(gc_ad *ad, gc_grad_call *c) {
  int one_m = ad_bin(ad, "sub", ad_scalar(ad, 1.0, ad_ty(ad, Y(c))->dtype), Y(c));
  c->gin[0] = ad_bin(ad, "mul", ad_bin(ad, "mul", G(c), one_m), Y(c));
}

/* grad * s * (1 + x * (1 - s)), s = sigmoid(x) */
static void g_silu(gc_ad *ad, gc_grad_call *c) {
  gc_dtype dt = ad_ty(ad, X(c))->dtype;
  int s = ad_un(ad, "sigmoid", X(c));
  int one_m = ad_bin(ad, "sub", ad_scalar(ad, 1.0, dt), s);
  int inner = ad_add_s(ad, ad_bin(ad, "mul", X(c), one_m), 1.0);
  c->gin[0] = ad_bin(ad, "mul", ad_bin(ad, "mul", G(c), s), inner);
}

/* 2/sqrt(pi) * exp(-x^2) * grad */
static void g_erf(gc_ad *ad, gc_grad_call *c) {
  int e = ad_un(ad, "exp", ad_un(ad, "neg", ad_bin(ad, "mul", X(c), X(c))));
  c->gin[0] = ad_bin(ad, "mul", ad_mul_s(ad, e, 1.1283791670955126), G(c));
}

static void g_sin(gc_ad *ad, gc_grad_call *c) {
  c->gin[0] = ad_bin(ad, "mul", G(c), ad_un(ad, "cos", X(c)));
}

static void g_cos(gc_ad *ad, gc_grad_call *c) {
  c->gin[0] = ad_bin(ad, "mul", G(c), ad_un(ad, "neg", ad_un(ad, "sin", X(c))));
}

/* gelu_backward, both forms (PyTorch's ATen/native/cpu/Activation.cpp). */
static void g_gelu(gc_ad *ad, gc_grad_call *c) {
  int x = X(c);
  gc_dtype dt = ad_ty(ad, x)->dtype;
  int xx = ad_bin(ad, "mul", x, x);
  if (strcmp(gc_attr_str(c->node, "approximate", "none"), "tanh") == 0) {
    const double beta = 0.7978845608028654, kappa = 0.044715; /* sqrt(2/pi) */
    int inner = ad_mul_s(ad, ad_bin(ad, "add", x, ad_mul_s(ad, ad_bin(ad, "mul", xx, x), kappa)), beta);
    int t = ad_un(ad, "tanh", inner);
    int left = ad_mul_s(ad, x, 0.5);
    int left_d = ad_mul_s(ad, ad_add_s(ad, t, 1.0), 0.5);
    int sech2 = ad_bin(ad, "sub", ad_scalar(ad, 1.0, dt), ad_bin(ad, "mul", t, t));
    int inner_d = ad_mul_s(ad, ad_add_s(ad, ad_mul_s(ad, xx, 3.0 * kappa), 1.0), beta);
    int right_d = ad_bin(ad, "mul", ad_bin(ad, "mul", left, sech2), inner_d);
    c->gin[0] = ad_bin(ad, "mul", G(c), ad_bin(ad, "add", left_d, right_d));
    return;
  }
  int cdf = ad_mul_s(ad, ad_add_s(ad, ad_un(ad, "erf", ad_mul_s(ad, x, M_SQRT1_2)), 1.0), 0.5);
  int pdf = ad_mul_s(ad, ad_un(ad, "exp", ad_mul_s(ad, xx, -0.5)), 0.3989422804014327);
  c->gin[0] = ad_bin(ad, "mul", G(c), ad_bin(ad, "add", cdf, ad_bin(ad, "mul", x, pdf)));
}

/* ---- binary --------------------------------------------------------------- */

static void g_add(gc_ad *ad, gc_grad_call *c) {
  set_in(ad, c, 0, G(c));
  set_in(ad, c, 1, G(c));
}

static void g_sub(gc_ad *ad, gc_grad_call *c) {
  set_in(ad, c, 0, G(c));
  if (c->need[1]) set_in(ad, c, 1, ad_un(ad, "neg", G(c)));
}

static void g_mul(gc_ad *ad, gc_grad_call *c) {
  if (c->need[0]) set_in(ad, c, 0, ad_bin(ad, "mul", G(c), c->in[1]));
  if (c->need[1]) set_in(ad, c, 1, ad_bin(ad, "mul", G(c), c->in[0]));
}

/* a: grad / b;  b: -grad * (a / b) / b, with a / b the result */
static void g_div(gc_ad *ad, gc_grad_call *c) {
  if (c->need[0]) set_in(ad, c, 0, ad_bin(ad, "div", G(c), c->in[1]));
  if (c->need[1])
    set_in(ad, c, 1, ad_bin(ad, "mul", ad_un(ad, "neg", G(c)), ad_bin(ad, "div", Y(c), c->in[1])));
}

/* a: grad * b * a^(b-1), 0 where b == 0;
 * b: grad * result * log(a), 0 where a == 0 and b >= 0 */
static void g_pow(gc_ad *ad, gc_grad_call *c) {
  int a = c->in[0], b = c->in[1];
  gc_dtype bt = ad_ty(ad, b)->dtype;
  int zg = zero_like_dtype(ad, G(c));
  if (c->need[0]) {
    int bm1 = ad_bin(ad, "sub", b, ad_scalar(ad, 1.0, bt));
    int d = ad_bin(ad, "mul", b, ad_bin(ad, "pow", a, bm1));
    int b0 = ad_bin(ad, "eq", b, ad_scalar(ad, 0.0, bt));
    set_in(ad, c, 0, ad_where(ad, b0, zg, ad_bin(ad, "mul", G(c), d)));
  }
  if (c->need[1]) {
    int d = ad_bin(ad, "mul", Y(c), ad_un(ad, "log", a));
    int a0 = ad_bin(ad, "eq", a, zero_like_dtype(ad, a));
    int bpos = ad_bin(ad, "ge", b, ad_scalar(ad, 0.0, bt));
    set_in(ad, c, 1, ad_where(ad, ad_bin(ad, "mul", a0, bpos), zg, ad_bin(ad, "mul", G(c), d)));
  }
}

/* The winner gets the gradient; ties split it in half (PyTorch). */
static void g_maxmin(gc_ad *ad, gc_grad_call *c, const char *win) {
  int a = c->in[0], b = c->in[1];
  gc_dtype dt = ad_ty(ad, G(c))->dtype;
  int one = ad_scalar(ad, 1.0, dt), half = ad_scalar(ad, 0.5, dt), zero = ad_scalar(ad, 0.0, dt);
  int tie = ad_where(ad, ad_bin(ad, "eq", a, b), half, zero);
  if (c->need[0])
    set_in(ad, c, 0, ad_bin(ad, "mul", G(c), ad_where(ad, ad_bin(ad, win, a, b), one, tie)));
  if (c->need[1])
    set_in(ad, c, 1, ad_bin(ad, "mul", G(c), ad_where(ad, ad_bin(ad, win, b, a), one, tie)));
}

static void g_maximum(gc_ad *ad, gc_grad_call *c) { g_maxmin(ad, c, "gt"); }
static void g_minimum(gc_ad *ad, gc_grad_call *c) { g_maxmin(ad, c, "lt"); }

static void g_where(gc_ad *ad, gc_grad_call *c) {
  int z = zero_like_dtype(ad, G(c));
  if (c->need[1]) set_in(ad, c, 1, ad_where(ad, c->in[0], G(c), z));
  if (c->need[2]) set_in(ad, c, 2, ad_where(ad, c->in[0], z, G(c)));
}

static void g_cast(gc_ad *ad, gc_grad_call *c) {
  c->gin[0] = ad_cast(ad, G(c), ad_ty(ad, X(c))->dtype);
}

#define NONDIFF(name) {name, NULL, true}

const gc_grad_rule gc_grad_rules_elementwise[] = {
    {"neg", g_neg, false},         {"abs", g_abs, false},       {"relu", g_relu, false},
    {"exp", g_exp, false},         {"log", g_log, false},       {"sqrt", g_sqrt, false},
    {"rsqrt", g_rsqrt, false},     {"tanh", g_tanh, false},     {"sigmoid", g_sigmoid, false},
    {"gelu", g_gelu, false},       {"silu", g_silu, false},     {"erf", g_erf, false},
    {"sin", g_sin, false},         {"cos", g_cos, false},       {"add", g_add, false},
    {"sub", g_sub, false},         {"mul", g_mul, false},       {"div", g_div, false},
    {"pow", g_pow, false},         {"maximum", g_maximum, false}, {"minimum", g_minimum, false},
    {"where", g_where, false},     {"cast", g_cast, false},
    NONDIFF("eq"), NONDIFF("ne"), NONDIFF("lt"), NONDIFF("le"), NONDIFF("gt"), NONDIFF("ge"),
    {NULL, NULL, false},
};
