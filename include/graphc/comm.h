/* libgraphc — communicators and distributed runs.
 *
 * A graphc_comm_t connects the ranks that run one graph together; the
 * collective ops (all_reduce, all_gather, reduce_scatter, broadcast and
 * their _start/wait forms, docs/collectives.md) reach the other ranks
 * through it. Two kinds exist: `self`, a world of one rank with no
 * transport (every collective is a copy), and MPI (Open MPI), available
 * when libgraphc was built with MPI. libgraphc has no transport of its own.
 *
 * Every wait is bounded by the communicator's timeout (default 300 s): a
 * rank that never arrives makes the others fail with
 * GRAPHC_STATUS_UNAVAILABLE "timed out after X s waiting for <collective>",
 * never hang. After a timeout the communicator is unusable (operations may
 * still be in flight; their memory is leaked on purpose): release it and
 * create a new one.
 *
 * Ownership: a communicator belongs to the caller, who releases it with
 * graphc_comm_release(), before releasing the context it was created with.
 * Thread safety: one communicator must not be used from two threads at
 * once.
 */
#ifndef GRAPHC_COMM_H
#define GRAPHC_COMM_H

#include <dlpack/dlpack.h>

#include "graphc/context.h"
#include "graphc/graph.h"
#include "graphc/interp.h"
#include "graphc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct graphc_comm_s graphc_comm_t;

/* Creates the one-rank communicator (rank 0 of 1). *out_comm is new; the
 * caller releases it. */
GRAPHC_API graphc_status_t graphc_comm_create_self(graphc_context_t *context,
                                                   graphc_comm_t **out_comm);

/* Creates an MPI communicator over every rank of `mpi_comm` — a pointer to
 * an MPI_Comm handle (`MPI_Comm c; ... graphc_comm_create_mpi(ctx, &c,
 * &comm)`), borrowed for the call only — or over MPI_COMM_WORLD when
 * `mpi_comm` is NULL. Collective: every rank of that communicator calls it
 * (a rank that does not arrives makes the others time out). libgraphc works
 * on a duplicate, so its traffic never mixes with the application's.
 * If MPI is not initialised, this initialises it (MPI_THREAD_SERIALIZED
 * requested, MPI_THREAD_FUNNELED at least) and the communicator created
 * then owns MPI: releasing it calls MPI_Finalize, after which no MPI
 * communicator can be created in this process. Initialise MPI yourself to
 * keep control of its lifetime. GRAPHC_STATUS_UNAVAILABLE "libgraphc was
 * built without MPI" when MPI support is not compiled in. */
GRAPHC_API graphc_status_t graphc_comm_create_mpi(graphc_context_t *context, void *mpi_comm,
                                                  graphc_comm_t **out_comm);

/* This process's rank in `comm`, and the number of ranks; -1 for NULL. */
GRAPHC_API int graphc_comm_rank(const graphc_comm_t *comm);
GRAPHC_API int graphc_comm_size(const graphc_comm_t *comm);

/* Bounds every later wait on `comm` (collectives and the agreement before
 * them) to `seconds`, which must be positive and finite. */
GRAPHC_API graphc_status_t graphc_comm_set_timeout(graphc_comm_t *comm, double seconds);

/* Releases `comm`. NULL is ignored. For MPI this frees the duplicate
 * communicator (and finalises MPI if this communicator initialised it). */
GRAPHC_API void graphc_comm_release(graphc_comm_t *comm);

/* Runs `graph` with the reference interpreter on this rank's `inputs`, its
 * collective ops going through `comm`. Same conventions as
 * graphc_interp_run (include/graphc/interp.h): borrowed DLTensor inputs,
 * new DLManagedTensor outputs the caller deletes, nothing to free on
 * failure; `options` may be NULL.
 *
 * Collective: every rank of `comm` calls it, with the same graph, in the
 * same order. Before running, the ranks compare a fingerprint of the
 * collective sequence the graph will issue on their inputs (op names,
 * dtypes, element counts, attributes); any difference — or a rank whose
 * inputs do not fit the graph — is GRAPHC_STATUS_FAILED_PRECONDITION on
 * every rank, naming the ranks that differ. A rank failing later, between
 * collectives, leaves the others to time out at their next collective
 * (GRAPHC_STATUS_UNAVAILABLE naming it). */
GRAPHC_API graphc_status_t graphc_interp_run_distributed(const graphc_graph_t *graph,
                                                         graphc_comm_t *comm,
                                                         const graphc_interp_options_t *options,
                                                         DLTensor *const *inputs, int num_inputs,
                                                         DLManagedTensor **out_outputs,
                                                         int max_outputs);

#ifdef __cplusplus
}
#endif
#endif /* GRAPHC_COMM_H */
