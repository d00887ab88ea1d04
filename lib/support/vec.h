/* Growable malloc'd arrays: GC_VEC_GROW makes room for one more element
 * (doubling, from 8), returning GC_OOM() from the calling function when
 * realloc fails. `n` and `cap` are ints. */
#ifndef GC_SUPPORT_VEC_H
#define GC_SUPPORT_VEC_H

#include <stdlib.h>

#include "support/status.h"

#define GC_VEC_GROW(arr, n, cap)                                    \
  do {                                                              \
    if ((n) == (cap)) {                                             \
      int ncap_ = (cap) ? (cap) * 2 : 8;                            \
      void *p_ = realloc((arr), (size_t)ncap_ * sizeof *(arr));     \
      if (!p_) return GC_OOM();                                     \
      (arr) = p_;                                                   \
      (cap) = ncap_;                                                \
    }                                                               \
  } while (0)

#endif
