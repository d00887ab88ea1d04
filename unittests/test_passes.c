/* Tests for passes/: the rewriter (clone), each pass on small graphs
 * (node counts, key printed lines, and outputs identical to the original
 * graph's on random non-zero inputs), the default pipeline over every
 * example, the registry and pipeline strings, GRAPHC_DUMP and print-after. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../passes/pass.h"
#include "../passes/rewrite.h"
#include "graphc/graphc.h"
#include "interp/interp_internal.h"
#include "ir/op.h"

#ifndef GRAPHC_SOURCE_DIR
#define GRAPHC_SOURCE_DIR "."
#endif

#include "test_common.h"

static graphc_context_t *ctx;
static void setup(void) { OK(graphc_context_create(NULL, &ctx)); }
static void teardown(void) { graphc_context_release(ctx); }
TestSuite(passes, .init = setup, .fini = teardown);

static gc_graph *parse(const char *text) {
  gc_graph *g = NULL;
  graphc_status_t st = graphc_graph_parse(ctx, text, strlen(text), "t.gc", &g);
  cr_assert(st == NULL, "parse failed: %s\n%s", graphc_status_message(st), text);
  return g;
}

static char *print(const gc_graph *g) {
  char *text = NULL;
  OK(graphc_graph_print(g, &text, NULL));
  return text;
}

static gc_pass_options test_options(void) {
  gc_pass_options o;
  gc_pass_options_defaults(&o);
  o.verify = true;
  return o;
}

static gc_graph *pipeline(const gc_graph *g, const char *p) {
  gc_pass_options o = test_options();
  gc_graph *out = NULL;
  graphc_status_t st = gc_run_pipeline(g, p, &o, &out);
  cr_assert(st == NULL, "pipeline '%s' failed: %s", p ? p : "(default)", graphc_status_message(st));
  return out;
}

static int count_op(const gc_graph *g, const char *op) {
  int n = 0;
  for (int i = 0; i < g->nnodes; i++) n += strcmp(g->nodes[i].op->name, op) == 0;
  return n;
}

static void expect_text(const gc_graph *g, const char *needle, bool present) {
  char *t = print(g);
  cr_expect((strstr(t, needle) != NULL) == present, "'%s' %s in:\n%s", needle,
            present ? "missing" : "unexpectedly present", t);
  graphc_free(t);
}

/* ---- running graphs on random inputs -------------------------------------- */

typedef struct run_spec {
  const char *syms[8]; /* "B=4" */
  int nsyms;
  int64_t ilo, ihi;
} run_spec;

static uint64_t next_rand(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static int64_t sym_value(const run_spec *rs, const char *name) {
  size_t n = strlen(name);
  for (int i = 0; i < rs->nsyms; i++)
    if (!strncmp(rs->syms[i], name, n) && rs->syms[i][n] == '=') return atoll(rs->syms[i] + n + 1);
  cr_assert_fail("no size given for symbol '%s'", name);
  return 0;
}

/* Random inputs for g: floats in [-1, 1) without zeros, integers in
 * [ilo, ihi), symbol inputs from the spec. */
static gc_tensor *make_inputs(const gc_graph *g, const run_spec *rs, uint64_t seed) {
  const gc_dimtab *t = gc_graph_dims(g);
  int ns = gc_dimtab_num_syms(t);
  int64_t vals[64] = {0};
  bool bound[64] = {false};
  cr_assert(ns <= 64);
  for (int s = 0; s < ns; s++) {
    const char *name = gc_dimtab_sym_name(t, s);
    for (int i = 0; i < rs->nsyms; i++)
      if (!strncmp(rs->syms[i], name, strlen(name)) && rs->syms[i][strlen(name)] == '=')
        vals[s] = sym_value(rs, name), bound[s] = true;
  }
  gc_tensor *ins = calloc((size_t)g->ninputs + 1, sizeof *ins);
  for (int i = 0; i < g->ninputs; i++) {
    const gc_value *v = &g->values[g->inputs[i]];
    int64_t shape[GC_MAX_RANK];
    for (int d = 0; d < v->type.rank; d++) OK(gc_dim_eval(t, v->type.dims[d], vals, bound, &shape[d]));
    OK(gc_tensor_alloc(&ins[i], v->type.dtype, v->type.rank, shape, 0));
    if (v->role == GRAPHC_ROLE_SYMBOL) {
      gc_tensor_seti(&ins[i], 0, sym_value(rs, v->name));
      continue;
    }
    for (int64_t e = 0; e < ins[i].numel; e++) {
      uint64_t r = next_rand(&seed);
      if (gc_dtype_is_float(v->type.dtype)) {
        double x = (double)(r >> 11) * 0x1.0p-53 * 2.0 - 1.0;
        gc_tensor_setf(&ins[i], e, x == 0 ? 0.5 : x);
        if (gc_tensor_getf(&ins[i], e) == 0) gc_tensor_setf(&ins[i], e, 0.25); /* f16 underflow */
      } else {
        gc_tensor_seti(&ins[i], e, rs->ilo + (int64_t)(r % (uint64_t)(rs->ihi - rs->ilo)));
      }
    }
  }
  return ins;
}

static bool same_elem(const gc_tensor *a, const gc_tensor *b, int64_t i) {
  size_t es = graphc_dtype_size(a->dtype);
  if (!memcmp((const char *)a->data + (size_t)i * es, (const char *)b->data + (size_t)i * es, es))
    return true;
  return gc_dtype_is_float(a->dtype) && isnan(gc_tensor_getf(a, i)) && isnan(gc_tensor_getf(b, i));
}

/* Runs `before` and `after` on the same random inputs; outputs must be
 * identical bit for bit (any NaN matches any NaN). */
static void expect_same_outputs(const gc_graph *before, const gc_graph *after, const run_spec *rs,
                                const char *what) {
  cr_assert_eq(before->ninputs, after->ninputs, "%s: input count changed", what);
  cr_assert_eq(before->noutputs, after->noutputs, "%s: output count changed", what);
  for (uint64_t seed = 1; seed <= 3; seed++) {
    gc_tensor *ins = make_inputs(before, rs, seed);
    gc_tensor *a = calloc((size_t)before->noutputs + 1, sizeof *a);
    gc_tensor *b = calloc((size_t)before->noutputs + 1, sizeof *b);
    OK(gc_interp_run_tensors(before, 0, ins, before->ninputs, a));
    OK(gc_interp_run_tensors(after, 0, ins, after->ninputs, b));
    for (int o = 0; o < before->noutputs; o++) {
      cr_assert_eq(a[o].dtype, b[o].dtype, "%s: output %d dtype", what, o);
      cr_assert_eq(a[o].rank, b[o].rank, "%s: output %d rank", what, o);
      for (int d = 0; d < a[o].rank; d++)
        cr_assert_eq(a[o].shape[d], b[o].shape[d], "%s: output %d dim %d", what, o, d);
      for (int64_t i = 0; i < a[o].numel; i++)
        cr_assert(same_elem(&a[o], &b[o], i), "%s: output %d element %" PRId64 ": %.17g vs %.17g",
                  what, o, i, gc_tensor_getf(&a[o], i), gc_tensor_getf(&b[o], i));
      gc_tensor_free(&a[o]);
      gc_tensor_free(&b[o]);
    }
    for (int i = 0; i < before->ninputs; i++) gc_tensor_free(&ins[i]);
    free(ins);
    free(a);
    free(b);
  }
}

static const run_spec plain = {.ilo = 0, .ihi = 2};

/* Runs pipeline `p` on `text`, checks semantics, returns the new graph. */
static gc_graph *check(const char *text, const char *p, const run_spec *rs) {
  gc_graph *g = parse(text);
  gc_graph *out = pipeline(g, p);
  expect_same_outputs(g, out, rs ? rs : &plain, p);
  return out;
}

/* ---- the rewriter ----------------------------------------------------------- */

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert(f, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = 0;
  fclose(f);
  return buf;
}

/* "# run: --sym B=2 --int-range 0:6" -> spec (strings point into line). */
static run_spec parse_run_line(char *text) {
  run_spec rs = {.ilo = 0, .ihi = 2};
  if (strncmp(text, "# run:", 6) != 0) return rs;
  char *eol = strchr(text, '\n');
  char *line = strndup(text + 6, (size_t)(eol - text - 6)), *save = NULL;
  for (char *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    if (!strcmp(tok, "--sym")) {
      cr_assert(rs.nsyms < 8);
      rs.syms[rs.nsyms++] = strdup(strtok_r(NULL, " ", &save));
    } else if (!strcmp(tok, "--int-range")) {
      cr_assert(sscanf(strtok_r(NULL, " ", &save), "%" SCNd64 ":%" SCNd64, &rs.ilo, &rs.ihi) == 2);
    }
  }
  free(line);
  return rs;
}

typedef void (*example_fn)(const char *name, const char *text, gc_graph *g, const run_spec *rs);

static int for_each_example(example_fn fn) {
  const char *dir = GRAPHC_SOURCE_DIR "/examples";
  DIR *d = opendir(dir);
  cr_assert(d, "cannot open %s", dir);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len < 4 || strcmp(e->d_name + len - 3, ".gc")) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    char *text = read_file(path);
    run_spec rs = parse_run_line(text);
    gc_graph *g = NULL;
    graphc_status_t st = graphc_graph_parse(ctx, text, strlen(text), path, &g);
    cr_assert(st == NULL, "%s: %s", path, graphc_status_message(st));
    fn(e->d_name, text, g, &rs);
    for (int i = 0; i < rs.nsyms; i++) free((char *)rs.syms[i]);
    gc_graph_destroy(g);
    free(text);
    n++;
  }
  closedir(d);
  return n;
}

static void clone_one(const char *name, const char *text, gc_graph *g, const run_spec *rs) {
  (void)text;
  gc_graph *c = NULL;
  OK(gc_graph_clone(g, &c));
  OK(gc_graph_verify(c));
  char *a = print(g), *b = print(c);
  cr_expect_str_eq(a, b, "%s: clone prints differently", name);
  cr_expect_str_eq(g->file, c->file);
  cr_expect_eq(gc_dimtab_num_syms(gc_graph_dims(g)), gc_dimtab_num_syms(gc_graph_dims(c)));
  for (int s = 0; s < gc_dimtab_num_syms(gc_graph_dims(g)); s++) {
    const char *sn = gc_dimtab_sym_name(gc_graph_dims(g), s);
    int cs = gc_dimtab_find_sym(gc_graph_dims(c), sn);
    cr_assert(cs >= 0, "%s: symbol %s lost", name, sn);
    const gc_symbind *x = gc_graph_symbind(g, s), *y = gc_graph_symbind(c, cs);
    cr_expect_eq(x->kind, y->kind, "%s: symbol %s bound differently", name, sn);
    cr_expect_str_eq(g->values[x->value].name, c->values[y->value].name);
    cr_expect_eq(x->dim, y->dim);
  }
  for (int i = 0; i < g->nnodes; i++) {
    cr_expect_eq(g->nodes[i].loc.line, c->nodes[i].loc.line, "%s: node %d line", name, i);
    cr_expect_eq(g->nodes[i].loc.col, c->nodes[i].loc.col, "%s: node %d col", name, i);
  }
  expect_same_outputs(g, c, rs, name);
  graphc_free(a);
  graphc_free(b);
  gc_graph_destroy(c);
}

Test(passes, clone_keeps_everything) { cr_expect_geq(for_each_example(clone_one), 15); }

Test(passes, clone_rejects_region) {
  gc_graph *g = parse("graph c(x: f32[4] input) {\n  %y = call(x) region(p: f32[4]) {\n"
                      "    %q = neg(p)\n    return %q\n  }\n  return %y\n}\n");
  gc_graph *out = (gc_graph *)1;
  graphc_status_t st = gc_graph_clone(g->nodes[0].regions[0], &out);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_INVALID_ARGUMENT);
  cr_expect_null(out);
  graphc_status_free(st);
}

/* ---- dce ----------------------------------------------------------------------- */

Test(passes, dce_removes_dead_chains_keeps_live) {
  gc_graph *g = check("graph d(x: f32[B, 4] input, s: i64[] input) {\n"
                      "  %a = relu(x)\n  %dead1 = exp(%a)\n  %dead2 = add(%dead1, x)\n"
                      "  %r = dropout(x, s, p=0.5)\n  %b = neg(%a)\n  return %b\n}\n",
                      "dce", &(run_spec){{"B=3"}, 1, 0, 5});
  cr_expect_eq(g->nnodes, 2);
  expect_text(g, "%a = relu(x)", true);
  expect_text(g, "dropout", false);
  expect_text(g, "dead", false);
}

Test(passes, dce_keeps_symbol_definers) {
  /* %u's node has no data use, but zeros' shape names u. */
  gc_graph *g = check("graph d(x: f32[6] input) {\n  %idx, %u = nonzero(x)\n"
                      "  %z = zeros(shape=[u, 2])\n  %k = item(%u)\n  return %z\n}\n",
                      "dce", NULL);
  cr_expect_eq(count_op(g, "nonzero"), 1);
  cr_expect_eq(count_op(g, "item"), 0);
  cr_expect_eq(g->nnodes, 2);
}

Test(passes, dce_inside_regions) {
  gc_graph *g = check("graph d(x: f32[4] input) {\n"
                      "  %y = checkpoint(x) region(p: f32[4]) {\n"
                      "    %dead = exp(p)\n    %q = neg(p)\n    return %q\n  }\n"
                      "  %unused = call(x) region(p: f32[4]) {\n    return p\n  }\n"
                      "  return %y\n}\n",
                      "dce", NULL);
  cr_expect_eq(g->nnodes, 1);
  cr_expect_eq(g->nodes[0].regions[0]->nnodes, 1);
  expect_text(g, "exp", false);
}

/* ---- cse ----------------------------------------------------------------------- */

Test(passes, cse_merges_chains_in_one_pass) {
  gc_graph *g = check("graph c(x: f32[4] input, y: f32[4] input) {\n"
                      "  %a1 = add(x, y)\n  %a2 = add(x, y)\n  %m1 = mul(%a1, x)\n"
                      "  %m2 = mul(%a2, x)\n  %o = sub(%m1, %m2)\n  %rev = add(y, x)\n"
                      "  return %o, %rev\n}\n",
                      "cse,dce", NULL);
  cr_expect_eq(count_op(g, "add"), 2); /* add(y, x) is a different node */
  cr_expect_eq(count_op(g, "mul"), 1);
  expect_text(g, "%o = sub(%m1, %m1)", true);
}

Test(passes, cse_attributes) {
  gc_graph *g = check("graph c(x: f32[4, 6] input, s: i64[] input) {\n"
                      "  %a = slice(x, dim=1, start=1, end=5)\n"
                      "  %b = slice(x, end=5, start=1, dim=1)\n"
                      "  %c = slice(x, dim=1, start=2, end=5)\n"
                      "  %f1 = full(shape=[4, 4], value=0.5)\n  %f2 = full(shape=[4, 4], value=0.5)\n"
                      "  %f3 = full(shape=[4, 4], value=-0.5)\n"
                      "  %d1 = dropout(%a, s, p=0.5)\n  %d2 = dropout(%b, s, p=0.5)\n"
                      "  %d3 = dropout(%a, s, p=0.25)\n"
                      "  return %a, %b, %c, %f1, %f2, %f3, %d1, %d2, %d3\n}\n",
                      "cse,dce", &(run_spec){{0}, 0, 0, 100});
  cr_expect_eq(count_op(g, "slice"), 2);
  cr_expect_eq(count_op(g, "full"), 2);
  cr_expect_eq(count_op(g, "dropout"), 2);
  expect_text(g, "return %a, %a, %c, %f1, %f1, %f3, %d1, %d1, %d3", true);
}

Test(passes, cse_leaves_regions_and_symbols) {
  gc_graph *g = check("graph c(x: f32[4] input, k: i64[1] input) {\n"
                      "  %y1 = call(x) region(p: f32[4]) {\n    %q = neg(p)\n    return %q\n  }\n"
                      "  %y2 = call(x) region(p: f32[4]) {\n    %q = neg(p)\n    return %q\n  }\n"
                      "  %n = item(k)\n  %m = item(k)\n  %r1 = arange(end=[n])\n  %r2 = arange(end=[m])\n"
                      "  return %y1, %y2, %r1, %r2\n}\n",
                      "cse", &(run_spec){{0}, 0, 1, 4});
  cr_expect_eq(count_op(g, "call"), 2);
  cr_expect_eq(count_op(g, "item"), 2);
  cr_expect_eq(count_op(g, "arange"), 2);
}

/* ---- fold ------------------------------------------------------------------------ */

Test(passes, fold_scalar_arithmetic) {
  gc_graph *g = check("graph f(x: f32[B] input) {\n"
                      "  %a = full(shape=[B], value=2.0)\n  %b = full(shape=[], value=3.0)\n"
                      "  %m = mul(%a, %b)\n  %e = exp(%m)\n  %y = add(x, %e)\n  return %y, %m\n}\n",
                      "fold,dce", &(run_spec){{"B=5"}, 1, 0, 2});
  cr_expect_eq(g->nnodes, 3);
  expect_text(g, "%m = full(shape=[B], value=6.0, dtype=f32)", true);
  /* exp(6) rounded to f32 by the interpreter, not to double */
  expect_text(g, "%e = full(shape=[B], value=403.4288024902344, dtype=f32)", true);
}

Test(passes, fold_respects_dtype_rounding_and_promotion) {
  gc_graph *g = check("graph f(x: f16[4] input) {\n"
                      "  %a = full(shape=[4], value=1.0, dtype=f16)\n"
                      "  %b = full(shape=[], value=0.0001, dtype=f32)\n"
                      "  %s = add(%a, %b)\n" /* f16: 1 + 0.0001 rounds back to 1 */
                      "  %i = full(shape=[2], value=7.9, dtype=i32)\n"
                      "  %j = full(shape=[2], value=2147483647, dtype=i32)\n"
                      "  %w = add(%i, %j)\n" /* 7 + INT32_MAX wraps */
                      "  %y = mul(x, %s)\n  return %y, %w\n}\n",
                      "fold,dce", NULL);
  expect_text(g, "%s = full(shape=[4], value=1.0, dtype=f16)", true);
  expect_text(g, "%w = full(shape=[2], value=-2147483642.0, dtype=i32)", true);
}

Test(passes, fold_general_ops_only_uniform_small) {
  gc_graph *g = check("graph f(x: f32[4] input) {\n"
                      "  %o = ones(shape=[4, 4])\n  %s = sum(%o, dim=[1])\n"
                      "  %r = arange(end=[5])\n  %t = sum(%r)\n"
                      "  %m = mul(%r, %t)\n" /* not uniform: stays */
                      "  %big = ones(shape=[100, 100])\n  %bs = sum(%big)\n" /* too big */
                      "  %mm = matmul(%o, %o)\n"
                      "  %y = add(x, %s)\n  return %y, %t, %m, %bs, %mm\n}\n",
                      "fold,dce", NULL);
  expect_text(g, "%s = full(shape=[4], value=4.0, dtype=f32)", true);
  expect_text(g, "%t = full(shape=[], value=1e+01, dtype=i64)", true);
  expect_text(g, "%mm = full(shape=[4, 4], value=4.0, dtype=f32)", true);
  expect_text(g, "%m = mul(%r, %t)", true);
  expect_text(g, "%bs = sum(%big)", true);
}

Test(passes, fold_leaves_failures_for_run_time) {
  /* cross_entropy with an out-of-range target fails when run: not folded */
  gc_graph *g = parse("graph f(x: f32[2] input) {\n  %l = zeros(shape=[2, 3])\n"
                      "  %t = full(shape=[2], value=7, dtype=i64)\n  %c = cross_entropy(%l, %t)\n"
                      "  return %c\n}\n");
  gc_graph *out = pipeline(g, "fold");
  cr_expect_eq(count_op(out, "cross_entropy"), 1);
}

/* ---- canonicalize ------------------------------------------------------------------ */

Test(passes, canonicalize_reshape_chains) {
  gc_graph *g = check("graph c(x: f32[B, T, 4] input) {\n"
                      "  %a = reshape(x, shape=[B*T, 4])\n  %b = view(%a, shape=[B, T*4])\n"
                      "  %c = reshape(%b, shape=[B, T, 4])\n" /* back to x */
                      "  %u = unsqueeze(x, dim=0)\n  %s = squeeze(%u, dim=[0])\n"
                      "  %y = add(%c, %s)\n  return %y, %b\n}\n",
                      "canonicalize,dce", &(run_spec){{"B=2", "T=3"}, 2, 0, 2});
  cr_expect_eq(g->nnodes, 2);
  expect_text(g, "%y = add(x, x)", true);
  expect_text(g, "%b = reshape(x, shape=[B, 4*T])", true);
}

Test(passes, canonicalize_permutes) {
  gc_graph *g = check("graph c(x: f32[2, 3, 4] input, sq: f32[3, 3] input) {\n"
                      "  %p = permute(x, dims=[2, 0, 1])\n  %t = transpose(%p, dim0=0, dim1=2)\n"
                      "  %back = permute(%t, dims=[1, 2, 0])\n" /* p, t, back compose */
                      "  %i = permute(x, dims=[0, 1, 2])\n"
                      "  %s1 = transpose(sq, dim0=0, dim1=1)\n" /* same type, not identity */
                      "  %s2 = transpose(%s1, dim0=1, dim1=0)\n"
                      "  return %t, %back, %i, %s1, %s2\n}\n",
                      "canonicalize,dce", NULL);
  expect_text(g, "%t = permute(x, dims=[1, 0, 2])", true);
  expect_text(g, "%back = permute(x, dims=[0, 2, 1])", true);
  expect_text(g, "%s1 = transpose(sq, dim0=0, dim1=1)", true);
  expect_text(g, "return %t, %back, x, %s1, sq", true);
}

Test(passes, canonicalize_no_ops) {
  gc_graph *g = check("graph c(x: f32[4, 1] input, n: i32[4] input) {\n"
                      "  %c = cast(x, dtype=f32)\n  %c2 = cast(n, dtype=i64)\n"
                      "  %e = expand(%c, shape=[4, 1])\n  %e2 = expand(%e, shape=[4, 3])\n"
                      "  %s = slice(%e, dim=0, start=0)\n  %s2 = slice(%e, dim=0, start=1)\n"
                      "  %n1 = neg(%s)\n  %n2 = neg(%n1)\n  %n3 = neg(%n2)\n"
                      "  return %n2, %n3, %c2, %e2, %s2\n}\n",
                      "canonicalize,dce", &(run_spec){{0}, 0, -5, 5});
  expect_text(g, "return x, %n3, %c2, %e2, %s2", true);
  expect_text(g, "%n3 = neg(x)", true);
  cr_expect_eq(g->nnodes, 4);
}

Test(passes, canonicalize_neutral_operands) {
  gc_graph *g = check("graph c(x: f32[B, 4] input, i: i32[4] input) {\n"
                      "  %z = zeros(shape=[4])\n  %o = ones(shape=[])\n"
                      "  %a = add(x, %z)\n  %b = mul(%o, %a)\n  %c = sub(%b, %z)\n  %d = div(%c, %o)\n"
                      "  %bz = zeros(shape=[B, 4])\n  %grow = add(%z, %bz)\n" /* type != either */
                      "  %ih = full(shape=[4], value=0.5, dtype=i32)\n  %ii = add(i, %ih)\n"
                      "  %prom = add(i, %z)\n" /* i32 + f32 -> f32: kept */
                      "  %two = full(shape=[], value=2.0)\n  %m2 = mul(x, %two)\n"
                      "  return %d, %grow, %ii, %prom, %m2\n}\n",
                      "canonicalize,dce", &(run_spec){{"B=2"}, 1, -9, 9});
  expect_text(g, "return x, %bz, i, %prom, %m2", true); /* 0 + bz is bz */
}

Test(passes, canonicalize_signed_zero_option) {
  const char *text = "graph c(x: f32[4] input, k: i64[4] input) {\n"
                     "  %z = zeros(shape=[4])\n  %nz = full(shape=[4], value=-0.0)\n"
                     "  %a = add(x, %z)\n  %b = add(x, %nz)\n  %c = sub(x, %z)\n  %d = sub(x, %nz)\n"
                     "  %iz = zeros(shape=[4], dtype=i64)\n  %e = add(k, %iz)\n"
                     "  return %a, %b, %c, %d, %e\n}\n";
  gc_graph *g = parse(text), *out = NULL;
  gc_pass_options o = test_options();
  o.canonicalize_add_zero = false;
  OK(gc_run_pipeline(g, "canonicalize,dce", &o, &out));
  expect_same_outputs(g, out, &plain, "exact zeros");
  expect_text(out, "return %a, x, x, %d, k", true);
  gc_graph *loose = pipeline(g, "canonicalize,dce");
  expect_text(loose, "return x, x, x, x, k", true); /* -0.0 - -0.0 is +0.0 */
}

Test(passes, canonicalize_inside_regions) {
  gc_graph *g = check("graph c(x: f32[4] input) {\n"
                      "  %y = checkpoint(x) region(p: f32[4]) {\n"
                      "    %a = neg(p)\n    %b = neg(%a)\n    return %b\n  }\n  return %y\n}\n",
                      "canonicalize,dce", NULL);
  cr_expect_eq(g->nodes[0].regions[0]->nnodes, 0);
  expect_text(g, "    return p\n", true);
}

/* ---- the default pipeline over every example ------------------------------------------ */

static void pipeline_one(const char *name, const char *text, gc_graph *g, const run_spec *rs) {
  (void)text;
  gc_graph *out = pipeline(g, NULL);
  expect_same_outputs(g, out, rs, name);
  cr_expect_leq(out->nnodes, g->nnodes, "%s grew", name);
  /* A second run finds nothing left to do. */
  gc_graph *again = pipeline(out, NULL);
  char *a = print(out), *b = print(again);
  cr_expect_str_eq(a, b, "%s: the pipeline is not idempotent", name);
  graphc_free(a);
  graphc_free(b);
  gc_graph_destroy(again);
  gc_graph_destroy(out);
}

Test(passes, default_pipeline_on_examples) { cr_expect_geq(for_each_example(pipeline_one), 15); }

/* ---- registry, pipeline strings, dumps, print-after ---------------------------------- */

Test(passes, registry) {
  cr_expect_eq(gc_pass_count(), GC_PASS_COUNT);
  const char *names[] = {"dce", "cse", "fold", "canonicalize"};
  for (int i = 0; i < 4; i++) {
    const gc_pass_info *p = gc_pass_lookup(names[i], strlen(names[i]));
    cr_assert_not_null(p, "%s", names[i]);
    cr_expect_str_eq(p->name, names[i]);
    cr_expect(p->doc && *p->doc);
  }
  cr_expect_null(gc_pass_lookup("dc", 2));
  cr_expect_null(gc_pass_at(gc_pass_count()));
  cr_expect_null(gc_pass_at(-1));
  int n = 0;
  while (gc_default_pipeline_at(n)) n++;
  cr_expect_geq(n, 4);
}

static void expect_pipeline_error(const char *p, graphc_status_code_t code, const char *needle) {
  gc_graph *g = parse("graph e(x: f32[4] input) {\n  return x\n}\n"), *out = (gc_graph *)1;
  gc_pass_options o = test_options();
  graphc_status_t st = gc_run_pipeline(g, p, &o, &out);
  cr_assert(st, "pipeline '%s' accepted", p);
  cr_expect_eq(graphc_status_code(st), code, "%s", graphc_status_message(st));
  cr_expect(strstr(graphc_status_message(st), needle), "'%s' not in '%s'", needle,
            graphc_status_message(st));
  cr_expect_null(out);
  graphc_status_free(st);
}

Test(passes, pipeline_errors) {
  expect_pipeline_error("dce,cse,bogus,fold", GRAPHC_STATUS_NOT_FOUND,
                        "unknown pass 'bogus' in pipeline 'dce,cse,bogus,fold'; known passes: dce, "
                        "cse, fold, canonicalize");
  expect_pipeline_error("dce,,cse", GRAPHC_STATUS_INVALID_ARGUMENT, "pass 2 has an empty name");
  expect_pipeline_error("dce,", GRAPHC_STATUS_INVALID_ARGUMENT, "ends with ','");
}

Test(passes, pipeline_strings) {
  gc_graph *g = parse("graph e(x: f32[4] input) {\n  %a = neg(x)\n  %b = neg(%a)\n  return %b\n}\n");
  gc_graph *none = pipeline(g, "  ");
  cr_expect_eq(none->nnodes, 2);
  gc_graph *spaced = pipeline(g, " canonicalize , dce ");
  cr_expect_eq(spaced->nnodes, 0);
}

static char *capture_dump(const gc_graph *g, const char *spec, const char *p) {
  gc_pass_options o = test_options();
  OK(gc_pass_options_set_dump(&o, spec));
  char *buf = NULL;
  size_t len = 0;
  o.dump_stream = open_memstream(&buf, &len);
  gc_graph *out = NULL;
  OK(gc_run_pipeline(g, p, &o, &out));
  fclose(o.dump_stream);
  gc_graph_destroy(out);
  return buf;
}

Test(passes, dump_after) {
  gc_graph *g = parse("graph e(x: f32[4] input) {\n  %a = neg(x)\n  %b = neg(%a)\n  return %b\n}\n");
  char *d = capture_dump(g, "after:canonicalize", "canonicalize,dce");
  cr_expect(strstr(d, "# *** IR after canonicalize (step 1 of 2) ***\ngraph e(x: f32[4] input) {\n"),
            "%s", d);
  cr_expect(!strstr(d, "after dce"), "%s", d);
  free(d);
  d = capture_dump(g, "after:all", "canonicalize,dce");
  cr_expect(strstr(d, "after canonicalize (step 1 of 2)") && strstr(d, "after dce (step 2 of 2)"),
            "%s", d);
  cr_expect(strstr(d, "graph e(x: f32[4] input) {\n  return x\n}\n"), "%s", d);
  free(d);
  d = capture_dump(g, "after:dce, after:cse", "canonicalize,dce");
  cr_expect(strstr(d, "after dce") && !strstr(d, "after canonicalize"), "%s", d);
  free(d);
}

Test(passes, dump_spec_errors_and_env) {
  gc_pass_options o = test_options();
  graphc_status_t st = gc_pass_options_set_dump(&o, "after:nope");
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_NOT_FOUND);
  cr_expect(strstr(graphc_status_message(st), "'nope'") &&
            strstr(graphc_status_message(st), "known passes: dce"), "%s", graphc_status_message(st));
  graphc_status_free(st);
  st = gc_pass_options_set_dump(&o, "after:cse,before:dce");
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_INVALID_ARGUMENT);
  cr_expect(!o.dump_after[GC_PASS_ID_cse], "a failed spec must not half-apply");
  graphc_status_free(st);

  setenv("GRAPHC_DUMP", "after:fold", 1);
  OK(gc_pass_options_init(&o));
  cr_expect(o.dump_after[GC_PASS_ID_fold] && !o.dump_after[GC_PASS_ID_dce] && !o.dump_after_all);
  setenv("GRAPHC_DUMP", "after:all", 1);
  OK(gc_pass_options_init(&o));
  cr_expect(o.dump_after_all);
  setenv("GRAPHC_DUMP", "after:fold,after:x", 1);
  st = gc_pass_options_init(&o);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_NOT_FOUND);
  cr_expect(!o.dump_after[GC_PASS_ID_fold]);
  graphc_status_free(st);
  unsetenv("GRAPHC_DUMP");
  OK(gc_pass_options_init(&o));
  cr_expect(!o.dump_after_all && o.dump_stream == stderr && o.fold_max_elements == 4096);
}

Test(passes, print_after) {
  gc_graph *g = parse("graph e(x: f32[4] input) {\n  %a = full(shape=[4], value=2.0)\n"
                      "  %b = full(shape=[4], value=3.0)\n  %m = mul(%a, %b)\n"
                      "  %y = mul(x, %m)\n  %dead = neg(x)\n  return %y\n}\n");
  gc_pass_options o = test_options();
  gc_graph *out = NULL;
  OK(gc_print_after(g, "fold", NULL, &o, &out));
  char *want_text = print(pipeline(g, "dce,canonicalize,fold")), *got = print(out);
  cr_expect_str_eq(got, want_text);
  expect_text(out, "%m = full(shape=[4], value=6.0, dtype=f32)", true);
  expect_text(out, "%a = full", true); /* the last dce has not run yet */
  graphc_free(got);
  graphc_free(want_text);
  gc_graph_destroy(out);
  OK(gc_print_after(g, "dce#2", NULL, &o, &out));
  expect_text(out, "%a = full", false);
  gc_graph_destroy(out);
  OK(gc_print_after(g, "cse", "cse,dce", &o, &out));
  cr_expect_eq(out->nnodes, g->nnodes);
  gc_graph_destroy(out);

  graphc_status_t st = gc_print_after(g, "cse#2", NULL, &o, &out);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_NOT_FOUND, "%s", graphc_status_message(st));
  cr_expect_null(out);
  graphc_status_free(st);
  st = gc_print_after(g, "fold", "dce,cse", &o, &out);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_NOT_FOUND);
  cr_expect(strstr(graphc_status_message(st), "'dce,cse'"), "%s", graphc_status_message(st));
  graphc_status_free(st);
  st = gc_print_after(g, "nope", NULL, &o, &out);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_NOT_FOUND);
  cr_expect(strstr(graphc_status_message(st), "known passes"), "%s", graphc_status_message(st));
  graphc_status_free(st);
  st = gc_print_after(g, "fold#0", NULL, &o, &out);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_INVALID_ARGUMENT);
  graphc_status_free(st);
}

Test(passes, passes_reject_regions_and_keep_input) {
  gc_graph *g = parse("graph c(x: f32[4] input) {\n  %y = call(x) region(p: f32[4]) {\n"
                      "    %q = neg(p)\n    return %q\n  }\n  return %y\n}\n");
  char *before = print(g);
  gc_graph *out = (gc_graph *)1;
  gc_pass_options o = test_options();
  graphc_status_t st = gc_run_pass(gc_pass_lookup("dce", 3), g->nodes[0].regions[0], &o, &out);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_INVALID_ARGUMENT);
  cr_expect(strstr(graphc_status_message(st), "pass 'dce'"), "%s", graphc_status_message(st));
  cr_expect_null(out);
  graphc_status_free(st);
  gc_graph *all = pipeline(g, NULL);
  char *after = print(g);
  cr_expect_str_eq(before, after, "the input graph was modified");
  graphc_free(before);
  graphc_free(after);
  gc_graph_destroy(all);
}
