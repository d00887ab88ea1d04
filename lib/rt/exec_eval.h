/* The debug executor (GRAPHC_BACKEND_CPU_EVAL): a whole call runs through
 * the kernel-IR reference executor (codegen/kernel/kir_eval.h) instead of
 * generated code, after the runtime's usual input checks, so a lowering
 * bug and a code-generation bug can be told apart. */
#ifndef GC_RT_EXEC_EVAL_H
#define GC_RT_EXEC_EVAL_H

#include <stdbool.h>

#include "rt/executable.h"

/* False when this build has no evaluator. */
bool gc_rt_eval_available(void);
/* Runs `e` on checked inputs; on success outs[0..noutputs) are new
 * tensors and *peak the evaluator's arena bytes. */
graphc_status_t gc_rt_eval_run(graphc_executable_t *e, DLTensor *const *in, DLManagedTensor **outs,
                               int64_t *peak);

#endif
