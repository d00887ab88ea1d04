/* libgraphc — the reference interpreter.
 *
 * The interpreter runs the graph IR directly. It is the oracle every
 * backend is tested against, so it favours exactness (f64 accumulation)
 * over speed. Tensors cross the boundary as DLPack (dlpack.h, v0.6):
 * inputs are borrowed DLTensors on kDLCPU, in any strides; outputs are
 * library-allocated DLManagedTensors, contiguous, that the caller releases
 * through their `deleter`.
 *
 * Inputs are matched to graph inputs by position, and checked: dtype,
 * rank, every constant dim, every symbol bound consistently across inputs.
 * An input of role GRAPHC_ROLE_SYMBOL is a 0-d int64 tensor.
 */
#ifndef GRAPHC_INTERP_H
#define GRAPHC_INTERP_H

#include <dlpack/dlpack.h>

#include "graphc/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options for graphc_interp_run; fill with graphc_interp_options_init. */
typedef struct graphc_interp_options_s {
  size_t struct_size;
  /* Refuse to allocate any single tensor larger than this many bytes
   * (0 = 16 GiB). Guards against graphs with absurd symbolic sizes. */
  uint64_t max_tensor_bytes;
} graphc_interp_options_t;

GRAPHC_API void graphc_interp_options_init(graphc_interp_options_t *options);

/* Runs `graph` on `inputs` (`num_inputs` borrowed DLTensor pointers, one per
 * graph input). On success writes graphc_graph_num_outputs() new
 * DLManagedTensor pointers to `out_outputs` (`max_outputs` slots); the
 * caller calls each one's deleter. On failure nothing is written that needs
 * freeing. `options` may be NULL. May be called from several threads on the
 * same graph at once. */
GRAPHC_API graphc_status_t graphc_interp_run(const graphc_graph_t *graph,
                                             const graphc_interp_options_t *options,
                                             DLTensor *const *inputs, int num_inputs,
                                             DLManagedTensor **out_outputs,
                                             int max_outputs);

#ifdef __cplusplus
}
#endif
#endif /* GRAPHC_INTERP_H */
