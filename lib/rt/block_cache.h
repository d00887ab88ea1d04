/* Memory for outputs and arenas.
 *
 * A fresh multi-megabyte block costs more to fault in than a fused kernel
 * takes to fill it (glibc hands big blocks back to the OS on free, so
 * every call would fault its outputs in again: BASELINES.md, effect 2).
 * Two remedies: large blocks are 2 MiB aligned and advised for
 * transparent huge pages (one fault per 2 MiB instead of 512); and an
 * executable keeps the blocks of outputs its caller released, to hand
 * them out again on the next call.
 *
 * The cache is reference counted: the executable holds one reference and
 * every output it handed out one more, so a DLManagedTensor's deleter may
 * run on any thread, before or after the executable is released.
 */
#ifndef GC_RT_BLOCK_CACHE_H
#define GC_RT_BLOCK_CACHE_H

#include <stddef.h>

#include "graphc/status.h"

/* Allocates `bytes` (>= 1) aligned to 64, or to 2 MiB with a huge-page
 * hint when large. Release with free(). NULL when out of memory. */
void *gc_rt_alloc(size_t bytes);

typedef struct gc_block_cache gc_block_cache;

graphc_status_t gc_block_cache_create(gc_block_cache **out);
/* A block of at least `bytes` (a cached one when one fits without
 * wasting more than half of it), with its capacity in *cap; takes a
 * reference on the cache. NULL when out of memory. */
void *gc_block_cache_get(gc_block_cache *c, size_t bytes, size_t *cap);
/* Gives a block back (kept if under the limit, else freed) and drops the
 * reference its get took. */
void gc_block_cache_put(gc_block_cache *c, void *block, size_t cap);
/* Bytes the cache may keep (default 0: keep nothing). */
void gc_block_cache_set_limit(gc_block_cache *c, size_t bytes);
/* The owner is done: cached blocks are freed, later puts free theirs,
 * and the cache goes with its last reference. */
void gc_block_cache_close(gc_block_cache *c);

#endif
