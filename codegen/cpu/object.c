/* Ahead-of-time code: the program's kernels as one relocatable object,
 * written to memory (the caller stores it, links it or loads it into the
 * JIT later with gc_cpu_jit_object). */
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_internal.h"
#include "support/status.h"

graphc_status_t gc_cpu_emit_object(const kir_program *p, const gc_cpu_options *o, const char *symbol_prefix,
                                   void **out_bytes, size_t *out_len) {
  if (!out_bytes || !out_len) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "gc_cpu_emit_object: NULL output");
  *out_bytes = NULL;
  *out_len = 0;
  if (!p) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "gc_cpu_emit_object: program is NULL");
  GC_TRY(gc_llvm_check_prefix(symbol_prefix));
  gc_cpu_options defaults;
  if (!o) {
    gc_cpu_options_init(&defaults);
    o = &defaults;
  }
  LLVMTargetMachineRef tm;
  GC_TRY(gc_llvm_target_machine(o, true, &tm));
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef mod;
  graphc_status_t st = gc_llvm_build(p, o, ctx, tm, symbol_prefix, &mod);
  if (!st) {
    char *msg = NULL;
    LLVMMemoryBufferRef buf = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &msg, &buf)) {
      st = gc_status(GRAPHC_STATUS_INTERNAL, "LLVM: writing the object: %s", msg ? msg : "unknown error");
    } else {
      size_t n = LLVMGetBufferSize(buf);
      void *bytes = malloc(n ? n : 1);
      if (bytes) {
        memcpy(bytes, LLVMGetBufferStart(buf), n);
        *out_bytes = bytes;
        *out_len = n;
      } else {
        st = GC_OOM();
      }
    }
    LLVMDisposeMessage(msg);
    if (buf) LLVMDisposeMemoryBuffer(buf);
    LLVMDisposeModule(mod);
  }
  LLVMContextDispose(ctx);
  LLVMDisposeTargetMachine(tm);
  return st;
}
