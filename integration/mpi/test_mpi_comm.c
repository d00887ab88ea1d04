/* The MPI communicator itself (lib/comm/comm_mpi.c, internal API), under
 * mpirun: every collective on every dtype — f16/bf16 included, which the
 * interpreter never hands it (it reduces in f64) — the exchange, argument
 * errors, and a timed-out wait leaving the communicator unusable. Exit
 * status 0 when every check passed on this rank. */
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "comm/comm_mpi.h"
#include "interp/tensor.h"

#define N 6

static int rank, size, passed, failed;

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

/* Rank r's element i: multiples of 1/4, exact in every float dtype. */
static double gen(int r, int i) { return (double)((r * 5 + i * 3) % 7 - 3) + 0.25 * (i % 4); }

static void store(void *p, graphc_dtype_t dt, int i, double v) {
  switch (dt) {
    case GRAPHC_F32: ((float *)p)[i] = (float)v; break;
    case GRAPHC_F64: ((double *)p)[i] = v; break;
    case GRAPHC_F16: ((uint16_t *)p)[i] = gc_f32_to_f16((float)v); break;
    case GRAPHC_BF16: ((uint16_t *)p)[i] = gc_f32_to_bf16((float)v); break;
    case GRAPHC_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case GRAPHC_I64: ((int64_t *)p)[i] = (int64_t)v; break;
    default: ((uint8_t *)p)[i] = v != 0; break;
  }
}

static double load(const void *p, graphc_dtype_t dt, int i) {
  switch (dt) {
    case GRAPHC_F32: return ((const float *)p)[i];
    case GRAPHC_F64: return ((const double *)p)[i];
    case GRAPHC_F16: return gc_f16_to_f32(((const uint16_t *)p)[i]);
    case GRAPHC_BF16: return gc_bf16_to_f32(((const uint16_t *)p)[i]);
    case GRAPHC_I32: return ((const int32_t *)p)[i];
    case GRAPHC_I64: return (double)((const int64_t *)p)[i];
    default: return ((const uint8_t *)p)[i];
  }
}

static double value(graphc_dtype_t dt, int r, int i) {
  double v = gen(r, i);
  if (dt == GRAPHC_BOOL) return v > 0;
  if (dt == GRAPHC_I32 || dt == GRAPHC_I64) return floor(v);
  return v;
}

static double reduced(graphc_dtype_t dt, gc_reduce_op op, int i) {
  double acc = value(dt, 0, i);
  for (int r = 1; r < size; r++) acc = op == GC_REDUCE_MAX ? fmax(acc, value(dt, r, i)) : acc + value(dt, r, i);
  return op == GC_REDUCE_AVG ? acc / size : acc;
}

static void ok_or_report(graphc_status_t st, const char *what) {
  check(st == NULL, "%s: %s", what, graphc_status_message(st));
  graphc_status_free(st);
}

static void run_collectives(gc_comm *c) {
  static const graphc_dtype_t dts[] = {GRAPHC_F32, GRAPHC_F64, GRAPHC_F16, GRAPHC_BF16,
                                       GRAPHC_I32, GRAPHC_I64, GRAPHC_BOOL};
  uint64_t buf[N * 16], out[N * 16];
  for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
    graphc_dtype_t dt = dts[k];
    const char *dn = graphc_dtype_name(dt);
    bool is_float = dt != GRAPHC_I32 && dt != GRAPHC_I64 && dt != GRAPHC_BOOL;
    for (int o = 0; o < 3; o++) {
      gc_reduce_op op = (gc_reduce_op)o;
      if ((op == GC_REDUCE_AVG && !is_float) || (dt == GRAPHC_BOOL && op != GC_REDUCE_MAX)) continue;
      for (int i = 0; i < N; i++) store(buf, dt, i, value(dt, rank, i));
      gc_comm_request *req = NULL;
      graphc_status_t st = c->vt->all_reduce_start(c, buf, N, dt, op, "all_reduce", &req);
      if (!st) st = c->vt->wait(c, req);
      ok_or_report(st, "all_reduce");
      for (int i = 0; i < N; i++)
        check(load(buf, dt, i) == reduced(dt, op, i), "all_reduce %s op %d element %d: %g vs %g", dn, o, i,
              load(buf, dt, i), reduced(dt, op, i));
      /* reduce_scatter: every rank sends N*size, keeps N */
      for (int i = 0; i < N * size; i++) store(buf, dt, i, value(dt, rank, i % N) + (i / N));
      st = c->vt->reduce_scatter_start(c, buf, out, N, dt, op, "reduce_scatter", &req);
      if (!st) st = c->vt->wait(c, req);
      ok_or_report(st, "reduce_scatter");
      for (int i = 0; i < N; i++) {
        double want = reduced(dt, op, i) + (op == GC_REDUCE_SUM ? size * rank : dt == GRAPHC_BOOL ? 0 : rank);
        if (dt == GRAPHC_BOOL) want = rank > 0 || reduced(dt, op, i);
        check(load(out, dt, i) == want, "reduce_scatter %s op %d element %d: %g vs %g", dn, o, i,
              load(out, dt, i), want);
      }
    }
    /* all_gather and broadcast move bytes */
    for (int i = 0; i < N; i++) store(buf, dt, i, value(dt, rank, i));
    gc_comm_request *req = NULL;
    graphc_status_t st = c->vt->all_gather_start(c, buf, out, N, dt, "all_gather", &req);
    if (!st) st = c->vt->wait(c, req);
    ok_or_report(st, "all_gather");
    for (int r = 0; r < size; r++)
      for (int i = 0; i < N; i++)
        check(load(out, dt, r * N + i) == value(dt, r, i), "all_gather %s rank %d element %d", dn, r, i);
    st = c->vt->broadcast_start(c, buf, N, dt, size - 1, "broadcast", &req);
    if (!st) st = c->vt->wait(c, req);
    ok_or_report(st, "broadcast");
    for (int i = 0; i < N; i++) check(load(buf, dt, i) == value(dt, size - 1, i), "broadcast %s element %d", dn, i);
  }
}

static int contains(graphc_status_t st, const char *s) { return st && strstr(graphc_status_message(st), s); }

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 16) MPI_Abort(MPI_COMM_WORLD, 3); /* buffers are sized for 16 ranks */
  gc_comm *c;
  graphc_status_t st = gc_comm_mpi_create(NULL, &c);
  if (st) {
    fprintf(stderr, "rank %d: %s\n", rank, graphc_status_message(st));
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  check(c->rank == rank && c->size == size && strcmp(c->vt->name, "mpi") == 0, "rank/size/name");
  run_collectives(c);

  /* exchange */
  int mine[2] = {rank, rank * rank}, all[32];
  ok_or_report(c->vt->exchange(c, mine, sizeof mine, all), "exchange");
  for (int r = 0; r < size; r++) check(all[2 * r] == r && all[2 * r + 1] == r * r, "exchange slot %d", r);

  /* argument errors: the same on every rank, nothing started */
  float f[2] = {0};
  gc_comm_request *req = NULL;
  st = c->vt->broadcast_start(c, f, 2, GRAPHC_F32, size, "bc", &req);
  check(graphc_status_code(st) == GRAPHC_STATUS_OUT_OF_RANGE && contains(st, "root"), "bad root");
  graphc_status_free(st);
  st = c->vt->all_reduce_start(c, f, (int64_t)1 << 33, GRAPHC_F32, GC_REDUCE_SUM, "big", &req);
  check(graphc_status_code(st) == GRAPHC_STATUS_OUT_OF_RANGE && contains(st, "int count"), "huge count");
  graphc_status_free(st);
  st = c->vt->all_reduce_start(c, f, 2, GRAPHC_I32, GC_REDUCE_AVG, "avg", &req);
  check(graphc_status_code(st) == GRAPHC_STATUS_INVALID_ARGUMENT, "avg of i32");
  graphc_status_free(st);

  /* a timed-out wait: the last rank never starts its all_reduce */
  if (size > 1) {
    c->timeout_s = 0.2;
    float *leaked = calloc(4, sizeof *leaked); /* stays with MPI after a timeout */
    if (rank != size - 1) {
      st = c->vt->all_reduce_start(c, leaked, 4, GRAPHC_F32, GC_REDUCE_SUM, "all_reduce %late", &req);
      if (!st) st = c->vt->wait(c, req);
      check(graphc_status_code(st) == GRAPHC_STATUS_UNAVAILABLE && contains(st, "timed out after 0.2 s") &&
                contains(st, "all_reduce %late"),
            "timeout: %s", graphc_status_message(st));
      graphc_status_free(st);
      st = c->vt->exchange(c, mine, sizeof mine, all);
      check(graphc_status_code(st) == GRAPHC_STATUS_FAILED_PRECONDITION && contains(st, "unusable"),
            "after a timeout: %s", graphc_status_message(st));
      graphc_status_free(st);
    } else {
      free(leaked);
    }
  }
  c->vt->destroy(c);
  MPI_Finalize();
  printf("rank %d of %d: %d comm checks passed, %d failed\n", rank, size, passed, failed);
  return failed ? 1 : 0;
}
