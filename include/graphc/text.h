/* libgraphc — the text form of graphs (.gc files).
 *
 * The grammar is documented in docs/ir.md. Printing is canonical: parsing
 * the printed text and printing again gives the same bytes. Parse and
 * verification errors name file:line:col and what was expected.
 */
#ifndef GRAPHC_TEXT_H
#define GRAPHC_TEXT_H

#include "graphc/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parses `text` (`length` bytes, need not be NUL-terminated) into a new
 * graph owned by `context`. `filename` (borrowed, may be NULL) is used in
 * error locations. On success *out_graph is a new graph the caller
 * releases. */
GRAPHC_API graphc_status_t graphc_graph_parse(graphc_context_t *context,
                                              const char *text, size_t length,
                                              const char *filename,
                                              graphc_graph_t **out_graph);

/* Reads and parses the file at `path`. */
GRAPHC_API graphc_status_t graphc_graph_parse_file(graphc_context_t *context,
                                                   const char *path,
                                                   graphc_graph_t **out_graph);

/* Prints `graph` canonically. *out_text is a NUL-terminated string the
 * caller frees with graphc_free(); *out_length (may be NULL) its length. */
GRAPHC_API graphc_status_t graphc_graph_print(const graphc_graph_t *graph,
                                              char **out_text, size_t *out_length);

/* Frees memory that libgraphc handed to the caller (printed text). */
GRAPHC_API void graphc_free(void *pointer);

#ifdef __cplusplus
}
#endif
#endif /* GRAPHC_TEXT_H */
