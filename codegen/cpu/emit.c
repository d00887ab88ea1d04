/* One kir_kernel as one LLVM function with the gc_kernel_fn signature.
 *
 * Loop structure, for outer points [begin, end):
 *
 *   for each run of points that share all outer coordinates but the last
 *   (a "row"; the first row's coordinates come from div/mod, the next
 *   ones by stepping):
 *     for j in [0, points in this row):        canonical i64 loop
 *       stage 0: for inner coords ...: acc0 = combine(acc0, value)
 *       stage k: for inner coords ...: buf[index] = value
 *
 * so an elementwise kernel's innermost loop is the j loop and a reduction's
 * is its last inner dim: both simple enough for LoopVectorize.
 *
 * Expressions are emitted once per loop level where their inputs exist:
 * level 0 (sizes, constants), 1 (row), 2 (point), 3+d (inner dim d). A
 * value is hoisted into the preheader of the loop below its level. Every
 * loop is guarded (its preheader runs only when it has an iteration), so a
 * hoisted load never reads memory the unhoisted code would not have read;
 * both operands of a select are evaluated (the lowering keeps indices in
 * range even in the unselected one). A value is reused while the loop it
 * was placed in is open; loads are re-read after a STORE stage (the stage
 * may have written them).
 */
#include <stdlib.h>

#include "cpu/cpu_internal.h"
#include "support/status.h"

#define MAXLVL (3 + KIR_MAX_DIMS)

typedef struct cache_ent {
  LLVMValueRef v;
  int pos;        /* scope it is valid in */
  unsigned id;    /* that scope's id when it was placed */
  unsigned epoch; /* store epoch (for values that read memory) */
} cache_ent;

typedef struct ek {
  const gc_llvm *L;
  const kir_program *p;
  const kir_kernel *k;
  LLVMValueRef fn;
  LLVMBuilderRef b;  /* the current position */
  LLVMBuilderRef hb; /* for hoisting */
  LLVMValueRef *size, *buf, *acc;
  int *level;
  bool *has_load;
  cache_ent *cache;
  /* Loop levels 0..depth are open; a level's id changes whenever its loop
   * is reopened, which invalidates what was placed in the old one. */
  int depth;
  unsigned *scope_id;
  unsigned next_id, epoch;
  LLVMValueRef hoist[MAXLVL]; /* level L < depth: terminator of loop L+1's preheader */
  LLVMValueRef outer[KIR_MAX_DIMS], inner[KIR_MAX_DIMS];
  int stage, ninner;
  int *stack;          /* emit()'s work list, 3 * nexprs + 1 */
  unsigned *visit, visit_gen;
  graphc_status_t err;
} ek;

typedef struct loop {
  LLVMBasicBlockRef pre, body, exit;
  LLVMValueRef iv, n;
} loop;

static LLVMBasicBlockRef block(ek *E, const char *name) {
  return LLVMAppendBasicBlockInContext(E->L->ctx, E->fn, name);
}
static LLVMValueRef i64c(ek *E, long long v) { return LLVMConstInt(E->L->i64, (unsigned long long)v, 1); }

static void enter_level(ek *E) { E->scope_id[++E->depth] = ++E->next_id; }

/* Opens `for (iv = 0; iv < n; iv++)`, guarded by n > 0, at the current
 * position; the preheader becomes the hoisting point of this level. */
static LLVMValueRef loop_open(ek *E, loop *lp, LLVMValueRef n, const char *name) {
  lp->pre = block(E, "pre");
  lp->body = block(E, name);
  lp->exit = block(E, "exit");
  lp->n = n;
  LLVMBuildCondBr(E->b, LLVMBuildICmp(E->b, LLVMIntSGT, n, i64c(E, 0), ""), lp->pre, lp->exit);
  LLVMPositionBuilderAtEnd(E->b, lp->pre);
  E->hoist[E->depth] = LLVMBuildBr(E->b, lp->body);
  LLVMPositionBuilderAtEnd(E->b, lp->body);
  lp->iv = LLVMBuildPhi(E->b, E->L->i64, name);
  enter_level(E);
  return lp->iv;
}

static void loop_close(ek *E, loop *lp) {
  LLVMValueRef next = LLVMBuildAdd(E->b, lp->iv, i64c(E, 1), "");
  LLVMSetNUW(next, 1);
  LLVMSetNSW(next, 1);
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(E->b);
  LLVMBuildCondBr(E->b, LLVMBuildICmp(E->b, LLVMIntSLT, next, lp->n, ""), lp->body, lp->exit);
  LLVMValueRef in[2] = {i64c(E, 0), next};
  LLVMBasicBlockRef from[2] = {lp->pre, latch};
  LLVMAddIncoming(lp->iv, in, from, 2);
  LLVMPositionBuilderAtEnd(E->b, lp->exit);
  E->depth--;
}

/* --- expressions ---------------------------------------------------------------- */

static bool cached(const ek *E, int e) {
  const cache_ent *c = &E->cache[e];
  return c->v && c->pos <= E->depth && E->scope_id[c->pos] == c->id &&
         (!E->has_load[e] || c->epoch == E->epoch);
}

static void remember(ek *E, int e, LLVMValueRef v, int pos) {
  E->cache[e] = (cache_ent){v, pos, E->scope_id[pos], E->epoch};
}

static LLVMValueRef emit(ek *E, int e);

static LLVMValueRef fail(ek *E, graphc_status_t st) {
  if (!E->err) E->err = st;
  else graphc_status_free(st);
  return NULL;
}

static LLVMValueRef emit_load(ek *E, LLVMBuilderRef b, const kir_expr *x, LLVMValueRef index) {
  graphc_dtype_t dt = E->p->buffers[x->a].dtype;
  LLVMTypeRef st = gc_storage_type(E->L, dt);
  LLVMValueRef ptr = LLVMBuildInBoundsGEP2(b, st, E->buf[x->a], &index, 1, "");
  LLVMValueRef v = LLVMBuildLoad2(b, st, ptr, "");
  LLVMSetAlignment(v, (unsigned)graphc_dtype_size(dt));
  return gc_emit_from_storage(E->L, b, v, dt, x->type);
}

/* Operand ids of x; returns how many. */
static int operands(const kir_expr *x, int ops[3]) {
  switch (x->kind) {
    case KX_LOAD: ops[0] = x->b; return 1;
    case KX_UNARY: case KX_CAST: ops[0] = x->a; return 1;
    case KX_BINARY: case KX_CMP: ops[0] = x->a, ops[1] = x->b; return 2;
    case KX_SELECT: ops[0] = x->a, ops[1] = x->b, ops[2] = x->c; return 3;
    default: return 0;
  }
}

/* Coordinates and sizes are values already. */
static bool is_leaf(const kir_expr *x) { return x->kind == KX_OUTER || x->kind == KX_INNER || x->kind == KX_SIZE; }

static LLVMValueRef value(ek *E, int e) {
  const kir_expr *x = &E->k->exprs[e];
  switch (x->kind) {
    case KX_OUTER: return E->outer[x->a];
    case KX_SIZE: return E->size[x->a];
    case KX_INNER:
      if (x->a < E->ninner) return E->inner[x->a];
      return fail(E, gc_status(GRAPHC_STATUS_INTERNAL, "kernel '%s' stage %d: expression %d reads inner "
                               "coordinate %d of a stage with %d inner dims", E->k->name, E->stage, e, x->a, E->ninner));
    default: return E->cache[e].v;
  }
}

/* Emits node e (its operands are available) as far out as its level
 * allows: into the preheader of the loop below that level. */
static void emit_node(ek *E, int e) {
  const kir_kernel *k = E->k;
  const kir_expr *x = &k->exprs[e];
  LLVMValueRef ops[3] = {NULL, NULL, NULL};
  int opi[3], nops = operands(x, opi);
  for (int i = 0; i < nops; i++)
    if (!(ops[i] = value(E, opi[i]))) return;
  if (x->kind == KX_ACC && x->a >= E->stage) {
    fail(E, gc_status(GRAPHC_STATUS_INTERNAL, "kernel '%s' stage %d: expression %d reads acc%d before that stage has run",
                      k->name, E->stage, e, x->a));
    return;
  }
  int lv = E->level[e], pos = E->depth;
  LLVMBuilderRef b = E->b;
  if (lv < E->depth) {
    LLVMPositionBuilderBefore(E->hb, E->hoist[lv]);
    b = E->hb;
    pos = lv + 1;
  }
  LLVMValueRef v;
  if (x->kind == KX_LOAD) {
    v = emit_load(E, b, x, ops[0]);
  } else if (x->kind == KX_ACC) {
    kir_type at = k->stages[x->a].acc_type;
    v = LLVMBuildLoad2(b, gc_llvm_type(E->L, at), E->acc[x->a], "");
    v = gc_emit_cast(E->L, b, v, at, x->type);
  } else {
    v = gc_emit_op(E->L, b, k, x, ops);
  }
  if (!v) {
    fail(E, gc_status(GRAPHC_STATUS_INTERNAL, "kernel '%s' expression %d: no code for it", k->name, e));
    return;
  }
  remember(E, e, v, pos);
}

/* The value of expression `root` at the current position, emitting what
 * is not available yet, operands first (an explicit stack: expression
 * chains can be long). */
static LLVMValueRef emit(ek *E, int root) {
  unsigned gen = ++E->visit_gen;
  int n = 0;
  E->stack[n++] = root;
  while (n && !E->err) {
    int e = E->stack[n - 1];
    const kir_expr *x = &E->k->exprs[e];
    if (is_leaf(x) || cached(E, e)) {
      n--;
    } else if (E->visit[e] != gen) { /* first visit: its operands go first */
      E->visit[e] = gen;
      int opi[3], nops = operands(x, opi);
      for (int i = 0; i < nops; i++) E->stack[n++] = opi[i];
    } else {
      n--;
      emit_node(E, e);
    }
  }
  return E->err ? NULL : value(E, root);
}

/* Static facts per expression: loop level and whether it reads memory.
 * Operands precede their users. */
static void analyse(ek *E) {
  const kir_kernel *k = E->k;
  for (int e = 0; e < k->nexprs; e++) {
    const kir_expr *x = &k->exprs[e];
    int lv = 0, ops[3], nops = operands(x, ops);
    bool load = x->kind == KX_LOAD;
    if (x->kind == KX_OUTER) lv = x->a == k->nouter - 1 ? 2 : 1;
    if (x->kind == KX_INNER) lv = 3 + x->a;
    if (x->kind == KX_ACC) lv = 2;
    if (load) lv = 1; /* never above the row loop's guard */
    for (int i = 0; i < nops; i++) {
      if (E->level[ops[i]] > lv) lv = E->level[ops[i]];
      load |= E->has_load[ops[i]];
    }
    E->level[e] = lv;
    E->has_load[e] = load;
  }
}

/* --- stages ----------------------------------------------------------------------- */

static void emit_stage(ek *E, int s) {
  const kir_stage *st = &E->k->stages[s];
  const kir_kernel *k = E->k;
  E->stage = s;
  E->ninner = st->ninner;
  if (st->kind == KIR_REDUCE)
    LLVMBuildStore(E->b, gc_emit_combine_init(E->L, st->combine, st->acc_type), E->acc[s]);
  loop lps[KIR_MAX_DIMS];
  for (int d = 0; d < st->ninner; d++) E->inner[d] = loop_open(E, &lps[d], E->size[st->inner[d]], "inner");
  if (st->kind == KIR_REDUCE) {
    LLVMValueRef v = emit(E, st->value);
    if (v) {
      LLVMTypeRef at = gc_llvm_type(E->L, st->acc_type);
      v = gc_emit_cast(E->L, E->b, v, k->exprs[st->value].type, st->acc_type);
      LLVMValueRef a = LLVMBuildLoad2(E->b, at, E->acc[s], "");
      LLVMBuildStore(E->b, gc_emit_combine(E->L, E->b, st->combine, st->acc_type, a, v), E->acc[s]);
    }
  } else {
    /* every value first, then the stores: in-place outputs read their
     * inputs before overwriting them */
    LLVMValueRef idx[KIR_MAX_STORES], val[KIR_MAX_STORES];
    for (int t = 0; t < st->nstores; t++) {
      idx[t] = emit(E, st->stores[t].index);
      val[t] = emit(E, st->stores[t].value);
    }
    for (int t = 0; t < st->nstores && !E->err; t++) {
      int bi = st->stores[t].buf;
      graphc_dtype_t dt = E->p->buffers[bi].dtype;
      LLVMValueRef sv = gc_emit_to_storage(E->L, E->b, val[t], k->exprs[st->stores[t].value].type, dt);
      LLVMTypeRef sty = gc_storage_type(E->L, dt);
      LLVMValueRef ptr = LLVMBuildInBoundsGEP2(E->b, sty, E->buf[bi], &idx[t], 1, "");
      LLVMSetAlignment(LLVMBuildStore(E->b, sv, ptr), (unsigned)graphc_dtype_size(dt));
    }
  }
  for (int d = st->ninner - 1; d >= 0; d--) loop_close(E, &lps[d]);
  if (st->kind == KIR_STORE) E->epoch++;
}

/* --- the function --------------------------------------------------------------- */

/* Entry: accumulators, sizes and buffer pointers (all loaded once). */
static void emit_entry(ek *E) {
  const gc_llvm *L = E->L;
  const kir_kernel *k = E->k;
  LLVMValueRef bufs = LLVMGetParam(E->fn, 2), sizes = LLVMGetParam(E->fn, 3);
  for (int s = 0; s < k->nstages; s++)
    if (k->stages[s].kind == KIR_REDUCE)
      E->acc[s] = LLVMBuildAlloca(E->b, gc_llvm_type(L, k->stages[s].acc_type), "acc");
  bool *need_size = calloc((size_t)E->p->nsizes + 1, 1), *need_buf = calloc((size_t)E->p->nbuffers + 1, 1);
  if (!need_size || !need_buf) {
    free(need_size), free(need_buf);
    fail(E, GC_OOM());
    return;
  }
  for (int d = 0; d < k->nouter; d++) need_size[k->outer[d]] = true;
  for (int s = 0; s < k->nstages; s++) {
    for (int d = 0; d < k->stages[s].ninner; d++) need_size[k->stages[s].inner[d]] = true;
    if (k->stages[s].kind == KIR_STORE)
      for (int t = 0; t < k->stages[s].nstores; t++) need_buf[k->stages[s].stores[t].buf] = true;
  }
  for (int e = 0; e < k->nexprs; e++) {
    if (k->exprs[e].kind == KX_SIZE) need_size[k->exprs[e].a] = true;
    if (k->exprs[e].kind == KX_LOAD) need_buf[k->exprs[e].a] = true;
  }
  for (int i = 0; i < E->p->nsizes; i++) {
    if (!need_size[i]) continue;
    LLVMValueRef idx = i64c(E, i);
    LLVMValueRef ptr = LLVMBuildInBoundsGEP2(E->b, L->i64, sizes, &idx, 1, "");
    E->size[i] = LLVMBuildLoad2(E->b, L->i64, ptr, "size");
  }
  for (int i = 0; i < E->p->nbuffers; i++) {
    if (!need_buf[i]) continue;
    LLVMValueRef idx = i64c(E, i);
    LLVMValueRef ptr = LLVMBuildInBoundsGEP2(E->b, L->ptr, bufs, &idx, 1, "");
    E->buf[i] = LLVMBuildLoad2(E->b, L->ptr, ptr, "buf");
  }
  free(need_size);
  free(need_buf);
}

static void emit_body(ek *E) {
  const gc_llvm *L = E->L;
  const kir_kernel *k = E->k;
  LLVMValueRef begin = LLVMGetParam(E->fn, 0), end = LLVMGetParam(E->fn, 1);
  LLVMBasicBlockRef ret = block(E, "ret"), rowpre = block(E, "rowpre"), row = block(E, "row");
  /* nothing to do for an empty range or an empty outer domain */
  LLVMValueRef ok = LLVMBuildICmp(E->b, LLVMIntSLT, begin, end, "");
  for (int d = 0; d < k->nouter; d++)
    ok = LLVMBuildAnd(E->b, ok, LLVMBuildICmp(E->b, LLVMIntSGT, E->size[k->outer[d]], i64c(E, 0), ""), "");
  LLVMBuildCondBr(E->b, ok, rowpre, ret);
  LLVMPositionBuilderAtEnd(E->b, ret);
  LLVMBuildRetVoid(E->b);

  /* The coordinates of `begin` by division, once; later rows step them. */
  LLVMPositionBuilderAtEnd(E->b, rowpre);
  int n = k->nouter;
  LLVMValueRef ext_last = n ? E->size[k->outer[n - 1]] : i64c(E, 1), init[KIR_MAX_DIMS];
  LLVMValueRef last_init = LLVMBuildURem(E->b, begin, ext_last, "");
  LLVMValueRef rest = LLVMBuildUDiv(E->b, begin, ext_last, "");
  for (int d = n - 2; d >= 0; d--) {
    init[d] = d ? LLVMBuildURem(E->b, rest, E->size[k->outer[d]], "") : rest;
    if (d) rest = LLVMBuildUDiv(E->b, rest, E->size[k->outer[d]], "");
  }
  E->hoist[0] = LLVMBuildBr(E->b, row);
  enter_level(E); /* the row loop */
  LLVMPositionBuilderAtEnd(E->b, row);
  LLVMValueRef o = LLVMBuildPhi(E->b, L->i64, "o"), last0 = LLVMBuildPhi(E->b, L->i64, "first");
  for (int d = 0; d < n - 1; d++) E->outer[d] = LLVMBuildPhi(E->b, L->i64, "c");
  LLVMValueRef left_in_row = LLVMBuildSub(E->b, ext_last, last0, "");
  LLVMValueRef left = LLVMBuildSub(E->b, end, o, "");
  LLVMValueRef args[2] = {left_in_row, left};
  LLVMTypeRef i64 = L->i64;
  LLVMValueRef cnt = gc_llvm_intrinsic(L, E->b, "llvm.smin", &i64, 1, args, 2);

  loop pl;
  LLVMValueRef j = loop_open(E, &pl, cnt, "point");
  if (n) E->outer[n - 1] = LLVMBuildAdd(E->b, last0, j, "");
  for (int s = 0; s < k->nstages && !E->err; s++) emit_stage(E, s);
  loop_close(E, &pl);

  /* next row: the next-to-last coordinate steps, carrying outward */
  LLVMValueRef o_next = LLVMBuildAdd(E->b, o, cnt, ""), carry = i64c(E, 1), next[KIR_MAX_DIMS];
  for (int d = n - 2; d >= 0; d--) {
    LLVMValueRef t = LLVMBuildAdd(E->b, E->outer[d], carry, "");
    LLVMValueRef wrap = LLVMBuildICmp(E->b, LLVMIntEQ, t, E->size[k->outer[d]], "");
    next[d] = LLVMBuildSelect(E->b, wrap, i64c(E, 0), t, "");
    carry = LLVMBuildZExt(E->b, wrap, L->i64, "");
  }
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(E->b);
  LLVMBuildCondBr(E->b, LLVMBuildICmp(E->b, LLVMIntSLT, o_next, end, ""), row, ret);
  LLVMBasicBlockRef from[2] = {rowpre, latch};
  LLVMAddIncoming(o, (LLVMValueRef[]){begin, o_next}, from, 2);
  LLVMAddIncoming(last0, (LLVMValueRef[]){last_init, i64c(E, 0)}, from, 2);
  for (int d = 0; d < n - 1; d++) LLVMAddIncoming(E->outer[d], (LLVMValueRef[]){init[d], next[d]}, from, 2);
}

graphc_status_t gc_emit_kernel(const gc_llvm *L, const kir_program *p, int ki, const char *name) {
  const kir_kernel *k = &p->kernels[ki];
  for (int e = 0; e < k->nexprs; e++) GC_TRY(gc_expr_check(k, e));
  for (int s = 0; s < k->nstages; s++) {
    const kir_stage *st = &k->stages[s];
    if (st->kind == KIR_REDUCE && ((unsigned)st->acc_type > KIR_BOOL || (unsigned)st->combine > KIR_MIN))
      return gc_status(GRAPHC_STATUS_INTERNAL, "kernel '%s' stage %d: bad accumulator", k->name, s);
    for (int t = 0; st->kind == KIR_STORE && t < st->nstores; t++)
      if ((unsigned)p->buffers[st->stores[t].buf].dtype >= GRAPHC_DTYPE_COUNT)
        return gc_status(GRAPHC_STATUS_INTERNAL, "kernel '%s': buffer b%d has a bad dtype", k->name, st->stores[t].buf);
  }
  for (int e = 0; e < k->nexprs; e++)
    if (k->exprs[e].kind == KX_LOAD && (unsigned)p->buffers[k->exprs[e].a].dtype >= GRAPHC_DTYPE_COUNT)
      return gc_status(GRAPHC_STATUS_INTERNAL, "kernel '%s': buffer b%d has a bad dtype", k->name, k->exprs[e].a);

  ek E = {.L = L, .p = p, .k = k};
  size_t ne = (size_t)k->nexprs + 1;
  E.size = calloc((size_t)p->nsizes + 1, sizeof *E.size);
  E.buf = calloc((size_t)p->nbuffers + 1, sizeof *E.buf);
  E.acc = calloc((size_t)k->nstages + 1, sizeof *E.acc);
  E.level = calloc(ne, sizeof *E.level);
  E.has_load = calloc(ne, sizeof *E.has_load);
  E.cache = calloc(ne, sizeof *E.cache);
  E.visit = calloc(ne, sizeof *E.visit);
  E.stack = calloc(3 * ne + 1, sizeof *E.stack);
  E.scope_id = calloc(MAXLVL + 2, sizeof *E.scope_id);
  if (E.size && E.buf && E.acc && E.level && E.has_load && E.cache && E.visit && E.stack && E.scope_id) {
    analyse(&E);
    LLVMTypeRef params[5] = {L->i64, L->i64, L->ptr, L->ptr, L->ptr};
    E.fn = LLVMAddFunction(L->mod, name, LLVMFunctionType(L->void_t, params, 5, 0));
    gc_llvm_fn_attr(L, E.fn, "nounwind", 0);
    E.b = LLVMCreateBuilderInContext(L->ctx);
    E.hb = LLVMCreateBuilderInContext(L->ctx);
    LLVMPositionBuilderAtEnd(E.b, block(&E, "entry"));
    emit_entry(&E);
    if (!E.err) emit_body(&E);
    LLVMDisposeBuilder(E.b);
    LLVMDisposeBuilder(E.hb);
  } else {
    E.err = GC_OOM();
  }
  free(E.size), free(E.buf), free(E.acc), free(E.level), free(E.has_load);
  free(E.cache), free(E.visit), free(E.stack), free(E.scope_id);
  return E.err;
}
