/* A growable NUL-terminated string. Allocation failure is sticky: `oom`
 * is set and later appends are ignored, so callers check once at the end. */
#ifndef GC_SUPPORT_STRBUF_H
#define GC_SUPPORT_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gc_strbuf {
  char *data; /* NUL-terminated when len > 0 or after any append */
  size_t len, cap;
  bool oom;
} gc_strbuf;

void gc_sb_append(gc_strbuf *sb, const char *s);
void gc_sb_appendn(gc_strbuf *sb, const char *s, size_t n);
void gc_sb_printf(gc_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the buffer to the caller (never NULL unless oom); resets sb. */
char *gc_sb_take(gc_strbuf *sb);
void gc_sb_free(gc_strbuf *sb);
/* Prints a double so that it reads back exactly and looks like a float
 * literal ("1.0", "0.1", "1e-05", "inf", "-inf", "nan"). */
void gc_sb_double(gc_strbuf *sb, double v);

/* strdup that returns NULL on NULL input. */
char *gc_strdup(const char *s);

#endif
