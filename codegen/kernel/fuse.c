/* Fusion decisions (docs/kernel-ir.md, "Fusion rules").
 *
 * A value is materialised (given a buffer and written by a kernel of its
 * own, its "root" kernel) when it must be: a graph input or output, the
 * result of an op that writes its results itself (cat, cross_entropy,
 * attention), a GEMM result nothing is added to, or a value an earlier
 * attempt found not computable where it is used. Everything else is
 * computed inside the kernels that use it, unless it would be computed
 * by several kernels and is not cheap: then it is materialised too.
 *
 * "Several kernels" is found by propagating, backwards, the root kernel
 * each use ends up in; views and cheap values pass their uses through.
 * Within one kernel a value is computed once per point (expressions are
 * shared), so only uses by different kernels count. Where a value is
 * used inside a kernel but would be recomputed along dims it does not
 * depend on (broadcast), the kernel builder demotes it (lower_emit.c). */
#include <stdlib.h>

#include "kernel/fuse.h"
#include "support/status.h"

enum { ROOT_NONE = -1, ROOT_MULTI = -2 };

static int merge(int a, int b) {
  if (a == ROOT_NONE) return b;
  if (b == ROOT_NONE || a == b) return a;
  return ROOT_MULTI;
}

/* Inlined cost of each value: its op's cost plus that of the operands it
 * computes itself (materialised ones are loads, free). */
static void costs(lower_ctx *L) {
  const lgraph *fg = L->fg;
  for (int v = 0; v < fg->nvals; v++) L->cost[v] = 0;
  for (int i = 0; i < fg->nnodes; i++) {
    const lnode *n = &fg->nodes[i];
    if (!n->op) continue;
    long c = n->op->cost;
    for (int k = 0; k < n->nops; k++)
      if (!L->mat[n->ops[k]]) c += L->cost[n->ops[k]];
    if (c > LOP_COST_INF) c = LOP_COST_INF;
    for (int r = 0; r < n->nres; r++) L->cost[n->res[r]] = (int)c;
  }
}

/* root[v] for values computed inside other kernels. Node-writing ops
 * (GEMM, ROOT) consume their operands in kernels of their own: one root
 * per node, numbered after the values. */
static void roots(lower_ctx *L, int *root) {
  const lgraph *fg = L->fg;
  for (int v = 0; v < fg->nvals; v++) root[v] = ROOT_NONE;
  for (int i = fg->nnodes - 1; i >= 0; i--) {
    const lnode *n = &fg->nodes[i];
    if (!n->op) continue;
    int r = ROOT_NONE;
    if (n->op->kind == LOP_GEMM || n->op->kind == LOP_ROOT) {
      r = fg->nvals + i;
    } else {
      for (int k = 0; k < n->nres; k++) {
        int w = n->res[k];
        if (!L->live[w]) continue;
        r = merge(r, L->mat[w] ? w : root[w]);
      }
    }
    for (int k = 0; k < n->nops; k++) root[n->ops[k]] = merge(root[n->ops[k]], r);
  }
}

graphc_status_t gc_fuse_plan(lower_ctx *L, const bool *forced) {
  const lgraph *fg = L->fg;
  for (int v = 0; v < fg->nvals; v++) {
    const lval *lv = &fg->vals[v];
    L->mat[v] = forced[v] || lv->producer < 0;
    if (lv->producer < 0) continue;
    const lnode *n = &fg->nodes[lv->producer];
    if (!n->op) continue;
    lop_kind k = n->op->kind;
    if (k == LOP_ROOT) L->mat[v] = true;
    if (k == LOP_GEMM && n->nops == 2) L->mat[v] = true; /* the GEMM writes it */
    if (!L->fuse && k != LOP_VIEW) L->mat[v] = true;
  }
  for (int k = 0; k < fg->noutputs; k++) L->mat[fg->outputs[k]] = true;
  int *root = malloc(sizeof *root * (size_t)(fg->nvals + 1));
  if (!root) return GC_OOM();
  for (bool changed = true; changed;) {
    changed = false;
    costs(L);
    roots(L, root);
    for (int v = 0; v < fg->nvals; v++) {
      if (L->mat[v] || !L->live[v] || root[v] != ROOT_MULTI || L->cost[v] <= LOP_CHEAP) continue;
      const lnode *n = &fg->nodes[fg->vals[v].producer];
      if (n->op->kind == LOP_VIEW) continue; /* its source is decided instead */
      L->mat[v] = true;
      changed = true;
    }
  }
  free(root);
  costs(L);
  return NULL;
}
