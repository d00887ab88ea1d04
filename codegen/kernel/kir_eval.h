/* A reference executor of kernel IR programs on host memory.
 *
 * It does literally what kir.h describes, one step after the other:
 * sizes evaluated from the call's symbol values, temps placed by the
 * memory planner in one arena (filled with a NaN pattern first, so a read
 * of an unwritten temp shows), every kernel run as its loop nest with f32
 * expressions computed in float and f64 in double, GEMMs as plain loops
 * accumulating in double. Every load and store is bounds-checked: an
 * out-of-range index is an INTERNAL error naming the kernel (the lowering
 * promises in-range indices even in unselected select operands). It is
 * the oracle for the code generator and the test of the lowering. */
#ifndef GC_KERNEL_KIR_EVAL_H
#define GC_KERNEL_KIR_EVAL_H

#include <stdbool.h>

#include "interp/tensor.h"
#include "kernel/kir.h"

typedef struct kir_eval_options {
  bool no_memplan; /* calloc every temp separately instead of one arena */
  int64_t *peak_bytes; /* if not NULL: receives the arena size */
} kir_eval_options;

/* Runs p. `inputs` (p->ninputs, borrowed) must match the input buffers'
 * dtypes and element counts; symbols are read from them as p->symsrc
 * says. On success `outputs` (p->noutputs) are new tensors with the
 * output buffers' dtypes and shapes, owned by the caller (gc_tensor_free).
 * opt may be NULL. A failed CHECK step is OUT_OF_RANGE with its message. */
graphc_status_t kir_eval(const kir_program *p, const gc_tensor *inputs, int ninputs, gc_tensor *outputs,
                         int noutputs, const kir_eval_options *opt);

#endif
