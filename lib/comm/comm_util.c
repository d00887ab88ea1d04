/* Argument checks and small helpers shared by every communicator backend. */
#include "comm/comm_util.h"

#include <time.h>

#include "support/status.h"

const char *gc_reduce_op_name(gc_reduce_op op) {
  switch (op) {
    case GC_REDUCE_SUM: return "sum";
    case GC_REDUCE_AVG: return "avg";
    case GC_REDUCE_MAX: return "max";
  }
  return "?";
}

graphc_status_t gc_comm_check_args(const gc_comm *c, int64_t count, graphc_dtype_t dt, bool reduce,
                                   gc_reduce_op op, const char *what) {
  what = gc_comm_what(what);
  if (!c) return gc_status(GRAPHC_STATUS_FAILED_PRECONDITION, "%s: collective needs a communicator", what);
  if (count < 0)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: negative element count %lld", what,
                     (long long)count);
  if ((unsigned)dt >= GRAPHC_DTYPE_COUNT)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: bad dtype %d", what, (int)dt);
  if (!reduce) return NULL;
  if (op != GC_REDUCE_SUM && op != GC_REDUCE_AVG && op != GC_REDUCE_MAX)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: bad reduce op %d", what, (int)op);
  bool is_float = dt == GRAPHC_F32 || dt == GRAPHC_F64 || dt == GRAPHC_F16 || dt == GRAPHC_BF16;
  if (dt == GRAPHC_BOOL && op != GC_REDUCE_MAX)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: %s of bool is not defined (use max)", what,
                     gc_reduce_op_name(op));
  if (op == GC_REDUCE_AVG && !is_float)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "%s: avg needs a float dtype, got %s", what,
                     graphc_dtype_name(dt));
  return NULL;
}

double gc_comm_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
