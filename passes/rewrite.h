/* The graph rewriter: how every pass builds its result.
 *
 * Passes are functional: they read an old graph and build a new one, node
 * by node, through the ordinary builder (gc_graph_add_input /
 * gc_graph_add_node), so every node of the result is type-checked as it is
 * added and symbols are re-bound exactly the way the parser binds them.
 * A pass supplies a *body* function that walks the old graph's nodes in
 * order and, for each, copies it (gc_rw_copy_node), drops it (does nothing)
 * or replaces its results by values of the new graph (gc_rw_replace,
 * usually after inserting nodes with gc_rw_add_node). The rewriter copies
 * the inputs before the body runs and the outputs after it, and applies the
 * same body to every region it copies, so a pass also simplifies region
 * bodies.
 *
 * Dims live in one table per top-level graph. The new graph gets its own
 * table, filled lazily: an old dim is mapped by re-parsing its canonical
 * text (equal text = equal dim) the first time something needs it. Lazy
 * matters: an unbacked symbol (from nonzero/item) must not exist before the
 * node that defines it is re-added, or that node's type check would see a
 * duplicate symbol.
 *
 * Names, locations, roles, the graph name and its source file are kept.
 * Inserted nodes take over the name of the value they replace when it is
 * free, otherwise "<name>.<k>" unused in both graphs.
 */
#ifndef GC_PASSES_REWRITE_H
#define GC_PASSES_REWRITE_H

#include "ir/ir.h"
#include "ir/op.h"

/* An element count for malloc: n, at least 1 (and never a negative int
 * turned into a huge size_t). */
static inline size_t gc_count(int n) { return n > 0 ? (size_t)n : 1; }

/* --- dim maps ------------------------------------------------------------- */

/* Maps dims of table `from` into table `to` by canonical text. */
typedef struct gc_dimmap {
  const gc_dimtab *from;
  gc_dimtab *to;
  gc_dim *map; /* indexed by `from` id; GC_DIM_NONE until first needed */
  int cap;
} gc_dimmap;

void gc_dimmap_init(gc_dimmap *m, const gc_dimtab *from, gc_dimtab *to);
void gc_dimmap_free(gc_dimmap *m);
/* The `to` dim equal to `from` dim d (new symbols are created as needed). */
graphc_status_t gc_dimmap_get(gc_dimmap *m, gc_dim d, gc_dim *out);
graphc_status_t gc_dimmap_type(gc_dimmap *m, const gc_type *in, gc_type *out);

/* Builder-ready attributes (graphc_attr_t) from stored ones, with dims
 * mapped through a gc_dimmap. Strings and int lists are borrowed from the
 * source attributes, so those must outlive this. */
typedef struct gc_attr_list {
  graphc_attr_t *a;
  int n;
  gc_dim *pool; /* storage of mapped dims lists */
} gc_attr_list;

graphc_status_t gc_attr_list_map(gc_dimmap *m, const gc_attr *attrs, int n, gc_attr_list *out);
void gc_attr_list_free(gc_attr_list *l);

/* --- the rewriter ---------------------------------------------------------- */

typedef struct gc_rw gc_rw;
/* Walks rw->src's nodes and fills rw->dst (its inputs are already there).
 * Called once for the top-level graph and once for each region copied. */
typedef graphc_status_t (*gc_rw_body)(gc_rw *rw, void *user);

struct gc_rw {
  const gc_graph *src; /* old graph (top level or region)              */
  gc_graph *dst;       /* new graph being built                         */
  int *vmap;           /* src value -> dst value, -1 while unmapped     */
  gc_dimmap *dims;     /* src root dims -> dst root dims (shared)       */
  gc_rw_body body;
  void *user;
  int depth;           /* region nesting                                */
};

/* Builds a new top-level graph (in the same context) from the top-level
 * graph `in` by running `body`. On success *out is owned by the caller
 * (gc_graph_destroy / graphc_graph_release). */
graphc_status_t gc_rewrite(const gc_graph *in, gc_rw_body body, void *user, gc_graph **out);

/* A deep copy of top-level graph g (same names, locations, regions,
 * symbols and bindings). *out is owned by the caller. */
graphc_status_t gc_graph_clone(const gc_graph *g, gc_graph **out);

/* The dst value for src value v, or -1 if it was dropped / not yet built. */
static inline int gc_rw_value(const gc_rw *rw, int v) { return rw->vmap[v]; }

/* The dst node producing dst value v, or NULL for an input. */
static inline const gc_node *gc_rw_def(const gc_rw *rw, int dst_value) {
  int p = rw->dst->values[dst_value].producer;
  return p >= 0 ? &rw->dst->nodes[p] : NULL;
}

/* Copies src node `node` (operands mapped, attributes, result names and
 * location kept, regions rewritten with the same body). */
graphc_status_t gc_rw_copy_node(gc_rw *rw, int node);

/* From now on src value `src_value` is dst value `dst_value`. Their types
 * must be equal (an INTERNAL error otherwise: a pass bug). */
graphc_status_t gc_rw_replace(gc_rw *rw, int src_value, int dst_value);

/* Adds a node to dst. `operands` are dst values; `attrs` use dst dims.
 * Result 0 is named after src value `name_of` (-1: a fresh name); the
 * node gets location `loc`. *out_value (may be NULL) receives result 0. */
graphc_status_t gc_rw_add_node(gc_rw *rw, const char *op, const int *operands, int noperands,
                               const graphc_attr_t *attrs, int nattrs, int name_of, gc_loc loc,
                               int *out_value);

/* The src type `t` with dims mapped to dst. */
static inline graphc_status_t gc_rw_map_type(gc_rw *rw, const gc_type *t, gc_type *out) {
  return gc_dimmap_type(rw->dims, t, out);
}

/* *same = src value v's type (mapped) equals dst value w's type. */
graphc_status_t gc_rw_same_type(gc_rw *rw, int v, int w, bool *same);

#endif
