/* libgraphc — gradients and training steps.
 *
 * A forward graph whose output 0 is a 0-d float loss can be turned into
 *   - a gradient graph (graphc_graph_gradient): same inputs; outputs the
 *     loss, then d loss / d param for every input of role
 *     GRAPHC_ROLE_PARAM, in input order (a param the loss does not use gets
 *     zeros);
 *   - a training step (graphc_train_step_create): one graph that computes
 *     the loss, the gradients and the optimizer update (SGD with momentum
 *     and Nesterov, Adam, AdamW, following torch.optim's update rules).
 *
 * Both are ordinary graphs (reverse-mode autodiff writes them with the
 * builder, in registered ops only), so they can be printed, inspected, run
 * by the interpreter or compiled by a backend. docs/autodiff.md describes
 * the transform and the gradient of every op.
 *
 * The step graph's inputs are the forward graph's inputs, in order,
 * followed by the optimizer state (role GRAPHC_ROLE_BUFFER): per param, in
 * param order, its SGD momentum buffer (when momentum != 0) or its Adam
 * exp_avg then exp_avg_sq (the param's dtype and shape); then, for Adam and
 * AdamW, the step count (i64[]). Every state buffer starts as zeros. The
 * outputs are the loss, the new value of each param, then the new state, in
 * the same order; graphc_train_step_output_target says which input each
 * output replaces.
 *
 * Ownership: a step belongs to the caller and is released with
 * graphc_train_step_release(), before the forward graph's context is
 * released. The step graph it returns is borrowed from the step. Thread
 * safety: graphc_train_step_run may be called from several threads at once
 * on the same step with different tensors.
 */
#ifndef GRAPHC_TRAIN_H
#define GRAPHC_TRAIN_H

#include <dlpack/dlpack.h>

#include "graphc/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct graphc_train_step_s graphc_train_step_t;

/* Optimizers. Values are stable ABI. */
typedef enum graphc_optimizer_e {
  GRAPHC_OPTIMIZER_SGD = 0,   /* torch.optim.SGD (dampening 0)            */
  GRAPHC_OPTIMIZER_ADAM = 1,  /* torch.optim.Adam (amsgrad off)           */
  GRAPHC_OPTIMIZER_ADAMW = 2, /* torch.optim.AdamW (decoupled weight decay) */
} graphc_optimizer_t;

/* Options for graphc_train_step_create; fill with graphc_train_options_init. */
typedef struct graphc_train_options_s {
  size_t struct_size;
  graphc_optimizer_t optimizer; /* default SGD                              */
  double learning_rate;         /* default 1e-3; must be >= 0               */
  double momentum;              /* SGD only; default 0                      */
  bool nesterov;                /* SGD only; needs momentum > 0             */
  double weight_decay;          /* default 0 (torch's AdamW default is 1e-2:
                                   set it explicitly). SGD, Adam: added to
                                   the gradient; AdamW: decoupled           */
  double beta1, beta2;          /* Adam, AdamW; default 0.9, 0.999          */
  double eps;                   /* Adam, AdamW; default 1e-8, added after
                                   the bias correction of sqrt(v)           */
  uint64_t max_tensor_bytes;    /* graphc_train_step_run's per-tensor
                                   allocation limit; 0 = 16 GiB              */
} graphc_train_options_t;

GRAPHC_API void graphc_train_options_init(graphc_train_options_t *options);

/* The gradient graph of `forward` (see above), a new graph in forward's
 * context that the caller releases with graphc_graph_release(). Errors:
 * INVALID_ARGUMENT when output 0 is not a 0-d float value or a param is
 * not a float; UNIMPLEMENTED (naming the op and its location) when the
 * loss depends on a param through an op without a gradient. */
GRAPHC_API graphc_status_t graphc_graph_gradient(const graphc_graph_t *forward,
                                                 graphc_graph_t **out_graph);

/* Builds a training step for `forward` (which needs at least one param).
 * `forward` is only read; the step keeps no reference to it. `options` may
 * be NULL (SGD, learning rate 1e-3). *out_step is released with
 * graphc_train_step_release(). */
GRAPHC_API graphc_status_t graphc_train_step_create(const graphc_graph_t *forward,
                                                    const graphc_train_options_t *options,
                                                    graphc_train_step_t **out_step);

/* Releases `step` and its graph. NULL is ignored. */
GRAPHC_API void graphc_train_step_release(graphc_train_step_t *step);

/* The step graph, borrowed (valid until the step is released). */
GRAPHC_API const graphc_graph_t *graphc_train_step_graph(const graphc_train_step_t *step);

/* The input index that output `output` of the step graph replaces after a
 * step, or -1 (the loss, or an index out of range). */
GRAPHC_API int graphc_train_step_output_target(const graphc_train_step_t *step, int output);

/* Runs one step with the reference interpreter. `inputs` holds one
 * borrowed DLTensor per step-graph input (kDLCPU, any strides, not
 * overlapping each other), with the graph's dtypes and shapes. The caller
 * owns every buffer: the params and the state are overwritten in place
 * with their new values (through the tensors' strides), the other inputs
 * are only read. Nothing is written unless the whole step succeeds.
 * *out_loss (may be NULL) receives the loss. */
GRAPHC_API graphc_status_t graphc_train_step_run(graphc_train_step_t *step,
                                                 DLTensor *const *inputs, int num_inputs,
                                                 double *out_loss);

#ifdef __cplusplus
}
#endif
#endif /* GRAPHC_TRAIN_H */
