/* Gradients of reductions and softmax. A reduced gradient is first given
 * back its reduced dims as size 1 (restore_reduced_dims in PyTorch), then
 * expanded to the input's shape; symbolic sizes stay symbolic (mean's
 * divisor is counted at run time when it is not a constant). */
#include "autodiff/ad.h"

/* Which dims of a rank-`rank` input the node reduces ("dim" absent or
 * empty: all). Returns the number of reduced dims, listed in `list`. */
static int reduced_dims(const gc_node *n, int rank, bool *mask, int64_t *list) {
  const gc_attr *a = gc_node_attr(n, "dim");
  int count = a ? a->count : 0;
  for (int d = 0; d < GC_MAX_RANK; d++) mask[d] = count == 0 && d < rank;
  for (int k = 0; k < count; k++) {
    int d;
    if (rank > 0 && gc_wrap_dim(a->ints[k], rank, &d)) mask[d] = true;
  }
  int n_red = 0;
  for (int d = 0; d < rank; d++)
    if (mask[d]) list[n_red++] = d;
  return n_red;
}

static void g_sum_mean(gc_ad *ad, gc_grad_call *c, bool mean) {
  gc_type x = *ad_ty(ad, c->in[0]);
  bool mask[GC_MAX_RANK];
  int64_t list[GC_MAX_RANK];
  int nred = reduced_dims(c->node, x.rank, mask, list);
  int g = ad_restore_reduced(ad, c->gout[0], &x, mask, gc_attr_bool(c->node, "keepdim", false));
  if (mean) {
    gc_dim red[GC_MAX_RANK];
    for (int k = 0; k < nred; k++) red[k] = x.dims[list[k]];
    g = ad_bin(ad, "div", g, ad_numel(ad, red, nred, x.dtype));
  }
  c->gin[0] = ad_cast(ad, g, x.dtype);
}

static void g_sum(gc_ad *ad, gc_grad_call *c) { g_sum_mean(ad, c, false); }
static void g_mean(gc_ad *ad, gc_grad_call *c) { g_sum_mean(ad, c, true); }

/* Spread evenly over the elements equal to the extremum:
 * (grad / count) * (x == result), both in the keepdim shape. */
static void g_amax_amin(gc_ad *ad, gc_grad_call *c) {
  gc_type x = *ad_ty(ad, c->in[0]);
  bool mask[GC_MAX_RANK];
  int64_t list[GC_MAX_RANK];
  int nred = reduced_dims(c->node, x.rank, mask, list);
  gc_dim kd[GC_MAX_RANK];
  gc_dim one = ad_const_dim(ad, 1);
  for (int d = 0; d < x.rank; d++) kd[d] = mask[d] ? one : x.dims[d];
  int gk = ad_reshape(ad, c->gout[0], kd, x.rank);
  int yk = ad_reshape(ad, c->out[0], kd, x.rank);
  int hit = ad_cast(ad, ad_bin(ad, "eq", c->in[0], yk), x.dtype);
  int count = ad_sum(ad, hit, list, nred, true);
  c->gin[0] = ad_bin(ad, "mul", ad_bin(ad, "div", gk, count), hit);
}

static int softmax_dim(gc_ad *ad, gc_grad_call *c) {
  int d = 0;
  gc_wrap_dim(gc_attr_int(c->node, "dim", 0), ad_ty(ad, c->in[0])->rank, &d);
  return d;
}

/* (grad - sum(grad * y, dim)) * y */
static void g_softmax(gc_ad *ad, gc_grad_call *c) {
  int g = c->gout[0], y = c->out[0];
  int s = ad_sum_dim(ad, ad_bin(ad, "mul", g, y), softmax_dim(ad, c), true);
  c->gin[0] = ad_bin(ad, "mul", ad_bin(ad, "sub", g, s), y);
}

/* grad - exp(y) * sum(grad, dim) */
static void g_log_softmax(gc_ad *ad, gc_grad_call *c) {
  int g = c->gout[0];
  int s = ad_sum_dim(ad, g, softmax_dim(ad, c), true);
  c->gin[0] = ad_bin(ad, "sub", g, ad_bin(ad, "mul", ad_un(ad, "exp", c->out[0]), s));
}

const gc_grad_rule gc_grad_rules_reduce[] = {
    {"sum", g_sum, false},
    {"mean", g_mean, false},
    {"amax", g_amax_amin, false},
    {"amin", g_amax_amin, false},
    {"argmax", NULL, true},
    {"softmax", g_softmax, false},
    {"log_softmax", g_log_softmax, false},
    {NULL, NULL, false},
};
