/* Training steps through a compiled executable (train_exec.h). */
#include "autodiff/train_exec.h"

#include <stdlib.h>
#include <string.h>

#include "interp/dlpack_convert.h"
#include "support/status.h"

struct gc_train_exec {
  const gc_train_step *s;
  graphc_executable_t *exe;
  int nin, nout;
  DLTensor *dl;           /* per input: the view passed to the executable   */
  DLTensor **ptrs;
  DLManagedTensor **held; /* per input: the output now holding its value    */
  DLManagedTensor **res;  /* per output, one step's results                 */
  int64_t out_bytes;
};

static size_t dl_bytes(const DLTensor *t) {
  size_t n = (size_t)(t->dtype.bits * t->dtype.lanes + 7) / 8;
  for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
  return n;
}

graphc_status_t gc_train_exec_create(const gc_train_step *s, const graphc_compile_options_t *o,
                                     gc_train_exec **out) {
  gc_train_exec *e = calloc(1, sizeof *e);
  if (!e) return GC_OOM();
  e->s = s;
  e->nin = s->graph->ninputs;
  e->nout = s->noutputs;
  e->dl = calloc((size_t)e->nin + 1, sizeof *e->dl);
  e->ptrs = calloc((size_t)e->nin + 1, sizeof *e->ptrs);
  e->held = calloc((size_t)e->nin + 1, sizeof *e->held);
  e->res = calloc((size_t)e->nout + 1, sizeof *e->res);
  graphc_status_t st = (!e->dl || !e->ptrs || !e->held || !e->res) ? GC_OOM() : NULL;
  if (!st) st = graphc_compile(s->graph, o, &e->exe);
  if (st) {
    gc_train_exec_free(e);
    return gc_status_wrap(st, "compiling training step '%s'", s->graph->name);
  }
  *out = e;
  return NULL;
}

graphc_status_t gc_train_exec_run(gc_train_exec *e, gc_tensor *inputs, double *loss) {
  for (int i = 0; i < e->nin; i++) {
    if (e->held[i]) continue; /* already points at the last step's output */
    DLTensor *d = &e->dl[i];
    d->data = inputs[i].data;
    d->device = (DLDevice){kDLCPU, 0};
    d->ndim = inputs[i].rank;
    d->dtype = gc_dtype_to_dl(inputs[i].dtype);
    d->shape = inputs[i].shape;
    d->strides = NULL;
    d->byte_offset = 0;
    e->ptrs[i] = d;
  }
  memset(e->res, 0, sizeof *e->res * (size_t)e->nout);
  GC_TRY(graphc_executable_run(e->exe, e->ptrs, e->nin, e->res, e->nout));
  DLTensor *l = &e->res[0]->dl_tensor;
  gc_tensor lt = {.dtype = inputs[0].dtype};
  graphc_status_t st = gc_tensor_from_dlpack(l, 0, &lt);
  if (!st) *loss = gc_tensor_getf(&lt, 0);
  gc_tensor_free(&lt);
  e->out_bytes = 0;
  for (int k = 0; k < e->nout; k++) e->out_bytes += (int64_t)dl_bytes(&e->res[k]->dl_tensor);
  e->res[0]->deleter(e->res[0]);
  for (int k = 1; k < e->nout; k++) {
    int i = e->s->replaces[k];
    if (st || i < 0) { /* (no output other than the loss has i < 0) */
      e->res[k]->deleter(e->res[k]);
      continue;
    }
    if (e->held[i]) e->held[i]->deleter(e->held[i]);
    e->held[i] = e->res[k];
    e->ptrs[i] = &e->res[k]->dl_tensor;
  }
  return st;
}

void gc_train_exec_sync(const gc_train_exec *e, gc_tensor *inputs) {
  for (int i = 0; i < e->nin; i++) {
    if (!e->held[i]) continue;
    const DLTensor *t = &e->held[i]->dl_tensor;
    memcpy(inputs[i].data, (const char *)t->data + t->byte_offset, dl_bytes(t));
  }
}

int64_t gc_train_exec_peak_bytes(const gc_train_exec *e) {
  return graphc_executable_peak_bytes(e->exe) + e->out_bytes;
}

graphc_executable_t *gc_train_exec_executable(const gc_train_exec *e) { return e->exe; }

void gc_train_exec_free(gc_train_exec *e) {
  if (!e) return;
  for (int i = 0; e->held && i < e->nin; i++)
    if (e->held[i]) e->held[i]->deleter(e->held[i]);
  graphc_executable_release(e->exe);
  free(e->dl);
  free(e->ptrs);
  free(e->held);
  free(e->res);
  free(e);
}
