/* Graph passes and the pass manager.
 *
 * A pass is a function from a graph to a new graph:
 *
 *   graphc_status_t pass(const gc_graph *in, const gc_pass_options *opt,
 *                        gc_graph **out);
 *
 * `in` is a top-level graph and is never modified; on success *out is a new
 * top-level graph in the same context, owned by the caller (release it with
 * graphc_graph_release or gc_graph_destroy). Passes are registered in
 * passes.def and run by name through a pipeline: a comma-separated list
 * such as "dce,cse,fold,canonicalize", or NULL for the default
 * simplification pipeline (pass_manager.c). docs/passes.md describes every
 * pass and what it guarantees.
 */
#ifndef GC_PASSES_PASS_H
#define GC_PASSES_PASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ir/ir.h"

/* Pass ids, in passes.def order. */
enum gc_pass_id {
#define GC_PASS(name, fn, doc) GC_PASS_ID_##name,
#include "passes.def"
#undef GC_PASS
  GC_PASS_COUNT
};

/* Options for passes and the pass manager. Fill with gc_pass_options_init
 * first, then change what you need. */
typedef struct gc_pass_options {
  /* gc_graph_verify after every pass; a failure is an INTERNAL error
   * naming the pass. Default: on in builds without NDEBUG. */
  bool verify;
  /* Dump the graph (graphc_graph_print text, after a "# *** IR after ..."
   * header line) to dump_stream after these passes run. */
  bool dump_after[GC_PASS_COUNT];
  bool dump_after_all;
  FILE *dump_stream; /* default stderr */
  /* fold evaluates general ops only when every operand and result has at
   * most this many elements. */
  int64_t fold_max_elements;
  /* canonicalize: x + 0 -> x for floats turns -0.0 + 0.0 (which is +0.0)
   * into -0.0; false keeps float additions of +0.0 (PyTorch's inductor
   * rewrites them, so the default is true). */
  bool canonicalize_add_zero;
} gc_pass_options;

/* Defaults only (no environment). */
void gc_pass_options_defaults(gc_pass_options *opt);
/* Defaults, then GRAPHC_DUMP from the environment (gc_pass_options_set_dump).
 * A malformed GRAPHC_DUMP is an error (the options are still initialised,
 * without dumps). */
graphc_status_t gc_pass_options_init(gc_pass_options *opt);
/* Parses a dump spec and adds it to opt: a comma-separated list of
 * "after:PASS" or "after:all"; "" dumps nothing. Unknown pass names are
 * NOT_FOUND, other syntax INVALID_ARGUMENT. */
graphc_status_t gc_pass_options_set_dump(gc_pass_options *opt, const char *spec);

/* --- the registry ---------------------------------------------------------- */

typedef graphc_status_t (*gc_pass_fn)(const gc_graph *in, const gc_pass_options *opt,
                                      gc_graph **out);

typedef struct gc_pass_info {
  const char *name;
  gc_pass_fn fn;
  const char *doc; /* one line, for `graphc passes` */
} gc_pass_info;

#define GC_PASS(name, fn, doc) \
  graphc_status_t fn(const gc_graph *in, const gc_pass_options *opt, gc_graph **out);
#include "passes.def"
#undef GC_PASS

/* NULL when no pass has that name (`len` bytes, need not be NUL-terminated). */
const gc_pass_info *gc_pass_lookup(const char *name, size_t len);
int gc_pass_count(void);
const gc_pass_info *gc_pass_at(int i); /* NULL out of range */

/* Step i of the default simplification pipeline (a pass name), NULL past
 * the end. */
const char *gc_default_pipeline_at(int i);

/* --- running ----------------------------------------------------------------- */

/* Runs one pass, then verifies (opt->verify) and dumps (opt->dump_*). */
graphc_status_t gc_run_pass(const gc_pass_info *pass, const gc_graph *in,
                            const gc_pass_options *opt, gc_graph **out);

/* Runs `pipeline` ("dce,cse", NULL = the default pipeline, "" = no pass: a
 * clone) on top-level graph `in`. The whole pipeline is checked before
 * anything runs: an unknown pass is NOT_FOUND naming it and listing the
 * known passes. `opt` may be NULL (defaults, without GRAPHC_DUMP). On
 * success *out is a new graph owned by the caller. */
graphc_status_t gc_run_pipeline(const gc_graph *in, const char *pipeline,
                                const gc_pass_options *opt, gc_graph **out);

/* For `graphc print --after PASS`: runs `pipeline` (NULL = default) up to
 * and including the first run of pass `pass` ("cse") or its N-th run
 * ("cse#2") and returns that graph in *out (owned by the caller). A pass
 * that is unknown or not in the pipeline is NOT_FOUND. */
graphc_status_t gc_print_after(const gc_graph *in, const char *pass, const char *pipeline,
                               const gc_pass_options *opt, gc_graph **out);

#endif
