/* The MPI communicator (see comm_mpi.h for the contract). Compiled only
 * when libgraphc is built with MPI; comm_mpi_stub.c stands in otherwise. */
#ifdef GRAPHC_HAVE_MPI
#include "comm/comm_mpi.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comm/comm_util.h"
#include "interp/tensor.h"
#include "support/status.h"

/* wait: MPI_Test in a tight loop for this long (what MPI_Wait itself does;
 * short collectives finish here), then sleep between tests, the sleep
 * doubling from BACKOFF_MIN_NS up to BACKOFF_MAX_NS so a long wait for a
 * slow rank does not burn a core. */
#define SPIN_S 0.005
#define BACKOFF_MIN_NS 20000L
#define BACKOFF_MAX_NS 1000000L

typedef struct mpi_comm {
  gc_comm base; /* first: a gc_comm * is a mpi_comm * */
  MPI_Comm comm;   /* our duplicate of the parent */
  bool owns_init;  /* this communicator initialised MPI: destroy finalises */
  bool broken;     /* a wait timed out; requests may still be in flight */
  char broken_what[256];
} mpi_comm;

typedef struct mpi_request {
  MPI_Request req;
  char what[256];
  graphc_dtype_t dt;
  int64_t count;  /* elements of the result */
  bool avg;       /* divide the sum by the size after completion */
  float *wide_in; /* f32 staging for f16/bf16 reductions, or NULL */
  float *wide_out;
  void *dst;      /* where a staged result is rounded back to */
} mpi_request;

static graphc_status_t mpi_error(int rc, const char *what, const char *call) {
  char msg[MPI_MAX_ERROR_STRING + 1] = "";
  int len = 0;
  if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
  return gc_status(GRAPHC_STATUS_UNAVAILABLE, "%s: %s failed: %s", what, call, msg);
}

/* Refuses to touch MPI after a timeout or after MPI_Finalize. */
static graphc_status_t usable(mpi_comm *c, const char *what) {
  int fin = 0;
  MPI_Finalized(&fin);
  if (fin) return gc_status(GRAPHC_STATUS_FAILED_PRECONDITION, "%s: MPI has been finalized", what);
  if (c->broken)
    return gc_status(GRAPHC_STATUS_FAILED_PRECONDITION,
                     "%s: the communicator is unusable: an earlier wait timed out (%s); "
                     "create a new communicator",
                     what, c->broken_what);
  return NULL;
}

static bool is_half(graphc_dtype_t dt) { return dt == GRAPHC_F16 || dt == GRAPHC_BF16; }

/* The MPI datatype that reduces `dt` (f16/bf16 are staged in f32). */
static MPI_Datatype reduce_type(graphc_dtype_t dt) {
  switch (dt) {
    case GRAPHC_F32: case GRAPHC_F16: case GRAPHC_BF16: return MPI_FLOAT;
    case GRAPHC_F64: return MPI_DOUBLE;
    case GRAPHC_I32: return MPI_INT32_T;
    case GRAPHC_I64: return MPI_INT64_T;
    default: return MPI_UINT8_T; /* bool: max only (checked), i.e. logical or */
  }
}

/* The MPI datatype that moves `dt` unchanged (gather, broadcast). */
static MPI_Datatype copy_type(graphc_dtype_t dt) {
  switch (graphc_dtype_size(dt)) {
    case 8: return MPI_UINT64_T;
    case 4: return MPI_UINT32_T;
    case 2: return MPI_UINT16_T;
    default: return MPI_UINT8_T;
  }
}

static MPI_Op reduce_op(gc_reduce_op op) { return op == GC_REDUCE_MAX ? MPI_MAX : MPI_SUM; }

/* Common checks plus MPI's int counts. */
static graphc_status_t check(mpi_comm *c, int64_t count, graphc_dtype_t dt, bool reduce,
                             gc_reduce_op op, const char *what) {
  GC_TRY(gc_comm_check_args(&c->base, count, dt, reduce, op, what));
  GC_TRY(usable(c, what));
  if (count > INT_MAX)
    return gc_status(GRAPHC_STATUS_OUT_OF_RANGE, "%s: %lld elements exceed MPI's int count", what,
                     (long long)count);
  return NULL;
}

static graphc_status_t request_new(const char *what, graphc_dtype_t dt, int64_t count,
                                   mpi_request **out) {
  mpi_request *r = calloc(1, sizeof *r);
  if (!r) return GC_OOM();
  r->req = MPI_REQUEST_NULL;
  snprintf(r->what, sizeof r->what, "%s", what);
  r->dt = dt;
  r->count = count;
  *out = r;
  return NULL;
}

static void request_free(mpi_request *r) {
  if (!r) return;
  free(r->wide_in);
  free(r->wide_out);
  free(r);
}

static void widen(const void *src, float *dst, int64_t n, graphc_dtype_t dt) {
  const uint16_t *h = src;
  for (int64_t i = 0; i < n; i++)
    dst[i] = dt == GRAPHC_F16 ? gc_f16_to_f32(h[i]) : gc_bf16_to_f32(h[i]);
}

static void narrow(const float *src, void *dst, int64_t n, graphc_dtype_t dt) {
  uint16_t *h = dst;
  for (int64_t i = 0; i < n; i++)
    h[i] = dt == GRAPHC_F16 ? gc_f32_to_f16(src[i]) : gc_f32_to_bf16(src[i]);
}

/* f32 staging for an f16/bf16 reduction: `in_n` elements read from `in`,
 * `out_n` elements written back to `dst` after completion. */
static graphc_status_t stage_half(mpi_request *r, const void *in, int64_t in_n, void *dst,
                                  int64_t out_n) {
  r->wide_in = malloc((size_t)(in_n ? in_n : 1) * sizeof(float));
  r->wide_out = malloc((size_t)(out_n ? out_n : 1) * sizeof(float));
  if (!r->wide_in || !r->wide_out) return GC_OOM();
  widen(in, r->wide_in, in_n, r->dt);
  r->dst = dst;
  return NULL;
}

/* Ends starting a collective: st (a staging failure) or the MPI call's
 * failure frees r; otherwise r is the caller's request. */
static graphc_status_t posted(mpi_request *r, graphc_status_t st, int rc, const char *what,
                              const char *call, gc_comm_request **out) {
  if (!st && rc != MPI_SUCCESS) st = mpi_error(rc, what, call);
  if (st) {
    request_free(r);
    return st;
  }
  *out = (gc_comm_request *)r;
  return NULL;
}

static graphc_status_t mpi_all_reduce(gc_comm *base, void *buf, int64_t count, graphc_dtype_t dt,
                                      gc_reduce_op op, const char *what, gc_comm_request **out) {
  mpi_comm *c = (mpi_comm *)base;
  what = gc_comm_what(what);
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: request out-pointer is NULL", what);
  *out = NULL;
  GC_TRY(check(c, count, dt, true, op, what));
  mpi_request *r = NULL;
  GC_TRY(request_new(what, dt, count, &r));
  r->avg = op == GC_REDUCE_AVG;
  graphc_status_t st = NULL;
  int rc;
  if (is_half(dt)) {
    st = stage_half(r, buf, count, buf, count);
    rc = st ? MPI_SUCCESS
            : MPI_Iallreduce(r->wide_in, r->wide_out, (int)count, MPI_FLOAT, reduce_op(op), c->comm,
                             &r->req);
  } else {
    rc = MPI_Iallreduce(MPI_IN_PLACE, buf, (int)count, reduce_type(dt), reduce_op(op), c->comm,
                        &r->req);
    r->dst = buf;
  }
  return posted(r, st, rc, what, "MPI_Iallreduce", out);
}

static graphc_status_t mpi_all_gather(gc_comm *base, const void *in, void *out, int64_t count,
                                      graphc_dtype_t dt, const char *what, gc_comm_request **req) {
  mpi_comm *c = (mpi_comm *)base;
  what = gc_comm_what(what);
  if (!req) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: request out-pointer is NULL", what);
  *req = NULL;
  GC_TRY(check(c, count, dt, false, GC_REDUCE_SUM, what));
  mpi_request *r = NULL;
  GC_TRY(request_new(what, dt, count * base->size, &r));
  MPI_Datatype t = copy_type(dt);
  int rc = MPI_Iallgather(in, (int)count, t, out, (int)count, t, c->comm, &r->req);
  return posted(r, NULL, rc, what, "MPI_Iallgather", req);
}

static graphc_status_t mpi_reduce_scatter(gc_comm *base, const void *in, void *out, int64_t count,
                                          graphc_dtype_t dt, gc_reduce_op op, const char *what,
                                          gc_comm_request **req) {
  mpi_comm *c = (mpi_comm *)base;
  what = gc_comm_what(what);
  if (!req) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: request out-pointer is NULL", what);
  *req = NULL;
  GC_TRY(check(c, count, dt, true, op, what));
  mpi_request *r = NULL;
  GC_TRY(request_new(what, dt, count, &r));
  r->avg = op == GC_REDUCE_AVG;
  r->dst = out;
  graphc_status_t st = NULL;
  int rc;
  if (is_half(dt)) {
    st = stage_half(r, in, count * base->size, out, count);
    rc = st ? MPI_SUCCESS
            : MPI_Ireduce_scatter_block(r->wide_in, r->wide_out, (int)count, MPI_FLOAT,
                                        reduce_op(op), c->comm, &r->req);
  } else {
    rc = MPI_Ireduce_scatter_block(in, out, (int)count, reduce_type(dt), reduce_op(op), c->comm,
                                   &r->req);
  }
  return posted(r, st, rc, what, "MPI_Ireduce_scatter_block", req);
}

static graphc_status_t mpi_broadcast(gc_comm *base, void *buf, int64_t count, graphc_dtype_t dt,
                                     int root, const char *what, gc_comm_request **out) {
  mpi_comm *c = (mpi_comm *)base;
  what = gc_comm_what(what);
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: request out-pointer is NULL", what);
  *out = NULL;
  GC_TRY(check(c, count, dt, false, GC_REDUCE_SUM, what));
  if (root < 0 || root >= base->size)
    return gc_status(GRAPHC_STATUS_OUT_OF_RANGE, "%s: root %d is not a rank of a world of %d", what,
                     root, base->size);
  mpi_request *r = NULL;
  GC_TRY(request_new(what, dt, count, &r));
  int rc = MPI_Ibcast(buf, (int)count, copy_type(dt), root, c->comm, &r->req);
  return posted(r, NULL, rc, what, "MPI_Ibcast", out);
}

/* Polls `req` until it completes or the communicator's bound passes. On
 * timeout the communicator is marked broken; the caller leaks whatever the
 * request still references. */
static graphc_status_t bounded_wait(mpi_comm *c, MPI_Request *req, const char *what) {
  double start = gc_comm_now(), limit = c->base.timeout_s;
  long sleep_ns = BACKOFF_MIN_NS;
  for (;;) {
    int done = 0;
    int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpi_error(rc, what, "MPI_Test");
    if (done) return NULL;
    double waited = gc_comm_now() - start;
    if (waited >= limit) {
      c->broken = true;
      snprintf(c->broken_what, sizeof c->broken_what, "%s", what);
      return gc_status(GRAPHC_STATUS_UNAVAILABLE,
                       "timed out after %.3g s waiting for %s (rank %d of %d; a rank did not "
                       "arrive); the communicator is now unusable",
                       limit, what, c->base.rank, c->base.size);
    }
    if (waited < SPIN_S) continue;
    struct timespec ts = {0, sleep_ns};
    nanosleep(&ts, NULL);
    if (sleep_ns < BACKOFF_MAX_NS) sleep_ns *= 2;
  }
}

/* Finishes a completed request: avg division and f16/bf16 rounding. */
static void finish(mpi_comm *c, mpi_request *r) {
  double n = (double)c->base.size;
  if (r->wide_out) {
    if (r->avg)
      for (int64_t i = 0; i < r->count; i++) r->wide_out[i] = (float)(r->wide_out[i] / n);
    narrow(r->wide_out, r->dst, r->count, r->dt);
    return;
  }
  if (!r->avg) return;
  if (r->dt == GRAPHC_F32) {
    float *p = r->dst;
    for (int64_t i = 0; i < r->count; i++) p[i] = (float)(p[i] / n);
  } else if (r->dt == GRAPHC_F64) {
    double *p = r->dst;
    for (int64_t i = 0; i < r->count; i++) p[i] /= n;
  }
}

static graphc_status_t mpi_wait(gc_comm *base, gc_comm_request *req) {
  mpi_comm *c = (mpi_comm *)base;
  mpi_request *r = (mpi_request *)req;
  if (!r) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "wait: request is NULL");
  graphc_status_t st = bounded_wait(c, &r->req, r->what);
  if (st && c->broken) return st; /* timed out: r stays alive for MPI (leaked on purpose) */
  if (!st) finish(c, r);
  request_free(r);
  return st;
}

static graphc_status_t mpi_exchange(gc_comm *base, const void *in, size_t len, void *out) {
  mpi_comm *c = (mpi_comm *)base;
  const char *what = "exchange";
  if (len && (!in || !out)) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "exchange: NULL buffer");
  if (len > INT_MAX) return gc_status(GRAPHC_STATUS_OUT_OF_RANGE, "exchange: %zu bytes is too many", len);
  GC_TRY(usable(c, what));
  MPI_Request req = MPI_REQUEST_NULL;
  int rc = MPI_Iallgather(in, (int)len, MPI_BYTE, out, (int)len, MPI_BYTE, c->comm, &req);
  if (rc != MPI_SUCCESS) return mpi_error(rc, what, "MPI_Iallgather");
  return bounded_wait(c, &req, "the other ranks to exchange agreement data");
}

static void mpi_destroy(gc_comm *base) {
  mpi_comm *c = (mpi_comm *)base;
  if (!c) return;
  int fin = 0;
  MPI_Finalized(&fin);
  /* After a timeout an operation is still pending on c->comm: leave it. */
  if (!fin && !c->broken && c->comm != MPI_COMM_NULL) MPI_Comm_free(&c->comm);
  if (!fin && c->owns_init) MPI_Finalize();
  free(c);
}

static const gc_comm_vtable mpi_vtable = {
    .name = "mpi",
    .all_reduce_start = mpi_all_reduce,
    .all_gather_start = mpi_all_gather,
    .reduce_scatter_start = mpi_reduce_scatter,
    .broadcast_start = mpi_broadcast,
    .wait = mpi_wait,
    .exchange = mpi_exchange,
    .destroy = mpi_destroy,
};

/* Initialises MPI unless the application did; *owns says whether we did. */
static graphc_status_t ensure_init(bool handed_in, bool *owns) {
  int fin = 0, init = 0, provided = MPI_THREAD_SINGLE;
  *owns = false;
  MPI_Finalized(&fin);
  if (fin) return gc_status(GRAPHC_STATUS_FAILED_PRECONDITION, "MPI communicator: MPI has been finalized");
  MPI_Initialized(&init);
  if (init) return NULL;
  if (handed_in)
    return gc_status(GRAPHC_STATUS_FAILED_PRECONDITION,
                     "MPI communicator: a communicator was handed in but MPI is not initialised");
  int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
  if (rc != MPI_SUCCESS) return mpi_error(rc, "MPI communicator", "MPI_Init_thread");
  *owns = true;
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    *owns = false;
    return gc_status(GRAPHC_STATUS_UNAVAILABLE,
                     "MPI communicator: MPI provides thread level %d, below MPI_THREAD_FUNNELED",
                     provided);
  }
  return NULL;
}

graphc_status_t gc_comm_mpi_create(void *mpi_comm_or_null, gc_comm **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out_comm is NULL");
  *out = NULL;
  bool owns;
  GC_TRY(ensure_init(mpi_comm_or_null != NULL, &owns));
  MPI_Comm parent = mpi_comm_or_null ? *(MPI_Comm *)mpi_comm_or_null : MPI_COMM_WORLD;
  mpi_comm *c = calloc(1, sizeof *c);
  graphc_status_t st = c ? NULL : GC_OOM();
  if (!st && parent == MPI_COMM_NULL)
    st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "MPI communicator: the handed-in communicator is MPI_COMM_NULL");
  if (st) {
    free(c);
    if (owns) MPI_Finalize();
    return st;
  }
  c->base.vt = &mpi_vtable;
  c->base.timeout_s = GC_COMM_DEFAULT_TIMEOUT_S;
  c->comm = MPI_COMM_NULL;
  c->owns_init = owns;
  MPI_Request req = MPI_REQUEST_NULL;
  int rc = MPI_Comm_idup(parent, &c->comm, &req);
  if (rc != MPI_SUCCESS) st = mpi_error(rc, "MPI communicator", "MPI_Comm_idup");
  if (!st) st = bounded_wait(c, &req, "MPI_Comm_idup while creating the MPI communicator");
  if (!st && (rc = MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN)) != MPI_SUCCESS)
    st = mpi_error(rc, "MPI communicator", "MPI_Comm_set_errhandler");
  if (!st && (rc = MPI_Comm_rank(c->comm, &c->base.rank)) != MPI_SUCCESS)
    st = mpi_error(rc, "MPI communicator", "MPI_Comm_rank");
  if (!st && (rc = MPI_Comm_size(c->comm, &c->base.size)) != MPI_SUCCESS)
    st = mpi_error(rc, "MPI communicator", "MPI_Comm_size");
  if (st) {
    if (c->broken) return st; /* idup still pending: c is leaked with it */
    mpi_destroy(&c->base);
    return st;
  }
  *out = &c->base;
  return NULL;
}
#endif
