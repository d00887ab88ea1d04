/* The LLVM half of the CPU backend: kernel IR to native code.
 *
 * Every kernel of a kir_program becomes one function with the gc_kernel_fn
 * signature (kernel/kernel_abi.h), optimised with LLVM's `default<O3>`
 * pipeline for a target CPU (the host's unless overridden), then either
 * JIT-compiled in process (ORC LLJIT) or written as a relocatable object
 * for ahead-of-time use. Generated code calls nothing outside itself
 * except what LLVM may introduce on its own (memcpy/memset for copy and
 * fill loops), so an object links against libc alone.
 *
 * In a build without LLVM every function here answers UNAVAILABLE
 * (codegen/cpu/no_llvm.c). LLVM failures (verification, target lookup,
 * ORC errors) come back as statuses carrying LLVM's message; nothing here
 * aborts. Functions may be called from several threads at once: each call
 * builds in its own LLVM context.
 */
#ifndef GC_CPU_BACKEND_H
#define GC_CPU_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "graphc/status.h"
#include "kernel/kernel_abi.h"
#include "kernel/kir.h"

typedef struct gc_cpu_options {
  int opt_level;      /* 0..3; default 3 (`default<O3>`)                      */
  bool host_features; /* default true: the host's CPU and features; false and
                         no override: "generic"                              */
  /* An LLVM CPU name ("znver3", "x86-64-v3"; "native" is the host), checked
   * against LLVM's list; it brings its own features. NULL: see above. */
  const char *cpu_name_override;
  /* LLVM feature syntax "+avx2,-avx512f"; NULL: the host's or the CPU's. */
  const char *features_override;
  bool dump_llvm_ir;  /* keep the optimised module's text (JIT)               */
} gc_cpu_options;

/* Defaults: opt_level 3, host CPU and features, no dump. */
void gc_cpu_options_init(gc_cpu_options *o);

typedef struct gc_cpu_jit_module gc_cpu_jit_module;

/* Compiles every kernel of `p` (checked with kir_program_verify first).
 * `o` may be NULL (defaults). On success *out owns the code; free it with
 * gc_cpu_jit_free once no kernel of it can run any more. */
graphc_status_t gc_cpu_jit(const kir_program *p, const gc_cpu_options *o, gc_cpu_jit_module **out);

/* Loads an object made by gc_cpu_emit_object (same `symbol_prefix`, with
 * `nkernels` kernels) into a new JIT module, without running LLVM's
 * optimiser again: the cache's fast path. The bytes are copied. */
graphc_status_t gc_cpu_jit_object(const void *bytes, size_t len, const char *symbol_prefix,
                                  int nkernels, gc_cpu_jit_module **out);

/* Entry point of kernel `kernel_index`, or NULL when out of range. Valid
 * until gc_cpu_jit_free(m). */
gc_kernel_fn gc_cpu_jit_kernel(const gc_cpu_jit_module *m, int kernel_index);

/* Number of kernels in `m`. */
int gc_cpu_jit_num_kernels(const gc_cpu_jit_module *m);

/* The optimised LLVM IR of `m` as text when it was compiled with
 * dump_llvm_ir, else NULL. Borrowed: valid until gc_cpu_jit_free(m). */
const char *gc_cpu_jit_llvm_ir(const gc_cpu_jit_module *m);

/* Releases `m` and its code (NULL is fine). */
void gc_cpu_jit_free(gc_cpu_jit_module *m);

/* A relocatable ELF object (position independent) holding kernel i of `p`
 * as the global function "<symbol_prefix>_k<i>". `symbol_prefix` must be a
 * C identifier. On success *out_bytes is malloc'd (caller frees) and
 * *out_len its length. */
graphc_status_t gc_cpu_emit_object(const kir_program *p, const gc_cpu_options *o,
                                   const char *symbol_prefix, void **out_bytes, size_t *out_len);

/* What produced the code: "graphc-cpu <revision> llvm <major.minor.patch>".
 * A compile cache keys entries with it, so a changed code generator never
 * reuses objects of an older one. *out is malloc'd (caller frees). */
graphc_status_t gc_cpu_codegen_id(char **out);

/* The host CPU's LLVM name ("znver4") and feature string ("+avx2,..."),
 * what an artifact records as its requirements. Both malloc'd (caller
 * frees); either pointer may be NULL when not wanted. */
graphc_status_t gc_cpu_target_info(char **cpu_name, char **features);

#endif
