/* Public gradients and training steps: argument checks around
 * lib/autodiff, DLPack in and (in place) out. */
#include <stdlib.h>
#include <string.h>

#include "autodiff/autodiff.h"
#include "autodiff/train_step.h"
#include "graphc/train.h"
#include "interp/dlpack_convert.h"
#include "support/status.h"

#define GC_STEP_MAGIC 0x53544550u /* "STEP" */

struct graphc_train_step_s {
  uint32_t magic;
  gc_train_step *step;
  uint64_t max_bytes;
};

void graphc_train_options_init(graphc_train_options_t *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->optimizer = GRAPHC_OPTIMIZER_SGD;
  o->learning_rate = 1e-3;
  o->beta1 = 0.9;
  o->beta2 = 0.999;
  o->eps = 1e-8;
}

graphc_status_t graphc_graph_gradient(const graphc_graph_t *forward, graphc_graph_t **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out_graph is NULL");
  *out = NULL;
  gc_grad_graph *gg;
  GC_TRY(gc_build_grad_graph(forward, &gg));
  *out = gg->graph;
  gg->graph = NULL;
  gc_grad_graph_free(gg);
  return NULL;
}

graphc_status_t graphc_train_step_create(const graphc_graph_t *forward,
                                         const graphc_train_options_t *options,
                                         graphc_train_step_t **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out_step is NULL");
  *out = NULL;
  graphc_train_options_t o;
  graphc_train_options_init(&o);
  if (options) {
    if (options->struct_size != sizeof *options)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                       "train options struct_size mismatch: call graphc_train_options_init");
    o = *options;
  }
  gc_optimizer_options opt = {.kind = (gc_optimizer_kind)o.optimizer, .lr = o.learning_rate,
                              .momentum = o.momentum, .nesterov = o.nesterov,
                              .weight_decay = o.weight_decay, .beta1 = o.beta1,
                              .beta2 = o.beta2, .eps = o.eps};
  if (opt.kind != GC_OPTIMIZER_SGD && (o.momentum != 0 || o.nesterov))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "momentum and nesterov are SGD options");
  graphc_train_step_t *h = calloc(1, sizeof *h);
  if (!h) return GC_OOM();
  graphc_status_t st = gc_build_train_step(forward, &opt, &h->step);
  if (st) {
    free(h);
    return st;
  }
  h->magic = GC_STEP_MAGIC;
  h->max_bytes = o.max_tensor_bytes ? o.max_tensor_bytes : 16ull << 30;
  *out = h;
  return NULL;
}

void graphc_train_step_release(graphc_train_step_t *step) {
  if (!step || step->magic != GC_STEP_MAGIC) return;
  gc_train_step_free(step->step);
  step->magic = 0;
  free(step);
}

const graphc_graph_t *graphc_train_step_graph(const graphc_train_step_t *step) {
  return step && step->magic == GC_STEP_MAGIC ? step->step->graph : NULL;
}

int graphc_train_step_output_target(const graphc_train_step_t *step, int output) {
  if (!step || step->magic != GC_STEP_MAGIC || output < 0 || output >= step->step->noutputs)
    return -1;
  return step->step->replaces[output];
}

/* Copies t into the caller's tensor (same dtype and shape, any strides). */
static void write_back(const gc_tensor *t, DLTensor *dst) {
  size_t es = graphc_dtype_size(t->dtype);
  char *base = (char *)dst->data + dst->byte_offset;
  if (t->numel == 0) return;
  if (!dst->strides) {
    memcpy(base, t->data, (size_t)t->numel * es);
    return;
  }
  int64_t coord[GRAPHC_MAX_RANK];
  for (int64_t i = 0; i < t->numel; i++) {
    gc_unravel(i, t->shape, t->rank, coord);
    int64_t off = 0;
    for (int d = 0; d < t->rank; d++) off += coord[d] * dst->strides[d];
    memcpy(base + off * (int64_t)es, (const char *)t->data + i * (int64_t)es, es);
  }
}

graphc_status_t graphc_train_step_run(graphc_train_step_t *step, DLTensor *const *inputs,
                                      int num_inputs, double *out_loss) {
  if (!step || step->magic != GC_STEP_MAGIC)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "train step is NULL or released");
  const gc_train_step *s = step->step;
  const gc_graph *g = s->graph;
  if (num_inputs != g->ninputs || (num_inputs && !inputs))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "step graph '%s' takes %d inputs (forward inputs, then optimizer state), got %d",
                     g->name, g->ninputs, num_inputs);
  gc_tensor *in = calloc((size_t)num_inputs + 1, sizeof *in);
  graphc_status_t st = in ? NULL : GC_OOM();
  for (int i = 0; !st && i < num_inputs; i++) {
    st = gc_tensor_from_dlpack(inputs[i], step->max_bytes, &in[i]);
    if (st) st = gc_status_wrap(st, "input %d '%s'", i, g->values[g->inputs[i]].name);
  }
  for (int k = 1; !st && k < s->noutputs; k++)
    if (!inputs[s->replaces[k]]->data && in[s->replaces[k]].numel)
      st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "input %d has no data to update", s->replaces[k]);
  double loss = 0;
  if (!st) st = gc_train_step_run(s, step->max_bytes, in, &loss);
  /* The interpreter checked every input's dtype and shape against the
   * graph, and the new values have those types, so each fits its buffer. */
  for (int k = 1; !st && k < s->noutputs; k++)
    write_back(&in[s->replaces[k]], inputs[s->replaces[k]]);
  if (!st && out_loss) *out_loss = loss;
  for (int i = 0; in && i < num_inputs; i++) gc_tensor_free(&in[i]);
  free(in);
  return st;
}
