/* Shape and index ops: views as coordinate maps, cat as a kernel with one
 * STORE stage per operand, embedding/index_select/gather as loads at
 * computed coordinates (after a run-time bounds check), and the strided
 * description of view chains that GEMM operands need. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernel/lower_internal.h"
#include "support/status.h"

static const lval *val(kctx *K, int v) { return &K->L->fg->vals[v]; }

static bool is_one(lower_ctx *L, gc_dim gd) {
  int64_t v;
  return gc_dim_is_const(L->dims, gd, &v) && v == 1;
}

/* ---- views ------------------------------------------------------------------ */

/* Same elements in the same order: dims that agree at the start and at
 * the end keep their coordinates; the middle ones are unravelled from
 * the flat index of the middle part alone (so a [B, S, 16] -> [B, S, 2,
 * 8] split reads i // 8 and i % 8 of the inner coordinate). The source
 * also gets the whole flat index, which a load of a buffer uses. */
static int emit_reshape(kctx *K, const lnode *n, int res, ix *at) {
  (void)res;
  lower_ctx *L = K->L;
  const gc_type *yt = at->type, *xt = &val(K, n->ops[0])->type;
  ix x;
  ix_init(&x, xt);
  int pre = 0, suf = 0;
  while (pre < yt->rank && pre < xt->rank && yt->dims[pre] == xt->dims[pre]) pre++;
  while (suf < yt->rank - pre && suf < xt->rank - pre &&
         yt->dims[yt->rank - 1 - suf] == xt->dims[xt->rank - 1 - suf])
    suf++;
  for (int d = 0; d < pre; d++) x.c[d] = ix_coord(K, at, d);
  for (int d = 0; d < suf; d++) x.c[xt->rank - 1 - d] = ix_coord(K, at, yt->rank - 1 - d);
  int xm = xt->rank - suf, ym = yt->rank - suf;
  if (pre < xm) {
    int mid = kx_i(K, 0); /* flat index within the middle dims of y */
    for (int d = pre; d < ym; d++) mid = kx_iadd(K, kx_imul(K, mid, kx_pdim(K, yt->dims[d])), ix_coord(K, at, d));
    for (int d = xm - 1; d >= pre; d--) {
      if (is_one(L, xt->dims[d])) {
        x.c[d] = kx_i(K, 0);
        continue;
      }
      int dim = kx_pdim(K, xt->dims[d]);
      gc_dim rest = lw_pnumel(L, xt, pre, d);
      x.c[d] = d == pre ? mid : kx_bin(K, KB_MOD, mid, dim);
      if (d > pre && lw_pis(L, rest, 1)) x.c[d] = mid; /* only ones before it */
      mid = kx_bin(K, KB_FLOORDIV, mid, dim);
    }
    x.flat = ix_flat(K, at);
  } else if (at->flat >= 0) {
    x.flat = at->flat;
  }
  return em_value(K, n->ops[0], &x);
}

static void perm_of(const lnode *n, int rank, int *perm) {
  for (int i = 0; i < rank; i++) perm[i] = i;
  if (!strcmp(n->op->name, "permute")) {
    const gc_attr *dims = gc_node_attr(n->n, "dims");
    for (int i = 0; i < rank; i++) gc_wrap_dim(dims->ints[i], rank, &perm[i]);
  } else if (rank > 0) {
    int d0 = 0, d1 = 0;
    gc_wrap_dim(gc_attr_int(n->n, "dim0", 0), rank, &d0);
    gc_wrap_dim(gc_attr_int(n->n, "dim1", 0), rank, &d1);
    perm[d0] = d1;
    perm[d1] = d0;
  }
}

static int emit_permute(kctx *K, const lnode *n, int res, ix *at) {
  (void)res;
  const gc_type *xt = &val(K, n->ops[0])->type;
  int perm[GC_MAX_RANK];
  perm_of(n, xt->rank, perm);
  ix x;
  ix_init(&x, xt);
  for (int i = 0; i < xt->rank; i++) x.c[perm[i]] = ix_coord(K, at, i);
  return em_value(K, n->ops[0], &x);
}

static int emit_expand(kctx *K, const lnode *n, int res, ix *at) {
  (void)res;
  const gc_type *xt = &val(K, n->ops[0])->type;
  int lead = at->type->rank - xt->rank;
  ix x;
  ix_init(&x, xt);
  for (int d = 0; d < xt->rank; d++)
    x.c[d] = is_one(K->L, xt->dims[d]) ? kx_i(K, 0) : ix_coord(K, at, d + lead);
  if (lead == 0 && lw_same_dims(xt, at->type)) x.flat = at->flat;
  return em_value(K, n->ops[0], &x);
}

/* Python clamping of [start:end] against a size known at lowering time. */
static void clamp_bounds(int64_t size, int64_t start, int64_t end, int64_t *b, int64_t *e) {
  if (start < 0) start = start < -size ? 0 : start + size;
  if (start > size) start = size;
  if (end < 0) end = end < -size ? 0 : end + size;
  if (end > size) end = size;
  if (end < start) end = start;
  *b = start;
  *e = end;
}

/* The clamped bound as I64 arithmetic on the run-time size. */
static int clamp_expr(kctx *K, int size, int64_t v) {
  if (v == INT64_MAX) return size;
  int x = kx_i(K, v);
  if (v < 0) {
    x = kx_bin(K, KB_ADD, size, x);
    x = kx_bin(K, KB_MAX, x, kx_i(K, 0));
  }
  return kx_bin(K, KB_MIN, x, size);
}

/* A slice of a symbolic size assumed its bounds in range; check that the
 * clamped length is the assumed one, as the interpreter does. */
static graphc_status_t slice_check(lower_ctx *L, const lnode *n, int d, gc_dim assumed) {
  const lval *x = &L->fg->vals[n->ops[0]];
  int64_t start = gc_attr_int(n->n, "start", 0), end = gc_attr_int(n->n, "end", INT64_MAX);
  int64_t step = gc_attr_int(n->n, "step", 1);
  int buf = lw_buffer(L, GRAPHC_I64, NULL, lw_pconst(L, 2), KIR_BUF_TEMP, -1, "slice_check");
  if (buf < 0) return NULL;
  kctx K;
  GC_TRY(kb_begin(&K, L, "check", "slice", 0, NULL));
  int size = kx_pdim(&K, x->type.dims[d]);
  int b = clamp_expr(&K, size, start), e = kx_bin(&K, KB_MAX, clamp_expr(&K, size, end), b);
  int span = kx_bin(&K, KB_SUB, e, b);
  int len = kx_bin(&K, KB_FLOORDIV, kx_bin(&K, KB_ADD, span, kx_i(&K, step - 1)), kx_i(&K, step));
  int flag = kx_cast(&K, KIR_I64, kx_cmp(&K, KC_NE, len, kx_pdim(&K, assumed)), -1);
  kir_store s[2] = {{buf, kx_i(&K, 0), flag}, {buf, kx_i(&K, 1), size}};
  graphc_status_t st = kb_store_stage(&K, 0, NULL, 2, s);
  if (st) {
    kb_discard(&K);
    return st;
  }
  GC_TRY(kb_finish(&K, NULL));
  char where[300], msg[1024];
  lw_where(L, n, where, sizeof where);
  snprintf(msg, sizeof msg, "%s: bounds start=%lld end=%lld do not fit dim %d, whose size is", where,
           (long long)start, (long long)end, d);
  return lw_check_step(L, buf, msg);
}

graphc_status_t lw_slice_params(lower_ctx *L, const lnode *n, int res, gc_dim len, int *dim, gc_dim *start,
                                int64_t *step) {
  const lval *x = &L->fg->vals[n->ops[0]];
  int d = 0;
  gc_wrap_dim(gc_attr_int(n->n, "dim", 0), x->type.rank, &d);
  *dim = d;
  if (!strcmp(n->op->name, "split")) {
    const gc_attr *sz = gc_node_attr(n->n, "sizes");
    int64_t off = 0;
    for (int k = 0; k < res; k++) off += sz->ints[k];
    *start = lw_pconst(L, off);
    *step = 1;
    return NULL;
  }
  int64_t s0 = gc_attr_int(n->n, "start", 0), e0 = gc_attr_int(n->n, "end", INT64_MAX), size;
  *step = gc_attr_int(n->n, "step", 1);
  if (gc_dim_is_const(L->dims, x->type.dims[d], &size)) {
    int64_t b, e, have;
    clamp_bounds(size, s0, e0, &b, &e);
    *start = lw_pconst(L, b);
    /* A length that cannot match (slice_scatter's source) is the
     * interpreter's run-time error: keep the check for it. */
    int64_t want = *step > 0 ? (e - b + *step - 1) / *step : -1;
    if (gc_dim_is_const(L->dims, len, &have) && have == want) return NULL;
  } else {
    *start = lw_pconst(L, s0);
    if (s0 < 0) *start = lw_padd(L, lw_pdim(L, x->type.dims[d]), *start);
  }
  int node = L->fg->vals[n->res[0]].producer;
  if (!L->checked[node]) {
    L->checked[node] = true;
    return slice_check(L, n, d, len);
  }
  return NULL;
}

/* A slice result's (assumed) length along its dim. */
static gc_dim slice_len(lower_ctx *L, const lnode *n) {
  const lval *x = &L->fg->vals[n->ops[0]];
  int d = 0;
  gc_wrap_dim(gc_attr_int(n->n, "dim", 0), x->type.rank, &d);
  return L->fg->vals[n->res[0]].type.dims[d];
}

static int emit_slice(kctx *K, const lnode *n, int res, ix *at) {
  const gc_type *xt = &val(K, n->ops[0])->type;
  int d;
  gc_dim start;
  int64_t step;
  graphc_status_t st = lw_slice_params(K->L, n, res, slice_len(K->L, n), &d, &start, &step);
  if (st) return em_fail(K, st);
  ix x;
  ix_init(&x, xt);
  for (int e = 0; e < xt->rank; e++) x.c[e] = e == d ? -1 : ix_coord(K, at, e);
  x.c[d] = kx_iadd(K, kx_pdim(K, start), kx_imul(K, ix_coord(K, at, d), kx_i(K, step)));
  return em_value(K, n->ops[0], &x);
}

/* narrow: a slice with symbolic start and length (checked at run time). */
static graphc_status_t narrow_params(lower_ctx *L, const lnode *n, int *dim, gc_dim *start) {
  const lval *x = &L->fg->vals[n->ops[0]];
  int d = 0;
  gc_wrap_dim(gc_attr_int(n->n, "dim", 0), x->type.rank, &d);
  *dim = d;
  *start = lw_gdim(L, gc_node_attr(n->n, "start")->dims[0]);
  gc_dim len = lw_gdim(L, gc_node_attr(n->n, "length")->dims[0]);
  int node = L->fg->vals[n->res[0]].producer;
  if (L->checked[node] || L->st) return NULL;
  L->checked[node] = true;
  char what[256]; /* the interpreter's wording */
  snprintf(what, sizeof what, "start is outside dim %d (negative); start", d);
  GC_TRY(lw_check_dims(L, n, *start, KC_GE, lw_pconst(L, 0), what));
  snprintf(what, sizeof what, "start + length is outside dim %d of size %s; start + length", d,
           gc_dim_str(L->dims, x->type.dims[d]));
  return lw_check_dims(L, n, lw_padd(L, *start, len), KC_LE, x->type.dims[d], what);
}

static int emit_narrow(kctx *K, const lnode *n, int res, ix *at) {
  (void)res;
  const gc_type *xt = &val(K, n->ops[0])->type;
  int d;
  gc_dim start;
  graphc_status_t st = narrow_params(K->L, n, &d, &start);
  if (st) return em_fail(K, st);
  ix x;
  ix_init(&x, xt);
  for (int e = 0; e < xt->rank; e++) x.c[e] = ix_coord(K, at, e);
  x.c[d] = kx_iadd(K, x.c[d], kx_pdim(K, start));
  return em_value(K, n->ops[0], &x);
}

/* ---- strided descriptions (GEMM operands) ------------------------------------ */

static void contiguous(lower_ctx *L, const gc_type *t, gc_dim *stride) {
  for (int d = 0; d < t->rank; d++) stride[d] = lw_pnumel(L, t, d + 1, t->rank);
}

static bool is_contiguous(lower_ctx *L, const gc_type *t, const lw_sview *s) {
  if (!lw_pis(L, s->offset, 0)) return false;
  for (int d = 0; d < t->rank; d++)
    if (!is_one(L, t->dims[d]) && s->stride[d] != lw_pnumel(L, t, d + 1, t->rank)) return false;
  return true;
}

bool lw_strided(lower_ctx *L, int v, lw_sview *out) {
  const lval *lv = &L->fg->vals[v];
  if (L->buf[v] >= 0) {
    out->buf = L->buf[v];
    out->offset = lw_pconst(L, 0);
    contiguous(L, &lv->type, out->stride);
    return true;
  }
  if (lv->producer < 0 || L->mat[v]) return false;
  const lnode *n = &L->fg->nodes[lv->producer];
  const char *nm = n->op->name;
  if (n->op->kind != LOP_VIEW) return false;
  const gc_type *xt = &L->fg->vals[n->ops[0]].type;
  lw_sview x;
  if (!lw_strided(L, n->ops[0], &x)) return false;
  out->buf = x.buf;
  out->offset = x.offset;
  if (!strcmp(nm, "reshape") || !strcmp(nm, "view") || !strcmp(nm, "squeeze") || !strcmp(nm, "unsqueeze")) {
    if (!is_contiguous(L, xt, &x)) return false;
    contiguous(L, &lv->type, out->stride);
  } else if (!strcmp(nm, "permute") || !strcmp(nm, "transpose")) {
    int perm[GC_MAX_RANK];
    perm_of(n, xt->rank, perm);
    for (int i = 0; i < xt->rank; i++) out->stride[i] = x.stride[perm[i]];
  } else if (!strcmp(nm, "expand")) {
    int lead = lv->type.rank - xt->rank;
    for (int d = 0; d < lv->type.rank; d++) {
      bool bc = d < lead || (is_one(L, xt->dims[d - lead]) && !is_one(L, lv->type.dims[d]));
      out->stride[d] = bc ? lw_pconst(L, 0) : x.stride[d - lead];
    }
  } else if (!strcmp(nm, "narrow")) {
    int d;
    gc_dim start;
    graphc_status_t st = narrow_params(L, n, &d, &start);
    if (st) {
      if (!L->st) L->st = st;
      else graphc_status_free(st);
      return false;
    }
    for (int e = 0; e < xt->rank; e++) out->stride[e] = x.stride[e];
    out->offset = lw_padd(L, x.offset, lw_pmul(L, start, x.stride[d]));
  } else if (!strcmp(nm, "slice") || !strcmp(nm, "split")) {
    int d;
    gc_dim start;
    int64_t step;
    graphc_status_t st = lw_slice_params(L, n, L->fg->vals[v].result, slice_len(L, n), &d, &start, &step);
    if (st) {
      if (!L->st) L->st = st;
      else graphc_status_free(st);
      return false;
    }
    for (int e = 0; e < xt->rank; e++) out->stride[e] = x.stride[e];
    out->offset = lw_padd(L, x.offset, lw_pmul(L, start, x.stride[d]));
    out->stride[d] = lw_pmul(L, x.stride[d], lw_pconst(L, step));
  } else {
    return false;
  }
  return !L->st;
}

/* ---- cat ------------------------------------------------------------------------ */

static graphc_status_t build_cat(lower_ctx *L, const lnode *n) {
  int y = n->res[0];
  const lval *yv = &L->fg->vals[y];
  int buf = lw_value_buffer(L, y);
  if (buf < 0) return NULL;
  int r = yv->type.rank, d = 0;
  gc_wrap_dim(gc_attr_int(n->n, "dim", 0), r, &d);
  gc_dim outer[GC_MAX_RANK];
  for (int e = 0; e < d; e++) outer[e] = lw_pdim(L, yv->type.dims[e]);
  kctx K;
  GC_TRY(kb_begin(&K, L, "cat", lw_vname(L, y), d, outer));
  gc_dim off = lw_pconst(L, 0);
  for (int k = 0; k < n->nops && !L->st && L->demote < 0; k++) {
    const lval *xv = &L->fg->vals[n->ops[k]];
    gc_dim inner[GC_MAX_RANK];
    for (int e = d; e < r; e++) inner[e - d] = lw_pdim(L, xv->type.dims[e]);
    kstage_save sv;
    kb_stage_enter(&K, r - d, inner, &sv);
    ix xi, yi;
    ix_init(&xi, &xv->type);
    ix_init(&yi, &yv->type);
    for (int e = 0; e < r; e++) xi.c[e] = yi.c[e] = e < d ? kx_outer(&K, e) : kx_inner(&K, e - d);
    yi.c[d] = kx_iadd(&K, yi.c[d], kx_pdim(&K, off));
    kir_store s = {buf, ix_flat(&K, &yi),
                   kx_convert(&K, em_value(&K, n->ops[k], &xi), xv->type.dtype, yv->type.dtype)};
    kb_stage_leave(&K, &sv);
    graphc_status_t st = kb_store_stage(&K, r - d, inner, 1, &s);
    if (st) {
      kb_discard(&K);
      return st;
    }
    off = lw_padd(L, off, lw_pdim(L, xv->type.dims[d]));
  }
  GC_TRY(kb_finish(&K, NULL));
  if (!L->st && L->demote < 0) L->buf[y] = buf;
  return NULL;
}

/* ---- index ops -------------------------------------------------------------------- */

static int index_check(kctx *K, const lnode *n, int idx, gc_dim bound, const char *what) {
  lower_ctx *L = K->L;
  int node = L->fg->vals[n->res[0]].producer;
  if (L->checked[node]) return 0;
  L->checked[node] = true;
  graphc_status_t st = lw_check_index(L, n, idx, bound, NULL, what);
  return st ? em_fail(K, st) : 0;
}

static int index_value(kctx *K, int idx, ix *at) {
  return kx_convert(K, em_value(K, idx, at), val(K, idx)->type.dtype, GRAPHC_I64);
}

static int emit_embedding(kctx *K, const lnode *n, int res, ix *at) {
  (void)res;
  const lval *iv = val(K, n->ops[0]), *wv = val(K, n->ops[1]);
  if (index_check(K, n, n->ops[0], wv->type.dims[0], "embedding index") < 0) return -1;
  ix ii, wi;
  ix_init(&ii, &iv->type);
  for (int d = 0; d < iv->type.rank; d++) ii.c[d] = ix_coord(K, at, d);
  ix_init(&wi, &wv->type);
  wi.c[0] = index_value(K, n->ops[0], &ii);
  wi.c[1] = ix_coord(K, at, iv->type.rank);
  return em_value(K, n->ops[1], &wi);
}

static int emit_index_select(kctx *K, const lnode *n, int res, ix *at) {
  (void)res;
  const lval *xv = val(K, n->ops[0]), *iv = val(K, n->ops[1]);
  int d = 0;
  gc_wrap_dim(gc_attr_int(n->n, "dim", 0), xv->type.rank, &d);
  if (index_check(K, n, n->ops[1], xv->type.dims[d], "index") < 0) return -1;
  ix ii, xi;
  ix_init(&ii, &iv->type);
  ii.c[0] = ix_coord(K, at, d);
  ix_init(&xi, &xv->type);
  for (int e = 0; e < xv->type.rank; e++) xi.c[e] = e == d ? index_value(K, n->ops[1], &ii) : ix_coord(K, at, e);
  return em_value(K, n->ops[0], &xi);
}

static int emit_gather(kctx *K, const lnode *n, int res, ix *at) {
  (void)res;
  const lval *xv = val(K, n->ops[0]), *iv = val(K, n->ops[1]);
  int d = 0;
  gc_wrap_dim(gc_attr_int(n->n, "dim", 0), xv->type.rank, &d);
  gc_dim bound = xv->type.rank ? xv->type.dims[d] : GC_DIM_NONE;
  if (xv->type.rank && index_check(K, n, n->ops[1], bound, "index") < 0) return -1;
  ix ii, xi;
  ix_init(&ii, &iv->type);
  for (int e = 0; e < iv->type.rank; e++) ii.c[e] = at->c[e];
  ii.flat = at->flat;
  int idx = index_value(K, n->ops[1], &ii);
  ix_init(&xi, &xv->type);
  for (int e = 0; e < xv->type.rank; e++) xi.c[e] = e == d ? idx : ix_coord(K, at, e);
  return em_value(K, n->ops[0], &xi);
}

/* ---- table ------------------------------------------------------------------------ */

#define VIEW(nm, fn) {nm, LOP_VIEW, 0, fn, NULL, NULL, NULL}

const lop gc_lower_ops_shape[] = {
    VIEW("reshape", emit_reshape), VIEW("view", emit_reshape), VIEW("squeeze", emit_reshape),
    VIEW("unsqueeze", emit_reshape), VIEW("permute", emit_permute), VIEW("transpose", emit_permute),
    VIEW("expand", emit_expand), VIEW("slice", emit_slice), VIEW("split", emit_slice),
    VIEW("narrow", emit_narrow),
    {"cat", LOP_ROOT, 1, NULL, build_cat, NULL, NULL},
    {"embedding", LOP_ELEMENTWISE, 1, emit_embedding, NULL, NULL, NULL},
    {"index_select", LOP_ELEMENTWISE, 1, emit_index_select, NULL, NULL, NULL},
    {"gather", LOP_ELEMENTWISE, 1, emit_gather, NULL, NULL, NULL},
    {0},
};
