/* Tests for lib/autodiff: every gradient rule against central finite
 * differences in f64, checkpoint recomputation, the step graph's update
 * table and the optimizer update rules against values computed by hand.
 *
 * A gradient case is a forward body ending in %y; the harness appends
 * %l = sum(%y * r) with r a random input of %y's type, so every element of
 * %y gets a different weight. Inputs are drawn from a fixed seed (floats:
 * random sign times U[0.5, 1.5], never 0), symbolic sizes come from the
 * case's `syms`. Each param element is perturbed by +-h (h = 1e-6) and the
 * central difference of the loss must match the gradient graph's value to
 * 1e-6 + 1e-5 * |grad|. The gradient graph is also verified and must print
 * and re-parse to the same text. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/autodiff.h"
#include "autodiff/train_step.h"
#include "graphc/graphc.h"
#include "graphc/train.h"
#include "interp/interp_internal.h"
#include "ir/op.h"

#include "test_common.h"

static graphc_context_t *ctx;
static void setup(void) { OK(graphc_context_create(NULL, &ctx)); }
static void teardown(void) { graphc_context_release(ctx); }
TestSuite(autodiff, .init = setup, .fini = teardown);

static gc_graph *parse(const char *text) {
  gc_graph *g;
  OK(graphc_graph_parse(ctx, text, strlen(text), "case.gc", &g));
  return g;
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double uniform(uint64_t *s) { return (double)(splitmix(s) >> 11) * 0x1.0p-53; }

/* Value of NAME=... in a "a=1,b=2" list, or NULL. */
static const char *spec_of(const char *list, const char *name, char *buf, size_t cap) {
  size_t n = strlen(name);
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > n && !strncmp(p, name, n) && p[n] == '=') {
      snprintf(buf, cap, "%.*s", (int)(len - n - 1), p + n + 1);
      return buf;
    }
    p = end ? end + 1 : NULL;
  }
  return NULL;
}

/* Inputs of g: shapes from `syms`, values per `gens` ("x=pos", "t=int:0:4",
 * "m=bool"; default floats: random sign * U[0.5, 1.5]). */
static gc_tensor *make_inputs(const gc_graph *g, const char *syms, const char *gens, uint64_t seed) {
  gc_dimtab *dims = gc_graph_dims(g);
  int nsyms = gc_dimtab_num_syms(dims);
  int64_t *sv = calloc((size_t)nsyms + 1, sizeof *sv);
  bool *bound = calloc((size_t)nsyms + 1, sizeof *bound);
  for (int s = 0; s < nsyms; s++) {
    char buf[64];
    if ((bound[s] = spec_of(syms, gc_dimtab_sym_name(dims, s), buf, sizeof buf))) sv[s] = atoll(buf);
  }
  gc_tensor *ins = calloc((size_t)g->ninputs + 1, sizeof *ins);
  for (int i = 0; i < g->ninputs; i++) {
    const gc_value *v = &g->values[g->inputs[i]];
    int64_t shape[GC_MAX_RANK];
    for (int d = 0; d < v->type.rank; d++) OK(gc_dim_eval(dims, v->type.dims[d], sv, bound, &shape[d]));
    OK(gc_tensor_alloc(&ins[i], v->type.dtype, v->type.rank, shape, 0));
    char gen[64] = "";
    spec_of(gens, v->name, gen, sizeof gen);
    uint64_t st = seed * 7919u + (uint64_t)i;
    for (int64_t e = 0; e < ins[i].numel; e++) {
      long lo = 0, hi = 2;
      if (v->role == GRAPHC_ROLE_SYMBOL) gc_tensor_seti(&ins[i], e, sv[v->sym]);
      else if (sscanf(gen, "int:%ld:%ld", &lo, &hi) == 2 || !gc_dtype_is_float(v->type.dtype))
        gc_tensor_seti(&ins[i], e, lo + (long)(splitmix(&st) % (uint64_t)(hi - lo)));
      else if (!strcmp(gen, "pos"))
        gc_tensor_setf(&ins[i], e, 0.5 + uniform(&st));
      else
        gc_tensor_setf(&ins[i], e, (uniform(&st) < 0.5 ? -1 : 1) * (0.5 + uniform(&st)));
    }
  }
  free(sv);
  free(bound);
  return ins;
}

static void free_tensors(gc_tensor *t, int n) {
  for (int i = 0; i < n; i++) gc_tensor_free(&t[i]);
  free(t);
}

static double run_loss(const gc_graph *g, const gc_tensor *ins) {
  gc_tensor out[8];
  OK(gc_interp_run_tensors(g, 0, ins, g->ninputs, out));
  double l = gc_tensor_getf(&out[0], 0);
  for (int k = 0; k < g->noutputs; k++) gc_tensor_free(&out[k]);
  return l;
}

/* The forward graph of a case: body, then the weighted-sum loss. */
static gc_graph *case_graph(const char *decl, const char *body) {
  char text[8192], ty[512];
  snprintf(text, sizeof text, "graph t(%s) {\n%s\n  return %%y\n}\n", decl, body);
  gc_graph *probe = parse(text);
  gc_type_format(gc_graph_dims(probe), &probe->values[probe->outputs[0]].type, ty, sizeof ty);
  graphc_graph_release(probe);
  snprintf(text, sizeof text,
           "graph t(%s, r: %s input) {\n%s\n  %%m = mul(%%y, r)\n  %%l = sum(%%m)\n  return %%l\n}\n",
           decl, ty, body);
  return parse(text);
}

/* The gradient graph prints and re-parses to the same text. */
static void check_roundtrip(const gc_graph *g) {
  char *t1, *t2;
  gc_graph *h;
  OK(graphc_graph_print(g, &t1, NULL));
  OK(graphc_graph_parse(ctx, t1, strlen(t1), "grad.gc", &h));
  OK(graphc_graph_print(h, &t2, NULL));
  cr_assert_str_eq(t1, t2);
  graphc_free(t1);
  graphc_free(t2);
  graphc_graph_release(h);
}

/* Gradients of `g` on `ins` (caller frees: 1 + nparams tensors). */
static gc_tensor *gradients(const gc_graph *g, const gc_tensor *ins, gc_grad_graph **out_gg) {
  gc_grad_graph *gg;
  OK(gc_build_grad_graph(g, &gg));
  OK(gc_graph_verify(gg->graph));
  check_roundtrip(gg->graph);
  gc_tensor *res = calloc((size_t)gg->graph->noutputs, sizeof *res);
  OK(gc_interp_run_tensors(gg->graph, 0, ins, g->ninputs, res));
  *out_gg = gg;
  return res;
}

static void fd_check(const char *decl, const char *body, const char *syms, const char *gens) {
  gc_graph *g = case_graph(decl, body);
  gc_tensor *ins = make_inputs(g, syms, gens, 42);
  gc_grad_graph *gg;
  gc_tensor *res = gradients(g, ins, &gg);
  cr_assert(fabs(gc_tensor_getf(&res[0], 0) - run_loss(g, ins)) <= 1e-12 * (1 + fabs(run_loss(g, ins))),
            "the gradient graph's loss differs from the forward graph's");
  const double h = 1e-6;
  for (int p = 0; p < gg->nparams; p++) {
    gc_tensor *x = &ins[gg->params[p]];
    const gc_tensor *gr = &res[1 + p];
    cr_assert_eq(gr->numel, x->numel);
    for (int64_t e = 0; e < x->numel; e++) {
      double x0 = gc_tensor_getf(x, e);
      gc_tensor_setf(x, e, x0 + h);
      double lp = run_loss(g, ins);
      gc_tensor_setf(x, e, x0 - h);
      double lm = run_loss(g, ins);
      gc_tensor_setf(x, e, x0);
      double fd = (lp - lm) / (2 * h), an = gc_tensor_getf(gr, e);
      cr_assert(fabs(fd - an) <= 1e-6 + 1e-5 * fabs(an),
                "param '%s' element %lld: gradient %.10g, finite difference %.10g",
                g->values[g->inputs[gg->params[p]]].name, (long long)e, an, fd);
    }
  }
  free_tensors(res, gg->graph->noutputs);
  free_tensors(ins, g->ninputs);
  gc_grad_graph_free(gg);
}

#define FD(name, decl, body, syms, gens) \
  Test(autodiff, name) { fd_check(decl, body, syms, gens); }

/* ---- elementwise ------------------------------------------------------------ */

#define X23 "x: f64[B, 3] param"
FD(neg, X23, "%y = neg(x)", "B=2", "")
FD(abs, X23, "%y = abs(x)", "B=2", "")
FD(relu, X23, "%y = relu(x)", "B=2", "")
FD(exp, X23, "%y = exp(x)", "B=2", "")
FD(log, X23, "%y = log(x)", "B=2", "x=pos")
FD(sqrt, X23, "%y = sqrt(x)", "B=2", "x=pos")
FD(rsqrt, X23, "%y = rsqrt(x)", "B=2", "x=pos")
FD(tanh, X23, "%y = tanh(x)", "B=2", "")
FD(sigmoid, X23, "%y = sigmoid(x)", "B=2", "")
FD(gelu, X23, "%y = gelu(x)", "B=2", "")
FD(gelu_tanh, X23, "%y = gelu(x, approximate=tanh)", "B=2", "")
FD(silu, X23, "%y = silu(x)", "B=2", "")
FD(erf, X23, "%y = erf(x)", "B=2", "")
FD(sin, X23, "%y = sin(x)", "B=2", "")
FD(cos, X23, "%y = cos(x)", "B=2", "")
FD(add_broadcast, "a: f64[B, 3] param, b: f64[3] param", "%y = add(a, b)", "B=4", "")
FD(sub_broadcast, "a: f64[2, 1] param, b: f64[B, 2, 3] param", "%y = sub(a, b)", "B=2", "")
FD(mul_broadcast, "a: f64[3] param, b: f64[B, 1] param", "%y = mul(a, b)", "B=2", "")
FD(mul_same_operand, X23, "%y = mul(x, x)", "B=2", "")
FD(div_broadcast, "a: f64[B, 3] param, b: f64[1, 3] param", "%y = div(a, b)", "B=2", "")
FD(pow, "a: f64[2, 3] param, b: f64[3] param", "%y = pow(a, b)", "", "a=pos")
FD(pow_int_exponent, "a: f64[2, 3] param, b: i64[] input", "%y = pow(a, b)", "", "b=int:2:4")
FD(maximum, "a: f64[2, 3] param, b: f64[3] param", "%y = maximum(a, b)", "", "")
FD(minimum, "a: f64[2, 3] param, b: f64[2, 1] param", "%y = minimum(a, b)", "", "")
FD(where, "c: bool[2, 3] input, a: f64[2, 3] param, b: f64[3] param", "%y = where(c, a, b)", "", "")
FD(comparison_no_gradient, "a: f64[2, 3] param, b: f64[2, 3] param",
   "%c = gt(a, b)\n  %y = where(%c, a, b)", "", "")
FD(mixed_dtype_scalar, "a: f64[2, 3] param, s: f64[] param", "%y = mul(a, s)", "", "")

/* ---- reductions, softmax ------------------------------------------------------ */

#define X234 "x: f64[2, B, 4] param"
FD(sum_dim, X234, "%y = sum(x, dim=[1])", "B=3", "")
FD(sum_keepdim, X234, "%y = sum(x, dim=[0, -1], keepdim=true)", "B=3", "")
FD(sum_all, X234, "%y = sum(x)", "B=3", "")
FD(mean_symbolic, X234, "%y = mean(x, dim=[1, 2])", "B=3", "")
FD(mean_all, X234, "%y = mean(x)", "B=3", "")
FD(amax, X234, "%y = amax(x, dim=[1])", "B=3", "")
FD(amin_all, X234, "%y = amin(x)", "B=3", "")
FD(argmax_no_gradient, X234, "%i = argmax(x, dim=1, keepdim=true)\n  %y = gather(x, %i, dim=1)",
   "B=3", "")
FD(softmax, X234, "%y = softmax(x, dim=1)", "B=3", "")
FD(log_softmax, X234, "%y = log_softmax(x, dim=-1)", "B=3", "")

/* ---- nn ---------------------------------------------------------------------------- */

FD(layer_norm, "x: f64[B, 2, 4] param, w: f64[4] param, b: f64[4] param",
   "%y = layer_norm(x, w, b, normalized_shape=[4], eps=1e-05)", "B=2", "")
FD(layer_norm_2d_no_affine, "x: f64[B, 2, 3] param",
   "%y = layer_norm(x, normalized_shape=[2, 3])", "B=2", "")
FD(cross_entropy, "z: f64[B, 4] param, t: i64[B] input", "%y = cross_entropy(z, t)", "B=5",
   "t=int:0:4")
FD(cross_entropy_ignore_smooth, "z: f64[B, 4] param, t: i64[B] input",
   "%y = cross_entropy(z, t, ignore_index=3, label_smoothing=0.2)", "B=6", "t=int:0:4")
FD(mse_loss_mean, "a: f64[B, 3] param, b: f64[3] param", "%y = mse_loss(a, b)", "B=2", "")
FD(mse_loss_sum, "a: f64[B, 3] param, b: f64[B, 3] param", "%y = mse_loss(a, b, reduction=sum)", "B=2", "")
FD(mse_loss_none, "a: f64[B, 3] param, b: f64[B, 3] param", "%y = mse_loss(a, b, reduction=none)", "B=2", "")
FD(dropout, "x: f64[4, 5] param, s: i64[] input", "%y = dropout(x, s, p=0.3)", "", "s=int:0:1000")

/* ---- linear algebra --------------------------------------------------------------- */

FD(matmul_2d, "a: f64[B, 3] param, b: f64[3, 4] param", "%y = matmul(a, b)", "B=2", "")
FD(matmul_batched_broadcast, "a: f64[2, 1, B, 3] param, b: f64[4, 3, 2] param",
   "%y = matmul(a, b)", "B=2", "")
FD(matmul_vec_mat, "a: f64[3] param, b: f64[2, 3, 4] param", "%y = matmul(a, b)", "", "")
FD(matmul_mat_vec, "a: f64[B, 3] param, b: f64[3] param", "%y = matmul(a, b)", "B=2", "")
FD(matmul_dot, "a: f64[3] param, b: f64[3] param", "%y = matmul(a, b)", "", "")
FD(linear_3d, "x: f64[B, 2, 3] param, w: f64[4, 3] param, b: f64[4] param",
   "%y = linear(x, w, b)", "B=2", "")
FD(linear_1d_no_bias, "x: f64[3] param, w: f64[4, 3] param", "%y = linear(x, w)", "", "")
FD(conv2d, "x: f64[B, 2, 5, 6] param, w: f64[3, 2, 3, 2] param, b: f64[3] param",
   "%y = conv2d(x, w, b, stride=[2, 1], padding=[1, 0])", "B=2", "")
FD(conv2d_groups_dilation, "x: f64[1, 4, 6, 6] param, w: f64[2, 2, 2, 2] param",
   "%y = conv2d(x, w, dilation=[2], groups=2, padding=[1])", "", "")
FD(conv2d_unbatched, "x: f64[2, 4, 4] param, w: f64[3, 2, 2, 2] param",
   "%y = conv2d(x, w, stride=[2])", "", "")
FD(max_pool2d, "x: f64[B, 2, 4, 5] param", "%y = max_pool2d(x, kernel_size=[2, 2])", "B=2", "")
FD(max_pool2d_overlap_ceil, "x: f64[1, 2, 5, 5] param",
   "%y = max_pool2d(x, kernel_size=[3], stride=[2], padding=[1], ceil_mode=true)", "", "")
FD(avg_pool2d, "x: f64[B, 2, 5, 4] param",
   "%y = avg_pool2d(x, kernel_size=[3, 2], stride=[2, 2], padding=[1, 1], ceil_mode=true, "
   "count_include_pad=false)", "B=2", "")
FD(avg_pool2d_include_pad, "x: f64[2, 4, 4] param",
   "%y = avg_pool2d(x, kernel_size=[3], stride=[1], padding=[1])", "", "")
FD(adaptive_avg_pool2d, "x: f64[B, 2, 5, 7] param", "%y = adaptive_avg_pool2d(x, output_size=[2, 3])",
   "B=2", "")

/* ---- shape ------------------------------------------------------------------------- */

FD(reshape_symbolic, "x: f64[B, 2, 3] param", "%y = reshape(x, shape=[B*3, 2])", "B=2", "")
FD(view_minus_one, "x: f64[2, 6] param", "%y = view(x, shape=[3, -1])", "", "")
FD(permute, "x: f64[2, B, 4] param", "%y = permute(x, dims=[2, 0, 1])", "B=3", "")
FD(transpose, "x: f64[2, B, 4] param", "%y = transpose(x, dim0=-1, dim1=0)", "B=3", "")
FD(expand_symbolic, "n: i64[] symbol, x: f64[3, 1] param", "%y = expand(x, shape=[n, 3, 4])", "n=2", "")
FD(slice_step, "x: f64[B, 7] param", "%y = slice(x, dim=1, start=-6, end=6, step=2)", "B=2", "")
FD(cat_symbolic, "a: f64[B, 2] param, b: f64[B, S] param, c: f64[B, 1] param",
   "%y = cat(a, b, c, dim=1)", "B=2,S=3", "")
FD(cat_dim0_symbolic, "a: f64[S, 2] param, b: f64[B, 2] param, c: f64[S, 2] param",
   "%y = cat(a, b, c, dim=0)", "B=2,S=3", "")
FD(split, "x: f64[B, 5] param", "%a, %b, %c = split(x, dim=1, sizes=[2, 1, 2])\n  %y = mul(%a, %c)",
   "B=2", "")
FD(squeeze_unsqueeze, "x: f64[B, 1, 3] param", "%s = squeeze(x, dim=[1])\n  %y = unsqueeze(%s, dim=0)",
   "B=2", "")

/* ---- indexing --------------------------------------------------------------------------- */

FD(index_select_repeats, "x: f64[3, 4] param, i: i64[5] input", "%y = index_select(x, i, dim=1)",
   "", "i=int:0:4")
FD(gather, "x: f64[3, 4] param, i: i64[3, 6] input", "%y = gather(x, i, dim=1)", "", "i=int:0:4")
FD(embedding, "i: i64[B, 5] input, w: f64[4, 3] param", "%y = embedding(i, w)", "B=2", "i=int:0:4")

FD(nonzero_unbacked_size, "x: f64[6] param, mk: bool[6] input",
   "%i, %u = nonzero(mk)\n  %f = reshape(%i, shape=[u])\n  %s = index_select(x, %f, dim=0)\n"
   "  %q = mul(%s, %s)\n  %y = sum(%q)", "", "")

/* ---- regions ------------------------------------------------------------------------ */

#define CKPT_BODY(op)                                                                    \
  "%h = linear(x, w)\n  %y = " op "(%h, w) region(hi: f64[B, 3], wi: f64[3, 3]) {\n"     \
  "    %a = tanh(hi)\n    %b = linear(%a, wi)\n    %c = mul(%b, hi)\n    return %c\n  }"
FD(checkpoint, "x: f64[B, 3] param, w: f64[3, 3] param", CKPT_BODY("checkpoint"), "B=2", "")
FD(call, "x: f64[B, 3] param, w: f64[3, 3] param", CKPT_BODY("call"), "B=2", "")
FD(checkpoint_nested, "x: f64[2, 3] param",
   "%y = checkpoint(x) region(a: f64[2, 3]) {\n    %e = exp(a)\n"
   "    %f = checkpoint(%e, a) region(p: f64[2, 3], q: f64[2, 3]) {\n"
   "      %m = mul(p, q)\n      return %m\n    }\n    return %f\n  }", "", "")

#define QKV(S) "q: f64[B, 2, " S ", 3] param, k: f64[B, 2, 4, 3] param, v: f64[B, 2, 4, 2] param"
FD(attention, QKV("4"), "%y = scaled_dot_product_attention(q, k, v)", "B=2", "")
FD(attention_causal_scale, QKV("3"), "%y = scaled_dot_product_attention(q, k, v, causal=true, scale=0.7)",
   "B=1", "")
FD(attention_bool_mask, QKV("4") ", mk: bool[4, 4] input",
   "%y = scaled_dot_product_attention(q, k, v, mk, has_mask=true)", "B=1", "")
FD(attention_float_mask_param, QKV("4") ", mk: f64[1, 4] param",
   "%y = scaled_dot_product_attention(q, k, v, mk, has_mask=true, causal=true)", "B=1", "")
FD(attention_score_fn_capture, QKV("4") ", hb: f64[2] param",
   "%y = scaled_dot_product_attention(q, k, v, hb) region(s: f64[B, 2, 4, 4], b: i64[B, 1, 1, 1],\n"
   "      h: i64[1, 2, 1, 1], qi: i64[1, 1, 4, 1], ki: i64[1, 1, 1, 4], c: f64[2]) {\n"
   "    %hf = reshape(h, shape=[2])\n    %hb = index_select(c, %hf, dim=0)\n"
   "    %hb4 = reshape(%hb, shape=[1, 2, 1, 1])\n    %t = tanh(s)\n    %s2 = add(%t, %hb4)\n"
   "    return %s2\n  }", "B=1", "")
FD(attention_3d_broadcast, "q: f64[2, 3, 4] param, k: f64[1, 5, 4] param, v: f64[1, 5, 2] param",
   "%y = scaled_dot_product_attention(q, k, v)", "", "")

/* ---- whole-graph properties ------------------------------------------------------------- */

/* Checkpointing changes where activations live, not the numbers. */
Test(autodiff, checkpoint_equals_plain) {
  const char *decl = "x: f64[B, 3] param, w: f64[3, 3] param";
  gc_graph *a = case_graph(decl, CKPT_BODY("checkpoint")), *b = case_graph(decl, CKPT_BODY("call"));
  gc_graph *c = case_graph(decl, "%h = linear(x, w)\n  %a = tanh(%h)\n  %b = linear(%a, w)\n"
                                 "  %y = mul(%b, %h)");
  gc_tensor *ins = make_inputs(a, "B=3", "", 7);
  gc_grad_graph *ga, *gb, *gcg;
  gc_tensor *ra = gradients(a, ins, &ga), *rb = gradients(b, ins, &gb), *rc = gradients(c, ins, &gcg);
  for (int k = 0; k < 3; k++)
    for (int64_t e = 0; e < ra[k].numel; e++) {
      cr_assert_eq(gc_tensor_getf(&ra[k], e), gc_tensor_getf(&rc[k], e), "output %d [%lld]", k, (long long)e);
      cr_assert_eq(gc_tensor_getf(&rb[k], e), gc_tensor_getf(&rc[k], e), "output %d [%lld]", k, (long long)e);
    }
  /* The checkpoint node stays whole in the forward part. */
  int ncheck = 0;
  for (int i = 0; i < ga->graph->nnodes; i++) ncheck += !strcmp(ga->graph->nodes[i].op->name, "checkpoint");
  cr_assert_eq(ncheck, 1);
  free_tensors(ra, 3), free_tensors(rb, 3), free_tensors(rc, 3), free_tensors(ins, a->ninputs);
  gc_grad_graph_free(ga), gc_grad_graph_free(gb), gc_grad_graph_free(gcg);
}

Test(autodiff, unused_param_gets_zeros) {
  gc_graph *g = parse("graph t(x: f64[2] param, u: f64[B, 3] param) {\n  %l = sum(x)\n  return %l\n}\n");
  gc_tensor *ins = make_inputs(g, "B=2", "", 1);
  gc_grad_graph *gg;
  gc_tensor *res = gradients(g, ins, &gg);
  cr_assert_eq(gg->nparams, 2);
  cr_assert_eq(res[2].rank, 2);
  cr_assert_eq(res[2].shape[0], 2);
  for (int64_t e = 0; e < res[2].numel; e++) cr_assert_eq(gc_tensor_getf(&res[2], e), 0.0);
  for (int64_t e = 0; e < res[1].numel; e++) cr_assert_eq(gc_tensor_getf(&res[1], e), 1.0);
  free_tensors(res, 3), free_tensors(ins, 2), gc_grad_graph_free(gg);
}

Test(autodiff, cast_gradient_is_cast_back) {
  gc_graph *g = parse("graph t(x: f32[3] param, r: f64[3] input) {\n  %c = cast(x, dtype=f64)\n"
                      "  %m = mul(%c, r)\n  %l = sum(%m)\n  return %l\n}\n");
  gc_tensor *ins = make_inputs(g, "", "", 3);
  gc_grad_graph *gg;
  gc_tensor *res = gradients(g, ins, &gg);
  cr_assert_eq(res[1].dtype, GRAPHC_F32);
  for (int64_t e = 0; e < 3; e++)
    cr_assert_eq(gc_tensor_getf(&res[1], e), (double)(float)gc_tensor_getf(&ins[1], e));
  free_tensors(res, 2), free_tensors(ins, 2), gc_grad_graph_free(gg);
}

static void expect_error(const char *text, graphc_status_code_t code, const char *needle) {
  gc_graph *g = parse(text);
  gc_grad_graph *gg = NULL;
  graphc_status_t st = gc_build_grad_graph(g, &gg);
  cr_assert(st, "differentiating unexpectedly worked");
  cr_assert_eq(graphc_status_code(st), code, "%s", graphc_status_message(st));
  cr_assert(strstr(graphc_status_message(st), needle), "'%s' lacks '%s'", graphc_status_message(st), needle);
  graphc_status_free(st);
}

Test(autodiff, errors) {
  expect_error("graph t(x: f64[2] param) {\n  %e = exp(x)\n  return %e\n}\n",
               GRAPHC_STATUS_INVALID_ARGUMENT, "must be a 0-d float loss");
  expect_error("graph t(x: i64[2] param) {\n  %s = sum(x)\n  %f = cast(%s, dtype=f32)\n  return %f\n}\n",
               GRAPHC_STATUS_INVALID_ARGUMENT, "only float params");
  expect_error("graph t(x: f64[2] param) {\n  %y = checkpoint(x) region(a: f64[2]) {\n"
               "    %n, %u = nonzero(a)\n    %c = cast(%u, dtype=f64)\n    %m = mul(a, %c)\n"
               "    return %m\n  }\n  %l = sum(%y)\n  return %l\n}\n",
               GRAPHC_STATUS_UNIMPLEMENTED, "case.gc:3:14: gradient: op 'nonzero'");
}

/* ---- optimizers and the step graph --------------------------------------------------- */

/* loss = sum(w * x): the gradient of w is x, the same every step. */
static const char *LINEAR_LOSS =
    "graph lin(x: f64[3] input, w: f64[3] param) {\n  %m = mul(w, x)\n  %l = sum(%m)\n  return %l\n}\n";

/* Runs `steps` steps from w0 with gradient x; returns the final w. */
static void run_steps(const gc_optimizer_options *o, const double *x, const double *w0, int steps,
                      double *w_out, gc_train_step **out_step) {
  gc_graph *g = parse(LINEAR_LOSS);
  gc_train_step *s;
  OK(gc_build_train_step(g, o, &s));
  OK(gc_graph_verify(s->graph));
  check_roundtrip(s->graph);
  int n = s->graph->ninputs;
  gc_tensor *ins = calloc((size_t)n, sizeof *ins);
  int64_t three = 3;
  OK(gc_tensor_alloc(&ins[0], GRAPHC_F64, 1, &three, 0));
  OK(gc_tensor_alloc(&ins[1], GRAPHC_F64, 1, &three, 0));
  for (int i = 0; i < 3; i++) gc_tensor_setf(&ins[0], i, x[i]), gc_tensor_setf(&ins[1], i, w0[i]);
  for (int k = 0; k < s->nstate; k++)
    OK(gc_tensor_alloc(&ins[s->state[k].input], s->state[k].kind == GC_STATE_STEP ? GRAPHC_I64 : GRAPHC_F64,
                       s->state[k].kind == GC_STATE_STEP ? 0 : 1, &three, 0));
  for (int t = 0; t < steps; t++) {
    double loss, want = 0;
    for (int i = 0; i < 3; i++) want += gc_tensor_getf(&ins[1], i) * x[i];
    OK(gc_train_step_run(s, 0, ins, &loss));
    cr_assert(fabs(loss - want) < 1e-12, "step %d: loss %g, want %g", t + 1, loss, want);
  }
  for (int i = 0; i < 3; i++) w_out[i] = gc_tensor_getf(&ins[1], i);
  free_tensors(ins, n);
  *out_step = s;
}

static void expect_w(const double *got, const double *want) {
  for (int i = 0; i < 3; i++)
    cr_assert(fabs(got[i] - want[i]) <= 1e-12 * (1 + fabs(want[i])), "w[%d] = %.17g, want %.17g", i,
              got[i], want[i]);
}

static const double X[3] = {0.5, -2.0, 3.0}, W0[3] = {1.0, 2.0, -1.0};

Test(autodiff, sgd_plain_by_hand) {
  gc_optimizer_options o;
  gc_optimizer_options_default(&o, GC_OPTIMIZER_SGD);
  o.lr = 0.1;
  double w[3];
  gc_train_step *s;
  run_steps(&o, X, W0, 2, w, &s);
  /* w - 2 * 0.1 * x */
  expect_w(w, (double[]){0.9, 2.4, -1.6});
  cr_assert_eq(s->nstate, 0);
  cr_assert_eq(s->noutputs, 2);
  cr_assert_eq(s->replaces[0], -1);
  cr_assert_eq(s->replaces[1], 1);
  gc_train_step_free(s);
}

Test(autodiff, sgd_momentum_nesterov_weight_decay_by_hand) {
  gc_optimizer_options o;
  gc_optimizer_options_default(&o, GC_OPTIMIZER_SGD);
  o.lr = 0.1, o.momentum = 0.9, o.weight_decay = 0.5;
  double w[3], want[3];
  gc_train_step *s;
  run_steps(&o, X, W0, 2, w, &s);
  /* element 0: d1 = 0.5 + 0.5*1 = 1, buf1 = 1, w1 = 0.9;
   * d2 = 0.5 + 0.45 = 0.95, buf2 = 0.9 + 0.95 = 1.85, w2 = 0.9 - 0.185 = 0.715 */
  cr_assert(fabs(w[0] - 0.715) < 1e-12, "w[0] = %.17g", w[0]);
  cr_assert_eq(s->nstate, 1);
  cr_assert_eq(s->state[0].kind, GC_STATE_MOMENTUM);
  cr_assert_eq(s->replaces[2], s->state[0].input);
  gc_train_step_free(s);
  o.nesterov = true;
  run_steps(&o, X, W0, 2, w, &s);
  /* the same loop, written out */
  for (int i = 0; i < 3; i++) {
    double p = W0[i], buf = 0;
    for (int t = 0; t < 2; t++) {
      double d = X[i] + 0.5 * p;
      buf = 0.9 * buf + d;
      p -= 0.1 * (d + 0.9 * buf);
    }
    want[i] = p;
  }
  expect_w(w, want);
  gc_train_step_free(s);
}

static void adam_by_hand(bool decoupled, double wd, double *want) {
  const double lr = 0.01, b1 = 0.8, b2 = 0.95, eps = 1e-3;
  for (int i = 0; i < 3; i++) {
    double p = W0[i], m = 0, v = 0;
    for (int t = 1; t <= 3; t++) {
      double g = X[i];
      if (decoupled) p *= 1 - lr * wd;
      else g += wd * p;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      double denom = sqrt(v) / sqrt(1 - pow(b2, t)) + eps; /* eps after the bias correction */
      p += (-lr / (1 - pow(b1, t))) * m / denom;
    }
    want[i] = p;
  }
}

Test(autodiff, adam_and_adamw_by_hand) {
  for (int kind = GC_OPTIMIZER_ADAM; kind <= GC_OPTIMIZER_ADAMW; kind++) {
    gc_optimizer_options o;
    gc_optimizer_options_default(&o, (gc_optimizer_kind)kind);
    o.lr = 0.01, o.beta1 = 0.8, o.beta2 = 0.95, o.eps = 1e-3, o.weight_decay = 0.1;
    double w[3], want[3];
    gc_train_step *s;
    run_steps(&o, X, W0, 3, w, &s);
    adam_by_hand(kind == GC_OPTIMIZER_ADAMW, 0.1, want);
    expect_w(w, want);
    /* state: exp_avg, exp_avg_sq, then the step count; each replaced in place */
    cr_assert_eq(s->nstate, 3);
    cr_assert_eq(s->state[0].kind, GC_STATE_EXP_AVG);
    cr_assert_eq(s->state[1].kind, GC_STATE_EXP_AVG_SQ);
    cr_assert_eq(s->state[2].kind, GC_STATE_STEP);
    for (int k = 0; k < 3; k++) cr_assert_eq(s->replaces[2 + k], s->state[k].input);
    gc_train_step_free(s);
  }
  /* One step by hand: m = 0.2 g, v = 0.05 g^2, m_hat = g, sqrt(v_hat) = |g|,
   * so w = w0 - lr * g / (|g| + eps). */
  gc_optimizer_options o;
  gc_optimizer_options_default(&o, GC_OPTIMIZER_ADAM);
  o.lr = 0.01, o.beta1 = 0.8, o.beta2 = 0.95, o.eps = 1e-3;
  double w[3];
  gc_train_step *s;
  run_steps(&o, X, W0, 1, w, &s);
  expect_w(w, (double[]){1.0 - 0.01 * 0.5 / 0.501, 2.0 + 0.01 * 2.0 / 2.001, -1.0 - 0.01 * 3.0 / 3.001});
  gc_train_step_free(s);
}

Test(autodiff, optimizer_options_rejected) {
  gc_optimizer_options o;
  gc_optimizer_options_default(&o, GC_OPTIMIZER_SGD);
  o.nesterov = true;
  gc_graph *g = parse(LINEAR_LOSS);
  gc_train_step *s;
  graphc_status_t st = gc_build_train_step(g, &o, &s);
  cr_assert_eq(graphc_status_code(st), GRAPHC_STATUS_INVALID_ARGUMENT);
  graphc_status_free(st);
  gc_optimizer_options_default(&o, GC_OPTIMIZER_ADAM);
  o.beta2 = 1.0;
  st = gc_build_train_step(g, &o, &s);
  cr_assert(st && strstr(graphc_status_message(st), "beta2"));
  graphc_status_free(st);
}

/* ---- the public C API ------------------------------------------------------------------ */

Test(autodiff, public_api_step_in_place) {
  gc_graph *g = parse(LINEAR_LOSS);
  graphc_train_options_t o;
  graphc_train_options_init(&o);
  o.optimizer = GRAPHC_OPTIMIZER_ADAMW;
  o.learning_rate = 0.01, o.beta1 = 0.8, o.beta2 = 0.95, o.eps = 1e-3, o.weight_decay = 0.1;
  graphc_train_step_t *step;
  OK(graphc_train_step_create(g, &o, &step));
  const graphc_graph_t *sg = graphc_train_step_graph(step);
  cr_assert_eq(graphc_graph_num_inputs(sg), 5); /* x, w, exp_avg, exp_avg_sq, step */
  cr_assert_eq(graphc_train_step_output_target(step, 0), -1);
  cr_assert_eq(graphc_train_step_output_target(step, 1), 1);
  cr_assert_eq(graphc_train_step_output_target(step, 4), 4);
  cr_assert_eq(graphc_train_step_output_target(step, 5), -1);
  /* w lives every other element of a strided buffer. */
  double x[3] = {X[0], X[1], X[2]}, wbuf[6] = {W0[0], 99, W0[1], 99, W0[2], 99}, m[3] = {0},
         v[3] = {0};
  int64_t cnt = 0, two = 2;
  int64_t shape[1] = {3};
  DLDataType f64 = {kDLFloat, 64, 1}, i64 = {kDLInt, 64, 1};
  DLTensor tx = {x, {kDLCPU, 0}, 1, f64, shape, NULL, 0}, tw = {wbuf, {kDLCPU, 0}, 1, f64, shape, &two, 0},
           tm = {m, {kDLCPU, 0}, 1, f64, shape, NULL, 0}, tv = {v, {kDLCPU, 0}, 1, f64, shape, NULL, 0},
           tc = {&cnt, {kDLCPU, 0}, 0, i64, NULL, NULL, 0};
  DLTensor *ins[5] = {&tx, &tw, &tm, &tv, &tc};
  for (int t = 0; t < 3; t++) {
    double loss;
    OK(graphc_train_step_run(step, ins, 5, &loss));
  }
  double want[3];
  adam_by_hand(true, 0.1, want);
  for (int i = 0; i < 3; i++) {
    cr_assert(fabs(wbuf[2 * i] - want[i]) < 1e-12, "w[%d] = %.17g, want %.17g", i, wbuf[2 * i], want[i]);
    cr_assert_eq(wbuf[2 * i + 1], 99.0, "the stride gap was written");
  }
  cr_assert_eq(cnt, 3);
  /* A wrong input leaves every buffer untouched. */
  double before = wbuf[0];
  tx.ndim = 0;
  graphc_status_t st = graphc_train_step_run(step, ins, 5, NULL);
  cr_assert_eq(graphc_status_code(st), GRAPHC_STATUS_INVALID_ARGUMENT);
  graphc_status_free(st);
  cr_assert_eq(wbuf[0], before);
  cr_assert_eq(cnt, 3);
  graphc_train_step_release(step);
  graphc_graph_t *grad;
  OK(graphc_graph_gradient(g, &grad));
  cr_assert_eq(graphc_graph_num_outputs(grad), 2);
  graphc_graph_release(grad);
}

/* ---- the backward ops' own checks (lib/ops/ops_grad.c) ---------------------------------- */

static graphc_status_t run_text(const char *text, const char *gens) {
  gc_graph *g;
  graphc_status_t st = graphc_graph_parse(ctx, text, strlen(text), "ops.gc", &g);
  if (st) return st;
  gc_tensor *ins = make_inputs(g, "", gens, 5), out[4];
  st = gc_interp_run_tensors(g, 0, ins, g->ninputs, out);
  if (!st)
    for (int k = 0; k < g->noutputs; k++) gc_tensor_free(&out[k]);
  free_tensors(ins, g->ninputs);
  return st;
}

static void expect_status(graphc_status_t st, graphc_status_code_t code, const char *needle) {
  cr_assert(st, "unexpectedly worked (wanted '%s')", needle);
  cr_assert_eq(graphc_status_code(st), code, "%s", graphc_status_message(st));
  cr_assert(strstr(graphc_status_message(st), needle), "'%s' lacks '%s'", graphc_status_message(st), needle);
  graphc_status_free(st);
}

Test(autodiff, backward_ops_reject_bad_input) {
  expect_status(run_text("graph t(x: f32[3, 2] input, i: i64[4] input, s: f32[4, 2] input) {\n"
                         "  %y = index_add(x, i, s, dim=0)\n  return %y\n}\n", "i=int:0:5"),
                GRAPHC_STATUS_OUT_OF_RANGE, "ops.gc:2:8: op 'index_add': index");
  expect_status(run_text("graph t(x: f32[3, 2] input, i: i64[4] input, s: f32[4, 3] input) {\n"
                         "  %y = index_add(x, i, s, dim=0)\n  return %y\n}\n", ""),
                GRAPHC_STATUS_VERIFY_ERROR, "operand 2 (source)");
  expect_status(run_text("graph t(x: f32[2, 3] input, i: i64[2, 4] input, s: f32[2, 4] input) {\n"
                         "  %y = scatter_add(x, i, s, dim=0)\n  return %y\n}\n", ""),
                GRAPHC_STATUS_VERIFY_ERROR, "provably <=");
  expect_status(run_text("graph t(x: f32[5, 3] input, s: f32[2, 3] input) {\n"
                         "  %y = slice_scatter(x, s, dim=0, step=2)\n  return %y\n}\n", ""),
                GRAPHC_STATUS_OUT_OF_RANGE, "the slice has 3 elements along dim 0 but the source has 2");
  expect_status(run_text("graph t(x: f32[4, 3] input) {\n"
                         "  %y = narrow(x, dim=0, start=[3], length=[2])\n  return %y\n}\n", ""),
                GRAPHC_STATUS_OUT_OF_RANGE, "start 3 + length 2 is outside dim 0 of size 4");
  expect_status(run_text("graph t(g: f32[1, 2, 4, 4] input, w: f32[2, 3, 3, 3] input) {\n"
                         "  %y = conv2d_backward_input(g, w, input_shape=[1, 3, 4, 4])\n  return %y\n}\n", ""),
                GRAPHC_STATUS_OUT_OF_RANGE, "gradient spatial dim 0 is 4 but the forward op gives 2");
  expect_status(run_text("graph t(g: f32[1, 2, 2, 2] input, w: f32[2, 3, 3, 3] input) {\n"
                         "  %y = conv2d_backward_input(g, w, input_shape=[1, 4, 4, 4])\n  return %y\n}\n", ""),
                GRAPHC_STATUS_VERIFY_ERROR, "channels do not match");
  expect_status(run_text("graph t(g: f32[1, 2, 3, 3] input, x: f32[1, 2, 6, 6] input) {\n"
                         "  %y = max_pool2d_backward(g, x, kernel_size=[3], padding=[2])\n  return %y\n}\n", ""),
                GRAPHC_STATUS_VERIFY_ERROR, "window attributes out of range");
}
