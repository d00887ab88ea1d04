/* Dtypes, type promotion, broadcasting and attribute getters. */
#include <stdio.h>
#include <string.h>

#include "ir/ir.h"
#include "support/status.h"

static const char *const gc_dtype_names[GRAPHC_DTYPE_COUNT] = {
    "f32", "f64", "f16", "bf16", "i32", "i64", "bool"};
static const size_t gc_dtype_sizes[GRAPHC_DTYPE_COUNT] = {4, 8, 2, 2, 4, 8, 1};

const char *graphc_dtype_name(graphc_dtype_t t) {
  return (unsigned)t < GRAPHC_DTYPE_COUNT ? gc_dtype_names[t] : NULL;
}
size_t graphc_dtype_size(graphc_dtype_t t) {
  return (unsigned)t < GRAPHC_DTYPE_COUNT ? gc_dtype_sizes[t] : 0;
}

const char *graphc_role_name(graphc_role_t r) {
  static const char *const names[] = {"input", "param", "buffer", "symbol"};
  return (unsigned)r < 4 ? names[r] : NULL;
}

bool gc_dtype_parse(const char *s, size_t len, gc_dtype *out) {
  for (int i = 0; i < GRAPHC_DTYPE_COUNT; i++)
    if (strlen(gc_dtype_names[i]) == len && memcmp(gc_dtype_names[i], s, len) == 0) {
      *out = (gc_dtype)i;
      return true;
    }
  return false;
}

bool gc_dtype_is_float(gc_dtype t) {
  return t == GRAPHC_F32 || t == GRAPHC_F64 || t == GRAPHC_F16 || t == GRAPHC_BF16;
}
bool gc_dtype_is_int(gc_dtype t) { return t == GRAPHC_I32 || t == GRAPHC_I64; }

static int category(gc_dtype t) { return t == GRAPHC_BOOL ? 0 : gc_dtype_is_int(t) ? 1 : 2; }

/* Promotion inside and across categories, as torch.promote_types. */
gc_dtype gc_promote2(gc_dtype a, gc_dtype b) {
  if (a == b) return a;
  int ca = category(a), cb = category(b);
  if (ca != cb) return ca > cb ? a : b;
  if (ca == 1) return GRAPHC_I64; /* i32 with i64 */
  /* floats: f16+bf16 -> f32; otherwise the wider one */
  if ((a == GRAPHC_F16 && b == GRAPHC_BF16) || (a == GRAPHC_BF16 && b == GRAPHC_F16))
    return GRAPHC_F32;
  if (a == GRAPHC_F64 || b == GRAPHC_F64) return GRAPHC_F64;
  return GRAPHC_F32;
}

gc_dtype gc_promote_types(const gc_type *const *types, int n) {
  bool have_dim = false, have_zero = false;
  gc_dtype dim_t = GRAPHC_BOOL, zero_t = GRAPHC_BOOL;
  for (int i = 0; i < n; i++) {
    if (types[i]->rank > 0) {
      dim_t = have_dim ? gc_promote2(dim_t, types[i]->dtype) : types[i]->dtype;
      have_dim = true;
    } else {
      zero_t = have_zero ? gc_promote2(zero_t, types[i]->dtype) : types[i]->dtype;
      have_zero = true;
    }
  }
  if (!have_dim) return zero_t;
  if (!have_zero) return dim_t;
  /* A 0-d operand only matters when it is of a higher category; then it
   * decides within that category, like torch.result_type. */
  return category(zero_t) > category(dim_t) ? zero_t : dim_t;
}

bool gc_type_equal(const gc_type *a, const gc_type *b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

void gc_type_format(const gc_dimtab *t, const gc_type *ty, char *buf, size_t cap) {
  if (cap == 0) return;
  size_t n = (size_t)snprintf(buf, cap, "%s[", graphc_dtype_name(ty->dtype) ? graphc_dtype_name(ty->dtype) : "?");
  for (int i = 0; i < ty->rank && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", gc_dim_str(t, ty->dims[i]));
  if (n < cap) snprintf(buf + n, cap - n, "]");
}

graphc_status_t gc_broadcast_shapes(gc_dimtab *t, const gc_type *const *types, int n,
                                    gc_type *out) {
  int rank = 0;
  for (int i = 0; i < n; i++)
    if (types[i]->rank > rank) rank = types[i]->rank;
  gc_dim one;
  GC_TRY(gc_dim_const(t, 1, &one));
  out->rank = rank;
  for (int d = 0; d < rank; d++) {
    gc_dim acc = one;
    for (int i = 0; i < n; i++) {
      int k = d - (rank - types[i]->rank);
      if (k < 0) continue;
      gc_dim x = types[i]->dims[k];
      if (x == acc || x == one) continue;
      if (acc == one) {
        acc = x;
        continue;
      }
      char a[256], b[256];
      gc_type_format(t, types[0], a, sizeof a);
      gc_type_format(t, types[i], b, sizeof b);
      return gc_status(GRAPHC_STATUS_VERIFY_ERROR,
                       "shapes %s and %s do not broadcast (dim %d: %s vs %s)", a, b, d,
                       gc_dim_str(t, acc), gc_dim_str(t, x));
    }
    out->dims[d] = acc;
  }
  return NULL;
}

bool gc_wrap_dim(int64_t d, int rank, int *out) {
  int r = rank > 0 ? rank : 1; /* PyTorch lets 0-d tensors use dim 0/-1 */
  if (d < -r || d >= r) return false;
  *out = (int)(d < 0 ? d + r : d);
  return true;
}

const gc_attr *gc_node_attr(const gc_node *n, const char *name) {
  for (int i = 0; i < n->nattrs; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}
int64_t gc_attr_int(const gc_node *n, const char *name, int64_t dflt) {
  const gc_attr *a = gc_node_attr(n, name);
  return a ? a->i : dflt;
}
double gc_attr_float(const gc_node *n, const char *name, double dflt) {
  const gc_attr *a = gc_node_attr(n, name);
  return a ? a->f : dflt;
}
bool gc_attr_bool(const gc_node *n, const char *name, bool dflt) {
  const gc_attr *a = gc_node_attr(n, name);
  return a ? a->i != 0 : dflt;
}
const char *gc_attr_str(const gc_node *n, const char *name, const char *dflt) {
  const gc_attr *a = gc_node_attr(n, name);
  return a ? a->s : dflt;
}
