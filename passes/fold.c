/* fold: constant folding into splats.
 *
 * The IR has no constant-tensor op, only full/zeros/ones/arange, so a
 * folded result must be one repeated value: it becomes
 * full(shape, value, dtype). Values are never computed here; the op's own
 * eval runs through the interpreter on a tiny graph (in a private context),
 * so dtype rounding, integer wrapping and promotion are exactly the
 * interpreter's.
 *
 * Two cases:
 *  - an elementwise op whose operands are all splats (full/zeros/ones, any
 *    shape, symbolic too): evaluated once on operands of shape [1, ..., 1]
 *    with their ranks kept (0-d operands promote differently);
 *  - any other op without regions whose operands all come from
 *    full/zeros/ones/arange with constant shapes, when every operand and
 *    result has at most opt->fold_max_elements elements: evaluated whole,
 *    and folded only if every result is uniform (bit for bit).
 * Never folded: collectives, ops that define unbacked symbols, region ops,
 * and anything whose evaluation fails (the error stays for run time). */
#include <stdlib.h>
#include <string.h>

#include "graphc/context.h"
#include "interp/interp_internal.h"
#include "ir/op.h"
#include "pass.h"
#include "rewrite.h"
#include "support/status.h"

typedef struct fold_state {
  graphc_context_t *scratch;
  const gc_pass_options *opt;
} fold_state;

static bool op_is(const gc_node *n, const char *name) { return strcmp(n->op->name, name) == 0; }
static bool is_splat_op(const gc_node *n) {
  return n && (op_is(n, "full") || op_is(n, "zeros") || op_is(n, "ones"));
}
static bool is_const_op(const gc_node *n) { return is_splat_op(n) || (n && op_is(n, "arange")); }

/* Element count of t when every dim is constant and it is at most max. */
static bool small_const(const gc_dimtab *dt, const gc_type *t, int64_t max) {
  int64_t n = 1, v;
  for (int d = 0; d < t->rank; d++) {
    if (!gc_dim_is_const(dt, t->dims[d], &v) || __builtin_mul_overflow(n, v, &n)) return false;
  }
  return n <= max;
}

/* A failure of a folding attempt just means "do not fold"; only running
 * out of memory is an error. */
static graphc_status_t soft(graphc_status_t st, bool *ok) {
  if (!st) return NULL;
  *ok = false;
  if (graphc_status_code(st) == GRAPHC_STATUS_RESOURCE_EXHAUSTED) return st;
  graphc_status_free(st);
  return NULL;
}

/* Adds to tiny graph t a copy of dst producer p (attributes mapped from
 * dst); with `unit`, its shape becomes [1, ..., 1] of the same rank. */
static graphc_status_t add_producer(gc_graph *t, gc_dimmap *from_dst, const gc_node *p, bool unit,
                                    int *out_value) {
  gc_attr_list al;
  GC_TRY(gc_attr_list_map(from_dst, p->attrs, p->nattrs, &al));
  gc_dim ones[GC_MAX_RANK];
  graphc_status_t st = gc_dim_const(t->dims, 1, &ones[0]);
  for (int i = 1; i < GC_MAX_RANK; i++) ones[i] = ones[0];
  for (int a = 0; !st && unit && a < al.n; a++)
    if (strcmp(al.a[a].name, "shape") == 0 && al.a[a].count <= GC_MAX_RANK) al.a[a].dims = ones;
  int nn;
  if (!st) st = gc_graph_add_node(t, p->op->name, NULL, 0, al.a, al.n, NULL, 0, NULL, p->loc, &nn);
  if (!st) *out_value = t->nodes[nn].results[0];
  gc_attr_list_free(&al);
  return st;
}

/* Element i of tensor x as a `full` value, if it survives the trip. */
static bool elem_value(const gc_tensor *x, int64_t i, double *v) {
  if (gc_dtype_is_float(x->dtype)) {
    *v = gc_tensor_getf(x, i);
    return true;
  }
  int64_t iv = gc_tensor_geti(x, i);
  *v = (double)iv;
  return *v < 9223372036854775808.0 && (int64_t)*v == iv;
}

static bool uniform(const gc_tensor *x) {
  size_t es = graphc_dtype_size(x->dtype);
  for (int64_t i = 1; i < x->numel; i++)
    if (memcmp((const char *)x->data + (size_t)i * es, x->data, es) != 0) return false;
  return true;
}

/* Builds and runs the tiny graph for src node n; on success values[k] is
 * result k's splat value and *ok stays true. */
static graphc_status_t evaluate(gc_rw *rw, fold_state *fs, const gc_node *n,
                                const gc_node *const *prods, bool unit, double *values,
                                bool *ok) {
  gc_graph *t;
  GC_TRY(gc_graph_new(fs->scratch, "fold", NULL, &t));
  gc_dimmap from_dst, from_src;
  gc_dimmap_init(&from_dst, rw->dst->dims, t->dims);
  gc_dimmap_init(&from_src, gc_graph_dims(rw->src), t->dims);
  int *tv = malloc(sizeof *tv * gc_count(n->noperands));
  gc_tensor *outs = calloc(gc_count(n->nresults), sizeof *outs);
  gc_attr_list al = {0};
  graphc_status_t st = (!tv || !outs) ? GC_OOM() : NULL;
  for (int o = 0; !st && *ok && o < n->noperands; o++)
    st = soft(add_producer(t, &from_dst, prods[o], unit, &tv[o]), ok);
  if (!st && *ok) st = soft(gc_attr_list_map(&from_src, n->attrs, n->nattrs, &al), ok);
  int nn = -1;
  if (!st && *ok)
    st = soft(gc_graph_add_node(t, n->op->name, tv, n->noperands, al.a, al.n, NULL, 0, NULL,
                                n->loc, &nn), ok);
  if (!st && *ok && t->nodes[nn].nresults != n->nresults) *ok = false;
  for (int k = 0; !st && *ok && k < n->nresults; k++) /* unit shapes must not change dtypes */
    if (t->values[t->nodes[nn].results[k]].type.dtype != rw->src->values[n->results[k]].type.dtype)
      *ok = false;
  if (!st && *ok) st = soft(gc_graph_set_outputs(t, t->nodes[nn].results, n->nresults), ok);
  bool ran = false;
  if (!st && *ok) {
    st = soft(gc_interp_run_tensors(t, (uint64_t)1 << 26, NULL, 0, outs), ok);
    ran = !st && *ok;
  }
  for (int k = 0; ran && *ok && k < n->nresults; k++)
    *ok = uniform(&outs[k]) && (outs[k].numel == 0 ? (values[k] = 0, true)
                                                    : elem_value(&outs[k], 0, &values[k]));
  for (int k = 0; ran && k < n->nresults; k++) gc_tensor_free(&outs[k]);
  gc_attr_list_free(&al);
  free(outs);
  free(tv);
  gc_dimmap_free(&from_dst);
  gc_dimmap_free(&from_src);
  gc_graph_destroy(t);
  return st;
}

/* Replaces result k of src node n by full(shape, value, dtype). */
static graphc_status_t emit_full(gc_rw *rw, const gc_node *n, int k, double value) {
  int v = n->results[k];
  gc_type ty;
  GC_TRY(gc_rw_map_type(rw, &rw->src->values[v].type, &ty));
  graphc_attr_t attrs[3] = {
      {.name = "shape", .kind = GRAPHC_ATTR_DIMS, .dims = ty.dims, .count = ty.rank},
      {.name = "value", .kind = GRAPHC_ATTR_FLOAT, .f = value},
      {.name = "dtype", .kind = GRAPHC_ATTR_DTYPE, .dtype = ty.dtype},
  };
  int nv;
  GC_TRY(gc_rw_add_node(rw, "full", NULL, 0, attrs, 3, v, n->loc, &nv));
  return gc_rw_replace(rw, v, nv);
}

/* Folds src node i if it can; *done says whether it did. */
static graphc_status_t try_fold(gc_rw *rw, fold_state *fs, int i, bool *done) {
  *done = false;
  const gc_graph *g = rw->src;
  const gc_node *n = &g->nodes[i];
  if (n->noperands == 0 || n->nregions ||
      (n->op->flags & (GC_OPF_COLLECTIVE | GC_OPF_DATA_DEPENDENT)))
    return NULL;
  for (int k = 0; k < n->nresults; k++)
    if (g->values[n->results[k]].sym >= 0) return NULL;
  const gc_node **prods = malloc(sizeof *prods * gc_count(n->noperands));
  double *values = malloc(sizeof *values * gc_count(n->nresults));
  graphc_status_t st = (!prods || !values) ? GC_OOM() : NULL;
  bool all_splat = true, all_const = true;
  for (int o = 0; !st && o < n->noperands; o++) {
    int v = gc_rw_value(rw, n->operands[o]);
    prods[o] = v >= 0 ? gc_rw_def(rw, v) : NULL;
    all_splat &= is_splat_op(prods[o]);
    all_const &= is_const_op(prods[o]) &&
                 small_const(rw->dst->dims, &rw->dst->values[v].type, fs->opt->fold_max_elements);
  }
  bool unit = all_splat && (n->op->flags & GC_OPF_ELEMENTWISE);
  for (int k = 0; !st && !unit && all_const && k < n->nresults; k++)
    all_const = small_const(gc_graph_dims(g), &g->values[n->results[k]].type,
                            fs->opt->fold_max_elements);
  bool ok = unit || all_const;
  if (!st && ok) st = evaluate(rw, fs, n, prods, unit, values, &ok);
  for (int k = 0; !st && ok && k < n->nresults; k++) st = emit_full(rw, n, k, values[k]);
  *done = !st && ok;
  free(prods);
  free(values);
  return st;
}

static graphc_status_t fold_body(gc_rw *rw, void *user) {
  fold_state *fs = user;
  for (int i = 0; i < rw->src->nnodes; i++) {
    bool done;
    GC_TRY(try_fold(rw, fs, i, &done));
    if (!done) GC_TRY(gc_rw_copy_node(rw, i));
  }
  return NULL;
}

graphc_status_t gc_pass_fold(const gc_graph *in, const gc_pass_options *opt, gc_graph **out) {
  gc_pass_options dflt;
  if (!opt) {
    gc_pass_options_defaults(&dflt);
    opt = &dflt;
  }
  fold_state fs = {.opt = opt};
  /* Tiny graphs live in a private context, so their headers do not pile
   * up in the caller's. */
  GC_TRY(graphc_context_create(NULL, &fs.scratch));
  graphc_status_t st = gc_rewrite(in, fold_body, &fs, out);
  graphc_context_release(fs.scratch);
  return st;
}
