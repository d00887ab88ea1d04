/* Reference executor of kernel IR (see kir_eval.h). Written for clarity
 * and checking, not speed: expressions are evaluated recursively with a
 * per-iteration memo. */
#include "kernel/kir_eval.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/memplan.h"
#include "support/status.h"

typedef union kv {
  double f;
  int64_t i;
} kv;

typedef struct ev {
  const kir_program *p;
  void **data;
  const int64_t *sizes;
  /* kernel state */
  const kir_kernel *k;
  kv *vals;
  uint64_t *gen;
  uint64_t cur;
  int64_t oc[KIR_MAX_DIMS], ic[KIR_MAX_DIMS];
  kv *accs;
  graphc_status_t st;
} ev;

static graphc_status_t fail(ev *E, graphc_status_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static graphc_status_t fail(ev *E, graphc_status_code_t code, const char *fmt, ...) {
  if (E->st) return E->st;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  E->st = gc_status(code, "kir_eval: %s", msg);
  return E->st;
}

static int64_t numel_of(const ev *E, int buf) { return E->sizes[E->p->buffers[buf].numel]; }

/* ---- element access --------------------------------------------------------- */

static bool is_float_type(kir_type t) { return t == KIR_F32 || t == KIR_F64; }

static int64_t sat_i64(double v) {
  if (isnan(v)) return 0;
  if (v >= 9.2233720368547758e18) return INT64_MAX;
  if (v <= -9.2233720368547758e18) return INT64_MIN;
  return (int64_t)v;
}

static double round_dtype(double v, int dtype) {
  if (dtype == GRAPHC_F16) return gc_f16_to_f32(gc_f32_to_f16((float)v));
  if (dtype == GRAPHC_BF16) return gc_bf16_to_f32(gc_f32_to_bf16((float)v));
  return v;
}

/* Element i of a buffer as a value of type t. */
static kv load(const void *d, graphc_dtype_t dt, int64_t i, kir_type t) {
  double f = 0;
  int64_t n = 0;
  bool fl = true;
  switch (dt) {
    case GRAPHC_F32: f = ((const float *)d)[i]; break;
    case GRAPHC_F64: f = ((const double *)d)[i]; break;
    case GRAPHC_F16: f = gc_f16_to_f32(((const uint16_t *)d)[i]); break;
    case GRAPHC_BF16: f = gc_bf16_to_f32(((const uint16_t *)d)[i]); break;
    case GRAPHC_I32: n = ((const int32_t *)d)[i], fl = false; break;
    case GRAPHC_I64: n = ((const int64_t *)d)[i], fl = false; break;
    default: n = ((const uint8_t *)d)[i] != 0, fl = false; break;
  }
  kv r;
  if (t == KIR_F32) r.f = fl ? (double)(float)f : (double)(float)n;
  else if (t == KIR_F64) r.f = fl ? f : (double)n;
  else if (t == KIR_I64) r.i = fl ? sat_i64(f) : n;
  else r.i = fl ? f != 0.0 : n != 0;
  return r;
}

static void store(void *d, graphc_dtype_t dt, int64_t i, kv v, kir_type t) {
  bool fl = is_float_type(t);
  double f = fl ? v.f : (double)v.i;
  int64_t n = fl ? sat_i64(v.f) : v.i;
  switch (dt) {
    case GRAPHC_F32: ((float *)d)[i] = (float)f; break;
    case GRAPHC_F64: ((double *)d)[i] = f; break;
    case GRAPHC_F16: ((uint16_t *)d)[i] = gc_f32_to_f16((float)f); break;
    case GRAPHC_BF16: ((uint16_t *)d)[i] = gc_f32_to_bf16((float)f); break;
    case GRAPHC_I32: ((int32_t *)d)[i] = (int32_t)(uint32_t)(uint64_t)n; break;
    case GRAPHC_I64: ((int64_t *)d)[i] = n; break;
    default: ((uint8_t *)d)[i] = fl ? f != 0.0 : n != 0; break;
  }
}

/* ---- expressions --------------------------------------------------------------- */

static double fix(kir_type t, double v) { return t == KIR_F32 ? (double)(float)v : v; }

static double un_f(int op, double x, kir_type t) {
  bool s = t == KIR_F32;
  float xf = (float)x;
  switch (op) {
    case KU_NEG: return -x;
    case KU_ABS: return fabs(x);
    case KU_EXP: return s ? expf(xf) : exp(x);
    case KU_LOG: return s ? logf(xf) : log(x);
    case KU_SQRT: return s ? sqrtf(xf) : sqrt(x);
    case KU_RSQRT: return s ? 1.0f / sqrtf(xf) : 1.0 / sqrt(x);
    case KU_TANH: return s ? tanhf(xf) : tanh(x);
    case KU_SIGMOID:
      if (s) return xf >= 0 ? 1.0f / (1.0f + expf(-xf)) : expf(xf) / (1.0f + expf(xf));
      return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
    case KU_ERF: return s ? erff(xf) : erf(x);
    case KU_SIN: return s ? sinf(xf) : sin(x);
    case KU_COS: return s ? cosf(xf) : cos(x);
    case KU_FLOOR: return floor(x);
    default: return NAN;
  }
}

static int64_t powi(int64_t base, int64_t e) {
  if (e < 0) return base == 1 ? 1 : base == -1 ? ((e % 2) ? -1 : 1) : 0;
  uint64_t r = 1, b = (uint64_t)base;
  for (; e; e >>= 1, b *= b)
    if (e & 1) r *= b;
  return (int64_t)r;
}

static double bin_f(int op, double a, double b, kir_type t) {
  bool s = t == KIR_F32;
  float af = (float)a, bf = (float)b;
  switch (op) {
    case KB_ADD: return s ? af + bf : a + b;
    case KB_SUB: return s ? af - bf : a - b;
    case KB_MUL: return s ? af * bf : a * b;
    case KB_DIV: return s ? af / bf : a / b;
    case KB_POW: return s ? powf(af, bf) : pow(a, b);
    case KB_MAX: return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
    case KB_MIN: return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
    case KB_FLOORDIV: return floor(a / b);
    case KB_MOD: return a - floor(a / b) * b;
    default: return NAN;
  }
}

static bool bin_i(ev *E, int op, int64_t a, int64_t b, int64_t *r) {
  uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
  switch (op) {
    case KB_ADD: *r = (int64_t)(ua + ub); return true;
    case KB_SUB: *r = (int64_t)(ua - ub); return true;
    case KB_MUL: *r = (int64_t)(ua * ub); return true;
    case KB_POW: *r = powi(a, b); return true;
    case KB_MAX: *r = a > b ? a : b; return true;
    case KB_MIN: *r = a < b ? a : b; return true;
    case KB_AND: *r = a && b; return true;
    case KB_OR: *r = a || b; return true;
    case KB_XOR: *r = a ^ b; return true;
    case KB_SHL: case KB_SHR:
      if (b < 0 || b > 63) break;
      *r = op == KB_SHL ? (int64_t)(ua << b) : (int64_t)(ua >> b);
      return true;
    case KB_DIV: case KB_FLOORDIV: case KB_MOD:
      if (b == 0 || (a == INT64_MIN && b == -1)) break;
      if (op == KB_DIV) *r = a / b;
      else if (op == KB_FLOORDIV) *r = a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
      else {
        *r = a % b;
        if (*r != 0 && ((*r < 0) != (b < 0))) *r += b;
      }
      return true;
    default: break;
  }
  fail(E, GRAPHC_STATUS_INTERNAL, "kernel %s: integer op %d undefined for %lld, %lld", E->k->name, op,
       (long long)a, (long long)b);
  *r = 0;
  return false;
}

static kv eval(ev *E, int e);

static kv cast(const kir_expr *x, kv a, kir_type from) {
  kv r;
  bool fl = is_float_type(from);
  switch (x->type) {
    case KIR_F32: r.f = round_dtype((double)(float)(fl ? a.f : (double)a.i), x->dtype); break;
    case KIR_F64: r.f = fl ? a.f : (double)a.i; break;
    case KIR_I64:
      r.i = fl ? sat_i64(a.f) : a.i;
      if (x->dtype == GRAPHC_I32) r.i = (int32_t)(uint32_t)(uint64_t)r.i;
      if (x->dtype == GRAPHC_BOOL) r.i = r.i != 0;
      break;
    default: r.i = fl ? a.f != 0.0 : a.i != 0; break;
  }
  return r;
}

static kv eval_now(ev *E, const kir_expr *x) {
  kv r = {0};
  const kir_kernel *k = E->k;
  switch (x->kind) {
    case KX_CONST:
      if (is_float_type(x->type)) r.f = fix(x->type, x->f);
      else r.i = x->i;
      return r;
    case KX_OUTER: r.i = E->oc[x->a]; return r;
    case KX_INNER: r.i = E->ic[x->a]; return r;
    case KX_SIZE: r.i = E->sizes[x->a]; return r;
    case KX_ACC: return E->accs[x->a];
    case KX_LOAD: {
      int64_t i = eval(E, x->b).i;
      if (i < 0 || i >= numel_of(E, x->a)) {
        fail(E, GRAPHC_STATUS_INTERNAL, "kernel %s loads b%d[%lld] out of [0, %lld)", k->name, x->a, (long long)i,
             (long long)numel_of(E, x->a));
        return r;
      }
      return load(E->data[x->a], E->p->buffers[x->a].dtype, i, x->type);
    }
    case KX_UNARY: {
      kv a = eval(E, x->a);
      if (is_float_type(x->type)) r.f = fix(x->type, un_f(x->op, a.f, x->type));
      else if (x->op == KU_NOT) r.i = !a.i;
      else if (x->op == KU_NEG) r.i = (int64_t)(0 - (uint64_t)a.i);
      else if (x->op == KU_ABS) r.i = a.i < 0 ? (int64_t)(0 - (uint64_t)a.i) : a.i;
      else fail(E, GRAPHC_STATUS_INTERNAL, "kernel %s: unary op %d on an integer", k->name, x->op);
      return r;
    }
    case KX_BINARY: {
      kv a = eval(E, x->a), b = eval(E, x->b);
      if (is_float_type(x->type)) r.f = fix(x->type, bin_f(x->op, a.f, b.f, x->type));
      else bin_i(E, x->op, a.i, b.i, &r.i);
      return r;
    }
    case KX_CMP: {
      kv a = eval(E, x->a), b = eval(E, x->b);
      bool fl = is_float_type(k->exprs[x->a].type);
      double fa = fl ? a.f : 0, fb = fl ? b.f : 0;
      int64_t ia = a.i, ib = b.i;
      switch (x->op) {
        case KC_EQ: r.i = fl ? fa == fb : ia == ib; break;
        case KC_NE: r.i = fl ? fa != fb : ia != ib; break;
        case KC_LT: r.i = fl ? fa < fb : ia < ib; break;
        case KC_LE: r.i = fl ? fa <= fb : ia <= ib; break;
        case KC_GT: r.i = fl ? fa > fb : ia > ib; break;
        default: r.i = fl ? fa >= fb : ia >= ib; break;
      }
      return r;
    }
    case KX_SELECT: {
      /* Both operands are evaluated (and bounds-checked), as vector code
       * would: an unselected load must be in range too. */
      kv c = eval(E, x->a), a = eval(E, x->b), b = eval(E, x->c);
      return c.i ? a : b;
    }
    case KX_CAST: return cast(x, eval(E, x->a), k->exprs[x->a].type);
  }
  return r;
}

static kv eval(ev *E, int e) {
  if (E->gen[e] == E->cur) return E->vals[e];
  kv r = eval_now(E, &E->k->exprs[e]);
  E->vals[e] = r;
  E->gen[e] = E->cur;
  return r;
}

/* ---- kernels ----------------------------------------------------------------------- */

static kv acc_init(kir_combine c, kir_type t) {
  kv r;
  bool fl = is_float_type(t);
  if (c == KIR_SUM) {
    if (fl) r.f = 0;
    else r.i = 0;
  } else if (c == KIR_MAX) {
    if (fl) r.f = -INFINITY;
    else r.i = INT64_MIN;
  } else {
    if (fl) r.f = INFINITY;
    else r.i = INT64_MAX;
  }
  return r;
}

static kv combine(kir_combine c, kir_type t, kv acc, kv v) {
  if (is_float_type(t)) {
    if (c == KIR_SUM) acc.f = fix(t, acc.f + v.f);
    else acc.f = bin_f(c == KIR_MAX ? KB_MAX : KB_MIN, acc.f, v.f, t);
  } else if (c == KIR_SUM) {
    acc.i = (int64_t)((uint64_t)acc.i + (uint64_t)v.i);
  } else {
    acc.i = c == KIR_MAX ? (v.i > acc.i ? v.i : acc.i) : (v.i < acc.i ? v.i : acc.i);
  }
  return acc;
}

/* Advances a row-major odometer; false when it wraps around. */
static bool next(int64_t *c, const int *ext, int n, const int64_t *sizes) {
  for (int d = n - 1; d >= 0; d--) {
    if (++c[d] < sizes[ext[d]]) return true;
    c[d] = 0;
  }
  return false;
}

static bool empty(const int *ext, int n, const int64_t *sizes) {
  for (int d = 0; d < n; d++)
    if (sizes[ext[d]] <= 0) return true;
  return false;
}

static void run_stage(ev *E, int g) {
  const kir_stage *s = &E->k->stages[g];
  for (int d = 0; d < KIR_MAX_DIMS; d++) E->ic[d] = 0;
  if (s->kind == KIR_REDUCE) E->accs[g] = acc_init(s->combine, s->acc_type);
  if (empty(s->inner, s->ninner, E->sizes)) return;
  do {
    E->cur++;
    if (s->kind == KIR_REDUCE) {
      E->accs[g] = combine(s->combine, s->acc_type, E->accs[g], eval(E, s->value));
      continue;
    }
    for (int t = 0; t < s->nstores && !E->st; t++) {
      const kir_store *st = &s->stores[t];
      int64_t i = eval(E, st->index).i;
      kv v = eval(E, st->value);
      if (i < 0 || i >= numel_of(E, st->buf)) {
        fail(E, GRAPHC_STATUS_INTERNAL, "kernel %s stores b%d[%lld] out of [0, %lld)", E->k->name, st->buf,
             (long long)i, (long long)numel_of(E, st->buf));
        return;
      }
      store(E->data[st->buf], E->p->buffers[st->buf].dtype, i, v, E->k->exprs[st->value].type);
    }
  } while (!E->st && next(E->ic, s->inner, s->ninner, E->sizes));
}

static graphc_status_t run_kernel(ev *E, const kir_kernel *k) {
  E->k = k;
  size_t n = (size_t)k->nexprs + 1;
  E->vals = calloc(n, sizeof *E->vals);
  E->gen = calloc(n, sizeof *E->gen);
  E->accs = calloc((size_t)k->nstages + 1, sizeof *E->accs);
  E->cur = 0;
  if (!E->vals || !E->gen || !E->accs) fail(E, GRAPHC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  for (int d = 0; d < KIR_MAX_DIMS; d++) E->oc[d] = 0;
  if (!E->st && !empty(k->outer, k->nouter, E->sizes)) do {
      for (int g = 0; g < k->nstages && !E->st; g++) run_stage(E, g);
    } while (!E->st && next(E->oc, k->outer, k->nouter, E->sizes));
  free(E->vals);
  free(E->gen);
  free(E->accs);
  E->vals = NULL, E->gen = NULL, E->accs = NULL;
  return E->st;
}

/* ---- library steps -------------------------------------------------------------------- */

static graphc_status_t run_gemm(ev *E, const kir_gemm *g) {
  const kir_program *p = E->p;
  const int64_t *S = E->sizes;
  int64_t m = S[g->m], n = S[g->n], k = S[g->k], lda = S[g->lda], ldb = S[g->ldb], ldc = S[g->ldc];
  int64_t batch = g->batch >= 0 ? S[g->batch] : 1;
  int64_t sa = g->stride_a >= 0 ? S[g->stride_a] : 0, sb = g->stride_b >= 0 ? S[g->stride_b] : 0;
  int64_t sc = g->stride_c >= 0 ? S[g->stride_c] : 0;
  graphc_dtype_t da = p->buffers[g->a].dtype, db = p->buffers[g->b].dtype, dc = p->buffers[g->c].dtype;
  if (da != g->dtype || db != g->dtype || dc != g->dtype)
    return fail(E, GRAPHC_STATUS_INTERNAL, "gemm operand dtypes differ from %s", graphc_dtype_name(g->dtype));
  int64_t na = numel_of(E, g->a), nb = numel_of(E, g->b), nc = numel_of(E, g->c);
  for (int64_t b = 0; b < batch; b++)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double acc = 0;
        for (int64_t q = 0; q < k; q++) {
          int64_t ia = b * sa + (g->trans_a ? q * lda + i : i * lda + q);
          int64_t ib = b * sb + (g->trans_b ? j * ldb + q : q * ldb + j);
          if (ia < 0 || ia >= na || ib < 0 || ib >= nb)
            return fail(E, GRAPHC_STATUS_INTERNAL, "gemm reads b%d[%lld] / b%d[%lld] out of range", g->a,
                        (long long)ia, g->b, (long long)ib);
          acc += load(E->data[g->a], da, ia, KIR_F64).f * load(E->data[g->b], db, ib, KIR_F64).f;
        }
        int64_t ic = b * sc + i * ldc + j;
        if (ic < 0 || ic >= nc)
          return fail(E, GRAPHC_STATUS_INTERNAL, "gemm writes b%d[%lld] out of range", g->c, (long long)ic);
        kv v;
        v.f = k ? g->alpha * acc : 0.0;
        if (g->beta != 0) v.f += g->beta * load(E->data[g->c], dc, ic, KIR_F64).f;
        store(E->data[g->c], dc, ic, v, KIR_F64);
      }
  if (g->epilogue >= 0) return run_kernel(E, &p->kernels[g->epilogue]);
  return NULL;
}

static graphc_status_t run_copy(ev *E, const kir_step *s) {
  const kir_program *p = E->p;
  int64_t n = E->sizes[s->count];
  if (n > numel_of(E, s->src) || n > numel_of(E, s->dst))
    return fail(E, GRAPHC_STATUS_INTERNAL, "copy of %lld elements b%d -> b%d out of range", (long long)n, s->src,
                s->dst);
  graphc_dtype_t ds = p->buffers[s->src].dtype, dd = p->buffers[s->dst].dtype;
  kir_type t = ds == GRAPHC_F64 ? KIR_F64 : (ds == GRAPHC_I32 || ds == GRAPHC_I64 || ds == GRAPHC_BOOL) ? KIR_I64 : KIR_F32;
  for (int64_t i = 0; i < n; i++) store(E->data[s->dst], dd, i, load(E->data[s->src], ds, i, t), t);
  return NULL;
}

static graphc_status_t run_check(ev *E, const kir_step *s) {
  if (numel_of(E, s->src) < 2 || E->p->buffers[s->src].dtype != GRAPHC_I64)
    return fail(E, GRAPHC_STATUS_INTERNAL, "check buffer b%d is not i64[2]", s->src);
  const int64_t *v = E->data[s->src];
  if (v[0] == 0) return NULL;
  return gc_status(GRAPHC_STATUS_OUT_OF_RANGE, "%s (got %lld)", s->message, (long long)v[1]);
}

/* ---- driver ---------------------------------------------------------------------------- */

static graphc_status_t eval_sizes(const kir_program *p, const gc_tensor *in, int64_t *sizes) {
  int64_t *vals = calloc((size_t)p->nsyms + 1, sizeof *vals);
  bool *bound = calloc((size_t)p->nsyms + 1, sizeof *bound);
  graphc_status_t st = vals && bound ? NULL : GC_OOM();
  for (int s = 0; !st && s < p->nsyms; s++) {
    const struct kir_symsrc *src = &p->symsrc[s];
    if (src->kind == 2) continue;
    if (src->input < 0 || src->input >= p->ninputs) st = gc_status(GRAPHC_STATUS_INTERNAL, "kir_eval: bad symbol source");
    else if (src->kind == 0 && src->dim >= in[src->input].rank)
      st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "kir_eval: input %d has rank %d, symbol %d needs dim %d",
                     src->input, in[src->input].rank, s, src->dim);
    else {
      vals[s] = src->kind == 0 ? in[src->input].shape[src->dim] : gc_tensor_geti(&in[src->input], 0);
      bound[s] = true;
    }
  }
  for (int i = 0; !st && i < p->nsizes; i++) {
    st = gc_dim_eval(p->dims, p->sizes[i], vals, bound, &sizes[i]);
    if (st && graphc_status_code(st) == GRAPHC_STATUS_FAILED_PRECONDITION) {
      graphc_status_free(st);
      st = gc_status(GRAPHC_STATUS_UNIMPLEMENTED, "kir_eval: size %s uses a data-dependent symbol",
                     gc_dim_str(p->dims, p->sizes[i]));
    }
  }
  free(vals);
  free(bound);
  return st;
}

static graphc_status_t bind_buffers(ev *E, const gc_tensor *in, gc_tensor *out, const kir_eval_options *opt,
                                    void **arena, void ***owned) {
  const kir_program *p = E->p;
  int n = p->nbuffers;
  int64_t *bytes = calloc((size_t)n + 1, sizeof *bytes), *offs = calloc((size_t)n + 1, sizeof *offs), peak = 0;
  *owned = calloc((size_t)n + 1, sizeof **owned);
  graphc_status_t st = bytes && offs && *owned ? NULL : GC_OOM();
  for (int b = 0; !st && b < n; b++) {
    const kir_buffer *buf = &p->buffers[b];
    int64_t numel = E->sizes[buf->numel];
    bytes[b] = numel * (int64_t)graphc_dtype_size(buf->dtype);
    if (buf->role == KIR_BUF_INPUT) {
      const gc_tensor *t = &in[buf->index];
      if (t->dtype != buf->dtype || t->numel != numel)
        st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "kir_eval: input %d '%s': expected %s with %lld elements",
                       buf->index, buf->name, graphc_dtype_name(buf->dtype), (long long)numel);
      else E->data[b] = t->data;
    } else if (buf->role == KIR_BUF_OUTPUT) {
      int64_t shape[KIR_MAX_DIMS];
      for (int d = 0; d < buf->rank; d++) shape[d] = E->sizes[buf->shape[d]];
      st = gc_tensor_alloc(&out[buf->index], buf->dtype, buf->rank, shape, 0);
      if (!st) E->data[b] = out[buf->index].data;
    }
  }
  if (!st && !(opt && opt->no_memplan)) st = gc_memplan(bytes, p->buffers, n, 64, offs, &peak);
  if (!st && !(opt && opt->no_memplan)) {
    *arena = malloc((size_t)(peak > 0 ? peak : 1));
    if (!*arena) st = GC_OOM();
    else memset(*arena, 0xff, (size_t)peak); /* NaN / -1: unwritten reads show */
  }
  for (int b = 0; !st && b < n; b++) {
    if (p->buffers[b].role != KIR_BUF_TEMP) continue;
    if (opt && opt->no_memplan) {
      (*owned)[b] = calloc(1, (size_t)(bytes[b] > 0 ? bytes[b] : 8));
      if (!(*owned)[b]) st = GC_OOM();
      E->data[b] = (*owned)[b];
    } else {
      E->data[b] = (char *)*arena + offs[b];
    }
  }
  if (opt && opt->peak_bytes) *opt->peak_bytes = peak;
  free(bytes);
  free(offs);
  return st;
}

graphc_status_t kir_eval(const kir_program *p, const gc_tensor *inputs, int ninputs, gc_tensor *outputs,
                         int noutputs, const kir_eval_options *opt) {
  if (ninputs != p->ninputs || noutputs != p->noutputs)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "kir_eval: program takes %d inputs and %d outputs, got %d and %d",
                     p->ninputs, p->noutputs, ninputs, noutputs);
  for (int k = 0; k < noutputs; k++) memset(&outputs[k], 0, sizeof outputs[k]);
  ev E;
  memset(&E, 0, sizeof E);
  E.p = p;
  int64_t *sizes = calloc((size_t)p->nsizes + 1, sizeof *sizes);
  E.data = calloc((size_t)p->nbuffers + 1, sizeof *E.data);
  void *arena = NULL, **owned = NULL;
  graphc_status_t st = sizes && E.data ? NULL : GC_OOM();
  if (!st) st = eval_sizes(p, inputs, sizes);
  E.sizes = sizes;
  if (!st) st = bind_buffers(&E, inputs, outputs, opt, &arena, &owned);
  for (int s = 0; !st && s < p->nsteps; s++) {
    const kir_step *step = &p->steps[s];
    switch (step->kind) {
      case KIR_STEP_KERNEL: st = run_kernel(&E, &p->kernels[step->kernel]); break;
      case KIR_STEP_GEMM: st = run_gemm(&E, &step->gemm); break;
      case KIR_STEP_COPY: st = run_copy(&E, step); break;
      case KIR_STEP_CHECK: st = run_check(&E, step); break;
    }
  }
  if (st && st != E.st) graphc_status_free(E.st);
  if (st)
    for (int k = 0; k < noutputs; k++) gc_tensor_free(&outputs[k]);
  for (int b = 0; owned && b < p->nbuffers; b++) free(owned[b]);
  free(owned);
  free(arena);
  free(E.data);
  free(sizes);
  return st;
}
