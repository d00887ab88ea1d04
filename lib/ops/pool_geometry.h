/* Window geometry shared by the pooling / convolution forward ops
 * (ops_linalg.c) and their backward ops (ops_grad.c), so both sides read
 * the attributes and clip the windows by one rule. */
#ifndef GC_OPS_POOL_GEOMETRY_H
#define GC_OPS_POOL_GEOMETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/op.h"

static const int64_t GC_POOL_ONES[2] = {1, 1}, GC_POOL_ZEROS[2] = {0, 0};

/* An ints attribute of one or two entries (one serves both spatial dims,
 * as PyTorch expands it). Absent: dflt. Empty: dflt too when
 * empty_is_default (PyTorch's `stride=[]` for pooling). False on another
 * count. */
static inline bool gc_pool_read_pair(const gc_node *n, const char *name, const int64_t dflt[2],
                                     bool empty_is_default, int64_t out[2]) {
  const gc_attr *a = gc_node_attr(n, name);
  if (!a || (a->count == 0 && empty_is_default)) {
    out[0] = dflt[0], out[1] = dflt[1];
    return true;
  }
  if (a->count == 1) {
    out[0] = out[1] = a->ints[0];
    return true;
  }
  if (a->count == 2) {
    out[0] = a->ints[0], out[1] = a->ints[1];
    return true;
  }
  return false;
}

/* avg_pool2d's window for output (y, xo), clipped to the input, with
 * PyTorch's divisor in *count: the window clipped to the padded input
 * (include_pad) or to the input itself. False when the clipped window is
 * empty (its output stays 0, as in PyTorch). */
static inline bool gc_avg_pool_window(int64_t y, int64_t xo, int64_t h, int64_t w,
                                      const int64_t kernel[2], const int64_t stride[2],
                                      const int64_t pad[2], bool include_pad, int64_t win[4],
                                      int64_t *count) {
  int64_t y0 = y * stride[0] - pad[0], x0 = xo * stride[1] - pad[1];
  int64_t y1 = y0 + kernel[0] < h + pad[0] ? y0 + kernel[0] : h + pad[0];
  int64_t x1 = x0 + kernel[1] < w + pad[1] ? x0 + kernel[1] : w + pad[1];
  int64_t padded = (y1 - y0) * (x1 - x0);
  if (y0 < 0) y0 = 0;
  if (x0 < 0) x0 = 0;
  if (y1 > h) y1 = h;
  if (x1 > w) x1 = w;
  win[0] = y0, win[1] = y1, win[2] = x0, win[3] = x1;
  if (y0 >= y1 || x0 >= x1) return false;
  *count = include_pad ? padded : (y1 - y0) * (x1 - x0);
  return true;
}

/* adaptive_avg_pool2d's window [*lo, *hi) of output index i (of n) over an
 * input of size `in`. */
static inline void gc_adaptive_window(int64_t i, int64_t in, int64_t n, int64_t *lo, int64_t *hi) {
  *lo = i * in / n, *hi = ((i + 1) * in + n - 1) / n;
}

#endif
