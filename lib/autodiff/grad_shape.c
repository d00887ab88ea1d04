/* Gradients of the shape ops: each moves the gradient back through the
 * inverse view (reshape back, inverse permutation, sum over expanded dims,
 * embed a slice into zeros, cut cat's gradient into pieces, cat split's
 * pieces). Cut points of cat may be symbolic (narrow takes dims). */
#include <stdlib.h>

#include "autodiff/ad.h"

static void g_reshape(gc_ad *ad, gc_grad_call *c) {
  c->gin[0] = ad_reshape_like(ad, c->gout[0], c->in[0]);
}

static void g_permute(gc_ad *ad, gc_grad_call *c) {
  const gc_attr *p = gc_node_attr(c->node, "dims");
  int rank = ad_ty(ad, c->in[0])->rank;
  int64_t inv[GC_MAX_RANK];
  for (int i = 0; i < p->count && i < GC_MAX_RANK; i++) {
    int d = 0;
    gc_wrap_dim(p->ints[i], rank, &d);
    inv[d] = i;
  }
  graphc_attr_t a = ad_a_ints("dims", inv, rank);
  c->gin[0] = ad_op(ad, "permute", &c->gout[0], 1, &a, 1);
}

static void g_transpose(gc_ad *ad, gc_grad_call *c) {
  c->gin[0] = ad_transpose(ad, c->gout[0], (int)gc_attr_int(c->node, "dim0", 0),
                           (int)gc_attr_int(c->node, "dim1", 0));
}

static void g_expand(gc_ad *ad, gc_grad_call *c) {
  gc_type t = *ad_ty(ad, c->in[0]);
  c->gin[0] = ad_unbroadcast(ad, c->gout[0], &t);
}

/* The gradient lands in the sliced positions of a zero tensor. */
static void g_slice(gc_ad *ad, gc_grad_call *c) {
  graphc_attr_t a[4];
  int na = 0;
  static const char *const names[] = {"dim", "start", "end", "step"};
  for (int i = 0; i < 4; i++) {
    const gc_attr *s = gc_node_attr(c->node, names[i]);
    if (s) a[na++] = ad_a_int(s->name, s->i);
  }
  int in[2] = {ad_zeros_like(ad, c->in[0]), c->gout[0]};
  c->gin[0] = ad_op(ad, "slice_scatter", in, 2, a, na);
}

/* Operand k's gradient is g[offset_k : offset_k + size_k] along dim. */
static void g_cat(gc_ad *ad, gc_grad_call *c) {
  int g = c->gout[0];
  gc_type tg = *ad_ty(ad, g);
  gc_dimtab *t = gc_graph_dims(ad->g);
  int d = 0;
  gc_wrap_dim(gc_attr_int(c->node, "dim", 0), tg.rank, &d);
  gc_dim off = ad_const_dim(ad, 0);
  for (int k = 0; k < c->node->noperands && ad_ok(ad); k++) {
    gc_type tk = *ad_ty(ad, c->in[k]);
    gc_dim len = tk.dims[d];
    if (c->need[k]) {
      int64_t o, l;
      int piece;
      if (gc_dim_is_const(t, off, &o) && gc_dim_is_const(t, len, &l)) {
        graphc_attr_t a[3] = {ad_a_int("dim", d), ad_a_int("start", o), ad_a_int("end", o + l)};
        piece = ad_op(ad, "slice", &g, 1, a, 3);
      } else {
        graphc_attr_t a[3] = {ad_a_int("dim", d), ad_a_dims("start", &off, 1),
                              ad_a_dims("length", &len, 1)};
        piece = ad_op(ad, "narrow", &g, 1, a, 3);
      }
      c->gin[k] = ad_cast(ad, piece, tk.dtype);
    }
    ad_check(ad, gc_dim_add(t, off, len, &off));
  }
}

static void g_split(gc_ad *ad, gc_grad_call *c) {
  int n = c->node->nresults;
  int *parts = malloc(sizeof *parts * (size_t)n);
  if (!parts) {
    ad_fail(ad, GRAPHC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  for (int k = 0; k < n; k++) parts[k] = ad_gout(ad, c, k);
  graphc_attr_t a = ad_a_int("dim", gc_attr_int(c->node, "dim", 0));
  c->gin[0] = ad_op(ad, "cat", parts, n, &a, 1);
  free(parts);
}

const gc_grad_rule gc_grad_rules_shape[] = {
    {"reshape", g_reshape, false},     {"view", g_reshape, false},
    {"squeeze", g_reshape, false},     {"unsqueeze", g_reshape, false},
    {"permute", g_permute, false},     {"transpose", g_transpose, false},
    {"expand", g_expand, false},       {"slice", g_slice, false},
    {"cat", g_cat, false},             {"split", g_split, false},
    {NULL, NULL, false},
};
