/* Tests for lib/dist/ddp_step.c (and the hooks it uses in lib/autodiff):
 * the DDP step graph's structure — one all_reduce_start per plan bucket,
 * placed as soon as the bucket's gradients are final, its wait right
 * before the bucket's first update, ignored and unread params in no bucket,
 * one all-reduce per dtype, a tied param all-reduced once — and its
 * numbers on the self communicator (one rank): the averaged gradients equal
 * the plain gradient graph's and whole training runs equal the plain step
 * bit for bit (the average over one rank is the identity and flatten /
 * cat / split only move elements). Multi-rank runs are in integration/ddp. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/autodiff.h"
#include "autodiff/train_step.h"
#include "comm/comm.h"
#include "dist/ddp_step.h"
#include "graphc/graphc.h"
#include "interp/interp_internal.h"
#include "ir/op.h"
#include "support/status.h"

#include "test_common.h"

static graphc_context_t *ctx;
static gc_comm *self;
static void setup(void) {
  OK(graphc_context_create(NULL, &ctx));
  OK(gc_comm_self_create(&self));
}
static void teardown(void) {
  self->vt->destroy(self);
  graphc_context_release(ctx);
}
TestSuite(ddp_step, .init = setup, .fini = teardown);

static gc_graph *parse(const char *text) {
  gc_graph *g;
  OK(graphc_graph_parse(ctx, text, strlen(text), "t.gc", &g));
  return g;
}

/* A small MLP: fc1 16x8+16 floats (576 B), fc2 16x16+16 (1088 B), fc3
 * 4x16+4 (272 B). Walking back with both caps at 256 B: {fc3} closes at
 * 272 B, {fc2}, {fc1} -> 3 buckets. At 512 B or 1 KiB: fc3 alone is below
 * the cap, so {fc3, fc2} (1360 B), {fc1} -> 2. At 1 MiB: one bucket. */
static const char MLP[] =
    "graph mlp(x: f32[B, 8] input, t: i64[B] input,\n"
    "    fc1.w: f32[16, 8] param, fc1.b: f32[16] param,\n"
    "    fc2.w: f32[16, 16] param, fc2.b: f32[16] param,\n"
    "    fc3.w: f32[4, 16] param, fc3.b: f32[4] param) {\n"
    "  %h1 = linear(x, fc1.w, fc1.b)\n"
    "  %a1 = relu(%h1)\n"
    "  %h2 = linear(%a1, fc2.w, fc2.b)\n"
    "  %a2 = tanh(%h2)\n"
    "  %h3 = linear(%a2, fc3.w, fc3.b)\n"
    "  %loss = cross_entropy(%h3, t)\n"
    "  return %loss\n"
    "}\n";

static const char CNN[] =
    "graph cnn(x: f32[N, 2, 6, 6] input, t: i64[N] input,\n"
    "    cw: f32[3, 2, 3, 3] param, cb: f32[3] param,\n"
    "    fw: f32[5, 27] param, fb: f32[5] param) {\n"
    "  %c = conv2d(x, cw, cb, padding=[1, 1])\n"
    "  %r = relu(%c)\n"
    "  %p = max_pool2d(%r, kernel_size=[2, 2])\n"
    "  %f = reshape(%p, shape=[N, 27])\n"
    "  %y = linear(%f, fw, fb)\n"
    "  %loss = cross_entropy(%y, t)\n"
    "  return %loss\n"
    "}\n";

static gc_ddp_step_options opts(gc_optimizer_kind kind, int64_t cap) {
  gc_ddp_step_options o;
  gc_ddp_step_options_init(&o, kind);
  o.opt.lr = 0.1;
  o.ddp.cap_bytes = cap;
  o.ddp.first_cap_bytes = cap;
  return o;
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Inputs for graph g's first `nfwd` inputs with batch `batch` (every
 * symbol), then zeros for the rest (optimizer state). */
static gc_tensor *make_inputs(const gc_graph *g, int nfwd, int64_t batch, int classes) {
  gc_tensor *ins = calloc((size_t)g->ninputs, sizeof *ins);
  cr_assert(ins);
  uint64_t s = 42;
  for (int i = 0; i < g->ninputs; i++) {
    const gc_value *v = &g->values[g->inputs[i]];
    int64_t shape[GRAPHC_MAX_RANK];
    for (int d = 0; d < v->type.rank; d++)
      if (!gc_dim_is_const(gc_graph_dims(g), v->type.dims[d], &shape[d])) shape[d] = batch;
    OK(gc_tensor_alloc(&ins[i], v->type.dtype, v->type.rank, shape, 0));
    for (int64_t e = 0; i < nfwd && e < ins[i].numel; e++) {
      uint64_t r = splitmix(&s);
      if (gc_dtype_is_float(v->type.dtype))
        gc_tensor_setf(&ins[i], e, ((double)(r >> 11) * 0x1.0p-53 - 0.5) * 0.8);
      else gc_tensor_seti(&ins[i], e, (int64_t)(r % (uint64_t)classes));
    }
  }
  return ins;
}

static void free_inputs(gc_tensor *ins, int n) {
  for (int i = 0; i < n; i++) gc_tensor_free(&ins[i]);
  free(ins);
}

static int count_op(const gc_graph *g, const char *op) {
  int n = 0;
  for (int i = 0; i < g->nnodes; i++) n += !strcmp(g->nodes[i].op->name, op);
  return n;
}

static int plan_buckets(const gc_ddp_plan *p) {
  int n = 0;
  for (int k = 0; k < p->npieces; k++) n += p->pieces[k].nparams > 0;
  return n;
}

/* The first node that reads value v, or -1. */
static int first_reader(const gc_graph *g, int v) {
  for (int i = 0; i < g->nnodes; i++)
    for (int j = 0; j < g->nodes[i].noperands; j++)
      if (g->nodes[i].operands[j] == v) return i;
  return -1;
}

static int find(const gc_graph *g, const char *name) {
  int v = gc_graph_find_value(g, name);
  cr_assert_geq(v, 0, "no value '%s' in '%s'", name, g->name);
  return v;
}

/* The step verifies and prints to text that parses back to the same text. */
static void check_text(const gc_graph *g) {
  OK(gc_graph_verify(g));
  char *a, *b;
  gc_graph *back;
  OK(graphc_graph_print(g, &a, NULL));
  OK(graphc_graph_parse(ctx, a, strlen(a), "step.gc", &back));
  OK(graphc_graph_print(back, &b, NULL));
  cr_expect_str_eq(a, b);
  graphc_free(a);
  graphc_free(b);
}

Test(ddp_step, one_start_per_bucket_placed_early) {
  gc_graph *g = parse(MLP);
  gc_ddp_step_options o = opts(GC_OPTIMIZER_SGD, 256);
  gc_ddp_step *s;
  OK(gc_ddp_step_build(g, &o, &s));
  const gc_graph *sg = s->step->graph;
  check_text(sg);
  cr_assert_eq(s->plan->npieces, 3);
  cr_expect_eq(s->nbuckets, 3);
  cr_expect_eq(count_op(sg, "all_reduce_start"), plan_buckets(s->plan));
  cr_expect_eq(count_op(sg, "wait"), s->nbuckets);
  cr_expect_eq(count_op(sg, "all_reduce"), 1); /* the loss */
  /* Buckets start in gradient-ready order: the last piece first. */
  static const char *const names[3][2] = {{"fc3.w", "fc3.b"}, {"fc2.w", "fc2.b"},
                                           {"fc1.w", "fc1.b"}};
  for (int b = 0; b < 3; b++) {
    const gc_ddp_bucket *bk = &s->buckets[b];
    cr_expect_eq(bk->piece, 2 - b);
    cr_assert_eq(bk->nparams, 2);
    /* fc1 is 16x8+16, fc2 16x16+16, fc3 4x16+4 elements. */
    static const int64_t numel[3] = {68, 272, 144};
    cr_expect_eq(bk->numel, numel[b], "bucket %d has %lld elements", b, (long long)bk->numel);
    for (int k = 0; k < 2; k++)
      cr_expect_str_eq(sg->values[sg->inputs[bk->params[k]]].name, names[b][k]);
    const gc_node *start = &sg->nodes[bk->start_node];
    cr_expect_str_eq(start->op->name, "all_reduce_start");
    cr_expect_str_eq(gc_node_attr(start, "op")->s, "avg");
    cr_expect_eq(sg->values[start->operands[0]].type.rank, 1);
    cr_expect_str_eq(sg->nodes[bk->wait_node].op->name, "wait");
    cr_expect_eq(sg->nodes[bk->wait_node].operands[0], start->results[0]);
    if (b > 0) cr_expect_lt(s->buckets[b - 1].start_node, bk->start_node);
    if (b > 0) cr_expect_lt(s->buckets[b - 1].wait_node, bk->wait_node);
  }
  /* As soon as the gradients exist: backward matmuls still follow the
   * first two starts (fc2's and fc1's weight gradients). */
  int later = 0;
  for (int i = s->buckets[0].start_node; i < s->buckets[2].start_node; i++)
    later += !strcmp(sg->nodes[i].op->name, "matmul");
  cr_expect_geq(later, 2, "bucket 0's all-reduce starts after the whole backward");
  /* Every wait comes after every start (the updates follow the backward
   * part) and right before its bucket's first update: nothing but its
   * split and reshapes (and the update's constants) sits between the wait
   * and the first reader of its averaged gradients. */
  for (int b = 0; b < 3; b++) {
    cr_expect_gt(s->buckets[b].wait_node, s->buckets[2].start_node);
    char name[64];
    snprintf(name, sizeof name, "ddp.grad.%s", names[b][0]);
    int use = first_reader(sg, find(sg, name));
    for (int i = s->buckets[b].wait_node + 1; i < use; i++)
      cr_expect(!strcmp(sg->nodes[i].op->name, "split") ||
                    !strcmp(sg->nodes[i].op->name, "reshape") ||
                    !strcmp(sg->nodes[i].op->name, "full"),
                "node %d (%s) sits between bucket %d's wait and its update", i,
                sg->nodes[i].op->name, b);
  }
  /* The updates use the averaged gradients, never the local ones. */
  int upd = first_reader(sg, find(sg, "ddp.grad.fc1.w"));
  cr_expect_gt(upd, s->buckets[2].wait_node);
  gc_ddp_step_free(s);
}

Test(ddp_step, bucket_count_follows_the_cap) {
  gc_graph *g = parse(MLP);
  int64_t caps[3] = {1024, 512, 1 << 20};
  int want[3] = {2, 2, 1};
  for (int c = 0; c < 3; c++) {
    gc_ddp_step_options o = opts(GC_OPTIMIZER_ADAM, caps[c]);
    gc_ddp_step *s;
    OK(gc_ddp_step_build(g, &o, &s));
    cr_expect_eq(s->nbuckets, want[c], "cap %lld: %d buckets", (long long)caps[c], s->nbuckets);
    cr_expect_eq(count_op(s->step->graph, "all_reduce_start"), plan_buckets(s->plan));
    check_text(s->step->graph);
    gc_ddp_step_free(s);
  }
}

/* Runs `steps` steps of the plain step and of the DDP step (self comm) on
 * the same inputs; every param, state and loss must be identical. */
static void expect_same_training(const char *text, gc_ddp_step_options o, int steps, int64_t batch,
                                 int classes) {
  gc_graph *g = parse(text);
  gc_train_step *plain;
  gc_ddp_step *ddp;
  OK(gc_build_train_step(g, &o.opt, &plain));
  OK(gc_ddp_step_build(g, &o, &ddp));
  int n = plain->graph->ninputs;
  cr_assert_eq(ddp->step->graph->ninputs, n);
  gc_tensor *a = make_inputs(plain->graph, g->ninputs, batch, classes);
  gc_tensor *b = make_inputs(ddp->step->graph, g->ninputs, batch, classes);
  for (int k = 0; k < steps; k++) {
    double la, lb;
    OK(gc_train_step_run(plain, 0, a, &la));
    OK(gc_ddp_step_run(ddp, self, 0, b, &lb));
    cr_expect_eq(la, lb, "step %d: loss %.17g vs %.17g", k + 1, la, lb);
  }
  for (int i = 0; i < n; i++) {
    cr_assert_eq(a[i].numel, b[i].numel);
    size_t bytes = (size_t)a[i].numel * graphc_dtype_size(a[i].dtype);
    cr_expect(!memcmp(a[i].data, b[i].data, bytes), "input %d ('%s') differs after %d steps", i,
              plain->graph->values[plain->graph->inputs[i]].name, steps);
  }
  free_inputs(a, n);
  free_inputs(b, n);
  gc_train_step_free(plain);
  gc_ddp_step_free(ddp);
}

Test(ddp_step, self_comm_trains_like_the_plain_step) {
  gc_ddp_step_options o = opts(GC_OPTIMIZER_SGD, 256);
  o.opt.momentum = 0.9;
  expect_same_training(MLP, o, 3, 6, 4);
  expect_same_training(MLP, opts(GC_OPTIMIZER_ADAM, 512), 3, 6, 4);
  gc_ddp_step_options w = opts(GC_OPTIMIZER_ADAMW, 1 << 20);
  expect_same_training(MLP, w, 2, 3, 4);
  expect_same_training(CNN, opts(GC_OPTIMIZER_SGD, 64), 3, 4, 5);
}

/* With SGD at lr 1 and no momentum a param moves by exactly minus its
 * gradient, so the step's new params give the averaged gradients, which
 * on one rank must be the gradient graph's. */
Test(ddp_step, averaged_gradients_equal_the_gradient_graph) {
  gc_graph *g = parse(CNN);
  gc_ddp_step_options o = opts(GC_OPTIMIZER_SGD, 64);
  o.opt.lr = 1.0;
  gc_ddp_step *ddp;
  gc_grad_graph *gg;
  OK(gc_ddp_step_build(g, &o, &ddp));
  OK(gc_build_grad_graph(g, &gg));
  cr_expect_geq(ddp->nbuckets, 2);
  gc_tensor *ins = make_inputs(ddp->step->graph, g->ninputs, 3, 5);
  gc_tensor *before = calloc((size_t)g->ninputs, sizeof *before);
  gc_tensor *grads = calloc((size_t)gg->nparams + 1, sizeof *grads);
  for (int i = 0; i < g->ninputs; i++) OK(gc_tensor_clone(&ins[i], &before[i]));
  OK(gc_interp_run_tensors(gg->graph, 0, ins, g->ninputs, grads));
  double loss;
  OK(gc_ddp_step_run(ddp, self, 0, ins, &loss));
  cr_expect_eq(loss, gc_tensor_getf(&grads[0], 0));
  for (int p = 0; p < gg->nparams; p++) {
    int in = gg->params[p];
    const gc_tensor *gr = &grads[1 + p];
    for (int64_t e = 0; e < gr->numel; e++) {
      float want = (float)gc_tensor_getf(&before[in], e) - (float)gc_tensor_getf(gr, e);
      cr_expect_eq((float)gc_tensor_getf(&ins[in], e), want, "param %d element %lld", in,
                   (long long)e);
    }
  }
  for (int k = 0; k < 1 + gg->nparams; k++) gc_tensor_free(&grads[k]);
  free(grads);
  free_inputs(before, g->ninputs);
  free_inputs(ins, ddp->step->graph->ninputs);
  gc_grad_graph_free(gg);
  gc_ddp_step_free(ddp);
}

/* Ignored params stay local; a param no op reads joins no bucket; an f64
 * param in a bucket of f32 ones gets its own all-reduce. */
Test(ddp_step, ignored_unread_and_mixed_dtypes) {
  static const char text[] =
      "graph m(x: f32[B, 4] input, w1: f32[4, 4] param, w2: f32[4, 4] param,\n"
      "    s: f64[4] param, spare: f32[3] param, frozen: f32[4] param) {\n"
      "  %h = matmul(x, w1)\n"
      "  %k = mul(%h, frozen)\n"
      "  %y = matmul(%k, w2)\n"
      "  %z = mul(%y, s)\n"
      "  %l = sum(%z)\n"
      "  return %l\n"
      "}\n";
  gc_graph *g = parse(text);
  const char *ignored[] = {"frozen"};
  gc_ddp_step_options o = opts(GC_OPTIMIZER_SGD, 1 << 20);
  o.ddp.ignored = ignored;
  o.ddp.nignored = 1;
  gc_ddp_step *s;
  OK(gc_ddp_step_build(g, &o, &s));
  const gc_graph *sg = s->step->graph;
  check_text(sg);
  cr_assert_eq(s->plan->npieces, 1);
  cr_expect_eq(s->nbuckets, 2, "one bucket per dtype");
  cr_expect_eq(count_op(sg, "all_reduce_start"), 2);
  for (int b = 0; b < s->nbuckets; b++)
    for (int k = 0; k < s->buckets[b].nparams; k++) {
      const char *name = sg->values[sg->inputs[s->buckets[b].params[k]]].name;
      cr_expect(strcmp(name, "frozen") && strcmp(name, "spare"), "'%s' is in bucket %d", name, b);
    }
  cr_expect_eq(s->buckets[0].dtype, GRAPHC_F64);
  cr_expect_eq(s->buckets[0].nparams, 1); /* s: read last, its gradient is ready first */
  cr_expect_eq(s->buckets[1].nparams, 2);
  cr_expect_lt(first_reader(sg, find(sg, "ddp.grad.s")), s->buckets[1].wait_node);
  gc_ddp_step_free(s);
  expect_same_training(text, o, 2, 3, 1);
}

/* A param two ops read (tied weights): counted at every use it is listed
 * in two buckets, but all-reduced once, with the earliest piece. */
Test(ddp_step, tied_param_reduced_once) {
  static const char text[] =
      "graph tied(x: f32[B, 8] input, w: f32[8, 8] param, v: f32[8, 8] param) {\n"
      "  %a = matmul(x, w)\n"
      "  %b = tanh(%a)\n"
      "  %c = matmul(%b, v)\n"
      "  %d = matmul(%c, w)\n"
      "  %l = sum(%d)\n"
      "  return %l\n"
      "}\n";
  gc_graph *g = parse(text);
  gc_ddp_step_options o = opts(GC_OPTIMIZER_ADAM, 256);
  o.ddp.count_every_use = true;
  gc_ddp_step *s;
  OK(gc_ddp_step_build(g, &o, &s));
  int listed = 0;
  for (int p = 0; p < s->plan->npieces; p++) listed += s->plan->pieces[p].nparams;
  cr_expect_eq(listed, 3, "w is listed twice by the plan");
  int reduced = 0;
  for (int b = 0; b < s->nbuckets; b++) reduced += s->buckets[b].nparams;
  cr_expect_eq(reduced, 2, "each param is all-reduced once");
  const gc_ddp_bucket *last = &s->buckets[s->nbuckets - 1];
  cr_expect_eq(last->piece, 0);
  cr_expect_str_eq(s->step->graph->values[s->step->graph->inputs[last->params[0]]].name, "w");
  check_text(s->step->graph);
  gc_ddp_step_free(s);
  expect_same_training(text, o, 2, 2, 1);
}

/* The hook fires once per param, in gradient-ready order (the reverse of
 * first use), each time with the final gradient. */
typedef struct ready_log {
  int order[8], grads[8], n;
} ready_log;

static graphc_status_t log_ready(void *user, gc_graph *g, int input, int grad) {
  (void)g;
  ready_log *l = user;
  l->order[l->n] = input;
  l->grads[l->n++] = grad;
  return NULL;
}

Test(ddp_step, grad_ready_hook_order) {
  gc_graph *g = parse(MLP);
  gc_graph *dst;
  OK(gc_autodiff_new_graph(g, "hooked", &dst));
  ready_log log = {0};
  int loss, grads[8];
  OK(gc_autodiff_emit_hooked(g, dst, log_ready, &log, &loss, grads));
  cr_assert_eq(log.n, 6);
  /* fc3 is read last, so its gradients are final first; linear reads w
   * before b, and both gradients become final at the same node. */
  static const int want[6][2] = {{6, 7}, {4, 5}, {2, 3}};
  for (int k = 0; k < 3; k++) {
    bool pair = (log.order[2 * k] == want[k][0] && log.order[2 * k + 1] == want[k][1]) ||
                (log.order[2 * k] == want[k][1] && log.order[2 * k + 1] == want[k][0]);
    cr_expect(pair, "hook %d/%d fired for inputs %d,%d", 2 * k, 2 * k + 1, log.order[2 * k],
              log.order[2 * k + 1]);
  }
  for (int k = 0; k < log.n; k++) cr_expect_eq(log.grads[k], grads[log.order[k]]);
  gc_graph_destroy(dst);
}

static graphc_status_t refuse(void *user, gc_graph *g, int input, int grad) {
  (void)user, (void)g, (void)grad;
  return gc_status(GRAPHC_STATUS_FAILED_PRECONDITION, "hook refused input %d", input);
}

Test(ddp_step, errors) {
  /* A hook error stops the transform. */
  gc_graph *g = parse(MLP);
  gc_graph *dst;
  OK(gc_autodiff_new_graph(g, "hooked", &dst));
  int loss, grads[8];
  graphc_status_t st = gc_autodiff_emit_hooked(g, dst, refuse, NULL, &loss, grads);
  cr_assert(st);
  cr_expect(strstr(graphc_status_message(st), "hook refused input"));
  graphc_status_free(st);
  gc_graph_destroy(dst);
  /* A counted param of symbolic shape cannot be bucketed. */
  gc_graph *sym = parse("graph s(x: f32[N] input, w: f32[N] param) {\n"
                        "  %y = mul(x, w)\n  %l = sum(%y)\n  return %l\n}\n");
  gc_ddp_step_options o = opts(GC_OPTIMIZER_SGD, 1 << 20);
  gc_ddp_step *s = NULL;
  st = gc_ddp_step_build(sym, &o, &s);
  cr_assert(st);
  cr_expect(strstr(graphc_status_message(st), "'w'"), "%s", graphc_status_message(st));
  cr_expect_null(s);
  graphc_status_free(st);
  /* ... unless it is ignored. */
  const char *ignored[] = {"w"};
  o.ddp.ignored = ignored;
  o.ddp.nignored = 1;
  OK(gc_ddp_step_build(sym, &o, &s));
  cr_expect_eq(s->nbuckets, 0);
  cr_expect_eq(count_op(s->step->graph, "all_reduce_start"), 0);
  gc_ddp_step_free(s);
  /* No params, and no communicator. */
  gc_graph *none = parse("graph n(x: f32[3] input) {\n  %l = sum(x)\n  return %l\n}\n");
  st = gc_ddp_step_build(none, &o, &s);
  cr_assert(st);
  cr_expect(strstr(graphc_status_message(st), "no param"), "%s", graphc_status_message(st));
  graphc_status_free(st);
  OK(gc_ddp_step_build(g, &o, &s));
  double l;
  st = gc_ddp_step_run(s, NULL, 0, NULL, &l);
  cr_assert(st);
  cr_expect(strstr(graphc_status_message(st), "communicator"));
  graphc_status_free(st);
  gc_ddp_step_free(s);
}
