/* Gradients of the region ops.
 *
 * checkpoint: the forward part keeps the checkpoint node whole (its
 * intermediates die inside it); the backward part emits the region's nodes
 * again on the operands and differentiates through that copy.
 *
 * scaled_dot_product_attention: the forward part keeps the fused node; the
 * backward part builds the op's decomposition as a helper region (matmul,
 * scale, score function inlined as a `call`, masks, a softmax that gives
 * fully masked rows zeros, matmul) and treats it like a checkpoint region.
 * So the score function is differentiated like any other code, captures
 * included. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "support/status.h"

static void g_checkpoint(gc_ad *ad, gc_grad_call *c) {
  char prefix[128];
  snprintf(prefix, sizeof prefix, "%s.rc", ad->g->values[c->out[0]].name);
  ad_through_region(ad, c->node->regions[0], c->env->dst_dims, c->in, c->gout, prefix);
}

/* ---- attention ------------------------------------------------------------ */

static int arange_as(gc_ad *ad, gc_dim n, int axis, int rank) {
  graphc_attr_t a[2] = {ad_a_dims("end", &n, 1), ad_a_dtype("dtype", GRAPHC_I64)};
  int r = ad_op(ad, "arange", NULL, 0, a, 2);
  gc_dim shape[GC_MAX_RANK];
  for (int i = 0; i < rank; i++) shape[i] = i == axis ? n : ad_const_dim(ad, 1);
  return ad_reshape(ad, r, shape, rank);
}

/* Builds the decomposition inside region `r` (ad->g is r meanwhile).
 * ins: the region's inputs (q, k, v, mask?, captures...); out_type: the
 * attention result's type. */
static int build_attention(gc_ad *ad, const gc_grad_call *c, const int *ins, const gc_type *out_type) {
  const gc_node *n = c->node;
  int q = ins[0], k = ins[1], v = ins[2];
  gc_type tq = *ad_ty(ad, q), tk = *ad_ty(ad, k), to = *out_type;
  gc_dtype dt = tq.dtype;
  int rank = to.rank;
  gc_dim sq = tq.dims[tq.rank - 2], skv = tk.dims[tk.rank - 2], d = tq.dims[tq.rank - 1];
  int scale;
  if (gc_node_attr(n, "scale")) scale = ad_scalar(ad, gc_attr_float(n, "scale", 1.0), dt);
  else scale = ad_un(ad, "rsqrt", ad_numel(ad, &d, 1, dt));
  int s = ad_bin(ad, "mul", ad_bin(ad, "matmul", q, ad_transpose(ad, k, -2, -1)), scale);
  gc_dim sdims[GC_MAX_RANK];
  for (int i = 0; i < rank - 2; i++) sdims[i] = to.dims[i];
  sdims[rank - 2] = sq, sdims[rank - 1] = skv;
  s = ad_expand(ad, s, sdims, rank);
  bool has_mask = gc_attr_bool(n, "has_mask", false);
  int cap0 = 3 + has_mask;
  if (n->nregions == 1) {
    const gc_graph *sr = n->regions[0];
    int ncap = n->noperands - cap0;
    int *ops = malloc(sizeof *ops * (size_t)(5 + ncap));
    if (!ops) return ad_check(ad, GC_OOM()), -1;
    ops[0] = ad_cast(ad, s, sr->values[sr->inputs[0]].type.dtype);
    for (int a = 0; a < 4; a++) ops[1 + a] = arange_as(ad, sdims[a], a, 4);
    for (int i = 0; i < ncap; i++) ops[5 + i] = ins[cap0 + i];
    gc_graph *clone = ad_clone_region(ad, c->env, sr, ad->g);
    int node = -1;
    if (clone)
      for (int i = 0; i < 5 + ncap; i++)
        if (ops[i] < 0) ad_fail(ad, GRAPHC_STATUS_INTERNAL, "attention operand %d missing", i);
    if (clone && ad_ok(ad)) {
      ad_check(ad, gc_graph_add_node(ad->g, "call", ops, 5 + ncap, NULL, 0, &clone, 1, NULL,
                                     ad->loc, &node));
      clone = NULL;
    }
    if (clone) gc_graph_destroy(clone);
    free(ops);
    if (!ad_ok(ad)) return -1;
    /* The result broadcasts to the scores (right-aligned). */
    s = ad_cast(ad, ad_expand(ad, ad->g->nodes[node].results[0], sdims, rank), dt);
  }
  int ninf = ad_scalar(ad, -INFINITY, dt);
  if (gc_attr_bool(n, "causal", false)) {
    int keep = ad_bin(ad, "le", arange_as(ad, skv, 1, 2), arange_as(ad, sq, 0, 2));
    s = ad_where(ad, keep, s, ninf);
  }
  if (has_mask) {
    int m = ins[3];
    s = ad_ty(ad, m)->dtype == GRAPHC_BOOL ? ad_where(ad, m, s, ninf) : ad_bin(ad, "add", s, m);
  }
  /* Softmax over the last dim with the max shift held constant; a row with
   * every score -inf gets all-zero weights (PyTorch's _safe_softmax). */
  int64_t last = rank - 1;
  graphc_attr_t am[2] = {ad_a_ints("dim", &last, 1), ad_a_bool("keepdim", true)};
  int mx = ad_un(ad, "detach", ad_op(ad, "amax", &s, 1, am, 2));
  int zero = ad_scalar(ad, 0.0, dt);
  mx = ad_where(ad, ad_bin(ad, "eq", mx, ninf), zero, mx);
  int e = ad_un(ad, "exp", ad_bin(ad, "sub", s, mx));
  int sum = ad_sum_dim(ad, e, rank - 1, true);
  sum = ad_where(ad, ad_bin(ad, "eq", sum, zero), ad_scalar(ad, 1.0, dt), sum);
  int p = ad_bin(ad, "div", e, sum);
  return ad_bin(ad, "matmul", p, v);
}

static void g_attention(gc_ad *ad, gc_grad_call *c) {
  const gc_node *n = c->node;
  gc_graph *outer = ad->g, *r = NULL;
  if (ad_check(ad, gc_graph_new(outer->ctx, "attention_backward", outer, &r))) return;
  int *ins = malloc(sizeof *ins * (size_t)n->noperands);
  if (!ins) ad_check(ad, GC_OOM());
  for (int i = 0; ad_ok(ad) && i < n->noperands; i++) {
    char name[32];
    snprintf(name, sizeof name, "in%d", i);
    gc_type t = *ad_ty(ad, c->in[i]);
    ad_check(ad, gc_graph_add_input(r, name, GRAPHC_ROLE_INPUT, &t, ad->loc, &ins[i]));
  }
  gc_type out_type = *ad_ty(ad, c->out[0]);
  ad->g = r; /* the helpers now build inside the region */
  int out = ad_ok(ad) ? build_attention(ad, c, ins, &out_type) : -1;
  if (ad_ok(ad)) ad_check(ad, gc_graph_set_outputs(r, &out, 1));
  ad->g = outer;
  if (ad_ok(ad)) {
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s.bw", outer->values[c->out[0]].name);
    ad_through_region(ad, r, true, c->in, c->gout, prefix);
  }
  free(ins);
  gc_graph_destroy(r);
}

const gc_grad_rule gc_grad_rules_region[] = {
    {"checkpoint", g_checkpoint, false},
    {"scaled_dot_product_attention", g_attention, false},
    {NULL, NULL, false},
};
