/* Shared harness of the LLVM backend suites (test_llvm_emit.c,
 * test_llvm_math.c): kernel IR programs built by hand (sizes are size-table
 * ids 0..n-1 whose values a test passes directly), JIT-compiled and run.
 * Header-only; a suite declares itself with
 *   TestSuite(name, .init = llvm_setup);
 * which skips every test in a build without LLVM. */
#ifndef GRAPHC_UNITTESTS_LLVM_HARNESS_H
#define GRAPHC_UNITTESTS_LLVM_HARNESS_H

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_backend.h"
#include "interp/tensor.h"
#include "support/status.h"

#define OK(expr)                                                                         \
  do {                                                                                   \
    graphc_status_t st_ = (expr);                                                        \
    cr_assert_null(st_, "%s: %s", #expr, graphc_status_message(st_));                    \
  } while (0)

#define FAILS(expr, code, needle)                                                        \
  do {                                                                                   \
    graphc_status_t st_ = (expr);                                                        \
    cr_assert_not_null(st_, "%s succeeded", #expr);                                      \
    cr_assert_eq(graphc_status_code(st_), (code), "%s: %s", #expr, graphc_status_message(st_)); \
    cr_assert(strstr(graphc_status_message(st_), (needle)), "'%s' lacks '%s'",           \
              graphc_status_message(st_), (needle));                                     \
    graphc_status_free(st_);                                                             \
  } while (0)

/* Skip everything in a build without LLVM (the stub answers UNAVAILABLE). */
static inline void llvm_setup(void) {
  char *cpu = NULL;
  graphc_status_t st = gc_cpu_target_info(&cpu, NULL);
  free(cpu);
  if (graphc_status_code(st) == GRAPHC_STATUS_UNAVAILABLE) {
    graphc_status_free(st);
    cr_skip_test("libgraphc was built without LLVM");
  }
  graphc_status_free(st);
}

/* ---- building programs ------------------------------------------------------- */

static inline kir_program *prog(int nsizes) {
  kir_program *p = calloc(1, sizeof *p);
  for (int i = 0; i < nsizes; i++) cr_assert_eq(kir_size(p, i), i);
  return p;
}
static inline int buf(kir_program *p, graphc_dtype_t dt, int numel) {
  p->buffers = realloc(p->buffers, sizeof *p->buffers * (size_t)(p->nbuffers + 1));
  p->buffers[p->nbuffers] = (kir_buffer){.dtype = dt, .numel = numel, .role = KIR_BUF_TEMP};
  return p->nbuffers++;
}
/* A new kernel over outer extents (size ids); returned pointer valid until
 * the next kern() on p. */
static inline kir_kernel *kern(kir_program *p, int nouter, const int *outer) {
  p->kernels = realloc(p->kernels, sizeof *p->kernels * (size_t)(p->nkernels + 1));
  kir_kernel *k = &p->kernels[p->nkernels];
  memset(k, 0, sizeof *k);
  snprintf(k->name, sizeof k->name, "k%d", p->nkernels++);
  k->nouter = nouter;
  for (int d = 0; d < nouter; d++) k->outer[d] = outer[d];
  return k;
}
static inline int X(kir_kernel *k, kir_expr_kind kind, kir_type t, int op, int a, int b, int c) {
  return kir_expr_add(k, (kir_expr){.kind = kind, .type = t, .op = op, .a = a, .b = b, .c = c, .dtype = -1});
}
static inline int CF(kir_kernel *k, kir_type t, double v) {
  return kir_expr_add(k, (kir_expr){.kind = KX_CONST, .type = t, .f = v, .dtype = -1});
}
static inline int CI(kir_kernel *k, kir_type t, int64_t v) {
  return kir_expr_add(k, (kir_expr){.kind = KX_CONST, .type = t, .i = v, .dtype = -1});
}
#define OUTER(k, a) X(k, KX_OUTER, KIR_I64, 0, a, 0, 0)
#define INNER(k, a) X(k, KX_INNER, KIR_I64, 0, a, 0, 0)
#define SIZE(k, a) X(k, KX_SIZE, KIR_I64, 0, a, 0, 0)
#define LOAD(k, t, b, i) X(k, KX_LOAD, t, 0, b, i, 0)
#define UN(k, t, op, a) X(k, KX_UNARY, t, op, a, 0, 0)
#define BIN(k, t, op, a, b) X(k, KX_BINARY, t, op, a, b, 0)
#define ACC(k, t, s) X(k, KX_ACC, t, 0, s, 0, 0)

static inline kir_stage *stage(kir_kernel *k, kir_stage_kind kind, int ninner, const int *inner) {
  k->stages = realloc(k->stages, sizeof *k->stages * (size_t)(k->nstages + 1));
  kir_stage *s = &k->stages[k->nstages++];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  s->ninner = ninner;
  for (int d = 0; d < ninner; d++) s->inner[d] = inner[d];
  return s;
}
static inline void store(kir_kernel *k, int ninner, const int *inner, int b, int index, int value) {
  kir_stage *s = stage(k, KIR_STORE, ninner, inner);
  s->nstores = 1;
  s->stores[0] = (kir_store){b, index, value};
}
static inline void reduce(kir_kernel *k, int ninner, const int *inner, kir_combine c, kir_type at, int value) {
  kir_stage *s = stage(k, KIR_REDUCE, ninner, inner);
  s->combine = c, s->acc_type = at, s->value = value;
}

static inline gc_cpu_jit_module *jit(const kir_program *p, const gc_cpu_options *o) {
  gc_cpu_jit_module *m = NULL;
  OK(gc_cpu_jit(p, o, &m));
  cr_assert_eq(gc_cpu_jit_num_kernels(m), p->nkernels);
  return m;
}
static inline void run(const gc_cpu_jit_module *m, int k, int64_t begin, int64_t end, void **bufs, const int64_t *sizes) {
  gc_env env = {.version = GC_ENV_VERSION, .size = sizeof env};
  gc_kernel_fn fn = gc_cpu_jit_kernel(m, k);
  cr_assert_not_null(fn);
  fn(begin, end, (void *const *)bufs, sizes, &env);
}
static inline void drop(kir_program *p, gc_cpu_jit_module *m) { /* m may be NULL */
  gc_cpu_jit_free(m);
  kir_program_free(p);
  free(p);
}

static uint64_t rng = 88172645463325252ull;
static inline uint64_t next_rand(void) { return rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; }
static inline double uniform(double lo, double hi) { return lo + (hi - lo) * (double)(next_rand() >> 11) * 0x1p-53; }

/* Softmax over rows: max, sum of exp, then the quotient: three stages. */
static inline kir_program *softmax_prog(void) {
  kir_program *p = prog(2);
  int x = buf(p, GRAPHC_F32, 0), y = buf(p, GRAPHC_F32, 0);
  kir_kernel *k = kern(p, 1, (int[]){0});
  int idx = BIN(k, KIR_I64, KB_ADD, BIN(k, KIR_I64, KB_MUL, OUTER(k, 0), SIZE(k, 1)), INNER(k, 0));
  int xv = LOAD(k, KIR_F32, x, idx);
  reduce(k, 1, (int[]){1}, KIR_MAX, KIR_F32, xv);
  int e = UN(k, KIR_F32, KU_EXP, BIN(k, KIR_F32, KB_SUB, xv, ACC(k, KIR_F32, 0)));
  reduce(k, 1, (int[]){1}, KIR_SUM, KIR_F32, e);
  store(k, 1, (int[]){1}, y, idx, BIN(k, KIR_F32, KB_DIV, e, ACC(k, KIR_F32, 1)));
  return p;
}

#endif
