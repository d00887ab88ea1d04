/* Gradients of matmul, linear, conv2d and the pooling ops. Products are
 * transposed products; broadcast batch dims are summed away. Convolution
 * and pooling use the backward ops of lib/ops/ops_grad.c, which take the
 * forward attributes unchanged plus the input's (symbolic) shape. */
#include <string.h>

#include "autodiff/ad.h"

/* ---- matmul ------------------------------------------------------------------ */

/* 1-D operands are promoted to matrices ([1, K] and [K, 1]) and the unit
 * dims put back into the gradient; then
 *   da = g @ b^T,  db = a^T @ g,
 * each summed over the batch dims the operand was broadcast along. */
static void g_matmul(gc_ad *ad, gc_grad_call *c) {
  gc_type ta = *ad_ty(ad, c->in[0]), tb = *ad_ty(ad, c->in[1]);
  gc_type a2 = ta, b2 = tb;
  int a = c->in[0], b = c->in[1], g = c->gout[0];
  gc_dim one = ad_const_dim(ad, 1);
  if (ta.rank == 1) {
    a2.rank = 2, a2.dims[0] = one, a2.dims[1] = ta.dims[0];
    a = ad_unsqueeze(ad, a, 0);
  }
  if (tb.rank == 1) {
    b2.rank = 2, b2.dims[1] = one;
    b = ad_unsqueeze(ad, b, 1);
    g = ad_unsqueeze(ad, g, -1);
  }
  if (ta.rank == 1) g = ad_unsqueeze(ad, g, -2);
  if (c->need[0]) {
    int d = ad_bin(ad, "matmul", g, ad_transpose(ad, b, -2, -1));
    c->gin[0] = ad_reshape(ad, ad_unbroadcast(ad, d, &a2), ta.dims, ta.rank);
  }
  if (c->need[1]) {
    int d = ad_bin(ad, "matmul", ad_transpose(ad, a, -2, -1), g);
    c->gin[1] = ad_reshape(ad, ad_unbroadcast(ad, d, &b2), tb.dims, tb.rank);
  }
}

/* ---- linear ----------------------------------------------------------------- */

/* dx = g @ w;  dw = g^T @ x over all leading rows;  db = sum of g rows. */
static void g_linear(gc_ad *ad, gc_grad_call *c) {
  int x = c->in[0], w = c->in[1], g = c->gout[0];
  gc_type tx = *ad_ty(ad, x), tg = *ad_ty(ad, g);
  if (c->need[0]) c->gin[0] = ad_bin(ad, "matmul", g, w);
  if (c->need[1]) {
    if (tx.rank == 1) {
      c->gin[1] = ad_bin(ad, "matmul", ad_unsqueeze(ad, g, 1), ad_unsqueeze(ad, x, 0));
    } else {
      gc_dim rows = ad_const_dim(ad, 1);
      for (int i = 0; i + 1 < tx.rank && ad_ok(ad); i++)
        ad_check(ad, gc_dim_mul(gc_graph_dims(ad->g), rows, tx.dims[i], &rows));
      gc_dim gd[2] = {rows, tg.dims[tg.rank - 1]}, xd[2] = {rows, tx.dims[tx.rank - 1]};
      int g2 = ad_reshape(ad, g, gd, 2), x2 = ad_reshape(ad, x, xd, 2);
      c->gin[1] = ad_bin(ad, "matmul", ad_transpose(ad, g2, 0, 1), x2);
    }
  }
  if (c->node->noperands == 3 && c->need[2]) {
    int64_t lead[GC_MAX_RANK];
    for (int i = 0; i + 1 < tg.rank; i++) lead[i] = i;
    c->gin[2] = ad_sum(ad, g, lead, tg.rank - 1, false);
  }
}

/* ---- conv2d and pooling -------------------------------------------------------- */

/* Copies the listed int/bool/ints attributes of the source node that are set. */
static int copy_attrs(const gc_node *n, const char *const *names, graphc_attr_t *out) {
  int k = 0;
  for (; *names; names++) {
    const gc_attr *a = gc_node_attr(n, *names);
    if (!a) continue;
    out[k++] = (graphc_attr_t){.name = a->name, .kind = a->kind, .i = a->i, .f = a->f,
                               .ints = a->ints, .count = a->count};
  }
  return k;
}

static const char *const CONV_ATTRS[] = {"stride", "padding", "dilation", "groups", NULL};

static void g_conv2d(gc_ad *ad, gc_grad_call *c) {
  int x = c->in[0], w = c->in[1], g = c->gout[0];
  gc_type tx = *ad_ty(ad, x), tw = *ad_ty(ad, w);
  graphc_attr_t a[8];
  int na = copy_attrs(c->node, CONV_ATTRS, a);
  if (c->need[0]) {
    a[na] = ad_a_dims("input_shape", tx.dims, tx.rank);
    int in[2] = {g, w};
    c->gin[0] = ad_op(ad, "conv2d_backward_input", in, 2, a, na + 1);
  }
  if (c->need[1]) {
    a[na] = ad_a_dims("weight_shape", tw.dims, tw.rank);
    int in[2] = {x, g};
    c->gin[1] = ad_op(ad, "conv2d_backward_weight", in, 2, a, na + 1);
  }
  if (c->node->noperands == 3 && c->need[2]) {
    int64_t d4[3] = {0, 2, 3}, d3[2] = {1, 2};
    c->gin[2] = tx.rank == 4 ? ad_sum(ad, g, d4, 3, false) : ad_sum(ad, g, d3, 2, false);
  }
}

static void g_max_pool2d(gc_ad *ad, gc_grad_call *c) {
  static const char *const names[] = {"kernel_size", "stride", "padding", "dilation", "ceil_mode", NULL};
  graphc_attr_t a[8];
  int na = copy_attrs(c->node, names, a);
  int in[2] = {c->gout[0], c->in[0]};
  c->gin[0] = ad_op(ad, "max_pool2d_backward", in, 2, a, na);
}

static void g_avg_pool2d(gc_ad *ad, gc_grad_call *c) {
  static const char *const names[] = {"kernel_size", "stride", "padding", "ceil_mode",
                                      "count_include_pad", NULL};
  gc_type tx = *ad_ty(ad, c->in[0]);
  graphc_attr_t a[8];
  int na = copy_attrs(c->node, names, a);
  a[na++] = ad_a_dims("input_shape", tx.dims, tx.rank);
  c->gin[0] = ad_op(ad, "avg_pool2d_backward", &c->gout[0], 1, a, na);
}

static void g_adaptive_avg_pool2d(gc_ad *ad, gc_grad_call *c) {
  gc_type tx = *ad_ty(ad, c->in[0]);
  graphc_attr_t a = ad_a_dims("input_shape", tx.dims, tx.rank);
  c->gin[0] = ad_op(ad, "adaptive_avg_pool2d_backward", &c->gout[0], 1, &a, 1);
}

const gc_grad_rule gc_grad_rules_linalg[] = {
    {"matmul", g_matmul, false},
    {"linear", g_linear, false},
    {"conv2d", g_conv2d, false},
    {"max_pool2d", g_max_pool2d, false},
    {"avg_pool2d", g_avg_pool2d, false},
    {"adaptive_avg_pool2d", g_adaptive_avg_pool2d, false},
    {NULL, NULL, false},
};
