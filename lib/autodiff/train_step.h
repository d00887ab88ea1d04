/* Training steps as graphs (docs/autodiff.md, "The step graph").
 *
 * A step graph computes, from the forward graph's inputs plus the optimizer
 * state, the loss, every param's updated value and the updated state. The
 * optimizer is ordinary elementwise ops following torch.optim's update
 * rules, so a backend compiles the whole step as one graph. Which output
 * overwrites which input is the update table: a runtime writes those
 * outputs back into the input buffers after each step (in place). */
#ifndef GC_AUTODIFF_TRAIN_STEP_H
#define GC_AUTODIFF_TRAIN_STEP_H

#include <stdbool.h>

#include "autodiff/autodiff.h"
#include "interp/tensor.h"
#include "ir/ir.h"

typedef enum gc_optimizer_kind {
  GC_OPTIMIZER_SGD = 0,
  GC_OPTIMIZER_ADAM = 1,
  GC_OPTIMIZER_ADAMW = 2,
} gc_optimizer_kind;

typedef struct gc_optimizer_options {
  gc_optimizer_kind kind;
  double lr;
  double momentum;     /* SGD (dampening is 0)                            */
  bool nesterov;       /* SGD, needs momentum > 0                         */
  double weight_decay; /* SGD, Adam: added to the gradient; AdamW: decoupled */
  double beta1, beta2, eps; /* Adam, AdamW                                */
} gc_optimizer_options;

/* torch.optim's defaults for `kind` (lr 1e-3; AdamW weight_decay 1e-2). */
void gc_optimizer_options_default(gc_optimizer_options *o, gc_optimizer_kind kind);
/* Range checks as torch.optim makes them. */
graphc_status_t gc_optimizer_options_check(const gc_optimizer_options *o);

typedef enum gc_state_kind {
  GC_STATE_MOMENTUM = 0,   /* SGD momentum_buffer, per param    */
  GC_STATE_EXP_AVG = 1,    /* Adam exp_avg, per param           */
  GC_STATE_EXP_AVG_SQ = 2, /* Adam exp_avg_sq, per param        */
  GC_STATE_STEP = 3,       /* Adam step count, i64[], one       */
} gc_state_kind;

/* One optimizer state input. Every state starts as zeros. */
typedef struct gc_train_state {
  int input;         /* step-graph input index                     */
  gc_state_kind kind;
  int param;         /* input index of its param; -1 for the step count */
} gc_train_state;

typedef struct gc_train_step {
  gc_graph *graph;   /* owned                                              */
  int nfwd_inputs;   /* inputs [0, nfwd_inputs) are the forward graph's     */
  int nparams;
  int *params;       /* input index of each param, in input order          */
  int nstate;
  gc_train_state *state; /* inputs [nfwd_inputs, ...), in this order         */
  int noutputs;      /* 1 + nparams + nstate: loss, new params, new state   */
  int *replaces;     /* replaces[k]: the input output k overwrites, -1 = loss */
} gc_train_step;

/* Builds the step graph for `fwd` (output 0: a 0-d float loss; at least
 * one float param). The graph lives in fwd's context. */
graphc_status_t gc_build_train_step(const gc_graph *fwd, const gc_optimizer_options *opt,
                                    gc_train_step **out);

/* Ways for a caller (the DDP step, lib/dist/ddp_step.c) to insert nodes
 * into a step graph while it is built. Every member may be NULL/0. Param
 * indices are input indices (as gc_train_step.params). */
typedef struct gc_train_hooks {
  void *user;
  /* During the backward walk, as soon as a param's gradient is final
   * (gc_autodiff_emit_hooked). */
  gc_grad_ready_fn grad_ready;
  /* Right before a param's optimizer update is emitted: may set *grad to
   * another value of the same type, which the update then uses. */
  graphc_status_t (*before_update)(void *user, gc_graph *g, int param, int *grad);
  /* After every update: may set *loss to another 0-d value (output 0). */
  graphc_status_t (*finish)(void *user, gc_graph *g, int *loss);
  /* The order in which updates are emitted: `nupdate_order` param input
   * indices, each param once (a permutation of the params); NULL: input
   * order. The outputs keep their layout whatever the order. */
  const int *update_order;
  int nupdate_order;
} gc_train_hooks;

/* gc_build_train_step with hooks (NULL: none). */
graphc_status_t gc_build_train_step_hooked(const gc_graph *fwd, const gc_optimizer_options *opt,
                                           const gc_train_hooks *hooks, gc_train_step **out);
void gc_train_step_free(gc_train_step *s);

/* Emits the optimizer update of one param into g: `param`, `grad` and its
 * state values (per gc_train_state order: momentum, or exp_avg then
 * exp_avg_sq), `step` the new step count (i64[], Adam only, else -1).
 * `shared` (2 ints, -1 before the first param) caches the step's scalars
 * (bias corrections) across params. Writes the new param and new state
 * values. Used by gc_build_train_step. */
graphc_status_t gc_optimizer_emit(gc_graph *g, const gc_optimizer_options *opt, int param,
                                  int grad, const int *state, int step, int *shared,
                                  int *new_param, int *new_state);
/* How many per-param state tensors `opt` keeps (0, 1 or 2). */
int gc_optimizer_state_count(const gc_optimizer_options *opt);

/* Runs one step with the reference interpreter: inputs (graph->ninputs
 * tensors) are updated in place per the update table (only after the
 * whole step succeeded); *loss receives the loss. */
graphc_status_t gc_train_step_run(const gc_train_step *s, uint64_t max_bytes, gc_tensor *inputs,
                                  double *loss);

#endif
