/* Status assertions shared by the Criterion suites. */
#ifndef GC_UNITTESTS_TEST_COMMON_H
#define GC_UNITTESTS_TEST_COMMON_H

#include <criterion/criterion.h>
#include <string.h>

#include <stdio.h>

#include "graphc/status.h"
#include "graphc/text.h"

/* Asserts that expr (a graphc_status_t) succeeds. */
#define OK(expr)                                                                      \
  do {                                                                                \
    graphc_status_t ok_st_ = (expr);                                                  \
    cr_assert(ok_st_ == NULL, "%s failed: %s", #expr, graphc_status_message(ok_st_)); \
  } while (0)

/* Asserts an error with `code` whose message contains `needle`. */
#define FAILS(expr, code, needle)                                                       \
  do {                                                                                  \
    graphc_status_t st_ = (expr);                                                       \
    cr_assert_not_null(st_, "%s succeeded", #expr);                                     \
    cr_assert_eq(graphc_status_code(st_), (code), "%s: %s", #expr, graphc_status_message(st_)); \
    cr_assert(strstr(graphc_status_message(st_), (needle)), "%s: '%s' lacks '%s'", #expr, \
              graphc_status_message(st_), (needle));                                    \
    graphc_status_free(st_);                                                            \
  } while (0)

/* Parses `text` (called t.gc in messages) into a new graph of ctx. */
static inline graphc_graph_t *tc_parse(graphc_context_t *ctx, const char *text) {
  graphc_graph_t *g = NULL;
  OK(graphc_graph_parse(ctx, text, strlen(text), "t.gc", &g));
  return g;
}

/* Loads GRAPHC_SOURCE_DIR/<dir>/<name>.gc into a new graph of ctx. */
#ifdef GRAPHC_SOURCE_DIR
static inline graphc_graph_t *tc_load(graphc_context_t *ctx, const char *dir, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s/%s.gc", GRAPHC_SOURCE_DIR, dir, name);
  graphc_graph_t *g = NULL;
  OK(graphc_graph_parse_file(ctx, path, &g));
  return g;
}
#endif

#endif
