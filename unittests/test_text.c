/* Tests for the .gc text form (lib/ir/parser.c, lib/ir/printer.c):
 * round trips of the examples and of random builder-made graphs, exact
 * canonical output, every malformed input under unittests/malformed/, and
 * truncations and byte mutations that must fail cleanly with a location. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphc/graphc.h"
#include "ir/ir.h"
#include "ir/op.h"
#include "ir/text.h"

#ifndef GRAPHC_SOURCE_DIR
#define GRAPHC_SOURCE_DIR "."
#endif

#include "test_common.h"

static graphc_context_t *new_ctx(void) {
  graphc_context_t *ctx = NULL;
  OK(graphc_context_create(NULL, &ctx));
  return ctx;
}

static char *print_graph(const graphc_graph_t *g) {
  char *text = NULL;
  size_t len = 0;
  OK(graphc_graph_print(g, &text, &len));
  cr_assert_eq(strlen(text), len);
  return text;
}

/* Parses `text`, asserting success. */
static graphc_graph_t *parse_ok(graphc_context_t *ctx, const char *text, const char *file) {
  graphc_graph_t *g = NULL;
  graphc_status_t st = graphc_graph_parse(ctx, text, strlen(text), file, &g);
  cr_assert(st == NULL, "parse of %s failed: %s\n%s", file, graphc_status_message(st), text);
  return g;
}

/* Parses `text` expecting failure with `code` and `needle` in the message. */
static void parse_err(const char *text, size_t len, graphc_status_code_t code, const char *needle) {
  graphc_context_t *ctx = new_ctx();
  graphc_graph_t *g = NULL;
  graphc_status_t st = graphc_graph_parse(ctx, text, len, "t.gc", &g);
  cr_assert(st != NULL, "parse unexpectedly succeeded:\n%.*s", (int)len, text);
  cr_expect_eq(graphc_status_code(st), code, "code %s: %s",
               graphc_status_code_name(graphc_status_code(st)), graphc_status_message(st));
  cr_expect(strstr(graphc_status_message(st), needle), "'%s' not in '%s'", needle,
            graphc_status_message(st));
  cr_expect_null(g);
  graphc_status_free(st);
  graphc_context_release(ctx);
}

/* print(parse(text)) must be a fixed point of print . parse; returns the
 * printed text (caller frees). */
static char *check_round_trip(graphc_context_t *ctx, const char *printed, const char *what) {
  graphc_graph_t *g = parse_ok(ctx, printed, what);
  OK(graphc_graph_verify(g));
  char *again = print_graph(g);
  cr_assert_str_eq(again, printed, "%s: reprint differs:\n%s\n---\n%s", what, printed, again);
  graphc_graph_release(g);
  return again;
}

/* True when msg contains "<file>:<digits>:<digits>". */
static bool has_location(const char *msg, const char *file) {
  size_t n = strlen(file);
  for (const char *p = strstr(msg, file); p; p = strstr(p + 1, file)) {
    const char *q = p + n;
    if (*q++ != ':' || !isdigit((unsigned char)*q)) continue;
    while (isdigit((unsigned char)*q)) q++;
    if (*q++ != ':' || !isdigit((unsigned char)*q)) continue;
    return true;
  }
  return false;
}

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  cr_assert_not_null(buf);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = 0;
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static void join_path(char *out, size_t cap, const char *dir, const char *name) {
  int n = snprintf(out, cap, "%s/%s", dir, name);
  cr_assert(n > 0 && (size_t)n < cap, "path too long: %s/%s", dir, name);
}

/* Sorted list of *.gc files in dir; returns the count. */
static int list_gc(const char *dir, char names[][256], int max) {
  DIR *d = opendir(dir);
  cr_assert_not_null(d, "cannot open %s", dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l > 3 && l < 256 && strcmp(e->d_name + l - 3, ".gc") == 0 && n < max)
      strcpy(names[n++], e->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, 256, (int (*)(const void *, const void *))strcmp);
  return n;
}

/* --- examples ----------------------------------------------------------------------------- */

Test(text, examples_round_trip) {
  static char names[64][256];
  const char *dir = GRAPHC_SOURCE_DIR "/examples";
  int n = list_gc(dir, names, 64);
  cr_assert_geq(n, 14, "only %d examples in %s", n, dir);
  graphc_context_t *ctx = new_ctx();
  for (int i = 0; i < n; i++) {
    char path[1024];
    join_path(path, sizeof path, dir, names[i]);
    graphc_graph_t *g = NULL;
    graphc_status_t st = graphc_graph_parse_file(ctx, path, &g);
    cr_assert(st == NULL, "%s: %s", path, graphc_status_message(st));
    OK(graphc_graph_verify(g));
    char *text = print_graph(g);
    free(check_round_trip(ctx, text, path));
    graphc_free(text);
    graphc_graph_release(g);
  }
  graphc_context_release(ctx);
}

/* --- canonical output ----------------------------------------------------------------------- */

Test(text, canonical_form) {
  const char *src =
      "# leading comment\n"
      "graph   demo(x:f32[B,4]input,w:f32[4,4]param,  n:i64[]symbol , s: f32[] buffer) {\n"
      "  %h=matmul(x,w)   # comment\n"
      "  %a , %b = split( %h , dim = 1 , sizes = [ 1 , 3 ] )\n"
      "  %f = full(shape=[n*2, B], value=1, dtype=f16)\n"
      "  %0 = checkpoint(%a, s) region(p: f32[B, 1], q: f32[]) {\n"
      "    %t = mul(p, q)\n"
      "    return %t\n"
      "  }\n"
      "  %l = layer_norm(%b, normalized_shape=[3], eps=1e-12)\n"
      "  return %0, %l, x, %f\n"
      "}  # trailing comment\n";
  const char *want =
      "graph demo(\n"
      "    x: f32[B, 4] input,\n"
      "    w: f32[4, 4] param,\n"
      "    n: i64[] symbol,\n"
      "    s: f32[] buffer) {\n"
      "  %h = matmul(x, w)  # f32[B, 4]\n"
      "  %a, %b = split(%h, dim=1, sizes=[1, 3])  # f32[B, 1], f32[B, 3]\n"
      "  %f = full(shape=[2*n, B], value=1.0, dtype=f16)  # f16[2*n, B]\n"
      "  %0 = checkpoint(%a, s) region(p: f32[B, 1], q: f32[]) {  # f32[B, 1]\n"
      "    %t = mul(p, q)  # f32[B, 1]\n"
      "    return %t\n"
      "  }\n"
      "  %l = layer_norm(%b, normalized_shape=[3], eps=1e-12)  # f32[B, 3]\n"
      "  return %0, %l, x, %f\n"
      "}\n";
  graphc_context_t *ctx = new_ctx();
  graphc_graph_t *g = parse_ok(ctx, src, "demo.gc");
  char *text = print_graph(g);
  cr_expect_str_eq(text, want, "got:\n%s", text);
  free(check_round_trip(ctx, text, "demo"));
  graphc_free(text);
  graphc_context_release(ctx);
}

Test(text, attribute_literals) {
  const char *src =
      "graph lits(x: f32[2, 6] input, seed: i64[] input) {\n"
      "  %a = full(shape=[2, 6], value=-inf)\n"
      "  %b = full(shape=[2, 6], value=nan)\n"
      "  %c = full(shape=[2, 6], value=inf, dtype=bf16)\n"
      "  %d = full(shape=[2, 6], value=-2.5e-3)\n"
      "  %e = full(shape=[2, 6], value=0.1)\n"
      "  %f = full(shape=[2, 6], value=1e+300, dtype=f64)\n"
      "  %g = reshape(x, shape=[-1, 3])\n"
      "  %h = slice(x, dim=-1, start=-9223372036854775808, end=9223372036854775807)\n"
      "  %i = sum(x, dim=[])\n"
      "  %j = gelu(x, approximate=tanh)\n"
      "  %k = dropout(x, seed, p=0.3333333333333333)\n"
      "  return %a, %b, %c, %d, %e, %f, %g, %h, %i, %j, %k\n"
      "}\n";
  graphc_context_t *ctx = new_ctx();
  graphc_graph_t *g = parse_ok(ctx, src, "lits.gc");
  char *text = print_graph(g);
  const char *expect[] = {"value=-inf)",
                          "value=nan)",
                          "value=inf, dtype=bf16)",
                          "value=-0.0025)",
                          "value=0.1)",
                          "value=1e+300, dtype=f64)",
                          "shape=[-1, 3])  # f32[4, 3]",
                          "start=-9223372036854775808, end=9223372036854775807)",
                          "sum(x, dim=[])",
                          "approximate=tanh)",
                          "p=0.3333333333333333)"};
  for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
    cr_expect(strstr(text, expect[i]), "'%s' not in:\n%s", expect[i], text);
  free(check_round_trip(ctx, text, "lits"));
  graphc_free(text);
  graphc_context_release(ctx);
}

Test(text, empty_return_and_no_inputs) {
  graphc_context_t *ctx = new_ctx();
  graphc_graph_t *g = parse_ok(ctx, "graph e() {\n  return\n}\n", "e.gc");
  char *text = print_graph(g);
  cr_expect_str_eq(text, "graph e() {\n  return\n}\n");
  graphc_free(text);
  g = parse_ok(ctx, "graph e() { %z = zeros(shape=[3]) return %z }", "e.gc");
  text = print_graph(g);
  cr_expect_str_eq(text, "graph e() {\n  %z = zeros(shape=[3])  # f32[3]\n  return %z\n}\n");
  graphc_free(text);
  graphc_context_release(ctx);
}

Test(text, unbacked_symbols) {
  const char *src =
      "graph nz(x: f32[5] input) {\n"
      "  %idx, %count = nonzero(x)\n"
      "  %r = arange(end=[count + 1])\n"
      "  %f = full(shape=[count, 2], value=0.5)\n"
      "  return %idx, %r, %f, %count\n"
      "}\n";
  graphc_context_t *ctx = new_ctx();
  graphc_graph_t *g = parse_ok(ctx, src, "nz.gc");
  char *text = print_graph(g);
  cr_expect(strstr(text, "%idx, %count = nonzero(x)  # i64[count, 1], i64[]"), "%s", text);
  cr_expect(strstr(text, "# i64[count + 1]"), "%s", text);
  free(check_round_trip(ctx, text, "nz"));
  graphc_free(text);
  graphc_context_release(ctx);
}

Test(text, nesting_limit) {
  /* 64 nested regions parse; 65 do not. */
  for (int depth = 64; depth <= 65; depth++) {
    char *buf = malloc(200 * (size_t)depth + 200);
    /* Each call's operand is the enclosing region's parameter. */
    size_t n = (size_t)sprintf(buf, "graph deep(x: f32[2] input) {\n");
    for (int i = 0; i < depth; i++) {
      char prev[32];
      if (i)
        snprintf(prev, sizeof prev, "p%d", i - 1);
      else
        snprintf(prev, sizeof prev, "x");
      n += (size_t)sprintf(buf + n, "%%r%d = call(%s) region(p%d: f32[2]) {\n", i, prev, i);
    }
    n += (size_t)sprintf(buf + n, "%%y = relu(p%d)\nreturn %%y\n", depth - 1);
    for (int i = depth - 1; i >= 0; i--) n += (size_t)sprintf(buf + n, "}\nreturn %%r%d\n", i);
    n += (size_t)sprintf(buf + n, "}\n");
    graphc_context_t *ctx = new_ctx();
    graphc_graph_t *g = NULL;
    graphc_status_t st = graphc_graph_parse(ctx, buf, n, "deep.gc", &g);
    if (depth == 64) {
      cr_assert(st == NULL, "%s", graphc_status_message(st));
      char *text = print_graph(g);
      free(check_round_trip(ctx, text, "deep"));
      graphc_free(text);
    } else {
      cr_assert(st != NULL);
      cr_expect(strstr(graphc_status_message(st), "nested deeper than 64"), "%s",
                graphc_status_message(st));
      graphc_status_free(st);
    }
    graphc_context_release(ctx);
    free(buf);
  }
}

Test(text, huge_dim_expression_nesting) {
  /* Deep parentheses in a dim expression fail cleanly (no stack overflow). */
  size_t depth = 100000;
  char *buf = malloc(2 * depth + 100);
  size_t n = (size_t)sprintf(buf, "graph g(x: f32[");
  memset(buf + n, '(', depth);
  n += depth;
  n += (size_t)sprintf(buf + n, "B");
  memset(buf + n, ')', depth);
  n += depth;
  n += (size_t)sprintf(buf + n, "] input) { return x }");
  parse_err(buf, n, GRAPHC_STATUS_PARSE_ERROR, "t.gc:1:");
  free(buf);
}

Test(text, bad_arguments_and_io) {
  graphc_context_t *ctx = new_ctx();
  graphc_graph_t *g = NULL;
  graphc_status_t st = graphc_graph_parse(NULL, "graph", 5, NULL, &g);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_INVALID_ARGUMENT);
  graphc_status_free(st);
  st = graphc_graph_parse(ctx, NULL, 3, NULL, &g);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_INVALID_ARGUMENT);
  graphc_status_free(st);
  /* Zero-length input: no filename -> "<input>". */
  st = graphc_graph_parse(ctx, "", 0, NULL, &g);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_PARSE_ERROR);
  cr_expect_str_eq(graphc_status_message(st), "<input>:1:1: expected 'graph', got end of input");
  graphc_status_free(st);
  /* The length bounds the text: no NUL terminator is needed or read. */
  const char *src = "graph g() { return }garbage";
  OK(graphc_graph_parse(ctx, src, 20, "x", &g));
  st = graphc_graph_parse_file(ctx, "/nonexistent/dir/x.gc", &g);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_IO_ERROR);
  cr_expect(strstr(graphc_status_message(st), "/nonexistent/dir/x.gc"));
  cr_expect(strstr(graphc_status_message(st), "No such file"), "%s", graphc_status_message(st));
  graphc_status_free(st);
  st = graphc_graph_parse_file(ctx, GRAPHC_SOURCE_DIR "/examples", &g);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_IO_ERROR, "%s", graphc_status_message(st));
  graphc_status_free(st);
  char *text = NULL;
  st = graphc_graph_print(NULL, &text, NULL);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_INVALID_ARGUMENT);
  graphc_status_free(st);
  graphc_free(NULL);
  graphc_context_release(ctx);
}

/* --- malformed inputs ------------------------------------------------------------------------ */

Test(text, malformed_suite) {
  static char names[256][256];
  const char *dir = GRAPHC_SOURCE_DIR "/unittests/malformed";
  int n = list_gc(dir, names, 256);
  cr_assert_geq(n, 45, "only %d malformed inputs in %s", n, dir);
  graphc_context_t *ctx = new_ctx();
  for (int i = 0; i < n; i++) {
    char path[1024];
    join_path(path, sizeof path, dir, names[i]);
    size_t len;
    char *text = read_all(path, &len);
    /* First line: "# expect: CODE substring" */
    char code[64], needle[256];
    char *nl = memchr(text, '\n', len);
    cr_assert(nl && strncmp(text, "# expect: ", 10) == 0, "%s: no '# expect:' line", path);
    *nl = 0;
    cr_assert_eq(sscanf(text + 10, "%63s %255[^\n]", code, needle), 2, "%s: bad expect line", path);
    free(text);
    graphc_graph_t *g = NULL;
    graphc_status_t st = graphc_graph_parse_file(ctx, path, &g);
    cr_expect(st != NULL, "%s: parsed without error", names[i]);
    if (!st) continue;
    const char *msg = graphc_status_message(st);
    cr_expect_str_eq(graphc_status_code_name(graphc_status_code(st)), code, "%s: %s", names[i],
                     msg);
    cr_expect(strstr(msg, needle), "%s: '%s' not in '%s'", names[i], needle, msg);
    cr_expect(has_location(msg, path), "%s: no file:line:col in '%s'", names[i], msg);
    graphc_status_free(st);
  }
  graphc_context_release(ctx);
}

/* Every proper prefix of every example fails with a located PARSE_ERROR,
 * unless all that was cut is trailing whitespace or comment. */
Test(text, truncations_fail_cleanly) {
  static char names[64][256];
  const char *dir = GRAPHC_SOURCE_DIR "/examples";
  int n = list_gc(dir, names, 64);
  for (int i = 0; i < n; i++) {
    char path[1024];
    join_path(path, sizeof path, dir, names[i]);
    size_t len;
    char *text = read_all(path, &len);
    size_t last_brace = len;
    while (last_brace > 0 && text[last_brace - 1] != '}') last_brace--;
    graphc_context_t *ctx = new_ctx();
    for (size_t cut = 0; cut < last_brace; cut++) {
      graphc_graph_t *g = NULL;
      graphc_status_t st = graphc_graph_parse(ctx, text, cut, "cut.gc", &g);
      cr_assert(st != NULL, "%s cut at %zu parsed", names[i], cut);
      cr_assert(has_location(graphc_status_message(st), "cut.gc"), "%s", graphc_status_message(st));
      graphc_status_free(st);
    }
    graphc_context_release(ctx);
    free(text);
  }
}

/* Random byte edits of the examples never crash, and failures are located. */
Test(text, mutations_fail_cleanly) {
  static char names[64][256];
  const char *dir = GRAPHC_SOURCE_DIR "/examples";
  int n = list_gc(dir, names, 64);
  uint64_t rng = 12345;
  static const char alphabet[] = "%(),:=[]{}#-+*/ \n0123456789abfinx_.\xff\xc3\x00";
  for (int i = 0; i < n; i++) {
    char path[1024];
    join_path(path, sizeof path, dir, names[i]);
    size_t len;
    char *text = read_all(path, &len);
    char *copy = malloc(len + 8);
    graphc_context_t *ctx = new_ctx();
    for (int trial = 0; trial < 150; trial++) {
      memcpy(copy, text, len);
      size_t clen = len;
      int edits = 1 + trial % 4;
      for (int e = 0; e < edits; e++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        size_t pos = (size_t)(rng >> 33) % clen;
        char c = alphabet[(rng >> 20) % (sizeof alphabet - 1)];
        if ((rng >> 8) % 3 == 0 && clen > 1) { /* delete */
          memmove(copy + pos, copy + pos + 1, clen - pos - 1);
          clen--;
        } else {
          copy[pos] = c;
        }
      }
      graphc_graph_t *g = NULL;
      graphc_status_t st = graphc_graph_parse(ctx, copy, clen, "mut.gc", &g);
      if (st) {
        cr_assert(has_location(graphc_status_message(st), "mut.gc"), "%s",
                  graphc_status_message(st));
        graphc_status_free(st);
      } else {
        char *p = print_graph(g);
        free(check_round_trip(ctx, p, "mutant"));
        graphc_free(p);
        graphc_graph_release(g);
      }
    }
    graphc_context_release(ctx);
    free(copy);
    free(text);
  }
}

/* --- random graphs through the builder ---------------------------------------------------------
 */

typedef struct rng_t {
  uint64_t s;
} rng_t;

static uint32_t rnd(rng_t *r, uint32_t n) {
  r->s = r->s * 6364136223846793005u + 1442695040888963407u;
  return n ? (uint32_t)(r->s >> 33) % n : 0;
}

/* Adds a node; returns its first result or -1 if the builder refused. */
static int try_node(gc_graph *g, const char *op, const int *ops, int nops,
                    const graphc_attr_t *attrs, int nattrs, const char *name) {
  const char *names[GC_MAX_RESULTS] = {name};
  int node = -1;
  graphc_status_t st = gc_graph_add_node(g, op, ops, nops, attrs, nattrs, NULL, 0,
                                         name ? names : NULL, (gc_loc){0, 0}, &node);
  if (st) {
    graphc_status_free(st);
    return -1;
  }
  return g->nodes[node].results[0];
}

static void random_graph(graphc_context_t *ctx, uint64_t seed, gc_graph **out) {
  rng_t r = {seed * 2654435761u + 1};
  gc_graph *g = NULL;
  char gname[32];
  snprintf(gname, sizeof gname, "rand%llu", (unsigned long long)seed);
  OK(gc_graph_new(ctx, gname, NULL, &g));
  gc_dimtab *t = gc_graph_dims(g);
  gc_dim B, S, c2, c3, c4;
  size_t used;
  OK(gc_dim_parse(t, "B", 1, true, &B, &used));
  OK(gc_dim_parse(t, "S", 1, true, &S, &used));
  OK(gc_dim_const(t, 2, &c2));
  OK(gc_dim_const(t, 3, &c3));
  OK(gc_dim_const(t, 4, &c4));
  gc_dim pool[] = {B, S, c2, c3, c4};
  static const graphc_dtype_t dts[] = {GRAPHC_F32,  GRAPHC_F32, GRAPHC_F64, GRAPHC_F16,
                                       GRAPHC_BF16, GRAPHC_I32, GRAPHC_I64, GRAPHC_BOOL};
  int vals[256], nv = 0;
  int ninputs = 1 + (int)rnd(&r, 5);
  for (int i = 0; i < ninputs; i++) {
    gc_type ty = {dts[rnd(&r, 8)], (int)rnd(&r, 4), {0}};
    for (int d = 0; d < ty.rank; d++) ty.dims[d] = i == 0 && d == 0 ? B : pool[rnd(&r, 5)];
    if (i == 0 && ty.rank == 0) ty.rank = 1, ty.dims[0] = B;
    /* Symbols are bound by the first input that has them as a plain dim. */
    char name[16];
    snprintf(name, sizeof name, rnd(&r, 2) ? "in%d" : "x.%d", i);
    int v;
    graphc_status_t st =
        gc_graph_add_input(g, name, (graphc_role_t)rnd(&r, 3), &ty, (gc_loc){0, 0}, &v);
    if (st) {
      graphc_status_free(st);
      continue;
    }
    vals[nv++] = v;
  }
  if (nv == 0) {
    gc_type ty = {GRAPHC_F32, 1, {B}};
    OK(gc_graph_add_input(g, "x", GRAPHC_ROLE_INPUT, &ty, (gc_loc){0, 0}, &vals[0]));
    nv = 1;
  }
  static const char *unary[] = {"relu", "neg", "exp", "tanh", "sigmoid", "abs", "sqrt", "erf"};
  static const char *binary[] = {"add", "mul", "sub", "maximum", "div", "lt", "eq", "pow"};
  static const char *reduce[] = {"sum", "mean", "amax", "amin"};
  int nnodes = 3 + (int)rnd(&r, 20);
  for (int k = 0; k < nnodes * 4 && g->nnodes < nnodes && nv < 250; k++) {
    int a = vals[rnd(&r, (uint32_t)nv)], b = vals[rnd(&r, (uint32_t)nv)];
    const gc_type *ta = &g->values[a].type;
    char name[24];
    snprintf(name, sizeof name, rnd(&r, 3) == 0 ? "%d" : "v%d.n", g->nvalues);
    const char *nm = rnd(&r, 4) ? name : NULL; /* NULL: builder-generated name */
    int res = -1;
    graphc_attr_t at[3];
    memset(at, 0, sizeof at);
    int64_t ints[GC_MAX_RANK];
    graphc_dim_t dims[GC_MAX_RANK];
    switch (rnd(&r, 9)) {
      case 0:
        res = try_node(g, unary[rnd(&r, 8)], &a, 1, NULL, 0, nm);
        break;
      case 1: {
        int ab[2] = {a, b};
        res = try_node(g, binary[rnd(&r, 8)], ab, 2, NULL, 0, nm);
        break;
      }
      case 2: {
        int nd = ta->rank ? (int)rnd(&r, (uint32_t)ta->rank) + 1 : 0;
        for (int i = 0; i < nd; i++) ints[i] = (int64_t)i - (rnd(&r, 2) ? ta->rank : 0);
        at[0] = (graphc_attr_t){.name = "dim", .kind = GRAPHC_ATTR_INTS, .ints = ints, .count = nd};
        at[1] = (graphc_attr_t){.name = "keepdim", .kind = GRAPHC_ATTR_BOOL, .i = rnd(&r, 2)};
        res = try_node(g, reduce[rnd(&r, 4)], &a, 1, at, 1 + (int)rnd(&r, 2), nm);
        break;
      }
      case 3:
        if (ta->rank < 2) break;
        for (int i = 0; i < ta->rank; i++) ints[i] = ta->rank - 1 - i;
        at[0] = (graphc_attr_t){
            .name = "dims", .kind = GRAPHC_ATTR_INTS, .ints = ints, .count = ta->rank};
        res = try_node(g, "permute", &a, 1, at, 1, nm);
        break;
      case 4:
        at[0] = (graphc_attr_t){.name = "dim", .kind = GRAPHC_ATTR_INT, .i = 0};
        res = try_node(g, "unsqueeze", &a, 1, at, 1, nm);
        break;
      case 5:
        at[0] =
            (graphc_attr_t){.name = "dtype", .kind = GRAPHC_ATTR_DTYPE, .dtype = dts[rnd(&r, 8)]};
        res = try_node(g, "cast", &a, 1, at, 1, nm);
        break;
      case 6: {
        /* Flatten to [-1] (reshape) or to a new full() of the same shape. */
        if (rnd(&r, 2)) {
          OK(gc_dim_const(t, -1, &dims[0]));
          at[0] =
              (graphc_attr_t){.name = "shape", .kind = GRAPHC_ATTR_DIMS, .dims = dims, .count = 1};
          res = try_node(g, "reshape", &a, 1, at, 1, nm);
        } else {
          for (int i = 0; i < ta->rank; i++) dims[i] = ta->dims[i];
          double vals3[] = {0.1, -1e-7, 3.0, 1e300, 2.5e-320, 1.0 / 3.0};
          at[0] = (graphc_attr_t){
              .name = "shape", .kind = GRAPHC_ATTR_DIMS, .dims = dims, .count = ta->rank};
          at[1] =
              (graphc_attr_t){.name = "value", .kind = GRAPHC_ATTR_FLOAT, .f = vals3[rnd(&r, 6)]};
          at[2] =
              (graphc_attr_t){.name = "dtype", .kind = GRAPHC_ATTR_DTYPE, .dtype = dts[rnd(&r, 8)]};
          res = try_node(g, "full", NULL, 0, at, 3, nm);
        }
        break;
      }
      case 7:
        if (ta->rank < 1) break;
        at[0] = (graphc_attr_t){.name = "dim", .kind = GRAPHC_ATTR_INT, .i = -1};
        res = try_node(g, rnd(&r, 2) ? "softmax" : "log_softmax", &a, 1, at, 1, nm);
        break;
      case 8:
        if (ta->rank < 1) break;
        at[0] = (graphc_attr_t){.name = "dim", .kind = GRAPHC_ATTR_INT, .i = 0};
        at[1] = (graphc_attr_t){.name = "start", .kind = GRAPHC_ATTR_INT, .i = rnd(&r, 3)};
        at[2] = (graphc_attr_t){.name = "step", .kind = GRAPHC_ATTR_INT, .i = 1 + rnd(&r, 2)};
        res = try_node(g, "slice", &a, 1, at, 3, nm);
        break;
    }
    if (res >= 0) vals[nv++] = res;
  }
  int outs[3] = {vals[nv - 1], vals[rnd(&r, (uint32_t)nv)], vals[0]};
  OK(gc_graph_set_outputs(g, outs, 1 + (int)rnd(&r, 3)));
  *out = g;
}

Test(text, random_graphs_round_trip) {
  int total_nodes = 0;
  for (uint64_t seed = 0; seed < 300; seed++) {
    graphc_context_t *ctx = new_ctx();
    gc_graph *g = NULL;
    random_graph(ctx, seed, &g);
    total_nodes += g->nnodes;
    char *text = print_graph(g);
    char what[32];
    snprintf(what, sizeof what, "seed %llu", (unsigned long long)seed);
    graphc_graph_t *g2 = parse_ok(ctx, text, what);
    cr_assert_eq(g2->nnodes, g->nnodes);
    cr_assert_eq(g2->ninputs, g->ninputs);
    cr_assert_eq(g2->noutputs, g->noutputs);
    char *again = print_graph(g2);
    cr_assert_str_eq(again, text, "%s:\n%s\n---\n%s", what, text, again);
    graphc_free(again);
    graphc_free(text);
    graphc_context_release(ctx);
  }
  /* The generator must actually exercise the builder. */
  cr_expect_gt(total_nodes, 300 * 4, "only %d nodes over 300 graphs", total_nodes);
}

/* Graphs made through the public builder print to parseable text too:
 * generated result names, regions, and a graph name that is not a name. */
Test(text, api_built_graph) {
  graphc_context_t *ctx = new_ctx();
  graphc_graph_t *g = NULL;
  OK(graphc_graph_create(ctx, "my graph!", &g));
  graphc_dim_t dims[2];
  OK(graphc_graph_dim_parse(g, "N", &dims[0]));
  OK(graphc_graph_dim_const(g, 3, &dims[1]));
  graphc_value_t x, w, outs[4];
  OK(graphc_graph_add_input(g, "x", GRAPHC_ROLE_INPUT, GRAPHC_F32, 2, dims, &x));
  OK(graphc_graph_add_input(g, "w.0", GRAPHC_ROLE_PARAM, GRAPHC_F32, 1, &dims[1], &w));
  graphc_graph_t *r = NULL;
  OK(graphc_graph_create_region(g, "body", &r));
  graphc_value_t p, q, t;
  OK(graphc_graph_add_input(r, "p", GRAPHC_ROLE_INPUT, GRAPHC_F32, 2, dims, &p));
  OK(graphc_graph_add_input(r, "q", GRAPHC_ROLE_INPUT, GRAPHC_F32, 1, &dims[1], &q));
  graphc_value_t pq[2] = {p, q};
  OK(graphc_graph_add_node(r, "mul", pq, 2, NULL, 0, NULL, 0, NULL, &t, 1, NULL));
  OK(graphc_graph_set_outputs(r, &t, 1));
  graphc_value_t xw[2] = {x, w};
  int nres = 0;
  OK(graphc_graph_add_node(g, "call", xw, 2, NULL, 0, &r, 1, NULL, outs, 4, &nres));
  cr_assert_eq(nres, 1);
  graphc_attr_t eps = {.name = "dim", .kind = GRAPHC_ATTR_INT, .i = -1};
  OK(graphc_graph_add_node(g, "softmax", outs, 1, &eps, 1, NULL, 0, NULL, &outs[1], 1, NULL));
  OK(graphc_graph_set_outputs(g, outs, 2));
  char *text = print_graph(g);
  const char *want =
      "graph _my_graph_(x: f32[N, 3] input, w.0: f32[3] param) {\n"
      "  %2 = call(x, w.0) region(p: f32[N, 3], q: f32[3]) {  # f32[N, 3]\n"
      "    %2 = mul(p, q)  # f32[N, 3]\n"
      "    return %2\n"
      "  }\n"
      "  %3 = softmax(%2, dim=-1)  # f32[N, 3]\n"
      "  return %2, %3\n"
      "}\n";
  cr_expect_str_eq(text, want, "got:\n%s", text);
  free(check_round_trip(ctx, text, "api"));
  graphc_free(text);
  graphc_context_release(ctx);
}
