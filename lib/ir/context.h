/* The context struct (internal). It keeps every graph header it ever
 * handed out until it is released itself, so a released graph handle is
 * still readable memory whose magic says "dead": stale handles are caught
 * instead of being a use-after-free. */
#ifndef GC_IR_CONTEXT_H
#define GC_IR_CONTEXT_H

#include "graphc/context.h"
#include "ir/ir.h"

/* The runtime keeps graphc_set_parallel_for in the context. */
#define GC_CONTEXT_HAS_PARALLEL_HOOK 1
#define GC_CONTEXT_MAGIC 0x43545854u /* "CTXT" */

struct graphc_context_s {
  uint32_t magic;
  graphc_context_options_t options;
  gc_graph **graphs; /* every header created, live or dead */
  /* The application's parallel-for (graphc_set_parallel_for), NULL for
   * the executables' own pools. */
  void (*parallel_for)(void *user, int64_t n, int64_t grain,
                       void (*task)(void *closure, int64_t begin, int64_t end), void *closure);
  void *parallel_user;
  int ngraphs, capgraphs;
};

graphc_status_t gc_context_track(struct graphc_context_s *ctx, gc_graph *g);
graphc_status_t gc_context_check(const struct graphc_context_s *ctx);

#endif
