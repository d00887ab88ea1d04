/* The .gc text parser: text -> graph, through the builder (lib/ir/ir.h).
 *
 * Recursive descent over an on-demand lexer. The only recursion is region
 * nesting, capped at GC_TEXT_MAX_NESTING; every list is a loop, so no input
 * can exhaust the stack. Dim expressions are handed to gc_dim_parse. Syntax
 * errors are PARSE_ERROR "file:line:col: expected X, got Y"; type errors
 * come from the builder (infer), already located at the op name. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphc/text.h"
#include "ir/dims.h"
#include "ir/ir.h"
#include "ir/op.h"
#include "ir/text.h"
#include "support/status.h"
#include "support/strbuf.h"
#include "support/vec.h"
#include "ir/parse_internal.h"

/* --- dims and types ----------------------------------------------------------------- */

/* Parses one dim expression at the current position (gc_dim_parse bounds
 * its own nesting). Negative constants only where allow_neg (reshape's -1). */
static graphc_status_t parse_dim(parser *P, gc_graph *g, bool create_syms, bool allow_neg,
                                 gc_dim *out) {
  gcp_skip_space(P);
  size_t off = P->pos, end = off;
  int depth = 0;
  /* Extent: up to ',' or ']' outside parentheses, a comment or a newline. */
  while (end < P->len) {
    char c = P->src[end];
    if (c == '#' || c == '\n' || c == '{' || c == '}' || c == '=') break;
    if (depth == 0 && (c == ',' || c == ']')) break;
    if (c == '(') depth++;
    if (c == ')' && --depth < 0) break;
    end++;
  }
  token t = gcp_peek(P);
  if (end == off) return gcp_expected(P, t, "a dim expression");
  gc_dimtab *tab = gc_graph_dims(g);
  size_t used = 0;
  graphc_status_t st = gc_dim_parse(tab, P->src + off, end - off, create_syms, out, &used);
  if (st) {
    /* Our location replaces the dim parser's "at byte N". */
    char msg[400];
    const char *m = graphc_status_message(st), *at;
    if (strncmp(m, "at byte ", 8) == 0 && (at = strstr(m, ": "))) m = at + 2;
    snprintf(msg, sizeof msg, "%s", m);
    for (char *b; (b = strstr(msg, " at byte ")) && strspn(b + 9, "0123456789") > 0;) {
      char *rest = b + 9 + strspn(b + 9, "0123456789");
      memmove(b, rest, strlen(rest) + 1);
    }
    graphc_status_t e = gcp_err_at(P, off + (used <= end - off ? used : 0), "%s", msg);
    graphc_status_free(st);
    return e;
  }
  if (used == 0) return gcp_expected(P, t, "a dim expression");
  int64_t v;
  if (!allow_neg && gc_dim_is_const(tab, *out, &v) && v < 0)
    return gcp_err_at(P, off, "dims must not be negative, got %lld", (long long)v);
  P->pos = off + used;
  return NULL;
}

/* '[' dim (',' dim)* ']' or '[]'; at most GC_MAX_RANK entries. */
static graphc_status_t parse_dim_list(parser *P, gc_graph *g, bool create_syms, bool allow_neg,
                                      gc_dim *dims, int *count) {
  bool done;
  GC_TRY(gcp_list_open(P, '[', ']', &done));
  for (*count = 0; !done; (*count)++) {
    if (*count == GC_MAX_RANK) return gcp_err_at(P, gcp_peek(P).off, "more than %d dims", GC_MAX_RANK);
    GC_TRY(parse_dim(P, g, create_syms, allow_neg, &dims[*count]));
    GC_TRY(gcp_list_sep(P, ']', &done));
  }
  return NULL;
}

/* dtype '[' dims ']' */
static graphc_status_t parse_type(parser *P, gc_graph *g, bool create_syms, gc_type *ty) {
  token t = gcp_peek(P);
  memset(ty, 0, sizeof *ty);
  if (t.kind != TK_NAME || !gc_dtype_parse(P->src + t.off, t.len, &ty->dtype))
    return gcp_expected(P, t, "a dtype (f32, f64, f16, bf16, i32, i64, bool)");
  gcp_take(P, t);
  return parse_dim_list(P, g, create_syms, false, ty->dims, &ty->rank);
}

/* --- attributes ------------------------------------------------------------------ */

typedef struct attr_list {
  graphc_attr_t a[GC_MAX_ATTRS];
  int n;
} attr_list;

static void attr_list_free(attr_list *al) {
  for (int i = 0; i < al->n; i++) {
    free((char *)al->a[i].s);
    free((int64_t *)al->a[i].ints);
    free((graphc_dim_t *)al->a[i].dims);
  }
  al->n = 0;
}

/* '[' int (',' int)* ']' into a->ints (owned by the attr list). */
static graphc_status_t parse_ints(parser *P, graphc_attr_t *a) {
  bool done;
  GC_TRY(gcp_list_open(P, '[', ']', &done));
  int64_t *v = NULL;
  int cap = 0;
  for (a->count = 0; !done; a->count++) {
    if (a->count == MAX_INTS_LEN)
      return gcp_err_at(P, gcp_peek(P).off, "list longer than %d entries", MAX_INTS_LEN);
    GC_VEC_GROW(v, a->count, cap);
    a->ints = v;
    GC_TRY(gcp_parse_int(P, "an integer", &v[a->count]));
    GC_TRY(gcp_list_sep(P, ']', &done));
  }
  return NULL;
}

/* name '=' value, value syntax chosen by the op's schema. */
static graphc_status_t parse_attr(parser *P, gc_graph *g, const gc_op_info *op, token name,
                                  attr_list *al) {
  gcp_take(P, name);
  gcp_take(P, gcp_peek(P)); /* '=' (checked by the caller) */
  char key[64];
  const gc_attr_spec *spec = NULL;
  if (name.len < sizeof key) {
    memcpy(key, P->src + name.off, name.len);
    key[name.len] = 0;
    spec = gc_op_attr_spec(op, key);
  }
  if (!spec)
    return gcp_err_at(P, name.off, "op '%s' has no attribute '%.*s'", op->name,
                  (int)(name.len > 40 ? 40 : name.len), P->src + name.off);
  for (int i = 0; i < al->n; i++)
    if (strcmp(al->a[i].name, spec->name) == 0)
      return gcp_err_at(P, name.off, "duplicate attribute '%s'", spec->name);
  if (al->n == GC_MAX_ATTRS) return gcp_err_at(P, name.off, "too many attributes");
  graphc_attr_t *a = &al->a[al->n++];
  memset(a, 0, sizeof *a);
  a->name = spec->name;
  a->kind = spec->kind;
  static const char *const kind_what[] = {"an integer",    "a number",        "true or false",
                                          "an identifier", "an integer list", "a dtype",
                                          "a dim list"};
  if ((unsigned)spec->kind > GRAPHC_ATTR_DIMS)
    return gcp_err_at(P, name.off, "attribute '%s' has an unknown kind", spec->name);
  char what[96];
  snprintf(what, sizeof what, "%s for attribute '%s'", kind_what[spec->kind], spec->name);
  token t = gcp_peek(P);
  bool bracket = gcp_is_punct(t, P, '[');
  switch (spec->kind) {
    case GRAPHC_ATTR_INT:
      return gcp_parse_int(P, what, &a->i);
    case GRAPHC_ATTR_FLOAT:
      return gcp_parse_float(P, what, &a->f);
    case GRAPHC_ATTR_BOOL:
      if (!gcp_is_word(t, P, "true") && !gcp_is_word(t, P, "false")) return gcp_expected(P, t, what);
      a->i = P->src[t.off] == 't';
      break;
    case GRAPHC_ATTR_STRING:
      if (t.kind != TK_NAME) return gcp_expected(P, t, what);
      if (!(a->s = gcp_copy_span(P, t.off, t.len))) return GC_OOM();
      break;
    case GRAPHC_ATTR_INTS:
      return bracket ? parse_ints(P, a) : gcp_expected(P, t, what);
    case GRAPHC_ATTR_DTYPE:
      if (t.kind != TK_NAME || !gc_dtype_parse(P->src + t.off, t.len, &a->dtype))
        return gcp_expected(P, t, what);
      break;
    case GRAPHC_ATTR_DIMS: {
      if (!bracket) return gcp_expected(P, t, what);
      gc_dim dims[GC_MAX_RANK];
      int n = 0;
      GC_TRY(parse_dim_list(P, g, false, true, dims, &n));
      graphc_dim_t *d = malloc(sizeof *d * (size_t)(n ? n : 1));
      if (!d) return GC_OOM();
      memcpy(d, dims, sizeof *d * (size_t)n);
      a->dims = d;
      a->count = n;
      return NULL;
    }
  }
  gcp_take(P, t);
  return NULL;
}

/* --- graphs ---------------------------------------------------------------------- */

static graphc_status_t parse_body(parser *P, gc_graph *g, scope *sc);

/* Checks that a new name is free in the scope. */
static graphc_status_t check_new_name(parser *P, const scope *sc, token t, size_t skip) {
  if (gcp_scope_find(sc, P->src + t.off + skip, t.len - skip, NULL))
    return gcp_err_at(P, t.off, "duplicate name '%.*s'", (int)(t.len > 80 ? 80 : t.len),
                  P->src + t.off);
  return NULL;
}

/* name ":" type, then a role in the top-level graph; adds the input to g and sc. */
static graphc_status_t parse_input(parser *P, gc_graph *g, scope *sc, bool root) {
  token name = gcp_peek(P);
  if (name.kind != TK_NAME) return gcp_expected(P, name, "an input name");
  GC_TRY(check_new_name(P, sc, name, 0));
  gcp_take(P, name);
  GC_TRY(gcp_expect_punct(P, ':'));
  gc_type ty;
  GC_TRY(parse_type(P, g, root, &ty));
  graphc_role_t role = GRAPHC_ROLE_INPUT;
  if (root) {
    static const char *const roles[] = {"input", "param", "buffer", "symbol"};
    token r = gcp_peek(P);
    int k = 0;
    while (k < 4 && !gcp_is_word(r, P, roles[k])) k++;
    if (k == 4) return gcp_expected(P, r, "a role (input, param, buffer, symbol)");
    gcp_take(P, r);
    role = (graphc_role_t)k;
  }
  char *cname = gcp_copy_span(P, name.off, name.len);
  if (!cname) return GC_OOM();
  int id;
  graphc_status_t st = gc_graph_add_input(g, cname, role, &ty, gcp_loc_at(P, name.off), &id);
  if (!st && !gcp_scope_put(sc, cname, name.len, id)) st = GC_OOM();
  free(cname);
  return st;
}

/* '(' [input (',' input)*] ')' */
static graphc_status_t parse_inputs(parser *P, gc_graph *g, scope *sc, bool root) {
  bool done;
  GC_TRY(gcp_list_open(P, '(', ')', &done));
  while (!done) {
    GC_TRY(parse_input(P, g, sc, root));
    GC_TRY(gcp_list_sep(P, ')', &done));
  }
  return NULL;
}

/* 'region' '(' params ')' '{' body '}' -> a new region graph of g. */
static graphc_status_t parse_region(parser *P, gc_graph *g, const char *name, gc_graph **out) {
  token kw = gcp_peek(P);
  gcp_take(P, kw);
  if (P->depth >= GC_TEXT_MAX_NESTING)
    return gcp_err_at(P, kw.off, "regions nested deeper than %d", GC_TEXT_MAX_NESTING);
  gc_graph *r = NULL;
  GC_TRY(gc_graph_new(g->ctx, name, g, &r));
  scope sc = {0};
  P->depth++;
  graphc_status_t st = parse_inputs(P, r, &sc, false);
  if (!st) st = parse_body(P, r, &sc);
  P->depth--;
  gcp_scope_free(&sc);
  if (st) {
    graphc_graph_release(r);
    return st;
  }
  *out = r;
  return NULL;
}

typedef struct node_parts {
  token names[GC_MAX_RESULTS];
  int nnames;
  int *operands;
  int noperands, capoperands;
  attr_list attrs;
  gc_graph **regions;
  int nregions, capregions;
  char *result_names[GC_MAX_RESULTS];
} node_parts;

static void node_parts_free(node_parts *np) {
  free(np->operands);
  attr_list_free(&np->attrs);
  for (int i = 0; i < np->nregions; i++) graphc_graph_release(np->regions[i]);
  free(np->regions);
  for (int i = 0; i < GC_MAX_RESULTS; i++) free(np->result_names[i]);
}

/* '(' operands, attrs ')' regions..., after the op name. */
static graphc_status_t parse_call(parser *P, gc_graph *g, scope *sc, node_parts *np,
                                  const gc_op_info *op) {
  bool done;
  GC_TRY(gcp_list_open(P, '(', ')', &done));
  while (!done) {
    token t = gcp_peek(P);
    bool is_attr = false;
    if (t.kind == TK_NAME) { /* name '=' starts an attribute */
      gcp_take(P, t);
      is_attr = gcp_is_punct(gcp_peek(P), P, '=');
      P->pos = t.off;
    }
    if (is_attr) {
      GC_TRY(parse_attr(P, g, op, t, &np->attrs));
    } else {
      if (np->attrs.n > 0 && (t.kind == TK_NAME || t.kind == TK_RESULT))
        return gcp_err_at(P, t.off, "operands must come before attributes");
      GC_VEC_GROW(np->operands, np->noperands, np->capoperands);
      GC_TRY(gcp_resolve(P, g, sc, t, &np->operands[np->noperands]));
      np->noperands++;
      gcp_take(P, t);
    }
    GC_TRY(gcp_list_sep(P, ')', &done));
  }
  for (token t = gcp_peek(P); gcp_is_word(t, P, "region"); t = gcp_peek(P)) {
    GC_VEC_GROW(np->regions, np->nregions, np->capregions);
    char rname[128];
    snprintf(rname, sizeof rname, "%s.region%d", np->result_names[0], np->nregions);
    GC_TRY(parse_region(P, g, rname, &np->regions[np->nregions]));
    np->nregions++;
  }
  return NULL;
}

/* %r1, %r2 = op(...) region(...) {...} */
static graphc_status_t parse_node(parser *P, gc_graph *g, scope *sc, node_parts *np) {
  for (;;) {
    token t = gcp_peek(P);
    if (t.kind != TK_RESULT) return gcp_expected(P, t, "a result name (%name)");
    if (np->nnames == GC_MAX_RESULTS)
      return gcp_err_at(P, t.off, "more than %d results", GC_MAX_RESULTS);
    GC_TRY(check_new_name(P, sc, t, 1));
    for (int i = 0; i < np->nnames; i++)
      if (np->names[i].len == t.len && !memcmp(P->src + np->names[i].off, P->src + t.off, t.len))
        return gcp_err_at(P, t.off, "duplicate name '%.*s'", (int)(t.len > 80 ? 80 : t.len),
                      P->src + t.off);
    if (!(np->result_names[np->nnames] = gcp_copy_span(P, t.off + 1, t.len - 1))) return GC_OOM();
    np->names[np->nnames++] = t;
    gcp_take(P, t);
    t = gcp_peek(P);
    if (gcp_is_punct(t, P, '=')) {
      gcp_take(P, t);
      break;
    }
    if (!gcp_is_punct(t, P, ',')) return gcp_expected(P, t, "',' or '='");
    gcp_take(P, t);
  }
  token opt = gcp_peek(P);
  if (opt.kind != TK_NAME) return gcp_expected(P, opt, "an op name");
  const gc_op_info *op = gc_op_lookup(P->src + opt.off, opt.len);
  if (!op)
    return gcp_err_at(P, opt.off, "unknown op '%.*s'", (int)(opt.len > 40 ? 40 : opt.len),
                  P->src + opt.off);
  gcp_take(P, opt);
  gc_loc loc = gcp_loc_at(P, opt.off);
  if (op->nresults >= 0 && op->nresults != np->nnames)
    return gcp_err_at(P, np->names[0].off, "op '%s' has %d result%s, got %d name%s", op->name,
                  op->nresults, op->nresults == 1 ? "" : "s", np->nnames,
                  np->nnames == 1 ? "" : "s");
  GC_TRY(parse_call(P, g, sc, np, op));
  /* For variadic-result ops the builder may read more names than given:
   * pad with fresh names; a count mismatch is reported afterwards. */
  for (int i = np->nnames; op->nresults < 0 && i < GC_MAX_RESULTS; i++) {
    char pad[48];
    int k = 0;
    do snprintf(pad, sizeof pad, "_unnamed%d_%d", i, k++);
    while (gcp_scope_find(sc, pad, strlen(pad), NULL));
    if (!(np->result_names[i] = gc_strdup(pad))) return GC_OOM();
  }
  int node = -1;
  gc_graph **regions = np->regions;
  int nregions = np->nregions;
  np->regions = NULL; /* taken over by the builder, even on failure */
  np->nregions = np->capregions = 0;
  graphc_status_t st =
      gc_graph_add_node(g, op->name, np->operands, np->noperands, np->attrs.a, np->attrs.n, regions,
                        nregions, (const char *const *)np->result_names, loc, &node);
  free(regions);
  GC_TRY(st);
  const gc_node *nd = &g->nodes[node];
  if (nd->nresults != np->nnames)
    return gcp_err_at(P, np->names[0].off, "op '%s' has %d result%s here, got %d name%s", op->name,
                  nd->nresults, nd->nresults == 1 ? "" : "s", np->nnames,
                  np->nnames == 1 ? "" : "s");
  for (int i = 0; i < np->nnames; i++)
    if (!gcp_scope_put(sc, np->result_names[i], strlen(np->result_names[i]), nd->results[i]))
      return GC_OOM();
  return NULL;
}

/* after 'return': [value (',' value)*] '}' */
static graphc_status_t parse_return(parser *P, gc_graph *g, const scope *sc, int **ids) {
  int n = 0, cap = 0;
  bool done = gcp_is_punct(gcp_peek(P), P, '}');
  while (!done) {
    token t = gcp_peek(P);
    GC_VEC_GROW(*ids, n, cap);
    GC_TRY(gcp_resolve(P, g, sc, t, &(*ids)[n]));
    n++;
    gcp_take(P, t);
    done = !gcp_is_punct(gcp_peek(P), P, ',');
    if (!done) gcp_take(P, gcp_peek(P));
  }
  GC_TRY(gcp_expect_punct(P, '}'));
  int none = 0;
  return gc_graph_set_outputs(g, n ? *ids : &none, n);
}

/* '{' node* 'return' ... '}' */
static graphc_status_t parse_body(parser *P, gc_graph *g, scope *sc) {
  GC_TRY(gcp_expect_punct(P, '{'));
  for (;;) {
    token t = gcp_peek(P);
    if (gcp_is_word(t, P, "return")) {
      gcp_take(P, t);
      int *ids = NULL;
      graphc_status_t st = parse_return(P, g, sc, &ids);
      free(ids);
      return st;
    }
    if (t.kind != TK_RESULT) return gcp_expected(P, t, "a node (%name = op(...)) or 'return'");
    node_parts np;
    memset(&np, 0, sizeof np);
    graphc_status_t st = parse_node(P, g, sc, &np);
    node_parts_free(&np);
    GC_TRY(st);
  }
}

/* 'graph' name inputs body, then only whitespace and comments. */
static graphc_status_t parse_graph(parser *P, gc_graph **out) {
  GC_TRY(gcp_check_bytes(P));
  token t = gcp_peek(P);
  if (!gcp_is_word(t, P, "graph")) return gcp_expected(P, t, "'graph'");
  gcp_take(P, t);
  token name = gcp_peek(P);
  if (name.kind != TK_NAME) return gcp_expected(P, name, "a graph name");
  gcp_take(P, name);
  char *cname = gcp_copy_span(P, name.off, name.len);
  if (!cname) return GC_OOM();
  gc_graph *g = NULL;
  graphc_status_t st = gc_graph_new(P->ctx, cname, NULL, &g);
  free(cname);
  GC_TRY(st);
  if (!(g->file = gc_strdup(P->file))) st = GC_OOM();
  scope sc = {0};
  if (!st) st = parse_inputs(P, g, &sc, true);
  if (!st) st = parse_body(P, g, &sc);
  gcp_scope_free(&sc);
  if (!st) {
    t = gcp_peek(P);
    if (t.kind != TK_EOF) st = gcp_expected(P, t, "end of input after the graph");
  }
  if (st) {
    graphc_graph_release(g);
    return st;
  }
  *out = g;
  return NULL;
}

graphc_status_t graphc_graph_parse(graphc_context_t *context, const char *text, size_t length,
                                   const char *filename, graphc_graph_t **out_graph) {
  if (!context || !out_graph || (!text && length))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "graphc_graph_parse: context, text and out_graph must not be NULL");
  *out_graph = NULL;
  parser P;
  memset(&P, 0, sizeof P);
  P.src = text ? text : "";
  P.len = length;
  P.file = filename ? filename : "<input>";
  P.ctx = context;
  P.cur_line = 1;
  graphc_status_t st = parse_graph(&P, out_graph);
  if (P.c_numeric) freelocale(P.c_numeric);
  return st;
}

graphc_status_t graphc_graph_parse_file(graphc_context_t *context, const char *path,
                                        graphc_graph_t **out_graph) {
  if (!context || !path || !out_graph)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "graphc_graph_parse_file: context, path and out_graph must not be NULL");
  *out_graph = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return gc_status(GRAPHC_STATUS_IO_ERROR, "cannot open '%s': %s", path, strerror(errno));
  char *buf = NULL;
  size_t len = 0, cap = 0;
  graphc_status_t st = NULL;
  for (;;) {
    if (len == cap) {
      if (cap > GC_TEXT_MAX_FILE_BYTES) {
        st = gc_status(GRAPHC_STATUS_IO_ERROR, "cannot read '%s': larger than %zu MiB", path,
                       GC_TEXT_MAX_FILE_BYTES >> 20);
        break;
      }
      size_t ncap = cap ? cap * 2 : 65536;
      if (ncap > GC_TEXT_MAX_FILE_BYTES + 1) ncap = GC_TEXT_MAX_FILE_BYTES + 1;
      char *nb = realloc(buf, ncap);
      if (!nb) {
        st = GC_OOM();
        break;
      }
      buf = nb;
      cap = ncap;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) {
      if (ferror(f))
        st = gc_status(GRAPHC_STATUS_IO_ERROR, "cannot read '%s': %s", path, strerror(errno));
      break;
    }
  }
  fclose(f);
  if (!st) st = graphc_graph_parse(context, buf, len, path, out_graph);
  free(buf);
  return st;
}
