/* Model descriptions: signature from a graph, target fields, checks. */
#include "rt/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/status.h"
#include "support/strbuf.h"

static graphc_status_t sig_from_value(const gc_graph *g, int id, kir_program *p,
                                      gc_sig_value *out) {
  const gc_value *v = &g->values[id];
  out->name = gc_strdup(v->name ? v->name : "");
  if (!out->name) return GC_OOM();
  out->role = v->producer < 0 ? v->role : GRAPHC_ROLE_INPUT;
  out->dtype = v->type.dtype;
  out->rank = v->type.rank;
  for (int d = 0; d < v->type.rank; d++) {
    const char *text = gc_dim_str(gc_graph_dims(g), v->type.dims[d]);
    size_t used = 0;
    graphc_status_t st = gc_dim_parse(p->dims, text, strlen(text), false, &out->dims[d], &used);
    if (!st && used != strlen(text))
      st = gc_status(GRAPHC_STATUS_INTERNAL, "dim text '%s' did not re-parse whole", text);
    if (st) return gc_status_wrap(st, "value '%s' dim %d", out->name, d);
  }
  return NULL;
}

graphc_status_t gc_model_from_graph(const gc_graph *g, kir_program *prog, gc_model *out) {
  memset(out, 0, sizeof *out);
  out->prog = prog;
  if (!prog->dims) {
    gc_model_free(out);
    return gc_status(GRAPHC_STATUS_INTERNAL, "lowered program has no dim table");
  }
  out->name = gc_strdup(g->name ? g->name : "graph");
  out->cpu = gc_strdup("");
  out->features = gc_strdup("");
  out->symbol_prefix = gc_strdup("");
  out->inputs = calloc((size_t)g->ninputs + 1, sizeof *out->inputs);
  out->outputs = calloc((size_t)g->noutputs + 1, sizeof *out->outputs);
  graphc_status_t st = NULL;
  if (!out->name || !out->cpu || !out->features || !out->symbol_prefix || !out->inputs ||
      !out->outputs)
    st = GC_OOM();
  for (int i = 0; !st && i < g->ninputs; i++, out->ninputs++)
    st = sig_from_value(g, g->inputs[i], prog, &out->inputs[i]);
  for (int i = 0; !st && i < g->noutputs; i++, out->noutputs++)
    st = sig_from_value(g, g->outputs[i], prog, &out->outputs[i]);
  if (!st) st = gc_model_check(out);
  if (st) gc_model_free(out);
  return st;
}

static graphc_status_t replace(char **field, const char *value) {
  if (!value) return NULL;
  char *c = gc_strdup(value);
  if (!c) return GC_OOM();
  free(*field);
  *field = c;
  return NULL;
}

graphc_status_t gc_model_set_target(gc_model *m, const char *cpu, const char *features,
                                    const char *symbol_prefix) {
  GC_TRY(replace(&m->cpu, cpu));
  GC_TRY(replace(&m->features, features));
  return replace(&m->symbol_prefix, symbol_prefix);
}

void gc_model_free(gc_model *m) {
  if (!m) return;
  if (m->prog) {
    kir_program_free(m->prog);
    free(m->prog);
  }
  for (int i = 0; m->inputs && i < m->ninputs; i++) free(m->inputs[i].name);
  for (int i = 0; m->outputs && i < m->noutputs; i++) free(m->outputs[i].name);
  free(m->inputs);
  free(m->outputs);
  free(m->name);
  free(m->cpu);
  free(m->features);
  free(m->symbol_prefix);
  memset(m, 0, sizeof *m);
}

void gc_sig_format(const gc_model *m, const gc_sig_value *v, char *buf, size_t cap) {
  gc_strbuf sb = {0};
  gc_sb_printf(&sb, "%s[", graphc_dtype_name(v->dtype) ? graphc_dtype_name(v->dtype) : "?");
  for (int d = 0; d < v->rank; d++)
    gc_sb_printf(&sb, "%s%s", d ? ", " : "", gc_dim_str(m->prog->dims, v->dims[d]));
  gc_sb_append(&sb, "]");
  snprintf(buf, cap, "%s", sb.data && !sb.oom ? sb.data : "?");
  gc_sb_free(&sb);
}

static graphc_status_t bad(const char *fmt, int a, int b) {
  char msg[256];
  snprintf(msg, sizeof msg, fmt, a, b);
  return gc_status(GRAPHC_STATUS_INTERNAL, "compiled program: %s", msg);
}

static bool size_ok(const kir_program *p, int id, bool minus_one_ok) {
  return (minus_one_ok && id == -1) || (id >= 0 && id < p->nsizes);
}

static graphc_status_t check_steps(const gc_model *m) {
  const kir_program *p = m->prog;
  for (int s = 0; s < p->nsteps; s++) {
    const kir_step *st = &p->steps[s];
    if (st->kind == KIR_STEP_GEMM) {
      const kir_gemm *g = &st->gemm;
      if (g->dtype != GRAPHC_F32 && g->dtype != GRAPHC_F64) return bad("step %d: gemm dtype %d", s, g->dtype);
      int bufs[3] = {g->a, g->b, g->c};
      for (int i = 0; i < 3; i++)
        if (bufs[i] < 0 || bufs[i] >= p->nbuffers || p->buffers[bufs[i]].dtype != g->dtype)
          return bad("step %d: gemm operand buffer %d", s, bufs[i]);
      int need[6] = {g->m, g->n, g->k, g->lda, g->ldb, g->ldc};
      for (int i = 0; i < 6; i++)
        if (!size_ok(p, need[i], false)) return bad("step %d: gemm size id %d", s, need[i]);
      int opt[4] = {g->batch, g->stride_a, g->stride_b, g->stride_c};
      for (int i = 0; i < 4; i++)
        if (!size_ok(p, opt[i], true)) return bad("step %d: gemm size id %d", s, opt[i]);
      if (g->epilogue < -1 || g->epilogue >= p->nkernels) return bad("step %d: epilogue %d", s, g->epilogue);
    } else if (st->kind == KIR_STEP_COPY) {
      if (st->src < 0 || st->src >= p->nbuffers || st->dst < 0 || st->dst >= p->nbuffers)
        return bad("step %d: copy buffers (%d)", s, st->src);
      if (p->buffers[st->src].dtype != p->buffers[st->dst].dtype)
        return bad("step %d: copy changes dtype (%d)", s, p->buffers[st->dst].dtype);
      if (!size_ok(p, st->count, false)) return bad("step %d: copy count id %d", s, st->count);
    } else if (st->kind == KIR_STEP_CHECK) {
      if (st->src < 0 || st->src >= p->nbuffers || p->buffers[st->src].dtype != GRAPHC_I64)
        return bad("step %d: check flag buffer %d", s, st->src);
      if (!memchr(st->message, 0, sizeof st->message)) return bad("step %d: check message (%d)", s, 0);
    } else if (st->kind != KIR_STEP_KERNEL) {
      return bad("step %d: kind %d", s, st->kind);
    }
  }
  return NULL;
}

graphc_status_t gc_model_check(const gc_model *m) {
  const kir_program *p = m->prog;
  if (!p || !p->dims) return bad("no program (%d%d)", 0, 0);
  if (p->ninputs != m->ninputs || p->noutputs != m->noutputs)
    return bad("program has %d inputs/outputs, signature %d", p->ninputs + p->noutputs,
               m->ninputs + m->noutputs);
  if (p->nsyms < 0 || p->nsyms > gc_dimtab_num_syms(p->dims) || (p->nsyms && !p->symsrc))
    return bad("symbol count %d of %d", p->nsyms, gc_dimtab_num_syms(p->dims));
  for (int i = 0; i < p->nsizes; i++)
    if (!gc_dim_valid(p->dims, p->sizes[i])) return bad("size %d is not a valid dim (%d)", i, p->sizes[i]);
  for (int i = 0; i < m->ninputs + m->noutputs; i++) {
    const gc_sig_value *v = i < m->ninputs ? &m->inputs[i] : &m->outputs[i - m->ninputs];
    if (!graphc_dtype_name(v->dtype) || v->rank < 0 || v->rank > GRAPHC_MAX_RANK)
      return bad("signature value %d dtype/rank (%d)", i, v->rank);
    for (int d = 0; d < v->rank; d++)
      if (!gc_dim_valid(p->dims, v->dims[d])) return bad("signature value %d dim %d", i, d);
  }
  int *out_bufs = calloc((size_t)m->noutputs + 1, sizeof *out_bufs);
  if (!out_bufs) return GC_OOM();
  graphc_status_t st = NULL;
  for (int b = 0; !st && b < p->nbuffers; b++) {
    const kir_buffer *buf = &p->buffers[b];
    if (!graphc_dtype_name(buf->dtype)) st = bad("buffer %d dtype %d", b, buf->dtype);
    else if (buf->role == KIR_BUF_INPUT &&
             (buf->index < 0 || buf->index >= m->ninputs || m->inputs[buf->index].dtype != buf->dtype))
      st = bad("buffer %d: input index %d or dtype", b, buf->index);
    else if (buf->role == KIR_BUF_OUTPUT &&
             (buf->index < 0 || buf->index >= m->noutputs || m->outputs[buf->index].dtype != buf->dtype ||
              out_bufs[buf->index]++))
      st = bad("buffer %d: output index %d, dtype or duplicate", b, buf->index);
    else if (buf->role != KIR_BUF_INPUT && buf->role != KIR_BUF_OUTPUT && buf->role != KIR_BUF_TEMP)
      st = bad("buffer %d role %d", b, buf->role);
    else if (buf->rank < 0 || buf->rank > KIR_MAX_DIMS) st = bad("buffer %d rank %d", b, buf->rank);
    else if (buf->inplace && (buf->inplace_src < 0 || buf->inplace_src >= p->nbuffers ||
                              p->buffers[buf->inplace_src].role != KIR_BUF_TEMP))
      st = bad("buffer %d in place of %d", b, buf->inplace_src);
    for (int d = 0; !st && d < buf->rank; d++)
      if (!size_ok(p, buf->shape[d], false)) st = bad("buffer %d shape size id %d", b, buf->shape[d]);
  }
  for (int o = 0; !st && o < m->noutputs; o++)
    if (!out_bufs[o]) st = bad("output %d has no buffer (%d)", o, 0);
  free(out_bufs);
  GC_TRY(st);
  for (int s = 0; s < p->nsyms; s++) {
    const struct kir_symsrc *src = &p->symsrc[s];
    if (src->kind == 0 && (src->input < 0 || src->input >= m->ninputs || src->dim < 0 ||
                           src->dim >= m->inputs[src->input].rank))
      return bad("symbol %d bound to a bad input dim (%d)", s, src->input);
    if (src->kind == 1 && (src->input < 0 || src->input >= m->ninputs ||
                           m->inputs[src->input].role != GRAPHC_ROLE_SYMBOL))
      return bad("symbol %d bound to a bad symbol input (%d)", s, src->input);
    if (src->kind < 0 || src->kind > 2) return bad("symbol %d source kind %d", s, src->kind);
  }
  /* A size over a data-dependent symbol cannot be evaluated before the
   * run; say so at compile time rather than mid-run. */
  for (int i = 0; i < p->nsizes; i++) {
    int syms[16];
    int n = gc_dim_syms(p->dims, p->sizes[i], syms, 16);
    for (int k = 0; k < n && k < 16; k++)
      if (syms[k] >= p->nsyms || p->symsrc[syms[k]].kind == 2)
        return gc_status(GRAPHC_STATUS_UNIMPLEMENTED,
                         "size '%s' depends on symbol '%s', which is data-dependent (unbacked); "
                         "compiled backends need every size known from input shapes",
                         gc_dim_str(p->dims, p->sizes[i]), gc_dimtab_sym_name(p->dims, syms[k]));
  }
  GC_TRY(check_steps(m));
  return kir_program_verify(p);
}
