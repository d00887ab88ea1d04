/* Private interfaces of the LLVM CPU backend (codegen/cpu). */
#ifndef GC_CPU_INTERNAL_H
#define GC_CPU_INTERNAL_H

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/TargetMachine.h>

#include "cpu/cpu_backend.h"

/* --- target.c: LLVM setup, target machines, the build pipeline ----------- */

/* Registers the native target once per process (idempotent, thread safe). */
graphc_status_t gc_llvm_init(void);
/* A status carrying LLVM's message for `err` (consumed), prefixed by what. */
graphc_status_t gc_llvm_error(LLVMErrorRef err, const char *what);
/* A target machine for the host triple and the CPU/features `o` selects.
 * `pic` for objects that may go into a shared library. */
graphc_status_t gc_llvm_target_machine(const gc_cpu_options *o, bool pic, LLVMTargetMachineRef *out);
/* Checks that `prefix` is a C identifier (symbol names derive from it). */
graphc_status_t gc_llvm_check_prefix(const char *prefix);
/* Verifies `p`, emits kernel i as "<prefix>_k<i>" into a new module of
 * `ctx`, verifies it and runs the optimisation pipeline for `tm`. */
graphc_status_t gc_llvm_build(const kir_program *p, const gc_cpu_options *o, LLVMContextRef ctx,
                              LLVMTargetMachineRef tm, const char *prefix, LLVMModuleRef *out);

/* --- the module being built ------------------------------------------------ */

typedef struct gc_llvm {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMTypeRef f32, f64, i1, i8, i16, i32, i64, ptr, void_t;
} gc_llvm;

void gc_llvm_setup(gc_llvm *L, LLVMContextRef ctx, LLVMModuleRef mod);
LLVMTypeRef gc_llvm_type(const gc_llvm *L, kir_type t);
/* Calls intrinsic `name` overloaded on `tys`. */
LLVMValueRef gc_llvm_intrinsic(const gc_llvm *L, LLVMBuilderRef b, const char *name,
                               LLVMTypeRef *tys, int ntys, LLVMValueRef *args, int nargs);
/* Adds attribute `name` (enum kind, value `v`) to function `fn`. */
void gc_llvm_fn_attr(const gc_llvm *L, LLVMValueRef fn, const char *name, uint64_t v);

/* --- emit_math.c: transcendental functions as inline IR ------------------ */

/* exp log tanh sigmoid erf sin cos of a float operand (F32 or F64), or
 * NULL for another op. Each is an internal always-inline function of the
 * module built from polynomials and bit manipulation only, so loops that
 * use them vectorise. */
LLVMValueRef gc_math_unary(const gc_llvm *L, LLVMBuilderRef b, kir_unary_op op, kir_type t,
                           LLVMValueRef x);
/* x ** y for floats (C99 pow special cases), and integer power (negative
 * exponents give 0 except for bases 1 and -1; overflow wraps). */
LLVMValueRef gc_math_pow(const gc_llvm *L, LLVMBuilderRef b, kir_type t, LLVMValueRef x,
                         LLVMValueRef y);

/* --- emit_expr.c: scalar operations and conversions ----------------------- */

const char *gc_kir_type_name(kir_type t);
/* Checks that expression e of k is well-typed for code generation. */
graphc_status_t gc_expr_check(const kir_kernel *k, int e);
LLVMValueRef gc_emit_cast(const gc_llvm *L, LLVMBuilderRef b, LLVMValueRef v, kir_type from,
                          kir_type to);
/* The in-memory type of a buffer element. */
LLVMTypeRef gc_storage_type(const gc_llvm *L, graphc_dtype_t dt);
/* Value of type `from` to a storage element of `dt` (rounding as a store
 * does) and back. */
LLVMValueRef gc_emit_to_storage(const gc_llvm *L, LLVMBuilderRef b, LLVMValueRef v, kir_type from,
                                graphc_dtype_t dt);
LLVMValueRef gc_emit_from_storage(const gc_llvm *L, LLVMBuilderRef b, LLVMValueRef s,
                                  graphc_dtype_t dt, kir_type to);
/* One expression node whose operands are already emitted (ops[0..2]).
 * The node must have passed gc_expr_check. */
LLVMValueRef gc_emit_op(const gc_llvm *L, LLVMBuilderRef b, const kir_kernel *k, const kir_expr *x,
                        LLVMValueRef *ops);
/* Reduction: identity element and combine step (float MAX/MIN propagate
 * NaN; SUM may be reassociated so the loop vectorises). */
LLVMValueRef gc_emit_combine_init(const gc_llvm *L, kir_combine c, kir_type t);
LLVMValueRef gc_emit_combine(const gc_llvm *L, LLVMBuilderRef b, kir_combine c, kir_type t,
                             LLVMValueRef acc, LLVMValueRef v);

/* --- emit.c: kernels --------------------------------------------------------- */

/* Adds kernel `ki` of `p` to L->mod as an external function `name`. */
graphc_status_t gc_emit_kernel(const gc_llvm *L, const kir_program *p, int ki, const char *name);

#endif
