/* Memory planning for a program's temps: one arena, offsets reused
 * between temps whose lifetimes do not overlap. */
#ifndef GC_KERNEL_MEMPLAN_H
#define GC_KERNEL_MEMPLAN_H

#include <stdint.h>

#include "kernel/kir.h"

/* Plans offsets in one arena for the TEMP buffers among bufs[0..n):
 * buffer_bytes[i] is buffer i's size at this call (sizes are symbolic, so
 * the runtime plans after evaluating them, or once for constant sizes).
 * Two temps live at a common step (first_step..last_step, inclusive) get
 * disjoint ranges, except a temp marked `inplace` and its source, which
 * share one range (the kernel writes over the source element by element;
 * honoured when the source's last step is the temp's first, the source
 * lives more than that one step, sizes are equal and no other temp
 * claimed the same source).
 * Greedy by size, best fit: the largest temps are placed first, each in
 * the tightest gap left by the already placed temps it overlaps in time.
 * Offsets are multiples of `alignment` (a power of two, e.g. 64).
 *
 * out_offsets[i] gets temp i's offset, -1 for inputs and outputs;
 * *out_peak the arena size. Errors: INVALID_ARGUMENT for a bad alignment
 * or negative size, OUT_OF_RANGE when the arena would overflow int64,
 * RESOURCE_EXHAUSTED when out of memory. */
graphc_status_t gc_memplan(const int64_t *buffer_bytes, const kir_buffer *bufs, int n, int64_t alignment,
                           int64_t *out_offsets, int64_t *out_peak);

#endif
