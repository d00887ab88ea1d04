/* Running a split graph piece by piece through the reference interpreter,
 * wiring each piece's inputs from the graph's inputs, earlier pieces'
 * outputs, or (for a backed symbol) an input's shape; and small queries on
 * what symbols a piece takes in and gives out. */
#include <stdlib.h>
#include <string.h>

#include "dist/graph_split.h"
#include "interp/interp_internal.h"
#include "support/status.h"

int gc_split_num_syms_in(const gc_split_piece *p) {
  int n = 0;
  for (int i = 0; i < p->graph->ninputs; i++)
    n += p->graph->values[p->graph->inputs[i]].role == GRAPHC_ROLE_SYMBOL;
  return n;
}

const char *gc_split_sym_in(const gc_split_piece *p, int k) {
  for (int i = 0; i < p->graph->ninputs; i++) {
    const gc_value *v = &p->graph->values[p->graph->inputs[i]];
    if (v->role == GRAPHC_ROLE_SYMBOL && k-- == 0) return v->name;
  }
  return NULL;
}

int gc_split_num_syms_out(const gc_split_piece *p) {
  int n = 0;
  for (int i = 0; i < p->graph->noutputs; i++) n += p->graph->values[p->graph->outputs[i]].sym >= 0;
  return n;
}

const char *gc_split_sym_out(const gc_split_piece *p, int k) {
  for (int i = 0; i < p->graph->noutputs; i++) {
    const gc_value *v = &p->graph->values[p->graph->outputs[i]];
    if (v->sym >= 0 && k-- == 0) return v->name;
  }
  return NULL;
}

/* The tensor a source names; FROM_SHAPE builds a new i64[] in *tmp. */
static graphc_status_t fetch(const gc_split *s, gc_tensor *const *pout, const gc_tensor *inputs,
                             gc_split_src src, gc_tensor *tmp, const gc_tensor **out) {
  switch (src.kind) {
  case GC_SPLIT_FROM_INPUT:
    if (src.index < 0 || src.index >= s->ninputs) break;
    *out = &inputs[src.index];
    return NULL;
  case GC_SPLIT_FROM_PIECE:
    if (src.index < 0 || src.index >= s->npieces || !pout[src.index] || src.k < 0 ||
        src.k >= s->pieces[src.index].graph->noutputs)
      break;
    *out = &pout[src.index][src.k];
    return NULL;
  case GC_SPLIT_FROM_SHAPE: {
    if (!tmp || src.index < 0 || src.index >= s->ninputs || src.k < 0 ||
        src.k >= inputs[src.index].rank)
      break;
    GC_TRY(gc_tensor_alloc(tmp, GRAPHC_I64, 0, NULL, 0));
    gc_tensor_seti(tmp, 0, inputs[src.index].shape[src.k]);
    *out = tmp;
    return NULL;
  }
  }
  return gc_status(GRAPHC_STATUS_INTERNAL, "split run: bad source (kind %d, %d, %d)",
                   (int)src.kind, src.index, src.k);
}

static graphc_status_t run_piece(const gc_split *s, int p, uint64_t max_bytes,
                                 gc_tensor **pout, const gc_tensor *inputs) {
  const gc_split_piece *sp = &s->pieces[p];
  int n = sp->graph->ninputs;
  gc_tensor *in = calloc((size_t)n + 1, sizeof *in);
  gc_tensor *tmp = calloc((size_t)n + 1, sizeof *tmp);
  pout[p] = calloc((size_t)sp->graph->noutputs + 1, sizeof **pout);
  graphc_status_t st = (!in || !tmp || !pout[p]) ? GC_OOM() : NULL;
  for (int i = 0; !st && i < n; i++) {
    const gc_tensor *t = NULL;
    st = fetch(s, pout, inputs, sp->in_src[i], &tmp[i], &t);
    if (!st) in[i] = *t; /* shallow: borrowed for the run */
  }
  if (!st) st = gc_interp_run_tensors(sp->graph, max_bytes, in, n, pout[p]);
  if (st) {
    st = gc_status_wrap(st, "split run: piece %d ('%s')", p, sp->graph->name);
    free(pout[p]); /* the interpreter hands out nothing on failure */
    pout[p] = NULL;
  }
  for (int i = 0; tmp && i < n; i++) gc_tensor_free(&tmp[i]);
  free(tmp);
  free(in);
  return st;
}

graphc_status_t gc_split_run_interp(const gc_split *s, uint64_t max_bytes,
                                    const gc_tensor *inputs, int ninputs, gc_tensor *outputs) {
  if (!s || (ninputs && !inputs) || (s->noutputs && !outputs))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "split run: NULL argument");
  if (ninputs != s->ninputs)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "split run: the graph takes %d inputs, got %d",
                     s->ninputs, ninputs);
  gc_tensor **pout = calloc((size_t)s->npieces + 1, sizeof *pout);
  if (!pout) return GC_OOM();
  graphc_status_t st = NULL;
  for (int p = 0; !st && p < s->npieces; p++) st = run_piece(s, p, max_bytes, pout, inputs);
  int done = 0;
  for (; !st && done < s->noutputs; done++) {
    const gc_tensor *t = NULL;
    st = fetch(s, pout, inputs, s->out_src[done], NULL, &t);
    if (!st) st = gc_tensor_clone(t, &outputs[done]);
  }
  if (st)
    for (int k = 0; k < done - 1; k++) gc_tensor_free(&outputs[k]);
  for (int p = 0; p < s->npieces; p++) {
    if (!pout[p]) continue;
    for (int k = 0; k < s->pieces[p].graph->noutputs; k++) gc_tensor_free(&pout[p][k]);
    free(pout[p]);
  }
  free(pout);
  return st;
}
