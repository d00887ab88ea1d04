/* Emitting helpers for gradient rules: every helper adds builder nodes to
 * the destination graph and returns a value id, or -1 after an error (kept
 * in ad->st, see ad.h). New nodes carry the location of the forward node
 * being differentiated, so a run-time error in a backward node points at
 * the op it came from. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "autodiff/ad.h"
#include "support/status.h"

void ad_fail(gc_ad *ad, graphc_status_code_t code, const char *fmt, ...) {
  if (ad->st) return;
  char msg[1024], where[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  gc_loc_format(ad->g, ad->loc, where, sizeof where);
  ad->st = gc_status(code, "%s: gradient: %s", where, msg);
}

bool ad_check(gc_ad *ad, graphc_status_t st) {
  if (!st) return false;
  if (ad->st) graphc_status_free(st);
  else ad->st = st;
  return true;
}

const gc_type *ad_ty(gc_ad *ad, int v) {
  static const gc_type none = {GRAPHC_F32, 0, {0}};
  if (v < 0 || v >= ad->g->nvalues) return &none;
  return &ad->g->values[v].type;
}

int ad_op_n(gc_ad *ad, const char *op, const int *in, int nin, const graphc_attr_t *attrs,
            int nattrs, int *results, int max) {
  if (!ad_ok(ad)) return -1;
  for (int i = 0; i < nin; i++)
    if (in[i] < 0) {
      ad_fail(ad, GRAPHC_STATUS_INTERNAL, "op '%s': operand %d is missing", op, i);
      return -1;
    }
  int node;
  if (ad_check(ad, gc_graph_add_node(ad->g, op, in, nin, attrs, nattrs, NULL, 0, NULL, ad->loc,
                                     &node)))
    return -1;
  const gc_node *n = &ad->g->nodes[node];
  for (int k = 0; k < n->nresults && k < max; k++) results[k] = n->results[k];
  return n->nresults;
}

int ad_op(gc_ad *ad, const char *op, const int *in, int nin, const graphc_attr_t *attrs,
          int nattrs) {
  int r = -1;
  return ad_op_n(ad, op, in, nin, attrs, nattrs, &r, 1) < 0 ? -1 : r;
}

int ad_un(gc_ad *ad, const char *op, int x) { return ad_op(ad, op, &x, 1, NULL, 0); }

int ad_bin(gc_ad *ad, const char *op, int a, int b) {
  int in[2] = {a, b};
  return ad_op(ad, op, in, 2, NULL, 0);
}

int ad_scalar(gc_ad *ad, double v, gc_dtype dt) {
  graphc_attr_t a[3] = {ad_a_dims("shape", NULL, 0), ad_a_float("value", v), ad_a_dtype("dtype", dt)};
  return ad_op(ad, "full", NULL, 0, a, 3);
}

int ad_mul_s(gc_ad *ad, int x, double v) {
  if (x < 0) return -1;
  return ad_bin(ad, "mul", x, ad_scalar(ad, v, ad_ty(ad, x)->dtype));
}

int ad_add_s(gc_ad *ad, int x, double v) {
  if (x < 0) return -1;
  return ad_bin(ad, "add", x, ad_scalar(ad, v, ad_ty(ad, x)->dtype));
}

int ad_zeros(gc_ad *ad, const gc_type *t) {
  graphc_attr_t a[2] = {ad_a_dims("shape", t->dims, t->rank), ad_a_dtype("dtype", t->dtype)};
  return ad_op(ad, "zeros", NULL, 0, a, 2);
}

int ad_zeros_like(gc_ad *ad, int v) {
  if (v < 0) return -1;
  gc_type t = *ad_ty(ad, v);
  return ad_zeros(ad, &t);
}

int ad_cast(gc_ad *ad, int x, gc_dtype dt) {
  if (x < 0 || ad_ty(ad, x)->dtype == dt) return x;
  graphc_attr_t a = ad_a_dtype("dtype", dt);
  return ad_op(ad, "cast", &x, 1, &a, 1);
}

static bool same_dims(const gc_type *t, const gc_dim *dims, int rank) {
  if (t->rank != rank) return false;
  for (int i = 0; i < rank; i++)
    if (t->dims[i] != dims[i]) return false;
  return true;
}

int ad_reshape(gc_ad *ad, int x, const gc_dim *dims, int rank) {
  if (x < 0 || same_dims(ad_ty(ad, x), dims, rank)) return x;
  graphc_attr_t a = ad_a_dims("shape", dims, rank);
  return ad_op(ad, "reshape", &x, 1, &a, 1);
}

int ad_reshape_like(gc_ad *ad, int x, int like) {
  if (like < 0) return -1;
  gc_type t = *ad_ty(ad, like);
  return ad_reshape(ad, x, t.dims, t.rank);
}

int ad_expand(gc_ad *ad, int x, const gc_dim *dims, int rank) {
  if (x < 0 || same_dims(ad_ty(ad, x), dims, rank)) return x;
  graphc_attr_t a = ad_a_dims("shape", dims, rank);
  return ad_op(ad, "expand", &x, 1, &a, 1);
}

int ad_sum(gc_ad *ad, int x, const int64_t *dims, int n, bool keepdim) {
  if (x < 0 || n == 0) return x; /* nothing to reduce (sum's empty list means all) */
  graphc_attr_t a[2] = {ad_a_ints("dim", dims, n), ad_a_bool("keepdim", keepdim)};
  return ad_op(ad, "sum", &x, 1, a, 2);
}

int ad_sum_dim(gc_ad *ad, int x, int dim, bool keepdim) {
  int64_t d = dim;
  return ad_sum(ad, x, &d, 1, keepdim);
}

int ad_mean_dim(gc_ad *ad, int x, int dim, bool keepdim) {
  int64_t d = dim;
  graphc_attr_t a[2] = {ad_a_ints("dim", &d, 1), ad_a_bool("keepdim", keepdim)};
  return ad_op(ad, "mean", &x, 1, a, 2);
}

int ad_transpose(gc_ad *ad, int x, int d0, int d1) {
  graphc_attr_t a[2] = {ad_a_int("dim0", d0), ad_a_int("dim1", d1)};
  return ad_op(ad, "transpose", &x, 1, a, 2);
}

int ad_unsqueeze(gc_ad *ad, int x, int dim) {
  graphc_attr_t a = ad_a_int("dim", dim);
  return ad_op(ad, "unsqueeze", &x, 1, &a, 1);
}

int ad_where(gc_ad *ad, int cond, int a, int b) {
  int in[3] = {cond, a, b};
  return ad_op(ad, "where", in, 3, NULL, 0);
}

static bool is_one(gc_ad *ad, gc_dim d) {
  int64_t v;
  return gc_dim_is_const(gc_graph_dims(ad->g), d, &v) && v == 1;
}

int ad_unbroadcast(gc_ad *ad, int g, const gc_type *target) {
  if (g < 0) return -1;
  gc_type gt = *ad_ty(ad, g);
  int lead = gt.rank - target->rank;
  if (lead < 0) {
    ad_fail(ad, GRAPHC_STATUS_INTERNAL, "gradient of rank %d for an operand of rank %d", gt.rank,
            target->rank);
    return -1;
  }
  int64_t dims[GC_MAX_RANK];
  int n = 0;
  for (int d = 0; d < gt.rank; d++) {
    if (d < lead) {
      dims[n++] = d;
      continue;
    }
    gc_dim want = target->dims[d - lead];
    if (want == gt.dims[d]) continue;
    if (!is_one(ad, want)) {
      ad_fail(ad, GRAPHC_STATUS_INTERNAL, "gradient dim %d (%s) does not broadcast from %s", d,
              gc_dim_str(gc_graph_dims(ad->g), gt.dims[d]), gc_dim_str(gc_graph_dims(ad->g), want));
      return -1;
    }
    dims[n++] = d;
  }
  int s = ad_sum(ad, g, dims, n, true);
  s = ad_reshape(ad, s, target->dims, target->rank);
  return ad_cast(ad, s, target->dtype);
}

int ad_restore_reduced(gc_ad *ad, int g, const gc_type *x, const bool *mask, bool keepdim) {
  if (g < 0) return -1;
  if (!keepdim) {
    gc_dim kd[GC_MAX_RANK];
    gc_dim one = ad_const_dim(ad, 1);
    for (int d = 0; d < x->rank; d++) kd[d] = mask[d] ? one : x->dims[d];
    g = ad_reshape(ad, g, kd, x->rank);
  }
  return ad_expand(ad, g, x->dims, x->rank);
}

int ad_numel(gc_ad *ad, const gc_dim *dims, int n, gc_dtype dt) {
  if (!ad_ok(ad)) return -1;
  gc_dimtab *t = gc_graph_dims(ad->g);
  gc_dim p = ad_const_dim(ad, 1);
  for (int i = 0; ad_ok(ad) && i < n; i++) ad_check(ad, gc_dim_mul(t, p, dims[i], &p));
  if (!ad_ok(ad)) return -1;
  int64_t v;
  if (gc_dim_is_const(t, p, &v)) return ad_scalar(ad, (double)v, dt);
  /* A symbolic count: sum a vector of that many ones (exact in i64). */
  graphc_attr_t a[2] = {ad_a_dims("shape", &p, 1), ad_a_dtype("dtype", GRAPHC_I64)};
  int ones = ad_op(ad, "ones", NULL, 0, a, 2);
  int64_t all = 0;
  return ad_cast(ad, ad_sum(ad, ones, &all, 1, false), dt);
}

int ad_gout(gc_ad *ad, gc_grad_call *c, int k) {
  if (c->gout[k] >= 0) return c->gout[k];
  return ad_zeros_like(ad, c->out[k]);
}
