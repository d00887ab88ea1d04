/* Op group 'grad' (see op_registry.c): the ops that gradients need and
 * that have no forward counterpart in the other groups. Reverse-mode
 * autodiff (lib/autodiff) emits them; they are ordinary ops, so every
 * backend runs a gradient graph like any other graph.
 *
 *   detach                 identity whose result carries no gradient
 *   index_add scatter_add  accumulate rows / elements (backward of
 *                          index_select, embedding, gather)
 *   slice_scatter          write into a slice (backward of slice)
 *   narrow                 slice with symbolic start and length (backward
 *                          of cat along a symbolic dim)
 *   conv2d_backward_input, conv2d_backward_weight,
 *   max_pool2d_backward, avg_pool2d_backward,
 *   adaptive_avg_pool2d_backward
 *                          the convolution and pooling backward kernels;
 *                          they take the forward op's attributes plus the
 *                          input's shape as a dims attribute, so symbolic
 *                          sizes stay symbolic; spatial sizes are checked
 *                          against the forward op's rule at run time.
 *
 * Float math accumulates in double and rounds once on store. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_common.h"
#include "ops/pool_geometry.h"

/* ---- shared helpers -------------------------------------------------------- */

static graphc_status_t need_float(const gc_infer_ctx *ic, int i, const char *what) {
  const gc_type *t = gc_infer_operand(ic, i);
  if (gc_dtype_is_float(t->dtype)) return NULL;
  return gc_infer_error(ic, "operand %d (%s): expected a float dtype, got %s", i, what,
                        GC_OPS_TY(ic, t));
}

static graphc_status_t need_int(const gc_infer_ctx *ic, int i, const char *what) {
  const gc_type *t = gc_infer_operand(ic, i);
  if (gc_dtype_is_int(t->dtype)) return NULL;
  return gc_infer_error(ic, "operand %d (%s): expected an i32 or i64 tensor, got %s", i, what,
                        GC_OPS_TY(ic, t));
}

static graphc_status_t same_dtype(const gc_infer_ctx *ic, int i, int j) {
  const gc_type *a = gc_infer_operand(ic, i), *b = gc_infer_operand(ic, j);
  if (a->dtype == b->dtype) return NULL;
  return gc_infer_error(ic, "operands %d and %d: dtypes differ (%s vs %s)", i, j, GC_OPS_TY(ic, a),
                        GC_OPS_TY(ic, b));
}

static graphc_status_t wrap_dim_attr(const gc_infer_ctx *ic, int rank, int *d) {
  int64_t v = gc_attr_int(ic->node, "dim", 0);
  if (gc_wrap_dim(v, rank, d) && rank > 0) return NULL;
  return gc_infer_error(ic, "dim=%" PRId64 " is out of range for a rank-%d tensor", v, rank);
}

/* Result type from a dims attribute `name` (dtype of operand `like`). */
static graphc_status_t shape_attr_type(gc_infer_ctx *ic, const char *name, int like, int rank) {
  const gc_attr *a = gc_node_attr(ic->node, name);
  if (a->count != rank)
    return gc_infer_error(ic, "attribute '%s': expected %d dims, got %d", name, rank, a->count);
  for (int i = 0; i < a->count; i++) {
    int64_t v;
    if (gc_dim_is_const(gc_infer_dims(ic), a->dims[i], &v) && v < 0)
      return gc_infer_error(ic, "attribute '%s': dim %d is negative", name, i);
  }
  gc_type *out = &ic->out[0];
  out->dtype = gc_infer_operand(ic, like)->dtype;
  out->rank = rank;
  memcpy(out->dims, a->dims, sizeof(gc_dim) * (size_t)rank);
  return NULL;
}

static void copy_all(gc_tensor *dst, const gc_tensor *src) {
  if (src->numel) memcpy(dst->data, src->data, (size_t)src->numel * graphc_dtype_size(src->dtype));
}

/* Accumulation for index_add / scatter_add: floats add in double and are
 * rounded once at the end (so repeated indices do not round per add),
 * integers wrap. */
typedef struct accum {
  gc_tensor *out;
  double *f; /* floats only */
} accum;

static graphc_status_t accum_begin(accum *a, gc_tensor *out, const gc_tensor *x) {
  a->out = out;
  a->f = NULL;
  copy_all(out, x);
  if (!gc_dtype_is_float(out->dtype)) return NULL;
  a->f = malloc(sizeof *a->f * (size_t)(out->numel ? out->numel : 1));
  if (!a->f) return GC_OOM();
  for (int64_t i = 0; i < out->numel; i++) a->f[i] = gc_tensor_getf(x, i);
  return NULL;
}

static void accum_add(accum *a, int64_t i, const gc_tensor *src, int64_t j) {
  if (a->f) a->f[i] += gc_tensor_getf(src, j);
  else
    gc_tensor_seti(a->out, i, gc_ops_wrapi(gc_ops_addi(gc_tensor_geti(a->out, i),
                                                       gc_tensor_geti(src, j)), a->out->dtype));
}

static void accum_end(accum *a, bool store) {
  for (int64_t i = 0; store && a->f && i < a->out->numel; i++) gc_tensor_setf(a->out, i, a->f[i]);
  free(a->f);
}

static int64_t flat_index(const int64_t *coord, const int64_t *shape, int rank) {
  int64_t f = 0;
  for (int k = 0; k < rank; k++) f = f * shape[k] + coord[k];
  return f;
}

/* ---- detach ------------------------------------------------------------------ */

static graphc_status_t detach_infer(gc_infer_ctx *ic) {
  ic->out[0] = *gc_infer_operand(ic, 0);
  return NULL;
}

static graphc_status_t detach_eval(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                   gc_tensor *out) {
  (void)ec, (void)n;
  copy_all(&out[0], in[0]);
  return NULL;
}

/* ---- index_add / scatter_add ------------------------------------------------- */

static graphc_status_t index_add_infer(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0), *idx = gc_infer_operand(ic, 1),
                *src = gc_infer_operand(ic, 2);
  GC_TRY(need_int(ic, 1, "index"));
  GC_TRY(same_dtype(ic, 0, 2));
  if (idx->rank != 1) return gc_infer_error(ic, "operand 1 (index): expected rank 1, got %s", GC_OPS_TY(ic, idx));
  int d;
  GC_TRY(wrap_dim_attr(ic, x->rank, &d));
  bool ok = src->rank == x->rank;
  for (int i = 0; ok && i < x->rank; i++) ok = src->dims[i] == (i == d ? idx->dims[0] : x->dims[i]);
  if (!ok)
    return gc_infer_error(ic, "operand 2 (source) %s: expected x's shape %s with dim %d of the "
                          "index's length", GC_OPS_TY(ic, src), GC_OPS_TY(ic, x), d);
  ic->out[0] = *x;
  return NULL;
}

/* Adds source element i at x's coordinate of `walk`'s element i with the
 * dim-d coordinate replaced by an index: index[coord[d]] for index_add
 * (walk = source), index[i] for scatter_add (walk = index). */
static graphc_status_t add_at_index(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                    gc_tensor *out, bool per_element) {
  const gc_tensor *x = in[0], *idx = in[1], *src = in[2], *walk = per_element ? idx : src;
  int d = 0;
  gc_wrap_dim(gc_attr_int(n, "dim", 0), x->rank, &d);
  accum acc;
  GC_TRY(accum_begin(&acc, &out[0], x));
  int64_t coord[GC_MAX_RANK];
  for (int64_t i = 0; i < walk->numel; i++) {
    gc_unravel(i, walk->shape, walk->rank, coord);
    int64_t v = gc_tensor_geti(idx, per_element ? i : coord[d]);
    if (v < 0 || v >= x->shape[d]) {
      accum_end(&acc, false);
      return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                           "index %" PRId64 " is out of range for a dim of size %" PRId64, v,
                           x->shape[d]);
    }
    coord[d] = v;
    accum_add(&acc, flat_index(coord, x->shape, x->rank), src, i);
  }
  accum_end(&acc, true);
  return NULL;
}

static graphc_status_t index_add_eval(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                      gc_tensor *out) {
  return add_at_index(ec, n, in, out, false);
}

static graphc_status_t scatter_add_infer(gc_infer_ctx *ic) {
  gc_dimtab *t = gc_infer_dims(ic);
  const gc_type *x = gc_infer_operand(ic, 0), *idx = gc_infer_operand(ic, 1),
                *src = gc_infer_operand(ic, 2);
  GC_TRY(need_int(ic, 1, "index"));
  GC_TRY(same_dtype(ic, 0, 2));
  int d;
  GC_TRY(wrap_dim_attr(ic, x->rank, &d));
  if (idx->rank != x->rank || src->rank != idx->rank)
    return gc_infer_error(ic, "operand 1 (index) %s: expected rank %d like x %s and source %s",
                          GC_OPS_TY(ic, idx), x->rank, GC_OPS_TY(ic, x), GC_OPS_TY(ic, src));
  for (int i = 0; i < x->rank; i++) {
    if (src->dims[i] != idx->dims[i])
      return gc_infer_error(ic, "operand 2 (source) %s: expected the index's shape %s",
                            GC_OPS_TY(ic, src), GC_OPS_TY(ic, idx));
    int64_t a, b;
    bool fits = i == d || idx->dims[i] == x->dims[i] ||
                (gc_dim_is_const(t, idx->dims[i], &a) && gc_dim_is_const(t, x->dims[i], &b) && a <= b);
    if (!fits)
      return gc_infer_error(ic, "operand 1 (index) %s: dim %d must be provably <= x's %s",
                            GC_OPS_TY(ic, idx), i, GC_OPS_TY(ic, x));
  }
  ic->out[0] = *x;
  return NULL;
}

static graphc_status_t scatter_add_eval(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                        gc_tensor *out) {
  return add_at_index(ec, n, in, out, true);
}

/* ---- slice_scatter / narrow --------------------------------------------------- */

static graphc_status_t slice_scatter_infer(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0), *src = gc_infer_operand(ic, 1);
  GC_TRY(same_dtype(ic, 0, 1));
  int d;
  GC_TRY(wrap_dim_attr(ic, x->rank, &d));
  bool ok = src->rank == x->rank;
  for (int i = 0; ok && i < x->rank; i++) ok = i == d || src->dims[i] == x->dims[i];
  if (!ok)
    return gc_infer_error(ic, "operand 1 (source) %s: expected x's shape %s except at dim %d",
                          GC_OPS_TY(ic, src), GC_OPS_TY(ic, x), d);
  if (gc_attr_int(ic->node, "step", 1) < 1)
    return gc_infer_error(ic, "step must be >= 1, got %" PRId64, gc_attr_int(ic->node, "step", 1));
  ic->out[0] = *x;
  return NULL;
}

/* Python's slice clamping, as in slice. */
static void clamp(int64_t size, int64_t start, int64_t end, int64_t *b, int64_t *e) {
  if (start < 0) start = start < -size ? 0 : start + size;
  if (start > size) start = size;
  if (end < 0) end = end < -size ? 0 : end + size;
  if (end > size) end = size;
  if (end < start) end = start;
  *b = start, *e = end;
}

static graphc_status_t slice_scatter_eval(gc_eval_ctx *ec, const gc_node *n,
                                          const gc_tensor *const *in, gc_tensor *out) {
  const gc_tensor *x = in[0], *src = in[1];
  int d = 0;
  gc_wrap_dim(gc_attr_int(n, "dim", 0), x->rank, &d);
  int64_t step = gc_attr_int(n, "step", 1), b, e;
  clamp(x->shape[d], gc_attr_int(n, "start", 0), gc_attr_int(n, "end", INT64_MAX), &b, &e);
  int64_t len = e > b ? 1 + (e - b - 1) / step : 0;
  if (len != src->shape[d])
    return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                         "the slice has %" PRId64 " elements along dim %d but the source has %" PRId64,
                         len, d, src->shape[d]);
  copy_all(&out[0], x);
  size_t es = graphc_dtype_size(x->dtype);
  int64_t coord[GC_MAX_RANK];
  for (int64_t i = 0; i < src->numel; i++) {
    gc_unravel(i, src->shape, src->rank, coord);
    coord[d] = b + coord[d] * step;
    memcpy((char *)out[0].data + (size_t)flat_index(coord, x->shape, x->rank) * es,
           (const char *)src->data + (size_t)i * es, es);
  }
  return NULL;
}

static graphc_status_t narrow_infer(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0);
  const gc_attr *start = gc_node_attr(ic->node, "start"), *len = gc_node_attr(ic->node, "length");
  int d;
  GC_TRY(wrap_dim_attr(ic, x->rank, &d));
  if (start->count != 1 || len->count != 1)
    return gc_infer_error(ic, "attributes 'start' and 'length' take one dim each");
  int64_t v;
  if (gc_dim_is_const(gc_infer_dims(ic), len->dims[0], &v) && v < 0)
    return gc_infer_error(ic, "length must be >= 0, got %" PRId64, v);
  ic->out[0] = *x;
  ic->out[0].dims[d] = len->dims[0];
  return NULL;
}

static graphc_status_t narrow_eval(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                   gc_tensor *out) {
  const gc_tensor *x = in[0];
  int d = 0;
  gc_wrap_dim(gc_attr_int(n, "dim", 0), x->rank, &d);
  int64_t start, len;
  GC_TRY(gc_eval_dim(ec, gc_node_attr(n, "start")->dims[0], &start));
  GC_TRY(gc_eval_dim(ec, gc_node_attr(n, "length")->dims[0], &len));
  if (start < 0 || len < 0 || start > x->shape[d] - len)
    return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                         "start %" PRId64 " + length %" PRId64 " is outside dim %d of size %" PRId64,
                         start, len, d, x->shape[d]);
  size_t es = graphc_dtype_size(x->dtype);
  int64_t coord[GC_MAX_RANK];
  for (int64_t i = 0; i < out[0].numel; i++) {
    gc_unravel(i, out[0].shape, out[0].rank, coord);
    coord[d] += start;
    memcpy((char *)out[0].data + (size_t)i * es,
           (const char *)x->data + (size_t)flat_index(coord, x->shape, x->rank) * es, es);
  }
  return NULL;
}

/* ---- convolution and pooling backward ---------------------------------------- */

typedef struct win_params {
  int64_t kernel[2], stride[2], pad[2], dil[2], groups;
  bool ceil_mode;
} win_params;

/* Reads conv (kernel from the weight) or pooling attributes and checks
 * their ranges; `ic` may be NULL at eval time (already checked). */
static graphc_status_t read_params(const gc_infer_ctx *ic, const gc_node *n, bool pool,
                                   win_params *p) {
  bool ok = true;
  if (pool) ok &= gc_pool_read_pair(n, "kernel_size", GC_POOL_ONES, false, p->kernel);
  ok &= gc_pool_read_pair(n, "stride", pool ? p->kernel : GC_POOL_ONES, pool, p->stride);
  ok &= gc_pool_read_pair(n, "padding", GC_POOL_ZEROS, false, p->pad);
  ok &= gc_pool_read_pair(n, "dilation", GC_POOL_ONES, false, p->dil);
  p->groups = gc_attr_int(n, "groups", 1);
  p->ceil_mode = gc_attr_bool(n, "ceil_mode", false);
  if (!ic) return NULL;
  if (!ok) return gc_infer_error(ic, "window attributes take 1 or 2 values");
  for (int i = 0; i < 2; i++) {
    if ((pool && (p->kernel[i] < 1 || p->pad[i] > p->kernel[i] / 2)) || p->stride[i] < 1 ||
        p->pad[i] < 0 || p->dil[i] < 1 || p->stride[i] > ((int64_t)1 << 40) ||
        p->pad[i] > ((int64_t)1 << 40) || p->dil[i] > ((int64_t)1 << 40) ||
        (pool && p->kernel[i] > ((int64_t)1 << 40)))
      return gc_infer_error(ic, "window attributes out of range (kernel >= 1, stride >= 1, "
                            "0 <= padding <= kernel/2 for pooling, dilation >= 1)");
  }
  if (p->groups < 1 || p->groups > ((int64_t)1 << 40))
    return gc_infer_error(ic, "attribute 'groups': expected a positive value, got %" PRId64,
                          p->groups);
  return NULL;
}

/* PyTorch's output size of a window op (pooling_output_shape). */
static int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil) {
  int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0);
  int64_t q = num >= 0 ? num / s : -((-num + s - 1) / s);
  int64_t out = q + 1;
  if (ceil && (out - 1) * s >= in + p) out--;
  return out;
}

/* The gradient's spatial sizes must be what the forward op produced. */
static graphc_status_t check_out(gc_eval_ctx *ec, const gc_tensor *x_like, const gc_tensor *g,
                                 const win_params *p) {
  for (int i = 0; i < 2; i++) {
    int64_t in = x_like->shape[x_like->rank - 2 + i], have = g->shape[g->rank - 2 + i];
    int64_t want = window_out(in, p->kernel[i], p->stride[i], p->pad[i], p->dil[i], p->ceil_mode);
    if (have != want || want < 1)
      return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                           "gradient spatial dim %d is %" PRId64 " but the forward op gives %" PRId64
                           " for input size %" PRId64, i, have, want, in);
  }
  return NULL;
}

/* Channel dims: input C = weight C/groups * groups, grad C = weight O. */
static graphc_status_t conv_check(gc_infer_ctx *ic, const gc_type *x, const gc_type *g,
                                  const gc_type *w, int64_t groups) {
  gc_dimtab *t = gc_infer_dims(ic);
  if ((x->rank != 3 && x->rank != 4) || g->rank != x->rank || w->rank != 4)
    return gc_infer_error(ic, "expected input and gradient of rank 4 [N, C, H, W] (or 3) and a "
                          "rank-4 weight, got %s, %s and %s", GC_OPS_TY(ic, x), GC_OPS_TY(ic, g),
                          GC_OPS_TY(ic, w));
  int c = x->rank - 3;
  gc_dim gd, cw;
  GC_TRY(gc_dim_const(t, groups, &gd));
  GC_TRY(gc_dim_mul(t, w->dims[1], gd, &cw));
  if (cw != x->dims[c] || g->dims[c] != w->dims[0] || (c && g->dims[0] != x->dims[0]))
    return gc_infer_error(ic, "channels do not match: input %s, gradient %s, weight %s, groups=%" PRId64,
                          GC_OPS_TY(ic, x), GC_OPS_TY(ic, g), GC_OPS_TY(ic, w), groups);
  return NULL;
}

static graphc_status_t conv_bw_input_infer(gc_infer_ctx *ic) {
  const gc_type *g = gc_infer_operand(ic, 0), *w = gc_infer_operand(ic, 1);
  win_params p;
  GC_TRY(need_float(ic, 0, "grad"));
  GC_TRY(same_dtype(ic, 0, 1));
  GC_TRY(read_params(ic, ic->node, false, &p));
  GC_TRY(shape_attr_type(ic, "input_shape", 0, g->rank));
  gc_type x = ic->out[0];
  return conv_check(ic, &x, g, w, p.groups);
}

static graphc_status_t conv_bw_weight_infer(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0), *g = gc_infer_operand(ic, 1);
  win_params p;
  GC_TRY(need_float(ic, 0, "input"));
  GC_TRY(same_dtype(ic, 0, 1));
  GC_TRY(read_params(ic, ic->node, false, &p));
  GC_TRY(shape_attr_type(ic, "weight_shape", 0, 4));
  gc_type w = ic->out[0];
  return conv_check(ic, x, g, &w, p.groups);
}

/* Visits every (input element, weight element, grad element) triple of a
 * convolution: x[b, xc, iy, ix] * w[o, ci, i, j] contributes to g[b, o, y, xo]. */
typedef struct conv_geo {
  int64_t batch, ch, h, w, oc, cg, kh, kw, oh, ow;
} conv_geo;

static conv_geo conv_geometry(const int64_t *xs, int xrank, const int64_t *ws, const gc_tensor *g) {
  int c = xrank - 3;
  conv_geo o = {c ? xs[0] : 1, xs[c], xs[c + 1], xs[c + 2], ws[0], ws[1], ws[2], ws[3],
                g->shape[c + 1], g->shape[c + 2]};
  return o;
}

static graphc_status_t conv_bw(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *x,
                               const gc_tensor *w, const gc_tensor *g, gc_tensor *out, bool want_input) {
  win_params p;
  read_params(NULL, n, false, &p);
  const int64_t *xs = want_input ? out->shape : x->shape, *ws = want_input ? w->shape : out->shape;
  conv_geo q = conv_geometry(xs, g->rank, ws, g);
  p.kernel[0] = q.kh, p.kernel[1] = q.kw;
  gc_tensor shape_only = {.rank = g->rank};
  memcpy(shape_only.shape, xs, sizeof(int64_t) * (size_t)g->rank);
  GC_TRY(check_out(ec, &shape_only, g, &p));
  double *acc = calloc((size_t)(out->numel ? out->numel : 1), sizeof *acc);
  if (!acc) return GC_OOM();
  int64_t per_group = q.oc / p.groups;
  for (int64_t b = 0; b < q.batch; b++)
    for (int64_t o = 0; o < q.oc; o++)
      for (int64_t y = 0; y < q.oh; y++)
        for (int64_t xo = 0; xo < q.ow; xo++) {
          double gv = gc_tensor_getf(g, ((b * q.oc + o) * q.oh + y) * q.ow + xo);
          for (int64_t ci = 0; ci < q.cg; ci++) {
            int64_t xc = (o / per_group) * q.cg + ci;
            for (int64_t i = 0; i < q.kh; i++) {
              int64_t iy = y * p.stride[0] - p.pad[0] + i * p.dil[0];
              if (iy < 0 || iy >= q.h) continue;
              for (int64_t j = 0; j < q.kw; j++) {
                int64_t ix = xo * p.stride[1] - p.pad[1] + j * p.dil[1];
                if (ix < 0 || ix >= q.w) continue;
                int64_t xi = ((b * q.ch + xc) * q.h + iy) * q.w + ix;
                int64_t wi = ((o * q.cg + ci) * q.kh + i) * q.kw + j;
                if (want_input) acc[xi] += gv * gc_tensor_getf(w, wi);
                else acc[wi] += gv * gc_tensor_getf(x, xi);
              }
            }
          }
        }
  for (int64_t i = 0; i < out->numel; i++) gc_tensor_setf(out, i, acc[i]);
  free(acc);
  return NULL;
}

static graphc_status_t conv_bw_input_eval(gc_eval_ctx *ec, const gc_node *n,
                                          const gc_tensor *const *in, gc_tensor *out) {
  return conv_bw(ec, n, NULL, in[1], in[0], &out[0], true);
}

static graphc_status_t conv_bw_weight_eval(gc_eval_ctx *ec, const gc_node *n,
                                           const gc_tensor *const *in, gc_tensor *out) {
  return conv_bw(ec, n, in[0], NULL, in[1], &out[0], false);
}

/* Pooling: grad and input agree except in the last two dims. */
static graphc_status_t pool_check(gc_infer_ctx *ic, const gc_type *x, const gc_type *g) {
  bool ok = (x->rank == 3 || x->rank == 4) && g->rank == x->rank;
  for (int i = 0; ok && i < x->rank - 2; i++) ok = x->dims[i] == g->dims[i];
  if (!ok)
    return gc_infer_error(ic, "gradient %s does not fit input %s (rank 3 or 4, same leading dims)",
                          GC_OPS_TY(ic, g), GC_OPS_TY(ic, x));
  return NULL;
}

static graphc_status_t max_pool_bw_infer(gc_infer_ctx *ic) {
  const gc_type *g = gc_infer_operand(ic, 0), *x = gc_infer_operand(ic, 1);
  win_params p;
  GC_TRY(need_float(ic, 0, "grad"));
  GC_TRY(same_dtype(ic, 0, 1));
  GC_TRY(read_params(ic, ic->node, true, &p));
  GC_TRY(pool_check(ic, x, g));
  ic->out[0] = *x;
  return NULL;
}

static graphc_status_t avg_pool_bw_infer(gc_infer_ctx *ic) {
  const gc_type *g = gc_infer_operand(ic, 0);
  win_params p;
  GC_TRY(need_float(ic, 0, "grad"));
  GC_TRY(read_params(ic, ic->node, true, &p));
  GC_TRY(shape_attr_type(ic, "input_shape", 0, g->rank));
  gc_type x = ic->out[0];
  return pool_check(ic, &x, g);
}

static graphc_status_t adaptive_pool_bw_infer(gc_infer_ctx *ic) {
  const gc_type *g = gc_infer_operand(ic, 0);
  GC_TRY(need_float(ic, 0, "grad"));
  GC_TRY(shape_attr_type(ic, "input_shape", 0, g->rank));
  gc_type x = ic->out[0];
  return pool_check(ic, &x, g);
}

/* The first maximum of each window (NaN wins, as in the forward op) gets
 * the window's gradient. */
static graphc_status_t max_pool_bw_eval(gc_eval_ctx *ec, const gc_node *n,
                                        const gc_tensor *const *in, gc_tensor *out) {
  const gc_tensor *g = in[0], *x = in[1];
  win_params p;
  read_params(NULL, n, true, &p);
  GC_TRY(check_out(ec, x, g, &p));
  int64_t h = x->shape[x->rank - 2], w = x->shape[x->rank - 1];
  int64_t oh = g->shape[g->rank - 2], ow = g->shape[g->rank - 1], planes = h * w > 0 ? x->numel / (h * w) : 0;
  double *acc = calloc((size_t)(x->numel ? x->numel : 1), sizeof *acc);
  if (!acc) return GC_OOM();
  for (int64_t pl = 0; pl < planes; pl++)
    for (int64_t y = 0; y < oh; y++)
      for (int64_t xo = 0; xo < ow; xo++) {
        double mf = -INFINITY;
        int64_t best = -1;
        for (int64_t i = 0; i < p.kernel[0]; i++) {
          int64_t iy = y * p.stride[0] - p.pad[0] + i * p.dil[0];
          if (iy < 0 || iy >= h) continue;
          for (int64_t j = 0; j < p.kernel[1]; j++) {
            int64_t ix = xo * p.stride[1] - p.pad[1] + j * p.dil[1];
            if (ix < 0 || ix >= w) continue;
            int64_t idx = (pl * h + iy) * w + ix;
            double v = gc_tensor_getf(x, idx);
            if (best < 0 || v > mf || isnan(v)) mf = v, best = idx;
          }
        }
        if (best >= 0) acc[best] += gc_tensor_getf(g, (pl * oh + y) * ow + xo);
      }
  for (int64_t i = 0; i < x->numel; i++) gc_tensor_setf(&out[0], i, acc[i]);
  free(acc);
  return NULL;
}

/* Each window spreads grad / divisor (the forward op's divisor) evenly. */
static graphc_status_t avg_pool_bw_eval(gc_eval_ctx *ec, const gc_node *n,
                                        const gc_tensor *const *in, gc_tensor *out) {
  const gc_tensor *g = in[0];
  gc_tensor *x = &out[0];
  win_params p;
  read_params(NULL, n, true, &p);
  p.dil[0] = p.dil[1] = 1;
  bool include_pad = gc_attr_bool(n, "count_include_pad", true);
  GC_TRY(check_out(ec, x, g, &p));
  int64_t h = x->shape[x->rank - 2], w = x->shape[x->rank - 1];
  int64_t oh = g->shape[g->rank - 2], ow = g->shape[g->rank - 1], planes = h * w > 0 ? x->numel / (h * w) : 0;
  double *acc = calloc((size_t)(x->numel ? x->numel : 1), sizeof *acc);
  if (!acc) return GC_OOM();
  for (int64_t pl = 0; pl < planes; pl++)
    for (int64_t y = 0; y < oh; y++)
      for (int64_t xo = 0; xo < ow; xo++) {
        int64_t win[4], count;
        if (!gc_avg_pool_window(y, xo, h, w, p.kernel, p.stride, p.pad, include_pad, win, &count))
          continue;
        double share = gc_tensor_getf(g, (pl * oh + y) * ow + xo) / (double)count;
        for (int64_t iy = win[0]; iy < win[1]; iy++)
          for (int64_t ix = win[2]; ix < win[3]; ix++) acc[(pl * h + iy) * w + ix] += share;
      }
  for (int64_t i = 0; i < x->numel; i++) gc_tensor_setf(x, i, acc[i]);
  free(acc);
  return NULL;
}

static graphc_status_t adaptive_pool_bw_eval(gc_eval_ctx *ec, const gc_node *n,
                                             const gc_tensor *const *in, gc_tensor *out) {
  (void)n;
  const gc_tensor *g = in[0];
  gc_tensor *x = &out[0];
  int64_t h = x->shape[x->rank - 2], w = x->shape[x->rank - 1];
  int64_t oh = g->shape[g->rank - 2], ow = g->shape[g->rank - 1];
  if (h < 1 || w < 1 || oh < 0 || ow < 0)
    return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE, "input spatial dims must be non-empty");
  int64_t planes = x->numel / (h * w);
  double *acc = calloc((size_t)(x->numel ? x->numel : 1), sizeof *acc);
  if (!acc) return GC_OOM();
  for (int64_t pl = 0; pl < planes; pl++)
    for (int64_t y = 0; y < oh; y++) {
      int64_t y0, y1;
      gc_adaptive_window(y, h, oh, &y0, &y1);
      for (int64_t xo = 0; xo < ow; xo++) {
        int64_t x0, x1;
        gc_adaptive_window(xo, w, ow, &x0, &x1);
        double share = gc_tensor_getf(g, (pl * oh + y) * ow + xo) / (double)((y1 - y0) * (x1 - x0));
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++) acc[(pl * h + iy) * w + ix] += share;
      }
    }
  for (int64_t i = 0; i < x->numel; i++) gc_tensor_setf(x, i, acc[i]);
  free(acc);
  return NULL;
}

/* ---- table ------------------------------------------------------------------ */

#define CONV_ATTRS(shape_name)                                                          \
  {{shape_name, GRAPHC_ATTR_DIMS, true}, {"stride", GRAPHC_ATTR_INTS, false},           \
   {"padding", GRAPHC_ATTR_INTS, false}, {"dilation", GRAPHC_ATTR_INTS, false},         \
   {"groups", GRAPHC_ATTR_INT, false}}

const gc_op_info gc_ops_grad[] = {
    {.name = "detach", .min_operands = 1, .max_operands = 1, .nresults = 1,
     .flags = GC_OPF_ELEMENTWISE, .doc = "x unchanged; its result carries no gradient",
     .infer = detach_infer, .eval = detach_eval},
    {.name = "index_add", .min_operands = 3, .max_operands = 3, .nresults = 1,
     .attrs = {{"dim", GRAPHC_ATTR_INT, true}},
     .doc = "x with source slices added at index along dim (torch.index_add; repeats accumulate)",
     .infer = index_add_infer, .eval = index_add_eval},
    {.name = "scatter_add", .min_operands = 3, .max_operands = 3, .nresults = 1,
     .attrs = {{"dim", GRAPHC_ATTR_INT, true}},
     .doc = "x with source[i] added at index[i] along dim (torch.scatter_add; source shaped like index)",
     .infer = scatter_add_infer, .eval = scatter_add_eval},
    {.name = "slice_scatter", .min_operands = 2, .max_operands = 2, .nresults = 1,
     .attrs = {{"dim", GRAPHC_ATTR_INT, true}, {"start", GRAPHC_ATTR_INT, false},
               {"end", GRAPHC_ATTR_INT, false}, {"step", GRAPHC_ATTR_INT, false}},
     .doc = "x with the slice [start:end:step] along dim replaced by source (torch.slice_scatter)",
     .infer = slice_scatter_infer, .eval = slice_scatter_eval},
    {.name = "narrow", .min_operands = 1, .max_operands = 1, .nresults = 1,
     .attrs = {{"dim", GRAPHC_ATTR_INT, true}, {"start", GRAPHC_ATTR_DIMS, true},
               {"length", GRAPHC_ATTR_DIMS, true}},
     .doc = "x[start : start + length] along dim, start and length symbolic (torch.narrow)",
     .infer = narrow_infer, .eval = narrow_eval},
    {.name = "conv2d_backward_input", .min_operands = 2, .max_operands = 2, .nresults = 1,
     .attrs = CONV_ATTRS("input_shape"),
     .doc = "gradient of conv2d's input from (grad_out, weight); input_shape is the input's shape",
     .infer = conv_bw_input_infer, .eval = conv_bw_input_eval},
    {.name = "conv2d_backward_weight", .min_operands = 2, .max_operands = 2, .nresults = 1,
     .attrs = CONV_ATTRS("weight_shape"),
     .doc = "gradient of conv2d's weight from (input, grad_out); weight_shape is the weight's shape",
     .infer = conv_bw_weight_infer, .eval = conv_bw_weight_eval},
    {.name = "max_pool2d_backward", .min_operands = 2, .max_operands = 2, .nresults = 1,
     .attrs = {{"kernel_size", GRAPHC_ATTR_INTS, true}, {"stride", GRAPHC_ATTR_INTS, false},
               {"padding", GRAPHC_ATTR_INTS, false}, {"dilation", GRAPHC_ATTR_INTS, false},
               {"ceil_mode", GRAPHC_ATTR_BOOL, false}},
     .doc = "gradient of max_pool2d's input from (grad_out, input): each window's first maximum gets it",
     .infer = max_pool_bw_infer, .eval = max_pool_bw_eval},
    {.name = "avg_pool2d_backward", .min_operands = 1, .max_operands = 1, .nresults = 1,
     .attrs = {{"input_shape", GRAPHC_ATTR_DIMS, true}, {"kernel_size", GRAPHC_ATTR_INTS, true},
               {"stride", GRAPHC_ATTR_INTS, false}, {"padding", GRAPHC_ATTR_INTS, false},
               {"ceil_mode", GRAPHC_ATTR_BOOL, false}, {"count_include_pad", GRAPHC_ATTR_BOOL, false}},
     .doc = "gradient of avg_pool2d's input: each window spreads grad / divisor over its elements",
     .infer = avg_pool_bw_infer, .eval = avg_pool_bw_eval},
    {.name = "adaptive_avg_pool2d_backward", .min_operands = 1, .max_operands = 1, .nresults = 1,
     .attrs = {{"input_shape", GRAPHC_ATTR_DIMS, true}},
     .doc = "gradient of adaptive_avg_pool2d's input: each window spreads grad / area",
     .infer = adaptive_pool_bw_infer, .eval = adaptive_pool_bw_eval},
    {0},
};
