/* Communicators: how collective ops reach other ranks.
 *
 * A gc_comm is a small vtable over a transport that libgraphc does not
 * write itself: `self` (one rank, no transport) and MPI (Open MPI on CPU;
 * NCCL on GPU arrives with the CUDA backend). Collectives are
 * asynchronous: start returns a request, wait completes it, so compiled
 * code can place compute between the two. Every wait is bounded by the
 * communicator's timeout and fails with a status naming the collective —
 * never a hang.
 */
#ifndef GC_COMM_COMM_H
#define GC_COMM_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "graphc/status.h"
#include "graphc/types.h"

typedef enum gc_reduce_op { GC_REDUCE_SUM = 0, GC_REDUCE_AVG, GC_REDUCE_MAX } gc_reduce_op;

typedef struct gc_comm gc_comm;
typedef struct gc_comm_request gc_comm_request;

typedef struct gc_comm_vtable {
  const char *name; /* "self", "mpi" */
  /* In-place all-reduce of `count` elements at `buf`. */
  graphc_status_t (*all_reduce_start)(gc_comm *c, void *buf, int64_t count, graphc_dtype_t dt,
                                      gc_reduce_op op, const char *what, gc_comm_request **out);
  /* out (count*size elements) = concatenation of every rank's `in` (count). */
  graphc_status_t (*all_gather_start)(gc_comm *c, const void *in, void *out, int64_t count,
                                      graphc_dtype_t dt, const char *what, gc_comm_request **out_req);
  /* out (count) = this rank's slice of the reduction of every rank's in (count*size). */
  graphc_status_t (*reduce_scatter_start)(gc_comm *c, const void *in, void *out, int64_t count,
                                          graphc_dtype_t dt, gc_reduce_op op, const char *what,
                                          gc_comm_request **out_req);
  graphc_status_t (*broadcast_start)(gc_comm *c, void *buf, int64_t count, graphc_dtype_t dt,
                                     int root, const char *what, gc_comm_request **out);
  /* Completes and frees `req` (also on failure). After a timeout
   * (UNAVAILABLE) the transport may still write the buffers it was given:
   * the caller must leak them, and the communicator refuses further work. */
  graphc_status_t (*wait)(gc_comm *c, gc_comm_request *req);
  /* Exchanges `len` bytes from every rank: out holds size*len bytes. Used
   * by the agreement protocols (signatures, fingerprints). */
  graphc_status_t (*exchange)(gc_comm *c, const void *in, size_t len, void *out);
  void (*destroy)(gc_comm *c);
} gc_comm_vtable;

struct gc_comm {
  const gc_comm_vtable *vt;
  int rank, size;
  double timeout_s; /* bound on every wait; extended by agreed compile skew */
};

/* The one-rank communicator. */
graphc_status_t gc_comm_self_create(gc_comm **out);

#endif
