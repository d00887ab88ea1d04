/* Status objects: a code and a heap message. */
#include "support/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct graphc_status_s {
  graphc_status_code_t code;
  char *message;
};

/* Returned when we cannot even allocate a status. Never freed. */
static struct graphc_status_s gc_oom_status = {GRAPHC_STATUS_RESOURCE_EXHAUSTED,
                                               (char *)"out of memory"};

graphc_status_t gc_status_v(graphc_status_code_t code, const char *fmt, va_list ap) {
  if (code == GRAPHC_STATUS_OK) code = GRAPHC_STATUS_INTERNAL;
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) n = 0;
  struct graphc_status_s *st = malloc(sizeof *st);
  char *msg = malloc((size_t)n + 1);
  if (!st || !msg) {
    free(st);
    free(msg);
    return &gc_oom_status;
  }
  vsnprintf(msg, (size_t)n + 1, fmt, ap);
  st->code = code;
  st->message = msg;
  return st;
}

graphc_status_t gc_status(graphc_status_code_t code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  graphc_status_t st = gc_status_v(code, fmt, ap);
  va_end(ap);
  return st;
}

graphc_status_t gc_status_wrap(graphc_status_t st, const char *fmt, ...) {
  if (!st) return NULL;
  char prefix[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  graphc_status_t out = gc_status(st->code, "%s: %s", prefix, st->message);
  graphc_status_free(st);
  return out;
}

graphc_status_code_t graphc_status_code(graphc_status_t st) {
  return st ? st->code : GRAPHC_STATUS_OK;
}

const char *graphc_status_message(graphc_status_t st) { return st ? st->message : "OK"; }

const char *graphc_status_code_name(graphc_status_code_t code) {
  switch (code) {
    case GRAPHC_STATUS_OK: return "OK";
    case GRAPHC_STATUS_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case GRAPHC_STATUS_PARSE_ERROR: return "PARSE_ERROR";
    case GRAPHC_STATUS_VERIFY_ERROR: return "VERIFY_ERROR";
    case GRAPHC_STATUS_NOT_FOUND: return "NOT_FOUND";
    case GRAPHC_STATUS_OUT_OF_RANGE: return "OUT_OF_RANGE";
    case GRAPHC_STATUS_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case GRAPHC_STATUS_UNIMPLEMENTED: return "UNIMPLEMENTED";
    case GRAPHC_STATUS_IO_ERROR: return "IO_ERROR";
    case GRAPHC_STATUS_DATA_LOSS: return "DATA_LOSS";
    case GRAPHC_STATUS_UNAVAILABLE: return "UNAVAILABLE";
    case GRAPHC_STATUS_FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case GRAPHC_STATUS_INTERNAL: return "INTERNAL";
  }
  return "UNKNOWN";
}

void graphc_status_free(graphc_status_t st) {
  if (!st || st == &gc_oom_status) return;
  free(st->message);
  free(st);
}
