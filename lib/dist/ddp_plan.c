/* The DDP split planner: the reverse walk that closes a piece at a bucket
 * boundary (see ddp_plan.h and docs/ddp.md). */
#include "dist/ddp_plan.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/op.h"
#include "support/status.h"
#include "support/strbuf.h"

void gc_ddp_options_init(gc_ddp_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->cap_bytes = GC_DDP_DEFAULT_CAP_BYTES;
  opt->first_cap_bytes = GC_DDP_DEFAULT_FIRST_CAP_BYTES;
}

void gc_ddp_plan_free(gc_ddp_plan *plan) {
  if (!plan) return;
  for (int i = 0; i < plan->npieces; i++) free(plan->pieces[i].params);
  free(plan->pieces);
  free(plan->piece_of_node);
  for (int i = 0; i < plan->nmessages; i++) free(plan->messages[i]);
  free(plan->messages);
  free(plan);
}

/* --- symbols a node refers to ----------------------------------------------- */

static void mark_type(const gc_dimtab *t, const gc_type *ty, bool *mark) {
  for (int d = 0; d < ty->rank; d++) {
    int syms[64];
    int n = gc_dim_syms(t, ty->dims[d], syms, 64);
    for (int k = 0; k < n && k < 64; k++) mark[syms[k]] = true;
    if (n > 64) { /* a very long expression: walk it the slow way */
      int *all = malloc(sizeof *all * (size_t)n);
      if (!all) continue; /* cannot happen in practice; marks stay partial */
      gc_dim_syms(t, ty->dims[d], all, n);
      for (int k = 0; k < n; k++) mark[all[k]] = true;
      free(all);
    }
  }
}

static void mark_attrs(const gc_dimtab *t, const gc_node *n, bool *mark) {
  for (int a = 0; a < n->nattrs; a++) {
    if (n->attrs[a].kind != GRAPHC_ATTR_DIMS) continue;
    gc_type ty = {.rank = 0};
    for (int k = 0; k < n->attrs[a].count; k++) {
      ty.dims[ty.rank++] = n->attrs[a].dims[k];
      if (ty.rank == GC_MAX_RANK) mark_type(t, &ty, mark), ty.rank = 0;
    }
    mark_type(t, &ty, mark);
  }
}

static void mark_graph(const gc_dimtab *t, const gc_graph *r, bool *mark) {
  for (int v = 0; v < r->nvalues; v++) mark_type(t, &r->values[v].type, mark);
  for (int i = 0; i < r->nnodes; i++) {
    mark_attrs(t, &r->nodes[i], mark);
    for (int k = 0; k < r->nodes[i].nregions; k++) mark_graph(t, r->nodes[i].regions[k], mark);
  }
}

void gc_dist_node_syms(const gc_graph *g, const gc_node *n, bool *mark) {
  const gc_dimtab *t = gc_graph_dims(g);
  for (int i = 0; i < n->noperands; i++) mark_type(t, &g->values[n->operands[i]].type, mark);
  for (int i = 0; i < n->nresults; i++) mark_type(t, &g->values[n->results[i]].type, mark);
  mark_attrs(t, n, mark);
  for (int k = 0; k < n->nregions; k++) mark_graph(t, n->regions[k], mark);
}

int gc_dist_unbacked_value(const gc_graph *g, int sym) {
  const gc_symbind *b = gc_graph_symbind(g, sym);
  if (b->kind != GC_SYM_UNBACKED) return -1;
  /* A symbol bound inside a region records a region value id; only a
   * top-level result that itself carries the symbol is ours. */
  if (b->value < 0 || b->value >= g->nvalues) return -1;
  const gc_value *v = &g->values[b->value];
  return v->producer >= 0 && v->sym == sym ? b->value : -1;
}

/* --- plan helpers ------------------------------------------------------------- */

static graphc_status_t add_message(gc_ddp_plan *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static graphc_status_t add_message(gc_ddp_plan *p, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  char **m = realloc(p->messages, sizeof *m * (size_t)(p->nmessages + 1));
  if (!m) return GC_OOM();
  p->messages = m;
  if (!(m[p->nmessages] = gc_strdup(buf))) return GC_OOM();
  p->nmessages++;
  return NULL;
}

/* Storage bytes of a counted param; its shape must be constant. */
static graphc_status_t param_bytes(const gc_graph *g, int v, int64_t *out) {
  const gc_value *val = &g->values[v];
  int64_t bytes = (int64_t)graphc_dtype_size(val->type.dtype), d;
  for (int i = 0; i < val->type.rank; i++) {
    if (!gc_dim_is_const(gc_graph_dims(g), val->type.dims[i], &d)) {
      char ty[512];
      gc_type_format(gc_graph_dims(g), &val->type, ty, sizeof ty);
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                       "ddp plan: param '%s' has the symbolic shape %s; bucket sizes need "
                       "constant param shapes (ignore the param to plan without it)",
                       val->name, ty);
    }
    if (__builtin_mul_overflow(bytes, d, &bytes))
      return gc_status(GRAPHC_STATUS_OUT_OF_RANGE, "ddp plan: param '%s' is too large", val->name);
  }
  *out = bytes;
  return NULL;
}

/* Per-walk state. */
typedef struct walk {
  const gc_graph *g;
  const gc_ddp_options *opt;
  bool *ignored;     /* per value */
  int *first_use;    /* per value: lowest node reading it, or INT_MAX */
  int *max_user;     /* per node: highest node using a result, INT_MAX for an output */
  gc_ddp_piece *rev; /* pieces in walk (reverse) order */
  int nrev, caprev;
} walk;

static graphc_status_t piece_add_param(gc_ddp_piece *p, int v) {
  int *q = realloc(p->params, sizeof *q * (size_t)(p->nparams + 1));
  if (!q) return GC_OOM();
  p->params = q;
  p->params[p->nparams++] = v;
  return NULL;
}

/* Counts the params node `n` reads into piece `p`. */
static graphc_status_t count_node(walk *w, int n, gc_ddp_piece *p) {
  const gc_graph *g = w->g;
  const gc_node *node = &g->nodes[n];
  for (int i = 0; i < node->noperands; i++) {
    int v = node->operands[i];
    const gc_value *val = &g->values[v];
    if (val->producer >= 0 || val->role != GRAPHC_ROLE_PARAM || w->ignored[v]) continue;
    bool seen = false; /* an op reading a param twice counts it once */
    for (int j = 0; j < i; j++) seen |= node->operands[j] == v;
    if (seen || (!w->opt->count_every_use && w->first_use[v] != n)) continue;
    int64_t b = 0;
    GC_TRY(param_bytes(g, v, &b));
    if (__builtin_add_overflow(p->bytes, b, &p->bytes))
      return gc_status(GRAPHC_STATUS_OUT_OF_RANGE, "ddp plan: bucket size overflows int64");
    GC_TRY(piece_add_param(p, v));
  }
  return NULL;
}

/* Which values are ignored; unknown names become messages. */
static graphc_status_t mark_ignored(walk *w, gc_ddp_plan *plan) {
  const gc_graph *g = w->g;
  for (int i = 0; i < w->opt->nignored; i++) {
    const char *name = w->opt->ignored[i];
    if (!name) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "ddp plan: ignored name %d is NULL", i);
    int v = gc_graph_find_value(g, name);
    if (v < 0 || g->values[v].producer >= 0 || g->values[v].role != GRAPHC_ROLE_PARAM) {
      GC_TRY(add_message(plan, "ignored name '%s' is not a param of graph '%s'", name, g->name));
      continue;
    }
    w->ignored[v] = true;
  }
  return NULL;
}

/* first_use and max_user, from operands, symbol uses and outputs. */
static graphc_status_t compute_uses(walk *w) {
  const gc_graph *g = w->g;
  int nsyms = gc_dimtab_num_syms(gc_graph_dims(g));
  bool *mark = calloc((size_t)nsyms + 1, sizeof *mark);
  if (!mark) return GC_OOM();
  for (int v = 0; v < g->nvalues; v++) w->first_use[v] = INT_MAX;
  for (int n = 0; n < g->nnodes; n++) w->max_user[n] = -1;
  for (int n = 0; n < g->nnodes; n++) {
    const gc_node *node = &g->nodes[n];
    for (int i = 0; i < node->noperands; i++) {
      int v = node->operands[i], p = g->values[v].producer;
      if (w->first_use[v] > n) w->first_use[v] = n;
      if (p >= 0 && w->max_user[p] < n) w->max_user[p] = n;
    }
    /* A node that only names an unbacked symbol (ones(shape=[u])) still
     * uses the op that defines it. */
    memset(mark, 0, (size_t)nsyms + 1);
    gc_dist_node_syms(g, node, mark);
    for (int s = 0; s < nsyms; s++) {
      int v = mark[s] ? gc_dist_unbacked_value(g, s) : -1;
      int p = v >= 0 ? g->values[v].producer : -1;
      if (p >= 0 && p != n && w->max_user[p] < n) w->max_user[p] = n;
    }
  }
  for (int i = 0; i < g->noutputs; i++) {
    int p = g->values[g->outputs[i]].producer;
    if (p >= 0) w->max_user[p] = INT_MAX;
  }
  free(mark);
  return NULL;
}

static graphc_status_t open_piece(walk *w, int node) {
  if (w->nrev == w->caprev) {
    int cap = w->caprev ? w->caprev * 2 : 8;
    gc_ddp_piece *p = realloc(w->rev, sizeof *p * (size_t)cap);
    if (!p) return GC_OOM();
    w->rev = p;
    w->caprev = cap;
  }
  w->rev[w->nrev++] = (gc_ddp_piece){.first_node = node + 1, .reason = "bucket boundary"};
  return NULL;
}

/* The reverse walk (rules 1-4). */
static graphc_status_t run_walk(walk *w, int64_t cap, int64_t first_cap) {
  const gc_graph *g = w->g;
  GC_TRY(open_piece(w, g->nnodes - 1));
  int reach = -1; /* highest node using something the open piece produces */
  for (int n = g->nnodes - 1; n >= 0; n--) {
    gc_ddp_piece *p = &w->rev[w->nrev - 1];
    bool full = p->bytes >= cap || (w->nrev == 1 && p->bytes >= first_cap);
    if (p->nnodes > 0 && full) {
      int last = p->first_node + p->nnodes - 1;
      if (reach > last) {
        GC_TRY(open_piece(w, n));
        p = &w->rev[w->nrev - 1];
        reach = -1;
      } else {
        p->extended_ops++; /* nothing leaves it yet: keep it open */
      }
    }
    p->first_node = n;
    p->nnodes++;
    if (w->max_user[n] > reach) reach = w->max_user[n];
    GC_TRY(count_node(w, n, p));
  }
  return NULL;
}

/* Rule 5, then execution order. */
static graphc_status_t finish(walk *w, gc_ddp_plan *plan) {
  int n = w->nrev;
  gc_ddp_piece *rev = w->rev;
  if (n > 1 && rev[n - 1].bytes == 0) { /* earliest piece, param-free: merge forward */
    gc_ddp_piece *early = &rev[n - 1], *next = &rev[n - 2];
    next->first_node = early->first_node;
    next->nnodes += early->nnodes;
    next->extended_ops += early->extended_ops;
    for (int i = 0; i < early->nparams; i++) GC_TRY(piece_add_param(next, early->params[i]));
    free(early->params);
    early->params = NULL;
    n--;
  }
  plan->pieces = calloc((size_t)n, sizeof *plan->pieces);
  if (!plan->pieces) return GC_OOM();
  for (int i = 0; i < n; i++) {
    plan->pieces[i] = rev[n - 1 - i];
    rev[n - 1 - i].params = NULL;
    if (plan->pieces[i].extended_ops > 0) plan->nextended++;
    for (int k = 0; k < plan->pieces[i].nnodes; k++)
      plan->piece_of_node[plan->pieces[i].first_node + k] = i;
  }
  plan->npieces = n;
  if (n == 1) plan->pieces[0].reason = "one bucket, no cut";
  return NULL;
}

graphc_status_t gc_ddp_plan_build(const gc_graph *g, const gc_ddp_options *opt,
                                  gc_ddp_plan **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "ddp plan: out is NULL");
  *out = NULL;
  GC_TRY(gc_graph_check(g));
  if (g->parent)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "ddp plan: '%s' is a region; plan its top-level graph", g->name);
  gc_ddp_options dflt;
  if (!opt) gc_ddp_options_init(&dflt), opt = &dflt;
  if (opt->cap_bytes < 0 || opt->first_cap_bytes < 0)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "ddp plan: bucket caps must be >= 0 (cap %lld B, first cap %lld B)",
                     (long long)opt->cap_bytes, (long long)opt->first_cap_bytes);
  if (opt->nignored < 0 || (opt->nignored > 0 && !opt->ignored))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "ddp plan: bad ignored-name list");

  gc_ddp_plan *plan = calloc(1, sizeof *plan);
  walk w = {.g = g, .opt = opt};
  if (!plan) return GC_OOM();
  plan->nnodes = g->nnodes;
  plan->cap_bytes = opt->cap_bytes;
  plan->first_cap_bytes = opt->first_cap_bytes;
  plan->count_every_use = opt->count_every_use;
  size_t nv = (size_t)g->nvalues + 1, nn = (size_t)g->nnodes + 1;
  plan->piece_of_node = calloc(nn, sizeof *plan->piece_of_node);
  w.ignored = calloc(nv, sizeof *w.ignored);
  w.first_use = calloc(nv, sizeof *w.first_use);
  w.max_user = calloc(nn, sizeof *w.max_user);
  graphc_status_t st = (!plan->piece_of_node || !w.ignored || !w.first_use || !w.max_user)
                           ? GC_OOM() : NULL;
  if (!st && plan->first_cap_bytes > plan->cap_bytes) {
    /* The reference refuses F > C; we clamp and say so. */
    st = add_message(plan, "first bucket cap %lld B exceeds bucket cap %lld B: clamped to %lld B",
                     (long long)plan->first_cap_bytes, (long long)plan->cap_bytes,
                     (long long)plan->cap_bytes);
    plan->first_cap_bytes = plan->cap_bytes;
  }
  if (!st) st = mark_ignored(&w, plan);
  if (!st) st = compute_uses(&w);
  if (!st) st = run_walk(&w, plan->cap_bytes, plan->first_cap_bytes);
  if (!st) st = finish(&w, plan);
  for (int i = 0; !st && i < g->ninputs; i++) {
    int v = g->inputs[i];
    if (g->values[v].role == GRAPHC_ROLE_PARAM && !w.ignored[v] && w.first_use[v] == INT_MAX)
      st = add_message(plan, "param '%s' is read by no op: it joins no bucket", g->values[v].name);
  }
  for (int i = 0; i < w.nrev; i++) free(w.rev[i].params);
  free(w.rev);
  free(w.ignored);
  free(w.first_use);
  free(w.max_user);
  if (st) {
    gc_ddp_plan_free(plan);
    return st;
  }
  *out = plan;
  return NULL;
}
