/* graphc — the command line: check, print, info, run, ops.
 * Every subcommand has --help; failures print one clear line on stderr and
 * exit non-zero (1 for bad input, 2 for bad usage). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "graphc/graphc.h"
#include "interp/interp_internal.h"
#include "io/npy.h"
#include "ir/op.h"
#include "passes/pass.h"
#include "support/status.h"
#include "cli_common.h"
#include "cli_compile.h"

typedef struct cmd {
  const char *name, *usage, *summary;
  int (*run)(int argc, char **argv);
} cmd;

static int usage_error(const cmd *c, const char *msg, const char *arg) {
  return gc_cli_usage(c->name, c->usage, msg, arg);
}

static bool want_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
  return false;
}

/* Parses argv[1] as the model path; returns the graph or prints the error. */
static int load(graphc_context_t **ctx, graphc_graph_t **g, const char *path) {
  graphc_status_t st = graphc_context_create(NULL, ctx);
  if (st) return gc_cli_fail(st);
  st = graphc_graph_parse_file(*ctx, path, g);
  if (st) {
    graphc_context_release(*ctx);
    return gc_cli_fail(st);
  }
  return 0;
}

static const cmd *current;

static int cmd_check(int argc, char **argv) {
  if (argc != 2 || argv[1][0] == '-') return usage_error(current, "expected one model file", NULL);
  graphc_context_t *ctx;
  graphc_graph_t *g;
  int rc = load(&ctx, &g, argv[1]);
  if (rc) return rc;
  graphc_status_t st = graphc_graph_verify(g);
  if (!st)
    printf("%s: ok: graph '%s', %d inputs, %d nodes, %d outputs\n", argv[1], graphc_graph_name(g),
           graphc_graph_num_inputs(g), graphc_graph_num_nodes(g), graphc_graph_num_outputs(g));
  graphc_context_release(ctx);
  return st ? gc_cli_fail(st) : 0;
}

static int cmd_print(int argc, char **argv) {
  const char *model = NULL, *after = NULL, *pipeline = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--after") && i + 1 < argc) after = argv[++i];
    else if (!strcmp(argv[i], "--pipeline") && i + 1 < argc) pipeline = argv[++i];
    else if (argv[i][0] == '-') return usage_error(current, "unknown or incomplete option", argv[i]);
    else if (!model) model = argv[i];
    else return usage_error(current, "more than one model file", argv[i]);
  }
  if (!model) return usage_error(current, "expected one model file", NULL);
  graphc_context_t *ctx;
  graphc_graph_t *g;
  int rc = load(&ctx, &g, model);
  if (rc) return rc;
  graphc_status_t st = NULL;
  gc_graph *shown = g;
  if (after || pipeline) {
    gc_pass_options opt;
    st = gc_pass_options_init(&opt);
    /* Without --after, run the whole pipeline (default or given). */
    if (!st && after) st = gc_print_after(g, after, pipeline, &opt, &shown);
    else if (!st) st = gc_run_pipeline(g, pipeline, &opt, &shown);
  }
  char *text = NULL;
  if (!st) st = graphc_graph_print(shown, &text, NULL);
  if (!st) fputs(text, stdout);
  graphc_free(text);
  graphc_context_release(ctx);
  return st ? gc_cli_fail(st) : 0;
}

static int cmd_passes(int argc, char **argv) {
  (void)argv;
  if (argc != 1) return usage_error(current, "takes no arguments", NULL);
  for (int i = 0; i < gc_pass_count(); i++)
    printf("%-14s %s\n", gc_pass_at(i)->name, gc_pass_at(i)->doc);
  printf("\ndefault pipeline:");
  for (int i = 0; gc_default_pipeline_at(i); i++) printf("%s%s", i ? "," : " ", gc_default_pipeline_at(i));
  printf("\n");
  return 0;
}

static void print_value_line(const gc_graph *g, const char *kind, int v) {
  const gc_value *val = &g->values[v];
  char type[1024];
  gc_type_format(gc_graph_dims(g), &val->type, type, sizeof type);
  /* "kind role name dtype [dims]" with dims separated by ';' so the line
   * splits on spaces even when a dim is an expression. */
  printf("%s %s %s %s [", kind, kind[0] == 'i' ? graphc_role_name(val->role) : "output", val->name,
         graphc_dtype_name(val->type.dtype));
  for (int d = 0; d < val->type.rank; d++) {
    const char *s = gc_dim_str(gc_graph_dims(g), val->type.dims[d]);
    for (const char *p = s; *p; p++)
      if (*p != ' ') putchar(*p);
    if (d + 1 < val->type.rank) putchar(';');
  }
  printf("]\n");
}

static int cmd_info(int argc, char **argv) {
  if (argc != 2 || argv[1][0] == '-') return usage_error(current, "expected one model file", NULL);
  graphc_context_t *ctx;
  graphc_graph_t *g;
  int rc = load(&ctx, &g, argv[1]);
  if (rc) return rc;
  for (int i = 0; i < g->ninputs; i++) print_value_line(g, "input", g->inputs[i]);
  for (int i = 0; i < g->noutputs; i++) print_value_line(g, "output", g->outputs[i]);
  graphc_context_release(ctx);
  return 0;
}

static int cmd_ops(int argc, char **argv) {
  (void)argv;
  if (argc != 1) return usage_error(current, "takes no arguments", NULL);
  for (int i = 0; i < gc_op_count(); i++) {
    const gc_op_info *op = gc_op_at(i);
    printf("%-30s %s\n", op->name, op->doc ? op->doc : "");
  }
  return 0;
}

/* --- run ------------------------------------------------------------------ */

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void print_tensor(const char *name, const gc_tensor *t) {
  printf("%s: %s[", name, graphc_dtype_name(t->dtype));
  for (int d = 0; d < t->rank; d++) printf("%s%" PRId64, d ? ", " : "", t->shape[d]);
  printf("] =");
  int64_t n = t->numel < 8 ? t->numel : 8;
  double sum = 0;
  for (int64_t i = 0; i < t->numel; i++) sum += gc_tensor_getf(t, i);
  for (int64_t i = 0; i < n; i++) printf(" %.6g", gc_tensor_getf(t, i));
  if (t->numel > n) printf(" ...");
  printf("  (sum %.6g)\n", sum);
}

static int cmd_run(int argc, char **argv) {
  const char *model = NULL, *outdir = NULL, *backend = "interp";
  bool print = false, random = false;
  uint64_t seed = 0;
  int64_t ilo = 0, ihi = 2;
  enum { MAXIN = 256 };
  const char *in_name[MAXIN], *in_val[MAXIN];
  int nin = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has_next = i + 1 < argc;
    if (!strcmp(a, "--backend") && has_next) backend = argv[++i];
    else if (!strcmp(a, "--out") && has_next) outdir = argv[++i];
    else if (!strcmp(a, "--print")) print = true;
    else if (!strcmp(a, "--random") && has_next) random = true, seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(a, "--int-range") && has_next) {
      if (sscanf(argv[++i], "%" SCNd64 ":%" SCNd64, &ilo, &ihi) != 2 || ihi <= ilo)
        return usage_error(current, "bad --int-range (want LO:HI with LO < HI)", argv[i]);
    } else if ((!strcmp(a, "--in") || !strcmp(a, "--sym")) && has_next) {
      char *eq = strchr(argv[++i], '=');
      if (!eq || eq == argv[i]) return usage_error(current, "expected NAME=VALUE", argv[i]);
      if (nin == MAXIN) return usage_error(current, "too many --in", NULL);
      *eq = 0;
      in_name[nin] = argv[i];
      in_val[nin++] = eq + 1;
    } else if (a[0] == '-') return usage_error(current, "unknown or incomplete option", a);
    else if (!model) model = a;
    else return usage_error(current, "more than one model file", a);
  }
  if (!model) return usage_error(current, "no model file", NULL);
  if (strcmp(backend, "interp") != 0 && !gc_cli_backend_known(backend))
    return fprintf(stderr, "graphc run: error: backend '%s' is not available in this build "
                           "(available: interp, cpu, cpu-eval)\n", backend), 1;
  graphc_context_t *ctx;
  graphc_graph_t *g;
  int rc = load(&ctx, &g, model);
  if (rc) return rc;
  gc_tensor *ins = calloc((size_t)g->ninputs + 1, sizeof *ins);
  gc_tensor *outs = calloc((size_t)g->noutputs + 1, sizeof *outs);
  graphc_status_t st = (!ins || !outs) ? gc_status(GRAPHC_STATUS_RESOURCE_EXHAUSTED, "out of memory") : NULL;
  /* Symbol values given with --sym/--in NAME=INT, used for random inputs. */
  int nsyms = gc_dimtab_num_syms(gc_graph_dims(g));
  int64_t *symv = calloc((size_t)nsyms + 1, sizeof *symv);
  bool *bound = calloc((size_t)nsyms + 1, sizeof *bound);
  if (!symv || !bound) st = st ? st : gc_status(GRAPHC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  for (int k = 0; !st && k < nin; k++) {
    char *end;
    errno = 0;
    long long v = strtoll(in_val[k], &end, 10);
    int s = gc_dimtab_find_sym(gc_graph_dims(g), in_name[k]);
    if (*end == 0 && !errno && s >= 0) {
      symv[s] = v;
      bound[s] = true;
    } else if (*end == 0 && s < 0 && gc_graph_find_value(g, in_name[k]) < 0) {
      st = gc_status(GRAPHC_STATUS_NOT_FOUND, "'%s' is neither an input nor a symbol of '%s'",
                     in_name[k], g->name);
    }
  }
  for (int i = 0; !st && i < g->ninputs; i++) {
    const gc_value *v = &g->values[g->inputs[i]];
    const char *file = NULL;
    for (int k = 0; k < nin; k++)
      if (!strcmp(in_name[k], v->name)) file = in_val[k];
    if (v->role == GRAPHC_ROLE_SYMBOL && (!file || strstr(file, ".npy") == NULL) && bound[v->sym]) {
      int64_t shape[1];
      st = gc_tensor_alloc(&ins[i], GRAPHC_I64, 0, shape, 0);
      if (!st) gc_tensor_seti(&ins[i], 0, symv[v->sym]);
      continue;
    }
    if (file) {
      st = gc_npy_read(file, (int)v->type.dtype, &ins[i]);
      if (st) st = gc_status_wrap(st, "input '%s'", v->name);
      continue;
    }
    if (!random) {
      st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "input '%s' not given (use --in %s=FILE.npy "
                     "or --random SEED)", v->name, v->name);
      break;
    }
    int64_t shape[GRAPHC_MAX_RANK];
    for (int d = 0; !st && d < v->type.rank; d++) {
      st = gc_dim_eval(gc_graph_dims(g), v->type.dims[d], symv, bound, &shape[d]);
      if (st) st = gc_status_wrap(st, "input '%s' (give its size with --sym NAME=INT)", v->name);
    }
    if (!st) st = gc_tensor_alloc(&ins[i], v->type.dtype, v->type.rank, shape, 0);
    uint64_t s = seed * 1000003u + (uint64_t)i;
    for (int64_t e = 0; !st && e < ins[i].numel; e++) {
      uint64_t r = splitmix(&s);
      if (gc_dtype_is_float(v->type.dtype))
        gc_tensor_setf(&ins[i], e, (double)(r >> 11) * 0x1.0p-53 * 2.0 - 1.0);
      else
        gc_tensor_seti(&ins[i], e, ilo + (int64_t)(r % (uint64_t)(ihi - ilo)));
    }
  }
  if (!st)
    st = !strcmp(backend, "interp") ? gc_interp_run_tensors(g, 16ull << 30, ins, g->ninputs, outs)
                                    : gc_cli_run_backend(g, backend, ins, g->ninputs, outs);
  if (!st && outdir && mkdir(outdir, 0777) != 0 && errno != EEXIST)
    st = gc_status(GRAPHC_STATUS_IO_ERROR, "%s: %s", outdir, strerror(errno));
  for (int o = 0; !st && o < g->noutputs; o++) {
    const char *name = g->values[g->outputs[o]].name;
    if (print) print_tensor(name, &outs[o]);
    if (outdir) {
      char path[4096];
      bool dup = false;
      for (int k = 0; k < o; k++) dup |= g->outputs[k] == g->outputs[o];
      if (dup) snprintf(path, sizeof path, "%s/%s.%d.npy", outdir, name, o);
      else snprintf(path, sizeof path, "%s/%s.npy", outdir, name);
      st = gc_npy_write(path, &outs[o]);
    }
  }
  bool ran = !st;
  for (int o = 0; ran && o < g->noutputs; o++) gc_tensor_free(&outs[o]);
  for (int i = 0; ins && i < g->ninputs; i++) gc_tensor_free(&ins[i]);
  free(ins);
  free(outs);
  free(symv);
  free(bound);
  graphc_context_release(ctx);
  return st ? gc_cli_fail(st) : 0;
}

int gc_cli_split(int argc, char **argv);
int gc_cli_train(int argc, char **argv);
int gc_cli_grad(int argc, char **argv);

static const cmd cmds[] = {
    {"check", "graphc check MODEL.gc", "parse and verify; errors as file:line:col", cmd_check},
    {"print", "graphc print MODEL.gc [--after PASS[#N]] [--pipeline P1,P2,...]",
     "print the canonical text (re-parses to the same graph), optionally after a pass",
     cmd_print},
    {"passes", "graphc passes", "list the passes and the default pipeline", cmd_passes},
    {"info", "graphc info MODEL.gc",
     "one line per input and output: kind role name dtype [d0;d1;...]", cmd_info},
    {"run",
     "graphc run MODEL.gc [--backend interp|cpu|cpu-eval] [--in NAME=FILE.npy]... [--sym NAME=INT]... "
     "[--random SEED] [--int-range LO:HI] [--out DIR] [--print]",
     "run through the reference interpreter; outputs to DIR/NAME.npy", cmd_run},
    {"split",
     "graphc split MODEL.gc [--bucket-cap-mb C] [--first-bucket-cap-mb F] [--ignore NAME]... "
     "[--count-every-use] [--ranks N] [--dot FILE] [--print-pieces]",
     "plan DDP buckets and cut the graph at bucket boundaries; prints the plan", gc_cli_split},
    {"train",
     "graphc train MODEL.gc --steps K --lr X [--optimizer sgd|adam|adamw] [--momentum M] "
     "[--nesterov] [--weight-decay W] [--beta1 B] [--beta2 B] [--eps E] [--in NAME=FILE.npy]... "
     "[--sym NAME=INT]... [--random SEED] [--int-range LO:HI] [--init-seed S] [--params-out DIR] "
     "[--print-graph] [--comm self|mpi] [--bucket-cap-mb C] [--first-bucket-cap-mb F] "
     "[--ignore NAME]... [--timeout S]",
     "train output 0 (a scalar loss) K steps, on one rank or data-parallel under mpirun; prints "
     "the loss each step",
     gc_cli_train},
    {"grad",
     "graphc grad MODEL.gc --out DIR [--in NAME=FILE.npy]... [--sym NAME=INT]... "
     "[--random SEED] [--int-range LO:HI] [--init-seed S] [--print-graph]",
     "gradients of output 0: DIR/loss.npy and DIR/grad_<param>.npy", gc_cli_grad},
    {"compile", GC_CLI_COMPILE_USAGE, GC_CLI_COMPILE_SUMMARY, gc_cli_compile},
    {"ops", "graphc ops", "list every op with a one-line description", cmd_ops},
};

static void help(FILE *f) {
  fprintf(f, "graphc %s — static graph compiler for tensor programs\n\nusage: graphc COMMAND "
             "[ARGS] (graphc COMMAND --help for details)\n\ncommands:\n", graphc_version());
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    help(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    help(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("graphc %s (ABI %d)\n", graphc_version(), graphc_abi_version());
    return 0;
  }
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (!strcmp(argv[1], cmds[i].name)) {
      current = &cmds[i];
      if (want_help(argc - 1, argv + 1)) {
        printf("usage: %s\n%s\n", cmds[i].usage, cmds[i].summary);
        return 0;
      }
      return cmds[i].run(argc - 1, argv + 1);
    }
  fprintf(stderr, "graphc: unknown command '%s' (see graphc --help)\n", argv[1]);
  return 2;
}
