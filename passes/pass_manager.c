/* The pass manager: the registry (passes.def), the default simplification
 * pipeline, pipeline strings, IR dumps (GRAPHC_DUMP) and print-after. */
#include <stdlib.h>
#include <string.h>

#include "graphc/text.h"
#include "pass.h"
#include "rewrite.h"
#include "support/status.h"
#include "support/strbuf.h"

static const gc_pass_info passes[] = {
#define GC_PASS(name, fn, doc) {#name, fn, doc},
#include "passes.def"
#undef GC_PASS
};

/* The default simplification pipeline, run top to bottom. */
static const char *const default_pipeline[] = {
    "dce",          /* drop what cannot reach an output: the rest see less        */
    "canonicalize", /* one spelling per computation (reshape chains, permutes)    */
    "fold",         /* constant subgraphs whose value is a splat become full(...) */
    "canonicalize", /* folding exposes x + zeros, x * ones                        */
    "cse",          /* equal computations are now spelled alike: merge them       */
    "dce",          /* remove what canonicalize, fold and cse left unused         */
};

int gc_pass_count(void) { return GC_PASS_COUNT; }

const gc_pass_info *gc_pass_at(int i) { return i >= 0 && i < GC_PASS_COUNT ? &passes[i] : NULL; }

const gc_pass_info *gc_pass_lookup(const char *name, size_t len) {
  for (int i = 0; name && i < GC_PASS_COUNT; i++)
    if (strlen(passes[i].name) == len && memcmp(passes[i].name, name, len) == 0) return &passes[i];
  return NULL;
}

const char *gc_default_pipeline_at(int i) {
  int n = (int)(sizeof default_pipeline / sizeof default_pipeline[0]);
  return i >= 0 && i < n ? default_pipeline[i] : NULL;
}

/* "unknown pass 'x' ...; known passes: dce, cse, ..." */
static graphc_status_t unknown_pass(const char *name, size_t len, const char *context) {
  gc_strbuf sb = {0};
  for (int i = 0; i < GC_PASS_COUNT; i++) gc_sb_printf(&sb, "%s%s", i ? ", " : "", passes[i].name);
  char *known = gc_sb_take(&sb);
  if (!known) return GC_OOM();
  graphc_status_t st = gc_status(GRAPHC_STATUS_NOT_FOUND, "unknown pass '%.*s' %s; known passes: %s",
                                 (int)(len > 200 ? 200 : len), name, context, known);
  free(known);
  return st;
}

/* --- options ----------------------------------------------------------------- */

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* [b, e) without surrounding blanks. */
static void trim(const char **b, const char **e) {
  while (*b < *e && is_space(**b)) (*b)++;
  while (*e > *b && is_space((*e)[-1])) (*e)--;
}

graphc_status_t gc_pass_options_set_dump(gc_pass_options *opt, const char *spec) {
  if (!opt || !spec) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "dump spec is NULL");
  gc_pass_options tmp = *opt; /* all or nothing */
  for (const char *p = spec; *p;) {
    const char *e = strchr(p, ',');
    if (!e) e = p + strlen(p);
    const char *b = p, *end = e;
    trim(&b, &end);
    p = *e ? e + 1 : e;
    if (b == end) continue;
    if ((size_t)(end - b) < 6 || memcmp(b, "after:", 6) != 0)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                       "GRAPHC_DUMP entry '%.*s' is not 'after:PASS' or 'after:all'",
                       (int)(end - b > 200 ? 200 : end - b), b);
    b += 6;
    trim(&b, &end);
    if ((size_t)(end - b) == 3 && memcmp(b, "all", 3) == 0) {
      tmp.dump_after_all = true;
      continue;
    }
    const gc_pass_info *pi = gc_pass_lookup(b, (size_t)(end - b));
    if (!pi) return unknown_pass(b, (size_t)(end - b), "in GRAPHC_DUMP");
    tmp.dump_after[pi - passes] = true;
  }
  *opt = tmp;
  return NULL;
}

void gc_pass_options_defaults(gc_pass_options *opt) {
  memset(opt, 0, sizeof *opt);
#ifndef NDEBUG
  opt->verify = true; /* debug and test builds check every pass's output */
#endif
  opt->dump_stream = stderr;
  opt->fold_max_elements = 4096;
  opt->canonicalize_add_zero = true;
}

graphc_status_t gc_pass_options_init(gc_pass_options *opt) {
  if (!opt) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "pass options are NULL");
  gc_pass_options_defaults(opt);
  const char *env = getenv("GRAPHC_DUMP");
  return env ? gc_pass_options_set_dump(opt, env) : NULL;
}

/* --- running ------------------------------------------------------------------ */

static graphc_status_t dump(const gc_pass_info *p, const gc_graph *g, const gc_pass_options *opt,
                            int step, int nsteps) {
  if (!opt->dump_stream || !(opt->dump_after_all || opt->dump_after[p - passes])) return NULL;
  char *text;
  GC_TRY(graphc_graph_print(g, &text, NULL));
  fprintf(opt->dump_stream, "# *** IR after %s (step %d of %d) ***\n%s", p->name, step, nsteps,
          text);
  fflush(opt->dump_stream);
  graphc_free(text);
  return NULL;
}

static graphc_status_t run_step(const gc_pass_info *p, const gc_graph *in,
                                const gc_pass_options *opt, int step, int nsteps,
                                gc_graph **out) {
  *out = NULL;
  GC_TRY(gc_graph_check(in));
  if (in->parent)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "pass '%s': '%s' is a region, not a "
                     "top-level graph", p->name, in->name);
  graphc_status_t st = p->fn(in, opt, out);
  if (st) return gc_status_wrap(st, "pass '%s'", p->name);
  if (opt->verify && (st = gc_graph_verify(*out))) {
    graphc_status_t e = gc_status(GRAPHC_STATUS_INTERNAL, "pass '%s' produced an invalid graph: %s",
                                  p->name, graphc_status_message(st));
    graphc_status_free(st);
    gc_graph_destroy(*out);
    *out = NULL;
    return e;
  }
  if ((st = dump(p, *out, opt, step, nsteps))) {
    gc_graph_destroy(*out);
    *out = NULL;
  }
  return st;
}

graphc_status_t gc_run_pass(const gc_pass_info *pass, const gc_graph *in,
                            const gc_pass_options *opt, gc_graph **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out graph is NULL");
  *out = NULL;
  if (!pass) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "pass is NULL");
  gc_pass_options dflt;
  if (!opt) gc_pass_options_defaults(&dflt), opt = &dflt;
  return run_step(pass, in, opt, 1, 1, out);
}

/* A parsed pipeline. */
typedef struct steps {
  const gc_pass_info **p;
  int n, cap;
} steps;

static graphc_status_t steps_push(steps *s, const gc_pass_info *p) {
  if (s->n == s->cap) {
    int cap = s->cap ? s->cap * 2 : 8;
    const gc_pass_info **q = realloc(s->p, sizeof *q * (size_t)cap);
    if (!q) return GC_OOM();
    s->p = q;
    s->cap = cap;
  }
  s->p[s->n++] = p;
  return NULL;
}

static graphc_status_t parse_pipeline(const char *pipeline, steps *s) {
  memset(s, 0, sizeof *s);
  graphc_status_t st = NULL;
  if (!pipeline) {
    for (int i = 0; !st && gc_default_pipeline_at(i); i++) {
      const char *name = gc_default_pipeline_at(i);
      const gc_pass_info *p = gc_pass_lookup(name, strlen(name));
      st = p ? steps_push(s, p) : unknown_pass(name, strlen(name), "in the default pipeline");
    }
  } else {
    const char *p = pipeline;
    while (is_space(*p)) p++; /* blank = no pass */
    for (int k = 1; !st && *p; k++) {
      const char *e = strchr(p, ',');
      if (!e) e = p + strlen(p);
      const char *b = p, *end = e;
      trim(&b, &end);
      if (b == end) {
        st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "pipeline '%s': pass %d has an empty name",
                       pipeline, k);
        break;
      }
      char ctx[300];
      snprintf(ctx, sizeof ctx, "in pipeline '%.250s'", pipeline);
      const gc_pass_info *pi = gc_pass_lookup(b, (size_t)(end - b));
      st = pi ? steps_push(s, pi) : unknown_pass(b, (size_t)(end - b), ctx);
      p = *e ? e + 1 : e;
      if (!st && *e && !*p)
        st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "pipeline '%s' ends with ','", pipeline);
    }
  }
  if (st) {
    free(s->p);
    s->p = NULL;
  }
  return st;
}

/* Runs steps [0, stop) of s on in. */
static graphc_status_t run_steps(const gc_graph *in, const steps *s, int stop,
                                 const gc_pass_options *opt, gc_graph **out) {
  *out = NULL;
  if (stop == 0) return gc_graph_clone(in, out);
  const gc_graph *cur = in;
  for (int i = 0; i < stop; i++) {
    gc_graph *next;
    graphc_status_t st = run_step(s->p[i], cur, opt, i + 1, s->n, &next);
    if (cur != in) gc_graph_destroy((gc_graph *)cur);
    if (st) return st;
    cur = next;
  }
  *out = (gc_graph *)cur;
  return NULL;
}

graphc_status_t gc_run_pipeline(const gc_graph *in, const char *pipeline,
                                const gc_pass_options *opt, gc_graph **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out graph is NULL");
  *out = NULL;
  GC_TRY(gc_graph_check(in));
  gc_pass_options dflt;
  if (!opt) gc_pass_options_defaults(&dflt), opt = &dflt;
  steps s;
  GC_TRY(parse_pipeline(pipeline, &s));
  graphc_status_t st = run_steps(in, &s, s.n, opt, out);
  free(s.p);
  return st;
}

graphc_status_t gc_print_after(const gc_graph *in, const char *pass, const char *pipeline,
                               const gc_pass_options *opt, gc_graph **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "out graph is NULL");
  *out = NULL;
  if (!pass) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "pass name is NULL");
  GC_TRY(gc_graph_check(in));
  gc_pass_options dflt;
  if (!opt) gc_pass_options_defaults(&dflt), opt = &dflt;
  /* "name" or "name#N" (the N-th run of name, from 1). */
  const char *hash = strchr(pass, '#');
  size_t len = hash ? (size_t)(hash - pass) : strlen(pass);
  long nth = 1;
  if (hash) {
    char *end;
    nth = strtol(hash + 1, &end, 10);
    if (end == hash + 1 || *end || nth < 1 || nth > 1000000)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "'%s': expected PASS or PASS#N with N >= 1",
                       pass);
  }
  const gc_pass_info *want = gc_pass_lookup(pass, len);
  if (!want) return unknown_pass(pass, len, "given to --after");
  steps s;
  GC_TRY(parse_pipeline(pipeline, &s));
  int stop = -1;
  for (int i = 0, seen = 0; i < s.n && stop < 0; i++)
    if (s.p[i] == want && ++seen == nth) stop = i + 1;
  graphc_status_t st;
  if (stop < 0)
    st = gc_status(GRAPHC_STATUS_NOT_FOUND, "pass '%s' runs fewer than %ld time%s in pipeline "
                   "'%s'", want->name, nth, nth == 1 ? "" : "s", pipeline ? pipeline : "(default)");
  else
    st = run_steps(in, &s, stop, opt, out);
  free(s.p);
  return st;
}
