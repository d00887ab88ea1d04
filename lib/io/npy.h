/* NumPy .npy files (format versions 1, 2 and 3; little-endian; C order).
 *
 * dtypes: <f4 <f8 <f2 <i4 <i8 |b1. NumPy has no bfloat16: a bf16 tensor is
 * written as <f4 (exactly), and gc_npy_read with `want` = bf16 accepts <f4
 * (rounded to nearest even) or <u2 (raw bf16 bits). Anything else —
 * big-endian, Fortran order, object arrays, a header that lies about the
 * size — is a clear error, never a crash. Writes go to a temporary file
 * that is renamed into place, so a reader never sees half a file. */
#ifndef GC_IO_NPY_H
#define GC_IO_NPY_H

#include "interp/tensor.h"

/* Parses an in-memory .npy image. `want` < 0 accepts the file's dtype;
 * otherwise the file must hold `want` (or, for bf16, <f4/<u2). */
graphc_status_t gc_npy_parse(const void *bytes, size_t len, int want, gc_tensor *out);
graphc_status_t gc_npy_read(const char *path, int want, gc_tensor *out);
graphc_status_t gc_npy_write(const char *path, const gc_tensor *t);

#endif
