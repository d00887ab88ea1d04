/* graphc train / graphc grad: training steps and gradients through the
 * reference interpreter, on one rank or data-parallel (DDP) over MPI.
 *
 *   graphc train MODEL.gc --steps K --lr X [--optimizer sgd|adam|adamw]
 *       [--momentum M] [--nesterov] [--weight-decay W] [--beta1 B]
 *       [--beta2 B] [--eps E] [--in NAME=FILE.npy]... [--sym NAME=INT]...
 *       [--random SEED] [--int-range LO:HI] [--init-seed S]
 *       [--params-out DIR] [--print-graph]
 *       [--comm self|mpi] [--bucket-cap-mb C] [--first-bucket-cap-mb F]
 *       [--ignore NAME]... [--timeout S] [--backend interp|cpu|cpu-eval] [--time]
 *   graphc grad MODEL.gc --out DIR [--in NAME=FILE.npy]... [--sym NAME=INT]...
 *       [--random SEED] [--int-range LO:HI] [--init-seed S] [--print-graph]
 *
 * Output 0 of MODEL must be a 0-d float loss. Params not given with --in
 * are initialised from --init-seed: uniform in [-1/sqrt(fan_in),
 * 1/sqrt(fan_in)], fan_in = product of dims after the first (the first dim
 * for rank 1), drawn from splitmix64(seed, input index). Every other input
 * comes from --in (a symbol input also from --sym NAME=INT), or with
 * --random SEED is drawn as `graphc run --random` draws it (floats uniform
 * in [-1, 1), integers in [LO, HI) of --int-range, default 0:2). `train`
 * runs K steps on the same inputs, prints "step N loss L" after each, and
 * with --params-out writes DIR/<param>.npy at the end (each file written to
 * a temporary name and renamed). `grad` writes DIR/loss.npy and
 * DIR/grad_<param>.npy.
 *
 * Data-parallel mode — under mpirun (OMPI_COMM_WORLD_SIZE set) or with
 * --comm: every rank loads the same global inputs, keeps its contiguous
 * slice of dim 0 of each `input`-role tensor (the global batch must divide
 * by the number of ranks; 0-d inputs are replicated) and runs the DDP step
 * (dist/ddp_step.h) with the bucket caps given. Rank 0 prints the split
 * plan, "step N loss L time T ms" (the loss averaged over ranks) and the
 * median step time, and writes --params-out. `--comm self` runs the same
 * step on one rank.
 *
 * --backend cpu (or cpu-eval) compiles the step graph once with
 * graphc_compile and runs every step through the executable
 * (autodiff/train_exec.h); the default, interp, runs the reference
 * interpreter. Not with data-parallel mode yet (its collectives are not
 * lowered). --time appends " time T ms" to each step line and ends with
 * the median step time after the first (warm-up) step; with a compiled
 * backend also the peak bytes (arena + the step's outputs). Exit status: 0 ok, 1 failure, 2 bad usage. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_common.h"
#include "autodiff/autodiff.h"
#include "autodiff/train_exec.h"
#include "autodiff/train_step.h"
#include "comm/comm.h"
#include "comm/comm_mpi.h"
#include "dist/ddp_step.h"
#include "dist/plan_print.h"
#include "graphc/graphc.h"
#include "interp/interp_internal.h"
#include "io/npy.h"
#include "support/status.h"
#include "support/strbuf.h"

#define MAX_IN 256

int gc_cli_train(int argc, char **argv);
int gc_cli_grad(int argc, char **argv);

typedef enum comm_kind { COMM_NONE = 0, COMM_SELF, COMM_MPI } comm_kind;

typedef struct cli_opts {
  const char *cmd, *usage, *model, *dir;
  const char *in_name[MAX_IN], *in_val[MAX_IN];
  int nin;
  uint64_t seed;
  long long steps;
  bool print_graph;
  gc_optimizer_options opt;
  bool random;             /* --random: draw the inputs not given         */
  uint64_t data_seed;
  int64_t ilo, ihi;        /* --int-range                                 */
  comm_kind comm;          /* data-parallel mode                          */
  gc_ddp_options ddp;      /* caps, ignored params                        */
  const char *ignored[MAX_IN];
  double timeout_s;        /* 0: the communicator's default               */
  int rank;                /* of the communicator (0 without one)         */
  const char *backend;     /* --backend: interp (NULL), cpu, cpu-eval      */
  bool time;               /* --time: step times                          */
} cli_opts;

static const char TRAIN_USAGE[] =
    "graphc train MODEL.gc --steps K --lr X [--optimizer sgd|adam|adamw] [--momentum M] "
    "[--nesterov] [--weight-decay W] [--beta1 B] [--beta2 B] [--eps E] [--in NAME=FILE.npy]... "
    "[--sym NAME=INT]... [--random SEED] [--int-range LO:HI] [--init-seed S] [--params-out DIR] "
    "[--print-graph] [--comm self|mpi] [--bucket-cap-mb C] [--first-bucket-cap-mb F] "
    "[--ignore NAME]... [--timeout S] [--backend interp|cpu|cpu-eval] [--time]";
static const char GRAD_USAGE[] =
    "graphc grad MODEL.gc --out DIR [--in NAME=FILE.npy]... [--sym NAME=INT]... "
    "[--random SEED] [--int-range LO:HI] [--init-seed S] [--print-graph]";

static int usage(const cli_opts *o, const char *msg, const char *arg) {
  return gc_cli_usage(o->cmd, o->usage, msg, arg);
}

static int fail(const cli_opts *o, graphc_status_t st) {
  if (o->comm == COMM_MPI)
    fprintf(stderr, "graphc %s: rank %d: error: %s\n", o->cmd, o->rank, graphc_status_message(st));
  else
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
  const char *ddp_flag = NULL;              /* a data-parallel option given */
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
    if (train && !strcmp(a, "--time")) {
      o->time = true;
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
    if (!strcmp(a, "--random")) {
      if (!parse_int(v, &n) || n < 0) return usage(o, "bad --random", v);
      o->random = true;
      o->data_seed = (uint64_t)n;
    } else if (!strcmp(a, "--int-range")) {
      long long lo, hi;
      char extra;
      if (sscanf(v, "%lld:%lld%c", &lo, &hi, &extra) != 2 || hi <= lo)
        return usage(o, "bad --int-range (want LO:HI with LO < HI)", v);
      o->ilo = lo, o->ihi = hi;
    } else if (train && !strcmp(a, "--backend")) {
      if (strcmp(v, "interp") && strcmp(v, "cpu") && strcmp(v, "cpu-eval"))
        return usage(o, "--backend must be interp, cpu or cpu-eval", v);
      o->backend = strcmp(v, "interp") ? v : NULL;
    } else if (train && !strcmp(a, "--comm")) {
      if (!strcmp(v, "self")) o->comm = COMM_SELF;
      else if (!strcmp(v, "mpi")) o->comm = COMM_MPI;
      else return usage(o, "--comm must be self or mpi", v);
    } else if (train && !strcmp(a, "--bucket-cap-mb")) {
      ddp_flag = a;
      if (!gc_cli_parse_mb(v, &o->ddp.cap_bytes)) return usage(o, "bad --bucket-cap-mb", v);
    } else if (train && !strcmp(a, "--first-bucket-cap-mb")) {
      ddp_flag = a;
      if (!gc_cli_parse_mb(v, &o->ddp.first_cap_bytes)) return usage(o, "bad --first-bucket-cap-mb", v);
    } else if (train && !strcmp(a, "--ignore")) {
      ddp_flag = a;
      if (o->ddp.nignored == MAX_IN) return usage(o, "too many --ignore", NULL);
      o->ignored[o->ddp.nignored++] = v;
    } else if (train && !strcmp(a, "--timeout")) {
      ddp_flag = a;
      if (!parse_double(v, &d) || !(d > 0) || !isfinite(d)) return usage(o, "bad --timeout", v);
      o->timeout_s = d;
    } else if (!strcmp(a, "--in") || !strcmp(a, "--sym")) {
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
  o->ddp.ignored = o->ignored;
  /* Under mpirun, data-parallel over MPI unless told otherwise. */
  if (o->comm == COMM_NONE && getenv("OMPI_COMM_WORLD_SIZE")) o->comm = COMM_MPI;
  if (o->comm == COMM_NONE && ddp_flag)
    return usage(o, "data-parallel option without --comm (or mpirun)", ddp_flag);
  if (o->comm != COMM_NONE && o->backend)
    return usage(o, "--backend cpu does not support DDP yet (data-parallel steps run with the "
                    "interpreter: drop --backend, or --comm/mpirun)", o->backend);
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
    bool param = v->role == GRAPHC_ROLE_PARAM;
    if (!param && (!o->random || v->role == GRAPHC_ROLE_SYMBOL)) {
      st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "input '%s' not given (use --in %s=%s%s)",
                     v->name, v->name, v->role == GRAPHC_ROLE_SYMBOL ? "INT" : "FILE.npy",
                     v->role == GRAPHC_ROLE_SYMBOL ? "" : " or --random SEED");
      break;
    }
    int64_t shape[GRAPHC_MAX_RANK];
    for (int d = 0; !st && d < v->type.rank; d++) {
      st = gc_dim_eval(dims, v->type.dims[d], symv, bound, &shape[d]);
      if (st) st = gc_status_wrap(st, "input '%s' (give its size with --sym NAME=INT)", v->name);
    }
    if (!st) st = gc_tensor_alloc(&ins[i], v->type.dtype, v->type.rank, shape, 0);
    int64_t fan = 1;
    for (int d = v->type.rank > 1 ? 1 : 0; !st && d < v->type.rank; d++) fan *= shape[d];
    double bound_v = 1.0 / sqrt((double)(fan > 0 ? fan : 1));
    /* Params from --init-seed; data as `graphc run --random` draws it. */
    uint64_t s = (param ? o->seed : o->data_seed) * 1000003u + (uint64_t)i;
    for (int64_t e = 0; !st && e < ins[i].numel; e++) {
      uint64_t r = splitmix(&s);
      if (param) gc_tensor_setf(&ins[i], e, ((double)(r >> 11) * 0x1.0p-53 * 2.0 - 1.0) * bound_v);
      else if (gc_dtype_is_float(v->type.dtype))
        gc_tensor_setf(&ins[i], e, (double)(r >> 11) * 0x1.0p-53 * 2.0 - 1.0);
      else gc_tensor_seti(&ins[i], e, o->ilo + (int64_t)(r % (uint64_t)(o->ihi - o->ilo)));
    }
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

/* Optimizer state starts at zero (the step count too). */
static graphc_status_t init_state(const gc_train_step *s, gc_tensor *ins) {
  graphc_status_t st = NULL;
  for (int k = 0; !st && k < s->nstate; k++) {
    const gc_train_state *ts = &s->state[k];
    const gc_tensor *p = ts->param >= 0 ? &ins[ts->param] : NULL;
    st = p ? gc_tensor_alloc(&ins[ts->input], p->dtype, p->rank, p->shape, 0)
           : gc_tensor_alloc(&ins[ts->input], GRAPHC_I64, 0, NULL, 0);
  }
  return st;
}

static graphc_status_t write_params(const cli_opts *o, const gc_graph *fwd,
                                    const gc_train_step *s, const gc_tensor *ins) {
  if (!o->dir) return NULL;
  GC_TRY(make_dir(o->dir));
  for (int p = 0; p < s->nparams; p++)
    GC_TRY(write_npy(o->dir, "", fwd->values[fwd->inputs[s->params[p]]].name, &ins[s->params[p]]));
  return NULL;
}

static void free_inputs(gc_tensor *ins, int n) {
  for (int i = 0; ins && i < n; i++) gc_tensor_free(&ins[i]);
  free(ins);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of v[0, n) (sorts v). */
static double median(double *v, long long n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static graphc_status_t run_train(const cli_opts *o, const gc_graph *fwd) {
  gc_train_step *s;
  GC_TRY(gc_build_train_step(fwd, &o->opt, &s));
  if (o->print_graph) print_graph(s->graph);
  int n = s->graph->ninputs;
  gc_tensor *ins = calloc((size_t)n, sizeof *ins);
  graphc_status_t st = ins ? load_inputs(o, fwd, ins) : GC_OOM();
  if (!st) st = init_state(s, ins);
  gc_train_exec *ex = NULL;
  if (!st && o->backend) {
    graphc_compile_options_t co;
    graphc_compile_options_init(&co);
    if (!strcmp(o->backend, "cpu-eval")) co.backend = GRAPHC_BACKEND_CPU_EVAL;
    st = gc_train_exec_create(s, &co, &ex);
  }
  double *ms = st ? NULL : malloc(sizeof *ms * (size_t)o->steps);
  if (!st && !ms) st = GC_OOM();
  for (long long step = 1; !st && step <= o->steps; step++) {
    double loss, t0 = now_ms();
    st = ex ? gc_train_exec_run(ex, ins, &loss) : gc_train_step_run(s, 16ull << 30, ins, &loss);
    ms[step - 1] = now_ms() - t0;
    if (st) st = gc_status_wrap(st, "step %lld", step);
    else if (o->time) printf("step %lld loss %.9g time %.3f ms\n", step, loss, ms[step - 1]);
    else printf("step %lld loss %.9g\n", step, loss);
    fflush(stdout);
  }
  if (!st && o->time) {
    long long k = o->steps > 1 ? o->steps - 1 : 1; /* step 1 is warm-up */
    printf("step time median %.3f ms over %lld steps (%s)", median(ms + o->steps - k, k), k,
           o->backend ? o->backend : "interp");
    if (ex) printf("; peak bytes %lld (arena %lld + outputs)", (long long)gc_train_exec_peak_bytes(ex),
                   (long long)graphc_executable_peak_bytes(gc_train_exec_executable(ex)));
    printf("\n");
  }
  free(ms);
  if (ex) gc_train_exec_sync(ex, ins);
  if (!st) st = write_params(o, fwd, s, ins);
  gc_train_exec_free(ex);
  free_inputs(ins, n);
  gc_train_step_free(s);
  return st;
}

/* ---- data-parallel training ------------------------------------------------ */

/* Keeps this rank's contiguous slice of dim 0 of every `input`-role tensor
 * (0-d ones are replicated). *batch: the first sharded input's dim 0. */
static graphc_status_t shard(const gc_graph *fwd, int rank, int world, gc_tensor *ins,
                             int64_t *batch) {
  *batch = -1;
  for (int i = 0; i < fwd->ninputs; i++) {
    const gc_value *v = &fwd->values[fwd->inputs[i]];
    gc_tensor *t = &ins[i];
    if (v->role != GRAPHC_ROLE_INPUT || t->rank == 0) continue;
    int64_t rows = t->shape[0];
    if (rows % world != 0)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                       "input '%s' has %lld rows in dim 0 (the global batch), which %d ranks cannot "
                       "share equally: use a global batch that is a multiple of %d", v->name,
                       (long long)rows, world, world);
    if (*batch < 0) *batch = rows;
    if (world == 1) continue;
    int64_t fixed;
    if (gc_dim_is_const(gc_graph_dims(fwd), v->type.dims[0], &fixed))
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                       "input '%s' has a fixed batch size %lld in dim 0; each of %d ranks gets a "
                       "slice of it, so the model needs a symbolic batch (e.g. f32[B, ...])",
                       v->name, (long long)fixed, world);
    gc_tensor part;
    int64_t shape[GRAPHC_MAX_RANK];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = rows / world;
    GC_TRY(gc_tensor_alloc(&part, t->dtype, t->rank, shape, 0));
    size_t bytes = (size_t)part.numel * graphc_dtype_size(t->dtype);
    if (bytes) memcpy(part.data, (const char *)t->data + (size_t)rank * bytes, bytes);
    gc_tensor_free(t);
    *t = part;
  }
  return NULL;
}

/* FNV-1a over every param's bytes: equal on every rank when in sync. */
static uint64_t params_hash(const gc_train_step *s, const gc_tensor *ins) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int p = 0; p < s->nparams; p++) {
    const gc_tensor *t = &ins[s->params[p]];
    const unsigned char *b = t->data;
    size_t n = (size_t)t->numel * graphc_dtype_size(t->dtype);
    for (size_t k = 0; k < n; k++) h = (h ^ b[k]) * 0x100000001b3ull;
  }
  return h;
}

/* Fails on every rank when the ranks' params differ. */
static graphc_status_t check_in_sync(gc_comm *c, const gc_train_step *s, const gc_tensor *ins,
                                     const char *when) {
  uint64_t h = params_hash(s, ins);
  uint64_t *all = malloc(sizeof *all * (size_t)c->size);
  if (!all) return GC_OOM();
  graphc_status_t st = c->vt->exchange(c, &h, sizeof h, all);
  for (int r = 1; !st && r < c->size; r++)
    if (all[r] != all[0])
      st = gc_status(GRAPHC_STATUS_FAILED_PRECONDITION,
                     "params differ between ranks %s: rank %d's differ from rank 0's", when, r);
  free(all);
  return st;
}

/* Exchanges "ready" flags: fails on every ready rank, naming the ranks
 * that are not (they report their own errors). */
static graphc_status_t agree_ready(gc_comm *c, bool ok) {
  unsigned char mine = ok, *all = malloc((size_t)c->size);
  if (!all) return GC_OOM();
  graphc_status_t st = c->vt->exchange(c, &mine, 1, all);
  gc_strbuf sb = {0};
  int failed = 0;
  for (int r = 0; !st && r < c->size; r++)
    if (!all[r]) gc_sb_printf(&sb, "%s%d", failed++ ? "," : "", r);
  if (!st && failed && ok)
    st = gc_status(GRAPHC_STATUS_FAILED_PRECONDITION,
                   "rank%s %s failed while preparing to train (see %s error); every rank stops",
                   failed > 1 ? "s" : "", sb.data ? sb.data : "?", failed > 1 ? "their" : "its");
  gc_sb_free(&sb);
  free(all);
  return st;
}

static void print_ddp_header(const cli_opts *o, const gc_graph *fwd, const gc_ddp_step *s,
                             int world, int64_t batch) {
  static const char *const opt[] = {"sgd", "adam", "adamw"};
  printf("ddp: %d rank%s (%s communicator), optimizer %s lr %g", world, world > 1 ? "s" : "",
         o->comm == COMM_MPI ? "mpi" : "self", opt[o->opt.kind], o->opt.lr);
  if (batch >= 0)
    printf(", global batch %lld (%lld per rank)", (long long)batch, (long long)(batch / world));
  printf("\n");
  gc_strbuf sb = {0};
  gc_ddp_plan_format(&sb, fwd, s->plan, NULL);
  if (sb.data) fputs(sb.data, stdout);
  gc_sb_free(&sb);
  printf("step graph '%s': %d all_reduce_start (one per bucket), loss averaged over ranks\n",
         s->step->graph->name, s->nbuckets);
  for (int b = 0; b < s->nbuckets; b++) {
    const gc_ddp_bucket *bk = &s->buckets[b];
    printf("  bucket %d (piece %d): %lld %s elements:", b, bk->piece, (long long)bk->numel,
           graphc_dtype_name(bk->dtype));
    for (int k = 0; k < bk->nparams; k++)
      printf("%s%s", k ? "," : " ", fwd->values[fwd->inputs[bk->params[k]]].name);
    printf("\n");
  }
}

static graphc_status_t train_steps(const cli_opts *o, gc_comm *c, const gc_ddp_step *s,
                                   gc_tensor *ins) {
  double *ms = malloc(sizeof *ms * (size_t)o->steps);
  if (!ms) return GC_OOM();
  graphc_status_t st = NULL;
  for (long long step = 1; !st && step <= o->steps; step++) {
    double loss, t0 = now_ms();
    st = gc_ddp_step_run(s, c, 16ull << 30, ins, &loss);
    ms[step - 1] = now_ms() - t0;
    if (st) st = gc_status_wrap(st, "step %lld", step);
    else if (c->rank == 0) printf("step %lld loss %.9g time %.1f ms\n", step, loss, ms[step - 1]);
    fflush(stdout);
  }
  if (!st) st = check_in_sync(c, s->step, ins, "after training");
  if (!st && c->rank == 0) {
    double med = median(ms, o->steps);
    printf("step time median %.1f ms over %lld steps (rank 0 of %d); params identical on every "
           "rank\n", med, o->steps, c->size);
  }
  free(ms);
  return st;
}

/* Returns the exit status: errors are reported here, before the
 * communicator goes (under mpirun the first rank to exit with an error gets
 * the others killed, perhaps before they could say why). */
static int run_ddp(cli_opts *o, const gc_graph *fwd) {
  gc_comm *c;
  graphc_status_t made =
      o->comm == COMM_MPI ? gc_comm_mpi_create(NULL, &c) : gc_comm_self_create(&c);
  if (made) return fail(o, made);
  o->rank = c->rank;
  if (o->timeout_s > 0) c->timeout_s = o->timeout_s;
  gc_ddp_step_options so;
  gc_ddp_step_options_init(&so, o->opt.kind);
  so.opt = o->opt;
  so.ddp = o->ddp;
  gc_ddp_step *s = NULL;
  gc_tensor *ins = NULL;
  int n = 0;
  int64_t batch = -1;
  graphc_status_t st = gc_ddp_step_build(fwd, &so, &s);
  if (!st) {
    n = s->step->graph->ninputs;
    if (!(ins = calloc((size_t)n, sizeof *ins))) st = GC_OOM();
  }
  if (!st) st = load_inputs(o, fwd, ins);
  if (!st) st = shard(fwd, c->rank, c->size, ins, &batch);
  if (!st) st = init_state(s->step, ins);
  /* Every rank is ready, or every rank stops here: none waits on one that
   * failed (an indivisible batch fails the same way everywhere). */
  graphc_status_t agreed = agree_ready(c, st == NULL);
  if (st) graphc_status_free(agreed);
  else st = agreed;
  if (!st) st = check_in_sync(c, s->step, ins, "before training");
  if (!st && c->rank == 0) {
    print_ddp_header(o, fwd, s, c->size, batch);
    if (o->print_graph) print_graph(s->step->graph);
  }
  if (!st) st = train_steps(o, c, s, ins);
  if (!st && c->rank == 0) st = write_params(o, fwd, s->step, ins);
  free_inputs(ins, n);
  gc_ddp_step_free(s);
  fflush(stdout);
  int rc = st ? fail(o, st) : 0;
  c->vt->destroy(c);
  return rc;
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
  cli_opts o = {.cmd = train ? "train" : "grad", .usage = train ? TRAIN_USAGE : GRAD_USAGE,
                .ihi = 2};
  gc_ddp_options_init(&o.ddp);
  int rc = parse_args(&o, argc, argv, train);
  if (rc) return rc < 0 ? 0 : rc;
  graphc_context_t *ctx;
  graphc_graph_t *g;
  graphc_status_t st = graphc_context_create(NULL, &ctx);
  if (st) return fail(&o, st);
  st = graphc_graph_parse_file(ctx, o.model, &g);
  if (!st && train && o.comm) {
    rc = run_ddp(&o, g);
    graphc_context_release(ctx);
    return rc;
  }
  if (!st) st = train ? run_train(&o, g) : run_grad(&o, g);
  graphc_context_release(ctx);
  return st ? fail(&o, st) : 0;
}

int gc_cli_train(int argc, char **argv) { return cli_main(argc, argv, true); }
int gc_cli_grad(int argc, char **argv) { return cli_main(argc, argv, false); }
