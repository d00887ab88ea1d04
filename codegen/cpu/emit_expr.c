/* Scalar operations of the kernel IR as LLVM instructions: the operator
 * table, type conversions (f16/bf16 rounding done in integer operations,
 * so it vectorises on any x86), reduction steps, and the small IR helpers
 * the emitters share. */
#include <math.h>
#include <string.h>

#include "cpu/cpu_internal.h"
#include "support/status.h"

void gc_llvm_setup(gc_llvm *L, LLVMContextRef ctx, LLVMModuleRef mod) {
  L->ctx = ctx;
  L->mod = mod;
  L->f32 = LLVMFloatTypeInContext(ctx);
  L->f64 = LLVMDoubleTypeInContext(ctx);
  L->i1 = LLVMInt1TypeInContext(ctx);
  L->i8 = LLVMInt8TypeInContext(ctx);
  L->i16 = LLVMInt16TypeInContext(ctx);
  L->i32 = LLVMInt32TypeInContext(ctx);
  L->i64 = LLVMInt64TypeInContext(ctx);
  L->ptr = LLVMPointerTypeInContext(ctx, 0);
  L->void_t = LLVMVoidTypeInContext(ctx);
}

LLVMTypeRef gc_llvm_type(const gc_llvm *L, kir_type t) {
  switch (t) {
    case KIR_F32: return L->f32;
    case KIR_F64: return L->f64;
    case KIR_I64: return L->i64;
    case KIR_BOOL: return L->i1;
  }
  return L->i64;
}

LLVMValueRef gc_llvm_intrinsic(const gc_llvm *L, LLVMBuilderRef b, const char *name,
                               LLVMTypeRef *tys, int ntys, LLVMValueRef *args, int nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(L->mod, id, tys, (size_t)ntys);
  LLVMTypeRef fty = LLVMIntrinsicGetType(L->ctx, id, tys, (size_t)ntys);
  return LLVMBuildCall2(b, fty, fn, args, (unsigned)nargs, "");
}

void gc_llvm_fn_attr(const gc_llvm *L, LLVMValueRef fn, const char *name, uint64_t v) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(L->ctx, kind, v));
}

const char *gc_kir_type_name(kir_type t) {
  static const char *const n[] = {"f32", "f64", "i64", "bool"};
  return (unsigned)t < 4 ? n[t] : "?";
}

static bool is_float(kir_type t) { return t == KIR_F32 || t == KIR_F64; }

/* --- checks ------------------------------------------------------------------- */

static const char *const unary_names[] = {"neg", "abs", "exp", "log", "sqrt", "rsqrt", "tanh",
                                          "sigmoid", "erf", "sin", "cos", "not", "floor"};
static const char *const binary_names[] = {"add", "sub", "mul", "div", "pow", "max", "min",
                                           "and", "or", "floordiv", "mod", "xor", "shl", "shr"};

static bool unary_ok(kir_unary_op op, kir_type t) {
  switch (op) {
    case KU_NEG: return t != KIR_BOOL;
    case KU_ABS: case KU_FLOOR: return true;
    case KU_NOT: return t == KIR_BOOL || t == KIR_I64;
    default: return is_float(t); /* exp .. cos */
  }
}

static bool binary_ok(kir_binary_op op, kir_type t) {
  switch (op) {
    case KB_ADD: case KB_MUL: case KB_MAX: case KB_MIN: return true;
    case KB_SUB: case KB_DIV: case KB_POW: return t != KIR_BOOL;
    case KB_AND: case KB_OR: case KB_XOR: return t == KIR_BOOL || t == KIR_I64;
    case KB_FLOORDIV: case KB_MOD: case KB_SHL: case KB_SHR: return t == KIR_I64;
  }
  return false;
}

graphc_status_t gc_expr_check(const kir_kernel *k, int e) {
  const kir_expr *x = &k->exprs[e];
  if ((unsigned)x->type > KIR_BOOL)
    return gc_status(GRAPHC_STATUS_INTERNAL, "kernel '%s' expression %d: bad type %d", k->name, e, x->type);
  kir_type at = x->kind == KX_UNARY || x->kind == KX_BINARY || x->kind == KX_CMP ? k->exprs[x->a].type : x->type;
  switch (x->kind) {
    case KX_OUTER: case KX_INNER: case KX_SIZE:
      if (x->type != KIR_I64) break;
      return NULL;
    case KX_UNARY:
      if ((unsigned)x->op >= sizeof unary_names / sizeof *unary_names) break;
      if (at != x->type || !unary_ok((kir_unary_op)x->op, at))
        return gc_status(GRAPHC_STATUS_INTERNAL, "kernel '%s' expression %d: %s of %s giving %s is not supported",
                         k->name, e, unary_names[x->op], gc_kir_type_name(at), gc_kir_type_name(x->type));
      return NULL;
    case KX_BINARY:
      if ((unsigned)x->op >= sizeof binary_names / sizeof *binary_names) break;
      if (at != x->type || !binary_ok((kir_binary_op)x->op, at))
        return gc_status(GRAPHC_STATUS_INTERNAL, "kernel '%s' expression %d: %s of %s giving %s is not supported",
                         k->name, e, binary_names[x->op], gc_kir_type_name(at), gc_kir_type_name(x->type));
      return NULL;
    case KX_CMP:
      if ((unsigned)x->op > KC_GE || x->type != KIR_BOOL) break;
      return NULL;
    case KX_SELECT:
      if (k->exprs[x->b].type != x->type || k->exprs[x->c].type != x->type) break;
      return NULL;
    case KX_CAST:
      if (x->dtype != (graphc_dtype_t)-1 && (unsigned)x->dtype >= GRAPHC_DTYPE_COUNT) break;
      return NULL;
    case KX_CONST: case KX_ACC: case KX_LOAD:
      return NULL;
  }
  return gc_status(GRAPHC_STATUS_INTERNAL, "kernel '%s' expression %d: malformed (kind %d, op %d, type %s)",
                   k->name, e, x->kind, x->op, gc_kir_type_name(x->type));
}

/* --- conversions ---------------------------------------------------------------- */

LLVMValueRef gc_emit_cast(const gc_llvm *L, LLVMBuilderRef b, LLVMValueRef v, kir_type from, kir_type to) {
  if (from == to) return v;
  LLVMTypeRef tt = gc_llvm_type(L, to);
  if (to == KIR_BOOL) { /* != 0; NaN is true as in C */
    if (is_float(from)) return LLVMBuildFCmp(b, LLVMRealUNE, v, LLVMConstReal(LLVMTypeOf(v), 0.0), "");
    return LLVMBuildICmp(b, LLVMIntNE, v, LLVMConstInt(LLVMTypeOf(v), 0, 0), "");
  }
  if (from == KIR_BOOL) return is_float(to) ? LLVMBuildUIToFP(b, v, tt, "") : LLVMBuildZExt(b, v, tt, "");
  if (is_float(from) && is_float(to))
    return to == KIR_F64 ? LLVMBuildFPExt(b, v, tt, "") : LLVMBuildFPTrunc(b, v, tt, "");
  if (from == KIR_I64) return LLVMBuildSIToFP(b, v, tt, "");
  /* float -> i64 truncates; saturating so NaN and overflow are defined */
  LLVMTypeRef tys[2] = {L->i64, LLVMTypeOf(v)};
  return gc_llvm_intrinsic(L, b, "llvm.fptosi.sat", tys, 2, &v, 1);
}

LLVMTypeRef gc_storage_type(const gc_llvm *L, graphc_dtype_t dt) {
  switch (dt) {
    case GRAPHC_F32: return L->f32;
    case GRAPHC_F64: return L->f64;
    case GRAPHC_F16: case GRAPHC_BF16: return L->i16;
    case GRAPHC_I32: return L->i32;
    case GRAPHC_I64: return L->i64;
    default: return L->i8; /* bool */
  }
}

/* The expression type a storage dtype converts through. */
static kir_type natural(graphc_dtype_t dt) {
  switch (dt) {
    case GRAPHC_F64: return KIR_F64;
    case GRAPHC_F32: case GRAPHC_F16: case GRAPHC_BF16: return KIR_F32;
    case GRAPHC_I32: case GRAPHC_I64: return KIR_I64;
    default: return KIR_BOOL;
  }
}

static LLVMValueRef i32c(const gc_llvm *L, long long v) { return LLVMConstInt(L->i32, (unsigned long long)v, 1); }
static LLVMValueRef sel(LLVMBuilderRef b, LLVMValueRef c, LLVMValueRef x, LLVMValueRef y) {
  return LLVMBuildSelect(b, c, x, y, "");
}

/* f32 -> f16 bits, round to nearest even: NaN stays a (quiet) NaN, 65520
 * and above become inf, subnormals round through a float add. */
static LLVMValueRef f32_to_f16(const gc_llvm *L, LLVMBuilderRef b, LLVMValueRef f) {
  LLVMValueRef u = LLVMBuildBitCast(b, f, L->i32, "");
  LLVMValueRef sign = LLVMBuildAnd(b, LLVMBuildLShr(b, u, i32c(L, 16), ""), i32c(L, 0x8000), "");
  LLVMValueRef a = LLVMBuildAnd(b, u, i32c(L, 0x7fffffff), "");
  /* subnormal or zero: a + 0.5f puts the 10 mantissa bits at the bottom */
  LLVMValueRef half = LLVMBuildFAdd(b, LLVMBuildBitCast(b, a, L->f32, ""), LLVMConstReal(L->f32, 0.5), "");
  LLVMValueRef sub = LLVMBuildSub(b, LLVMBuildBitCast(b, half, L->i32, ""), i32c(L, 0x3f000000), "");
  /* normal: rebias the exponent by -112 and round at bit 13 */
  LLVMValueRef odd = LLVMBuildAnd(b, LLVMBuildLShr(b, a, i32c(L, 13), ""), i32c(L, 1), "");
  LLVMValueRef norm = LLVMBuildAdd(b, LLVMBuildAdd(b, a, i32c(L, (long long)0xc8000fffu - 0x100000000LL), ""), odd, "");
  norm = LLVMBuildLShr(b, norm, i32c(L, 13), "");
  LLVMValueRef r = sel(b, LLVMBuildICmp(b, LLVMIntULT, a, i32c(L, 0x38800000), ""), sub, norm);
  r = sel(b, LLVMBuildICmp(b, LLVMIntUGE, a, i32c(L, 0x477ff000), ""), i32c(L, 0x7c00), r);
  r = sel(b, LLVMBuildICmp(b, LLVMIntUGT, a, i32c(L, 0x7f800000), ""), i32c(L, 0x7e00), r);
  return LLVMBuildTrunc(b, LLVMBuildOr(b, r, sign, ""), L->i16, "");
}

/* f16 bits -> f32: shift into place and scale by 2^112 (exact, and turns
 * f16 subnormals into f32 normals); inf/NaN keep an all-ones exponent. */
static LLVMValueRef f16_to_f32(const gc_llvm *L, LLVMBuilderRef b, LLVMValueRef h) {
  LLVMValueRef u = LLVMBuildZExt(b, h, L->i32, "");
  LLVMValueRef sign = LLVMBuildShl(b, LLVMBuildAnd(b, u, i32c(L, 0x8000), ""), i32c(L, 16), "");
  LLVMValueRef em = LLVMBuildShl(b, LLVMBuildAnd(b, u, i32c(L, 0x7fff), ""), i32c(L, 13), "");
  LLVMValueRef scaled = LLVMBuildFMul(b, LLVMBuildBitCast(b, em, L->f32, ""), LLVMConstReal(L->f32, 0x1p112), "");
  LLVMValueRef special = LLVMBuildOr(b, em, i32c(L, 0x7f800000), "");
  LLVMValueRef is_special = LLVMBuildICmp(b, LLVMIntUGE, em, i32c(L, 0x0f800000), "");
  LLVMValueRef r = sel(b, is_special, special, LLVMBuildBitCast(b, scaled, L->i32, ""));
  return LLVMBuildBitCast(b, LLVMBuildOr(b, r, sign, ""), L->f32, "");
}

/* f32 -> bf16 bits, round to nearest even; NaN stays a quiet NaN. */
static LLVMValueRef f32_to_bf16(const gc_llvm *L, LLVMBuilderRef b, LLVMValueRef f) {
  LLVMValueRef u = LLVMBuildBitCast(b, f, L->i32, "");
  LLVMValueRef hi = LLVMBuildLShr(b, u, i32c(L, 16), "");
  LLVMValueRef bias = LLVMBuildAdd(b, i32c(L, 0x7fff), LLVMBuildAnd(b, hi, i32c(L, 1), ""), "");
  LLVMValueRef r = LLVMBuildLShr(b, LLVMBuildAdd(b, u, bias, ""), i32c(L, 16), "");
  LLVMValueRef nan = LLVMBuildICmp(b, LLVMIntUGT, LLVMBuildAnd(b, u, i32c(L, 0x7fffffff), ""), i32c(L, 0x7f800000), "");
  r = sel(b, nan, LLVMBuildOr(b, hi, i32c(L, 0x40), ""), r);
  return LLVMBuildTrunc(b, r, L->i16, "");
}

LLVMValueRef gc_emit_to_storage(const gc_llvm *L, LLVMBuilderRef b, LLVMValueRef v, kir_type from,
                                graphc_dtype_t dt) {
  v = gc_emit_cast(L, b, v, from, natural(dt));
  switch (dt) {
    case GRAPHC_F16: return f32_to_f16(L, b, v);
    case GRAPHC_BF16: return f32_to_bf16(L, b, v);
    case GRAPHC_I32: return LLVMBuildTrunc(b, v, L->i32, "");
    case GRAPHC_BOOL: return LLVMBuildZExt(b, v, L->i8, "");
    default: return v;
  }
}

LLVMValueRef gc_emit_from_storage(const gc_llvm *L, LLVMBuilderRef b, LLVMValueRef s, graphc_dtype_t dt,
                                  kir_type to) {
  switch (dt) {
    case GRAPHC_F16: s = f16_to_f32(L, b, s); break;
    case GRAPHC_BF16:
      s = LLVMBuildBitCast(b, LLVMBuildShl(b, LLVMBuildZExt(b, s, L->i32, ""), i32c(L, 16), ""), L->f32, "");
      break;
    case GRAPHC_I32: s = LLVMBuildSExt(b, s, L->i64, ""); break;
    case GRAPHC_BOOL: s = LLVMBuildICmp(b, LLVMIntNE, s, LLVMConstInt(L->i8, 0, 0), ""); break;
    default: break;
  }
  return gc_emit_cast(L, b, s, natural(dt), to);
}

/* --- operators -------------------------------------------------------------------- */

static LLVMValueRef intr(const gc_llvm *L, LLVMBuilderRef b, const char *name, LLVMValueRef a, LLVMValueRef c) {
  LLVMTypeRef t = LLVMTypeOf(a);
  LLVMValueRef args[2] = {a, c};
  return gc_llvm_intrinsic(L, b, name, &t, 1, args, c ? 2 : 1);
}

static LLVMValueRef unary(const gc_llvm *L, LLVMBuilderRef b, kir_unary_op op, kir_type t, LLVMValueRef a) {
  LLVMTypeRef ty = gc_llvm_type(L, t);
  switch (op) {
    case KU_NEG: return is_float(t) ? LLVMBuildFNeg(b, a, "") : LLVMBuildNeg(b, a, "");
    case KU_ABS:
      if (is_float(t)) return intr(L, b, "llvm.fabs", a, NULL);
      if (t == KIR_BOOL) return a;
      return intr(L, b, "llvm.abs", a, LLVMConstInt(L->i1, 0, 0));
    case KU_SQRT: return intr(L, b, "llvm.sqrt", a, NULL);
    case KU_RSQRT: return LLVMBuildFDiv(b, LLVMConstReal(ty, 1.0), intr(L, b, "llvm.sqrt", a, NULL), "");
    case KU_NOT: return LLVMBuildNot(b, a, "");
    case KU_FLOOR: return is_float(t) ? intr(L, b, "llvm.floor", a, NULL) : a;
    default: return gc_math_unary(L, b, op, t, a);
  }
}

/* Integer division guarded so that neither x/0 nor INT64_MIN/-1 traps:
 * x/0 gives 0, x/-1 gives -x (wrapping). Python floor semantics when
 * `floor`; `mod` returns the remainder instead. */
static LLVMValueRef idiv(const gc_llvm *L, LLVMBuilderRef b, LLVMValueRef x, LLVMValueRef y, bool floor, bool mod) {
  LLVMValueRef zero = LLVMConstInt(L->i64, 0, 0), one = LLVMConstInt(L->i64, 1, 0);
  LLVMValueRef m1 = LLVMConstInt(L->i64, (unsigned long long)-1, 1);
  LLVMValueRef y0 = LLVMBuildICmp(b, LLVMIntEQ, y, zero, ""), ym1 = LLVMBuildICmp(b, LLVMIntEQ, y, m1, "");
  LLVMValueRef ys = sel(b, LLVMBuildOr(b, y0, ym1, ""), one, y);
  LLVMValueRef q = LLVMBuildSDiv(b, x, ys, ""), r = LLVMBuildSRem(b, x, ys, "");
  if (floor || mod) { /* step toward -inf when the remainder's sign differs from y's */
    LLVMValueRef adj = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntNE, r, zero, ""),
                                    LLVMBuildICmp(b, LLVMIntSLT, LLVMBuildXor(b, r, ys, ""), zero, ""), "");
    q = sel(b, adj, LLVMBuildSub(b, q, one, ""), q);
    r = sel(b, adj, LLVMBuildAdd(b, r, ys, ""), r);
  }
  if (mod) return sel(b, LLVMBuildOr(b, y0, ym1, ""), zero, r);
  return sel(b, y0, zero, sel(b, ym1, LLVMBuildNeg(b, x, ""), q));
}

static LLVMValueRef binary(const gc_llvm *L, LLVMBuilderRef b, kir_binary_op op, kir_type t, LLVMValueRef x,
                           LLVMValueRef y) {
  bool f = is_float(t), bl = t == KIR_BOOL;
  switch (op) {
    case KB_ADD: return f ? LLVMBuildFAdd(b, x, y, "") : bl ? LLVMBuildOr(b, x, y, "") : LLVMBuildAdd(b, x, y, "");
    case KB_SUB: return f ? LLVMBuildFSub(b, x, y, "") : LLVMBuildSub(b, x, y, "");
    case KB_MUL: return f ? LLVMBuildFMul(b, x, y, "") : bl ? LLVMBuildAnd(b, x, y, "") : LLVMBuildMul(b, x, y, "");
    case KB_DIV: return f ? LLVMBuildFDiv(b, x, y, "") : idiv(L, b, x, y, false, false);
    case KB_POW: return gc_math_pow(L, b, t, x, y);
    case KB_MAX: case KB_MIN: {
      if (bl) return op == KB_MAX ? LLVMBuildOr(b, x, y, "") : LLVMBuildAnd(b, x, y, "");
      if (!f) return intr(L, b, op == KB_MAX ? "llvm.smax" : "llvm.smin", x, y);
      /* NaN in either operand gives NaN: x wins when it beats y or is NaN */
      LLVMValueRef beats = LLVMBuildFCmp(b, op == KB_MAX ? LLVMRealOGT : LLVMRealOLT, x, y, "");
      LLVMValueRef xnan = LLVMBuildFCmp(b, LLVMRealUNO, x, x, "");
      return sel(b, LLVMBuildOr(b, beats, xnan, ""), x, y);
    }
    case KB_AND: return LLVMBuildAnd(b, x, y, "");
    case KB_OR: return LLVMBuildOr(b, x, y, "");
    case KB_FLOORDIV: return idiv(L, b, x, y, true, false);
    case KB_MOD: return idiv(L, b, x, y, false, true);
    case KB_XOR: return LLVMBuildXor(b, x, y, "");
    case KB_SHL: case KB_SHR: { /* counts are 0..63; masked so others are not poison */
      LLVMValueRef n = LLVMBuildAnd(b, y, LLVMConstInt(L->i64, 63, 0), "");
      return op == KB_SHL ? LLVMBuildShl(b, x, n, "") : LLVMBuildLShr(b, x, n, "");
    }
  }
  return NULL;
}

static LLVMValueRef compare(LLVMBuilderRef b, kir_cmp_op op, kir_type t, LLVMValueRef x, LLVMValueRef y) {
  static const LLVMRealPredicate fp[] = {LLVMRealOEQ, LLVMRealUNE, LLVMRealOLT,
                                         LLVMRealOLE, LLVMRealOGT, LLVMRealOGE};
  static const LLVMIntPredicate sp[] = {LLVMIntEQ, LLVMIntNE, LLVMIntSLT, LLVMIntSLE, LLVMIntSGT, LLVMIntSGE};
  static const LLVMIntPredicate up[] = {LLVMIntEQ, LLVMIntNE, LLVMIntULT, LLVMIntULE, LLVMIntUGT, LLVMIntUGE};
  if (is_float(t)) return LLVMBuildFCmp(b, fp[op], x, y, "");
  return LLVMBuildICmp(b, t == KIR_BOOL ? up[op] : sp[op], x, y, "");
}

LLVMValueRef gc_emit_op(const gc_llvm *L, LLVMBuilderRef b, const kir_kernel *k, const kir_expr *x,
                        LLVMValueRef *ops) {
  switch (x->kind) {
    case KX_CONST:
      if (is_float(x->type)) return LLVMConstReal(gc_llvm_type(L, x->type), x->f);
      return LLVMConstInt(gc_llvm_type(L, x->type), (unsigned long long)(x->type == KIR_BOOL ? x->i != 0 : x->i), 1);
    case KX_UNARY: return unary(L, b, (kir_unary_op)x->op, x->type, ops[0]);
    case KX_BINARY: return binary(L, b, (kir_binary_op)x->op, x->type, ops[0], ops[1]);
    case KX_CMP: return compare(b, (kir_cmp_op)x->op, k->exprs[x->a].type, ops[0], ops[1]);
    case KX_SELECT: return sel(b, ops[0], ops[1], ops[2]);
    case KX_CAST: {
      LLVMValueRef v = gc_emit_cast(L, b, ops[0], k->exprs[x->a].type, x->type);
      if (x->dtype == (graphc_dtype_t)-1) return v;
      return gc_emit_from_storage(L, b, gc_emit_to_storage(L, b, v, x->type, x->dtype), x->dtype, x->type);
    }
    default: return NULL; /* contextual kinds: emit.c */
  }
}

/* --- reductions ------------------------------------------------------------------- */

LLVMValueRef gc_emit_combine_init(const gc_llvm *L, kir_combine c, kir_type t) {
  LLVMTypeRef ty = gc_llvm_type(L, t);
  if (is_float(t)) return LLVMConstReal(ty, c == KIR_SUM ? 0.0 : c == KIR_MAX ? -INFINITY : INFINITY);
  if (t == KIR_BOOL) return LLVMConstInt(ty, c == KIR_MIN, 0);
  if (c == KIR_SUM) return LLVMConstInt(ty, 0, 0);
  return LLVMConstInt(ty, c == KIR_MAX ? (unsigned long long)INT64_MIN : (unsigned long long)INT64_MAX, 1);
}

LLVMValueRef gc_emit_combine(const gc_llvm *L, LLVMBuilderRef b, kir_combine c, kir_type t, LLVMValueRef acc,
                             LLVMValueRef v) {
  if (t == KIR_BOOL) return c == KIR_MIN ? LLVMBuildAnd(b, acc, v, "") : LLVMBuildOr(b, acc, v, "");
  if (c == KIR_SUM) {
    if (!is_float(t)) return LLVMBuildAdd(b, acc, v, "");
    LLVMValueRef s = LLVMBuildFAdd(b, acc, v, "");
    LLVMSetFastMathFlags(s, LLVMFastMathAllowReassoc); /* lets the loop vectorise */
    return s;
  }
  if (is_float(t)) /* llvm.maximum/minimum propagate NaN and vectorise as reductions */
    return intr(L, b, c == KIR_MAX ? "llvm.maximum" : "llvm.minimum", acc, v);
  return intr(L, b, c == KIR_MAX ? "llvm.smax" : "llvm.smin", acc, v);
}
