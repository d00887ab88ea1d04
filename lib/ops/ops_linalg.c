/* Linear algebra, convolution and pooling: matmul, linear, conv2d,
 * max_pool2d, avg_pool2d, adaptive_avg_pool2d.
 *
 * Shapes follow PyTorch exactly, symbolic dims included: contraction dims
 * must be the same dim (equal ids), batch dims broadcast, and the spatial
 * output sizes of conv and pooling are built with gc_dim arithmetic so a
 * symbolic H stays symbolic. Float math accumulates in double and rounds
 * once on store; integer matmul accumulates in wrapping int64. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_common.h"
#include "ops/pool_geometry.h"

/* ---- infer helpers ------------------------------------------------------- */

static bool dim_is_one(gc_dimtab *t, gc_dim d) {
  int64_t v;
  return gc_dim_is_const(t, d, &v) && v == 1;
}

/* Turns a failed dim construction (overflow, division by zero) into an
 * infer error naming the op. */
static graphc_status_t dim_error(const gc_infer_ctx *ic, graphc_status_t st) {
  if (!st) return NULL;
  graphc_status_t e = gc_infer_error(ic, "%s", graphc_status_message(st));
  graphc_status_free(st);
  return e;
}

/* out = a * ca + c (a dim, ca and c constants). */
static graphc_status_t dim_affine(const gc_infer_ctx *ic, gc_dim a, int64_t ca, int64_t c,
                                  gc_dim *out) {
  gc_dimtab *t = gc_infer_dims(ic);
  gc_dim k, r;
  GC_TRY(dim_error(ic, gc_dim_const(t, ca, &k)));
  GC_TRY(dim_error(ic, gc_dim_mul(t, a, k, &r)));
  GC_TRY(dim_error(ic, gc_dim_const(t, c, &k)));
  return dim_error(ic, gc_dim_add(t, r, k, out));
}

/* out = (a + c) // s + add. */
static graphc_status_t dim_floordiv_off(const gc_infer_ctx *ic, gc_dim a, int64_t c, int64_t s,
                                        int64_t add, gc_dim *out) {
  gc_dimtab *t = gc_infer_dims(ic);
  gc_dim num, den, q;
  GC_TRY(dim_affine(ic, a, 1, c, &num));
  GC_TRY(dim_error(ic, gc_dim_const(t, s, &den)));
  GC_TRY(dim_error(ic, gc_dim_floordiv(t, num, den, &q)));
  return dim_affine(ic, q, 1, add, out);
}

/* Broadcasts the batch dims a[0..na) and b[0..nb) (right-aligned) into
 * out[0..*nout). */
static bool broadcast_batch(gc_dimtab *t, const gc_dim *a, int na, const gc_dim *b, int nb,
                            gc_dim *out, int *nout) {
  int n = na > nb ? na : nb;
  for (int i = 0; i < n; i++) {
    int ia = i - (n - na), ib = i - (n - nb);
    gc_dim da = ia >= 0 ? a[ia] : GC_DIM_NONE, db = ib >= 0 ? b[ib] : GC_DIM_NONE;
    if (da == GC_DIM_NONE || dim_is_one(t, da)) out[i] = db == GC_DIM_NONE ? da : db;
    else if (db == GC_DIM_NONE || dim_is_one(t, db) || da == db) out[i] = da;
    else return false;
  }
  *nout = n;
  return true;
}

static graphc_status_t check_numeric(const gc_infer_ctx *ic, int i, const char *what,
                                     bool allow_int) {
  const gc_type *t = gc_infer_operand(ic, i);
  if (gc_dtype_is_float(t->dtype) || (allow_int && gc_dtype_is_int(t->dtype))) return NULL;
  return gc_infer_error(ic, "operand %d (%s): expected a %s dtype, got %s", i, what,
                        allow_int ? "float or integer" : "float", GC_OPS_TY(ic, t));
}

static graphc_status_t check_same_dtype(const gc_infer_ctx *ic, int i, const char *what) {
  const gc_type *t0 = gc_infer_operand(ic, 0), *t = gc_infer_operand(ic, i);
  if (t->dtype == t0->dtype) return NULL;
  return gc_infer_error(ic, "operand %d (%s): expected dtype %s (same as operand 0), got %s", i,
                        what, graphc_dtype_name(t0->dtype), GC_OPS_TY(ic, t));
}

static graphc_status_t infer_pair(const gc_infer_ctx *ic, const char *name, const int64_t dflt[2],
                                  bool empty_is_default, int64_t min, int64_t out[2]) {
  if (!gc_pool_read_pair(ic->node, name, dflt, empty_is_default, out))
    return gc_infer_error(ic, "attribute '%s': expected 1 or 2 values, got %d", name,
                          gc_node_attr(ic->node, name)->count);
  for (int i = 0; i < 2; i++)
    if (out[i] < min || out[i] > ((int64_t)1 << 40))
      return gc_infer_error(ic, "attribute '%s': expected values in [%lld, 2^40], got %lld", name,
                            (long long)min, (long long)out[i]);
  return NULL;
}

/* ---- eval helpers -------------------------------------------------------- */

/* Index of the matrix at batch coordinate `coord` (rank `crank`) in a tensor
 * whose leading `nb` dims `shape` are batch dims, broadcast right-aligned. */
static int64_t batch_offset(const int64_t *shape, int nb, const int64_t *coord, int crank) {
  int64_t off = 0;
  for (int i = 0; i < nb; i++) off = off * shape[i] + (shape[i] == 1 ? 0 : coord[crank - nb + i]);
  return off;
}

static int64_t prod(const int64_t *shape, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) p *= shape[i];
  return p;
}

/* ---- matmul -------------------------------------------------------------- */

static graphc_status_t matmul_infer(gc_infer_ctx *ic) {
  const gc_type *a = gc_infer_operand(ic, 0), *b = gc_infer_operand(ic, 1);
  gc_dimtab *t = gc_infer_dims(ic);
  GC_TRY(check_numeric(ic, 0, "a", true));
  GC_TRY(check_same_dtype(ic, 1, "b"));
  if (a->rank < 1 || b->rank < 1)
    return gc_infer_error(ic, "both operands need at least 1 dim, got %s and %s",
                          GC_OPS_TY(ic, a), GC_OPS_TY(ic, b));
  gc_dim ka = a->dims[a->rank - 1], kb = b->dims[b->rank == 1 ? 0 : b->rank - 2];
  if (ka != kb)
    return gc_infer_error(ic, "contraction dims differ: a is %s, b is %s (%s vs %s)",
                          GC_OPS_TY(ic, a), GC_OPS_TY(ic, b), gc_dim_str(t, ka),
                          gc_dim_str(t, kb));
  gc_type *out = &ic->out[0];
  out->dtype = a->dtype;
  int na = a->rank > 2 ? a->rank - 2 : 0, nb = b->rank > 2 ? b->rank - 2 : 0, n;
  if (!broadcast_batch(t, a->dims, na, b->dims, nb, out->dims, &n))
    return gc_infer_error(ic, "batch dims do not broadcast: a is %s, b is %s", GC_OPS_TY(ic, a),
                          GC_OPS_TY(ic, b));
  if (a->rank >= 2) out->dims[n++] = a->dims[a->rank - 2];
  if (b->rank >= 2) out->dims[n++] = b->dims[b->rank - 1];
  out->rank = n;
  return NULL;
}

static graphc_status_t matmul_eval(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                   gc_tensor *out) {
  (void)ec, (void)n;
  const gc_tensor *a = in[0], *b = in[1];
  /* A 1-D a is a row [1, K], a 1-D b a column [K, 1]; the unit dim does not
   * appear in the result, which leaves the flat layout unchanged. */
  int64_t m = a->rank >= 2 ? a->shape[a->rank - 2] : 1;
  int64_t k = a->shape[a->rank - 1];
  int64_t nn = b->rank >= 2 ? b->shape[b->rank - 1] : 1;
  int na = a->rank > 2 ? a->rank - 2 : 0, nb = b->rank > 2 ? b->rank - 2 : 0;
  int crank = out->rank - (a->rank >= 2) - (b->rank >= 2);
  int64_t nbatch = prod(out->shape, crank), coord[GC_MAX_RANK] = {0};
  bool is_float = gc_dtype_is_float(out->dtype);
  for (int64_t bi = 0; bi < nbatch; bi++) {
    gc_unravel(bi, out->shape, crank, coord);
    int64_t ao = batch_offset(a->shape, na, coord, crank) * m * k;
    int64_t bo = batch_offset(b->shape, nb, coord, crank) * k * nn;
    int64_t oo = bi * m * nn;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < nn; j++) {
        if (is_float) {
          double acc = 0;
          for (int64_t p = 0; p < k; p++)
            acc += gc_tensor_getf(a, ao + i * k + p) * gc_tensor_getf(b, bo + p * nn + j);
          gc_tensor_setf(out, oo + i * nn + j, acc);
        } else {
          int64_t acc = 0;
          for (int64_t p = 0; p < k; p++)
            acc = gc_ops_addi(acc, gc_ops_muli(gc_tensor_geti(a, ao + i * k + p),
                                               gc_tensor_geti(b, bo + p * nn + j)));
          gc_tensor_seti(out, oo + i * nn + j, gc_ops_wrapi(acc, out->dtype));
        }
      }
  }
  return NULL;
}

/* ---- linear -------------------------------------------------------------- */

static graphc_status_t linear_infer(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0), *w = gc_infer_operand(ic, 1);
  gc_dimtab *t = gc_infer_dims(ic);
  GC_TRY(check_numeric(ic, 0, "x", true));
  GC_TRY(check_same_dtype(ic, 1, "weight"));
  if (x->rank < 1) return gc_infer_error(ic, "operand 0 (x): expected rank >= 1, got %s", GC_OPS_TY(ic, x));
  if (w->rank != 2)
    return gc_infer_error(ic, "operand 1 (weight): expected rank 2 [N, K], got %s",
                          GC_OPS_TY(ic, w));
  if (w->dims[1] != x->dims[x->rank - 1])
    return gc_infer_error(ic, "operand 1 (weight): expected [N, %s] to match x %s, got %s",
                          gc_dim_str(t, x->dims[x->rank - 1]), GC_OPS_TY(ic, x),
                          GC_OPS_TY(ic, w));
  if (ic->node->noperands == 3) {
    const gc_type *bias = gc_infer_operand(ic, 2);
    GC_TRY(check_same_dtype(ic, 2, "bias"));
    if (bias->rank != 1 || bias->dims[0] != w->dims[0])
      return gc_infer_error(ic, "operand 2 (bias): expected [%s] (weight's N), got %s",
                            gc_dim_str(t, w->dims[0]), GC_OPS_TY(ic, bias));
  }
  ic->out[0] = *x;
  ic->out[0].dims[x->rank - 1] = w->dims[0];
  return NULL;
}

static graphc_status_t linear_eval(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                   gc_tensor *out) {
  (void)ec;
  const gc_tensor *x = in[0], *w = in[1], *bias = n->noperands == 3 ? in[2] : NULL;
  int64_t nout = w->shape[0], k = w->shape[1];
  int64_t rows = prod(x->shape, x->rank - 1);
  bool is_float = gc_dtype_is_float(out->dtype);
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < nout; j++) {
      if (is_float) {
        double acc = bias ? gc_tensor_getf(bias, j) : 0.0;
        for (int64_t p = 0; p < k; p++)
          acc += gc_tensor_getf(x, r * k + p) * gc_tensor_getf(w, j * k + p);
        gc_tensor_setf(out, r * nout + j, acc);
      } else {
        int64_t acc = bias ? gc_tensor_geti(bias, j) : 0;
        for (int64_t p = 0; p < k; p++)
          acc = gc_ops_addi(acc, gc_ops_muli(gc_tensor_geti(x, r * k + p),
                                             gc_tensor_geti(w, j * k + p)));
        gc_tensor_seti(out, r * nout + j, gc_ops_wrapi(acc, out->dtype));
      }
    }
  return NULL;
}

/* ---- conv2d -------------------------------------------------------------- */

static graphc_status_t conv2d_infer(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0), *w = gc_infer_operand(ic, 1);
  gc_dimtab *t = gc_infer_dims(ic);
  GC_TRY(check_numeric(ic, 0, "input", false));
  GC_TRY(check_same_dtype(ic, 1, "weight"));
  if (x->rank != 3 && x->rank != 4)
    return gc_infer_error(ic, "operand 0 (input): expected rank 4 [N, C, H, W] or 3 [C, H, W], got %s",
                          GC_OPS_TY(ic, x));
  if (w->rank != 4)
    return gc_infer_error(ic, "operand 1 (weight): expected rank 4 [O, C/groups, kH, kW], got %s",
                          GC_OPS_TY(ic, w));
  int64_t stride[2], pad[2], dil[2];
  GC_TRY(infer_pair(ic, "stride", GC_POOL_ONES, false, 1, stride));
  GC_TRY(infer_pair(ic, "padding", GC_POOL_ZEROS, false, 0, pad));
  GC_TRY(infer_pair(ic, "dilation", GC_POOL_ONES, false, 1, dil));
  int64_t groups = gc_attr_int(ic->node, "groups", 1);
  if (groups < 1 || groups > ((int64_t)1 << 40))
    return gc_infer_error(ic, "attribute 'groups': expected a positive value, got %lld",
                          (long long)groups);
  int c = x->rank - 3;
  gc_dim cw, rem;
  GC_TRY(dim_affine(ic, w->dims[1], groups, 0, &cw));
  if (cw != x->dims[c])
    return gc_infer_error(ic,
                          "operand 1 (weight): expected %s input channels (C/groups with "
                          "groups=%lld) to match input %s, got %s",
                          gc_dim_str(t, x->dims[c]), (long long)groups, GC_OPS_TY(ic, x),
                          GC_OPS_TY(ic, w));
  gc_dim gdim;
  int64_t r;
  GC_TRY(dim_error(ic, gc_dim_const(t, groups, &gdim)));
  GC_TRY(dim_error(ic, gc_dim_mod(t, w->dims[0], gdim, &rem)));
  if (!gc_dim_is_const(t, rem, &r) || r != 0)
    return gc_infer_error(ic, "operand 1 (weight): output channels %s must be divisible by groups=%lld",
                          gc_dim_str(t, w->dims[0]), (long long)groups);
  if (ic->node->noperands == 3) {
    const gc_type *bias = gc_infer_operand(ic, 2);
    GC_TRY(check_same_dtype(ic, 2, "bias"));
    if (bias->rank != 1 || bias->dims[0] != w->dims[0])
      return gc_infer_error(ic, "operand 2 (bias): expected [%s] (weight's O), got %s",
                            gc_dim_str(t, w->dims[0]), GC_OPS_TY(ic, bias));
  }
  gc_type *out = &ic->out[0];
  *out = *x;
  out->dims[c] = w->dims[0];
  for (int i = 0; i < 2; i++) {
    gc_dim in = x->dims[c + 1 + i], k = w->dims[2 + i], span, num;
    int64_t kv, hv;
    if (gc_dim_is_const(t, k, &kv) && kv < 1)
      return gc_infer_error(ic, "operand 1 (weight): kernel size must be positive, got %s",
                            GC_OPS_TY(ic, w));
    /* out = (in + 2p - d*(k-1) - 1) // s + 1 */
    GC_TRY(dim_affine(ic, k, dil[i], 1 - dil[i], &span)); /* d*(k-1) + 1 */
    GC_TRY(dim_error(ic, gc_dim_sub(t, in, span, &num)));
    GC_TRY(dim_floordiv_off(ic, num, 2 * pad[i], stride[i], 1, &out->dims[c + 1 + i]));
    int64_t sv;
    if (gc_dim_is_const(t, span, &sv) && gc_dim_is_const(t, in, &hv) && hv + 2 * pad[i] < sv)
      return gc_infer_error(ic,
                            "padded input size %lld is smaller than the dilated kernel size %lld "
                            "(input %s, weight %s)",
                            (long long)(hv + 2 * pad[i]), (long long)sv, GC_OPS_TY(ic, x),
                            GC_OPS_TY(ic, w));
  }
  return NULL;
}

static graphc_status_t conv2d_eval(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                   gc_tensor *out) {
  const gc_tensor *x = in[0], *w = in[1], *bias = n->noperands == 3 ? in[2] : NULL;
  int64_t stride[2] = {1, 1}, pad[2] = {0, 0}, dil[2] = {1, 1}; /* checked at infer time */
  gc_pool_read_pair(n, "stride", GC_POOL_ONES, false, stride);
  gc_pool_read_pair(n, "padding", GC_POOL_ZEROS, false, pad);
  gc_pool_read_pair(n, "dilation", GC_POOL_ONES, false, dil);
  int64_t groups = gc_attr_int(n, "groups", 1);
  int c = x->rank - 3;
  int64_t batch = c ? x->shape[0] : 1, ch = x->shape[c], h = x->shape[c + 1], wd = x->shape[c + 2];
  int64_t oc = w->shape[0], cg = w->shape[1], kh = w->shape[2], kw = w->shape[3];
  int64_t oh = out->shape[c + 1], ow = out->shape[c + 2];
  for (int i = 0; i < 2; i++) {
    int64_t size = x->shape[c + 1 + i], k = w->shape[2 + i];
    if (size + 2 * pad[i] < dil[i] * (k - 1) + 1)
      return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                           "padded input size %lld is smaller than the dilated kernel size %lld",
                           (long long)(size + 2 * pad[i]), (long long)(dil[i] * (k - 1) + 1));
  }
  int64_t per_group = oc / groups;
  for (int64_t b = 0; b < batch; b++)
    for (int64_t o = 0; o < oc; o++) {
      int64_t g = o / per_group;
      for (int64_t y = 0; y < oh; y++)
        for (int64_t xo = 0; xo < ow; xo++) {
          double acc = bias ? gc_tensor_getf(bias, o) : 0.0;
          for (int64_t ci = 0; ci < cg; ci++) {
            int64_t xc = g * cg + ci;
            for (int64_t i = 0; i < kh; i++) {
              int64_t iy = y * stride[0] - pad[0] + i * dil[0];
              if (iy < 0 || iy >= h) continue;
              for (int64_t j = 0; j < kw; j++) {
                int64_t ix = xo * stride[1] - pad[1] + j * dil[1];
                if (ix < 0 || ix >= wd) continue;
                acc += gc_tensor_getf(x, ((b * ch + xc) * h + iy) * wd + ix) *
                       gc_tensor_getf(w, ((o * cg + ci) * kh + i) * kw + j);
              }
            }
          }
          gc_tensor_setf(out, ((b * oc + o) * oh + y) * ow + xo, acc);
        }
    }
  return NULL;
}

/* ---- pooling ------------------------------------------------------------- */

typedef struct pool_params {
  int64_t kernel[2], stride[2], pad[2], dil[2];
  bool ceil_mode;
} pool_params;

/* Reads the pooling attributes; avg_pool2d has no dilation. */
static bool pool_read(const gc_node *n, bool has_dilation, pool_params *p) {
  if (!gc_pool_read_pair(n, "kernel_size", GC_POOL_ONES, false, p->kernel)) return false;
  if (!gc_pool_read_pair(n, "stride", p->kernel, true, p->stride)) return false;
  if (!gc_pool_read_pair(n, "padding", GC_POOL_ZEROS, false, p->pad)) return false;
  if (has_dilation && !gc_pool_read_pair(n, "dilation", GC_POOL_ONES, false, p->dil)) return false;
  if (!has_dilation) p->dil[0] = p->dil[1] = 1;
  p->ceil_mode = gc_attr_bool(n, "ceil_mode", false);
  return true;
}

/* PyTorch's pooling output size. In ceil mode the last window must start
 * inside the input or the left padding: out = min(ceil(L/s) + 1,
 * ceil((in + p)/s)) with L = in + 2p - d(k-1) - 1. Writing e = d(k-1)+1-p
 * (>= 1 since p <= k/2), the two differ by at least floor(e/s) and at most
 * ceil(e/s), so which one is smaller is known from the attributes alone
 * even when `in` is symbolic. */
static graphc_status_t pool_out_dim(const gc_infer_ctx *ic, gc_dim in, const pool_params *p,
                                    int i, gc_dim *out) {
  int64_t k = p->kernel[i], s = p->stride[i], pd = p->pad[i], d = p->dil[i];
  int64_t l_off = 2 * pd - d * (k - 1) - 1;
  if (!p->ceil_mode) return dim_floordiv_off(ic, in, l_off, s, 1, out);
  int64_t e = d * (k - 1) + 1 - pd;
  if (e >= s) return dim_floordiv_off(ic, in, l_off + s - 1, s, 1, out);
  return dim_floordiv_off(ic, in, pd + s - 1, s, 0, out);
}

static graphc_status_t pool_infer_common(gc_infer_ctx *ic, bool has_dilation, bool allow_int) {
  const gc_type *x = gc_infer_operand(ic, 0);
  gc_dimtab *t = gc_infer_dims(ic);
  GC_TRY(check_numeric(ic, 0, "input", allow_int));
  if (x->rank != 3 && x->rank != 4)
    return gc_infer_error(ic, "operand 0 (input): expected rank 4 [N, C, H, W] or 3 [C, H, W], got %s",
                          GC_OPS_TY(ic, x));
  pool_params p;
  GC_TRY(infer_pair(ic, "kernel_size", GC_POOL_ONES, false, 1, p.kernel));
  GC_TRY(infer_pair(ic, "stride", p.kernel, true, 1, p.stride));
  GC_TRY(infer_pair(ic, "padding", GC_POOL_ZEROS, false, 0, p.pad));
  if (has_dilation) GC_TRY(infer_pair(ic, "dilation", GC_POOL_ONES, false, 1, p.dil));
  pool_read(ic->node, has_dilation, &p);
  for (int i = 0; i < 2; i++)
    if (p.pad[i] > p.kernel[i] / 2)
      return gc_infer_error(ic,
                            "attribute 'padding': must be at most half of kernel_size, got "
                            "padding %lld for kernel %lld",
                            (long long)p.pad[i], (long long)p.kernel[i]);
  gc_type *out = &ic->out[0];
  *out = *x;
  for (int i = 0; i < 2; i++) {
    gc_dim *od = &out->dims[x->rank - 2 + i];
    GC_TRY(pool_out_dim(ic, x->dims[x->rank - 2 + i], &p, i, od));
    int64_t v;
    if (gc_dim_is_const(t, *od, &v) && v < 1)
      return gc_infer_error(ic, "output size is too small: input %s gives %s for spatial dim %d",
                            GC_OPS_TY(ic, x), gc_dim_str(t, *od), i);
  }
  return NULL;
}

static graphc_status_t max_pool2d_infer(gc_infer_ctx *ic) { return pool_infer_common(ic, true, true); }

/* PyTorch's CPU avg_pool2d takes floats and i64 (not i32). */
static graphc_status_t avg_pool2d_infer(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0);
  if (x->dtype == GRAPHC_I32)
    return gc_infer_error(ic, "operand 0 (input): expected a float or i64 dtype, got %s",
                          GC_OPS_TY(ic, x));
  return pool_infer_common(ic, false, true);
}

/* Runtime checks PyTorch makes on pooling inputs: non-empty C, H, W and a
 * non-empty output. */
static graphc_status_t pool_runtime_check(gc_eval_ctx *ec, const gc_tensor *x, const gc_tensor *out) {
  for (int i = x->rank - 3; i < x->rank; i++)
    if (x->shape[i] == 0)
      return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                           "input dim %d is 0; only the batch dim may be empty", i);
  for (int i = out->rank - 2; i < out->rank; i++)
    if (out->shape[i] < 1)
      return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE, "output size is too small (dim %d is %lld)",
                           i, (long long)out->shape[i]);
  return NULL;
}

static graphc_status_t max_pool2d_eval(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                       gc_tensor *out) {
  const gc_tensor *x = in[0];
  pool_params p;
  pool_read(n, true, &p);
  GC_TRY(pool_runtime_check(ec, x, out));
  int64_t h = x->shape[x->rank - 2], w = x->shape[x->rank - 1];
  int64_t oh = out->shape[out->rank - 2], ow = out->shape[out->rank - 1];
  int64_t planes = prod(x->shape, x->rank - 2);
  bool is_float = gc_dtype_is_float(x->dtype);
  int64_t imin = x->dtype == GRAPHC_I32 ? INT32_MIN : INT64_MIN;
  for (int64_t pl = 0; pl < planes; pl++)
    for (int64_t y = 0; y < oh; y++)
      for (int64_t xo = 0; xo < ow; xo++) {
        double mf = -INFINITY;
        int64_t mi = imin;
        for (int64_t i = 0; i < p.kernel[0]; i++) {
          int64_t iy = y * p.stride[0] - p.pad[0] + i * p.dil[0];
          if (iy < 0 || iy >= h) continue;
          for (int64_t j = 0; j < p.kernel[1]; j++) {
            int64_t ix = xo * p.stride[1] - p.pad[1] + j * p.dil[1];
            if (ix < 0 || ix >= w) continue;
            int64_t idx = (pl * h + iy) * w + ix;
            if (is_float) {
              double v = gc_tensor_getf(x, idx);
              if (v > mf || isnan(v)) mf = v; /* NaN propagates, as in PyTorch */
            } else {
              int64_t v = gc_tensor_geti(x, idx);
              if (v > mi) mi = v;
            }
          }
        }
        int64_t o = (pl * oh + y) * ow + xo;
        if (is_float) gc_tensor_setf(out, o, mf);
        else gc_tensor_seti(out, o, mi);
      }
  return NULL;
}

static graphc_status_t avg_pool2d_eval(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                       gc_tensor *out) {
  const gc_tensor *x = in[0];
  pool_params p;
  pool_read(n, false, &p);
  bool include_pad = gc_attr_bool(n, "count_include_pad", true);
  bool is_float = gc_dtype_is_float(x->dtype);
  GC_TRY(pool_runtime_check(ec, x, out));
  int64_t h = x->shape[x->rank - 2], w = x->shape[x->rank - 1];
  int64_t oh = out->shape[out->rank - 2], ow = out->shape[out->rank - 1];
  int64_t planes = prod(x->shape, x->rank - 2);
  for (int64_t pl = 0; pl < planes; pl++)
    for (int64_t y = 0; y < oh; y++)
      for (int64_t xo = 0; xo < ow; xo++) {
        int64_t o = (pl * oh + y) * ow + xo, win[4], count;
        if (!gc_avg_pool_window(y, xo, h, w, p.kernel, p.stride, p.pad, include_pad, win, &count))
          continue;
        int64_t y0 = win[0], y1 = win[1], x0 = win[2], x1 = win[3];
        if (is_float) {
          double acc = 0;
          for (int64_t iy = y0; iy < y1; iy++)
            for (int64_t ix = x0; ix < x1; ix++) acc += gc_tensor_getf(x, (pl * h + iy) * w + ix);
          gc_tensor_setf(out, o, acc / (double)count);
        } else { /* i64: wrapping sum, division truncating toward zero */
          int64_t acc = 0;
          for (int64_t iy = y0; iy < y1; iy++)
            for (int64_t ix = x0; ix < x1; ix++)
              acc = gc_ops_addi(acc, gc_tensor_geti(x, (pl * h + iy) * w + ix));
          gc_tensor_seti(out, o, acc / count);
        }
      }
  return NULL;
}

/* ---- adaptive_avg_pool2d ------------------------------------------------- */

static graphc_status_t adaptive_avg_pool2d_infer(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0);
  gc_dimtab *t = gc_infer_dims(ic);
  GC_TRY(check_numeric(ic, 0, "input", false));
  if (x->rank != 3 && x->rank != 4)
    return gc_infer_error(ic, "operand 0 (input): expected rank 4 [N, C, H, W] or 3 [C, H, W], got %s",
                          GC_OPS_TY(ic, x));
  int64_t size[2];
  GC_TRY(infer_pair(ic, "output_size", GC_POOL_ONES, false, 0, size));
  for (int i = x->rank - 3; i < x->rank; i++) {
    int64_t v;
    if (gc_dim_is_const(t, x->dims[i], &v) && v == 0)
      return gc_infer_error(ic, "operand 0 (input): dim %d is 0; only the batch dim may be empty, got %s",
                            i, GC_OPS_TY(ic, x));
  }
  ic->out[0] = *x;
  for (int i = 0; i < 2; i++)
    GC_TRY(dim_error(ic, gc_dim_const(t, size[i], &ic->out[0].dims[x->rank - 2 + i])));
  return NULL;
}

static graphc_status_t adaptive_avg_pool2d_eval(gc_eval_ctx *ec, const gc_node *n,
                                                const gc_tensor *const *in, gc_tensor *out) {
  (void)n;
  const gc_tensor *x = in[0];
  for (int i = x->rank - 3; i < x->rank; i++)
    if (x->shape[i] == 0)
      return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                           "input dim %d is 0; only the batch dim may be empty", i);
  int64_t h = x->shape[x->rank - 2], w = x->shape[x->rank - 1];
  int64_t oh = out->shape[out->rank - 2], ow = out->shape[out->rank - 1];
  int64_t planes = prod(x->shape, x->rank - 2);
  for (int64_t pl = 0; pl < planes; pl++)
    for (int64_t y = 0; y < oh; y++) {
      int64_t y0, y1;
      gc_adaptive_window(y, h, oh, &y0, &y1);
      for (int64_t xo = 0; xo < ow; xo++) {
        int64_t x0, x1;
        gc_adaptive_window(xo, w, ow, &x0, &x1);
        double acc = 0;
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++) acc += gc_tensor_getf(x, (pl * h + iy) * w + ix);
        gc_tensor_setf(out, (pl * oh + y) * ow + xo, acc / (double)((y1 - y0) * (x1 - x0)));
      }
    }
  return NULL;
}

/* ---- table --------------------------------------------------------------- */

const gc_op_info gc_ops_linalg[] = {
    {.name = "matmul", .min_operands = 2, .max_operands = 2, .nresults = 1,
     .doc = "matrix product with torch.matmul's 1-D, batched and broadcast cases",
     .infer = matmul_infer, .eval = matmul_eval},
    {.name = "linear", .min_operands = 2, .max_operands = 3, .nresults = 1,
     .doc = "x[..., K] @ weight[N, K]^T + bias[N]",
     .infer = linear_infer, .eval = linear_eval},
    {.name = "conv2d", .min_operands = 2, .max_operands = 3, .nresults = 1,
     .attrs = {{"stride", GRAPHC_ATTR_INTS, false},
               {"padding", GRAPHC_ATTR_INTS, false},
               {"dilation", GRAPHC_ATTR_INTS, false},
               {"groups", GRAPHC_ATTR_INT, false}},
     .doc = "2-D convolution (input [N, C, H, W] or [C, H, W], weight [O, C/groups, kH, kW])",
     .infer = conv2d_infer, .eval = conv2d_eval},
    {.name = "max_pool2d", .min_operands = 1, .max_operands = 1, .nresults = 1,
     .attrs = {{"kernel_size", GRAPHC_ATTR_INTS, true},
               {"stride", GRAPHC_ATTR_INTS, false},
               {"padding", GRAPHC_ATTR_INTS, false},
               {"dilation", GRAPHC_ATTR_INTS, false},
               {"ceil_mode", GRAPHC_ATTR_BOOL, false}},
     .doc = "2-D max pooling over the last two dims",
     .infer = max_pool2d_infer, .eval = max_pool2d_eval},
    {.name = "avg_pool2d", .min_operands = 1, .max_operands = 1, .nresults = 1,
     .attrs = {{"kernel_size", GRAPHC_ATTR_INTS, true},
               {"stride", GRAPHC_ATTR_INTS, false},
               {"padding", GRAPHC_ATTR_INTS, false},
               {"ceil_mode", GRAPHC_ATTR_BOOL, false},
               {"count_include_pad", GRAPHC_ATTR_BOOL, false}},
     .doc = "2-D average pooling over the last two dims",
     .infer = avg_pool2d_infer, .eval = avg_pool2d_eval},
    {.name = "adaptive_avg_pool2d", .min_operands = 1, .max_operands = 1, .nresults = 1,
     .attrs = {{"output_size", GRAPHC_ATTR_INTS, true}},
     .doc = "2-D average pooling to a fixed output size",
     .infer = adaptive_avg_pool2d_infer, .eval = adaptive_avg_pool2d_eval},
    {0},
};
