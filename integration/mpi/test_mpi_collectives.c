/* Multi-rank check of the collective ops through the public API, run under
 * `mpirun -np N` (run_mpi_tests.sh):
 *   - every collective (and its _start/wait form) run by the interpreter on
 *     each rank equals the result computed locally from every rank's input;
 *   - a fingerprint mismatch (another op, another size) is an error on every
 *     rank, naming the ranks, and leaves the communicator usable;
 *   - a rank that never arrives (skips the run; fails between two
 *     collectives) makes the others fail with a timeout naming what they
 *     waited for, within the bound;
 *   each failure mode 20 times, with no hang; last, rank 1 skips a
 *   collective and exits while the others time out.
 * `--init-by-graphc` instead checks the path where libgraphc initialises and
 * finalises MPI itself. Exit status 0 when every check passed on this rank. */
#include <graphc/comm.h>
#include <graphc/graphc.h>
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPEATS 20
#define TIMEOUT_S 0.3
#define SLACK_S 2.0 /* a timeout must come within TIMEOUT_S + SLACK_S */

static int rank, size, passed, failed;
static graphc_context_t *ctx;

static void check(int ok, const char *fmt, ...) {
  if (ok) {
    passed++;
    return;
  }
  failed++;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "rank %d: FAIL: ", rank);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static graphc_comm_t *new_comm(void *mpi_comm) {
  graphc_comm_t *c = NULL;
  graphc_status_t st = graphc_comm_create_mpi(ctx, mpi_comm, &c);
  if (st) {
    fprintf(stderr, "rank %d: graphc_comm_create_mpi: %s\n", rank, graphc_status_message(st));
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  return c;
}

/* ---- tensors ------------------------------------------------------------------ */

/* Host tensors as doubles; dtype codes: f32 f64 i32 i64 bool. */
typedef struct host {
  graphc_dtype_t dt;
  int ndim;
  int64_t shape[4];
  int64_t n;
  double v[256];
} host;

static DLDataType dl_of(graphc_dtype_t dt) {
  switch (dt) {
    case GRAPHC_F32: return (DLDataType){kDLFloat, 32, 1};
    case GRAPHC_F64: return (DLDataType){kDLFloat, 64, 1};
    case GRAPHC_I32: return (DLDataType){kDLInt, 32, 1};
    case GRAPHC_I64: return (DLDataType){kDLInt, 64, 1};
    default: return (DLDataType){kDLUInt, 8, 1};
  }
}

static void put(void *p, graphc_dtype_t dt, int64_t i, double v) {
  switch (dt) {
    case GRAPHC_F32: ((float *)p)[i] = (float)v; break;
    case GRAPHC_F64: ((double *)p)[i] = v; break;
    case GRAPHC_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case GRAPHC_I64: ((int64_t *)p)[i] = (int64_t)v; break;
    default: ((uint8_t *)p)[i] = v != 0; break;
  }
}

static double get(const void *p, graphc_dtype_t dt, int64_t i) {
  switch (dt) {
    case GRAPHC_F32: return ((const float *)p)[i];
    case GRAPHC_F64: return ((const double *)p)[i];
    case GRAPHC_I32: return ((const int32_t *)p)[i];
    case GRAPHC_I64: return (double)((const int64_t *)p)[i];
    default: return ((const uint8_t *)p)[i];
  }
}

/* Rank r's input element i: small multiples of 1/4 (exact in every float
 * dtype, sums included), ints with one element near INT32_MAX so i32 sums
 * wrap, bools. */
static double gen(graphc_dtype_t dt, int r, int64_t i) {
  if (dt == GRAPHC_BOOL) return (r + i) % 3 == 0;
  double v = (double)((r * 7 + i * 3) % 11 - 5);
  if (dt == GRAPHC_I32 || dt == GRAPHC_I64) return i == 0 ? 2147483000.0 + r : v;
  return v + 0.25 * (double)(i % 4);
}

static host make(graphc_dtype_t dt, int r, int ndim, const int64_t *shape) {
  host h = {.dt = dt, .ndim = ndim, .n = 1};
  for (int d = 0; d < ndim; d++) h.n *= (h.shape[d] = shape[d]);
  for (int64_t i = 0; i < h.n; i++) h.v[i] = gen(dt, r, i);
  return h;
}

/* Runs `text` (one input, one output) through comm c on x; *out gets the
 * result. Returns the status (owned by the caller). */
static graphc_status_t run(graphc_comm_t *c, const char *text, const host *x, host *out) {
  graphc_graph_t *g = NULL;
  graphc_status_t st = graphc_graph_parse(ctx, text, strlen(text), "mpi.gc", &g);
  if (st) return st;
  char buf[256 * 8];
  for (int64_t i = 0; i < x->n; i++) put(buf, x->dt, i, x->v[i]);
  int64_t shape[4];
  memcpy(shape, x->shape, sizeof shape);
  DLTensor t = {.data = buf, .device = {kDLCPU, 0}, .ndim = x->ndim, .dtype = dl_of(x->dt), .shape = shape};
  DLTensor *ins[1] = {&t};
  DLManagedTensor *res = NULL;
  st = graphc_interp_run_distributed(g, c, NULL, ins, 1, &res, 1);
  if (!st) {
    DLTensor *y = &res->dl_tensor;
    out->ndim = y->ndim;
    out->n = 1;
    for (int d = 0; d < y->ndim; d++) out->n *= (out->shape[d] = y->shape[d]);
    out->dt = y->dtype.code == kDLFloat ? (y->dtype.bits == 32 ? GRAPHC_F32 : GRAPHC_F64)
              : y->dtype.code == kDLInt ? (y->dtype.bits == 32 ? GRAPHC_I32 : GRAPHC_I64)
                                        : GRAPHC_BOOL;
    for (int64_t i = 0; i < out->n && i < 256; i++) out->v[i] = get(y->data, out->dt, i);
    res->deleter(res);
  }
  graphc_graph_release(g);
  return st;
}

static void expect_equal(const char *name, const host *got, const host *want) {
  int ok = got->n == want->n && got->ndim == want->ndim;
  for (int d = 0; ok && d < want->ndim; d++) ok = got->shape[d] == want->shape[d];
  int64_t bad = -1;
  for (int64_t i = 0; ok && i < want->n; i++)
    if (got->v[i] != want->v[i]) {
      bad = i;
      ok = 0;
    }
  check(ok, "%s: result differs (numel %lld vs %lld; element %lld: %.9g vs %.9g)", name,
        (long long)got->n, (long long)want->n, (long long)bad, bad >= 0 ? got->v[bad] : 0.0,
        bad >= 0 ? want->v[bad] : 0.0);
}

static void run_expect(graphc_comm_t *c, const char *name, const char *text, const host *x,
                       const host *want) {
  host got = {0};
  graphc_status_t st = run(c, text, x, &got);
  check(st == NULL, "%s: %s", name, graphc_status_message(st));
  if (!st) expect_equal(name, &got, want);
  graphc_status_free(st);
}

/* ---- expected results, from every rank's input ------------------------------------ */

static double wrap_i32(double v) { return (double)(int32_t)(uint32_t)(uint64_t)(int64_t)v; }

static double reduce_all(graphc_dtype_t dt, const char *op, int64_t i, int nranks, int first) {
  double acc = gen(dt, first, i);
  for (int r = first + 1; r < first + nranks; r++) {
    double v = gen(dt, r, i);
    acc = strcmp(op, "max") == 0 ? fmax(acc, v) : acc + v;
  }
  if (strcmp(op, "avg") == 0) acc /= nranks;
  return dt == GRAPHC_I32 ? wrap_i32(acc) : acc;
}

static const char *dtname(graphc_dtype_t dt) { return graphc_dtype_name(dt); }

static void check_all_reduce(graphc_comm_t *c) {
  static const struct {
    graphc_dtype_t io;   /* what crosses the API */
    const char *inner;   /* dtype the collective runs in (cast in the graph) */
    const char *ops[3];
  } cases[] = {
      {GRAPHC_F32, "f32", {"sum", "avg", "max"}}, {GRAPHC_F64, "f64", {"sum", "avg", "max"}},
      {GRAPHC_F32, "f16", {"sum", "avg", "max"}}, {GRAPHC_F32, "bf16", {"sum", "avg", "max"}},
      {GRAPHC_I32, "i32", {"sum", "max", NULL}},  {GRAPHC_I64, "i64", {"sum", "max", NULL}},
      {GRAPHC_BOOL, "bool", {"max", NULL, NULL}},
  };
  int64_t shape[2] = {5, 3};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
    for (int o = 0; o < 3 && cases[k].ops[o]; o++) {
      const char *io = dtname(cases[k].io), *in = cases[k].inner, *op = cases[k].ops[o];
      char text[512], name[64];
      snprintf(text, sizeof text,
               "graph g(x: %s[5, 3] input) {\n  %%a = cast(x, dtype=%s)\n  %%b = all_reduce(%%a, op=%s)\n"
               "  %%c = cast(%%b, dtype=%s)\n  return %%c\n}",
               io, in, op, io);
      snprintf(name, sizeof name, "all_reduce %s %s", in, op);
      host x = make(cases[k].io, rank, 2, shape), want = make(cases[k].io, rank, 2, shape);
      for (int64_t i = 0; i < want.n; i++) want.v[i] = reduce_all(cases[k].io, op, i, size, 0);
      run_expect(c, name, text, &x, &want);
    }
}

static void check_all_gather(graphc_comm_t *c) {
  int64_t shape[2] = {2, 3};
  for (int dim = 0; dim < 2; dim++) {
    graphc_dtype_t dt = dim ? GRAPHC_I64 : GRAPHC_F32;
    char text[256], name[64];
    snprintf(text, sizeof text, "graph g(x: %s[2, 3] input) { %%y = all_gather(x, dim=%d, world=%d) return %%y }",
             dtname(dt), dim, size);
    snprintf(name, sizeof name, "all_gather dim=%d", dim);
    host x = make(dt, rank, 2, shape), want = {.dt = dt, .ndim = 2, .shape = {2, 3}};
    want.shape[dim] *= size;
    want.n = want.shape[0] * want.shape[1];
    for (int64_t i = 0; i < want.shape[0]; i++)
      for (int64_t j = 0; j < want.shape[1]; j++) {
        int64_t src_rank = dim ? j / 3 : i / 2, si = dim ? i : i % 2, sj = dim ? j % 3 : j;
        want.v[i * want.shape[1] + j] = gen(dt, (int)src_rank, si * 3 + sj);
      }
    run_expect(c, name, text, &x, &want);
  }
}

static void check_reduce_scatter(graphc_comm_t *c) {
  static const struct {
    graphc_dtype_t dt;
    int dim;
    const char *op;
  } cases[] = {{GRAPHC_F32, 0, "sum"}, {GRAPHC_F64, 1, "avg"}, {GRAPHC_F64, 1, "max"}, {GRAPHC_I32, 0, "sum"}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int dim = cases[k].dim;
    int64_t shape[2] = {dim ? 3 : 2 * size, dim ? 2 * size : 3};
    char text[256], name[64];
    snprintf(text, sizeof text,
             "graph g(x: %s[%lld, %lld] input) { %%y = reduce_scatter(x, dim=%d, op=%s, world=%d) return %%y }",
             dtname(cases[k].dt), (long long)shape[0], (long long)shape[1], dim, cases[k].op, size);
    snprintf(name, sizeof name, "reduce_scatter %s dim=%d %s", dtname(cases[k].dt), dim, cases[k].op);
    host x = make(cases[k].dt, rank, 2, shape), want = {.dt = cases[k].dt, .ndim = 2};
    want.shape[0] = dim ? 3 : 2;
    want.shape[1] = dim ? 2 : 3;
    want.n = 6;
    for (int64_t i = 0; i < want.shape[0]; i++)
      for (int64_t j = 0; j < want.shape[1]; j++) { /* this rank's slice of the full tensor */
        int64_t fi = dim ? i : rank * 2 + i, fj = dim ? rank * 2 + j : j;
        want.v[i * want.shape[1] + j] = reduce_all(cases[k].dt, cases[k].op, fi * shape[1] + fj, size, 0);
      }
    run_expect(c, name, text, &x, &want);
  }
}

static void check_broadcast(graphc_comm_t *c) {
  int64_t shape[1] = {7};
  int roots[2] = {0, size - 1};
  for (int k = 0; k < 2; k++) {
    graphc_dtype_t dt = k ? GRAPHC_I64 : GRAPHC_F32;
    char text[256], name[64];
    snprintf(text, sizeof text, "graph g(x: %s[7] input) { %%y = broadcast(x, root=%d) return %%y }",
             dtname(dt), roots[k]);
    snprintf(name, sizeof name, "broadcast root=%d", roots[k]);
    host x = make(dt, rank, 1, shape), want = make(dt, roots[k], 1, shape);
    run_expect(c, name, text, &x, &want);
  }
}

/* The async forms, with compute between start and wait, and a symbolic
 * batch dim. */
static void check_async(graphc_comm_t *c) {
  char text[1024];
  snprintf(text, sizeof text,
           "graph g(x: f32[B, 2] input) {\n"
           "  %%h1 = all_reduce_start(x, op=sum)\n"
           "  %%h2 = all_gather_start(x, dim=1, world=%d)\n"
           "  %%h3 = broadcast_start(x, root=%d)\n"
           "  %%m = mul(x, x)\n"
           "  %%a = wait(%%h1)\n  %%b = wait(%%h2)\n  %%d = wait(%%h3)\n"
           "  %%s = cat(%%a, %%b, %%d, %%m, dim=1)\n"
           "  return %%s\n}",
           size, size - 1);
  int64_t shape[2] = {3, 2};
  host x = make(GRAPHC_F32, rank, 2, shape), want = {.dt = GRAPHC_F32, .ndim = 2, .shape = {3, 2 + 2 * size + 2 + 2}};
  int64_t w = want.shape[1];
  want.n = 3 * w;
  for (int64_t i = 0; i < 3; i++) {
    int64_t col = 0;
    for (int j = 0; j < 2; j++) want.v[i * w + col++] = reduce_all(GRAPHC_F32, "sum", i * 2 + j, size, 0);
    for (int r = 0; r < size; r++)
      for (int j = 0; j < 2; j++) want.v[i * w + col++] = gen(GRAPHC_F32, r, i * 2 + j);
    for (int j = 0; j < 2; j++) want.v[i * w + col++] = gen(GRAPHC_F32, size - 1, i * 2 + j);
    for (int j = 0; j < 2; j++) want.v[i * w + col++] = x.v[i * 2 + j] * x.v[i * 2 + j];
  }
  run_expect(c, "start/wait", text, &x, &want);

  /* a data-dependent count (agreed on at run time) */
  const char *dd = "graph g(x: f32[6] input) {\n  %i, %n = nonzero(x)\n  %f = cast(%i, dtype=f32)\n"
                   "  %y = all_reduce(%f, op=sum)\n  return %y\n}";
  int64_t s6[1] = {6};
  host y = make(GRAPHC_F32, 0, 1, s6), want2 = {.dt = GRAPHC_F32, .ndim = 2};
  int64_t k = 0;
  for (int64_t i = 0; i < 6; i++)
    if (y.v[i] != 0) want2.v[k++] = (double)(i * size);
  want2.shape[0] = k;
  want2.shape[1] = 1;
  want2.n = k;
  run_expect(c, "data-dependent all_reduce", dd, &y, &want2);
}

/* The same collectives on a communicator the application hands in: the
 * ranks split by parity, each half reducing on its own. */
static void check_handed_in(void) {
  MPI_Comm half;
  MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
  int hsize;
  MPI_Comm_size(half, &hsize);
  graphc_comm_t *c = new_comm(&half);
  check(graphc_comm_size(c) == hsize, "handed-in communicator has size %d, want %d", graphc_comm_size(c), hsize);
  int64_t shape[1] = {4};
  host x = make(GRAPHC_F64, rank, 1, shape), want = make(GRAPHC_F64, rank, 1, shape);
  for (int64_t i = 0; i < 4; i++) { /* ranks of my parity: rank%2, rank%2 + 2, ... */
    want.v[i] = 0;
    for (int r = rank % 2; r < size; r += 2) want.v[i] += gen(GRAPHC_F64, r, i);
  }
  run_expect(c, "all_reduce on a handed-in communicator",
             "graph g(x: f64[4] input) { %y = all_reduce(x) return %y }", &x, &want);
  graphc_comm_release(c);
  MPI_Comm_free(&half);
}

/* ---- failure modes ----------------------------------------------------------------- */

static int contains(graphc_status_t st, const char *needle) {
  return st && strstr(graphc_status_message(st), needle) != NULL;
}

/* Rank 1 issues a different collective sequence: every rank must get the
 * same FAILED_PRECONDITION naming rank 1, and the communicator stays usable. */
static void check_mismatch(graphc_comm_t *c, int rep) {
  int64_t s4[1] = {4}, s5[1] = {5};
  bool other_size = rep % 2;
  host x = make(GRAPHC_F32, rank, 1, rank == 1 && other_size ? s5 : s4), got;
  const char *text = rank == 1 && !other_size
                         ? "graph g(x: f32[N] input) { %y = all_reduce(x, op=max) return %y }"
                         : "graph g(x: f32[N] input) { %y = all_reduce(x, op=sum) return %y }";
  graphc_status_t st = run(c, text, &x, &got);
  char want[64];
  snprintf(want, sizeof want, "rank 1 has ");
  check(graphc_status_code(st) == GRAPHC_STATUS_FAILED_PRECONDITION && contains(st, "ranks disagree") &&
            contains(st, want),
        "mismatch %d: got %s", rep, st ? graphc_status_message(st) : "success");
  if (rep == 0 && rank == 0) fprintf(stderr, "rank 0: mismatch error: %s\n", graphc_status_message(st));
  graphc_status_free(st);
}

/* Rank 1 does not arrive: in mode 0 it skips the whole run (the others
 * wait in the agreement); in mode 1 it fails between two collectives (the
 * others wait in the second all_reduce). */
static void check_no_show(int mode, int rep) {
  graphc_comm_t *c = new_comm(NULL);
  graphc_status_t st = graphc_comm_set_timeout(c, TIMEOUT_S);
  check(st == NULL, "set_timeout");
  const char *text = "graph g(x: f32[4] input, idx: i64[2] input) {\n"
                     "  %a = all_reduce(x, op=sum)\n"
                     "  %s = index_select(%a, idx, dim=0)\n"
                     "  %b = all_reduce(%s, op=sum)\n"
                     "  return %b\n}";
  graphc_graph_t *g = NULL;
  st = graphc_graph_parse(ctx, text, strlen(text), "noshow.gc", &g);
  check(st == NULL, "parse: %s", graphc_status_message(st));
  float xs[4] = {1, 2, 3, 4};
  int64_t idx[2] = {0, rank == 1 ? 99 : 1}; /* rank 1's index is out of range */
  int64_t s4 = 4, s2 = 2;
  DLTensor tx = {.data = xs, .device = {kDLCPU, 0}, .ndim = 1, .dtype = {kDLFloat, 32, 1}, .shape = &s4};
  DLTensor ti = {.data = idx, .device = {kDLCPU, 0}, .ndim = 1, .dtype = {kDLInt, 64, 1}, .shape = &s2};
  DLTensor *ins[2] = {&tx, &ti};
  DLManagedTensor *out = NULL;
  if (rank == 1 && mode == 0) {
    /* never arrives */
  } else {
    double t0 = now();
    st = graphc_interp_run_distributed(g, c, NULL, ins, 2, &out, 1);
    double dt = now() - t0;
    if (rank == 1) {
      check(graphc_status_code(st) == GRAPHC_STATUS_OUT_OF_RANGE, "rank 1's own error: %s",
            graphc_status_message(st));
    } else {
      const char *what = mode == 0 ? "before its first collective, all_reduce %a" : "all_reduce %b";
      check(graphc_status_code(st) == GRAPHC_STATUS_UNAVAILABLE && contains(st, "timed out after 0.3 s") &&
                contains(st, what),
            "no-show mode %d rep %d: got %s", mode, rep, st ? graphc_status_message(st) : "success");
      check(dt >= TIMEOUT_S * 0.99 && dt < TIMEOUT_S + SLACK_S, "timeout after %.3f s, bound %.1f s", dt,
            TIMEOUT_S);
      if (rep == 0 && rank == 0)
        fprintf(stderr, "rank 0: no-show mode %d: %.3f s: %s\n", mode, dt, graphc_status_message(st));
      /* the communicator refuses further work instead of mismatching */
      graphc_status_t again = graphc_interp_run_distributed(g, c, NULL, ins, 2, &out, 1);
      check(graphc_status_code(again) == GRAPHC_STATUS_FAILED_PRECONDITION && contains(again, "unusable"),
            "after a timeout: %s", graphc_status_message(again));
      graphc_status_free(again);
    }
    graphc_status_free(st);
  }
  graphc_graph_release(g);
  graphc_comm_release(c);
}

/* Last: rank 1 skips a collective and exits; the others time out. */
static void check_exit(void) {
  graphc_comm_t *c = new_comm(NULL);
  graphc_comm_set_timeout(c, TIMEOUT_S);
  if (rank != 1) {
    int64_t s4[1] = {4};
    host x = make(GRAPHC_F32, rank, 1, s4), got;
    double t0 = now();
    graphc_status_t st = run(c, "graph g(x: f32[4] input) { %y = all_reduce(x) return %y }", &x, &got);
    double dt = now() - t0;
    check(graphc_status_code(st) == GRAPHC_STATUS_UNAVAILABLE && contains(st, "timed out"),
          "exited peer: %s", st ? graphc_status_message(st) : "success");
    check(dt < TIMEOUT_S + SLACK_S, "exited peer: took %.3f s", dt);
    graphc_status_free(st);
  }
  graphc_comm_release(c);
}

static int init_by_graphc(void) {
  /* MPI is not initialised: libgraphc does it, and finalises on release. */
  graphc_comm_t *c = NULL;
  graphc_status_t st = graphc_comm_create_mpi(ctx, NULL, &c);
  if (st) {
    fprintf(stderr, "create: %s\n", graphc_status_message(st));
    return 1;
  }
  rank = graphc_comm_rank(c);
  size = graphc_comm_size(c);
  int flag = 0;
  MPI_Initialized(&flag);
  check(flag, "MPI initialised by libgraphc");
  int64_t s3[1] = {3};
  host x = make(GRAPHC_F32, rank, 1, s3), want = make(GRAPHC_F32, rank, 1, s3);
  for (int64_t i = 0; i < 3; i++) want.v[i] = reduce_all(GRAPHC_F32, "sum", i, size, 0);
  run_expect(c, "all_reduce (MPI initialised by libgraphc)",
             "graph g(x: f32[3] input) { %y = all_reduce(x) return %y }", &x, &want);
  graphc_comm_release(c);
  MPI_Finalized(&flag);
  check(flag, "MPI finalised by releasing the communicator that initialised it");
  return 0;
}

int main(int argc, char **argv) {
  if (graphc_context_create(NULL, &ctx)) return 2;
  bool self_init = argc > 1 && strcmp(argv[1], "--init-by-graphc") == 0;
  if (self_init) {
    if (init_by_graphc()) return 1;
  } else {
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    double t0 = now();
    MPI_Comm world = MPI_COMM_WORLD;
    graphc_comm_t *c = new_comm(&world);
    check(graphc_comm_rank(c) == rank && graphc_comm_size(c) == size, "rank/size");
    check_all_reduce(c);
    check_all_gather(c);
    check_reduce_scatter(c);
    check_broadcast(c);
    check_async(c);
    check_handed_in();
    double t1 = now();
    if (size >= 2) {
      for (int rep = 0; rep < REPEATS; rep++) check_mismatch(c, rep);
      /* the communicator is still usable after a disagreement */
      check_broadcast(c);
      double t2 = now();
      for (int rep = 0; rep < REPEATS; rep++) check_no_show(0, rep);
      for (int rep = 0; rep < REPEATS; rep++) check_no_show(1, rep);
      double t3 = now();
      if (rank == 0)
        fprintf(stderr, "rank 0: collectives %.2f s, mismatches %.2f s, %d+%d no-shows %.2f s\n", t1 - t0,
                t2 - t1, REPEATS, REPEATS, t3 - t2);
    }
    graphc_comm_release(c);
    if (size >= 2) check_exit();
    MPI_Finalize();
  }
  printf("rank %d of %d: %d checks passed, %d failed\n", rank, size, passed, failed);
  graphc_context_release(ctx);
  return failed ? 1 : 0;
}
