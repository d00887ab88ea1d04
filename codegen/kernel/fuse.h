/* Fusion decisions: which values are materialised in buffers and which
 * are recomputed inside the kernels that use them (docs/kernel-ir.md,
 * "Fusion rules"). */
#ifndef GC_KERNEL_FUSE_H
#define GC_KERNEL_FUSE_H

#include "kernel/lower_internal.h"

/* Fills L->mat and L->cost for the live values of L->fg. `forced` marks
 * values a previous attempt found not inlinable where they are used. */
graphc_status_t gc_fuse_plan(lower_ctx *L, const bool *forced);

#endif
