/* sin and cos as LLVM IR: argument reduction by pi/2, then polynomials.
 *
 * Below 2^28 the reduction is Cody-Waite in double with pi/2 in 24-bit
 * pieces (exact products). Larger finite arguments branch to an exact
 * out-of-line reduction: for f32, the float times each 24-bit piece of
 * 2/pi is exact in double and is reduced mod 4 exactly; for f64, the
 * pieces are picked by the exponent from a table (Payne-Hanek) and the
 * products of both halves of x summed in double-double. So that this
 * branch does not stop vectorisation, the out-of-line function declares
 * masked vector variants (`vector-function-abi-variant`) for 2 to 16
 * lanes: LoopVectorize calls the variant with the mask of the lanes that
 * need it, and since the variant is inlined after vectorisation, lanes
 * that all stay below 2^28 cost one test.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu/math_coefs.h"
#include "cpu/math_ir.h"

#define HUGE_ARG 0x1p28 /* arguments from here take the exact path */

/* sin(r) and cos(r) for |r| <= pi/4, picked and signed by the quadrant q
 * (cos adds one quarter turn). */
static LLVMValueRef from_quadrant(const mb *m, LLVMValueRef r, LLVMValueRef q, bool cos) {
  LLVMValueRef z = mul(m, r, r);
  LLVMValueRef sp = m->f32 ? poly(m, z, gc_poly_sin_f32, NCOEF(gc_poly_sin_f32))
                           : poly(m, z, gc_poly_sin_f64, NCOEF(gc_poly_sin_f64));
  LLVMValueRef cp = m->f32 ? poly(m, z, gc_poly_cos_f32, NCOEF(gc_poly_cos_f32))
                           : poly(m, z, gc_poly_cos_f64, NCOEF(gc_poly_cos_f64));
  LLVMValueRef s = fma3(m, mul(m, r, z), sp, r);
  LLVMValueRef c = fma3(m, mul(m, z, z), cp, fma3(m, z, K(m, -0.5), K(m, 1.0)));
  LLVMTypeRef i32 = m->L->i32;
  if (cos) q = LLVMBuildAdd(m->b, q, LLVMConstInt(i32, 1, 0), "");
  LLVMValueRef odd = LLVMBuildTrunc(m->b, q, m->L->i1, "");
  LLVMValueRef negate = LLVMBuildICmp(m->b, LLVMIntNE, LLVMBuildAnd(m->b, q, LLVMConstInt(i32, 2, 0), ""),
                                      LLVMConstInt(i32, 0, 0), "");
  LLVMValueRef v = sel(m, odd, c, s);
  return sel(m, negate, neg(m, v), v);
}

/* t - 4 rint(t/4), exact. Adding and removing 2^52 with the sign of t/4
 * rounds any |t/4| < 2^52 to an integer; beyond, t/4 is one. */
static LLVMValueRef mod4(const mb *m, LLVMValueRef t) {
  LLVMValueRef qt = mul(m, t, K(m, 0.25));
  LLVMValueRef c = copysign_(m, K(m, 0x1p52), qt);
  LLVMValueRef rq = sub(m, add(m, qt, c), c);
  rq = sel(m, fcmp(m, LLVMRealOGE, fabs_(m, qt), K(m, 0x1p52)), qt, rq);
  return fma3(m, rq, K(m, -4.0), t);
}

/* f32, exact for every float: r in [-pi/4, pi/4] (as f32) and the low
 * bits of the quadrant. */
static LLVMValueRef reduce_f32(const mb *m, LLVMValueRef x, LLVMValueRef *q) {
  const gc_llvm *L = m->L;
  mb d = {L, m->b, false, L->f64, L->i64};
  LLVMValueRef xd = LLVMBuildFPExt(m->b, x, L->f64, ""), s = K(&d, 0.0);
  for (int i = 0; i < 8; i++) { /* 8 pieces cover every float exponent */
    LLVMValueRef t = mul(&d, xd, K(&d, ldexp(gc_two_over_pi_24[i], -24 * (i + 1))));
    s = add(&d, s, mod4(&d, t));
    s = mod4(&d, s); /* |s| <= 2 */
  }
  LLVMValueRef tn;
  LLVMValueRef n = rint_small(&d, s, &tn);
  *q = LLVMBuildTrunc(m->b, bits(&d, tn), L->i32, "");
  LLVMValueRef r = mul(&d, sub(&d, s, n), K(&d, 0x1.921fb54442d18p+0));
  return LLVMBuildFPTrunc(m->b, r, L->f32, "");
}

/* --- f64 beyond 2^28 --------------------------------------------------------- */

/* The table of 2/pi pieces as a private constant of the module. */
static LLVMValueRef pieces_table(const gc_llvm *L) {
  LLVMValueRef g = LLVMGetNamedGlobal(L->mod, "gc.two_over_pi_24");
  if (g) return g;
  enum { N = NCOEF(gc_two_over_pi_24) };
  LLVMValueRef v[N];
  for (int i = 0; i < N; i++) v[i] = LLVMConstReal(L->f64, gc_two_over_pi_24[i]);
  LLVMValueRef init = LLVMConstArray2(L->f64, v, N);
  g = LLVMAddGlobal(L->mod, LLVMTypeOf(init), "gc.two_over_pi_24");
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  return g;
}

/* Exact reduction of |x| (2^28 <= |x| < inf), as scalar code: the pieces
 * of 2/pi below the ones that give multiples of 4 are picked by the
 * exponent; |x| in two halves times 8 pieces is 16 exact products, each
 * reduced mod 4 and summed in double-double. */
static LLVMValueRef reduce_huge(const mb *m, LLVMValueRef ax, LLVMValueRef *q) {
  const gc_llvm *L = m->L;
  LLVMValueRef e = LLVMBuildSub(m->b, LLVMBuildLShr(m->b, bits(m, ax), KI(m, 52), ""), KI(m, 1023), "");
  LLVMValueRef k0 = LLVMBuildSDiv(m->b, LLVMBuildSub(m->b, e, KI(m, 54), ""), KI(m, 24), "");
  k0 = LLVMBuildSelect(m->b, LLVMBuildICmp(m->b, LLVMIntSLT, k0, KI(m, 0), ""), KI(m, 0), k0, "");
  /* xb = |x| 2^(-24 k0) keeps the pieces from k0 on at unit scale */
  LLVMValueRef scale = LLVMBuildShl(m->b, LLVMBuildSub(m->b, KI(m, 1023), LLVMBuildMul(m->b, k0, KI(m, 24), ""), ""),
                                    KI(m, 52), "");
  LLVMValueRef xb = mul(m, ax, flt(m, scale));
  LLVMValueRef xh = flt(m, LLVMBuildAnd(m->b, bits(m, xb), KI(m, ~0x7ffffffLL), "")); /* 26 bits */
  LLVMValueRef xl = sub(m, xb, xh);                                                    /* 27 bits */
  LLVMValueRef table = pieces_table(L), sh = K(m, 0.0), sl = K(m, 0.0), halves[2] = {xh, xl};
  LLVMTypeRef tt = LLVMGlobalGetValueType(table);
  for (int i = 0; i < 8; i++) {
    LLVMValueRef idx[2] = {KI(m, 0), LLVMBuildAdd(m->b, k0, KI(m, i), "")};
    LLVMValueRef c = LLVMBuildLoad2(m->b, L->f64, LLVMBuildInBoundsGEP2(m->b, tt, table, idx, 2, ""), "");
    for (int h = 0; h < 2; h++) {
      LLVMValueRef err, t = mul(m, mul(m, halves[h], c), K(m, ldexp(1.0, -24 * (i + 1)))); /* exact */
      sh = two_sum(m, sh, mod4(m, t), &err);
      sl = add(m, sl, err);
      sh = mod4(m, sh);
    }
  }
  LLVMValueRef tn;
  LLVMValueRef n = rint_small(m, sh, &tn);
  *q = LLVMBuildTrunc(m->b, bits(m, tn), L->i32, "");
  LLVMValueRef f = sub(m, sh, n), fl, rl;
  f = two_sum(m, f, sl, &fl);
  LLVMValueRef r = two_prod(m, f, K(m, 0x1.921fb54442d18p+0), &rl); /* (f + fl) pi/2 */
  rl = add(m, rl, add(m, mul(m, f, K(m, 0x1.1a62633145c07p-54)), mul(m, fl, K(m, 0x1.921fb54442d18p+0))));
  return add(m, r, rl);
}

/* Masked vector variant `name`.m<vf> of the scalar `fn` (of type ft):
 * lanes in the mask get fn(lane), the others keep their input. Inlined
 * into the vector loop once vectorisation is done (target.c runs
 * always-inline after the pipeline), so the common all-clear mask costs a
 * test and a branch. */
static LLVMValueRef masked_variant(const gc_llvm *L, LLVMValueRef fn, LLVMTypeRef ft, const char *name, unsigned vf) {
  char full[80];
  snprintf(full, sizeof full, "%s.m%u", name, vf);
  LLVMTypeRef vt = LLVMVectorType(ft, vf), mt = LLVMVectorType(L->i1, vf), it = LLVMIntTypeInContext(L->ctx, vf);
  LLVMTypeRef params[2] = {vt, mt};
  LLVMValueRef v = LLVMAddFunction(L->mod, full, LLVMFunctionType(vt, params, 2, 0));
  LLVMSetLinkage(v, LLVMInternalLinkage);
  gc_llvm_fn_attr(L, v, "nounwind", 0);
  gc_llvm_fn_attr(L, v, "alwaysinline", 0);
  LLVMBuilderRef b = LLVMCreateBuilderInContext(L->ctx);
  LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(L->ctx, v, "entry");
  LLVMBasicBlockRef lane = LLVMAppendBasicBlockInContext(L->ctx, v, "lane");
  LLVMBasicBlockRef call = LLVMAppendBasicBlockInContext(L->ctx, v, "call");
  LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(L->ctx, v, "next");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(L->ctx, v, "done");
  LLVMValueRef x = LLVMGetParam(v, 0), mask = LLVMGetParam(v, 1);
  LLVMPositionBuilderAtEnd(b, entry);
  LLVMValueRef any = LLVMBuildICmp(b, LLVMIntNE, LLVMBuildBitCast(b, mask, it, ""), LLVMConstInt(it, 0, 0), "");
  LLVMBuildCondBr(b, any, lane, done);
  LLVMPositionBuilderAtEnd(b, lane);
  LLVMValueRef i = LLVMBuildPhi(b, L->i32, "i"), acc = LLVMBuildPhi(b, vt, "acc");
  LLVMBuildCondBr(b, LLVMBuildExtractElement(b, mask, i, ""), call, next);
  LLVMPositionBuilderAtEnd(b, call);
  LLVMValueRef xi = LLVMBuildExtractElement(b, x, i, "");
  LLVMValueRef ri = LLVMBuildCall2(b, LLVMGlobalGetValueType(fn), fn, &xi, 1, "");
  LLVMValueRef set = LLVMBuildInsertElement(b, acc, ri, i, "");
  LLVMBuildBr(b, next);
  LLVMPositionBuilderAtEnd(b, next);
  LLVMValueRef acc2 = LLVMBuildPhi(b, vt, "");
  LLVMAddIncoming(acc2, (LLVMValueRef[]){acc, set}, (LLVMBasicBlockRef[]){lane, call}, 2);
  LLVMValueRef i2 = LLVMBuildAdd(b, i, LLVMConstInt(L->i32, 1, 0), "");
  LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntULT, i2, LLVMConstInt(L->i32, vf, 0), ""), lane, done);
  LLVMAddIncoming(i, (LLVMValueRef[]){LLVMConstInt(L->i32, 0, 0), i2}, (LLVMBasicBlockRef[]){entry, next}, 2);
  LLVMAddIncoming(acc, (LLVMValueRef[]){x, acc2}, (LLVMBasicBlockRef[]){entry, next}, 2);
  LLVMPositionBuilderAtEnd(b, done);
  LLVMValueRef res = LLVMBuildPhi(b, vt, "");
  LLVMAddIncoming(res, (LLVMValueRef[]){x, acc2}, (LLVMBasicBlockRef[]){entry, next}, 2);
  LLVMBuildRet(b, res);
  LLVMDisposeBuilder(b);
  return v;
}

/* Keeps `fn` alive until code generation (llvm.compiler.used): the
 * vectoriser finds variants by name, after unused functions are gone. */
static void keep_alive(const gc_llvm *L, LLVMValueRef fn) {
  LLVMValueRef old = LLVMGetNamedGlobal(L->mod, "llvm.compiler.used"), elems[16];
  unsigned n = 0;
  if (old) {
    LLVMValueRef init = LLVMGetInitializer(old);
    n = (unsigned)LLVMGetNumOperands(init);
    for (unsigned i = 0; i < n && i < 15; i++) elems[i] = LLVMGetOperand(init, i);
    LLVMDeleteGlobal(old);
  }
  elems[n++] = fn;
  LLVMValueRef init = LLVMConstArray2(L->ptr, elems, n);
  LLVMValueRef g = LLVMAddGlobal(L->mod, LLVMTypeOf(init), "llvm.compiler.used");
  LLVMSetInitializer(g, init);
  LLVMSetLinkage(g, LLVMAppendingLinkage);
  LLVMSetSection(g, "llvm.metadata");
}

/* Name of the exact path: gc.<sin|cos>huge.<f32|f64>. */
static const char *huge_name(bool f32, bool cos) {
  static const char *const names[2][2] = {{"gc.sinhuge.f64", "gc.coshuge.f64"}, {"gc.sinhuge.f32", "gc.coshuge.f32"}};
  return names[f32][cos];
}

/* The exact path as a scalar function, never inlined (so the call stays a
 * call the vectoriser can map to a variant), with its variants. */
static LLVMValueRef huge_fn(const gc_llvm *L, bool f32, bool cos) {
  const char *name = huge_name(f32, cos);
  LLVMValueRef fn = LLVMGetNamedFunction(L->mod, name);
  if (fn) return fn;
  LLVMTypeRef ft = f32 ? L->f32 : L->f64;
  fn = LLVMAddFunction(L->mod, name, LLVMFunctionType(ft, &ft, 1, 0));
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  gc_llvm_fn_attr(L, fn, "noinline", 0);
  gc_llvm_fn_attr(L, fn, "nounwind", 0);
  gc_llvm_fn_attr(L, fn, "willreturn", 0);
  mb m = {L, LLVMCreateBuilderInContext(L->ctx), f32, ft, f32 ? L->i32 : L->i64};
  LLVMPositionBuilderAtEnd(m.b, LLVMAppendBasicBlockInContext(L->ctx, fn, "entry"));
  LLVMValueRef x = LLVMGetParam(fn, 0), q, r;
  if (f32) {
    r = reduce_f32(&m, x, &q);
  } else { /* reduces |x|: sin is odd, cos even */
    r = reduce_huge(&m, fabs_(&m, x), &q);
  }
  LLVMValueRef v = from_quadrant(&m, r, q, cos);
  if (!f32 && !cos) v = sel(&m, fcmp(&m, LLVMRealOLT, x, K(&m, 0.0)), neg(&m, v), v);
  LLVMBuildRet(m.b, v);
  LLVMDisposeBuilder(m.b);
  for (unsigned vf = 2; vf <= 16; vf *= 2) keep_alive(L, masked_variant(L, fn, ft, name, vf));
  return fn;
}

/* The call of the exact path, with the masked variants declared on it. */
static LLVMValueRef call_huge(const mb *m, LLVMValueRef x, bool cos) {
  LLVMValueRef c = call_fn(m, huge_fn(m->L, m->f32, cos), &x, 1);
  const char *name = huge_name(m->f32, cos);
  char variants[400];
  snprintf(variants, sizeof variants,
           "_ZGV_LLVM_M2v_%s(%s.m2),_ZGV_LLVM_M4v_%s(%s.m4),_ZGV_LLVM_M8v_%s(%s.m8),_ZGV_LLVM_M16v_%s(%s.m16)",
           name, name, name, name, name, name, name, name);
  const char *key = "vector-function-abi-variant";
  LLVMAddCallSiteAttribute(c, LLVMAttributeFunctionIndex,
                           LLVMCreateStringAttribute(m->L->ctx, key, (unsigned)strlen(key), variants,
                                                     (unsigned)strlen(variants)));
  return c;
}

/* --- the functions ------------------------------------------------------------ */

/* Below 2^28: Cody-Waite by pi/2 in 24-bit pieces (n times a piece is
 * exact), in double for f32 (three pieces) and f64 (five). */
static LLVMValueRef reduce_small(const mb *m, LLVMValueRef x, LLVMValueRef *q) {
  const gc_llvm *L = m->L;
  mb d = {L, m->b, false, L->f64, L->i64};
  LLVMValueRef xd = m->f32 ? LLVMBuildFPExt(m->b, x, L->f64, "") : x, tn;
  LLVMValueRef n = rint_small(&d, mul(&d, xd, K(&d, 0x1.45f306dc9c883p-1)), &tn);
  *q = LLVMBuildTrunc(m->b, bits(&d, tn), L->i32, "");
  LLVMValueRef r = xd;
  for (int i = 0; i < (m->f32 ? 3 : NCOEF(gc_pio2_24)); i++) r = fma3(&d, neg(&d, n), K(&d, gc_pio2_24[i]), r);
  return m->f32 ? LLVMBuildFPTrunc(m->b, r, L->f32, "") : r;
}

static LLVMValueRef sin_cos(const mb *m, LLVMValueRef x, bool cos) {
  LLVMValueRef q;
  LLVMValueRef r = reduce_small(m, x, &q);
  LLVMValueRef v = from_quadrant(m, r, q, cos);
  if (!cos) /* tiny |x|: sin x = x, keeping the sign of zero */
    v = sel(m, fcmp(m, LLVMRealOLT, fabs_(m, x), K(m, m->f32 ? 0x1p-12 : 0x1p-26)), x, v);
  /* finite |x| >= 2^28: the exact path, on a branch of its own */
  LLVMValueRef ax = fabs_(m, x);
  LLVMValueRef huge = LLVMBuildAnd(m->b, fcmp(m, LLVMRealOGE, ax, K(m, HUGE_ARG)),
                                   fcmp(m, LLVMRealOLT, ax, K(m, INFINITY)), "");
  LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(m->b));
  LLVMBasicBlockRef from = LLVMGetInsertBlock(m->b);
  LLVMBasicBlockRef slow = LLVMAppendBasicBlockInContext(m->L->ctx, fn, "huge");
  LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(m->L->ctx, fn, "join");
  LLVMBuildCondBr(m->b, huge, slow, join);
  LLVMPositionBuilderAtEnd(m->b, slow);
  LLVMValueRef hv = call_huge(m, x, cos);
  LLVMBuildBr(m->b, join);
  LLVMPositionBuilderAtEnd(m->b, join);
  LLVMValueRef phi = LLVMBuildPhi(m->b, m->ft, "");
  LLVMAddIncoming(phi, (LLVMValueRef[]){v, hv}, (LLVMBasicBlockRef[]){from, slow}, 2);
  return phi;
}

LLVMValueRef gc_math_sin_body(const mb *m, LLVMValueRef *a) { return sin_cos(m, a[0], false); }
LLVMValueRef gc_math_cos_body(const mb *m, LLVMValueRef *a) { return sin_cos(m, a[0], true); }
