/* Elementwise ops: unary math, binary arithmetic and comparisons with
 * PyTorch broadcasting and type promotion, where, cast.
 *
 * Each family shares one infer and one eval function; the op's name picks
 * the row of a small kind table. Operands are first converted to the
 * compute dtype (as PyTorch casts inputs to the common dtype), float math
 * runs in double and is rounded once on store, integer math runs in
 * wrapping int64 and is truncated to the result width on store (the same
 * bits a narrower wrapping computation gives). */
#include <math.h>
#include <string.h>

#include "ops/ops_common.h"

/* ---- unary ---------------------------------------------------------------- */

typedef enum unary_kind {
  U_NEG, U_ABS, U_RELU, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_TANH,
  U_SIGMOID, U_GELU, U_SILU, U_ERF, U_SIN, U_COS,
} unary_kind;

typedef struct unary_row {
  const char *name;
  unary_kind kind;
  bool float_only; /* int/bool inputs are computed and returned as f32 */
} unary_row;

static const unary_row unary_rows[] = {
    {"neg", U_NEG, false},      {"abs", U_ABS, false},   {"relu", U_RELU, false},
    {"exp", U_EXP, true},       {"log", U_LOG, true},    {"sqrt", U_SQRT, true},
    {"rsqrt", U_RSQRT, true},   {"tanh", U_TANH, true},  {"sigmoid", U_SIGMOID, true},
    {"gelu", U_GELU, true},     {"silu", U_SILU, true},  {"erf", U_ERF, true},
    {"sin", U_SIN, true},       {"cos", U_COS, true},
};

static const unary_row *unary_find(const char *name) {
  for (size_t i = 0; i < sizeof unary_rows / sizeof unary_rows[0]; i++)
    if (strcmp(unary_rows[i].name, name) == 0) return &unary_rows[i];
  return NULL;
}

static double sigmoid(double x) {
  /* Never exponentiates a large positive number. */
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  double e = exp(x);
  return e / (1.0 + e);
}

static double unary_float(unary_kind k, double x, bool gelu_tanh) {
  switch (k) {
    case U_NEG: return -x;
    case U_ABS: return fabs(x);
    case U_RELU: return isnan(x) ? x : x > 0 ? x : 0.0;
    case U_EXP: return exp(x);
    case U_LOG: return log(x);
    case U_SQRT: return sqrt(x);
    case U_RSQRT: return 1.0 / sqrt(x);
    case U_TANH: return tanh(x);
    case U_SIGMOID: return sigmoid(x);
    case U_GELU:
      if (gelu_tanh) {
        const double k0 = 0.7978845608028654; /* sqrt(2/pi) */
        return 0.5 * x * (1.0 + tanh(k0 * (x + 0.044715 * x * x * x)));
      }
      return 0.5 * x * (1.0 + erf(x * 0.7071067811865476));
    case U_SILU: return x * sigmoid(x);
    case U_ERF: return erf(x);
    case U_SIN: return sin(x);
    case U_COS: return cos(x);
  }
  return NAN;
}

static int64_t unary_int(unary_kind k, int64_t x) {
  switch (k) {
    case U_NEG: return gc_ops_subi(0, x);
    case U_ABS: return x < 0 ? gc_ops_subi(0, x) : x;
    case U_RELU: return x > 0 ? x : 0;
    default: return 0; /* float-only kinds never get here */
  }
}

static graphc_status_t infer_unary(gc_infer_ctx *ic) {
  const unary_row *row = unary_find(ic->node->op->name);
  const gc_type *x = gc_infer_operand(ic, 0);
  if (!row) return gc_status(GRAPHC_STATUS_INTERNAL, "unary op '%s' has no kernel", ic->node->op->name);
  /* PyTorch rejects bool for neg ("use ~"), abs and relu. */
  if (!row->float_only && x->dtype == GRAPHC_BOOL)
    return gc_infer_error(ic, "operand 0 (x): expected a numeric dtype, got %s", GC_OPS_TY(ic, x));
  if (row->kind == U_GELU) {
    const char *ap = gc_attr_str(ic->node, "approximate", "none");
    if (strcmp(ap, "none") != 0 && strcmp(ap, "tanh") != 0)
      return gc_infer_error(ic, "attribute approximate: expected 'none' or 'tanh', got '%s'", ap);
  }
  /* PyTorch has no integer kernels for gelu and silu. */
  if ((row->kind == U_GELU || row->kind == U_SILU) && !gc_dtype_is_float(x->dtype))
    return gc_infer_error(ic, "operand 0 (x): expected a float dtype, got %s", GC_OPS_TY(ic, x));
  ic->out[0] = *x;
  if (row->float_only && !gc_dtype_is_float(x->dtype)) ic->out[0].dtype = GRAPHC_F32;
  return NULL;
}

static graphc_status_t eval_unary(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                  gc_tensor *out) {
  (void)ec;
  const unary_row *row = unary_find(n->op->name);
  const gc_tensor *x = in[0];
  gc_tensor *y = &out[0];
  bool gelu_tanh = strcmp(gc_attr_str(n, "approximate", "none"), "tanh") == 0;
  if (!row) return gc_status(GRAPHC_STATUS_INTERNAL, "unary op '%s' has no kernel", n->op->name);
  if (gc_dtype_is_float(y->dtype)) {
    for (int64_t i = 0; i < y->numel; i++)
      gc_tensor_setf(y, i, unary_float(row->kind, gc_ops_loadf(x, i, y->dtype), gelu_tanh));
  } else {
    for (int64_t i = 0; i < y->numel; i++)
      gc_tensor_seti(y, i, unary_int(row->kind, gc_tensor_geti(x, i)));
  }
  return NULL;
}

/* ---- binary --------------------------------------------------------------- */

typedef enum binary_kind {
  B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN,
  B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE,
} binary_kind;

typedef struct binary_row {
  const char *name;
  binary_kind kind;
} binary_row;

static const binary_row binary_rows[] = {
    {"add", B_ADD}, {"sub", B_SUB}, {"mul", B_MUL},     {"div", B_DIV},     {"pow", B_POW},
    {"maximum", B_MAX}, {"minimum", B_MIN}, {"eq", B_EQ}, {"ne", B_NE},   {"lt", B_LT},
    {"le", B_LE}, {"gt", B_GT}, {"ge", B_GE},
};

static const binary_row *binary_find(const char *name) {
  for (size_t i = 0; i < sizeof binary_rows / sizeof binary_rows[0]; i++)
    if (strcmp(binary_rows[i].name, name) == 0) return &binary_rows[i];
  return NULL;
}

static bool is_comparison(binary_kind k) { return k >= B_EQ; }

/* Integer power as PyTorch computes it: negative exponents give 0 except
 * for bases 1 and -1; overflow wraps. */
static int64_t powi(int64_t base, int64_t e) {
  if (e < 0) {
    if (base == 1) return 1;
    if (base == -1) return (e % 2) ? -1 : 1;
    return 0;
  }
  int64_t r = 1;
  while (e) {
    if (e & 1) r = gc_ops_muli(r, base);
    base = gc_ops_muli(base, base);
    e >>= 1;
  }
  return r;
}

static double binary_float(binary_kind k, double a, double b) {
  switch (k) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_POW: return pow(a, b);
    case B_MAX: return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
    case B_MIN: return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
    case B_EQ: return a == b;
    case B_NE: return a != b;
    case B_LT: return a < b;
    case B_LE: return a <= b;
    case B_GT: return a > b;
    case B_GE: return a >= b;
  }
  return NAN;
}

static int64_t binary_int(binary_kind k, int64_t a, int64_t b) {
  switch (k) {
    case B_ADD: return gc_ops_addi(a, b);
    case B_SUB: return gc_ops_subi(a, b);
    case B_MUL: return gc_ops_muli(a, b);
    case B_POW: return powi(a, b);
    case B_MAX: return a > b ? a : b;
    case B_MIN: return a < b ? a : b;
    case B_EQ: return a == b;
    case B_NE: return a != b;
    case B_LT: return a < b;
    case B_LE: return a <= b;
    case B_GT: return a > b;
    case B_GE: return a >= b;
    case B_DIV: break; /* always float */
  }
  return 0;
}

/* The dtype operands are converted to before computing. */
static gc_dtype binary_compute_dtype(binary_kind k, gc_dtype promoted) {
  if (k == B_DIV && !gc_dtype_is_float(promoted)) return GRAPHC_F32;
  return promoted;
}

static graphc_status_t infer_binary(gc_infer_ctx *ic) {
  const binary_row *row = binary_find(ic->node->op->name);
  const gc_type *t[2] = {gc_infer_operand(ic, 0), gc_infer_operand(ic, 1)};
  if (!row) return gc_status(GRAPHC_STATUS_INTERNAL, "binary op '%s' has no kernel", ic->node->op->name);
  gc_dtype promoted = gc_promote_types(t, 2);
  if (row->kind == B_SUB && (t[0]->dtype == GRAPHC_BOOL || t[1]->dtype == GRAPHC_BOOL))
    return gc_infer_error(ic, "subtraction with a bool operand is not supported (got %s and %s)",
                          GC_OPS_TY(ic, t[0]), GC_OPS_TY(ic, t[1]));
  if (row->kind == B_POW && promoted == GRAPHC_BOOL)
    return gc_infer_error(ic, "pow is not defined for bool operands (got %s and %s)",
                          GC_OPS_TY(ic, t[0]), GC_OPS_TY(ic, t[1]));
  GC_TRY(gc_ops_broadcast(ic, t, 2, &ic->out[0]));
  ic->out[0].dtype = is_comparison(row->kind) ? GRAPHC_BOOL : binary_compute_dtype(row->kind, promoted);
  return NULL;
}

static graphc_status_t eval_binary(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                   gc_tensor *out) {
  (void)ec;
  const binary_row *row = binary_find(n->op->name);
  if (!row) return gc_status(GRAPHC_STATUS_INTERNAL, "binary op '%s' has no kernel", n->op->name);
  const gc_tensor *a = in[0], *b = in[1];
  gc_tensor *y = &out[0];
  /* Recompute the promoted dtype from the operands (same rule as infer). */
  gc_type ta = {.dtype = a->dtype, .rank = a->rank}, tb = {.dtype = b->dtype, .rank = b->rank};
  const gc_type *t[2] = {&ta, &tb};
  gc_dtype ct = binary_compute_dtype(row->kind, gc_promote_types(t, 2));
  int64_t coord[GC_MAX_RANK];
  for (int64_t i = 0; i < y->numel; i++) {
    gc_unravel(i, y->shape, y->rank, coord);
    int64_t ia = gc_bcast_index(a, coord, y->rank), ib = gc_bcast_index(b, coord, y->rank);
    if (gc_dtype_is_float(ct)) {
      double r = binary_float(row->kind, gc_ops_loadf(a, ia, ct), gc_ops_loadf(b, ib, ct));
      if (is_comparison(row->kind))
        gc_tensor_seti(y, i, (int64_t)r);
      else
        gc_tensor_setf(y, i, r);
    } else {
      gc_tensor_seti(y, i, binary_int(row->kind, gc_ops_loadi(a, ia, ct), gc_ops_loadi(b, ib, ct)));
    }
  }
  return NULL;
}

/* ---- where ---------------------------------------------------------------- */

static graphc_status_t infer_where(gc_infer_ctx *ic) {
  const gc_type *t[3] = {gc_infer_operand(ic, 0), gc_infer_operand(ic, 1), gc_infer_operand(ic, 2)};
  if (t[0]->dtype != GRAPHC_BOOL)
    return gc_infer_error(ic, "operand 0 (cond): expected dtype bool, got %s", GC_OPS_TY(ic, t[0]));
  GC_TRY(gc_ops_broadcast(ic, t, 3, &ic->out[0]));
  ic->out[0].dtype = gc_promote_types(t + 1, 2);
  return NULL;
}

static graphc_status_t eval_where(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                  gc_tensor *out) {
  (void)ec;
  (void)n;
  gc_tensor *y = &out[0];
  int64_t coord[GC_MAX_RANK];
  for (int64_t i = 0; i < y->numel; i++) {
    gc_unravel(i, y->shape, y->rank, coord);
    bool c = gc_tensor_geti(in[0], gc_bcast_index(in[0], coord, y->rank)) != 0;
    const gc_tensor *src = c ? in[1] : in[2];
    int64_t j = gc_bcast_index(src, coord, y->rank);
    if (gc_dtype_is_float(y->dtype))
      gc_tensor_setf(y, i, gc_ops_loadf(src, j, y->dtype));
    else
      gc_tensor_seti(y, i, gc_ops_loadi(src, j, y->dtype));
  }
  return NULL;
}

/* ---- cast ----------------------------------------------------------------- */

static graphc_status_t infer_cast(gc_infer_ctx *ic) {
  const gc_attr *dt = gc_node_attr(ic->node, "dtype");
  if ((unsigned)dt->dtype >= GRAPHC_DTYPE_COUNT)
    return gc_infer_error(ic, "attribute dtype: invalid dtype %d", (int)dt->dtype);
  ic->out[0] = *gc_infer_operand(ic, 0);
  ic->out[0].dtype = dt->dtype;
  return NULL;
}

static graphc_status_t eval_cast(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                 gc_tensor *out) {
  (void)ec;
  (void)n;
  const gc_tensor *x = in[0];
  gc_tensor *y = &out[0];
  for (int64_t i = 0; i < y->numel; i++) {
    if (gc_dtype_is_float(y->dtype))
      gc_tensor_setf(y, i, gc_ops_loadf(x, i, y->dtype));
    else if (gc_dtype_is_float(x->dtype))
      gc_tensor_setf(y, i, gc_tensor_getf(x, i)); /* truncates; != 0 for bool */
    else
      gc_tensor_seti(y, i, gc_tensor_geti(x, i)); /* wraps; != 0 for bool */
  }
  return NULL;
}

/* ---- table ---------------------------------------------------------------- */

#define UNARY(nm, doc) \
  {nm, 1, 1, 1, 0, 0, {{0}}, GC_OPF_ELEMENTWISE, doc, infer_unary, eval_unary}
#define BINARY(nm, doc) \
  {nm, 2, 2, 1, 0, 0, {{0}}, GC_OPF_ELEMENTWISE, doc, infer_binary, eval_binary}

const gc_op_info gc_ops_elementwise[] = {
    UNARY("neg", "-x (integers wrap; bool rejected)"),
    UNARY("abs", "|x| (bool rejected)"),
    UNARY("relu", "max(x, 0), NaN kept (bool rejected)"),
    UNARY("exp", "e^x; int/bool inputs give f32"),
    UNARY("log", "natural logarithm; int/bool inputs give f32"),
    UNARY("sqrt", "square root; int/bool inputs give f32"),
    UNARY("rsqrt", "1/sqrt(x); int/bool inputs give f32"),
    UNARY("tanh", "hyperbolic tangent; int/bool inputs give f32"),
    UNARY("sigmoid", "1/(1+e^-x); int/bool inputs give f32"),
    {"gelu", 1, 1, 1, 0, 0, {{"approximate", GRAPHC_ATTR_STRING, false}}, GC_OPF_ELEMENTWISE,
     "x*Phi(x) (approximate=none) or its tanh approximation (approximate=tanh)", infer_unary,
     eval_unary},
    UNARY("silu", "x*sigmoid(x); float inputs only"),
    UNARY("erf", "error function; int/bool inputs give f32"),
    UNARY("sin", "sine; int/bool inputs give f32"),
    UNARY("cos", "cosine; int/bool inputs give f32"),
    BINARY("add", "a + b, broadcast and promoted (integers wrap)"),
    BINARY("sub", "a - b, broadcast and promoted (bool rejected)"),
    BINARY("mul", "a * b, broadcast and promoted"),
    BINARY("div", "true division a / b; int/bool give f32"),
    BINARY("pow", "a ** b, promoted; integer power for integers"),
    BINARY("maximum", "elementwise max, NaN propagates"),
    BINARY("minimum", "elementwise min, NaN propagates"),
    BINARY("eq", "a == b as bool, compared in the promoted dtype"),
    BINARY("ne", "a != b as bool, compared in the promoted dtype"),
    BINARY("lt", "a < b as bool, compared in the promoted dtype"),
    BINARY("le", "a <= b as bool, compared in the promoted dtype"),
    BINARY("gt", "a > b as bool, compared in the promoted dtype"),
    BINARY("ge", "a >= b as bool, compared in the promoted dtype"),
    {"where", 3, 3, 1, 0, 0, {{0}}, GC_OPF_ELEMENTWISE,
     "cond ? a : b, broadcast over all three, dtype promote(a, b)", infer_where, eval_where},
    {"cast", 1, 1, 1, 0, 0, {{"dtype", GRAPHC_ATTR_DTYPE, true}}, GC_OPF_ELEMENTWISE,
     "converts to dtype (float->int truncates, ->bool is != 0)", infer_cast, eval_cast},
    {0},
};
