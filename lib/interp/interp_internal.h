/* Interpreter entry point on internal tensors (used by the public DLPack
 * wrapper, the CLI and tests). */
#ifndef GC_INTERP_INTERNAL_H
#define GC_INTERP_INTERNAL_H

#include "interp/tensor.h"
#include "ir/ir.h"

/* Runs the top-level graph g. `inputs` are borrowed; on success `outputs`
 * (g->noutputs entries) are owned by the caller (gc_tensor_free). */
graphc_status_t gc_interp_run_tensors(const gc_graph *g, uint64_t max_bytes,
                                      const gc_tensor *inputs, int ninputs, gc_tensor *outputs);

/* Same, with a communicator for collective ops (NULL: collectives fail
 * with a clear error). */
struct gc_comm;
graphc_status_t gc_interp_run_comm(const gc_graph *g, uint64_t max_bytes, struct gc_comm *comm,
                                   const gc_tensor *inputs, int ninputs, gc_tensor *outputs);

#endif
