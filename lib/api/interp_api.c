/* Public interpreter entry: DLPack tensors in and out. */
#include <stdlib.h>

#include "api/dlpack_io.h"
#include "graphc/interp.h"
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
  uint64_t max_bytes = 0;
  gc_tensor *in = calloc((size_t)(num_inputs > 0 ? num_inputs : 0) + 1, sizeof *in);
  gc_tensor *out = calloc((size_t)g->noutputs + 1, sizeof *out);
  graphc_status_t st = gc_api_interp_inputs(g, options, inputs, num_inputs, out_outputs,
                                            max_outputs, &max_bytes, in, out);
  if (!st) st = gc_interp_run_tensors(g, max_bytes, in, num_inputs, out);
  return gc_api_interp_outputs(g, st, in, num_inputs, out, out_outputs);
}
