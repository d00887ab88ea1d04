/* Greedy-by-size, best-fit placement of temps in one arena (the scheme
 * TFLite's arena planner uses): big temps first, each into the smallest
 * gap between the temps already placed that are alive at the same time.
 * A temp written in place of a dying one joins that one's group; a group
 * is placed as one interval covering all its members' lifetimes. */
#include "kernel/memplan.h"

#include <stdlib.h>

#include "support/status.h"

typedef struct group {
  int first, last;
  int64_t bytes, off;
  int id;
} group;

static int find(int *parent, int i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

static int by_size(const void *x, const void *y) {
  const group *a = x, *b = y;
  if (a->bytes != b->bytes) return a->bytes > b->bytes ? -1 : 1;
  if (a->first != b->first) return a->first < b->first ? -1 : 1;
  return a->id - b->id;
}

static int by_offset(const void *x, const void *y) {
  const group *a = *(const group *const *)x, *b = *(const group *const *)y;
  return a->off < b->off ? -1 : a->off > b->off;
}

static bool is_temp(const kir_buffer *b) { return b->role == KIR_BUF_TEMP; }

graphc_status_t gc_memplan(const int64_t *buffer_bytes, const kir_buffer *bufs, int n, int64_t alignment,
                           int64_t *out_offsets, int64_t *out_peak) {
  if (alignment <= 0 || (alignment & (alignment - 1)))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "memplan: alignment %lld is not a power of two",
                     (long long)alignment);
  *out_peak = 0;
  for (int i = 0; i < n; i++) {
    out_offsets[i] = -1;
    if (is_temp(&bufs[i]) && buffer_bytes[i] < 0)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "memplan: buffer %d has negative size %lld", i,
                       (long long)buffer_bytes[i]);
  }
  int *parent = malloc(sizeof *parent * (size_t)(n + 1));
  bool *used_src = calloc((size_t)n + 1, sizeof *used_src);
  group *gs = malloc(sizeof *gs * (size_t)(n + 1));
  group **live = malloc(sizeof *live * (size_t)(n + 1));
  if (!parent || !used_src || !gs || !live) {
    free(parent), free(used_src), free(gs), free(live);
    return GC_OOM();
  }
  for (int i = 0; i < n; i++) parent[i] = i;
  /* In-place pairs: the source dies at the step the other is born. A
   * source serves one buffer only, or two live buffers would share it,
   * and it must live past its own first step: in a chain a -> s -> b
   * where s lives one step only, a and b would meet at that step. */
  for (int i = 0; i < n; i++) {
    const kir_buffer *b = &bufs[i];
    int s = b->inplace_src;
    if (!b->inplace || !is_temp(b) || s < 0 || s >= n || s == i || used_src[s] || !is_temp(&bufs[s]) ||
        bufs[s].last_step != b->first_step || bufs[s].first_step >= bufs[s].last_step ||
        buffer_bytes[s] != buffer_bytes[i])
      continue;
    used_src[s] = true;
    parent[find(parent, i)] = find(parent, s);
  }
  /* One group per set: the union of lifetimes, the largest size. */
  int ng = 0;
  int *gid = malloc(sizeof *gid * (size_t)(n + 1));
  graphc_status_t st = gid ? NULL : GC_OOM();
  for (int i = 0; !st && i < n; i++) gid[i] = -1;
  for (int i = 0; !st && i < n; i++) {
    if (!is_temp(&bufs[i])) continue;
    int r = find(parent, i);
    if (gid[r] < 0) {
      gid[r] = ng;
      gs[ng] = (group){bufs[i].first_step, bufs[i].last_step, 0, 0, ng};
      ng++;
    }
    group *g = &gs[gid[r]];
    if (bufs[i].first_step < g->first) g->first = bufs[i].first_step;
    if (bufs[i].last_step > g->last) g->last = bufs[i].last_step;
    int64_t b = buffer_bytes[i] > 0 ? buffer_bytes[i] : 1; /* empty temps still get an address */
    if (b > INT64_MAX - alignment) st = gc_status(GRAPHC_STATUS_OUT_OF_RANGE, "memplan: buffer %d is too large", i);
    else b = (b + alignment - 1) & ~(alignment - 1);
    if (b > g->bytes) g->bytes = b;
  }
  if (!st) qsort(gs, (size_t)ng, sizeof *gs, by_size);
  for (int k = 0; !st && k < ng; k++) {
    group *g = &gs[k];
    int nl = 0;
    for (int j = 0; j < k; j++)
      if (gs[j].first <= g->last && g->first <= gs[j].last) live[nl++] = &gs[j];
    qsort(live, (size_t)nl, sizeof *live, by_offset);
    int64_t end = 0, best = -1, best_gap = INT64_MAX;
    for (int j = 0; j < nl; j++) {
      int64_t gap = live[j]->off - end;
      if (gap >= g->bytes && gap < best_gap) best_gap = gap, best = end;
      if (live[j]->off + live[j]->bytes > end) end = live[j]->off + live[j]->bytes;
    }
    if (best < 0) best = end;
    if (best > INT64_MAX - g->bytes) {
      st = gc_status(GRAPHC_STATUS_OUT_OF_RANGE, "memplan: the arena overflows int64");
      break;
    }
    g->off = best;
    if (best + g->bytes > *out_peak) *out_peak = best + g->bytes;
  }
  /* gs is sorted now; map sets back through the group ids. */
  for (int k = 0; !st && k < ng; k++) live[gs[k].id] = &gs[k];
  for (int i = 0; !st && i < n; i++)
    if (is_temp(&bufs[i])) out_offsets[i] = live[gid[find(parent, i)]]->off;
  free(parent), free(used_src), free(gs), free(live), free(gid);
  return st;
}
