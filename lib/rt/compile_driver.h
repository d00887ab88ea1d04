/* The compile driver shared by graphc_compile (JIT) and AOT: resolves
 * options, runs passes and lowering, and produces object code through the
 * on-disk cache. */
#ifndef GC_RT_COMPILE_DRIVER_H
#define GC_RT_COMPILE_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "graphc/compile.h"
#include "ir/ir.h"
#include "rt/model.h"

/* Options with every default resolved. */
typedef struct gc_compile_request {
  graphc_compile_options_t opt;
  const char *cache_dir; /* NULL when the cache is off */
  char cache_dir_buf[4096];
  char *cpu, *features; /* the target, resolved (owned): what the code needs */
  const char *user_cpu, *user_features; /* as given (borrowed), for the backend */
} gc_compile_request;

/* Checks `options` (NULL = defaults) and resolves the target (host CPU
 * unless overridden). */
graphc_status_t gc_compile_request_init(const graphc_compile_options_t *options,
                                        gc_compile_request *r);
void gc_compile_request_free(gc_compile_request *r);

/* Passes + lowering + signature: the model of `g`, with no code. */
graphc_status_t gc_compile_lower(const gc_graph *g, const gc_compile_request *r, gc_model *out);

/* The model and the object code of `g`, kernel i named "<prefix>_k<i>",
 * from the cache when it has them (LLVM then does not run). *obj is
 * malloc'd. *state says what the cache did. */
graphc_status_t gc_compile_object(const gc_graph *g, const gc_compile_request *r, const char *prefix,
                                  gc_model *out, uint8_t **obj, size_t *len,
                                  graphc_cache_state_t *state);

/* True when this build can generate machine code (LLVM backend present). */
bool gc_compile_have_codegen(void);

#endif
