/* libgraphc — status objects.
 *
 * Every fallible libgraphc call returns a graphc_status_t. NULL means OK.
 * Anything else is a heap-allocated status object that the caller owns and
 * must release with graphc_status_free(). A status carries a code and a
 * human-readable message; where it applies, the message names the op, the IR
 * location as file:line:col and the rank. libgraphc never aborts, exits or
 * keeps a thread-local "last error": the status is the whole story.
 *
 * Thread safety: a status object belongs to the thread that received it; the
 * functions below may be called from any thread.
 */
#ifndef GRAPHC_STATUS_H
#define GRAPHC_STATUS_H

#include <stddef.h>

#include "graphc/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Broad classes of failure. Values are stable ABI. */
typedef enum graphc_status_code_e {
  GRAPHC_STATUS_OK = 0,
  GRAPHC_STATUS_INVALID_ARGUMENT = 1, /* bad handle, bad option, bad tensor */
  GRAPHC_STATUS_PARSE_ERROR = 2,      /* text IR that does not parse       */
  GRAPHC_STATUS_VERIFY_ERROR = 3,     /* IR that parses but is ill-typed   */
  GRAPHC_STATUS_NOT_FOUND = 4,        /* unknown op, name or file          */
  GRAPHC_STATUS_OUT_OF_RANGE = 5,     /* index or size outside its domain  */
  GRAPHC_STATUS_RESOURCE_EXHAUSTED = 6, /* allocation failed, size too big */
  GRAPHC_STATUS_UNIMPLEMENTED = 7,    /* valid request not supported yet   */
  GRAPHC_STATUS_IO_ERROR = 8,         /* file system or format failure     */
  GRAPHC_STATUS_DATA_LOSS = 9,        /* corrupt or truncated data         */
  GRAPHC_STATUS_UNAVAILABLE = 10,     /* a device or library is absent     */
  GRAPHC_STATUS_FAILED_PRECONDITION = 11, /* call made in the wrong state  */
  GRAPHC_STATUS_INTERNAL = 12,        /* a libgraphc bug                   */
} graphc_status_code_t;

/* Opaque status; NULL is OK. */
typedef struct graphc_status_s *graphc_status_t;

/* The code of `status`; GRAPHC_STATUS_OK for NULL. */
GRAPHC_API graphc_status_code_t graphc_status_code(graphc_status_t status);

/* The message of `status`, borrowed: valid until graphc_status_free().
 * "OK" for NULL. */
GRAPHC_API const char *graphc_status_message(graphc_status_t status);

/* A stable name for `code`, e.g. "INVALID_ARGUMENT". Static storage. */
GRAPHC_API const char *graphc_status_code_name(graphc_status_code_t code);

/* Releases `status`. NULL is accepted and ignored. */
GRAPHC_API void graphc_status_free(graphc_status_t status);

#ifdef __cplusplus
}
#endif
#endif /* GRAPHC_STATUS_H */
