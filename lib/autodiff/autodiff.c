/* The reverse-mode transform: forward emission onto a tape, then a reverse
 * walk that calls each op's gradient rule (grad_<group>.c) and accumulates
 * gradients per destination value. `call` regions are inlined in the
 * forward part; `checkpoint` regions stay whole in the forward part and are
 * recomputed, then differentiated, in the backward part (grad_region.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad.h"
#include "autodiff/autodiff.h"
#include "support/status.h"
#include "support/strbuf.h"

/* ---- rule lookup ----------------------------------------------------------- */

static const gc_grad_rule *const rule_groups[] = {
    gc_grad_rules_elementwise, gc_grad_rules_reduce, gc_grad_rules_nn, gc_grad_rules_linalg,
    gc_grad_rules_shape,       gc_grad_rules_index,  gc_grad_rules_region,
};

const gc_grad_rule *gc_grad_rule_find(const char *op) {
  for (size_t g = 0; g < sizeof rule_groups / sizeof rule_groups[0]; g++)
    for (const gc_grad_rule *r = rule_groups[g]; r->op; r++)
      if (strcmp(r->op, op) == 0) return r;
  return NULL;
}

/* ---- state ------------------------------------------------------------------- */

void ad_init(gc_ad *ad, const gc_graph *src_root, gc_graph *dst) {
  memset(ad, 0, sizeof *ad);
  ad->g = dst;
  ad->src_root = src_root;
}

void ad_release(gc_ad *ad) {
  for (int i = 0; i < ad->nenvs; i++) {
    free(ad->envs[i]->map);
    free(ad->envs[i]);
  }
  free(ad->envs);
  free(ad->dimmap);
  free(ad->grad);
  free(ad->req);
  graphc_status_free(ad->st);
  memset(ad, 0, sizeof *ad);
}

ad_env *ad_env_new(gc_ad *ad, const gc_graph *src, bool dst_dims, const char *prefix) {
  if (!ad_ok(ad)) return NULL;
  if (ad->nenvs == ad->capenvs) {
    int cap = ad->capenvs ? ad->capenvs * 2 : 8;
    ad_env **p = realloc(ad->envs, sizeof *p * (size_t)cap);
    if (!p) return ad_check(ad, GC_OOM()), NULL;
    ad->envs = p;
    ad->capenvs = cap;
  }
  ad_env *e = calloc(1, sizeof *e);
  int *map = malloc(sizeof *map * (size_t)(src->nvalues ? src->nvalues : 1));
  if (!e || !map) {
    free(e);
    free(map);
    return ad_check(ad, GC_OOM()), NULL;
  }
  for (int v = 0; v < src->nvalues; v++) map[v] = -1;
  e->src = src;
  e->dst_dims = dst_dims;
  e->map = map;
  snprintf(e->prefix, sizeof e->prefix, "%s", prefix);
  ad->envs[ad->nenvs++] = e;
  return e;
}

/* Makes grad/req cover destination value v. */
static bool ensure_vals(gc_ad *ad, int v) {
  if (v < ad->capvals) return true;
  int cap = ad->capvals ? ad->capvals : 64;
  while (cap <= v) cap *= 2;
  int *g = realloc(ad->grad, sizeof *g * (size_t)cap);
  if (g) ad->grad = g;
  bool *r = realloc(ad->req, sizeof *r * (size_t)cap);
  if (r) ad->req = r;
  if (!g || !r) return !ad_check(ad, GC_OOM());
  for (int i = ad->capvals; i < cap; i++) ad->grad[i] = -1, ad->req[i] = false;
  ad->capvals = cap;
  return true;
}

int ad_grad_of(const gc_ad *ad, int v) { return v >= 0 && v < ad->capvals ? ad->grad[v] : -1; }
bool ad_req(const gc_ad *ad, int v) { return v >= 0 && v < ad->capvals && ad->req[v]; }

bool ad_set_req(gc_ad *ad, int v, bool req) {
  if (v < 0 || !ensure_vals(ad, v)) return false;
  ad->req[v] = req;
  return true;
}

void ad_accumulate(gc_ad *ad, int v, int g) {
  if (!ad_ok(ad) || g < 0) return;
  const gc_type *tv = ad_ty(ad, v), *tg = ad_ty(ad, g);
  if (!gc_type_equal(tv, tg)) {
    char a[320], b[320];
    gc_type_format(gc_graph_dims(ad->g), tg, a, sizeof a);
    gc_type_format(gc_graph_dims(ad->g), tv, b, sizeof b);
    ad_fail(ad, GRAPHC_STATUS_INTERNAL, "gradient of '%s' has type %s, expected %s",
            ad->g->values[v].name, a, b);
    return;
  }
  if (!ensure_vals(ad, v)) return;
  int old = ad->grad[v];
  ad->grad[v] = old < 0 ? g : ad_bin(ad, "add", old, g);
}

/* ---- tape ------------------------------------------------------------------------ */

static void tape_push(gc_ad *ad, ad_tape *t, ad_env *env, int node) {
  if (t->n == t->cap) {
    int cap = t->cap ? t->cap * 2 : 64;
    ad_entry *p = realloc(t->e, sizeof *p * (size_t)cap);
    if (!p) {
      ad_check(ad, GC_OOM());
      return;
    }
    t->e = p;
    t->cap = cap;
  }
  t->e[t->n++] = (ad_entry){env, node};
}

void ad_tape_free(ad_tape *t) {
  free(t->e);
  memset(t, 0, sizeof *t);
}

/* Inlines a `call`: its region's nodes join the tape under a new env. */
static void forward_call(gc_ad *ad, ad_env *env, const gc_node *n, ad_tape *tape) {
  const gc_graph *r = n->regions[0];
  char prefix[128];
  snprintf(prefix, sizeof prefix, "%s", env->src->values[n->results[0]].name);
  ad_env *sub = ad_env_new(ad, r, env->dst_dims, prefix);
  if (!sub) return;
  for (int i = 0; i < r->ninputs; i++) sub->map[r->inputs[i]] = env->map[n->operands[i]];
  ad_forward(ad, sub, tape);
  for (int k = 0; ad_ok(ad) && k < n->nresults; k++)
    env->map[n->results[k]] = sub->map[r->outputs[k]];
}

void ad_forward(gc_ad *ad, ad_env *env, ad_tape *tape) {
  const gc_graph *src = env->src;
  for (int i = 0; ad_ok(ad) && i < src->nnodes; i++) {
    const gc_node *n = &src->nodes[i];
    ad->loc = n->loc;
    if (strcmp(n->op->name, "call") == 0) {
      forward_call(ad, env, n, tape);
      continue;
    }
    if (!ad_clone_node(ad, env, i)) return;
    tape_push(ad, tape, env, i);
    const gc_grad_rule *rule = gc_grad_rule_find(n->op->name);
    bool any = false;
    for (int j = 0; j < n->noperands; j++) any |= ad_req(ad, env->map[n->operands[j]]);
    any &= !(rule && rule->nondiff);
    for (int k = 0; k < n->nresults; k++) {
      int v = env->map[n->results[k]];
      ad_set_req(ad, v, any && gc_dtype_is_float(ad_ty(ad, v)->dtype));
    }
  }
}

/* Differentiates one recorded node. */
static void backward_node(gc_ad *ad, ad_env *env, const gc_node *n) {
  int nin = n->noperands, nout = n->nresults;
  int *in = malloc(sizeof(int) * (size_t)(2 * nin + 2 * nout + 2));
  bool *need = malloc(sizeof(bool) * (size_t)(nin + 1));
  if (!in || !need) {
    free(in);
    free(need);
    ad_check(ad, GC_OOM());
    return;
  }
  int *gin = in + nin, *out = gin + nin, *gout = out + nout;
  bool any_g = false, any_need = false;
  for (int k = 0; k < nout; k++) {
    out[k] = env->map[n->results[k]];
    gout[k] = ad_grad_of(ad, out[k]);
    any_g |= gout[k] >= 0;
  }
  for (int j = 0; j < nin; j++) {
    in[j] = env->map[n->operands[j]];
    need[j] = ad_req(ad, in[j]) && gc_dtype_is_float(ad_ty(ad, in[j])->dtype);
    gin[j] = -1;
    any_need |= need[j];
  }
  if (any_g && any_need) {
    ad->loc = n->loc;
    const gc_grad_rule *rule = gc_grad_rule_find(n->op->name);
    if (!rule || (!rule->fn && !rule->nondiff)) {
      ad_fail(ad, GRAPHC_STATUS_UNIMPLEMENTED, "op '%s' has no gradient rule", n->op->name);
    } else if (rule->fn) {
      gc_grad_call c = {n, env, in, out, gout, need, gin};
      rule->fn(ad, &c);
      for (int j = 0; ad_ok(ad) && j < nin; j++)
        if (need[j] && gin[j] >= 0) ad_accumulate(ad, in[j], gin[j]);
    }
  }
  free(in);
  free(need);
}

void ad_backward(gc_ad *ad, ad_tape *tape, int from) {
  for (int i = tape->n - 1; i >= from && ad_ok(ad); i--) {
    ad_env *env = tape->e[i].env;
    backward_node(ad, env, &env->src->nodes[tape->e[i].node]);
  }
}

void ad_through_region(gc_ad *ad, const gc_graph *r, bool dst_dims, const int *ins,
                       const int *gouts, const char *prefix) {
  ad_env *sub = ad_env_new(ad, r, dst_dims, prefix);
  if (!sub) return;
  for (int i = 0; i < r->ninputs; i++) sub->map[r->inputs[i]] = ins[i];
  ad_tape local = {0};
  gc_loc loc = ad->loc;
  ad_forward(ad, sub, &local);
  ad->loc = loc;
  for (int k = 0; ad_ok(ad) && k < r->noutputs; k++)
    if (gouts[k] >= 0) ad_accumulate(ad, sub->map[r->outputs[k]], gouts[k]);
  ad_backward(ad, &local, 0);
  ad->loc = loc;
  ad_tape_free(&local);
}

/* ---- entry points ---------------------------------------------------------------- */

graphc_status_t gc_autodiff_check(const gc_graph *fwd) {
  GC_TRY(gc_graph_check(fwd));
  if (fwd->parent)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graph '%s' is a region; differentiate its "
                     "top-level graph", fwd->name);
  if (fwd->noutputs < 1)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "graph '%s' has no outputs; output 0 must be the scalar loss", fwd->name);
  const gc_value *loss = &fwd->values[fwd->outputs[0]];
  if (loss->type.rank != 0 || !gc_dtype_is_float(loss->type.dtype)) {
    char t[320];
    gc_type_format(gc_graph_dims(fwd), &loss->type, t, sizeof t);
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "graph '%s': output 0 ('%s') must be a 0-d float loss, got %s", fwd->name,
                     loss->name, t);
  }
  for (int i = 0; i < fwd->ninputs; i++) {
    const gc_value *v = &fwd->values[fwd->inputs[i]];
    if (v->role == GRAPHC_ROLE_PARAM && !gc_dtype_is_float(v->type.dtype))
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                       "graph '%s': param '%s' has dtype %s; only float params have gradients",
                       fwd->name, v->name, graphc_dtype_name(v->type.dtype));
  }
  return NULL;
}

graphc_status_t gc_autodiff_new_graph(const gc_graph *fwd, const char *name, gc_graph **out) {
  *out = NULL;
  GC_TRY(gc_graph_check(fwd));
  gc_graph *g;
  GC_TRY(gc_graph_new(fwd->ctx, name, NULL, &g));
  gc_ad ad;
  ad_init(&ad, fwd, g);
  if (fwd->file && !(g->file = gc_strdup(fwd->file))) ad_check(&ad, GC_OOM());
  ad_env env = {.src = fwd};
  for (int i = 0; ad_ok(&ad) && i < fwd->ninputs; i++) {
    const gc_value *v = &fwd->values[fwd->inputs[i]];
    gc_type t = ad_type_tr(&ad, &env, &v->type);
    int id;
    if (ad_ok(&ad)) ad_check(&ad, gc_graph_add_input(g, v->name, v->role, &t, v->loc, &id));
  }
  graphc_status_t st = ad.st;
  ad.st = NULL;
  ad_release(&ad);
  if (st) {
    gc_graph_destroy(g);
    return st;
  }
  *out = g;
  return NULL;
}

/* ---- gradient-ready hook ------------------------------------------------------------ */

/* first[i]: the earliest tape entry that reads param input i (its
 * destination value) as an operand, -1 when none does. Inlined `call`
 * bodies read the outer value through their env, so they count; a
 * checkpoint or attention node reads its captures as operands. */
static void earliest_readers(gc_ad *ad, const gc_graph *fwd, const ad_tape *tape, int *first) {
  gc_graph *dst = ad->g;
  int *which = malloc(sizeof *which * (size_t)(dst->nvalues + 1));
  if (!which) {
    ad_check(ad, GC_OOM());
    return;
  }
  for (int v = 0; v < dst->nvalues; v++) which[v] = -1;
  for (int i = 0; i < fwd->ninputs; i++) {
    first[i] = -1;
    if (fwd->values[fwd->inputs[i]].role == GRAPHC_ROLE_PARAM) which[dst->inputs[i]] = i;
  }
  for (int t = tape->n - 1; t >= 0; t--) {
    const ad_env *env = tape->e[t].env;
    const gc_node *n = &env->src->nodes[tape->e[t].node];
    for (int j = 0; j < n->noperands; j++) {
      int v = env->map[n->operands[j]];
      if (v >= 0 && v < dst->nvalues && which[v] >= 0) first[which[v]] = t;
    }
  }
  free(which);
}

/* Makes the gradient of param input i final in grads[i] (zeros when no
 * gradient reached it) and calls the hook once. */
static void fire(gc_ad *ad, gc_grad_ready_fn ready, void *user, int i, int *grads, bool *fired) {
  if (fired[i] || !ad_ok(ad)) return;
  fired[i] = true;
  int v = ad->g->inputs[i];
  grads[i] = ad_grad_of(ad, v);
  if (grads[i] < 0) grads[i] = ad_zeros_like(ad, v); /* the loss does not use it */
  if (ready && ad_ok(ad)) ad_check(ad, ready(user, ad->g, i, grads[i]));
}

/* The backward walk, one tape entry at a time, calling the hook after the
 * entry that makes a param's gradient final. */
static void backward_with_hook(gc_ad *ad, const gc_graph *fwd, ad_tape *tape,
                               gc_grad_ready_fn ready, void *user, int *grads, bool *fired) {
  int n = fwd->ninputs;
  int *first = malloc(sizeof *first * (size_t)(n + 1));
  if (!first) {
    ad_check(ad, GC_OOM());
    return;
  }
  earliest_readers(ad, fwd, tape, first);
  for (int t = tape->n - 1; t >= 0 && ad_ok(ad); t--) {
    ad_env *env = tape->e[t].env;
    backward_node(ad, env, &env->src->nodes[tape->e[t].node]);
    for (int i = 0; i < n && ad_ok(ad); i++)
      if (first[i] == t) fire(ad, ready, user, i, grads, fired);
  }
  free(first);
}

graphc_status_t gc_autodiff_emit(const gc_graph *fwd, gc_graph *dst, int *loss, int *grads) {
  return gc_autodiff_emit_hooked(fwd, dst, NULL, NULL, loss, grads);
}

graphc_status_t gc_autodiff_emit_hooked(const gc_graph *fwd, gc_graph *dst, gc_grad_ready_fn ready,
                                        void *user, int *loss, int *grads) {
  GC_TRY(gc_autodiff_check(fwd));
  GC_TRY(gc_graph_check(dst));
  if (dst->ninputs < fwd->ninputs)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graph '%s' lacks the inputs of '%s'",
                     dst->name, fwd->name);
  gc_ad ad;
  ad_init(&ad, fwd, dst);
  ad_env *top = ad_env_new(&ad, fwd, false, "");
  for (int i = 0; top && i < fwd->ninputs; i++) {
    const gc_value *v = &fwd->values[fwd->inputs[i]];
    top->map[fwd->inputs[i]] = dst->inputs[i];
    ad_set_req(&ad, dst->inputs[i], v->role == GRAPHC_ROLE_PARAM);
  }
  ad_tape tape = {0};
  bool *fired = calloc((size_t)fwd->ninputs + 1, sizeof *fired);
  if (!fired) ad_check(&ad, GC_OOM());
  for (int i = 0; i < fwd->ninputs; i++) grads[i] = -1;
  if (top) ad_forward(&ad, top, &tape);
  int l = top ? top->map[fwd->outputs[0]] : -1;
  ad.loc = (gc_loc){0, 0};
  if (ad_ok(&ad) && ad_req(&ad, l)) {
    ad_accumulate(&ad, l, ad_scalar(&ad, 1.0, ad_ty(&ad, l)->dtype));
    backward_with_hook(&ad, fwd, &tape, ready, user, grads, fired);
  }
  ad.loc = (gc_loc){0, 0};
  /* Params no tape entry reads (or all, when the loss reaches none). */
  for (int i = 0; ad_ok(&ad) && i < fwd->ninputs; i++)
    if (fwd->values[fwd->inputs[i]].role == GRAPHC_ROLE_PARAM)
      fire(&ad, ready, user, i, grads, fired);
  *loss = l;
  free(fired);
  ad_tape_free(&tape);
  graphc_status_t st = ad.st;
  ad.st = NULL;
  ad_release(&ad);
  return st;
}

void gc_grad_graph_free(gc_grad_graph *gg) {
  if (!gg) return;
  if (gg->graph) gc_graph_destroy(gg->graph);
  free(gg->params);
  free(gg);
}

graphc_status_t gc_build_grad_graph(const gc_graph *fwd, gc_grad_graph **out) {
  *out = NULL;
  GC_TRY(gc_autodiff_check(fwd));
  gc_grad_graph *gg = calloc(1, sizeof *gg);
  int *grads = malloc(sizeof *grads * (size_t)(fwd->ninputs + 1));
  int *outs = malloc(sizeof *outs * (size_t)(fwd->ninputs + 1));
  graphc_status_t st = NULL;
  if (!gg || !grads || !outs || !(gg->params = malloc(sizeof(int) * (size_t)(fwd->ninputs + 1))))
    st = GC_OOM();
  char name[256];
  snprintf(name, sizeof name, "%s_grad", fwd->name);
  if (!st) st = gc_autodiff_new_graph(fwd, name, &gg->graph);
  int loss = -1;
  if (!st) st = gc_autodiff_emit(fwd, gg->graph, &loss, grads);
  if (!st) {
    int n = 0;
    outs[n++] = loss;
    for (int i = 0; i < fwd->ninputs; i++)
      if (grads[i] >= 0) {
        gg->params[gg->nparams++] = i;
        outs[n++] = grads[i];
      }
    st = gc_graph_set_outputs(gg->graph, outs, n);
  }
  free(grads);
  free(outs);
  if (st) {
    gc_grad_graph_free(gg);
    return st;
  }
  *out = gg;
  return NULL;
}
