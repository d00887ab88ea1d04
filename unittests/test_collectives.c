/* Tests for the collective ops (lib/ops/ops_collective.c), the self
 * communicator (lib/comm/comm_self.c), the collective fingerprint and its
 * agreement (lib/comm/fingerprint.c) and the public communicator API
 * (lib/api/comm_api.c). Multi-rank layouts (all_gather / reduce_scatter
 * along an inner dim, rank order) use a fake two-rank communicator defined
 * here whose peer's data is ours + 100; the real MPI runs are in
 * integration/mpi. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "comm/comm_mpi.h"
#include "comm/fingerprint.h"
#include "graphc/comm.h"
#include "graphc/text.h"
#include "interp/interp_internal.h"
#include "ir/op.h"

/* ---- harness ---------------------------------------------------------------- */

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
TestSuite(collectives, .init = setup, .fini = teardown);

static gc_graph *parse(const char *text) {
  gc_graph *g;
  OK(graphc_graph_parse(ctx, text, strlen(text), "t.gc", &g));
  return g;
}

static void parse_fails(const char *text, const char *needle) {
  gc_graph *g = NULL;
  FAILS(graphc_graph_parse(ctx, text, strlen(text), "t.gc", &g), GRAPHC_STATUS_VERIFY_ERROR, needle);
}

/* A tensor of dtype dt, shape `shape` (rank r), values from doubles. */
static gc_tensor tens(gc_dtype dt, int r, const int64_t *shape, const double *vals) {
  gc_tensor t;
  OK(gc_tensor_alloc(&t, dt, r, shape, 0));
  for (int64_t i = 0; i < t.numel; i++) gc_tensor_setf(&t, i, vals[i]);
  return t;
}
#define S(...) ((int64_t[]){__VA_ARGS__})
#define T(dt, shp, ...) tens(dt, (int)(sizeof shp / sizeof(int64_t)), shp, (double[]){__VA_ARGS__})

/* Runs single-input, single-output g through comm c; the input is freed. */
static graphc_status_t try_run(gc_graph *g, gc_comm *c, gc_tensor in, gc_tensor *out) {
  graphc_status_t st = gc_interp_run_comm(g, 0, c, &in, 1, out);
  gc_tensor_free(&in);
  return st;
}
static gc_tensor run(gc_graph *g, gc_comm *c, gc_tensor in) {
  gc_tensor r;
  OK(try_run(g, c, in, &r));
  return r;
}

static void expect_vals(const gc_tensor *t, gc_dtype dt, int64_t n, const double *want) {
  cr_assert_eq(t->dtype, dt, "dtype %s, want %s", graphc_dtype_name(t->dtype), graphc_dtype_name(dt));
  cr_assert_eq(t->numel, n, "numel %lld, want %lld", (long long)t->numel, (long long)n);
  for (int64_t i = 0; i < n; i++)
    cr_expect(gc_tensor_getf(t, i) == want[i] || (isnan(want[i]) && isnan(gc_tensor_getf(t, i))),
              "element %lld: got %.17g, want %.17g", (long long)i, gc_tensor_getf(t, i), want[i]);
}
#define EXPECT(t, dt, ...)                                                              \
  expect_vals(&(t), dt, (int64_t)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)), \
              (double[]){__VA_ARGS__})
#define SHAPE(t, ...)                                                                   \
  do {                                                                                  \
    int64_t want_[] = {__VA_ARGS__};                                                    \
    cr_assert_eq((t).rank, (int)(sizeof want_ / sizeof want_[0]));                      \
    for (int d_ = 0; d_ < (t).rank; d_++) cr_expect_eq((t).shape[d_], want_[d_], "dim %d", d_); \
  } while (0)

/* ---- a fake two-rank communicator ----------------------------------------- */

/* This process is rank `rank` of 2; the peer's buffer is ours + 100 (f32,
 * f64, i64; other dtypes: the same bytes). exchange returns `peer_record`
 * for the peer when set (a disagreeing rank), else our own bytes. */
typedef struct fake_comm {
  gc_comm base;
  const uint8_t *peer_record;
  int exchanges, collectives;
} fake_comm;

static void peer_of(const void *in, void *out, int64_t n, graphc_dtype_t dt) {
  memcpy(out, in, (size_t)n * graphc_dtype_size(dt));
  for (int64_t i = 0; i < n; i++) {
    if (dt == GRAPHC_F64) ((double *)out)[i] += 100;
    else if (dt == GRAPHC_F32) ((float *)out)[i] += 100;
    else if (dt == GRAPHC_I64) ((int64_t *)out)[i] += 100;
  }
}

static gc_comm_request *fake_req(void) { return malloc(1); }

static double fake_get(const void *p, int64_t i, graphc_dtype_t dt) {
  if (dt == GRAPHC_F64) return ((const double *)p)[i];
  if (dt == GRAPHC_I64) return (double)((const int64_t *)p)[i];
  return ((const uint8_t *)p)[i];
}
static void fake_set(void *p, int64_t i, graphc_dtype_t dt, double v) {
  if (dt == GRAPHC_F64) ((double *)p)[i] = v;
  else if (dt == GRAPHC_I64) ((int64_t *)p)[i] = (int64_t)v;
  else ((uint8_t *)p)[i] = (uint8_t)v;
}
static double fake_combine(double a, double b, gc_reduce_op op) {
  return op == GC_REDUCE_MAX ? fmax(a, b) : op == GC_REDUCE_AVG ? (a + b) / 2 : a + b;
}

static graphc_status_t fake_all_reduce(gc_comm *c, void *buf, int64_t count, graphc_dtype_t dt,
                                       gc_reduce_op op, const char *what, gc_comm_request **out) {
  (void)what;
  ((fake_comm *)c)->collectives++;
  void *peer = malloc((size_t)(count + 1) * graphc_dtype_size(dt));
  peer_of(buf, peer, count, dt);
  for (int64_t i = 0; i < count; i++)
    fake_set(buf, i, dt, fake_combine(fake_get(buf, i, dt), fake_get(peer, i, dt), op));
  free(peer);
  *out = fake_req();
  return NULL;
}

static graphc_status_t fake_all_gather(gc_comm *c, const void *in, void *out, int64_t count,
                                       graphc_dtype_t dt, const char *what, gc_comm_request **req) {
  (void)what;
  ((fake_comm *)c)->collectives++;
  size_t bytes = (size_t)count * graphc_dtype_size(dt);
  char *mine = (char *)out + (size_t)c->rank * bytes, *theirs = (char *)out + (size_t)(1 - c->rank) * bytes;
  memcpy(mine, in, bytes);
  peer_of(in, theirs, count, dt);
  *req = fake_req();
  return NULL;
}

static graphc_status_t fake_reduce_scatter(gc_comm *c, const void *in, void *out, int64_t count,
                                           graphc_dtype_t dt, gc_reduce_op op, const char *what,
                                           gc_comm_request **req) {
  (void)what;
  ((fake_comm *)c)->collectives++;
  void *peer = malloc((size_t)(2 * count + 1) * graphc_dtype_size(dt));
  peer_of(in, peer, 2 * count, dt);
  for (int64_t i = 0; i < count; i++) {
    int64_t j = c->rank * count + i;
    fake_set(out, i, dt, fake_combine(fake_get(in, j, dt), fake_get(peer, j, dt), op));
  }
  free(peer);
  *req = fake_req();
  return NULL;
}

static graphc_status_t fake_broadcast(gc_comm *c, void *buf, int64_t count, graphc_dtype_t dt,
                                      int root, const char *what, gc_comm_request **out) {
  (void)what;
  ((fake_comm *)c)->collectives++;
  if (root != c->rank) peer_of(buf, buf, count, dt);
  *out = fake_req();
  return NULL;
}

static graphc_status_t fake_wait(gc_comm *c, gc_comm_request *req) {
  (void)c;
  free(req);
  return NULL;
}

static graphc_status_t fake_exchange(gc_comm *c, const void *in, size_t len, void *out) {
  fake_comm *f = (fake_comm *)c;
  f->exchanges++;
  memcpy((char *)out + (size_t)c->rank * len, in, len);
  memcpy((char *)out + (size_t)(1 - c->rank) * len, f->peer_record ? f->peer_record : in, len);
  return NULL;
}

static const gc_comm_vtable fake_vt = {"fake", fake_all_reduce, fake_all_gather, fake_reduce_scatter,
                                       fake_broadcast, fake_wait, fake_exchange, NULL};

static fake_comm fake(int rank) {
  fake_comm f = {.base = {.vt = &fake_vt, .rank = rank, .size = 2, .timeout_s = 1}};
  return f;
}

/* ---- all_reduce ---------------------------------------------------------------- */

Test(collectives, all_reduce_self_is_identity) {
  static const char *ops[] = {"sum", "avg", "max"};
  for (int k = 0; k < 3; k++) {
    char text[256];
    snprintf(text, sizeof text, "graph g(x: f32[2, 3] input) {\n  %%y = all_reduce(x, op=%s)\n  return %%y\n}", ops[k]);
    gc_tensor r = run(parse(text), self, T(GRAPHC_F32, S(2, 3), 1.5, -2, 0.1f, NAN, 1e30f, -0.0));
    SHAPE(r, 2, 3);
    EXPECT(r, GRAPHC_F32, 1.5, -2, 0.1f, NAN, 1e30f, -0.0); /* avg of one rank is x itself */
    gc_tensor_free(&r);
  }
  /* other dtypes: i32 sum, f16 avg, bool max, f64 0-d */
  gc_tensor r = run(parse("graph g(x: i32[3] input) { %y = all_reduce(x) return %y }"), self,
                    T(GRAPHC_I32, S(3), 2147483647, -5, 0));
  EXPECT(r, GRAPHC_I32, 2147483647, -5, 0);
  gc_tensor_free(&r);
  r = run(parse("graph g(x: f16[2] input) { %y = all_reduce(x, op=avg) return %y }"), self,
          T(GRAPHC_F16, S(2), 0.333251953125, 65504));
  EXPECT(r, GRAPHC_F16, 0.333251953125, 65504);
  gc_tensor_free(&r);
  r = run(parse("graph g(x: bool[3] input) { %y = all_reduce(x, op=max) return %y }"), self,
          T(GRAPHC_BOOL, S(3), 1, 0, 1));
  EXPECT(r, GRAPHC_BOOL, 1, 0, 1);
  gc_tensor_free(&r);
  gc_tensor in;
  OK(gc_tensor_alloc(&in, GRAPHC_F64, 0, NULL, 0));
  gc_tensor_setf(&in, 0, 0.1);
  r = run(parse("graph g(x: f64[] input) { %y = all_reduce(x, op=sum) return %y }"), self, in);
  EXPECT(r, GRAPHC_F64, 0.1);
  gc_tensor_free(&r);
}

Test(collectives, all_reduce_two_ranks) {
  fake_comm f = fake(0);
  gc_graph *g = parse("graph g(x: f32[3] input) { %y = all_reduce(x, op=sum) return %y }");
  gc_tensor r = run(g, &f.base, T(GRAPHC_F32, S(3), 1, 2.5, -7));
  EXPECT(r, GRAPHC_F32, 102, 105, 86);
  gc_tensor_free(&r);
  r = run(parse("graph g(x: f32[2] input) { %y = all_reduce(x, op=avg) return %y }"), &f.base,
          T(GRAPHC_F32, S(2), 1, -3));
  EXPECT(r, GRAPHC_F32, 51, 47);
  gc_tensor_free(&r);
  /* i32 sums wrap like PyTorch's int32 (reduced in i64, wrapped once) */
  r = run(parse("graph g(x: i32[2] input) { %y = all_reduce(x, op=max) return %y }"), &f.base,
          T(GRAPHC_I32, S(2), 1, -300));
  EXPECT(r, GRAPHC_I32, 101, -200);
  gc_tensor_free(&r);
  r = run(parse("graph g(x: i32[1] input) { %y = all_reduce(x) return %y }"), &f.base,
          T(GRAPHC_I32, S(1), 2147483600));
  EXPECT(r, GRAPHC_I32, (double)(int32_t)(uint32_t)(2u * 2147483600u + 100u));
  gc_tensor_free(&r);
  cr_expect_eq(f.collectives, 4);
  cr_expect_eq(f.exchanges, 0, "static shapes need no count agreement");
}

Test(collectives, all_reduce_infer_errors) {
  parse_fails("graph g(x: f32[2] input) { %y = all_reduce(x, op=min) return %y }",
              "expected sum, avg or max, got 'min'");
  parse_fails("graph g(x: i64[2] input) { %y = all_reduce(x, op=avg) return %y }",
              "op=avg needs a float dtype");
  parse_fails("graph g(x: bool[2] input) { %y = all_reduce(x) return %y }", "not defined for bool");
}

/* ---- all_gather ------------------------------------------------------------------ */

Test(collectives, all_gather) {
  gc_graph *g = parse("graph g(x: f32[B, 2] input) { %y = all_gather(x, world=1) return %y }");
  cr_expect_eq(g->values[g->outputs[0]].type.dims[0], g->values[g->inputs[0]].type.dims[0]);
  gc_tensor r = run(g, self, T(GRAPHC_F32, S(2, 2), 1, 2, 3, 4));
  SHAPE(r, 2, 2);
  EXPECT(r, GRAPHC_F32, 1, 2, 3, 4);
  gc_tensor_free(&r);

  /* two ranks: rank order along dim 0, then along an inner dim */
  fake_comm f = fake(1);
  g = parse("graph g(x: f64[2, 2] input) { %y = all_gather(x, dim=0, world=2) return %y }");
  r = run(g, &f.base, T(GRAPHC_F64, S(2, 2), 1, 2, 3, 4));
  SHAPE(r, 4, 2);
  EXPECT(r, GRAPHC_F64, 101, 102, 103, 104, 1, 2, 3, 4); /* rank 0 (the peer) first */
  gc_tensor_free(&r);
  f = fake(0);
  g = parse("graph g(x: i64[2, 2, 1] input) { %y = all_gather(x, dim=-2, world=2) return %y }");
  r = run(g, &f.base, T(GRAPHC_I64, S(2, 2, 1), 1, 2, 3, 4));
  SHAPE(r, 2, 4, 1);
  EXPECT(r, GRAPHC_I64, 1, 2, 101, 102, 3, 4, 103, 104);
  gc_tensor_free(&r);

  /* symbolic dims scale symbolically */
  g = parse("graph g(x: f32[B] input) { %y = all_gather(x, world=4) return %y }");
  char buf[64];
  gc_type_format(gc_graph_dims(g), &g->values[g->outputs[0]].type, buf, sizeof buf);
  cr_expect_str_eq(buf, "f32[4*B]");
  /* the world attribute must match the communicator */
  gc_tensor out;
  FAILS(try_run(g, self, T(GRAPHC_F32, S(1), 1), &out), GRAPHC_STATUS_FAILED_PRECONDITION,
        "world=4 but the communicator has 1 rank");

  parse_fails("graph g(x: f32[2] input) { %y = all_gather(x) return %y }", "missing attribute 'world'");
  parse_fails("graph g(x: f32[] input) { %y = all_gather(x, world=1) return %y }", "at least one dim");
  parse_fails("graph g(x: f32[2] input) { %y = all_gather(x, dim=1, world=1) return %y }", "out of range");
  parse_fails("graph g(x: f32[2] input) { %y = all_gather(x, world=0) return %y }", "attribute world");
}

/* ---- reduce_scatter ---------------------------------------------------------------- */

Test(collectives, reduce_scatter) {
  gc_graph *g = parse("graph g(x: f32[4] input) { %y = reduce_scatter(x, op=avg, world=1) return %y }");
  gc_tensor r = run(g, self, T(GRAPHC_F32, S(4), 1, 2, 3, 4));
  EXPECT(r, GRAPHC_F32, 1, 2, 3, 4);
  gc_tensor_free(&r);

  fake_comm f = fake(1);
  g = parse("graph g(x: f32[4] input) { %y = reduce_scatter(x, world=2) return %y }");
  r = run(g, &f.base, T(GRAPHC_F32, S(4), 1, 2, 3, 4));
  EXPECT(r, GRAPHC_F32, 106, 108); /* rank 1 keeps the second half */
  gc_tensor_free(&r);
  /* along dim 1 of [2, 4]: rank 0 keeps columns 0-1 of every row */
  f = fake(0);
  g = parse("graph g(x: f64[2, 4] input) { %y = reduce_scatter(x, dim=1, op=max, world=2) return %y }");
  r = run(g, &f.base, T(GRAPHC_F64, S(2, 4), 1, 2, 3, 4, 5, 6, 7, 8));
  SHAPE(r, 2, 2);
  EXPECT(r, GRAPHC_F64, 101, 102, 105, 106);
  gc_tensor_free(&r);

  /* symbolic: B//2, checked at run time */
  g = parse("graph g(x: f32[B] input) { %y = reduce_scatter(x, world=1) return %y }");
  char buf[64];
  gc_type_format(gc_graph_dims(g), &g->values[g->outputs[0]].type, buf, sizeof buf);
  cr_expect_str_eq(buf, "f32[B]");
  f = fake(0);
  g = parse("graph g(x: f32[B] input) { %y = reduce_scatter(x, world=2) return %y }");
  gc_tensor out;
  FAILS(try_run(g, &f.base, T(GRAPHC_F32, S(3), 1, 2, 3), &out), GRAPHC_STATUS_OUT_OF_RANGE,
        "not divisible by world=2");

  parse_fails("graph g(x: f32[3] input) { %y = reduce_scatter(x, world=2) return %y }",
              "not divisible by world=2");
  parse_fails("graph g(x: bool[2] input) { %y = reduce_scatter(x, world=1) return %y }", "bool");
}

/* ---- broadcast ------------------------------------------------------------------- */

Test(collectives, broadcast) {
  gc_graph *g = parse("graph g(x: bf16[3] input) { %y = broadcast(x) return %y }");
  gc_tensor r = run(g, self, T(GRAPHC_BF16, S(3), 1, 2, 3));
  EXPECT(r, GRAPHC_BF16, 1, 2, 3);
  gc_tensor_free(&r);
  fake_comm f = fake(1);
  g = parse("graph g(x: f32[2] input) { %y = broadcast(x, root=0) return %y }");
  r = run(g, &f.base, T(GRAPHC_F32, S(2), 1, 2));
  EXPECT(r, GRAPHC_F32, 101, 102); /* root 0's data */
  gc_tensor_free(&r);
  g = parse("graph g(x: f32[2] input) { %y = broadcast(x, root=1) return %y }");
  gc_tensor out;
  FAILS(try_run(g, self, T(GRAPHC_F32, S(2), 1, 2), &out), GRAPHC_STATUS_OUT_OF_RANGE,
        "root=1 is not a rank");
  parse_fails("graph g(x: f32[2] input) { %y = broadcast(x, root=-1) return %y }", "attribute root");
}

/* ---- async forms ------------------------------------------------------------------- */

Test(collectives, start_and_wait) {
  gc_graph *g = parse("graph g(x: f32[4] input) {\n"
                      "  %h1 = all_reduce_start(x, op=sum)\n"
                      "  %h2 = all_gather_start(x, world=2)\n"
                      "  %h3 = reduce_scatter_start(x, op=avg, world=2)\n"
                      "  %h4 = broadcast_start(x, root=1)\n"
                      "  %m = mul(x, x)\n" /* compute between start and wait */
                      "  %a = wait(%h1)\n  %b = wait(%h2)\n  %c = wait(%h3)\n  %d = wait(%h4)\n"
                      "  %s = cat(%a, %b, %c, %d, %m, dim=0)\n"
                      "  return %s\n}");
  cr_expect(g->nodes[0].op->flags & GC_OPF_COLLECTIVE);
  cr_expect(g->nodes[5].op->flags & GC_OPF_COLLECTIVE);
  fake_comm f = fake(0);
  gc_tensor r = run(g, &f.base, T(GRAPHC_F32, S(4), 1, 2, 3, 4));
  EXPECT(r, GRAPHC_F32, 102, 104, 106, 108,                 /* all_reduce */
         1, 2, 3, 4, 101, 102, 103, 104,                    /* all_gather */
         51, 52,                                            /* reduce_scatter avg */
         101, 102, 103, 104,                                /* broadcast from rank 1 */
         1, 4, 9, 16);
  gc_tensor_free(&r);
  cr_expect_eq(f.collectives, 4);

  parse_fails("graph g(x: f32[2] input) { %y = wait(x) return %y }", "not a handle");
  parse_fails("graph g(x: f32[2] input) { %a = all_reduce(x) %y = wait(%a) return %y }", "not a handle");
  parse_fails("graph g(x: f32[2] input) { %h = all_reduce_start(x) %a = wait(%h) %b = wait(%h) return %b }",
              "already waited for");
}

/* ---- errors without a usable communicator ------------------------------------------ */

Test(collectives, needs_a_communicator) {
  static const char *texts[] = {
      "graph g(x: f32[2] input) { %y = all_reduce(x) return %y }",
      "graph g(x: f32[2] input) { %y = all_gather(x, world=1) return %y }",
      "graph g(x: f32[2] input) { %y = reduce_scatter(x, world=1) return %y }",
      "graph g(x: f32[2] input) { %y = broadcast(x) return %y }",
      "graph g(x: f32[2] input) { %h = broadcast_start(x) %y = wait(%h) return %y }",
  };
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    gc_tensor out;
    gc_tensor in = T(GRAPHC_F32, S(2), 1, 2);
    graphc_status_t st = gc_interp_run_tensors(parse(texts[i]), 0, &in, 1, &out);
    gc_tensor_free(&in);
    FAILS(st, GRAPHC_STATUS_FAILED_PRECONDITION, "collective needs a communicator");
  }
}

Test(collectives, self_comm_checks_arguments) {
  gc_comm_request *req = NULL;
  float buf[2] = {1, 2};
  uint8_t b[2] = {1, 0};
  FAILS(self->vt->all_reduce_start(self, b, 2, GRAPHC_BOOL, GC_REDUCE_SUM, "ar", &req),
        GRAPHC_STATUS_INVALID_ARGUMENT, "ar: sum of bool");
  FAILS(self->vt->all_reduce_start(self, buf, 2, GRAPHC_I32, GC_REDUCE_AVG, "ar", &req),
        GRAPHC_STATUS_INVALID_ARGUMENT, "avg needs a float dtype");
  FAILS(self->vt->all_reduce_start(self, buf, -1, GRAPHC_F32, GC_REDUCE_SUM, "ar", &req),
        GRAPHC_STATUS_INVALID_ARGUMENT, "negative element count");
  FAILS(self->vt->broadcast_start(self, buf, 2, GRAPHC_F32, 1, "bc", &req), GRAPHC_STATUS_OUT_OF_RANGE,
        "root 1");
  FAILS(self->vt->wait(self, NULL), GRAPHC_STATUS_INVALID_ARGUMENT, "NULL");
  float out[2];
  OK(self->vt->all_gather_start(self, buf, out, 2, GRAPHC_F32, "ag", &req));
  OK(self->vt->wait(self, req));
  cr_expect(out[0] == 1 && out[1] == 2);
  uint8_t ex[3] = {0};
  OK(self->vt->exchange(self, "ab", 3, ex));
  cr_expect_str_eq((char *)ex, "ab");
}

/* ---- data-dependent counts ----------------------------------------------------------- */

Test(collectives, unbacked_counts_are_agreed) {
  gc_graph *g = parse("graph g(x: f32[4] input) {\n"
                      "  %i, %n = nonzero(x)\n"
                      "  %c = cast(%i, dtype=f32)\n"
                      "  %y = all_reduce(%c)\n"
                      "  return %y\n}");
  fake_comm f = fake(0);
  gc_tensor r = run(g, &f.base, T(GRAPHC_F32, S(4), 0, 1, 0, 2));
  EXPECT(r, GRAPHC_F32, 102, 106);
  gc_tensor_free(&r);
  cr_expect_eq(f.exchanges, 1, "the count was agreed on once");
  /* a peer that reports another count: an error naming both */
  int64_t other = 7;
  f = fake(0);
  f.peer_record = (const uint8_t *)&other;
  gc_tensor out;
  FAILS(try_run(g, &f.base, T(GRAPHC_F32, S(4), 0, 1, 0, 2), &out), GRAPHC_STATUS_FAILED_PRECONDITION,
        "rank 0 has 2, rank 1 has 7");
}

/* ---- fingerprint ------------------------------------------------------------------------ */

static void fingerprint(const char *text, gc_tensor *in, int nin, uint8_t fp[32], int *count) {
  OK(gc_collective_fingerprint(parse(text), in, nin, fp, count));
}

Test(collectives, fingerprint_covers_the_collective_sequence) {
  gc_tensor in = T(GRAPHC_F32, S(4), 1, 2, 3, 4);
  uint8_t a[32], b[32], c[32];
  int n;
  fingerprint("graph g(x: f32[B] input) { %y = all_reduce(x) %z = relu(%y) return %z }", &in, 1, a, &n);
  cr_expect_eq(n, 1);
  /* names and non-collective ops do not matter */
  fingerprint("graph other(v: f32[N] input) { %w = neg(v) %q = all_reduce(v) return %q }", &in, 1, b, &n);
  cr_expect(memcmp(a, b, 32) == 0);
  /* an explicit default is the same collective... */
  fingerprint("graph g(x: f32[B] input) { %y = all_reduce(x, op=sum) return %y }", &in, 1, b, &n);
  cr_expect(memcmp(a, b, 32) == 0, "op=sum is the default");
  fingerprint("graph g(x: f32[B] input) { %y = all_gather(x, world=1) return %y }", &in, 1, a, &n);
  fingerprint("graph g(x: f32[B] input) { %y = all_gather(x, dim=-1, world=1) return %y }", &in, 1, c, &n);
  cr_expect(memcmp(a, c, 32) == 0, "dim=-1 of a 1-d tensor is dim 0, the default");
  /* ...but another op, dtype, count or order is not */
  fingerprint("graph g(x: f32[B] input) { %y = all_reduce(x, op=max) return %y }", &in, 1, a, &n);
  cr_expect(memcmp(a, b, 32) != 0);
  gc_tensor in5 = T(GRAPHC_F32, S(5), 1, 2, 3, 4, 5);
  fingerprint("graph g(x: f32[B] input) { %y = all_reduce(x, op=sum) return %y }", &in5, 1, a, &n);
  cr_expect(memcmp(a, b, 32) != 0, "element counts are part of the fingerprint");
  fingerprint("graph g(x: f32[B] input) { %y = all_reduce(x, op=sum) %z = broadcast(%y) return %z }",
              &in, 1, a, &n);
  cr_expect_eq(n, 2);
  fingerprint("graph g(x: f32[B] input) { %y = broadcast(x) %z = all_reduce(%y, op=sum) return %z }",
              &in, 1, c, &n);
  cr_expect(memcmp(a, c, 32) != 0, "order matters");
  /* collectives inside regions count */
  fingerprint("graph g(x: f32[B] input) { %y = checkpoint(x) region(p: f32[B]) { %q = all_reduce(p, op=sum) return %q } return %y }",
              &in, 1, c, &n);
  cr_expect_eq(n, 1);
  cr_expect(memcmp(b, c, 32) == 0, "a region's collective is the same collective");
  /* inputs that do not fit the graph fail before any exchange */
  gc_tensor bad = T(GRAPHC_F64, S(4), 1, 2, 3, 4);
  FAILS(gc_collective_fingerprint(parse("graph g(x: f32[B] input) { return x }"), &bad, 1, a, &n),
        GRAPHC_STATUS_INVALID_ARGUMENT, "input 0 'x': expected f32[B]");
  gc_tensor_free(&bad);
  gc_tensor_free(&in);
  gc_tensor_free(&in5);
}

Test(collectives, fingerprint_agreement) {
  uint8_t fp[32] = {1, 2, 3};
  OK(gc_comm_check_fingerprint(self, fp, sizeof fp, "graph 'g'"));
  fake_comm f = fake(1);
  OK(gc_comm_check_fingerprint(&f.base, fp, sizeof fp, "graph 'g'"));
  uint8_t other[40] = {9, 9, 9};
  other[32] = 1;
  f.peer_record = other;
  FAILS(gc_comm_check_fingerprint(&f.base, fp, sizeof fp, "graph 'g'"), GRAPHC_STATUS_FAILED_PRECONDITION,
        "rank 0 has 0909090000000000; rank 1 has 0102030000000000 (this is rank 1 of 2)");
  memset(other, 0, sizeof other); /* the peer failed before its collectives */
  FAILS(gc_comm_check_fingerprint(&f.base, fp, sizeof fp, "graph 'g'"), GRAPHC_STATUS_FAILED_PRECONDITION,
        "rank 0 failed before its collectives");
  FAILS(gc_comm_check_fingerprint(self, NULL, 0, "graph 'g'"), GRAPHC_STATUS_FAILED_PRECONDITION,
        "this rank failed");
  FAILS(gc_comm_check_fingerprint(self, fp, 33, "g"), GRAPHC_STATUS_INVALID_ARGUMENT, "at most 32");
  FAILS(gc_comm_check_fingerprint(NULL, fp, 32, "g"), GRAPHC_STATUS_FAILED_PRECONDITION, "communicator");
}

Test(collectives, run_agreed) {
  gc_graph *g = parse("graph g(x: f32[2] input) { %y = all_reduce(x) return %y }");
  fake_comm f = fake(0);
  gc_tensor in = T(GRAPHC_F32, S(2), 1, 2), out;
  OK(gc_interp_run_agreed(g, 0, &f.base, &in, 1, &out));
  EXPECT(out, GRAPHC_F32, 102, 104);
  gc_tensor_free(&out);
  cr_expect_eq(f.exchanges, 1);
  uint8_t other[40] = {0};
  other[32] = 1;
  f.peer_record = other;
  FAILS(gc_interp_run_agreed(g, 0, &f.base, &in, 1, &out), GRAPHC_STATUS_FAILED_PRECONDITION,
        "graph 'g' (before its first collective, all_reduce %y at t.gc:1:");
  cr_expect_eq(f.collectives, 1, "no collective ran after the disagreement");
  gc_tensor_free(&in);
}

/* ---- public API ------------------------------------------------------------------------- */

Test(collectives, public_api) {
  graphc_comm_t *c = NULL;
  FAILS(graphc_comm_create_self(NULL, &c), GRAPHC_STATUS_INVALID_ARGUMENT, "context");
  FAILS(graphc_comm_create_self(ctx, NULL), GRAPHC_STATUS_INVALID_ARGUMENT, "out_comm");
  OK(graphc_comm_create_self(ctx, &c));
  cr_expect_eq(graphc_comm_rank(c), 0);
  cr_expect_eq(graphc_comm_size(c), 1);
  cr_expect_eq(graphc_comm_rank(NULL), -1);
  cr_expect_eq(graphc_comm_size(NULL), -1);
  FAILS(graphc_comm_set_timeout(c, 0), GRAPHC_STATUS_INVALID_ARGUMENT, "positive");
  FAILS(graphc_comm_set_timeout(c, NAN), GRAPHC_STATUS_INVALID_ARGUMENT, "positive");
  FAILS(graphc_comm_set_timeout(NULL, 1), GRAPHC_STATUS_INVALID_ARGUMENT, "NULL");
  OK(graphc_comm_set_timeout(c, 2.5));

  const char *text = "graph g(x: f32[B, 2] input) { %h = all_reduce_start(x, op=avg)\n"
                     "  %y = wait(%h)\n  %z = all_gather(%y, dim=1, world=1)\n  return %z, x\n}";
  graphc_graph_t *g;
  OK(graphc_graph_parse(ctx, text, strlen(text), "t.gc", &g));
  float data[6] = {1, 2, 3, 4, 5, 6};
  int64_t shape[2] = {3, 2};
  DLTensor x = {.data = data, .device = {kDLCPU, 0}, .ndim = 2, .dtype = {kDLFloat, 32, 1}, .shape = shape};
  DLTensor *ins[1] = {&x};
  DLManagedTensor *outs[2] = {NULL, NULL};
  OK(graphc_interp_run_distributed(g, c, NULL, ins, 1, outs, 2));
  cr_assert_eq(outs[0]->dl_tensor.ndim, 2);
  cr_expect_eq(outs[0]->dl_tensor.shape[0], 3);
  for (int i = 0; i < 6; i++) cr_expect_eq(((float *)outs[0]->dl_tensor.data)[i], data[i]);
  for (int k = 0; k < 2; k++) outs[k]->deleter(outs[k]);

  FAILS(graphc_interp_run_distributed(g, c, NULL, ins, 1, outs, 1), GRAPHC_STATUS_INVALID_ARGUMENT,
        "has 2 outputs");
  FAILS(graphc_interp_run_distributed(g, NULL, NULL, ins, 1, outs, 2), GRAPHC_STATUS_INVALID_ARGUMENT,
        "communicator is NULL");
  FAILS(graphc_interp_run_distributed(NULL, c, NULL, ins, 1, outs, 2), GRAPHC_STATUS_INVALID_ARGUMENT,
        "NULL");
  double wide[6] = {0};
  x.data = wide;
  x.dtype = (DLDataType){kDLFloat, 64, 1};
  FAILS(graphc_interp_run_distributed(g, c, NULL, ins, 1, outs, 2), GRAPHC_STATUS_INVALID_ARGUMENT,
        "expected f32[B, 2]");
  graphc_comm_release(c);
  graphc_comm_release(NULL);
}

Test(collectives, mpi_create) {
#ifdef GRAPHC_HAVE_MPI
  cr_skip_test("built with MPI: covered by integration/mpi (creating one here would initialise MPI)");
#else
  graphc_comm_t *c = (graphc_comm_t *)1;
  FAILS(graphc_comm_create_mpi(ctx, NULL, &c), GRAPHC_STATUS_UNAVAILABLE, "libgraphc was built without MPI");
  cr_expect_null(c);
  gc_comm *ic = NULL;
  FAILS(gc_comm_mpi_create(NULL, &ic), GRAPHC_STATUS_UNAVAILABLE, "built without MPI");
#endif
}
