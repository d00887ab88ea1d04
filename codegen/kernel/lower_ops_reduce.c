/* Reductions and normalisations: sum mean amax amin argmax (REDUCE rules:
 * their whole result coordinate is an outer coordinate, the reduced dims
 * are a REDUCE stage's inner domain), softmax log_softmax layer_norm (ROW
 * rules: one kernel of REDUCE stages then the element formula), mse_loss,
 * and cross_entropy (two kernels: per-row terms, then the mean).
 *
 * Sums accumulate in the value type (f32 for f32/f16/bf16, f64, wrapping
 * i64); the interpreter accumulates floats in f64, so results agree to
 * the rounding of an f32 sum. layer_norm works in f64 for every float dtype. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernel/lower_internal.h"
#include "support/status.h"

static const lval *val(kctx *K, int v) { return &K->L->fg->vals[v]; }

static bool is_float(gc_dtype dt) {
  return dt == GRAPHC_F32 || dt == GRAPHC_F64 || dt == GRAPHC_F16 || dt == GRAPHC_BF16;
}

/* The group coordinates of result `res` at `at` (all of them). */
static bool group_all(kctx *K, const lnode *n, ix *at, int *c, unsigned *om) {
  int r = at->type->rank;
  for (int d = 0; d < r; d++) c[d] = ix_coord(K, at, d);
  return em_group_ok(K, n->res[0], c, r, om);
}

/* Reduced dims of x as the "dim" attribute says (absent / [] = all). */
static void reduce_mask(const lnode *n, int rank, bool *mask) {
  const gc_attr *a = gc_node_attr(n->n, "dim");
  int count = 0;
  const int64_t *list = NULL;
  if (a && a->kind == GRAPHC_ATTR_INT) list = &a->i, count = 1;
  else if (a) list = a->ints, count = a->count;
  for (int d = 0; d < GC_MAX_RANK; d++) mask[d] = count == 0;
  for (int k = 0; k < count; k++) {
    int d;
    if (gc_wrap_dim(list[k], rank, &d) && rank > 0) mask[d] = true;
  }
}

/* x coordinates for result coordinates c: reduced dims become the inner
 * coordinates of the stage being built. Fills the stage's inner dims. */
static int map_reduced(kctx *K, const gc_type *xt, const bool *mask, bool keepdim, const int *c,
                       ix *xi, gc_dim *inner) {
  int j = 0, k = 0;
  ix_init(xi, xt);
  for (int d = 0; d < xt->rank; d++) {
    if (mask[d]) {
      inner[j] = lw_pdim(K->L, xt->dims[d]);
      xi->c[d] = kx_inner(K, j++);
      if (keepdim) k++;
    } else {
      xi->c[d] = c[k++];
    }
  }
  return j;
}

static int check_nonempty(kctx *K, const lnode *n, int ninner, const gc_dim *inner) {
  lower_ctx *L = K->L;
  int node = L->fg->vals[n->res[0]].producer;
  if (L->checked[node]) return 0;
  L->checked[node] = true;
  gc_dim numel = lw_pconst(L, 1);
  for (int d = 0; d < ninner; d++) numel = lw_pmul(L, numel, inner[d]);
  graphc_status_t st = lw_check_dims(L, n, numel, KC_GT, lw_pconst(L, 0),
                                     "cannot reduce over a dim of size 0 (no identity); element count");
  return st ? em_fail(K, st) : 0;
}

static int emit_reduce(kctx *K, const lnode *n, int res, ix *at) {
  (void)res;
  const lval *xv = val(K, n->ops[0]), *yv = val(K, n->res[0]);
  const char *nm = n->op->name;
  int c[GC_MAX_RANK];
  unsigned om;
  if (!group_all(K, n, at, c, &om)) return -1;
  bool mask[GC_MAX_RANK];
  reduce_mask(n, xv->type.rank, mask);
  gc_dim inner[GC_MAX_RANK];
  ix xi;
  kstage_save sv;
  int ninner = map_reduced(K, &xv->type, mask, gc_attr_bool(n->n, "keepdim", false), c, &xi, inner);
  bool ext = !strcmp(nm, "amax") || !strcmp(nm, "amin");
  if (ext && check_nonempty(K, n, ninner, inner) < 0) return -1;
  gc_dtype xdt = xv->type.dtype, ydt = yv->type.dtype;
  gc_dtype adt = is_float(xdt) ? xdt : GRAPHC_I64; /* bool/int reduce in i64 */
  kb_stage_enter(K, ninner, inner, &sv);
  int x = kx_convert(K, em_value(K, n->ops[0], &xi), xdt, adt);
  kir_combine comb = !strcmp(nm, "amax") ? KIR_MAX : !strcmp(nm, "amin") ? KIR_MIN : KIR_SUM;
  int acc = kb_stage_reduce(K, &sv, comb, x, om);
  if (!strcmp(nm, "mean")) {
    gc_dim cnt = lw_pconst(K->L, 1);
    for (int d = 0; d < ninner; d++) cnt = lw_pmul(K->L, cnt, inner[d]);
    acc = kx_bin(K, KB_DIV, acc, kx_cast(K, lw_ktype(adt), kx_pdim(K, cnt), -1));
  }
  return kx_convert(K, acc, adt, ydt);
}

static int emit_argmax(kctx *K, const lnode *n, int res, ix *at) {
  (void)res;
  const lval *xv = val(K, n->ops[0]);
  const gc_type *xt = &xv->type;
  int c[GC_MAX_RANK];
  unsigned om;
  if (!group_all(K, n, at, c, &om)) return -1;
  bool mask[GC_MAX_RANK];
  const gc_attr *da = gc_node_attr(n->n, "dim");
  for (int d = 0; d < GC_MAX_RANK; d++) mask[d] = !da;
  int dd = 0;
  if (da && gc_wrap_dim(da->i, xt->rank, &dd) && xt->rank > 0) mask[dd] = true;
  bool keep = gc_attr_bool(n->n, "keepdim", false);
  gc_dim inner[GC_MAX_RANK];
  ix xi;
  kstage_save sv;
  int ninner = map_reduced(K, xt, mask, da ? keep : false, c, &xi, inner);
  if (check_nonempty(K, n, ninner, inner) < 0) return -1;
  gc_dtype adt = is_float(xt->dtype) ? xt->dtype : GRAPHC_I64;
  kb_stage_enter(K, ninner, inner, &sv);
  int x = kx_convert(K, em_value(K, n->ops[0], &xi), xt->dtype, adt);
  int m = kb_stage_reduce(K, &sv, KIR_MAX, x, om);
  /* The first position holding the maximum (or the first NaN). */
  kb_stage_enter(K, ninner, inner, &sv);
  int pos = kx_i(K, 0), j = 0;
  for (int d = 0; d < xt->rank; d++) {
    if (!mask[d]) continue;
    gc_dim st = lw_pconst(K->L, 1);
    for (int e = d + 1; e < xt->rank; e++)
      if (mask[e]) st = lw_pmul(K->L, st, lw_pdim(K->L, xt->dims[e]));
    pos = kx_iadd(K, pos, kx_imul(K, kx_inner(K, j++), kx_pdim(K, st)));
  }
  int hit = kx_cmp(K, KC_EQ, x, m);
  if (is_float(adt)) hit = kx_bin(K, KB_OR, hit, kx_cmp(K, KC_NE, x, x));
  return kb_stage_reduce(K, &sv, KIR_MIN, kx_sel(K, hit, pos, kx_i(K, INT64_MAX)), om);
}

/* ---- softmax, log_softmax, layer_norm ------------------------------------------ */

static int softmax_dim(const lnode *n, int rank) {
  int d = 0;
  gc_wrap_dim(gc_attr_int(n->n, "dim", 0), rank, &d);
  return d;
}

static unsigned softmax_rows(const lnode *n, const lval *y) {
  return y->type.rank ? 1u << softmax_dim(n, y->type.rank) : 0;
}

static int emit_softmax(kctx *K, const lnode *n, int res, ix *at) {
  (void)res;
  const lval *xv = val(K, n->ops[0]);
  gc_dtype dt = xv->type.dtype;
  kir_type T = lw_ktype(dt);
  int r = xv->type.rank, d = r ? softmax_dim(n, r) : -1;
  int c[GC_MAX_RANK], g[GC_MAX_RANK], ng = 0;
  for (int e = 0; e < r; e++) {
    c[e] = ix_coord(K, at, e);
    if (e != d) g[ng++] = c[e];
  }
  unsigned om;
  if (!em_group_ok(K, n->res[0], g, ng, &om)) return -1;
  gc_dim inner[1];
  int ninner = 0;
  ix xr, xe;
  ix_init(&xr, &xv->type);
  for (int e = 0; e < r; e++) xr.c[e] = c[e];
  kstage_save sv;
  if (d >= 0) inner[ninner++] = lw_pdim(K->L, xv->type.dims[d]);
  kb_stage_enter(K, ninner, inner, &sv);
  if (d >= 0) xr.c[d] = kx_inner(K, 0);
  int x = em_value(K, n->ops[0], &xr);
  int m = kb_stage_reduce(K, &sv, KIR_MAX, x, om);
  kb_stage_enter(K, ninner, inner, &sv);
  int s = kb_stage_reduce(K, &sv, KIR_SUM, kx_un(K, KU_EXP, kx_bin(K, KB_SUB, x, m)), om);
  ix_init(&xe, &xv->type);
  for (int e = 0; e < r; e++) xe.c[e] = c[e];
  xe.flat = at->flat;
  int z = kx_bin(K, KB_SUB, em_value(K, n->ops[0], &xe), m);
  int y = !strcmp(n->op->name, "log_softmax") ? kx_bin(K, KB_SUB, z, kx_un(K, KU_LOG, s))
                                              : kx_bin(K, KB_DIV, kx_un(K, KU_EXP, z), s);
  (void)T;
  return kx_finish(K, y, dt);
}

static int norm_count(const lnode *n) { return gc_node_attr(n->n, "normalized_shape")->count; }

static unsigned layer_norm_rows(const lnode *n, const lval *y) {
  unsigned m = 0;
  for (int d = y->type.rank - norm_count(n); d < y->type.rank; d++) m |= 1u << d;
  return m;
}

static int emit_layer_norm(kctx *K, const lnode *n, int res, ix *at) {
  (void)res;
  lower_ctx *L = K->L;
  const lval *xv = val(K, n->ops[0]);
  gc_dtype dt = xv->type.dtype;
  /* Every float dtype normalises in f64, like the interpreter: an f32 mean
   * of a constant row is off by an ulp, which rstd (~1/sqrt(eps)) turns
   * into a visible error where the exact answer is 0. Rounded once at the end. */
  const gc_dtype cdt = GRAPHC_F64;
  kir_type T = KIR_F64;
  int r = xv->type.rank, k = norm_count(n), lead = r - k;
  int c[GC_MAX_RANK];
  for (int e = 0; e < r; e++) c[e] = ix_coord(K, at, e);
  unsigned om;
  if (!em_group_ok(K, n->res[0], c, lead, &om)) return -1;
  gc_dim inner[GC_MAX_RANK];
  gc_dim cnt = lw_pconst(L, 1);
  for (int e = 0; e < k; e++) {
    inner[e] = lw_pdim(L, xv->type.dims[lead + e]);
    cnt = lw_pmul(L, cnt, inner[e]);
  }
  int count = kx_cast(K, T, kx_pdim(K, cnt), -1);
  ix xr;
  ix_init(&xr, &xv->type);
  kstage_save sv;
  kb_stage_enter(K, k, inner, &sv);
  for (int e = 0; e < r; e++) xr.c[e] = e < lead ? c[e] : kx_inner(K, e - lead);
  int x = kx_convert(K, em_value(K, n->ops[0], &xr), dt, cdt);
  int mean = kx_bin(K, KB_DIV, kb_stage_reduce(K, &sv, KIR_SUM, x, om), count);
  kb_stage_enter(K, k, inner, &sv);
  int dx = kx_bin(K, KB_SUB, x, mean);
  int var = kx_bin(K, KB_DIV, kb_stage_reduce(K, &sv, KIR_SUM, kx_bin(K, KB_MUL, dx, dx), om), count);
  double eps = gc_attr_float(n->n, "eps", 1e-5);
  int rstd = kx_bin(K, KB_DIV, kx_f(K, T, 1.0), kx_un(K, KU_SQRT, kx_bin(K, KB_ADD, var, kx_f(K, T, eps))));
  ix xe;
  ix_init(&xe, &xv->type);
  for (int e = 0; e < r; e++) xe.c[e] = c[e];
  xe.flat = at->flat;
  int y = kx_bin(K, KB_MUL, kx_bin(K, KB_SUB, kx_convert(K, em_value(K, n->ops[0], &xe), dt, cdt), mean), rstd);
  for (int i = 1; i < n->nops; i++) {
    const lval *pv = val(K, n->ops[i]);
    ix pi;
    ix_init(&pi, &pv->type);
    for (int e = 0; e < k; e++) pi.c[e] = c[lead + e];
    int p = kx_convert(K, em_value(K, n->ops[i], &pi), pv->type.dtype, cdt);
    y = kx_bin(K, i == 1 ? KB_MUL : KB_ADD, y, p);
  }
  return kx_convert(K, y, cdt, dt);
}

/* ---- mse_loss ------------------------------------------------------------------ */

static int sq_diff(kctx *K, const lnode *n, ix *at, gc_dtype dt) {
  int d = kx_bin(K, KB_SUB, em_operand(K, n, 0, at, dt), em_operand(K, n, 1, at, dt));
  return kx_bin(K, KB_MUL, d, d);
}

static int emit_mse_none(kctx *K, const lnode *n, int res, ix *at) {
  gc_dtype dt = val(K, n->res[res])->type.dtype;
  return kx_finish(K, sq_diff(K, n, at, dt), dt);
}

static int emit_mse_reduce(kctx *K, const lnode *n, int res, ix *at) {
  (void)at;
  lower_ctx *L = K->L;
  gc_dtype dt = val(K, n->res[res])->type.dtype;
  const gc_type *ta = &val(K, n->ops[0])->type, *tb = &val(K, n->ops[1])->type;
  unsigned om;
  if (!em_group_ok(K, n->res[0], NULL, 0, &om)) return -1;
  gc_type bt = {.dtype = dt, .rank = ta->rank > tb->rank ? ta->rank : tb->rank};
  gc_dim inner[GC_MAX_RANK];
  gc_dim cnt = lw_pconst(L, 1);
  for (int d = 0; d < bt.rank; d++) {
    int da = d - (bt.rank - ta->rank), db = d - (bt.rank - tb->rank);
    gc_dim x = da >= 0 ? ta->dims[da] : GC_DIM_NONE, y = db >= 0 ? tb->dims[db] : GC_DIM_NONE;
    int64_t one;
    bt.dims[d] = x == GC_DIM_NONE || (gc_dim_is_const(L->dims, x, &one) && one == 1) ? (y == GC_DIM_NONE ? x : y) : x;
    inner[d] = lw_pdim(L, bt.dims[d]);
    cnt = lw_pmul(L, cnt, inner[d]);
  }
  ix bi;
  ix_init(&bi, &bt);
  kstage_save sv;
  kb_stage_enter(K, bt.rank, inner, &sv);
  for (int d = 0; d < bt.rank; d++) bi.c[d] = kx_inner(K, d);
  int s = kb_stage_reduce(K, &sv, KIR_SUM, sq_diff(K, n, &bi, dt), om);
  if (!strcmp(gc_attr_str(n->n, "reduction", "mean"), "mean"))
    s = kx_bin(K, KB_DIV, s, kx_cast(K, lw_ktype(dt), kx_pdim(K, cnt), -1));
  return kx_finish(K, s, dt);
}

static const lop lop_mse_none = {"mse_loss", LOP_ELEMENTWISE, 3, emit_mse_none, NULL, NULL, NULL};
static const lop lop_mse_reduce = {"mse_loss", LOP_REDUCE, LOP_COST_INF, emit_mse_reduce, NULL, NULL, NULL};

static const lop *mse_variant(const lnode *n, const lgraph *fg, graphc_status_t *st) {
  (void)fg, (void)st;
  return !strcmp(gc_attr_str(n->n, "reduction", "mean"), "none") ? &lop_mse_none : &lop_mse_reduce;
}

/* ---- cross_entropy ------------------------------------------------------------- */

/* Kernel 1, per row n with target t: {valid ? lse - x[t] : 0,
 * valid ? C*lse - sum_c x : 0, valid} into a [N, 3] temp; kernel 2 sums
 * the columns and forms PyTorch's (label-smoothed) mean. */
static graphc_status_t build_cross_entropy(lower_ctx *L, const lnode *n) {
  int lg = n->ops[0], tg = n->ops[1], y = n->res[0];
  const lval *lv = &L->fg->vals[lg];
  gc_dtype dt = lv->type.dtype, rdt = dt == GRAPHC_F64 ? GRAPHC_F64 : GRAPHC_F32;
  kir_type T = lw_ktype(rdt);
  int64_t ignore = gc_attr_int(n->n, "ignore_index", -100);
  double ls = gc_attr_float(n->n, "label_smoothing", 0.0);
  GC_TRY(lw_check_index(L, n, tg, lv->type.dims[1], &ignore, "target"));
  if (L->st || L->demote >= 0) return NULL;
  gc_dim N = lw_pdim(L, lv->type.dims[0]), C = lw_pdim(L, lv->type.dims[1]);
  int rows = lw_buffer(L, rdt, NULL, lw_pmul(L, N, lw_pconst(L, 3)), KIR_BUF_TEMP, -1, "ce_rows");
  int out = lw_value_buffer(L, y);
  if (rows < 0 || out < 0) return NULL;
  kctx K;
  GC_TRY(kb_begin(&K, L, "ce_rows", lw_vname(L, y), 1, &N));
  ix xr, xt, ti;
  ix_init(&xr, &lv->type);
  kstage_save sv;
  kb_stage_enter(&K, 1, &C, &sv);
  xr.c[0] = kx_outer(&K, 0);
  xr.c[1] = kx_inner(&K, 0);
  int x = kx_convert(&K, em_value(&K, lg, &xr), dt, rdt);
  int m = kb_stage_reduce(&K, &sv, KIR_MAX, x, 1);
  kb_stage_enter(&K, 1, &C, &sv);
  int s = kb_stage_reduce(&K, &sv, KIR_SUM, kx_un(&K, KU_EXP, kx_bin(&K, KB_SUB, x, m)), 1);
  int tot = kx_f(&K, T, 0.0);
  if (ls > 0) {
    kb_stage_enter(&K, 1, &C, &sv);
    tot = kb_stage_reduce(&K, &sv, KIR_SUM, x, 1);
  }
  ix_init(&ti, &L->fg->vals[tg].type);
  ti.c[0] = kx_outer(&K, 0);
  int t = em_value(&K, tg, &ti);
  int valid = kx_cmp(&K, KC_NE, t, kx_i(&K, ignore));
  ix_init(&xt, &lv->type);
  xt.c[0] = kx_outer(&K, 0);
  xt.c[1] = kx_sel(&K, valid, t, kx_i(&K, 0));
  int lse = kx_bin(&K, KB_ADD, m, kx_un(&K, KU_LOG, s));
  int zero = kx_f(&K, T, 0.0);
  int nll = kx_sel(&K, valid, kx_bin(&K, KB_SUB, lse, kx_convert(&K, em_value(&K, lg, &xt), dt, rdt)), zero);
  int cl = kx_bin(&K, KB_MUL, kx_cast(&K, T, kx_pdim(&K, C), -1), lse);
  int sm = kx_sel(&K, valid, kx_bin(&K, KB_SUB, cl, tot), zero);
  int base = kx_imul(&K, kx_outer(&K, 0), kx_i(&K, 3));
  kir_store st[3] = {{rows, base, nll},
                     {rows, kx_iadd(&K, base, kx_i(&K, 1)), sm},
                     {rows, kx_iadd(&K, base, kx_i(&K, 2)), kx_sel(&K, valid, kx_f(&K, T, 1.0), zero)}};
  graphc_status_t e = kb_store_stage(&K, 0, NULL, 3, st);
  if (e) {
    kb_discard(&K);
    return e;
  }
  GC_TRY(kb_finish(&K, NULL));
  if (L->st || L->demote >= 0) return NULL;

  GC_TRY(kb_begin(&K, L, "ce_mean", lw_vname(L, y), 0, NULL));
  int acc[3];
  for (int j = 0; j < 3; j++) {
    kb_stage_enter(&K, 1, &N, &sv);
    int at = kx_iadd(&K, kx_imul(&K, kx_inner(&K, 0), kx_i(&K, 3)), kx_i(&K, j));
    acc[j] = kb_stage_reduce(&K, &sv, KIR_SUM, kx_load(&K, rows, at), 0);
  }
  int loss = kx_bin(&K, KB_DIV, acc[0], acc[2]);
  if (ls > 0) {
    int smooth = kx_bin(&K, KB_DIV, acc[1], acc[2]);
    int w = kx_bin(&K, KB_DIV, kx_f(&K, T, ls), kx_cast(&K, T, kx_pdim(&K, C), -1));
    loss = kx_bin(&K, KB_ADD, kx_bin(&K, KB_MUL, kx_f(&K, T, 1.0 - ls), loss), kx_bin(&K, KB_MUL, w, smooth));
  }
  kir_store fin = {out, kx_i(&K, 0), kx_convert(&K, loss, rdt, L->p->buffers[out].dtype)};
  e = kb_store_stage(&K, 0, NULL, 1, &fin);
  if (e) {
    kb_discard(&K);
    return e;
  }
  GC_TRY(kb_finish(&K, NULL));
  if (!L->st && L->demote < 0) L->buf[y] = out;
  return NULL;
}

/* ---- table ------------------------------------------------------------------------ */

#define RED(nm, fn) {nm, LOP_REDUCE, LOP_COST_INF, fn, NULL, NULL, NULL}

const lop gc_lower_ops_reduce[] = {
    RED("sum", emit_reduce), RED("mean", emit_reduce), RED("amax", emit_reduce),
    RED("amin", emit_reduce), RED("argmax", emit_argmax),
    {"softmax", LOP_ROW, LOP_COST_INF, emit_softmax, NULL, softmax_rows, NULL},
    {"log_softmax", LOP_ROW, LOP_COST_INF, emit_softmax, NULL, softmax_rows, NULL},
    {"layer_norm", LOP_ROW, LOP_COST_INF, emit_layer_norm, NULL, layer_norm_rows, NULL},
    {"mse_loss", LOP_REDUCE, LOP_COST_INF, emit_mse_reduce, NULL, NULL, mse_variant},
    {"cross_entropy", LOP_ROOT, LOP_COST_INF, NULL, build_cross_entropy, NULL, NULL},
    {0},
};
