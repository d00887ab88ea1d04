/* Gradients of layer_norm, cross_entropy, mse_loss and dropout. Statistics
 * the forward op does not return (layer_norm's mean and 1/std, the softmax
 * of cross_entropy) are recomputed from the saved inputs. */
#include <string.h>

#include "autodiff/ad.h"

static int reduce(gc_ad *ad, const char *op, int x, const int64_t *dims, int n, bool keepdim) {
  if (n == 0) return x;
  graphc_attr_t a[2] = {ad_a_ints("dim", dims, n), ad_a_bool("keepdim", keepdim)};
  return ad_op(ad, op, &x, 1, a, 2);
}

/* x_hat = (x - mean) * rstd over the normalized dims; then
 * dx = rstd * (dy - mean(dy) - x_hat * mean(dy * x_hat)), dy = grad * weight,
 * dweight = sum(grad * x_hat), dbias = sum(grad) over the leading dims. */
static void g_layer_norm(gc_ad *ad, gc_grad_call *c) {
  int x = c->in[0], g = c->gout[0];
  gc_type xt = *ad_ty(ad, x);
  int k = gc_node_attr(c->node, "normalized_shape")->count, lead = xt.rank - k;
  int64_t norm[GC_MAX_RANK], outer[GC_MAX_RANK];
  for (int i = 0; i < k; i++) norm[i] = lead + i;
  for (int i = 0; i < lead; i++) outer[i] = i;
  int mean = reduce(ad, "mean", x, norm, k, true);
  int xc = ad_bin(ad, "sub", x, mean);
  int var = reduce(ad, "mean", ad_bin(ad, "mul", xc, xc), norm, k, true);
  int rstd = ad_un(ad, "rsqrt", ad_add_s(ad, var, gc_attr_float(c->node, "eps", 1e-5)));
  int xhat = ad_bin(ad, "mul", xc, rstd);
  bool has_w = c->node->noperands > 1;
  if (c->need[0]) {
    int dy = has_w ? ad_cast(ad, ad_bin(ad, "mul", g, c->in[1]), xt.dtype) : g;
    int m1 = reduce(ad, "mean", dy, norm, k, true);
    int m2 = reduce(ad, "mean", ad_bin(ad, "mul", dy, xhat), norm, k, true);
    int inner = ad_bin(ad, "sub", ad_bin(ad, "sub", dy, m1), ad_bin(ad, "mul", xhat, m2));
    c->gin[0] = ad_bin(ad, "mul", rstd, inner);
  }
  for (int i = 1; i < c->node->noperands; i++) {
    if (!c->need[i]) continue;
    int d = i == 1 ? ad_bin(ad, "mul", g, xhat) : g;
    c->gin[i] = ad_cast(ad, reduce(ad, "sum", d, outer, lead, false), ad_ty(ad, c->in[i])->dtype);
  }
}

/* Per non-ignored row: grad / count * (softmax(z) - (1 - ls) * onehot(t) - ls / C);
 * ignored rows get 0 (count = number of non-ignored rows). Targets of
 * ignored rows are never read as indices, so any value is fine there. */
static void g_cross_entropy(gc_ad *ad, gc_grad_call *c) {
  int z = c->in[0], t = c->in[1], g = c->gout[0];
  gc_type zt = *ad_ty(ad, z);
  gc_dtype dt = zt.dtype;
  double ls = gc_attr_float(c->node, "label_smoothing", 0.0);
  int64_t all = 0;
  int ignore = ad_scalar(ad, (double)gc_attr_int(c->node, "ignore_index", -100), GRAPHC_I64);
  int keep = ad_bin(ad, "ne", t, ignore);
  int count = ad_sum(ad, ad_cast(ad, keep, dt), &all, 1, false);
  graphc_attr_t sa = ad_a_int("dim", 1);
  int p = ad_op(ad, "softmax", &z, 1, &sa, 1);
  graphc_attr_t ar[2] = {ad_a_dims("end", &zt.dims[1], 1), ad_a_dtype("dtype", GRAPHC_I64)};
  int cls = ad_op(ad, "arange", NULL, 0, ar, 2);
  int onehot = ad_cast(ad, ad_bin(ad, "eq", ad_unsqueeze(ad, t, 1), ad_unsqueeze(ad, cls, 0)), dt);
  int d = ad_bin(ad, "sub", p, ls > 0 ? ad_mul_s(ad, onehot, 1.0 - ls) : onehot);
  if (ls > 0)
    d = ad_bin(ad, "sub", d, ad_bin(ad, "div", ad_scalar(ad, ls, dt), ad_numel(ad, &zt.dims[1], 1, dt)));
  /* where, not a product: with every row ignored count is 0 and the
   * gradient is 0, as in PyTorch (whose loss is then nan). */
  int row = ad_where(ad, keep, ad_bin(ad, "div", g, count), ad_scalar(ad, 0.0, dt));
  c->gin[0] = ad_bin(ad, "mul", d, ad_unsqueeze(ad, row, 1));
}

/* norm * (a - b) * grad, norm = 2 / numel for 'mean', else 2. */
static void g_mse_loss(gc_ad *ad, gc_grad_call *c) {
  int a = c->in[0], b = c->in[1], g = c->gout[0];
  int diff = ad_bin(ad, "sub", a, b);
  gc_type dt = *ad_ty(ad, diff);
  int scaled;
  if (strcmp(gc_attr_str(c->node, "reduction", "mean"), "mean") == 0)
    scaled = ad_bin(ad, "mul", diff,
                    ad_bin(ad, "div", ad_scalar(ad, 2.0, dt.dtype), ad_numel(ad, dt.dims, dt.rank, dt.dtype)));
  else
    scaled = ad_mul_s(ad, diff, 2.0);
  int full = ad_bin(ad, "mul", scaled, g);
  for (int i = 0; i < 2; i++) {
    if (!c->need[i]) continue;
    gc_type t = *ad_ty(ad, c->in[i]);
    c->gin[i] = ad_unbroadcast(ad, i == 0 ? full : ad_un(ad, "neg", full), &t);
  }
}

/* The same seed gives the same mask: the gradient is dropout of the
 * incoming gradient with the same seed, p and train. */
static void g_dropout(gc_ad *ad, gc_grad_call *c) {
  graphc_attr_t a[2] = {ad_a_float("p", gc_attr_float(c->node, "p", 0.5)),
                        ad_a_bool("train", gc_attr_bool(c->node, "train", true))};
  int in[2] = {c->gout[0], c->in[1]};
  c->gin[0] = ad_op(ad, "dropout", in, 2, a, 2);
}

const gc_grad_rule gc_grad_rules_nn[] = {
    {"layer_norm", g_layer_norm, false},
    {"cross_entropy", g_cross_entropy, false},
    {"mse_loss", g_mse_loss, false},
    {"dropout", g_dropout, false},
    {NULL, NULL, false},
};
