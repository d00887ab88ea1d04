/* The flat graph lowering works on, and the program-building helpers:
 * dims, sizes, buffers, steps, names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/lower_internal.h"
#include "support/status.h"

/* ---- rules ------------------------------------------------------------------ */

const lop *lower_find_op(const char *name) {
  static const lop *const tables[] = {gc_lower_ops_elementwise, gc_lower_ops_shape, gc_lower_ops_reduce,
                                      gc_lower_ops_linalg, gc_lower_ops_conv, gc_lower_ops_grad};
  for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
    for (const lop *op = tables[t]; op->name; op++)
      if (!strcmp(op->name, name)) return op;
  return NULL;
}

/* ---- program dims -------------------------------------------------------------- */

static gc_dim dim_err(lower_ctx *L, graphc_status_t st) {
  if (!L->st) L->st = st;
  else graphc_status_free(st);
  return GC_DIM_NONE;
}

gc_dim lw_gdim(lower_ctx *L, gc_dim gd) {
  if (gd < 0 || gd >= L->ndmap) return dim_err(L, gc_status(GRAPHC_STATUS_INTERNAL, "lowering: bad dim %d", gd));
  if (L->dmap[gd] != GC_DIM_NONE) return L->dmap[gd];
  const char *text = gc_dim_str(L->gdims, gd);
  size_t used = 0;
  gc_dim out;
  graphc_status_t st = gc_dim_parse(L->dims, text, strlen(text), false, &out, &used);
  if (st) return dim_err(L, st);
  return L->dmap[gd] = out;
}

#define DIM_OP(name, fn)                                   \
  gc_dim name(lower_ctx *L, gc_dim a, gc_dim b) {          \
    if (a == GC_DIM_NONE || b == GC_DIM_NONE) return GC_DIM_NONE; \
    gc_dim out;                                            \
    graphc_status_t st = fn(L->dims, a, b, &out);          \
    return st ? dim_err(L, st) : out;                      \
  }
DIM_OP(lw_padd, gc_dim_add)
DIM_OP(lw_psub, gc_dim_sub)
DIM_OP(lw_pmul, gc_dim_mul)
DIM_OP(lw_pfloordiv, gc_dim_floordiv)

gc_dim lw_pconst(lower_ctx *L, int64_t v) {
  gc_dim out;
  graphc_status_t st = gc_dim_const(L->dims, v, &out);
  return st ? dim_err(L, st) : out;
}

bool lw_pis(lower_ctx *L, gc_dim pd, int64_t v) {
  int64_t c;
  return pd != GC_DIM_NONE && gc_dim_is_const(L->dims, pd, &c) && c == v;
}

gc_dim lw_pnumel(lower_ctx *L, const gc_type *t, int from, int to) {
  gc_dim n = lw_pconst(L, 1);
  for (int d = from; d < to; d++) n = lw_pmul(L, n, t->dims[d]);
  return n;
}

int lw_size(lower_ctx *L, gc_dim pd) {
  if (pd == GC_DIM_NONE) return -1;
  int s = kir_size(L->p, pd);
  if (s < 0 && !L->st) L->st = GC_OOM();
  return s;
}

/* ---- buffers and steps ---------------------------------------------------------- */

const char *lw_vname(const lower_ctx *L, int v) {
  const lval *lv = &L->fg->vals[v];
  return lv->g->values[lv->gv].name;
}

void lw_where(const lower_ctx *L, const lnode *n, char *buf, size_t cap) {
  char loc[256];
  gc_loc_format(n->g, n->n->loc, loc, sizeof loc);
  snprintf(buf, cap, "%s: op '%s'", loc, n->n->op->name);
  (void)L;
}

graphc_status_t lw_unimplemented(const lower_ctx *L, const lnode *n, const char *why) {
  char where[300];
  lw_where(L, n, where, sizeof where);
  return gc_status(GRAPHC_STATUS_UNIMPLEMENTED, "%s: not supported by the CPU backend: %s", where, why);
}

int lw_buffer(lower_ctx *L, gc_dtype dt, const gc_type *shape, gc_dim numel, kir_buffer_role role,
              int index, const char *name) {
  kir_program *p = L->p;
  if (L->st) return -1;
  kir_buffer b;
  memset(&b, 0, sizeof b);
  b.dtype = dt;
  b.role = role;
  b.index = index;
  b.inplace_src = -1;
  snprintf(b.name, sizeof b.name, "%s", name ? name : "");
  if (shape) {
    if (numel == GC_DIM_NONE) numel = lw_pnumel(L, shape, 0, shape->rank);
    b.rank = shape->rank;
    for (int d = 0; d < shape->rank; d++) b.shape[d] = lw_size(L, shape->dims[d]);
  } else {
    b.rank = 1;
    b.shape[0] = lw_size(L, numel);
  }
  b.numel = lw_size(L, numel);
  if (L->st) return -1;
  kir_buffer *nb = realloc(p->buffers, sizeof *nb * (size_t)(p->nbuffers + 1));
  if (!nb) {
    L->st = GC_OOM();
    return -1;
  }
  p->buffers = nb;
  nb[p->nbuffers] = b;
  return p->nbuffers++;
}

int lw_value_buffer(lower_ctx *L, int v) {
  const lval *lv = &L->fg->vals[v];
  for (int k = 0; k < L->fg->noutputs; k++)
    if (L->fg->outputs[k] == v && !L->out_claimed[k]) {
      L->out_claimed[k] = true;
      return lw_buffer(L, lv->type.dtype, &lv->type, GC_DIM_NONE, KIR_BUF_OUTPUT, k, lw_vname(L, v));
    }
  return lw_buffer(L, lv->type.dtype, &lv->type, GC_DIM_NONE, KIR_BUF_TEMP, -1, lw_vname(L, v));
}

int lw_step(lower_ctx *L, kir_step st) {
  kir_program *p = L->p;
  kir_step *s = realloc(p->steps, sizeof *s * (size_t)(p->nsteps + 1));
  if (!s) {
    if (!L->st) L->st = GC_OOM();
    return -1;
  }
  p->steps = s;
  s[p->nsteps] = st;
  return p->nsteps++;
}

/* ---- flat graph ------------------------------------------------------------------ */

static int new_val(lower_ctx *L, const gc_graph *g, int gv, int producer, int result, int input) {
  lgraph *fg = L->fg;
  if (fg->nvals == fg->capvals) {
    int cap = fg->capvals ? 2 * fg->capvals : 64;
    lval *v = realloc(fg->vals, sizeof *v * (size_t)cap);
    if (!v) return -1;
    fg->vals = v;
    fg->capvals = cap;
  }
  lval *v = &fg->vals[fg->nvals];
  const gc_type *t = &g->values[gv].type;
  v->type.dtype = t->dtype;
  v->type.rank = t->rank;
  for (int d = 0; d < t->rank; d++) v->type.dims[d] = lw_gdim(L, t->dims[d]);
  v->g = g;
  v->gv = gv;
  v->producer = producer;
  v->result = result;
  v->input = input;
  return L->st ? -1 : fg->nvals++;
}

/* The node's rule, or NULL with n->why saying what is missing. */
static const lop *rule_for(lnode *n, const lgraph *fg) {
  const char *nm = n->n->op->name;
  if (n->n->op->flags & GC_OPF_DATA_DEPENDENT) {
    n->why = gc_status(GRAPHC_STATUS_UNIMPLEMENTED, "data-dependent result sizes (unbacked symbols)");
    return NULL;
  }
  const lop *op = lower_find_op(nm);
  if (!op) {
    n->why = gc_status(GRAPHC_STATUS_UNIMPLEMENTED, "no lowering rule for this op");
    return NULL;
  }
  if (!op->variant) return op;
  graphc_status_t st = NULL;
  const lop *v = op->variant(n, fg, &st);
  if (st) {
    n->why = st;
    return NULL;
  }
  return v ? v : op;
}

static graphc_status_t flatten(lower_ctx *L, const gc_graph *g, int *map, int depth) {
  lgraph *fg = L->fg;
  if (depth > 64) return gc_status(GRAPHC_STATUS_UNIMPLEMENTED, "lowering: regions nested too deeply");
  for (int i = 0; i < g->nnodes; i++) {
    const gc_node *node = &g->nodes[i];
    const char *nm = node->op->name;
    if ((!strcmp(nm, "checkpoint") || !strcmp(nm, "call")) && node->nregions == 1) {
      const gc_graph *r = node->regions[0];
      int *rmap = malloc(sizeof *rmap * (size_t)(r->nvalues ? r->nvalues : 1));
      if (!rmap) return GC_OOM();
      for (int v = 0; v < r->nvalues; v++) rmap[v] = -1;
      for (int k = 0; k < r->ninputs && k < node->noperands; k++) rmap[r->inputs[k]] = map[node->operands[k]];
      graphc_status_t st = flatten(L, r, rmap, depth + 1);
      for (int k = 0; !st && k < node->nresults; k++) map[node->results[k]] = rmap[r->outputs[k]];
      free(rmap);
      GC_TRY(st);
      continue;
    }
    if (fg->nnodes == fg->capnodes) {
      int cap = fg->capnodes ? 2 * fg->capnodes : 32;
      lnode *nn = realloc(fg->nodes, sizeof *nn * (size_t)cap);
      if (!nn) return GC_OOM();
      fg->nodes = nn;
      fg->capnodes = cap;
    }
    int id = fg->nnodes;
    lnode *ln = &fg->nodes[id];
    memset(ln, 0, sizeof *ln);
    ln->n = node;
    ln->g = g;
    ln->nops = node->noperands;
    ln->nres = node->nresults;
    ln->ops = malloc(sizeof(int) * (size_t)(ln->nops + 1));
    ln->res = malloc(sizeof(int) * (size_t)(ln->nres + 1));
    fg->nnodes++;
    if (!ln->ops || !ln->res) return GC_OOM();
    for (int k = 0; k < ln->nops; k++) ln->ops[k] = map[node->operands[k]];
    for (int k = 0; k < ln->nres; k++) {
      int v = new_val(L, g, node->results[k], id, k, -1);
      if (v < 0) return L->st ? L->st : GC_OOM();
      ln = &fg->nodes[id];
      ln->res[k] = map[node->results[k]] = v;
    }
    ln->op = rule_for(ln, fg);
  }
  return NULL;
}

graphc_status_t lg_build(lower_ctx *L) {
  const gc_graph *g = L->g;
  lgraph *fg = L->fg;
  memset(fg, 0, sizeof *fg);
  int *map = malloc(sizeof *map * (size_t)(g->nvalues ? g->nvalues : 1));
  fg->inputs = malloc(sizeof(int) * (size_t)(g->ninputs + 1));
  fg->outputs = malloc(sizeof(int) * (size_t)(g->noutputs + 1));
  if (!map || !fg->inputs || !fg->outputs) {
    free(map);
    return GC_OOM();
  }
  for (int v = 0; v < g->nvalues; v++) map[v] = -1;
  fg->ninputs = g->ninputs;
  fg->noutputs = g->noutputs;
  graphc_status_t st = NULL;
  for (int i = 0; i < g->ninputs && !st; i++) {
    int v = new_val(L, g, g->inputs[i], -1, 0, i);
    if (v < 0) st = L->st ? L->st : GC_OOM();
    else fg->inputs[i] = map[g->inputs[i]] = v;
  }
  if (!st) st = flatten(L, g, map, 0);
  for (int k = 0; !st && k < g->noutputs; k++) fg->outputs[k] = map[g->outputs[k]];
  free(map);
  if (st && st == L->st) L->st = NULL;
  return st;
}

void lg_free(lgraph *fg) {
  for (int i = 0; i < fg->nnodes; i++) {
    free(fg->nodes[i].ops);
    free(fg->nodes[i].res);
    graphc_status_free(fg->nodes[i].why);
  }
  free(fg->nodes);
  free(fg->vals);
  free(fg->inputs);
  free(fg->outputs);
  memset(fg, 0, sizeof *fg);
}
