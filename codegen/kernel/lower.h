/* Lowering: a graph (after simplification) to a kernel IR program.
 *
 * Every value the program needs in memory gets a buffer (graph inputs and
 * outputs, and temps for what fusion decides to materialise); every other
 * value is computed inside the kernel that consumes it. Views (reshape,
 * permute, slice, ...) become index arithmetic in the consumer's loads;
 * float matmul/linear become GEMM steps whose elementwise consumers form
 * the GEMM's epilogue kernel. docs/kernel-ir.md gives the rules.
 */
#ifndef GC_KERNEL_LOWER_H
#define GC_KERNEL_LOWER_H

#include <stdbool.h>

#include "ir/ir.h"
#include "kernel/kir.h"

typedef struct gc_lower_options {
  /* Materialise every op result (one kernel per op, no epilogues): for
   * tests and for bisecting a fusion problem. */
  bool no_fusion;
} gc_lower_options;

/* Lowers the top-level graph g. opt may be NULL (defaults). On success
 * *out is a new program owned by the caller (gc_lower_free). Ops the CPU
 * backend cannot lower give UNIMPLEMENTED naming the op and its location. */
graphc_status_t gc_lower_graph(const gc_graph *g, const gc_lower_options *opt, kir_program **out);

/* Frees a program returned by gc_lower_graph (NULL is fine). */
void gc_lower_free(kir_program *p);

/* Counts of a program's steps, for tests and diagnostics: kernel steps
 * (check kernels excluded), GEMM steps, GEMM steps with an epilogue. */
typedef struct gc_lower_counts {
  int kernels, gemms, epilogues, copies, checks;
} gc_lower_counts;
gc_lower_counts gc_lower_count(const kir_program *p);

#endif
