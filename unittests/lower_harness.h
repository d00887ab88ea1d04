/* Shared harness of the lowering suites (test_lower*.c, test_memplan.c):
 * parse a graph, make random inputs for given symbol values, run the
 * interpreter and the lowered program (kir_eval), compare per dtype. */
#ifndef GC_TEST_LOWER_HARNESS_H
#define GC_TEST_LOWER_HARNESS_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graphc/graphc.h"
#include "interp/interp_internal.h"
#include "ir/ir.h"
#include "kernel/kir_eval.h"
#include "kernel/lower.h"

#include "test_common.h"

static graphc_context_t *lh_ctx;
static uint64_t lh_seed;

static inline void lh_setup(void) {
  OK(graphc_context_create(NULL, &lh_ctx));
  const char *env = getenv("GC_TEST_SEED");
  lh_seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
}
static inline void lh_teardown(void) { graphc_context_release(lh_ctx); }

static inline uint64_t lh_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static inline double lh_unif(uint64_t *s) { return (double)(lh_next(s) >> 11) * 0x1p-53; }

static inline gc_graph *lh_parse(const char *text) {
  gc_graph *g = NULL;
  graphc_status_t st = graphc_graph_parse(lh_ctx, text, strlen(text), "t.gc", &g);
  cr_assert(st == NULL, "parse failed: %s\n%s", graphc_status_message(st), text);
  return g;
}

typedef struct lh_opts {
  const char *syms;       /* "B=3 N=7" */
  int64_t int_lo, int_hi; /* integer inputs in [lo, hi); both 0: [-5, 6) */
  bool positive;          /* float inputs in [0.1, 2) instead of +-[0.1, 2) */
} lh_opts;

/* Symbol values from "NAME=v ..." (graph symbol ids). */
static inline void lh_syms(gc_graph *g, const char *syms, int64_t *vals, bool *bound) {
  gc_dimtab *t = gc_graph_dims(g);
  for (int s = 0; s < gc_dimtab_num_syms(t); s++) bound[s] = false;
  const char *p = syms ? syms : "";
  while (*p) {
    while (*p == ' ') p++;
    char name[64];
    long long v;
    int used = 0;
    if (sscanf(p, "%63[A-Za-z0-9_]=%lld%n", name, &v, &used) != 2) break;
    int s = gc_dimtab_find_sym(t, name);
    if (s >= 0) vals[s] = v, bound[s] = true; /* symbols the graph lacks are ignored */
    p += used;
  }
}

/* Random inputs (never zero floats); symbol inputs get their value. */
static inline void lh_inputs(gc_graph *g, const lh_opts *o, gc_tensor *in, uint64_t *rng) {
  int64_t vals[64];
  bool bound[64];
  lh_syms(g, o->syms, vals, bound);
  int64_t lo = o->int_lo, hi = o->int_hi;
  if (lo == 0 && hi == 0) lo = -5, hi = 6;
  for (int i = 0; i < g->ninputs; i++) {
    const gc_value *v = &g->values[g->inputs[i]];
    int64_t shape[8];
    for (int d = 0; d < v->type.rank; d++)
      OK(gc_dim_eval(gc_graph_dims(g), v->type.dims[d], vals, bound, &shape[d]));
    OK(gc_tensor_alloc(&in[i], v->type.dtype, v->type.rank, shape, 0));
    for (int64_t k = 0; k < in[i].numel; k++) {
      if (v->role == GRAPHC_ROLE_SYMBOL) {
        gc_tensor_seti(&in[i], k, vals[v->sym]);
      } else if (v->type.dtype == GRAPHC_BOOL) {
        gc_tensor_seti(&in[i], k, (int64_t)(lh_next(rng) & 1));
      } else if (v->type.dtype == GRAPHC_I32 || v->type.dtype == GRAPHC_I64) {
        int64_t x = lo + (int64_t)(lh_next(rng) % (uint64_t)(hi - lo));
        if (v->type.rank == 0 && strstr(v->name, "seed")) x = (int64_t)lh_next(rng);
        gc_tensor_seti(&in[i], k, x);
      } else {
        double x = 0.1 + 1.9 * lh_unif(rng);
        if (!o->positive && (lh_next(rng) & 1)) x = -x;
        gc_tensor_setf(&in[i], k, x);
      }
    }
  }
}

static inline void lh_tol(graphc_dtype_t dt, double *rtol, double *atol) {
  switch (dt) {
    case GRAPHC_F64: *rtol = 1e-9, *atol = 1e-9; break;
    case GRAPHC_F32: *rtol = 2e-4, *atol = 2e-4; break;
    case GRAPHC_F16: *rtol = 4e-3, *atol = 4e-3; break;
    case GRAPHC_BF16: *rtol = 3e-2, *atol = 3e-2; break;
    default: *rtol = *atol = 0; break;
  }
}

/* Compares an output of kir_eval with the interpreter's. */
static inline void lh_compare(const gc_tensor *got, const gc_tensor *want, int k, const char *what) {
  cr_assert_eq(got->dtype, want->dtype, "%s: output %d dtype", what, k);
  cr_assert_eq(got->numel, want->numel, "%s: output %d has %lld elements, want %lld", what, k,
               (long long)got->numel, (long long)want->numel);
  cr_assert_eq(got->rank, want->rank, "%s: output %d rank", what, k);
  for (int d = 0; d < got->rank; d++) cr_assert_eq(got->shape[d], want->shape[d], "%s: output %d dim %d", what, k, d);
  double rtol, atol, scale = 1;
  lh_tol(want->dtype, &rtol, &atol);
  for (int64_t i = 0; i < want->numel; i++) {
    double w = gc_tensor_getf(want, i);
    if (isfinite(w) && fabs(w) > scale) scale = fabs(w);
  }
  for (int64_t i = 0; i < want->numel; i++) {
    if (rtol == 0) {
      int64_t a = gc_tensor_geti(got, i), b = gc_tensor_geti(want, i);
      cr_assert_eq(a, b, "%s: output %d [%lld]: got %lld, want %lld (seed %llu)", what, k, (long long)i,
                   (long long)a, (long long)b, (unsigned long long)lh_seed);
      continue;
    }
    double a = gc_tensor_getf(got, i), b = gc_tensor_getf(want, i);
    bool ok = (isnan(a) && isnan(b)) || a == b || fabs(a - b) <= atol * scale + rtol * fabs(b);
    cr_assert(ok, "%s: output %d [%lld]: got %.9g, want %.9g (seed %llu)", what, k, (long long)i, a, b,
              (unsigned long long)lh_seed);
  }
}

/* Lowers g (fused or not), verifies, runs on `in` and compares with
 * `want`. Returns the program (caller frees) when keep is set. */
static inline kir_program *lh_run_lowered(gc_graph *g, bool fuse, gc_tensor *in, gc_tensor *want, const char *what,
                                   bool keep) {
  gc_lower_options opt = {.no_fusion = !fuse};
  kir_program *p = NULL;
  graphc_status_t st = gc_lower_graph(g, &opt, &p);
  cr_assert(st == NULL, "%s: lowering failed: %s", what, graphc_status_message(st));
  OK(kir_program_verify(p));
  gc_tensor *got = calloc((size_t)g->noutputs + 1, sizeof *got);
  st = kir_eval(p, in, g->ninputs, got, g->noutputs, NULL);
  if (st) {
    char *dump = kir_program_print(p);
    cr_assert(st == NULL, "%s (%s): kir_eval failed: %s\n%s", what, fuse ? "fused" : "unfused",
              graphc_status_message(st), dump);
  }
  for (int k = 0; k < g->noutputs; k++) {
    lh_compare(&got[k], &want[k], k, what);
    gc_tensor_free(&got[k]);
  }
  free(got);
  if (keep) return p;
  gc_lower_free(p);
  return NULL;
}

/* The whole check for one graph at one set of symbol values, fused and
 * unfused. Returns the fused program if keep (caller frees). */
static inline kir_program *lh_check_graph(gc_graph *g, const char *label, const lh_opts *o, bool keep) {
  uint64_t rng = lh_seed ^ (uint64_t)strlen(label) * 31 ^ (o->syms ? (uint64_t)strlen(o->syms) : 0);
  gc_tensor in[64] = {{0}}, want[64] = {{0}};
  cr_assert(g->ninputs <= 64 && g->noutputs <= 64);
  lh_inputs(g, o, in, &rng);
  graphc_status_t st = gc_interp_run_tensors(g, 0, in, g->ninputs, want);
  cr_assert(st == NULL, "interpreter failed: %s\n%s", graphc_status_message(st), label);
  char what[600];
  snprintf(what, sizeof what, "%.500s [%s]", label, o->syms ? o->syms : "");
  kir_program *p = lh_run_lowered(g, true, in, want, what, keep);
  lh_run_lowered(g, false, in, want, what, false);
  for (int i = 0; i < g->ninputs; i++) gc_tensor_free(&in[i]);
  for (int k = 0; k < g->noutputs; k++) gc_tensor_free(&want[k]);
  return p;
}

static inline kir_program *lh_check(const char *text, const lh_opts *o, bool keep) {
  gc_graph *g = lh_parse(text);
  kir_program *p = lh_check_graph(g, text, o, keep);
  graphc_graph_release(g);
  return p;
}

#endif
