/* Fusion and whole programs: kernel counts of the fusion rules (checked
 * on the lowered program, and its results against the interpreter),
 * fused combinations, run-time checks, UNIMPLEMENTED ops, and every
 * example graph. Dumps of a few programs go to the test log. */
#include <dirent.h>

#include "lower_harness.h"

TestSuite(lower_fusion, .init = lh_setup, .fini = lh_teardown);

static kir_program *checked(const char *text, const char *syms) {
  return lh_check(text, &(lh_opts){.syms = syms}, true);
}

static void expect_counts(kir_program *p, int kernels, int gemms, int epilogues, const char *what) {
  gc_lower_counts c = gc_lower_count(p);
  char *dump = kir_program_print(p);
  cr_expect_eq(c.kernels, kernels, "%s: %d kernels, want %d\n%s", what, c.kernels, kernels, dump);
  cr_expect_eq(c.gemms, gemms, "%s: %d gemms, want %d\n%s", what, c.gemms, gemms, dump);
  cr_expect_eq(c.epilogues, epilogues, "%s: %d epilogues, want %d\n%s", what, c.epilogues, epilogues, dump);
  free(dump);
  gc_lower_free(p);
}

static void show(const char *title, kir_program *p) {
  char *dump = kir_program_print(p);
  printf("---- %s ----\n%s", title, dump);
  free(dump);
}

Test(lower_fusion, gelu_of_affine_is_one_kernel) {
  const char *same = "graph t(x: f32[B, N] input, w: f32[B, N] input, b: f32[B, N] input) {\n"
                     "  %m = mul(x, w)\n  %a = add(%m, b)\n  %y = gelu(%a)\n  return %y\n}\n";
  const char *bcast = "graph t(x: f32[B, N] input, w: f32[N] input, b: f32[] input) {\n"
                      "  %m = mul(x, w)\n  %a = add(%m, b)\n  %y = gelu(%a, approximate=tanh)\n  return %y\n}\n";
  const char *flat = "graph t(x: f32[16384] input, w: f32[16384] input, b: f32[16384] input) {\n"
                     "  %m = mul(x, w)\n  %a = add(%m, b)\n  %y = gelu(%a)\n  return %y\n}\n";
  kir_program *p = checked(same, "B=3 N=1023");
  show("gelu(x*w+b)", p);
  expect_counts(p, 1, 0, 0, "gelu same shape");
  expect_counts(checked(bcast, "B=3 N=7"), 1, 0, 0, "gelu broadcast");
  p = checked(flat, "");
  cr_expect_eq(p->kernels[0].nouter, 1, "a large 1-D kernel gets an outer loop to run in parallel");
  expect_counts(p, 1, 0, 0, "gelu 1-D");
}

/* A symbolic 1-D length is split into tiles (outer N // T, inner T) so
 * the outer loop runs in parallel, plus a one-point tail kernel: results
 * equal the interpreter at and around the tile boundaries. */
Test(lower_fusion, symbolic_1d_is_tiled) {
  const char *text = "graph t(x: f32[N] input, w: f32[N] input, b: f32[N] input) {\n"
                     "  %m = mul(x, w)\n  %a = add(%m, b)\n  %y = gelu(%a)\n  return %y\n}\n";
  const int64_t T = 16384, ns[] = {0, 1, 7, T - 1, T, T + 1, 3 * T + 5};
  for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
    char syms[64];
    snprintf(syms, sizeof syms, "N=%lld", (long long)ns[i]);
    kir_program *p = checked(text, syms);
    cr_assert_eq(p->nkernels, 2, "N=%lld: main tiles and tail", (long long)ns[i]);
    const kir_kernel *k = &p->kernels[0];
    cr_assert_eq(k->nouter, 1);
    int64_t vals[1] = {ns[i]}, tiles = -1, tail = -1;
    cr_assert_eq(gc_dim_eval(p->dims, p->sizes[k->outer[0]], vals, NULL, &tiles), NULL);
    cr_assert_eq(p->kernels[1].nouter, 0);
    cr_assert_eq(gc_dim_eval(p->dims, p->sizes[p->kernels[1].stages[0].inner[0]], vals, NULL, &tail), NULL);
    cr_expect_eq(tiles, ns[i] / T, "N=%lld: %lld tiles", (long long)ns[i], (long long)tiles);
    cr_expect_eq(tiles * T + tail, ns[i], "tiles and tail cover N exactly");
    gc_lower_free(p);
  }
  kir_program *p = checked(text, "N=49157");
  int64_t vals[1] = {16777216}, tiles = 0;
  cr_assert_eq(gc_dim_eval(p->dims, p->sizes[p->kernels[0].outer[0]], vals, NULL, &tiles), NULL);
  cr_expect_eq(tiles, 1024, "16 M elements run as 1024 parallel tiles");
  gc_lower_free(p);
}

Test(lower_fusion, normalisations_are_one_kernel) {
  kir_program *p = checked("graph t(x: f32[B, N] input) {\n  %y = softmax(x, dim=-1)\n  return %y\n}\n", "B=3 N=7");
  show("softmax", p);
  cr_expect_eq(p->kernels[0].nstages, 3, "max, sum, store");
  expect_counts(p, 1, 0, 0, "softmax");
  expect_counts(checked("graph t(x: f32[B, N] input, w: f32[N] input, b: f32[N] input) {\n"
                        "  %y = layer_norm(x, w, b, normalized_shape=[N])\n  return %y\n}\n", "B=2 N=1023"),
                1, 0, 0, "layer_norm");
  expect_counts(checked("graph t(x: f32[B, N] input) {\n  %y = mean(x, dim=[1])\n  return %y\n}\n", "B=3 N=7"), 1,
                0, 0, "mean");
  /* prologue and epilogue in the reduction kernel */
  expect_counts(checked("graph t(x: f32[B, N] input) {\n  %s = mul(x, x)\n  %m = mean(%s, dim=[1])\n"
                        "  %y = sqrt(%m)\n  return %y\n}\n", "B=3 N=7"), 1, 0, 0, "rms");
  /* a decomposed softmax over the last dim: still one kernel */
  expect_counts(checked("graph t(x: f32[B, N] input) {\n  %m = amax(x, dim=[1], keepdim=true)\n"
                        "  %z = sub(x, %m)\n  %e = exp(%z)\n  %s = sum(%e, dim=[1], keepdim=true)\n"
                        "  %y = div(%e, %s)\n  return %y\n}\n", "B=3 N=7"),
                1, 0, 0, "decomposed softmax");
}

Test(lower_fusion, linear_epilogues) {
  kir_program *p = checked("graph t(x: f32[B, N] input, w: f32[8, N] input, b: f32[8] input) {\n"
                           "  %h = linear(x, w, b)\n  %y = relu(%h)\n  return %y\n}\n", "B=3 N=7");
  show("relu(linear(x, w, b))", p);
  expect_counts(p, 0, 1, 1, "relu(linear)");
  /* an MLP: each GEMM's bias and activation ride in its epilogue */
  expect_counts(checked("graph t(x: f32[B, 16] input, w1: f32[32, 16] param, b1: f32[32] param,\n"
                        "        w2: f32[8, 32] param, b2: f32[8] param) {\n  %h = linear(x, w1, b1)\n"
                        "  %a = relu(%h)\n  %y = linear(%a, w2, b2)\n  return %y\n}\n", "B=5"),
                0, 2, 2, "mlp");
  /* matmul straight into the output: no kernel at all */
  expect_counts(checked("graph t(a: f32[B, N] input, b: f32[N, 4] input) {\n  %y = matmul(a, b)\n"
                        "  return %y\n}\n", "B=3 N=7"), 0, 1, 0, "matmul");
  /* softmax of a linear: its epilogue has the reduction stages */
  expect_counts(checked("graph t(x: f32[B, N] input, w: f32[8, N] input) {\n  %h = linear(x, w)\n"
                        "  %y = softmax(%h, dim=1)\n  return %y\n}\n", "B=3 N=7"), 0, 1, 1, "softmax(linear)");
}

Test(lower_fusion, materialisation_rules) {
  /* exp(x) feeds two different outputs: computed once, in a temp */
  kir_program *p = checked("graph t(x: f32[B, N] input) {\n  %e = exp(x)\n  %a = add(%e, x)\n"
                           "  %b = mul(%e, %e)\n  return %a, %b\n}\n", "B=3 N=7");
  expect_counts(p, 3, 0, 0, "shared exp");
  /* a cheap shared value is recomputed instead */
  expect_counts(checked("graph t(x: f32[B, N] input, y: f32[B, N] input) {\n  %s = add(x, y)\n"
                        "  %a = exp(%s)\n  %b = sin(%s)\n  return %a, %b\n}\n", "B=3 N=7"), 2, 0, 0, "shared add");
  /* an expensive value broadcast along a dim it does not have (gelu(w)
   * over symbolic [N] is two kernels: tiles of 16384 and the tail) */
  expect_counts(checked("graph t(x: f32[B, N] input, w: f32[N] input) {\n  %g = gelu(w)\n  %y = mul(x, %g)\n"
                        "  return %y\n}\n", "B=3 N=7"), 3, 0, 0, "broadcast gelu");
  /* a full reduction broadcast back: materialised once */
  expect_counts(checked("graph t(x: f32[B, N] input) {\n  %s = sum(x)\n  %y = div(x, %s)\n  return %y\n}\n",
                        "B=3 N=7"), 2, 0, 0, "x / sum(x)");
  /* a column reduction broadcast back cannot share the row kernel */
  expect_counts(checked("graph t(x: f32[B, N] input) {\n  %m = mean(x, dim=[0], keepdim=true)\n"
                        "  %y = sub(x, %m)\n  return %y\n}\n", "B=3 N=7"), 2, 0, 0, "x - mean over rows");
  /* views of an input are free; a view that is an output is one copy */
  p = checked("graph t(x: f32[B, N] input) {\n  %r = reshape(x, shape=[N, B])\n  return %r\n}\n", "B=3 N=7");
  gc_lower_counts c = gc_lower_count(p);
  cr_expect_eq(c.copies, 1);
  cr_expect_eq(c.kernels, 0);
  gc_lower_free(p);
}

Test(lower_fusion, chains_and_regions) {
  gc_lower_free(checked("graph t(x: f32[B, N] input, w: f32[N, N] param, g: f32[N] param, b: f32[N] param) {\n"
          "  %h = matmul(x, w)\n  %t = tanh(%h)\n  %r = add(%t, x)\n"
          "  %n = layer_norm(%r, g, b, normalized_shape=[N])\n  %s = sigmoid(%n)\n"
          "  %l = log_softmax(%s, dim=1)\n  %m = amax(%l, dim=[1])\n  return %l, %m\n}\n", "B=4 N=7"));
  gc_lower_free(checked("graph t(x: f32[B, N] input) {\n  %y = call(x) region(p: f32[B, N]) {\n    %a = exp(p)\n"
          "    %c = checkpoint(%a) region(q: f32[B, N]) {\n      %z = neg(q)\n      return %z\n    }\n"
          "    return %c\n  }\n  return %y\n}\n", "B=2 N=5"));
  /* integer and bool chains */
  gc_lower_free(checked("graph t(a: i32[B, N] input, b: i32[N] input, c: bool[B, N] input) {\n  %s = mul(a, b)\n"
          "  %t = add(%s, a)\n  %w = where(c, %t, b)\n  %g = gt(%w, b)\n  %o = mul(%g, c)\n"
          "  %n = sum(%w, dim=[1])\n  return %o, %n\n}\n", "B=3 N=7"));
  /* f16 intermediates round like the interpreter's stores */
  gc_lower_free(checked("graph t(x: f16[B, N] input) {\n  %a = mul(x, x)\n  %b = exp(%a)\n  %c = add(%b, x)\n"
          "  %d = cast(%c, dtype=f32)\n  %e = softmax(%d, dim=1)\n  return %c, %e\n}\n", "B=3 N=7"));
}

/* ---- run-time checks -------------------------------------------------------------- */

static graphc_status_t run_with(const char *text, const char *syms, int64_t poke_input, int64_t poke_value) {
  gc_graph *g = lh_parse(text);
  gc_tensor in[8] = {{0}}, out[8] = {{0}};
  uint64_t rng = lh_seed;
  lh_inputs(g, &(lh_opts){.syms = syms, .int_lo = 0, .int_hi = 2}, in, &rng);
  if (poke_input >= 0) gc_tensor_seti(&in[poke_input], 0, poke_value);
  kir_program *p = NULL;
  OK(gc_lower_graph(g, NULL, &p));
  graphc_status_t st = kir_eval(p, in, g->ninputs, out, g->noutputs, NULL);
  for (int i = 0; i < g->ninputs; i++) gc_tensor_free(&in[i]);
  for (int k = 0; k < g->noutputs; k++) gc_tensor_free(&out[k]);
  gc_lower_free(p);
  graphc_graph_release(g);
  return st;
}

static void expect_range_error(graphc_status_t st, const char *needle) {
  cr_assert(st != NULL, "expected an out-of-range error mentioning '%s'", needle);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_OUT_OF_RANGE, "%s", graphc_status_message(st));
  cr_expect(strstr(graphc_status_message(st), needle), "'%s' not in '%s'", needle, graphc_status_message(st));
  graphc_status_free(st);
}

Test(lower_fusion, runtime_checks) {
  const char *emb = "graph t(i: i64[B] input, w: f32[2, 3] input) {\n  %e = embedding(i, w)\n"
                    "  %y = exp(%e)\n  return %y\n}\n";
  OK(run_with(emb, "B=4", -1, 0));
  expect_range_error(run_with(emb, "B=4", 0, 2), "embedding index is out of range for a dim of size 2 (got 2)");
  expect_range_error(run_with(emb, "B=4", 0, -1), "(got -1)");
  const char *gat = "graph t(x: f32[B, 2] input, i: i64[B, 2] input) {\n  %y = gather(x, i, dim=1)\n  return %y\n}\n";
  expect_range_error(run_with(gat, "B=3", 1, 7), "op 'gather'");
  const char *ce = "graph t(x: f32[B, 2] input, t: i64[B] input) {\n  %y = cross_entropy(x, t, ignore_index=9)\n"
                   "  return %y\n}\n";
  OK(run_with(ce, "B=3", 1, 9));
  expect_range_error(run_with(ce, "B=3", 1, 2), "target is out of range");
  const char *amax = "graph t(x: f32[B, N] input) {\n  %y = amax(x, dim=[1])\n  return %y\n}\n";
  expect_range_error(run_with(amax, "B=2 N=0", -1, 0), "cannot reduce over a dim of size 0");
  const char *sl = "graph t(x: f32[B, N] input) {\n  %y = slice(x, dim=1, start=1, end=5)\n  return %y\n}\n";
  OK(run_with(sl, "B=2 N=5", -1, 0));
  expect_range_error(run_with(sl, "B=2 N=3", -1, 0), "op 'slice'");
}

/* ---- unsupported ops ---------------------------------------------------------------- */

static void expect_unimplemented(const char *text, const char *op) {
  gc_graph *g = lh_parse(text);
  kir_program *p = NULL;
  graphc_status_t st = gc_lower_graph(g, NULL, &p);
  cr_assert(st != NULL, "lowering %s unexpectedly succeeded", op);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_UNIMPLEMENTED, "%s", graphc_status_message(st));
  char needle[64];
  snprintf(needle, sizeof needle, "op '%s'", op);
  cr_expect(strstr(graphc_status_message(st), needle), "'%s' not in '%s'", needle, graphc_status_message(st));
  cr_expect(strstr(graphc_status_message(st), "t.gc:"), "location missing: %s", graphc_status_message(st));
  cr_expect_null(p);
  graphc_status_free(st);
  graphc_graph_release(g);
}

Test(lower_fusion, unimplemented_ops) {
  expect_unimplemented("graph t(x: f32[6] input) {\n  %i, %u = nonzero(x)\n  return %i\n}\n", "nonzero");
  expect_unimplemented("graph t(x: i64[1] input) {\n  %n = item(x)\n  %r = arange(end=[n])\n  return %r\n}\n",
                       "item");
  /* a dead unsupported node is not an error */
  gc_graph *g = lh_parse("graph t(x: f32[6] input) {\n  %i, %u = nonzero(x)\n  %y = exp(x)\n  return %y\n}\n");
  kir_program *p = NULL;
  OK(gc_lower_graph(g, NULL, &p));
  gc_lower_free(p);
  graphc_graph_release(g);
}

/* ---- examples ------------------------------------------------------------------------ */

/* The "# run: --sym B=2 --int-range 0:6" line of an example. */
static void run_line(const char *text, char *syms, size_t cap, lh_opts *o) {
  syms[0] = 0;
  const char *r = strstr(text, "# run:");
  if (!r) return;
  const char *end = strchr(r, '\n');
  for (const char *p = strstr(r, "--sym "); p && p < end; p = strstr(p + 1, "--sym ")) {
    size_t n = strcspn(p + 6, " \n");
    strncat(syms, p + 6, cap - strlen(syms) - 2 > n ? n : 0);
    strcat(syms, " ");
  }
  const char *ir = strstr(r, "--int-range ");
  if (ir && ir < end) sscanf(ir + 12, "%lld:%lld", (long long *)&o->int_lo, (long long *)&o->int_hi);
}

Test(lower_fusion, examples) {
  static const char *const unsupported[][2] = {
      {"attention_score_mod.gc", "scaled_dot_product_attention"}, {"item.gc", "item"}, {"nonzero.gc", "nonzero"}};
  char dir[512];
  snprintf(dir, sizeof dir, "%s/examples", GRAPHC_SOURCE_DIR);
  DIR *d = opendir(dir);
  cr_assert(d, "cannot open %s", dir);
  int lowered = 0;
  for (struct dirent *e; (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len < 4 || strcmp(e->d_name + len - 3, ".gc")) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    const char *bad = NULL;
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
      if (!strcmp(e->d_name, unsupported[i][0])) bad = unsupported[i][1];
    if (bad) {
      expect_unimplemented(text, bad);
      continue;
    }
    char syms[256];
    lh_opts o = {0};
    run_line(text, syms, sizeof syms, &o);
    o.syms = syms;
    kir_program *p = lh_check(text, &o, true);
    if (!strcmp(e->d_name, "transformer_block.gc") || !strcmp(e->d_name, "cnn.gc")) show(e->d_name, p);
    gc_lower_free(p);
    lowered++;
  }
  closedir(d);
  cr_expect_geq(lowered, 12, "only %d examples lowered", lowered);
}

/* ---- training graphs ------------------------------------------------------------------ */

#include "autodiff/autodiff.h"

/* The gradient graph of `text` (output 0 a 0-d loss) lowers and agrees
 * with the interpreter: forward ops, their backward ops and reductions of
 * broadcast gradients all in one program. */
static void check_grad(const char *text, const char *syms, int int_hi) {
  gc_graph *fwd = lh_parse(text);
  gc_grad_graph *gg = NULL;
  OK(gc_build_grad_graph(fwd, &gg));
  kir_program *p = lh_check_graph(gg->graph, text, &(lh_opts){.syms = syms, .int_hi = int_hi}, true);
  gc_lower_counts c = gc_lower_count(p);
  printf("gradient of %.40s...: %d kernels, %d gemms (%d with epilogues), %d checks\n", text + 6, c.kernels,
         c.gemms, c.epilogues, c.checks);
  gc_lower_free(p);
  gc_grad_graph_free(gg);
  graphc_graph_release(fwd);
}

Test(lower_fusion, gradient_graphs) {
  check_grad("graph mlp(x: f32[B, 12] input, t: i64[B] input, w1: f32[16, 12] param, b1: f32[16] param,\n"
             "          w2: f32[5, 16] param, b2: f32[5] param) {\n  %h = linear(x, w1, b1)\n  %a = relu(%h)\n"
             "  %l = linear(%a, w2, b2)\n  %loss = cross_entropy(%l, t, label_smoothing=0.1)\n  return %loss\n}\n",
             "B=6", 5);
  check_grad("graph cnn(x: f32[B, 2, 8, 8] input, y: f32[B, 4] input, cw: f32[4, 2, 3, 3] param,\n"
             "          cb: f32[4] param, fw: f32[4, 64] param) {\n  %c = conv2d(x, cw, cb, padding=[1, 1])\n"
             "  %r = relu(%c)\n  %p = max_pool2d(%r, kernel_size=[2, 2])\n  %a = avg_pool2d(%p, kernel_size=[1])\n"
             "  %f = reshape(%a, shape=[B, 64])\n  %o = linear(%f, fw)\n  %loss = mse_loss(%o, y)\n"
             "  return %loss\n}\n", "B=3", 0);
  check_grad("graph tb(x: f32[B, S, 8] input, g: f32[8] param, b: f32[8] param, wq: f32[8, 8] param,\n"
             "         wk: f32[8, 8] param, wv: f32[8, 8] param) {\n"
             "  %h = layer_norm(x, g, b, normalized_shape=[8])\n  %q = linear(%h, wq)\n  %k = linear(%h, wk)\n"
             "  %v = linear(%h, wv)\n  %a = scaled_dot_product_attention(%q, %k, %v, causal=true)\n"
             "  %e = gelu(%a, approximate=tanh)\n  %s = softmax(%e, dim=-1)\n  %m = mul(%s, x)\n"
             "  %loss = mean(%m)\n  return %loss\n}\n", "B=2 S=5", 0);
  check_grad("graph emb(i: i64[B, 4] input, tab: f32[6, 3] param, w: f32[3] param) {\n"
             "  %e = embedding(i, tab)\n  %t = tanh(%e)\n  %m = mul(%t, w)\n  %s = sum(%m, dim=[2])\n"
             "  %g = gather(%s, i, dim=1)\n  %loss = mean(%g)\n  return %loss\n}\n", "B=3", 4);
  check_grad("graph pools(x: f32[B, 2, 7, 7] param, w: f32[2] param) {\n"
             "  %a = adaptive_avg_pool2d(x, output_size=[3, 2])\n  %p = avg_pool2d(x, kernel_size=[3], stride=[2],"
             " padding=[1], count_include_pad=false)\n  %sa = sum(%a)\n  %sp = amax(%p, dim=[2, 3])\n"
             "  %r = matmul(%sp, w)\n  %s = sum(%r)\n  %loss = add(%s, %sa)\n  return %loss\n}\n", "B=2", 0);
}
