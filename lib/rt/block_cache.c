/* Output blocks and huge-page-friendly allocation (see block_cache.h). */
#include "rt/block_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "support/status.h"

#define SMALL_ALIGN 64
#define HUGE_PAGE ((size_t)2 << 20)
#define MAX_BLOCKS 64

void *gc_rt_alloc(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes < HUGE_PAGE) {
    size_t n = (bytes + SMALL_ALIGN - 1) / SMALL_ALIGN * SMALL_ALIGN;
    return n < bytes ? NULL : aligned_alloc(SMALL_ALIGN, n);
  }
  size_t n = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
  if (n < bytes) return NULL;
  void *p = aligned_alloc(HUGE_PAGE, n);
#ifdef MADV_HUGEPAGE
  if (p) madvise(p, n, MADV_HUGEPAGE); /* a hint: failure changes nothing */
#endif
  return p;
}

typedef struct block {
  void *p;
  size_t cap;
} block;

struct gc_block_cache {
  pthread_mutex_t mu;
  int refs;
  bool closed;
  size_t limit, held;
  block blocks[MAX_BLOCKS];
  int n;
};

graphc_status_t gc_block_cache_create(gc_block_cache **out) {
  gc_block_cache *c = calloc(1, sizeof *c);
  if (!c) return GC_OOM();
  pthread_mutex_init(&c->mu, NULL);
  c->refs = 1;
  *out = c;
  return NULL;
}

/* Drops one reference with c->mu held; frees c (and unlocks) at zero. */
static void unref_locked(gc_block_cache *c) {
  bool last = --c->refs == 0;
  pthread_mutex_unlock(&c->mu);
  if (!last) return;
  for (int i = 0; i < c->n; i++) free(c->blocks[i].p);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

void *gc_block_cache_get(gc_block_cache *c, size_t bytes, size_t *cap) {
  pthread_mutex_lock(&c->mu);
  int best = -1;
  for (int i = 0; i < c->n; i++)
    if (c->blocks[i].cap >= bytes && c->blocks[i].cap / 2 <= bytes &&
        (best < 0 || c->blocks[i].cap < c->blocks[best].cap))
      best = i;
  void *p = NULL;
  if (best >= 0) {
    p = c->blocks[best].p;
    *cap = c->blocks[best].cap;
    c->held -= *cap;
    c->blocks[best] = c->blocks[--c->n];
  }
  c->refs++;
  pthread_mutex_unlock(&c->mu);
  if (p) return p;
  p = gc_rt_alloc(bytes);
  *cap = bytes ? bytes : 1;
  if (!p) {
    pthread_mutex_lock(&c->mu);
    unref_locked(c);
  }
  return p;
}

void gc_block_cache_put(gc_block_cache *c, void *p, size_t cap) {
  pthread_mutex_lock(&c->mu);
  if (!c->closed && c->n < MAX_BLOCKS && c->held + cap <= c->limit) {
    c->blocks[c->n++] = (block){p, cap};
    c->held += cap;
    p = NULL;
  }
  unref_locked(c);
  free(p);
}

void gc_block_cache_set_limit(gc_block_cache *c, size_t bytes) {
  pthread_mutex_lock(&c->mu);
  c->limit = bytes;
  while (c->held > c->limit && c->n > 0) { /* shed the largest first */
    int big = 0;
    for (int i = 1; i < c->n; i++)
      if (c->blocks[i].cap > c->blocks[big].cap) big = i;
    c->held -= c->blocks[big].cap;
    free(c->blocks[big].p);
    c->blocks[big] = c->blocks[--c->n];
  }
  pthread_mutex_unlock(&c->mu);
}

void gc_block_cache_close(gc_block_cache *c) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  c->closed = true;
  for (int i = 0; i < c->n; i++) free(c->blocks[i].p);
  c->n = 0;
  c->held = 0;
  unref_locked(c);
}
