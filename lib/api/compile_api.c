/* Public compile entry: graph -> executable through the LLVM JIT (or the
 * kernel-IR evaluator for GRAPHC_BACKEND_CPU_EVAL). With the cache on and
 * a backend that can load object code, the JIT path goes through the
 * cache too: a hit skips passes, lowering and LLVM entirely. */
#include <stdlib.h>

#include "graphc/compile.h"
#include "ir/ir.h"
#include "rt/codegen_bridge.h"
#include "rt/compile_driver.h"
#include "rt/cpu_features.h"
#include "rt/exec_eval.h"
#include "rt/executable.h"
#include "support/status.h"

#define GC_JIT_PREFIX "graphc_jit"

static graphc_status_t compile_model(const gc_graph *g, const gc_compile_request *r, gc_model *m,
                                     gc_kernels *k, gc_exec_mode *mode, graphc_cache_state_t *state) {
  *mode = GC_EXEC_NATIVE;
  *state = GRAPHC_CACHE_DISABLED;
  if (r->opt.backend == GRAPHC_BACKEND_CPU_EVAL) {
    if (!gc_rt_eval_available())
      return gc_status(GRAPHC_STATUS_UNAVAILABLE, "this build has no kernel-IR evaluator");
    *mode = GC_EXEC_EVAL;
    return gc_compile_lower(g, r, m);
  }
  if (!gc_codegen_available())
    return gc_status(GRAPHC_STATUS_UNAVAILABLE,
                     "this libgraphc was built without the LLVM CPU backend (use the interpreter, "
                     "or GRAPHC_BACKEND_CPU_EVAL)");
  if (r->cache_dir && gc_codegen_can_jit_object()) {
    uint8_t *obj = NULL;
    size_t len = 0;
    GC_TRY(gc_compile_object(g, r, GC_JIT_PREFIX, m, &obj, &len, state));
    graphc_status_t st = gc_codegen_jit_object(obj, len, GC_JIT_PREFIX, m->prog->nkernels, k);
    free(obj);
    if (st) gc_model_free(m);
    return st;
  }
  GC_TRY(gc_compile_lower(g, r, m));
  graphc_status_t st = gc_codegen_jit(m->prog, r, k);
  if (st) gc_model_free(m);
  return st;
}

graphc_status_t graphc_compile(const graphc_graph_t *graph, const graphc_compile_options_t *options,
                               graphc_executable_t **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out_executable is NULL");
  *out = NULL;
  GC_TRY(gc_graph_check(graph));
  gc_compile_request r;
  graphc_status_t st = gc_compile_request_init(options, &r);
  gc_model m = {0};
  gc_kernels k = {0};
  gc_exec_mode mode = GC_EXEC_NATIVE;
  graphc_cache_state_t state = GRAPHC_CACHE_DISABLED;
  if (!st) st = compile_model(graph, &r, &m, &k, &mode, &state);
  gc_compile_request_free(&r);
  /* Code for a named target may use what this CPU lacks: never run it. */
  if (!st && mode == GC_EXEC_NATIVE && (st = gc_cpu_check_features(m.features, m.cpu, NULL))) {
    gc_model_free(&m);
    free(k.fns);
    if (k.release) k.release(k.owner);
  }
  if (st) return gc_status_wrap(st, "compiling graph '%s'", graph->name);
  GC_TRY(gc_executable_create_in(graph->ctx, &m, k, mode, out));
  (*out)->cache_state = state;
  return NULL;
}
