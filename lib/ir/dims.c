/* Symbolic dims: hash-consed polynomials over atoms (symbols, floordiv,
 * mod). Every atom and expression gets its canonical text when it is
 * interned, and the intern maps are keyed by that text, so identity,
 * printing and ordering all agree and never depend on creation order.
 *
 * Constants and coefficients never hold INT64_MIN: excluding it means
 * negation and printing of |coef| can never overflow, and every printed
 * constant re-parses as a literal. */
#include "ir/dims.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "support/status.h"
#include "support/strbuf.h"

#define ERRF(code, ...) gc_status(GRAPHC_STATUS_##code, __VA_ARGS__)

#define MAX_DEG 8    /* factors per monomial */
#define MAX_DEPTH 64 /* div/mod nesting; bounds recursion */
/* A canonical text spells out every atom occurrence, so its length also
 * bounds the work of eval and keeps (x*x)//S chains from doubling forever. */
#define MAX_TEXT (1 << 16)
#define MAX_TERMS (1 << 14) /* terms of a product before merging */
/* Parentheses plus unary minus; a printed nesting level uses at most 3
 * ("(-(x))//2"), so every printed dim re-parses. */
#define MAX_PARSE_DEPTH (4 * MAX_DEPTH)

enum { A_SYM, A_DIV, A_MOD };

typedef struct { int n; int32_t f[MAX_DEG]; } mono; /* atom ids, sorted by text */
typedef struct { int64_t coef; mono m; } term;
typedef struct { int64_t c; term *t; int n, cap; } poly; /* scratch polynomial */

/* a = symbol (A_SYM), else a // b or a % b over dims; syms: distinct symbols
 * used, sorted; depth: div/mod nesting. */
typedef struct { int kind; int32_t a, b; char *text; int *syms, nsyms, depth; } atom;
/* Terms in canonical order (degree desc, then monomial text), constant c. */
typedef struct { int64_t c; term *t; int n; char *text; int *syms, nsyms, depth; } expr;

/* Open-addressing map from a NUL-terminated string (owned elsewhere) to id. */
typedef struct { const char **keys; int32_t *vals; size_t cap, n; } smap;

struct gc_dimtab {
  char **syms; int nsyms, csyms; smap symmap;
  atom *atoms; int natoms, catoms; smap atommap;
  expr *exprs; int nexprs, cexprs; smap exprmap;
};

/* ---- helpers ------------------------------------------------------------- */

static graphc_status_t ovf(void) { return ERRF(OUT_OF_RANGE, "dim expression overflows int64"); }
static graphc_status_t too_big(void) {
  return ERRF(OUT_OF_RANGE, "dim expression too large (over %d bytes of text)", MAX_TEXT);
}
static bool add_ok(int64_t a, int64_t b, int64_t *r) {
  return !__builtin_add_overflow(a, b, r) && *r != INT64_MIN;
}
static bool mul_ok(int64_t a, int64_t b, int64_t *r) {
  return !__builtin_mul_overflow(a, b, r) && *r != INT64_MIN;
}
/* Python floor division / modulo; caller excludes b == 0 and MIN // -1. */
static int64_t fdiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) q--;
  return q;
}
static int64_t fmodp(int64_t a, int64_t b) {
  if (b == -1) return 0; /* INT64_MIN % -1 is UB in C */
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

static bool grow(void **p, int *cap, int n, size_t elt) {
  if (n < *cap) return true;
  if (*cap > INT32_MAX / 2) return false;
  int nc = *cap ? *cap * 2 : 16;
  void *q = realloc(*p, (size_t)nc * elt);
  if (!q) return false;
  *p = q;
  *cap = nc;
  return true;
}

static uint64_t hstr(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
  return h;
}

static int32_t smap_get(const smap *m, const char *s, size_t n) {
  if (!m->cap) return -1;
  for (size_t i = hstr(s, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (!m->keys[i]) return -1;
    if (strncmp(m->keys[i], s, n) == 0 && m->keys[i][n] == 0) return m->vals[i];
  }
}

static void smap_insert(smap *m, const char *key, int32_t v) {
  size_t i = hstr(key, strlen(key)) & (m->cap - 1);
  while (m->keys[i]) i = (i + 1) & (m->cap - 1);
  m->keys[i] = key;
  m->vals[i] = v;
  m->n++;
}

static bool smap_put(smap *m, const char *key, int32_t v) {
  if ((m->n + 1) * 2 > m->cap) {
    smap old = *m;
    size_t cap = m->cap ? m->cap * 2 : 16;
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    if (!m->keys || !m->vals) {
      free(m->keys);
      free(m->vals);
      *m = old;
      return false;
    }
    m->cap = cap;
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
      if (old.keys[i]) smap_insert(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
  }
  smap_insert(m, key, v);
  return true;
}

static void smap_clear(smap *m) {
  if (m->cap) memset(m->keys, 0, m->cap * sizeof *m->keys);
  m->n = 0;
}

static int cmp_int(const void *x, const void *y) {
  int a = *(const int *)x, b = *(const int *)y;
  return (a > b) - (a < b);
}

/* Sorts and dedups v in place; frees it and returns NULL when empty. */
static int *uniq(int *v, int *n) {
  if (*n == 0) {
    free(v);
    return NULL;
  }
  qsort(v, (size_t)*n, sizeof *v, cmp_int);
  int k = 1;
  for (int i = 1; i < *n; i++)
    if (v[i] != v[k - 1]) v[k++] = v[i];
  *n = k;
  return v;
}

/* ---- table and symbols --------------------------------------------------- */

gc_dimtab *gc_dimtab_new(void) { return calloc(1, sizeof(gc_dimtab)); }

static void free_from(gc_dimtab *t, int ns, int na, int ne) {
  for (int i = ns; i < t->nsyms; i++) free(t->syms[i]);
  for (int i = na; i < t->natoms; i++) free(t->atoms[i].text), free(t->atoms[i].syms);
  for (int i = ne; i < t->nexprs; i++)
    free(t->exprs[i].text), free(t->exprs[i].syms), free(t->exprs[i].t);
  t->nsyms = ns, t->natoms = na, t->nexprs = ne;
}

void gc_dimtab_free(gc_dimtab *t) {
  if (!t) return;
  free_from(t, 0, 0, 0);
  free(t->syms), free(t->atoms), free(t->exprs);
  smap *maps[3] = {&t->symmap, &t->atommap, &t->exprmap};
  for (int i = 0; i < 3; i++) free(maps[i]->keys), free(maps[i]->vals);
  free(t);
}

/* Drops everything created after the given counts (a failed parse must not
 * leave half-made symbols behind). Rebuilding the maps needs no memory. */
static void rollback(gc_dimtab *t, int ns, int na, int ne) {
  if (t->nsyms == ns && t->natoms == na && t->nexprs == ne) return;
  free_from(t, ns, na, ne);
  smap_clear(&t->symmap), smap_clear(&t->atommap), smap_clear(&t->exprmap);
  for (int i = 0; i < ns; i++) smap_insert(&t->symmap, t->syms[i], i);
  for (int i = 0; i < na; i++) smap_insert(&t->atommap, t->atoms[i].text, i);
  for (int i = 0; i < ne; i++) smap_insert(&t->exprmap, t->exprs[i].text, i);
}

int gc_dimtab_num_syms(const gc_dimtab *t) { return t ? t->nsyms : 0; }

const char *gc_dimtab_sym_name(const gc_dimtab *t, int sym) {
  return t && sym >= 0 && sym < t->nsyms ? t->syms[sym] : NULL;
}

int gc_dimtab_find_sym(const gc_dimtab *t, const char *name) {
  return t && name ? smap_get(&t->symmap, name, strlen(name)) : -1;
}

static bool is_alpha_(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

graphc_status_t gc_dimtab_add_sym(gc_dimtab *t, const char *name, int *out_sym) {
  if (!t || !name) return ERRF(INVALID_ARGUMENT, "null symbol table or name");
  bool ok = is_alpha_(name[0]);
  for (const char *c = name; ok && *c; c++) ok = is_alpha_(*c) || is_digit(*c);
  if (!ok) return ERRF(INVALID_ARGUMENT, "symbol name '%s' is not an identifier", name);
  if (gc_dimtab_find_sym(t, name) >= 0)
    return ERRF(INVALID_ARGUMENT, "symbol '%s' already exists", name);
  char *copy = gc_strdup(name);
  if (!copy || !grow((void **)&t->syms, &t->csyms, t->nsyms, sizeof *t->syms) ||
      !smap_put(&t->symmap, copy, t->nsyms)) {
    free(copy);
    return GC_OOM();
  }
  t->syms[t->nsyms] = copy;
  if (out_sym) *out_sym = t->nsyms;
  t->nsyms++;
  return NULL;
}

int gc_dimtab_size(const gc_dimtab *t) { return t ? t->nexprs : 0; }

bool gc_dim_valid(const gc_dimtab *t, gc_dim d) { return t && d >= 0 && d < t->nexprs; }

bool gc_dim_is_const(const gc_dimtab *t, gc_dim d, int64_t *v) {
  if (!gc_dim_valid(t, d) || t->exprs[d].n) return false;
  if (v) *v = t->exprs[d].c;
  return true;
}

const char *gc_dim_str(const gc_dimtab *t, gc_dim d) {
  return gc_dim_valid(t, d) ? t->exprs[d].text : "?";
}

static graphc_status_t check(const gc_dimtab *t, gc_dim d) {
  if (!t) return ERRF(INVALID_ARGUMENT, "null dim table");
  if (!gc_dim_valid(t, d)) return ERRF(INVALID_ARGUMENT, "invalid dim id %d", (int)d);
  return NULL;
}

static graphc_status_t check2(const gc_dimtab *t, gc_dim a, gc_dim b, const gc_dim *out) {
  if (!out) return ERRF(INVALID_ARGUMENT, "null output dim");
  GC_TRY(check(t, a));
  return check(t, b);
}

/* ---- canonical text ------------------------------------------------------ */

/* A div/mod factor is parenthesised inside a product ("2*(B//2)") since
 * "2*B//2" would re-parse as (2*B)//2. */
static void put_mono(const gc_dimtab *t, gc_strbuf *sb, const mono *m, bool paren) {
  for (int i = 0; i < m->n; i++) {
    const atom *a = &t->atoms[m->f[i]];
    if (i) gc_sb_append(sb, "*");
    bool p = paren && a->kind != A_SYM;
    if (p) gc_sb_append(sb, "(");
    gc_sb_append(sb, a->text);
    if (p) gc_sb_append(sb, ")");
  }
}

/* Leading term: "-X" for -1, "c*X" otherwise; later terms " + " / " - " and
 * |c|; the constant last. */
static void put_poly(const gc_dimtab *t, gc_strbuf *sb, const poly *p) {
  for (int i = 0; i < p->n; i++) {
    int64_t c = p->t[i].coef;
    if (i) gc_sb_append(sb, c < 0 ? " - " : " + ");
    int64_t shown = i && c < 0 ? -c : c;
    if (shown == -1) gc_sb_append(sb, "-");
    if (shown != 1 && shown != -1) gc_sb_printf(sb, "%" PRId64 "*", shown);
    put_mono(t, sb, &p->t[i].m, p->t[i].m.n > 1 || c != 1);
  }
  if (!p->n) gc_sb_printf(sb, "%" PRId64, p->c);
  if (p->n && p->c) gc_sb_printf(sb, " %c %" PRId64, p->c < 0 ? '-' : '+', p->c < 0 ? -p->c : p->c);
}

/* Hands out sb's text, or says why there is none. */
static graphc_status_t take_text(gc_strbuf *sb, char **out) {
  bool big = sb->len > MAX_TEXT, oom = sb->oom;
  *out = big || oom ? NULL : gc_sb_take(sb);
  if (*out) return NULL;
  gc_sb_free(sb);
  return big && !oom ? too_big() : GC_OOM();
}

/* Operand of // or %: bare when a single symbol or a constant >= 0. */
static void put_operand(const gc_dimtab *t, gc_strbuf *sb, gc_dim d) {
  const expr *e = &t->exprs[d];
  bool bare = (!e->n && e->c >= 0) || (e->n == 1 && !e->c && e->t[0].coef == 1 &&
                                       e->t[0].m.n == 1 && t->atoms[e->t[0].m.f[0]].kind == A_SYM);
  if (!bare) gc_sb_append(sb, "(");
  gc_sb_append(sb, e->text);
  if (!bare) gc_sb_append(sb, ")");
}

/* ---- polynomials --------------------------------------------------------- */

static void poly_free(poly *p) { free(p->t), *p = (poly){0}; }

static bool poly_push(poly *p, int64_t coef, const mono *m) {
  if (!grow((void **)&p->t, &p->cap, p->n, sizeof *p->t)) return false;
  p->t[p->n].coef = coef;
  p->t[p->n++].m = *m;
  return true;
}

/* p += s*e */
static graphc_status_t poly_append(poly *p, const expr *e, int64_t s) {
  int64_t c;
  if (!mul_ok(e->c, s, &c) || !add_ok(p->c, c, &p->c)) return ovf();
  for (int i = 0; i < e->n; i++) {
    if (!mul_ok(e->t[i].coef, s, &c)) return ovf();
    if (!poly_push(p, c, &e->t[i].m)) return GC_OOM();
  }
  return NULL;
}

typedef struct { term tm; char *key; } keyed;

static int cmp_keyed(const void *x, const void *y) {
  const keyed *a = x, *b = y;
  if (a->tm.m.n != b->tm.m.n) return b->tm.m.n - a->tm.m.n;
  return strcmp(a->key, b->key);
}

/* Sorts factors and terms by text, merges equal monomials, drops zeros. */
static graphc_status_t poly_norm(const gc_dimtab *t, poly *p) {
  int n0 = p->n;
  if (n0 <= 0) return NULL;
  size_t est = 0; /* loose bound first: keys are built before merging */
  for (int i = 0; i < n0; i++)
    for (int j = 0; j < p->t[i].m.n; j++) est += strlen(t->atoms[p->t[i].m.f[j]].text) + 1;
  if (est > 4 * (size_t)MAX_TEXT) return too_big();
  keyed *k = calloc((size_t)(unsigned)n0, sizeof *k);
  if (!k) return GC_OOM();
  graphc_status_t st = NULL;
  for (int i = 0; i < p->n && !st; i++) {
    mono *m = &p->t[i].m;
    for (int a = 1; a < m->n; a++) { /* insertion sort: at most 8 factors */
      int32_t x = m->f[a], b = a;
      for (; b > 0 && strcmp(t->atoms[m->f[b - 1]].text, t->atoms[x].text) > 0; b--)
        m->f[b] = m->f[b - 1];
      m->f[b] = x;
    }
    gc_strbuf sb = {0};
    put_mono(t, &sb, m, false);
    k[i].tm = p->t[i];
    if (!(k[i].key = gc_sb_take(&sb))) st = GC_OOM();
  }
  if (!st) {
    qsort(k, (size_t)p->n, sizeof *k, cmp_keyed);
    int j = 0;
    for (int i = 0; i < p->n && !st; i++) {
      if (j && p->t[j - 1].m.n == k[i].tm.m.n &&
          !memcmp(p->t[j - 1].m.f, k[i].tm.m.f, sizeof(int32_t) * (size_t)k[i].tm.m.n)) {
        if (!add_ok(p->t[j - 1].coef, k[i].tm.coef, &p->t[j - 1].coef)) st = ovf();
      } else {
        p->t[j++] = k[i].tm;
      }
    }
    int n = 0;
    for (int i = 0; i < j; i++)
      if (p->t[i].coef) p->t[n++] = p->t[i];
    p->n = n;
  }
  for (int i = 0; i < n0; i++) free(k[i].key);
  free(k);
  return st;
}

/* Interns p; p is always consumed, and an error `st` from building it is
 * just passed on. */
static graphc_status_t intern(gc_dimtab *t, poly *p, graphc_status_t st, gc_dim *out) {
  if (!st) st = poly_norm(t, p);
  if (st) {
    poly_free(p);
    return st;
  }
  gc_strbuf sb = {0};
  put_poly(t, &sb, p);
  char *text;
  if ((st = take_text(&sb, &text))) {
    poly_free(p);
    return st;
  }
  int32_t id = smap_get(&t->exprmap, text, strlen(text));
  if (id >= 0) {
    free(text);
    poly_free(p);
    *out = id;
    return NULL;
  }
  int ns = 0, depth = 0;
  for (int i = 0; i < p->n; i++)
    for (int j = 0; j < p->t[i].m.n; j++) ns += t->atoms[p->t[i].m.f[j]].nsyms;
  int *syms = ns ? malloc(sizeof(int) * (size_t)(unsigned)ns) : NULL;
  if (ns && !syms) goto oom;
  ns = 0;
  for (int i = 0; i < p->n; i++)
    for (int j = 0; j < p->t[i].m.n; j++) {
      const atom *a = &t->atoms[p->t[i].m.f[j]];
      for (int q = 0; q < a->nsyms; q++) syms[ns++] = a->syms[q];
      if (a->depth > depth) depth = a->depth;
    }
  syms = uniq(syms, &ns);
  if (!grow((void **)&t->exprs, &t->cexprs, t->nexprs, sizeof *t->exprs) ||
      !smap_put(&t->exprmap, text, t->nexprs)) {
    free(syms);
    goto oom;
  }
  if (p->n < p->cap) { /* shrink; failure just keeps the larger block */
    term *s = realloc(p->t, sizeof *p->t * (size_t)(p->n ? p->n : 1));
    if (s) p->t = s;
  }
  t->exprs[t->nexprs] = (expr){p->c, p->t, p->n, text, syms, ns, depth};
  *out = t->nexprs++;
  return NULL;
oom:
  free(text);
  poly_free(p);
  return GC_OOM();
}

/* Interns an atom and returns the dim 1*atom. */
static graphc_status_t atom_dim(gc_dimtab *t, int kind, int32_t a, int32_t b, gc_dim *out) {
  gc_strbuf sb = {0};
  if (kind == A_SYM) {
    gc_sb_append(&sb, t->syms[a]);
  } else {
    put_operand(t, &sb, a);
    gc_sb_append(&sb, kind == A_DIV ? "//" : " % ");
    put_operand(t, &sb, b);
  }
  char *text;
  GC_TRY(take_text(&sb, &text));
  int32_t id = smap_get(&t->atommap, text, strlen(text));
  if (id >= 0) {
    free(text);
  } else {
    int depth = 0, ns = 1, *syms;
    if (kind == A_SYM) {
      syms = malloc(sizeof *syms);
      if (syms) syms[0] = a;
    } else {
      const expr *x = &t->exprs[a], *y = &t->exprs[b];
      depth = 1 + (x->depth > y->depth ? x->depth : y->depth);
      if (depth > MAX_DEPTH) {
        free(text);
        return ERRF(OUT_OF_RANGE, "dim expression nested too deeply (over %d levels)", MAX_DEPTH);
      }
      ns = x->nsyms + y->nsyms;
      syms = ns ? malloc(sizeof *syms * (size_t)(unsigned)ns) : NULL;
      for (int i = 0; syms && i < ns; i++)
        syms[i] = i < x->nsyms ? x->syms[i] : y->syms[i - x->nsyms];
    }
    if ((ns && !syms) || !grow((void **)&t->atoms, &t->catoms, t->natoms, sizeof *t->atoms) ||
        !smap_put(&t->atommap, text, t->natoms)) {
      free(syms);
      free(text);
      return GC_OOM();
    }
    syms = uniq(syms, &ns);
    id = t->natoms++;
    t->atoms[id] = (atom){kind, a, b, text, syms, ns, depth};
  }
  poly p = {0};
  mono m = {1, {id}};
  if (!poly_push(&p, 1, &m)) return GC_OOM();
  return intern(t, &p, NULL, out);
}

/* ---- constructors -------------------------------------------------------- */

graphc_status_t gc_dim_const(gc_dimtab *t, int64_t v, gc_dim *out) {
  if (!t || !out) return ERRF(INVALID_ARGUMENT, "null dim table or output");
  if (v == INT64_MIN) return ovf();
  poly p = {.c = v};
  return intern(t, &p, NULL, out);
}

graphc_status_t gc_dim_sym(gc_dimtab *t, int sym, gc_dim *out) {
  if (!t || !out) return ERRF(INVALID_ARGUMENT, "null dim table or output");
  if (sym < 0 || sym >= t->nsyms) return ERRF(INVALID_ARGUMENT, "invalid symbol id %d", sym);
  return atom_dim(t, A_SYM, sym, -1, out);
}

/* a + s*b */
static graphc_status_t add_scaled(gc_dimtab *t, gc_dim a, gc_dim b, int64_t s, gc_dim *out) {
  GC_TRY(check2(t, a, b, out));
  poly p = {0};
  graphc_status_t st = poly_append(&p, &t->exprs[a], 1);
  if (!st) st = poly_append(&p, &t->exprs[b], s);
  return intern(t, &p, st, out);
}

graphc_status_t gc_dim_add(gc_dimtab *t, gc_dim a, gc_dim b, gc_dim *out) {
  return add_scaled(t, a, b, 1, out);
}

graphc_status_t gc_dim_sub(gc_dimtab *t, gc_dim a, gc_dim b, gc_dim *out) {
  return add_scaled(t, a, b, -1, out);
}

/* Appends coef*m1*m2 to r. */
static graphc_status_t mul_term(poly *r, int64_t c1, const mono *m1, int64_t c2, const mono *m2) {
  int64_t c;
  if (!mul_ok(c1, c2, &c)) return ovf();
  if (m1->n + m2->n > MAX_DEG)
    return ERRF(OUT_OF_RANGE, "dim expression degree exceeds %d", MAX_DEG);
  mono m = *m1;
  memcpy(m.f + m.n, m2->f, sizeof(int32_t) * (size_t)m2->n);
  m.n += m2->n;
  return poly_push(r, c, &m) ? NULL : GC_OOM();
}

graphc_status_t gc_dim_mul(gc_dimtab *t, gc_dim a, gc_dim b, gc_dim *out) {
  GC_TRY(check2(t, a, b, out));
  const expr *x = &t->exprs[a], *y = &t->exprs[b];
  if ((int64_t)(x->n + 1) * (y->n + 1) > MAX_TERMS) return too_big();
  static const mono one = {0, {0}};
  poly r = {0};
  graphc_status_t st = mul_ok(x->c, y->c, &r.c) ? NULL : ovf();
  for (int i = 0; i < x->n && !st; i++) {
    for (int j = 0; j < y->n && !st; j++)
      st = mul_term(&r, x->t[i].coef, &x->t[i].m, y->t[j].coef, &y->t[j].m);
    if (!st && y->c) st = mul_term(&r, x->t[i].coef, &x->t[i].m, y->c, &one);
  }
  for (int j = 0; j < y->n && !st && x->c; j++)
    st = mul_term(&r, y->t[j].coef, &y->t[j].m, x->c, &one);
  return intern(t, &r, st, out);
}

/* For k > 0: a = Q + R where k divides every coefficient of Q and R's
 * constant lies in [0, k); then a//k = Q/k + R//k and a%k = R%k. */
static graphc_status_t divmod_const(gc_dimtab *t, gc_dim a, gc_dim b, int64_t k, bool is_mod,
                                    gc_dim *out) {
  const expr *e = &t->exprs[a];
  poly q = {.c = fdiv(e->c, k)}, r = {.c = fmodp(e->c, k)};
  for (int i = 0; i < e->n; i++) {
    bool ok = e->t[i].coef % k == 0 ? poly_push(&q, e->t[i].coef / k, &e->t[i].m)
                                    : poly_push(&r, e->t[i].coef, &e->t[i].m);
    if (!ok) {
      poly_free(&q), poly_free(&r);
      return GC_OOM();
    }
  }
  if (is_mod) {
    poly_free(&q);
    if (!r.n) return gc_dim_const(t, r.c, out); /* 0 <= R < k: R%k == R */
    gc_dim rd;
    GC_TRY(intern(t, &r, NULL, &rd));
    return atom_dim(t, A_MOD, rd, b, out);
  }
  if (!r.n) return intern(t, &q, NULL, out); /* R//k == 0 */
  gc_dim rd, ad, qd;
  graphc_status_t st = intern(t, &r, NULL, &rd);
  if (!st) st = atom_dim(t, A_DIV, rd, b, &ad);
  GC_TRY(intern(t, &q, st, &qd));
  return gc_dim_add(t, qd, ad, out);
}

static graphc_status_t divmod(gc_dimtab *t, gc_dim a, gc_dim b, bool is_mod, gc_dim *out) {
  GC_TRY(check2(t, a, b, out));
  int64_t av = 0, bv = 0;
  bool ac = gc_dim_is_const(t, a, &av), bc = gc_dim_is_const(t, b, &bv);
  if (bc && bv == 0)
    return ERRF(INVALID_ARGUMENT, "%s by zero in dim expression", is_mod ? "modulo" : "division");
  if (ac && bc) return gc_dim_const(t, is_mod ? fmodp(av, bv) : fdiv(av, bv), out);
  if ((ac && av == 0) || (is_mod && bc && (bv == 1 || bv == -1))) return gc_dim_const(t, 0, out);
  if (bc && bv == 1) {
    *out = a;
    return NULL;
  }
  if (bc && bv == -1) { /* x // -1 == -x */
    gc_dim zero;
    GC_TRY(gc_dim_const(t, 0, &zero));
    return add_scaled(t, zero, a, -1, out);
  }
  if (bc && bv > 0) return divmod_const(t, a, b, bv, is_mod, out);
  return atom_dim(t, is_mod ? A_MOD : A_DIV, a, b, out);
}

graphc_status_t gc_dim_floordiv(gc_dimtab *t, gc_dim a, gc_dim b, gc_dim *out) {
  return divmod(t, a, b, false, out);
}

graphc_status_t gc_dim_mod(gc_dimtab *t, gc_dim a, gc_dim b, gc_dim *out) {
  return divmod(t, a, b, true, out);
}

/* ---- queries ------------------------------------------------------------- */

static graphc_status_t eval_expr(const gc_dimtab *t, gc_dim d, const int64_t *vals,
                                 const bool *bound, int64_t *out);

static graphc_status_t eval_atom(const gc_dimtab *t, int32_t id, const int64_t *vals,
                                 const bool *bound, int64_t *out) {
  const atom *a = &t->atoms[id];
  if (a->kind == A_SYM) {
    if (!vals || (bound && !bound[a->a]))
      return ERRF(FAILED_PRECONDITION, "symbol '%s' is not bound", t->syms[a->a]);
    *out = vals[a->a];
    return NULL;
  }
  int64_t x, y;
  GC_TRY(eval_expr(t, a->a, vals, bound, &x));
  GC_TRY(eval_expr(t, a->b, vals, bound, &y));
  if (y == 0) return ERRF(INVALID_ARGUMENT, "division by zero evaluating '%s'", a->text);
  if (a->kind == A_DIV && x == INT64_MIN && y == -1) return ovf();
  *out = a->kind == A_DIV ? fdiv(x, y) : fmodp(x, y);
  return NULL;
}

/* Plain overflow checks here: a value may legitimately be INT64_MIN. */
static graphc_status_t eval_expr(const gc_dimtab *t, gc_dim d, const int64_t *vals,
                                 const bool *bound, int64_t *out) {
  const expr *e = &t->exprs[d];
  int64_t acc = e->c;
  for (int i = 0; i < e->n; i++) {
    int64_t v = e->t[i].coef, f = 0;
    for (int j = 0; j < e->t[i].m.n; j++) {
      GC_TRY(eval_atom(t, e->t[i].m.f[j], vals, bound, &f));
      if (__builtin_mul_overflow(v, f, &v)) return ovf();
    }
    if (__builtin_add_overflow(acc, v, &acc)) return ovf();
  }
  *out = acc;
  return NULL;
}

graphc_status_t gc_dim_eval(const gc_dimtab *t, gc_dim d, const int64_t *vals, const bool *bound,
                            int64_t *out) {
  GC_TRY(check(t, d));
  if (!out) return ERRF(INVALID_ARGUMENT, "null output");
  return eval_expr(t, d, vals, bound, out);
}

int gc_dim_syms(const gc_dimtab *t, gc_dim d, int *out, int max) {
  if (!gc_dim_valid(t, d)) return 0;
  const expr *e = &t->exprs[d];
  for (int i = 0; out && i < e->nsyms && i < max; i++) out[i] = e->syms[i];
  return e->nsyms;
}

/* ---- parser -------------------------------------------------------------- */

typedef struct { gc_dimtab *t; const char *s; size_t n, pos; bool create; int depth; } parser;

static char peek(parser *p) { /* skips whitespace */
  while (p->pos < p->n && strchr(" \t\n\r", p->s[p->pos]) && p->s[p->pos]) p->pos++;
  return p->pos < p->n ? p->s[p->pos] : 0;
}

static graphc_status_t perr(parser *p, const char *what) {
  return ERRF(PARSE_ERROR, "dim expression: %s at byte %zu", what, p->pos);
}

/* A constructor failed at operator position `at`: point there. */
static graphc_status_t at_op(parser *p, size_t at, graphc_status_t st) {
  if (!st) return NULL;
  p->pos = at;
  return gc_status_wrap(st, "at byte %zu", at);
}

static graphc_status_t parse_expr(parser *p, gc_dim *out);

static graphc_status_t parse_primary(parser *p, gc_dim *out) {
  char c = peek(p);
  size_t start = p->pos;
  if (is_digit(c)) {
    int64_t v = 0;
    while (p->pos < p->n && is_digit(p->s[p->pos])) {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, p->s[p->pos] - '0', &v)) {
        p->pos = start;
        return ERRF(OUT_OF_RANGE, "dim expression: integer literal at byte %zu overflows int64",
                    start);
      }
      p->pos++;
    }
    return gc_dim_const(p->t, v, out);
  }
  if (is_alpha_(c)) {
    while (p->pos < p->n && (is_alpha_(p->s[p->pos]) || is_digit(p->s[p->pos]))) p->pos++;
    size_t len = p->pos - start;
    int sym = smap_get(&p->t->symmap, p->s + start, len);
    if (sym < 0) {
      if (!p->create) {
        p->pos = start;
        return ERRF(PARSE_ERROR, "dim expression: unknown symbol '%.*s' at byte %zu", (int)len,
                    p->s + start, start);
      }
      char *name = malloc(len + 1);
      if (!name) return GC_OOM();
      memcpy(name, p->s + start, len);
      name[len] = 0;
      graphc_status_t st = gc_dimtab_add_sym(p->t, name, &sym);
      free(name);
      GC_TRY(st);
    }
    return gc_dim_sym(p->t, sym, out);
  }
  if (c == '(') {
    if (++p->depth > MAX_PARSE_DEPTH) return perr(p, "expression nested too deeply");
    p->pos++;
    GC_TRY(parse_expr(p, out));
    if (peek(p) != ')') return perr(p, "expected ')'");
    p->pos++;
    p->depth--;
    return NULL;
  }
  return perr(p, "expected an integer, a symbol or '('");
}

static graphc_status_t parse_unary(parser *p, gc_dim *out) {
  if (peek(p) != '-') return parse_primary(p, out);
  size_t at = p->pos;
  if (++p->depth > MAX_PARSE_DEPTH) return perr(p, "expression nested too deeply");
  p->pos++;
  gc_dim x, zero;
  GC_TRY(parse_unary(p, &x));
  p->depth--;
  GC_TRY(gc_dim_const(p->t, 0, &zero));
  return at_op(p, at, gc_dim_sub(p->t, zero, x, out));
}

/* Left-associative binary operators: level 0 is + -, level 1 is * // %. */
static graphc_status_t parse_binary(parser *p, int level, gc_dim *out) {
  GC_TRY(level ? parse_unary(p, out) : parse_binary(p, 1, out));
  for (;;) {
    char c = peek(p); /* trailing whitespace counts as consumed */
    size_t at = p->pos;
    bool dslash = c == '/' && at + 1 < p->n && p->s[at + 1] == '/';
    if (level && c == '/' && !dslash) return perr(p, "expected '//' (floor division)");
    if (!(level ? c == '*' || c == '%' || dslash : c == '+' || c == '-')) return NULL;
    p->pos += dslash ? 2 : 1;
    gc_dim x = *out, y;
    GC_TRY(level ? parse_unary(p, &y) : parse_binary(p, 1, &y));
    gc_dimtab *t = p->t;
    GC_TRY(at_op(p, at,
                 c == '+'   ? gc_dim_add(t, x, y, out)
                 : c == '-' ? gc_dim_sub(t, x, y, out)
                 : c == '*' ? gc_dim_mul(t, x, y, out)
                 : c == '%' ? gc_dim_mod(t, x, y, out)
                            : gc_dim_floordiv(t, x, y, out)));
  }
}

static graphc_status_t parse_expr(parser *p, gc_dim *out) { return parse_binary(p, 0, out); }

graphc_status_t gc_dim_parse(gc_dimtab *t, const char *text, size_t len, bool create_syms,
                             gc_dim *out, size_t *consumed) {
  if (consumed) *consumed = 0;
  if (!t || !out || (!text && len)) return ERRF(INVALID_ARGUMENT, "null dim table, text or output");
  int ns = t->nsyms, na = t->natoms, ne = t->nexprs;
  parser p = {t, text, len, 0, create_syms, 0};
  gc_dim d = GC_DIM_NONE;
  graphc_status_t st = parse_expr(&p, &d);
  if (consumed) *consumed = p.pos;
  if (st) {
    rollback(t, ns, na, ne);
    return st;
  }
  *out = d;
  return NULL;
}
