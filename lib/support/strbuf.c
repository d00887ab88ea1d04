/* Growable strings. */
#include "support/strbuf.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool sb_reserve(gc_strbuf *sb, size_t extra) {
  if (sb->oom) return false;
  if (sb->len + extra + 1 <= sb->cap) return true;
  size_t cap = sb->cap ? sb->cap : 64;
  while (cap < sb->len + extra + 1) cap *= 2;
  char *p = realloc(sb->data, cap);
  if (!p) {
    sb->oom = true;
    return false;
  }
  sb->data = p;
  sb->cap = cap;
  return true;
}

void gc_sb_appendn(gc_strbuf *sb, const char *s, size_t n) {
  if (!sb_reserve(sb, n)) return;
  memcpy(sb->data + sb->len, s, n);
  sb->len += n;
  sb->data[sb->len] = 0;
}

void gc_sb_append(gc_strbuf *sb, const char *s) { gc_sb_appendn(sb, s, strlen(s)); }

void gc_sb_printf(gc_strbuf *sb, const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n > 0 && sb_reserve(sb, (size_t)n)) {
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
  }
  va_end(ap);
}

char *gc_sb_take(gc_strbuf *sb) {
  if (sb->oom) {
    gc_sb_free(sb);
    return NULL;
  }
  if (!sb->data) sb_reserve(sb, 0), sb->data ? sb->data[0] = 0 : 0;
  char *p = sb->data;
  sb->data = NULL;
  sb->len = sb->cap = 0;
  return p;
}

void gc_sb_free(gc_strbuf *sb) {
  free(sb->data);
  sb->data = NULL;
  sb->len = sb->cap = 0;
  sb->oom = false;
}

void gc_sb_double(gc_strbuf *sb, double v) {
  if (isnan(v)) {
    gc_sb_append(sb, "nan");
    return;
  }
  if (isinf(v)) {
    gc_sb_append(sb, v < 0 ? "-inf" : "inf");
    return;
  }
  char buf[64];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break; /* same locale both ways */
  }
  /* The text form always uses '.', whatever LC_NUMERIC says. */
  const char *dp = localeconv()->decimal_point;
  if (dp && dp[0] && dp[0] != '.' && !dp[1]) {
    char *c = strchr(buf, dp[0]);
    if (c) *c = '.';
  }
  gc_sb_append(sb, buf);
  /* Make sure it reads as a float literal, not an integer. */
  if (!strpbrk(buf, ".eE")) gc_sb_append(sb, ".0");
}

char *gc_strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}
