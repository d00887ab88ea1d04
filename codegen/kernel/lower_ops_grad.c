/* Ops of gradient graphs (lib/ops/ops_grad.c), written as gathers: every
 * result element is computed from the elements that contribute to it, so
 * no kernel ever writes one element twice (no scatter, no atomics).
 *
 *   detach          the operand
 *   slice_scatter   source inside the slice, x elsewhere
 *   index_add, scatter_add
 *                   x + a SUM stage over the index positions that hit
 *                   this element (O(index length) per element: fine for
 *                   small vocabularies, slow for large ones)
 *   conv2d_backward_input / _weight, avg_pool2d_backward,
 *   adaptive_avg_pool2d_backward
 *                   a SUM stage over the kernel taps (or the batch and
 *                   output positions) that touch this element
 *   max_pool2d_backward
 *                   a kernel finds each window's winner (the interpreter's
 *                   rule: the first maximum, or the last NaN), then each
 *                   input element sums the gradients of the windows it
 *                   won. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernel/lower_internal.h"
#include "support/status.h"

static const int64_t ONES[2] = {1, 1}, ZEROS[2] = {0, 0};

static const lval *val(kctx *K, int v) { return &K->L->fg->vals[v]; }

static int emit_detach(kctx *K, const lnode *n, int res, ix *at) {
  return em_operand(K, n, 0, at, val(K, n->res[res])->type.dtype);
}

/* ---- slice_scatter ----------------------------------------------------------- */

static int emit_slice_scatter(kctx *K, const lnode *n, int res, ix *at) {
  const lval *sv = val(K, n->ops[1]);
  gc_dtype dt = val(K, n->res[res])->type.dtype;
  int r = at->type->rank, d = 0, c[GC_MAX_RANK];
  gc_wrap_dim(gc_attr_int(n->n, "dim", 0), r, &d);
  gc_dim start;
  int64_t step;
  graphc_status_t st = lw_slice_params(K->L, n, 0, sv->type.dims[d], &d, &start, &step);
  if (st) return em_fail(K, st);
  /* An empty source scatters nothing, and no load of it is in range (SELECT
   * evaluates both operands): the result is x. */
  for (int e = 0; e < r; e++) {
    int64_t ext;
    if (gc_dim_is_const(K->L->dims, sv->type.dims[e], &ext) && ext == 0) return em_operand(K, n, 0, at, dt);
  }
  for (int e = 0; e < r; e++) c[e] = ix_coord(K, at, e);
  int rel = kx_isub(K, c[d], kx_pdim(K, start));
  int q = kx_bin(K, KB_FLOORDIV, rel, kx_i(K, step));
  int in = kx_bin(K, KB_AND, kx_cmp(K, KC_GE, rel, kx_i(K, 0)),
                  kx_cmp(K, KC_LT, q, kx_pdim(K, sv->type.dims[d])));
  if (step > 1) in = kx_bin(K, KB_AND, in, kx_cmp(K, KC_EQ, kx_bin(K, KB_MOD, rel, kx_i(K, step)), kx_i(K, 0)));
  ix si;
  ix_init(&si, &sv->type);
  for (int e = 0; e < r; e++) si.c[e] = e == d ? kx_sel(K, in, q, kx_i(K, 0)) : c[e];
  int s = kx_convert(K, em_value(K, n->ops[1], &si), sv->type.dtype, dt);
  return kx_sel(K, in, s, em_operand(K, n, 0, at, dt));
}

/* ---- index_add / scatter_add --------------------------------------------------- */

static int emit_index_add(kctx *K, const lnode *n, int res, ix *at) {
  bool scatter = !strcmp(n->op->name, "scatter_add");
  const lval *xv = val(K, n->ops[0]), *iv = val(K, n->ops[1]), *sv = val(K, n->ops[2]);
  gc_dtype dt = val(K, n->res[res])->type.dtype;
  gc_dtype adt = lw_katype(dt) == KIR_I64 ? GRAPHC_I64 : dt;
  int r = at->type->rank, d = 0, c[GC_MAX_RANK];
  gc_wrap_dim(gc_attr_int(n->n, "dim", 0), r, &d);
  for (int e = 0; e < r; e++) c[e] = ix_coord(K, at, e);
  unsigned om;
  if (!em_group_ok(K, n->res[0], c, r, &om)) return -1;
  if (!em_checked_before(K, n) && em_fail_if(K, lw_check_index(K->L, n, n->ops[1], xv->type.dims[d], NULL, "index")) < 0) return -1;
  gc_dim inner = scatter ? iv->type.dims[d] : iv->type.dims[0];
  kstage_save sv0;
  kb_stage_enter(K, 1, &inner, &sv0);
  int k = kx_inner(K, 0);
  ix ii, si;
  ix_init(&ii, &iv->type);
  ix_init(&si, &sv->type);
  int hit = kx_b(K, true);
  if (scatter) {
    /* positions of index (shaped like source) with this element's other
     * coordinates; index may be smaller than x there */
    for (int e = 0; e < r; e++) {
      if (e == d) continue;
      if (iv->type.dims[e] != xv->type.dims[e])
        hit = kx_bin(K, KB_AND, hit, kx_cmp(K, KC_LT, c[e], kx_pdim(K, iv->type.dims[e])));
    }
    for (int e = 0; e < r; e++) ii.c[e] = e == d ? k : kx_sel(K, hit, c[e], kx_i(K, 0));
  } else {
    ii.c[0] = k;
  }
  int idx = kx_convert(K, em_value(K, n->ops[1], &ii), iv->type.dtype, GRAPHC_I64);
  hit = kx_bin(K, KB_AND, hit, kx_cmp(K, KC_EQ, idx, c[d]));
  for (int e = 0; e < r; e++) si.c[e] = scatter ? ii.c[e] : e == d ? k : c[e];
  int s = kx_convert(K, em_value(K, n->ops[2], &si), sv->type.dtype, adt);
  int zero = lw_katype(adt) == KIR_I64 ? kx_i(K, 0) : kx_f(K, lw_ktype(adt), 0.0);
  int acc = kb_stage_reduce(K, &sv0, KIR_SUM, kx_sel(K, hit, s, zero), om);
  return kx_finish(K, kx_bin(K, KB_ADD, em_operand(K, n, 0, at, adt), acc), dt);
}

/* ---- window geometry ------------------------------------------------------------- */

typedef struct win {
  int64_t k[2], s[2], p[2], d[2], groups;
  bool ceil_mode;
} win;

static void read_win(const lnode *n, bool pool, win *w) {
  if (pool) lw_pair_attr(n, "kernel_size", ONES, false, w->k);
  lw_pair_attr(n, "stride", pool ? w->k : ONES, pool, w->s);
  lw_pair_attr(n, "padding", ZEROS, false, w->p);
  lw_pair_attr(n, "dilation", ONES, false, w->d);
  w->groups = gc_attr_int(n->n, "groups", 1);
  w->ceil_mode = gc_attr_bool(n->n, "ceil_mode", false);
}

/* The forward op's output size along axis i for input size `in`
 * (ops_linalg.c's rule, ceil mode included). */
static gc_dim window_out(lower_ctx *L, gc_dim in, const win *w, int64_t k, int i) {
  int64_t s = w->s[i], p = w->p[i], d = w->d[i];
  int64_t off = 2 * p - d * (k - 1) - 1;
  if (!w->ceil_mode)
    return lw_padd(L, lw_pfloordiv(L, lw_padd(L, in, lw_pconst(L, off)), lw_pconst(L, s)), lw_pconst(L, 1));
  if (d * (k - 1) + 1 - p >= s)
    return lw_padd(L, lw_pfloordiv(L, lw_padd(L, in, lw_pconst(L, off + s - 1)), lw_pconst(L, s)), lw_pconst(L, 1));
  return lw_pfloordiv(L, lw_padd(L, in, lw_pconst(L, p + s - 1)), lw_pconst(L, s));
}

/* The gradient's spatial sizes must be the forward op's output sizes. */
static int check_grad_sizes(kctx *K, const lnode *n, const gc_type *x, const gc_type *g, const win *w,
                            const int64_t *k) {
  if (em_checked_before(K, n)) return 0;
  for (int i = 0; i < 2; i++) {
    gc_dim want = window_out(K->L, x->dims[x->rank - 2 + i], w, k[i], i);
    char what[256]; /* the interpreter's wording */
    snprintf(what, sizeof what, "gradient spatial dim %d is not %s, what the forward op gives; it is", i,
             gc_dim_str(K->L->dims, want));
    if (em_fail_if(K, lw_check_dims(K->L, n, g->dims[g->rank - 2 + i], KC_EQ, want, what)) < 0)
      return -1;
  }
  return 0;
}

/* Output position y of input coordinate `c` through tap t (c = y*s - p +
 * t*d): sets *ok when it exists and lies in [0, out). */
static int tap_source(kctx *K, const win *w, int i, int c, int tap, int out, int *ok) {
  int ty = kx_isub(K, kx_iadd(K, c, kx_i(K, w->p[i])), kx_imul(K, tap, kx_i(K, w->d[i])));
  int y = kx_bin(K, KB_FLOORDIV, ty, kx_i(K, w->s[i]));
  int in = kx_bin(K, KB_AND, kx_cmp(K, KC_GE, ty, kx_i(K, 0)), kx_cmp(K, KC_LT, y, out));
  if (w->s[i] > 1) in = kx_bin(K, KB_AND, in, kx_cmp(K, KC_EQ, kx_bin(K, KB_MOD, ty, kx_i(K, w->s[i])), kx_i(K, 0)));
  *ok = *ok < 0 ? in : kx_bin(K, KB_AND, *ok, in);
  return y;
}

/* Input coordinate of output position y through tap t, and whether it
 * lies inside [0, size). */
static int tap_target(kctx *K, const win *w, int i, int y, int tap, int size, int *ok) {
  int c = kx_iadd(K, kx_isub(K, kx_imul(K, y, kx_i(K, w->s[i])), kx_i(K, w->p[i])), kx_imul(K, tap, kx_i(K, w->d[i])));
  int in = kx_bin(K, KB_AND, kx_cmp(K, KC_GE, c, kx_i(K, 0)), kx_cmp(K, KC_LT, c, size));
  *ok = *ok < 0 ? in : kx_bin(K, KB_AND, *ok, in);
  return c;
}

static int group_begin(kctx *K, const lnode *n, ix *at, int *c, unsigned *om) {
  int r = at->type->rank;
  for (int d = 0; d < r; d++) c[d] = ix_coord(K, at, d);
  return em_group_ok(K, n->res[0], c, r, om) ? 0 : -1;
}

/* ---- conv2d backward ------------------------------------------------------------- */

static int emit_conv_bw_input(kctx *K, const lnode *n, int res, ix *at) {
  lower_ctx *L = K->L;
  const lval *gv = val(K, n->ops[0]), *wv = val(K, n->ops[1]);
  const gc_type *gt = &gv->type, *wt = &wv->type, *xt = at->type;
  gc_dtype dt = val(K, n->res[res])->type.dtype;
  win w;
  read_win(n, false, &w);
  int r = xt->rank, cb = r - 3, c[GC_MAX_RANK];
  unsigned om;
  if (group_begin(K, n, at, c, &om) < 0) return -1;
  int64_t kk[2] = {0, 0};
  for (int i = 0; i < 2; i++) gc_dim_is_const(L->dims, wt->dims[2 + i], &kk[i]);
  if (kk[0] >= 1 && kk[1] >= 1 && check_grad_sizes(K, n, xt, gt, &w, kk) < 0) return -1;
  gc_dim per = lw_pfloordiv(L, wt->dims[0], lw_pconst(L, w.groups));
  gc_dim inner[3] = {per, wt->dims[2], wt->dims[3]};
  int xc = c[cb], ci = xc, o0 = kx_i(K, 0);
  if (w.groups > 1) {
    int cg = kx_pdim(K, wt->dims[1]);
    ci = kx_bin(K, KB_MOD, xc, cg);
    o0 = kx_imul(K, kx_bin(K, KB_FLOORDIV, xc, cg), kx_pdim(K, per));
  }
  kstage_save sv;
  kb_stage_enter(K, 3, inner, &sv);
  int o = kx_iadd(K, o0, kx_inner(K, 0)), ok = -1;
  int y = tap_source(K, &w, 0, c[cb + 1], kx_inner(K, 1), kx_pdim(K, gt->dims[cb + 1]), &ok);
  int x = tap_source(K, &w, 1, c[cb + 2], kx_inner(K, 2), kx_pdim(K, gt->dims[cb + 2]), &ok);
  ix gi, wi;
  ix_init(&gi, gt);
  if (cb) gi.c[0] = c[0];
  gi.c[cb] = o;
  gi.c[cb + 1] = kx_sel(K, ok, y, kx_i(K, 0));
  gi.c[cb + 2] = kx_sel(K, ok, x, kx_i(K, 0));
  ix_init(&wi, wt);
  wi.c[0] = o, wi.c[1] = ci, wi.c[2] = kx_inner(K, 1), wi.c[3] = kx_inner(K, 2);
  gc_dtype adt = lw_conv_acc_dtype(dt);
  int prod = kx_bin(K, KB_MUL, kx_convert(K, em_value(K, n->ops[0], &gi), gt->dtype, adt),
                    kx_convert(K, em_value(K, n->ops[1], &wi), wt->dtype, adt));
  int acc = kb_stage_reduce(K, &sv, KIR_SUM, kx_sel(K, ok, prod, kx_f(K, lw_ktype(adt), 0.0)), om);
  return kx_convert(K, acc, adt, dt);
}

static int emit_conv_bw_weight(kctx *K, const lnode *n, int res, ix *at) {
  lower_ctx *L = K->L;
  const lval *xv = val(K, n->ops[0]), *gv = val(K, n->ops[1]);
  const gc_type *xt = &xv->type, *gt = &gv->type, *wt = at->type;
  gc_dtype dt = val(K, n->res[res])->type.dtype;
  win w;
  read_win(n, false, &w);
  int r = xt->rank, cb = r - 3, c[4];
  unsigned om;
  if (group_begin(K, n, at, c, &om) < 0) return -1;
  int64_t kk[2] = {0, 0};
  for (int i = 0; i < 2; i++) gc_dim_is_const(L->dims, wt->dims[2 + i], &kk[i]);
  if (kk[0] >= 1 && kk[1] >= 1 && check_grad_sizes(K, n, xt, gt, &w, kk) < 0) return -1;
  gc_dim inner[3];
  int ni = 0;
  if (cb) inner[ni++] = gt->dims[0];
  inner[ni++] = gt->dims[cb + 1];
  inner[ni++] = gt->dims[cb + 2];
  int o = c[0], ch = c[1];
  if (w.groups > 1) {
    gc_dim per = lw_pfloordiv(L, wt->dims[0], lw_pconst(L, w.groups));
    ch = kx_iadd(K, kx_imul(K, kx_bin(K, KB_FLOORDIV, o, kx_pdim(K, per)), kx_pdim(K, wt->dims[1])), c[1]);
  }
  kstage_save sv;
  kb_stage_enter(K, ni, inner, &sv);
  int b = cb ? kx_inner(K, 0) : -1, y = kx_inner(K, cb), x = kx_inner(K, cb + 1), ok = -1;
  int iy = tap_target(K, &w, 0, y, c[2], kx_pdim(K, xt->dims[cb + 1]), &ok);
  int ix_ = tap_target(K, &w, 1, x, c[3], kx_pdim(K, xt->dims[cb + 2]), &ok);
  ix gi, xi;
  ix_init(&gi, gt);
  ix_init(&xi, xt);
  if (cb) gi.c[0] = xi.c[0] = b;
  gi.c[cb] = o, gi.c[cb + 1] = y, gi.c[cb + 2] = x;
  xi.c[cb] = ch;
  xi.c[cb + 1] = kx_sel(K, ok, iy, kx_i(K, 0));
  xi.c[cb + 2] = kx_sel(K, ok, ix_, kx_i(K, 0));
  gc_dtype adt = lw_conv_acc_dtype(dt);
  int prod = kx_bin(K, KB_MUL, kx_convert(K, em_value(K, n->ops[1], &gi), gt->dtype, adt),
                    kx_convert(K, em_value(K, n->ops[0], &xi), xt->dtype, adt));
  int acc = kb_stage_reduce(K, &sv, KIR_SUM, kx_sel(K, ok, prod, kx_f(K, lw_ktype(adt), 0.0)), om);
  return kx_convert(K, acc, adt, dt);
}

/* ---- pooling backward -------------------------------------------------------------- */

/* avg_pool2d's divisor of window (y, x) (as the forward op computes it). */
static int avg_divisor(kctx *K, const win *w, const int *yx, const int *size, bool include_pad, int *nonempty) {
  int count = kx_i(K, 1), valid = kx_i(K, 1);
  for (int i = 0; i < 2; i++) {
    int a = kx_isub(K, kx_imul(K, yx[i], kx_i(K, w->s[i])), kx_i(K, w->p[i]));
    int b = kx_bin(K, KB_MIN, kx_iadd(K, a, kx_i(K, w->k[i])), kx_iadd(K, size[i], kx_i(K, w->p[i])));
    count = kx_imul(K, count, kx_isub(K, b, a));
    int a0 = kx_bin(K, KB_MAX, a, kx_i(K, 0)), b0 = kx_bin(K, KB_MIN, b, size[i]);
    valid = kx_imul(K, valid, kx_bin(K, KB_MAX, kx_isub(K, b0, a0), kx_i(K, 0)));
  }
  *nonempty = kx_cmp(K, KC_GT, valid, kx_i(K, 0));
  return kx_bin(K, KB_MAX, include_pad ? count : valid, kx_i(K, 1));
}

static int emit_avg_pool_bw(kctx *K, const lnode *n, int res, ix *at) {
  const lval *gv = val(K, n->ops[0]);
  const gc_type *gt = &gv->type, *xt = at->type;
  gc_dtype dt = val(K, n->res[res])->type.dtype;
  kir_type T = lw_ktype(dt);
  win w;
  read_win(n, true, &w);
  w.d[0] = w.d[1] = 1;
  bool include_pad = gc_attr_bool(n->n, "count_include_pad", true);
  int r = xt->rank, c[GC_MAX_RANK];
  unsigned om;
  if (group_begin(K, n, at, c, &om) < 0) return -1;
  if (check_grad_sizes(K, n, xt, gt, &w, w.k) < 0) return -1;
  gc_dim inner[2] = {lw_pconst(K->L, w.k[0]), lw_pconst(K->L, w.k[1])};
  kstage_save sv;
  kb_stage_enter(K, 2, inner, &sv);
  int ok = -1, yx[2], size[2];
  for (int i = 0; i < 2; i++) {
    yx[i] = tap_source(K, &w, i, c[r - 2 + i], kx_inner(K, i), kx_pdim(K, gt->dims[r - 2 + i]), &ok);
    size[i] = kx_pdim(K, xt->dims[r - 2 + i]);
  }
  for (int i = 0; i < 2; i++) yx[i] = kx_sel(K, ok, yx[i], kx_i(K, 0));
  int nonempty, div = avg_divisor(K, &w, yx, size, include_pad, &nonempty);
  ix gi;
  ix_init(&gi, gt);
  for (int d = 0; d < r - 2; d++) gi.c[d] = c[d];
  gi.c[r - 2] = yx[0], gi.c[r - 1] = yx[1];
  int share = kx_bin(K, KB_DIV, kx_convert(K, em_value(K, n->ops[0], &gi), gt->dtype, dt), kx_cast(K, T, div, -1));
  ok = kx_bin(K, KB_AND, ok, nonempty);
  int acc = kb_stage_reduce(K, &sv, KIR_SUM, kx_sel(K, ok, share, kx_f(K, T, 0.0)), om);
  return kx_finish(K, acc, dt);
}

static int emit_adaptive_bw(kctx *K, const lnode *n, int res, ix *at) {
  lower_ctx *L = K->L;
  const lval *gv = val(K, n->ops[0]);
  const gc_type *gt = &gv->type, *xt = at->type;
  gc_dtype dt = val(K, n->res[res])->type.dtype;
  kir_type T = lw_ktype(dt);
  int r = xt->rank, c[GC_MAX_RANK];
  unsigned om;
  if (group_begin(K, n, at, c, &om) < 0) return -1;
  gc_dim inner[2];
  int lo[2], size[2], out[2];
  for (int i = 0; i < 2; i++) {
    gc_dim in = xt->dims[r - 2 + i], o = gt->dims[r - 2 + i];
    size[i] = kx_pdim(K, in);
    out[i] = kx_pdim(K, o);
    /* the first window reaching coordinate c, and how many may overlap it */
    lo[i] = kx_bin(K, KB_FLOORDIV, kx_imul(K, c[r - 2 + i], out[i]), size[i]);
    inner[i] = lw_padd(L, lw_pfloordiv(L, lw_padd(L, o, lw_psub(L, in, lw_pconst(L, 1))), in), lw_pconst(L, 1));
  }
  kstage_save sv;
  kb_stage_enter(K, 2, inner, &sv);
  int ok = -1, area = kx_i(K, 1), yx[2];
  for (int i = 0; i < 2; i++) {
    int y = kx_iadd(K, lo[i], kx_inner(K, i));
    int y0 = kx_bin(K, KB_FLOORDIV, kx_imul(K, y, size[i]), out[i]);
    int y1 = kx_bin(K, KB_FLOORDIV,
                    kx_iadd(K, kx_imul(K, kx_iadd(K, y, kx_i(K, 1)), size[i]), kx_isub(K, out[i], kx_i(K, 1))), out[i]);
    int in = kx_bin(K, KB_AND, kx_cmp(K, KC_LT, y, out[i]), kx_cmp(K, KC_LE, y0, c[r - 2 + i]));
    ok = ok < 0 ? in : kx_bin(K, KB_AND, ok, in);
    area = kx_imul(K, area, kx_isub(K, y1, y0));
    yx[i] = y;
  }
  ix gi;
  ix_init(&gi, gt);
  for (int d = 0; d < r - 2; d++) gi.c[d] = c[d];
  for (int i = 0; i < 2; i++) gi.c[r - 2 + i] = kx_sel(K, ok, yx[i], kx_i(K, 0));
  area = kx_bin(K, KB_MAX, area, kx_i(K, 1));
  int share = kx_bin(K, KB_DIV, kx_convert(K, em_value(K, n->ops[0], &gi), gt->dtype, dt), kx_cast(K, T, area, -1));
  int acc = kb_stage_reduce(K, &sv, KIR_SUM, kx_sel(K, ok, share, kx_f(K, T, 0.0)), om);
  return kx_finish(K, acc, dt);
}

/* max_pool2d_backward, part 1: each window's winner as a position
 * y * W + x of its plane (-1 for a window with no element) into a temp
 * shaped like the gradient. */
static graphc_status_t build_max_pool_bw(lower_ctx *L, const lnode *n) {
  const lval *gv = &L->fg->vals[n->ops[0]], *xv = &L->fg->vals[n->ops[1]];
  const gc_type *gt = &gv->type, *xt = &xv->type;
  win w;
  read_win(n, true, &w);
  char name[80];
  snprintf(name, sizeof name, "%s.winner", lw_vname(L, n->res[0]));
  gc_type wt = *gt;
  wt.dtype = GRAPHC_I64;
  int buf = lw_buffer(L, GRAPHC_I64, &wt, GC_DIM_NONE, KIR_BUF_TEMP, -1, name);
  if (buf < 0) return NULL;
  int r = gt->rank;
  kctx K;
  GC_TRY(kb_begin(&K, L, "pool_winner", lw_vname(L, n->res[0]), r, gt->dims));
  if (check_grad_sizes(&K, n, xt, gt, &w, w.k) < 0) {
    kb_discard(&K);
    return NULL;
  }
  gc_dim inner[2] = {lw_pconst(L, w.k[0]), lw_pconst(L, w.k[1])};
  int c[GC_MAX_RANK];
  for (int d = 0; d < r; d++) c[d] = kx_outer(&K, d);
  unsigned om = (1u << r) - 1;
  kstage_save sv;
  kb_stage_enter(&K, 2, inner, &sv);
  int ok = -1, p[2];
  for (int i = 0; i < 2; i++)
    p[i] = tap_target(&K, &w, i, c[r - 2 + i], kx_inner(&K, i), kx_pdim(&K, xt->dims[r - 2 + i]), &ok);
  ix xi;
  ix_init(&xi, xt);
  for (int d = 0; d < r - 2; d++) xi.c[d] = c[d];
  for (int i = 0; i < 2; i++) xi.c[r - 2 + i] = kx_sel(&K, ok, p[i], kx_i(&K, 0));
  kir_type T = lw_ktype(xt->dtype);
  int v = em_value(&K, n->ops[1], &xi);
  int m = kb_stage_reduce(&K, &sv, KIR_MAX, kx_sel(&K, ok, v, kx_f(&K, T, -INFINITY)), om);
  int pos = kx_iadd(&K, kx_imul(&K, p[0], kx_pdim(&K, xt->dims[r - 1])), p[1]);
  kb_stage_enter(&K, 2, inner, &sv);
  int first = kb_stage_reduce(&K, &sv, KIR_MIN,
                              kx_sel(&K, kx_bin(&K, KB_AND, ok, kx_cmp(&K, KC_EQ, v, m)), pos, kx_i(&K, INT64_MAX)), om);
  kb_stage_enter(&K, 2, inner, &sv);
  int last_nan = kb_stage_reduce(&K, &sv, KIR_MAX,
                                 kx_sel(&K, kx_bin(&K, KB_AND, ok, kx_cmp(&K, KC_NE, v, v)), pos, kx_i(&K, -1)), om);
  int win_pos = kx_sel(&K, kx_cmp(&K, KC_EQ, first, kx_i(&K, INT64_MAX)), kx_i(&K, -1), first);
  ix oi;
  ix_init(&oi, &wt);
  for (int d = 0; d < r; d++) oi.c[d] = c[d];
  kir_store s = {buf, ix_flat(&K, &oi), kx_sel(&K, kx_cmp(&K, KC_NE, m, m), last_nan, win_pos)};
  graphc_status_t st = kb_store_stage(&K, 0, NULL, 1, &s);
  if (st) {
    kb_discard(&K);
    return st;
  }
  GC_TRY(kb_finish(&K, NULL));
  L->raw[L->fg->vals[n->res[0]].producer] = buf;
  return NULL;
}

/* Part 2: an input element sums the gradients of the windows it won. */
static int emit_max_pool_bw(kctx *K, const lnode *n, int res, ix *at) {
  lower_ctx *L = K->L;
  const lval *gv = val(K, n->ops[0]), *yv = val(K, n->res[res]);
  const gc_type *gt = &gv->type, *xt = at->type;
  gc_dtype dt = yv->type.dtype;
  kir_type T = lw_ktype(dt);
  int winner = L->raw[yv->producer];
  win w;
  read_win(n, true, &w);
  int r = xt->rank, c[GC_MAX_RANK];
  unsigned om;
  if (group_begin(K, n, at, c, &om) < 0) return -1;
  gc_dim inner[2] = {lw_pconst(L, w.k[0]), lw_pconst(L, w.k[1])};
  kstage_save sv;
  kb_stage_enter(K, 2, inner, &sv);
  int ok = -1, yx[2];
  for (int i = 0; i < 2; i++)
    yx[i] = tap_source(K, &w, i, c[r - 2 + i], kx_inner(K, i), kx_pdim(K, gt->dims[r - 2 + i]), &ok);
  ix gi;
  ix_init(&gi, gt);
  for (int d = 0; d < r - 2; d++) gi.c[d] = c[d];
  for (int i = 0; i < 2; i++) gi.c[r - 2 + i] = kx_sel(K, ok, yx[i], kx_i(K, 0));
  int pos = kx_iadd(K, kx_imul(K, c[r - 2], kx_pdim(K, xt->dims[r - 1])), c[r - 1]);
  int won = kx_bin(K, KB_AND, ok, kx_cmp(K, KC_EQ, kx_load(K, winner, ix_flat(K, &gi)), pos));
  int gval = kx_convert(K, em_value(K, n->ops[0], &gi), gt->dtype, dt);
  int acc = kb_stage_reduce(K, &sv, KIR_SUM, kx_sel(K, won, gval, kx_f(K, T, 0.0)), om);
  return kx_finish(K, acc, dt);
}

/* ---- table --------------------------------------------------------------------------- */

#define GATHER(nm, fn) {nm, LOP_REDUCE, LOP_COST_INF, fn, NULL, NULL, NULL}

const lop gc_lower_ops_grad[] = {
    {"detach", LOP_ELEMENTWISE, 0, emit_detach, NULL, NULL, NULL},
    {"slice_scatter", LOP_ELEMENTWISE, 2, emit_slice_scatter, NULL, NULL, NULL},
    GATHER("index_add", emit_index_add),
    GATHER("scatter_add", emit_index_add),
    GATHER("conv2d_backward_input", emit_conv_bw_input),
    GATHER("conv2d_backward_weight", emit_conv_bw_weight),
    GATHER("avg_pool2d_backward", emit_avg_pool_bw),
    GATHER("adaptive_avg_pool2d_backward", emit_adaptive_bw),
    {"max_pool2d_backward", LOP_REDUCE, LOP_COST_INF, emit_max_pool_bw, build_max_pool_bw, NULL, NULL},
    {0},
};
