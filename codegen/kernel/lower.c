/* gc_lower_graph: the driver.
 *
 * 1. Flatten the graph (regions inlined), map its dims into the program's
 *    own dim table (same symbol ids), find live values.
 * 2. Plan fusion (fuse.c), then walk the nodes in order: ops that write
 *    their results themselves (GEMM, cat, cross_entropy, attention) build
 *    their steps; every other materialised value gets its root kernel.
 *    If a kernel finds a value it cannot compute well inline, that value
 *    is marked and lowering starts over (each restart materialises one
 *    more value, so this ends).
 * 3. Tidy up: a kernel that is the only reader of a GEMM's output becomes
 *    the GEMM's epilogue (and writes in place when it can), unreferenced
 *    kernels and temps go, liveness is computed and in-place reuse of
 *    dying temps marked for the memory planner. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fuse.h"
#include "kernel/lower_internal.h"
#include "support/status.h"

/* ---- per-attempt program ------------------------------------------------------ */

static graphc_status_t take(lower_ctx *L) {
  graphc_status_t st = L->st;
  L->st = NULL;
  return st;
}

static graphc_status_t symbols(lower_ctx *L) {
  kir_program *p = L->p;
  p->nsyms = gc_dimtab_num_syms(L->gdims);
  p->symsrc = calloc((size_t)p->nsyms + 1, sizeof *p->symsrc);
  if (!p->symsrc) return GC_OOM();
  for (int s = 0; s < p->nsyms; s++) {
    const gc_symbind *b = gc_graph_symbind(L->g, s);
    p->symsrc[s].kind = 2;
    if (b->kind == GC_SYM_BACKED) {
      p->symsrc[s].kind = 0;
      p->symsrc[s].input = L->g->values[b->value].index;
      p->symsrc[s].dim = b->dim;
    } else if (b->kind == GC_SYM_INPUT) {
      p->symsrc[s].kind = 1;
      p->symsrc[s].input = L->g->values[b->value].index;
    }
  }
  return NULL;
}

static graphc_status_t lower_nodes(lower_ctx *L) {
  const lgraph *fg = L->fg;
  for (int i = 0; i < fg->ninputs; i++) {
    int v = fg->inputs[i];
    const lval *lv = &fg->vals[v];
    L->buf[v] = lw_buffer(L, lv->type.dtype, &lv->type, GC_DIM_NONE, KIR_BUF_INPUT, i, lw_vname(L, v));
  }
  if (L->st) return take(L);
  for (int i = 0; i < fg->nnodes; i++) {
    const lnode *n = &fg->nodes[i];
    bool live = false;
    for (int k = 0; k < n->nres; k++) live |= L->live[n->res[k]];
    if (!live) continue;
    if (n->op->build) GC_TRY(n->op->build(L, n));
    for (int k = 0; k < n->nres && !L->st && L->demote < 0; k++) {
      int v = n->res[k];
      if (!L->live[v] || !L->mat[v] || L->buf[v] >= 0) continue;
      int b = lw_value_buffer(L, v);
      if (b < 0) break;
      GC_TRY(lw_root_kernel(L, v, b));
      if (!L->st && L->demote < 0) L->buf[v] = b;
    }
    if (L->st) return take(L);
    if (L->demote >= 0) return NULL;
  }
  /* Outputs not written directly: inputs, and values listed twice. */
  for (int k = 0; k < fg->noutputs; k++) {
    if (L->out_claimed[k]) continue;
    int v = fg->outputs[k];
    const lval *lv = &fg->vals[v];
    if (L->buf[v] < 0) return gc_status(GRAPHC_STATUS_INTERNAL, "lowering: output %d is never written", k);
    int b = lw_buffer(L, lv->type.dtype, &lv->type, GC_DIM_NONE, KIR_BUF_OUTPUT, k, lw_vname(L, v));
    if (b < 0) return take(L);
    L->out_claimed[k] = true;
    kir_step st;
    memset(&st, 0, sizeof st);
    st.kind = KIR_STEP_COPY;
    st.src = L->buf[v];
    st.dst = b;
    st.count = L->p->buffers[b].numel;
    if (lw_step(L, st) < 0) return take(L);
  }
  return NULL;
}

static void drop_program(kir_program *p) {
  if (!p) return;
  p->dims = NULL; /* owned by the lowering until the end */
  kir_program_free(p);
  free(p);
}

static graphc_status_t attempt(lower_ctx *L, const bool *forced, kir_program **out) {
  const lgraph *fg = L->fg;
  kir_program *p = calloc(1, sizeof *p);
  if (!p) return GC_OOM();
  L->p = p;
  p->dims = L->dims;
  p->ninputs = fg->ninputs;
  p->noutputs = fg->noutputs;
  for (int v = 0; v < fg->nvals; v++) L->buf[v] = -1;
  for (int i = 0; i < fg->nnodes; i++) L->raw[i] = -1, L->checked[i] = false;
  for (int k = 0; k < fg->noutputs; k++) L->out_claimed[k] = false;
  L->demote = -1;
  L->nnames = 0;
  graphc_status_t st = symbols(L);
  if (!st) st = gc_fuse_plan(L, forced);
  if (!st) st = lower_nodes(L);
  if (st || L->demote >= 0) {
    drop_program(p);
    L->p = NULL;
    return st;
  }
  *out = p;
  return NULL;
}

/* ---- tidying passes ------------------------------------------------------------- */

/* Buffers step s reads (writes = false) or writes (writes = true). */
static bool kernel_touches(const kir_kernel *k, bool writes, int buf) {
  if (writes) {
    for (int g = 0; g < k->nstages; g++)
      for (int t = 0; k->stages[g].kind == KIR_STORE && t < k->stages[g].nstores; t++)
        if (k->stages[g].stores[t].buf == buf) return true;
    return false;
  }
  for (int e = 0; e < k->nexprs; e++)
    if (k->exprs[e].kind == KX_LOAD && k->exprs[e].a == buf) return true;
  return false;
}

static bool step_reads(const kir_program *p, const kir_step *s, int buf) {
  switch (s->kind) {
    case KIR_STEP_KERNEL: return kernel_touches(&p->kernels[s->kernel], false, buf);
    case KIR_STEP_GEMM:
      return s->gemm.a == buf || s->gemm.b == buf ||
             (s->gemm.epilogue >= 0 && kernel_touches(&p->kernels[s->gemm.epilogue], false, buf));
    case KIR_STEP_COPY: case KIR_STEP_CHECK: return s->src == buf;
  }
  return false;
}

static bool step_writes(const kir_program *p, const kir_step *s, int buf) {
  switch (s->kind) {
    case KIR_STEP_KERNEL: return kernel_touches(&p->kernels[s->kernel], true, buf);
    case KIR_STEP_GEMM:
      return s->gemm.c == buf ||
             (s->gemm.epilogue >= 0 && kernel_touches(&p->kernels[s->gemm.epilogue], true, buf));
    case KIR_STEP_COPY: return s->dst == buf;
    case KIR_STEP_CHECK: return false;
  }
  return false;
}

/* The single store of a kernel whose stages all share the store's inner
 * domain, or NULL. Loads at that store's index then touch only the
 * element the same iteration writes. */
static const kir_store *single_store(const kir_kernel *k) {
  const kir_stage *ss = NULL;
  for (int g = 0; g < k->nstages; g++)
    if (k->stages[g].kind == KIR_STORE) {
      if (ss || k->stages[g].nstores != 1) return NULL;
      ss = &k->stages[g];
    }
  if (!ss) return NULL;
  for (int g = 0; g < k->nstages; g++) {
    const kir_stage *s = &k->stages[g];
    if (s->ninner != ss->ninner || memcmp(s->inner, ss->inner, sizeof(int) * (size_t)s->ninner)) return NULL;
  }
  return &ss->stores[0];
}

static bool loads_only_at(const kir_kernel *k, int buf, int index) {
  for (int e = 0; e < k->nexprs; e++)
    if (k->exprs[e].kind == KX_LOAD && k->exprs[e].a == buf && k->exprs[e].b != index) return false;
  return true;
}

static bool same_bytes(const kir_buffer *a, const kir_buffer *b) {
  return a->numel == b->numel && graphc_dtype_size(a->dtype) == graphc_dtype_size(b->dtype);
}

/* A GEMM whose output only one later kernel reads: that kernel becomes
 * its epilogue (the GEMM moves down to it). When the kernel writes one
 * value of the output's dtype and shape element by element, the GEMM
 * writes that value's buffer directly and the epilogue works in place; a
 * copy-only epilogue then disappears. */
static void merge_epilogues(kir_program *p) {
  for (int s = 0; s < p->nsteps; s++) {
    kir_step *g = &p->steps[s];
    if (g->kind != KIR_STEP_GEMM || g->gemm.epilogue >= 0) continue;
    int r = g->gemm.c, reader = -1, nread = 0;
    if (p->buffers[r].role != KIR_BUF_TEMP) continue;
    for (int t = 0; t < p->nsteps; t++)
      if (t != s && (step_reads(p, &p->steps[t], r) || step_writes(p, &p->steps[t], r))) nread++, reader = t;
    if (nread != 1 || reader < s || p->steps[reader].kind != KIR_STEP_KERNEL) continue;
    int ki = p->steps[reader].kernel;
    kir_kernel *k = &p->kernels[ki];
    const kir_store *st = single_store(k);
    if (st) {
      kir_buffer *x = &p->buffers[st->buf];
      if (x->role != KIR_BUF_INPUT && x->dtype == p->buffers[r].dtype && x->numel == p->buffers[r].numel &&
          loads_only_at(k, r, st->index) && !kernel_touches(k, false, st->buf)) {
        for (int e = 0; e < k->nexprs; e++)
          if (k->exprs[e].kind == KX_LOAD && k->exprs[e].a == r) k->exprs[e].a = st->buf;
        g->gemm.c = st->buf;
        const kir_expr *v = &k->exprs[st->value];
        if (k->nstages == 1 && v->kind == KX_LOAD && v->a == st->buf && v->b == st->index) ki = -1;
      }
    }
    kir_step moved = *g;
    moved.gemm.epilogue = ki;
    memmove(&p->steps[s], &p->steps[s + 1], sizeof *p->steps * (size_t)(p->nsteps - s - 1));
    p->nsteps--;
    p->steps[reader - 1] = moved;
    s--; /* the step now at s has not been looked at */
  }
}

/* Removes kernels no step runs and temps no step touches. */
static graphc_status_t compact(kir_program *p) {
  int *kmap = malloc(sizeof *kmap * (size_t)(p->nkernels + 1));
  int *bmap = malloc(sizeof *bmap * (size_t)(p->nbuffers + 1));
  if (!kmap || !bmap) {
    free(kmap);
    free(bmap);
    return GC_OOM();
  }
  for (int k = 0; k < p->nkernels; k++) kmap[k] = -1;
  for (int s = 0; s < p->nsteps; s++) {
    const kir_step *st = &p->steps[s];
    if (st->kind == KIR_STEP_KERNEL) kmap[st->kernel] = 1;
    if (st->kind == KIR_STEP_GEMM && st->gemm.epilogue >= 0) kmap[st->gemm.epilogue] = 1;
  }
  int nk = 0;
  for (int k = 0; k < p->nkernels; k++) {
    if (kmap[k] < 0) {
      free(p->kernels[k].stages);
      free(p->kernels[k].exprs);
      continue;
    }
    p->kernels[nk] = p->kernels[k];
    kmap[k] = nk++;
  }
  p->nkernels = nk;
  for (int s = 0; s < p->nsteps; s++) {
    kir_step *st = &p->steps[s];
    if (st->kind == KIR_STEP_KERNEL) st->kernel = kmap[st->kernel];
    if (st->kind == KIR_STEP_GEMM && st->gemm.epilogue >= 0) st->gemm.epilogue = kmap[st->gemm.epilogue];
  }
  int nb = 0;
  for (int b = 0; b < p->nbuffers; b++) {
    bool used = p->buffers[b].role != KIR_BUF_TEMP;
    for (int s = 0; !used && s < p->nsteps; s++)
      used = step_reads(p, &p->steps[s], b) || step_writes(p, &p->steps[s], b);
    bmap[b] = used ? nb : -1;
    if (used) p->buffers[nb++] = p->buffers[b];
  }
  p->nbuffers = nb;
  for (int k = 0; k < p->nkernels; k++) {
    kir_kernel *kk = &p->kernels[k];
    for (int e = 0; e < kk->nexprs; e++)
      if (kk->exprs[e].kind == KX_LOAD) kk->exprs[e].a = bmap[kk->exprs[e].a];
    for (int g = 0; g < kk->nstages; g++)
      for (int t = 0; kk->stages[g].kind == KIR_STORE && t < kk->stages[g].nstores; t++)
        kk->stages[g].stores[t].buf = bmap[kk->stages[g].stores[t].buf];
  }
  for (int s = 0; s < p->nsteps; s++) {
    kir_step *st = &p->steps[s];
    if (st->kind == KIR_STEP_GEMM) st->gemm.a = bmap[st->gemm.a], st->gemm.b = bmap[st->gemm.b], st->gemm.c = bmap[st->gemm.c];
    if (st->kind == KIR_STEP_COPY) st->src = bmap[st->src], st->dst = bmap[st->dst];
    if (st->kind == KIR_STEP_CHECK) st->src = bmap[st->src];
  }
  free(kmap);
  free(bmap);
  return NULL;
}

static void liveness(kir_program *p) {
  for (int b = 0; b < p->nbuffers; b++) {
    kir_buffer *buf = &p->buffers[b];
    buf->first_step = buf->role == KIR_BUF_TEMP ? -1 : 0;
    buf->last_step = buf->role == KIR_BUF_TEMP ? -1 : p->nsteps - 1;
    if (buf->role != KIR_BUF_TEMP) continue;
    for (int s = 0; s < p->nsteps; s++)
      if (step_reads(p, &p->steps[s], b) || step_writes(p, &p->steps[s], b)) {
        if (buf->first_step < 0) buf->first_step = s;
        buf->last_step = s;
      }
  }
}

/* A kernel that writes temp X element by element may write over a temp Y
 * it reads only at the same elements, when this step is Y's last use. */
static void mark_inplace(kir_program *p) {
  bool *taken = calloc((size_t)p->nbuffers + 1, sizeof *taken);
  if (!taken) return; /* only an optimisation */
  for (int s = 0; s < p->nsteps; s++) {
    if (p->steps[s].kind != KIR_STEP_KERNEL) continue;
    const kir_kernel *k = &p->kernels[p->steps[s].kernel];
    const kir_store *st = single_store(k);
    if (!st) continue;
    kir_buffer *x = &p->buffers[st->buf];
    if (x->role != KIR_BUF_TEMP || x->first_step != s || x->inplace) continue;
    for (int e = 0; e < k->nexprs; e++) {
      if (k->exprs[e].kind != KX_LOAD) continue;
      int y = k->exprs[e].a;
      kir_buffer *yb = &p->buffers[y];
      if (y == st->buf || taken[y] || yb->role != KIR_BUF_TEMP || yb->last_step != s || !same_bytes(x, yb) ||
          !loads_only_at(k, y, st->index))
        continue;
      x->inplace = true;
      x->inplace_src = y;
      taken[y] = true;
      break;
    }
  }
  free(taken);
}

/* ---- entry points ------------------------------------------------------------------ */

static void mark_live(lower_ctx *L) {
  const lgraph *fg = L->fg;
  for (int v = 0; v < fg->nvals; v++) L->live[v] = false;
  for (int k = 0; k < fg->noutputs; k++) L->live[fg->outputs[k]] = true;
  for (int i = fg->nnodes - 1; i >= 0; i--) {
    const lnode *n = &fg->nodes[i];
    bool live = false;
    for (int k = 0; k < n->nres; k++) live |= L->live[n->res[k]];
    if (!live) continue;
    /* a multi-result node is computed whole: all its results are live */
    for (int k = 0; k < n->nres; k++) L->live[n->res[k]] = true;
    for (int k = 0; k < n->nops; k++) L->live[n->ops[k]] = true;
  }
}

/* The node of the root graph that defines unbacked symbol `sym`. */
static graphc_status_t unbacked(lower_ctx *L, int sym) {
  const gc_graph *g = L->g;
  int v = gc_graph_symbind(g, sym)->value;
  for (int i = 0; i < L->fg->nnodes; i++) {
    const lnode *n = &L->fg->nodes[i];
    for (int k = 0; n->g == g && k < n->n->nresults; k++)
      if (n->n->results[k] == v) return lw_unimplemented(L, n, "data-dependent result sizes (unbacked symbols)");
  }
  return gc_status(GRAPHC_STATUS_UNIMPLEMENTED, "graph '%s': symbol '%s' has a data-dependent value",
                   g->name, gc_dimtab_sym_name(L->gdims, sym));
}

static graphc_status_t check_supported(lower_ctx *L) {
  for (int i = 0; i < L->fg->nnodes; i++) {
    const lnode *n = &L->fg->nodes[i];
    bool live = false;
    for (int k = 0; k < n->nres; k++) live |= L->live[n->res[k]];
    if (live && !n->op) return lw_unimplemented(L, n, graphc_status_message(n->why));
  }
  /* Sizes of live values must come from inputs: an unbacked symbol is
   * only known after its op ran, which the CPU backend cannot do yet. */
  for (int v = 0; v < L->fg->nvals; v++) {
    const gc_type *t = &L->fg->vals[v].type;
    for (int d = 0; L->live[v] && d < t->rank; d++) {
      int syms[16];
      int ns = gc_dim_syms(L->dims, t->dims[d], syms, 16);
      for (int k = 0; k < ns && k < 16; k++) {
        gc_symkind kind = gc_graph_symbind(L->g, syms[k])->kind;
        if (kind != GC_SYM_BACKED && kind != GC_SYM_INPUT) return unbacked(L, syms[k]);
      }
    }
  }
  return NULL;
}

static graphc_status_t setup(lower_ctx *L) {
  const lgraph *fg = L->fg;
  size_t nv = (size_t)fg->nvals + 1, nn = (size_t)fg->nnodes + 1;
  L->live = calloc(nv, sizeof *L->live);
  L->mat = calloc(nv, sizeof *L->mat);
  L->buf = calloc(nv, sizeof *L->buf);
  L->cost = calloc(nv, sizeof *L->cost);
  L->raw = calloc(nn, sizeof *L->raw);
  L->checked = calloc(nn, sizeof *L->checked);
  L->out_claimed = calloc((size_t)fg->noutputs + 1, sizeof *L->out_claimed);
  if (!L->live || !L->mat || !L->buf || !L->cost || !L->raw || !L->checked || !L->out_claimed) return GC_OOM();
  mark_live(L);
  return check_supported(L);
}

static void teardown(lower_ctx *L) {
  free(L->live);
  free(L->mat);
  free(L->buf);
  free(L->cost);
  free(L->raw);
  free(L->checked);
  free(L->out_claimed);
  free(L->dmap);
  graphc_status_free(L->st);
  if (L->fg) lg_free(L->fg);
}

static graphc_status_t new_dims(lower_ctx *L) {
  L->dims = gc_dimtab_new();
  L->ndmap = gc_dimtab_size(L->gdims);
  L->dmap = malloc(sizeof *L->dmap * (size_t)(L->ndmap + 1));
  if (!L->dims || !L->dmap) return GC_OOM();
  for (int i = 0; i < L->ndmap; i++) L->dmap[i] = GC_DIM_NONE;
  /* Same symbols, same ids, so call-time symbol values line up. */
  for (int s = 0; s < gc_dimtab_num_syms(L->gdims); s++) {
    int id;
    GC_TRY(gc_dimtab_add_sym(L->dims, gc_dimtab_sym_name(L->gdims, s), &id));
    if (id != s) return gc_status(GRAPHC_STATUS_INTERNAL, "lowering: symbol ids differ (%d vs %d)", id, s);
  }
  return NULL;
}

graphc_status_t gc_lower_graph(const gc_graph *g, const gc_lower_options *opt, kir_program **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "gc_lower_graph: out is NULL");
  *out = NULL;
  GC_TRY(gc_graph_check(g));
  if (g->parent) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "gc_lower_graph: '%s' is a region", g->name);
  lgraph fg;
  memset(&fg, 0, sizeof fg);
  lower_ctx L;
  memset(&L, 0, sizeof L);
  L.g = g;
  L.gdims = gc_graph_dims(g);
  L.fuse = !(opt && opt->no_fusion);
  graphc_status_t st = new_dims(&L);
  if (!st) {
    L.fg = &fg;
    st = lg_build(&L);
  }
  if (!st) st = setup(&L);
  bool *forced = st ? NULL : calloc((size_t)fg.nvals + 1, sizeof *forced);
  if (!st && !forced) st = GC_OOM();
  kir_program *p = NULL;
  while (!st) {
    st = attempt(&L, forced, &p);
    if (st || L.demote < 0) break;
    forced[L.demote] = true;
  }
  free(forced);
  if (!st) {
    merge_epilogues(p);
    st = compact(p);
    liveness(p);
    mark_inplace(p);
  }
  if (!st) st = kir_program_verify(p);
  if (st) {
    drop_program(p);
    gc_dimtab_free(L.dims);
  } else {
    *out = p; /* p->dims is L.dims */
  }
  teardown(&L);
  return st;
}

void gc_lower_free(kir_program *p) {
  if (!p) return;
  kir_program_free(p);
  free(p);
}

gc_lower_counts gc_lower_count(const kir_program *p) {
  gc_lower_counts c = {0};
  for (int s = 0; s < p->nsteps; s++) {
    const kir_step *st = &p->steps[s];
    if (st->kind == KIR_STEP_KERNEL) {
      if (strstr(p->kernels[st->kernel].name, "_check_")) c.checks++;
      else c.kernels++;
    } else if (st->kind == KIR_STEP_GEMM) {
      c.gemms++;
      c.epilogues += st->gemm.epilogue >= 0;
    } else if (st->kind == KIR_STEP_COPY) {
      c.copies++;
    }
    (void)0;
  }
  return c;
}
