/* Ops that hold regions: checkpoint, call, scaled_dot_product_attention.
 *
 * A region is a closed nested graph: its inputs bind, in order, the
 * operands the op hands it, and their declared types must match those
 * operands exactly (dtype, rank, and every dim id), since regions share the
 * root graph's dim table. checkpoint and call simply run their region (a
 * checkpoint only differs in how backward treats it). Attention optionally
 * runs a score-function region over the whole score tensor at once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_common.h"

/* ---- shared helpers -------------------------------------------------------- */

static bool dim_is_one(gc_dimtab *t, gc_dim d) {
  int64_t v;
  return gc_dim_is_const(t, d, &v) && v == 1;
}

static bool same_type(const gc_type *a, const gc_type *b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

static const gc_type *region_input_type(const gc_graph *r, int i) {
  return &r->values[r->inputs[i]].type;
}

/* True when `t` broadcasts to the shape `to` (rank `rank`) without changing
 * it: right-aligned, each dim equal or the constant 1. */
static bool broadcasts_to(gc_dimtab *tab, const gc_type *t, const gc_dim *to, int rank) {
  if (t->rank > rank) return false;
  for (int i = 0; i < t->rank; i++) {
    gc_dim d = t->dims[i], want = to[rank - t->rank + i];
    if (d != want && !dim_is_one(tab, d)) return false;
  }
  return true;
}

/* Copies a region result into the node's pre-allocated result tensor
 * (allocating it when its shape used a symbol bound inside the region). */
static graphc_status_t take_result(gc_eval_ctx *ec, int k, const gc_tensor *src, gc_tensor *dst) {
  if (!dst->data && src->numel > 0)
    GC_TRY(gc_eval_alloc(ec, dst, src->dtype, src->rank, src->shape));
  bool same = dst->dtype == src->dtype && dst->rank == src->rank;
  for (int i = 0; same && i < src->rank; i++) same = dst->shape[i] == src->shape[i];
  if (!same)
    return gc_eval_error(ec, GRAPHC_STATUS_INTERNAL,
                         "region output %d does not have the result's inferred shape", k);
  size_t bytes = (size_t)src->numel * graphc_dtype_size(src->dtype);
  if (bytes) memcpy(dst->data, src->data, bytes);
  return NULL;
}

/* ---- checkpoint, call ---------------------------------------------------- */

static graphc_status_t region_call_infer(gc_infer_ctx *ic) {
  const gc_node *n = ic->node;
  if (n->nregions != 1) return gc_infer_error(ic, "expected 1 region, got %d", n->nregions);
  const gc_graph *r = n->regions[0];
  if (r->ninputs != n->noperands)
    return gc_infer_error(ic, "region '%s' takes %d inputs, but the op has %d operands", r->name,
                          r->ninputs, n->noperands);
  for (int i = 0; i < n->noperands; i++) {
    const gc_type *want = region_input_type(r, i), *got = gc_infer_operand(ic, i);
    if (!same_type(want, got))
      return gc_infer_error(ic, "operand %d: region '%s' input %d (%%%s) expects %s, got %s", i,
                            r->name, i, r->values[r->inputs[i]].name, GC_OPS_TY(ic, want),
                            GC_OPS_TY(ic, got));
  }
  if (r->noutputs < 1) return gc_infer_error(ic, "region '%s' has no outputs", r->name);
  if (r->noutputs > GC_MAX_RESULTS)
    return gc_infer_error(ic, "region '%s' has %d outputs, at most %d are supported", r->name,
                          r->noutputs, GC_MAX_RESULTS);
  ic->nresults = r->noutputs;
  for (int k = 0; k < r->noutputs; k++) ic->out[k] = r->values[r->outputs[k]].type;
  return NULL;
}

static graphc_status_t region_call_eval(gc_eval_ctx *ec, const gc_node *n,
                                        const gc_tensor *const *in, gc_tensor *out) {
  const gc_graph *r = n->regions[0];
  gc_tensor *res = calloc((size_t)r->noutputs, sizeof *res);
  if (!res) return GC_OOM();
  graphc_status_t st = gc_eval_region(ec, r, in, res);
  if (st) {
    free(res);
    return st;
  }
  for (int k = 0; k < r->noutputs && !st; k++) st = take_result(ec, k, &res[k], &out[k]);
  for (int k = 0; k < r->noutputs; k++) gc_tensor_free(&res[k]);
  free(res);
  return st;
}

/* ---- scaled_dot_product_attention ---------------------------------------- */

enum { SCORE_FIXED_INPUTS = 5 }; /* score, b, h, q_idx, kv_idx */

static int sdpa_first_capture(const gc_node *n) {
  return 3 + (gc_attr_bool(n, "has_mask", false) ? 1 : 0);
}

/* Checks the score-function region against q's batch dims [B, H] and the
 * score shape [B, H, Sq, Skv]. */
static graphc_status_t sdpa_check_score_region(gc_infer_ctx *ic, const gc_dim *score_dims,
                                               gc_dtype qdtype) {
  const gc_node *n = ic->node;
  const gc_graph *r = n->regions[0];
  gc_dimtab *t = gc_infer_dims(ic);
  int cap0 = sdpa_first_capture(n), ncap = n->noperands - cap0;
  if (r->ninputs != SCORE_FIXED_INPUTS + ncap)
    return gc_infer_error(ic,
                          "score function region '%s' takes %d inputs, expected %d (score, b, h, "
                          "q_idx, kv_idx and %d captures)",
                          r->name, r->ninputs, SCORE_FIXED_INPUTS + ncap, ncap);
  gc_dim one;
  graphc_status_t st = gc_dim_const(t, 1, &one);
  if (st) return st;
  static const char *const names[SCORE_FIXED_INPUTS] = {"score", "b", "h", "q_idx", "kv_idx"};
  for (int i = 0; i < SCORE_FIXED_INPUTS; i++) {
    gc_type want = {.dtype = i == 0 ? GRAPHC_F32 : GRAPHC_I64, .rank = 4};
    for (int j = 0; j < 4; j++) want.dims[j] = i == 0 || i - 1 == j ? score_dims[j] : one;
    const gc_type *got = region_input_type(r, i);
    /* The score may be declared f32 or q's dtype; it is rounded to that. */
    if (i == 0 && got->dtype == qdtype) want.dtype = qdtype;
    if (!same_type(&want, got))
      return gc_infer_error(ic, "score function region '%s' input %d (%s): expected %s, got %s",
                            r->name, i, names[i], GC_OPS_TY(ic, &want), GC_OPS_TY(ic, got));
  }
  for (int c = 0; c < ncap; c++) {
    const gc_type *want = region_input_type(r, SCORE_FIXED_INPUTS + c),
                  *got = gc_infer_operand(ic, cap0 + c);
    if (!same_type(want, got))
      return gc_infer_error(ic, "operand %d (capture %d): region '%s' input %d expects %s, got %s",
                            cap0 + c, c, r->name, SCORE_FIXED_INPUTS + c, GC_OPS_TY(ic, want),
                            GC_OPS_TY(ic, got));
  }
  if (r->noutputs != 1)
    return gc_infer_error(ic, "score function region '%s' must have 1 output, got %d", r->name,
                          r->noutputs);
  const gc_type *res = &r->values[r->outputs[0]].type;
  if (!gc_dtype_is_float(res->dtype) || !broadcasts_to(t, res, score_dims, 4)) {
    gc_type want = {.dtype = GRAPHC_F32, .rank = 4};
    memcpy(want.dims, score_dims, sizeof want.dims[0] * 4);
    return gc_infer_error(ic,
                          "score function region '%s' output: expected a float tensor "
                          "broadcastable to %s, got %s",
                          r->name, GC_OPS_TY(ic, &want), GC_OPS_TY(ic, res));
  }
  return NULL;
}

static graphc_status_t sdpa_infer(gc_infer_ctx *ic) {
  const gc_node *n = ic->node;
  gc_dimtab *t = gc_infer_dims(ic);
  static const char *const names[3] = {"q", "k", "v"};
  const gc_type *tys[3];
  bool has_region = n->nregions == 1;
  for (int i = 0; i < 3; i++) {
    tys[i] = gc_infer_operand(ic, i);
    if (!gc_dtype_is_float(tys[i]->dtype))
      return gc_infer_error(ic, "operand %d (%s): expected a float dtype, got %s", i, names[i],
                            GC_OPS_TY(ic, tys[i]));
    if (tys[i]->dtype != tys[0]->dtype)
      return gc_infer_error(ic, "operand %d (%s): expected dtype %s (same as q), got %s", i,
                            names[i], graphc_dtype_name(tys[0]->dtype), GC_OPS_TY(ic, tys[i]));
    if (has_region ? tys[i]->rank != 4 : tys[i]->rank < 3)
      return gc_infer_error(ic, "operand %d (%s): expected rank %s, got %s", i, names[i],
                            has_region ? "4 (a score function is given)" : ">= 3",
                            GC_OPS_TY(ic, tys[i]));
  }
  const gc_type *q = tys[0], *k = tys[1], *v = tys[2];
  if (k->dims[k->rank - 1] != q->dims[q->rank - 1])
    return gc_infer_error(ic, "operand 1 (k): expected last dim %s (q's D), got %s",
                          gc_dim_str(t, q->dims[q->rank - 1]), GC_OPS_TY(ic, k));
  if (v->dims[v->rank - 2] != k->dims[k->rank - 2])
    return gc_infer_error(ic, "operand 2 (v): expected dim -2 to be %s (k's Skv), got %s",
                          gc_dim_str(t, k->dims[k->rank - 2]), GC_OPS_TY(ic, v));
  /* Batch dims of q, k, v broadcast together. */
  gc_type batch[3], bout;
  const gc_type *bptr[3];
  for (int i = 0; i < 3; i++) {
    batch[i] = *tys[i];
    batch[i].rank -= 2;
    bptr[i] = &batch[i];
  }
  GC_TRY(gc_ops_broadcast(ic, bptr, 3, &bout));
  int br = bout.rank;
  gc_dim score_dims[GC_MAX_RANK];
  memcpy(score_dims, bout.dims, sizeof score_dims[0] * (size_t)br);
  score_dims[br] = q->dims[q->rank - 2];
  score_dims[br + 1] = k->dims[k->rank - 2];
  bool has_mask = gc_attr_bool(n, "has_mask", false);
  if (has_mask) {
    if (n->noperands < 4) return gc_infer_error(ic, "has_mask=true but there is no mask operand");
    const gc_type *m = gc_infer_operand(ic, 3);
    if (m->dtype != GRAPHC_BOOL && m->dtype != q->dtype)
      return gc_infer_error(ic, "operand 3 (mask): expected bool or %s (q's dtype), got %s",
                            graphc_dtype_name(q->dtype), GC_OPS_TY(ic, m));
    if (!broadcasts_to(t, m, score_dims, br + 2)) {
      gc_type s = {.dtype = q->dtype, .rank = br + 2};
      memcpy(s.dims, score_dims, sizeof s.dims[0] * (size_t)(br + 2));
      return gc_infer_error(ic, "operand 3 (mask): expected a shape broadcastable to the scores %s, got %s",
                            GC_OPS_TY(ic, &s), GC_OPS_TY(ic, m));
    }
  }
  int cap0 = sdpa_first_capture(n);
  if (!has_region && n->noperands > cap0)
    return gc_infer_error(ic, "operand %d: unexpected operand (captures need a score function region)",
                          cap0);
  if (has_region) GC_TRY(sdpa_check_score_region(ic, score_dims, q->dtype));
  gc_type *out = &ic->out[0];
  *out = bout;
  out->dtype = q->dtype;
  out->rank = br + 2;
  out->dims[br] = q->dims[q->rank - 2];
  out->dims[br + 1] = v->dims[v->rank - 1];
  return NULL;
}

/* Matrix index of batch coordinate `coord` (rank crank) in t, whose
 * leading rank-2 dims are batch dims broadcast right-aligned. */
static int64_t batch_offset(const gc_tensor *t, const int64_t *coord, int crank) {
  int nb = t->rank - 2;
  int64_t off = 0;
  for (int i = 0; i < nb; i++)
    off = off * t->shape[i] + (t->shape[i] == 1 ? 0 : coord[crank - nb + i]);
  return off;
}

/* Runs the score function on the [B, H, Sq, Skv] scores in place. */
static graphc_status_t sdpa_apply_score_fn(gc_eval_ctx *ec, const gc_node *n,
                                           const gc_tensor *const *in, const int64_t *sshape,
                                           double *scores) {
  const gc_graph *r = n->regions[0];
  int cap0 = sdpa_first_capture(n), ncap = n->noperands - cap0;
  gc_tensor fixed[SCORE_FIXED_INPUTS], res;
  memset(fixed, 0, sizeof fixed);
  memset(&res, 0, sizeof res);
  const gc_tensor **rin = calloc((size_t)(SCORE_FIXED_INPUTS + ncap), sizeof *rin);
  if (!rin) return GC_OOM();
  int64_t total = sshape[0] * sshape[1] * sshape[2] * sshape[3], coord[4];
  graphc_status_t st =
      gc_eval_alloc(ec, &fixed[0], region_input_type(r, 0)->dtype, 4, sshape);
  for (int64_t i = 0; !st && i < total; i++) gc_tensor_setf(&fixed[0], i, scores[i]);
  /* b, h, q_idx, kv_idx: aranges along dims 0..3, ones elsewhere. */
  for (int a = 0; !st && a < 4; a++) {
    int64_t shape[4] = {1, 1, 1, 1};
    shape[a] = sshape[a];
    st = gc_eval_alloc(ec, &fixed[1 + a], GRAPHC_I64, 4, shape);
    for (int64_t i = 0; !st && i < sshape[a]; i++) gc_tensor_seti(&fixed[1 + a], i, i);
  }
  if (!st) {
    for (int i = 0; i < SCORE_FIXED_INPUTS; i++) rin[i] = &fixed[i];
    for (int c = 0; c < ncap; c++) rin[SCORE_FIXED_INPUTS + c] = in[cap0 + c];
    st = gc_eval_region(ec, r, rin, &res);
    if (!st) {
      for (int64_t i = 0; i < total; i++) {
        gc_unravel(i, sshape, 4, coord);
        scores[i] = gc_tensor_getf(&res, gc_bcast_index(&res, coord, 4));
      }
      gc_tensor_free(&res);
    }
  }
  for (int i = 0; i < SCORE_FIXED_INPUTS; i++) gc_tensor_free(&fixed[i]);
  free(rin);
  return st;
}

static graphc_status_t sdpa_eval(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                 gc_tensor *out) {
  const gc_tensor *q = in[0], *k = in[1], *v = in[2];
  const gc_tensor *mask = gc_attr_bool(n, "has_mask", false) ? in[3] : NULL;
  bool causal = gc_attr_bool(n, "causal", false);
  int br = out->rank - 2;
  int64_t sq = q->shape[q->rank - 2], d = q->shape[q->rank - 1];
  int64_t skv = k->shape[k->rank - 2], dv = v->shape[v->rank - 1];
  int64_t nbatch = 1;
  for (int i = 0; i < br; i++) nbatch *= out->shape[i];
  double scale = gc_node_attr(n, "scale") ? gc_attr_float(n, "scale", 1.0) : 1.0 / sqrt((double)d);
  uint64_t nscores = (uint64_t)nbatch * (uint64_t)sq * (uint64_t)skv;
  if (nscores > SIZE_MAX / sizeof(double) / 2)
    return gc_eval_error(ec, GRAPHC_STATUS_RESOURCE_EXHAUSTED, "attention scores too large");
  double *scores = malloc(nscores ? (size_t)nscores * sizeof *scores : 1);
  if (!scores) return GC_OOM();
  int64_t coord[GC_MAX_RANK] = {0};

  /* scores = q . k^T * scale */
  for (int64_t b = 0; b < nbatch; b++) {
    gc_unravel(b, out->shape, br, coord);
    int64_t qo = batch_offset(q, coord, br) * sq * d, ko = batch_offset(k, coord, br) * skv * d;
    for (int64_t i = 0; i < sq; i++)
      for (int64_t j = 0; j < skv; j++) {
        double acc = 0;
        for (int64_t e = 0; e < d; e++)
          acc += gc_tensor_getf(q, qo + i * d + e) * gc_tensor_getf(k, ko + j * d + e);
        /* With D = 0 PyTorch's scores are an empty product: 0, even when
         * the default scale 1/sqrt(0) is inf. */
        scores[(b * sq + i) * skv + j] = d ? acc * scale : 0.0;
      }
  }
  if (n->nregions == 1) {
    int64_t sshape[4] = {out->shape[0], out->shape[1], sq, skv};
    graphc_status_t st = sdpa_apply_score_fn(ec, n, in, sshape, scores);
    if (st) {
      free(scores);
      return st;
    }
  }
  /* Masks, then a softmax that gives an all -inf row zero weights (as
   * PyTorch's _safe_softmax does), then the product with v. */
  for (int64_t b = 0; b < nbatch; b++) {
    gc_unravel(b, out->shape, br, coord);
    int64_t vo = batch_offset(v, coord, br) * skv * dv;
    for (int64_t i = 0; i < sq; i++) {
      double *row = scores + (b * sq + i) * skv;
      coord[br] = i;
      for (int64_t j = 0; j < skv; j++) {
        if (causal && j > i) row[j] = -INFINITY;
        if (mask) {
          coord[br + 1] = j;
          int64_t mi = gc_bcast_index(mask, coord, br + 2);
          if (mask->dtype == GRAPHC_BOOL) {
            if (!gc_tensor_geti(mask, mi)) row[j] = -INFINITY;
          } else {
            row[j] += gc_tensor_getf(mask, mi);
          }
        }
      }
      double mx = -INFINITY;
      bool all_masked = true;
      for (int64_t j = 0; j < skv; j++) {
        if (row[j] > mx) mx = row[j];
        if (!(isinf(row[j]) && row[j] < 0)) all_masked = false;
      }
      double sum = 0;
      for (int64_t j = 0; j < skv; j++) {
        row[j] = all_masked ? 0.0 : exp(row[j] - mx);
        sum += row[j];
      }
      for (int64_t e = 0; e < dv; e++) {
        double acc = 0;
        for (int64_t j = 0; j < skv; j++) acc += row[j] * gc_tensor_getf(v, vo + j * dv + e);
        gc_tensor_setf(out, (b * sq + i) * dv + e, all_masked ? 0.0 : acc / sum);
      }
    }
  }
  free(scores);
  return NULL;
}

/* ---- table --------------------------------------------------------------- */

const gc_op_info gc_ops_region[] = {
    {.name = "checkpoint", .min_operands = 0, .max_operands = -1, .nresults = -1,
     .min_regions = 1, .max_regions = 1,
     .doc = "runs its region on the operands; activations are recomputed in backward",
     .infer = region_call_infer, .eval = region_call_eval},
    {.name = "call", .min_operands = 0, .max_operands = -1, .nresults = -1,
     .min_regions = 1, .max_regions = 1,
     .doc = "runs its region on the operands",
     .infer = region_call_infer, .eval = region_call_eval},
    {.name = "scaled_dot_product_attention", .min_operands = 3, .max_operands = -1,
     .nresults = 1, .min_regions = 0, .max_regions = 1,
     .attrs = {{"causal", GRAPHC_ATTR_BOOL, false},
               {"has_mask", GRAPHC_ATTR_BOOL, false},
               {"scale", GRAPHC_ATTR_FLOAT, false}},
     .doc = "softmax(q k^T * scale [score fn] [+ mask]) v, with an optional score function region",
     .infer = sdpa_infer, .eval = sdpa_eval},
    {0},
};
