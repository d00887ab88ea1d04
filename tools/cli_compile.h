/* `graphc compile` and the compiled backends of `graphc run`. */
#ifndef GC_TOOLS_CLI_COMPILE_H
#define GC_TOOLS_CLI_COMPILE_H

#include "interp/tensor.h"
#include "ir/ir.h"

#define GC_CLI_COMPILE_USAGE                                                               \
  "graphc compile MODEL.gc -o OUT.o|OUT.so [--header OUT.h] [--name NAME] [-O0..-O3] "     \
  "[--target-cpu CPU] [--target-features +f,-g] [--pipeline PASSES] [--cache-dir DIR] "   \
  "[--no-cache]"
#define GC_CLI_COMPILE_SUMMARY \
  "compile ahead of time: kernels as an object or shared library, plus a C header"

/* argv[0] is "compile". Exit status: 0 ok, 1 failure, 2 bad usage. */
int gc_cli_compile(int argc, char **argv);

/* True for the backends gc_cli_run_backend runs: "cpu", "cpu-eval". */
bool gc_cli_backend_known(const char *backend);
/* Compiles g for `backend` and runs it once on `ins` (borrowed; one per
 * graph input). On success `outs` (g->noutputs) are owned by the caller
 * (gc_tensor_free). */
graphc_status_t gc_cli_run_backend(const gc_graph *g, const char *backend, const gc_tensor *ins,
                                   int nin, gc_tensor *outs);

#endif
