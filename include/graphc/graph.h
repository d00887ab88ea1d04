/* libgraphc — tensor graphs: building, querying, checking.
 *
 * A graphc_graph_t is a graph of SSA values. Its inputs are ordered and
 * each has a role (graphc_role_t). Nodes apply an op (named as in PyTorch:
 * "add", "matmul", "softmax", ...) to operand values and attributes and
 * define one or more result values. Higher-order ops ("checkpoint", "call",
 * "scaled_dot_product_attention" with a score function) also hold regions:
 * nested graphs, closed over nothing — every tensor a region reads is an
 * explicit operand of its op, bound in order to the region's inputs.
 *
 * Shapes are lists of dims; a dim is an integer expression over symbols
 * (sums of products with constants, floor-division and modulo), interned in
 * the graph so equal expressions have equal graphc_dim_t ids. A symbol is
 * *backed* (the first input dim that names it, or an input of role
 * GRAPHC_ROLE_SYMBOL) or *unbacked* (defined by a data-dependent op such as
 * "nonzero" or "item", whose scalar i64 result carries the symbol's name).
 *
 * Every node is type-checked when it is added: the op infers its result
 * dtypes and shapes and rejects bad operands with an error status naming the
 * op, the operand, and what it expected. The op set and every attribute are
 * documented in docs/ir.md.
 *
 * Ownership: a graph belongs to the context that created it; release it
 * with graphc_graph_release() or let the context release it. A released
 * graph handle is detected by every function below (an INVALID_ARGUMENT
 * status) until its context is released. Thread safety: a graph may be read
 * (queried, printed, run) from several threads at once, but not while it is
 * being modified.
 */
#ifndef GRAPHC_GRAPH_H
#define GRAPHC_GRAPH_H

#include "graphc/context.h"
#include "graphc/status.h"
#include "graphc/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct graphc_graph_s graphc_graph_t;

/* Kinds of node attribute. */
typedef enum graphc_attr_kind_e {
  GRAPHC_ATTR_INT = 0,    /* int64                          e.g. dim=1       */
  GRAPHC_ATTR_FLOAT = 1,  /* double                         e.g. eps=1e-5    */
  GRAPHC_ATTR_BOOL = 2,   /* true/false                     e.g. keepdim     */
  GRAPHC_ATTR_STRING = 3, /* identifier                     e.g. approximate=tanh */
  GRAPHC_ATTR_INTS = 4,   /* list of int64                  e.g. perm=[1,0]  */
  GRAPHC_ATTR_DTYPE = 5,  /* element type                   e.g. dtype=f16   */
  GRAPHC_ATTR_DIMS = 6,   /* list of symbolic dims          e.g. shape=[B,4] */
} graphc_attr_kind_t;

/* One attribute, as passed to graphc_graph_add_node. All pointers are
 * borrowed for the duration of the call only. */
typedef struct graphc_attr_s {
  const char *name;
  graphc_attr_kind_t kind;
  int64_t i;                /* INT, BOOL (0/1)                     */
  double f;                 /* FLOAT                               */
  const char *s;            /* STRING                              */
  const int64_t *ints;      /* INTS, `count` entries               */
  const graphc_dim_t *dims; /* DIMS, `count` entries               */
  graphc_dtype_t dtype;     /* DTYPE                               */
  int count;                /* length of ints/dims                 */
} graphc_attr_t;

/* Creates an empty graph named `name` (copied) owned by `context`.
 * *out_graph is released with graphc_graph_release(). */
GRAPHC_API graphc_status_t graphc_graph_create(graphc_context_t *context,
                                               const char *name,
                                               graphc_graph_t **out_graph);

/* Creates an empty region graph for a higher-order op of `parent`. A region
 * shares its parent's symbols and dims. It is owned by the caller until it
 * is passed to graphc_graph_add_node, which takes ownership (also on
 * failure). A region that is never attached is released with
 * graphc_graph_release(). */
GRAPHC_API graphc_status_t graphc_graph_create_region(graphc_graph_t *parent,
                                                      const char *name,
                                                      graphc_graph_t **out_region);

/* Releases `graph` (a top-level graph or an unattached region). NULL is
 * ignored. Releasing twice is detected and ignored. */
GRAPHC_API void graphc_graph_release(graphc_graph_t *graph);

/* --- symbolic dims ------------------------------------------------------ */

/* The dim for the constant `value` (>= 0). */
GRAPHC_API graphc_status_t graphc_graph_dim_const(graphc_graph_t *graph,
                                                  int64_t value,
                                                  graphc_dim_t *out_dim);

/* Parses a dim expression such as "B", "2*S + 1", "(N+3)//4", "T % 8"
 * over symbols the graph already knows (or, for a top-level graph, new
 * symbol names: they become symbols bound by the next input that uses
 * them). */
GRAPHC_API graphc_status_t graphc_graph_dim_parse(graphc_graph_t *graph,
                                                  const char *text,
                                                  graphc_dim_t *out_dim);

/* Writes the canonical text of `dim` into `buffer` (always NUL-terminated
 * when capacity > 0). *out_length, if not NULL, receives the full length,
 * which may exceed capacity - 1. */
GRAPHC_API graphc_status_t graphc_graph_dim_print(const graphc_graph_t *graph,
                                                  graphc_dim_t dim, char *buffer,
                                                  size_t capacity,
                                                  size_t *out_length);

/* True and *out_value set if `dim` is a constant. */
GRAPHC_API bool graphc_graph_dim_is_const(const graphc_graph_t *graph,
                                          graphc_dim_t dim, int64_t *out_value);

/* --- building ----------------------------------------------------------- */

/* Appends an input named `name` (copied). For GRAPHC_ROLE_SYMBOL the
 * input must be rank 0 i64 and `name` becomes a symbol. Dims not yet bound
 * to anything are bound to this input. */
GRAPHC_API graphc_status_t graphc_graph_add_input(
    graphc_graph_t *graph, const char *name, graphc_role_t role,
    graphc_dtype_t dtype, int rank, const graphc_dim_t *dims,
    graphc_value_t *out_value);

/* Appends a node applying `op` to `operands`, with `attrs` and `regions`
 * (ownership of every region passes to the graph, even on failure). Result
 * names are taken from `result_names` (may be NULL: names are generated).
 * Up to `max_results` result ids are written to `out_results`;
 * *out_num_results (may be NULL) receives the op's result count. The node is
 * type-checked before it is added; on error the graph is unchanged. */
GRAPHC_API graphc_status_t graphc_graph_add_node(
    graphc_graph_t *graph, const char *op, const graphc_value_t *operands,
    int num_operands, const graphc_attr_t *attrs, int num_attrs,
    graphc_graph_t *const *regions, int num_regions,
    const char *const *result_names, graphc_value_t *out_results,
    int max_results, int *out_num_results);

/* Sets the graph's outputs (replacing any earlier list). */
GRAPHC_API graphc_status_t graphc_graph_set_outputs(graphc_graph_t *graph,
                                                    const graphc_value_t *values,
                                                    int num_values);

/* Re-checks the whole graph: every node's types, every output defined,
 * every region well-formed. */
GRAPHC_API graphc_status_t graphc_graph_verify(const graphc_graph_t *graph);

/* --- queries (all borrowed results valid until the graph changes) ------- */

GRAPHC_API const char *graphc_graph_name(const graphc_graph_t *graph);
GRAPHC_API int graphc_graph_num_inputs(const graphc_graph_t *graph);
GRAPHC_API int graphc_graph_num_outputs(const graphc_graph_t *graph);
GRAPHC_API int graphc_graph_num_nodes(const graphc_graph_t *graph);
GRAPHC_API int graphc_graph_num_values(const graphc_graph_t *graph);
/* -1 when out of range. */
GRAPHC_API graphc_value_t graphc_graph_input(const graphc_graph_t *graph, int index);
GRAPHC_API graphc_value_t graphc_graph_output(const graphc_graph_t *graph, int index);

/* Type of a value. *out_rank and up to GRAPHC_MAX_RANK dims; any pointer
 * may be NULL. */
GRAPHC_API graphc_status_t graphc_value_type(const graphc_graph_t *graph,
                                             graphc_value_t value,
                                             graphc_dtype_t *out_dtype,
                                             int *out_rank,
                                             graphc_dim_t *out_dims);
/* Name (borrowed) of a value, without the '%'. NULL if out of range. */
GRAPHC_API const char *graphc_value_name(const graphc_graph_t *graph,
                                         graphc_value_t value);
/* Role of an input value; -1 for a node result or out of range. */
GRAPHC_API int graphc_value_role(const graphc_graph_t *graph, graphc_value_t value);
/* Index of the node producing `value`, or -1 for an input. */
GRAPHC_API int graphc_value_producer(const graphc_graph_t *graph,
                                     graphc_value_t value);
/* Number of operand slots (over all nodes and outputs) that use `value`;
 * node indices written to out_nodes up to `max` (an output use is -1). */
GRAPHC_API int graphc_value_users(const graphc_graph_t *graph, graphc_value_t value,
                                  int *out_nodes, int max);
/* Op name (borrowed) of node `node`; NULL if out of range. */
GRAPHC_API const char *graphc_node_op(const graphc_graph_t *graph, int node);
GRAPHC_API int graphc_node_num_operands(const graphc_graph_t *graph, int node);
GRAPHC_API graphc_value_t graphc_node_operand(const graphc_graph_t *graph, int node,
                                              int index);
GRAPHC_API int graphc_node_num_results(const graphc_graph_t *graph, int node);
GRAPHC_API graphc_value_t graphc_node_result(const graphc_graph_t *graph, int node,
                                             int index);
GRAPHC_API int graphc_node_num_regions(const graphc_graph_t *graph, int node);
/* Region `index` of `node`, borrowed (owned by the graph). */
GRAPHC_API const graphc_graph_t *graphc_node_region(const graphc_graph_t *graph,
                                                    int node, int index);

#ifdef __cplusplus
}
#endif
#endif /* GRAPHC_GRAPH_H */
