/* Does this CPU have the features a compiled artifact needs?
 *
 * Artifacts record LLVM's feature string ("+avx2,+fma,-avx512f,...") of
 * the target they were compiled for. Before any of their code runs, the
 * loader checks every '+' feature against CPUID (and XGETBV for the
 * register state the OS saves), so a mismatch is a readable status, never
 * an illegal-instruction signal. A '+' feature this checker does not know
 * is refused too: unknown means unchecked, and unchecked may fault.
 */
#ifndef GC_RT_CPU_FEATURES_H
#define GC_RT_CPU_FEATURES_H

#include <stdbool.h>

#include "graphc/status.h"

/* Checks `required` (comma-separated, '+'/'-' prefixed; '-' entries are
 * ignored). `host` NULL checks the running CPU; otherwise `host` is a
 * feature string in the same syntax standing in for it (tests). `cpu`
 * (may be NULL) names the compile target in the message. */
graphc_status_t gc_cpu_check_features(const char *required, const char *cpu, const char *host);

/* The running CPU's support for one LLVM feature name; *known = false
 * for a name the checker cannot test. */
bool gc_cpu_has_feature(const char *name, bool *known);

#endif
