/* Training steps through a compiled executable (graphc_compile).
 *
 * The step graph of gc_build_train_step is compiled once; each step runs
 * the executable and applies the update table (gc_train_step.replaces).
 * Instead of copying every updated param and state tensor back into its
 * input buffer, the runner keeps the step's outputs and feeds them as the
 * next step's inputs (swapping buffers): the same values, no copy. The
 * caller's gc_tensors are brought up to date by gc_train_exec_sync. */
#ifndef GC_AUTODIFF_TRAIN_EXEC_H
#define GC_AUTODIFF_TRAIN_EXEC_H

#include <dlpack/dlpack.h>

#include "autodiff/train_step.h"
#include "graphc/compile.h"
#include "interp/tensor.h"

typedef struct gc_train_exec gc_train_exec;

/* Compiles s->graph (s is borrowed and must outlive the runner). `o` may
 * be NULL for graphc_compile's defaults. */
graphc_status_t gc_train_exec_create(const gc_train_step *s, const graphc_compile_options_t *o,
                                     gc_train_exec **out);
/* One step on `inputs` (s->graph->ninputs tensors, borrowed for the life of
 * the runner: their buffers are read until the first step replaces them).
 * *loss receives the loss. On failure nothing was updated. */
graphc_status_t gc_train_exec_run(gc_train_exec *e, gc_tensor *inputs, double *loss);
/* Copies the current value of every replaced input into inputs[i].data. */
void gc_train_exec_sync(const gc_train_exec *e, gc_tensor *inputs);
/* Arena bytes of the last step (graphc_executable_peak_bytes) plus the
 * bytes of its outputs. */
int64_t gc_train_exec_peak_bytes(const gc_train_exec *e);
graphc_executable_t *gc_train_exec_executable(const gc_train_exec *e);
void gc_train_exec_free(gc_train_exec *e);

#endif
