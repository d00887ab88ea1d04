/* The collective-sequence fingerprint and the agreement on it (see
 * fingerprint.h). */
#include "comm/fingerprint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm_util.h"
#include "interp/interp_internal.h"
#include "ir/op.h"
#include "rt/sha256.h"
#include "support/status.h"
#include "support/strbuf.h"

/* ---- hashing helpers (SHA-256, lib/rt/sha256.h) --------------------------- */

static void fp_i64(gc_sha256 *h, int64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)v >> (8 * i)); /* fixed byte order */
  gc_sha256_update(h, b, 8);
}

/* Length-prefixed, so "ab"+"c" and "a"+"bc" differ. */
static void fp_str(gc_sha256 *h, const char *s) {
  size_t n = s ? strlen(s) : 0;
  fp_i64(h, (int64_t)n);
  if (n) gc_sha256_update(h, s, n);
}

/* ---- the collective sequence of a graph ---------------------------------- */

typedef struct fp_walk {
  gc_sha256 h;
  const gc_dimtab *dims;
  const int64_t *vals;
  const bool *bound;
  int count;
} fp_walk;

static void walk_dim(fp_walk *w, gc_dim d) {
  int64_t v;
  graphc_status_t st = gc_dim_eval(w->dims, d, w->vals, w->bound, &v);
  if (!st) {
    fp_str(&w->h, "=");
    fp_i64(&w->h, v);
  } else { /* a data-dependent symbol: agreed on at run time */
    graphc_status_free(st);
    fp_str(&w->h, "?");
    fp_str(&w->h, gc_dim_str(w->dims, d));
  }
}

static void walk_attr(fp_walk *w, const gc_attr *a) {
  fp_i64(&w->h, a->kind);
  switch (a->kind) {
    case GRAPHC_ATTR_INT: case GRAPHC_ATTR_BOOL: fp_i64(&w->h, a->i); break;
    case GRAPHC_ATTR_FLOAT: gc_sha256_update(&w->h, &a->f, sizeof a->f); break;
    case GRAPHC_ATTR_STRING: fp_str(&w->h, a->s); break;
    case GRAPHC_ATTR_DTYPE: fp_i64(&w->h, a->dtype); break;
    case GRAPHC_ATTR_INTS:
      fp_i64(&w->h, a->count);
      for (int i = 0; i < a->count; i++) fp_i64(&w->h, a->ints[i]);
      break;
    case GRAPHC_ATTR_DIMS:
      fp_i64(&w->h, a->count);
      for (int i = 0; i < a->count; i++) walk_dim(w, a->dims[i]);
      break;
  }
}

/* Attribute k of n's schema by its effective value: the collective ops'
 * defaults (op=sum, dim=0, root=0) hash like the explicit values and dim
 * is wrapped, so ranks that spell the same collective differently agree. */
static void walk_node_attr(fp_walk *w, const gc_graph *g, const gc_node *n, int k) {
  const gc_attr_spec *spec = &n->op->attrs[k];
  const gc_attr *a = gc_node_attr(n, spec->name);
  fp_str(&w->h, spec->name);
  bool is_dim = strcmp(spec->name, "dim") == 0, is_root = strcmp(spec->name, "root") == 0;
  if ((is_dim || is_root) && spec->kind == GRAPHC_ATTR_INT && (!a || a->kind == GRAPHC_ATTR_INT)) {
    int64_t v = a ? a->i : 0;
    int wrapped;
    if (is_dim && n->noperands && gc_wrap_dim(v, g->values[n->operands[0]].type.rank, &wrapped))
      v = wrapped;
    fp_i64(&w->h, GRAPHC_ATTR_INT);
    fp_i64(&w->h, v);
  } else if (!a && strcmp(spec->name, "op") == 0 && spec->kind == GRAPHC_ATTR_STRING) {
    fp_i64(&w->h, GRAPHC_ATTR_STRING);
    fp_str(&w->h, "sum");
  } else if (a) {
    walk_attr(w, a);
  } else {
    fp_str(&w->h, "(absent)");
  }
}

static void walk_graph(fp_walk *w, const gc_graph *g) {
  for (int i = 0; i < g->nnodes; i++) {
    const gc_node *n = &g->nodes[i];
    for (int r = 0; r < n->nregions; r++) walk_graph(w, n->regions[r]);
    if (!(n->op->flags & GC_OPF_COLLECTIVE)) continue;
    w->count++;
    fp_str(&w->h, n->op->name);
    for (int o = 0; o < n->noperands; o++) {
      const gc_type *t = &g->values[n->operands[o]].type;
      fp_i64(&w->h, t->dtype);
      fp_i64(&w->h, t->rank);
      for (int d = 0; d < t->rank; d++) walk_dim(w, t->dims[d]);
    }
    for (int k = 0; k < GC_MAX_ATTRS && n->op->attrs[k].name; k++) walk_node_attr(w, g, n, k);
  }
}

/* Binds symbols from the inputs and checks them against g's signature, as
 * the interpreter will (so a rank with bad inputs fails the agreement
 * instead of leaving the others to time out at their first collective). */
static graphc_status_t bind_and_check(const gc_graph *g, const gc_tensor *in, int nin,
                                      int64_t *vals, bool *bound) {
  const gc_dimtab *dims = gc_graph_dims(g);
  if (nin != g->ninputs)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graph '%s' takes %d inputs, got %d", g->name,
                     g->ninputs, nin);
  for (int s = 0; s < gc_dimtab_num_syms(dims); s++) {
    const gc_symbind *b = gc_graph_symbind(g, s);
    if (b->kind != GC_SYM_BACKED && b->kind != GC_SYM_INPUT) continue;
    const gc_tensor *t = &in[g->values[b->value].index];
    if (b->kind == GC_SYM_BACKED && b->dim < t->rank) vals[s] = t->shape[b->dim];
    else if (b->kind == GC_SYM_INPUT && t->numel == 1 && !gc_dtype_is_float(t->dtype))
      vals[s] = gc_tensor_geti(t, 0);
    else continue;
    bound[s] = true;
  }
  for (int i = 0; i < nin; i++) {
    const gc_value *v = &g->values[g->inputs[i]];
    char want[512];
    gc_type_format(dims, &v->type, want, sizeof want);
    if (in[i].dtype != v->type.dtype || in[i].rank != v->type.rank)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "input %d '%s': expected %s, got %s with rank %d",
                       i, v->name, want, graphc_dtype_name(in[i].dtype), in[i].rank);
    for (int d = 0; d < in[i].rank; d++) {
      int64_t expect;
      GC_TRY(gc_dim_eval(dims, v->type.dims[d], vals, bound, &expect));
      if (expect != in[i].shape[d])
        return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "input %d '%s': dim %d is %lld but %s says %s = %lld",
                         i, v->name, d, (long long)in[i].shape[d], want,
                         gc_dim_str(dims, v->type.dims[d]), (long long)expect);
    }
  }
  return NULL;
}

graphc_status_t gc_collective_fingerprint(const gc_graph *g, const gc_tensor *inputs, int ninputs,
                                          uint8_t fp[GC_FINGERPRINT_BYTES], int *ncollectives) {
  GC_TRY(gc_graph_check(g));
  if (ninputs && !inputs) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "inputs is NULL");
  int nsyms = gc_dimtab_num_syms(gc_graph_dims(g));
  int64_t *vals = calloc((size_t)nsyms + 1, sizeof *vals);
  bool *bound = calloc((size_t)nsyms + 1, sizeof *bound);
  graphc_status_t st = (!vals || !bound) ? GC_OOM() : bind_and_check(g, inputs, ninputs, vals, bound);
  if (!st) {
    fp_walk w = {.dims = gc_graph_dims(g), .vals = vals, .bound = bound};
    gc_sha256_init(&w.h);
    fp_str(&w.h, "graphc collective sequence v1");
    walk_graph(&w, g);
    fp_i64(&w.h, w.count);
    gc_sha256_final(&w.h, fp);
    if (ncollectives) *ncollectives = w.count;
  }
  free(vals);
  free(bound);
  return st;
}

/* ---- agreement ---------------------------------------------------------- */

/* One rank's exchange record: the fingerprint, then whether it has one. */
#define RECORD_BYTES (GC_FINGERPRINT_BYTES + 8)

static void append_ranks(gc_strbuf *sb, const uint8_t *all, int size, int first) {
  int listed = 0, n = 0;
  for (int r = first; r < size; r++)
    n += memcmp(all + (size_t)r * RECORD_BYTES, all + (size_t)first * RECORD_BYTES, RECORD_BYTES) == 0;
  gc_sb_append(sb, n == 1 ? "rank " : "ranks ");
  for (int r = first; r < size; r++) {
    if (memcmp(all + (size_t)r * RECORD_BYTES, all + (size_t)first * RECORD_BYTES, RECORD_BYTES)) continue;
    if (listed == 16) {
      gc_sb_printf(sb, ", ... (%d in all)", n);
      break;
    }
    gc_sb_printf(sb, "%s%d", listed++ ? "," : "", r);
  }
  const uint8_t *rec = all + (size_t)first * RECORD_BYTES;
  if (!rec[GC_FINGERPRINT_BYTES]) {
    gc_sb_append(sb, n == 1 ? " failed before its collectives" : " failed before their collectives");
    return;
  }
  gc_sb_append(sb, n == 1 ? " has " : " have ");
  for (int i = 0; i < 8; i++) gc_sb_printf(sb, "%02x", rec[i]);
}

static graphc_status_t mismatch(const gc_comm *comm, const uint8_t *all, const char *what) {
  gc_strbuf sb = {0};
  gc_sb_printf(&sb, "%s: ranks disagree on the collective sequence (op names, dtypes, element "
               "counts, attributes): ", what);
  int groups = 0;
  for (int r = 0; r < comm->size; r++) {
    bool seen = false;
    for (int q = 0; q < r && !seen; q++)
      seen = memcmp(all + (size_t)q * RECORD_BYTES, all + (size_t)r * RECORD_BYTES, RECORD_BYTES) == 0;
    if (seen) continue;
    if (groups++) gc_sb_append(&sb, "; ");
    if (groups > 8) {
      gc_sb_append(&sb, "...");
      break;
    }
    append_ranks(&sb, all, comm->size, r);
  }
  gc_sb_printf(&sb, " (this is rank %d of %d)", comm->rank, comm->size);
  char *msg = gc_sb_take(&sb);
  if (!msg) return GC_OOM();
  graphc_status_t st = gc_status(GRAPHC_STATUS_FAILED_PRECONDITION, "%s", msg);
  free(msg);
  return st;
}

graphc_status_t gc_comm_check_fingerprint(gc_comm *comm, const void *fp, size_t len, const char *what) {
  what = what ? what : "collectives";
  if (!comm) return gc_status(GRAPHC_STATUS_FAILED_PRECONDITION, "%s: collective needs a communicator", what);
  if (len > GC_FINGERPRINT_BYTES || (len && !fp))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: fingerprint of %zu bytes (at most %d)", what,
                     len, GC_FINGERPRINT_BYTES);
  /* The receive buffer, then our own record: one allocation, leaked on a
   * timeout because the transport may still write it. */
  uint8_t *all = calloc((size_t)comm->size + 1, RECORD_BYTES);
  if (!all) return GC_OOM();
  uint8_t *mine = all + (size_t)comm->size * RECORD_BYTES;
  if (fp) memcpy(mine, fp, len);
  mine[GC_FINGERPRINT_BYTES] = fp != NULL;
  graphc_status_t st = comm->vt->exchange(comm, mine, RECORD_BYTES, all);
  if (st) {
    if (graphc_status_code(st) != GRAPHC_STATUS_UNAVAILABLE) free(all);
    return gc_status_wrap(st, "%s: agreeing on the collective sequence", what);
  }
  for (int r = 1; r < comm->size && !st; r++)
    if (memcmp(all, all + (size_t)r * RECORD_BYTES, RECORD_BYTES)) st = mismatch(comm, all, what);
  if (!st && !fp)
    st = gc_status(GRAPHC_STATUS_FAILED_PRECONDITION, "%s: this rank failed before its collectives", what);
  free(all);
  return st;
}

/* The first collective node of g in execution order, or NULL; *in is the
 * graph (or region) holding it. */
static const gc_node *first_collective(const gc_graph *g, const gc_graph **in) {
  for (int i = 0; i < g->nnodes; i++) {
    const gc_node *n = &g->nodes[i];
    for (int r = 0; r < n->nregions; r++) {
      const gc_node *m = first_collective(n->regions[r], in);
      if (m) return m;
    }
    if (n->op->flags & GC_OPF_COLLECTIVE) {
      *in = g;
      return n;
    }
  }
  return NULL;
}

graphc_status_t gc_interp_run_agreed(const gc_graph *g, uint64_t max_bytes, gc_comm *comm,
                                     const gc_tensor *inputs, int ninputs, gc_tensor *outputs) {
  GC_TRY(gc_graph_check(g));
  if (!comm)
    return gc_status(GRAPHC_STATUS_FAILED_PRECONDITION, "graph '%s': collective needs a communicator",
                     g->name);
  /* Name what the others would wait for: the graph and its first collective. */
  char what[640], where[256];
  const gc_graph *holder = g;
  const gc_node *first = first_collective(g, &holder);
  if (first) {
    gc_loc_format(holder, first->loc, where, sizeof where);
    snprintf(what, sizeof what, "graph '%s' (before its first collective, %s %%%s at %s)", g->name,
             first->op->name, holder->values[first->results[0]].name, where);
  } else {
    snprintf(what, sizeof what, "graph '%s' (no collectives)", g->name);
  }
  uint8_t fp[GC_FINGERPRINT_BYTES];
  int count = 0;
  graphc_status_t st = gc_collective_fingerprint(g, inputs, ninputs, fp, &count);
  if (st) {
    /* Still take part, so the other ranks learn of it now. */
    graphc_status_free(gc_comm_check_fingerprint(comm, NULL, 0, what));
    return st;
  }
  GC_TRY(gc_comm_check_fingerprint(comm, fp, sizeof fp, what));
  return gc_interp_run_comm(g, max_bytes, comm, inputs, ninputs, outputs);
}
