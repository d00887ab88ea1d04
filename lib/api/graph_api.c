/* Public graph builder and queries: argument checking around lib/ir. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/context.h"
#include "ir/op.h"
#include "support/status.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const char *graphc_version(void) {
  return STR(GRAPHC_VERSION_MAJOR) "." STR(GRAPHC_VERSION_MINOR) "." STR(GRAPHC_VERSION_PATCH);
}
int graphc_abi_version(void) { return GRAPHC_ABI_VERSION; }

static bool live(const gc_graph *g) {
  if (!g) return false;
  graphc_status_t st = gc_graph_check(g);
  graphc_status_free(st);
  return st == NULL;
}

graphc_status_t graphc_graph_create(graphc_context_t *ctx, const char *name,
                                    graphc_graph_t **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out_graph is NULL");
  *out = NULL;
  if (!name) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graph name is NULL");
  return gc_graph_new(ctx, name, NULL, out);
}

graphc_status_t graphc_graph_create_region(graphc_graph_t *parent, const char *name,
                                           graphc_graph_t **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out_region is NULL");
  *out = NULL;
  GC_TRY(gc_graph_check(parent));
  return gc_graph_new(parent->ctx, name ? name : "region", parent, out);
}

void graphc_graph_release(graphc_graph_t *g) {
  if (!g || g->magic != GC_GRAPH_MAGIC || g->attached) return;
  gc_graph_destroy(g);
}

graphc_status_t graphc_graph_dim_const(graphc_graph_t *g, int64_t value, graphc_dim_t *out) {
  GC_TRY(gc_graph_check(g));
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out_dim is NULL");
  if (value < 0) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "dim %lld is negative", (long long)value);
  return gc_dim_const(gc_graph_dims(g), value, out);
}

graphc_status_t graphc_graph_dim_parse(graphc_graph_t *g, const char *text, graphc_dim_t *out) {
  GC_TRY(gc_graph_check(g));
  if (!text || !out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "text or out_dim is NULL");
  size_t used = 0, len = strlen(text);
  graphc_status_t st = gc_dim_parse(gc_graph_dims(g), text, len, g->parent == NULL, out, &used);
  if (st) return gc_status_wrap(st, "dim '%s' at offset %zu", text, used);
  if (used != len)
    return gc_status(GRAPHC_STATUS_PARSE_ERROR, "dim '%s': unexpected text at offset %zu", text, used);
  return NULL;
}

graphc_status_t graphc_graph_dim_print(const graphc_graph_t *g, graphc_dim_t d, char *buf,
                                       size_t cap, size_t *out_len) {
  GC_TRY(gc_graph_check(g));
  if (!gc_dim_valid(gc_graph_dims(g), d))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "dim %d is not a dim of this graph", (int)d);
  const char *s = gc_dim_str(gc_graph_dims(g), d);
  size_t n = strlen(s);
  if (out_len) *out_len = n;
  if (buf && cap) snprintf(buf, cap, "%s", s);
  return NULL;
}

bool graphc_graph_dim_is_const(const graphc_graph_t *g, graphc_dim_t d, int64_t *out) {
  return live(g) && gc_dim_valid(gc_graph_dims(g), d) && gc_dim_is_const(gc_graph_dims(g), d, out);
}

graphc_status_t graphc_graph_add_input(graphc_graph_t *g, const char *name, graphc_role_t role,
                                       graphc_dtype_t dtype, int rank, const graphc_dim_t *dims,
                                       graphc_value_t *out) {
  GC_TRY(gc_graph_check(g));
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out_value is NULL");
  if (rank < 0 || rank > GC_MAX_RANK || (rank > 0 && !dims))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "input '%s': bad rank %d or NULL dims",
                     name ? name : "(null)", rank);
  gc_type t = {.dtype = dtype, .rank = rank};
  for (int i = 0; i < rank; i++) t.dims[i] = dims[i];
  int v;
  GC_TRY(gc_graph_add_input(g, name, role, &t, (gc_loc){0, 0}, &v));
  *out = v;
  return NULL;
}

graphc_status_t graphc_graph_add_node(graphc_graph_t *g, const char *op,
                                      const graphc_value_t *operands, int num_operands,
                                      const graphc_attr_t *attrs, int num_attrs,
                                      graphc_graph_t *const *regions, int num_regions,
                                      const char *const *result_names,
                                      graphc_value_t *out_results, int max_results,
                                      int *out_num_results) {
  graphc_status_t st = gc_graph_check(g);
  if (!st && (num_operands < 0 || num_attrs < 0 || num_regions < 0 || max_results < 0 ||
              (num_operands && !operands) || (num_attrs && !attrs) ||
              (num_regions && !regions) || (max_results && !out_results)))
    st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "op '%s': negative count or NULL array",
                   op ? op : "(null)");
  if (st) { /* regions are ours even on failure */
    for (int r = 0; regions && r < num_regions; r++)
      if (regions[r] && regions[r]->magic == GC_GRAPH_MAGIC && !regions[r]->attached)
        gc_graph_destroy(regions[r]);
    return st;
  }
  int node;
  GC_TRY(gc_graph_add_node(g, op, operands, num_operands, attrs, num_attrs, regions, num_regions,
                           result_names, (gc_loc){0, 0}, &node));
  const gc_node *n = &g->nodes[node];
  for (int k = 0; k < n->nresults && k < max_results; k++) out_results[k] = n->results[k];
  if (out_num_results) *out_num_results = n->nresults;
  return NULL;
}

graphc_status_t graphc_graph_set_outputs(graphc_graph_t *g, const graphc_value_t *values, int n) {
  GC_TRY(gc_graph_check(g));
  return gc_graph_set_outputs(g, values, n);
}

graphc_status_t graphc_graph_verify(const graphc_graph_t *g) { return gc_graph_verify(g); }

const char *graphc_graph_name(const graphc_graph_t *g) { return live(g) ? g->name : NULL; }
int graphc_graph_num_inputs(const graphc_graph_t *g) { return live(g) ? g->ninputs : -1; }
int graphc_graph_num_outputs(const graphc_graph_t *g) { return live(g) ? g->noutputs : -1; }
int graphc_graph_num_nodes(const graphc_graph_t *g) { return live(g) ? g->nnodes : -1; }
int graphc_graph_num_values(const graphc_graph_t *g) { return live(g) ? g->nvalues : -1; }

graphc_value_t graphc_graph_input(const graphc_graph_t *g, int i) {
  return live(g) && i >= 0 && i < g->ninputs ? g->inputs[i] : -1;
}
graphc_value_t graphc_graph_output(const graphc_graph_t *g, int i) {
  return live(g) && i >= 0 && i < g->noutputs ? g->outputs[i] : -1;
}

static bool valid_value(const gc_graph *g, graphc_value_t v) {
  return live(g) && v >= 0 && v < g->nvalues;
}

graphc_status_t graphc_value_type(const graphc_graph_t *g, graphc_value_t v, graphc_dtype_t *dt,
                                  int *rank, graphc_dim_t *dims) {
  GC_TRY(gc_graph_check(g));
  if (!valid_value(g, v))
    return gc_status(GRAPHC_STATUS_OUT_OF_RANGE, "value %d is not in graph '%s'", (int)v, g->name);
  const gc_type *t = &g->values[v].type;
  if (dt) *dt = t->dtype;
  if (rank) *rank = t->rank;
  if (dims)
    for (int i = 0; i < t->rank; i++) dims[i] = t->dims[i];
  return NULL;
}

const char *graphc_value_name(const graphc_graph_t *g, graphc_value_t v) {
  return valid_value(g, v) ? g->values[v].name : NULL;
}
int graphc_value_role(const graphc_graph_t *g, graphc_value_t v) {
  return valid_value(g, v) && g->values[v].producer < 0 ? (int)g->values[v].role : -1;
}
int graphc_value_producer(const graphc_graph_t *g, graphc_value_t v) {
  return valid_value(g, v) ? g->values[v].producer : -1;
}

int graphc_value_users(const graphc_graph_t *g, graphc_value_t v, int *out, int max) {
  if (!valid_value(g, v)) return 0;
  int n = 0;
  for (int i = 0; i < g->nnodes; i++)
    for (int o = 0; o < g->nodes[i].noperands; o++)
      if (g->nodes[i].operands[o] == v) {
        if (out && n < max) out[n] = i;
        n++;
      }
  for (int o = 0; o < g->noutputs; o++)
    if (g->outputs[o] == v) {
      if (out && n < max) out[n] = -1;
      n++;
    }
  return n;
}

static const gc_node *node_at(const gc_graph *g, int i) {
  return live(g) && i >= 0 && i < g->nnodes ? &g->nodes[i] : NULL;
}
const char *graphc_node_op(const graphc_graph_t *g, int i) {
  const gc_node *n = node_at(g, i);
  return n ? n->op->name : NULL;
}
int graphc_node_num_operands(const graphc_graph_t *g, int i) {
  const gc_node *n = node_at(g, i);
  return n ? n->noperands : -1;
}
graphc_value_t graphc_node_operand(const graphc_graph_t *g, int i, int k) {
  const gc_node *n = node_at(g, i);
  return n && k >= 0 && k < n->noperands ? n->operands[k] : -1;
}
int graphc_node_num_results(const graphc_graph_t *g, int i) {
  const gc_node *n = node_at(g, i);
  return n ? n->nresults : -1;
}
graphc_value_t graphc_node_result(const graphc_graph_t *g, int i, int k) {
  const gc_node *n = node_at(g, i);
  return n && k >= 0 && k < n->nresults ? n->results[k] : -1;
}
int graphc_node_num_regions(const graphc_graph_t *g, int i) {
  const gc_node *n = node_at(g, i);
  return n ? n->nregions : -1;
}
const graphc_graph_t *graphc_node_region(const graphc_graph_t *g, int i, int k) {
  const gc_node *n = node_at(g, i);
  return n && k >= 0 && k < n->nregions ? n->regions[k] : NULL;
}
