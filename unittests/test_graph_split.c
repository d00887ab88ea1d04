/* Tests for lib/dist/graph_split.c and split_run.c: cutting the SEED 2.1 and
 * 2.2 models (the .gc files in integration/seed/) into pieces, checking what
 * values and symbols cross each cut and where each piece input comes from,
 * and running the pieces in order through the interpreter: the outputs must
 * equal the unsplit graph's bit for bit (same ops in the same order). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/ddp_plan.h"
#include "dist/graph_split.h"
#include "graphc/graphc.h"
#include "interp/interp_internal.h"
#include "ir/op.h"
#include "ir/text.h"

#ifndef GRAPHC_SOURCE_DIR
#define GRAPHC_SOURCE_DIR "."
#endif

#include "test_common.h"

#define MIB ((int64_t)1 << 20)

static graphc_context_t *ctx;
static gc_ddp_plan *plan;
static gc_split *split;

static void setup(void) { OK(graphc_context_create(NULL, &ctx)); }
static void teardown(void) {
  gc_split_free(split);
  gc_ddp_plan_free(plan);
  split = NULL;
  plan = NULL;
  graphc_context_release(ctx);
}

TestSuite(graph_split, .init = setup, .fini = teardown);

static gc_graph *load(const char *name) { return tc_load(ctx, "integration/seed", name); }
static gc_graph *parse(const char *text) { return tc_parse(ctx, text); }

/* Plans with caps C and F (0 = defaults) and cuts. */
static void cut(const gc_graph *g, int64_t cap, int64_t first) {
  gc_ddp_options o;
  gc_ddp_options_init(&o);
  if (cap) o.cap_bytes = cap;
  if (first) o.first_cap_bytes = first;
  gc_split_free(split);
  gc_ddp_plan_free(plan);
  split = NULL;
  OK(gc_ddp_plan_build(g, &o, &plan));
  OK(gc_graph_split(g, plan, &split));
  cr_assert_eq(split->npieces, plan->npieces);
}

/* --- inputs and comparison ------------------------------------------------------ */

/* Random inputs for g; symbol values as "s0=20,s1=3". Floats uniform in
 * [-1, 1), integers in 0..3, from a fixed-seed generator. */
static gc_tensor *make_inputs(const gc_graph *g, const char *syms, uint64_t seed) {
  const gc_dimtab *t = gc_graph_dims(g);
  int ns = gc_dimtab_num_syms(t);
  int64_t vals[64] = {0};
  bool bound[64] = {0};
  cr_assert_lt(ns, 64);
  for (const char *p = syms; p && *p;) {
    char name[64];
    long long v;
    int used = 0;
    cr_assert_eq(sscanf(p, "%63[^=]=%lld%n", name, &v, &used), 2);
    int s = gc_dimtab_find_sym(t, name);
    cr_assert_geq(s, 0, "no symbol %s", name);
    vals[s] = v;
    bound[s] = true;
    p += used;
    if (*p == ',') p++;
  }
  gc_tensor *in = calloc((size_t)g->ninputs + 1, sizeof *in);
  uint64_t state = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (int i = 0; i < g->ninputs; i++) {
    const gc_value *v = &g->values[g->inputs[i]];
    int64_t shape[GC_MAX_RANK];
    for (int d = 0; d < v->type.rank; d++) OK(gc_dim_eval(t, v->type.dims[d], vals, bound, &shape[d]));
    OK(gc_tensor_alloc(&in[i], v->type.dtype, v->type.rank, shape, 0));
    for (int64_t k = 0; k < in[i].numel; k++) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      uint32_t r = (uint32_t)(state >> 33);
      if (v->role == GRAPHC_ROLE_SYMBOL) gc_tensor_seti(&in[i], k, vals[v->sym]);
      else if (gc_dtype_is_float(v->type.dtype)) gc_tensor_setf(&in[i], k, r / 2147483648.0 - 1.0);
      else gc_tensor_seti(&in[i], k, r % 4);
    }
  }
  return in;
}

static void set_input(const gc_graph *g, gc_tensor *in, const char *name, const double *vals) {
  int v = gc_graph_find_value(g, name);
  cr_assert_geq(v, 0);
  gc_tensor *t = &in[g->values[v].index];
  for (int64_t k = 0; k < t->numel; k++) gc_tensor_setf(t, k, vals[k]);
}

static void free_tensors(gc_tensor *t, int n) {
  for (int i = 0; i < n; i++) gc_tensor_free(&t[i]);
  free(t);
}

/* Runs g whole and split on `in`; outputs must be identical. */
static void expect_same_run(const gc_graph *g, const gc_tensor *in) {
  gc_tensor *ref = calloc((size_t)g->noutputs + 1, sizeof *ref);
  gc_tensor *got = calloc((size_t)g->noutputs + 1, sizeof *got);
  OK(gc_interp_run_tensors(g, 0, in, g->ninputs, ref));
  OK(gc_split_run_interp(split, 0, in, g->ninputs, got));
  for (int o = 0; o < g->noutputs; o++) {
    cr_assert_eq(got[o].dtype, ref[o].dtype);
    cr_assert_eq(got[o].rank, ref[o].rank);
    for (int d = 0; d < ref[o].rank; d++) cr_assert_eq(got[o].shape[d], ref[o].shape[d]);
    size_t bytes = (size_t)ref[o].numel * graphc_dtype_size(ref[o].dtype);
    cr_assert(bytes == 0 || memcmp(got[o].data, ref[o].data, bytes) == 0,
              "output %d differs from the unsplit graph", o);
  }
  free_tensors(ref, g->noutputs);
  free_tensors(got, g->noutputs);
}

static void run_random(const gc_graph *g, const char *syms, uint64_t seed) {
  gc_tensor *in = make_inputs(g, syms, seed);
  expect_same_run(g, in);
  free_tensors(in, g->ninputs);
}

/* --- piece queries ------------------------------------------------------------- */

static const gc_graph *piece(int p) {
  cr_assert_lt(p, split->npieces);
  return split->pieces[p].graph;
}

static int input_index(int p, const char *name) {
  const gc_graph *pg = piece(p);
  for (int i = 0; i < pg->ninputs; i++)
    if (!strcmp(pg->values[pg->inputs[i]].name, name)) return i;
  cr_assert_fail("piece %d has no input '%s'", p, name);
  return -1;
}

/* Space-separated names of piece p's inputs, with their roles: "x:input w:param". */
static void expect_inputs(int p, const char *want) {
  char buf[2048] = "";
  const gc_graph *pg = piece(p);
  for (int i = 0; i < pg->ninputs; i++) {
    const gc_value *v = &pg->values[pg->inputs[i]];
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s:%s", i ? " " : "", v->name,
             graphc_role_name(v->role));
  }
  cr_expect_str_eq(buf, want, "piece %d inputs", p);
}

static void expect_syms(int p, const char *in, const char *out) {
  char bi[256] = "", bo[256] = "";
  const gc_split_piece *sp = &split->pieces[p];
  for (int k = 0; k < gc_split_num_syms_in(sp); k++)
    snprintf(bi + strlen(bi), sizeof bi - strlen(bi), "%s%s", k ? " " : "", gc_split_sym_in(sp, k));
  for (int k = 0; k < gc_split_num_syms_out(sp); k++)
    snprintf(bo + strlen(bo), sizeof bo - strlen(bo), "%s%s", k ? " " : "", gc_split_sym_out(sp, k));
  cr_expect_str_eq(bi, in, "piece %d symbols in", p);
  cr_expect_str_eq(bo, out, "piece %d symbols out", p);
}

static void expect_src(int p, const char *name, gc_split_src_kind kind, int index, int k) {
  gc_split_src s = split->pieces[p].in_src[input_index(p, name)];
  cr_expect(s.kind == kind && s.index == index && s.k == k,
            "piece %d input %s comes from (%d, %d, %d), expected (%d, %d, %d)", p, name,
            (int)s.kind, s.index, s.k, (int)kind, index, k);
}

/* The type of piece p's input `name`, as text. */
static void expect_input_type(int p, const char *name, const char *want) {
  const gc_graph *pg = piece(p);
  char ty[256];
  gc_type_format(gc_graph_dims(pg), &pg->values[pg->inputs[input_index(p, name)]].type, ty,
                 sizeof ty);
  cr_expect_str_eq(ty, want, "piece %d input %s", p, name);
}

/* Every piece prints, re-parses and prints the same. */
static void expect_pieces_round_trip(void) {
  for (int p = 0; p < split->npieces; p++) {
    char *a = NULL, *b = NULL;
    gc_graph *re = NULL;
    OK(graphc_graph_print(piece(p), &a, NULL));
    OK(graphc_graph_parse(ctx, a, strlen(a), "piece.gc", &re));
    OK(graphc_graph_print(re, &b, NULL));
    cr_expect_str_eq(a, b);
    graphc_free(a);
    graphc_free(b);
  }
}

/* --- SEED 2.1 ------------------------------------------------------------------ */

Test(graph_split, toy_model_cut_structure) {
  gc_graph *g = load("toy_model");
  cut(g, 0, 0);
  cr_assert_eq(split->npieces, 3);
  expect_inputs(0, "x:input net.0.weight:param net.0.bias:param");
  expect_inputs(1, "net.2.weight:param net.2.bias:param a0:input");
  expect_inputs(2, "net.4.weight:param net.4.bias:param net.6.weight:param net.6.bias:param "
                   "a1:input");
  expect_src(1, "a0", GC_SPLIT_FROM_PIECE, 0, 0);
  expect_src(2, "a1", GC_SPLIT_FROM_PIECE, 1, 0);
  expect_src(2, "net.6.bias", GC_SPLIT_FROM_INPUT, 8, 0);
  for (int p = 0; p < 3; p++) expect_syms(p, "", "");
  cr_expect_eq(split->out_src[0].kind, GC_SPLIT_FROM_PIECE);
  cr_expect_eq(split->out_src[0].index, 2);
  expect_pieces_round_trip();
}

Test(graph_split, toy_model_small_runs_equal) {
  gc_graph *g = load("toy_model_small");
  cut(g, 4096, 4096);
  cr_assert_eq(split->npieces, 3);
  for (int p = 0; p < 3; p++) cr_expect_eq(split->pieces[p].first_node, p == 0 ? 0 : p == 1 ? 2 : 4);
  run_random(g, "", 1);
  run_random(g, "", 2);
}

Test(graph_split, ctx_manager_runs_equal) {
  gc_graph *g = load("ctx_manager");
  cut(g, (int64_t)(3.5 * MIB), MIB);
  cr_assert_eq(split->npieces, 4);
  for (int p = 1; p < 4; p++) cr_expect_eq(piece(p)->ninputs, 3); /* weight, bias, activation */
  run_random(g, "", 3);
}

Test(graph_split, no_split_keeps_the_graph_whole) {
  gc_graph *g = load("no_split");
  cut(g, 250 * MIB, 0);
  cr_assert_eq(split->npieces, 1);
  cr_assert_eq(piece(0)->ninputs, g->ninputs);
  for (int i = 0; i < g->ninputs; i++) expect_src(0, g->values[g->inputs[i]].name, GC_SPLIT_FROM_INPUT, i, 0);
  cr_expect_eq(piece(0)->nnodes, g->nnodes);
  run_random(g, "", 4);
}

Test(graph_split, custom_layer_runs_equal) {
  gc_graph *g = load("custom_layer");
  cut(g, MIB, MIB);
  cr_assert_eq(split->npieces, 3);
  /* x + y with y the same tensor: one input, read twice by the add in piece 0. */
  expect_inputs(0, "x:input seq.0.linear.weight:param seq.0.linear.bias:param");
  expect_inputs(1, "seq.2.weight:param a0:input");
  expect_inputs(2, "seq.4.linear.weight:param seq.4.linear.bias:param a2:input");
  run_random(g, "", 5);
}

Test(graph_split, ignored_parameters_runs_equal) {
  gc_graph *g = load("custom_layer");
  const char *ignored[] = {"seq.2.weight", "seq.4.linear.bias"};
  gc_ddp_options o;
  gc_ddp_options_init(&o);
  o.ignored = ignored;
  o.nignored = 2;
  OK(gc_ddp_plan_build(g, &o, &plan));
  OK(gc_graph_split(g, plan, &split));
  cr_assert_eq(split->npieces, 2);
  /* An ignored param is still an input (role param) of the piece that reads it. */
  expect_inputs(1, "seq.4.linear.weight:param seq.4.linear.bias:param a2:input");
  run_random(g, "", 6);
}

Test(graph_split, issue90375_no_inputs) {
  gc_graph *g = load("issue90375");
  cut(g, 0, 0);
  cr_assert_eq(split->npieces, 1);
  cr_expect_eq(piece(0)->ninputs, 0);
  run_random(g, "", 7);
}

Test(graph_split, higher_order_op_regions_travel_whole) {
  gc_graph *g = load("higher_order_op");
  cut(g, MIB, MIB);
  cr_assert_eq(split->npieces, 2);
  for (int p = 0; p < 2; p++) {
    const gc_graph *pg = piece(p);
    cr_assert_eq(pg->nnodes, 2);
    cr_expect_str_eq(pg->nodes[0].op->name, "checkpoint");
    cr_assert_eq(pg->nodes[0].nregions, 1);
    cr_expect_eq(pg->nodes[0].regions[0]->nnodes, 2);
    cr_expect_eq(pg->nodes[0].regions[0]->parent, pg);
  }
  expect_inputs(1, "inner_mod2.linear1.weight:param inner_mod2.linear1.bias:param "
                   "inner_mod2.linear2.weight:param inner_mod2.linear2.bias:param o1:input");
  expect_pieces_round_trip();
  gc_graph *small = load("higher_order_op_small");
  cut(small, 64 * 1024, 64 * 1024);
  cr_assert_eq(split->npieces, 2);
  run_random(small, "", 8);
}

Test(graph_split, call_method_forward_runs_equal) {
  gc_graph *g = load("call_method_forward");
  cut(g, 0, 0);
  cr_assert_eq(split->npieces, 1);
  run_random(g, "B=1,F=3,T=5", 21);
  /* A 64 KiB cap cuts through the layers: the crossing tensors are f32[B*F, T, 96], so
   * B and F come in as symbols (read off x's shape) while T binds itself. */
  cut(g, 64 * 1024, 64 * 1024);
  cr_assert_eq(split->npieces, 3);
  expect_syms(1, "B F", "");
  expect_src(1, "B", GC_SPLIT_FROM_SHAPE, 0, 0);
  expect_src(1, "F", GC_SPLIT_FROM_SHAPE, 0, 1);
  expect_pieces_round_trip();
  run_random(g, "B=2,F=3,T=5", 22);
}

/* --- SEED 2.2 ------------------------------------------------------------------ */

Test(graph_split, symbol_splitting_consumer_gets_s0) {
  gc_graph *g = load("symbol_splitting");
  cut(g, 0, 0);
  cr_assert_eq(split->npieces, 2);
  /* Piece 1 sees only f32[2*s0, 512]: s0 cannot be read back, so it is passed. */
  expect_inputs(1, "s0:symbol weight2:param x2:input y:input");
  expect_syms(1, "s0", "");
  expect_src(1, "s0", GC_SPLIT_FROM_SHAPE, 0, 0);
  expect_input_type(1, "x2", "f32[2*s0, 512]");
  expect_pieces_round_trip();
  run_random(g, "s0=20", 9);
  run_random(g, "s0=7", 10); /* same split, another size */
}

Test(graph_split, unbacked_direct_exports_u0) {
  gc_graph *g = load("unbacked_direct");
  cut(g, 0, 0);
  cr_assert_eq(split->npieces, 2);
  expect_syms(0, "", "u0");
  expect_syms(1, "s0 u0", "");
  expect_src(1, "u0", GC_SPLIT_FROM_PIECE, 0, 0);
  expect_inputs(1, "s0:symbol u0:symbol weight2:param x2:input y1:input");
  expect_pieces_round_trip();
  gc_tensor *in = make_inputs(g, "s0=20", 11);
  set_input(g, in, "y", (const double[]){12, 13});
  expect_same_run(g, in);
  free_tensors(in, g->ninputs);
}

Test(graph_split, unbacked_indirect_passes_tensor_and_symbol) {
  gc_graph *g = load("unbacked_indirect");
  cut(g, 0, 0);
  cr_assert_eq(split->npieces, 2);
  expect_syms(1, "s0 u0", "");
  expect_input_type(1, "a", "f32[u0]");
  cr_expect_lt(input_index(1, "u0"), input_index(1, "a")); /* declared before its use */
  expect_src(1, "a", GC_SPLIT_FROM_PIECE, 0, 1);
  gc_tensor *in = make_inputs(g, "s0=20", 12);
  set_input(g, in, "y", (const double[]){12, 13});
  expect_same_run(g, in);
  free_tensors(in, g->ninputs);
}

Test(graph_split, unbacked_no_binding_uses_nonzero_count) {
  gc_graph *g = load("unbacked_no_binding");
  cut(g, 0, 0);
  cr_assert_eq(split->npieces, 2);
  expect_syms(0, "", "u0");
  expect_syms(1, "s0 u0", "");
  expect_input_type(1, "nz", "i64[u0, 1]");
  gc_tensor *in = make_inputs(g, "s0=20", 13);
  set_input(g, in, "y", (const double[]){0, 12, 0, 11});
  expect_same_run(g, in);
  set_input(g, in, "y", (const double[]){1, 0, 0, 0}); /* another count, same split */
  expect_same_run(g, in);
  free_tensors(in, g->ninputs);
}

Test(graph_split, unbacked_torture_multi_u0_skips_pieces) {
  gc_graph *g = load("unbacked_torture_multi");
  cut(g, MIB, MIB);
  cr_assert_eq(split->npieces, 3);
  expect_syms(0, "", "u0");
  expect_syms(1, "s0 u0", "");
  expect_syms(2, "s0 u0", "");
  expect_src(1, "u0", GC_SPLIT_FROM_PIECE, 0, 0);
  expect_src(2, "u0", GC_SPLIT_FROM_PIECE, 0, 0); /* straight from piece 0 */
  expect_src(2, "x2", GC_SPLIT_FROM_PIECE, 0, 1);
  expect_src(2, "a", GC_SPLIT_FROM_PIECE, 1, 1);
  expect_pieces_round_trip();
  gc_tensor *in = make_inputs(g, "s0=20", 14);
  set_input(g, in, "y", (const double[]){12, 13});
  expect_same_run(g, in);
  free_tensors(in, g->ninputs);
}

Test(graph_split, strides_dont_specialize_one_split_two_sizes) {
  gc_graph *g = load("strides_dont_specialize");
  cut(g, 0, 0);
  cr_assert_eq(split->npieces, 2);
  /* h: f32[16, s1, 768] binds s1 itself: no symbol input, and s1 stays symbolic. */
  expect_syms(1, "", "");
  expect_input_type(1, "h", "f32[16, s1, 768]");
  run_random(g, "s1=18", 15);
  run_random(g, "s1=20", 16);
}

/* --- cut details ---------------------------------------------------------------- */

Test(graph_split, numeric_names_and_input_outputs) {
  gc_graph *g = parse(
      "graph t(x: f32[2, 4] input, w1: f32[4, 4] param, w2: f32[4, 4] param) {\n"
      "  %0 = matmul(x, w1)\n  %1 = matmul(%0, w2)\n  return %1, x, %0\n}\n");
  cut(g, 64, 64);
  cr_assert_eq(split->npieces, 2);
  expect_inputs(1, "w2:param v0:input"); /* '%0' cannot be an input name */
  cr_expect_eq(split->out_src[1].kind, GC_SPLIT_FROM_INPUT);
  cr_expect_eq(split->out_src[1].index, 0);
  cr_expect_eq(split->out_src[2].kind, GC_SPLIT_FROM_PIECE);
  cr_expect_eq(split->out_src[2].index, 0);
  run_random(g, "", 17);
}

Test(graph_split, graph_without_nodes) {
  gc_graph *g = parse("graph t(x: f32[2] input, n: i64[] symbol) {\n  return x, n\n}\n");
  cut(g, 0, 0);
  cr_assert_eq(split->npieces, 1);
  expect_inputs(0, "x:input n:symbol"); /* one piece: the graph's own order */
  cr_expect_eq(split->out_src[1].kind, GC_SPLIT_FROM_INPUT);
  cr_expect_eq(split->out_src[1].index, 1);
  run_random(g, "n=4", 23);
}

Test(graph_split, graph_symbol_input_stays_a_symbol_input) {
  gc_graph *g = parse(
      "graph t(n: i64[] symbol, x: f32[n, 4] input, w1: f32[4, 4] param, w2: f32[4, 4] param) {\n"
      "  %a = matmul(x, w1)\n  %b = matmul(%a, w2)\n  %f = full(shape=[2*n], value=2)\n"
      "  %s = sum(%f)\n  %r = mul(%b, %s)\n  return %r\n}\n");
  cut(g, 64, 64);
  cr_assert_eq(split->npieces, 2);
  expect_inputs(1, "n:symbol w2:param a:input");
  expect_src(1, "n", GC_SPLIT_FROM_INPUT, 0, 0);
  run_random(g, "n=3", 18);
}

Test(graph_split, backed_symbol_read_off_shape_only_when_needed) {
  /* Piece 1 needs B only for full(shape=[B]): nothing it receives has B as a dim. */
  gc_graph *g = parse(
      "graph t(x: f32[B, 4] input, w1: f32[4, 4] param, w2: f32[4, 4] param) {\n"
      "  %a = matmul(x, w1)\n  %s = sum(%a, dim=[0])\n  %b = matmul(%s, w2)\n"
      "  %f = full(shape=[B], value=1)\n  %t = sum(%f)\n  %r = mul(%b, %t)\n  return %r\n}\n");
  cut(g, 64, 64);
  cr_assert_eq(split->npieces, 2);
  expect_inputs(1, "B:symbol w2:param s:input");
  expect_src(1, "B", GC_SPLIT_FROM_SHAPE, 0, 0);
  run_random(g, "B=5", 19);
}

Test(graph_split, region_symbol_cannot_cross) {
  gc_graph *g = parse(
      "graph t(k: i64[1] input, w1: f32[4, 4] param, w2: f32[4, 4] param, w3: f32[4, 4] param) {\n"
      "  %c = call(k, w3) region(ki: i64[1], wi: f32[4, 4]) {\n"
      "    %n = item(ki)\n    %o = ones(shape=[n])\n    return %o\n  }\n"
      "  %m = matmul(w1, w1)\n  %s = sum(%c)\n  %p = matmul(w2, w2)\n  %r = add(%p, %s)\n"
      "  return %r, %m\n}\n");
  gc_ddp_options o;
  gc_ddp_options_init(&o);
  o.cap_bytes = o.first_cap_bytes = 64;
  OK(gc_ddp_plan_build(g, &o, &plan));
  cr_assert_eq(plan->npieces, 3);
  graphc_status_t st = gc_graph_split(g, plan, &split);
  cr_assert(st);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_UNIMPLEMENTED);
  cr_expect(strstr(graphc_status_message(st), "symbol 'n', which is defined inside a region op"),
            "%s", graphc_status_message(st));
  graphc_status_free(st);
  cr_expect_null(split);
}

Test(graph_split, symbol_name_taken_by_a_value_is_an_error) {
  /* Piece 1 needs s0 as a symbol input, but its own node result is called %s0. */
  gc_graph *g = parse(
      "graph t(x: f32[s0, 4] input, w1: f32[4, 4] param, w2: f32[4, 4] param) {\n"
      "  %a = cat(x, x, dim=0)\n  %m = matmul(%a, w1)\n  %b = matmul(%m, w2)\n"
      "  %s0 = add(%b, %a)\n  return %s0\n}\n");
  gc_ddp_options o;
  gc_ddp_options_init(&o);
  o.cap_bytes = o.first_cap_bytes = 64;
  OK(gc_ddp_plan_build(g, &o, &plan));
  cr_assert_eq(plan->npieces, 2);
  graphc_status_t st = gc_graph_split(g, plan, &split);
  cr_assert(st);
  cr_expect(strstr(graphc_status_message(st), "graph split: piece 1"), "%s",
            graphc_status_message(st));
  cr_expect(strstr(graphc_status_message(st), "'s0'"), "%s", graphc_status_message(st));
  graphc_status_free(st);
  cr_expect_null(split);
}

Test(graph_split, bad_plan_and_bad_inputs) {
  gc_graph *g = load("toy_model_small");
  gc_graph *h = load("no_split");
  OK(gc_ddp_plan_build(h, NULL, &plan));
  /* Same node count but a plan is checked for coverage; a different graph's plan with
   * another node count is refused. */
  gc_graph *other = parse("graph t(x: f32[2] input) {\n  %a = neg(x)\n  return %a\n}\n");
  graphc_status_t st = gc_graph_split(other, plan, &split);
  cr_assert(st);
  cr_expect(strstr(graphc_status_message(st), "the plan was not made for graph 't'"));
  graphc_status_free(st);
  gc_ddp_plan_free(plan);
  plan = NULL;
  cut(g, 4096, 4096);
  /* A wrong input shape is reported by the piece that reads it. */
  gc_tensor *in = make_inputs(g, "", 20);
  in[0].shape[0] = 19;
  in[0].numel = 19 * 10;
  gc_tensor out[1];
  st = gc_split_run_interp(split, 0, in, g->ninputs, out);
  cr_assert(st);
  cr_expect(strstr(graphc_status_message(st), "split run: piece 0 ('toy_model_small_piece0')"),
            "%s", graphc_status_message(st));
  graphc_status_free(st);
  st = gc_split_run_interp(split, 0, in, 3, out);
  cr_assert(st);
  cr_expect(strstr(graphc_status_message(st), "takes 9 inputs, got 3"));
  graphc_status_free(st);
  in[0].numel = 20 * 10;
  free_tensors(in, g->ninputs);
}
