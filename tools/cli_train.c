/* graphc train / graphc grad: training steps and gradients through the
 * reference interpreter.
 *
 *   graphc train MODEL.gc --steps K --lr X [--optimizer sgd|adam|adamw]
 *       [--momentum M] [--nesterov] [--weight-decay W] [--beta1 B]
 *       [--beta2 B] [--eps E] [--in NAME=FILE.npy]... [--sym NAME=INT]...
 *       [--init-seed S] [--params-out DIR] [--print-graph]
 *   graphc grad MODEL.gc --out DIR [--in NAME=FILE.npy]... [--sym NAME=INT]...
 *       [--init-seed S] [--print-graph]
 *
 * Output 0 of MODEL must be a 0-d float loss. Params not given with --in
 * are initialised from --init-seed: uniform in [-1/sqrt(fan_in),
 * 1/sqrt(fan_in)], fan_in = product of dims after the first (the first dim
 * for rank 1), drawn from splitmix64(seed, input index). Every other input
 * comes from --in (a symbol input also from --sym NAME=INT). `train` runs K
 * steps on the same inputs, prints "step N loss L" after each, and with
 * --params-out writes DIR/<param>.npy at the end (each file written to a
 * temporary name and renamed). `grad` writes DIR/loss.npy and
 * DIR/grad_<param>.npy. Exit status: 0 ok, 1 failure, 2 bad usage. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "autodiff/autodiff.h"
#include "autodiff/train_step.h"
#include "graphc/graphc.h"
#include "interp/interp_internal.h"
#include "io/npy.h"
#include "support/status.h"

#define MAX_IN 256

int gc_cli_train(int argc, char **argv);
int gc_cli_grad(int argc, char **argv);

typedef struct cli_opts {
  const char *cmd, *usage, *model, *dir;
  const char *in_name[MAX_IN], *in_val[MAX_IN];
  int nin;
  uint64_t seed;
  long long steps;
  bool print_graph;
  gc_optimizer_options opt;
} cli_opts;

static const char TRAIN_USAGE[] =
    "graphc train MODEL.gc --steps K --lr X [--optimizer sgd|adam|adamw] [--momentum M] "
    "[--nesterov] [--weight-decay W] [--beta1 B] [--beta2 B] [--eps E] [--in NAME=FILE.npy]... "
    "[--sym NAME=INT]... [--init-seed S] [--params-out DIR] [--print-graph]";
static const char GRAD_USAGE[] =
    "graphc grad MODEL.gc --out DIR [--in NAME=FILE.npy]... [--sym NAME=INT]... "
    "[--init-seed S] [--print-graph]";

static int usage(const cli_opts *o, const char *msg, const char *arg) {
  fprintf(stderr, "graphc %s: %s%s%s\nusage: %s\n", o->cmd, msg, arg ? ": " : "", arg ? arg : "",
          o->usage);
  return 2;
}

static int fail(const cli_opts *o, graphc_status_t st) {
  fprintf(stderr, "graphc %s: error: %s\n", o->cmd, graphc_status_message(st));
  graphc_status_free(st);
  return 1;
}

static bool parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  *out = strtod(s, &end);
  return *s && !*end && !errno;
}

static bool parse_int(const char *s, long long *out) {
  char *end;
  errno = 0;
  *out = strtoll(s, &end, 10);
  return *s && !*end && !errno;
}

/* Parses argv (argv[0] is the command). Returns 0, or the exit status. */
static int parse_args(cli_opts *o, int argc, char **argv, bool train) {
  bool have_lr = false, have[4] = {false}; /* weight decay, beta1, beta2, eps */
  double given[4] = {0};
  const char *optname = "sgd";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    double d;
    long long n;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: %s\n", o->usage);
      return -1;
    }
    if (!strcmp(a, "--print-graph")) {
      o->print_graph = true;
      continue;
    }
    if (train && !strcmp(a, "--nesterov")) {
      o->opt.nesterov = true;
      continue;
    }
    if (a[0] == '-' && !v) return usage(o, "option needs a value", a);
    if (a[0] != '-') {
      if (o->model) return usage(o, "more than one model file", a);
      o->model = a;
      continue;
    }
    i++;
    if (!strcmp(a, "--in") || !strcmp(a, "--sym")) {
      char *eq = strchr(v, '=');
      if (!eq || eq == v) return usage(o, "expected NAME=VALUE", v);
      if (o->nin == MAX_IN) return usage(o, "too many --in", NULL);
      *eq = 0;
      o->in_name[o->nin] = v;
      o->in_val[o->nin++] = eq + 1;
    } else if (!strcmp(a, "--init-seed")) {
      if (!parse_int(v, &n) || n < 0) return usage(o, "bad --init-seed", v);
      o->seed = (uint64_t)n;
    } else if (!train && !strcmp(a, "--out")) {
      o->dir = v;
    } else if (train && !strcmp(a, "--params-out")) {
      o->dir = v;
    } else if (train && !strcmp(a, "--steps")) {
      if (!parse_int(v, &o->steps) || o->steps < 0) return usage(o, "bad --steps", v);
    } else if (train && !strcmp(a, "--optimizer")) {
      optname = v;
    } else if (train && (!strcmp(a, "--lr") || !strcmp(a, "--momentum") ||
                         !strcmp(a, "--weight-decay") || !strcmp(a, "--beta1") ||
                         !strcmp(a, "--beta2") || !strcmp(a, "--eps"))) {
      if (!parse_double(v, &d)) return usage(o, "expected a number", v);
      static const char *const later[4] = {"--weight-decay", "--beta1", "--beta2", "--eps"};
      if (!strcmp(a, "--lr")) have_lr = true, o->opt.lr = d;
      else if (!strcmp(a, "--momentum")) o->opt.momentum = d;
      for (int k = 0; k < 4; k++)
        if (!strcmp(a, later[k])) have[k] = true, given[k] = d;
    } else {
      return usage(o, "unknown option", a);
    }
  }
  if (!o->model) return usage(o, "no model file", NULL);
  if (!train) return o->dir ? 0 : usage(o, "--out DIR is required", NULL);
  if (o->steps < 1) return usage(o, "--steps K (K >= 1) is required", NULL);
  if (!have_lr) return usage(o, "--lr is required", NULL);
  gc_optimizer_kind kind;
  if (!strcmp(optname, "sgd")) kind = GC_OPTIMIZER_SGD;
  else if (!strcmp(optname, "adam")) kind = GC_OPTIMIZER_ADAM;
  else if (!strcmp(optname, "adamw")) kind = GC_OPTIMIZER_ADAMW;
  else return usage(o, "--optimizer must be sgd, adam or adamw", optname);
  if (kind != GC_OPTIMIZER_SGD && (o->opt.momentum != 0 || o->opt.nesterov))
    return usage(o, "--momentum and --nesterov are SGD options", NULL);
  if (kind == GC_OPTIMIZER_SGD && (have[1] || have[2] || have[3]))
    return usage(o, "--beta1, --beta2 and --eps are Adam/AdamW options", NULL);
  /* Defaults are torch.optim's for the chosen optimizer. */
  gc_optimizer_options set = o->opt;
  gc_optimizer_options_default(&o->opt, kind);
  o->opt.lr = set.lr;
  o->opt.momentum = set.momentum;
  o->opt.nesterov = set.nesterov;
  if (have[0]) o->opt.weight_decay = given[0];
  if (have[1]) o->opt.beta1 = given[1];
  if (have[2]) o->opt.beta2 = given[2];
  if (have[3]) o->opt.eps = given[3];
  return 0;
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static const char *given(const cli_opts *o, const char *name) {
  for (int k = 0; k < o->nin; k++)
    if (!strcmp(o->in_name[k], name)) return o->in_val[k];
  return NULL;
}

/* Fills ins[0 .. g->ninputs) for graph g: files, symbols, seeded params. */
static graphc_status_t load_inputs(const cli_opts *o, const gc_graph *g, gc_tensor *ins) {
  gc_dimtab *dims = gc_graph_dims(g);
  int nsyms = gc_dimtab_num_syms(dims);
  int64_t *symv = calloc((size_t)nsyms + 1, sizeof *symv);
  bool *bound = calloc((size_t)nsyms + 1, sizeof *bound);
  graphc_status_t st = (!symv || !bound) ? GC_OOM() : NULL;
  for (int k = 0; !st && k < o->nin; k++) {
    if (gc_graph_find_value(g, o->in_name[k]) < 0 && gc_dimtab_find_sym(dims, o->in_name[k]) < 0)
      st = gc_status(GRAPHC_STATUS_NOT_FOUND, "'%s' is neither an input nor a symbol of '%s'",
                     o->in_name[k], g->name);
    long long v;
    int s = gc_dimtab_find_sym(dims, o->in_name[k]);
    if (!st && s >= 0 && parse_int(o->in_val[k], &v)) symv[s] = v, bound[s] = true;
  }
  /* Files first: their shapes bind symbols that params may use. */
  for (int i = 0; !st && i < g->ninputs; i++) {
    const gc_value *v = &g->values[g->inputs[i]];
    const char *val = given(o, v->name);
    long long n;
    if (v->role == GRAPHC_ROLE_SYMBOL && (val ? parse_int(val, &n) : bound[v->sym])) {
      st = gc_tensor_alloc(&ins[i], GRAPHC_I64, 0, NULL, 0);
      if (!st) gc_tensor_seti(&ins[i], 0, val ? n : symv[v->sym]);
      if (!st) symv[v->sym] = gc_tensor_geti(&ins[i], 0), bound[v->sym] = true;
      continue;
    }
    if (!val) continue;
    st = gc_npy_read(val, (int)v->type.dtype, &ins[i]);
    if (st) {
      st = gc_status_wrap(st, "input '%s'", v->name);
      break;
    }
    for (int d = 0; !st && d < v->type.rank && d < ins[i].rank; d++) {
      int s;
      gc_dim plain = GC_DIM_NONE;
      if (gc_dim_syms(dims, v->type.dims[d], &s, 1) != 1 || bound[s]) continue;
      st = gc_dim_sym(dims, s, &plain);
      if (!st && plain == v->type.dims[d]) symv[s] = ins[i].shape[d], bound[s] = true;
    }
  }
  for (int i = 0; !st && i < g->ninputs; i++) {
    const gc_value *v = &g->values[g->inputs[i]];
    if (ins[i].data) continue;
    if (v->role != GRAPHC_ROLE_PARAM) {
      st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "input '%s' not given (use --in %s=FILE.npy)",
                     v->name, v->name);
      break;
    }
    int64_t shape[GRAPHC_MAX_RANK];
    for (int d = 0; !st && d < v->type.rank; d++) {
      st = gc_dim_eval(dims, v->type.dims[d], symv, bound, &shape[d]);
      if (st) st = gc_status_wrap(st, "param '%s' (give its size with --sym NAME=INT)", v->name);
    }
    if (!st) st = gc_tensor_alloc(&ins[i], v->type.dtype, v->type.rank, shape, 0);
    int64_t fan = 1;
    for (int d = v->type.rank > 1 ? 1 : 0; !st && d < v->type.rank; d++) fan *= shape[d];
    double bound_v = 1.0 / sqrt((double)(fan > 0 ? fan : 1));
    uint64_t s = o->seed * 1000003u + (uint64_t)i;
    for (int64_t e = 0; !st && e < ins[i].numel; e++)
      gc_tensor_setf(&ins[i], e, ((double)(splitmix(&s) >> 11) * 0x1.0p-53 * 2.0 - 1.0) * bound_v);
  }
  free(symv);
  free(bound);
  return st;
}

static graphc_status_t make_dir(const char *dir) {
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return gc_status(GRAPHC_STATUS_IO_ERROR, "%s: %s", dir, strerror(errno));
  return NULL;
}

static graphc_status_t write_npy(const char *dir, const char *prefix, const char *name,
                                 const gc_tensor *t) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s%s.npy", dir, prefix, name);
  return gc_npy_write(path, t);
}

static void print_graph(const gc_graph *g) {
  char *text;
  graphc_status_t st = graphc_graph_print(g, &text, NULL);
  if (st) {
    graphc_status_free(st);
    return;
  }
  fputs(text, stdout);
  graphc_free(text);
}

static graphc_status_t run_train(const cli_opts *o, const gc_graph *fwd) {
  gc_train_step *s;
  GC_TRY(gc_build_train_step(fwd, &o->opt, &s));
  if (o->print_graph) print_graph(s->graph);
  int n = s->graph->ninputs;
  gc_tensor *ins = calloc((size_t)n, sizeof *ins);
  graphc_status_t st = ins ? load_inputs(o, fwd, ins) : GC_OOM();
  /* Optimizer state starts at zero (the step count too). */
  for (int k = 0; !st && k < s->nstate; k++) {
    const gc_train_state *ts = &s->state[k];
    const gc_tensor *p = ts->param >= 0 ? &ins[ts->param] : NULL;
    st = p ? gc_tensor_alloc(&ins[ts->input], p->dtype, p->rank, p->shape, 0)
           : gc_tensor_alloc(&ins[ts->input], GRAPHC_I64, 0, NULL, 0);
  }
  for (long long step = 1; !st && step <= o->steps; step++) {
    double loss;
    st = gc_train_step_run(s, 16ull << 30, ins, &loss);
    if (st) st = gc_status_wrap(st, "step %lld", step);
    else printf("step %lld loss %.9g\n", step, loss);
    fflush(stdout);
  }
  if (!st && o->dir) st = make_dir(o->dir);
  for (int p = 0; !st && o->dir && p < s->nparams; p++)
    st = write_npy(o->dir, "", fwd->values[fwd->inputs[s->params[p]]].name, &ins[s->params[p]]);
  for (int i = 0; ins && i < n; i++) gc_tensor_free(&ins[i]);
  free(ins);
  gc_train_step_free(s);
  return st;
}

static graphc_status_t run_grad(const cli_opts *o, const gc_graph *fwd) {
  gc_grad_graph *gg;
  GC_TRY(gc_build_grad_graph(fwd, &gg));
  if (o->print_graph) print_graph(gg->graph);
  int n = fwd->ninputs, nout = 1 + gg->nparams;
  gc_tensor *ins = calloc((size_t)n + 1, sizeof *ins), *outs = calloc((size_t)nout, sizeof *outs);
  graphc_status_t st = ins && outs ? load_inputs(o, fwd, ins) : GC_OOM();
  if (!st) st = gc_interp_run_tensors(gg->graph, 16ull << 30, ins, n, outs);
  bool ran = !st;
  if (!st) st = make_dir(o->dir);
  if (!st) st = write_npy(o->dir, "", "loss", &outs[0]);
  for (int p = 0; !st && p < gg->nparams; p++)
    st = write_npy(o->dir, "grad_", fwd->values[fwd->inputs[gg->params[p]]].name, &outs[1 + p]);
  for (int k = 0; ran && k < nout; k++) gc_tensor_free(&outs[k]);
  for (int i = 0; ins && i < n; i++) gc_tensor_free(&ins[i]);
  free(ins);
  free(outs);
  gc_grad_graph_free(gg);
  return st;
}

static int cli_main(int argc, char **argv, bool train) {
  cli_opts o = {.cmd = train ? "train" : "grad", .usage = train ? TRAIN_USAGE : GRAD_USAGE};
  int rc = parse_args(&o, argc, argv, train);
  if (rc) return rc < 0 ? 0 : rc;
  graphc_context_t *ctx;
  graphc_graph_t *g;
  graphc_status_t st = graphc_context_create(NULL, &ctx);
  if (st) return fail(&o, st);
  st = graphc_graph_parse_file(ctx, o.model, &g);
  if (!st) st = train ? run_train(&o, g) : run_grad(&o, g);
  graphc_context_release(ctx);
  return st ? fail(&o, st) : 0;
}

int gc_cli_train(int argc, char **argv) { return cli_main(argc, argv, true); }
int gc_cli_grad(int argc, char **argv) { return cli_main(argc, argv, false); }
