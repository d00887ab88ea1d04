/* matmul, linear and scaled_dot_product_attention.
 *
 * f32/f64 products are GEMM steps: operands that are views of buffers
 * are passed with strides and transpose flags when GEMM can describe them
 * (one batch stride, unit stride along rows or columns, no offset) and
 * are packed into a contiguous temp otherwise. The result buffer is what
 * the GEMM writes; bias and elementwise consumers are computed by the
 * kernel that reads it, which lowering then turns into the GEMM's
 * epilogue. Integer and f16/bf16 products are REDUCE kernels. Attention
 * without a score function is GEMM, a masked softmax kernel, GEMM. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernel/lower_internal.h"
#include "support/status.h"

static bool is_float(gc_dtype dt) {
  return dt == GRAPHC_F32 || dt == GRAPHC_F64 || dt == GRAPHC_F16 || dt == GRAPHC_BF16;
}

/* ---- GEMM operands ----------------------------------------------------------- */

/* A stack of matrices read from value u: batch dims right-aligned to the
 * product's batch dims, rows/cols from u's dims rdim/cdim (-1: extent 1). */
typedef struct mspec {
  int u, nb;              /* value, its number of batch dims             */
  int rdim, cdim;
} mspec;

typedef struct mop {
  int buf;
  bool trans;
  gc_dim ld, bstride; /* bstride GC_DIM_NONE: broadcast (0) */
} mop;

static gc_dim ext(lower_ctx *L, const gc_type *t, int d) { return d >= 0 ? t->dims[d] : lw_pconst(L, 1); }

static bool uniform_batch(lower_ctx *L, const gc_dim *st, const gc_dim *e, int nb, gc_dim *out) {
  int inner = -1;
  for (int i = nb - 1; i >= 0 && inner < 0; i--)
    if (!lw_pis(L, e[i], 1)) inner = i;
  *out = GC_DIM_NONE;
  if (inner < 0) return true;
  bool all_zero = true;
  for (int i = 0; i <= inner; i++)
    if (!lw_pis(L, e[i], 1) && !lw_pis(L, st[i], 0)) all_zero = false;
  if (all_zero) return true;
  gc_dim span = lw_pconst(L, 1);
  for (int i = inner; i >= 0; i--) {
    if (!lw_pis(L, e[i], 1) && st[i] != lw_pmul(L, st[inner], span)) return false;
    span = lw_pmul(L, span, e[i]);
  }
  *out = st[inner];
  return true;
}

static bool describe(lower_ctx *L, const mspec *ms, const gc_dim *obatch, int nob, gc_dtype dt, mop *mo) {
  lw_sview s;
  const gc_type *ut = &L->fg->vals[ms->u].type;
  if (!lw_strided(L, ms->u, &s) || !lw_pis(L, s.offset, 0) || L->p->buffers[s.buf].dtype != dt) return false;
  gc_dim R = ext(L, ut, ms->rdim), C = ext(L, ut, ms->cdim);
  gc_dim sr = ms->rdim >= 0 ? s.stride[ms->rdim] : lw_pconst(L, 0);
  gc_dim sc = ms->cdim >= 0 ? s.stride[ms->cdim] : lw_pconst(L, 0);
  if (lw_pis(L, C, 1)) sc = lw_pconst(L, 1);
  if (lw_pis(L, R, 1)) sr = lw_pis(L, sc, 1) ? C : lw_pconst(L, 1);
  mo->buf = s.buf;
  if (lw_pis(L, sc, 1) && !lw_pis(L, sr, 0)) mo->trans = false, mo->ld = sr;
  else if (lw_pis(L, sr, 1) && !lw_pis(L, sc, 0)) mo->trans = true, mo->ld = sc;
  else return false;
  gc_dim st[GC_MAX_RANK];
  for (int i = 0; i < nob; i++) {
    int ui = i - (nob - ms->nb);
    bool bc = ui < 0 || (lw_pis(L, ut->dims[ui], 1) && !lw_pis(L, obatch[i], 1));
    st[i] = bc ? lw_pconst(L, 0) : s.stride[ui];
  }
  return uniform_batch(L, st, obatch, nob, &mo->bstride) && !L->st;
}

/* mo for ms: strided when possible, else packed into [obatch, R, C]. */
static graphc_status_t operand(lower_ctx *L, const mspec *ms, const gc_dim *obatch, int nob, gc_dtype dt,
                               mop *mo) {
  if (describe(L, ms, obatch, nob, dt, mo)) return NULL;
  if (L->st) return NULL;
  const gc_type *ut = &L->fg->vals[ms->u].type;
  gc_type shape = {.dtype = dt, .rank = nob + 2};
  int map[GC_MAX_RANK + 2];
  for (int i = 0; i < nob; i++) {
    int ui = i - (nob - ms->nb);
    shape.dims[i] = obatch[i];
    map[i] = ui;
  }
  shape.dims[nob] = ext(L, ut, ms->rdim);
  shape.dims[nob + 1] = ext(L, ut, ms->cdim);
  map[nob] = ms->rdim;
  map[nob + 1] = ms->cdim;
  GC_TRY(lw_materialize_map(L, ms->u, dt, &shape, map, &mo->buf));
  mo->trans = false;
  mo->ld = shape.dims[nob + 1];
  mo->bstride = nob ? lw_pmul(L, shape.dims[nob], shape.dims[nob + 1]) : GC_DIM_NONE;
  return NULL;
}

static int size_or_none(lower_ctx *L, gc_dim d) { return d == GC_DIM_NONE ? -1 : lw_size(L, d); }

/* Appends C[batch] = alpha A B (+ beta C). */
static graphc_status_t gemm_step(lower_ctx *L, gc_dtype dt, const mop *a, const mop *b, int c, gc_dim m,
                                 gc_dim n, gc_dim k, gc_dim batch, gc_dim stride_c, double alpha) {
  kir_step st;
  memset(&st, 0, sizeof st);
  st.kind = KIR_STEP_GEMM;
  kir_gemm *g = &st.gemm;
  g->dtype = dt;
  g->a = a->buf, g->b = b->buf, g->c = c;
  g->trans_a = a->trans, g->trans_b = b->trans;
  g->m = lw_size(L, m), g->n = lw_size(L, n), g->k = lw_size(L, k);
  g->lda = lw_size(L, a->ld), g->ldb = lw_size(L, b->ld), g->ldc = lw_size(L, n);
  bool batched = batch != GC_DIM_NONE;
  g->batch = batched ? lw_size(L, batch) : -1;
  g->stride_a = batched ? size_or_none(L, a->bstride) : -1;
  g->stride_b = batched ? size_or_none(L, b->bstride) : -1;
  g->stride_c = batched ? lw_size(L, stride_c) : -1;
  g->alpha = alpha;
  g->beta = 0.0;
  g->epilogue = -1;
  if (L->st) return NULL;
  return lw_step(L, st) < 0 ? GC_OOM() : NULL;
}

/* The GEMM writes result y directly when nothing is added to it and y is
 * materialised; otherwise a temp that the consumers' kernel reads. */
static int gemm_out(lower_ctx *L, const lnode *n, bool bias) {
  int y = n->res[0];
  if (L->mat[y] && !bias) return lw_value_buffer(L, y);
  char name[80];
  snprintf(name, sizeof name, "%s.raw", lw_vname(L, y));
  const lval *yv = &L->fg->vals[y];
  return lw_buffer(L, yv->type.dtype, &yv->type, GC_DIM_NONE, KIR_BUF_TEMP, -1, name);
}

static void finish_out(lower_ctx *L, const lnode *n, int c, bool bias) {
  int y = n->res[0];
  int node = L->fg->vals[y].producer;
  L->raw[node] = c;
  if (L->mat[y] && !bias) L->buf[y] = c;
}

static graphc_status_t build_matmul(lower_ctx *L, const lnode *n) {
  const gc_type *at = &L->fg->vals[n->ops[0]].type, *bt = &L->fg->vals[n->ops[1]].type;
  const gc_type *yt = &L->fg->vals[n->res[0]].type;
  gc_dtype dt = yt->dtype;
  int nob = yt->rank - (at->rank >= 2) - (bt->rank >= 2);
  mspec ma = {n->ops[0], at->rank > 2 ? at->rank - 2 : 0, at->rank >= 2 ? at->rank - 2 : -1, at->rank - 1};
  mspec mb = {n->ops[1], bt->rank > 2 ? bt->rank - 2 : 0, bt->rank >= 2 ? bt->rank - 2 : 0,
              bt->rank >= 2 ? bt->rank - 1 : -1};
  mop a, b;
  GC_TRY(operand(L, &ma, yt->dims, nob, dt, &a));
  GC_TRY(operand(L, &mb, yt->dims, nob, dt, &b));
  int c = gemm_out(L, n, false);
  if (L->st || L->demote >= 0 || c < 0) return NULL;
  gc_dim m = ext(L, at, ma.rdim), k = at->dims[at->rank - 1], nn = ext(L, bt, mb.cdim);
  gc_dim batch = nob ? lw_pnumel(L, yt, 0, nob) : GC_DIM_NONE;
  GC_TRY(gemm_step(L, dt, &a, &b, c, m, nn, k, batch, lw_pmul(L, m, nn), 1.0));
  finish_out(L, n, c, false);
  return NULL;
}

static graphc_status_t build_linear(lower_ctx *L, const lnode *n) {
  int x = n->ops[0];
  const gc_type *xt = &L->fg->vals[x].type, *wt = &L->fg->vals[n->ops[1]].type;
  gc_dtype dt = xt->dtype;
  mop a, b;
  lw_sview s;
  bool bias = n->nops == 3;
  if (lw_strided(L, x, &s) && lw_pis(L, s.offset, 0) && L->p->buffers[s.buf].dtype == dt) {
    bool contig = true;
    for (int d = 0; d < xt->rank; d++)
      if (!lw_pis(L, xt->dims[d], 1) && s.stride[d] != lw_pnumel(L, xt, d + 1, xt->rank)) contig = false;
    a.buf = contig ? s.buf : -1;
  } else {
    a.buf = -1;
  }
  if (L->st) return NULL;
  if (a.buf < 0) {
    int map[GC_MAX_RANK];
    for (int d = 0; d < xt->rank; d++) map[d] = d;
    GC_TRY(lw_materialize_map(L, x, dt, xt, map, &a.buf));
  }
  a.trans = false;
  a.ld = xt->dims[xt->rank - 1];
  mspec mb = {n->ops[1], 0, 1, 0}; /* w^T: rows K (w dim 1), cols N (w dim 0) */
  GC_TRY(operand(L, &mb, NULL, 0, dt, &b));
  int c = gemm_out(L, n, bias);
  if (L->st || L->demote >= 0 || c < 0) return NULL;
  gc_dim rows = lw_pnumel(L, xt, 0, xt->rank - 1);
  GC_TRY(gemm_step(L, dt, &a, &b, c, rows, wt->dims[0], wt->dims[1], GC_DIM_NONE, GC_DIM_NONE, 1.0));
  finish_out(L, n, c, bias);
  return NULL;
}

/* The result of a GEMM node at `at`: its output buffer, plus the bias. */
static int emit_gemm(kctx *K, const lnode *n, int res, ix *at) {
  lower_ctx *L = K->L;
  const lval *yv = &L->fg->vals[n->res[res]];
  int raw = L->raw[yv->producer];
  if (raw < 0) return em_fail(K, gc_status(GRAPHC_STATUS_INTERNAL, "lowering: GEMM result read before the GEMM"));
  int e = kx_load(K, raw, ix_flat(K, at));
  if (n->nops == 3) {
    ix bi;
    ix_init(&bi, &L->fg->vals[n->ops[2]].type);
    bi.c[0] = ix_coord(K, at, at->type->rank - 1);
    e = kx_bin(K, KB_ADD, e, em_value(K, n->ops[2], &bi));
  }
  return kx_finish(K, e, yv->type.dtype);
}

/* ---- loop forms (integers, f16, bf16) ------------------------------------------- */

static int emit_matmul_loop(kctx *K, const lnode *n, int res, ix *at) {
  lower_ctx *L = K->L;
  const lval *av = &L->fg->vals[n->ops[0]], *bv = &L->fg->vals[n->ops[1]], *yv = &L->fg->vals[n->res[res]];
  const gc_type *at_ = &av->type, *bt = &bv->type, *yt = &yv->type;
  bool lin = !strcmp(n->op->name, "linear");
  int r = yt->rank, c[GC_MAX_RANK];
  for (int d = 0; d < r; d++) c[d] = ix_coord(K, at, d);
  unsigned om;
  if (!em_group_ok(K, n->res[0], c, r, &om)) return -1;
  gc_dim kd = at_->dims[at_->rank - 1];
  gc_dtype adt = is_float(yt->dtype) ? yt->dtype : GRAPHC_I64;
  ix ai, bi;
  ix_init(&ai, at_);
  ix_init(&bi, bt);
  kstage_save sv;
  kb_stage_enter(K, 1, &kd, &sv);
  int kk = kx_inner(K, 0);
  if (lin) {
    for (int d = 0; d + 1 < at_->rank; d++) ai.c[d] = c[d];
    ai.c[at_->rank - 1] = kk;
    bi.c[0] = c[r - 1];
    bi.c[1] = kk;
  } else {
    int nob = r - (at_->rank >= 2) - (bt->rank >= 2);
    for (int d = 0; d + 2 < at_->rank; d++) {
      int od = d + nob - (at_->rank - 2);
      ai.c[d] = lw_pis(L, at_->dims[d], 1) ? kx_i(K, 0) : c[od];
    }
    for (int d = 0; d + 2 < bt->rank; d++) {
      int od = d + nob - (bt->rank - 2);
      bi.c[d] = lw_pis(L, bt->dims[d], 1) ? kx_i(K, 0) : c[od];
    }
    if (at_->rank >= 2) ai.c[at_->rank - 2] = c[nob];
    ai.c[at_->rank - 1] = kk;
    if (bt->rank >= 2) {
      bi.c[bt->rank - 2] = kk;
      bi.c[bt->rank - 1] = c[r - 1];
    } else {
      bi.c[0] = kk;
    }
  }
  int x = kx_convert(K, em_value(K, n->ops[0], &ai), at_->dtype, adt);
  int w = kx_convert(K, em_value(K, n->ops[1], &bi), bt->dtype, adt);
  int acc = kb_stage_reduce(K, &sv, KIR_SUM, kx_bin(K, KB_MUL, x, w), om);
  if (lin && n->nops == 3) {
    const lval *bv2 = &L->fg->vals[n->ops[2]];
    ix pi;
    ix_init(&pi, &bv2->type);
    pi.c[0] = c[r - 1];
    acc = kx_bin(K, KB_ADD, acc, kx_convert(K, em_value(K, n->ops[2], &pi), bv2->type.dtype, adt));
  }
  return adt == yt->dtype ? kx_finish(K, acc, adt) : kx_convert(K, acc, adt, yt->dtype);
}

static const lop lop_matmul_gemm = {"matmul", LOP_GEMM, 0, emit_gemm, build_matmul, NULL, NULL};
static const lop lop_linear_gemm = {"linear", LOP_GEMM, 1, emit_gemm, build_linear, NULL, NULL};
static const lop lop_matmul_loop = {"matmul", LOP_REDUCE, LOP_COST_INF, emit_matmul_loop, NULL, NULL, NULL};
static const lop lop_linear_loop = {"linear", LOP_REDUCE, LOP_COST_INF, emit_matmul_loop, NULL, NULL, NULL};

static const lop *product_variant(const lnode *n, const lgraph *fg, graphc_status_t *st) {
  (void)st;
  gc_dtype dt = fg->vals[n->res[0]].type.dtype;
  bool gemm = dt == GRAPHC_F32 || dt == GRAPHC_F64;
  if (!strcmp(n->n->op->name, "linear")) return gemm ? &lop_linear_gemm : &lop_linear_loop;
  return gemm ? &lop_matmul_gemm : &lop_matmul_loop;
}

/* ---- attention ---------------------------------------------------------------------- */

/* S = q k^T, P = masked softmax(S * scale) (rows that are entirely
 * masked give zeros), y = P v. */
static graphc_status_t build_sdpa(lower_ctx *L, const lnode *n) {
  const gc_type *qt = &L->fg->vals[n->ops[0]].type, *kt = &L->fg->vals[n->ops[1]].type;
  const gc_type *vt = &L->fg->vals[n->ops[2]].type, *yt = &L->fg->vals[n->res[0]].type;
  gc_dtype dt = yt->dtype, ct = dt == GRAPHC_F64 ? GRAPHC_F64 : GRAPHC_F32;
  kir_type T = lw_ktype(ct);
  int br = yt->rank - 2;
  gc_dim sq = qt->dims[qt->rank - 2], d = qt->dims[qt->rank - 1], skv = kt->dims[kt->rank - 2];
  gc_dim dv = vt->dims[vt->rank - 1];
  mop a, b, p, v;
  mspec mq = {n->ops[0], qt->rank - 2, qt->rank - 2, qt->rank - 1};
  mspec mk = {n->ops[1], kt->rank - 2, kt->rank - 1, kt->rank - 2};
  mspec mv = {n->ops[2], vt->rank - 2, vt->rank - 2, vt->rank - 1};
  GC_TRY(operand(L, &mq, yt->dims, br, ct, &a));
  GC_TRY(operand(L, &mk, yt->dims, br, ct, &b));
  GC_TRY(operand(L, &mv, yt->dims, br, ct, &v));
  if (L->st || L->demote >= 0) return NULL;
  gc_type st = {.dtype = ct, .rank = br + 2};
  for (int i = 0; i < br; i++) st.dims[i] = yt->dims[i];
  st.dims[br] = sq;
  st.dims[br + 1] = skv;
  char name[80];
  snprintf(name, sizeof name, "%s.scores", lw_vname(L, n->res[0]));
  int sbuf = lw_buffer(L, ct, &st, GC_DIM_NONE, KIR_BUF_TEMP, -1, name);
  snprintf(name, sizeof name, "%s.probs", lw_vname(L, n->res[0]));
  int pbuf = lw_buffer(L, ct, &st, GC_DIM_NONE, KIR_BUF_TEMP, -1, name);
  if (sbuf < 0 || pbuf < 0) return NULL;
  gc_dim batch = br ? lw_pnumel(L, yt, 0, br) : GC_DIM_NONE;
  GC_TRY(gemm_step(L, ct, &a, &b, sbuf, sq, skv, d, batch, lw_pmul(L, sq, skv), 1.0));

  kctx K;
  GC_TRY(kb_begin(&K, L, "attn_softmax", lw_vname(L, n->res[0]), br + 1, st.dims));
  ix si;
  ix_init(&si, &st);
  kstage_save sv;
  kb_stage_enter(&K, 1, &skv, &sv);
  for (int i = 0; i <= br; i++) si.c[i] = kx_outer(&K, i);
  si.c[br + 1] = kx_inner(&K, 0);
  int scale = gc_node_attr(n->n, "scale") ? kx_f(&K, T, gc_attr_float(n->n, "scale", 1.0))
                                           : kx_bin(&K, KB_DIV, kx_f(&K, T, 1.0),
                                                    kx_un(&K, KU_SQRT, kx_cast(&K, T, kx_pdim(&K, d), -1)));
  int s = kx_bin(&K, KB_MUL, kx_load(&K, sbuf, ix_flat(&K, &si)), scale);
  if (!lw_pis(L, d, 1) && (!gc_dim_is_const(L->dims, d, NULL) || lw_pis(L, d, 0)))
    s = kx_sel(&K, kx_cmp(&K, KC_EQ, kx_pdim(&K, d), kx_i(&K, 0)), kx_f(&K, T, 0.0), s);
  int ninf = kx_f(&K, T, -INFINITY);
  if (gc_attr_bool(n->n, "causal", false))
    s = kx_sel(&K, kx_cmp(&K, KC_GT, si.c[br + 1], si.c[br]), ninf, s);
  if (gc_attr_bool(n->n, "has_mask", false)) {
    const lval *mv2 = &L->fg->vals[n->ops[3]];
    ix mi;
    ix_bcast(&K, &si, &mv2->type, &mi);
    int m = em_value(&K, n->ops[3], &mi);
    if (mv2->type.dtype == GRAPHC_BOOL) s = kx_sel(&K, m, s, ninf);
    else s = kx_bin(&K, KB_ADD, s, kx_convert(&K, m, mv2->type.dtype, ct));
  }
  int mx = kb_stage_reduce(&K, &sv, KIR_MAX, s, (1u << (br + 1)) - 1);
  kb_stage_enter(&K, 1, &skv, &sv);
  int e = kx_un(&K, KU_EXP, kx_bin(&K, KB_SUB, s, mx));
  int sum = kb_stage_reduce(&K, &sv, KIR_SUM, e, (1u << (br + 1)) - 1);
  int all_masked = kx_cmp(&K, KC_EQ, mx, ninf);
  int prob = kx_sel(&K, all_masked, kx_f(&K, T, 0.0), kx_bin(&K, KB_DIV, e, sum));
  kir_store ps = {pbuf, ix_flat(&K, &si), prob};
  graphc_status_t err = kb_store_stage(&K, 1, &skv, 1, &ps);
  if (err) {
    kb_discard(&K);
    return err;
  }
  GC_TRY(kb_finish(&K, NULL));
  if (L->st || L->demote >= 0) return NULL;

  p.buf = pbuf;
  p.trans = false;
  p.ld = skv;
  p.bstride = br ? lw_pmul(L, sq, skv) : GC_DIM_NONE;
  int y = n->res[0];
  int out = lw_value_buffer(L, y);
  if (out < 0) return NULL;
  int c = out;
  if (dt != ct) {
    snprintf(name, sizeof name, "%s.f32", lw_vname(L, y));
    c = lw_buffer(L, ct, yt, GC_DIM_NONE, KIR_BUF_TEMP, -1, name);
    if (c < 0) return NULL;
  }
  GC_TRY(gemm_step(L, ct, &p, &v, c, sq, dv, skv, batch, lw_pmul(L, sq, dv), 1.0));
  if (dt != ct) {
    /* round the f32 result into y's dtype */
    int node = L->fg->vals[y].producer;
    L->raw[node] = c;
    L->buf[y] = -1;
    int save = L->mat[y];
    L->mat[y] = false;
    graphc_status_t r = lw_root_kernel(L, y, out);
    L->mat[y] = save;
    GC_TRY(r);
  }
  if (!L->st && L->demote < 0) L->buf[y] = out;
  return NULL;
}

static int emit_sdpa_cast(kctx *K, const lnode *n, int res, ix *at) {
  const lval *yv = &K->L->fg->vals[n->res[res]];
  int raw = K->L->raw[yv->producer];
  return kx_convert(K, kx_load(K, raw, ix_flat(K, at)), GRAPHC_F32, yv->type.dtype);
}

static const lop *sdpa_variant(const lnode *n, const lgraph *fg, graphc_status_t *st) {
  (void)fg;
  if (n->n->nregions > 0) {
    *st = gc_status(GRAPHC_STATUS_UNIMPLEMENTED, "a score function region");
    return NULL;
  }
  return NULL;
}

/* ---- table ---------------------------------------------------------------------------- */

const lop gc_lower_ops_linalg[] = {
    {"matmul", LOP_GEMM, 0, emit_gemm, build_matmul, NULL, product_variant},
    {"linear", LOP_GEMM, 1, emit_gemm, build_linear, NULL, product_variant},
    {"scaled_dot_product_attention", LOP_ROOT, LOP_COST_INF, emit_sdpa_cast, build_sdpa, NULL, sdpa_variant},
    {0},
};
