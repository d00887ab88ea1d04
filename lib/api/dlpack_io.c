/* See dlpack_io.h. */
#include "api/dlpack_io.h"

#include <stdlib.h>

#include "interp/dlpack_convert.h"
#include "support/status.h"

graphc_status_t gc_api_interp_inputs(const gc_graph *g, const graphc_interp_options_t *options,
                                     DLTensor *const *inputs, int num_inputs,
                                     DLManagedTensor **out_outputs, int max_outputs,
                                     uint64_t *max_bytes, gc_tensor *in, const gc_tensor *out) {
  *max_bytes = 16ull << 30;
  if (options) {
    if (options->struct_size != sizeof *options)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                       "interp options struct_size mismatch: call graphc_interp_options_init");
    if (options->max_tensor_bytes) *max_bytes = options->max_tensor_bytes;
  }
  if (num_inputs < 0 || (num_inputs && !inputs))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "inputs is NULL");
  if (max_outputs < g->noutputs || (g->noutputs && !out_outputs))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "graph '%s' has %d outputs but out_outputs has room for %d", g->name,
                     g->noutputs, max_outputs);
  if (num_inputs != g->ninputs)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graph '%s' takes %d inputs, got %d", g->name,
                     g->ninputs, num_inputs);
  if (!in || !out) return GC_OOM();
  for (int i = 0; i < num_inputs; i++) {
    graphc_status_t st = gc_tensor_from_dlpack(inputs[i], *max_bytes, &in[i]);
    if (st) return gc_status_wrap(st, "input %d '%s'", i, g->values[g->inputs[i]].name);
  }
  return NULL;
}

graphc_status_t gc_api_interp_outputs(const gc_graph *g, graphc_status_t st, gc_tensor *in,
                                      int num_inputs, gc_tensor *out,
                                      DLManagedTensor **out_outputs) {
  int done = 0; /* outputs handed over as DLManagedTensors */
  while (!st && done < g->noutputs) {
    st = gc_tensor_to_dlpack(&out[done], &out_outputs[done]);
    if (!st) done++;
  }
  if (st) { /* undo what was handed out; free what was not */
    for (int k = 0; k < done; k++) out_outputs[k]->deleter(out_outputs[k]);
    for (int k = done; out && k < g->noutputs; k++) gc_tensor_free(&out[k]);
  }
  for (int i = 0; in && i < num_inputs; i++) gc_tensor_free(&in[i]);
  free(in);
  free(out);
  return st;
}
