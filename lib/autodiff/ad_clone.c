/* Copying source nodes and regions into the destination graph.
 *
 * The destination is a new top-level graph with its own dim table, so every
 * dim of the source is translated: through its canonical text, which
 * re-parses to the same expression over symbols of the same names (the
 * destination declares the same inputs in the same order, so the same
 * inputs bind them). Translations are cached per source dim id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "support/status.h"

static gc_dim translate(gc_ad *ad, bool dst_dims, gc_dim d) {
  if (!ad_ok(ad)) return GC_DIM_NONE;
  if (dst_dims) return d;
  const gc_dimtab *st = gc_graph_dims(ad->src_root);
  if (d < 0 || d >= gc_dimtab_size(st)) {
    ad_fail(ad, GRAPHC_STATUS_INTERNAL, "dim id %d is not a dim of graph '%s'", (int)d,
            ad->src_root->name);
    return GC_DIM_NONE;
  }
  if (!ad->dimmap) {
    ad->ndimmap = gc_dimtab_size(st);
    ad->dimmap = malloc(sizeof *ad->dimmap * (size_t)ad->ndimmap);
    if (!ad->dimmap) {
      ad_check(ad, GC_OOM());
      return GC_DIM_NONE;
    }
    for (int i = 0; i < ad->ndimmap; i++) ad->dimmap[i] = GC_DIM_NONE;
  }
  if (d < ad->ndimmap && ad->dimmap[d] != GC_DIM_NONE) return ad->dimmap[d];
  const char *text = gc_dim_str(st, d);
  size_t used = 0;
  gc_dim out;
  if (ad_check(ad, gc_dim_parse(gc_graph_dims(ad->g), text, strlen(text), true, &out, &used)))
    return GC_DIM_NONE;
  if (d < ad->ndimmap) ad->dimmap[d] = out;
  return out;
}

gc_dim ad_dim(gc_ad *ad, const ad_env *env, gc_dim d) { return translate(ad, env->dst_dims, d); }

static gc_type type_tr(gc_ad *ad, bool dst_dims, const gc_type *t) {
  gc_type r = *t;
  for (int i = 0; i < t->rank; i++) r.dims[i] = translate(ad, dst_dims, t->dims[i]);
  return r;
}

gc_type ad_type_tr(gc_ad *ad, const ad_env *env, const gc_type *t) {
  return type_tr(ad, env->dst_dims, t);
}

gc_dim ad_const_dim(gc_ad *ad, int64_t v) {
  gc_dim d = GC_DIM_NONE;
  if (ad_ok(ad)) ad_check(ad, gc_dim_const(gc_graph_dims(ad->g), v, &d));
  return d;
}

void ad_fresh_name(gc_ad *ad, const gc_graph *g, const char *base, char *buf, size_t cap) {
  snprintf(buf, cap, "%s", base);
  while (gc_graph_find_value(g, buf) >= 0 || gc_graph_find_value(ad->src_root, buf) >= 0)
    snprintf(buf, cap, "%s_%d", base, ++ad->fresh);
}

/* Attributes of n as builder attributes, dims translated. `dimbuf` holds
 * the translated dims lists (freed by the caller). */
static int attrs_tr(gc_ad *ad, bool dst_dims, const gc_node *n, graphc_attr_t *out,
                    gc_dim **dimbuf) {
  for (int i = 0; i < n->nattrs; i++) {
    const gc_attr *a = &n->attrs[i];
    out[i] = (graphc_attr_t){.name = a->name, .kind = a->kind, .i = a->i, .f = a->f, .s = a->s,
                             .ints = a->ints, .dtype = a->dtype, .count = a->count};
    dimbuf[i] = NULL;
    if (a->kind != GRAPHC_ATTR_DIMS) continue;
    dimbuf[i] = malloc(sizeof(gc_dim) * (size_t)(a->count ? a->count : 1));
    if (!dimbuf[i]) {
      ad_check(ad, GC_OOM());
      return i + 1;
    }
    for (int k = 0; k < a->count; k++) dimbuf[i][k] = translate(ad, dst_dims, a->dims[k]);
    out[i].dims = dimbuf[i];
  }
  return n->nattrs;
}

static gc_graph *clone_region(gc_ad *ad, bool dst_dims, const gc_graph *r, gc_graph *parent);

/* Adds a copy of src node n to graph dst, operands mapped by `map`;
 * result ids are written to results[0..n->nresults). */
static bool clone_into(gc_ad *ad, gc_graph *dst, bool dst_dims, const gc_node *n,
                       const int *map, const char *const *names, int *results) {
  if (!ad_ok(ad)) return false;
  int nops = n->noperands;
  int *ops = malloc(sizeof *ops * (size_t)(nops ? nops : 1));
  gc_graph **regions = calloc((size_t)(n->nregions ? n->nregions : 1), sizeof *regions);
  graphc_attr_t attrs[GC_MAX_ATTRS + 1];
  gc_dim *dimbuf[GC_MAX_ATTRS + 1] = {0};
  int made = 0;
  if (!ops || !regions) ad_check(ad, GC_OOM());
  for (int i = 0; ad_ok(ad) && i < nops; i++) {
    ops[i] = map[n->operands[i]];
    if (ops[i] < 0)
      ad_fail(ad, GRAPHC_STATUS_INTERNAL, "op '%s': operand %d has no copy", n->op->name, i);
  }
  if (n->nattrs > GC_MAX_ATTRS) ad_fail(ad, GRAPHC_STATUS_INTERNAL, "too many attributes");
  if (ad_ok(ad)) made = attrs_tr(ad, dst_dims, n, attrs, dimbuf);
  int nreg = 0;
  for (; ad_ok(ad) && nreg < n->nregions; nreg++) {
    regions[nreg] = clone_region(ad, dst_dims, n->regions[nreg], dst);
    if (!regions[nreg]) break;
  }
  int node = -1;
  if (ad_ok(ad)) {
    /* Regions are taken over by add_node, also on failure. */
    ad_check(ad, gc_graph_add_node(dst, n->op->name, ops, nops, attrs, n->nattrs, regions,
                                   n->nregions, names, n->loc, &node));
    nreg = 0;
  }
  for (int r = 0; r < nreg; r++)
    if (regions[r]) gc_graph_destroy(regions[r]);
  for (int i = 0; i < made; i++) free(dimbuf[i]);
  free(ops);
  free(regions);
  if (!ad_ok(ad)) return false;
  for (int k = 0; k < n->nresults; k++) results[k] = dst->nodes[node].results[k];
  return true;
}

static gc_graph *clone_region(gc_ad *ad, bool dst_dims, const gc_graph *r, gc_graph *parent) {
  gc_graph *c = NULL;
  if (!ad_ok(ad) || ad_check(ad, gc_graph_new(parent->ctx, r->name, parent, &c))) return NULL;
  int *map = malloc(sizeof *map * (size_t)(r->nvalues ? r->nvalues : 1));
  const char **names = calloc(GC_MAX_RESULTS, sizeof *names);
  if (!map || !names) ad_check(ad, GC_OOM());
  for (int i = 0; ad_ok(ad) && i < r->ninputs; i++) {
    const gc_value *v = &r->values[r->inputs[i]];
    gc_type t = type_tr(ad, dst_dims, &v->type);
    if (ad_ok(ad)) ad_check(ad, gc_graph_add_input(c, v->name, v->role, &t, v->loc, &map[r->inputs[i]]));
  }
  for (int i = 0; ad_ok(ad) && i < r->nnodes; i++) {
    const gc_node *n = &r->nodes[i];
    int res[GC_MAX_RESULTS];
    for (int k = 0; k < n->nresults; k++) names[k] = r->values[n->results[k]].name;
    if (clone_into(ad, c, dst_dims, n, map, names, res))
      for (int k = 0; k < n->nresults; k++) map[n->results[k]] = res[k];
  }
  int *outs = malloc(sizeof *outs * (size_t)(r->noutputs ? r->noutputs : 1));
  if (!outs) ad_check(ad, GC_OOM());
  for (int i = 0; ad_ok(ad) && i < r->noutputs; i++) outs[i] = map[r->outputs[i]];
  if (ad_ok(ad)) ad_check(ad, gc_graph_set_outputs(c, outs, r->noutputs));
  free(outs);
  free(map);
  free(names);
  if (!ad_ok(ad)) {
    gc_graph_destroy(c);
    return NULL;
  }
  return c;
}

gc_graph *ad_clone_region(gc_ad *ad, const ad_env *env, const gc_graph *r, gc_graph *parent) {
  return clone_region(ad, env->dst_dims, r, parent);
}

bool ad_clone_node(gc_ad *ad, ad_env *env, int node) {
  const gc_node *n = &env->src->nodes[node];
  const char *names[GC_MAX_RESULTS];
  char (*buf)[160] = NULL;
  bool inlined = env->prefix[0] != 0;
  if (inlined) {
    /* An inlined region's names may clash with the outer graph's. */
    if (n->op->flags & GC_OPF_DATA_DEPENDENT) {
      ad_fail(ad, GRAPHC_STATUS_UNIMPLEMENTED,
              "op '%s' (data-dependent size) inside a region that is inlined or recomputed "
              "for the gradient is not supported",
              n->op->name);
      return false;
    }
    buf = malloc(sizeof *buf * (size_t)n->nresults);
    if (!buf) return !ad_check(ad, GC_OOM());
    for (int k = 0; k < n->nresults; k++) {
      char base[160];
      snprintf(base, sizeof base, "%s.%s", env->prefix, env->src->values[n->results[k]].name);
      ad_fresh_name(ad, ad->g, base, buf[k], sizeof buf[k]);
      names[k] = buf[k];
    }
  } else {
    for (int k = 0; k < n->nresults; k++) names[k] = env->src->values[n->results[k]].name;
  }
  int res[GC_MAX_RESULTS];
  bool ok = clone_into(ad, ad->g, env->dst_dims, n, env->map, names, res);
  free(buf);
  if (ok)
    for (int k = 0; k < n->nresults; k++) env->map[n->results[k]] = res[k];
  return ok;
}
