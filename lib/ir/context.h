/* The context struct (internal). It keeps every graph header it ever
 * handed out until it is released itself, so a released graph handle is
 * still readable memory whose magic says "dead": stale handles are caught
 * instead of being a use-after-free. */
#ifndef GC_IR_CONTEXT_H
#define GC_IR_CONTEXT_H

#include "graphc/context.h"
#include "ir/ir.h"

#define GC_CONTEXT_MAGIC 0x43545854u /* "CTXT" */

struct graphc_context_s {
  uint32_t magic;
  graphc_context_options_t options;
  gc_graph **graphs; /* every header created, live or dead */
  int ngraphs, capgraphs;
};

graphc_status_t gc_context_track(struct graphc_context_s *ctx, gc_graph *g);
graphc_status_t gc_context_check(const struct graphc_context_s *ctx);

#endif
