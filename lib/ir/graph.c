/* Graph construction and verification. Every node is type-checked by its
 * op's infer function as it is added, so a graph in memory is well-typed;
 * gc_graph_verify re-checks a whole graph (after passes rewrite it). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/context.h"
#include "ir/op.h"
#include "support/status.h"
#include "support/strbuf.h"
#include "support/vec.h"

graphc_status_t gc_graph_new(struct graphc_context_s *ctx, const char *name,
                             gc_graph *parent, gc_graph **out) {
  *out = NULL;
  GC_TRY(gc_context_check(ctx));
  gc_graph *g = calloc(1, sizeof *g);
  if (!g) return GC_OOM();
  g->magic = GC_GRAPH_MAGIC;
  g->ctx = ctx;
  g->parent = parent;
  g->name = gc_strdup(name ? name : "graph");
  if (!parent) g->dims = gc_dimtab_new();
  if (!g->name || (!parent && !g->dims)) {
    free(g->name);
    gc_dimtab_free(g->dims);
    free(g);
    return GC_OOM();
  }
  graphc_status_t st = gc_context_track(ctx, g);
  if (st) {
    free(g->name);
    gc_dimtab_free(g->dims);
    free(g);
    return st;
  }
  *out = g;
  return NULL;
}

static void free_attr(gc_attr *a) {
  free(a->name);
  free(a->s);
  free(a->ints);
  free(a->dims);
}

void gc_graph_destroy(gc_graph *g) {
  if (!g || g->magic != GC_GRAPH_MAGIC) return;
  for (int i = 0; i < g->nnodes; i++) {
    gc_node *n = &g->nodes[i];
    free(n->operands);
    free(n->results);
    for (int a = 0; a < n->nattrs; a++) free_attr(&n->attrs[a]);
    free(n->attrs);
    for (int r = 0; r < n->nregions; r++) gc_graph_destroy(n->regions[r]);
    free(n->regions);
  }
  for (int i = 0; i < g->nvalues; i++) free(g->values[i].name);
  free(g->values);
  free(g->nodes);
  free(g->inputs);
  free(g->outputs);
  free(g->name_slots);
  free(g->name);
  free(g->file);
  gc_dimtab_free(g->dims);
  free(g->symbinds);
  /* The header stays with the context as a tombstone. */
  struct graphc_context_s *ctx = g->ctx;
  memset(g, 0, sizeof *g);
  g->magic = GC_GRAPH_DEAD;
  g->ctx = ctx;
}

graphc_status_t gc_graph_check(const gc_graph *g) {
  if (!g) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graph is NULL");
  for (const gc_graph *p = g; p; p = p->parent)
    if (p->magic != GC_GRAPH_MAGIC)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                       p == g ? "graph handle was released" : "graph's parent was released");
  return NULL;
}

void gc_loc_format(const gc_graph *g, gc_loc loc, char *buf, size_t cap) {
  const gc_graph *root = gc_graph_root(g);
  if (loc.line > 0)
    snprintf(buf, cap, "%s:%d:%d", root->file ? root->file : "<input>", loc.line, loc.col);
  else
    snprintf(buf, cap, "graph '%s'", root->name);
}

/* Value names are looked up once per operand and result while parsing, so
 * they get a hash index: linear probing over value ids + 1 (0 = empty). */
static uint32_t name_hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static void index_put(gc_graph *g, int v) {
  uint32_t mask = (uint32_t)g->name_cap - 1, i = name_hash(g->values[v].name) & mask;
  while (g->name_slots[i]) i = (i + 1) & mask;
  g->name_slots[i] = v + 1;
}

/* Rebuilds the index for the current values (after growth or rollback). */
static graphc_status_t index_rebuild(gc_graph *g, int want) {
  int cap = g->name_cap ? g->name_cap : 16;
  while (cap < 2 * want) cap *= 2;
  int *slots = calloc((size_t)cap, sizeof *slots);
  if (!slots) return GC_OOM();
  free(g->name_slots);
  g->name_slots = slots;
  g->name_cap = cap;
  for (int v = 0; v < g->nvalues; v++) index_put(g, v);
  return NULL;
}

int gc_graph_find_value(const gc_graph *g, const char *name) {
  if (!g->name_cap) return -1;
  uint32_t mask = (uint32_t)g->name_cap - 1, i = name_hash(name) & mask;
  for (int s; (s = g->name_slots[i]); i = (i + 1) & mask)
    if (strcmp(g->values[s - 1].name, name) == 0) return s - 1;
  return -1;
}

static bool is_identifier(const char *s) {
  if (!s || !(isalpha((unsigned char)*s) || *s == '_')) return false;
  for (s++; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return false;
  return true;
}

static bool valid_value_name(const char *s) {
  if (!s || !*s) return false;
  for (; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '.')) return false;
  return true;
}

/* --- symbols ------------------------------------------------------------- */

const gc_symbind *gc_graph_symbind(const gc_graph *g, int sym) {
  const gc_graph *root = gc_graph_root(g);
  static const gc_symbind unbound = {GC_SYM_UNBOUND, -1, -1};
  if (sym < 0 || sym >= root->capsymbinds) return &unbound;
  return &root->symbinds[sym];
}

static graphc_status_t ensure_symbinds(gc_graph *root) {
  int n = gc_dimtab_num_syms(root->dims);
  if (n <= root->capsymbinds) return NULL;
  int cap = n + 8;
  gc_symbind *p = realloc(root->symbinds, (size_t)cap * sizeof *p);
  if (!p) return GC_OOM();
  for (int i = root->capsymbinds; i < cap; i++) p[i] = (gc_symbind){GC_SYM_UNBOUND, -1, -1};
  root->symbinds = p;
  root->capsymbinds = cap;
  return NULL;
}

static graphc_status_t bind_symbol(gc_graph *root, int sym, gc_symkind kind, int value,
                                   int dim) {
  GC_TRY(ensure_symbinds(root));
  root->symbinds[sym] = (gc_symbind){kind, value, dim};
  return NULL;
}

static graphc_status_t check_type(const gc_graph *g, const gc_type *t, const char *what) {
  if ((unsigned)t->dtype >= GRAPHC_DTYPE_COUNT)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: invalid dtype %d", what, (int)t->dtype);
  if (t->rank < 0 || t->rank > GC_MAX_RANK)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: rank %d outside 0..%d", what,
                     t->rank, GC_MAX_RANK);
  for (int i = 0; i < t->rank; i++)
    if (!gc_dim_valid(gc_graph_dims(g), t->dims[i]))
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: dim %d is not a dim of this graph",
                       what, i);
  /* A constant size whose byte count overflows can never be allocated. */
  int64_t bytes = (int64_t)graphc_dtype_size(t->dtype), v;
  for (int i = 0; i < t->rank; i++) {
    if (!gc_dim_is_const(gc_graph_dims(g), t->dims[i], &v)) continue;
    if (v < 0)
      return gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: dim %d is negative (%lld)", what, i,
                       (long long)v);
    if (__builtin_mul_overflow(bytes, v, &bytes))
      return gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: tensor size overflows int64", what);
  }
  return NULL;
}

/* --- inputs --------------------------------------------------------------- */

static graphc_status_t new_value(gc_graph *g, const char *name, const gc_type *t, gc_loc loc,
                                 int *out) {
  if (2 * (g->nvalues + 1) > g->name_cap) GC_TRY(index_rebuild(g, g->nvalues + 1));
  GC_VEC_GROW(g->values, g->nvalues, g->capvalues);
  gc_value *v = &g->values[g->nvalues];
  memset(v, 0, sizeof *v);
  v->name = gc_strdup(name);
  if (!v->name) return GC_OOM();
  v->type = *t;
  v->producer = -1;
  v->sym = -1;
  v->loc = loc;
  *out = g->nvalues++;
  index_put(g, *out);
  return NULL;
}

graphc_status_t gc_graph_add_input(gc_graph *g, const char *name, graphc_role_t role,
                                   const gc_type *type, gc_loc loc, int *out_value) {
  char where[512];
  gc_loc_format(g, loc, where, sizeof where);
  /* Inputs are referenced by bare name in the text form, so they must not
   * start with a digit ('%'-names of node results may). */
  if (!valid_value_name(name) || isdigit((unsigned char)name[0]) || name[0] == '.')
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: invalid input name '%s'", where,
                     name ? name : "(null)");
  if ((unsigned)role > GRAPHC_ROLE_SYMBOL)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: input '%s': invalid role %d", where,
                     name, (int)role);
  if (gc_graph_find_value(g, name) >= 0)
    return gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: duplicate name '%s'", where, name);
  GC_TRY(gc_status_wrap(check_type(g, type, name), "%s: input", where));
  gc_graph *root = gc_graph_root(g);
  gc_dimtab *dims = root->dims;
  GC_TRY(ensure_symbinds(root));
  int sym = -1;
  if (role == GRAPHC_ROLE_SYMBOL) {
    if (g->parent)
      return gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: symbol input '%s' inside a region",
                       where, name);
    if (type->dtype != GRAPHC_I64 || type->rank != 0)
      return gc_status(GRAPHC_STATUS_VERIFY_ERROR,
                       "%s: symbol input '%s' must be i64[], not %s[...]", where, name,
                       graphc_dtype_name(type->dtype));
    if (!is_identifier(name))
      return gc_status(GRAPHC_STATUS_VERIFY_ERROR,
                       "%s: symbol input name '%s' is not an identifier", where, name);
    sym = gc_dimtab_find_sym(dims, name);
    if (sym >= 0 && gc_graph_symbind(g, sym)->kind != GC_SYM_UNBOUND)
      return gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: symbol '%s' is already bound", where,
                       name);
    if (sym < 0) GC_TRY(gc_dimtab_add_sym(dims, name, &sym));
  }
  /* Bind each still-unbound symbol that appears as a plain dim here; one
   * that first appears inside a compound expression cannot be read off. */
  for (int d = 0; d < type->rank; d++) {
    int syms[16];
    int ns = gc_dim_syms(dims, type->dims[d], syms, 16);
    for (int k = 0; k < ns && k < 16; k++) {
      if (gc_graph_symbind(g, syms[k])->kind != GC_SYM_UNBOUND) continue;
      gc_dim plain;
      GC_TRY(gc_dim_sym(dims, syms[k], &plain));
      bool later_plain = false; /* bound by a later dim of this input */
      for (int e = d; e < type->rank; e++)
        if (type->dims[e] == plain) later_plain = true;
      if (g->parent || !later_plain)
        return gc_status(GRAPHC_STATUS_VERIFY_ERROR,
                         "%s: input '%s': symbol '%s' is not bound yet (a symbol is bound by "
                         "the first input dim that is exactly that symbol)",
                         where, name, gc_dimtab_sym_name(dims, syms[k]));
    }
  }
  int v;
  GC_TRY(new_value(g, name, type, loc, &v));
  g->values[v].role = role;
  g->values[v].index = g->ninputs;
  GC_VEC_GROW(g->inputs, g->ninputs, g->capinputs);
  g->inputs[g->ninputs++] = v;
  if (sym >= 0) {
    g->values[v].sym = sym;
    GC_TRY(bind_symbol(root, sym, GC_SYM_INPUT, v, -1));
  }
  if (!g->parent) {
    for (int d = 0; d < type->rank; d++) {
      int s;
      if (gc_dim_syms(dims, type->dims[d], &s, 1) != 1) continue;
      gc_dim plain;
      GC_TRY(gc_dim_sym(dims, s, &plain));
      if (plain == type->dims[d] && gc_graph_symbind(g, s)->kind == GC_SYM_UNBOUND)
        GC_TRY(bind_symbol(root, s, GC_SYM_BACKED, v, d));
    }
  }
  *out_value = v;
  return NULL;
}

/* --- nodes ---------------------------------------------------------------- */

graphc_status_t gc_infer_error(const gc_infer_ctx *ic, const char *fmt, ...) {
  char where[512], msg[1024];
  gc_loc_format(ic->g, ic->node->loc, where, sizeof where);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: op '%s': %s", where, ic->node->op->name,
                   msg);
}

graphc_status_t gc_infer_unbacked(gc_infer_ctx *ic, int k, int *out_sym) {
  gc_dimtab *dims = gc_infer_dims(ic);
  if (k < 0 || k >= GC_MAX_RESULTS) return gc_infer_error(ic, "bad result index %d", k);
  char gen[32];
  const char *name = ic->result_names ? ic->result_names[k] : NULL;
  if (!name) {
    for (int i = 0;; i++) {
      snprintf(gen, sizeof gen, "u%d", i);
      if (gc_dimtab_find_sym(dims, gen) < 0 && gc_graph_find_value(ic->g, gen) < 0) break;
    }
    name = gen;
  }
  if (!is_identifier(name))
    return gc_infer_error(ic, "result %d defines a symbol, so its name must be an identifier, "
                              "not '%s'", k, name);
  if (gc_dimtab_find_sym(dims, name) >= 0)
    return gc_infer_error(ic, "symbol '%s' already exists", name);
  GC_TRY(gc_dimtab_add_sym(dims, name, out_sym));
  ic->out_sym[k] = *out_sym;
  return NULL;
}

static graphc_status_t copy_attrs(gc_graph *g, const gc_op_info *op, const graphc_attr_t *attrs,
                                  int nattrs, gc_node *n, const char *where) {
  n->attrs = nattrs ? calloc((size_t)nattrs, sizeof *n->attrs) : NULL;
  if (nattrs && !n->attrs) return GC_OOM();
  for (int i = 0; i < nattrs; i++) {
    const graphc_attr_t *a = &attrs[i];
    if (!a->name)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: op '%s': attribute %d has no name",
                       where, op->name, i);
    const gc_attr_spec *spec = gc_op_attr_spec(op, a->name);
    if (!spec)
      return gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: op '%s' has no attribute '%s'", where,
                       op->name, a->name);
    for (int j = 0; j < i; j++)
      if (strcmp(attrs[j].name, a->name) == 0)
        return gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: op '%s': duplicate attribute '%s'",
                         where, op->name, a->name);
    graphc_attr_kind_t kind = a->kind;
    bool int_as_float = spec->kind == GRAPHC_ATTR_FLOAT && kind == GRAPHC_ATTR_INT;
    if (kind != spec->kind && !int_as_float)
      return gc_status(GRAPHC_STATUS_VERIFY_ERROR,
                       "%s: op '%s': attribute '%s' has the wrong kind (expected kind %d, got %d)",
                       where, op->name, a->name, (int)spec->kind, (int)kind);
    gc_attr *d = &n->attrs[n->nattrs++];
    d->name = gc_strdup(a->name);
    if (!d->name) return GC_OOM();
    d->kind = spec->kind;
    d->i = a->i;
    d->f = int_as_float ? (double)a->i : a->f;
    d->dtype = a->dtype;
    if (kind == GRAPHC_ATTR_BOOL) d->i = a->i != 0;
    if (kind == GRAPHC_ATTR_STRING) {
      if (!a->s) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: attribute '%s' is NULL", where, a->name);
      d->s = gc_strdup(a->s);
      if (!d->s) return GC_OOM();
    }
    if (kind == GRAPHC_ATTR_DTYPE && (unsigned)a->dtype >= GRAPHC_DTYPE_COUNT)
      return gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: op '%s': attribute '%s': bad dtype",
                       where, op->name, a->name);
    if (kind == GRAPHC_ATTR_INTS || kind == GRAPHC_ATTR_DIMS) {
      if (a->count < 0 || a->count > 4096 || (a->count && !(kind == GRAPHC_ATTR_INTS ? (const void *)a->ints : (const void *)a->dims)))
        return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: op '%s': attribute '%s': bad list",
                         where, op->name, a->name);
      d->count = a->count;
      if (kind == GRAPHC_ATTR_INTS) {
        d->ints = malloc(sizeof *d->ints * (size_t)(a->count ? a->count : 1));
        if (!d->ints) return GC_OOM();
        if (a->count) memcpy(d->ints, a->ints, sizeof *d->ints * (size_t)a->count);
      } else {
        d->dims = malloc(sizeof *d->dims * (size_t)(a->count ? a->count : 1));
        if (!d->dims) return GC_OOM();
        for (int k = 0; k < a->count; k++) {
          if (!gc_dim_valid(gc_graph_dims(g), a->dims[k]))
            return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                             "%s: op '%s': attribute '%s': entry %d is not a dim of this graph",
                             where, op->name, a->name, k);
          d->dims[k] = a->dims[k];
        }
      }
    }
  }
  for (int i = 0; i < GC_MAX_ATTRS && op->attrs[i].name; i++)
    if (op->attrs[i].required && !gc_node_attr(n, op->attrs[i].name))
      return gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: op '%s': missing attribute '%s'", where,
                       op->name, op->attrs[i].name);
  return NULL;
}

static void free_node(gc_node *n, bool free_regions) {
  free(n->operands);
  free(n->results);
  for (int a = 0; a < n->nattrs; a++) free_attr(&n->attrs[a]);
  free(n->attrs);
  if (free_regions)
    for (int r = 0; r < n->nregions; r++) gc_graph_destroy(n->regions[r]);
  free(n->regions);
  memset(n, 0, sizeof *n);
}

/* Runs infer for `n` in `g`; on success `ic` holds result types. */
static graphc_status_t run_infer(gc_graph *g, const gc_node *n, const char *const *names,
                                 gc_infer_ctx *ic) {
  memset(ic, 0, sizeof *ic);
  ic->g = g;
  ic->node = n;
  ic->result_names = names;
  ic->nresults = n->op->nresults;
  for (int k = 0; k < GC_MAX_RESULTS; k++) ic->out_sym[k] = -1;
  GC_TRY(n->op->infer(ic));
  if (ic->nresults < 1 || ic->nresults > GC_MAX_RESULTS)
    return gc_infer_error(ic, "result count %d outside 1..%d", ic->nresults, GC_MAX_RESULTS);
  for (int k = 0; k < ic->nresults; k++) {
    char what[64];
    snprintf(what, sizeof what, "result %d", k);
    graphc_status_t st = check_type(g, &ic->out[k], what);
    if (st) {
      graphc_status_t e = gc_infer_error(ic, "%s", graphc_status_message(st));
      graphc_status_free(st);
      return e;
    }
  }
  return NULL;
}

graphc_status_t gc_graph_add_node(gc_graph *g, const char *op_name, const int *operands,
                                  int noperands, const graphc_attr_t *attrs, int nattrs,
                                  gc_graph *const *regions, int nregions,
                                  const char *const *result_names, gc_loc loc, int *out_node) {
  char where[512];
  gc_loc_format(g, loc, where, sizeof where);
  gc_node n = {0};
  n.loc = loc;
  graphc_status_t st = NULL;
  /* Regions are ours from here on, whatever happens. */
  for (int r = 0; r < nregions; r++) {
    if (!regions || !regions[r] || regions[r]->magic != GC_GRAPH_MAGIC ||
        regions[r]->parent != g || regions[r]->attached) {
      st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "%s: op '%s': region %d is not an unattached region of this graph", where,
                     op_name ? op_name : "?", r);
      nregions = r; /* only destroy what is valid */
      goto fail;
    }
  }
  n.regions = nregions > 0 ? malloc(sizeof *n.regions * (size_t)(unsigned)nregions) : NULL;
  if (nregions && !n.regions) {
    st = GC_OOM();
    goto fail;
  }
  for (int r = 0; r < nregions; r++) {
    n.regions[r] = regions[r];
    regions[r]->attached = true;
  }
  n.nregions = nregions;
  nregions = 0;
  n.op = op_name ? gc_op_lookup(op_name, strlen(op_name)) : NULL;
  if (!n.op) {
    st = gc_status(GRAPHC_STATUS_NOT_FOUND, "%s: unknown op '%s'", where,
                   op_name ? op_name : "(null)");
    goto fail;
  }
  if (noperands < n.op->min_operands ||
      (n.op->max_operands >= 0 && noperands > n.op->max_operands)) {
    if (n.op->max_operands == n.op->min_operands)
      st = gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: op '%s' takes %d operand%s, got %d", where,
                     n.op->name, n.op->min_operands, n.op->min_operands == 1 ? "" : "s",
                     noperands);
    else if (n.op->max_operands < 0)
      st = gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: op '%s' takes at least %d operands, got %d",
                     where, n.op->name, n.op->min_operands, noperands);
    else
      st = gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: op '%s' takes %d to %d operands, got %d",
                     where, n.op->name, n.op->min_operands, n.op->max_operands, noperands);
    goto fail;
  }
  if (n.nregions < n.op->min_regions || n.nregions > n.op->max_regions) {
    st = gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: op '%s' takes %d to %d regions, got %d",
                   where, n.op->name, n.op->min_regions, n.op->max_regions, n.nregions);
    goto fail;
  }
  n.operands = malloc(sizeof *n.operands * (size_t)(noperands ? noperands : 1));
  if (!n.operands) {
    st = GC_OOM();
    goto fail;
  }
  for (int i = 0; i < noperands; i++) {
    if (!operands || operands[i] < 0 || operands[i] >= g->nvalues) {
      st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: op '%s': operand %d is not a value of "
                     "this graph", where, n.op->name, i);
      goto fail;
    }
    n.operands[i] = operands[i];
  }
  n.noperands = noperands;
  if ((st = copy_attrs(g, n.op, attrs, nattrs, &n, where))) goto fail;

  gc_infer_ctx *ic = malloc(sizeof *ic);
  if (!ic) {
    st = GC_OOM();
    goto fail;
  }
  if ((st = run_infer(g, &n, result_names, ic))) {
    free(ic);
    goto fail;
  }
  /* Result names: given, the symbol's name, or generated. */
  int first = g->nvalues;
  for (int k = 0; k < ic->nresults; k++) {
    char gen[32];
    const char *name = result_names ? result_names[k] : NULL;
    if (ic->out_sym[k] >= 0) name = gc_dimtab_sym_name(gc_graph_dims(g), ic->out_sym[k]);
    if (!name) {
      for (int i = g->nvalues;; i++) {
        snprintf(gen, sizeof gen, "%d", i);
        if (gc_graph_find_value(g, gen) < 0) break;
      }
      name = gen;
    }
    if (!valid_value_name(name) || gc_graph_find_value(g, name) >= 0) {
      st = gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: op '%s': %s result name '%s'", where,
                     n.op->name, valid_value_name(name) ? "duplicate" : "invalid", name);
      break;
    }
    int v;
    if ((st = new_value(g, name, &ic->out[k], loc, &v))) break;
    g->values[v].producer = g->nnodes;
    g->values[v].index = k;
    g->values[v].sym = ic->out_sym[k];
  }
  if (!st) {
    n.results = malloc(sizeof *n.results * (size_t)(ic->nresults > 0 ? ic->nresults : 1));
    if (!n.results) st = GC_OOM();
  }
  if (!st && g->nnodes == g->capnodes) {
    int cap = g->capnodes ? g->capnodes * 2 : 16;
    gc_node *p = realloc(g->nodes, (size_t)cap * sizeof *p);
    if (!p) st = GC_OOM();
    else g->nodes = p, g->capnodes = cap;
  }
  if (st) { /* roll back the values we added */
    for (int v = first; v < g->nvalues; v++) free(g->values[v].name);
    g->nvalues = first;
    graphc_status_t ist = index_rebuild(g, g->nvalues);
    if (ist) { /* keep the first error; the index is empty but consistent */
      graphc_status_free(ist);
      free(g->name_slots);
      g->name_slots = NULL;
      g->name_cap = 0;
    }
    free(ic);
    goto fail;
  }
  n.nresults = ic->nresults;
  for (int k = 0; k < ic->nresults; k++) {
    n.results[k] = first + k;
    if (ic->out_sym[k] >= 0)
      bind_symbol(gc_graph_root(g), ic->out_sym[k], GC_SYM_UNBACKED, first + k, -1);
  }
  free(ic);
  g->nodes[g->nnodes] = n;
  if (out_node) *out_node = g->nnodes;
  g->nnodes++;
  return NULL;

fail:
  for (int r = 0; r < nregions; r++)
    if (regions && regions[r] && regions[r]->magic == GC_GRAPH_MAGIC) gc_graph_destroy(regions[r]);
  free_node(&n, true);
  return st;
}

graphc_status_t gc_graph_set_outputs(gc_graph *g, const int *values, int n) {
  if (n < 0 || (n > 0 && !values))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "bad output list");
  for (int i = 0; i < n; i++)
    if (values[i] < 0 || values[i] >= g->nvalues)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "output %d is not a value of graph '%s'",
                       i, g->name);
  int *p = malloc(sizeof *p * (size_t)(n ? n : 1));
  if (!p) return GC_OOM();
  if (n) memcpy(p, values, sizeof *p * (size_t)n);
  free(g->outputs);
  g->outputs = p;
  g->noutputs = n;
  return NULL;
}

/* Every symbol a value's shape uses must be bound by something. */
static graphc_status_t check_symbols_bound(const gc_graph *g) {
  gc_dimtab *dims = gc_graph_dims(g);
  for (int v = 0; v < g->nvalues; v++) {
    const gc_type *t = &g->values[v].type;
    for (int d = 0; d < t->rank; d++) {
      int syms[16];
      int n = gc_dim_syms(dims, t->dims[d], syms, 16);
      for (int k = 0; k < n && k < 16; k++)
        if (gc_graph_symbind(g, syms[k])->kind == GC_SYM_UNBOUND)
          return gc_status(GRAPHC_STATUS_VERIFY_ERROR,
                           "graph '%s': value '%s' uses symbol '%s', which nothing binds",
                           g->name, g->values[v].name, gc_dimtab_sym_name(dims, syms[k]));
    }
  }
  return NULL;
}

graphc_status_t gc_graph_verify(const gc_graph *g) {
  GC_TRY(gc_graph_check(g));
  GC_TRY(check_symbols_bound(g));
  for (int i = 0; i < g->nnodes; i++) {
    const gc_node *n = &g->nodes[i];
    for (int o = 0; o < n->noperands; o++) {
      int v = n->operands[o];
      const gc_value *val = &g->values[v];
      if (val->producer >= i) {
        char where[512];
        gc_loc_format(g, n->loc, where, sizeof where);
        return gc_status(GRAPHC_STATUS_VERIFY_ERROR, "%s: op '%s': operand %d ('%s') is used "
                         "before it is defined", where, n->op->name, o, val->name);
      }
    }
    for (int r = 0; r < n->nregions; r++) GC_TRY(gc_graph_verify(n->regions[r]));
    const char *names[GC_MAX_RESULTS] = {0};
    for (int k = 0; k < n->nresults && k < GC_MAX_RESULTS; k++) names[k] = g->values[n->results[k]].name;
    /* Re-infer. Ops that bind a symbol would create it again, so compare
     * only ops that do not. */
    bool binds = false;
    for (int k = 0; k < n->nresults; k++) binds |= g->values[n->results[k]].sym >= 0;
    if (binds) continue;
    gc_infer_ctx *ic = malloc(sizeof *ic);
    if (!ic) return GC_OOM();
    graphc_status_t st = run_infer((gc_graph *)g, n, names, ic);
    if (!st && ic->nresults != n->nresults)
      st = gc_infer_error(ic, "has %d results, infer says %d", n->nresults, ic->nresults);
    for (int k = 0; !st && k < n->nresults; k++)
      if (!gc_type_equal(&ic->out[k], &g->values[n->results[k]].type))
        st = gc_infer_error(ic, "result %d's recorded type differs from the inferred one", k);
    free(ic);
    if (st) return st;
  }
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] < 0 || g->outputs[i] >= g->nvalues)
      return gc_status(GRAPHC_STATUS_VERIFY_ERROR, "graph '%s': output %d is undefined", g->name, i);
  return NULL;
}
