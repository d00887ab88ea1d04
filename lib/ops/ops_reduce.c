/* Reductions (sum, mean, amax, amin, argmax) and softmax / log_softmax.
 *
 * sum/mean/amax/amin share one infer and one eval: every input element is
 * visited in row-major order and folded into the accumulator of its output
 * element, whose flat index is kept with an odometer over the input
 * coordinates (reduced dims have output stride 0). argmax and softmax work
 * on one dim: the input is viewed as [outer, n, inner]. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_common.h"

typedef enum reduce_kind { R_SUM, R_MEAN, R_AMAX, R_AMIN } reduce_kind;

static bool reduce_kind_of(const char *name, reduce_kind *k) {
  static const struct {
    const char *name;
    reduce_kind kind;
  } rows[] = {{"sum", R_SUM}, {"mean", R_MEAN}, {"amax", R_AMAX}, {"amin", R_AMIN}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    if (strcmp(rows[i].name, name) == 0) {
      *k = rows[i].kind;
      return true;
    }
  return false;
}

/* Which dims of a rank-`rank` input node n reduces. The "dim" attribute is
 * a list (ints) or a single dim (int, argmax); absent or an empty list
 * means every dim. Returns false with *bad set to the offending entry and
 * *dup telling a repeat from an out-of-range dim. */
static bool reduce_mask(const gc_node *n, int rank, bool mask[GC_MAX_RANK], int64_t *bad,
                        bool *dup) {
  const gc_attr *a = gc_node_attr(n, "dim");
  int count = 0;
  const int64_t *list = NULL;
  if (a && a->kind == GRAPHC_ATTR_INT) {
    list = &a->i;
    count = 1;
  } else if (a) {
    list = a->ints;
    count = a->count;
  }
  for (int d = 0; d < GC_MAX_RANK; d++) mask[d] = count == 0;
  for (int k = 0; k < count; k++) {
    int d;
    *bad = list[k];
    *dup = false;
    if (!gc_wrap_dim(list[k], rank, &d)) return false;
    if (rank == 0) continue; /* 0-d: dim 0 / -1 name the tensor itself */
    if (mask[d]) {
      *dup = true;
      return false;
    }
    mask[d] = true;
  }
  return true;
}

/* Result type of a reduction of x over mask; also rejects a reduced dim
 * that is the constant 0 when the op has no identity. */
static graphc_status_t reduce_infer_shape(gc_infer_ctx *ic, const gc_type *x, bool needs_nonempty,
                                          gc_type *out) {
  bool mask[GC_MAX_RANK];
  int64_t bad = 0;
  bool dup = false;
  if (!reduce_mask(ic->node, x->rank, mask, &bad, &dup)) {
    if (dup) return gc_infer_error(ic, "attribute dim: dim %lld appears more than once", (long long)bad);
    return gc_infer_error(ic, "attribute dim: %lld is out of range for operand 0 (x) %s",
                          (long long)bad, GC_OPS_TY(ic, x));
  }
  bool keepdim = gc_attr_bool(ic->node, "keepdim", false);
  gc_dimtab *dt = gc_infer_dims(ic);
  gc_dim one;
  GC_TRY(gc_dim_const(dt, 1, &one));
  out->rank = 0;
  for (int d = 0; d < x->rank; d++) {
    int64_t v;
    if (mask[d] && needs_nonempty && gc_dim_is_const(dt, x->dims[d], &v) && v == 0)
      return gc_infer_error(ic, "cannot reduce over dim %d of size 0 of operand 0 (x) %s (no identity)",
                            d, GC_OPS_TY(ic, x));
    if (!mask[d])
      out->dims[out->rank++] = x->dims[d];
    else if (keepdim)
      out->dims[out->rank++] = one;
  }
  return NULL;
}

static graphc_status_t infer_reduce(gc_infer_ctx *ic) {
  reduce_kind k;
  const gc_type *x = gc_infer_operand(ic, 0);
  if (!reduce_kind_of(ic->node->op->name, &k))
    return gc_status(GRAPHC_STATUS_INTERNAL, "reduction '%s' has no kernel", ic->node->op->name);
  if (k == R_MEAN && !gc_dtype_is_float(x->dtype))
    return gc_infer_error(ic, "operand 0 (x): expected a float dtype, got %s", GC_OPS_TY(ic, x));
  GC_TRY(reduce_infer_shape(ic, x, k == R_AMAX || k == R_AMIN, &ic->out[0]));
  ic->out[0].dtype = k == R_SUM && !gc_dtype_is_float(x->dtype) ? GRAPHC_I64 : x->dtype;
  return NULL;
}

/* Per output element: a float or integer accumulator. */
typedef struct acc {
  double f;
  int64_t i;
} acc;

static graphc_status_t eval_reduce(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                   gc_tensor *out) {
  reduce_kind k;
  const gc_tensor *x = in[0];
  gc_tensor *y = &out[0];
  bool mask[GC_MAX_RANK];
  int64_t bad;
  bool dup;
  if (!reduce_kind_of(n->op->name, &k) || !reduce_mask(n, x->rank, mask, &bad, &dup))
    return gc_status(GRAPHC_STATUS_INTERNAL, "reduction '%s': bad node", n->op->name);

  /* Output strides in the keepdim layout (same memory order either way);
   * reduced dims step 0. */
  int64_t kshape[GC_MAX_RANK], ostride[GC_MAX_RANK], group = 1;
  for (int d = 0; d < x->rank; d++) {
    kshape[d] = mask[d] ? 1 : x->shape[d];
    if (mask[d]) group *= x->shape[d];
  }
  gc_strides(kshape, x->rank, ostride);
  for (int d = 0; d < x->rank; d++)
    if (mask[d]) ostride[d] = 0;
  if ((k == R_AMAX || k == R_AMIN) && group == 0)
    return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                         "cannot reduce over a dim of size 0 (%s has no identity)", n->op->name);

  bool as_float = gc_dtype_is_float(x->dtype);
  acc *accs = calloc(y->numel > 0 ? (size_t)y->numel : 1, sizeof *accs);
  bool *seen = calloc(y->numel > 0 ? (size_t)y->numel : 1, sizeof *seen);
  if (!accs || !seen) {
    free(accs);
    free(seen);
    return GC_OOM();
  }
  int64_t coord[GC_MAX_RANK] = {0}, oi = 0;
  for (int64_t i = 0; i < x->numel; i++) {
    acc *a = &accs[oi];
    if (as_float) {
      double v = gc_tensor_getf(x, i);
      if (k == R_SUM || k == R_MEAN)
        a->f += v;
      else if (!seen[oi] || isnan(v))
        a->f = v;
      else if (!isnan(a->f) && (k == R_AMAX ? v > a->f : v < a->f))
        a->f = v;
    } else {
      int64_t v = gc_tensor_geti(x, i);
      if (k == R_SUM)
        a->i = gc_ops_addi(a->i, v);
      else if (!seen[oi] || (k == R_AMAX ? v > a->i : v < a->i))
        a->i = v;
    }
    seen[oi] = true;
    /* advance the odometer */
    for (int d = x->rank - 1; d >= 0; d--) {
      oi += ostride[d];
      if (++coord[d] < x->shape[d]) break;
      oi -= ostride[d] * coord[d];
      coord[d] = 0;
    }
  }
  for (int64_t o = 0; o < y->numel; o++) {
    if (k == R_MEAN)
      gc_tensor_setf(y, o, accs[o].f / (double)group); /* 0/0 = nan when empty */
    else if (as_float)
      gc_tensor_setf(y, o, accs[o].f);
    else
      gc_tensor_seti(y, o, accs[o].i);
  }
  free(accs);
  free(seen);
  return NULL;
}

/* ---- argmax ---------------------------------------------------------------- */

/* View of x as [outer, n, inner] around dim d (the flattened tensor when
 * there is no dim). */
typedef struct dim_view {
  int64_t outer, n, inner;
} dim_view;

static dim_view view_around(const gc_tensor *x, int d, bool flatten) {
  dim_view v = {1, 1, 1};
  if (flatten) {
    v.n = x->numel;
    return v;
  }
  for (int k = 0; k < x->rank; k++) {
    if (k < d) v.outer *= x->shape[k];
    else if (k == d) v.n = x->shape[k];
    else v.inner *= x->shape[k];
  }
  return v;
}

static graphc_status_t infer_argmax(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0);
  if (x->dtype == GRAPHC_BOOL)
    return gc_infer_error(ic, "operand 0 (x): expected a numeric dtype, got %s", GC_OPS_TY(ic, x));
  GC_TRY(reduce_infer_shape(ic, x, true, &ic->out[0]));
  ic->out[0].dtype = GRAPHC_I64;
  return NULL;
}

static graphc_status_t eval_argmax(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                   gc_tensor *out) {
  const gc_tensor *x = in[0];
  const gc_attr *da = gc_node_attr(n, "dim");
  int d = 0;
  if (da && !gc_wrap_dim(da->i, x->rank, &d))
    return gc_status(GRAPHC_STATUS_INTERNAL, "argmax: bad dim");
  dim_view v = view_around(x, d, !da || x->rank == 0);
  if (v.n == 0)
    return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE, "cannot take argmax over a dim of size 0");
  bool as_float = gc_dtype_is_float(x->dtype);
  for (int64_t o = 0; o < v.outer; o++)
    for (int64_t j = 0; j < v.inner; j++) {
      int64_t base = o * v.n * v.inner + j, best = 0;
      /* First maximum wins; a NaN counts as the maximum (first NaN wins). */
      if (as_float) {
        double bv = gc_tensor_getf(x, base);
        for (int64_t k = 1; k < v.n && !isnan(bv); k++) {
          double cv = gc_tensor_getf(x, base + k * v.inner);
          if (isnan(cv) || cv > bv) {
            bv = cv;
            best = k;
          }
        }
      } else {
        int64_t bv = gc_tensor_geti(x, base);
        for (int64_t k = 1; k < v.n; k++) {
          int64_t cv = gc_tensor_geti(x, base + k * v.inner);
          if (cv > bv) {
            bv = cv;
            best = k;
          }
        }
      }
      gc_tensor_seti(&out[0], o * v.inner + j, best);
    }
  return NULL;
}

/* ---- softmax / log_softmax ----------------------------------------------- */

static graphc_status_t infer_softmax(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0);
  int64_t dim = gc_attr_int(ic->node, "dim", 0);
  int d;
  if (!gc_dtype_is_float(x->dtype))
    return gc_infer_error(ic, "operand 0 (x): expected a float dtype, got %s", GC_OPS_TY(ic, x));
  if (!gc_wrap_dim(dim, x->rank, &d))
    return gc_infer_error(ic, "attribute dim: %lld is out of range for operand 0 (x) %s",
                          (long long)dim, GC_OPS_TY(ic, x));
  ic->out[0] = *x;
  return NULL;
}

/* Numerically stable: exponentiates x - max, so nothing overflows;
 * log_softmax is x - max - log(sum exp(x - max)) (logsumexp). */
static graphc_status_t eval_softmax(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                    gc_tensor *out) {
  (void)ec;
  const gc_tensor *x = in[0];
  bool log_form = strcmp(n->op->name, "log_softmax") == 0;
  int d;
  if (!gc_wrap_dim(gc_attr_int(n, "dim", 0), x->rank, &d))
    return gc_status(GRAPHC_STATUS_INTERNAL, "softmax: bad dim");
  dim_view v = view_around(x, d, x->rank == 0);
  for (int64_t o = 0; o < v.outer; o++)
    for (int64_t j = 0; j < v.inner; j++) {
      int64_t base = o * v.n * v.inner + j;
      double m = -INFINITY, s = 0;
      for (int64_t k = 0; k < v.n; k++) {
        double cv = gc_tensor_getf(x, base + k * v.inner);
        if (cv > m) m = cv;
      }
      for (int64_t k = 0; k < v.n; k++) s += exp(gc_tensor_getf(x, base + k * v.inner) - m);
      for (int64_t k = 0; k < v.n; k++) {
        int64_t i = base + k * v.inner;
        double z = gc_tensor_getf(x, i) - m;
        gc_tensor_setf(&out[0], i, log_form ? z - log(s) : exp(z) / s);
      }
    }
  return NULL;
}

/* ---- table ---------------------------------------------------------------- */

#define REDUCE_ATTRS {{"dim", GRAPHC_ATTR_INTS, false}, {"keepdim", GRAPHC_ATTR_BOOL, false}}

const gc_op_info gc_ops_reduce[] = {
    {"sum", 1, 1, 1, 0, 0, REDUCE_ATTRS, GC_OPF_REDUCTION,
     "sum over dim (default all); bool/int give i64, empty sums are 0", infer_reduce, eval_reduce},
    {"mean", 1, 1, 1, 0, 0, REDUCE_ATTRS, GC_OPF_REDUCTION,
     "mean over dim (default all) of a float tensor; empty means are nan", infer_reduce, eval_reduce},
    {"amax", 1, 1, 1, 0, 0, REDUCE_ATTRS, GC_OPF_REDUCTION,
     "max over dim (default all), NaN propagates; size-0 reduced dims are an error", infer_reduce,
     eval_reduce},
    {"amin", 1, 1, 1, 0, 0, REDUCE_ATTRS, GC_OPF_REDUCTION,
     "min over dim (default all), NaN propagates; size-0 reduced dims are an error", infer_reduce,
     eval_reduce},
    {"argmax", 1, 1, 1, 0, 0, {{"dim", GRAPHC_ATTR_INT, false}, {"keepdim", GRAPHC_ATTR_BOOL, false}},
     GC_OPF_REDUCTION, "i64 index of the first maximum along dim (default: of the flattened tensor)",
     infer_argmax, eval_argmax},
    {"softmax", 1, 1, 1, 0, 0, {{"dim", GRAPHC_ATTR_INT, true}}, GC_OPF_REDUCTION,
     "exp(x - max) / sum, along dim", infer_softmax, eval_softmax},
    {"log_softmax", 1, 1, 1, 0, 0, {{"dim", GRAPHC_ATTR_INT, true}}, GC_OPF_REDUCTION,
     "x - logsumexp(x), along dim", infer_softmax, eval_softmax},
    {0},
};
