/* Gradients of the indexing ops. A gathered row may be read several
 * times, so the backward scatters with accumulation: index_add for
 * index_select and embedding, scatter_add for gather (lib/ops/ops_grad.c).
 * Data-dependent and creation ops have no gradient. */
#include "autodiff/ad.h"

static int index_add(gc_ad *ad, int base, int index, int src, int dim) {
  int in[3] = {base, index, src};
  graphc_attr_t a = ad_a_int("dim", dim);
  return ad_op(ad, "index_add", in, 3, &a, 1);
}

static void g_index_select(gc_ad *ad, gc_grad_call *c) {
  int d = 0;
  gc_wrap_dim(gc_attr_int(c->node, "dim", 0), ad_ty(ad, c->in[0])->rank, &d);
  c->gin[0] = index_add(ad, ad_zeros_like(ad, c->in[0]), c->in[1], c->gout[0], d);
}

static void g_gather(gc_ad *ad, gc_grad_call *c) {
  int in[3] = {ad_zeros_like(ad, c->in[0]), c->in[1], c->gout[0]};
  graphc_attr_t a = ad_a_int("dim", gc_attr_int(c->node, "dim", 0));
  c->gin[0] = ad_op(ad, "scatter_add", in, 3, &a, 1);
}

/* Rows of the gradient, one per index, are added into the weight's rows. */
static void g_embedding(gc_ad *ad, gc_grad_call *c) {
  int idx = c->in[0], w = c->in[1], g = c->gout[0];
  gc_type ti = *ad_ty(ad, idx), tw = *ad_ty(ad, w);
  gc_dim n = ad_const_dim(ad, 1);
  for (int i = 0; i < ti.rank && ad_ok(ad); i++)
    ad_check(ad, gc_dim_mul(gc_graph_dims(ad->g), n, ti.dims[i], &n));
  gc_dim rows[2] = {n, tw.dims[1]};
  int flat_idx = ad_reshape(ad, idx, &n, 1);
  int flat_g = ad_reshape(ad, g, rows, 2);
  c->gin[1] = index_add(ad, ad_zeros_like(ad, w), flat_idx, flat_g, 0);
}

#define NONDIFF(name) {name, NULL, true}

const gc_grad_rule gc_grad_rules_index[] = {
    {"index_select", g_index_select, false},
    {"gather", g_gather, false},
    {"embedding", g_embedding, false},
    NONDIFF("nonzero"), NONDIFF("item"), NONDIFF("full"), NONDIFF("zeros"),
    NONDIFF("ones"), NONDIFF("arange"), NONDIFF("detach"),
    {NULL, NULL, false},
};
