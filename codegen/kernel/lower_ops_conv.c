/* conv2d and pooling as direct loop kernels: every output element is an
 * outer point, the window (input channels x kernel rows x kernel columns)
 * is a REDUCE stage. Padding is a select around a load whose coordinates
 * are clamped into the input, so no load leaves the buffer. Correctness
 * first: no im2col, no blocking. Symbolic spatial sizes get the run-time
 * checks the interpreter makes. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernel/lower_internal.h"
#include "support/status.h"

static const int64_t ONES[2] = {1, 1}, ZEROS[2] = {0, 0};

void lw_pair_attr(const lnode *n, const char *name, const int64_t dflt[2], bool empty_default, int64_t out[2]) {
  const gc_attr *a = gc_node_attr(n->n, name);
  if (!a || (a->count == 0 && empty_default)) out[0] = dflt[0], out[1] = dflt[1];
  else if (a->count == 1) out[0] = out[1] = a->ints[0];
  else out[0] = a->ints[0], out[1] = a->ints[1];
}

gc_dtype lw_conv_acc_dtype(gc_dtype dt) {
  return dt == GRAPHC_F32 || dt == GRAPHC_F16 || dt == GRAPHC_BF16 ? GRAPHC_F64 : dt;
}

typedef struct win {
  int64_t k[2], s[2], p[2], d[2];
} win;

/* Input coordinate of window tap `tap` for output coordinate `o` along
 * spatial axis i, whether it is inside [0, size), and the clamped one. */
static int tap_coord(kctx *K, const win *w, int i, int o, int tap, int size, int *inb) {
  int c = kx_iadd(K, kx_isub(K, kx_imul(K, o, kx_i(K, w->s[i])), kx_i(K, w->p[i])),
                  kx_imul(K, tap, kx_i(K, w->d[i])));
  int in = kx_bin(K, KB_AND, kx_cmp(K, KC_GE, c, kx_i(K, 0)), kx_cmp(K, KC_LT, c, size));
  *inb = *inb < 0 ? in : kx_bin(K, KB_AND, *inb, in);
  return c;
}

/* ---- conv2d -------------------------------------------------------------------- */

static int emit_conv(kctx *K, const lnode *n, int res, ix *at) {
  lower_ctx *L = K->L;
  const lval *xv = &L->fg->vals[n->ops[0]], *wv = &L->fg->vals[n->ops[1]], *yv = &L->fg->vals[n->res[res]];
  const gc_type *xt = &xv->type, *wt = &wv->type;
  gc_dtype dt = lw_conv_acc_dtype(yv->type.dtype);
  kir_type T = lw_ktype(dt);
  win w;
  lw_pair_attr(n, "stride", ONES, false, w.s);
  lw_pair_attr(n, "padding", ZEROS, false, w.p);
  lw_pair_attr(n, "dilation", ONES, false, w.d);
  int64_t groups = gc_attr_int(n->n, "groups", 1);
  int r = yv->type.rank, cb = r - 3, c[GC_MAX_RANK];
  for (int d = 0; d < r; d++) c[d] = ix_coord(K, at, d);
  unsigned om;
  if (!em_group_ok(K, n->res[0], c, r, &om)) return -1;
  if (!em_checked_before(K, n))
    for (int i = 0; i < 2; i++) {
      gc_dim span = lw_padd(L, lw_pmul(L, wt->dims[2 + i], lw_pconst(L, w.d[i])), lw_pconst(L, 1 - w.d[i]));
      gc_dim have = lw_padd(L, xt->dims[cb + 1 + i], lw_pconst(L, 2 * w.p[i]));
      if (em_fail_if(K, lw_check_dims(L, n, have, KC_GE, span, "padded input size is smaller than the dilated "
                                                            "kernel size; padded size")) < 0)
        return -1;
    }
  gc_dim inner[3] = {wt->dims[1], wt->dims[2], wt->dims[3]};
  kstage_save sv;
  kb_stage_enter(K, 3, inner, &sv);
  int o = c[cb], ci = kx_inner(K, 0), ch = ci;
  if (groups > 1) {
    gc_dim per = lw_pfloordiv(L, wt->dims[0], lw_pconst(L, groups));
    int g = kx_bin(K, KB_FLOORDIV, o, kx_pdim(K, per));
    ch = kx_iadd(K, kx_imul(K, g, kx_pdim(K, wt->dims[1])), ci);
  }
  int inb = -1;
  int iy = tap_coord(K, &w, 0, c[cb + 1], kx_inner(K, 1), kx_pdim(K, xt->dims[cb + 1]), &inb);
  int ixx = tap_coord(K, &w, 1, c[cb + 2], kx_inner(K, 2), kx_pdim(K, xt->dims[cb + 2]), &inb);
  ix xi, wi;
  ix_init(&xi, xt);
  if (cb) xi.c[0] = c[0];
  xi.c[cb] = ch;
  xi.c[cb + 1] = kx_sel(K, inb, iy, kx_i(K, 0));
  xi.c[cb + 2] = kx_sel(K, inb, ixx, kx_i(K, 0));
  ix_init(&wi, wt);
  wi.c[0] = o, wi.c[1] = ci, wi.c[2] = kx_inner(K, 1), wi.c[3] = kx_inner(K, 2);
  int x = kx_sel(K, inb, kx_convert(K, em_value(K, n->ops[0], &xi), xt->dtype, dt), kx_f(K, T, 0.0));
  int wgt = kx_convert(K, em_value(K, n->ops[1], &wi), wt->dtype, dt);
  int acc = kb_stage_reduce(K, &sv, KIR_SUM, kx_bin(K, KB_MUL, x, wgt), om);
  if (n->nops == 3) {
    const lval *bv = &L->fg->vals[n->ops[2]];
    ix bi;
    ix_init(&bi, &bv->type);
    bi.c[0] = o;
    acc = kx_bin(K, KB_ADD, acc, kx_convert(K, em_value(K, n->ops[2], &bi), bv->type.dtype, dt));
  }
  return kx_convert(K, acc, dt, yv->type.dtype);
}

/* ---- pooling -------------------------------------------------------------------- */

static int pool_checks(kctx *K, const lnode *n, const gc_type *xt, const gc_type *yt) {
  if (em_checked_before(K, n)) return 0;
  lower_ctx *L = K->L;
  for (int i = xt->rank - 3; i < xt->rank; i++)
    if (em_fail_if(K, lw_check_dims(L, n, xt->dims[i], KC_GE, lw_pconst(L, 1),
                                 "input dims but the batch dim must not be 0; size")) < 0)
      return -1;
  for (int i = yt->rank - 2; i < yt->rank; i++)
    if (em_fail_if(K, lw_check_dims(L, n, yt->dims[i], KC_GE, lw_pconst(L, 1), "output size is too small")) < 0)
      return -1;
  return 0;
}

/* Coordinates shared by the pools: planes (all dims before H, W). */
static int pool_begin(kctx *K, const lnode *n, ix *at, int *c, unsigned *om) {
  int r = at->type->rank;
  for (int d = 0; d < r; d++) c[d] = ix_coord(K, at, d);
  if (!em_group_ok(K, n->res[0], c, r, om)) return -1;
  const gc_type *xt = &K->L->fg->vals[n->ops[0]].type;
  return pool_checks(K, n, xt, at->type);
}

/* Enters the 2-D window stage (saved in *sv) and sets *xi to the input
 * element under the current tap of output coordinates c (a clamped
 * coordinate outside the input); returns the in-bounds flag. */
static int window_taps(kctx *K, const win *w, const gc_type *xt, const int *c, kstage_save *sv,
                       ix *xi) {
  lower_ctx *L = K->L;
  int r = xt->rank;
  gc_dim inner[2] = {lw_pconst(L, w->k[0]), lw_pconst(L, w->k[1])};
  kb_stage_enter(K, 2, inner, sv);
  int inb = -1;
  int iy = tap_coord(K, w, 0, c[r - 2], kx_inner(K, 0), kx_pdim(K, xt->dims[r - 2]), &inb);
  int ixx = tap_coord(K, w, 1, c[r - 1], kx_inner(K, 1), kx_pdim(K, xt->dims[r - 1]), &inb);
  ix_init(xi, xt);
  for (int d = 0; d < r - 2; d++) xi->c[d] = c[d];
  xi->c[r - 2] = kx_sel(K, inb, iy, kx_i(K, 0));
  xi->c[r - 1] = kx_sel(K, inb, ixx, kx_i(K, 0));
  return inb;
}

static int emit_max_pool(kctx *K, const lnode *n, int res, ix *at) {
  lower_ctx *L = K->L;
  const gc_type *xt = &L->fg->vals[n->ops[0]].type;
  gc_dtype dt = L->fg->vals[n->res[res]].type.dtype;
  bool fl = lw_katype(dt) != KIR_I64;
  win w;
  lw_pair_attr(n, "kernel_size", ONES, false, w.k);
  lw_pair_attr(n, "stride", w.k, true, w.s);
  lw_pair_attr(n, "padding", ZEROS, false, w.p);
  lw_pair_attr(n, "dilation", ONES, false, w.d);
  int c[GC_MAX_RANK];
  unsigned om;
  if (pool_begin(K, n, at, c, &om) < 0) return -1;
  kstage_save sv;
  ix xi;
  int inb = window_taps(K, &w, xt, c, &sv, &xi);
  int64_t imin = dt == GRAPHC_I32 ? INT32_MIN : INT64_MIN;
  int low = fl ? kx_f(K, lw_ktype(dt), -INFINITY) : kx_i(K, imin);
  int x = kx_sel(K, inb, em_value(K, n->ops[0], &xi), low);
  int m = kb_stage_reduce(K, &sv, KIR_MAX, x, om);
  if (!fl) m = kx_bin(K, KB_MAX, m, low);
  return kx_finish(K, m, dt);
}

static int emit_avg_pool(kctx *K, const lnode *n, int res, ix *at) {
  lower_ctx *L = K->L;
  const gc_type *xt = &L->fg->vals[n->ops[0]].type;
  gc_dtype dt = L->fg->vals[n->res[res]].type.dtype;
  kir_type T = lw_katype(dt);
  bool fl = T != KIR_I64, include_pad = gc_attr_bool(n->n, "count_include_pad", true);
  win w;
  lw_pair_attr(n, "kernel_size", ONES, false, w.k);
  lw_pair_attr(n, "stride", w.k, true, w.s);
  lw_pair_attr(n, "padding", ZEROS, false, w.p);
  w.d[0] = w.d[1] = 1;
  int c[GC_MAX_RANK], r = xt->rank;
  unsigned om;
  if (pool_begin(K, n, at, c, &om) < 0) return -1;
  /* PyTorch's divisor: the window clipped to the padded input, or to the
   * input itself without count_include_pad. */
  int count = kx_i(K, 1), valid = kx_i(K, 1);
  for (int i = 0; i < 2; i++) {
    int size = kx_pdim(K, xt->dims[r - 2 + i]);
    int a = kx_isub(K, kx_imul(K, c[r - 2 + i], kx_i(K, w.s[i])), kx_i(K, w.p[i]));
    int b = kx_bin(K, KB_MIN, kx_iadd(K, a, kx_i(K, w.k[i])), kx_iadd(K, size, kx_i(K, w.p[i])));
    count = kx_imul(K, count, kx_isub(K, b, a));
    int a0 = kx_bin(K, KB_MAX, a, kx_i(K, 0)), b0 = kx_bin(K, KB_MIN, b, size);
    valid = kx_imul(K, valid, kx_bin(K, KB_MAX, kx_isub(K, b0, a0), kx_i(K, 0)));
  }
  if (!include_pad) count = valid;
  kstage_save sv;
  ix xi;
  int inb = window_taps(K, &w, xt, c, &sv, &xi);
  int zero = fl ? kx_f(K, T, 0.0) : kx_i(K, 0);
  int x = kx_sel(K, inb, kx_arith(K, em_value(K, n->ops[0], &xi), dt), zero);
  int s = kb_stage_reduce(K, &sv, KIR_SUM, x, om);
  int some = kx_cmp(K, KC_GT, valid, kx_i(K, 0));
  int div = kx_bin(K, KB_MAX, count, kx_i(K, 1)); /* never divide by 0, even unselected */
  int y = kx_bin(K, KB_DIV, s, fl ? kx_cast(K, T, div, -1) : div);
  return kx_finish(K, kx_sel(K, some, y, zero), dt);
}

static int emit_adaptive_pool(kctx *K, const lnode *n, int res, ix *at) {
  lower_ctx *L = K->L;
  const gc_type *xt = &L->fg->vals[n->ops[0]].type, *yt = at->type;
  gc_dtype dt = L->fg->vals[n->res[res]].type.dtype;
  kir_type T = lw_ktype(dt);
  int r = xt->rank, c[GC_MAX_RANK];
  for (int d = 0; d < r; d++) c[d] = ix_coord(K, at, d);
  unsigned om;
  if (!em_group_ok(K, n->res[0], c, r, &om)) return -1;
  if (!em_checked_before(K, n))
    for (int i = r - 3; i < r; i++)
      if (em_fail_if(K, lw_check_dims(L, n, xt->dims[i], KC_GE, lw_pconst(L, 1),
                                   "input dims but the batch dim must not be 0; size")) < 0)
        return -1;
  int lo[2], hi[2];
  gc_dim inner[2];
  for (int i = 0; i < 2; i++) {
    gc_dim in = xt->dims[r - 2 + i], out = yt->dims[r - 2 + i];
    int o = c[r - 2 + i], sz = kx_pdim(K, in), os = kx_pdim(K, out);
    lo[i] = kx_bin(K, KB_FLOORDIV, kx_imul(K, o, sz), os);
    hi[i] = kx_bin(K, KB_FLOORDIV, kx_iadd(K, kx_imul(K, kx_iadd(K, o, kx_i(K, 1)), sz), kx_isub(K, os, kx_i(K, 1))), os);
    /* the widest window: ceil(in / out) + 1 */
    inner[i] = lw_padd(L, lw_pfloordiv(L, lw_padd(L, in, lw_psub(L, out, lw_pconst(L, 1))), out), lw_pconst(L, 1));
  }
  int cnt = kx_imul(K, kx_isub(K, hi[0], lo[0]), kx_isub(K, hi[1], lo[1]));
  kstage_save sv;
  kb_stage_enter(K, 2, inner, &sv);
  ix xi;
  ix_init(&xi, xt);
  for (int d = 0; d < r - 2; d++) xi.c[d] = c[d];
  int inb = -1;
  for (int i = 0; i < 2; i++) {
    int p = kx_iadd(K, lo[i], kx_inner(K, i));
    int in = kx_cmp(K, KC_LT, p, hi[i]);
    inb = inb < 0 ? in : kx_bin(K, KB_AND, inb, in);
    xi.c[r - 2 + i] = p;
  }
  for (int i = 0; i < 2; i++) xi.c[r - 2 + i] = kx_sel(K, inb, xi.c[r - 2 + i], kx_i(K, 0));
  int x = kx_sel(K, inb, kx_convert(K, em_value(K, n->ops[0], &xi), xt->dtype, dt), kx_f(K, T, 0.0));
  int s = kb_stage_reduce(K, &sv, KIR_SUM, x, om);
  return kx_finish(K, kx_bin(K, KB_DIV, s, kx_cast(K, T, cnt, -1)), dt);
}

/* ---- table ---------------------------------------------------------------------- */

#define WINDOW(nm, fn) {nm, LOP_REDUCE, LOP_COST_INF, fn, NULL, NULL, NULL}

const lop gc_lower_ops_conv[] = {
    WINDOW("conv2d", emit_conv),
    WINDOW("max_pool2d", emit_max_pool),
    WINDOW("avg_pool2d", emit_avg_pool),
    WINDOW("adaptive_avg_pool2d", emit_adaptive_pool),
    {0},
};
