/* Reverse-mode automatic differentiation of graphs (docs/autodiff.md).
 *
 * The forward graph's output 0 must be a 0-d float loss. The transform
 * builds a new graph (in the forward graph's context) that recomputes the
 * forward nodes and then the gradient of the loss with respect to every
 * input of role GRAPHC_ROLE_PARAM, using only registered ops, so anything
 * that runs a graph (the interpreter, a backend) runs it unchanged. */
#ifndef GC_AUTODIFF_AUTODIFF_H
#define GC_AUTODIFF_AUTODIFF_H

#include "ir/ir.h"

/* A graph named `name` in fwd's context with a copy of fwd's inputs (same
 * names, roles, types, order) and no nodes. */
graphc_status_t gc_autodiff_new_graph(const gc_graph *fwd, const char *name, gc_graph **out);

/* Emits fwd's nodes and the backward nodes into `dst`, whose inputs
 * 0..fwd->ninputs-1 are the copies made by gc_autodiff_new_graph (dst may
 * have more inputs after them). *loss receives the loss value in dst;
 * grads[i] (fwd->ninputs entries) the gradient of input i when it is a
 * param, -1 otherwise. A param the loss does not depend on gets zeros. */
graphc_status_t gc_autodiff_emit(const gc_graph *fwd, gc_graph *dst, int *loss, int *grads);

/* Called once per param, during the backward walk, as soon as its gradient
 * is final: right after the backward nodes of its earliest reader on the
 * tape (the last contribution), or at the end for a param the loss does not
 * reach (then `grad` is its zeros). `input` is the param's input index,
 * `grad` its gradient value in dst. The hook may emit nodes into dst (they
 * land between backward nodes: a DDP step starts a bucket's all-reduce
 * there); the gradient itself stays what gc_autodiff_emit returns. An error
 * stops the transform and is returned. */
typedef graphc_status_t (*gc_grad_ready_fn)(void *user, gc_graph *dst, int input, int grad);

/* gc_autodiff_emit with a gradient-ready hook (NULL: none). */
graphc_status_t gc_autodiff_emit_hooked(const gc_graph *fwd, gc_graph *dst, gc_grad_ready_fn ready,
                                        void *user, int *loss, int *grads);

/* A gradient graph: inputs as fwd; outputs the loss, then the gradient of
 * each param in input order. */
typedef struct gc_grad_graph {
  gc_graph *graph; /* owned: released by gc_grad_graph_free */
  int nparams;
  int *params;     /* input index of each param (= output index - 1) */
} gc_grad_graph;

graphc_status_t gc_build_grad_graph(const gc_graph *fwd, gc_grad_graph **out);
void gc_grad_graph_free(gc_grad_graph *gg);

/* Checks that fwd can be differentiated: a live top-level graph whose
 * output 0 is a 0-d float value and whose params are all float. */
graphc_status_t gc_autodiff_check(const gc_graph *fwd);

#endif
