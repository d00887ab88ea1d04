/* Helpers shared by the communicator backends (comm_self.c, comm_mpi.c):
 * argument checks that every backend applies the same way, so a request
 * that one backend rejects is rejected by all of them, and the default
 * wait bound. */
#ifndef GC_COMM_COMM_UTIL_H
#define GC_COMM_COMM_UTIL_H

#include "comm/comm.h"

/* Default bound on every wait, in seconds (graphc_comm_set_timeout). */
#define GC_COMM_DEFAULT_TIMEOUT_S 300.0

/* Checks a collective's element count and dtype; `reduce` adds the
 * reduction rules: sum/avg of bool and avg of integers are refused (avg is
 * defined for float dtypes only; max of bool is logical or). */
graphc_status_t gc_comm_check_args(const gc_comm *c, int64_t count, graphc_dtype_t dt, bool reduce,
                                   gc_reduce_op op, const char *what);

/* `what` for messages: the caller's description, or "collective". */
static inline const char *gc_comm_what(const char *what) { return what ? what : "collective"; }

/* "sum", "avg", "max"; "?" otherwise. */
const char *gc_reduce_op_name(gc_reduce_op op);

/* Seconds on a monotonic clock. */
double gc_comm_now(void);

#endif
