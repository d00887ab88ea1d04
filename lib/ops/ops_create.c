/* Creation ops: full, zeros, ones, arange. They take no operands; their
 * shape comes from dims attributes, so it may be symbolic. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "ir/op.h"
#include "ops/ops_common.h"
#include "support/status.h"


static gc_dtype attr_dtype(const gc_node *n, gc_dtype dflt) {
  const gc_attr *a = gc_node_attr(n, "dtype");
  return a ? a->dtype : dflt;
}

/* ---- full / zeros / ones ------------------------------------------------- */

/* Whether `v` fits `dtype` without overflow, as torch.full checks. */
static bool value_fits(gc_dtype dtype, double v) {
  switch (dtype) {
  case GRAPHC_BOOL:
  case GRAPHC_F64:
    return true;
  case GRAPHC_I32:
    return v >= -2147483648.0 && v < 2147483648.0;
  case GRAPHC_I64:
    return v >= -9223372036854775808.0 && v < 9223372036854775808.0;
  case GRAPHC_F16:
    return !isfinite(v) || fabs(v) <= 65504.0;
  case GRAPHC_BF16:
    return !isfinite(v) || fabs(v) <= 3.3895313892515355e38;
  case GRAPHC_F32:
    return !isfinite(v) || fabs(v) <= FLT_MAX;
  default:
    return false;
  }
}

static graphc_status_t fill_infer(gc_infer_ctx *ic, double value) {
  gc_dimtab *t = gc_infer_dims(ic);
  const gc_attr *shape = gc_node_attr(ic->node, "shape");
  gc_dtype dtype = attr_dtype(ic->node, GRAPHC_F32);
  if (shape->count > GC_MAX_RANK)
    return gc_infer_error(ic, "shape has %d dims; at most %d are supported", shape->count,
                          GC_MAX_RANK);
  for (int i = 0; i < shape->count; i++) {
    int64_t v;
    if (gc_dim_is_const(t, shape->dims[i], &v) && v < 0)
      return gc_infer_error(ic, "shape: invalid size %" PRId64 " at position %d", v, i);
  }
  if (!value_fits(dtype, value))
    return gc_infer_error(ic, "value %g cannot be converted to %s without overflow", value,
                          graphc_dtype_name(dtype));
  gc_type *out = &ic->out[0];
  out->dtype = dtype;
  out->rank = shape->count;
  for (int i = 0; i < shape->count; i++) out->dims[i] = shape->dims[i];
  return NULL;
}

static graphc_status_t infer_full(gc_infer_ctx *ic) {
  return fill_infer(ic, gc_attr_float(ic->node, "value", 0.0));
}
static graphc_status_t infer_zeros(gc_infer_ctx *ic) { return fill_infer(ic, 0.0); }
static graphc_status_t infer_ones(gc_infer_ctx *ic) { return fill_infer(ic, 1.0); }

/* Integer and bool results take the value as torch does: truncated toward
 * zero, bool is "!= 0" (NaN is true). infer has excluded overflow. */
static void fill(gc_tensor *t, double v) {
  if (t->dtype == GRAPHC_BOOL) {
    for (int64_t i = 0; i < t->numel; i++) gc_tensor_seti(t, i, v != 0.0);
  } else if (gc_dtype_is_int(t->dtype)) {
    for (int64_t i = 0; i < t->numel; i++) gc_tensor_seti(t, i, (int64_t)v);
  } else {
    for (int64_t i = 0; i < t->numel; i++) gc_tensor_setf(t, i, v);
  }
}

static graphc_status_t eval_full(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                 gc_tensor *out) {
  (void)ec, (void)in;
  fill(&out[0], gc_attr_float(n, "value", 0.0));
  return NULL;
}

static graphc_status_t eval_zeros(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                  gc_tensor *out) {
  (void)ec, (void)n, (void)in;
  fill(&out[0], 0.0); /* outputs come zero-filled; this keeps eval self-contained */
  return NULL;
}

static graphc_status_t eval_ones(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                 gc_tensor *out) {
  (void)ec, (void)n, (void)in;
  fill(&out[0], 1.0);
  return NULL;
}

/* ---- arange -------------------------------------------------------------- */

/* ceil((end - start) / step) in *len; false when end - start overflows.
 * As torch.arange, end - start must not have the opposite sign of step:
 * then *len is -1. */
static bool arange_len(int64_t start, int64_t end, int64_t step, int64_t *len) {
  int64_t diff;
  if (__builtin_sub_overflow(end, start, &diff)) return false;
  if ((diff > 0 && step < 0) || (diff < 0 && step > 0)) {
    *len = -1;
    return true;
  }
  if (step == -1) { /* diff / -1 would overflow for INT64_MIN */
    if (diff == INT64_MIN) return false;
    *len = -diff;
    return true;
  }
  int64_t q = diff / step;
  if (diff % step != 0 && ((diff < 0) == (step < 0))) q++;
  *len = q;
  return true;
}

static graphc_status_t infer_arange(gc_infer_ctx *ic) {
  gc_dimtab *t = gc_infer_dims(ic);
  const gc_node *n = ic->node;
  const gc_attr *end = gc_node_attr(n, "end");
  int64_t start = gc_attr_int(n, "start", 0), step = gc_attr_int(n, "step", 1);
  gc_dtype dtype = attr_dtype(n, GRAPHC_I64);
  if (end->count != 1)
    return gc_infer_error(ic, "end: expected exactly one dim, got %d", end->count);
  if (dtype == GRAPHC_BOOL) return gc_infer_error(ic, "dtype: expected a number type, got bool");
  if (step == 0) return gc_infer_error(ic, "step must be nonzero");
  int64_t ev;
  bool end_const = gc_dim_is_const(t, end->dims[0], &ev);
  gc_dim len;
  if (end_const) {
    int64_t q;
    if (!arange_len(start, ev, step, &q))
      return gc_infer_error(ic, "end - start overflows int64 (start=%" PRId64 ", end=%" PRId64 ")",
                            start, ev);
    if (q < 0)
      return gc_infer_error(ic, "start=%" PRId64 ", end=%" PRId64 ", step=%" PRId64
                            " are inconsistent: end - start has the opposite sign of step",
                            start, ev, step);
    DIM_TRY(ic, gc_dim_const(t, q, &len));
  } else {
    if (step < 0)
      return gc_infer_error(ic, "step=%" PRId64 " is negative, which needs a constant end, got %s",
                            step, gc_dim_str(t, end->dims[0]));
    /* (end - start + step - 1) // step; eval checks end >= start. */
    gc_dim s, adj;
    DIM_TRY(ic, gc_dim_const(t, start, &s));
    DIM_TRY(ic, gc_dim_sub(t, end->dims[0], s, &len));
    DIM_TRY(ic, gc_dim_const(t, step - 1, &adj));
    DIM_TRY(ic, gc_dim_add(t, len, adj, &len));
    DIM_TRY(ic, gc_dim_const(t, step, &s));
    DIM_TRY(ic, gc_dim_floordiv(t, len, s, &len));
  }
  ic->out[0] = (gc_type){.dtype = dtype, .rank = 1, .dims = {len}};
  return NULL;
}

static graphc_status_t eval_arange(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                   gc_tensor *out) {
  (void)in;
  int64_t start = gc_attr_int(n, "start", 0), step = gc_attr_int(n, "step", 1);
  const gc_attr *end = gc_node_attr(n, "end");
  int64_t endv, q;
  GC_TRY(gc_eval_dim(ec, end->dims[0], &endv));
  /* The result was allocated from the inferred length (same expression),
   * which assumed end >= start: check that now. */
  if (!arange_len(start, endv, step, &q))
    return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE, "arange: end - start overflows int64");
  if (q < 0)
    return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                         "arange: end=%" PRId64 " and start=%" PRId64 " are inconsistent with "
                         "step %" PRId64 " (end - start has the opposite sign)", endv, start, step);
  if (q != out[0].numel)
    return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                         "arange: length %" PRId64 " does not match the allocated %" PRId64, q,
                         out[0].numel);
  bool is_float = gc_dtype_is_float(out[0].dtype);
  for (int64_t i = 0; i < q; i++) {
    /* i * step stays between 0 and end - start, so this cannot overflow. */
    if (is_float) gc_tensor_setf(&out[0], i, (double)start + (double)i * (double)step);
    else gc_tensor_seti(&out[0], i, start + i * step);
  }
  return NULL;
}

/* ---- table --------------------------------------------------------------- */

const gc_op_info gc_ops_create[] = {
    {.name = "full", .nresults = 1,
     .attrs = {{"shape", GRAPHC_ATTR_DIMS, true},
               {"value", GRAPHC_ATTR_FLOAT, true},
               {"dtype", GRAPHC_ATTR_DTYPE, false}},
     .doc = "a tensor of the given shape filled with value (dtype default f32)",
     .infer = infer_full, .eval = eval_full},
    {.name = "zeros", .nresults = 1,
     .attrs = {{"shape", GRAPHC_ATTR_DIMS, true}, {"dtype", GRAPHC_ATTR_DTYPE, false}},
     .doc = "a tensor of zeros (dtype default f32)", .infer = infer_zeros, .eval = eval_zeros},
    {.name = "ones", .nresults = 1,
     .attrs = {{"shape", GRAPHC_ATTR_DIMS, true}, {"dtype", GRAPHC_ATTR_DTYPE, false}},
     .doc = "a tensor of ones (dtype default f32)", .infer = infer_ones, .eval = eval_ones},
    {.name = "arange", .nresults = 1,
     .attrs = {{"end", GRAPHC_ATTR_DIMS, true},
               {"start", GRAPHC_ATTR_INT, false},
               {"step", GRAPHC_ATTR_INT, false},
               {"dtype", GRAPHC_ATTR_DTYPE, false}},
     .doc = "start, start+step, ... up to end (exclusive); length ceil((end-start)/step)",
     .infer = infer_arange, .eval = eval_arange},
    {0},
};
