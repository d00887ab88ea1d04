/* Element rules of elementwise, creation and dropout ops.
 *
 * They reproduce lib/ops/ops_elementwise.c: operands are converted to the
 * compute dtype first (PyTorch's promotion), floats compute in f32 (f64
 * for f64) and every result is rounded to its dtype exactly where the
 * interpreter stores it (f16/bf16 through KX_CAST, i32 wraps), so a fused
 * chain computes what the op-by-op interpreter computes up to the
 * precision of f32 math. Integers compute in wrapping i64; bool
 * arithmetic computes on 0/1 and is != 0 at the end (`+` is or). */
#include <math.h>
#include <string.h>

#include "interp/tensor.h"
#include "kernel/lower_internal.h"
#include "support/status.h"

static const lval *result_of(kctx *K, const lnode *n, int res) { return &K->L->fg->vals[n->res[res]]; }

static bool is_float(gc_dtype dt) {
  return dt == GRAPHC_F32 || dt == GRAPHC_F64 || dt == GRAPHC_F16 || dt == GRAPHC_BF16;
}

/* ---- unary ------------------------------------------------------------------ */

static int sigmoid(kctx *K, int x) { return kx_un(K, KU_SIGMOID, x); }

static int emit_unary(kctx *K, const lnode *n, int res, ix *at) {
  gc_dtype dt = result_of(K, n, res)->type.dtype;
  const char *nm = n->op->name;
  int x = em_operand(K, n, 0, at, dt);
  kir_type T = lw_katype(dt);
  int zero = is_float(dt) ? kx_f(K, T, 0.0) : kx_i(K, 0), e;
  if (!strcmp(nm, "neg")) e = kx_un(K, KU_NEG, x);
  else if (!strcmp(nm, "abs")) e = kx_un(K, KU_ABS, x);
  else if (!strcmp(nm, "relu")) e = kx_bin(K, KB_MAX, x, zero); /* NaN propagates */
  else if (!strcmp(nm, "exp")) e = kx_un(K, KU_EXP, x);
  else if (!strcmp(nm, "log")) e = kx_un(K, KU_LOG, x);
  else if (!strcmp(nm, "sqrt")) e = kx_un(K, KU_SQRT, x);
  else if (!strcmp(nm, "rsqrt")) e = kx_bin(K, KB_DIV, kx_f(K, T, 1.0), kx_un(K, KU_SQRT, x));
  else if (!strcmp(nm, "tanh")) e = kx_un(K, KU_TANH, x);
  else if (!strcmp(nm, "sigmoid")) e = sigmoid(K, x);
  else if (!strcmp(nm, "erf")) e = kx_un(K, KU_ERF, x);
  else if (!strcmp(nm, "sin")) e = kx_un(K, KU_SIN, x);
  else if (!strcmp(nm, "cos")) e = kx_un(K, KU_COS, x);
  else if (!strcmp(nm, "silu")) e = kx_bin(K, KB_MUL, x, sigmoid(K, x));
  else if (!strcmp(nm, "gelu")) {
    const gc_attr *ap = gc_node_attr(n->n, "approximate");
    int half_x = kx_bin(K, KB_MUL, kx_f(K, T, 0.5), x), inner;
    if (ap && !strcmp(ap->s, "tanh")) {
      int x3 = kx_bin(K, KB_MUL, kx_bin(K, KB_MUL, x, x), x);
      int poly = kx_bin(K, KB_ADD, x, kx_bin(K, KB_MUL, kx_f(K, T, 0.044715), x3));
      inner = kx_un(K, KU_TANH, kx_bin(K, KB_MUL, kx_f(K, T, 0.7978845608028654), poly));
    } else {
      inner = kx_un(K, KU_ERF, kx_bin(K, KB_MUL, x, kx_f(K, T, 0.7071067811865476)));
    }
    e = kx_bin(K, KB_MUL, half_x, kx_bin(K, KB_ADD, kx_f(K, T, 1.0), inner));
  } else {
    return em_fail(K, gc_status(GRAPHC_STATUS_INTERNAL, "lowering: unary op '%s'", nm));
  }
  return kx_finish(K, e, dt);
}

/* ---- binary ------------------------------------------------------------------- */

typedef struct bin_row {
  const char *name;
  bool cmp;
  int op; /* kir_binary_op or kir_cmp_op */
} bin_row;

static const bin_row bin_rows[] = {
    {"add", false, KB_ADD}, {"sub", false, KB_SUB},     {"mul", false, KB_MUL},
    {"div", false, KB_DIV}, {"pow", false, KB_POW},     {"maximum", false, KB_MAX},
    {"minimum", false, KB_MIN}, {"eq", true, KC_EQ},    {"ne", true, KC_NE},
    {"lt", true, KC_LT},    {"le", true, KC_LE},        {"gt", true, KC_GT},
    {"ge", true, KC_GE},
};

static int emit_binary(kctx *K, const lnode *n, int res, ix *at) {
  const bin_row *row = NULL;
  for (size_t i = 0; i < sizeof bin_rows / sizeof bin_rows[0]; i++)
    if (!strcmp(bin_rows[i].name, n->op->name)) row = &bin_rows[i];
  if (!row) return em_fail(K, gc_status(GRAPHC_STATUS_INTERNAL, "lowering: binary op '%s'", n->op->name));
  const gc_type *t[2] = {&K->L->fg->vals[n->ops[0]].type, &K->L->fg->vals[n->ops[1]].type};
  gc_dtype ct = gc_promote_types(t, 2);
  if (!row->cmp && row->op == KB_DIV && !is_float(ct)) ct = GRAPHC_F32;
  int a = kx_arith(K, em_operand(K, n, 0, at, ct), ct);
  int b = kx_arith(K, em_operand(K, n, 1, at, ct), ct);
  if (row->cmp) return kx_cmp(K, (kir_cmp_op)row->op, a, b);
  return kx_finish(K, kx_bin(K, (kir_binary_op)row->op, a, b), result_of(K, n, res)->type.dtype);
}

static int emit_where(kctx *K, const lnode *n, int res, ix *at) {
  gc_dtype dt = result_of(K, n, res)->type.dtype;
  int c = em_operand(K, n, 0, at, GRAPHC_BOOL);
  int a = em_operand(K, n, 1, at, dt), b = em_operand(K, n, 2, at, dt);
  return kx_sel(K, c, a, b);
}

static int emit_cast(kctx *K, const lnode *n, int res, ix *at) {
  return em_operand(K, n, 0, at, result_of(K, n, res)->type.dtype);
}

/* ---- dropout ------------------------------------------------------------------- */

#define GOLDEN ((int64_t)0x9e3779b97f4a7c15ull)

static int xorshift_mul(kctx *K, int z, int shift, uint64_t mul) {
  int x = kx_bin(K, KB_XOR, z, kx_bin(K, KB_SHR, z, kx_i(K, shift)));
  return mul ? kx_bin(K, KB_MUL, x, kx_i(K, (int64_t)mul)) : x;
}

/* docs/ops.md: u = splitmix64(seed ^ (golden * i)) >> 11, scaled by 2^-53;
 * keep when u >= p. Bit for bit the interpreter's mask. */
static int emit_dropout(kctx *K, const lnode *n, int res, ix *at) {
  gc_dtype dt = result_of(K, n, res)->type.dtype;
  double p = gc_attr_float(n->n, "p", 0.5);
  bool train = gc_attr_bool(n->n, "train", true);
  int x = em_operand(K, n, 0, at, dt);
  if (!train || p == 0.0) return x;
  if (!is_float(dt)) return kx_convert(K, kx_i(K, 0), GRAPHC_I64, dt); /* p == 1 */
  const lval *sv = &K->L->fg->vals[n->ops[1]];
  ix s0;
  ix_init(&s0, &sv->type);
  int seed = em_value(K, n->ops[1], &s0);
  int z = kx_bin(K, KB_XOR, seed, kx_bin(K, KB_MUL, kx_i(K, GOLDEN), ix_flat(K, at)));
  z = kx_bin(K, KB_ADD, z, kx_i(K, GOLDEN));
  z = xorshift_mul(K, z, 30, 0xbf58476d1ce4e5b9ull);
  z = xorshift_mul(K, z, 27, 0x94d049bb133111ebull);
  z = xorshift_mul(K, z, 31, 0);
  int u = kx_bin(K, KB_MUL, kx_cast(K, KIR_F64, kx_bin(K, KB_SHR, z, kx_i(K, 11)), -1),
                 kx_f(K, KIR_F64, 0x1p-53));
  int keep = kx_cmp(K, KC_GE, u, kx_f(K, KIR_F64, p));
  kir_type T = lw_ktype(dt);
  double scale = 0.0;
  if (p < 1.0) {
    scale = 1.0 / (1.0 - p);
    if (dt == GRAPHC_F16) scale = gc_f16_to_f32(gc_f32_to_f16((float)scale));
    else if (dt == GRAPHC_BF16) scale = gc_bf16_to_f32(gc_f32_to_bf16((float)scale));
  }
  int m = kx_sel(K, keep, kx_f(K, T, scale), kx_f(K, T, 0.0));
  return kx_finish(K, kx_bin(K, KB_MUL, x, m), dt);
}

/* ---- creation -------------------------------------------------------------------- */

static int constant(kctx *K, double v, gc_dtype dt) {
  if (dt == GRAPHC_BOOL) return kx_b(K, v != 0.0);
  if (!is_float(dt)) return kx_finish(K, kx_i(K, (int64_t)v), dt);
  if (dt == GRAPHC_F16) v = gc_f16_to_f32(gc_f32_to_f16((float)v));
  if (dt == GRAPHC_BF16) v = gc_bf16_to_f32(gc_f32_to_bf16((float)v));
  return kx_f(K, lw_ktype(dt), v);
}

static int emit_fill(kctx *K, const lnode *n, int res, ix *at) {
  (void)at;
  gc_dtype dt = result_of(K, n, res)->type.dtype;
  const char *nm = n->op->name;
  double v = !strcmp(nm, "ones") ? 1.0 : !strcmp(nm, "zeros") ? 0.0 : gc_attr_float(n->n, "value", 0.0);
  return constant(K, v, dt);
}

static int emit_arange(kctx *K, const lnode *n, int res, ix *at) {
  const lval *y = result_of(K, n, res);
  gc_dtype dt = y->type.dtype;
  int64_t start = gc_attr_int(n->n, "start", 0), step = gc_attr_int(n->n, "step", 1);
  lower_ctx *L = K->L;
  if (!L->checked[y->producer]) {
    L->checked[y->producer] = true;
    /* A symbolic end was assumed >= start when the length was inferred. */
    const gc_attr *end = gc_node_attr(n->n, "end");
    gc_dim e = lw_gdim(L, end->dims[0]);
    int64_t ce; /* a constant end was checked by inference, with the step's sign */
    graphc_status_t st = gc_dim_is_const(L->dims, e, &ce) ? NULL
                         : lw_check_dims(L, n, e, KC_GE, lw_pconst(L, start), "arange: end is smaller than start");
    if (st) return em_fail(K, st);
  }
  int i = ix_coord(K, at, 0);
  if (!is_float(dt)) return kx_finish(K, kx_iadd(K, kx_i(K, start), kx_imul(K, i, kx_i(K, step))), dt);
  int f = kx_bin(K, KB_ADD, kx_f(K, KIR_F64, (double)start),
                 kx_bin(K, KB_MUL, kx_cast(K, KIR_F64, i, -1), kx_f(K, KIR_F64, (double)step)));
  return kx_convert(K, f, GRAPHC_F64, dt);
}

/* ---- table --------------------------------------------------------------------- */

#define UN(nm, cost) {nm, LOP_ELEMENTWISE, cost, emit_unary, NULL, NULL, NULL}
#define BIN(nm, cost) {nm, LOP_ELEMENTWISE, cost, emit_binary, NULL, NULL, NULL}

const lop gc_lower_ops_elementwise[] = {
    UN("neg", 1), UN("abs", 1), UN("relu", 1), UN("exp", 4), UN("log", 4), UN("sqrt", 2),
    UN("rsqrt", 3), UN("tanh", 4), UN("sigmoid", 4), UN("gelu", 8), UN("silu", 6), UN("erf", 4),
    UN("sin", 4), UN("cos", 4),
    BIN("add", 1), BIN("sub", 1), BIN("mul", 1), BIN("div", 2), BIN("pow", 4), BIN("maximum", 1),
    BIN("minimum", 1), BIN("eq", 1), BIN("ne", 1), BIN("lt", 1), BIN("le", 1), BIN("gt", 1),
    BIN("ge", 1),
    {"where", LOP_ELEMENTWISE, 1, emit_where, NULL, NULL, NULL},
    {"cast", LOP_ELEMENTWISE, 1, emit_cast, NULL, NULL, NULL},
    {"dropout", LOP_ELEMENTWISE, 12, emit_dropout, NULL, NULL, NULL},
    {"full", LOP_ELEMENTWISE, 0, emit_fill, NULL, NULL, NULL},
    {"zeros", LOP_ELEMENTWISE, 0, emit_fill, NULL, NULL, NULL},
    {"ones", LOP_ELEMENTWISE, 0, emit_fill, NULL, NULL, NULL},
    {"arange", LOP_ELEMENTWISE, 1, emit_arange, NULL, NULL, NULL},
    {0},
};
