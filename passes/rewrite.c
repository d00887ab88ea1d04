/* The graph rewriter (see rewrite.h): old graph in, new graph out, built
 * through the ordinary builder so the result is type-checked as it grows. */
#include "rewrite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/status.h"
#include "support/strbuf.h"

/* --- dim maps ------------------------------------------------------------- */

void gc_dimmap_init(gc_dimmap *m, const gc_dimtab *from, gc_dimtab *to) {
  memset(m, 0, sizeof *m);
  m->from = from;
  m->to = to;
}

void gc_dimmap_free(gc_dimmap *m) {
  free(m->map);
  memset(m, 0, sizeof *m);
}

graphc_status_t gc_dimmap_get(gc_dimmap *m, gc_dim d, gc_dim *out) {
  if (!gc_dim_valid(m->from, d))
    return gc_status(GRAPHC_STATUS_INTERNAL, "rewrite: dim %d is not a dim of the source graph",
                     (int)d);
  if (m->from == m->to) {
    *out = d;
    return NULL;
  }
  if (d >= m->cap) { /* `from` may grow while we map (it can be a graph being built) */
    int cap = gc_dimtab_size(m->from) + 16;
    gc_dim *p = realloc(m->map, sizeof *p * gc_count(cap));
    if (!p) return GC_OOM();
    for (int i = m->cap; i < cap; i++) p[i] = GC_DIM_NONE;
    m->map = p;
    m->cap = cap;
  }
  if (m->map[d] == GC_DIM_NONE) {
    const char *text = gc_dim_str(m->from, d);
    size_t len = strlen(text), used = 0;
    gc_dim nd;
    graphc_status_t st = gc_dim_parse(m->to, text, len, true, &nd, &used);
    if (!st && used != len)
      st = gc_status(GRAPHC_STATUS_INTERNAL, "dim text stops at byte %zu", used);
    if (st) return gc_status_wrap(st, "rewrite: cannot re-create dim '%s'", text);
    m->map[d] = nd;
  }
  *out = m->map[d];
  return NULL;
}

graphc_status_t gc_dimmap_type(gc_dimmap *m, const gc_type *in, gc_type *out) {
  gc_type t = *in;
  for (int i = 0; i < in->rank; i++) GC_TRY(gc_dimmap_get(m, in->dims[i], &t.dims[i]));
  *out = t;
  return NULL;
}

graphc_status_t gc_attr_list_map(gc_dimmap *m, const gc_attr *attrs, int n, gc_attr_list *out) {
  memset(out, 0, sizeof *out);
  size_t ndims = 0;
  for (int i = 0; i < n; i++)
    if (attrs[i].kind == GRAPHC_ATTR_DIMS) ndims += (size_t)attrs[i].count;
  out->a = calloc(gc_count(n), sizeof *out->a);
  out->pool = malloc(sizeof *out->pool * (ndims ? ndims : 1));
  if (!out->a || !out->pool) {
    gc_attr_list_free(out);
    return GC_OOM();
  }
  size_t used = 0;
  for (int i = 0; i < n; i++) {
    const gc_attr *s = &attrs[i];
    graphc_attr_t *d = &out->a[i];
    *d = (graphc_attr_t){.name = s->name, .kind = s->kind, .i = s->i, .f = s->f, .s = s->s,
                         .ints = s->ints, .dtype = s->dtype, .count = s->count};
    if (s->kind == GRAPHC_ATTR_DIMS) {
      d->dims = out->pool + used;
      for (int k = 0; k < s->count; k++) {
        graphc_status_t st = gc_dimmap_get(m, s->dims[k], &out->pool[used++]);
        if (st) {
          gc_attr_list_free(out);
          return st;
        }
      }
    }
  }
  out->n = n;
  return NULL;
}

void gc_attr_list_free(gc_attr_list *l) {
  free(l->a);
  free(l->pool);
  memset(l, 0, sizeof *l);
}

/* --- building a level (top-level graph or region) -------------------------- */

static graphc_status_t copy_inputs(gc_rw *rw) {
  const gc_graph *s = rw->src;
  for (int i = 0; i < s->ninputs; i++) {
    const gc_value *v = &s->values[s->inputs[i]];
    gc_type t;
    GC_TRY(gc_dimmap_type(rw->dims, &v->type, &t));
    int nv;
    GC_TRY(gc_graph_add_input(rw->dst, v->name, v->role, &t, v->loc, &nv));
    rw->vmap[s->inputs[i]] = nv;
  }
  return NULL;
}

static graphc_status_t copy_outputs(gc_rw *rw) {
  const gc_graph *s = rw->src;
  int *outs = malloc(sizeof *outs * gc_count(s->noutputs));
  if (!outs) return GC_OOM();
  for (int i = 0; i < s->noutputs; i++) {
    outs[i] = rw->vmap[s->outputs[i]];
    if (outs[i] < 0) {
      graphc_status_t st = gc_status(GRAPHC_STATUS_INTERNAL,
                                     "rewrite of graph '%s': output %d ('%s') was removed", s->name,
                                     i, s->values[s->outputs[i]].name);
      free(outs);
      return st;
    }
  }
  graphc_status_t st = gc_graph_set_outputs(rw->dst, outs, s->noutputs);
  free(outs);
  return st;
}

/* Fills rw->dst from rw->src: inputs, the body, outputs. */
static graphc_status_t build_level(gc_rw *rw) {
  rw->vmap = malloc(sizeof *rw->vmap * gc_count(rw->src->nvalues));
  if (!rw->vmap) return GC_OOM();
  for (int v = 0; v < rw->src->nvalues; v++) rw->vmap[v] = -1;
  graphc_status_t st = copy_inputs(rw);
  if (!st) st = rw->body(rw, rw->user);
  if (!st) st = copy_outputs(rw);
  free(rw->vmap);
  rw->vmap = NULL;
  return st;
}

/* A new region of rw->dst rewritten from src region r (unattached). */
static graphc_status_t rewrite_region(gc_rw *rw, const gc_graph *r, gc_graph **out) {
  *out = NULL;
  if (rw->depth >= 64)
    return gc_status(GRAPHC_STATUS_OUT_OF_RANGE, "rewrite: regions nested deeper than 64");
  gc_graph *nr;
  GC_TRY(gc_graph_new(rw->dst->ctx, r->name, rw->dst, &nr));
  gc_rw sub = {.src = r, .dst = nr, .dims = rw->dims, .body = rw->body, .user = rw->user,
               .depth = rw->depth + 1};
  graphc_status_t st = build_level(&sub);
  if (st) {
    gc_graph_destroy(nr);
    return st;
  }
  *out = nr;
  return NULL;
}

graphc_status_t gc_rewrite(const gc_graph *in, gc_rw_body body, void *user, gc_graph **out) {
  *out = NULL;
  GC_TRY(gc_graph_check(in));
  if (in->parent)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "rewrite: '%s' is a region, not a top-level "
                     "graph", in->name);
  gc_graph *g;
  GC_TRY(gc_graph_new(in->ctx, in->name, NULL, &g));
  graphc_status_t st = NULL;
  if (in->file && !(g->file = gc_strdup(in->file))) st = GC_OOM();
  gc_dimmap dims;
  gc_dimmap_init(&dims, in->dims, g->dims);
  gc_rw rw = {.src = in, .dst = g, .dims = &dims, .body = body, .user = user};
  if (!st) st = build_level(&rw);
  gc_dimmap_free(&dims);
  if (st) {
    gc_graph_destroy(g);
    return st;
  }
  *out = g;
  return NULL;
}

static graphc_status_t copy_all(gc_rw *rw, void *user) {
  (void)user;
  for (int i = 0; i < rw->src->nnodes; i++) GC_TRY(gc_rw_copy_node(rw, i));
  return NULL;
}

graphc_status_t gc_graph_clone(const gc_graph *g, gc_graph **out) {
  return gc_rewrite(g, copy_all, NULL, out);
}

/* --- nodes ------------------------------------------------------------------ */

static graphc_status_t unmapped_operand(const gc_rw *rw, const gc_node *n, int o) {
  char where[512];
  gc_loc_format(rw->src, n->loc, where, sizeof where);
  return gc_status(GRAPHC_STATUS_INTERNAL, "%s: op '%s': operand %d ('%s') was removed but is "
                   "still used", where, n->op->name, o, rw->src->values[n->operands[o]].name);
}

graphc_status_t gc_rw_copy_node(gc_rw *rw, int node) {
  const gc_node *n = &rw->src->nodes[node];
  int *ops = malloc(sizeof *ops * gc_count(n->noperands));
  gc_graph **regions = calloc(gc_count(n->nregions), sizeof *regions);
  const char **names = malloc(sizeof *names * gc_count(n->nresults));
  gc_attr_list attrs = {0};
  graphc_status_t st = (!ops || !regions || !names) ? GC_OOM() : NULL;
  for (int o = 0; !st && o < n->noperands; o++)
    if ((ops[o] = rw->vmap[n->operands[o]]) < 0) st = unmapped_operand(rw, n, o);
  for (int k = 0; !st && k < n->nresults; k++) names[k] = rw->src->values[n->results[k]].name;
  if (!st) st = gc_attr_list_map(rw->dims, n->attrs, n->nattrs, &attrs);
  int built = 0;
  for (; !st && built < n->nregions; built++)
    st = rewrite_region(rw, n->regions[built], &regions[built]);
  int nn = -1;
  if (st) { /* regions not handed to the builder are still ours */
    for (int r = 0; r < n->nregions && regions; r++) gc_graph_destroy(regions[r]);
  } else {
    st = gc_graph_add_node(rw->dst, n->op->name, ops, n->noperands, attrs.a, attrs.n, regions,
                           n->nregions, names, n->loc, &nn);
  }
  if (!st && rw->dst->nodes[nn].nresults != n->nresults)
    st = gc_status(GRAPHC_STATUS_INTERNAL, "rewrite: op '%s' now has %d results instead of %d",
                   n->op->name, rw->dst->nodes[nn].nresults, n->nresults);
  for (int k = 0; !st && k < n->nresults; k++)
    rw->vmap[n->results[k]] = rw->dst->nodes[nn].results[k];
  gc_attr_list_free(&attrs);
  free(ops);
  free(regions);
  free(names);
  return st;
}

graphc_status_t gc_rw_same_type(gc_rw *rw, int v, int w, bool *same) {
  gc_type t;
  GC_TRY(gc_dimmap_type(rw->dims, &rw->src->values[v].type, &t));
  *same = gc_type_equal(&t, &rw->dst->values[w].type);
  return NULL;
}

graphc_status_t gc_rw_replace(gc_rw *rw, int src_value, int dst_value) {
  bool same;
  GC_TRY(gc_rw_same_type(rw, src_value, dst_value, &same));
  if (!same) {
    char a[256], b[256];
    gc_type_format(gc_graph_dims(rw->src), &rw->src->values[src_value].type, a, sizeof a);
    gc_type_format(gc_graph_dims(rw->dst), &rw->dst->values[dst_value].type, b, sizeof b);
    return gc_status(GRAPHC_STATUS_INTERNAL, "rewrite: cannot replace '%s' (%s) by '%s' (%s): "
                     "types differ", rw->src->values[src_value].name, a,
                     rw->dst->values[dst_value].name, b);
  }
  rw->vmap[src_value] = dst_value;
  return NULL;
}

/* `base` if no value of src or dst has that name, else "base.k". */
static void fresh_name(const gc_rw *rw, const char *base, char *buf, size_t cap) {
  snprintf(buf, cap, "%s", base);
  for (int k = 1; gc_graph_find_value(rw->dst, buf) >= 0 || gc_graph_find_value(rw->src, buf) >= 0;
       k++)
    snprintf(buf, cap, "%s.%d", base, k);
}

graphc_status_t gc_rw_add_node(gc_rw *rw, const char *op, const int *operands, int noperands,
                               const graphc_attr_t *attrs, int nattrs, int name_of, gc_loc loc,
                               int *out_value) {
  char name[256];
  const char *base = name_of >= 0 ? rw->src->values[name_of].name : "t";
  /* The replaced value's own name is free in dst unless something took it. */
  if (name_of >= 0 && gc_graph_find_value(rw->dst, base) < 0 && strlen(base) < sizeof name)
    snprintf(name, sizeof name, "%s", base);
  else
    fresh_name(rw, strlen(base) < 200 ? base : "t", name, sizeof name);
  const gc_op_info *info = gc_op_lookup(op, strlen(op));
  if (info && info->nresults != 1)
    return gc_status(GRAPHC_STATUS_INTERNAL, "rewrite: inserting multi-result op '%s' is not "
                     "supported", op);
  const char *names[1] = {name};
  int nn;
  GC_TRY(gc_graph_add_node(rw->dst, op, operands, noperands, attrs, nattrs, NULL, 0, names, loc,
                           &nn));
  if (out_value) *out_value = rw->dst->nodes[nn].results[0];
  return NULL;
}
