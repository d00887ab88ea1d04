/* Human-readable views of a DDP plan and its split: the text table that
 * `graphc split` prints, and a Graphviz drawing (`graphc split --dot`). */
#ifndef GC_DIST_PLAN_PRINT_H
#define GC_DIST_PLAN_PRINT_H

#include "dist/ddp_plan.h"
#include "dist/graph_split.h"
#include "support/strbuf.h"

/* Appends the table: one row per piece (index, op count, node range,
 * bytes, reason, symbols in and out, bucket params), the caps, the
 * extended-piece count and the plan's messages; with `split` (may be NULL)
 * also where each piece input comes from and where the graph outputs are
 * produced. All arguments are borrowed. */
void gc_ddp_plan_format(gc_strbuf *sb, const gc_graph *g, const gc_ddp_plan *plan,
                        const gc_split *split);

/* Appends a Graphviz digraph: one cluster per piece, an edge per operand,
 * edges that cross a cut in red, and dashed edges for symbols that cross
 * a cut without their value (ones(shape=[u])). */
void gc_ddp_plan_format_dot(gc_strbuf *sb, const gc_graph *g, const gc_ddp_plan *plan,
                            const gc_split *split);

#endif
