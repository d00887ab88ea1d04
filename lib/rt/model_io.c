/* Byte form of a model description.
 *
 *   "GCMODEL\0"  u32 format  u32 abi  u32 env      header
 *   str name, cpu, features, symbol_prefix
 *   symbols (names, in id order), sizes (canonical dim text), symbol
 *   sources, buffers, kernels (stages, stores, expressions), steps,
 *   inputs, outputs (name, role, dtype, rank, dim text)
 *
 * Integers are little-endian i32/i64, doubles their IEEE bits, strings a
 * u32 length then bytes. Every count is checked against the bytes left
 * before anything is allocated, so a hostile or truncated record is a
 * DATA_LOSS status, never a crash or a huge allocation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/kernel_abi.h"
#include "rt/model.h"
#include "support/status.h"
#include "support/strbuf.h"

#define MODEL_MAGIC "GCMODEL"
#define MODEL_FORMAT 1u

/* --- writing ------------------------------------------------------------- */

static void w_u32(gc_strbuf *sb, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; i++) b[i] = (char)(v >> (8 * i));
  gc_sb_appendn(sb, b, 4);
}
static void w_i32(gc_strbuf *sb, int32_t v) { w_u32(sb, (uint32_t)v); }
static void w_u64(gc_strbuf *sb, uint64_t v) {
  w_u32(sb, (uint32_t)v);
  w_u32(sb, (uint32_t)(v >> 32));
}
static void w_f64(gc_strbuf *sb, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  w_u64(sb, u);
}
static void w_str(gc_strbuf *sb, const char *s) {
  size_t n = s ? strlen(s) : 0;
  w_u32(sb, (uint32_t)n);
  gc_sb_appendn(sb, s ? s : "", n);
}

static void w_expr(gc_strbuf *sb, const kir_expr *x) {
  w_i32(sb, x->kind), w_i32(sb, x->type), w_i32(sb, x->op);
  w_i32(sb, x->a), w_i32(sb, x->b), w_i32(sb, x->c);
  w_f64(sb, x->f), w_u64(sb, (uint64_t)x->i), w_i32(sb, (int32_t)x->dtype);
}

static void w_kernel(gc_strbuf *sb, const kir_kernel *k) {
  w_str(sb, k->name);
  w_i32(sb, k->nouter);
  for (int d = 0; d < k->nouter; d++) w_i32(sb, k->outer[d]);
  w_i32(sb, k->nstages);
  for (int g = 0; g < k->nstages; g++) {
    const kir_stage *s = &k->stages[g];
    w_i32(sb, s->kind), w_i32(sb, s->ninner);
    for (int d = 0; d < s->ninner; d++) w_i32(sb, s->inner[d]);
    w_i32(sb, s->combine), w_i32(sb, s->acc_type), w_i32(sb, s->value), w_i32(sb, s->nstores);
    for (int t = 0; t < s->nstores; t++)
      w_i32(sb, s->stores[t].buf), w_i32(sb, s->stores[t].index), w_i32(sb, s->stores[t].value);
  }
  w_i32(sb, k->nexprs);
  for (int e = 0; e < k->nexprs; e++) w_expr(sb, &k->exprs[e]);
}

static void w_step(gc_strbuf *sb, const kir_step *s) {
  const kir_gemm *g = &s->gemm;
  w_i32(sb, s->kind), w_i32(sb, s->kernel);
  w_i32(sb, g->dtype), w_i32(sb, g->a), w_i32(sb, g->b), w_i32(sb, g->c);
  w_i32(sb, g->trans_a), w_i32(sb, g->trans_b);
  w_i32(sb, g->m), w_i32(sb, g->n), w_i32(sb, g->k);
  w_i32(sb, g->lda), w_i32(sb, g->ldb), w_i32(sb, g->ldc);
  w_i32(sb, g->batch), w_i32(sb, g->stride_a), w_i32(sb, g->stride_b), w_i32(sb, g->stride_c);
  w_f64(sb, g->alpha), w_f64(sb, g->beta), w_i32(sb, g->epilogue);
  w_i32(sb, s->src), w_i32(sb, s->dst), w_i32(sb, s->count);
  w_str(sb, s->kind == KIR_STEP_CHECK ? s->message : "");
}

static void w_sig(gc_strbuf *sb, const gc_model *m, const gc_sig_value *v) {
  w_str(sb, v->name);
  w_i32(sb, v->role), w_i32(sb, v->dtype), w_i32(sb, v->rank);
  for (int d = 0; d < v->rank; d++) w_str(sb, gc_dim_str(m->prog->dims, v->dims[d]));
}

graphc_status_t gc_model_serialize(const gc_model *m, uint8_t **bytes, size_t *len) {
  const kir_program *p = m->prog;
  gc_strbuf sb = {0};
  gc_sb_appendn(&sb, MODEL_MAGIC, 8);
  w_u32(&sb, MODEL_FORMAT), w_u32(&sb, GRAPHC_ABI_VERSION), w_u32(&sb, GC_ENV_VERSION);
  w_str(&sb, m->name), w_str(&sb, m->cpu), w_str(&sb, m->features), w_str(&sb, m->symbol_prefix);
  int nsyms = gc_dimtab_num_syms(p->dims);
  w_i32(&sb, nsyms);
  for (int s = 0; s < nsyms; s++) w_str(&sb, gc_dimtab_sym_name(p->dims, s));
  w_i32(&sb, p->nsyms);
  for (int s = 0; s < p->nsyms; s++)
    w_i32(&sb, p->symsrc[s].kind), w_i32(&sb, p->symsrc[s].input), w_i32(&sb, p->symsrc[s].dim);
  w_i32(&sb, p->nsizes);
  for (int i = 0; i < p->nsizes; i++) w_str(&sb, gc_dim_str(p->dims, p->sizes[i]));
  w_i32(&sb, p->nbuffers);
  for (int b = 0; b < p->nbuffers; b++) {
    const kir_buffer *x = &p->buffers[b];
    w_i32(&sb, x->dtype), w_i32(&sb, x->numel), w_i32(&sb, x->role), w_i32(&sb, x->index);
    w_i32(&sb, x->first_step), w_i32(&sb, x->last_step), w_str(&sb, x->name);
    w_i32(&sb, x->rank);
    for (int d = 0; d < x->rank; d++) w_i32(&sb, x->shape[d]);
    w_i32(&sb, x->inplace), w_i32(&sb, x->inplace_src);
  }
  w_i32(&sb, p->nkernels);
  for (int k = 0; k < p->nkernels; k++) w_kernel(&sb, &p->kernels[k]);
  w_i32(&sb, p->nsteps);
  for (int s = 0; s < p->nsteps; s++) w_step(&sb, &p->steps[s]);
  w_i32(&sb, m->ninputs);
  for (int i = 0; i < m->ninputs; i++) w_sig(&sb, m, &m->inputs[i]);
  w_i32(&sb, m->noutputs);
  for (int i = 0; i < m->noutputs; i++) w_sig(&sb, m, &m->outputs[i]);
  if (sb.oom) {
    gc_sb_free(&sb);
    return GC_OOM();
  }
  *len = sb.len;
  *bytes = (uint8_t *)gc_sb_take(&sb);
  return NULL;
}

/* --- reading ------------------------------------------------------------- */

typedef struct reader {
  const uint8_t *p;
  size_t left;
  bool bad;
} reader;

static uint32_t r_u32(reader *r) {
  if (r->left < 4) {
    r->bad = true;
    r->left = 0;
    return 0;
  }
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)r->p[i] << (8 * i);
  r->p += 4;
  r->left -= 4;
  return v;
}
static int32_t r_i32(reader *r) { return (int32_t)r_u32(r); }
static uint64_t r_u64(reader *r) {
  uint64_t lo = r_u32(r);
  return lo | (uint64_t)r_u32(r) << 32;
}
static double r_f64(reader *r) {
  uint64_t u = r_u64(r);
  double d;
  memcpy(&d, &u, 8);
  return d;
}
/* A count of items of at least `unit` bytes each: bounded by what is left. */
static int r_count(reader *r, size_t unit, int max) {
  int32_t n = r_i32(r);
  if (n < 0 || n > max || (size_t)n > r->left / (unit ? unit : 1)) {
    r->bad = true;
    return 0;
  }
  return n;
}
/* Returns a new NUL-terminated copy (caller frees), NULL when bad. */
static char *r_str(reader *r) {
  uint32_t n = r_u32(r);
  if (r->bad || n > r->left) {
    r->bad = true;
    return NULL;
  }
  char *s = malloc((size_t)n + 1);
  if (!s) {
    r->bad = true;
    return NULL;
  }
  memcpy(s, r->p, n);
  s[n] = 0;
  r->p += n;
  r->left -= n;
  return s;
}
static void r_name(reader *r, char *dst, size_t cap) {
  char *s = r_str(r);
  snprintf(dst, cap, "%s", s ? s : "");
  free(s);
}

static graphc_status_t r_dim(reader *r, gc_dimtab *t, gc_dim *out) {
  char *s = r_str(r);
  if (!s) return gc_status(GRAPHC_STATUS_DATA_LOSS, "model description truncated in a dim");
  size_t used = 0;
  graphc_status_t st = gc_dim_parse(t, s, strlen(s), false, out, &used);
  if (!st && used != strlen(s)) st = gc_status(GRAPHC_STATUS_DATA_LOSS, "trailing text");
  if (st) {
    graphc_status_free(st);
    st = gc_status(GRAPHC_STATUS_DATA_LOSS, "model description has a malformed dim '%s'", s);
  }
  free(s);
  return st;
}

static void r_kernel(reader *r, kir_kernel *k) {
  r_name(r, k->name, sizeof k->name);
  k->nouter = r_count(r, 4, KIR_MAX_DIMS);
  for (int d = 0; d < k->nouter; d++) k->outer[d] = r_i32(r);
  k->nstages = r_count(r, 24, 1 << 20);
  k->stages = calloc((size_t)k->nstages + 1, sizeof *k->stages);
  if (!k->stages) r->bad = true;
  for (int g = 0; !r->bad && g < k->nstages; g++) {
    kir_stage *s = &k->stages[g];
    s->kind = (kir_stage_kind)r_i32(r);
    s->ninner = r_count(r, 4, KIR_MAX_DIMS);
    for (int d = 0; d < s->ninner; d++) s->inner[d] = r_i32(r);
    s->combine = (kir_combine)r_i32(r);
    s->acc_type = (kir_type)r_i32(r);
    s->value = r_i32(r);
    s->nstores = r_count(r, 12, KIR_MAX_STORES);
    for (int t = 0; t < s->nstores; t++) {
      s->stores[t].buf = r_i32(r);
      s->stores[t].index = r_i32(r);
      s->stores[t].value = r_i32(r);
    }
  }
  k->nexprs = r_count(r, 44, 1 << 24);
  k->capexprs = k->nexprs;
  k->exprs = calloc((size_t)k->nexprs + 1, sizeof *k->exprs);
  if (!k->exprs) r->bad = true;
  for (int e = 0; !r->bad && e < k->nexprs; e++) {
    kir_expr *x = &k->exprs[e];
    x->kind = (kir_expr_kind)r_i32(r);
    x->type = (kir_type)r_i32(r);
    x->op = r_i32(r);
    x->a = r_i32(r), x->b = r_i32(r), x->c = r_i32(r);
    x->f = r_f64(r);
    x->i = (int64_t)r_u64(r);
    x->dtype = (graphc_dtype_t)r_i32(r);
  }
}

static void r_step(reader *r, kir_step *s) {
  kir_gemm *g = &s->gemm;
  s->kind = (kir_step_kind)r_i32(r);
  s->kernel = r_i32(r);
  g->dtype = (graphc_dtype_t)r_i32(r);
  g->a = r_i32(r), g->b = r_i32(r), g->c = r_i32(r);
  g->trans_a = r_i32(r) != 0, g->trans_b = r_i32(r) != 0;
  g->m = r_i32(r), g->n = r_i32(r), g->k = r_i32(r);
  g->lda = r_i32(r), g->ldb = r_i32(r), g->ldc = r_i32(r);
  g->batch = r_i32(r), g->stride_a = r_i32(r), g->stride_b = r_i32(r), g->stride_c = r_i32(r);
  g->alpha = r_f64(r), g->beta = r_f64(r);
  g->epilogue = r_i32(r);
  s->src = r_i32(r), s->dst = r_i32(r), s->count = r_i32(r);
  r_name(r, s->message, sizeof s->message);
}

static graphc_status_t r_sig(reader *r, gc_dimtab *t, gc_sig_value *v) {
  v->name = r_str(r);
  v->role = (graphc_role_t)r_i32(r);
  v->dtype = (graphc_dtype_t)r_i32(r);
  v->rank = r_count(r, 4, GRAPHC_MAX_RANK);
  for (int d = 0; !r->bad && d < v->rank; d++) GC_TRY(r_dim(r, t, &v->dims[d]));
  return NULL;
}

int gc_model_bytes_abi(const uint8_t *bytes, size_t len) {
  if (!bytes || len < 20 || memcmp(bytes, MODEL_MAGIC, 8) != 0) return -1;
  reader r = {bytes + 12, 4, false};
  return (int)r_u32(&r);
}

static graphc_status_t parse(reader *r, gc_model *m) {
  kir_program *p = m->prog;
  m->name = r_str(r), m->cpu = r_str(r), m->features = r_str(r), m->symbol_prefix = r_str(r);
  int nnames = r_count(r, 4, 1 << 20);
  for (int s = 0; !r->bad && s < nnames; s++) {
    char *name = r_str(r);
    int id = -1;
    graphc_status_t st = name ? gc_dimtab_add_sym(p->dims, name, &id) : NULL;
    free(name);
    if (st || id != s) {
      graphc_status_free(st);
      return gc_status(GRAPHC_STATUS_DATA_LOSS, "model description: bad symbol %d", s);
    }
  }
  p->nsyms = r_count(r, 12, nnames);
  p->symsrc = calloc((size_t)p->nsyms + 1, sizeof *p->symsrc);
  if (!p->symsrc) return GC_OOM();
  for (int s = 0; !r->bad && s < p->nsyms; s++) {
    p->symsrc[s].kind = r_i32(r);
    p->symsrc[s].input = r_i32(r);
    p->symsrc[s].dim = r_i32(r);
  }
  p->nsizes = r_count(r, 4, 1 << 24);
  p->sizes = calloc((size_t)p->nsizes + 1, sizeof *p->sizes);
  if (!p->sizes) return GC_OOM();
  for (int i = 0; !r->bad && i < p->nsizes; i++) GC_TRY(r_dim(r, p->dims, &p->sizes[i]));
  p->nbuffers = r_count(r, 40, 1 << 24);
  p->buffers = calloc((size_t)p->nbuffers + 1, sizeof *p->buffers);
  if (!p->buffers) return GC_OOM();
  for (int b = 0; !r->bad && b < p->nbuffers; b++) {
    kir_buffer *x = &p->buffers[b];
    x->dtype = (graphc_dtype_t)r_i32(r);
    x->numel = r_i32(r);
    x->role = (kir_buffer_role)r_i32(r);
    x->index = r_i32(r);
    x->first_step = r_i32(r);
    x->last_step = r_i32(r);
    r_name(r, x->name, sizeof x->name);
    x->rank = r_count(r, 4, KIR_MAX_DIMS);
    for (int d = 0; d < x->rank; d++) x->shape[d] = r_i32(r);
    x->inplace = r_i32(r) != 0;
    x->inplace_src = r_i32(r);
  }
  int nk = r_count(r, 16, 1 << 20);
  p->kernels = calloc((size_t)nk + 1, sizeof *p->kernels);
  if (!p->kernels) return GC_OOM();
  for (; !r->bad && p->nkernels < nk; p->nkernels++) r_kernel(r, &p->kernels[p->nkernels]);
  p->nsteps = r_count(r, 104, 1 << 24);
  p->steps = calloc((size_t)p->nsteps + 1, sizeof *p->steps);
  if (!p->steps) return GC_OOM();
  for (int s = 0; !r->bad && s < p->nsteps; s++) r_step(r, &p->steps[s]);
  int nin = r_count(r, 16, 1 << 20);
  m->inputs = calloc((size_t)nin + 1, sizeof *m->inputs);
  if (!m->inputs) return GC_OOM();
  /* Counted before parsing, so gc_model_free sees a half-read entry. */
  while (!r->bad && m->ninputs < nin) GC_TRY(r_sig(r, p->dims, &m->inputs[m->ninputs++]));
  int nout = r_count(r, 16, 1 << 20);
  m->outputs = calloc((size_t)nout + 1, sizeof *m->outputs);
  if (!m->outputs) return GC_OOM();
  while (!r->bad && m->noutputs < nout) GC_TRY(r_sig(r, p->dims, &m->outputs[m->noutputs++]));
  p->ninputs = m->ninputs;
  p->noutputs = m->noutputs;
  if (r->bad || !m->name || !m->cpu || !m->features || !m->symbol_prefix)
    return gc_status(GRAPHC_STATUS_DATA_LOSS, "model description is truncated or malformed");
  if (r->left)
    return gc_status(GRAPHC_STATUS_DATA_LOSS, "model description has %zu trailing bytes", r->left);
  graphc_status_t st = gc_model_check(m);
  if (st && graphc_status_code(st) == GRAPHC_STATUS_INTERNAL)
    st = gc_status_wrap(st, "model description is inconsistent");
  return st;
}

graphc_status_t gc_model_deserialize(const uint8_t *bytes, size_t len, gc_model *m) {
  memset(m, 0, sizeof *m);
  if (!bytes || len < 20 || memcmp(bytes, MODEL_MAGIC, 8) != 0)
    return gc_status(GRAPHC_STATUS_DATA_LOSS, "not a graphc model description (bad magic)");
  reader r = {bytes + 8, len - 8, false};
  uint32_t format = r_u32(&r), abi = r_u32(&r), env = r_u32(&r);
  if (abi != GRAPHC_ABI_VERSION)
    return gc_status(GRAPHC_STATUS_FAILED_PRECONDITION,
                     "artifact was built for graphc ABI version %u, this libgraphc is ABI version "
                     "%d: recompile the model with this libgraphc", abi, GRAPHC_ABI_VERSION);
  if (env != GC_ENV_VERSION || format != MODEL_FORMAT)
    return gc_status(GRAPHC_STATUS_FAILED_PRECONDITION,
                     "artifact uses kernel environment version %u / description format %u, this "
                     "libgraphc provides %d / %u: recompile the model", env, format,
                     GC_ENV_VERSION, MODEL_FORMAT);
  m->prog = calloc(1, sizeof *m->prog);
  if (m->prog) m->prog->dims = gc_dimtab_new();
  if (!m->prog || !m->prog->dims) {
    gc_model_free(m);
    return GC_OOM();
  }
  graphc_status_t st = parse(&r, m);
  if (st) gc_model_free(m);
  return st;
}
