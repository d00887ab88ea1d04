/* Tests for lib/dist/ddp_plan.c: the DDP split planner on the SEED 2.1 and
 * 2.2 models (the .gc files in integration/seed/), and one small graph per rule (caps
 * inclusive, first cap, extension, merging the param-free preamble, ignored
 * and tied params, regions, errors). Byte counts are worked out in the
 * comments: a Linear(in, out) holds (in*out + out) * 4 bytes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dist/ddp_plan.h"
#include "graphc/graphc.h"

#ifndef GRAPHC_SOURCE_DIR
#define GRAPHC_SOURCE_DIR "."
#endif

#include "test_common.h"

#define MIB ((int64_t)1 << 20)

static graphc_context_t *ctx;
static gc_ddp_plan *plan;

static void setup(void) { OK(graphc_context_create(NULL, &ctx)); }
static void teardown(void) {
  gc_ddp_plan_free(plan);
  plan = NULL;
  graphc_context_release(ctx);
}

TestSuite(ddp_plan, .init = setup, .fini = teardown);

static gc_graph *load(const char *name) { return tc_load(ctx, "integration/seed", name); }
static gc_graph *parse(const char *text) { return tc_parse(ctx, text); }

static gc_ddp_options caps(int64_t cap, int64_t first) {
  gc_ddp_options o;
  gc_ddp_options_init(&o);
  o.cap_bytes = cap;
  o.first_cap_bytes = first;
  return o;
}

static void make_plan(const gc_graph *g, const gc_ddp_options *o) {
  gc_ddp_plan_free(plan);
  plan = NULL;
  OK(gc_ddp_plan_build(g, o, &plan));
}

/* Piece p covers nodes first..last and counts `bytes`. */
static void expect_piece(int p, int first, int last, int64_t bytes) {
  cr_assert_lt(p, plan->npieces);
  const gc_ddp_piece *pc = &plan->pieces[p];
  cr_expect_eq(pc->first_node, first, "piece %d starts at node %d, expected %d", p,
               pc->first_node, first);
  cr_expect_eq(pc->first_node + pc->nnodes - 1, last, "piece %d ends at node %d, expected %d", p,
               pc->first_node + pc->nnodes - 1, last);
  cr_expect_eq(pc->bytes, bytes, "piece %d counts %lld B, expected %lld", p, (long long)pc->bytes,
               (long long)bytes);
  cr_expect_str_eq(pc->reason, plan->npieces > 1 ? "bucket boundary"
                                                 : "one bucket, no cut");
}

/* Piece p's bucket is exactly the params named in `names` (space-separated,
 * gradient-ready order). */
static void expect_params(const gc_graph *g, int p, const char *names) {
  char buf[1024] = "";
  const gc_ddp_piece *pc = &plan->pieces[p];
  for (int k = 0; k < pc->nparams; k++) {
    if (k) strcat(buf, " ");
    strcat(buf, g->values[pc->params[k]].name);
  }
  cr_expect_str_eq(buf, names, "piece %d params", p);
}

static bool has_message(const char *needle) {
  for (int i = 0; i < plan->nmessages; i++)
    if (strstr(plan->messages[i], needle)) return true;
  return false;
}

/* --- SEED 2.1 ------------------------------------------------------------------ */

Test(ddp_plan, toy_model_three_pieces) {
  gc_graph *g = load("toy_model");
  gc_ddp_options o;
  gc_ddp_options_init(&o); /* C = 25 MiB, F = 1 MiB */
  cr_assert_eq(o.cap_bytes, 26214400);
  cr_assert_eq(o.first_cap_bytes, 1048576);
  make_plan(g, &o);
  /* Walk: relu, Linear(5000,5) (100,020 B < F), relu, Linear(5000,5000): open piece at
   * 100,120,020 >= C closes (its relu is the graph output). Then relu,
   * Linear(5000,5000) (100,020,000 B) closes before relu, Linear(10,5000) (220,000). */
  cr_assert_eq(plan->npieces, 3);
  expect_piece(0, 0, 1, 220000);
  expect_piece(1, 2, 3, 100020000);
  expect_piece(2, 4, 7, 100120020);
  expect_params(g, 0, "net.0.weight net.0.bias");
  expect_params(g, 1, "net.2.weight net.2.bias");
  expect_params(g, 2, "net.6.weight net.6.bias net.4.weight net.4.bias");
  cr_expect_eq(plan->nextended, 0);
  cr_expect_eq(plan->nmessages, 0);
  for (int n = 0; n < 8; n++) cr_expect_eq(plan->piece_of_node[n], n < 2 ? 0 : n < 4 ? 1 : 2);
}

Test(ddp_plan, ctx_manager_four_pieces) {
  gc_graph *g = load("ctx_manager");
  gc_ddp_options o = caps((int64_t)(3.5 * MIB), MIB);
  make_plan(g, &o);
  /* Each Linear(1000,1000) is 4,004,000 B >= C = 3,670,016: one piece per layer. */
  cr_assert_eq(plan->npieces, 4);
  for (int p = 0; p < 4; p++) expect_piece(p, 2 * p, 2 * p + 1, 4004000);
}

Test(ddp_plan, no_split_one_piece) {
  gc_graph *g = load("no_split");
  gc_ddp_options o = caps(250 * MIB, MIB);
  make_plan(g, &o);
  /* 220 + 3 * 120 = 580 B, below F. */
  cr_assert_eq(plan->npieces, 1);
  expect_piece(0, 0, 7, 580);
}

Test(ddp_plan, custom_layer_merges_param_free_preamble) {
  gc_graph *g = load("custom_layer");
  gc_ddp_options o = caps(MIB, MIB);
  make_plan(g, &o);
  /* Reverse: relu, linear (1,050,624 B) | relu .. transpose (W: 1,048,576 B) | relu, linear
   * (1,050,624 B) | add (0 B) -> the add merges into the piece after it (rule 5). */
  cr_assert_eq(plan->npieces, 3);
  expect_piece(0, 0, 2, 1050624);
  expect_piece(1, 3, 11, 1048576);
  expect_piece(2, 12, 13, 1050624);
  expect_params(g, 1, "seq.2.weight");
}

Test(ddp_plan, ignored_parameters_two_pieces) {
  gc_graph *g = load("custom_layer");
  const char *ignored[] = {"seq.2.weight", "seq.4.linear.bias"};
  gc_ddp_options o = caps(25 * MIB, MIB);
  o.ignored = ignored;
  o.nignored = 2;
  make_plan(g, &o);
  /* The last linear now counts only its weight: exactly F (1,048,576 B), which closes
   * (comparisons are inclusive); everything else fits in one piece. */
  cr_assert_eq(plan->npieces, 2);
  expect_piece(0, 0, 11, 1050624);
  expect_piece(1, 12, 13, 1048576);
  expect_params(g, 0, "seq.0.linear.weight seq.0.linear.bias");
  expect_params(g, 1, "seq.4.linear.weight");
  for (int p = 0; p < plan->npieces; p++)
    for (int k = 0; k < plan->pieces[p].nparams; k++) {
      const char *name = g->values[plan->pieces[p].params[k]].name;
      cr_expect(strcmp(name, ignored[0]) && strcmp(name, ignored[1]), "ignored %s in bucket %d",
                name, p);
    }
}

Test(ddp_plan, issue90375_no_params) {
  gc_graph *g = load("issue90375");
  make_plan(g, NULL);
  cr_assert_eq(plan->npieces, 1);
  expect_piece(0, 0, 2, 0);
  cr_expect_eq(plan->pieces[0].nparams, 0);
}

Test(ddp_plan, call_method_forward_one_piece) {
  gc_graph *g = load("call_method_forward");
  make_plan(g, NULL);
  /* Per layer: LayerNorm 768 B + in_proj 110,592 + 1,152 B + out_proj 36,864 + 384 B. */
  cr_assert_eq(plan->npieces, 1);
  expect_piece(0, 0, 29, 299520);
}

Test(ddp_plan, higher_order_op_regions_whole) {
  gc_graph *g = load("higher_order_op");
  gc_ddp_options o = caps(MIB, MIB);
  make_plan(g, &o);
  /* Each checkpoint region reads 2 x Linear(1000,1000) = 8,008,000 B through its operands. */
  cr_assert_eq(plan->npieces, 2);
  expect_piece(0, 0, 1, 8008000);
  expect_piece(1, 2, 3, 8008000);
  expect_params(g, 0, "inner_mod1.linear1.weight inner_mod1.linear1.bias "
                      "inner_mod1.linear2.weight inner_mod1.linear2.bias");
}

Test(ddp_plan, small_models_split_like_the_big_ones) {
  gc_graph *g = load("toy_model_small");
  gc_ddp_options o = caps(4096, 4096);
  make_plan(g, &o);
  cr_assert_eq(plan->npieces, 3);
  expect_piece(0, 0, 1, 2200);
  expect_piece(1, 2, 3, 10200);
  expect_piece(2, 4, 7, 11220);
  g = load("higher_order_op_small");
  o = caps(64 * 1024, 64 * 1024);
  make_plan(g, &o);
  cr_assert_eq(plan->npieces, 2);
  expect_piece(0, 0, 1, 80800);
  expect_piece(1, 2, 3, 80800);
}

/* --- SEED 2.2 ------------------------------------------------------------------ */

Test(ddp_plan, symbol_models) {
  /* W1 and W2 are 1 MiB each: the piece holding W2 reaches F and closes. */
  gc_graph *g = load("symbol_splitting");
  make_plan(g, NULL);
  cr_assert_eq(plan->npieces, 2);
  expect_piece(0, 0, 1, MIB);
  expect_piece(1, 2, 3, MIB);
  g = load("unbacked_direct");
  make_plan(g, NULL);
  cr_assert_eq(plan->npieces, 2);
  expect_piece(0, 0, 3, MIB);
  expect_piece(1, 4, 6, MIB);
  g = load("unbacked_indirect");
  make_plan(g, NULL);
  cr_assert_eq(plan->npieces, 2);
  expect_piece(0, 0, 4, MIB);
  expect_piece(1, 5, 8, MIB);
  g = load("unbacked_no_binding");
  make_plan(g, NULL);
  cr_assert_eq(plan->npieces, 2);
  expect_piece(0, 0, 2, MIB);
  expect_piece(1, 3, 8, MIB);
  g = load("strides_dont_specialize");
  make_plan(g, NULL);
  cr_assert_eq(plan->npieces, 2);
  expect_piece(0, 0, 0, 2362368);
  expect_piece(1, 1, 1, 2362368);
}

Test(ddp_plan, torture_multi_three_pieces) {
  gc_graph *g = load("unbacked_torture_multi");
  gc_ddp_options o = caps(MIB, MIB);
  make_plan(g, &o);
  /* ones(u0) joins the piece of W2: it is reached after W3's piece closes. */
  cr_assert_eq(plan->npieces, 3);
  expect_piece(0, 0, 3, MIB);
  expect_piece(1, 4, 5, MIB);
  expect_piece(2, 6, 9, MIB);
}

/* --- rules one by one ------------------------------------------------------------ */

/* Three layers of 4x4 f32 weights (64 B each). */
static const char *three_layers =
    "graph t(x: f32[2, 4] input, w1: f32[4, 4] param, w2: f32[4, 4] param, w3: f32[4, 4] param) {\n"
    "  %a = matmul(x, w1)\n  %b = matmul(%a, w2)\n  %c = matmul(%b, w3)\n  return %c\n}\n";

Test(ddp_plan, caps_are_inclusive) {
  gc_graph *g = parse(three_layers);
  gc_ddp_options o = caps(64, 64); /* exactly one layer: every layer closes a piece */
  make_plan(g, &o);
  cr_assert_eq(plan->npieces, 3);
  o = caps(65, 65); /* one byte more: two layers per piece */
  make_plan(g, &o);
  cr_assert_eq(plan->npieces, 2);
  expect_piece(0, 0, 0, 64);
  expect_piece(1, 1, 2, 128);
}

Test(ddp_plan, first_cap_only_for_the_first_piece) {
  gc_graph *g = parse(three_layers);
  gc_ddp_options o = caps(1000, 64); /* the last layer alone, then the rest together */
  make_plan(g, &o);
  cr_assert_eq(plan->npieces, 2);
  expect_piece(0, 0, 1, 128);
  expect_piece(1, 2, 2, 64);
}

Test(ddp_plan, first_cap_above_cap_is_clamped) {
  gc_graph *g = parse(three_layers);
  gc_ddp_options o = caps(64, 1000);
  make_plan(g, &o);
  cr_expect_eq(plan->first_cap_bytes, 64);
  cr_expect(has_message("first bucket cap 1000 B exceeds bucket cap 64 B: clamped to 64 B"));
  cr_assert_eq(plan->npieces, 3);
}

Test(ddp_plan, piece_without_outside_use_is_extended) {
  /* %dead is used by nothing: its piece reaches F but cannot close before %a. */
  gc_graph *g = parse(
      "graph t(x: f32[2, 4] input, w1: f32[4, 4] param, w2: f32[4, 4] param) {\n"
      "  %a = matmul(x, w1)\n  %dead = matmul(x, w2)\n  return %a\n}\n");
  gc_ddp_options o = caps(64, 64);
  make_plan(g, &o);
  cr_assert_eq(plan->npieces, 1);
  cr_expect_eq(plan->nextended, 1);
  cr_expect_eq(plan->pieces[0].extended_ops, 1);
  expect_piece(0, 0, 1, 128);
}

Test(ddp_plan, symbol_use_counts_as_outside_use) {
  /* %d is dead, so the piece {%n, %d} first has no outside use and is extended over
   * %n; %n's symbol is named by ones(shape=[n, 4]) in the last piece, which lets the
   * piece close before %e. */
  gc_graph *g = parse(
      "graph t(x: f32[2, 4] input, k: i64[1] input, w1: f32[4, 4] param, w2: f32[4, 4] param,\n"
      "        w3: f32[4, 4] param) {\n"
      "  %e = matmul(x, w1)\n  %n = item(k)\n  %d = matmul(%e, w2)\n  %p = matmul(x, w3)\n"
      "  %o = ones(shape=[n, 4])\n  %os = sum(%o)\n  %r = add(%p, %os)\n  return %r\n}\n");
  gc_ddp_options o = caps(64, 64);
  make_plan(g, &o);
  cr_assert_eq(plan->npieces, 3);
  expect_piece(0, 0, 0, 64);
  expect_piece(1, 1, 2, 64);
  expect_piece(2, 3, 6, 64);
  cr_expect_eq(plan->nextended, 1);
  cr_expect_eq(plan->pieces[1].extended_ops, 1);
}

Test(ddp_plan, tied_param_counted_once_or_at_every_use) {
  /* The embedding table is read by the embedding (node 0) and by the decoder. */
  const char *tied =
      "graph t(ids: i64[3] input, emb: f32[8, 4] param, w: f32[4, 4] param) {\n"
      "  %e = embedding(ids, emb)\n  %h = matmul(%e, w)\n  %dec = transpose(emb, dim0=0, dim1=1)\n"
      "  %logits = matmul(%h, %dec)\n  return %logits\n}\n";
  gc_graph *g = parse(tied);
  gc_ddp_options o = caps(1 << 20, 1 << 20);
  make_plan(g, &o);
  cr_assert_eq(plan->npieces, 1);
  expect_piece(0, 0, 3, 128 + 64); /* emb once */
  expect_params(g, 0, "w emb");
  o.count_every_use = true;
  make_plan(g, &o);
  expect_piece(0, 0, 3, 128 + 64 + 128); /* the reference counts the decoder use too */
  expect_params(g, 0, "emb w emb");
  /* Counted once, the table's bytes land at its first use, which may close a piece
   * earlier in the walk than the decoder. */
  o = caps(128, 128);
  o.count_every_use = false;
  make_plan(g, &o);
  cr_assert_eq(plan->npieces, 1);
  o.count_every_use = true;
  make_plan(g, &o);
  cr_assert_eq(plan->npieces, 2);
  expect_piece(0, 0, 1, 192);
  expect_piece(1, 2, 3, 128);
}

Test(ddp_plan, buffers_count_zero_and_regions_count_their_operands) {
  gc_graph *g = parse(
      "graph t(x: f32[2, 4] input, w: f32[4, 4] param, stats: f32[4] buffer) {\n"
      "  %c = checkpoint(x, w) region(xi: f32[2, 4], wi: f32[4, 4]) {\n"
      "    %m = matmul(xi, wi)\n    return %m\n  }\n"
      "  %y = add(%c, stats)\n  return %y\n}\n");
  make_plan(g, NULL);
  cr_assert_eq(plan->npieces, 1);
  expect_piece(0, 0, 1, 64);
  expect_params(g, 0, "w");
}

Test(ddp_plan, empty_graph) {
  gc_graph *g = parse("graph t(x: f32[2] input) {\n  return x\n}\n");
  make_plan(g, NULL);
  cr_assert_eq(plan->npieces, 1);
  cr_expect_eq(plan->pieces[0].nnodes, 0);
  cr_expect_eq(plan->pieces[0].bytes, 0);
}

Test(ddp_plan, notes_for_unknown_and_unused_names) {
  gc_graph *g = parse(
      "graph t(x: f32[2, 4] input, w: f32[4, 4] param, spare: f32[3] param) {\n"
      "  %a = matmul(x, w)\n  return %a\n}\n");
  const char *ignored[] = {"nope", "x"};
  gc_ddp_options o;
  gc_ddp_options_init(&o);
  o.ignored = ignored;
  o.nignored = 2;
  make_plan(g, &o);
  cr_expect(has_message("ignored name 'nope' is not a param of graph 't'"));
  cr_expect(has_message("ignored name 'x' is not a param"));
  cr_expect(has_message("param 'spare' is read by no op: it joins no bucket"));
}

Test(ddp_plan, errors) {
  gc_graph *g = parse(
      "graph t(x: f32[2, N] input, w: f32[N, 4] param) {\n  %a = matmul(x, w)\n  return %a\n}\n");
  graphc_status_t st = gc_ddp_plan_build(g, NULL, &plan);
  cr_assert(st);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_INVALID_ARGUMENT);
  cr_expect(strstr(graphc_status_message(st), "param 'w' has the symbolic shape f32[N, 4]"),
            "%s", graphc_status_message(st));
  graphc_status_free(st);
  cr_expect_null(plan);
  /* Ignoring it makes the plan possible. */
  const char *ignored[] = {"w"};
  gc_ddp_options o;
  gc_ddp_options_init(&o);
  o.ignored = ignored;
  o.nignored = 1;
  make_plan(g, &o);
  cr_expect_eq(plan->pieces[0].bytes, 0);
  o = caps(-1, 0);
  gc_ddp_plan *p2 = NULL;
  st = gc_ddp_plan_build(g, &o, &p2);
  cr_assert(st);
  cr_expect(strstr(graphc_status_message(st), "bucket caps must be >= 0"));
  graphc_status_free(st);
  /* A region is not a plannable graph. */
  gc_graph *h = parse(
      "graph t(x: f32[2] input) {\n  %c = call(x) region(xi: f32[2]) {\n"
      "    %n = neg(xi)\n    return %n\n  }\n  return %c\n}\n");
  st = gc_ddp_plan_build(h->nodes[0].regions[0], NULL, &p2);
  cr_assert(st);
  cr_expect(strstr(graphc_status_message(st), "is a region"));
  graphc_status_free(st);
}
