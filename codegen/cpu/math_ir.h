/* Shared by the inline math files (emit_math.c, emit_trig.c): a builder
 * positioned inside one math function, and short names for the IR it
 * builds. Private to codegen/cpu. */
#ifndef GC_CPU_MATH_IR_H
#define GC_CPU_MATH_IR_H

#include "cpu/cpu_internal.h"

#define NCOEF(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef struct mb { /* builder state inside one math function */
  const gc_llvm *L;
  LLVMBuilderRef b;
  bool f32;
  LLVMTypeRef ft, it; /* the float type and the integer type of its width */
} mb;

static inline LLVMValueRef K(const mb *m, double v) { return LLVMConstReal(m->ft, v); }
static inline LLVMValueRef KI(const mb *m, long long v) { return LLVMConstInt(m->it, (unsigned long long)v, 1); }
static inline LLVMValueRef add(const mb *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(m->b, a, b, ""); }
static inline LLVMValueRef sub(const mb *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(m->b, a, b, ""); }
static inline LLVMValueRef mul(const mb *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(m->b, a, b, ""); }
static inline LLVMValueRef fdiv_(const mb *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFDiv(m->b, a, b, ""); }
static inline LLVMValueRef neg(const mb *m, LLVMValueRef a) { return LLVMBuildFNeg(m->b, a, ""); }
static inline LLVMValueRef sel(const mb *m, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(m->b, c, a, b, "");
}
static inline LLVMValueRef fcmp(const mb *m, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildFCmp(m->b, p, a, b, "");
}
static inline LLVMValueRef bits(const mb *m, LLVMValueRef f) { return LLVMBuildBitCast(m->b, f, m->it, ""); }
static inline LLVMValueRef flt(const mb *m, LLVMValueRef i) { return LLVMBuildBitCast(m->b, i, m->ft, ""); }

static inline LLVMValueRef intr1(const mb *m, const char *name, LLVMValueRef a) {
  LLVMTypeRef t = LLVMTypeOf(a);
  return gc_llvm_intrinsic(m->L, m->b, name, &t, 1, &a, 1);
}
static inline LLVMValueRef intr2(const mb *m, const char *name, LLVMValueRef a, LLVMValueRef b) {
  LLVMTypeRef t = LLVMTypeOf(a);
  LLVMValueRef args[2] = {a, b};
  return gc_llvm_intrinsic(m->L, m->b, name, &t, 1, args, 2);
}
/* a*b + c, fused where the target has FMA (never a libm call). */
static inline LLVMValueRef fma3(const mb *m, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  LLVMValueRef args[3] = {a, b, c};
  LLVMTypeRef t = LLVMTypeOf(a);
  return gc_llvm_intrinsic(m->L, m->b, "llvm.fmuladd", &t, 1, args, 3);
}
/* Horner: c[0] + x*(c[1] + x*(...)). */
static inline LLVMValueRef poly(const mb *m, LLVMValueRef x, const double *c, int n) {
  LLVMValueRef p = K(m, c[n - 1]);
  for (int i = n - 2; i >= 0; i--) p = fma3(m, p, x, K(m, c[i]));
  return p;
}
static inline LLVMValueRef fabs_(const mb *m, LLVMValueRef x) { return intr1(m, "llvm.fabs", x); }
static inline LLVMValueRef copysign_(const mb *m, LLVMValueRef mag, LLVMValueRef sgn) {
  return intr2(m, "llvm.copysign", mag, sgn);
}
/* Nearest integer (ties to even) of |v| < 2^51, as a float value. */
static inline LLVMValueRef rint_small(const mb *m, LLVMValueRef v, LLVMValueRef *magic_sum) {
  LLVMValueRef magic = K(m, m->f32 ? 0x1.8p23 : 0x1.8p52);
  LLVMValueRef t = add(m, v, magic);
  if (magic_sum) *magic_sum = t;
  return sub(m, t, magic);
}

typedef LLVMValueRef (*math_body)(const mb *m, LLVMValueRef *args);

static inline LLVMValueRef call_fn(const mb *m, LLVMValueRef fn, LLVMValueRef *args, int n) {
  return LLVMBuildCall2(m->b, LLVMGlobalGetValueType(fn), fn, args, (unsigned)n, "");
}

/* The module's internal always-inline function gc.<name>.<f32|f64> of
 * `nargs` operands, built by `body` on first use. */
LLVMValueRef gc_math_fn(const gc_llvm *L, const char *name, bool f32, int nargs, math_body body);

/* Error-free transformations (no FMA needed): a*b = p + e, a+b = s + e. */
static inline void split(const mb *m, LLVMValueRef a, LLVMValueRef *hi, LLVMValueRef *lo) {
  LLVMValueRef c = mul(m, a, K(m, 134217729.0)); /* 2^27 + 1 */
  *hi = sub(m, c, sub(m, c, a));
  *lo = sub(m, a, *hi);
}
static inline LLVMValueRef two_prod(const mb *m, LLVMValueRef a, LLVMValueRef b, LLVMValueRef *e) {
  LLVMValueRef ah, al, bh, bl, p = mul(m, a, b);
  split(m, a, &ah, &al);
  split(m, b, &bh, &bl);
  *e = add(m, add(m, add(m, sub(m, mul(m, ah, bh), p), mul(m, ah, bl)), mul(m, al, bh)), mul(m, al, bl));
  return p;
}
static inline LLVMValueRef two_sum(const mb *m, LLVMValueRef a, LLVMValueRef b, LLVMValueRef *e) {
  LLVMValueRef s = add(m, a, b), bb = sub(m, s, a);
  *e = add(m, sub(m, a, sub(m, s, bb)), sub(m, b, bb));
  return s;
}

/* Bodies defined in emit_trig.c. */
LLVMValueRef gc_math_sin_body(const mb *m, LLVMValueRef *a);
LLVMValueRef gc_math_cos_body(const mb *m, LLVMValueRef *a);

#endif
