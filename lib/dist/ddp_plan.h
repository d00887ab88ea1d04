/* The DDP split planner (DDPOptimizer's rule, restated for libgraphc's IR).
 *
 * A forward graph is walked from its last node to its first. Each node is
 * placed in the open piece, which counts the storage bytes of the trainable
 * params the node reads. Before a node is placed, a piece that has reached
 * the bucket cap C (or, while it is the first piece opened, the first cap
 * F) is closed, but only if some value it produces is used outside it;
 * otherwise it stays open and is reported as *extended*. At the end an
 * earliest piece that counts 0 bytes is merged into the next. Pieces are
 * then numbered in execution order; each is a contiguous run of nodes.
 *
 * One plan drives both the graph cut (dist/graph_split.h) and the DDP
 * gradient buckets: piece k's params are bucket k, listed in the order
 * their gradients become ready in backward (reverse of first use).
 *
 * The full rule set, with the choices libgraphc makes where the reference
 * differs, is in docs/ddp.md.
 */
#ifndef GC_DIST_DDP_PLAN_H
#define GC_DIST_DDP_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/ir.h"

#define GC_DDP_MIB ((int64_t)1 << 20)
#define GC_DDP_DEFAULT_CAP_BYTES (25 * GC_DDP_MIB)     /* 26,214,400 */
#define GC_DDP_DEFAULT_FIRST_CAP_BYTES (1 * GC_DDP_MIB) /* 1,048,576 */

typedef struct gc_ddp_options {
  int64_t cap_bytes;       /* C, >= 0                                       */
  int64_t first_cap_bytes; /* F, >= 0; clamped to C (with a message) if > C */
  /* Param names whose bytes are not counted and which join no bucket; their
   * ops are still placed. Borrowed for the duration of the call. */
  const char *const *ignored;
  int nignored;
  /* false (default): a param read by several ops counts once, at its
   * earliest forward use (where its gradient becomes final). true: the
   * reference rule, counted at every op that reads it. */
  bool count_every_use;
} gc_ddp_options;

/* Fills the defaults: C = 25 MiB, F = 1 MiB, nothing ignored, count once. */
void gc_ddp_options_init(gc_ddp_options *opt);

typedef struct gc_ddp_piece {
  int first_node, nnodes; /* nodes first_node .. first_node+nnodes-1 */
  int64_t bytes;          /* counted param bytes                     */
  int *params;            /* value ids of the counted params (the bucket),
                             in gradient-ready order                 */
  int nparams;
  int extended_ops;       /* ops placed after it reached its cap     */
  const char *reason;     /* static string                           */
} gc_ddp_piece;

typedef struct gc_ddp_plan {
  gc_ddp_piece *pieces;   /* execution order */
  int npieces;
  int nnodes;             /* of the planned graph */
  int *piece_of_node;     /* nnodes entries */
  int nextended;          /* pieces with extended_ops > 0 */
  int64_t cap_bytes, first_cap_bytes; /* as used (F after clamping) */
  bool count_every_use;
  char **messages;        /* notes for the user: clamped cap, unknown names */
  int nmessages;
} gc_ddp_plan;

/* Plans the top-level graph `g` (borrowed). *out is freed with
 * gc_ddp_plan_free. Errors: a region or released graph, a negative cap, a
 * counted param whose shape is not constant. */
graphc_status_t gc_ddp_plan_build(const gc_graph *g, const gc_ddp_options *opt,
                                  gc_ddp_plan **out);
void gc_ddp_plan_free(gc_ddp_plan *plan);

/* --- shared with the cutter ------------------------------------------------ */

/* Marks in `mark` (one entry per symbol of g's root table) every symbol that
 * node `n` of `g` refers to: in its operand and result types, its dims
 * attributes, and everything inside its regions. */
void gc_dist_node_syms(const gc_graph *g, const gc_node *n, bool *mark);

/* The top-level value of root graph `g` whose data-dependent op defines
 * unbacked symbol `sym`, or -1 (not unbacked, or defined inside a region). */
int gc_dist_unbacked_value(const gc_graph *g, int sym);

#endif
