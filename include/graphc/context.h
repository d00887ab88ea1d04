/* libgraphc — the context.
 *
 * A graphc_context_t owns everything libgraphc allocates on behalf of one
 * user: graphs, executables, caches, thread pools. There is no global
 * mutable state outside it, so independent contexts may be used from
 * different threads at once. One context must not be used from two threads
 * at the same time unless a function says otherwise.
 */
#ifndef GRAPHC_CONTEXT_H
#define GRAPHC_CONTEXT_H

#include "graphc/status.h"
#include "graphc/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct graphc_context_s graphc_context_t;

/* Options for graphc_context_create. Always fill with
 * graphc_context_options_init() first, then change what you need. */
typedef struct graphc_context_options_s {
  size_t struct_size; /* set by _init; lets the struct grow compatibly */
  int num_threads;    /* worker threads; 0 = the cores available       */
} graphc_context_options_t;

/* Fills `options` with defaults. NULL is ignored. */
GRAPHC_API void graphc_context_options_init(graphc_context_options_t *options);

/* Creates a context. `options` is borrowed and may be NULL for defaults.
 * On success *out_context owns a new context; release it with
 * graphc_context_release(). */
GRAPHC_API graphc_status_t graphc_context_create(
    const graphc_context_options_t *options, graphc_context_t **out_context);

/* Releases `context` and every graph it still owns. NULL is ignored.
 * Using the context afterwards is undefined; graph handles of a released
 * context must not be used either. */
GRAPHC_API void graphc_context_release(graphc_context_t *context);

#ifdef __cplusplus
}
#endif
#endif /* GRAPHC_CONTEXT_H */
