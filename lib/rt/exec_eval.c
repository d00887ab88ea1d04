/* Whole calls through the kernel-IR reference executor. */
#include "rt/exec_eval.h"

#include <stdlib.h>

#include "interp/dlpack_convert.h"
#include "kernel/kir_eval.h"
#include "support/status.h"

bool gc_rt_eval_available(void) { return true; }

graphc_status_t gc_rt_eval_run(graphc_executable_t *e, DLTensor *const *in, DLManagedTensor **outs,
                               int64_t *peak) {
  const kir_program *p = e->model.prog;
  gc_tensor *ti = calloc((size_t)p->ninputs + 1, sizeof *ti);
  gc_tensor *to = calloc((size_t)p->noutputs + 1, sizeof *to);
  graphc_status_t st = (!ti || !to) ? GC_OOM() : NULL;
  for (int i = 0; !st && i < p->ninputs; i++) st = gc_tensor_from_dlpack(in[i], 0, &ti[i]);
  kir_eval_options opt = {.peak_bytes = peak};
  if (!st) st = kir_eval(p, ti, p->ninputs, to, p->noutputs, &opt);
  int done = 0;
  for (; !st && done < p->noutputs; done++) st = gc_tensor_to_dlpack(&to[done], &outs[done]);
  if (st) {
    for (int k = 0; k < done; k++) outs[k]->deleter(outs[k]), outs[k] = NULL;
    for (int k = done; to && k < p->noutputs; k++) gc_tensor_free(&to[k]);
  }
  for (int i = 0; ti && i < p->ninputs; i++) gc_tensor_free(&ti[i]);
  free(ti);
  free(to);
  return st;
}
