/* DLPack <-> interpreter tensors. */
#ifndef GC_INTERP_DLPACK_CONVERT_H
#define GC_INTERP_DLPACK_CONVERT_H

#include <dlpack/dlpack.h>

#include "interp/tensor.h"

/* Copies a CPU DLTensor (any strides, byte_offset honoured) into a new
 * contiguous tensor. bool is accepted as {kDLUInt, 8} (PyTorch 1.13's
 * DLPack has no bool) and as {kDLBool, 8} where that code exists. */
graphc_status_t gc_tensor_from_dlpack(const DLTensor *src, uint64_t max_bytes, gc_tensor *dst);
/* Moves `t`'s storage into a new DLManagedTensor (t is emptied). */
graphc_status_t gc_tensor_to_dlpack(gc_tensor *t, DLManagedTensor **out);
/* dtype mapping. */
bool gc_dtype_from_dl(DLDataType dt, graphc_dtype_t *out);
DLDataType gc_dtype_to_dl(graphc_dtype_t t);

#endif
