/* The DLPack side of the interpreter entries (interp_api.c,
 * comm_api.c): argument checks and input conversion before a run, and
 * handing the results out as DLManagedTensors after it. */
#ifndef GC_API_DLPACK_IO_H
#define GC_API_DLPACK_IO_H

#include <dlpack/dlpack.h>

#include "graphc/interp.h"
#include "interp/tensor.h"
#include "ir/ir.h"

/* Checks options and the input/output arrays against graph g, then
 * converts inputs into `in` (num_inputs entries, zeroed; NULL or a NULL
 * `out` after the checks pass: out of memory). Everything here can fail
 * on this process alone. Sets *max_bytes from the options. */
graphc_status_t gc_api_interp_inputs(const gc_graph *g, const graphc_interp_options_t *options,
                                     DLTensor *const *inputs, int num_inputs,
                                     DLManagedTensor **out_outputs, int max_outputs,
                                     uint64_t *max_bytes, gc_tensor *in, const gc_tensor *out);

/* Ends a run whose status is st: when st is NULL, moves g's outputs
 * `out` into out_outputs; on any failure deletes what was handed out and
 * frees the rest. Frees the inputs, and the arrays in and out (either
 * may be NULL). Returns the final status. */
graphc_status_t gc_api_interp_outputs(const gc_graph *g, graphc_status_t st, gc_tensor *in,
                                      int num_inputs, gc_tensor *out,
                                      DLManagedTensor **out_outputs);

#endif
