/* Ahead-of-time artifacts: `graphc compile model.gc -o model.o|model.so
 * --header model.h`.
 *
 * The object (or shared library) holds the kernels, kernel i as symbol
 * "<name>_k<i>". The header embeds the model description (sizes as
 * canonical dim text, buffers, steps, kernel names, signature, the ABI
 * version and the CPU features the code needs) as a byte array, and
 * declares `<name>_load()` and `<name>_run()` around graphc_aot_load and
 * graphc_executable_run. Generated code links against nothing; the program
 * links the artifact and libgraphc's runtime. A shared library is linked
 * from the object by `ld -shared` (a linker, found on PATH).
 */
#ifndef GC_RT_AOT_H
#define GC_RT_AOT_H

#include "graphc/compile.h"
#include "ir/ir.h"

typedef struct gc_aot_request {
  const char *output;    /* model.o or model.so                   */
  const char *header;    /* model.h, or NULL for none             */
  const char *name;      /* C identifier prefix; NULL = graph name */
  const graphc_compile_options_t *options; /* may be NULL           */
} gc_aot_request;

/* Compiles `g` and writes the artifact files (each written to a temporary
 * file and renamed into place). *state (may be NULL) says whether the
 * compile cache supplied the code. */
graphc_status_t gc_aot_write(const gc_graph *g, const gc_aot_request *req,
                             graphc_cache_state_t *state);

/* `name` made a C identifier: other characters become '_', a leading
 * digit gets a '_' in front. Into buf. */
void gc_aot_c_name(const char *name, char *buf, size_t cap);

#endif
