/* Contexts: own graph headers (live ones and the tombstones of released
 * ones) and the options every later module reads. */
#include "ir/context.h"

#include <stdlib.h>
#include <unistd.h>

#include "support/status.h"

void graphc_context_options_init(graphc_context_options_t *o) {
  if (!o) return;
  o->struct_size = sizeof *o;
  o->num_threads = 0;
}

graphc_status_t gc_context_check(const struct graphc_context_s *ctx) {
  if (!ctx) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "context is NULL");
  if (ctx->magic != GC_CONTEXT_MAGIC)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "context handle is not a live context");
  return NULL;
}

graphc_status_t graphc_context_create(const graphc_context_options_t *options,
                                      graphc_context_t **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out_context is NULL");
  *out = NULL;
  graphc_context_options_t o;
  graphc_context_options_init(&o);
  if (options) {
    if (options->struct_size != sizeof o)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                       "options.struct_size is %zu, expected %zu: call "
                       "graphc_context_options_init first",
                       options->struct_size, sizeof o);
    if (options->num_threads < 0)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "options.num_threads is negative");
    o = *options;
  }
  if (o.num_threads == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o.num_threads = n > 0 ? (int)n : 1;
  }
  struct graphc_context_s *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return GC_OOM();
  ctx->magic = GC_CONTEXT_MAGIC;
  ctx->options = o;
  *out = ctx;
  return NULL;
}

graphc_status_t gc_context_track(struct graphc_context_s *ctx, gc_graph *g) {
  if (ctx->ngraphs == ctx->capgraphs) {
    int cap = ctx->capgraphs ? ctx->capgraphs * 2 : 16;
    gc_graph **p = realloc(ctx->graphs, (size_t)cap * sizeof *p);
    if (!p) return GC_OOM();
    ctx->graphs = p;
    ctx->capgraphs = cap;
  }
  ctx->graphs[ctx->ngraphs++] = g;
  return NULL;
}

void graphc_context_release(graphc_context_t *ctx) {
  if (!ctx || ctx->magic != GC_CONTEXT_MAGIC) return;
  /* Top-level graphs first (they destroy their attached regions), then
   * regions that were never attached. */
  for (int i = 0; i < ctx->ngraphs; i++)
    if (ctx->graphs[i]->magic == GC_GRAPH_MAGIC && !ctx->graphs[i]->parent)
      gc_graph_destroy(ctx->graphs[i]);
  for (int i = 0; i < ctx->ngraphs; i++)
    if (ctx->graphs[i]->magic == GC_GRAPH_MAGIC && !ctx->graphs[i]->attached)
      gc_graph_destroy(ctx->graphs[i]);
  for (int i = 0; i < ctx->ngraphs; i++) free(ctx->graphs[i]);
  free(ctx->graphs);
  ctx->magic = 0;
  free(ctx);
}
