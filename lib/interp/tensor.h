/* Dense host tensors of the reference interpreter: contiguous, row-major,
 * owned. Element access goes through f64/i64 getters so kernels are written
 * once for every dtype; exactness over speed. */
#ifndef GC_INTERP_TENSOR_H
#define GC_INTERP_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graphc/status.h"
#include "graphc/types.h"

typedef struct gc_tensor {
  graphc_dtype_t dtype;
  int rank;
  int64_t shape[GRAPHC_MAX_RANK];
  int64_t numel;
  void *data; /* malloc'd, numel * elem size bytes (may be non-NULL when numel 0) */
} gc_tensor;

/* Allocates zero-filled storage. `max_bytes` 0 = no limit. */
graphc_status_t gc_tensor_alloc(gc_tensor *t, graphc_dtype_t dtype, int rank,
                                const int64_t *shape, uint64_t max_bytes);
void gc_tensor_free(gc_tensor *t);
/* Deep copy. */
graphc_status_t gc_tensor_clone(const gc_tensor *src, gc_tensor *dst);

/* Element i (flat, row-major) as double / int64, and stores with cast
 * semantics (float->int truncates toward zero, ->bool is != 0, f16/bf16
 * round to nearest even). */
double gc_tensor_getf(const gc_tensor *t, int64_t i);
int64_t gc_tensor_geti(const gc_tensor *t, int64_t i);
void gc_tensor_setf(gc_tensor *t, int64_t i, double v);
void gc_tensor_seti(gc_tensor *t, int64_t i, int64_t v);

/* f16 / bf16 conversions (round to nearest even, NaN/Inf preserved). */
uint16_t gc_f32_to_f16(float f);
float gc_f16_to_f32(uint16_t h);
uint16_t gc_f32_to_bf16(float f);
float gc_bf16_to_f32(uint16_t h);

/* Row-major strides of `shape`. */
void gc_strides(const int64_t *shape, int rank, int64_t *strides);
/* Flat index -> coordinates. */
void gc_unravel(int64_t i, const int64_t *shape, int rank, int64_t *coord);
/* Flat index into `t` of the element broadcast to output coordinate
 * `coord` (of an output of rank `out_rank`, right-aligned as in PyTorch). */
int64_t gc_bcast_index(const gc_tensor *t, const int64_t *coord, int out_rank);

#endif
