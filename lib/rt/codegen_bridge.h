/* The runtime's only door to the LLVM backend (codegen/cpu): target
 * queries, object emission and JIT, each answering UNAVAILABLE in a build
 * without it. */
#ifndef GC_RT_CODEGEN_BRIDGE_H
#define GC_RT_CODEGEN_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt/compile_driver.h"
#include "rt/executable.h"

bool gc_codegen_available(void);
/* The target: cpu/features as given, or the host's for NULL. Owned
 * strings ("" for unknown). */
graphc_status_t gc_codegen_resolve_target(const char *cpu, const char *features, char **out_cpu,
                                          char **out_features);
/* Object code of `p` for the request's target; *obj malloc'd. */
graphc_status_t gc_codegen_emit_object(const kir_program *p, const gc_compile_request *r,
                                       const char *prefix, uint8_t **obj, size_t *len);
/* JIT-compiles `p`; on success *out holds the entry points and module. */
graphc_status_t gc_codegen_jit(const kir_program *p, const gc_compile_request *r, gc_kernels *out);
/* Loads object code made by gc_codegen_emit_object into the JIT (the
 * cache's fast path); UNIMPLEMENTED when the backend cannot. */
graphc_status_t gc_codegen_jit_object(const uint8_t *obj, size_t len, const char *prefix, int nkernels,
                                      gc_kernels *out);
bool gc_codegen_can_jit_object(void);

#endif
