/* Shared harness of the runtime suites (test_runtime*.c): owned DLPack
 * tensors with random contents, comparison of an executable's outputs with
 * the interpreter's, and a kernel-IR program written by hand (with a C
 * stand-in for its generated kernel) so the runtime is tested without
 * lowering or LLVM. Header-only. */
#ifndef GRAPHC_UNITTESTS_RUNTIME_HARNESS_H
#define GRAPHC_UNITTESTS_RUNTIME_HARNESS_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphc/graphc.h"
#include "graphc/compile.h"
#include "interp/dlpack_convert.h"
#include "interp/tensor.h"
#include "ir/ir.h"
#include "rt/executable.h"
#include "rt/model.h"

#include "test_common.h"

/* ---- owned DLPack tensors --------------------------------------------------- */

typedef struct rt_tensor {
  DLTensor t;
  int64_t shape[GRAPHC_MAX_RANK];
  int64_t strides[GRAPHC_MAX_RANK];
  gc_tensor storage; /* contiguous data (or the strided backing store) */
} rt_tensor;

static inline uint64_t rt_rand(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* A tensor of `dt` and `shape` with values in [-1, 1) (ints in [lo, hi)).
 * transposed: the last two dims are stored column-major (strided view). */
static inline void rt_tensor_random(rt_tensor *r, graphc_dtype_t dt, int rank, const int64_t *shape,
                                    uint64_t seed, bool transposed) {
  memset(r, 0, sizeof *r);
  int64_t store_shape[GRAPHC_MAX_RANK];
  memcpy(store_shape, shape, sizeof *shape * (size_t)rank);
  bool tr = transposed && rank >= 2;
  if (tr) store_shape[rank - 1] = shape[rank - 2], store_shape[rank - 2] = shape[rank - 1];
  OK(gc_tensor_alloc(&r->storage, dt, rank, store_shape, 0));
  for (int64_t i = 0; i < r->storage.numel; i++) {
    uint64_t x = rt_rand(&seed);
    if (dt == GRAPHC_BOOL) gc_tensor_seti(&r->storage, i, (int64_t)(x & 1));
    else if (dt == GRAPHC_I32 || dt == GRAPHC_I64) gc_tensor_seti(&r->storage, i, (int64_t)(x % 7) - 3);
    else gc_tensor_setf(&r->storage, i, (double)(x >> 11) * 0x1.0p-52 - 1.0);
  }
  memcpy(r->shape, shape, sizeof *shape * (size_t)rank);
  r->t.data = r->storage.data;
  r->t.device = (DLDevice){kDLCPU, 0};
  r->t.ndim = rank;
  r->t.dtype = gc_dtype_to_dl(dt);
  r->t.shape = r->shape;
  if (tr) {
    int64_t st[GRAPHC_MAX_RANK];
    gc_strides(store_shape, rank, st);
    memcpy(r->strides, st, sizeof st);
    r->strides[rank - 1] = st[rank - 2];
    r->strides[rank - 2] = st[rank - 1];
    r->t.strides = r->strides;
  }
}

static inline void rt_tensor_free(rt_tensor *r) { gc_tensor_free(&r->storage); }

/* Max |a - b| / (1 + |b|) over two DLPack outputs of equal type/shape. */
static inline double rt_max_rel_err(const DLTensor *a, const DLTensor *b) {
  cr_assert_eq(a->ndim, b->ndim);
  cr_assert(a->dtype.code == b->dtype.code && a->dtype.bits == b->dtype.bits, "dtype differs");
  int64_t n = 1;
  for (int d = 0; d < a->ndim; d++) {
    cr_assert_eq(a->shape[d], b->shape[d], "dim %d: %lld vs %lld", d, (long long)a->shape[d],
                 (long long)b->shape[d]);
    n *= a->shape[d];
  }
  gc_tensor ta = {0}, tb = {0};
  OK(gc_tensor_from_dlpack(a, 0, &ta));
  OK(gc_tensor_from_dlpack(b, 0, &tb));
  double worst = 0;
  for (int64_t i = 0; i < n; i++) {
    double x = gc_tensor_getf(&ta, i), y = gc_tensor_getf(&tb, i);
    if (isnan(x) && isnan(y)) continue;
    double e = fabs(x - y) / (1 + fabs(y));
    if (!(e <= worst)) worst = e; /* NaN on one side counts as worst */
  }
  gc_tensor_free(&ta);
  gc_tensor_free(&tb);
  return worst;
}

/* Runs `exe` and the interpreter on the same inputs; asserts every output
 * agrees within tol. */
static inline void rt_compare(graphc_executable_t *exe, const graphc_graph_t *gr, rt_tensor *in,
                              int nin, double tol, const char *what) {
  DLTensor *ptrs[32];
  for (int i = 0; i < nin; i++) ptrs[i] = &in[i].t;
  DLManagedTensor *got[16] = {0}, *want[16] = {0};
  int nout = graphc_graph_num_outputs(gr);
  OK(graphc_executable_run(exe, ptrs, nin, got, 16));
  OK(graphc_interp_run(gr, NULL, ptrs, nin, want, 16));
  for (int o = 0; o < nout; o++) {
    double e = rt_max_rel_err(&got[o]->dl_tensor, &want[o]->dl_tensor);
    cr_assert(e <= tol, "%s: output %d differs from the interpreter by %g", what, o, e);
    got[o]->deleter(got[o]);
    want[o]->deleter(want[o]);
  }
}

/* ---- a hand-written program ------------------------------------------------- */

/* The graph the hand-written program implements. */
static const char *const RT_LIN_TEXT =
    "graph lin(x: f32[B, K] input, w: f32[K, 3] param, b: f32[3] param) {\n"
    "  %h = matmul(x, w)\n"
    "  %a = add(%h, b)\n"
    "  %r = relu(%a)\n"
    "  %s = sum(%r, dim=[1])\n"
    "  return %r, %s, x\n"
    "}\n";

enum { LIN_X, LIN_W, LIN_B, LIN_H, LIN_R, LIN_S, LIN_XOUT, LIN_NBUF };

/* What lowering would make of RT_LIN_TEXT: a GEMM into temp h, one kernel
 * r = relu(h + b), s = sum(r) per row, a copy of x to the third output. */
static inline kir_program *rt_lin_program(const gc_graph *gr) {
  kir_program *p = calloc(1, sizeof *p);
  p->dims = gc_dimtab_new();
  const gc_dimtab *gd = gc_graph_dims(gr);
  for (int s = 0; s < gc_dimtab_num_syms(gd); s++) {
    int id;
    OK(gc_dimtab_add_sym(p->dims, gc_dimtab_sym_name(gd, s), &id));
  }
  p->nsyms = gc_dimtab_num_syms(p->dims);
  p->symsrc = calloc((size_t)p->nsyms, sizeof *p->symsrc);
  for (int s = 0; s < p->nsyms; s++) {
    p->symsrc[s].kind = 0;
    p->symsrc[s].dim = !strcmp(gc_dimtab_sym_name(p->dims, s), "K");
  }
  const char *size_text[] = {"B*3", "B", "K", "3", "B*K", "K*3", "1"};
  enum { S_B3, S_B, S_K, S_3, S_BK, S_K3, S_1 };
  for (int i = 0; i < 7; i++) {
    gc_dim d;
    size_t used;
    OK(gc_dim_parse(p->dims, size_text[i], strlen(size_text[i]), false, &d, &used));
    cr_assert_eq(kir_size(p, d), i);
  }
  p->ninputs = 3;
  p->noutputs = 3;
  p->nbuffers = LIN_NBUF;
  p->buffers = calloc(LIN_NBUF, sizeof *p->buffers);
  const struct { int numel, role, index; const char *name; int rank, d0, d1; } bufs[LIN_NBUF] = {
      {S_BK, KIR_BUF_INPUT, 0, "x", 2, S_B, S_K},  {S_K3, KIR_BUF_INPUT, 1, "w", 2, S_K, S_3},
      {S_3, KIR_BUF_INPUT, 2, "b", 1, S_3, 0},     {S_B3, KIR_BUF_TEMP, 0, "h", 2, S_B, S_3},
      {S_B3, KIR_BUF_OUTPUT, 0, "r", 2, S_B, S_3}, {S_B, KIR_BUF_OUTPUT, 1, "s", 1, S_B, 0},
      {S_BK, KIR_BUF_OUTPUT, 2, "x", 2, S_B, S_K}};
  for (int b = 0; b < LIN_NBUF; b++) {
    p->buffers[b] = (kir_buffer){.dtype = GRAPHC_F32, .numel = bufs[b].numel,
                                 .role = (kir_buffer_role)bufs[b].role, .index = bufs[b].index,
                                 .first_step = 0, .last_step = 2, .rank = bufs[b].rank,
                                 .shape = {bufs[b].d0, bufs[b].d1}};
    snprintf(p->buffers[b].name, sizeof p->buffers[b].name, "%s", bufs[b].name);
  }
  p->buffers[LIN_H].last_step = 1;
  /* The kernel's expressions (what the evaluator runs). */
  p->nkernels = 1;
  p->kernels = calloc(1, sizeof *p->kernels);
  kir_kernel *k = &p->kernels[0];
  snprintf(k->name, sizeof k->name, "bias_relu_sum");
  k->nouter = 1;
  k->outer[0] = S_B;
  int o = kir_expr_add(k, (kir_expr){.kind = KX_OUTER, .type = KIR_I64, .a = 0, .dtype = -1});
  int three = kir_expr_add(k, (kir_expr){.kind = KX_SIZE, .type = KIR_I64, .a = S_3, .dtype = -1});
  int j = kir_expr_add(k, (kir_expr){.kind = KX_INNER, .type = KIR_I64, .a = 0, .dtype = -1});
  int row = kir_expr_add(k, (kir_expr){.kind = KX_BINARY, .type = KIR_I64, .op = KB_MUL, .a = o, .b = three, .dtype = -1});
  int idx = kir_expr_add(k, (kir_expr){.kind = KX_BINARY, .type = KIR_I64, .op = KB_ADD, .a = row, .b = j, .dtype = -1});
  int h = kir_expr_add(k, (kir_expr){.kind = KX_LOAD, .type = KIR_F32, .a = LIN_H, .b = idx, .dtype = -1});
  int bj = kir_expr_add(k, (kir_expr){.kind = KX_LOAD, .type = KIR_F32, .a = LIN_B, .b = j, .dtype = -1});
  int sum = kir_expr_add(k, (kir_expr){.kind = KX_BINARY, .type = KIR_F32, .op = KB_ADD, .a = h, .b = bj, .dtype = -1});
  int zero = kir_expr_add(k, (kir_expr){.kind = KX_CONST, .type = KIR_F32, .f = 0.0, .dtype = -1});
  int relu = kir_expr_add(k, (kir_expr){.kind = KX_BINARY, .type = KIR_F32, .op = KB_MAX, .a = sum, .b = zero, .dtype = -1});
  int acc = kir_expr_add(k, (kir_expr){.kind = KX_ACC, .type = KIR_F32, .a = 1, .dtype = -1});
  k->nstages = 3;
  k->stages = calloc(3, sizeof *k->stages);
  k->stages[0] = (kir_stage){.kind = KIR_STORE, .ninner = 1, .inner = {S_3}, .nstores = 1,
                             .stores = {{LIN_R, idx, relu}}};
  k->stages[1] = (kir_stage){.kind = KIR_REDUCE, .ninner = 1, .inner = {S_3}, .combine = KIR_SUM,
                             .acc_type = KIR_F32, .value = relu};
  k->stages[2] = (kir_stage){.kind = KIR_STORE, .ninner = 0, .nstores = 1, .stores = {{LIN_S, o, acc}}};
  p->nsteps = 3;
  p->steps = calloc(3, sizeof *p->steps);
  p->steps[0].kind = KIR_STEP_GEMM;
  p->steps[0].gemm = (kir_gemm){.dtype = GRAPHC_F32, .a = LIN_X, .b = LIN_W, .c = LIN_H, .m = S_B,
                                .n = S_3, .k = S_K, .lda = S_K, .ldb = S_3, .ldc = S_3, .batch = -1,
                                .stride_a = -1, .stride_b = -1, .stride_c = -1, .alpha = 1,
                                .beta = 0, .epilogue = -1};
  p->steps[1] = (kir_step){.kind = KIR_STEP_KERNEL, .kernel = 0};
  p->steps[2] = (kir_step){.kind = KIR_STEP_COPY, .src = LIN_X, .dst = LIN_XOUT, .count = S_BK};
  OK(kir_program_verify(p));
  return p;
}

/* The C stand-in for the generated code of kernel 0. */
static inline void rt_lin_kernel(int64_t begin, int64_t end, void *const *bufs,
                                 const int64_t *sizes, const gc_env *env) {
  (void)sizes, (void)env;
  const float *h = bufs[LIN_H], *b = bufs[LIN_B];
  float *r = bufs[LIN_R], *s = bufs[LIN_S];
  for (int64_t o = begin; o < end; o++) {
    float acc = 0;
    for (int j = 0; j < 3; j++) {
      float v = h[o * 3 + j] + b[j];
      v = v > 0 ? v : 0;
      r[o * 3 + j] = v;
      acc += v;
    }
    s[o] = acc;
  }
}

/* Parses RT_LIN_TEXT in `c` and builds an executable of the hand-written
 * program with `kernel` as its code (EVAL mode when kernel is NULL). */
static inline graphc_executable_t *rt_lin_executable(graphc_context_t *c, graphc_graph_t **out_graph,
                                                     gc_kernel_fn kernel) {
  OK(graphc_graph_parse(c, RT_LIN_TEXT, strlen(RT_LIN_TEXT), "lin.gc", out_graph));
  gc_model m;
  OK(gc_model_from_graph(*out_graph, rt_lin_program(*out_graph), &m));
  gc_kernels k = {0};
  if (kernel) {
    k.fns = calloc(1, sizeof *k.fns);
    k.fns[0] = kernel;
  }
  graphc_executable_t *exe;
  OK(gc_executable_create_in(c, &m, k, kernel ? GC_EXEC_NATIVE : GC_EXEC_EVAL, &exe));
  return exe;
}

/* Random inputs for lin with batch B and inner K. */
static inline void rt_lin_inputs(rt_tensor in[3], int64_t B, int64_t K, uint64_t seed, bool strided) {
  int64_t sx[2] = {B, K}, sw[2] = {K, 3}, sb[1] = {3};
  rt_tensor_random(&in[0], GRAPHC_F32, 2, sx, seed, strided);
  rt_tensor_random(&in[1], GRAPHC_F32, 2, sw, seed + 1, false);
  rt_tensor_random(&in[2], GRAPHC_F32, 1, sb, seed + 2, false);
}

#endif
