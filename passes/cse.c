/* cse: common subexpression elimination.
 *
 * Two nodes are the same computation when they have the same op, the same
 * operands (after earlier merges, so chains collapse in one pass) and the
 * same attributes (compared by name, in any order; floats bit for bit).
 * The later one's results become the earlier one's. Not merged: nodes with
 * regions, collectives, and nodes that define an unbacked symbol (merging
 * two symbols would mean rewriting every shape that names the second).
 * Random ops are deterministic functions of their seed operand, so equal
 * operands (the same seed value) make them mergeable like any other op. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ir/op.h"
#include "pass.h"
#include "rewrite.h"
#include "support/status.h"

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

static uint64_t hash_attr(const gc_attr *a) {
  uint64_t h = hash_bytes(14695981039346656037ull, a->name, strlen(a->name));
  h = mix(h, (uint64_t)a->kind);
  switch (a->kind) {
    case GRAPHC_ATTR_INT:
    case GRAPHC_ATTR_BOOL:
      return mix(h, (uint64_t)a->i);
    case GRAPHC_ATTR_FLOAT:
      return hash_bytes(h, &a->f, sizeof a->f);
    case GRAPHC_ATTR_STRING:
      return hash_bytes(h, a->s, strlen(a->s));
    case GRAPHC_ATTR_INTS:
      return hash_bytes(h, a->ints, sizeof *a->ints * (size_t)a->count);
    case GRAPHC_ATTR_DTYPE:
      return mix(h, (uint64_t)a->dtype);
    case GRAPHC_ATTR_DIMS:
      return hash_bytes(h, a->dims, sizeof *a->dims * (size_t)a->count);
  }
  return h;
}

static bool attr_equal(const gc_attr *a, const gc_attr *b) {
  if (a->kind != b->kind) return false;
  switch (a->kind) {
    case GRAPHC_ATTR_INT:
    case GRAPHC_ATTR_BOOL:
      return a->i == b->i;
    case GRAPHC_ATTR_FLOAT:
      return memcmp(&a->f, &b->f, sizeof a->f) == 0;
    case GRAPHC_ATTR_STRING:
      return strcmp(a->s, b->s) == 0;
    case GRAPHC_ATTR_INTS:
      return a->count == b->count &&
             (!a->count || memcmp(a->ints, b->ints, sizeof *a->ints * (size_t)a->count) == 0);
    case GRAPHC_ATTR_DTYPE:
      return a->dtype == b->dtype;
    case GRAPHC_ATTR_DIMS: /* one dim table: equal ids are equal dims */
      return a->count == b->count &&
             (!a->count || memcmp(a->dims, b->dims, sizeof *a->dims * (size_t)a->count) == 0);
  }
  return false;
}

static bool mergeable(const gc_graph *g, const gc_node *n) {
  if (n->nregions || (n->op->flags & (GC_OPF_COLLECTIVE | GC_OPF_DATA_DEPENDENT))) return false;
  for (int k = 0; k < n->nresults; k++)
    if (g->values[n->results[k]].sym >= 0) return false;
  return true;
}

static uint64_t hash_node(const gc_rw *rw, const gc_node *n) {
  uint64_t h = mix(0, (uint64_t)(uintptr_t)n->op);
  h = mix(h, (uint64_t)n->noperands);
  for (int o = 0; o < n->noperands; o++) h = mix(h, (uint64_t)gc_rw_value(rw, n->operands[o]));
  uint64_t ah = 0; /* attributes in any order: a commutative combination */
  for (int a = 0; a < n->nattrs; a++) ah += hash_attr(&n->attrs[a]);
  return mix(mix(h, (uint64_t)n->nattrs), ah);
}

static bool same_node(const gc_rw *rw, const gc_node *a, const gc_node *b) {
  if (a->op != b->op || a->noperands != b->noperands || a->nattrs != b->nattrs) return false;
  for (int o = 0; o < a->noperands; o++)
    if (gc_rw_value(rw, a->operands[o]) != gc_rw_value(rw, b->operands[o])) return false;
  for (int i = 0; i < a->nattrs; i++) {
    const gc_attr *other = gc_node_attr(b, a->attrs[i].name);
    if (!other || !attr_equal(&a->attrs[i], other)) return false;
  }
  return true;
}

/* Open addressing over src node indices + 1 (0 = empty). */
typedef struct table {
  int *slot;
  uint64_t *hash;
  size_t mask;
} table;

static graphc_status_t cse_body(gc_rw *rw, void *user) {
  (void)user;
  const gc_graph *g = rw->src;
  size_t cap = 16;
  while (cap < 2 * (size_t)g->nnodes) cap *= 2;
  table t = {calloc(cap, sizeof *t.slot), calloc(cap, sizeof *t.hash), cap - 1};
  graphc_status_t st = (!t.slot || !t.hash) ? GC_OOM() : NULL;
  for (int i = 0; !st && i < g->nnodes; i++) {
    const gc_node *n = &g->nodes[i];
    if (!mergeable(g, n)) {
      st = gc_rw_copy_node(rw, i);
      continue;
    }
    uint64_t h = hash_node(rw, n);
    size_t s = h & t.mask;
    int rep = -1;
    for (; t.slot[s]; s = (s + 1) & t.mask)
      if (t.hash[s] == h && same_node(rw, &g->nodes[t.slot[s] - 1], n)) {
        rep = t.slot[s] - 1;
        break;
      }
    if (rep < 0) {
      st = gc_rw_copy_node(rw, i);
      t.slot[s] = i + 1;
      t.hash[s] = h;
      continue;
    }
    const gc_node *r = &g->nodes[rep];
    for (int k = 0; !st && k < n->nresults; k++)
      st = gc_rw_replace(rw, n->results[k], gc_rw_value(rw, r->results[k]));
  }
  free(t.slot);
  free(t.hash);
  return st;
}

graphc_status_t gc_pass_cse(const gc_graph *in, const gc_pass_options *opt, gc_graph **out) {
  (void)opt;
  return gc_rewrite(in, cse_body, NULL, out);
}
