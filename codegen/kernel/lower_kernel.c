/* Kernel builder: hash-consed expressions, stages, index descriptors.
 *
 * Expressions are deduplicated as they are added, so a load or a
 * subexpression needed by several stages is one pool entry; integer index
 * arithmetic is constant-folded so index expressions stay simple affine
 * forms (outer coordinate x stride + inner coordinate). Each expression
 * records which outer and inner coordinates it depends on; fusion uses
 * that to decide whether a value may be computed inside a kernel. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/lower_internal.h"
#include "support/status.h"

kir_type lw_ktype(gc_dtype dt) {
  switch (dt) {
    case GRAPHC_F64: return KIR_F64;
    case GRAPHC_F32: case GRAPHC_F16: case GRAPHC_BF16: return KIR_F32;
    case GRAPHC_BOOL: return KIR_BOOL;
    default: return KIR_I64;
  }
}

kir_type lw_katype(gc_dtype dt) { return dt == GRAPHC_BOOL ? KIR_I64 : lw_ktype(dt); }

/* ---- expression pool ------------------------------------------------------- */

static int oom(kctx *K) {
  if (!K->L->st) K->L->st = GC_OOM();
  return -1;
}

static uint64_t expr_hash(const kir_expr *e) {
  uint64_t f;
  memcpy(&f, &e->f, sizeof f);
  uint64_t h = 1469598103934665603ull;
  int64_t parts[9] = {e->kind, e->type, e->op, e->a, e->b, e->c, e->i, (int64_t)f, (int64_t)e->dtype};
  for (int i = 0; i < 9; i++) h = (h ^ (uint64_t)parts[i]) * 1099511628211ull;
  return h ^ (h >> 29);
}

static bool expr_eq(const kir_expr *x, const kir_expr *y) {
  return x->kind == y->kind && x->type == y->type && x->op == y->op && x->a == y->a &&
         x->b == y->b && x->c == y->c && x->i == y->i && x->dtype == y->dtype &&
         memcmp(&x->f, &y->f, sizeof x->f) == 0;
}

static bool rehash(kctx *K, int cap) {
  int *t = malloc(sizeof *t * (size_t)cap);
  if (!t) return false;
  for (int i = 0; i < cap; i++) t[i] = -1;
  for (int e = 0; e < K->k.nexprs; e++) {
    size_t h = (size_t)expr_hash(&K->k.exprs[e]) & (size_t)(cap - 1);
    while (t[h] >= 0) h = (h + 1) & (size_t)(cap - 1);
    t[h] = e;
  }
  free(K->htab);
  K->htab = t;
  K->hcap = cap;
  return true;
}

static bool grow_masks(kctx *K, int need) {
  if (K->omask && need <= K->k.capexprs) return true;
  int cap = K->k.capexprs < 32 ? 32 : K->k.capexprs;
  while (cap < need) cap *= 2;
  kir_expr *x = realloc(K->k.exprs, sizeof *x * (size_t)cap);
  if (!x) return false;
  K->k.exprs = x;
  uint16_t *om = realloc(K->omask, sizeof *om * (size_t)cap);
  if (!om) return false;
  K->omask = om;
  uint16_t *im = realloc(K->imask, sizeof *im * (size_t)cap);
  if (!im) return false;
  K->imask = im;
  K->k.capexprs = cap;
  return true;
}

int kx_add(kctx *K, kir_expr e) {
  if (K->L->st) return -1;
  if (2 * (K->k.nexprs + 1) > K->hcap && !rehash(K, K->hcap ? 2 * K->hcap : 64)) return oom(K);
  size_t h = (size_t)expr_hash(&e) & (size_t)(K->hcap - 1);
  while (K->htab[h] >= 0) {
    if (expr_eq(&K->k.exprs[K->htab[h]], &e)) return K->htab[h];
    h = (h + 1) & (size_t)(K->hcap - 1);
  }
  if (!grow_masks(K, K->k.nexprs + 1)) return oom(K);
  int id = K->k.nexprs++;
  K->k.exprs[id] = e;
  uint16_t om = 0, im = 0;
  int ops[3] = {-1, -1, -1};
  switch (e.kind) {
    case KX_OUTER: om = (uint16_t)(1u << e.a); break;
    case KX_INNER: im = (uint16_t)(1u << e.a); break;
    case KX_ACC: om = K->stage_omask[e.a]; break;
    case KX_LOAD: ops[0] = e.b; break;
    case KX_UNARY: case KX_CAST: ops[0] = e.a; break;
    case KX_BINARY: case KX_CMP: ops[0] = e.a, ops[1] = e.b; break;
    case KX_SELECT: ops[0] = e.a, ops[1] = e.b, ops[2] = e.c; break;
    default: break;
  }
  for (int i = 0; i < 3; i++)
    if (ops[i] >= 0) om |= K->omask[ops[i]], im |= K->imask[ops[i]];
  K->omask[id] = om;
  K->imask[id] = im;
  K->htab[h] = id;
  return id;
}

static kir_expr mk(kir_expr_kind kind, kir_type t) {
  kir_expr e;
  memset(&e, 0, sizeof e);
  e.kind = kind;
  e.type = t;
  e.a = e.b = e.c = -1;
  e.dtype = (graphc_dtype_t)-1;
  return e;
}

kir_type kx_type(const kctx *K, int e) { return K->k.exprs[e].type; }

bool kx_is_i(const kctx *K, int e, int64_t v) {
  if (e < 0) return false;
  const kir_expr *x = &K->k.exprs[e];
  return x->kind == KX_CONST && x->type == KIR_I64 && x->i == v;
}

static bool is_const(const kctx *K, int e) { return e >= 0 && K->k.exprs[e].kind == KX_CONST; }

int kx_i(kctx *K, int64_t v) {
  kir_expr e = mk(KX_CONST, KIR_I64);
  e.i = v;
  return kx_add(K, e);
}

int kx_f(kctx *K, kir_type t, double v) {
  kir_expr e = mk(KX_CONST, t);
  e.f = t == KIR_F32 ? (double)(float)v : v;
  return kx_add(K, e);
}

int kx_b(kctx *K, bool v) {
  kir_expr e = mk(KX_CONST, KIR_BOOL);
  e.i = v;
  return kx_add(K, e);
}

int kx_outer(kctx *K, int a) {
  kir_expr e = mk(KX_OUTER, KIR_I64);
  e.a = a;
  return kx_add(K, e);
}

int kx_inner(kctx *K, int a) {
  kir_expr e = mk(KX_INNER, KIR_I64);
  e.a = a;
  return kx_add(K, e);
}

int kx_pdim(kctx *K, gc_dim pd) {
  if (pd == GC_DIM_NONE) return -1;
  int64_t v;
  if (gc_dim_is_const(K->L->dims, pd, &v)) return kx_i(K, v);
  int s = lw_size(K->L, pd);
  if (s < 0) return -1;
  kir_expr e = mk(KX_SIZE, KIR_I64);
  e.a = s;
  return kx_add(K, e);
}


int kx_un(kctx *K, kir_unary_op op, int a) {
  if (a < 0) return -1;
  const kir_expr *x = &K->k.exprs[a];
  if (x->kind == KX_CONST && (x->type == KIR_F32 || x->type == KIR_F64) && (op == KU_NEG || op == KU_SQRT))
    return kx_f(K, x->type, op == KU_NEG ? -x->f : x->type == KIR_F32 ? (double)sqrtf((float)x->f) : sqrt(x->f));
  kir_expr e = mk(KX_UNARY, kx_type(K, a));
  e.op = op;
  e.a = a;
  return kx_add(K, e);
}

static int64_t wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static int64_t wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

/* Folds integer arithmetic on constants (index math). */
static bool fold_i(kir_binary_op op, int64_t a, int64_t b, int64_t *r) {
  switch (op) {
    case KB_ADD: *r = wrap_add(a, b); return true;
    case KB_SUB: *r = (int64_t)((uint64_t)a - (uint64_t)b); return true;
    case KB_MUL: *r = wrap_mul(a, b); return true;
    case KB_MAX: *r = a > b ? a : b; return true;
    case KB_MIN: *r = a < b ? a : b; return true;
    case KB_FLOORDIV:
      if (b == 0 || (a == INT64_MIN && b == -1)) return false;
      *r = a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
      return true;
    case KB_MOD:
      if (b == 0 || (a == INT64_MIN && b == -1)) return false;
      *r = a % b;
      if (*r != 0 && ((*r < 0) != (b < 0))) *r += b;
      return true;
    default: return false;
  }
}

int kx_bin(kctx *K, kir_binary_op op, int a, int b) {
  if (a < 0 || b < 0) return -1;
  kir_type t = kx_type(K, a);
  if (t == KIR_I64 && is_const(K, a) && is_const(K, b)) {
    int64_t r;
    if (fold_i(op, K->k.exprs[a].i, K->k.exprs[b].i, &r)) return kx_i(K, r);
  }
  if ((t == KIR_F32 || t == KIR_F64) && is_const(K, a) && is_const(K, b) && op <= KB_DIV) {
    double x = K->k.exprs[a].f, y = K->k.exprs[b].f, r;
    if (t == KIR_F32) {
      float fx = (float)x, fy = (float)y;
      r = op == KB_ADD ? fx + fy : op == KB_SUB ? fx - fy : op == KB_MUL ? fx * fy : fx / fy;
    } else {
      r = op == KB_ADD ? x + y : op == KB_SUB ? x - y : op == KB_MUL ? x * y : x / y;
    }
    return kx_f(K, t, r);
  }
  kir_expr e = mk(KX_BINARY, kx_type(K, a));
  e.op = op;
  e.a = a;
  e.b = b;
  return kx_add(K, e);
}

int kx_iadd(kctx *K, int a, int b) {
  if (kx_is_i(K, a, 0)) return b;
  if (kx_is_i(K, b, 0)) return a;
  return kx_bin(K, KB_ADD, a, b);
}

int kx_isub(kctx *K, int a, int b) {
  if (kx_is_i(K, b, 0)) return a;
  return kx_bin(K, KB_SUB, a, b);
}

int kx_imul(kctx *K, int a, int b) {
  if (kx_is_i(K, a, 1)) return b;
  if (kx_is_i(K, b, 1)) return a;
  if (kx_is_i(K, a, 0) || kx_is_i(K, b, 0)) return a < 0 || b < 0 ? -1 : kx_i(K, 0);
  return kx_bin(K, KB_MUL, a, b);
}

int kx_cmp(kctx *K, kir_cmp_op op, int a, int b) {
  if (a < 0 || b < 0) return -1;
  kir_expr e = mk(KX_CMP, KIR_BOOL);
  e.op = op;
  e.a = a;
  e.b = b;
  return kx_add(K, e);
}

int kx_sel(kctx *K, int c, int a, int b) {
  if (c < 0 || a < 0 || b < 0) return -1;
  if (a == b) return a;
  const kir_expr *x = &K->k.exprs[c];
  if (x->kind == KX_CONST) return x->i ? a : b;
  kir_expr e = mk(KX_SELECT, kx_type(K, a));
  e.a = c;
  e.b = a;
  e.c = b;
  return kx_add(K, e);
}

int kx_cast(kctx *K, kir_type t, int a, int dtype) {
  if (a < 0) return -1;
  if (kx_type(K, a) == t && dtype < 0) return a;
  const kir_expr *x = &K->k.exprs[a];
  if (x->kind == KX_CONST && dtype < 0) {
    if (x->type == KIR_I64 && (t == KIR_F32 || t == KIR_F64)) return kx_f(K, t, (double)x->i);
    if (x->type == KIR_BOOL && t == KIR_I64) return kx_i(K, x->i != 0);
    if ((x->type == KIR_F32 || x->type == KIR_F64) && (t == KIR_F32 || t == KIR_F64))
      return kx_f(K, t, x->f);
  }
  kir_expr e = mk(KX_CAST, t);
  e.a = a;
  e.dtype = (graphc_dtype_t)dtype;
  return kx_add(K, e);
}

int kx_load(kctx *K, int buf, int index) {
  if (index < 0 || buf < 0) return -1;
  kir_expr e = mk(KX_LOAD, lw_ktype(K->L->p->buffers[buf].dtype));
  e.a = buf;
  e.b = index;
  return kx_add(K, e);
}

static bool is_float_dt(gc_dtype dt) {
  return dt == GRAPHC_F32 || dt == GRAPHC_F64 || dt == GRAPHC_F16 || dt == GRAPHC_BF16;
}

/* Rounds a value of type lw_ktype(dt) through the storage dtype dt. */
static int round_to(kctx *K, int e, gc_dtype dt) {
  if (dt == GRAPHC_F16 || dt == GRAPHC_BF16) return kx_cast(K, KIR_F32, e, (int)dt);
  if (dt == GRAPHC_I32) return kx_cast(K, KIR_I64, e, (int)dt);
  return e;
}

int kx_convert(kctx *K, int e, gc_dtype from, gc_dtype to) {
  if (e < 0 || from == to) return e;
  if (is_float_dt(to)) return round_to(K, kx_cast(K, lw_ktype(to), e, -1), to);
  if (to == GRAPHC_BOOL) return kx_cast(K, KIR_BOOL, e, -1);
  return round_to(K, kx_cast(K, KIR_I64, e, -1), to); /* i32 / i64 */
}

int kx_finish(kctx *K, int e, gc_dtype dt) {
  if (e < 0) return -1;
  if (dt == GRAPHC_BOOL) return kx_cast(K, KIR_BOOL, e, -1);
  return round_to(K, e, dt);
}

int kx_arith(kctx *K, int e, gc_dtype dt) {
  return dt == GRAPHC_BOOL ? kx_cast(K, KIR_I64, e, -1) : e;
}

/* ---- index descriptors ----------------------------------------------------- */

void ix_init(ix *x, const gc_type *t) {
  x->type = t;
  x->flat = -1;
  for (int d = 0; d < GC_MAX_RANK; d++) x->c[d] = -1;
}

bool lw_same_dims(const gc_type *a, const gc_type *b) {
  if (a->rank != b->rank) return false;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d]) return false;
  return true;
}

/* Row-major stride of dim d of t, as an expression. */
static int stride_of(kctx *K, const gc_type *t, int d) {
  return kx_pdim(K, lw_pnumel(K->L, t, d + 1, t->rank));
}

static bool dim_is_one(kctx *K, const gc_type *t, int d) {
  int64_t v;
  return gc_dim_is_const(K->L->dims, t->dims[d], &v) && v == 1;
}

int ix_coord(kctx *K, ix *x, int d) {
  if (x->c[d] >= 0) return x->c[d];
  if (dim_is_one(K, x->type, d)) return x->c[d] = kx_i(K, 0);
  int q = x->flat;
  if (q < 0) return -1;
  int st = stride_of(K, x->type, d);
  if (!kx_is_i(K, st, 1)) q = kx_bin(K, KB_FLOORDIV, q, st);
  if (d > 0) q = kx_bin(K, KB_MOD, q, kx_pdim(K, x->type->dims[d])); /* dim 0 needs no mod */
  return x->c[d] = q;
}

int ix_flat(kctx *K, ix *x) {
  if (x->flat >= 0) return x->flat;
  int f = kx_i(K, 0);
  for (int d = 0; d < x->type->rank; d++) {
    if (dim_is_one(K, x->type, d)) continue;
    f = kx_iadd(K, f, kx_imul(K, ix_coord(K, x, d), stride_of(K, x->type, d)));
  }
  return x->flat = f;
}

void ix_bcast(kctx *K, ix *at, const gc_type *ot, ix *out) {
  ix_init(out, ot);
  if (lw_same_dims(ot, at->type)) {
    for (int d = 0; d < ot->rank; d++) out->c[d] = at->c[d];
    out->flat = at->flat;
    return;
  }
  int off = at->type->rank - ot->rank;
  for (int d = 0; d < ot->rank; d++)
    out->c[d] = dim_is_one(K, ot, d) ? kx_i(K, 0) : ix_coord(K, at, d + off);
}

/* ---- stages and kernels ------------------------------------------------------ */

static unsigned need_mask(lower_ctx *L, int n, const gc_dim *pd) {
  unsigned m = 0;
  for (int d = 0; d < n; d++)
    if (!lw_pis(L, pd[d], 1)) m |= 1u << d;
  return m;
}

graphc_status_t kb_begin(kctx *K, lower_ctx *L, const char *what, const char *value, int nouter,
                         const gc_dim *outer) {
  memset(K, 0, sizeof *K);
  K->L = L;
  K->root = -1;
  char name[96];
  snprintf(name, sizeof name, "k%d_%s_%s", L->nnames++, what, value ? value : "");
  size_t j = 0;
  for (size_t i = 0; name[i] && j + 1 < sizeof K->k.name; i++) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    K->k.name[j++] = ok ? c : '_';
  }
  K->k.name[j] = 0;
  if (nouter > KIR_MAX_DIMS)
    return gc_status(GRAPHC_STATUS_UNIMPLEMENTED, "kernel for '%s': more than %d outer dims", value,
                     KIR_MAX_DIMS);
  K->k.nouter = nouter;
  for (int d = 0; d < nouter; d++) {
    K->k.outer[d] = lw_size(L, outer[d]);
    if (K->k.outer[d] < 0) return L->st ? L->st : GC_OOM();
  }
  K->outer_need = need_mask(L, nouter, outer);
  return NULL;
}

void kb_stage_enter(kctx *K, int ninner, const gc_dim *inner, kstage_save *save) {
  save->inner_need = K->inner_need;
  save->ninner = K->ninner;
  memcpy(save->inner, K->inner, sizeof save->inner);
  K->ninner = ninner;
  for (int d = 0; d < ninner; d++) K->inner[d] = inner[d];
  K->inner_need = need_mask(K->L, ninner, inner);
}

void kb_stage_leave(kctx *K, kstage_save *save) {
  K->inner_need = save->inner_need;
  K->ninner = save->ninner;
  memcpy(K->inner, save->inner, sizeof save->inner);
}

static bool add_stage(kctx *K, kir_stage st, unsigned omask) {
  if (K->k.nstages == K->capstages) {
    int cap = K->capstages ? 2 * K->capstages : 4;
    kir_stage *s = realloc(K->k.stages, sizeof *s * (size_t)cap);
    if (!s) return false;
    K->k.stages = s;
    uint16_t *m = realloc(K->stage_omask, sizeof *m * (size_t)cap);
    if (!m) return false;
    K->stage_omask = m;
    K->capstages = cap;
  }
  K->stage_omask[K->k.nstages] = (uint16_t)omask;
  K->k.stages[K->k.nstages++] = st;
  return true;
}

static bool set_inner(kctx *K, kir_stage *st) {
  if (K->ninner > KIR_MAX_DIMS) return false;
  st->ninner = K->ninner;
  for (int d = 0; d < K->ninner; d++) {
    st->inner[d] = lw_size(K->L, K->inner[d]);
    if (st->inner[d] < 0) return false;
  }
  return true;
}

int kb_stage_reduce(kctx *K, kstage_save *save, kir_combine comb, int value, unsigned omask) {
  if (value < 0) {
    kb_stage_leave(K, save);
    return -1;
  }
  kir_stage st;
  memset(&st, 0, sizeof st);
  st.kind = KIR_REDUCE;
  st.combine = comb;
  st.acc_type = kx_type(K, value);
  st.value = value;
  bool ok = set_inner(K, &st);
  kb_stage_leave(K, save);
  if (!ok || !add_stage(K, st, omask)) return oom(K);
  kir_expr e = mk(KX_ACC, st.acc_type);
  e.a = K->k.nstages - 1;
  return kx_add(K, e);
}

graphc_status_t kb_store_stage(kctx *K, int ninner, const gc_dim *inner, int nstores,
                               const kir_store *stores) {
  if (K->L->st) return NULL;
  kir_stage st;
  memset(&st, 0, sizeof st);
  st.kind = KIR_STORE;
  if (nstores > KIR_MAX_STORES || ninner > KIR_MAX_DIMS)
    return gc_status(GRAPHC_STATUS_INTERNAL, "kernel %s: too many stores or inner dims", K->k.name);
  for (int t = 0; t < nstores; t++)
    if (stores[t].index < 0 || stores[t].value < 0) return NULL; /* error already recorded */
  st.nstores = nstores;
  memcpy(st.stores, stores, sizeof *stores * (size_t)nstores);
  kstage_save sv;
  kb_stage_enter(K, ninner, inner, &sv);
  bool ok = set_inner(K, &st);
  kb_stage_leave(K, &sv);
  if (!ok || !add_stage(K, st, 0)) return K->L->st ? NULL : GC_OOM();
  return NULL;
}

/* Drops expressions no stage reaches (operands precede users, so one
 * backward marking pass and one forward renumbering pass suffice). */
static bool prune(kctx *K) {
  int n = K->k.nexprs;
  if (n == 0) return true;
  int *map = calloc((size_t)n, sizeof *map);
  if (!map) return false;
  for (int g = 0; g < K->k.nstages; g++) {
    kir_stage *s = &K->k.stages[g];
    if (s->kind == KIR_REDUCE) map[s->value] = 1;
    for (int t = 0; s->kind == KIR_STORE && t < s->nstores; t++)
      map[s->stores[t].index] = map[s->stores[t].value] = 1;
  }
  for (int e = n - 1; e >= 0; e--) {
    if (!map[e]) continue;
    kir_expr *x = &K->k.exprs[e];
    switch (x->kind) {
      case KX_LOAD: map[x->b] = 1; break;
      case KX_UNARY: case KX_CAST: map[x->a] = 1; break;
      case KX_BINARY: case KX_CMP: map[x->a] = map[x->b] = 1; break;
      case KX_SELECT: map[x->a] = map[x->b] = map[x->c] = 1; break;
      default: break;
    }
  }
  int m = 0;
  for (int e = 0; e < n; e++) {
    if (!map[e]) {
      map[e] = -1;
      continue;
    }
    kir_expr x = K->k.exprs[e];
    switch (x.kind) {
      case KX_LOAD: x.b = map[x.b]; break;
      case KX_UNARY: case KX_CAST: x.a = map[x.a]; break;
      case KX_BINARY: case KX_CMP: x.a = map[x.a], x.b = map[x.b]; break;
      case KX_SELECT: x.a = map[x.a], x.b = map[x.b], x.c = map[x.c]; break;
      default: break;
    }
    K->k.exprs[m] = x;
    map[e] = m++;
  }
  K->k.nexprs = m;
  for (int g = 0; g < K->k.nstages; g++) {
    kir_stage *s = &K->k.stages[g];
    if (s->kind == KIR_REDUCE) s->value = map[s->value];
    for (int t = 0; s->kind == KIR_STORE && t < s->nstores; t++) {
      s->stores[t].index = map[s->stores[t].index];
      s->stores[t].value = map[s->stores[t].value];
    }
  }
  free(map);
  return true;
}

static void free_aux(kctx *K) {
  free(K->omask);
  free(K->imask);
  free(K->htab);
  free(K->memo);
  free(K->stage_omask);
  K->omask = K->imask = NULL;
  K->htab = NULL;
  K->memo = NULL;
  K->stage_omask = NULL;
}

void kb_discard(kctx *K) {
  free_aux(K);
  free(K->k.stages);
  free(K->k.exprs);
  memset(&K->k, 0, sizeof K->k);
}

graphc_status_t kb_finish(kctx *K, int *out_step) {
  lower_ctx *L = K->L;
  if (L->st || L->demote >= 0) {
    kb_discard(K);
    return NULL; /* the caller looks at L */
  }
  free_aux(K);
  if (!prune(K)) {
    kb_discard(K);
    return GC_OOM();
  }
  kir_program *p = L->p;
  kir_kernel *ks = realloc(p->kernels, sizeof *ks * (size_t)(p->nkernels + 1));
  if (!ks) {
    kb_discard(K);
    return GC_OOM();
  }
  p->kernels = ks;
  ks[p->nkernels] = K->k;
  memset(&K->k, 0, sizeof K->k);
  kir_step st;
  memset(&st, 0, sizeof st);
  st.kind = KIR_STEP_KERNEL;
  st.kernel = p->nkernels++;
  int s = lw_step(L, st);
  if (s < 0) return GC_OOM();
  if (out_step) *out_step = s;
  return NULL;
}
