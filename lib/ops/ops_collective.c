/* Collective ops: all_reduce, all_gather, reduce_scatter, broadcast, their
 * async forms (<op>_start returning a handle, wait(handle) returning the
 * tensor) — see docs/collectives.md.
 *
 * The world size is a compile-time property: all_gather and reduce_scatter
 * carry it as the attribute `world` so every shape stays static, and eval
 * checks it against the communicator. Eval reaches other ranks through
 * gc_eval_comm(ec). As the oracle, the interpreter reduces in f64 (floats)
 * or i64 (integers) and rounds once, so its result does not depend on the
 * order in which the transport adds ranks up. It also completes an async
 * collective at start: the handle already holds the result, wait copies it.
 *
 * Every transport call gets staging buffers owned here, never a tensor of
 * the interpreter: after a timed-out wait the transport may still write to
 * them, so they are leaked then (see lib/comm/comm_mpi.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "ops/ops_common.h"

/* ---- attributes --------------------------------------------------------- */

static bool parse_reduce(const gc_node *n, gc_reduce_op *op) {
  const char *s = gc_attr_str(n, "op", "sum");
  if (strcmp(s, "sum") == 0) *op = GC_REDUCE_SUM;
  else if (strcmp(s, "avg") == 0) *op = GC_REDUCE_AVG;
  else if (strcmp(s, "max") == 0) *op = GC_REDUCE_MAX;
  else return false;
  return true;
}

/* The reduction rules every backend applies (comm_util.c), as verify errors. */
static graphc_status_t infer_reduce_op(gc_infer_ctx *ic, const gc_type *x) {
  gc_reduce_op op;
  if (!parse_reduce(ic->node, &op))
    return gc_infer_error(ic, "attribute op: expected sum, avg or max, got '%s'",
                          gc_attr_str(ic->node, "op", ""));
  if (x->dtype == GRAPHC_BOOL && op != GC_REDUCE_MAX)
    return gc_infer_error(ic, "op=%s of operand 0 (x) %s is not defined for bool (use max, or cast)",
                          gc_attr_str(ic->node, "op", "sum"), GC_OPS_TY(ic, x));
  if (op == GC_REDUCE_AVG && !gc_dtype_is_float(x->dtype))
    return gc_infer_error(ic, "op=avg needs a float dtype, got operand 0 (x) %s", GC_OPS_TY(ic, x));
  return NULL;
}

/* Checks attribute `dim` (default 0) of a rank >= 1 operand and `world`. */
static graphc_status_t infer_dim_world(gc_infer_ctx *ic, const gc_type *x, int *dim, int64_t *world) {
  if (x->rank == 0) return gc_infer_error(ic, "operand 0 (x) must have at least one dim, got %s",
                                          GC_OPS_TY(ic, x));
  int64_t d = gc_attr_int(ic->node, "dim", 0);
  if (!gc_wrap_dim(d, x->rank, dim))
    return gc_infer_error(ic, "attribute dim: %lld is out of range for operand 0 (x) %s", (long long)d,
                          GC_OPS_TY(ic, x));
  *world = gc_attr_int(ic->node, "world", 0);
  if (*world < 1 || *world > 1 << 20)
    return gc_infer_error(ic, "attribute world: expected a rank count in [1, 1048576], got %lld",
                          (long long)*world);
  return NULL;
}

/* ---- infer ------------------------------------------------------------------ */

static graphc_status_t infer_all_reduce(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0);
  GC_TRY(infer_reduce_op(ic, x));
  ic->out[0] = *x;
  return NULL;
}

static graphc_status_t infer_broadcast(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0);
  int64_t root = gc_attr_int(ic->node, "root", 0);
  if (root < 0 || root > 1 << 20)
    return gc_infer_error(ic, "attribute root: expected a rank, got %lld", (long long)root);
  ic->out[0] = *x;
  return NULL;
}

static graphc_status_t infer_all_gather(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0);
  int d;
  int64_t world;
  GC_TRY(infer_dim_world(ic, x, &d, &world));
  gc_dimtab *dt = gc_infer_dims(ic);
  gc_dim w;
  ic->out[0] = *x;
  DIM_TRY(ic, gc_dim_const(dt, world, &w));
  DIM_TRY(ic, gc_dim_mul(dt, w, x->dims[d], &ic->out[0].dims[d]));
  return NULL;
}

static graphc_status_t infer_reduce_scatter(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0);
  int d;
  int64_t world, size;
  GC_TRY(infer_dim_world(ic, x, &d, &world));
  GC_TRY(infer_reduce_op(ic, x));
  gc_dimtab *dt = gc_infer_dims(ic);
  if (gc_dim_is_const(dt, x->dims[d], &size) && size % world != 0)
    return gc_infer_error(ic, "dim %d of operand 0 (x) %s is not divisible by world=%lld", d,
                          GC_OPS_TY(ic, x), (long long)world);
  gc_dim w;
  ic->out[0] = *x;
  DIM_TRY(ic, gc_dim_const(dt, world, &w));
  DIM_TRY(ic, gc_dim_floordiv(dt, x->dims[d], w, &ic->out[0].dims[d]));
  return NULL;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* wait(h): h must come straight from a <collective>_start in this graph,
 * and be waited for once. */
static graphc_status_t infer_wait(gc_infer_ctx *ic) {
  int h = ic->node->operands[0];
  const gc_value *v = &ic->g->values[h];
  const gc_op_info *from = v->producer >= 0 ? ic->g->nodes[v->producer].op : NULL;
  if (!from || !(from->flags & GC_OPF_COLLECTIVE) || !ends_with(from->name, "_start"))
    return gc_infer_error(ic, "operand 0 (%s) is not a handle: it must be the result of an "
                          "all_reduce_start, all_gather_start, reduce_scatter_start or "
                          "broadcast_start",
                          v->name);
  for (int i = 0; i < ic->g->nnodes && &ic->g->nodes[i] != ic->node; i++) {
    const gc_node *m = &ic->g->nodes[i];
    if (m->op == ic->node->op && m->operands[0] == h)
      return gc_infer_error(ic, "handle %s is already waited for", v->name);
  }
  ic->out[0] = v->type;
  return NULL;
}

/* ---- eval helpers --------------------------------------------------------- */

typedef struct coll {
  gc_comm *c;
  char what[384]; /* "all_reduce %y (model.gc:3:5)" for every message */
} coll;

static graphc_status_t coll_begin(gc_eval_ctx *ec, const gc_node *n, coll *k) {
  k->c = gc_eval_comm(ec);
  if (!k->c)
    return gc_eval_error(ec, GRAPHC_STATUS_FAILED_PRECONDITION,
                         "collective needs a communicator (run the graph with "
                         "graphc_interp_run_distributed)");
  const gc_graph *g = gc_eval_graph(ec);
  char where[256];
  gc_loc_format(g, n->loc, where, sizeof where);
  snprintf(k->what, sizeof k->what, "%s %%%s (%s)", n->op->name, g->values[n->results[0]].name,
           where);
  const gc_attr *w = gc_node_attr(n, "world");
  if (w && w->i != k->c->size)
    return gc_eval_error(ec, GRAPHC_STATUS_FAILED_PRECONDITION,
                         "attribute world=%lld but the communicator has %d rank%s", (long long)w->i,
                         k->c->size, k->c->size == 1 ? "" : "s");
  return NULL;
}

/* Does operand 0's shape use a symbol defined by a data-dependent op?
 * Such counts are not in the fingerprint checked before the run. */
static bool uses_unbacked(gc_eval_ctx *ec, const gc_node *n) {
  const gc_graph *g = gc_eval_graph(ec);
  const gc_type *t = &g->values[n->operands[0]].type;
  for (int d = 0; d < t->rank; d++) {
    int syms[GC_MAX_RANK * 4];
    int ns = gc_dim_syms(gc_graph_dims(g), t->dims[d], syms, (int)(sizeof syms / sizeof syms[0]));
    if (ns > (int)(sizeof syms / sizeof syms[0])) return true; /* too many to list: assume so */
    for (int s = 0; s < ns; s++)
      if (gc_graph_symbind(g, syms[s])->kind == GC_SYM_UNBACKED) return true;
  }
  return false;
}

/* Ranks exchange the element count of a data-dependent collective first, so
 * a disagreement is an error on every rank rather than a transport error or
 * a timeout. */
static graphc_status_t agree_count(gc_eval_ctx *ec, const coll *k, int64_t count) {
  int size = k->c->size;
  int64_t *all = malloc(sizeof *all * (size_t)(size + 1));
  if (!all) return GC_OOM();
  all[size] = count; /* the send buffer sits after the receive buffer */
  graphc_status_t st = k->c->vt->exchange(k->c, &all[size], sizeof count, all);
  if (st) {
    /* a timed-out exchange may still write `all`: leak it */
    if (graphc_status_code(st) != GRAPHC_STATUS_UNAVAILABLE) free(all);
    return gc_status_wrap(st, "%s: agreeing on the element count", k->what);
  }
  int bad = -1;
  for (int r = 0; r < size && bad < 0; r++)
    if (all[r] != all[0]) bad = r;
  if (bad >= 0)
    st = gc_eval_error(ec, GRAPHC_STATUS_FAILED_PRECONDITION,
                       "ranks disagree on the element count of a data-dependent collective: "
                       "rank 0 has %lld, rank %d has %lld (this is rank %d)",
                       (long long)all[0], bad, (long long)all[bad], k->c->rank);
  free(all);
  return st;
}

/* Runs one started request to completion. On a timeout (UNAVAILABLE) the
 * staging buffers stay with the transport: *leak is set. */
static graphc_status_t finish(const coll *k, graphc_status_t st, gc_comm_request *req, bool *leak) {
  *leak = false;
  if (!st) st = k->c->vt->wait(k->c, req);
  if (st && graphc_status_code(st) == GRAPHC_STATUS_UNAVAILABLE) *leak = true;
  return st;
}

/* The dtype a reduction runs in: f64 for floats, i64 for integers, bool
 * stays bool (max only). */
static gc_dtype wide_dtype(gc_dtype dt) {
  if (gc_dtype_is_float(dt)) return GRAPHC_F64;
  return dt == GRAPHC_BOOL ? GRAPHC_BOOL : GRAPHC_I64;
}

/* Element i of x stored as element j of a wide buffer. */
static void put_wide(void *buf, gc_dtype wt, int64_t j, const gc_tensor *x, int64_t i) {
  if (wt == GRAPHC_F64) ((double *)buf)[j] = gc_tensor_getf(x, i);
  else if (wt == GRAPHC_I64) ((int64_t *)buf)[j] = gc_tensor_geti(x, i);
  else ((uint8_t *)buf)[j] = gc_tensor_geti(x, i) != 0;
}

/* Rounds a wide buffer of y->numel elements into y. */
static void store_wide(gc_tensor *y, const void *buf, gc_dtype wt) {
  for (int64_t i = 0; i < y->numel; i++) {
    if (wt == GRAPHC_F64) gc_tensor_setf(y, i, ((const double *)buf)[i]);
    else if (wt == GRAPHC_I64) gc_tensor_seti(y, i, gc_ops_wrapi(((const int64_t *)buf)[i], y->dtype));
    else gc_tensor_seti(y, i, ((const uint8_t *)buf)[i]);
  }
}

static void *stage_alloc(int64_t n, size_t esz) { return malloc((size_t)(n > 0 ? n : 1) * esz); }

/* View of x as [outer, n, inner] around dim d. */
static void view_around(const gc_tensor *x, int d, int64_t *outer, int64_t *n, int64_t *inner) {
  *outer = *inner = 1;
  for (int k = 0; k < x->rank; k++) {
    if (k < d) *outer *= x->shape[k];
    else if (k > d) *inner *= x->shape[k];
  }
  *n = x->shape[d];
}

static int node_dim(const gc_node *n, int rank) {
  int d = 0;
  gc_wrap_dim(gc_attr_int(n, "dim", 0), rank, &d);
  return d;
}

/* ---- eval --------------------------------------------------------------------- */

static graphc_status_t eval_all_reduce(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                       gc_tensor *out) {
  coll k;
  gc_reduce_op op;
  if (!parse_reduce(n, &op)) return gc_eval_error(ec, GRAPHC_STATUS_INTERNAL, "bad attribute op");
  GC_TRY(coll_begin(ec, n, &k));
  const gc_tensor *x = in[0];
  if (uses_unbacked(ec, n)) GC_TRY(agree_count(ec, &k, x->numel));
  gc_dtype wt = wide_dtype(x->dtype);
  void *buf = stage_alloc(x->numel, graphc_dtype_size(wt));
  if (!buf) return GC_OOM();
  for (int64_t i = 0; i < x->numel; i++) put_wide(buf, wt, i, x, i);
  gc_comm_request *req = NULL;
  bool leak;
  graphc_status_t st = k.c->vt->all_reduce_start(k.c, buf, x->numel, wt, op, k.what, &req);
  st = finish(&k, st, req, &leak);
  if (!st) store_wide(&out[0], buf, wt);
  if (!leak) free(buf);
  return st;
}

static graphc_status_t eval_all_gather(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                       gc_tensor *out) {
  coll k;
  GC_TRY(coll_begin(ec, n, &k));
  const gc_tensor *x = in[0];
  if (uses_unbacked(ec, n)) GC_TRY(agree_count(ec, &k, x->numel));
  int64_t world = k.c->size, outer, len, inner;
  view_around(x, node_dim(n, x->rank), &outer, &len, &inner);
  size_t esz = graphc_dtype_size(x->dtype);
  void *send = stage_alloc(x->numel, esz), *recv = stage_alloc(x->numel * world, esz);
  if (!send || !recv) {
    free(send);
    free(recv);
    return GC_OOM();
  }
  if (x->numel) memcpy(send, x->data, (size_t)x->numel * esz);
  gc_comm_request *req = NULL;
  bool leak;
  graphc_status_t st = k.c->vt->all_gather_start(k.c, send, recv, x->numel, x->dtype, k.what, &req);
  st = finish(&k, st, req, &leak);
  /* recv is [world, outer, len, inner]; the result is [outer, world*len, inner]. */
  size_t block = (size_t)(len * inner) * esz;
  for (int64_t r = 0; !st && block && r < world; r++)
    for (int64_t o = 0; o < outer; o++)
      memcpy((char *)out[0].data + (size_t)(o * world + r) * block,
             (const char *)recv + (size_t)(r * outer + o) * block, block);
  if (!leak) {
    free(send);
    free(recv);
  }
  return st;
}

static graphc_status_t eval_reduce_scatter(gc_eval_ctx *ec, const gc_node *n,
                                           const gc_tensor *const *in, gc_tensor *out) {
  coll k;
  gc_reduce_op op;
  if (!parse_reduce(n, &op)) return gc_eval_error(ec, GRAPHC_STATUS_INTERNAL, "bad attribute op");
  GC_TRY(coll_begin(ec, n, &k));
  const gc_tensor *x = in[0];
  gc_tensor *y = &out[0];
  int d = node_dim(n, x->rank);
  int64_t world = k.c->size, outer, len, inner;
  view_around(x, d, &outer, &len, &inner);
  if (uses_unbacked(ec, n)) GC_TRY(agree_count(ec, &k, x->numel));
  if (len != world * y->shape[d])
    return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                         "dim %d of operand 0 (x) has size %lld, not divisible by world=%lld", d,
                         (long long)len, (long long)world);
  int64_t m = len / world, chunk = m * inner;
  gc_dtype wt = wide_dtype(x->dtype);
  size_t wsz = graphc_dtype_size(wt);
  void *send = stage_alloc(x->numel, wsz), *recv = stage_alloc(y->numel, wsz);
  if (!send || !recv) {
    free(send);
    free(recv);
    return GC_OOM();
  }
  /* send is [world, outer, m, inner]: rank r's block holds slice r of dim d. */
  for (int64_t r = 0; r < world; r++)
    for (int64_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < chunk; j++)
        put_wide(send, wt, (r * outer + o) * chunk + j, x, (o * world + r) * chunk + j);
  gc_comm_request *req = NULL;
  bool leak;
  graphc_status_t st =
      k.c->vt->reduce_scatter_start(k.c, send, recv, y->numel, wt, op, k.what, &req);
  st = finish(&k, st, req, &leak);
  if (!st) store_wide(y, recv, wt);
  if (!leak) {
    free(send);
    free(recv);
  }
  return st;
}

static graphc_status_t eval_broadcast(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                      gc_tensor *out) {
  coll k;
  GC_TRY(coll_begin(ec, n, &k));
  int64_t root = gc_attr_int(n, "root", 0);
  if (root >= k.c->size)
    return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                         "attribute root=%lld is not a rank of the communicator (%d ranks)",
                         (long long)root, k.c->size);
  const gc_tensor *x = in[0];
  if (uses_unbacked(ec, n)) GC_TRY(agree_count(ec, &k, x->numel));
  size_t esz = graphc_dtype_size(x->dtype);
  void *buf = stage_alloc(x->numel, esz);
  if (!buf) return GC_OOM();
  if (x->numel) memcpy(buf, x->data, (size_t)x->numel * esz);
  gc_comm_request *req = NULL;
  bool leak;
  graphc_status_t st =
      k.c->vt->broadcast_start(k.c, buf, x->numel, x->dtype, (int)root, k.what, &req);
  st = finish(&k, st, req, &leak);
  if (!st && x->numel) memcpy(out[0].data, buf, (size_t)x->numel * esz);
  if (!leak) free(buf);
  return st;
}

/* The handle already holds the completed result (see the header comment). */
static graphc_status_t eval_wait(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                 gc_tensor *out) {
  (void)ec;
  (void)n;
  if (in[0]->numel)
    memcpy(out[0].data, in[0]->data, (size_t)in[0]->numel * graphc_dtype_size(in[0]->dtype));
  return NULL;
}

#define REDUCE_ATTR {"op", GRAPHC_ATTR_STRING, false}
#define GATHER_ATTRS {{"dim", GRAPHC_ATTR_INT, false}, {"world", GRAPHC_ATTR_INT, true}}
#define SCATTER_ATTRS \
  {{"dim", GRAPHC_ATTR_INT, false}, REDUCE_ATTR, {"world", GRAPHC_ATTR_INT, true}}
#define ROOT_ATTRS {{"root", GRAPHC_ATTR_INT, false}}

const gc_op_info gc_ops_collective[] = {
    {"all_reduce", 1, 1, 1, 0, 0, {REDUCE_ATTR}, GC_OPF_COLLECTIVE,
     "reduce x over every rank (op = sum, avg or max); every rank gets the result",
     infer_all_reduce, eval_all_reduce},
    {"all_gather", 1, 1, 1, 0, 0, GATHER_ATTRS, GC_OPF_COLLECTIVE,
     "concatenate every rank's x along dim in rank order (dim grows by world)", infer_all_gather,
     eval_all_gather},
    {"reduce_scatter", 1, 1, 1, 0, 0, SCATTER_ATTRS, GC_OPF_COLLECTIVE,
     "reduce x over every rank, rank r keeps slice r of world equal slices along dim",
     infer_reduce_scatter, eval_reduce_scatter},
    {"broadcast", 1, 1, 1, 0, 0, ROOT_ATTRS, GC_OPF_COLLECTIVE,
     "every rank gets rank root's x", infer_broadcast, eval_broadcast},
    {"all_reduce_start", 1, 1, 1, 0, 0, {REDUCE_ATTR}, GC_OPF_COLLECTIVE,
     "start an all_reduce; returns a handle for wait", infer_all_reduce, eval_all_reduce},
    {"all_gather_start", 1, 1, 1, 0, 0, GATHER_ATTRS, GC_OPF_COLLECTIVE,
     "start an all_gather; returns a handle for wait", infer_all_gather, eval_all_gather},
    {"reduce_scatter_start", 1, 1, 1, 0, 0, SCATTER_ATTRS, GC_OPF_COLLECTIVE,
     "start a reduce_scatter; returns a handle for wait", infer_reduce_scatter,
     eval_reduce_scatter},
    {"broadcast_start", 1, 1, 1, 0, 0, ROOT_ATTRS, GC_OPF_COLLECTIVE,
     "start a broadcast; returns a handle for wait", infer_broadcast, eval_broadcast},
    {"wait", 1, 1, 1, 0, 0, {{0}}, GC_OPF_COLLECTIVE,
     "complete a started collective: its result, from the handle of a *_start op", infer_wait,
     eval_wait},
    {0},
};
