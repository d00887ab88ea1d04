/* Private helpers shared by ops_elementwise.c, ops_reduce.c and ops_nn.c:
 * loading an element converted to a compute dtype the way PyTorch casts
 * operands to the common dtype before a kernel runs, and formatting types
 * for error messages. */
#ifndef GC_OPS_OPS_COMMON_H
#define GC_OPS_OPS_COMMON_H

#include <math.h>
#include <stdint.h>

#include "ir/op.h"
#include "support/status.h"

/* A failed dim construction (overflow, ...) becomes a located verify error;
 * out of memory stays what it is. */
static inline graphc_status_t gc_ops_dim_fail(const gc_infer_ctx *ic, graphc_status_t st) {
  if (graphc_status_code(st) == GRAPHC_STATUS_RESOURCE_EXHAUSTED) return st;
  graphc_status_t e = gc_infer_error(ic, "%s", graphc_status_message(st));
  graphc_status_free(st);
  return e;
}

#define DIM_TRY(ic, expr)                                \
  do {                                                   \
    graphc_status_t dim_st_ = (expr);                    \
    if (dim_st_) return gc_ops_dim_fail((ic), dim_st_);  \
  } while (0)

/* Type text for messages, e.g. "f32[B, 4]". */
typedef struct gc_ops_tybuf {
  char s[320];
} gc_ops_tybuf;

static inline gc_ops_tybuf gc_ops_fmt(const gc_infer_ctx *ic, const gc_type *t) {
  gc_ops_tybuf b;
  gc_type_format(gc_infer_dims(ic), t, b.s, sizeof b.s);
  return b;
}
#define GC_OPS_TY(ic, t) (gc_ops_fmt((ic), (t)).s)

/* Rounds float `f` to a float dtype that is f32 or narrower. */
static inline double gc_ops_round_float(float f, gc_dtype dt) {
  if (dt == GRAPHC_F16) return gc_f16_to_f32(gc_f32_to_f16(f));
  if (dt == GRAPHC_BF16) return gc_bf16_to_f32(gc_f32_to_bf16(f));
  return f;
}

/* Rounds v to the float dtype `dt` (as a cast to dt would). */
static inline double gc_ops_round(double v, gc_dtype dt) {
  return dt == GRAPHC_F64 ? v : gc_ops_round_float((float)v, dt);
}

/* Element i of t as a value of float dtype `dt`: ints convert directly
 * (not via double, which would round twice), floats round to dt. */
static inline double gc_ops_loadf(const gc_tensor *t, int64_t i, gc_dtype dt) {
  if (!gc_dtype_is_float(t->dtype)) {
    int64_t v = gc_tensor_geti(t, i);
    return dt == GRAPHC_F64 ? (double)v : gc_ops_round_float((float)v, dt);
  }
  return gc_ops_round(gc_tensor_getf(t, i), dt);
}

/* Wraps an int64 to integer/bool dtype `dt` (two's complement). */
static inline int64_t gc_ops_wrapi(int64_t v, gc_dtype dt) {
  if (dt == GRAPHC_BOOL) return v != 0;
  if (dt == GRAPHC_I32) return (int32_t)(uint32_t)(uint64_t)v;
  return v;
}

/* Element i of integer/bool tensor t as a value of integer/bool dtype dt. */
static inline int64_t gc_ops_loadi(const gc_tensor *t, int64_t i, gc_dtype dt) {
  return gc_ops_wrapi(gc_tensor_geti(t, i), dt);
}

/* Wrapping int64 arithmetic (integer tensors overflow like C++ ints do on
 * every PyTorch platform). */
static inline int64_t gc_ops_addi(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a + (uint64_t)b);
}
static inline int64_t gc_ops_subi(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a - (uint64_t)b);
}
static inline int64_t gc_ops_muli(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a * (uint64_t)b);
}

/* Checks that the broadcast of `n` operand types works, filling *out's
 * shape; on failure an infer error naming the op. */
static inline graphc_status_t gc_ops_broadcast(gc_infer_ctx *ic, const gc_type *const *types,
                                               int n, gc_type *out) {
  graphc_status_t st = gc_broadcast_shapes(gc_infer_dims(ic), types, n, out);
  if (!st) return NULL;
  if (graphc_status_code(st) != GRAPHC_STATUS_VERIFY_ERROR) return st;
  graphc_status_t e = gc_infer_error(ic, "operands are not broadcastable: %s",
                                     graphc_status_message(st));
  graphc_status_free(st);
  return e;
}

#endif
