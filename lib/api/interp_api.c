/* Public interpreter entry: DLPack tensors in and out. */
#include <stdlib.h>
#include <string.h>

#include "graphc/interp.h"
#include "interp/dlpack_convert.h"
#include "interp/interp_internal.h"
#include "support/status.h"

void graphc_interp_options_init(graphc_interp_options_t *o) {
  if (!o) return;
  o->struct_size = sizeof *o;
  o->max_tensor_bytes = 0;
}

graphc_status_t graphc_interp_run(const graphc_graph_t *g, const graphc_interp_options_t *options,
                                  DLTensor *const *inputs, int num_inputs,
                                  DLManagedTensor **out_outputs, int max_outputs) {
  GC_TRY(gc_graph_check(g));
  uint64_t max_bytes = 16ull << 30;
  if (options) {
    if (options->struct_size != sizeof *options)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                       "interp options struct_size mismatch: call graphc_interp_options_init");
    if (options->max_tensor_bytes) max_bytes = options->max_tensor_bytes;
  }
  if (num_inputs < 0 || (num_inputs && !inputs))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "inputs is NULL");
  if (max_outputs < g->noutputs || (g->noutputs && !out_outputs))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "graph '%s' has %d outputs but out_outputs has room for %d", g->name,
                     g->noutputs, max_outputs);
  if (num_inputs != g->ninputs)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graph '%s' takes %d inputs, got %d",
                     g->name, g->ninputs, num_inputs);
  gc_tensor *in = calloc((size_t)num_inputs + 1, sizeof *in);
  gc_tensor *out = calloc((size_t)g->noutputs + 1, sizeof *out);
  graphc_status_t st = (!in || !out) ? GC_OOM() : NULL;
  for (int i = 0; !st && i < num_inputs; i++) {
    st = gc_tensor_from_dlpack(inputs[i], max_bytes, &in[i]);
    if (st) st = gc_status_wrap(st, "input %d '%s'", i, g->values[g->inputs[i]].name);
  }
  if (!st) st = gc_interp_run_tensors(g, max_bytes, in, num_inputs, out);
  int done = 0; /* outputs handed over as DLManagedTensors */
  for (; !st && done < g->noutputs; done++) {
    st = gc_tensor_to_dlpack(&out[done], &out_outputs[done]);
    if (st) break;
  }
  if (st) {
    for (int k = 0; k < done; k++) out_outputs[k]->deleter(out_outputs[k]);
    for (int k = done; out && k < g->noutputs; k++) gc_tensor_free(&out[k]);
  }
  for (int i = 0; in && i < num_inputs; i++) gc_tensor_free(&in[i]);
  free(in);
  free(out);
  return st;
}
