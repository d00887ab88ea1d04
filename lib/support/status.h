/* Internal status helpers: build graphc_status_t objects with printf-style
 * messages. A failed allocation yields a static "out of memory" status that
 * graphc_status_free() recognises and leaves alone. */
#ifndef GC_SUPPORT_STATUS_H
#define GC_SUPPORT_STATUS_H

#include <stdarg.h>

#include "graphc/status.h"

graphc_status_t gc_status(graphc_status_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
graphc_status_t gc_status_v(graphc_status_code_t code, const char *fmt, va_list ap);
/* Returns a new status: "<prefix>: <old message>", same code; frees `st`. */
graphc_status_t gc_status_wrap(graphc_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Propagate a non-NULL status. */
#define GC_TRY(expr)                 \
  do {                               \
    graphc_status_t gc_try_st_ = (expr); \
    if (gc_try_st_) return gc_try_st_;   \
  } while (0)

#define GC_OOM() gc_status(GRAPHC_STATUS_RESOURCE_EXHAUSTED, "out of memory")

#endif
