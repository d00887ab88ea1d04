/* The reference interpreter: runs the graph IR node by node on dense host
 * tensors. Symbols are bound from input shapes, symbol inputs and
 * data-dependent ops, and every result is checked against its inferred
 * shape, so an op kernel that disagrees with its own infer is caught. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp/interp_internal.h"
#include "ir/op.h"
#include "support/status.h"

struct gc_eval_ctx {
  const gc_graph *g;     /* graph being run (a region while in one) */
  const gc_node *node;   /* node being evaluated                    */
  int64_t *symvals;      /* indexed by symbol, shared with regions  */
  bool *bound;
  int nsyms;
  uint64_t max_bytes;
  int depth;
  struct gc_comm *comm; /* for collective ops; NULL = none given */
};

const gc_graph *gc_eval_graph(gc_eval_ctx *ec) { return ec->g; }
struct gc_comm *gc_eval_comm(gc_eval_ctx *ec) { return ec->comm; }

graphc_status_t gc_eval_error(gc_eval_ctx *ec, graphc_status_code_t code, const char *fmt, ...) {
  char where[512], msg[1024];
  gc_loc_format(ec->g, ec->node ? ec->node->loc : (gc_loc){0, 0}, where, sizeof where);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return gc_status(code, "%s: op '%s': %s", where, ec->node ? ec->node->op->name : "?", msg);
}

graphc_status_t gc_eval_alloc(gc_eval_ctx *ec, gc_tensor *t, gc_dtype dtype, int rank,
                              const int64_t *shape) {
  graphc_status_t st = gc_tensor_alloc(t, dtype, rank, shape, ec->max_bytes);
  if (st && ec->node) return gc_status_wrap(st, "op '%s'", ec->node->op->name);
  return st;
}

graphc_status_t gc_eval_bind_symbol(gc_eval_ctx *ec, int sym, int64_t value) {
  if (sym < 0 || sym >= ec->nsyms)
    return gc_eval_error(ec, GRAPHC_STATUS_INTERNAL, "bad symbol id %d", sym);
  ec->symvals[sym] = value;
  ec->bound[sym] = true;
  return NULL;
}

graphc_status_t gc_eval_dim(gc_eval_ctx *ec, gc_dim d, int64_t *out) {
  return gc_dim_eval(gc_graph_dims(ec->g), d, ec->symvals, ec->bound, out);
}

/* Evaluates every dim of `t`; *ok=false (no error) when a symbol is not
 * bound yet. */
static graphc_status_t eval_shape(gc_eval_ctx *ec, const gc_type *t, int64_t *shape, bool *ok) {
  *ok = true;
  for (int i = 0; i < t->rank; i++) {
    graphc_status_t st = gc_eval_dim(ec, t->dims[i], &shape[i]);
    if (st && graphc_status_code(st) == GRAPHC_STATUS_FAILED_PRECONDITION) {
      graphc_status_free(st);
      *ok = false;
      return NULL;
    }
    GC_TRY(st);
  }
  return NULL;
}

static graphc_status_t run_node(gc_eval_ctx *ec, const gc_node *n, gc_tensor *vals) {
  const gc_graph *g = ec->g;
  ec->node = n;
  const gc_tensor *in[n->noperands ? n->noperands : 1];
  for (int i = 0; i < n->noperands; i++) in[i] = &vals[n->operands[i]];
  gc_tensor *out = calloc((size_t)n->nresults, sizeof *out);
  if (!out) return GC_OOM();
  graphc_status_t st = NULL;
  for (int k = 0; k < n->nresults && !st; k++) {
    const gc_type *t = &g->values[n->results[k]].type;
    int64_t shape[GC_MAX_RANK];
    bool ok;
    st = eval_shape(ec, t, shape, &ok);
    if (!st && ok) st = gc_eval_alloc(ec, &out[k], t->dtype, t->rank, shape);
    if (!st && !ok && !(n->op->flags & GC_OPF_DATA_DEPENDENT))
      st = gc_eval_error(ec, GRAPHC_STATUS_INTERNAL, "result %d's shape uses an unbound symbol", k);
  }
  if (!st) st = n->op->eval(ec, n, in, out);
  /* The kernel must have produced exactly the inferred shape. */
  for (int k = 0; k < n->nresults && !st; k++) {
    const gc_value *v = &g->values[n->results[k]];
    int64_t shape[GC_MAX_RANK];
    bool ok;
    st = eval_shape(ec, &v->type, shape, &ok);
    if (st) break;
    bool same = ok && out[k].data && out[k].rank == v->type.rank && out[k].dtype == v->type.dtype;
    for (int d = 0; same && d < v->type.rank; d++) same = out[k].shape[d] == shape[d];
    if (!same) st = gc_eval_error(ec, GRAPHC_STATUS_INTERNAL, "result %d does not match its type", k);
    else if (v->sym >= 0 && gc_tensor_geti(&out[k], 0) != ec->symvals[v->sym])
      st = gc_eval_error(ec, GRAPHC_STATUS_INTERNAL, "result %d disagrees with symbol '%s'", k,
                         v->name);
  }
  if (st) {
    for (int k = 0; k < n->nresults; k++) gc_tensor_free(&out[k]);
  } else {
    for (int k = 0; k < n->nresults; k++) vals[n->results[k]] = out[k];
  }
  free(out);
  ec->node = NULL;
  return st;
}

/* Runs the nodes of ec->g over `vals` (inputs already set, borrowed ones
 * flagged in `borrowed`), freeing intermediates after their last use. */
static graphc_status_t run_nodes(gc_eval_ctx *ec, gc_tensor *vals, bool *borrowed) {
  const gc_graph *g = ec->g;
  int *last = malloc(sizeof *last * (size_t)(g->nvalues ? g->nvalues : 1));
  if (!last) return GC_OOM();
  for (int v = 0; v < g->nvalues; v++) last[v] = -1;
  for (int i = 0; i < g->nnodes; i++)
    for (int o = 0; o < g->nodes[i].noperands; o++) last[g->nodes[i].operands[o]] = i;
  for (int o = 0; o < g->noutputs; o++) last[g->outputs[o]] = g->nnodes; /* keep */
  graphc_status_t st = NULL;
  for (int i = 0; i < g->nnodes && !st; i++) {
    st = run_node(ec, &g->nodes[i], vals);
    for (int o = 0; !st && o < g->nodes[i].noperands; o++) {
      int v = g->nodes[i].operands[o];
      if (last[v] == i && !borrowed[v]) gc_tensor_free(&vals[v]);
    }
    for (int k = 0; !st && k < g->nodes[i].nresults; k++) {
      int v = g->nodes[i].results[k];
      if (last[v] < 0) gc_tensor_free(&vals[v]); /* never used */
    }
  }
  free(last);
  return st;
}

graphc_status_t gc_eval_region(gc_eval_ctx *ec, const gc_graph *r, const gc_tensor *const *in,
                               gc_tensor *out) {
  if (ec->depth > 64) return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE, "regions nested too deeply");
  gc_eval_ctx sub = *ec;
  sub.g = r;
  sub.node = NULL;
  sub.depth++;
  gc_tensor *vals = calloc((size_t)(r->nvalues ? r->nvalues : 1), sizeof *vals);
  bool *borrowed = calloc((size_t)(r->nvalues ? r->nvalues : 1), sizeof *borrowed);
  graphc_status_t st = (!vals || !borrowed) ? GC_OOM() : NULL;
  for (int i = 0; !st && i < r->ninputs; i++) {
    vals[r->inputs[i]] = *in[i]; /* shallow: the caller owns it */
    borrowed[r->inputs[i]] = true;
  }
  if (!st) st = run_nodes(&sub, vals, borrowed);
  int done = 0;
  for (; !st && done < r->noutputs; done++) st = gc_tensor_clone(&vals[r->outputs[done]], &out[done]);
  if (st)
    for (int k = 0; k < done; k++) gc_tensor_free(&out[k]);
  for (int v = 0; vals && borrowed && v < r->nvalues; v++)
    if (!borrowed[v]) gc_tensor_free(&vals[v]);
  free(vals);
  free(borrowed);
  return st;
}

/* Binds symbols from the inputs, then checks every input dim. */
static graphc_status_t bind_inputs(gc_eval_ctx *ec, const gc_tensor *inputs) {
  const gc_graph *g = ec->g;
  for (int s = 0; s < ec->nsyms; s++) {
    const gc_symbind *b = gc_graph_symbind(g, s);
    if (b->kind == GC_SYM_BACKED) {
      const gc_value *v = &g->values[b->value];
      gc_eval_bind_symbol(ec, s, inputs[v->index].shape[b->dim]);
    } else if (b->kind == GC_SYM_INPUT) {
      const gc_value *v = &g->values[b->value];
      gc_eval_bind_symbol(ec, s, gc_tensor_geti(&inputs[v->index], 0));
    }
  }
  for (int i = 0; i < g->ninputs; i++) {
    const gc_value *v = &g->values[g->inputs[i]];
    const gc_tensor *t = &inputs[i];
    char want[512];
    gc_type_format(gc_graph_dims(g), &v->type, want, sizeof want);
    if (t->dtype != v->type.dtype || t->rank != v->type.rank)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "input %d '%s': expected %s, got %s "
                       "with rank %d", i, v->name, want, graphc_dtype_name(t->dtype), t->rank);
    for (int d = 0; d < t->rank; d++) {
      int64_t expect;
      GC_TRY(gc_eval_dim(ec, v->type.dims[d], &expect));
      if (expect != t->shape[d])
        return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                         "input %d '%s': dim %d is %lld but %s says %s = %lld", i, v->name, d,
                         (long long)t->shape[d], want, gc_dim_str(gc_graph_dims(g), v->type.dims[d]),
                         (long long)expect);
    }
  }
  return NULL;
}

graphc_status_t gc_interp_run_tensors(const gc_graph *g, uint64_t max_bytes,
                                      const gc_tensor *inputs, int ninputs, gc_tensor *outputs) {
  return gc_interp_run_comm(g, max_bytes, NULL, inputs, ninputs, outputs);
}

graphc_status_t gc_interp_run_comm(const gc_graph *g, uint64_t max_bytes, struct gc_comm *comm,
                                   const gc_tensor *inputs, int ninputs, gc_tensor *outputs) {
  GC_TRY(gc_graph_check(g));
  if (g->parent) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "cannot run a region on its own");
  if (ninputs != g->ninputs)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graph '%s' takes %d inputs, got %d",
                     g->name, g->ninputs, ninputs);
  gc_eval_ctx ec = {0};
  ec.g = g;
  ec.max_bytes = max_bytes;
  ec.comm = comm;
  ec.nsyms = gc_dimtab_num_syms(gc_graph_dims(g));
  ec.symvals = calloc((size_t)ec.nsyms + 1, sizeof *ec.symvals);
  ec.bound = calloc((size_t)ec.nsyms + 1, sizeof *ec.bound);
  gc_tensor *vals = calloc((size_t)g->nvalues + 1, sizeof *vals);
  bool *borrowed = calloc((size_t)g->nvalues + 1, sizeof *borrowed);
  graphc_status_t st = (!ec.symvals || !ec.bound || !vals || !borrowed) ? GC_OOM() : NULL;
  if (!st) st = bind_inputs(&ec, inputs);
  for (int i = 0; !st && i < g->ninputs; i++) {
    vals[g->inputs[i]] = inputs[i];
    borrowed[g->inputs[i]] = true;
  }
  if (!st) st = run_nodes(&ec, vals, borrowed);
  int done = 0;
  for (; !st && done < g->noutputs; done++) {
    int v = g->outputs[done];
    /* Hand results over; an output listed twice or an input is copied. */
    bool shared = borrowed[v];
    for (int k = 0; k < done; k++) shared |= g->outputs[k] == v;
    if (shared) st = gc_tensor_clone(&vals[v], &outputs[done]);
    else outputs[done] = vals[v];
  }
  if (st)
    for (int k = 0; k < done; k++) {
      bool handed = !borrowed[g->outputs[k]];
      for (int j = 0; j < k; j++) handed &= g->outputs[j] != g->outputs[k];
      if (!handed) gc_tensor_free(&outputs[k]);
    }
  for (int v = 0; vals && borrowed && v < g->nvalues; v++) {
    if (borrowed[v]) continue;
    bool handed = false;
    for (int k = 0; !st && k < g->noutputs; k++) handed |= g->outputs[k] == v;
    if (!handed) gc_tensor_free(&vals[v]);
  }
  free(vals);
  free(borrowed);
  free(ec.symvals);
  free(ec.bound);
  return st;
}
