/* Emitting values into kernels, and the kernels that write whole values.
 *
 * em_value computes a value at an index descriptor: a load when the value
 * is in a buffer, otherwise its op's emit rule (which recursively emits
 * its operands). A value that cannot be computed well where it is used
 * (a reduction whose result would vary along inner coordinates, an
 * expensive value recomputed along dims it does not depend on) is
 * demoted: lowering restarts with that value materialised. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/lower_internal.h"
#include "support/status.h"

int em_fail(kctx *K, graphc_status_t st) {
  if (!K->L->st) K->L->st = st;
  else graphc_status_free(st);
  return -1;
}

int em_fail_if(kctx *K, graphc_status_t st) { return st ? em_fail(K, st) : 0; }

bool em_checked_before(kctx *K, const lnode *n) {
  lower_ctx *L = K->L;
  int node = L->fg->vals[n->res[0]].producer;
  if (L->checked[node]) return true;
  L->checked[node] = true;
  return false;
}

int em_demote(kctx *K, int v) {
  if (K->L->demote < 0) K->L->demote = v;
  return -1;
}

static void masks_of(kctx *K, const ix *at, unsigned *om, unsigned *im) {
  *om = *im = 0;
  for (int d = 0; d < at->type->rank; d++)
    if (at->c[d] >= 0) *om |= K->omask[at->c[d]], *im |= K->imask[at->c[d]];
  if (at->flat >= 0) *om |= K->omask[at->flat], *im |= K->imask[at->flat];
}

bool em_group_ok(kctx *K, int v, const int *c, int n, unsigned *omask) {
  unsigned om = 0, im = 0;
  for (int i = 0; i < n; i++) {
    if (c[i] < 0) return false;
    om |= K->omask[c[i]];
    im |= K->imask[c[i]];
  }
  if (im != 0 || (om & K->outer_need) != K->outer_need) {
    em_demote(K, v);
    return false;
  }
  *omask = om;
  return true;
}

static int memo_find(kctx *K, int v, const ix *at) {
  for (int i = K->nmemo - 1; i >= 0; i--) {
    const kmemo *m = &K->memo[i];
    if (m->v != v || m->flat != at->flat) continue;
    if (memcmp(m->c, at->c, sizeof m->c) == 0) return m->e;
  }
  return -1;
}

static void memo_add(kctx *K, int v, const ix *at, int e) {
  if (K->nmemo == K->capmemo) {
    int cap = K->capmemo ? 2 * K->capmemo : 32;
    kmemo *m = realloc(K->memo, sizeof *m * (size_t)cap);
    if (!m) return; /* the memo only saves work */
    K->memo = m;
    K->capmemo = cap;
  }
  kmemo *m = &K->memo[K->nmemo++];
  m->v = v;
  m->flat = at->flat;
  m->e = e;
  memcpy(m->c, at->c, sizeof m->c);
}

int em_value(kctx *K, int v, ix *at) {
  lower_ctx *L = K->L;
  if (L->st || L->demote >= 0) return -1;
  if (L->buf[v] >= 0) return kx_load(K, L->buf[v], ix_flat(K, at));
  int e = memo_find(K, v, at);
  if (e >= 0) return e;
  const lval *lv = &L->fg->vals[v];
  if (lv->producer < 0 || (L->mat[v] && v != K->root))
    return em_fail(K, gc_status(GRAPHC_STATUS_INTERNAL, "lowering: value '%s' is read before it is written",
                                lw_vname(L, v)));
  const lnode *n = &L->fg->nodes[lv->producer];
  const lop *op = n->op;
  if ((op->kind == LOP_ELEMENTWISE || op->kind == LOP_GEMM) && L->cost[v] > LOP_CHEAP) {
    unsigned om, im;
    masks_of(K, at, &om, &im);
    if ((om & K->outer_need) != K->outer_need || (im & K->inner_need) != K->inner_need)
      return em_demote(K, v);
  }
  if (!op->emit)
    return em_fail(K, gc_status(GRAPHC_STATUS_INTERNAL, "lowering: op '%s' has no element rule", op->name));
  e = op->emit(K, n, lv->result, at);
  if (e >= 0) memo_add(K, v, at, e);
  return e;
}

int em_operand(kctx *K, const lnode *n, int i, ix *at, gc_dtype dt) {
  int u = n->ops[i];
  const lval *uv = &K->L->fg->vals[u];
  ix sub;
  ix_bcast(K, at, &uv->type, &sub);
  return kx_convert(K, em_value(K, u, &sub), uv->type.dtype, dt);
}

/* ---- whole-value kernels ---------------------------------------------------- */

/* The value whose reduction decides v's kernel layout: v itself, or a
 * reduction reached through same-shape elementwise operands computed in
 * the same kernel. -1 when there is none. */
static int anchor_of(lower_ctx *L, int v, int depth) {
  const lval *lv = &L->fg->vals[v];
  if (lv->producer < 0 || depth > 64) return -1;
  const lnode *n = &L->fg->nodes[lv->producer];
  if (n->op->kind == LOP_REDUCE || n->op->kind == LOP_ROW) return v;
  if (n->op->kind != LOP_ELEMENTWISE) return -1;
  for (int i = 0; i < n->nops; i++) {
    int u = n->ops[i];
    if (L->mat[u] || !lw_same_dims(&L->fg->vals[u].type, &lv->type)) continue;
    int a = anchor_of(L, u, depth + 1);
    if (a >= 0) return a;
  }
  return -1;
}

typedef struct layout {
  int nouter, ninner;
  gc_dim outer[GC_MAX_RANK], inner[GC_MAX_RANK];
  /* A 1-D value split into tiles whose count is not known to divide its
   * length: the main kernel covers tiles [0, N // T) (outer x [T]), a
   * second one-point kernel the tail [base, N) with base = (N // T) * T,
   * so no store goes past N. */
  bool split;
  gc_dim tail, base;
} layout;

/* Tile of a split 1-D kernel whose length is symbolic or not a multiple
 * of a smaller tile: big enough that the tail kernel is cheap beside the
 * loop overhead, small enough that 2+ threads get work at ~100 K. */
#define LAYOUT_TILE 16384

/* Coordinates of a kernel over type t: elementwise layout (outer = all
 * dims but the last, inner = the last), all-outer (reductions), or with
 * the `row` dims inner. A large 1-D extent is split so the outer loop has
 * points to run in parallel: a constant one into tiles that divide it
 * when there are such, otherwise (symbolic too) main tiles plus a tail. */
static void make_layout(lower_ctx *L, const gc_type *t, int mode, unsigned row, layout *lo) {
  lo->nouter = lo->ninner = 0;
  lo->split = false;
  int r = t->rank;
  if (mode == 0 && r == 1) {
    int64_t n;
    bool is_const = gc_dim_is_const(L->dims, t->dims[0], &n);
    if (is_const) {
      static const int64_t tiles[] = {4096, 2048, 1024, 512, 256};
      for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++)
        if (n >= 2 * tiles[i] && n % tiles[i] == 0) {
          lo->outer[lo->nouter++] = lw_pconst(L, n / tiles[i]);
          lo->inner[lo->ninner++] = lw_pconst(L, tiles[i]);
          return;
        }
    }
    if (!is_const || n >= 2 * LAYOUT_TILE) {
      gc_dim N = lw_pdim(L, t->dims[0]), T = lw_pconst(L, LAYOUT_TILE);
      gc_dim q = lw_pfloordiv(L, N, T);
      lo->outer[lo->nouter++] = q;
      lo->inner[lo->ninner++] = T;
      lo->split = true;
      lo->base = lw_pmul(L, q, T);
      lo->tail = lw_psub(L, N, lo->base);
      return;
    }
  }
  for (int d = 0; d < r; d++) {
    bool in = mode == 0 ? d == r - 1 : mode == 2 ? (row >> d) & 1u : false;
    if (in) lo->inner[lo->ninner++] = lw_pdim(L, t->dims[d]);
    else lo->outer[lo->nouter++] = lw_pdim(L, t->dims[d]);
  }
}

/* The domain of part `part` of a layout: 0 is the whole kernel (or the
 * main tiles of a split one), 1 the tail of a split one. */
static void layout_part(const layout *lo, int part, int *nouter, int *ninner, const gc_dim **inner) {
  *nouter = part ? 0 : lo->nouter;
  *ninner = part ? 1 : lo->ninner;
  *inner = part ? &lo->tail : lo->inner;
}

static void layout_coords(kctx *K, const gc_type *t, int mode, unsigned row, const layout *lo, int part,
                          ix *at) {
  int r = t->rank, o = 0, i = 0;
  ix_init(at, t);
  if (part) {
    at->c[0] = kx_iadd(K, kx_pdim(K, lo->base), kx_inner(K, 0));
    return;
  }
  if (mode == 0 && r == 1 && lo->nouter == 1 && lo->ninner == 1) {
    at->c[0] = kx_iadd(K, kx_imul(K, kx_outer(K, 0), kx_pdim(K, lo->inner[0])), kx_inner(K, 0));
    return;
  }
  for (int d = 0; d < r; d++) {
    bool in = mode == 0 ? d == r - 1 : mode == 2 ? (row >> d) & 1u : false;
    at->c[d] = in ? kx_inner(K, i++) : kx_outer(K, o++);
  }
}

/* A reshape chain down to a written buffer of the same dtype: the value
 * is that buffer's elements in the same order. */
static int flat_alias(lower_ctx *L, int v) {
  for (int depth = 0; depth < 256; depth++) {
    if (L->buf[v] >= 0) return L->buf[v];
    const lval *lv = &L->fg->vals[v];
    if (lv->producer < 0 || (depth > 0 && L->mat[v])) return -1;
    const lnode *n = &L->fg->nodes[lv->producer];
    const char *nm = n->op->name;
    if (strcmp(nm, "reshape") && strcmp(nm, "view") && strcmp(nm, "squeeze") && strcmp(nm, "unsqueeze"))
      return -1;
    v = n->ops[0];
  }
  return -1;
}

static graphc_status_t lower_status(lower_ctx *L) {
  graphc_status_t st = L->st;
  L->st = NULL;
  return st;
}

graphc_status_t lw_root_kernel(lower_ctx *L, int v, int buf) {
  const lval *lv = &L->fg->vals[v];
  kir_program *p = L->p;
  int src = flat_alias(L, v);
  if (src >= 0 && p->buffers[src].dtype == p->buffers[buf].dtype) {
    kir_step st;
    memset(&st, 0, sizeof st);
    st.kind = KIR_STEP_COPY;
    st.src = src;
    st.dst = buf;
    st.count = p->buffers[buf].numel;
    return lw_step(L, st) < 0 ? GC_OOM() : NULL;
  }
  int a = anchor_of(L, v, 0);
  int mode = 0;
  unsigned row = 0;
  if (a >= 0) {
    const lnode *an = &L->fg->nodes[L->fg->vals[a].producer];
    mode = an->op->kind == LOP_ROW ? 2 : 1;
    if (mode == 2) row = an->op->row_dims(an, &L->fg->vals[a]);
  }
  kctx K;
  layout lo;
  ix at;
  const char *opname = lv->producer >= 0 ? L->fg->nodes[lv->producer].op->name : "copy";
  make_layout(L, &lv->type, mode, row, &lo);
  if (L->st) return lower_status(L);
  for (int part = 0; part < (lo.split ? 2 : 1); part++) {
    int nouter, ninner;
    const gc_dim *inner;
    layout_part(&lo, part, &nouter, &ninner, &inner);
    GC_TRY(kb_begin(&K, L, opname, lw_vname(L, v), nouter, lo.outer));
    K.root = v;
    kstage_save sv;
    kb_stage_enter(&K, ninner, inner, &sv);
    layout_coords(&K, &lv->type, mode, row, &lo, part, &at);
    int e = kx_convert(&K, em_value(&K, v, &at), lv->type.dtype, p->buffers[buf].dtype);
    kir_store s = {buf, ix_flat(&K, &at), e};
    kb_stage_leave(&K, &sv);
    graphc_status_t st = kb_store_stage(&K, ninner, inner, 1, &s);
    if (st) {
      kb_discard(&K);
      return st;
    }
    GC_TRY(kb_finish(&K, NULL));
  }
  return NULL;
}

graphc_status_t lw_materialize_map(lower_ctx *L, int u, gc_dtype dt, const gc_type *shape,
                                   const int *map, int *out_buf) {
  const lval *uv = &L->fg->vals[u];
  char name[80];
  snprintf(name, sizeof name, "%s.packed", lw_vname(L, u));
  int buf = lw_buffer(L, dt, shape, GC_DIM_NONE, KIR_BUF_TEMP, -1, name);
  if (buf < 0) return lower_status(L);
  kctx K;
  layout lo;
  ix at, ux;
  make_layout(L, shape, 0, 0, &lo);
  if (L->st) return lower_status(L);
  for (int part = 0; part < (lo.split ? 2 : 1); part++) {
    int nouter, ninner;
    const gc_dim *inner;
    layout_part(&lo, part, &nouter, &ninner, &inner);
    GC_TRY(kb_begin(&K, L, "pack", lw_vname(L, u), nouter, lo.outer));
    kstage_save sv;
    kb_stage_enter(&K, ninner, inner, &sv);
    layout_coords(&K, shape, 0, 0, &lo, part, &at);
    ix_init(&ux, &uv->type);
    for (int d = 0; d < uv->type.rank; d++) ux.c[d] = kx_i(&K, 0);
    for (int t = 0; t < shape->rank; t++)
      if (map[t] >= 0 && uv->type.dims[map[t]] == shape->dims[t]) ux.c[map[t]] = at.c[t];
    int e = kx_convert(&K, em_value(&K, u, &ux), uv->type.dtype, dt);
    kir_store s = {buf, ix_flat(&K, &at), e};
    kb_stage_leave(&K, &sv);
    graphc_status_t st = kb_store_stage(&K, ninner, inner, 1, &s);
    if (st) {
      kb_discard(&K);
      return st;
    }
    GC_TRY(kb_finish(&K, NULL));
  }
  *out_buf = buf;
  return NULL;
}

/* ---- run-time checks ----------------------------------------------------------- */

graphc_status_t lw_check_step(lower_ctx *L, int buf, const char *msg) {
  kir_step st;
  memset(&st, 0, sizeof st);
  st.kind = KIR_STEP_CHECK;
  st.src = buf;
  size_t n = strlen(msg);
  if (n >= sizeof st.message) n = sizeof st.message - 1; /* long paths lose the tail */
  memcpy(st.message, msg, n);
  st.message[n] = 0;
  return lw_step(L, st) < 0 ? GC_OOM() : NULL;
}

static int check_buffer(lower_ctx *L, const char *what) {
  return lw_buffer(L, GRAPHC_I64, NULL, lw_pconst(L, 2), KIR_BUF_TEMP, -1, what);
}

graphc_status_t lw_check_index(lower_ctx *L, const lnode *n, int idx, gc_dim bound,
                               const int64_t *ignore, const char *what) {
  const lval *iv = &L->fg->vals[idx];
  gc_dim pb = lw_pdim(L, bound);
  int buf = check_buffer(L, "index_check");
  if (buf < 0 || pb == GC_DIM_NONE) return lower_status(L);
  kctx K;
  GC_TRY(kb_begin(&K, L, "check", lw_vname(L, idx), 0, NULL));
  int r = iv->type.rank;
  gc_dim inner[GC_MAX_RANK];
  for (int d = 0; d < r; d++) inner[d] = lw_pdim(L, iv->type.dims[d]);
  ix at;
  ix_init(&at, &iv->type);
  kstage_save sv;
  kb_stage_enter(&K, r, inner, &sv);
  for (int d = 0; d < r; d++) at.c[d] = kx_inner(&K, d);
  int x = kx_convert(&K, em_value(&K, idx, &at), iv->type.dtype, GRAPHC_I64);
  int bad = kx_bin(&K, KB_OR, kx_cmp(&K, KC_LT, x, kx_i(&K, 0)), kx_cmp(&K, KC_GE, x, kx_pdim(&K, pb)));
  if (ignore) bad = kx_bin(&K, KB_AND, bad, kx_cmp(&K, KC_NE, x, kx_i(&K, *ignore)));
  /* A count, not a MAX: an empty index must start (and stay) at 0, not INT64_MIN. */
  int flag = kb_stage_reduce(&K, &sv, KIR_SUM, kx_cast(&K, KIR_I64, bad, -1), 0);
  kb_stage_enter(&K, r, inner, &sv);
  int val = kb_stage_reduce(&K, &sv, KIR_MAX, kx_sel(&K, bad, x, kx_i(&K, INT64_MIN)), 0);
  kir_store s[2] = {{buf, kx_i(&K, 0), flag}, {buf, kx_i(&K, 1), val}};
  graphc_status_t st = kb_store_stage(&K, 0, NULL, 2, s);
  if (!st) st = kb_finish(&K, NULL);
  else kb_discard(&K);
  if (st || L->st || L->demote >= 0) return st;
  char where[300], msg[1024];
  lw_where(L, n, where, sizeof where);
  snprintf(msg, sizeof msg, "%s: %s is out of range for a dim of size %s", where, what,
           gc_dim_str(L->dims, bound));
  return lw_check_step(L, buf, msg);
}

static bool const_cmp(kir_cmp_op cmp, int64_t a, int64_t b) {
  switch (cmp) {
    case KC_EQ: return a == b;
    case KC_NE: return a != b;
    case KC_LT: return a < b;
    case KC_LE: return a <= b;
    case KC_GT: return a > b;
    default: return a >= b;
  }
}

graphc_status_t lw_check_dims(lower_ctx *L, const lnode *n, gc_dim lhs, kir_cmp_op cmp, gc_dim rhs,
                              const char *what) {
  int64_t a, b;
  /* Constant sizes that fail still get the check: the interpreter raises the
   * error when the graph runs, so the compiled code must too (not lowering). */
  if (gc_dim_is_const(L->dims, lhs, &a) && gc_dim_is_const(L->dims, rhs, &b) && const_cmp(cmp, a, b)) return NULL;
  if (lhs == rhs && (cmp == KC_EQ || cmp == KC_LE || cmp == KC_GE)) return NULL; /* same expression */
  int buf = check_buffer(L, "size_check");
  if (buf < 0) return lower_status(L);
  kctx K;
  GC_TRY(kb_begin(&K, L, "check", n->op->name, 0, NULL));
  int l = kx_pdim(&K, lhs);
  int ok = kx_cmp(&K, cmp, l, kx_pdim(&K, rhs));
  int flag = kx_cast(&K, KIR_I64, kx_un(&K, KU_NOT, ok), -1);
  kir_store s[2] = {{buf, kx_i(&K, 0), flag}, {buf, kx_i(&K, 1), l}};
  graphc_status_t st = kb_store_stage(&K, 0, NULL, 2, s);
  if (!st) st = kb_finish(&K, NULL);
  else kb_discard(&K);
  if (st || L->st) return st ? st : lower_status(L);
  char where[300], msg[1024];
  lw_where(L, n, where, sizeof where);
  snprintf(msg, sizeof msg, "%s: %s", where, what);
  return lw_check_step(L, buf, msg);
}
