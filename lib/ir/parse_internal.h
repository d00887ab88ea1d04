/* Internal to the .gc parser: tokens, the parser state, errors with
 * file:line:col, the on-demand lexer, name scopes and literals
 * (parse_lex.c); the grammar itself is in parser.c. */
#ifndef GC_IR_PARSE_INTERNAL_H
#define GC_IR_PARSE_INTERNAL_H

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graphc/text.h"
#include "ir/ir.h"

/* Longest INTS attribute we accept (split sizes, permutations...). */
#define MAX_INTS_LEN 4096

typedef enum tk_kind { TK_EOF, TK_NAME, TK_RESULT, TK_NUMBER, TK_PUNCT, TK_OTHER } tk_kind;

/* A token is a span of the source. TK_RESULT spans '%name' (name at off+1). */
typedef struct token {
  tk_kind kind;
  size_t off, len;
} token;

typedef struct parser {
  const char *src;
  size_t len, pos;
  const char *file;
  graphc_context_t *ctx;
  int depth;          /* region nesting */
  locale_t c_numeric; /* for strtod whatever the process locale; lazily made */
  /* Line cursor for offset -> line:col; moves forward, restarts if asked
   * for an earlier offset. */
  size_t cur_off, cur_line_start;
  int cur_line;
} parser;

/* Name -> value id for one graph (root or region): open addressing. */
typedef struct scope {
  char **names;
  size_t *lens;
  int *ids;
  size_t cap, count;
} scope;

bool gcp_is_alpha(char c);
bool gcp_is_digit(char c);
bool gcp_is_name_char(char c);
gc_loc gcp_loc_at(parser *P, size_t off);
graphc_status_t gcp_err_at(parser *P, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void gcp_describe(const parser *P, token t, char *buf, size_t cap);
graphc_status_t gcp_expected(parser *P, token t, const char *what);
graphc_status_t gcp_check_bytes(parser *P);
void gcp_skip_space(parser *P);
size_t gcp_number_len(const char *s, size_t n);
token gcp_peek(parser *P);
void gcp_take(parser *P, token t);
bool gcp_is_punct(token t, const parser *P, char c);
bool gcp_is_word(token t, const parser *P, const char *w);
graphc_status_t gcp_expect_punct(parser *P, char c);
graphc_status_t gcp_list_sep(parser *P, char close, bool *done);
graphc_status_t gcp_list_open(parser *P, char open, char close, bool *done);
char *gcp_copy_span(const parser *P, size_t off, size_t len);
uint64_t gcp_hash_bytes(const char *s, size_t n);
bool gcp_scope_find(const scope *sc, const char *s, size_t n, int *id);
void gcp_scope_insert_slot(scope *sc, char *name, size_t n, int id);
bool gcp_scope_put(scope *sc, const char *s, size_t n, int id);
void gcp_scope_free(scope *sc);
graphc_status_t gcp_resolve(parser *P, const gc_graph *g, const scope *sc, token t, int *id);
graphc_status_t gcp_parse_int(parser *P, const char *what, int64_t *out);
graphc_status_t gcp_parse_float(parser *P, const char *what, double *out);

#endif
