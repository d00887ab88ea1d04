/* The DDP step graph (ddp_step.h): a training step built through the train
 * step hooks (autodiff/train_step.h), which put each bucket's all-reduce
 * where its gradients become final and its wait where its updates begin:
 *
 *   backward ... last grad of bucket k
 *     %ddp.bucket<k>       = cat(reshape(g_a, [-1]), reshape(g_b, [-1]), ...)
 *     %ddp.bucket<k>.start = all_reduce_start(%ddp.bucket<k>, op="avg")
 *   backward ... (more buckets start)
 *   updates of params in no bucket (ignored: their gradients stay local)
 *     %ddp.bucket<k>.avg   = wait(%ddp.bucket<k>.start)
 *     split + reshape back to each param's shape: %ddp.grad.<param>
 *     updates of bucket k's params
 *   ... next bucket's wait, updates ...
 *   %ddp.loss = all_reduce(loss, op="avg")          (average_loss)
 */
#include "dist/ddp_step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/fingerprint.h"
#include "interp/interp_internal.h"
#include "support/status.h"

void gc_ddp_step_options_init(gc_ddp_step_options *o, gc_optimizer_kind kind) {
  memset(o, 0, sizeof *o);
  gc_optimizer_options_default(&o->opt, kind);
  gc_ddp_options_init(&o->ddp);
  o->average_loss = true;
}

void gc_ddp_step_free(gc_ddp_step *s) {
  if (!s) return;
  gc_train_step_free(s->step);
  gc_ddp_plan_free(s->plan);
  for (int b = 0; b < s->nbuckets; b++) free(s->buckets[b].params);
  free(s->buckets);
  free(s);
}

/* Build state shared by the hooks. */
typedef struct ddp_build {
  gc_ddp_step *s;
  const gc_graph *fwd;
  int nin;         /* forward inputs                                  */
  int *bucket_of;  /* input index -> bucket, -1 for none                */
  int *grad;       /* input index -> gradient value (ready), then averaged */
  int *nready;     /* per bucket: gradients final so far                */
  bool *waited;    /* per bucket                                        */
  int *order;      /* the update order                                  */
  int norder;
  bool average_loss;
} ddp_build;

/* Adds one node with one result named `name` (when free in g and in the
 * forward graph; the graph's own numbering otherwise). *res: the result. */
static graphc_status_t add1(ddp_build *d, gc_graph *g, const char *op, const int *in, int nin,
                            const graphc_attr_t *attrs, int nattrs, const char *name, int *node,
                            int *res) {
  const char *names[1] = {name};
  bool free_name = name && gc_graph_find_value(g, name) < 0 && gc_graph_find_value(d->fwd, name) < 0;
  int n;
  GC_TRY(gc_graph_add_node(g, op, in, nin, attrs, nattrs, NULL, 0, free_name ? names : NULL,
                           (gc_loc){0, 0}, &n));
  if (node) *node = n;
  *res = g->nodes[n].results[0];
  return NULL;
}

/* Element count of a param (the plan only counts params of constant shape). */
static int64_t numel(const gc_graph *g, const gc_type *t) {
  int64_t n = 1, e;
  for (int i = 0; i < t->rank; i++) n *= gc_dim_is_const(gc_graph_dims(g), t->dims[i], &e) ? e : 0;
  return n;
}

static graphc_status_t reshape(ddp_build *d, gc_graph *g, int x, const gc_dim *dims, int rank,
                               const char *name, int *out) {
  graphc_attr_t a = {.name = "shape", .kind = GRAPHC_ATTR_DIMS, .dims = dims, .count = rank};
  return add1(d, g, "reshape", &x, 1, &a, 1, name, NULL, out);
}

/* Bucket b's gradients are all final: flatten, concatenate, start. */
static graphc_status_t start_bucket(ddp_build *d, gc_graph *g, int b) {
  gc_ddp_bucket *bk = &d->s->buckets[b];
  int *flat = malloc(sizeof *flat * (size_t)bk->nparams);
  if (!flat) return GC_OOM();
  graphc_status_t st = NULL;
  char name[256];
  for (int k = 0; !st && k < bk->nparams; k++) {
    gc_dim len;
    st = gc_dim_const(gc_graph_dims(g), numel(g, &g->values[g->inputs[bk->params[k]]].type), &len);
    if (!st) st = reshape(d, g, d->grad[bk->params[k]], &len, 1, NULL, &flat[k]);
  }
  int cat = flat[0];
  snprintf(name, sizeof name, "ddp.bucket%d", b);
  if (!st && bk->nparams > 1) {
    graphc_attr_t a = {.name = "dim", .kind = GRAPHC_ATTR_INT, .i = 0};
    st = add1(d, g, "cat", flat, bk->nparams, &a, 1, name, NULL, &cat);
  }
  free(flat);
  graphc_attr_t op = {.name = "op", .kind = GRAPHC_ATTR_STRING, .s = "avg"};
  int h;
  snprintf(name, sizeof name, "ddp.bucket%d.start", b);
  if (!st) st = add1(d, g, "all_reduce_start", &cat, 1, &op, 1, name, &bk->start_node, &h);
  return st;
}

static graphc_status_t on_grad_ready(void *user, gc_graph *g, int input, int grad) {
  ddp_build *d = user;
  d->grad[input] = grad;
  int b = d->bucket_of[input];
  if (b < 0 || ++d->nready[b] < d->s->buckets[b].nparams) return NULL;
  return start_bucket(d, g, b);
}

/* The first update of bucket b: wait, split, reshape back. */
static graphc_status_t wait_bucket(ddp_build *d, gc_graph *g, int b) {
  gc_ddp_bucket *bk = &d->s->buckets[b];
  if (bk->start_node < 0)
    return gc_status(GRAPHC_STATUS_INTERNAL, "ddp step: bucket %d has no all-reduce before its "
                     "updates", b);
  char name[256];
  snprintf(name, sizeof name, "ddp.bucket%d.avg", b);
  int h = g->nodes[bk->start_node].results[0], avg;
  GC_TRY(add1(d, g, "wait", &h, 1, NULL, 0, name, &bk->wait_node, &avg));
  int *parts = malloc(sizeof *parts * (size_t)bk->nparams);
  int64_t *sizes = malloc(sizeof *sizes * (size_t)bk->nparams);
  graphc_status_t st = parts && sizes ? NULL : GC_OOM();
  for (int k = 0; !st && k < bk->nparams; k++)
    sizes[k] = numel(g, &g->values[g->inputs[bk->params[k]]].type);
  if (!st && bk->nparams == 1) {
    parts[0] = avg;
  } else if (!st) {
    graphc_attr_t a[2] = {{.name = "dim", .kind = GRAPHC_ATTR_INT, .i = 0},
                          {.name = "sizes", .kind = GRAPHC_ATTR_INTS, .ints = sizes,
                           .count = bk->nparams}};
    int node;
    st = gc_graph_add_node(g, "split", &avg, 1, a, 2, NULL, 0, NULL, (gc_loc){0, 0}, &node);
    for (int k = 0; !st && k < bk->nparams; k++) parts[k] = g->nodes[node].results[k];
  }
  for (int k = 0; !st && k < bk->nparams; k++) {
    int in = bk->params[k];
    gc_type t = g->values[g->inputs[in]].type;
    snprintf(name, sizeof name, "ddp.grad.%s", g->values[g->inputs[in]].name);
    st = reshape(d, g, parts[k], t.dims, t.rank, name, &d->grad[in]);
  }
  free(parts);
  free(sizes);
  return st;
}

static graphc_status_t on_update(void *user, gc_graph *g, int input, int *grad) {
  ddp_build *d = user;
  int b = d->bucket_of[input];
  if (b < 0) return NULL; /* not all-reduced: the local gradient */
  if (!d->waited[b]) {
    d->waited[b] = true;
    GC_TRY(wait_bucket(d, g, b));
  }
  *grad = d->grad[input];
  return NULL;
}

static graphc_status_t on_finish(void *user, gc_graph *g, int *loss) {
  ddp_build *d = user;
  if (!d->average_loss) return NULL;
  graphc_attr_t op = {.name = "op", .kind = GRAPHC_ATTR_STRING, .s = "avg"};
  return add1(d, g, "all_reduce", loss, 1, &op, 1, "ddp.loss", &d->s->loss_node, loss);
}

/* Buckets from the plan: pieces in gradient-ready order (last piece
 * first), one bucket per dtype within a piece. A param listed by several
 * pieces (count_every_use) goes with the earliest, where its gradient
 * becomes final. Fills bucket_of and the update order: params in no bucket
 * first (nothing to wait for), then bucket by bucket. */
static graphc_status_t make_buckets(ddp_build *d) {
  gc_ddp_step *s = d->s;
  const gc_ddp_plan *plan = s->plan;
  const gc_graph *fwd = d->fwd;
  int *owner = malloc(sizeof *owner * (size_t)(d->nin + 1));
  int total = 0;
  for (int p = 0; p < plan->npieces; p++) total += plan->pieces[p].nparams;
  s->buckets = calloc((size_t)total + 1, sizeof *s->buckets);
  if (!owner || !s->buckets) {
    free(owner);
    return GC_OOM();
  }
  for (int i = 0; i < d->nin; i++) owner[i] = -1, d->bucket_of[i] = -1;
  for (int p = plan->npieces - 1; p >= 0; p--)
    for (int k = 0; k < plan->pieces[p].nparams; k++)
      owner[fwd->values[plan->pieces[p].params[k]].index] = p;
  graphc_status_t st = NULL;
  for (int p = plan->npieces - 1; !st && p >= 0; p--) {
    const gc_ddp_piece *pc = &plan->pieces[p];
    int first = s->nbuckets;
    for (int k = 0; !st && k < pc->nparams; k++) {
      const gc_value *v = &fwd->values[pc->params[k]];
      int in = v->index;
      if (owner[in] != p || d->bucket_of[in] >= 0) continue;
      int b = first;
      while (b < s->nbuckets && s->buckets[b].dtype != v->type.dtype) b++;
      gc_ddp_bucket *bk = &s->buckets[b];
      if (b == s->nbuckets) {
        s->nbuckets++;
        *bk = (gc_ddp_bucket){.piece = p, .dtype = v->type.dtype, .start_node = -1,
                              .wait_node = -1};
        if (!(bk->params = malloc(sizeof(int) * (size_t)(pc->nparams + 1)))) st = GC_OOM();
      }
      if (st) break;
      bk->params[bk->nparams++] = in;
      bk->numel += numel(fwd, &v->type);
      d->bucket_of[in] = b;
    }
  }
  for (int i = 0; !st && i < d->nin; i++)
    if (fwd->values[fwd->inputs[i]].role == GRAPHC_ROLE_PARAM && d->bucket_of[i] < 0)
      d->order[d->norder++] = i;
  for (int b = 0; !st && b < s->nbuckets; b++)
    for (int k = 0; k < s->buckets[b].nparams; k++) d->order[d->norder++] = s->buckets[b].params[k];
  free(owner);
  return st;
}

graphc_status_t gc_ddp_step_build(const gc_graph *fwd, const gc_ddp_step_options *o,
                                  gc_ddp_step **out) {
  *out = NULL;
  GC_TRY(gc_graph_check(fwd));
  gc_ddp_step *s = calloc(1, sizeof *s);
  if (!s) return GC_OOM();
  s->loss_node = -1;
  int n = fwd->ninputs + 1;
  ddp_build d = {.s = s, .fwd = fwd, .nin = fwd->ninputs, .average_loss = o->average_loss};
  d.bucket_of = malloc(sizeof(int) * (size_t)n);
  d.grad = malloc(sizeof(int) * (size_t)n);
  d.order = malloc(sizeof(int) * (size_t)n);
  graphc_status_t st = d.bucket_of && d.grad && d.order ? NULL : GC_OOM();
  if (!st) st = gc_ddp_plan_build(fwd, &o->ddp, &s->plan);
  if (!st) st = make_buckets(&d);
  if (!st) {
    d.nready = calloc((size_t)s->nbuckets + 1, sizeof *d.nready);
    d.waited = calloc((size_t)s->nbuckets + 1, sizeof *d.waited);
    if (!d.nready || !d.waited) st = GC_OOM();
  }
  for (int i = 0; !st && i < fwd->ninputs; i++) d.grad[i] = -1;
  gc_train_hooks h = {.user = &d, .grad_ready = on_grad_ready, .before_update = on_update,
                      .finish = on_finish, .update_order = d.order, .nupdate_order = d.norder};
  if (!st) st = gc_build_train_step_hooked(fwd, &o->opt, &h, &s->step);
  free(d.bucket_of);
  free(d.grad);
  free(d.order);
  free(d.nready);
  free(d.waited);
  if (st) {
    gc_ddp_step_free(s);
    return gc_status_wrap(st, "DDP step for graph '%s'", fwd->name);
  }
  *out = s;
  return NULL;
}

graphc_status_t gc_ddp_step_run(const gc_ddp_step *s, struct gc_comm *comm, uint64_t max_bytes,
                                gc_tensor *inputs, double *loss) {
  const gc_train_step *t = s->step;
  if (!comm) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "DDP step: no communicator");
  gc_tensor *outs = calloc((size_t)t->noutputs, sizeof *outs);
  if (!outs) return GC_OOM();
  graphc_status_t st =
      gc_interp_run_agreed(t->graph, max_bytes, comm, inputs, t->graph->ninputs, outs);
  if (st) {
    free(outs);
    return st;
  }
  *loss = gc_tensor_getf(&outs[0], 0);
  gc_tensor_free(&outs[0]);
  for (int k = 1; k < t->noutputs; k++) {
    gc_tensor *dst = &inputs[t->replaces[k]];
    gc_tensor_free(dst);
    *dst = outs[k];
  }
  free(outs);
  return NULL;
}
