/* gc_comm_mpi_create for builds without MPI (GRAPHC_HAVE_MPI undefined):
 * libgraphc still builds and runs single-rank with the self communicator. */
#ifndef GRAPHC_HAVE_MPI
#include "comm/comm_mpi.h"
#include "support/status.h"

graphc_status_t gc_comm_mpi_create(void *mpi_comm_or_null, gc_comm **out) {
  (void)mpi_comm_or_null;
  if (out) *out = NULL;
  return gc_status(GRAPHC_STATUS_UNAVAILABLE, "libgraphc was built without MPI");
}
#endif
