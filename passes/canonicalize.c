/* canonicalize: algebraic identities, each exact.
 *
 *   reshape-like chains (reshape, view, squeeze, unsqueeze) -> one reshape
 *     to the final type, or nothing when that is the source's type (this
 *     also removes squeeze/unsqueeze inverse pairs)
 *   permute/transpose chains -> one permute; identity permutations vanish
 *   cast to the operand's own dtype, expand to its own shape, and a slice
 *     whose result has the operand's type -> the operand
 *   neg(neg(x)) -> x
 *   x + 0, 0 + x, x - 0 -> x; x * 1, 1 * x, x / 1 -> x; only when the
 *     result's type (dtype and shape) is exactly x's, so broadcasting and
 *     promotion are never lost. A splat is full/zeros/ones; full's value is
 *     read as the op fills it (truncated for integers).
 *
 * Patterns are matched in the new graph, whose nodes are already
 * canonical, so chains collapse in one forward walk. Nodes that become
 * unused stay for dce. The only inexact rule is x + (+0.0) on floats,
 * which maps x = -0.0 to -0.0 where the op gives +0.0 (PyTorch's inductor
 * does the same); opt->canonicalize_add_zero = false keeps those adds. */
#include <math.h>
#include <string.h>

#include "ir/op.h"
#include "pass.h"
#include "rewrite.h"
#include "support/status.h"

static bool op_is(const gc_node *n, const char *name) {
  return n && strcmp(n->op->name, name) == 0;
}

static bool reshape_like(const gc_node *n) {
  return op_is(n, "reshape") || op_is(n, "view") || op_is(n, "squeeze") || op_is(n, "unsqueeze");
}

/* The permutation a permute/transpose applies to a rank-`rank` operand:
 * result dim i is operand dim perm[i]. */
static bool perm_of(const gc_node *n, int rank, int *perm) {
  for (int i = 0; i < rank; i++) perm[i] = i;
  if (op_is(n, "permute")) {
    const gc_attr *d = gc_node_attr(n, "dims");
    if (!d || d->count != rank) return false;
    for (int i = 0; i < rank; i++)
      if (!gc_wrap_dim(d->ints[i], rank, &perm[i])) return false;
    return true;
  }
  if (op_is(n, "transpose")) {
    int a, b;
    if (rank == 0) return true;
    if (!gc_wrap_dim(gc_attr_int(n, "dim0", 0), rank, &a) ||
        !gc_wrap_dim(gc_attr_int(n, "dim1", 0), rank, &b))
      return false;
    perm[a] = b;
    perm[b] = a;
    return true;
  }
  return false;
}

/* What a splat operand holds: zeros, ones, or full's value as filled. */
typedef struct splat {
  bool is;
  double v;
} splat;

static splat splat_of(const gc_rw *rw, int dst_value) {
  const gc_node *p = gc_rw_def(rw, dst_value);
  gc_dtype dt = rw->dst->values[dst_value].type.dtype;
  if (op_is(p, "zeros")) return (splat){true, 0.0};
  if (op_is(p, "ones")) return (splat){true, 1.0};
  if (!op_is(p, "full")) return (splat){false, 0};
  double v = gc_attr_float(p, "value", 0.0);
  if (dt == GRAPHC_BOOL) return (splat){true, v != 0.0}; /* NaN is true */
  if (gc_dtype_is_int(dt)) return (splat){true, (double)(int64_t)v}; /* infer checked range */
  return (splat){true, v};
}

static bool is_one(const gc_rw *rw, int v) {
  splat s = splat_of(rw, v);
  return s.is && s.v == 1.0;
}

/* Whether x op z == x exactly for the zero splat z, op '+' or '-': in
 * floats -0.0 + 0.0 is +0.0 and -0.0 - -0.0 is +0.0. */
static bool is_neutral_zero(const gc_rw *rw, const gc_pass_options *opt, int z, gc_dtype result,
                            char op) {
  splat s = splat_of(rw, z);
  if (!s.is || s.v != 0.0) return false;
  if (!gc_dtype_is_float(result)) return true;
  bool neg = signbit(s.v) && gc_dtype_is_float(rw->dst->values[z].type.dtype);
  bool exact = op == '+' ? neg : !neg;
  return exact || opt->canonicalize_add_zero;
}

/* Replaces src value r by dst value x when their types are equal. */
static graphc_status_t replace_if_same(gc_rw *rw, int r, int x, bool *done) {
  bool same;
  GC_TRY(gc_rw_same_type(rw, r, x, &same));
  if (same) GC_TRY(gc_rw_replace(rw, r, x));
  *done = same;
  return NULL;
}

static graphc_status_t reshape_chain(gc_rw *rw, const gc_node *n, bool *done) {
  int r = n->results[0], x = gc_rw_value(rw, n->operands[0]), base = x;
  for (const gc_node *p; (p = gc_rw_def(rw, base)) && reshape_like(p);) base = p->operands[0];
  GC_TRY(replace_if_same(rw, r, base, done));
  if (*done || base == x) return NULL;
  gc_type ty;
  GC_TRY(gc_rw_map_type(rw, &rw->src->values[r].type, &ty));
  graphc_attr_t shape = {.name = "shape", .kind = GRAPHC_ATTR_DIMS, .dims = ty.dims,
                         .count = ty.rank};
  int nv;
  GC_TRY(gc_rw_add_node(rw, "reshape", &base, 1, &shape, 1, r, n->loc, &nv));
  *done = true;
  return gc_rw_replace(rw, r, nv);
}

static graphc_status_t permute_chain(gc_rw *rw, const gc_node *n, bool *done) {
  int r = n->results[0], x = gc_rw_value(rw, n->operands[0]), base = x;
  int rank = rw->dst->values[x].type.rank, total[GC_MAX_RANK], inner[GC_MAX_RANK];
  if (!perm_of(n, rank, total)) return NULL;
  for (const gc_node *p; (p = gc_rw_def(rw, base)) && perm_of(p, rank, inner);) {
    for (int i = 0; i < rank; i++) total[i] = inner[total[i]];
    base = p->operands[0];
  }
  bool identity = true;
  for (int i = 0; i < rank; i++) identity &= total[i] == i;
  if (identity) return replace_if_same(rw, r, base, done);
  if (base == x) return NULL;
  int64_t dims[GC_MAX_RANK];
  for (int i = 0; i < rank; i++) dims[i] = total[i];
  graphc_attr_t a = {.name = "dims", .kind = GRAPHC_ATTR_INTS, .ints = dims, .count = rank};
  int nv;
  GC_TRY(gc_rw_add_node(rw, "permute", &base, 1, &a, 1, r, n->loc, &nv));
  *done = true;
  return gc_rw_replace(rw, r, nv);
}

/* add/sub/mul/div with a neutral splat operand. */
static graphc_status_t neutral_operand(gc_rw *rw, const gc_pass_options *opt, const gc_node *n,
                                       bool *done) {
  int r = n->results[0];
  int a = gc_rw_value(rw, n->operands[0]), b = gc_rw_value(rw, n->operands[1]);
  gc_dtype dt = rw->src->values[r].type.dtype;
  const char *op = n->op->name;
  bool add = !strcmp(op, "add"), mul = !strcmp(op, "mul");
  if ((add && is_neutral_zero(rw, opt, b, dt, '+')) ||
      (!strcmp(op, "sub") && is_neutral_zero(rw, opt, b, dt, '-')) ||
      ((mul || !strcmp(op, "div")) && is_one(rw, b)))
    GC_TRY(replace_if_same(rw, r, a, done));
  if (!*done && ((add && is_neutral_zero(rw, opt, a, dt, '+')) || (mul && is_one(rw, a))))
    GC_TRY(replace_if_same(rw, r, b, done));
  return NULL;
}

static graphc_status_t canon_node(gc_rw *rw, const gc_pass_options *opt, const gc_node *n,
                                  bool *done) {
  *done = false;
  if (n->nregions || n->nresults != 1 || n->noperands < 1) return NULL;
  for (int o = 0; o < n->noperands; o++)
    if (gc_rw_value(rw, n->operands[o]) < 0) return NULL; /* copy reports it */
  int r = n->results[0], x = gc_rw_value(rw, n->operands[0]);
  if (reshape_like(n)) return reshape_chain(rw, n, done);
  if (op_is(n, "permute") || op_is(n, "transpose")) return permute_chain(rw, n, done);
  if (op_is(n, "cast") || op_is(n, "expand") || op_is(n, "slice"))
    return replace_if_same(rw, r, x, done);
  if (op_is(n, "neg")) {
    const gc_node *p = gc_rw_def(rw, x);
    return op_is(p, "neg") ? replace_if_same(rw, r, p->operands[0], done) : NULL;
  }
  if (n->noperands == 2 && (op_is(n, "add") || op_is(n, "sub") || op_is(n, "mul") ||
                            op_is(n, "div")))
    return neutral_operand(rw, opt, n, done);
  return NULL;
}

static graphc_status_t canon_body(gc_rw *rw, void *user) {
  const gc_pass_options *opt = user;
  for (int i = 0; i < rw->src->nnodes; i++) {
    bool done;
    GC_TRY(canon_node(rw, opt, &rw->src->nodes[i], &done));
    if (!done) GC_TRY(gc_rw_copy_node(rw, i));
  }
  return NULL;
}

graphc_status_t gc_pass_canonicalize(const gc_graph *in, const gc_pass_options *opt,
                                     gc_graph **out) {
  gc_pass_options dflt;
  if (!opt) {
    gc_pass_options_defaults(&dflt);
    opt = &dflt;
  }
  return gc_rewrite(in, canon_body, (void *)opt, out);
}
