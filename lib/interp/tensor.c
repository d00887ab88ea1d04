/* Interpreter tensors: allocation, typed element access, index helpers. */
#include "interp/tensor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support/status.h"

graphc_status_t gc_tensor_alloc(gc_tensor *t, graphc_dtype_t dtype, int rank,
                                const int64_t *shape, uint64_t max_bytes) {
  memset(t, 0, sizeof *t);
  if ((unsigned)dtype >= GRAPHC_DTYPE_COUNT)
    return gc_status(GRAPHC_STATUS_INTERNAL, "tensor alloc: bad dtype %d", (int)dtype);
  if (rank < 0 || rank > GRAPHC_MAX_RANK)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "tensor rank %d outside 0..%d", rank,
                     GRAPHC_MAX_RANK);
  int64_t numel = 1;
  for (int i = 0; i < rank; i++) {
    if (shape[i] < 0)
      return gc_status(GRAPHC_STATUS_OUT_OF_RANGE, "tensor dim %d is negative (%lld)", i,
                       (long long)shape[i]);
    if (__builtin_mul_overflow(numel, shape[i], &numel))
      return gc_status(GRAPHC_STATUS_RESOURCE_EXHAUSTED, "tensor size overflows int64");
  }
  uint64_t bytes;
  if (__builtin_mul_overflow((uint64_t)numel, (uint64_t)graphc_dtype_size(dtype), &bytes) ||
      (max_bytes && bytes > max_bytes))
    return gc_status(GRAPHC_STATUS_RESOURCE_EXHAUSTED,
                     "tensor of %lld elements exceeds the allocation limit of %llu bytes",
                     (long long)numel, (unsigned long long)max_bytes);
  t->data = calloc(1, bytes ? (size_t)bytes : 1);
  if (!t->data) return GC_OOM();
  t->dtype = dtype;
  t->rank = rank;
  for (int i = 0; i < rank; i++) t->shape[i] = shape[i];
  t->numel = numel;
  return NULL;
}

void gc_tensor_free(gc_tensor *t) {
  if (!t) return;
  free(t->data);
  memset(t, 0, sizeof *t);
}

graphc_status_t gc_tensor_clone(const gc_tensor *src, gc_tensor *dst) {
  GC_TRY(gc_tensor_alloc(dst, src->dtype, src->rank, src->shape, 0));
  memcpy(dst->data, src->data, (size_t)src->numel * graphc_dtype_size(src->dtype));
  return NULL;
}

/* --- half precision ------------------------------------------------------- */

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static float bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

uint16_t gc_f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
  return (uint16_t)(u >> 16);
}

float gc_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t gc_f32_to_f16(float f) {
  uint32_t u = f32_bits(f);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);        /* NaN */
  if (absu >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);       /* overflow -> inf */
  if (absu < 0x38800000u) {                                        /* subnormal or zero */
    /* Scale into the subnormal range; the float add rounds to nearest even. */
    float a = bits_f32(absu) + 0.5f;
    return (uint16_t)(sign | (f32_bits(a) - 0x3f000000u));
  }
  uint32_t mant_odd = (absu >> 13) & 1u;
  absu += 0xc8000fffu + mant_odd; /* rebias exponent (-112 << 23) and round */
  return (uint16_t)(sign | (absu >> 13));
}

float gc_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {
    float v = (float)mant * (1.0f / 16777216.0f); /* mant * 2^-24 */
    return sign ? -v : v;
  }
  if (exp == 31) return bits_f32(sign | 0x7f800000u | (mant << 13));
  return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

/* --- element access ------------------------------------------------------- */

double gc_tensor_getf(const gc_tensor *t, int64_t i) {
  switch (t->dtype) {
    case GRAPHC_F32: return ((const float *)t->data)[i];
    case GRAPHC_F64: return ((const double *)t->data)[i];
    case GRAPHC_F16: return gc_f16_to_f32(((const uint16_t *)t->data)[i]);
    case GRAPHC_BF16: return gc_bf16_to_f32(((const uint16_t *)t->data)[i]);
    case GRAPHC_I32: return ((const int32_t *)t->data)[i];
    case GRAPHC_I64: return (double)((const int64_t *)t->data)[i];
    case GRAPHC_BOOL: return ((const uint8_t *)t->data)[i] ? 1.0 : 0.0;
    default: return NAN;
  }
}

int64_t gc_tensor_geti(const gc_tensor *t, int64_t i) {
  switch (t->dtype) {
    case GRAPHC_I32: return ((const int32_t *)t->data)[i];
    case GRAPHC_I64: return ((const int64_t *)t->data)[i];
    case GRAPHC_BOOL: return ((const uint8_t *)t->data)[i] ? 1 : 0;
    default: {
      double v = gc_tensor_getf(t, i);
      /* Float -> int truncates toward zero; out-of-range is clamped rather
       * than undefined behaviour. */
      if (isnan(v)) return 0;
      if (v >= 9.2233720368547758e18) return INT64_MAX;
      if (v <= -9.2233720368547758e18) return INT64_MIN;
      return (int64_t)v;
    }
  }
}

static int64_t clamp_to_i64(double v) {
  if (isnan(v)) return 0;
  if (v >= 9.2233720368547758e18) return INT64_MAX;
  if (v <= -9.2233720368547758e18) return INT64_MIN;
  return (int64_t)v;
}

void gc_tensor_setf(gc_tensor *t, int64_t i, double v) {
  switch (t->dtype) {
    case GRAPHC_F32: ((float *)t->data)[i] = (float)v; break;
    case GRAPHC_F64: ((double *)t->data)[i] = v; break;
    case GRAPHC_F16: ((uint16_t *)t->data)[i] = gc_f32_to_f16((float)v); break;
    case GRAPHC_BF16: ((uint16_t *)t->data)[i] = gc_f32_to_bf16((float)v); break;
    case GRAPHC_I32: ((int32_t *)t->data)[i] = (int32_t)(uint32_t)(uint64_t)clamp_to_i64(v); break;
    case GRAPHC_I64: ((int64_t *)t->data)[i] = clamp_to_i64(v); break;
    case GRAPHC_BOOL: ((uint8_t *)t->data)[i] = v != 0.0; break;
    default: break;
  }
}

void gc_tensor_seti(gc_tensor *t, int64_t i, int64_t v) {
  switch (t->dtype) {
    case GRAPHC_I32: ((int32_t *)t->data)[i] = (int32_t)(uint32_t)(uint64_t)v; break; /* wraps */
    case GRAPHC_I64: ((int64_t *)t->data)[i] = v; break;
    case GRAPHC_BOOL: ((uint8_t *)t->data)[i] = v != 0; break;
    default: gc_tensor_setf(t, i, (double)v); break;
  }
}

/* --- indexing ------------------------------------------------------------- */

void gc_strides(const int64_t *shape, int rank, int64_t *strides) {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
}

void gc_unravel(int64_t i, const int64_t *shape, int rank, int64_t *coord) {
  for (int d = rank - 1; d >= 0; d--) {
    int64_t n = shape[d] > 0 ? shape[d] : 1;
    coord[d] = i % n;
    i /= n;
  }
}

int64_t gc_bcast_index(const gc_tensor *t, const int64_t *coord, int out_rank) {
  int64_t idx = 0;
  int off = out_rank - t->rank;
  for (int d = 0; d < t->rank; d++) {
    int64_t c = t->shape[d] == 1 ? 0 : coord[d + off];
    idx = idx * t->shape[d] + c;
  }
  return idx;
}
