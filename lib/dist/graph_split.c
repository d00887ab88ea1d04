/* Cutting a graph into the pieces of a DDP plan: which values and symbols
 * each piece takes in and gives out, and building each piece as a new
 * top-level graph (see graph_split.h for the rules). */
#include "dist/graph_split.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/op.h"
#include "support/status.h"
#include "support/strbuf.h"

/* One input of a piece, before it is built. */
typedef struct in_entry {
  int value;          /* original value, or -1 for a symbol read off a shape */
  int sym;            /* the symbol a symbol input defines, else -1 */
  graphc_role_t role;
} in_entry;

typedef struct piece_io {
  in_entry *ins;
  int nins;
  int *outs; /* original values, ascending */
  int nouts;
} piece_io;

typedef struct cutter {
  const gc_graph *g;
  const gc_ddp_plan *plan;
  int nsyms;
  bool *need, *defined, *bound, *synthetic; /* per symbol, scratch */
  int *symval;                              /* per symbol, scratch  */
  bool *is_in;                              /* per value, scratch   */
  bool *exported;                           /* per value            */
  int *out_pos;                             /* per value: index among its piece's outputs */
  piece_io *io;                             /* per piece            */
} cutter;

static int piece_of_value(const cutter *c, int v) {
  int p = c->g->values[v].producer;
  return p >= 0 ? c->plan->piece_of_node[p] : -1;
}

static graphc_status_t push_entry(piece_io *io, int value, int sym, graphc_role_t role) {
  in_entry *e = realloc(io->ins, sizeof *e * (size_t)(io->nins + 1));
  if (!e) return GC_OOM();
  io->ins = e;
  io->ins[io->nins++] = (in_entry){value, sym, role};
  return NULL;
}

/* --- what a piece needs --------------------------------------------------- */

static void mark_defined_in(const gc_graph *r, bool *defined) {
  for (int v = 0; v < r->nvalues; v++)
    if (r->values[v].sym >= 0) defined[r->values[v].sym] = true;
  for (int i = 0; i < r->nnodes; i++)
    for (int k = 0; k < r->nodes[i].nregions; k++) mark_defined_in(r->nodes[i].regions[k], defined);
}

/* Is dim `d` exactly symbol `s`? (The canonical text of a lone symbol is
 * its name.) */
static bool dim_is_sym(const gc_dimtab *t, gc_dim d, int s) {
  return strcmp(gc_dim_str(t, d), gc_dimtab_sym_name(t, s)) == 0;
}

/* Marks the values and symbols piece p reads from outside itself. */
static graphc_status_t collect_needs(cutter *c, int p) {
  const gc_graph *g = c->g;
  const gc_ddp_piece *pc = &c->plan->pieces[p];
  memset(c->need, 0, (size_t)c->nsyms + 1);
  memset(c->defined, 0, (size_t)c->nsyms + 1);
  memset(c->is_in, 0, (size_t)g->nvalues + 1);
  for (int n = pc->first_node; n < pc->first_node + pc->nnodes; n++) {
    const gc_node *node = &g->nodes[n];
    for (int i = 0; i < node->noperands; i++)
      if (piece_of_value(c, node->operands[i]) != p) c->is_in[node->operands[i]] = true;
    gc_dist_node_syms(g, node, c->need);
    for (int k = 0; k < node->nresults; k++)
      if (g->values[node->results[k]].sym >= 0) c->defined[g->values[node->results[k]].sym] = true;
    for (int k = 0; k < node->nregions; k++) mark_defined_in(node->regions[k], c->defined);
  }
  for (int s = 0; s < c->nsyms; s++) {
    if (!c->need[s] || c->defined[s]) continue;
    const gc_symbind *b = gc_graph_symbind(g, s);
    const char *name = gc_dimtab_sym_name(gc_graph_dims(g), s);
    if (b->kind == GC_SYM_INPUT) {
      c->is_in[b->value] = true;
    } else if (b->kind == GC_SYM_UNBACKED) {
      int v = gc_dist_unbacked_value(g, s);
      if (v < 0)
        return gc_status(GRAPHC_STATUS_UNIMPLEMENTED,
                         "graph split: piece %d uses symbol '%s', which is defined inside a "
                         "region op of another piece; a region's own symbols cannot cross a cut",
                         p, name);
      c->is_in[v] = true;
    } else if (b->kind != GC_SYM_BACKED) {
      return gc_status(GRAPHC_STATUS_VERIFY_ERROR,
                       "graph split: piece %d uses symbol '%s', which nothing binds", p, name);
    }
  }
  return NULL;
}

/* Orders piece p's inputs: symbol inputs first (by symbol), then graph
 * inputs in their order, then crossing values in production order. A
 * backed symbol no tensor input binds as a whole dim becomes a symbol input
 * read off the original input's shape. */
static graphc_status_t order_inputs(cutter *c, int p) {
  const gc_graph *g = c->g;
  const gc_dimtab *t = gc_graph_dims(g);
  piece_io *io = &c->io[p];
  memset(c->bound, 0, (size_t)c->nsyms + 1);
  memset(c->synthetic, 0, (size_t)c->nsyms + 1);
  for (int s = 0; s < c->nsyms; s++) c->symval[s] = -1;
  int *tens = malloc(sizeof *tens * ((size_t)g->nvalues + 1));
  if (!tens) return GC_OOM();
  int nt = 0;
  for (int i = 0; i < g->ninputs; i++) {
    int v = g->inputs[i];
    if (c->is_in[v] && g->values[v].sym < 0) tens[nt++] = v;
  }
  for (int v = 0; v < g->nvalues; v++) {
    if (!c->is_in[v]) continue;
    if (g->values[v].sym >= 0) {
      c->symval[g->values[v].sym] = v;
      c->bound[g->values[v].sym] = true;
    } else if (g->values[v].producer >= 0) {
      tens[nt++] = v;
    }
  }
  /* Replay the builder's binding rule over the tensor inputs. */
  for (int i = 0; i < nt; i++) {
    const gc_type *ty = &g->values[tens[i]].type;
    for (int d = 0; d < ty->rank; d++) {
      int syms[64];
      int ns = gc_dim_syms(t, ty->dims[d], syms, 64);
      for (int k = 0; k < ns && k < 64; k++) {
        int s = syms[k];
        if (c->bound[s] || c->defined[s]) continue;
        bool plain_here = false;
        for (int e = d; e < ty->rank; e++) plain_here |= dim_is_sym(t, ty->dims[e], s);
        if (!plain_here) c->synthetic[s] = c->bound[s] = true;
      }
    }
    for (int d = 0; d < ty->rank; d++) {
      int s;
      if (gc_dim_syms(t, ty->dims[d], &s, 1) == 1 && dim_is_sym(t, ty->dims[d], s)) c->bound[s] = true;
    }
  }
  graphc_status_t st = NULL;
  for (int s = 0; s < c->nsyms && !st; s++) {
    if (c->need[s] && !c->defined[s] && !c->bound[s]) c->synthetic[s] = true;
    if (c->symval[s] >= 0) st = push_entry(io, c->symval[s], s, GRAPHC_ROLE_SYMBOL);
    else if (c->synthetic[s]) st = push_entry(io, -1, s, GRAPHC_ROLE_SYMBOL);
  }
  for (int i = 0; i < nt && !st; i++) {
    const gc_value *val = &g->values[tens[i]];
    st = push_entry(io, tens[i], -1, val->producer < 0 ? val->role : GRAPHC_ROLE_INPUT);
  }
  free(tens);
  /* A synthetic symbol must be a backed one: read off an input's shape. */
  for (int s = 0; s < c->nsyms && !st; s++)
    if (c->synthetic[s] && gc_graph_symbind(g, s)->kind != GC_SYM_BACKED)
      st = gc_status(GRAPHC_STATUS_INTERNAL, "graph split: piece %d: symbol '%s' has no source",
                     p, gc_dimtab_sym_name(t, s));
  return st;
}

/* --- building a piece ------------------------------------------------------- */

typedef struct builder {
  const gc_graph *g; /* the original root */
  gc_graph *pg;      /* the piece root    */
  gc_dim *dimmap;    /* original dim -> piece dim, or GC_DIM_NONE */
} builder;

static graphc_status_t map_dim(builder *b, gc_dim d, bool create, gc_dim *out) {
  if (b->dimmap[d] != GC_DIM_NONE) {
    *out = b->dimmap[d];
    return NULL;
  }
  const char *text = gc_dim_str(gc_graph_dims(b->g), d);
  size_t used = 0, len = strlen(text);
  graphc_status_t st = gc_dim_parse(b->pg->dims, text, len, create, out, &used);
  if (!st && used != len)
    st = gc_status(GRAPHC_STATUS_INTERNAL, "dim '%s' did not re-parse whole", text);
  if (st) return gc_status_wrap(st, "graph split: carrying dim '%s' into '%s'", text, b->pg->name);
  b->dimmap[d] = *out;
  return NULL;
}

static graphc_status_t map_type(builder *b, const gc_type *in, bool create, gc_type *out) {
  *out = *in;
  for (int d = 0; d < in->rank; d++) GC_TRY(map_dim(b, in->dims[d], create, &out->dims[d]));
  return NULL;
}

static graphc_status_t copy_body(builder *b, gc_graph *dst, const gc_graph *src, int *vmap);

static graphc_status_t copy_region(builder *b, gc_graph *parent, const gc_graph *src,
                                   gc_graph **out) {
  GC_TRY(gc_graph_new(parent->ctx, src->name, parent, out));
  int *vmap = malloc(sizeof *vmap * ((size_t)src->nvalues + 1));
  graphc_status_t st = vmap ? NULL : GC_OOM();
  for (int v = 0; vmap && v < src->nvalues; v++) vmap[v] = -1;
  for (int i = 0; !st && i < src->ninputs; i++) {
    const gc_value *val = &src->values[src->inputs[i]];
    gc_type ty;
    st = map_type(b, &val->type, false, &ty);
    if (!st) st = gc_graph_add_input(*out, val->name, val->role, &ty, val->loc, &vmap[src->inputs[i]]);
  }
  if (!st) st = copy_body(b, *out, src, vmap);
  free(vmap);
  if (st) {
    gc_graph_destroy(*out);
    *out = NULL;
  }
  return st;
}

static graphc_status_t copy_node(builder *b, gc_graph *dst, const gc_graph *src,
                                 const gc_node *n, int *vmap) {
  int *ops = malloc(sizeof *ops * ((size_t)n->noperands + 1));
  graphc_attr_t *attrs = calloc((size_t)n->nattrs + 1, sizeof *attrs);
  size_t ndims = 1;
  for (int a = 0; a < n->nattrs; a++)
    if (n->attrs[a].kind == GRAPHC_ATTR_DIMS) ndims += (size_t)n->attrs[a].count;
  gc_dim *dims = malloc(sizeof *dims * ndims);
  gc_graph **regions = calloc((size_t)n->nregions + 1, sizeof *regions);
  const char **names = calloc((size_t)n->nresults + 1, sizeof *names);
  graphc_status_t st = (!ops || !attrs || !dims || !regions || !names) ? GC_OOM() : NULL;
  for (int i = 0; !st && i < n->noperands; i++)
    if ((ops[i] = vmap[n->operands[i]]) < 0)
      st = gc_status(GRAPHC_STATUS_INTERNAL, "graph split: op '%s': operand '%s' not carried",
                     n->op->name, src->values[n->operands[i]].name);
  int used = 0;
  for (int a = 0; !st && a < n->nattrs; a++) {
    const gc_attr *in = &n->attrs[a];
    attrs[a] = (graphc_attr_t){.name = in->name, .kind = in->kind, .i = in->i, .f = in->f,
                               .s = in->s, .ints = in->ints, .dtype = in->dtype,
                               .count = in->count};
    if (in->kind != GRAPHC_ATTR_DIMS) continue;
    attrs[a].dims = dims + used;
    for (int k = 0; !st && k < in->count; k++) st = map_dim(b, in->dims[k], false, &dims[used++]);
  }
  int built = 0;
  for (; !st && built < n->nregions; built++)
    st = copy_region(b, dst, n->regions[built], &regions[built]);
  for (int k = 0; !st && k < n->nresults; k++) names[k] = src->values[n->results[k]].name;
  int idx = -1;
  if (!st) {
    st = gc_graph_add_node(dst, n->op->name, ops, n->noperands, attrs, n->nattrs, regions,
                           n->nregions, names, n->loc, &idx);
    built = 0; /* add_node owns the regions now, whatever happened */
  }
  for (int r = 0; r < built; r++) gc_graph_destroy(regions[r]);
  for (int k = 0; !st && k < n->nresults; k++) vmap[n->results[k]] = dst->nodes[idx].results[k];
  free(ops);
  free(attrs);
  free(dims);
  free(regions);
  free(names);
  return st;
}

static graphc_status_t copy_body(builder *b, gc_graph *dst, const gc_graph *src, int *vmap) {
  for (int i = 0; i < src->nnodes; i++) GC_TRY(copy_node(b, dst, src, &src->nodes[i], vmap));
  int *outs = malloc(sizeof *outs * ((size_t)src->noutputs + 1));
  if (!outs) return GC_OOM();
  for (int i = 0; i < src->noutputs; i++) outs[i] = vmap[src->outputs[i]];
  graphc_status_t st = gc_graph_set_outputs(dst, outs, src->noutputs);
  free(outs);
  return st;
}

/* A node result crossing into a piece becomes an input, and input names
 * cannot start with a digit ('%0'): such a name gets a prefix. */
static graphc_status_t input_name(const builder *b, const char *name, char *buf, size_t cap) {
  if (!isdigit((unsigned char)name[0]) && name[0] != '.') {
    snprintf(buf, cap, "%s", name);
    return NULL;
  }
  for (int k = 0; k < 1000; k++) {
    if (k == 0) snprintf(buf, cap, "v%s", name);
    else snprintf(buf, cap, "v%s_%d", name, k);
    if (gc_graph_find_value(b->g, buf) < 0 && gc_graph_find_value(b->pg, buf) < 0) return NULL;
  }
  return gc_status(GRAPHC_STATUS_INTERNAL, "graph split: no free input name for '%%%s'", name);
}

static graphc_status_t build_piece(cutter *c, int p, gc_split_piece *sp) {
  const gc_graph *g = c->g;
  piece_io *io = &c->io[p];
  char name[512];
  snprintf(name, sizeof name, "%s_piece%d", g->name, p);
  GC_TRY(gc_graph_new(g->ctx, name, NULL, &sp->graph));
  builder b = {.g = g, .pg = sp->graph};
  if (g->file && !(sp->graph->file = gc_strdup(g->file))) return GC_OOM();
  int ndims = gc_dimtab_size(gc_graph_dims(g));
  b.dimmap = malloc(sizeof *b.dimmap * ((size_t)ndims + 1));
  int *vmap = malloc(sizeof *vmap * ((size_t)g->nvalues + 1));
  int *outs = malloc(sizeof *outs * ((size_t)io->nouts + 1));
  graphc_status_t st = (!b.dimmap || !vmap || !outs) ? GC_OOM() : NULL;
  for (int d = 0; !st && d < ndims; d++) b.dimmap[d] = GC_DIM_NONE;
  for (int v = 0; !st && v < g->nvalues; v++) vmap[v] = -1;
  for (int i = 0; !st && i < io->nins; i++) {
    const in_entry *e = &io->ins[i];
    gc_type ty = {.dtype = GRAPHC_I64, .rank = 0};
    gc_loc loc = {0, 0};
    char iname[512];
    if (e->value >= 0) {
      const gc_value *val = &g->values[e->value];
      loc = val->loc;
      st = input_name(&b, val->name, iname, sizeof iname);
      if (!st) st = map_type(&b, &val->type, true, &ty);
    } else {
      snprintf(iname, sizeof iname, "%s", gc_dimtab_sym_name(gc_graph_dims(g), e->sym));
    }
    int nv = -1;
    if (!st) st = gc_graph_add_input(sp->graph, iname, e->role, &ty, loc, &nv);
    if (st) st = gc_status_wrap(st, "graph split: piece %d: input '%s'", p, iname);
    if (!st && e->value >= 0) vmap[e->value] = nv;
  }
  const gc_ddp_piece *pc = &c->plan->pieces[p];
  for (int n = pc->first_node; !st && n < pc->first_node + pc->nnodes; n++)
    st = copy_node(&b, sp->graph, g, &g->nodes[n], vmap);
  for (int i = 0; !st && i < io->nouts; i++) outs[i] = vmap[io->outs[i]];
  if (!st) st = gc_graph_set_outputs(sp->graph, outs, io->nouts);
  if (!st) st = gc_graph_verify(sp->graph);
  if (st) st = gc_status_wrap(st, "graph split: piece %d", p);
  free(b.dimmap);
  free(vmap);
  free(outs);
  return st;
}

/* --- stitching ------------------------------------------------------------------ */

static gc_split_src source_of(const cutter *c, int v) {
  const gc_value *val = &c->g->values[v];
  if (val->producer < 0) return (gc_split_src){GC_SPLIT_FROM_INPUT, val->index, 0};
  return (gc_split_src){GC_SPLIT_FROM_PIECE, piece_of_value(c, v), c->out_pos[v]};
}

static graphc_status_t stitch_piece(const cutter *c, int p, gc_split_piece *sp) {
  const piece_io *io = &c->io[p];
  sp->in_src = calloc((size_t)io->nins + 1, sizeof *sp->in_src);
  sp->in_value = calloc((size_t)io->nins + 1, sizeof *sp->in_value);
  sp->out_value = calloc((size_t)io->nouts + 1, sizeof *sp->out_value);
  if (!sp->in_src || !sp->in_value || !sp->out_value) return GC_OOM();
  for (int i = 0; i < io->nins; i++) {
    const in_entry *e = &io->ins[i];
    sp->in_value[i] = e->value;
    if (e->value >= 0) {
      sp->in_src[i] = source_of(c, e->value);
    } else {
      const gc_symbind *b = gc_graph_symbind(c->g, e->sym);
      sp->in_src[i] = (gc_split_src){GC_SPLIT_FROM_SHAPE, c->g->values[b->value].index, b->dim};
    }
  }
  if (io->nouts) memcpy(sp->out_value, io->outs, sizeof *io->outs * (size_t)io->nouts);
  sp->first_node = c->plan->pieces[p].first_node;
  sp->nnodes = c->plan->pieces[p].nnodes;
  return NULL;
}

/* --- driver ---------------------------------------------------------------------- */

static graphc_status_t check_plan(const gc_graph *g, const gc_ddp_plan *plan) {
  if (!plan || plan->nnodes != g->nnodes || plan->npieces < 1)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "graph split: the plan was not made for graph '%s' (%d nodes)", g->name,
                     g->nnodes);
  int next = 0;
  for (int p = 0; p < plan->npieces; p++) {
    if (plan->pieces[p].first_node != next || plan->pieces[p].nnodes < 0)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                       "graph split: plan piece %d does not start where piece %d ends", p, p - 1);
    next += plan->pieces[p].nnodes;
    for (int n = plan->pieces[p].first_node; n < next; n++)
      if (plan->piece_of_node[n] != p)
        return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                         "graph split: plan maps node %d to the wrong piece", n);
  }
  if (next != g->nnodes)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graph split: plan covers %d of %d nodes",
                     next, g->nnodes);
  return NULL;
}

/* Every piece's inputs, then every piece's outputs. */
static graphc_status_t plan_io(cutter *c) {
  const gc_graph *g = c->g;
  int np = c->plan->npieces;
  if (np == 1) { /* no cut: the graph's own inputs, in its order */
    for (int i = 0; i < g->ninputs; i++) {
      const gc_value *val = &g->values[g->inputs[i]];
      GC_TRY(push_entry(&c->io[0], g->inputs[i], val->sym, val->role));
    }
  } else {
    for (int p = 0; p < np; p++) {
      GC_TRY(collect_needs(c, p));
      GC_TRY(order_inputs(c, p));
      for (int i = 0; i < c->io[p].nins; i++) {
        int v = c->io[p].ins[i].value;
        if (v >= 0 && g->values[v].producer >= 0) c->exported[v] = true;
      }
    }
  }
  for (int i = 0; i < g->noutputs; i++)
    if (g->values[g->outputs[i]].producer >= 0) c->exported[g->outputs[i]] = true;
  for (int v = 0; v < g->nvalues; v++) {
    if (!c->exported[v]) continue;
    piece_io *io = &c->io[piece_of_value(c, v)];
    int *o = realloc(io->outs, sizeof *o * (size_t)(io->nouts + 1));
    if (!o) return GC_OOM();
    io->outs = o;
    c->out_pos[v] = io->nouts;
    io->outs[io->nouts++] = v;
  }
  return NULL;
}

void gc_split_free(gc_split *s) {
  if (!s) return;
  for (int p = 0; p < s->npieces; p++) {
    gc_graph_destroy(s->pieces[p].graph);
    free(s->pieces[p].in_src);
    free(s->pieces[p].in_value);
    free(s->pieces[p].out_value);
  }
  free(s->pieces);
  free(s->out_src);
  free(s);
}

graphc_status_t gc_graph_split(const gc_graph *g, const gc_ddp_plan *plan, gc_split **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graph split: out is NULL");
  *out = NULL;
  GC_TRY(gc_graph_check(g));
  if (g->parent)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graph split: '%s' is a region", g->name);
  GC_TRY(check_plan(g, plan));
  cutter c = {.g = g, .plan = plan, .nsyms = gc_dimtab_num_syms(gc_graph_dims(g))};
  size_t ns = (size_t)c.nsyms + 1, nv = (size_t)g->nvalues + 1;
  c.need = calloc(ns, 1);
  c.defined = calloc(ns, 1);
  c.bound = calloc(ns, 1);
  c.synthetic = calloc(ns, 1);
  c.symval = calloc(ns, sizeof *c.symval);
  c.is_in = calloc(nv, 1);
  c.exported = calloc(nv, 1);
  c.out_pos = calloc(nv, sizeof *c.out_pos);
  c.io = calloc((size_t)plan->npieces, sizeof *c.io);
  gc_split *s = calloc(1, sizeof *s);
  graphc_status_t st = (!c.need || !c.defined || !c.bound || !c.synthetic || !c.symval ||
                        !c.is_in || !c.exported || !c.out_pos || !c.io || !s) ? GC_OOM() : NULL;
  if (!st) {
    s->ninputs = g->ninputs;
    s->noutputs = g->noutputs;
    s->pieces = calloc((size_t)plan->npieces, sizeof *s->pieces);
    s->out_src = calloc((size_t)g->noutputs + 1, sizeof *s->out_src);
    if (!s->pieces || !s->out_src) st = GC_OOM();
    else s->npieces = plan->npieces;
  }
  if (!st) st = plan_io(&c);
  for (int p = 0; !st && p < plan->npieces; p++) {
    st = build_piece(&c, p, &s->pieces[p]);
    if (!st) st = stitch_piece(&c, p, &s->pieces[p]);
  }
  for (int i = 0; !st && i < g->noutputs; i++) s->out_src[i] = source_of(&c, g->outputs[i]);
  for (int p = 0; c.io && p < plan->npieces; p++) {
    free(c.io[p].ins);
    free(c.io[p].outs);
  }
  free(c.need);
  free(c.defined);
  free(c.bound);
  free(c.synthetic);
  free(c.symval);
  free(c.is_in);
  free(c.exported);
  free(c.out_pos);
  free(c.io);
  if (st) {
    gc_split_free(s);
    return st;
  }
  *out = s;
  return NULL;
}
