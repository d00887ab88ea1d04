/* All-reduce of N floats (default 1M) on every rank, three ways, in one
 * program under mpirun:
 *   mpi     MPI_Allreduce(MPI_IN_PLACE) called directly;
 *   mpi-nb  MPI_Iallreduce + MPI_Wait called directly (the non-blocking
 *           collective libgraphc uses, with an unbounded wait);
 *   comm    libgraphc's MPI communicator: all_reduce_start + bounded wait
 *           (f32 in place, what compiled code uses);
 *   interp  graphc_interp_run_distributed on `all_reduce(x)`: agreement,
 *           f64 staging (the oracle's exact reduction), DLPack in and out.
 * Prints the median and min over R timed runs (after warm-up) of each, as
 * measured on rank 0 after a barrier.
 * Usage: bench_mpi_allreduce [N] [R] */
#include <graphc/comm.h>
#include <graphc/graphc.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "comm/comm_mpi.h"

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void report(int rank, const char *name, double *t, int reps, long n) {
  qsort(t, (size_t)reps, sizeof *t, cmp);
  if (rank == 0)
    printf("%-7s median %8.3f ms  min %8.3f ms  (%ld floats, %d runs)\n", name, t[reps / 2] * 1e3,
           t[0] * 1e3, n, reps);
}

static void die(graphc_status_t st) {
  fprintf(stderr, "%s\n", graphc_status_message(st));
  MPI_Abort(MPI_COMM_WORLD, 1);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1 << 20;
  int reps = argc > 2 ? atoi(argv[2]) : 21, warm = 3, rank, provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  float *buf = malloc((size_t)n * sizeof *buf);
  double *t = malloc((size_t)(reps + warm) * sizeof *t);
  for (long i = 0; i < n; i++) buf[i] = (float)(i % 7);

  for (int k = 0; k < reps + warm; k++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    t[k > warm ? k - warm : 0] = MPI_Wtime() - t0;
  }
  report(rank, "mpi", t, reps, n);

  for (int k = 0; k < reps + warm; k++) { /* the non-blocking call libgraphc uses, unbounded wait */
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    MPI_Request req;
    MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req);
    MPI_Wait(&req, MPI_STATUS_IGNORE);
    t[k > warm ? k - warm : 0] = MPI_Wtime() - t0;
  }
  report(rank, "mpi-nb", t, reps, n);

  gc_comm *c;
  graphc_status_t st = gc_comm_mpi_create(NULL, &c);
  if (st) die(st);
  for (int k = 0; k < reps + warm; k++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    gc_comm_request *req;
    st = c->vt->all_reduce_start(c, buf, n, GRAPHC_F32, GC_REDUCE_SUM, "bench", &req);
    if (!st) st = c->vt->wait(c, req);
    if (st) die(st);
    t[k > warm ? k - warm : 0] = MPI_Wtime() - t0;
  }
  report(rank, "comm", t, reps, n);
  c->vt->destroy(c);

  graphc_context_t *ctx;
  graphc_comm_t *gc;
  graphc_graph_t *g;
  char text[160];
  snprintf(text, sizeof text, "graph g(x: f32[%ld] input) { %%y = all_reduce(x) return %%y }", n);
  if ((st = graphc_context_create(NULL, &ctx)) || (st = graphc_comm_create_mpi(ctx, NULL, &gc)) ||
      (st = graphc_graph_parse(ctx, text, strlen(text), "bench.gc", &g)))
    die(st);
  int64_t shape[1] = {n};
  DLTensor x = {.data = buf, .device = {kDLCPU, 0}, .ndim = 1, .dtype = {kDLFloat, 32, 1}, .shape = shape};
  DLTensor *ins[1] = {&x};
  for (int k = 0; k < reps + warm; k++) {
    for (long i = 0; i < n; i++) buf[i] = (float)(i % 7);
    DLManagedTensor *out;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    if ((st = graphc_interp_run_distributed(g, gc, NULL, ins, 1, &out, 1))) die(st);
    t[k > warm ? k - warm : 0] = MPI_Wtime() - t0;
    out->deleter(out);
  }
  report(rank, "interp", t, reps, n);
  graphc_comm_release(gc);
  graphc_context_release(ctx);
  free(buf);
  free(t);
  MPI_Finalize();
  return 0;
}
