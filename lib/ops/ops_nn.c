/* Neural-network ops: layer_norm, cross_entropy, mse_loss, dropout.
 * Float math in double, rounded once on store. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_common.h"

/* ---- layer_norm ----------------------------------------------------------- */

static graphc_status_t infer_layer_norm(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0);
  const gc_attr *ns = gc_node_attr(ic->node, "normalized_shape");
  static const char *const names[] = {"x", "weight", "bias"};
  if (!gc_dtype_is_float(x->dtype))
    return gc_infer_error(ic, "operand 0 (x): expected a float dtype, got %s", GC_OPS_TY(ic, x));
  if (ns->count < 1 || ns->count > x->rank)
    return gc_infer_error(ic, "attribute normalized_shape: expected 1 to %d dims for operand 0 (x) %s, got %d",
                          x->rank, GC_OPS_TY(ic, x), ns->count);
  int lead = x->rank - ns->count;
  for (int k = 0; k < ns->count; k++)
    if (x->dims[lead + k] != ns->dims[k])
      return gc_infer_error(ic, "operand 0 (x) %s: trailing dim %d is %s, normalized_shape says %s",
                            GC_OPS_TY(ic, x), lead + k, gc_dim_str(gc_infer_dims(ic), x->dims[lead + k]),
                            gc_dim_str(gc_infer_dims(ic), ns->dims[k]));
  /* weight/bias: exactly normalized_shape; x's dtype, or f32 when x is
   * f16/bf16 (PyTorch's mixed-precision layer_norm). */
  for (int i = 1; i < ic->node->noperands; i++) {
    const gc_type *p = gc_infer_operand(ic, i);
    bool mixed = (x->dtype == GRAPHC_F16 || x->dtype == GRAPHC_BF16) && p->dtype == GRAPHC_F32;
    bool shape_ok = p->rank == ns->count;
    for (int k = 0; shape_ok && k < ns->count; k++) shape_ok = p->dims[k] == ns->dims[k];
    if (!shape_ok || (p->dtype != x->dtype && !mixed))
      return gc_infer_error(ic, "operand %d (%s): expected %s with shape normalized_shape and dtype %s, got %s",
                            i, names[i], names[i], graphc_dtype_name(x->dtype), GC_OPS_TY(ic, p));
  }
  if (ic->node->noperands == 3 && gc_infer_operand(ic, 1)->dtype != gc_infer_operand(ic, 2)->dtype)
    return gc_infer_error(ic, "operands 1 (weight) and 2 (bias): dtypes differ (%s vs %s)",
                          GC_OPS_TY(ic, gc_infer_operand(ic, 1)), GC_OPS_TY(ic, gc_infer_operand(ic, 2)));
  ic->out[0] = *x;
  return NULL;
}

/* Normalises each row of the trailing normalized_shape elements with the
 * biased variance, then applies weight and bias. */
static graphc_status_t eval_layer_norm(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                       gc_tensor *out) {
  (void)ec;
  const gc_tensor *x = in[0];
  const gc_tensor *w = n->noperands > 1 ? in[1] : NULL, *b = n->noperands > 2 ? in[2] : NULL;
  int k = gc_node_attr(n, "normalized_shape")->count;
  double eps = gc_attr_float(n, "eps", 1e-5);
  int64_t row = 1;
  for (int d = x->rank - k; d < x->rank; d++) row *= x->shape[d];
  if (row == 0) return NULL; /* nothing to normalise */
  for (int64_t r = 0; r < x->numel / row; r++) {
    int64_t base = r * row;
    double mean = 0, var = 0;
    for (int64_t j = 0; j < row; j++) mean += gc_tensor_getf(x, base + j);
    mean /= (double)row;
    for (int64_t j = 0; j < row; j++) {
      double c = gc_tensor_getf(x, base + j) - mean;
      var += c * c;
    }
    var /= (double)row;
    double rstd = 1.0 / sqrt(var + eps);
    for (int64_t j = 0; j < row; j++) {
      double y = (gc_tensor_getf(x, base + j) - mean) * rstd;
      if (w) y *= gc_tensor_getf(w, j);
      if (b) y += gc_tensor_getf(b, j);
      gc_tensor_setf(&out[0], base + j, y);
    }
  }
  return NULL;
}

/* ---- cross_entropy -------------------------------------------------------- */

static graphc_status_t infer_cross_entropy(gc_infer_ctx *ic) {
  const gc_type *lg = gc_infer_operand(ic, 0), *tg = gc_infer_operand(ic, 1);
  double ls = gc_attr_float(ic->node, "label_smoothing", 0.0);
  if (!gc_dtype_is_float(lg->dtype) || lg->rank != 2)
    return gc_infer_error(ic, "operand 0 (logits): expected a float [N, C] tensor, got %s", GC_OPS_TY(ic, lg));
  if (tg->dtype != GRAPHC_I64 || tg->rank != 1 || tg->dims[0] != lg->dims[0])
    return gc_infer_error(ic, "operand 1 (target): expected i64[%s] (N of logits %s), got %s",
                          gc_dim_str(gc_infer_dims(ic), lg->dims[0]), GC_OPS_TY(ic, lg), GC_OPS_TY(ic, tg));
  if (!(ls >= 0.0 && ls <= 1.0))
    return gc_infer_error(ic, "attribute label_smoothing: expected a value in [0, 1], got %g", ls);
  ic->out[0].dtype = lg->dtype;
  ic->out[0].rank = 0;
  return NULL;
}

/* PyTorch's definition, per non-ignored row n with target t and
 * lp = log_softmax(logits[n]):
 *   loss = (1 - ls) * mean_n(-lp[t]) + ls / C * sum_n(-sum_c lp[c]) / count
 * Every row ignored gives 0/0 = nan, as in PyTorch. */
static graphc_status_t eval_cross_entropy(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                          gc_tensor *out) {
  const gc_tensor *lg = in[0], *tg = in[1];
  int64_t ignore = gc_attr_int(n, "ignore_index", -100);
  double ls = gc_attr_float(n, "label_smoothing", 0.0);
  int64_t N = lg->shape[0], C = lg->shape[1], count = 0;
  double nll = 0, smooth = 0;
  for (int64_t r = 0; r < N; r++) {
    int64_t t = gc_tensor_geti(tg, r);
    if (t == ignore) continue;
    if (t < 0 || t >= C)
      return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                           "target %lld at row %lld is out of range for %lld classes",
                           (long long)t, (long long)r, (long long)C);
    const int64_t base = r * C;
    double m = -INFINITY, s = 0, total = 0;
    for (int64_t c = 0; c < C; c++) {
      double v = gc_tensor_getf(lg, base + c);
      if (v > m) m = v;
    }
    for (int64_t c = 0; c < C; c++) {
      double v = gc_tensor_getf(lg, base + c);
      s += exp(v - m);
      total += v;
    }
    double lse = m + log(s);
    nll += lse - gc_tensor_getf(lg, base + t);
    smooth += (double)C * lse - total;
    count++;
  }
  double loss = nll / (double)count;
  if (ls > 0) loss = (1.0 - ls) * loss + ls / (double)C * (smooth / (double)count);
  gc_tensor_setf(&out[0], 0, loss);
  return NULL;
}

/* ---- mse_loss ------------------------------------------------------------- */

typedef enum mse_reduction { MSE_MEAN, MSE_SUM, MSE_NONE, MSE_BAD } mse_reduction;

static mse_reduction mse_reduction_of(const gc_node *n) {
  const char *r = gc_attr_str(n, "reduction", "mean");
  return strcmp(r, "mean") == 0 ? MSE_MEAN : strcmp(r, "sum") == 0 ? MSE_SUM
         : strcmp(r, "none") == 0 ? MSE_NONE : MSE_BAD;
}

static graphc_status_t infer_mse_loss(gc_infer_ctx *ic) {
  const gc_type *t[2] = {gc_infer_operand(ic, 0), gc_infer_operand(ic, 1)};
  gc_dtype dt = gc_promote_types(t, 2);
  mse_reduction red = mse_reduction_of(ic->node);
  if (red == MSE_BAD)
    return gc_infer_error(ic, "attribute reduction: expected 'mean', 'sum' or 'none', got '%s'",
                          gc_attr_str(ic->node, "reduction", ""));
  if (!gc_dtype_is_float(dt))
    return gc_infer_error(ic, "operands 0 (a) and 1 (b): expected a float promoted dtype, got %s and %s",
                          GC_OPS_TY(ic, t[0]), GC_OPS_TY(ic, t[1]));
  GC_TRY(gc_ops_broadcast(ic, t, 2, &ic->out[0]));
  ic->out[0].dtype = dt;
  if (red != MSE_NONE) ic->out[0].rank = 0;
  return NULL;
}

static graphc_status_t eval_mse_loss(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                     gc_tensor *out) {
  (void)ec;
  const gc_tensor *a = in[0], *b = in[1];
  gc_tensor *y = &out[0];
  mse_reduction red = mse_reduction_of(n);
  /* The broadcast shape: y's shape for 'none'; otherwise rebuild it. */
  int rank = a->rank > b->rank ? a->rank : b->rank;
  int64_t shape[GC_MAX_RANK], coord[GC_MAX_RANK], numel = 1;
  for (int d = 0; d < rank; d++) {
    int da = d - (rank - a->rank), db = d - (rank - b->rank);
    int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
    shape[d] = sa == 1 ? sb : sa;
    numel *= shape[d];
  }
  double sum = 0;
  for (int64_t i = 0; i < numel; i++) {
    gc_unravel(i, shape, rank, coord);
    double diff = gc_ops_loadf(a, gc_bcast_index(a, coord, rank), y->dtype) -
                  gc_ops_loadf(b, gc_bcast_index(b, coord, rank), y->dtype);
    if (red == MSE_NONE)
      gc_tensor_setf(y, i, diff * diff);
    else
      sum += diff * diff;
  }
  if (red != MSE_NONE) gc_tensor_setf(y, 0, red == MSE_SUM ? sum : sum / (double)numel);
  return NULL;
}

/* ---- dropout -------------------------------------------------------------- */

static graphc_status_t infer_dropout(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0), *seed = gc_infer_operand(ic, 1);
  double p = gc_attr_float(ic->node, "p", 0.5);
  bool train = gc_attr_bool(ic->node, "train", true);
  if (!(p >= 0.0 && p <= 1.0))
    return gc_infer_error(ic, "attribute p: dropout probability has to be between 0 and 1, got %g", p);
  if (seed->dtype != GRAPHC_I64 || seed->rank != 0)
    return gc_infer_error(ic, "operand 1 (seed): expected i64[], got %s", GC_OPS_TY(ic, seed));
  /* PyTorch returns integer inputs untouched when nothing is dropped and
   * zeroes them for p == 1, but cannot scale them. */
  if (train && p > 0.0 && p < 1.0 && !gc_dtype_is_float(x->dtype))
    return gc_infer_error(ic, "operand 0 (x): expected a float dtype for 0 < p < 1, got %s", GC_OPS_TY(ic, x));
  ic->out[0] = *x;
  return NULL;
}

/* The keep mask: u = splitmix64(seed ^ (golden * flat_index)) >> 11, read
 * as a fraction in [0, 1); an element is kept when u >= p. Backends must
 * reproduce this exactly. */
static uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double dropout_uniform(int64_t seed, int64_t index) {
  uint64_t h = splitmix64((uint64_t)seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)index));
  return (double)(h >> 11) * 0x1p-53;
}

static graphc_status_t eval_dropout(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                    gc_tensor *out) {
  (void)ec;
  const gc_tensor *x = in[0];
  gc_tensor *y = &out[0];
  double p = gc_attr_float(n, "p", 0.5);
  bool train = gc_attr_bool(n, "train", true);
  int64_t seed = gc_tensor_geti(in[1], 0);
  bool is_float = gc_dtype_is_float(x->dtype);
  if (!train || p == 0.0) { /* identity */
    for (int64_t i = 0; i < x->numel; i++) {
      if (is_float) gc_tensor_setf(y, i, gc_tensor_getf(x, i));
      else gc_tensor_seti(y, i, gc_tensor_geti(x, i));
    }
    return NULL;
  }
  if (!is_float) return NULL; /* p == 1: all zero (y is zero-filled) */
  /* PyTorch multiplies by a mask holding 0 or 1/(1-p) in x's dtype, so
   * dropped inf/nan stay nan and the scale is rounded first. */
  double scale = p < 1.0 ? gc_ops_round(1.0 / (1.0 - p), x->dtype) : 0.0;
  for (int64_t i = 0; i < x->numel; i++) {
    bool keep = dropout_uniform(seed, i) >= p;
    gc_tensor_setf(y, i, gc_tensor_getf(x, i) * (keep ? scale : 0.0));
  }
  return NULL;
}

/* ---- table ---------------------------------------------------------------- */

const gc_op_info gc_ops_nn[] = {
    {"layer_norm", 1, 3, 1, 0, 0,
     {{"normalized_shape", GRAPHC_ATTR_DIMS, true}, {"eps", GRAPHC_ATTR_FLOAT, false}},
     GC_OPF_REDUCTION, "normalises the trailing normalized_shape dims (biased variance), then * weight + bias",
     infer_layer_norm, eval_layer_norm},
    {"cross_entropy", 2, 2, 1, 0, 0,
     {{"ignore_index", GRAPHC_ATTR_INT, false}, {"label_smoothing", GRAPHC_ATTR_FLOAT, false}},
     GC_OPF_REDUCTION, "mean cross-entropy of logits [N, C] against class targets [N], skipping ignore_index",
     infer_cross_entropy, eval_cross_entropy},
    {"mse_loss", 2, 2, 1, 0, 0, {{"reduction", GRAPHC_ATTR_STRING, false}}, GC_OPF_REDUCTION,
     "(a - b)^2 broadcast, reduced by mean (default), sum or none", infer_mse_loss, eval_mse_loss},
    {"dropout", 2, 2, 1, 0, 0, {{"p", GRAPHC_ATTR_FLOAT, true}, {"train", GRAPHC_ATTR_BOOL, false}},
     GC_OPF_RANDOM, "zeroes each element with probability p (hash of seed and flat index), scales the rest by 1/(1-p)",
     infer_dropout, eval_dropout},
    {0},
};
