/* DLPack conversion for the interpreter's public entry point. */
#include "interp/dlpack_convert.h"

#include <stdlib.h>
#include <string.h>

#include "support/status.h"

bool gc_dtype_from_dl(DLDataType dt, graphc_dtype_t *out) {
  if (dt.lanes != 1) return false;
  switch (dt.code) {
    case kDLFloat:
      if (dt.bits == 32) return *out = GRAPHC_F32, true;
      if (dt.bits == 64) return *out = GRAPHC_F64, true;
      if (dt.bits == 16) return *out = GRAPHC_F16, true;
      return false;
    case kDLBfloat:
      if (dt.bits == 16) return *out = GRAPHC_BF16, true;
      return false;
    case kDLInt:
      if (dt.bits == 32) return *out = GRAPHC_I32, true;
      if (dt.bits == 64) return *out = GRAPHC_I64, true;
      return false;
    case kDLUInt:
      if (dt.bits == 8) return *out = GRAPHC_BOOL, true;
      return false;
    default:
      /* kDLBool (6) in DLPack >= 0.8 */
      if (dt.code == 6 && dt.bits == 8) return *out = GRAPHC_BOOL, true;
      return false;
  }
}

DLDataType gc_dtype_to_dl(graphc_dtype_t t) {
  DLDataType d = {kDLFloat, 32, 1};
  switch (t) {
    case GRAPHC_F32: break;
    case GRAPHC_F64: d.bits = 64; break;
    case GRAPHC_F16: d.bits = 16; break;
    case GRAPHC_BF16: d.code = kDLBfloat; d.bits = 16; break;
    case GRAPHC_I32: d.code = kDLInt; break;
    case GRAPHC_I64: d.code = kDLInt; d.bits = 64; break;
    case GRAPHC_BOOL: d.code = kDLUInt; d.bits = 8; break;
    default: break;
  }
  return d;
}

graphc_status_t gc_tensor_from_dlpack(const DLTensor *src, uint64_t max_bytes, gc_tensor *dst) {
  memset(dst, 0, sizeof *dst);
  if (!src) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "tensor is NULL");
  if (src->device.device_type != kDLCPU && src->device.device_type != kDLCUDAHost)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "tensor is on device type %d; the interpreter reads host memory (kDLCPU)",
                     (int)src->device.device_type);
  graphc_dtype_t dt;
  if (!gc_dtype_from_dl(src->dtype, &dt))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "unsupported DLPack dtype (code %d, bits %d, lanes %d)", src->dtype.code,
                     src->dtype.bits, src->dtype.lanes);
  if (src->ndim < 0 || src->ndim > GRAPHC_MAX_RANK || (src->ndim > 0 && !src->shape))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "bad ndim %d", src->ndim);
  GC_TRY(gc_tensor_alloc(dst, dt, src->ndim, src->shape, max_bytes));
  if (dst->numel == 0) return NULL;
  if (!src->data) {
    gc_tensor_free(dst);
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "tensor data is NULL");
  }
  size_t es = graphc_dtype_size(dt);
  const char *base = (const char *)src->data + src->byte_offset;
  if (!src->strides) {
    memcpy(dst->data, base, (size_t)dst->numel * es);
    return NULL;
  }
  int64_t coord[GRAPHC_MAX_RANK];
  for (int64_t i = 0; i < dst->numel; i++) {
    gc_unravel(i, dst->shape, dst->rank, coord);
    int64_t off = 0;
    for (int d = 0; d < dst->rank; d++) off += coord[d] * src->strides[d];
    memcpy((char *)dst->data + i * (int64_t)es, base + off * (int64_t)es, es);
  }
  return NULL;
}

typedef struct gc_dl_holder {
  DLManagedTensor managed;
  int64_t shape[GRAPHC_MAX_RANK];
} gc_dl_holder;

static void gc_dl_deleter(DLManagedTensor *self) {
  if (!self) return;
  free(self->dl_tensor.data);
  free(self->manager_ctx);
}

graphc_status_t gc_tensor_to_dlpack(gc_tensor *t, DLManagedTensor **out) {
  gc_dl_holder *h = calloc(1, sizeof *h);
  if (!h) return GC_OOM();
  for (int d = 0; d < t->rank; d++) h->shape[d] = t->shape[d];
  DLTensor *x = &h->managed.dl_tensor;
  x->data = t->data;
  x->device = (DLDevice){kDLCPU, 0};
  x->ndim = t->rank;
  x->dtype = gc_dtype_to_dl(t->dtype);
  x->shape = h->shape;
  x->strides = NULL; /* compact row-major */
  x->byte_offset = 0;
  h->managed.manager_ctx = h;
  h->managed.deleter = gc_dl_deleter;
  t->data = NULL;
  gc_tensor_free(t);
  *out = &h->managed;
  return NULL;
}
