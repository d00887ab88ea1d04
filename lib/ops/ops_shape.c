/* Shape ops: reshape/view, permute, transpose, expand, slice, cat, split,
 * squeeze, unsqueeze.
 *
 * Infer works on symbolic dims and only accepts what it can prove (equal
 * dim ids); slice on a symbolic size is the one place that assumes its
 * bounds are in range and re-checks that at run time. Eval moves elements
 * byte-wise (only cat converts dtypes), so every dtype is handled exactly. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ir/op.h"
#include "ops/ops_common.h"
#include "support/status.h"

#define TYPE_BUF 256

/* ---- helpers ------------------------------------------------------------ */


static void type_str(const gc_infer_ctx *ic, const gc_type *t, char *buf, size_t cap) {
  gc_type_format(gc_infer_dims(ic), t, buf, cap);
}

/* "[B, -1, 4]" */
static void dims_str(const gc_dimtab *t, const gc_dim *d, int n, char *buf, size_t cap) {
  size_t k = (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < n && k < cap; i++)
    k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", gc_dim_str(t, d[i]));
  if (k < cap) snprintf(buf + k, cap - k, "]");
}

static bool is_const_val(const gc_dimtab *t, gc_dim d, int64_t want) {
  int64_t v;
  return gc_dim_is_const(t, d, &v) && v == want;
}

static graphc_status_t dims_product(gc_dimtab *t, const gc_dim *d, int n, gc_dim *out) {
  GC_TRY(gc_dim_const(t, 1, out));
  for (int i = 0; i < n; i++) GC_TRY(gc_dim_mul(t, *out, d[i], out));
  return NULL;
}

/* Wraps attribute `name` as a dim of a rank-`rank` tensor. */
static graphc_status_t wrap_attr_dim(const gc_infer_ctx *ic, const char *name, int64_t d, int rank,
                                     int *out) {
  if (gc_wrap_dim(d, rank, out)) return NULL;
  int r = rank > 0 ? rank : 1;
  return gc_infer_error(ic, "%s=%" PRId64 " is out of range for a rank-%d tensor (expected %d..%d)",
                        name, d, rank, -r, r - 1);
}

/* out[i] = in[offset + sum_d coord_d * src_strides[d]] for every output
 * coordinate: covers permute, expand (stride 0), slice and split. */
static void strided_copy(const gc_tensor *in, gc_tensor *out, int64_t offset,
                         const int64_t *src_strides) {
  size_t es = graphc_dtype_size(in->dtype);
  int64_t coord[GC_MAX_RANK];
  for (int64_t i = 0; i < out->numel; i++) {
    gc_unravel(i, out->shape, out->rank, coord);
    int64_t src = offset;
    for (int d = 0; d < out->rank; d++) src += coord[d] * src_strides[d];
    memcpy((char *)out->data + (size_t)i * es, (const char *)in->data + (size_t)src * es, es);
  }
}

/* ---- reshape / view / squeeze / unsqueeze -------------------------------- */

/* Same elements in the same order: a plain copy. */
static graphc_status_t eval_copy(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                 gc_tensor *out) {
  (void)n;
  if (in[0]->numel != out[0].numel || in[0]->dtype != out[0].dtype)
    return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                         "input has %" PRId64 " elements but the result has %" PRId64, in[0]->numel,
                         out[0].numel);
  if (out[0].numel)
    memcpy(out[0].data, in[0]->data, (size_t)out[0].numel * graphc_dtype_size(out[0].dtype));
  return NULL;
}

/* The -1 entry of a reshape: dims common to both shapes (same id) cancel,
 * what remains of x is divided by what remains of the new shape. The caller
 * then checks that the element counts are provably equal. */
static graphc_status_t infer_missing_dim(gc_infer_ctx *ic, const gc_type *x, gc_type *out, int at) {
  gc_dimtab *t = gc_infer_dims(ic);
  bool used[GC_MAX_RANK] = {false};
  gc_dim num, den, others;
  DIM_TRY(ic, gc_dim_const(t, 1, &num));
  den = others = num;
  for (int j = 0; j < out->rank; j++) {
    if (j == at) continue;
    DIM_TRY(ic, gc_dim_mul(t, others, out->dims[j], &others));
    int hit = -1;
    for (int i = 0; i < x->rank && hit < 0; i++)
      if (!used[i] && x->dims[i] == out->dims[j]) hit = i;
    if (hit >= 0) used[hit] = true;
    else DIM_TRY(ic, gc_dim_mul(t, den, out->dims[j], &den));
  }
  if (is_const_val(t, others, 0)) {
    char xs[TYPE_BUF], ss[TYPE_BUF];
    type_str(ic, x, xs, sizeof xs);
    dims_str(t, out->dims, out->rank, ss, sizeof ss);
    return gc_infer_error(ic, "cannot reshape %s into %s: the other dims hold 0 elements, so -1 "
                          "is ambiguous", xs, ss);
  }
  for (int i = 0; i < x->rank; i++)
    if (!used[i]) DIM_TRY(ic, gc_dim_mul(t, num, x->dims[i], &num));
  DIM_TRY(ic, gc_dim_floordiv(t, num, den, &out->dims[at]));
  return NULL;
}

static graphc_status_t infer_reshape(gc_infer_ctx *ic) {
  gc_dimtab *t = gc_infer_dims(ic);
  const gc_type *x = gc_infer_operand(ic, 0);
  const gc_attr *shape = gc_node_attr(ic->node, "shape");
  char xs[TYPE_BUF], ss[TYPE_BUF];
  type_str(ic, x, xs, sizeof xs);
  dims_str(t, shape->dims, shape->count, ss, sizeof ss);
  if (shape->count > GC_MAX_RANK)
    return gc_infer_error(ic, "shape %s has %d dims; at most %d are supported", ss, shape->count,
                          GC_MAX_RANK);
  int infer_at = -1;
  for (int i = 0; i < shape->count; i++) {
    int64_t v;
    if (!gc_dim_is_const(t, shape->dims[i], &v) || v >= 0) continue;
    if (v != -1)
      return gc_infer_error(ic, "shape %s: invalid size %" PRId64 " at position %d", ss, v, i);
    if (infer_at >= 0)
      return gc_infer_error(ic, "shape %s: only one dimension can be -1", ss);
    infer_at = i;
  }
  gc_type *out = &ic->out[0];
  out->dtype = x->dtype;
  out->rank = shape->count;
  memcpy(out->dims, shape->dims, sizeof(gc_dim) * (size_t)shape->count);
  if (infer_at >= 0) GC_TRY(infer_missing_dim(ic, x, out, infer_at));

  gc_dim have, want;
  DIM_TRY(ic, dims_product(t, x->dims, x->rank, &have));
  DIM_TRY(ic, dims_product(t, out->dims, out->rank, &want));
  if (have != want)
    return gc_infer_error(ic, "cannot reshape operand 0 (x) %s into %s: element counts %s and %s "
                          "are not provably equal", xs, ss, gc_dim_str(t, have),
                          gc_dim_str(t, want));
  return NULL;
}

static graphc_status_t infer_squeeze(gc_infer_ctx *ic) {
  gc_dimtab *t = gc_infer_dims(ic);
  const gc_type *x = gc_infer_operand(ic, 0);
  const gc_attr *dims = gc_node_attr(ic->node, "dim");
  bool listed[GC_MAX_RANK] = {false};
  if (dims) {
    for (int i = 0; i < dims->count; i++) {
      int d;
      GC_TRY(wrap_attr_dim(ic, "dim", dims->ints[i], x->rank, &d));
      if (listed[d]) return gc_infer_error(ic, "dim %d appears more than once in dim", d);
      listed[d] = true;
    }
  }
  gc_type *out = &ic->out[0];
  out->dtype = x->dtype;
  out->rank = 0;
  for (int d = 0; d < x->rank; d++) {
    bool removable = is_const_val(t, x->dims[d], 1) && (!dims || listed[d]);
    if (!removable) out->dims[out->rank++] = x->dims[d];
  }
  return NULL;
}

static graphc_status_t infer_unsqueeze(gc_infer_ctx *ic) {
  gc_dimtab *t = gc_infer_dims(ic);
  const gc_type *x = gc_infer_operand(ic, 0);
  if (x->rank + 1 > GC_MAX_RANK) {
    char xs[TYPE_BUF];
    type_str(ic, x, xs, sizeof xs);
    return gc_infer_error(ic, "operand 0 (x): rank %d result exceeds the maximum rank %d, got %s",
                          x->rank + 1, GC_MAX_RANK, xs);
  }
  int at;
  GC_TRY(wrap_attr_dim(ic, "dim", gc_attr_int(ic->node, "dim", 0), x->rank + 1, &at));
  gc_type *out = &ic->out[0];
  out->dtype = x->dtype;
  out->rank = x->rank + 1;
  for (int d = 0, k = 0; d < out->rank; d++) {
    if (d == at) DIM_TRY(ic, gc_dim_const(t, 1, &out->dims[d]));
    else out->dims[d] = x->dims[k++];
  }
  return NULL;
}

/* ---- permute / transpose ------------------------------------------------- */

static graphc_status_t infer_permute(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0);
  const gc_attr *dims = gc_node_attr(ic->node, "dims");
  if (dims->count != x->rank) {
    char xs[TYPE_BUF];
    type_str(ic, x, xs, sizeof xs);
    return gc_infer_error(ic, "dims has %d entries but operand 0 (x) has rank %d: %s", dims->count,
                          x->rank, xs);
  }
  bool seen[GC_MAX_RANK] = {false};
  gc_type *out = &ic->out[0];
  out->dtype = x->dtype;
  out->rank = x->rank;
  for (int i = 0; i < dims->count; i++) {
    int d;
    GC_TRY(wrap_attr_dim(ic, "dims", dims->ints[i], x->rank, &d));
    if (seen[d]) return gc_infer_error(ic, "dims: dim %d is repeated", d);
    seen[d] = true;
    out->dims[i] = x->dims[d];
  }
  return NULL;
}

static graphc_status_t eval_permute_by(const gc_tensor *in, gc_tensor *out, const int *perm) {
  int64_t st[GC_MAX_RANK], src[GC_MAX_RANK];
  gc_strides(in->shape, in->rank, st);
  for (int d = 0; d < out->rank; d++) src[d] = st[perm[d]];
  strided_copy(in, out, 0, src);
  return NULL;
}

static graphc_status_t eval_permute(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                    gc_tensor *out) {
  (void)ec;
  const gc_attr *dims = gc_node_attr(n, "dims");
  int perm[GC_MAX_RANK];
  for (int i = 0; i < in[0]->rank; i++) gc_wrap_dim(dims->ints[i], in[0]->rank, &perm[i]);
  return eval_permute_by(in[0], &out[0], perm);
}

static graphc_status_t infer_transpose(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0);
  int d0, d1;
  GC_TRY(wrap_attr_dim(ic, "dim0", gc_attr_int(ic->node, "dim0", 0), x->rank, &d0));
  GC_TRY(wrap_attr_dim(ic, "dim1", gc_attr_int(ic->node, "dim1", 0), x->rank, &d1));
  ic->out[0] = *x;
  if (x->rank > 0) {
    ic->out[0].dims[d0] = x->dims[d1];
    ic->out[0].dims[d1] = x->dims[d0];
  }
  return NULL;
}

static graphc_status_t eval_transpose(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                      gc_tensor *out) {
  (void)ec;
  int rank = in[0]->rank, perm[GC_MAX_RANK], d0 = 0, d1 = 0;
  for (int i = 0; i < rank; i++) perm[i] = i;
  gc_wrap_dim(gc_attr_int(n, "dim0", 0), rank, &d0);
  gc_wrap_dim(gc_attr_int(n, "dim1", 0), rank, &d1);
  if (rank > 0) {
    perm[d0] = d1;
    perm[d1] = d0;
  }
  return eval_permute_by(in[0], &out[0], perm);
}

/* ---- expand -------------------------------------------------------------- */

static graphc_status_t infer_expand(gc_infer_ctx *ic) {
  gc_dimtab *t = gc_infer_dims(ic);
  const gc_type *x = gc_infer_operand(ic, 0);
  const gc_attr *shape = gc_node_attr(ic->node, "shape");
  char xs[TYPE_BUF], ss[TYPE_BUF];
  type_str(ic, x, xs, sizeof xs);
  dims_str(t, shape->dims, shape->count, ss, sizeof ss);
  int n = shape->count;
  if (n < x->rank || n > GC_MAX_RANK)
    return gc_infer_error(ic, "cannot expand operand 0 (x) %s to %s: expected %d..%d sizes, got %d",
                          xs, ss, x->rank, GC_MAX_RANK, n);
  int lead = n - x->rank;
  gc_type *out = &ic->out[0];
  out->dtype = x->dtype;
  out->rank = n;
  for (int d = 0; d < n; d++) {
    gc_dim want = shape->dims[d];
    int64_t v;
    bool is_c = gc_dim_is_const(t, want, &v);
    if (d < lead) {
      if (is_c && v < 0)
        return gc_infer_error(ic, "cannot expand %s to %s: size %" PRId64 " is not allowed in the "
                              "new leading dim %d", xs, ss, v, d);
      out->dims[d] = want;
      continue;
    }
    gc_dim have = x->dims[d - lead];
    if (is_c && v == -1) {
      out->dims[d] = have;
    } else if (is_c && v < 0) {
      return gc_infer_error(ic, "cannot expand %s to %s: invalid size %" PRId64 " at dim %d", xs,
                            ss, v, d);
    } else if (want == have || is_const_val(t, have, 1)) {
      out->dims[d] = want;
    } else {
      return gc_infer_error(ic, "cannot expand operand 0 (x) %s to %s: the expanded size %s must "
                            "match the existing size %s at non-singleton dim %d", xs, ss,
                            gc_dim_str(t, want), gc_dim_str(t, have), d - lead);
    }
  }
  return NULL;
}

static graphc_status_t eval_expand(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                   gc_tensor *out) {
  (void)ec, (void)n;
  const gc_tensor *x = in[0];
  int lead = out[0].rank - x->rank;
  int64_t st[GC_MAX_RANK], src[GC_MAX_RANK];
  gc_strides(x->shape, x->rank, st);
  for (int d = 0; d < out[0].rank; d++)
    src[d] = d < lead || x->shape[d - lead] == 1 ? 0 : st[d - lead];
  strided_copy(x, &out[0], 0, src);
  return NULL;
}

/* ---- slice --------------------------------------------------------------- */

/* Python's clamping of [start:end] against a known size. */
static void clamp_bounds(int64_t size, int64_t start, int64_t end, int64_t *b, int64_t *e) {
  if (start < 0) start = start < -size ? 0 : start + size;
  if (start > size) start = size;
  if (end < 0) end = end < -size ? 0 : end + size;
  if (end > size) end = size;
  if (end < start) end = start;
  *b = start;
  *e = end;
}

static int64_t ceil_len(int64_t b, int64_t e, int64_t step) {
  return e > b ? 1 + (e - b - 1) / step : 0;
}

/* A symbolic bound: non-negative ones as given, negative ones from the end,
 * INT64_MAX (the default end) is the size itself. */
static graphc_status_t sym_bound(gc_dimtab *t, gc_dim size, int64_t v, gc_dim *out) {
  if (v == INT64_MAX) {
    *out = size;
    return NULL;
  }
  GC_TRY(gc_dim_const(t, v, out));
  return v < 0 ? gc_dim_add(t, size, *out, out) : NULL;
}

static graphc_status_t infer_slice(gc_infer_ctx *ic) {
  gc_dimtab *t = gc_infer_dims(ic);
  const gc_type *x = gc_infer_operand(ic, 0);
  const gc_node *n = ic->node;
  if (x->rank == 0)
    return gc_infer_error(ic, "operand 0 (x): expected rank >= 1, got a 0-d %s",
                          graphc_dtype_name(x->dtype));
  int d;
  GC_TRY(wrap_attr_dim(ic, "dim", gc_attr_int(n, "dim", 0), x->rank, &d));
  int64_t start = gc_attr_int(n, "start", 0), end = gc_attr_int(n, "end", INT64_MAX);
  int64_t step = gc_attr_int(n, "step", 1);
  if (step < 1) return gc_infer_error(ic, "step must be >= 1, got %" PRId64, step);
  gc_dim size = x->dims[d], len;
  int64_t sv;
  bool same_side = (start >= 0) == (end >= 0) && end != INT64_MAX;
  if (gc_dim_is_const(t, size, &sv)) {
    int64_t b, e;
    clamp_bounds(sv, start, end, &b, &e);
    DIM_TRY(ic, gc_dim_const(t, ceil_len(b, e, step), &len));
  } else if (same_side && end <= start) {
    DIM_TRY(ic, gc_dim_const(t, 0, &len)); /* empty whatever the size */
  } else {
    /* Assumes the bounds lie inside the size; eval re-checks. */
    gc_dim lo, hi, diff, adj, stepd;
    DIM_TRY(ic, sym_bound(t, size, start, &lo));
    DIM_TRY(ic, sym_bound(t, size, end, &hi));
    DIM_TRY(ic, gc_dim_sub(t, hi, lo, &diff));
    DIM_TRY(ic, gc_dim_const(t, step - 1, &adj));
    DIM_TRY(ic, gc_dim_const(t, step, &stepd));
    DIM_TRY(ic, gc_dim_add(t, diff, adj, &diff));
    DIM_TRY(ic, gc_dim_floordiv(t, diff, stepd, &len));
  }
  ic->out[0] = *x;
  ic->out[0].dims[d] = len;
  return NULL;
}

static graphc_status_t eval_slice(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                  gc_tensor *out) {
  const gc_tensor *x = in[0];
  int d = 0;
  gc_wrap_dim(gc_attr_int(n, "dim", 0), x->rank, &d);
  int64_t start = gc_attr_int(n, "start", 0), end = gc_attr_int(n, "end", INT64_MAX);
  int64_t step = gc_attr_int(n, "step", 1), b, e;
  clamp_bounds(x->shape[d], start, end, &b, &e);
  int64_t len = ceil_len(b, e, step);
  if (len != out[0].shape[d])
    return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                         "slice bounds start=%" PRId64 " end=%" PRId64 " are out of range for "
                         "dim %d of size %" PRId64 ": it gives %" PRId64 " elements, the graph "
                         "assumed %" PRId64,
                         start, end, d, x->shape[d], len, out[0].shape[d]);
  int64_t st[GC_MAX_RANK];
  gc_strides(x->shape, x->rank, st);
  int64_t offset = b * st[d];
  st[d] *= step;
  strided_copy(x, &out[0], offset, st);
  return NULL;
}

/* ---- cat / split --------------------------------------------------------- */

static graphc_status_t infer_cat(gc_infer_ctx *ic) {
  gc_dimtab *t = gc_infer_dims(ic);
  const gc_type *x0 = gc_infer_operand(ic, 0);
  char as[TYPE_BUF], bs[TYPE_BUF];
  type_str(ic, x0, as, sizeof as);
  if (x0->rank == 0)
    return gc_infer_error(ic, "operand 0: a 0-d tensor cannot be concatenated, got %s", as);
  int d;
  GC_TRY(wrap_attr_dim(ic, "dim", gc_attr_int(ic->node, "dim", 0), x0->rank, &d));
  gc_type *out = &ic->out[0];
  *out = *x0;
  for (int k = 1; k < ic->node->noperands; k++) {
    const gc_type *xk = gc_infer_operand(ic, k);
    type_str(ic, xk, bs, sizeof bs);
    if (xk->rank != x0->rank)
      return gc_infer_error(ic, "operand %d: expected rank %d (as operand 0: %s), got %s", k,
                            x0->rank, as, bs);
    for (int i = 0; i < x0->rank; i++)
      if (i != d && xk->dims[i] != x0->dims[i])
        return gc_infer_error(ic, "operand %d: expected size %s at dim %d (as operand 0: %s), "
                              "got %s", k, gc_dim_str(t, x0->dims[i]), i, as, bs);
    DIM_TRY(ic, gc_dim_add(t, out->dims[d], xk->dims[d], &out->dims[d]));
    /* No 0-d operands, so pairwise promotion is result_type. */
    out->dtype = gc_promote2(out->dtype, xk->dtype);
  }
  return NULL;
}

static void convert_elem(gc_tensor *out, int64_t oi, const gc_tensor *in, int64_t ii) {
  if (out->dtype == in->dtype) {
    size_t es = graphc_dtype_size(in->dtype);
    memcpy((char *)out->data + (size_t)oi * es, (const char *)in->data + (size_t)ii * es, es);
  } else if (gc_dtype_is_float(out->dtype)) {
    gc_tensor_setf(out, oi, gc_tensor_getf(in, ii));
  } else {
    gc_tensor_seti(out, oi, gc_tensor_geti(in, ii));
  }
}

/* Elements before and after dim d (row-major blocks). */
static void outer_inner(const gc_tensor *t, int d, int64_t *outer, int64_t *inner) {
  *outer = *inner = 1;
  for (int i = 0; i < d; i++) *outer *= t->shape[i];
  for (int i = d + 1; i < t->rank; i++) *inner *= t->shape[i];
}

static graphc_status_t eval_cat(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                gc_tensor *out) {
  (void)ec;
  int d = 0;
  gc_wrap_dim(gc_attr_int(n, "dim", 0), out[0].rank, &d);
  int64_t outer, inner, total = out[0].shape[d], off = 0;
  outer_inner(&out[0], d, &outer, &inner);
  for (int k = 0; k < n->noperands; k++) {
    int64_t dk = in[k]->shape[d], block = dk * inner;
    for (int64_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < block; j++)
        convert_elem(&out[0], (o * total + off) * inner + j, in[k], o * block + j);
    off += dk;
  }
  return NULL;
}

static graphc_status_t infer_split(gc_infer_ctx *ic) {
  gc_dimtab *t = gc_infer_dims(ic);
  const gc_type *x = gc_infer_operand(ic, 0);
  const gc_attr *sizes = gc_node_attr(ic->node, "sizes");
  char xs[TYPE_BUF];
  type_str(ic, x, xs, sizeof xs);
  if (x->rank == 0) return gc_infer_error(ic, "operand 0 (x): expected rank >= 1, got %s", xs);
  int d;
  GC_TRY(wrap_attr_dim(ic, "dim", gc_attr_int(ic->node, "dim", 0), x->rank, &d));
  if (sizes->count < 1 || sizes->count > GC_MAX_RESULTS)
    return gc_infer_error(ic, "sizes must have 1..%d entries, got %d", GC_MAX_RESULTS,
                          sizes->count);
  int64_t sum = 0;
  for (int k = 0; k < sizes->count; k++) {
    if (sizes->ints[k] < 0)
      return gc_infer_error(ic, "sizes[%d] must be >= 0, got %" PRId64, k, sizes->ints[k]);
    if (__builtin_add_overflow(sum, sizes->ints[k], &sum))
      return gc_infer_error(ic, "sizes overflow int64 when summed");
  }
  gc_dim sumd;
  DIM_TRY(ic, gc_dim_const(t, sum, &sumd));
  if (sumd != x->dims[d])
    return gc_infer_error(ic, "sizes sum to %" PRId64 " but dim %d of operand 0 (x) %s has size %s",
                          sum, d, xs, gc_dim_str(t, x->dims[d]));
  ic->nresults = sizes->count;
  for (int k = 0; k < sizes->count; k++) {
    ic->out[k] = *x;
    DIM_TRY(ic, gc_dim_const(t, sizes->ints[k], &ic->out[k].dims[d]));
  }
  return NULL;
}

static graphc_status_t eval_split(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                  gc_tensor *out) {
  (void)ec;
  const gc_tensor *x = in[0];
  int d = 0;
  gc_wrap_dim(gc_attr_int(n, "dim", 0), x->rank, &d);
  int64_t st[GC_MAX_RANK], off = 0;
  gc_strides(x->shape, x->rank, st);
  for (int k = 0; k < n->nresults; k++) {
    strided_copy(x, &out[k], off * st[d], st);
    off += out[k].shape[d];
  }
  return NULL;
}

/* ---- table --------------------------------------------------------------- */

#define ONE_X .min_operands = 1, .max_operands = 1, .nresults = 1

const gc_op_info gc_ops_shape[] = {
    {.name = "reshape", ONE_X, .attrs = {{"shape", GRAPHC_ATTR_DIMS, true}},
     .doc = "x with a new shape of the same element count (one entry may be -1)",
     .infer = infer_reshape, .eval = eval_copy},
    {.name = "view", ONE_X, .attrs = {{"shape", GRAPHC_ATTR_DIMS, true}},
     .doc = "same as reshape", .infer = infer_reshape, .eval = eval_copy},
    {.name = "permute", ONE_X, .attrs = {{"dims", GRAPHC_ATTR_INTS, true}},
     .doc = "reorders the dims of x: result dim i is x's dim dims[i]",
     .infer = infer_permute, .eval = eval_permute},
    {.name = "transpose", ONE_X,
     .attrs = {{"dim0", GRAPHC_ATTR_INT, true}, {"dim1", GRAPHC_ATTR_INT, true}},
     .doc = "swaps dims dim0 and dim1 of x", .infer = infer_transpose, .eval = eval_transpose},
    {.name = "expand", ONE_X, .attrs = {{"shape", GRAPHC_ATTR_DIMS, true}},
     .doc = "broadcasts size-1 dims of x to shape (-1 keeps a dim; new leading dims allowed)",
     .infer = infer_expand, .eval = eval_expand},
    {.name = "slice", ONE_X,
     .attrs = {{"dim", GRAPHC_ATTR_INT, true},
               {"start", GRAPHC_ATTR_INT, false},
               {"end", GRAPHC_ATTR_INT, false},
               {"step", GRAPHC_ATTR_INT, false}},
     .doc = "x[start:end:step] along dim, Python clamping",
     .infer = infer_slice, .eval = eval_slice},
    {.name = "cat", .min_operands = 1, .max_operands = -1, .nresults = 1,
     .attrs = {{"dim", GRAPHC_ATTR_INT, true}},
     .doc = "concatenates the operands along dim (dtypes promoted)",
     .infer = infer_cat, .eval = eval_cat},
    {.name = "split", .min_operands = 1, .max_operands = 1, .nresults = -1,
     .attrs = {{"dim", GRAPHC_ATTR_INT, true}, {"sizes", GRAPHC_ATTR_INTS, true}},
     .doc = "splits x along dim into pieces of the given sizes",
     .infer = infer_split, .eval = eval_split},
    {.name = "squeeze", ONE_X, .attrs = {{"dim", GRAPHC_ATTR_INTS, false}},
     .doc = "removes size-1 dims (only the listed ones when dim is given)",
     .infer = infer_squeeze, .eval = eval_copy},
    {.name = "unsqueeze", ONE_X, .attrs = {{"dim", GRAPHC_ATTR_INT, true}},
     .doc = "inserts a size-1 dim at dim", .infer = infer_unsqueeze, .eval = eval_copy},
    {0},
};
