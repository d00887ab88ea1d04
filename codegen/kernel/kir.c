/* Kernel IR: builders, checks and a readable dump. */
#include "kernel/kir.h"

#include <stdlib.h>
#include <string.h>

#include "support/status.h"
#include "support/strbuf.h"

void kir_program_free(kir_program *p) {
  if (!p) return;
  for (int k = 0; k < p->nkernels; k++) {
    free(p->kernels[k].stages);
    free(p->kernels[k].exprs);
  }
  free(p->kernels);
  free(p->steps);
  free(p->buffers);
  free(p->sizes);
  free(p->symsrc);
  gc_dimtab_free(p->dims);
  memset(p, 0, sizeof *p);
}

int kir_size(kir_program *p, gc_dim d) {
  for (int i = 0; i < p->nsizes; i++)
    if (p->sizes[i] == d) return i;
  gc_dim *s = realloc(p->sizes, sizeof *s * (size_t)(p->nsizes + 1));
  if (!s) return -1;
  p->sizes = s;
  s[p->nsizes] = d;
  return p->nsizes++;
}

int kir_expr_add(kir_kernel *k, kir_expr e) {
  if (k->nexprs == k->capexprs) {
    int cap = k->capexprs ? 2 * k->capexprs : 32;
    kir_expr *x = realloc(k->exprs, sizeof *x * (size_t)cap);
    if (!x) return -1;
    k->exprs = x;
    k->capexprs = cap;
  }
  k->exprs[k->nexprs] = e;
  return k->nexprs++;
}

static const char *type_name(kir_type t) {
  static const char *const n[] = {"f32", "f64", "i64", "bool"};
  return (unsigned)t < 4 ? n[t] : "?";
}

static void print_expr(gc_strbuf *sb, const kir_kernel *k, int e) {
  static const char *const un[] = {"neg", "abs", "exp", "log", "sqrt", "rsqrt", "tanh",
                                   "sigmoid", "erf", "sin", "cos", "not", "floor"};
  static const char *const bin[] = {"add", "sub", "mul", "div", "pow", "max", "min",
                                    "and", "or", "floordiv", "mod", "xor", "shl", "shr"};
  static const char *const cmp[] = {"eq", "ne", "lt", "le", "gt", "ge"};
  if (e < 0 || e >= k->nexprs) {
    gc_sb_append(sb, "<bad>");
    return;
  }
  const kir_expr *x = &k->exprs[e];
  switch (x->kind) {
    case KX_CONST:
      if (x->type == KIR_F32 || x->type == KIR_F64) gc_sb_double(sb, x->f);
      else gc_sb_printf(sb, "%lld", (long long)x->i);
      return;
    case KX_OUTER: gc_sb_printf(sb, "o%d", x->a); return;
    case KX_INNER: gc_sb_printf(sb, "i%d", x->a); return;
    case KX_SIZE: gc_sb_printf(sb, "size%d", x->a); return;
    case KX_ACC: gc_sb_printf(sb, "acc%d", x->a); return;
    case KX_LOAD:
      gc_sb_printf(sb, "b%d[", x->a);
      print_expr(sb, k, x->b);
      gc_sb_append(sb, "]");
      return;
    case KX_UNARY:
      gc_sb_printf(sb, "%s(", (unsigned)x->op < 13 ? un[x->op] : "?");
      print_expr(sb, k, x->a);
      gc_sb_append(sb, ")");
      return;
    case KX_BINARY:
    case KX_CMP:
      gc_sb_printf(sb, "%s(", x->kind == KX_CMP ? ((unsigned)x->op < 6 ? cmp[x->op] : "?")
                                                 : ((unsigned)x->op < 14 ? bin[x->op] : "?"));
      print_expr(sb, k, x->a);
      gc_sb_append(sb, ", ");
      print_expr(sb, k, x->b);
      gc_sb_append(sb, ")");
      return;
    case KX_SELECT:
      gc_sb_append(sb, "select(");
      print_expr(sb, k, x->a);
      gc_sb_append(sb, ", ");
      print_expr(sb, k, x->b);
      gc_sb_append(sb, ", ");
      print_expr(sb, k, x->c);
      gc_sb_append(sb, ")");
      return;
    case KX_CAST:
      gc_sb_printf(sb, "%s(", type_name(x->type));
      print_expr(sb, k, x->a);
      gc_sb_append(sb, ")");
      return;
  }
}

char *kir_program_print(const kir_program *p) {
  gc_strbuf sb = {0};
  gc_sb_printf(&sb, "sizes:");
  for (int i = 0; i < p->nsizes; i++) gc_sb_printf(&sb, " size%d=%s", i, gc_dim_str(p->dims, p->sizes[i]));
  gc_sb_append(&sb, "\n");
  for (int b = 0; b < p->nbuffers; b++) {
    const kir_buffer *buf = &p->buffers[b];
    static const char *const roles[] = {"input", "output", "temp"};
    gc_sb_printf(&sb, "b%d: %s[size%d] %s %d '%s'", b, graphc_dtype_name(buf->dtype),
                 buf->numel, roles[buf->role], buf->index, buf->name);
    if (buf->inplace) gc_sb_printf(&sb, " in place of b%d", buf->inplace_src);
    gc_sb_append(&sb, "\n");
  }
  for (int s = 0; s < p->nsteps; s++) {
    const kir_step *st = &p->steps[s];
    if (st->kind == KIR_STEP_GEMM) {
      const kir_gemm *g = &st->gemm;
      gc_sb_printf(&sb, "step %d: gemm b%d = b%d%s x b%d%s (m size%d, n size%d, k size%d, batch %d)%s\n",
                   s, g->c, g->a, g->trans_a ? "^T" : "", g->b, g->trans_b ? "^T" : "", g->m, g->n,
                   g->k, g->batch, g->epilogue >= 0 ? " + epilogue" : "");
      if (g->epilogue < 0) continue;
    } else if (st->kind == KIR_STEP_COPY) {
      gc_sb_printf(&sb, "step %d: copy b%d -> b%d (size%d)\n", s, st->src, st->dst, st->count);
      continue;
    } else if (st->kind == KIR_STEP_CHECK) {
      gc_sb_printf(&sb, "step %d: check b%d '%s'\n", s, st->src, st->message);
      continue;
    }
    int ki = st->kind == KIR_STEP_GEMM ? st->gemm.epilogue : st->kernel;
    if (ki < 0 || ki >= p->nkernels) continue;
    const kir_kernel *k = &p->kernels[ki];
    if (st->kind == KIR_STEP_GEMM) gc_sb_printf(&sb, "  epilogue: kernel %s outer [", k->name);
    else gc_sb_printf(&sb, "step %d: kernel %s outer [", s, k->name);
    for (int d = 0; d < k->nouter; d++) gc_sb_printf(&sb, "%ssize%d", d ? ", " : "", k->outer[d]);
    gc_sb_append(&sb, "]\n");
    for (int g = 0; g < k->nstages; g++) {
      const kir_stage *sg = &k->stages[g];
      gc_sb_printf(&sb, "  stage %d %s inner [", g, sg->kind == KIR_REDUCE ? "reduce" : "store");
      for (int d = 0; d < sg->ninner; d++) gc_sb_printf(&sb, "%ssize%d", d ? ", " : "", sg->inner[d]);
      gc_sb_append(&sb, "]");
      if (sg->kind == KIR_REDUCE) {
        static const char *const comb[] = {"sum", "max", "min"};
        gc_sb_printf(&sb, " acc%d = %s ", g, comb[sg->combine]);
        print_expr(&sb, k, sg->value);
        gc_sb_append(&sb, "\n");
      } else {
        gc_sb_append(&sb, "\n");
        for (int t = 0; t < sg->nstores; t++) {
          gc_sb_printf(&sb, "    b%d[", sg->stores[t].buf);
          print_expr(&sb, k, sg->stores[t].index);
          gc_sb_append(&sb, "] = ");
          print_expr(&sb, k, sg->stores[t].value);
          gc_sb_append(&sb, "\n");
        }
      }
    }
  }
  return gc_sb_take(&sb);
}

static graphc_status_t bad(const char *what, int a, int b) {
  return gc_status(GRAPHC_STATUS_INTERNAL, "kernel IR: %s (%d, %d)", what, a, b);
}

static graphc_status_t verify_kernel(const kir_program *p, const kir_kernel *k) {
  if (k->nouter < 0 || k->nouter > KIR_MAX_DIMS) return bad("outer rank", k->nouter, 0);
  for (int d = 0; d < k->nouter; d++)
    if (k->outer[d] < 0 || k->outer[d] >= p->nsizes) return bad("outer extent", d, k->outer[d]);
  for (int e = 0; e < k->nexprs; e++) {
    const kir_expr *x = &k->exprs[e];
    int ops[3] = {-1, -1, -1}, nops = 0;
    switch (x->kind) {
      case KX_CONST: break;
      case KX_OUTER: if (x->a < 0 || x->a >= k->nouter) return bad("outer coord", e, x->a); break;
      case KX_INNER: if (x->a < 0 || x->a >= KIR_MAX_DIMS) return bad("inner coord", e, x->a); break;
      case KX_SIZE: if (x->a < 0 || x->a >= p->nsizes) return bad("size id", e, x->a); break;
      case KX_ACC: if (x->a < 0 || x->a >= k->nstages || k->stages[x->a].kind != KIR_REDUCE) return bad("acc id", e, x->a); break;
      case KX_LOAD:
        if (x->a < 0 || x->a >= p->nbuffers) return bad("load buffer", e, x->a);
        ops[nops++] = x->b;
        break;
      case KX_UNARY: case KX_CAST: ops[nops++] = x->a; break;
      case KX_BINARY: case KX_CMP: ops[nops++] = x->a; ops[nops++] = x->b; break;
      case KX_SELECT: ops[nops++] = x->a; ops[nops++] = x->b; ops[nops++] = x->c; break;
      default: return bad("expr kind", e, x->kind);
    }
    for (int i = 0; i < nops; i++)
      if (ops[i] < 0 || ops[i] >= e) return bad("operand must precede its user", e, ops[i]);
    if (x->kind == KX_LOAD && k->exprs[x->b].type != KIR_I64) return bad("load index not i64", e, x->b);
    if ((x->kind == KX_BINARY || x->kind == KX_CMP) && k->exprs[x->a].type != k->exprs[x->b].type)
      return bad("binary operand types differ", e, x->op);
    if (x->kind == KX_SELECT && k->exprs[x->a].type != KIR_BOOL) return bad("select condition", e, x->a);
  }
  for (int g = 0; g < k->nstages; g++) {
    const kir_stage *s = &k->stages[g];
    if (s->ninner < 0 || s->ninner > KIR_MAX_DIMS) return bad("inner rank", g, s->ninner);
    for (int d = 0; d < s->ninner; d++)
      if (s->inner[d] < 0 || s->inner[d] >= p->nsizes) return bad("inner extent", g, d);
    if (s->kind == KIR_REDUCE && (s->value < 0 || s->value >= k->nexprs)) return bad("reduce value", g, s->value);
    if (s->kind == KIR_STORE) {
      if (s->nstores < 1 || s->nstores > KIR_MAX_STORES) return bad("store count", g, s->nstores);
      for (int t = 0; t < s->nstores; t++) {
        const kir_store *st = &s->stores[t];
        if (st->buf < 0 || st->buf >= p->nbuffers) return bad("store buffer", g, st->buf);
        if (st->index < 0 || st->index >= k->nexprs || k->exprs[st->index].type != KIR_I64)
          return bad("store index", g, st->index);
        if (st->value < 0 || st->value >= k->nexprs) return bad("store value", g, st->value);
      }
    }
  }
  return NULL;
}

graphc_status_t kir_program_verify(const kir_program *p) {
  for (int i = 0; i < p->nbuffers; i++) {
    const kir_buffer *b = &p->buffers[i];
    if (b->numel < 0 || b->numel >= p->nsizes) return bad("buffer size id", i, b->numel);
    if (b->rank < 0 || b->rank > KIR_MAX_DIMS) return bad("buffer rank", i, b->rank);
    for (int d = 0; d < b->rank; d++)
      if (b->shape[d] < 0 || b->shape[d] >= p->nsizes) return bad("buffer shape size id", i, d);
    if (b->inplace && (b->inplace_src < 0 || b->inplace_src >= p->nbuffers || b->inplace_src == i ||
                       p->buffers[b->inplace_src].role != KIR_BUF_TEMP || b->role != KIR_BUF_TEMP))
      return bad("in-place source", i, b->inplace_src);
  }
  for (int k = 0; k < p->nkernels; k++) GC_TRY(verify_kernel(p, &p->kernels[k]));
  for (int s = 0; s < p->nsteps; s++) {
    const kir_step *st = &p->steps[s];
    if (st->kind == KIR_STEP_KERNEL && (st->kernel < 0 || st->kernel >= p->nkernels)) return bad("step kernel", s, st->kernel);
    if ((st->kind == KIR_STEP_CHECK || st->kind == KIR_STEP_COPY) && (st->src < 0 || st->src >= p->nbuffers))
      return bad("step buffer", s, st->src);
    if (st->kind == KIR_STEP_COPY && (st->dst < 0 || st->dst >= p->nbuffers || st->count < 0 || st->count >= p->nsizes))
      return bad("copy destination or count", s, st->dst);
    if (st->kind == KIR_STEP_GEMM) {
      const kir_gemm *g = &st->gemm;
      if (g->a < 0 || g->b < 0 || g->c < 0 || g->a >= p->nbuffers || g->b >= p->nbuffers || g->c >= p->nbuffers)
        return bad("gemm buffer", s, 0);
      if (g->epilogue >= p->nkernels) return bad("gemm epilogue", s, g->epilogue);
    }
  }
  return NULL;
}
