/* The CPU backend's API in a build without LLVM: every call says so. The
 * build compiles this file instead of the rest of codegen/cpu. */
#include <string.h>

#include "cpu/cpu_backend.h"
#include "support/status.h"

static graphc_status_t no_llvm(void) {
  return gc_status(GRAPHC_STATUS_UNAVAILABLE, "libgraphc was built without LLVM");
}

void gc_cpu_options_init(gc_cpu_options *o) {
  memset(o, 0, sizeof *o);
  o->opt_level = 3;
  o->host_features = true;
}

graphc_status_t gc_cpu_jit(const kir_program *p, const gc_cpu_options *o, gc_cpu_jit_module **out) {
  (void)p, (void)o;
  if (out) *out = NULL;
  return no_llvm();
}

graphc_status_t gc_cpu_jit_object(const void *bytes, size_t len, const char *symbol_prefix, int nkernels,
                                  gc_cpu_jit_module **out) {
  (void)bytes, (void)len, (void)symbol_prefix, (void)nkernels;
  if (out) *out = NULL;
  return no_llvm();
}

gc_kernel_fn gc_cpu_jit_kernel(const gc_cpu_jit_module *m, int kernel_index) {
  (void)m, (void)kernel_index;
  return NULL;
}

int gc_cpu_jit_num_kernels(const gc_cpu_jit_module *m) {
  (void)m;
  return 0;
}

const char *gc_cpu_jit_llvm_ir(const gc_cpu_jit_module *m) {
  (void)m;
  return NULL;
}

void gc_cpu_jit_free(gc_cpu_jit_module *m) { (void)m; }

graphc_status_t gc_cpu_emit_object(const kir_program *p, const gc_cpu_options *o, const char *symbol_prefix,
                                   void **out_bytes, size_t *out_len) {
  (void)p, (void)o, (void)symbol_prefix;
  if (out_bytes) *out_bytes = NULL;
  if (out_len) *out_len = 0;
  return no_llvm();
}

graphc_status_t gc_cpu_codegen_id(char **out) {
  if (out) *out = NULL;
  return no_llvm();
}

graphc_status_t gc_cpu_target_info(char **cpu_name, char **features) {
  if (cpu_name) *cpu_name = NULL;
  if (features) *features = NULL;
  return no_llvm();
}
