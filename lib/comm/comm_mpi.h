/* The MPI communicator (Open MPI on CPU): comm_mpi.c when libgraphc is
 * built with MPI (GRAPHC_HAVE_MPI), comm_mpi_stub.c otherwise.
 *
 * Creation duplicates the parent communicator (MPI_Comm_idup, so even
 * creation is a bounded wait), so libgraphc's collectives never match the
 * application's own traffic. The parent is MPI_COMM_WORLD when
 * `mpi_comm_or_null` is NULL, otherwise `*(MPI_Comm *)mpi_comm_or_null` (a
 * pointer to the handle, so the signature does not depend on how an MPI
 * implementation spells MPI_Comm). If MPI is not initialised yet, creation
 * initialises it (MPI_THREAD_SERIALIZED requested, at least
 * MPI_THREAD_FUNNELED required) and that communicator then owns MPI: its
 * destroy calls MPI_Finalize. MPI must be initialised by the application
 * when it hands a communicator in.
 *
 * Collectives are MPI_Iallreduce / MPI_Iallgather / MPI_Ireduce_scatter_block
 * / MPI_Ibcast; avg is a sum divided by the size; f16/bf16 reductions are
 * done in f32 and rounded once. wait polls MPI_Test (spinning first, then
 * sleeping with a growing backoff) until comm->timeout_s. On timeout it
 * returns GRAPHC_STATUS_UNAVAILABLE "timed out after X s waiting for
 * <what>"; the request cannot be cancelled or freed safely (a late peer may
 * still complete it), so it and its staging memory are leaked on purpose,
 * the caller must leak the buffers it passed, and the communicator is
 * marked unusable: later calls fail with FAILED_PRECONDITION instead of
 * matching the wrong collectives. Create a new communicator to go on.
 */
#ifndef GC_COMM_COMM_MPI_H
#define GC_COMM_COMM_MPI_H

#include "comm/comm.h"

/* UNAVAILABLE "libgraphc was built without MPI" in builds without MPI. */
graphc_status_t gc_comm_mpi_create(void *mpi_comm_or_null, gc_comm **out);

#endif
