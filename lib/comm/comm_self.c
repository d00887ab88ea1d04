/* The one-rank communicator: every collective of a world of one is a copy
 * (a reduction over one rank is the identity, avg included), so requests
 * complete at start and wait only frees them. Arguments are checked exactly
 * as the MPI backend checks them, so code tested on one rank does not meet
 * new errors on many. */
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "comm/comm_util.h"
#include "support/status.h"

typedef struct self_request {
  int done; /* requests carry nothing: they exist so wait has something to free */
} self_request;

static graphc_status_t self_request_new(gc_comm_request **out) {
  self_request *r = calloc(1, sizeof *r);
  if (!r) return GC_OOM();
  r->done = 1;
  *out = (gc_comm_request *)r;
  return NULL;
}

static size_t nbytes(int64_t count, graphc_dtype_t dt) { return (size_t)count * graphc_dtype_size(dt); }

static graphc_status_t self_all_reduce(gc_comm *c, void *buf, int64_t count, graphc_dtype_t dt,
                                       gc_reduce_op op, const char *what, gc_comm_request **out) {
  what = gc_comm_what(what);
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: request out-pointer is NULL", what);
  *out = NULL;
  GC_TRY(gc_comm_check_args(c, count, dt, true, op, what));
  (void)buf; /* sum, avg and max over one rank leave the buffer as it is */
  return self_request_new(out);
}

static graphc_status_t self_all_gather(gc_comm *c, const void *in, void *out, int64_t count,
                                       graphc_dtype_t dt, const char *what, gc_comm_request **req) {
  what = gc_comm_what(what);
  if (!req) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: request out-pointer is NULL", what);
  *req = NULL;
  GC_TRY(gc_comm_check_args(c, count, dt, false, GC_REDUCE_SUM, what));
  if (count && in != out) memmove(out, in, nbytes(count, dt));
  return self_request_new(req);
}

static graphc_status_t self_reduce_scatter(gc_comm *c, const void *in, void *out, int64_t count,
                                           graphc_dtype_t dt, gc_reduce_op op, const char *what,
                                           gc_comm_request **req) {
  what = gc_comm_what(what);
  if (!req) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: request out-pointer is NULL", what);
  *req = NULL;
  GC_TRY(gc_comm_check_args(c, count, dt, true, op, what));
  if (count && in != out) memmove(out, in, nbytes(count, dt));
  return self_request_new(req);
}

static graphc_status_t self_broadcast(gc_comm *c, void *buf, int64_t count, graphc_dtype_t dt,
                                      int root, const char *what, gc_comm_request **out) {
  what = gc_comm_what(what);
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: request out-pointer is NULL", what);
  *out = NULL;
  GC_TRY(gc_comm_check_args(c, count, dt, false, GC_REDUCE_SUM, what));
  if (root != 0)
    return gc_status(GRAPHC_STATUS_OUT_OF_RANGE, "%s: root %d is not a rank of a world of 1", what, root);
  (void)buf;
  return self_request_new(out);
}

static graphc_status_t self_wait(gc_comm *c, gc_comm_request *req) {
  (void)c;
  if (!req) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "wait: request is NULL");
  free(req);
  return NULL;
}

static graphc_status_t self_exchange(gc_comm *c, const void *in, size_t len, void *out) {
  (void)c;
  if (len && (!in || !out)) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "exchange: NULL buffer");
  if (len && in != out) memmove(out, in, len);
  return NULL;
}

static void self_destroy(gc_comm *c) { free(c); }

static const gc_comm_vtable self_vtable = {
    .name = "self",
    .all_reduce_start = self_all_reduce,
    .all_gather_start = self_all_gather,
    .reduce_scatter_start = self_reduce_scatter,
    .broadcast_start = self_broadcast,
    .wait = self_wait,
    .exchange = self_exchange,
    .destroy = self_destroy,
};

graphc_status_t gc_comm_self_create(gc_comm **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out_comm is NULL");
  gc_comm *c = calloc(1, sizeof *c);
  if (!c) return GC_OOM();
  c->vt = &self_vtable;
  c->rank = 0;
  c->size = 1;
  c->timeout_s = GC_COMM_DEFAULT_TIMEOUT_S;
  *out = c;
  return NULL;
}
