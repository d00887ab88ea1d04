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

/* Longest INTS attribute we accept (split sizes, permutations...). */
#define MAX_INTS_LEN 4096

typedef enum tk_kind { TK_EOF, TK_NAME, TK_RESULT, TK_NUMBER, TK_PUNCT, TK_OTHER } tk_kind;

/* A token is a span of the source. TK_RESULT spans '%name' (name at off+1). */
typedef struct token {
  tk_kind kind;
  size_t off, len;
} token;

typedef struct parser {
  const char *src;
  size_t len, pos;
  const char *file;
  graphc_context_t *ctx;
  int depth;          /* region nesting */
  locale_t c_numeric; /* for strtod whatever the process locale; lazily made */
  /* Line cursor for offset -> line:col; moves forward, restarts if asked
   * for an earlier offset. */
  size_t cur_off, cur_line_start;
  int cur_line;
} parser;

/* Name -> value id for one graph (root or region): open addressing. */
typedef struct scope {
  char **names;
  size_t *lens;
  int *ids;
  size_t cap, count;
} scope;

/* --- character classes ----------------------------------------------------- */

static bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_name_char(char c) { return is_alpha(c) || is_digit(c) || c == '.'; }

bool gc_text_is_name(const char *s, size_t n) {
  if (n == 0 || !is_alpha(s[0])) return false;
  for (size_t i = 1; i < n; i++)
    if (!is_name_char(s[i])) return false;
  return true;
}

/* --- locations and errors ------------------------------------------------------ */

static gc_loc loc_at(parser *P, size_t off) {
  if (off > P->len) off = P->len;
  if (off < P->cur_off && off >= P->cur_line_start) /* same line, earlier */
    return (gc_loc){P->cur_line, (int)(off - P->cur_line_start + 1)};
  if (off < P->cur_off) {
    P->cur_off = 0;
    P->cur_line = 1;
    P->cur_line_start = 0;
  }
  for (size_t i = P->cur_off; i < off; i++)
    if (P->src[i] == '\n') {
      P->cur_line++;
      P->cur_line_start = i + 1;
    }
  P->cur_off = off;
  return (gc_loc){P->cur_line, (int)(off - P->cur_line_start + 1)};
}

static graphc_status_t err_at(parser *P, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static graphc_status_t err_at(parser *P, size_t off, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  gc_loc l = loc_at(P, off);
  return gc_status(GRAPHC_STATUS_PARSE_ERROR, "%s:%d:%d: %s", P->file, l.line, l.col, msg);
}

/* A short quoted rendering of a token for "got ..." parts. */
static void describe(const parser *P, token t, char *buf, size_t cap) {
  if (t.kind == TK_EOF) {
    snprintf(buf, cap, "end of input");
    return;
  }
  unsigned char c = (unsigned char)P->src[t.off];
  if (t.kind == TK_OTHER) {
    if (c >= 0x80)
      snprintf(buf, cap, "non-ASCII character");
    else if (c < 0x20 || c == 0x7f)
      snprintf(buf, cap, "byte 0x%02x", c);
    else
      snprintf(buf, cap, "'%c'", c);
    return;
  }
  int n = t.len > 40 ? 40 : (int)t.len;
  snprintf(buf, cap, "'%.*s%s'", n, P->src + t.off, t.len > 40 ? "..." : "");
}

static graphc_status_t expected(parser *P, token t, const char *what) {
  char got[64];
  describe(P, t, got, sizeof got);
  return err_at(P, t.off, "expected %s, got %s", what, got);
}

/* Checks the whole input once: valid UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF), no NUL bytes. */
static graphc_status_t check_bytes(parser *P) {
  const unsigned char *s = (const unsigned char *)P->src;
  for (size_t i = 0, n = P->len; i < n;) {
    unsigned c = s[i], need = 0, lo = 0x80, hi = 0xbf; /* range of the 2nd byte */
    if (c == 0) {
      gc_loc l = loc_at(P, i);
      return gc_status(GRAPHC_STATUS_PARSE_ERROR, "NUL byte at %s:%d:%d", P->file, l.line, l.col);
    }
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    if (c >= 0xe0 && c <= 0xef) need = 2, lo = c == 0xe0 ? 0xa0 : lo, hi = c == 0xed ? 0x9f : hi;
    if (c >= 0xf0 && c <= 0xf4) need = 3, lo = c == 0xf0 ? 0x90 : lo, hi = c == 0xf4 ? 0x8f : hi;
    bool ok = c < 0x80 || need > 0;
    for (unsigned k = 1; ok && k <= need; k++)
      ok = i + k < n && s[i + k] >= (k == 1 ? lo : 0x80) && s[i + k] <= (k == 1 ? hi : 0xbf);
    if (!ok) {
      gc_loc l = loc_at(P, i);
      return gc_status(GRAPHC_STATUS_PARSE_ERROR, "invalid UTF-8 at %s:%d:%d", P->file, l.line,
                       l.col);
    }
    i += need + 1;
  }
  return NULL;
}

/* --- lexer ------------------------------------------------------------------------ */

static void skip_space(parser *P) {
  while (P->pos < P->len) {
    char c = P->src[P->pos];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      P->pos++;
    } else if (c == '#') {
      while (P->pos < P->len && P->src[P->pos] != '\n') P->pos++;
    } else {
      break;
    }
  }
}

/* Length of a number at s[0..n): -?digits(.digits*)?([eE][+-]?digits)? */
static size_t number_len(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  size_t d0 = i;
  while (i < n && is_digit(s[i])) i++;
  if (i == d0) return 0;
  if (i < n && s[i] == '.') {
    i++;
    while (i < n && is_digit(s[i])) i++;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < n && (s[j] == '+' || s[j] == '-')) j++;
    size_t e0 = j;
    while (j < n && is_digit(s[j])) j++;
    if (j > e0) i = j;
  }
  return i;
}

static token peek(parser *P) {
  skip_space(P);
  token t = {TK_EOF, P->pos, 0};
  if (P->pos >= P->len) return t;
  const char *s = P->src + P->pos;
  size_t n = P->len - P->pos;
  char c = s[0];
  if (is_alpha(c)) {
    size_t i = 1;
    while (i < n && is_name_char(s[i])) i++;
    t.kind = TK_NAME;
    t.len = i;
  } else if (c == '%') {
    size_t i = 1;
    while (i < n && is_name_char(s[i])) i++;
    t.kind = i > 1 ? TK_RESULT : TK_OTHER;
    t.len = i;
  } else if (is_digit(c) || (c == '-' && n > 1 && is_digit(s[1]))) {
    t.kind = TK_NUMBER;
    t.len = number_len(s, n);
  } else if (strchr("()[]{},:=-", c)) {
    t.kind = TK_PUNCT;
    t.len = 1;
  } else {
    t.kind = TK_OTHER;
    t.len = 1;
  }
  return t;
}

static void take(parser *P, token t) { P->pos = t.off + t.len; }

static bool is_punct(token t, const parser *P, char c) {
  return t.kind == TK_PUNCT && P->src[t.off] == c;
}

static bool is_word(token t, const parser *P, const char *w) {
  return t.kind == TK_NAME && t.len == strlen(w) && memcmp(P->src + t.off, w, t.len) == 0;
}

static graphc_status_t expect_punct(parser *P, char c) {
  token t = peek(P);
  if (is_punct(t, P, c)) {
    take(P, t);
    return NULL;
  }
  char what[8];
  snprintf(what, sizeof what, "'%c'", c);
  return expected(P, t, what);
}

/* After a list item: ',' continues, `close` ends the list (*done). */
static graphc_status_t list_sep(parser *P, char close, bool *done) {
  token t = peek(P);
  *done = is_punct(t, P, close);
  if (*done || is_punct(t, P, ',')) {
    take(P, t);
    return NULL;
  }
  char what[16];
  snprintf(what, sizeof what, "',' or '%c'", close);
  return expected(P, t, what);
}

/* `open`, then *done if `close` follows at once (an empty list). */
static graphc_status_t list_open(parser *P, char open, char close, bool *done) {
  GC_TRY(expect_punct(P, open));
  token t = peek(P);
  if ((*done = is_punct(t, P, close))) take(P, t);
  return NULL;
}

static char *copy_span(const parser *P, size_t off, size_t len) {
  char *s = malloc(len + 1);
  if (s) {
    memcpy(s, P->src + off, len);
    s[len] = 0;
  }
  return s;
}

/* --- scopes -------------------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
  return h;
}

static bool scope_find(const scope *sc, const char *s, size_t n, int *id) {
  if (!sc->cap) return false;
  for (size_t i = hash_bytes(s, n) & (sc->cap - 1); sc->names[i]; i = (i + 1) & (sc->cap - 1))
    if (sc->lens[i] == n && memcmp(sc->names[i], s, n) == 0) {
      if (id) *id = sc->ids[i];
      return true;
    }
  return false;
}

static void scope_insert_slot(scope *sc, char *name, size_t n, int id) {
  size_t i = hash_bytes(name, n) & (sc->cap - 1);
  while (sc->names[i]) i = (i + 1) & (sc->cap - 1);
  sc->names[i] = name;
  sc->lens[i] = n;
  sc->ids[i] = id;
  sc->count++;
}

/* Adds a name (not present yet). False on out of memory. */
static bool scope_put(scope *sc, const char *s, size_t n, int id) {
  if ((sc->count + 1) * 2 > sc->cap) {
    scope old = *sc;
    size_t cap = sc->cap ? sc->cap * 2 : 16;
    scope nw = {calloc(cap, sizeof(char *)), calloc(cap, sizeof(size_t)), calloc(cap, sizeof(int)),
                cap, 0};
    if (!nw.names || !nw.lens || !nw.ids) {
      free(nw.names);
      free(nw.lens);
      free(nw.ids);
      return false;
    }
    for (size_t i = 0; i < old.cap; i++)
      if (old.names[i]) scope_insert_slot(&nw, old.names[i], old.lens[i], old.ids[i]);
    free(old.names);
    free(old.lens);
    free(old.ids);
    *sc = nw;
  }
  char *copy = malloc(n + 1);
  if (!copy) return false;
  memcpy(copy, s, n);
  copy[n] = 0;
  scope_insert_slot(sc, copy, n, id);
  return true;
}

static void scope_free(scope *sc) {
  for (size_t i = 0; i < sc->cap; i++) free(sc->names[i]);
  free(sc->names);
  free(sc->lens);
  free(sc->ids);
  memset(sc, 0, sizeof *sc);
}

/* Resolves a value reference token (bare input name or %result). */
static graphc_status_t resolve(parser *P, const gc_graph *g, const scope *sc, token t, int *id) {
  bool pct = t.kind == TK_RESULT;
  if (!pct && t.kind != TK_NAME) return expected(P, t, "a value (%name or an input name)");
  const char *s = P->src + t.off + pct;
  size_t n = t.len - pct;
  int shown = n > 80 ? 80 : (int)n, v;
  if (!scope_find(sc, s, n, &v))
    return err_at(P, t.off, "use of undefined value '%s%.*s'", pct ? "%" : "", shown, s);
  bool is_input = g->values[v].producer < 0;
  if (pct && is_input)
    return err_at(P, t.off, "'%%%.*s' is an input: refer to it as '%.*s'", shown, s, shown, s);
  if (!pct && !is_input)
    return err_at(P, t.off, "'%.*s' is a node result: refer to it as '%%%.*s'", shown, s, shown, s);
  *id = v;
  return NULL;
}

/* --- literals ------------------------------------------------------------------- */

static graphc_status_t parse_int(parser *P, const char *what, int64_t *out) {
  token t = peek(P);
  if (t.kind != TK_NUMBER) return expected(P, t, what);
  const char *s = P->src + t.off;
  bool neg = s[0] == '-';
  uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (size_t i = neg; i < t.len; i++) {
    if (!is_digit(s[i])) return expected(P, t, what);
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (limit - d) / 10)
      return err_at(P, t.off, "integer %.*s out of range", (int)(t.len > 40 ? 40 : t.len), s);
    v = v * 10 + d;
  }
  take(P, t);
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return NULL;
}

static graphc_status_t parse_float(parser *P, const char *what, double *out) {
  token t = peek(P);
  size_t start = t.off;
  bool neg = false;
  if (is_punct(t, P, '-')) {
    take(P, t);
    neg = true;
    t = peek(P);
    if (!is_word(t, P, "inf")) return expected(P, t, "'inf' after '-'");
  }
  if (is_word(t, P, "inf") || (!neg && is_word(t, P, "nan"))) {
    take(P, t);
    *out = P->src[t.off] == 'n' ? NAN : neg ? -INFINITY : INFINITY;
    return NULL;
  }
  if (t.kind != TK_NUMBER || t.len > 500) return expected(P, t, what);
  char buf[512];
  memcpy(buf, P->src + t.off, t.len);
  buf[t.len] = 0;
  if (!P->c_numeric) P->c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  errno = 0;
  char *end;
  double v = P->c_numeric ? strtod_l(buf, &end, P->c_numeric) : strtod(buf, &end);
  if (*end) return expected(P, t, what);
  if (errno == ERANGE && isinf(v)) return err_at(P, start, "float %s out of range", buf);
  take(P, t);
  *out = v;
  return NULL;
}

/* --- dims and types ----------------------------------------------------------------- */

/* Parses one dim expression at the current position (gc_dim_parse bounds
 * its own nesting). Negative constants only where allow_neg (reshape's -1). */
static graphc_status_t parse_dim(parser *P, gc_graph *g, bool create_syms, bool allow_neg,
                                 gc_dim *out) {
  skip_space(P);
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
  token t = peek(P);
  if (end == off) return expected(P, t, "a dim expression");
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
    graphc_status_t e = err_at(P, off + (used <= end - off ? used : 0), "%s", msg);
    graphc_status_free(st);
    return e;
  }
  if (used == 0) return expected(P, t, "a dim expression");
  int64_t v;
  if (!allow_neg && gc_dim_is_const(tab, *out, &v) && v < 0)
    return err_at(P, off, "dims must not be negative, got %lld", (long long)v);
  P->pos = off + used;
  return NULL;
}

/* '[' dim (',' dim)* ']' or '[]'; at most GC_MAX_RANK entries. */
static graphc_status_t parse_dim_list(parser *P, gc_graph *g, bool create_syms, bool allow_neg,
                                      gc_dim *dims, int *count) {
  bool done;
  GC_TRY(list_open(P, '[', ']', &done));
  for (*count = 0; !done; (*count)++) {
    if (*count == GC_MAX_RANK) return err_at(P, peek(P).off, "more than %d dims", GC_MAX_RANK);
    GC_TRY(parse_dim(P, g, create_syms, allow_neg, &dims[*count]));
    GC_TRY(list_sep(P, ']', &done));
  }
  return NULL;
}

/* dtype '[' dims ']' */
static graphc_status_t parse_type(parser *P, gc_graph *g, bool create_syms, gc_type *ty) {
  token t = peek(P);
  memset(ty, 0, sizeof *ty);
  if (t.kind != TK_NAME || !gc_dtype_parse(P->src + t.off, t.len, &ty->dtype))
    return expected(P, t, "a dtype (f32, f64, f16, bf16, i32, i64, bool)");
  take(P, t);
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
  GC_TRY(list_open(P, '[', ']', &done));
  int64_t *v = NULL;
  int cap = 0;
  for (a->count = 0; !done; a->count++) {
    if (a->count == MAX_INTS_LEN)
      return err_at(P, peek(P).off, "list longer than %d entries", MAX_INTS_LEN);
    GC_VEC_GROW(v, a->count, cap);
    a->ints = v;
    GC_TRY(parse_int(P, "an integer", &v[a->count]));
    GC_TRY(list_sep(P, ']', &done));
  }
  return NULL;
}

/* name '=' value, value syntax chosen by the op's schema. */
static graphc_status_t parse_attr(parser *P, gc_graph *g, const gc_op_info *op, token name,
                                  attr_list *al) {
  take(P, name);
  take(P, peek(P)); /* '=' (checked by the caller) */
  char key[64];
  const gc_attr_spec *spec = NULL;
  if (name.len < sizeof key) {
    memcpy(key, P->src + name.off, name.len);
    key[name.len] = 0;
    spec = gc_op_attr_spec(op, key);
  }
  if (!spec)
    return err_at(P, name.off, "op '%s' has no attribute '%.*s'", op->name,
                  (int)(name.len > 40 ? 40 : name.len), P->src + name.off);
  for (int i = 0; i < al->n; i++)
    if (strcmp(al->a[i].name, spec->name) == 0)
      return err_at(P, name.off, "duplicate attribute '%s'", spec->name);
  if (al->n == GC_MAX_ATTRS) return err_at(P, name.off, "too many attributes");
  graphc_attr_t *a = &al->a[al->n++];
  memset(a, 0, sizeof *a);
  a->name = spec->name;
  a->kind = spec->kind;
  static const char *const kind_what[] = {"an integer",    "a number",        "true or false",
                                          "an identifier", "an integer list", "a dtype",
                                          "a dim list"};
  if ((unsigned)spec->kind > GRAPHC_ATTR_DIMS)
    return err_at(P, name.off, "attribute '%s' has an unknown kind", spec->name);
  char what[96];
  snprintf(what, sizeof what, "%s for attribute '%s'", kind_what[spec->kind], spec->name);
  token t = peek(P);
  bool bracket = is_punct(t, P, '[');
  switch (spec->kind) {
    case GRAPHC_ATTR_INT:
      return parse_int(P, what, &a->i);
    case GRAPHC_ATTR_FLOAT:
      return parse_float(P, what, &a->f);
    case GRAPHC_ATTR_BOOL:
      if (!is_word(t, P, "true") && !is_word(t, P, "false")) return expected(P, t, what);
      a->i = P->src[t.off] == 't';
      break;
    case GRAPHC_ATTR_STRING:
      if (t.kind != TK_NAME) return expected(P, t, what);
      if (!(a->s = copy_span(P, t.off, t.len))) return GC_OOM();
      break;
    case GRAPHC_ATTR_INTS:
      return bracket ? parse_ints(P, a) : expected(P, t, what);
    case GRAPHC_ATTR_DTYPE:
      if (t.kind != TK_NAME || !gc_dtype_parse(P->src + t.off, t.len, &a->dtype))
        return expected(P, t, what);
      break;
    case GRAPHC_ATTR_DIMS: {
      if (!bracket) return expected(P, t, what);
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
  take(P, t);
  return NULL;
}

/* --- graphs ---------------------------------------------------------------------- */

static graphc_status_t parse_body(parser *P, gc_graph *g, scope *sc);

/* Checks that a new name is free in the scope. */
static graphc_status_t check_new_name(parser *P, const scope *sc, token t, size_t skip) {
  if (scope_find(sc, P->src + t.off + skip, t.len - skip, NULL))
    return err_at(P, t.off, "duplicate name '%.*s'", (int)(t.len > 80 ? 80 : t.len),
                  P->src + t.off);
  return NULL;
}

/* name ":" type, then a role in the top-level graph; adds the input to g and sc. */
static graphc_status_t parse_input(parser *P, gc_graph *g, scope *sc, bool root) {
  token name = peek(P);
  if (name.kind != TK_NAME) return expected(P, name, "an input name");
  GC_TRY(check_new_name(P, sc, name, 0));
  take(P, name);
  GC_TRY(expect_punct(P, ':'));
  gc_type ty;
  GC_TRY(parse_type(P, g, root, &ty));
  graphc_role_t role = GRAPHC_ROLE_INPUT;
  if (root) {
    static const char *const roles[] = {"input", "param", "buffer", "symbol"};
    token r = peek(P);
    int k = 0;
    while (k < 4 && !is_word(r, P, roles[k])) k++;
    if (k == 4) return expected(P, r, "a role (input, param, buffer, symbol)");
    take(P, r);
    role = (graphc_role_t)k;
  }
  char *cname = copy_span(P, name.off, name.len);
  if (!cname) return GC_OOM();
  int id;
  graphc_status_t st = gc_graph_add_input(g, cname, role, &ty, loc_at(P, name.off), &id);
  if (!st && !scope_put(sc, cname, name.len, id)) st = GC_OOM();
  free(cname);
  return st;
}

/* '(' [input (',' input)*] ')' */
static graphc_status_t parse_inputs(parser *P, gc_graph *g, scope *sc, bool root) {
  bool done;
  GC_TRY(list_open(P, '(', ')', &done));
  while (!done) {
    GC_TRY(parse_input(P, g, sc, root));
    GC_TRY(list_sep(P, ')', &done));
  }
  return NULL;
}

/* 'region' '(' params ')' '{' body '}' -> a new region graph of g. */
static graphc_status_t parse_region(parser *P, gc_graph *g, const char *name, gc_graph **out) {
  token kw = peek(P);
  take(P, kw);
  if (P->depth >= GC_TEXT_MAX_NESTING)
    return err_at(P, kw.off, "regions nested deeper than %d", GC_TEXT_MAX_NESTING);
  gc_graph *r = NULL;
  GC_TRY(gc_graph_new(g->ctx, name, g, &r));
  scope sc = {0};
  P->depth++;
  graphc_status_t st = parse_inputs(P, r, &sc, false);
  if (!st) st = parse_body(P, r, &sc);
  P->depth--;
  scope_free(&sc);
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
  GC_TRY(list_open(P, '(', ')', &done));
  while (!done) {
    token t = peek(P);
    bool is_attr = false;
    if (t.kind == TK_NAME) { /* name '=' starts an attribute */
      take(P, t);
      is_attr = is_punct(peek(P), P, '=');
      P->pos = t.off;
    }
    if (is_attr) {
      GC_TRY(parse_attr(P, g, op, t, &np->attrs));
    } else {
      if (np->attrs.n > 0 && (t.kind == TK_NAME || t.kind == TK_RESULT))
        return err_at(P, t.off, "operands must come before attributes");
      GC_VEC_GROW(np->operands, np->noperands, np->capoperands);
      GC_TRY(resolve(P, g, sc, t, &np->operands[np->noperands]));
      np->noperands++;
      take(P, t);
    }
    GC_TRY(list_sep(P, ')', &done));
  }
  for (token t = peek(P); is_word(t, P, "region"); t = peek(P)) {
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
    token t = peek(P);
    if (t.kind != TK_RESULT) return expected(P, t, "a result name (%name)");
    if (np->nnames == GC_MAX_RESULTS)
      return err_at(P, t.off, "more than %d results", GC_MAX_RESULTS);
    GC_TRY(check_new_name(P, sc, t, 1));
    for (int i = 0; i < np->nnames; i++)
      if (np->names[i].len == t.len && !memcmp(P->src + np->names[i].off, P->src + t.off, t.len))
        return err_at(P, t.off, "duplicate name '%.*s'", (int)(t.len > 80 ? 80 : t.len),
                      P->src + t.off);
    if (!(np->result_names[np->nnames] = copy_span(P, t.off + 1, t.len - 1))) return GC_OOM();
    np->names[np->nnames++] = t;
    take(P, t);
    t = peek(P);
    if (is_punct(t, P, '=')) {
      take(P, t);
      break;
    }
    if (!is_punct(t, P, ',')) return expected(P, t, "',' or '='");
    take(P, t);
  }
  token opt = peek(P);
  if (opt.kind != TK_NAME) return expected(P, opt, "an op name");
  const gc_op_info *op = gc_op_lookup(P->src + opt.off, opt.len);
  if (!op)
    return err_at(P, opt.off, "unknown op '%.*s'", (int)(opt.len > 40 ? 40 : opt.len),
                  P->src + opt.off);
  take(P, opt);
  gc_loc loc = loc_at(P, opt.off);
  if (op->nresults >= 0 && op->nresults != np->nnames)
    return err_at(P, np->names[0].off, "op '%s' has %d result%s, got %d name%s", op->name,
                  op->nresults, op->nresults == 1 ? "" : "s", np->nnames,
                  np->nnames == 1 ? "" : "s");
  GC_TRY(parse_call(P, g, sc, np, op));
  /* For variadic-result ops the builder may read more names than given:
   * pad with fresh names; a count mismatch is reported afterwards. */
  for (int i = np->nnames; op->nresults < 0 && i < GC_MAX_RESULTS; i++) {
    char pad[48];
    int k = 0;
    do snprintf(pad, sizeof pad, "_unnamed%d_%d", i, k++);
    while (scope_find(sc, pad, strlen(pad), NULL));
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
    return err_at(P, np->names[0].off, "op '%s' has %d result%s here, got %d name%s", op->name,
                  nd->nresults, nd->nresults == 1 ? "" : "s", np->nnames,
                  np->nnames == 1 ? "" : "s");
  for (int i = 0; i < np->nnames; i++)
    if (!scope_put(sc, np->result_names[i], strlen(np->result_names[i]), nd->results[i]))
      return GC_OOM();
  return NULL;
}

/* after 'return': [value (',' value)*] '}' */
static graphc_status_t parse_return(parser *P, gc_graph *g, const scope *sc, int **ids) {
  int n = 0, cap = 0;
  bool done = is_punct(peek(P), P, '}');
  while (!done) {
    token t = peek(P);
    GC_VEC_GROW(*ids, n, cap);
    GC_TRY(resolve(P, g, sc, t, &(*ids)[n]));
    n++;
    take(P, t);
    done = !is_punct(peek(P), P, ',');
    if (!done) take(P, peek(P));
  }
  GC_TRY(expect_punct(P, '}'));
  int none = 0;
  return gc_graph_set_outputs(g, n ? *ids : &none, n);
}

/* '{' node* 'return' ... '}' */
static graphc_status_t parse_body(parser *P, gc_graph *g, scope *sc) {
  GC_TRY(expect_punct(P, '{'));
  for (;;) {
    token t = peek(P);
    if (is_word(t, P, "return")) {
      take(P, t);
      int *ids = NULL;
      graphc_status_t st = parse_return(P, g, sc, &ids);
      free(ids);
      return st;
    }
    if (t.kind != TK_RESULT) return expected(P, t, "a node (%name = op(...)) or 'return'");
    node_parts np;
    memset(&np, 0, sizeof np);
    graphc_status_t st = parse_node(P, g, sc, &np);
    node_parts_free(&np);
    GC_TRY(st);
  }
}

/* 'graph' name inputs body, then only whitespace and comments. */
static graphc_status_t parse_graph(parser *P, gc_graph **out) {
  GC_TRY(check_bytes(P));
  token t = peek(P);
  if (!is_word(t, P, "graph")) return expected(P, t, "'graph'");
  take(P, t);
  token name = peek(P);
  if (name.kind != TK_NAME) return expected(P, name, "a graph name");
  take(P, name);
  char *cname = copy_span(P, name.off, name.len);
  if (!cname) return GC_OOM();
  gc_graph *g = NULL;
  graphc_status_t st = gc_graph_new(P->ctx, cname, NULL, &g);
  free(cname);
  GC_TRY(st);
  if (!(g->file = gc_strdup(P->file))) st = GC_OOM();
  scope sc = {0};
  if (!st) st = parse_inputs(P, g, &sc, true);
  if (!st) st = parse_body(P, g, &sc);
  scope_free(&sc);
  if (!st) {
    t = peek(P);
    if (t.kind != TK_EOF) st = expected(P, t, "end of input after the graph");
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
