/* The .gc parser's lexer side: character classes, locations and errors,
 * the on-demand tokenizer, name scopes and literals (parse_internal.h). */
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

/* --- character classes ----------------------------------------------------- */

bool gcp_is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool gcp_is_digit(char c) { return c >= '0' && c <= '9'; }
bool gcp_is_name_char(char c) { return gcp_is_alpha(c) || gcp_is_digit(c) || c == '.'; }

bool gc_text_is_name(const char *s, size_t n) {
  if (n == 0 || !gcp_is_alpha(s[0])) return false;
  for (size_t i = 1; i < n; i++)
    if (!gcp_is_name_char(s[i])) return false;
  return true;
}

/* --- locations and errors ------------------------------------------------------ */

gc_loc gcp_loc_at(parser *P, size_t off) {
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

graphc_status_t gcp_err_at(parser *P, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
graphc_status_t gcp_err_at(parser *P, size_t off, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  gc_loc l = gcp_loc_at(P, off);
  return gc_status(GRAPHC_STATUS_PARSE_ERROR, "%s:%d:%d: %s", P->file, l.line, l.col, msg);
}

/* A short quoted rendering of a token for "got ..." parts. */
void gcp_describe(const parser *P, token t, char *buf, size_t cap) {
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

graphc_status_t gcp_expected(parser *P, token t, const char *what) {
  char got[64];
  gcp_describe(P, t, got, sizeof got);
  return gcp_err_at(P, t.off, "expected %s, got %s", what, got);
}

/* Checks the whole input once: valid UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF), no NUL bytes. */
graphc_status_t gcp_check_bytes(parser *P) {
  const unsigned char *s = (const unsigned char *)P->src;
  for (size_t i = 0, n = P->len; i < n;) {
    unsigned c = s[i], need = 0, lo = 0x80, hi = 0xbf; /* range of the 2nd byte */
    if (c == 0) {
      gc_loc l = gcp_loc_at(P, i);
      return gc_status(GRAPHC_STATUS_PARSE_ERROR, "NUL byte at %s:%d:%d", P->file, l.line, l.col);
    }
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    if (c >= 0xe0 && c <= 0xef) need = 2, lo = c == 0xe0 ? 0xa0 : lo, hi = c == 0xed ? 0x9f : hi;
    if (c >= 0xf0 && c <= 0xf4) need = 3, lo = c == 0xf0 ? 0x90 : lo, hi = c == 0xf4 ? 0x8f : hi;
    bool ok = c < 0x80 || need > 0;
    for (unsigned k = 1; ok && k <= need; k++)
      ok = i + k < n && s[i + k] >= (k == 1 ? lo : 0x80) && s[i + k] <= (k == 1 ? hi : 0xbf);
    if (!ok) {
      gc_loc l = gcp_loc_at(P, i);
      return gc_status(GRAPHC_STATUS_PARSE_ERROR, "invalid UTF-8 at %s:%d:%d", P->file, l.line,
                       l.col);
    }
    i += need + 1;
  }
  return NULL;
}

/* --- lexer ------------------------------------------------------------------------ */

void gcp_skip_space(parser *P) {
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
size_t gcp_number_len(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  size_t d0 = i;
  while (i < n && gcp_is_digit(s[i])) i++;
  if (i == d0) return 0;
  if (i < n && s[i] == '.') {
    i++;
    while (i < n && gcp_is_digit(s[i])) i++;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < n && (s[j] == '+' || s[j] == '-')) j++;
    size_t e0 = j;
    while (j < n && gcp_is_digit(s[j])) j++;
    if (j > e0) i = j;
  }
  return i;
}

token gcp_peek(parser *P) {
  gcp_skip_space(P);
  token t = {TK_EOF, P->pos, 0};
  if (P->pos >= P->len) return t;
  const char *s = P->src + P->pos;
  size_t n = P->len - P->pos;
  char c = s[0];
  if (gcp_is_alpha(c)) {
    size_t i = 1;
    while (i < n && gcp_is_name_char(s[i])) i++;
    t.kind = TK_NAME;
    t.len = i;
  } else if (c == '%') {
    size_t i = 1;
    while (i < n && gcp_is_name_char(s[i])) i++;
    t.kind = i > 1 ? TK_RESULT : TK_OTHER;
    t.len = i;
  } else if (gcp_is_digit(c) || (c == '-' && n > 1 && gcp_is_digit(s[1]))) {
    t.kind = TK_NUMBER;
    t.len = gcp_number_len(s, n);
  } else if (strchr("()[]{},:=-", c)) {
    t.kind = TK_PUNCT;
    t.len = 1;
  } else {
    t.kind = TK_OTHER;
    t.len = 1;
  }
  return t;
}

void gcp_take(parser *P, token t) { P->pos = t.off + t.len; }

bool gcp_is_punct(token t, const parser *P, char c) {
  return t.kind == TK_PUNCT && P->src[t.off] == c;
}

bool gcp_is_word(token t, const parser *P, const char *w) {
  return t.kind == TK_NAME && t.len == strlen(w) && memcmp(P->src + t.off, w, t.len) == 0;
}

graphc_status_t gcp_expect_punct(parser *P, char c) {
  token t = gcp_peek(P);
  if (gcp_is_punct(t, P, c)) {
    gcp_take(P, t);
    return NULL;
  }
  char what[8];
  snprintf(what, sizeof what, "'%c'", c);
  return gcp_expected(P, t, what);
}

/* After a list item: ',' continues, `close` ends the list (*done). */
graphc_status_t gcp_list_sep(parser *P, char close, bool *done) {
  token t = gcp_peek(P);
  *done = gcp_is_punct(t, P, close);
  if (*done || gcp_is_punct(t, P, ',')) {
    gcp_take(P, t);
    return NULL;
  }
  char what[16];
  snprintf(what, sizeof what, "',' or '%c'", close);
  return gcp_expected(P, t, what);
}

/* `open`, then *done if `close` follows at once (an empty list). */
graphc_status_t gcp_list_open(parser *P, char open, char close, bool *done) {
  GC_TRY(gcp_expect_punct(P, open));
  token t = gcp_peek(P);
  if ((*done = gcp_is_punct(t, P, close))) gcp_take(P, t);
  return NULL;
}

char *gcp_copy_span(const parser *P, size_t off, size_t len) {
  char *s = malloc(len + 1);
  if (s) {
    memcpy(s, P->src + off, len);
    s[len] = 0;
  }
  return s;
}

/* --- scopes -------------------------------------------------------------------- */

uint64_t gcp_hash_bytes(const char *s, size_t n) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
  return h;
}

bool gcp_scope_find(const scope *sc, const char *s, size_t n, int *id) {
  if (!sc->cap) return false;
  for (size_t i = gcp_hash_bytes(s, n) & (sc->cap - 1); sc->names[i]; i = (i + 1) & (sc->cap - 1))
    if (sc->lens[i] == n && memcmp(sc->names[i], s, n) == 0) {
      if (id) *id = sc->ids[i];
      return true;
    }
  return false;
}

void gcp_scope_insert_slot(scope *sc, char *name, size_t n, int id) {
  size_t i = gcp_hash_bytes(name, n) & (sc->cap - 1);
  while (sc->names[i]) i = (i + 1) & (sc->cap - 1);
  sc->names[i] = name;
  sc->lens[i] = n;
  sc->ids[i] = id;
  sc->count++;
}

/* Adds a name (not present yet). False on out of memory. */
bool gcp_scope_put(scope *sc, const char *s, size_t n, int id) {
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
      if (old.names[i]) gcp_scope_insert_slot(&nw, old.names[i], old.lens[i], old.ids[i]);
    free(old.names);
    free(old.lens);
    free(old.ids);
    *sc = nw;
  }
  char *copy = malloc(n + 1);
  if (!copy) return false;
  memcpy(copy, s, n);
  copy[n] = 0;
  gcp_scope_insert_slot(sc, copy, n, id);
  return true;
}

void gcp_scope_free(scope *sc) {
  for (size_t i = 0; i < sc->cap; i++) free(sc->names[i]);
  free(sc->names);
  free(sc->lens);
  free(sc->ids);
  memset(sc, 0, sizeof *sc);
}

/* Resolves a value reference token (bare input name or %result). */
graphc_status_t gcp_resolve(parser *P, const gc_graph *g, const scope *sc, token t, int *id) {
  bool pct = t.kind == TK_RESULT;
  if (!pct && t.kind != TK_NAME) return gcp_expected(P, t, "a value (%name or an input name)");
  const char *s = P->src + t.off + pct;
  size_t n = t.len - pct;
  int shown = n > 80 ? 80 : (int)n, v;
  if (!gcp_scope_find(sc, s, n, &v))
    return gcp_err_at(P, t.off, "use of undefined value '%s%.*s'", pct ? "%" : "", shown, s);
  bool is_input = g->values[v].producer < 0;
  if (pct && is_input)
    return gcp_err_at(P, t.off, "'%%%.*s' is an input: refer to it as '%.*s'", shown, s, shown, s);
  if (!pct && !is_input)
    return gcp_err_at(P, t.off, "'%.*s' is a node result: refer to it as '%%%.*s'", shown, s, shown, s);
  *id = v;
  return NULL;
}

/* --- literals ------------------------------------------------------------------- */

graphc_status_t gcp_parse_int(parser *P, const char *what, int64_t *out) {
  token t = gcp_peek(P);
  if (t.kind != TK_NUMBER) return gcp_expected(P, t, what);
  const char *s = P->src + t.off;
  bool neg = s[0] == '-';
  uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (size_t i = neg; i < t.len; i++) {
    if (!gcp_is_digit(s[i])) return gcp_expected(P, t, what);
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (limit - d) / 10)
      return gcp_err_at(P, t.off, "integer %.*s out of range", (int)(t.len > 40 ? 40 : t.len), s);
    v = v * 10 + d;
  }
  gcp_take(P, t);
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return NULL;
}

graphc_status_t gcp_parse_float(parser *P, const char *what, double *out) {
  token t = gcp_peek(P);
  size_t start = t.off;
  bool neg = false;
  if (gcp_is_punct(t, P, '-')) {
    gcp_take(P, t);
    neg = true;
    t = gcp_peek(P);
    if (!gcp_is_word(t, P, "inf")) return gcp_expected(P, t, "'inf' after '-'");
  }
  if (gcp_is_word(t, P, "inf") || (!neg && gcp_is_word(t, P, "nan"))) {
    gcp_take(P, t);
    *out = P->src[t.off] == 'n' ? NAN : neg ? -INFINITY : INFINITY;
    return NULL;
  }
  if (t.kind != TK_NUMBER || t.len > 500) return gcp_expected(P, t, what);
  char buf[512];
  memcpy(buf, P->src + t.off, t.len);
  buf[t.len] = 0;
  if (!P->c_numeric) P->c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  errno = 0;
  char *end;
  double v = P->c_numeric ? strtod_l(buf, &end, P->c_numeric) : strtod(buf, &end);
  if (*end) return gcp_expected(P, t, what);
  if (errno == ERANGE && isinf(v)) return gcp_err_at(P, start, "float %s out of range", buf);
  gcp_take(P, t);
  *out = v;
  return NULL;
}
