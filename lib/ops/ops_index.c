/* Indexing and data-dependent sizes: index_select, gather, embedding,
 * nonzero, item.
 *
 * Index values are only known at run time, so an out-of-range index is an
 * eval error (OUT_OF_RANGE), never undefined behaviour. nonzero and item
 * define unbacked symbols: infer creates the symbol, eval binds it. */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "ir/op.h"
#include "ops/ops_common.h"
#include "support/status.h"

#define TYPE_BUF 256

static void type_str(const gc_infer_ctx *ic, const gc_type *t, char *buf, size_t cap) {
  gc_type_format(gc_infer_dims(ic), t, buf, cap);
}

static bool is_const_val(const gc_dimtab *t, gc_dim d, int64_t want) {
  int64_t v;
  return gc_dim_is_const(t, d, &v) && v == want;
}


static graphc_status_t wrap_attr_dim(const gc_infer_ctx *ic, const char *name, int64_t d, int rank,
                                     int *out) {
  if (gc_wrap_dim(d, rank, out)) return NULL;
  int r = rank > 0 ? rank : 1;
  return gc_infer_error(ic, "%s=%" PRId64 " is out of range for a rank-%d tensor (expected %d..%d)",
                        name, d, rank, -r, r - 1);
}

/* Operand `i` named `name` must have an integer (i32/i64) dtype. */
static graphc_status_t need_int_index(const gc_infer_ctx *ic, int i, const char *name) {
  const gc_type *t = gc_infer_operand(ic, i);
  if (gc_dtype_is_int(t->dtype)) return NULL;
  char buf[TYPE_BUF];
  type_str(ic, t, buf, sizeof buf);
  return gc_infer_error(ic, "operand %d (%s): expected an i32 or i64 tensor, got %s", i, name, buf);
}

static void copy_elem(gc_tensor *out, int64_t oi, const gc_tensor *in, int64_t ii) {
  size_t es = graphc_dtype_size(in->dtype);
  memcpy((char *)out->data + (size_t)oi * es, (const char *)in->data + (size_t)ii * es, es);
}

static graphc_status_t index_error(gc_eval_ctx *ec, const char *what, int64_t v, int64_t size) {
  return gc_eval_error(ec, GRAPHC_STATUS_OUT_OF_RANGE,
                       "%s %" PRId64 " is out of range for a dim of size %" PRId64, what, v, size);
}

/* ---- index_select ------------------------------------------------------- */

static graphc_status_t infer_index_select(gc_infer_ctx *ic) {
  const gc_type *x = gc_infer_operand(ic, 0), *idx = gc_infer_operand(ic, 1);
  char buf[TYPE_BUF];
  GC_TRY(need_int_index(ic, 1, "index"));
  if (idx->rank != 1) {
    type_str(ic, idx, buf, sizeof buf);
    return gc_infer_error(ic, "operand 1 (index): expected rank 1, got %s", buf);
  }
  if (x->rank == 0) {
    type_str(ic, x, buf, sizeof buf);
    return gc_infer_error(ic, "operand 0 (x): expected rank >= 1, got %s", buf);
  }
  int d;
  GC_TRY(wrap_attr_dim(ic, "dim", gc_attr_int(ic->node, "dim", 0), x->rank, &d));
  ic->out[0] = *x;
  ic->out[0].dims[d] = idx->dims[0];
  return NULL;
}

static graphc_status_t eval_index_select(gc_eval_ctx *ec, const gc_node *n,
                                         const gc_tensor *const *in, gc_tensor *out) {
  const gc_tensor *x = in[0], *idx = in[1];
  int d = 0;
  gc_wrap_dim(gc_attr_int(n, "dim", 0), x->rank, &d);
  int64_t st[GC_MAX_RANK], coord[GC_MAX_RANK];
  gc_strides(x->shape, x->rank, st);
  for (int64_t k = 0; k < idx->numel; k++) {
    int64_t v = gc_tensor_geti(idx, k);
    if (v < 0 || v >= x->shape[d]) return index_error(ec, "index", v, x->shape[d]);
  }
  for (int64_t i = 0; i < out[0].numel; i++) {
    gc_unravel(i, out[0].shape, out[0].rank, coord);
    coord[d] = gc_tensor_geti(idx, coord[d]);
    int64_t src = 0;
    for (int k = 0; k < x->rank; k++) src += coord[k] * st[k];
    copy_elem(&out[0], i, x, src);
  }
  return NULL;
}

/* ---- gather ------------------------------------------------------------- */

static graphc_status_t infer_gather(gc_infer_ctx *ic) {
  gc_dimtab *t = gc_infer_dims(ic);
  const gc_type *x = gc_infer_operand(ic, 0), *idx = gc_infer_operand(ic, 1);
  char xs[TYPE_BUF], is[TYPE_BUF];
  type_str(ic, x, xs, sizeof xs);
  type_str(ic, idx, is, sizeof is);
  GC_TRY(need_int_index(ic, 1, "index"));
  if (idx->rank != x->rank)
    return gc_infer_error(ic, "operand 1 (index): expected rank %d (as operand 0 (x): %s), got %s",
                          x->rank, xs, is);
  int d;
  GC_TRY(wrap_attr_dim(ic, "dim", gc_attr_int(ic->node, "dim", 0), x->rank, &d));
  for (int i = 0; i < x->rank; i++) {
    if (i == d || idx->dims[i] == x->dims[i]) continue;
    int64_t a, b;
    bool fits = gc_dim_is_const(t, idx->dims[i], &a) && gc_dim_is_const(t, x->dims[i], &b) &&
                a <= b;
    if (!fits)
      return gc_infer_error(ic, "operand 1 (index) %s: size %s at dim %d must be provably <= the "
                            "size %s of operand 0 (x) %s", is, gc_dim_str(t, idx->dims[i]), i,
                            gc_dim_str(t, x->dims[i]), xs);
  }
  ic->out[0] = *idx;
  ic->out[0].dtype = x->dtype;
  return NULL;
}

static graphc_status_t eval_gather(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                   gc_tensor *out) {
  const gc_tensor *x = in[0], *idx = in[1];
  int d = 0;
  gc_wrap_dim(gc_attr_int(n, "dim", 0), x->rank, &d);
  int64_t size = x->rank ? x->shape[d] : 1;
  int64_t st[GC_MAX_RANK], coord[GC_MAX_RANK];
  gc_strides(x->shape, x->rank, st);
  for (int64_t i = 0; i < out[0].numel; i++) {
    int64_t v = gc_tensor_geti(idx, i);
    if (v < 0 || v >= size) return index_error(ec, "index", v, size);
    gc_unravel(i, idx->shape, idx->rank, coord);
    if (x->rank) coord[d] = v;
    int64_t src = 0;
    for (int k = 0; k < x->rank; k++) src += coord[k] * st[k];
    copy_elem(&out[0], i, x, src);
  }
  return NULL;
}

/* ---- embedding ---------------------------------------------------------- */

static graphc_status_t infer_embedding(gc_infer_ctx *ic) {
  const gc_type *idx = gc_infer_operand(ic, 0), *w = gc_infer_operand(ic, 1);
  char buf[TYPE_BUF];
  GC_TRY(need_int_index(ic, 0, "indices"));
  if (w->rank != 2) {
    type_str(ic, w, buf, sizeof buf);
    return gc_infer_error(ic, "operand 1 (weight): expected rank 2, got %s", buf);
  }
  if (idx->rank + 1 > GC_MAX_RANK) {
    type_str(ic, idx, buf, sizeof buf);
    return gc_infer_error(ic, "operand 0 (indices): expected rank <= %d, got %s", GC_MAX_RANK - 1,
                          buf);
  }
  gc_type *out = &ic->out[0];
  *out = *idx;
  out->dtype = w->dtype;
  out->dims[out->rank++] = w->dims[1];
  return NULL;
}

static graphc_status_t eval_embedding(gc_eval_ctx *ec, const gc_node *n,
                                      const gc_tensor *const *in, gc_tensor *out) {
  (void)n;
  const gc_tensor *idx = in[0], *w = in[1];
  int64_t rows = w->shape[0], width = w->shape[1];
  size_t es = graphc_dtype_size(w->dtype);
  for (int64_t i = 0; i < idx->numel; i++) {
    int64_t v = gc_tensor_geti(idx, i);
    if (v < 0 || v >= rows) return index_error(ec, "embedding index", v, rows);
    if (width)
      memcpy((char *)out[0].data + (size_t)(i * width) * es,
             (const char *)w->data + (size_t)(v * width) * es, (size_t)width * es);
  }
  return NULL;
}

/* ---- nonzero / item ------------------------------------------------------ */

static bool elem_nonzero(const gc_tensor *t, int64_t i) {
  return gc_dtype_is_float(t->dtype) ? gc_tensor_getf(t, i) != 0.0 : gc_tensor_geti(t, i) != 0;
}

/* The unbacked symbol that result `k` of node `n` defines. */
static graphc_status_t result_symbol(gc_eval_ctx *ec, const gc_node *n, int k, int *sym) {
  const gc_graph *g = gc_eval_graph(ec);
  *sym = g->values[n->results[k]].sym;
  if (*sym < 0)
    return gc_eval_error(ec, GRAPHC_STATUS_INTERNAL, "result %d defines no symbol", k);
  return NULL;
}

/* A result the op binds the size of comes unallocated; others come
 * allocated. Allocate only what is missing. */
static graphc_status_t ensure_alloc(gc_eval_ctx *ec, gc_tensor *t, gc_dtype dtype, int rank,
                                    const int64_t *shape) {
  return t->data ? NULL : gc_eval_alloc(ec, t, dtype, rank, shape);
}

static graphc_status_t infer_nonzero(gc_infer_ctx *ic) {
  gc_dimtab *t = gc_infer_dims(ic);
  const gc_type *x = gc_infer_operand(ic, 0);
  ic->out[1] = (gc_type){.dtype = GRAPHC_I64, .rank = 0};
  int sym;
  GC_TRY(gc_infer_unbacked(ic, 1, &sym));
  gc_type *out = &ic->out[0];
  *out = (gc_type){.dtype = GRAPHC_I64, .rank = 2};
  DIM_TRY(ic, gc_dim_sym(t, sym, &out->dims[0]));
  DIM_TRY(ic, gc_dim_const(t, x->rank, &out->dims[1]));
  return NULL;
}

static graphc_status_t eval_nonzero(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                    gc_tensor *out) {
  const gc_tensor *x = in[0];
  int64_t count = 0;
  for (int64_t i = 0; i < x->numel; i++) count += elem_nonzero(x, i);
  int sym;
  GC_TRY(result_symbol(ec, n, 1, &sym));
  GC_TRY(gc_eval_bind_symbol(ec, sym, count));
  int64_t shape[2] = {count, x->rank};
  GC_TRY(ensure_alloc(ec, &out[0], GRAPHC_I64, 2, shape));
  GC_TRY(ensure_alloc(ec, &out[1], GRAPHC_I64, 0, NULL));
  int64_t coord[GC_MAX_RANK], row = 0;
  for (int64_t i = 0; i < x->numel; i++) {
    if (!elem_nonzero(x, i)) continue;
    gc_unravel(i, x->shape, x->rank, coord);
    for (int k = 0; k < x->rank; k++) gc_tensor_seti(&out[0], row * x->rank + k, coord[k]);
    row++;
  }
  gc_tensor_seti(&out[1], 0, count);
  return NULL;
}

static graphc_status_t infer_item(gc_infer_ctx *ic) {
  gc_dimtab *t = gc_infer_dims(ic);
  const gc_type *x = gc_infer_operand(ic, 0);
  char buf[TYPE_BUF];
  type_str(ic, x, buf, sizeof buf);
  if (!gc_dtype_is_int(x->dtype) && x->dtype != GRAPHC_BOOL)
    return gc_infer_error(ic, "operand 0 (x): expected an integer or bool tensor, got %s", buf);
  for (int i = 0; i < x->rank; i++)
    if (!is_const_val(t, x->dims[i], 1))
      return gc_infer_error(ic, "operand 0 (x): expected exactly one element (every dim 1), got %s",
                            buf);
  ic->out[0] = (gc_type){.dtype = GRAPHC_I64, .rank = 0};
  int sym;
  return gc_infer_unbacked(ic, 0, &sym);
}

static graphc_status_t eval_item(gc_eval_ctx *ec, const gc_node *n, const gc_tensor *const *in,
                                 gc_tensor *out) {
  int64_t v = gc_tensor_geti(in[0], 0);
  int sym;
  GC_TRY(result_symbol(ec, n, 0, &sym));
  GC_TRY(gc_eval_bind_symbol(ec, sym, v));
  GC_TRY(ensure_alloc(ec, &out[0], GRAPHC_I64, 0, NULL));
  gc_tensor_seti(&out[0], 0, v);
  return NULL;
}

/* ---- table --------------------------------------------------------------- */

const gc_op_info gc_ops_index[] = {
    {.name = "index_select", .min_operands = 2, .max_operands = 2, .nresults = 1,
     .attrs = {{"dim", GRAPHC_ATTR_INT, true}},
     .doc = "picks the entries index[k] of x along dim",
     .infer = infer_index_select, .eval = eval_index_select},
    {.name = "gather", .min_operands = 2, .max_operands = 2, .nresults = 1,
     .attrs = {{"dim", GRAPHC_ATTR_INT, true}},
     .doc = "out[i][j] = x[index[i][j]][j] (dim 0), as torch.gather",
     .infer = infer_gather, .eval = eval_gather},
    {.name = "embedding", .min_operands = 2, .max_operands = 2, .nresults = 1,
     .doc = "rows of weight[V, D] picked by integer indices: [..., D]",
     .infer = infer_embedding, .eval = eval_embedding},
    {.name = "nonzero", .min_operands = 1, .max_operands = 1, .nresults = 2,
     .flags = GC_OPF_DATA_DEPENDENT,
     .doc = "coordinates of the non-zero elements of x, i64[u, rank], and their count u",
     .infer = infer_nonzero, .eval = eval_nonzero},
    {.name = "item", .min_operands = 1, .max_operands = 1, .nresults = 1,
     .flags = GC_OPF_DATA_DEPENDENT,
     .doc = "the single integer of x as an i64[] that defines an unbacked symbol",
     .infer = infer_item, .eval = eval_item},
    {0},
};
