/* The graph IR, as seen from inside libgraphc.
 *
 * A gc_graph is an ordered list of nodes over SSA values. Values are stored
 * in one array per graph: graph inputs and node results alike. Regions are
 * nested gc_graphs (closed: they read only their own inputs) that share the
 * root graph's dim table and symbols. The public graphc_graph_t is this
 * struct.
 *
 * Every node is type-checked by its op's `infer` function when it is added
 * (gc_graph_add_node), so a graph in memory is always well-typed.
 */
#ifndef GC_IR_IR_H
#define GC_IR_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "graphc/graph.h"
#include "ir/dims.h"

#define GC_MAX_RANK GRAPHC_MAX_RANK

typedef graphc_dtype_t gc_dtype;

/* A source location in a .gc file; line 0 means "built through the API". */
typedef struct gc_loc {
  int line, col;
} gc_loc;

/* A tensor type: dtype and symbolic shape. */
typedef struct gc_type {
  gc_dtype dtype;
  int rank;
  gc_dim dims[GC_MAX_RANK];
} gc_type;

/* A node attribute (owned copy of graphc_attr_t). */
typedef struct gc_attr {
  char *name;
  graphc_attr_kind_t kind;
  int64_t i;
  double f;
  char *s;
  int64_t *ints;
  gc_dim *dims;
  gc_dtype dtype;
  int count;
} gc_attr;

/* How a symbol gets its value at run time. */
typedef enum gc_symkind {
  GC_SYM_UNBOUND = 0, /* named (e.g. by gc_dim_parse) but not bound yet   */
  GC_SYM_BACKED,      /* dim `dim` of input value `value`                 */
  GC_SYM_INPUT,       /* the scalar input `value` (role symbol)           */
  GC_SYM_UNBACKED,    /* the scalar i64 result `value` of a data-dependent op */
} gc_symkind;

typedef struct gc_symbind {
  gc_symkind kind;
  int value; /* value id in the root graph */
  int dim;
} gc_symbind;

typedef struct gc_value {
  char *name;    /* without '%'; unique within its graph */
  gc_type type;
  int producer;  /* node index, -1 for a graph input   */
  int index;     /* result index, or input position    */
  graphc_role_t role; /* inputs only                   */
  int sym;       /* symbol this scalar defines, or -1  */
  gc_loc loc;
} gc_value;

struct gc_op_info;
struct graphc_graph_s;
typedef struct graphc_graph_s gc_graph;

typedef struct gc_node {
  const struct gc_op_info *op;
  int *operands;
  int noperands;
  int *results;
  int nresults;
  gc_attr *attrs;
  int nattrs;
  gc_graph **regions;
  int nregions;
  gc_loc loc;
} gc_node;

struct graphc_context_s;

struct graphc_graph_s {
  uint32_t magic;             /* GC_GRAPH_MAGIC while live */
  struct graphc_context_s *ctx;
  char *name;
  gc_graph *parent;           /* NULL for a top-level graph */
  bool attached;              /* region owned by a node     */
  char *file;                 /* source file for locations, may be NULL */

  gc_value *values;
  int nvalues, capvalues;
  int *inputs;
  int ninputs, capinputs;
  gc_node *nodes;
  int nnodes, capnodes;
  int *outputs;
  int noutputs;
  int *name_slots;            /* open-addressing index: value name -> id+1 */
  int name_cap;               /* power of two, or 0                        */

  /* Root graph only (regions use gc_graph_root()). */
  gc_dimtab *dims;
  gc_symbind *symbinds; /* indexed by symbol id */
  int capsymbinds;
};

#define GC_GRAPH_MAGIC 0x47524148u /* "GRAH" */
#define GC_GRAPH_DEAD 0xdeadbeefu

/* --- lifetime ------------------------------------------------------------ */
graphc_status_t gc_graph_new(struct graphc_context_s *ctx, const char *name,
                             gc_graph *parent, gc_graph **out);
/* Frees the graph's contents and regions; the header itself is handed to
 * the context as a tombstone (see context.c) so stale handles are caught. */
void gc_graph_destroy(gc_graph *g);
/* NULL/released handle check for public entry points. */
graphc_status_t gc_graph_check(const gc_graph *g);

static inline gc_graph *gc_graph_root(const gc_graph *g) {
  while (g->parent) g = g->parent;
  return (gc_graph *)g;
}
static inline gc_dimtab *gc_graph_dims(const gc_graph *g) { return gc_graph_root(g)->dims; }

/* --- building (internal forms of the public builder) --------------------- */
graphc_status_t gc_graph_add_input(gc_graph *g, const char *name, graphc_role_t role,
                                   const gc_type *type, gc_loc loc, int *out_value);
/* Adds a node; `op_name` is looked up in the registry. `attrs` are copied;
 * `regions` are taken over (also on failure). result_names may be NULL. */
graphc_status_t gc_graph_add_node(gc_graph *g, const char *op_name, const int *operands,
                                  int noperands, const graphc_attr_t *attrs, int nattrs,
                                  gc_graph *const *regions, int nregions,
                                  const char *const *result_names, gc_loc loc,
                                  int *out_node);
graphc_status_t gc_graph_set_outputs(gc_graph *g, const int *values, int n);
/* Value lookup by name; -1 if absent. */
int gc_graph_find_value(const gc_graph *g, const char *name);
/* Symbol binding of symbol `sym` (root table). */
const gc_symbind *gc_graph_symbind(const gc_graph *g, int sym);
/* Re-verifies everything (types re-inferred and compared). */
graphc_status_t gc_graph_verify(const gc_graph *g);

/* "file:line:col" (or "<api>") prefix for messages about `loc` in g. */
void gc_loc_format(const gc_graph *g, gc_loc loc, char *buf, size_t cap);

/* --- attribute lookup ---------------------------------------------------- */
const gc_attr *gc_node_attr(const gc_node *n, const char *name);
/* Typed getters with defaults (used after infer validated kinds). */
int64_t gc_attr_int(const gc_node *n, const char *name, int64_t dflt);
double gc_attr_float(const gc_node *n, const char *name, double dflt);
bool gc_attr_bool(const gc_node *n, const char *name, bool dflt);
const char *gc_attr_str(const gc_node *n, const char *name, const char *dflt);

/* --- dtypes --------------------------------------------------------------- */
bool gc_dtype_is_float(gc_dtype t);
bool gc_dtype_is_int(gc_dtype t); /* i32, i64 (not bool) */
/* PyTorch's result_type over operand types: dimensioned operands win a
 * category tie against 0-d ones; categories bool < int < float. */
gc_dtype gc_promote_types(const gc_type *const *types, int n);
gc_dtype gc_promote2(gc_dtype a, gc_dtype b);
bool gc_dtype_parse(const char *s, size_t len, gc_dtype *out);

/* --- type helpers for infer functions ------------------------------------- */
bool gc_type_equal(const gc_type *a, const gc_type *b);
/* Broadcasts shapes PyTorch-style into *out (dtype untouched). Two dims are
 * compatible when equal or one is the constant 1. */
graphc_status_t gc_broadcast_shapes(gc_dimtab *t, const gc_type *const *types, int n,
                                    gc_type *out);
/* Writes "f32[B, 4]" into buf. */
void gc_type_format(const gc_dimtab *t, const gc_type *ty, char *buf, size_t cap);
/* Normalises a possibly negative dim index for `rank` (PyTorch wrap). */
bool gc_wrap_dim(int64_t d, int rank, int *out);

#endif
