/* `graphc compile` (AOT artifacts) and `graphc run --backend cpu|cpu-eval`. */
#include "cli_compile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "graphc/graphc.h"
#include "graphc/compile.h"
#include "interp/dlpack_convert.h"
#include "rt/aot.h"
#include "support/status.h"

static int usage(const char *msg, const char *arg) {
  return gc_cli_usage("compile", GC_CLI_COMPILE_USAGE, msg, arg);
}

int gc_cli_compile(int argc, char **argv) {
  const char *model = NULL;
  gc_aot_request req = {0};
  graphc_compile_options_t o;
  graphc_compile_options_init(&o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool next = i + 1 < argc;
    if (!strcmp(a, "-o") && next) req.output = argv[++i];
    else if (!strcmp(a, "--header") && next) req.header = argv[++i];
    else if (!strcmp(a, "--name") && next) req.name = argv[++i];
    else if (!strcmp(a, "--target-cpu") && next) o.target_cpu = argv[++i];
    else if (!strcmp(a, "--target-features") && next) o.target_features = argv[++i];
    else if (!strcmp(a, "--pipeline") && next) o.pipeline = argv[++i];
    else if (!strcmp(a, "--cache-dir") && next) o.cache_dir = argv[++i], o.cache_enable = true;
    else if (!strcmp(a, "--no-cache")) o.cache_enable = false;
    else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) o.opt_level = a[2] - '0';
    else if (a[0] == '-') return usage("unknown or incomplete option", a);
    else if (!model) model = a;
    else return usage("more than one model file", a);
  }
  if (!model) return usage("no model file", NULL);
  if (!req.output) return usage("no output file (-o OUT.o or -o OUT.so)", NULL);
  req.options = &o;
  graphc_context_t *ctx;
  graphc_status_t st = graphc_context_create(NULL, &ctx);
  if (st) return gc_cli_fail(st);
  graphc_graph_t *g = NULL;
  st = graphc_graph_parse_file(ctx, model, &g);
  graphc_cache_state_t cs = GRAPHC_CACHE_DISABLED;
  if (!st) st = gc_aot_write(g, &req, &cs);
  if (!st) {
    static const char *const cache[] = {"cache off", "cache miss", "cache hit", "cache entry rebuilt"};
    printf("graphc compile: wrote %s%s%s (%s)\n", req.output, req.header ? " and " : "",
           req.header ? req.header : "", cache[cs]);
  }
  graphc_context_release(ctx);
  return st ? gc_cli_fail(st) : 0;
}

bool gc_cli_backend_known(const char *b) { return !strcmp(b, "cpu") || !strcmp(b, "cpu-eval"); }

graphc_status_t gc_cli_run_backend(const gc_graph *g, const char *backend, const gc_tensor *ins,
                                   int nin, gc_tensor *outs) {
  if (!gc_cli_backend_known(backend))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "backend '%s' is not available (available: interp, cpu, cpu-eval)", backend);
  graphc_compile_options_t o;
  graphc_compile_options_init(&o);
  if (!strcmp(backend, "cpu-eval")) o.backend = GRAPHC_BACKEND_CPU_EVAL;
  graphc_executable_t *exe;
  GC_TRY(graphc_compile(g, &o, &exe));
  DLTensor *dl = calloc((size_t)nin + 1, sizeof *dl);
  DLTensor **ptrs = calloc((size_t)nin + 1, sizeof *ptrs);
  DLManagedTensor **res = calloc((size_t)g->noutputs + 1, sizeof *res);
  graphc_status_t st = (!dl || !ptrs || !res) ? GC_OOM() : NULL;
  for (int i = 0; !st && i < nin; i++) {
    /* Borrowed views of the tensors, contiguous row-major. */
    dl[i].data = ins[i].data;
    dl[i].device = (DLDevice){kDLCPU, 0};
    dl[i].ndim = ins[i].rank;
    dl[i].dtype = gc_dtype_to_dl(ins[i].dtype);
    dl[i].shape = (int64_t *)ins[i].shape;
    ptrs[i] = &dl[i];
  }
  if (!st) st = graphc_executable_run(exe, ptrs, nin, res, g->noutputs);
  int done = 0;
  for (; !st && done < g->noutputs; done++) st = gc_tensor_from_dlpack(&res[done]->dl_tensor, 0, &outs[done]);
  if (st)
    for (int k = 0; k < done; k++) gc_tensor_free(&outs[k]);
  for (int k = 0; res && k < g->noutputs; k++)
    if (res[k]) res[k]->deleter(res[k]);
  free(dl);
  free(ptrs);
  free(res);
  graphc_executable_release(exe);
  return st;
}
