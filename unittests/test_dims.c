/* Tests for lib/ir/dims.c: canonical forms, simplification, printing and
 * parsing, evaluation and errors. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ir/dims.h"

#include "test_common.h"

/* Asserts `expr` fails with `code`; frees the status. */
#define ERR(expr, code)                                                         \
  do {                                                                          \
    graphc_status_t err_st_ = (expr);                                           \
    cr_assert(err_st_ != NULL, "%s unexpectedly succeeded", #expr);             \
    cr_assert_eq(graphc_status_code(err_st_), (code), "%s: got %s (%s)", #expr, \
                 graphc_status_code_name(graphc_status_code(err_st_)),          \
                 graphc_status_message(err_st_));                               \
    graphc_status_free(err_st_);                                                \
  } while (0)

/* Parses all of `s`, creating symbols. */
static gc_dim P(gc_dimtab *t, const char *s) {
  gc_dim d = GC_DIM_NONE;
  size_t used = 0;
  OK(gc_dim_parse(t, s, strlen(s), true, &d, &used));
  cr_assert_eq(used, strlen(s), "'%s': consumed %zu", s, used);
  return d;
}

/* Canonical text of the parse of `s`. */
static const char *S(gc_dimtab *t, const char *s) { return gc_dim_str(t, P(t, s)); }

static void expect_text(const char *in, const char *want) {
  gc_dimtab *t = gc_dimtab_new();
  cr_assert_not_null(t);
  cr_expect_str_eq(S(t, in), want, "'%s' printed as '%s', want '%s'", in, S(t, in), want);
  gc_dimtab_free(t);
}

static void expect_same(const char *a, const char *b) {
  gc_dimtab *t = gc_dimtab_new();
  gc_dim x = P(t, a), y = P(t, b);
  cr_expect_eq(x, y, "'%s' (%s) != '%s' (%s)", a, gc_dim_str(t, x), b, gc_dim_str(t, y));
  gc_dimtab_free(t);
}

Test(dims, canonical_equality) {
  expect_same("B+S", "S+B");
  expect_same("2*(B+1)", "2*B+2");
  expect_same("(2*B+2)//2", "B+1");
  expect_same("(2*B+3)//2", "B+1");
  expect_same("(2*B+1)%2", "1");
  expect_same("(B+S)*(B-S)", "B*B - S*S");
  expect_same("B - B", "0");
  expect_same("S*B*2", "2*B*S");
  expect_same("(B+3)//2", "1 + (B+1)//2");
  expect_same("(B+3)%2", "(B+1)%2");
  expect_same("(4*B + 2*S + 5)//2", "2*B + S + 2 + 1//2");
  expect_same("(6*B + S + 7)//3", "2*B + 2 + (S+1)//3");
  expect_same("(6*B + S + 7)%3", "(S+1)%3");
  expect_same("(B*(S%8) + (S%8)*B)", "2*B*(S % 8)");
}

Test(dims, interning_and_constructors) {
  gc_dimtab *t = gc_dimtab_new();
  int b, s;
  OK(gc_dimtab_add_sym(t, "B", &b));
  OK(gc_dimtab_add_sym(t, "S", &s));
  gc_dim db, ds, one, x, y, z;
  OK(gc_dim_sym(t, b, &db));
  OK(gc_dim_sym(t, s, &ds));
  OK(gc_dim_const(t, 1, &one));
  OK(gc_dim_add(t, db, ds, &x));
  OK(gc_dim_add(t, ds, db, &y));
  cr_assert_eq(x, y);
  cr_assert_str_eq(gc_dim_str(t, x), "B + S");
  int n = gc_dimtab_size(t);
  OK(gc_dim_add(t, ds, db, &y));
  cr_assert_eq(gc_dimtab_size(t), n, "re-interning must not grow the table");
  OK(gc_dim_sub(t, x, ds, &z));
  cr_assert_eq(z, db);
  OK(gc_dim_mul(t, x, one, &z));
  cr_assert_eq(z, x);
  OK(gc_dim_floordiv(t, x, one, &z));
  cr_assert_eq(z, x);
  int64_t v = 0;
  OK(gc_dim_mod(t, x, one, &z));
  cr_assert(gc_dim_is_const(t, z, &v) && v == 0);
  cr_assert(!gc_dim_is_const(t, x, &v));
  cr_assert(gc_dim_is_const(t, one, NULL));
  cr_assert_eq(P(t, "S + B"), x);
  gc_dimtab_free(t);
}

Test(dims, print_format) {
  expect_text("B", "B");
  expect_text("1 + S + 2*S*B", "2*B*S + S + 1");
  expect_text("B - S", "B - S");
  expect_text("3 - B", "-B + 3");
  expect_text("-B", "-B");
  expect_text("-2*B - 3", "-2*B - 3");
  expect_text("0 - 5", "-5");
  expect_text("(1 + B) // 2", "(B + 1)//2");
  expect_text("S % 8", "S % 8");
  expect_text("2 * (B // 2)", "2*(B//2)");
  expect_text("(S % 8) * B", "B*(S % 8)");
  expect_text("-(B//2)", "-(B//2)");
  expect_text("B - S//2", "B - (S//2)");
  expect_text("S - B//2", "-(B//2) + S");
  expect_text("B*B*B + B*S + 7", "B*B*B + B*S + 7");
  expect_text("B // S", "B//S");
  expect_text("(B*S) // (S + 1)", "(B*S)//(S + 1)");
  expect_text("B // -2", "B//(-2)");
  expect_text("(B // 2) // 3", "(B//2)//3");
  expect_text("(0 - 5) // B", "(-5)//B");
  expect_text("7 % B", "7 % B");
  expect_text("0", "0");
  expect_text("x_1 + _y2", "_y2 + x_1");
  expect_text("  B\t+\n1 ", "B + 1");
}

Test(dims, constant_folding) {
  gc_dimtab *t = gc_dimtab_new();
  struct { const char *in; int64_t want; } cases[] = {
      {"-7//2", -4}, {"-7%2", 1},   {"7//-2", -4},  {"7%-2", -1},  {"-7//-2", 3},
      {"-7%-2", -1}, {"7//2", 3},   {"7%2", 1},     {"6//3", 2},   {"-6//3", -2},
      {"0//5", 0},   {"2*3+4", 10}, {"2-3*4", -10}, {"-(-3)", 3},  {"((1+2))*3", 9},
      {"9223372036854775807", INT64_MAX}, {"-9223372036854775807", -INT64_MAX},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    int64_t v = 12345;
    gc_dim d = P(t, cases[i].in);
    cr_assert(gc_dim_is_const(t, d, &v), "'%s' -> '%s' not const", cases[i].in, gc_dim_str(t, d));
    cr_expect_eq(v, cases[i].want, "'%s' = %lld, want %lld", cases[i].in, (long long)v,
                 (long long)cases[i].want);
  }
  gc_dimtab_free(t);
}

Test(dims, trivial_div_mod) {
  expect_same("B//1", "B");
  expect_same("B%1", "0");
  expect_same("B//-1", "-B");
  expect_same("B%-1", "0");
  expect_same("0//B", "0");
  expect_same("0%B", "0");
  expect_same("(0*B)//(S+1)", "0");
}

Test(dims, degree_limit) {
  gc_dimtab *t = gc_dimtab_new();
  gc_dim d8 = P(t, "B*B*B*B*B*B*B*B");
  cr_assert_str_eq(gc_dim_str(t, d8), "B*B*B*B*B*B*B*B");
  gc_dim d, b = P(t, "B");
  ERR(gc_dim_mul(t, d8, b, &d), GRAPHC_STATUS_OUT_OF_RANGE);
  gc_dimtab_free(t);
}

Test(dims, nesting_limit_no_crash) {
  gc_dimtab *t = gc_dimtab_new();
  gc_dim d = P(t, "B"), s = P(t, "S");
  graphc_status_t st = NULL;
  int i;
  for (i = 0; i < 1000 && !st; i++) st = gc_dim_floordiv(t, d, s, &d);
  cr_assert(st != NULL, "unbounded nesting accepted");
  cr_assert_eq(graphc_status_code(st), GRAPHC_STATUS_OUT_OF_RANGE);
  graphc_status_free(st);
  /* The deepest dim that can be built still prints and re-parses, also
   * with negated operands, which need the most parentheses. */
  gc_dim zero = P(t, "0"), last = d;
  d = s;
  st = NULL;
  for (i = 0; i < 1000 && !st; i++) {
    last = d;
    st = gc_dim_sub(t, zero, d, &d);
    if (!st) st = gc_dim_floordiv(t, d, s, &d);
  }
  cr_assert_eq(graphc_status_code(st), GRAPHC_STATUS_OUT_OF_RANGE);
  graphc_status_free(st);
  const char *text = gc_dim_str(t, last);
  cr_assert_gt(strlen(text), 200);
  gc_dimtab *t2 = gc_dimtab_new();
  gc_dim e;
  size_t used;
  OK(gc_dim_parse(t, text, strlen(text), false, &e, &used));
  cr_assert_eq(e, last);
  OK(gc_dim_parse(t2, text, strlen(text), true, &e, &used));
  cr_assert_str_eq(gc_dim_str(t2, e), text);
  gc_dimtab_free(t2);
  /* Deep parentheses are a parse error, not a stack overflow. */
  char buf[4096];
  memset(buf, '(', 2000);
  strcpy(buf + 2000, "B");
  ERR(gc_dim_parse(t, buf, strlen(buf), true, &d, &used), GRAPHC_STATUS_PARSE_ERROR);
  memset(buf, '-', 2000);
  ERR(gc_dim_parse(t, buf, strlen(buf), true, &d, &used), GRAPHC_STATUS_PARSE_ERROR);
  gc_dimtab_free(t);
}

Test(dims, eval) {
  gc_dimtab *t = gc_dimtab_new();
  gc_dim d = P(t, "2*B*S + (B + 1)//2 - S % 3 + 7//S");
  int b = gc_dimtab_find_sym(t, "B"), s = gc_dimtab_find_sym(t, "S");
  int64_t vals[2];
  vals[b] = 5, vals[s] = -4;
  int64_t v;
  OK(gc_dim_eval(t, d, vals, NULL, &v));
  /* python: 2*5*-4 + 6//2 - (-4 % 3) + 7//-4 = -40 + 3 - 2 - 2 */
  cr_assert_eq(v, -41);
  bool bound[2] = {true, true};
  OK(gc_dim_eval(t, d, vals, bound, &v));
  cr_assert_eq(v, -41);
  gc_dim c = P(t, "12");
  OK(gc_dim_eval(t, c, NULL, NULL, &v));
  cr_assert_eq(v, 12);
  gc_dimtab_free(t);
}

Test(dims, eval_errors) {
  gc_dimtab *t = gc_dimtab_new();
  gc_dim d = P(t, "B + N//S");
  int b = gc_dimtab_find_sym(t, "B"), s = gc_dimtab_find_sym(t, "S");
  int n = gc_dimtab_find_sym(t, "N");
  int64_t vals[3] = {0, 0, 0}, v;
  bool bound[3] = {true, true, true};
  vals[b] = 1, vals[n] = 4, vals[s] = 0;
  ERR(gc_dim_eval(t, d, vals, bound, &v), GRAPHC_STATUS_INVALID_ARGUMENT);
  vals[s] = 2;
  bound[s] = false;
  graphc_status_t st = gc_dim_eval(t, d, vals, bound, &v);
  cr_assert_eq(graphc_status_code(st), GRAPHC_STATUS_FAILED_PRECONDITION);
  cr_assert(strstr(graphc_status_message(st), "'S'"), "message: %s", graphc_status_message(st));
  graphc_status_free(st);
  ERR(gc_dim_eval(t, d, NULL, NULL, &v), GRAPHC_STATUS_FAILED_PRECONDITION);
  gc_dim m = P(t, "B*N");
  vals[b] = INT64_MAX, vals[n] = 2;
  ERR(gc_dim_eval(t, m, vals, NULL, &v), GRAPHC_STATUS_OUT_OF_RANGE);
  gc_dim q = P(t, "B//N");
  vals[b] = INT64_MIN, vals[n] = -1;
  ERR(gc_dim_eval(t, q, vals, NULL, &v), GRAPHC_STATUS_OUT_OF_RANGE);
  gc_dim r = P(t, "B%N");
  OK(gc_dim_eval(t, r, vals, NULL, &v));
  cr_assert_eq(v, 0);
  ERR(gc_dim_eval(t, 9999, vals, NULL, &v), GRAPHC_STATUS_INVALID_ARGUMENT);
  gc_dimtab_free(t);
}

Test(dims, construction_errors) {
  gc_dimtab *t = gc_dimtab_new();
  gc_dim d, b = P(t, "B"), zero = P(t, "0"), big = P(t, "9223372036854775807");
  gc_dim one = P(t, "1"), two = P(t, "2");
  ERR(gc_dim_floordiv(t, b, zero, &d), GRAPHC_STATUS_INVALID_ARGUMENT);
  ERR(gc_dim_mod(t, b, zero, &d), GRAPHC_STATUS_INVALID_ARGUMENT);
  ERR(gc_dim_floordiv(t, one, zero, &d), GRAPHC_STATUS_INVALID_ARGUMENT);
  ERR(gc_dim_add(t, big, one, &d), GRAPHC_STATUS_OUT_OF_RANGE);
  ERR(gc_dim_mul(t, big, two, &d), GRAPHC_STATUS_OUT_OF_RANGE);
  gc_dim bigb;
  OK(gc_dim_mul(t, big, b, &bigb));
  cr_assert_str_eq(gc_dim_str(t, bigb), "9223372036854775807*B");
  ERR(gc_dim_add(t, bigb, b, &d), GRAPHC_STATUS_OUT_OF_RANGE);
  ERR(gc_dim_mul(t, bigb, two, &d), GRAPHC_STATUS_OUT_OF_RANGE);
  ERR(gc_dim_const(t, INT64_MIN, &d), GRAPHC_STATUS_OUT_OF_RANGE);
  ERR(gc_dim_add(t, b, 12345, &d), GRAPHC_STATUS_INVALID_ARGUMENT);
  ERR(gc_dim_mul(t, -1, b, &d), GRAPHC_STATUS_INVALID_ARGUMENT);
  ERR(gc_dim_sym(t, 7, &d), GRAPHC_STATUS_INVALID_ARGUMENT);
  cr_assert_str_eq(gc_dim_str(t, 12345), "?");
  cr_assert_str_eq(gc_dim_str(NULL, 0), "?");
  cr_assert(!gc_dim_valid(t, -1));
  cr_assert(gc_dim_valid(t, b));
  gc_dimtab_free(t);
}

/* Parses `s` without creating symbols; returns the status, *used set. */
static graphc_status_t parse_err(gc_dimtab *t, const char *s, bool create, size_t *used) {
  gc_dim d;
  return gc_dim_parse(t, s, strlen(s), create, &d, used);
}

Test(dims, parse_errors) {
  gc_dimtab *t = gc_dimtab_new();
  P(t, "B");
  struct { const char *in; graphc_status_code_t code; size_t at; } cases[] = {
      {"", GRAPHC_STATUS_PARSE_ERROR, 0},
      {"   ", GRAPHC_STATUS_PARSE_ERROR, 3},
      {"B +", GRAPHC_STATUS_PARSE_ERROR, 3},
      {"(B", GRAPHC_STATUS_PARSE_ERROR, 2},
      {"(B + 1", GRAPHC_STATUS_PARSE_ERROR, 6},
      {"*B", GRAPHC_STATUS_PARSE_ERROR, 0},
      {"B / 2", GRAPHC_STATUS_PARSE_ERROR, 2},
      {"B * )", GRAPHC_STATUS_PARSE_ERROR, 4},
      {",", GRAPHC_STATUS_PARSE_ERROR, 0},
      {"B + Q", GRAPHC_STATUS_PARSE_ERROR, 4}, /* unknown symbol, no create */
      {"99999999999999999999", GRAPHC_STATUS_OUT_OF_RANGE, 0},
      {"B + 9223372036854775808", GRAPHC_STATUS_OUT_OF_RANGE, 4},
      {"B // 0", GRAPHC_STATUS_INVALID_ARGUMENT, 2},
      {"B + (3 % (2 - 2))", GRAPHC_STATUS_INVALID_ARGUMENT, 7},
      {"9223372036854775807 + 1", GRAPHC_STATUS_OUT_OF_RANGE, 20},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    size_t used = 999;
    graphc_status_t st = parse_err(t, cases[i].in, false, &used);
    cr_expect_eq(graphc_status_code(st), cases[i].code, "'%s': %s", cases[i].in,
                 graphc_status_message(st));
    cr_expect_eq(used, cases[i].at, "'%s': error at %zu, want %zu", cases[i].in, used, cases[i].at);
    graphc_status_free(st);
  }
  gc_dimtab_free(t);
}

Test(dims, parse_stops) {
  gc_dimtab *t = gc_dimtab_new();
  struct { const char *in; size_t used; const char *text; } cases[] = {
      {"B + 1, S", 5, "B + 1"},   {"B]", 1, "B"},    {"(B)]", 3, "B"},
      {"B + S) * 2", 5, "B + S"}, {"B , 2", 2, "B"}, {"2B", 1, "2"},
      {"S%8>", 3, "S % 8"},       {"B x", 2, "B"},   {"4 ;", 2, "4"},
      {"B + 1 ", 6, "B + 1"},     {" B\t\n", 4, "B"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    gc_dim d;
    size_t used = 999;
    OK(gc_dim_parse(t, cases[i].in, strlen(cases[i].in), true, &d, &used));
    cr_expect_eq(used, cases[i].used, "'%s': consumed %zu", cases[i].in, used);
    cr_expect_str_eq(gc_dim_str(t, d), cases[i].text);
  }
  /* `len` bounds the input: nothing past it is read. */
  gc_dim d;
  size_t used;
  OK(gc_dim_parse(t, "B + 12345", 6, true, &d, &used));
  cr_assert_eq(used, 6);
  cr_assert_str_eq(gc_dim_str(t, d), "B + 12");
  cr_assert_eq(gc_dimtab_find_sym(t, "x"), -1, "a name after the expression is not a symbol");
  gc_dimtab_free(t);
}

Test(dims, failed_parse_rolls_back) {
  gc_dimtab *t = gc_dimtab_new();
  P(t, "B + 1");
  int ns = gc_dimtab_num_syms(t), n = gc_dimtab_size(t);
  size_t used;
  ERR(parse_err(t, "B*New + Other*(B // 0)", true, &used), GRAPHC_STATUS_INVALID_ARGUMENT);
  cr_assert_eq(gc_dimtab_num_syms(t), ns);
  cr_assert_eq(gc_dimtab_size(t), n);
  cr_assert_eq(gc_dimtab_find_sym(t, "New"), -1);
  /* The table still works and interns as before. */
  cr_assert_str_eq(S(t, "1 + B"), "B + 1");
  cr_assert_eq(gc_dimtab_size(t), n);
  cr_assert_str_eq(S(t, "New * B"), "B*New");
  cr_assert_eq(gc_dimtab_find_sym(t, "New"), 1);
  gc_dimtab_free(t);
}

Test(dims, symbols) {
  gc_dimtab *t = gc_dimtab_new();
  cr_assert_eq(gc_dimtab_num_syms(t), 0);
  int a = -1, b = -1, c = -1;
  OK(gc_dimtab_add_sym(t, "batch", &a));
  OK(gc_dimtab_add_sym(t, "_s0", &b));
  OK(gc_dimtab_add_sym(t, "Z9", &c));
  cr_assert(a == 0 && b == 1 && c == 2);
  cr_assert_eq(gc_dimtab_num_syms(t), 3);
  cr_assert_str_eq(gc_dimtab_sym_name(t, 1), "_s0");
  cr_assert_null(gc_dimtab_sym_name(t, 3));
  cr_assert_null(gc_dimtab_sym_name(t, -1));
  cr_assert_eq(gc_dimtab_find_sym(t, "Z9"), 2);
  cr_assert_eq(gc_dimtab_find_sym(t, "Z"), -1);
  cr_assert_eq(gc_dimtab_find_sym(t, "batchx"), -1);
  ERR(gc_dimtab_add_sym(t, "batch", &a), GRAPHC_STATUS_INVALID_ARGUMENT);
  const char *bad[] = {"", "1a", "a-b", "a b", "é", "(x)", "B+1"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    ERR(gc_dimtab_add_sym(t, bad[i], &a), GRAPHC_STATUS_INVALID_ARGUMENT);
  ERR(gc_dimtab_add_sym(t, NULL, &a), GRAPHC_STATUS_INVALID_ARGUMENT);
  cr_assert_eq(gc_dimtab_num_syms(t), 3);
  /* Many symbols: the map grows and still finds each. */
  char name[32];
  for (int i = 0; i < 500; i++) {
    snprintf(name, sizeof name, "s%d", i);
    OK(gc_dimtab_add_sym(t, name, NULL));
  }
  for (int i = 0; i < 500; i++) {
    snprintf(name, sizeof name, "s%d", i);
    cr_assert_eq(gc_dimtab_find_sym(t, name), 3 + i);
  }
  size_t used;
  ERR(parse_err(t, "s500", false, &used), GRAPHC_STATUS_PARSE_ERROR);
  gc_dimtab_free(t);
  gc_dimtab_free(NULL);
}

Test(dims, syms_query) {
  gc_dimtab *t = gc_dimtab_new();
  OK(gc_dimtab_add_sym(t, "Z", NULL));
  OK(gc_dimtab_add_sym(t, "A", NULL));
  OK(gc_dimtab_add_sym(t, "M", NULL));
  gc_dim d = P(t, "M*A + (Z + A)//M + 3");
  int out[4] = {-1, -1, -1, -1};
  cr_assert_eq(gc_dim_syms(t, d, out, 4), 3);
  cr_assert(out[0] == 0 && out[1] == 1 && out[2] == 2);
  out[0] = out[1] = -1;
  cr_assert_eq(gc_dim_syms(t, d, out, 1), 3);
  cr_assert(out[0] == 0 && out[1] == -1);
  cr_assert_eq(gc_dim_syms(t, P(t, "5"), out, 4), 0);
  cr_assert_eq(gc_dim_syms(t, P(t, "A % 4"), out, 4), 1);
  cr_assert_eq(out[0], 1);
  cr_assert_eq(gc_dim_syms(t, 777, out, 4), 0);
  gc_dimtab_free(t);
}

/* ---- random round trip ------------------------------------------------------ */

enum { N_CONST, N_SYM, N_ADD, N_SUB, N_MUL, N_DIV, N_MOD };
typedef struct { int op; int64_t v; int l, r; } node;
typedef struct { node n[64]; int len; uint64_t rng; } tree;

static const char *names[] = {"B", "S", "T", "x_1", "N2"};
#define NSYM 5

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return *s;
}

static int gen(tree *tr, int depth) {
  int i = tr->len++;
  node *n = &tr->n[i];
  int r = (int)(rnd(&tr->rng) % 10);
  if (depth == 0 || r < 3) {
    n->op = r % 2 ? N_CONST : N_SYM;
    n->v = n->op == N_CONST ? (int64_t)(rnd(&tr->rng) % 13) - 4 : (int64_t)(rnd(&tr->rng) % NSYM);
    return i;
  }
  n->op = N_ADD + (int)(rnd(&tr->rng) % 5);
  n->l = gen(tr, depth - 1);
  /* Divisors are mostly small positive constants, which exercise splitting. */
  if ((n->op == N_DIV || n->op == N_MOD) && rnd(&tr->rng) % 3) {
    int j = tr->len++;
    tr->n[j] = (node){N_CONST, (int64_t)(rnd(&tr->rng) % 6) + 1, 0, 0};
    if (rnd(&tr->rng) % 5 == 0) tr->n[j].v = -tr->n[j].v;
    tr->n[i].r = j;
  } else {
    tr->n[i].r = gen(tr, depth - 1);
  }
  return i;
}

static graphc_status_t build(gc_dimtab *t, const tree *tr, int i, const int *symids, gc_dim *out) {
  const node *n = &tr->n[i];
  if (n->op == N_CONST) return gc_dim_const(t, n->v, out);
  if (n->op == N_SYM) return gc_dim_sym(t, symids[n->v], out);
  gc_dim a, b;
  graphc_status_t st = build(t, tr, n->l, symids, &a);
  if (!st) st = build(t, tr, n->r, symids, &b);
  if (st) return st;
  switch (n->op) {
    case N_ADD: return gc_dim_add(t, a, b, out);
    case N_SUB: return gc_dim_sub(t, a, b, out);
    case N_MUL: return gc_dim_mul(t, a, b, out);
    case N_DIV: return gc_dim_floordiv(t, a, b, out);
    default: return gc_dim_mod(t, a, b, out);
  }
}

/* Python semantics; false on division by zero or overflow. */
static bool tree_eval(const tree *tr, int i, const int64_t *vals, int64_t *out) {
  const node *n = &tr->n[i];
  if (n->op == N_CONST) return *out = n->v, true;
  if (n->op == N_SYM) return *out = vals[n->v], true;
  int64_t a, b;
  if (!tree_eval(tr, n->l, vals, &a) || !tree_eval(tr, n->r, vals, &b)) return false;
  switch (n->op) {
    case N_ADD: return !__builtin_add_overflow(a, b, out);
    case N_SUB: return !__builtin_sub_overflow(a, b, out);
    case N_MUL: return !__builtin_mul_overflow(a, b, out);
    default: break;
  }
  if (b == 0 || (a == INT64_MIN && b == -1)) return false;
  int64_t q = a / b, r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) q--, r += b;
  *out = n->op == N_DIV ? q : r;
  return true;
}

Test(dims, random_round_trip) {
  gc_dimtab *t1 = gc_dimtab_new(), *t2 = gc_dimtab_new();
  int ids1[NSYM], ids2[NSYM];
  for (int i = 0; i < NSYM; i++) OK(gc_dimtab_add_sym(t1, names[i], &ids1[i]));
  for (int i = NSYM - 1; i >= 0; i--) OK(gc_dimtab_add_sym(t2, names[i], &ids2[i]));
  tree tr = {.rng = 0x9E3779B97F4A7C15ULL};
  uint64_t vr = 12345;
  int built = 0, evaluated = 0;
  for (int iter = 0; iter < 3000; iter++) {
    tr.len = 0;
    int root = gen(&tr, 1 + iter % 4);
    gc_dim d1;
    graphc_status_t st = build(t1, &tr, root, ids1, &d1);
    if (st) { /* degree limit or division by a constant 0 */
      graphc_status_code_t c = graphc_status_code(st);
      cr_assert(c == GRAPHC_STATUS_OUT_OF_RANGE || c == GRAPHC_STATUS_INVALID_ARGUMENT, "%s",
                graphc_status_message(st));
      graphc_status_free(st);
      continue;
    }
    built++;
    const char *text = gc_dim_str(t1, d1);
    gc_dim again, d2;
    size_t used;
    OK(gc_dim_parse(t1, text, strlen(text), false, &again, &used));
    cr_assert_eq(again, d1, "'%s' re-parsed as '%s'", text, gc_dim_str(t1, again));
    OK(gc_dim_parse(t2, text, strlen(text), false, &d2, &used));
    cr_assert_eq(used, strlen(text));
    cr_assert_str_eq(gc_dim_str(t2, d2), text);
    /* Same value as the unsimplified tree, wherever that is defined. */
    for (int k = 0; k < 3; k++) {
      int64_t vals[NSYM], v1[NSYM], v2[NSYM], want, got1, got2;
      for (int i = 0; i < NSYM; i++) {
        vals[i] = (int64_t)(rnd(&vr) % 13) - 6;
        v1[ids1[i]] = vals[i];
        v2[ids2[i]] = vals[i];
      }
      if (!tree_eval(&tr, root, vals, &want)) continue;
      OK(gc_dim_eval(t1, d1, v1, NULL, &got1));
      OK(gc_dim_eval(t2, d2, v2, NULL, &got2));
      cr_assert_eq(got1, want, "'%s' = %lld, want %lld", text, (long long)got1, (long long)want);
      cr_assert_eq(got2, want);
      evaluated++;
    }
  }
  cr_assert_gt(built, 2000);
  cr_assert_gt(evaluated, 3000);
  /* Every interned dim, intermediates included, re-parses to itself. */
  for (int d = 0; d < gc_dimtab_size(t1); d++) {
    const char *text = gc_dim_str(t1, d);
    gc_dim e;
    size_t used;
    OK(gc_dim_parse(t1, text, strlen(text), false, &e, &used));
    cr_assert_eq(e, d, "'%s' re-parsed as '%s'", text, gc_dim_str(t1, e));
  }
  gc_dimtab_free(t1);
  gc_dimtab_free(t2);
}

/* Random text: never crashes; a success re-parses from its canonical text. */
Test(dims, random_text_fuzz) {
  gc_dimtab *t = gc_dimtab_new();
  const char alphabet[] = "BSx_1 0123456789+-*/%%()),]\t";
  uint64_t rng = 0xC0FFEE;
  char buf[40];
  int parsed = 0;
  for (int iter = 0; iter < 20000; iter++) {
    size_t len = rnd(&rng) % (sizeof buf - 1);
    for (size_t i = 0; i < len; i++) buf[i] = alphabet[rnd(&rng) % (sizeof alphabet - 1)];
    buf[len] = 0;
    gc_dim d;
    size_t used = 999;
    graphc_status_t st = gc_dim_parse(t, buf, len, iter % 2, &d, &used);
    cr_assert_leq(used, len);
    if (st) {
      graphc_status_code_t c = graphc_status_code(st);
      cr_assert(c == GRAPHC_STATUS_PARSE_ERROR || c == GRAPHC_STATUS_OUT_OF_RANGE ||
                    c == GRAPHC_STATUS_INVALID_ARGUMENT,
                "'%s': %s", buf, graphc_status_message(st));
      graphc_status_free(st);
      continue;
    }
    parsed++;
    cr_assert_gt(used, 0);
    const char *text = gc_dim_str(t, d);
    gc_dim e;
    OK(gc_dim_parse(t, text, strlen(text), false, &e, &used));
    cr_assert_eq(e, d, "'%s' -> '%s' -> '%s'", buf, text, gc_dim_str(t, e));
  }
  cr_assert_gt(parsed, 1000);
  gc_dimtab_free(t);
}

/* Size limits keep pathological dims from exploding time or memory. */
Test(dims, size_limits) {
  gc_dimtab *t = gc_dimtab_new();
  gc_dim s = P(t, "S"), x = P(t, "B//S"), last = x;
  graphc_status_t st = NULL;
  for (int i = 0; i < 60 && !st; i++) { /* text doubles each step */
    last = x;
    st = gc_dim_mul(t, x, x, &x);
    if (!st) st = gc_dim_floordiv(t, x, s, &x);
  }
  cr_assert_eq(graphc_status_code(st), GRAPHC_STATUS_OUT_OF_RANGE, "%s", graphc_status_message(st));
  graphc_status_free(st);
  int64_t vals[2] = {0, 0}, v;
  vals[gc_dimtab_find_sym(t, "B")] = 4, vals[gc_dimtab_find_sym(t, "S")] = 2; /* x stays 2 */
  OK(gc_dim_eval(t, last, vals, NULL, &v));
  cr_assert_eq(v, 2);
  const char *text = gc_dim_str(t, last);
  cr_assert_gt(strlen(text), 10000);
  gc_dim e;
  size_t used;
  OK(gc_dim_parse(t, text, strlen(text), false, &e, &used));
  cr_assert_eq(e, last);
  /* A sum of 20 symbols raised to the 8th power has millions of terms. */
  gc_dim sum = P(t, "a+b+c+d+e+f+g+h+i+j+k+l+m+n+o+p+q+r+s+u"), pw = sum;
  st = NULL;
  for (int i = 0; i < 7 && !st; i++) st = gc_dim_mul(t, pw, sum, &pw);
  cr_assert_eq(graphc_status_code(st), GRAPHC_STATUS_OUT_OF_RANGE, "%s", graphc_status_message(st));
  graphc_status_free(st);
  gc_dimtab_free(t);
}
