/* Symbolic dimensions.
 *
 * A dim is an integer expression over named symbols: a canonical sum of
 * products (integer coefficients times sorted products of atoms) plus a
 * constant, where an atom is a symbol, a floor-division or a modulo of two
 * expressions. Expressions are hash-consed in a gc_dimtab, so two dims are
 * equal exactly when their ids are equal, and the canonical text of a dim
 * is its identity (ordering is by text, never by creation order, so a
 * printed graph re-parses to the same text).
 *
 * The table also owns the symbol names; what binds a symbol (an input dim,
 * a symbol input, a data-dependent op) is recorded by the graph.
 */
#ifndef GC_IR_DIMS_H
#define GC_IR_DIMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graphc/status.h"

typedef int32_t gc_dim;
#define GC_DIM_NONE ((gc_dim)-1)

typedef struct gc_dimtab gc_dimtab;

gc_dimtab *gc_dimtab_new(void);
void gc_dimtab_free(gc_dimtab *t);

/* Symbols. Names are identifiers; a name is added at most once. */
int gc_dimtab_num_syms(const gc_dimtab *t);
const char *gc_dimtab_sym_name(const gc_dimtab *t, int sym);
int gc_dimtab_find_sym(const gc_dimtab *t, const char *name); /* -1 if absent */
graphc_status_t gc_dimtab_add_sym(gc_dimtab *t, const char *name, int *out_sym);

/* Number of interned dims (ids are 0 .. n-1). */
int gc_dimtab_size(const gc_dimtab *t);

/* Constructors; each returns an interned id in *out. Constant arithmetic
 * that overflows int64 is an OUT_OF_RANGE error, division by a constant 0
 * an INVALID_ARGUMENT error. */
graphc_status_t gc_dim_const(gc_dimtab *t, int64_t v, gc_dim *out);
graphc_status_t gc_dim_sym(gc_dimtab *t, int sym, gc_dim *out);
graphc_status_t gc_dim_add(gc_dimtab *t, gc_dim a, gc_dim b, gc_dim *out);
graphc_status_t gc_dim_sub(gc_dimtab *t, gc_dim a, gc_dim b, gc_dim *out);
graphc_status_t gc_dim_mul(gc_dimtab *t, gc_dim a, gc_dim b, gc_dim *out);
graphc_status_t gc_dim_floordiv(gc_dimtab *t, gc_dim a, gc_dim b, gc_dim *out);
graphc_status_t gc_dim_mod(gc_dimtab *t, gc_dim a, gc_dim b, gc_dim *out);

/* True (and *v set, if v non-NULL) when d is a constant. */
bool gc_dim_is_const(const gc_dimtab *t, gc_dim d, int64_t *v);
/* Canonical text of d, borrowed from the table. "?" for an invalid id. */
const char *gc_dim_str(const gc_dimtab *t, gc_dim d);
/* Valid id? */
bool gc_dim_valid(const gc_dimtab *t, gc_dim d);

/* Evaluates d with symbol values `vals` (indexed by symbol; `bound` says
 * which are known, may be NULL = all). Errors: an unbound symbol,
 * division by zero, overflow. */
graphc_status_t gc_dim_eval(const gc_dimtab *t, gc_dim d, const int64_t *vals,
                            const bool *bound, int64_t *out);

/* Writes into `out` (up to `max`) the distinct symbols d uses, sorted;
 * returns how many there are. */
int gc_dim_syms(const gc_dimtab *t, gc_dim d, int *out, int max);

/* Parses an expression: integers, symbol names, + - * // % and
 * parentheses, usual precedence (* // % bind tighter than + -, left
 * associative). Stops at the first character that cannot continue the
 * expression (',' ']' ...), and reports how many bytes it used in
 * *consumed. Unknown names become new symbols when create_syms is true,
 * otherwise they are an error. Errors report the byte offset via
 * *consumed too. */
graphc_status_t gc_dim_parse(gc_dimtab *t, const char *text, size_t len,
                             bool create_syms, gc_dim *out, size_t *consumed);

#endif
