/* Cutting a graph into the pieces of a DDP plan (dist/ddp_plan.h).
 *
 * Each piece becomes a new top-level gc_graph with its own dim table (dims
 * are carried over by their canonical text). A value that crosses a
 * boundary is an output of the piece that produces it and an input (role
 * input) of every piece that reads it; graph inputs keep their role in
 * every piece that reads them. Symbols never travel inside shapes alone:
 *
 *  - an unbacked symbol (item, nonzero) defined in an earlier piece comes in
 *    as a symbol input, fed straight from the piece that defines it (its
 *    i64[] result is exported there), skipping pieces in between;
 *  - a graph symbol input stays a symbol input;
 *  - a backed symbol (read off a graph input's shape) is bound by one of
 *    the piece's tensor inputs when one has it as a whole dim, and is
 *    otherwise a symbol input read off the original input's shape. A symbol
 *    is never re-derived from a compound dim (2*s0 does not give s0).
 *
 * Symbol inputs come first in a piece, so every tensor input after them
 * finds its symbols bound. Region ops are copied whole. A one-piece plan
 * gives one piece with the graph's inputs in their original order.
 *
 * The split also says, for every piece input and every graph output, where
 * the value comes from, so the pieces can be run in order.
 */
#ifndef GC_DIST_GRAPH_SPLIT_H
#define GC_DIST_GRAPH_SPLIT_H

#include <stdint.h>

#include "dist/ddp_plan.h"
#include "interp/tensor.h"
#include "ir/ir.h"

typedef enum gc_split_src_kind {
  GC_SPLIT_FROM_INPUT = 0, /* original graph input `index`                      */
  GC_SPLIT_FROM_PIECE = 1, /* output `k` of piece `index` (an earlier piece)     */
  GC_SPLIT_FROM_SHAPE = 2, /* a backed symbol: dim `k` of original input `index`,
                              passed as an i64[] scalar                          */
} gc_split_src_kind;

typedef struct gc_split_src {
  gc_split_src_kind kind;
  int index, k;
} gc_split_src;

typedef struct gc_split_piece {
  gc_graph *graph;      /* owned top-level graph                              */
  gc_split_src *in_src; /* graph->ninputs entries                             */
  int *in_value;        /* original value per input; -1 for FROM_SHAPE inputs */
  int *out_value;       /* original value per output                          */
  int first_node, nnodes;
} gc_split_piece;

typedef struct gc_split {
  gc_split_piece *pieces; /* execution order */
  int npieces;
  int ninputs;            /* of the original graph */
  gc_split_src *out_src;  /* one per original output (FROM_INPUT or FROM_PIECE) */
  int noutputs;
} gc_split;

/* Cuts top-level graph `g` (borrowed) along `plan` (made for g). The piece
 * graphs belong to g's context. *out is freed with gc_split_free. */
graphc_status_t gc_graph_split(const gc_graph *g, const gc_ddp_plan *plan, gc_split **out);
/* Releases the piece graphs and the split. NULL is ignored. */
void gc_split_free(gc_split *s);

/* Runs the pieces in order through the reference interpreter. `inputs`
 * (borrowed) are the original graph's inputs, in its order; on success
 * `outputs` (s->noutputs entries) belong to the caller (gc_tensor_free).
 * max_bytes: per-tensor allocation limit as in gc_interp_run_tensors. */
graphc_status_t gc_split_run_interp(const gc_split *s, uint64_t max_bytes,
                                    const gc_tensor *inputs, int ninputs, gc_tensor *outputs);

/* Symbols a piece takes in (its symbol-role inputs) and gives out (outputs
 * that carry an unbacked symbol): counts, and the k-th name (borrowed from
 * the piece graph). */
int gc_split_num_syms_in(const gc_split_piece *p);
const char *gc_split_sym_in(const gc_split_piece *p, int k);
int gc_split_num_syms_out(const gc_split_piece *p);
const char *gc_split_sym_out(const gc_split_piece *p, int k);

#endif
