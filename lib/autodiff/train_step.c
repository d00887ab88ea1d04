/* The step graph: forward + backward (autodiff.c) + optimizer updates
 * (optimizer.c), with the update table that says which output replaces
 * which input. Layout:
 *
 *   inputs   the forward graph's inputs, then the optimizer state
 *            (per param: momentum, or exp_avg and exp_avg_sq; then the
 *            Adam step count), all role buffer
 *   outputs  loss, the new value of each param, the new state (same order)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/autodiff.h"
#include "autodiff/train_step.h"
#include "interp/interp_internal.h"
#include "support/status.h"

void gc_train_step_free(gc_train_step *s) {
  if (!s) return;
  if (s->graph) gc_graph_destroy(s->graph);
  free(s->params);
  free(s->state);
  free(s->replaces);
  free(s);
}

/* A state input named e.g. "opt.exp_avg.w1", unique in g and fwd. */
static graphc_status_t add_state(gc_graph *g, const gc_graph *fwd, const char *what,
                                 const char *param, const gc_type *t, int *index) {
  char name[256];
  snprintf(name, sizeof name, "opt.%s%s%s", what, param ? "." : "", param ? param : "");
  for (int k = 1; gc_graph_find_value(g, name) >= 0 || gc_graph_find_value(fwd, name) >= 0; k++)
    snprintf(name, sizeof name, "opt%d.%s%s%s", k, what, param ? "." : "", param ? param : "");
  int v;
  GC_TRY(gc_graph_add_input(g, name, GRAPHC_ROLE_BUFFER, t, (gc_loc){0, 0}, &v));
  *index = g->ninputs - 1;
  return NULL;
}

/* The position in s->params of param input `in`, or -1. */
static int param_pos(const gc_train_step *s, int in) {
  for (int p = 0; p < s->nparams; p++)
    if (s->params[p] == in) return p;
  return -1;
}

/* Checks hooks->update_order: every param exactly once. */
static graphc_status_t check_order(const gc_train_step *s, const gc_train_hooks *h) {
  if (!h->update_order) return NULL;
  graphc_status_t st = h->nupdate_order == s->nparams
                           ? NULL
                           : gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                                       "train step: update order lists %d params, the graph has %d",
                                       h->nupdate_order, s->nparams);
  bool *seen = calloc((size_t)s->nparams + 1, sizeof *seen);
  if (!st && !seen) st = GC_OOM();
  for (int k = 0; !st && k < s->nparams; k++) {
    int p = param_pos(s, h->update_order[k]);
    if (p < 0 || seen[p])
      st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "train step: update order entry %d (input %d) is %s", k, h->update_order[k],
                     p < 0 ? "not a param" : "listed twice");
    else seen[p] = true;
  }
  free(seen);
  return st;
}

static graphc_status_t build(const gc_graph *fwd, const gc_optimizer_options *opt,
                             const gc_train_hooks *h, gc_train_step *s) {
  static const char *const names[] = {"momentum", "exp_avg", "exp_avg_sq", "step"};
  gc_graph *g = s->graph;
  int per = gc_optimizer_state_count(opt);
  bool has_step = opt->kind != GC_OPTIMIZER_SGD;
  s->nfwd_inputs = fwd->ninputs;
  s->params = malloc(sizeof(int) * (size_t)(fwd->ninputs + 1));
  s->state = malloc(sizeof(gc_train_state) * (size_t)(fwd->ninputs * per + 2));
  if (!s->params || !s->state) return GC_OOM();
  for (int i = 0; i < fwd->ninputs; i++)
    if (fwd->values[fwd->inputs[i]].role == GRAPHC_ROLE_PARAM) s->params[s->nparams++] = i;
  if (s->nparams == 0)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graph '%s' has no param inputs to train",
                     fwd->name);
  GC_TRY(check_order(s, h));
  for (int p = 0; p < s->nparams; p++) {
    /* Copies: adding inputs moves g->values. */
    gc_type ptype = g->values[g->inputs[s->params[p]]].type;
    const char *pname = g->values[g->inputs[s->params[p]]].name;
    for (int k = 0; k < per; k++) {
      gc_state_kind kind = opt->kind == GC_OPTIMIZER_SGD ? GC_STATE_MOMENTUM
                                                          : (gc_state_kind)(GC_STATE_EXP_AVG + k);
      gc_train_state *st = &s->state[s->nstate++];
      st->kind = kind;
      st->param = s->params[p];
      GC_TRY(add_state(g, fwd, names[kind], pname, &ptype, &st->input));
    }
  }
  int step_in = -1;
  if (has_step) {
    gc_type t = {.dtype = GRAPHC_I64, .rank = 0};
    gc_train_state *st = &s->state[s->nstate++];
    st->kind = GC_STATE_STEP;
    st->param = -1;
    GC_TRY(add_state(g, fwd, names[GC_STATE_STEP], NULL, &t, &st->input));
    step_in = st->input;
  }

  int *grads = malloc(sizeof(int) * (size_t)(fwd->ninputs + 1));
  s->noutputs = 1 + s->nparams + s->nstate;
  int *outs = malloc(sizeof(int) * (size_t)s->noutputs);
  s->replaces = malloc(sizeof(int) * (size_t)s->noutputs);
  graphc_status_t err = (!grads || !outs || !s->replaces) ? GC_OOM() : NULL;
  int loss = -1, step_next = -1;
  if (!err) err = gc_autodiff_emit_hooked(fwd, g, h->grad_ready, h->user, &loss, grads);
  if (!err && has_step) {
    /* torch increments the count before using it. */
    int one, in[2];
    graphc_attr_t a[3] = {{.name = "shape", .kind = GRAPHC_ATTR_DIMS},
                          {.name = "value", .kind = GRAPHC_ATTR_FLOAT, .f = 1.0},
                          {.name = "dtype", .kind = GRAPHC_ATTR_DTYPE, .dtype = GRAPHC_I64}};
    err = gc_graph_add_node(g, "full", NULL, 0, a, 3, NULL, 0, NULL, (gc_loc){0, 0}, &one);
    if (!err) {
      in[0] = g->inputs[step_in], in[1] = g->nodes[one].results[0];
      err = gc_graph_add_node(g, "add", in, 2, NULL, 0, NULL, 0, NULL, (gc_loc){0, 0}, &one);
    }
    if (!err) step_next = g->nodes[one].results[0];
  }
  int sbase = 1 + s->nparams, shared[2] = {-1, -1};
  for (int u = 0; !err && u < s->nparams; u++) {
    int in_idx = h->update_order ? h->update_order[u] : s->params[u];
    int p = param_pos(s, in_idx), state[2], new_state[2] = {-1, -1};
    int grad = grads[in_idx];
    if (h->before_update) err = h->before_update(h->user, g, in_idx, &grad);
    if (!err && (grad < 0 || grad >= g->nvalues ||
                 !gc_type_equal(&g->values[grad].type, &g->values[grads[in_idx]].type)))
      err = gc_status(GRAPHC_STATUS_INTERNAL, "train step: the gradient hook gave param '%s' a "
                      "value of another type", g->values[g->inputs[in_idx]].name);
    if (err) break;
    for (int k = 0; k < per; k++) state[k] = g->inputs[s->state[p * per + k].input];
    err = gc_optimizer_emit(g, opt, g->inputs[in_idx], grad, state, step_next, shared,
                            &outs[1 + p], new_state);
    s->replaces[1 + p] = in_idx;
    for (int k = 0; !err && k < per; k++) {
      outs[sbase + p * per + k] = new_state[k];
      s->replaces[sbase + p * per + k] = s->state[p * per + k].input;
    }
  }
  if (!err && h->finish) err = h->finish(h->user, g, &loss);
  if (!err) outs[0] = loss, s->replaces[0] = -1;
  if (!err && has_step) {
    outs[s->noutputs - 1] = step_next;
    s->replaces[s->noutputs - 1] = step_in;
  }
  if (!err) err = gc_graph_set_outputs(g, outs, s->noutputs);
  free(grads);
  free(outs);
  return err;
}

graphc_status_t gc_build_train_step(const gc_graph *fwd, const gc_optimizer_options *opt,
                                    gc_train_step **out) {
  return gc_build_train_step_hooked(fwd, opt, NULL, out);
}

graphc_status_t gc_build_train_step_hooked(const gc_graph *fwd, const gc_optimizer_options *opt,
                                           const gc_train_hooks *hooks, gc_train_step **out) {
  static const gc_train_hooks none = {0};
  *out = NULL;
  GC_TRY(gc_autodiff_check(fwd));
  GC_TRY(gc_optimizer_options_check(opt));
  gc_train_step *s = calloc(1, sizeof *s);
  if (!s) return GC_OOM();
  char name[256];
  snprintf(name, sizeof name, "%s_train_step", fwd->name);
  graphc_status_t st = gc_autodiff_new_graph(fwd, name, &s->graph);
  if (!st) st = build(fwd, opt, hooks ? hooks : &none, s);
  if (st) {
    gc_train_step_free(s);
    return st;
  }
  *out = s;
  return NULL;
}

graphc_status_t gc_train_step_run(const gc_train_step *s, uint64_t max_bytes, gc_tensor *inputs,
                                   double *loss) {
  gc_tensor *outs = calloc((size_t)s->noutputs, sizeof *outs);
  if (!outs) return GC_OOM();
  graphc_status_t st = gc_interp_run_tensors(s->graph, max_bytes, inputs, s->graph->ninputs, outs);
  if (st) {
    free(outs);
    return st;
  }
  *loss = gc_tensor_getf(&outs[0], 0);
  gc_tensor_free(&outs[0]);
  for (int k = 1; k < s->noutputs; k++) {
    gc_tensor *dst = &inputs[s->replaces[k]];
    gc_tensor_free(dst);
    *dst = outs[k];
  }
  free(outs);
  return NULL;
}
