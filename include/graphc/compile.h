/* libgraphc — compiling graphs and running compiled executables.
 *
 * graphc_compile() turns a graph into a graphc_executable_t: the graph is
 * simplified, lowered to kernel IR and compiled to machine code for the
 * host CPU through LLVM. One compile serves every size: dims that are
 * symbols (a batch `B`) are read from the input shapes of each call.
 *
 * Tensors cross the boundary as DLPack exactly as with graphc_interp_run
 * (graphc/interp.h): inputs are borrowed kDLCPU DLTensors in any strides;
 * outputs are new contiguous DLManagedTensors the caller releases through
 * their `deleter`. Inputs are checked like the interpreter checks them:
 * dtype, rank, every dim, symbols bound consistently.
 *
 * Ahead of time, `graphc compile model.gc -o model.o --header model.h`
 * writes the same kernels as an object file and a header that embeds the
 * model description; graphc_aot_load() turns those into an executable
 * without LLVM (docs/runtime.md).
 *
 * Threads: an executable owns a pool of worker threads (the context's
 * num_threads, the calling thread included) that runs its parallel loops.
 * The application may replace the pool by its own parallel-for
 * (graphc_set_parallel_for), as with Halide's halide_do_par_for.
 */
#ifndef GRAPHC_COMPILE_H
#define GRAPHC_COMPILE_H

#include <dlpack/dlpack.h>

#include "graphc/context.h"
#include "graphc/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct graphc_executable_s graphc_executable_t;

typedef enum graphc_backend_e {
  GRAPHC_BACKEND_CPU = 0,      /* LLVM, host CPU                           */
  GRAPHC_BACKEND_CPU_EVAL = 1, /* kernel IR evaluated directly: no LLVM,
                                  slow; for debugging the lowering         */
} graphc_backend_t;

/* Options for graphc_compile. Always fill with graphc_compile_options_init
 * first, then change what you need. Strings are borrowed for the duration
 * of the graphc_compile call only. */
typedef struct graphc_compile_options_s {
  size_t struct_size;
  graphc_backend_t backend;    /* default GRAPHC_BACKEND_CPU                  */
  int opt_level;               /* 0..3 (LLVM -O level), default 3            */
  /* Graph passes before lowering: NULL = the default simplification
   * pipeline, "" = none, or a list such as "dce,cse". */
  const char *pipeline;
  /* On-disk compile cache. Default: enabled; directory $GRAPHC_CACHE_DIR,
   * else $XDG_CACHE_HOME/graphc, else $HOME/.cache/graphc (read by _init).
   * GRAPHC_CACHE=0 in the environment disables it by default. */
  bool cache_enable;
  const char *cache_dir;
  /* Target override (NULL = the host CPU and its features). An LLVM CPU
   * name ("x86-64-v3", "znver4") and feature string ("+avx2,-avx512f"). */
  const char *target_cpu;
  const char *target_features;
} graphc_compile_options_t;

/* Fills `options` with the defaults above (reads GRAPHC_CACHE_DIR and
 * GRAPHC_CACHE). NULL is ignored. */
GRAPHC_API void graphc_compile_options_init(graphc_compile_options_t *options);

/* Compiles `graph` (borrowed; it may be released afterwards). `options`
 * may be NULL for defaults. On success *out_executable is a new executable
 * the caller releases with graphc_executable_release(), before releasing
 * the graph's context. A graph whose sizes depend on data (nonzero, item)
 * is UNIMPLEMENTED for now; run it with the interpreter. The context must
 * not be used from another thread during the call. */
GRAPHC_API graphc_status_t graphc_compile(const graphc_graph_t *graph,
                                          const graphc_compile_options_t *options,
                                          graphc_executable_t **out_executable);

/* Runs `executable` on `inputs` (`num_inputs` borrowed DLTensor pointers,
 * one per graph input, in order). On success writes one new
 * DLManagedTensor per graph output to `out_outputs` (`max_outputs`
 * slots); the caller calls each one's deleter. On failure nothing is
 * written that needs freeing. May be called from several threads; calls
 * on the same executable run one at a time. */
GRAPHC_API graphc_status_t graphc_executable_run(graphc_executable_t *executable,
                                                 DLTensor *const *inputs, int num_inputs,
                                                 DLManagedTensor **out_outputs,
                                                 int max_outputs);

/* Releases `executable`, its code and its threads. NULL is ignored. Must
 * not be called while a run of it is in progress. */
GRAPHC_API void graphc_executable_release(graphc_executable_t *executable);

/* Bytes of the scratch arena the last successful run used (intermediate
 * tensors, after buffer reuse); 0 before the first run, -1 for NULL. */
GRAPHC_API int64_t graphc_executable_peak_bytes(const graphc_executable_t *executable);
/* Number of generated kernels (fused loop nests); -1 for NULL. */
GRAPHC_API int graphc_executable_num_kernels(const graphc_executable_t *executable);
GRAPHC_API int graphc_executable_num_inputs(const graphc_executable_t *executable);
GRAPHC_API int graphc_executable_num_outputs(const graphc_executable_t *executable);

/* What the compile cache did for this executable. */
typedef enum graphc_cache_state_e {
  GRAPHC_CACHE_DISABLED = 0, /* cache off, or not used by this backend   */
  GRAPHC_CACHE_MISS = 1,     /* compiled, then stored                    */
  GRAPHC_CACHE_HIT = 2,      /* loaded from the cache, LLVM not run      */
  GRAPHC_CACHE_REBUILT = 3,  /* entry was corrupt: reported, rebuilt     */
} graphc_cache_state_t;

GRAPHC_API graphc_cache_state_t graphc_executable_cache_state(const graphc_executable_t *executable);

/* --- parallel-for hook ------------------------------------------------------ */

/* One parallel loop: call `task(closure, begin, end)` on disjoint ranges
 * covering [0, n), each at least `grain` long (except the last), from any
 * threads, and return when all have finished. `task` may itself call the
 * hook (nested loops): a hook must then either run the nested loop inline
 * or be able to make progress. */
typedef void (*graphc_task_fn)(void *closure, int64_t begin, int64_t end);
typedef void (*graphc_parallel_for_fn)(void *user, int64_t n, int64_t grain,
                                       graphc_task_fn task, void *closure);

/* Makes executables compiled or loaded from `context` after this call run
 * their parallel loops through `fn(user, ...)` instead of their own thread
 * pool (which is then not started). fn NULL restores the default. `user`
 * is borrowed and must outlive those executables. */
GRAPHC_API graphc_status_t graphc_set_parallel_for(graphc_context_t *context,
                                                   graphc_parallel_for_fn fn, void *user);
/* The same for one existing executable. Not while it runs. */
GRAPHC_API graphc_status_t graphc_executable_set_parallel_for(graphc_executable_t *executable,
                                                              graphc_parallel_for_fn fn,
                                                              void *user);

/* --- ahead of time ----------------------------------------------------------- */

/* Makes an executable from an AOT artifact: `description` (`length`
 * bytes, borrowed, as embedded in the generated header) and the artifact's
 * kernel entry points (`num_kernels` of them, borrowed: the object stays
 * linked or loaded while the executable lives). Checks, before any
 * generated code runs, that the artifact was built for this ABI version
 * (FAILED_PRECONDITION otherwise) and that this CPU has every feature the
 * code was compiled for (UNAVAILABLE otherwise). `context` may be NULL
 * (threads = cores). The generated header wraps this call. */
GRAPHC_API graphc_status_t graphc_aot_load(graphc_context_t *context,
                                           const unsigned char *description, size_t length,
                                           void (*const *kernels)(void), int num_kernels,
                                           graphc_executable_t **out_executable);

#ifdef __cplusplus
}
#endif
#endif /* GRAPHC_COMPILE_H */
