/* Internal side of the .gc text form (lib/ir/parser.c, lib/ir/printer.c).
 * The grammar is in docs/ir.md. */
#ifndef GC_IR_TEXT_H
#define GC_IR_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "ir/ir.h"
#include "support/strbuf.h"

/* Regions nest at most this deep in the text form. */
#define GC_TEXT_MAX_NESTING 64
/* graphc_graph_parse_file refuses larger files. */
#define GC_TEXT_MAX_FILE_BYTES ((size_t)256 << 20)

/* Appends the canonical text of `g` (a top-level graph or a region) to sb. */
void gc_text_print_graph(gc_strbuf *sb, const gc_graph *g);

/* True when s[0..n) is a bare name: [A-Za-z_][A-Za-z0-9_.]*. */
bool gc_text_is_name(const char *s, size_t n);

#endif
