/* See cli_common.h. */
#include "cli_common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int gc_cli_usage(const char *cmd, const char *usage, const char *msg, const char *arg) {
  fprintf(stderr, "graphc %s: %s%s%s\nusage: %s\n", cmd, msg, arg ? ": " : "", arg ? arg : "",
          usage);
  return 2;
}

int gc_cli_fail(graphc_status_t st) {
  fprintf(stderr, "graphc: error: %s\n", graphc_status_message(st));
  graphc_status_free(st);
  return 1;
}

bool gc_cli_parse_mb(const char *s, int64_t *bytes) {
  char *end;
  errno = 0;
  double mb = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(mb) || mb < 0 || mb > 8.0e12) return false;
  *bytes = (int64_t)floor(mb * 1048576.0);
  return true;
}
