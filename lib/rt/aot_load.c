/* Loading an AOT artifact: its embedded description plus the kernel entry
 * points the program linked. Everything is checked before any generated
 * instruction can run: the description's ABI and environment versions,
 * then the CPU features the code was compiled for. */
#include <stdlib.h>

#include "rt/cpu_features.h"
#include "rt/executable.h"
#include "support/status.h"

graphc_status_t graphc_aot_load(graphc_context_t *ctx, const unsigned char *desc, size_t length,
                                void (*const *kernels)(void), int num_kernels,
                                graphc_executable_t **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out_executable is NULL");
  *out = NULL;
  if (!desc || !length) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "description is NULL or empty");
  if (num_kernels < 0 || (num_kernels && !kernels))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "kernel table is NULL");
  gc_model m;
  graphc_status_t st = gc_model_deserialize(desc, length, &m);
  if (st) return gc_status_wrap(st, "loading AOT artifact");
  st = gc_cpu_check_features(m.features, m.cpu, NULL);
  if (st) {
    st = gc_status_wrap(st, "loading AOT artifact '%s'", m.name);
    gc_model_free(&m);
    return st;
  }
  if (num_kernels != m.prog->nkernels) {
    st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                   "AOT artifact '%s' has %d kernels but the table passed has %d: the header and "
                   "the object come from different compiles", m.name, m.prog->nkernels, num_kernels);
    gc_model_free(&m);
    return st;
  }
  gc_kernels k = {0};
  k.fns = calloc((size_t)num_kernels + 1, sizeof *k.fns);
  if (!k.fns) {
    gc_model_free(&m);
    return GC_OOM();
  }
  /* The table is type-erased in the public header; every entry is a
   * gc_kernel_fn in the object (kernel_abi.h). */
  for (int i = 0; i < num_kernels; i++) k.fns[i] = (gc_kernel_fn)kernels[i];
  return gc_executable_create_in(ctx, &m, k, GC_EXEC_NATIVE, out);
}
