/* dce: dead code elimination.
 *
 * A node is kept when one of its results reaches an output of its graph,
 * when it defines an unbacked symbol (nonzero, item) that a kept node's
 * types or attributes use — shapes depend on it even without a data edge —
 * or when it is a collective (GC_OPF_COLLECTIVE: other ranks wait for it).
 * Random ops are pure functions of their seed operand, so they go when
 * unused like everything else. Region bodies are cleaned the same way,
 * with the region's outputs as roots; a region's inputs are its op's
 * interface and stay. */
#include <stdlib.h>

#include "ir/op.h"
#include "pass.h"
#include "rewrite.h"
#include "support/status.h"

typedef struct marker {
  const gc_dimtab *t;
  bool *need;   /* indexed by symbol */
  int *scratch; /* room for every symbol */
  int nsyms;
} marker;

static void mark_dim(marker *m, gc_dim d) {
  int n = gc_dim_syms(m->t, d, m->scratch, m->nsyms);
  for (int k = 0; k < n && k < m->nsyms; k++) m->need[m->scratch[k]] = true;
}

static void mark_type(marker *m, const gc_type *ty) {
  for (int d = 0; d < ty->rank; d++) mark_dim(m, ty->dims[d]);
}

static void mark_graph(marker *m, const gc_graph *g);

/* Every symbol node n (kept) depends on: result types, dims attributes,
 * and anything inside its regions. */
static void mark_node(marker *m, const gc_graph *g, const gc_node *n) {
  for (int k = 0; k < n->nresults; k++) mark_type(m, &g->values[n->results[k]].type);
  for (int a = 0; a < n->nattrs; a++)
    if (n->attrs[a].kind == GRAPHC_ATTR_DIMS)
      for (int i = 0; i < n->attrs[a].count; i++) mark_dim(m, n->attrs[a].dims[i]);
  for (int r = 0; r < n->nregions; r++) mark_graph(m, n->regions[r]);
}

static void mark_graph(marker *m, const gc_graph *g) {
  for (int v = 0; v < g->nvalues; v++) mark_type(m, &g->values[v].type);
  for (int i = 0; i < g->nnodes; i++) mark_node(m, g, &g->nodes[i]);
}

static graphc_status_t dce_body(gc_rw *rw, void *user) {
  (void)user;
  const gc_graph *g = rw->src;
  marker m = {.t = gc_graph_dims(g), .nsyms = gc_dimtab_num_syms(gc_graph_dims(g))};
  bool *live = calloc(gc_count(g->nvalues), sizeof *live);
  bool *keep = calloc(gc_count(g->nnodes), sizeof *keep);
  m.need = calloc(gc_count(m.nsyms), sizeof *m.need);
  m.scratch = malloc(sizeof *m.scratch * gc_count(m.nsyms));
  graphc_status_t st = (!live || !keep || !m.need || !m.scratch) ? GC_OOM() : NULL;
  for (int o = 0; !st && o < g->noutputs; o++) {
    live[g->outputs[o]] = true;
    mark_type(&m, &g->values[g->outputs[o]].type);
  }
  for (int i = g->nnodes - 1; !st && i >= 0; i--) {
    const gc_node *n = &g->nodes[i];
    bool k = (n->op->flags & GC_OPF_COLLECTIVE) != 0;
    for (int r = 0; r < n->nresults; r++) {
      const gc_value *v = &g->values[n->results[r]];
      k |= live[n->results[r]] || (v->sym >= 0 && v->sym < m.nsyms && m.need[v->sym]);
    }
    if (!k) continue;
    keep[i] = true;
    for (int o = 0; o < n->noperands; o++) live[n->operands[o]] = true;
    mark_node(&m, g, n);
  }
  for (int i = 0; !st && i < g->nnodes; i++)
    if (keep[i]) st = gc_rw_copy_node(rw, i);
  free(live);
  free(keep);
  free(m.need);
  free(m.scratch);
  return st;
}

graphc_status_t gc_pass_dce(const gc_graph *in, const gc_pass_options *opt, gc_graph **out) {
  (void)opt;
  return gc_rewrite(in, dce_body, NULL, out);
}
