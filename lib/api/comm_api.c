/* Public communicators (include/graphc/comm.h) and the distributed
 * interpreter entry: DLPack in and out around gc_interp_run_agreed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/dlpack_io.h"
#include "comm/comm.h"
#include "comm/comm_mpi.h"
#include "comm/fingerprint.h"
#include "graphc/comm.h"
#include "ir/context.h"
#include "support/status.h"

#define GC_COMM_MAGIC 0x434f4d4du /* "COMM" */

struct graphc_comm_s {
  uint32_t magic;
  gc_comm *comm;
};

static graphc_status_t wrap(gc_comm *c, graphc_comm_t **out) {
  graphc_comm_t *h = calloc(1, sizeof *h);
  if (!h) {
    c->vt->destroy(c);
    return GC_OOM();
  }
  h->magic = GC_COMM_MAGIC;
  h->comm = c;
  *out = h;
  return NULL;
}

static graphc_status_t check_comm(const graphc_comm_t *comm) {
  if (!comm) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "communicator is NULL");
  if (comm->magic != GC_COMM_MAGIC)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "communicator handle is not a live communicator");
  return NULL;
}

graphc_status_t graphc_comm_create_self(graphc_context_t *context, graphc_comm_t **out_comm) {
  if (!out_comm) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out_comm is NULL");
  *out_comm = NULL;
  GC_TRY(gc_context_check(context));
  gc_comm *c;
  GC_TRY(gc_comm_self_create(&c));
  return wrap(c, out_comm);
}

graphc_status_t graphc_comm_create_mpi(graphc_context_t *context, void *mpi_comm,
                                       graphc_comm_t **out_comm) {
  if (!out_comm) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out_comm is NULL");
  *out_comm = NULL;
  GC_TRY(gc_context_check(context));
  gc_comm *c;
  GC_TRY(gc_comm_mpi_create(mpi_comm, &c));
  return wrap(c, out_comm);
}

int graphc_comm_rank(const graphc_comm_t *comm) {
  graphc_status_t st = check_comm(comm);
  if (st) {
    graphc_status_free(st);
    return -1;
  }
  return comm->comm->rank;
}

int graphc_comm_size(const graphc_comm_t *comm) {
  graphc_status_t st = check_comm(comm);
  if (st) {
    graphc_status_free(st);
    return -1;
  }
  return comm->comm->size;
}

graphc_status_t graphc_comm_set_timeout(graphc_comm_t *comm, double seconds) {
  GC_TRY(check_comm(comm));
  if (!(seconds > 0) || !isfinite(seconds))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "communicator timeout must be a positive number of seconds, got %g", seconds);
  comm->comm->timeout_s = seconds;
  return NULL;
}

void graphc_comm_release(graphc_comm_t *comm) {
  if (!comm || comm->magic != GC_COMM_MAGIC) return;
  comm->magic = 0;
  comm->comm->vt->destroy(comm->comm);
  free(comm);
}

graphc_status_t graphc_interp_run_distributed(const graphc_graph_t *g, graphc_comm_t *comm,
                                              const graphc_interp_options_t *options,
                                              DLTensor *const *inputs, int num_inputs,
                                              DLManagedTensor **out_outputs, int max_outputs) {
  GC_TRY(check_comm(comm));
  graphc_status_t st = gc_graph_check(g);
  if (st) { /* still take part in the agreement, so the other ranks fail now */
    graphc_status_free(gc_comm_check_fingerprint(comm->comm, NULL, 0, "graph"));
    return st;
  }
  uint64_t max_bytes = 0;
  gc_tensor *in = calloc((size_t)(num_inputs > 0 ? num_inputs : 0) + 1, sizeof *in);
  gc_tensor *out = calloc((size_t)g->noutputs + 1, sizeof *out);
  st = gc_api_interp_inputs(g, options, inputs, num_inputs, out_outputs, max_outputs, &max_bytes,
                            in, out);
  if (st) { /* checks that failed here alone: still agree, so the others fail too */
    char what[320];
    snprintf(what, sizeof what, "graph '%s'", g->name);
    graphc_status_free(gc_comm_check_fingerprint(comm->comm, NULL, 0, what));
  }
  if (!st) st = gc_interp_run_agreed(g, max_bytes, comm->comm, in, num_inputs, out);
  return gc_api_interp_outputs(g, st, in, num_inputs, out, out_outputs);
}
