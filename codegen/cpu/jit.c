/* In-process JIT: one ORC LLJIT instance per compiled program, kept alive
 * (with the kernel entry points looked up once) until gc_cpu_jit_free. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include "cpu/cpu_internal.h"
#include "support/status.h"

struct gc_cpu_jit_module {
  LLVMOrcLLJITRef jit;
  int nkernels;
  gc_kernel_fn *fns;
  char *ir; /* optimised IR text when asked for */
};

#define JIT_PREFIX "gc_jit"

void gc_cpu_jit_free(gc_cpu_jit_module *m) {
  if (!m) return;
  if (m->jit) {
    LLVMErrorRef err = LLVMOrcDisposeLLJIT(m->jit);
    if (err) LLVMConsumeError(err); /* nothing useful to do while freeing */
  }
  free(m->fns);
  free(m->ir);
  free(m);
}

gc_kernel_fn gc_cpu_jit_kernel(const gc_cpu_jit_module *m, int kernel_index) {
  if (!m || kernel_index < 0 || kernel_index >= m->nkernels) return NULL;
  return m->fns[kernel_index];
}

int gc_cpu_jit_num_kernels(const gc_cpu_jit_module *m) { return m ? m->nkernels : 0; }

const char *gc_cpu_jit_llvm_ir(const gc_cpu_jit_module *m) { return m ? m->ir : NULL; }

/* A JIT for `tm`'s target (consumed; NULL: the host), resolving the few
 * C library symbols LLVM may call (memcpy, memset) from the process. */
static graphc_status_t new_jit(LLVMTargetMachineRef tm, gc_cpu_jit_module *m) {
  LLVMOrcLLJITBuilderRef jb = LLVMOrcCreateLLJITBuilder();
  if (tm) LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(jb, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
  LLVMErrorRef err = LLVMOrcCreateLLJIT(&m->jit, jb);
  if (err) {
    m->jit = NULL;
    return gc_llvm_error(err, "creating the JIT");
  }
  LLVMOrcDefinitionGeneratorRef gen;
  err = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(m->jit), NULL, NULL);
  if (err) return gc_llvm_error(err, "exposing process symbols to the JIT");
  LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(m->jit), gen);
  return NULL;
}

/* Looks up "<prefix>_k<i>" for every kernel (this is when code is made). */
static graphc_status_t lookup_all(gc_cpu_jit_module *m, const char *prefix) {
  m->fns = calloc((size_t)m->nkernels + 1, sizeof *m->fns);
  if (!m->fns) return GC_OOM();
  for (int i = 0; i < m->nkernels; i++) {
    char name[256];
    snprintf(name, sizeof name, "%s_k%d", prefix, i);
    LLVMOrcExecutorAddress addr = 0;
    LLVMErrorRef err = LLVMOrcLLJITLookup(m->jit, &addr, name);
    if (err) return gc_llvm_error(err, name);
    m->fns[i] = (gc_kernel_fn)(uintptr_t)addr;
  }
  return NULL;
}

static graphc_status_t finish(gc_cpu_jit_module *m, graphc_status_t st, gc_cpu_jit_module **out) {
  if (st) {
    gc_cpu_jit_free(m);
    return st;
  }
  *out = m;
  return NULL;
}

graphc_status_t gc_cpu_jit(const kir_program *p, const gc_cpu_options *o, gc_cpu_jit_module **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "gc_cpu_jit: out is NULL");
  *out = NULL;
  if (!p) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "gc_cpu_jit: program is NULL");
  gc_cpu_options defaults;
  if (!o) {
    gc_cpu_options_init(&defaults);
    o = &defaults;
  }
  LLVMTargetMachineRef tm;
  GC_TRY(gc_llvm_target_machine(o, true, &tm));
  gc_cpu_jit_module *m = calloc(1, sizeof *m);
  if (!m) {
    LLVMDisposeTargetMachine(tm);
    return GC_OOM();
  }
  m->nkernels = p->nkernels;
  LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
  LLVMModuleRef mod;
  graphc_status_t st = gc_llvm_build(p, o, LLVMOrcThreadSafeContextGetContext(tsc), tm, JIT_PREFIX, &mod);
  if (st) {
    LLVMDisposeTargetMachine(tm);
    LLVMOrcDisposeThreadSafeContext(tsc);
    return finish(m, st, out);
  }
  if (o->dump_llvm_ir) {
    char *text = LLVMPrintModuleToString(mod);
    m->ir = strdup(text ? text : "");
    LLVMDisposeMessage(text);
    if (!m->ir) st = GC_OOM();
  }
  if (!st) st = new_jit(tm, m); /* takes tm */
  else LLVMDisposeTargetMachine(tm);
  if (st) {
    LLVMDisposeModule(mod);
    LLVMOrcDisposeThreadSafeContext(tsc);
    return finish(m, st, out);
  }
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
  LLVMOrcDisposeThreadSafeContext(tsc); /* the module holds its own reference */
  LLVMErrorRef err = LLVMOrcLLJITAddLLVMIRModule(m->jit, LLVMOrcLLJITGetMainJITDylib(m->jit), tsm);
  if (err) return finish(m, gc_llvm_error(err, "adding the module to the JIT"), out);
  return finish(m, lookup_all(m, JIT_PREFIX), out);
}

graphc_status_t gc_cpu_jit_object(const void *bytes, size_t len, const char *symbol_prefix, int nkernels,
                                  gc_cpu_jit_module **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "gc_cpu_jit_object: out is NULL");
  *out = NULL;
  if (!bytes || !len) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "gc_cpu_jit_object: no object bytes");
  if (nkernels < 0) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "gc_cpu_jit_object: %d kernels", nkernels);
  GC_TRY(gc_llvm_check_prefix(symbol_prefix));
  GC_TRY(gc_llvm_init());
  gc_cpu_jit_module *m = calloc(1, sizeof *m);
  if (!m) return GC_OOM();
  m->nkernels = nkernels;
  graphc_status_t st = new_jit(NULL, m);
  if (st) return finish(m, st, out);
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(bytes, len, "graphc-object");
  LLVMErrorRef err = LLVMOrcLLJITAddObjectFile(m->jit, LLVMOrcLLJITGetMainJITDylib(m->jit), buf);
  if (err) return finish(m, gc_llvm_error(err, "adding the object to the JIT"), out);
  return finish(m, lookup_all(m, symbol_prefix), out);
}
