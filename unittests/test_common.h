/* Status assertions shared by the Criterion suites. */
#ifndef GC_UNITTESTS_TEST_COMMON_H
#define GC_UNITTESTS_TEST_COMMON_H

#include <criterion/criterion.h>
#include <string.h>

#include "graphc/status.h"

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

#endif
