/* Memory planner (codegen/kernel/memplan.c): no two temps alive at the
 * same step share bytes (every pair checked), in-place pairs share, the
 * peak is below the naive sum on chains, and lowered elementwise chains
 * get in-place reuse that the reference executor runs correctly. */
#include "kernel/memplan.h"
#include "lower_harness.h"

TestSuite(memplan, .init = lh_setup, .fini = lh_teardown);

static kir_buffer temp(int first, int last) {
  kir_buffer b;
  memset(&b, 0, sizeof b);
  b.role = KIR_BUF_TEMP;
  b.dtype = GRAPHC_F32;
  b.first_step = first;
  b.last_step = last;
  b.inplace_src = -1;
  return b;
}

static bool alive_together(const kir_buffer *a, const kir_buffer *b) {
  return a->first_step <= b->last_step && b->first_step <= a->last_step;
}

static bool inplace_pair(const kir_buffer *bufs, int i, int j) {
  return (bufs[i].inplace && bufs[i].inplace_src == j) || (bufs[j].inplace && bufs[j].inplace_src == i);
}

/* Every pair of temps alive at a common step is disjoint, unless one
 * is written in place of the other; offsets are aligned. */
static void check_plan(const kir_buffer *bufs, const int64_t *bytes, int n, const int64_t *off, int64_t peak,
                       int64_t align) {
  for (int i = 0; i < n; i++) {
    if (bufs[i].role != KIR_BUF_TEMP) {
      cr_expect_eq(off[i], -1, "non-temp %d got offset %lld", i, (long long)off[i]);
      continue;
    }
    cr_assert(off[i] >= 0 && off[i] % align == 0, "temp %d offset %lld", i, (long long)off[i]);
    cr_assert(off[i] + bytes[i] <= peak, "temp %d ends past the peak", i);
    for (int j = i + 1; j < n; j++) {
      if (bufs[j].role != KIR_BUF_TEMP || !alive_together(&bufs[i], &bufs[j]) || inplace_pair(bufs, i, j)) continue;
      bool disjoint = off[i] + bytes[i] <= off[j] || off[j] + bytes[j] <= off[i];
      cr_assert(disjoint || bytes[i] == 0 || bytes[j] == 0, "temps %d [%lld, +%lld) and %d [%lld, +%lld) overlap", i,
                (long long)off[i], (long long)bytes[i], j, (long long)off[j], (long long)bytes[j]);
    }
  }
}

Test(memplan, chain_reuses_memory) {
  enum { N = 10 };
  kir_buffer bufs[N + 2];
  int64_t bytes[N + 2], off[N + 2], peak, sum = 0;
  for (int i = 0; i < N; i++) {
    bufs[i] = temp(i, i + 1); /* written by step i, read by step i + 1 */
    bytes[i] = 1000 + 100 * i;
    sum += bytes[i];
  }
  bufs[N] = temp(0, 0), bufs[N].role = KIR_BUF_INPUT, bytes[N] = 5000;
  bufs[N + 1] = temp(0, 0), bufs[N + 1].role = KIR_BUF_OUTPUT, bytes[N + 1] = 5000;
  OK(gc_memplan(bytes, bufs, N + 2, 64, off, &peak));
  check_plan(bufs, bytes, N + 2, off, peak, 64);
  cr_expect_lt(peak, sum / 3, "peak %lld is not well below the sum %lld", (long long)peak, (long long)sum);
  /* two neighbours alive at once bound it from below */
  cr_expect_geq(peak, 1792 + 1856);
}

Test(memplan, random_lifetimes) {
  uint64_t rng = lh_seed;
  for (int round = 0; round < 200; round++) {
    int n = 1 + (int)(lh_next(&rng) % 40);
    kir_buffer bufs[40];
    int64_t bytes[40], off[40], peak;
    for (int i = 0; i < n; i++) {
      int a = (int)(lh_next(&rng) % 20), len = (int)(lh_next(&rng) % 6);
      bufs[i] = temp(a, a + len);
      bytes[i] = (int64_t)(lh_next(&rng) % 5000);
      if (lh_next(&rng) % 8 == 0) bufs[i].role = KIR_BUF_INPUT;
    }
    /* a few in-place candidates, valid or not: the planner must only
     * honour valid ones */
    for (int i = 0; i < n; i++)
      if (lh_next(&rng) % 4 == 0) {
        int j = (int)(lh_next(&rng) % (uint64_t)n);
        bufs[i].inplace = true;
        bufs[i].inplace_src = j;
        if (lh_next(&rng) & 1) bufs[i].first_step = bufs[j].last_step, bytes[i] = bytes[j];
        if (bufs[i].last_step < bufs[i].first_step) bufs[i].last_step = bufs[i].first_step;
      }
    OK(gc_memplan(bytes, bufs, n, 64, off, &peak));
    /* honoured pairs share an offset; check the rest as usual */
    for (int i = 0; i < n; i++) {
      int j = bufs[i].inplace_src;
      if (!bufs[i].inplace || j < 0 || j == i || bufs[i].role != KIR_BUF_TEMP || bufs[j].role != KIR_BUF_TEMP)
        continue;
      if (off[i] != off[j]) bufs[i].inplace = false; /* not honoured: must then be disjoint */
    }
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++)
        if (i != j && bufs[i].inplace && bufs[i].inplace_src == j && bufs[j].inplace && bufs[j].inplace_src == i)
          bufs[i].inplace = false;
    check_plan(bufs, bytes, n, off, peak, 64);
  }
}

Test(memplan, inplace_pair_shares) {
  kir_buffer bufs[3] = {temp(0, 1), temp(1, 2), temp(1, 2)};
  bufs[1].inplace = true;
  bufs[1].inplace_src = 0;
  int64_t bytes[3] = {4096, 4096, 4096}, off[3], peak;
  OK(gc_memplan(bytes, bufs, 3, 64, off, &peak));
  cr_expect_eq(off[0], off[1]);
  cr_expect_neq(off[2], off[1]);
  cr_expect_eq(peak, 8192);
  /* a size mismatch or a source alive later is not in place */
  bytes[1] = 8192;
  OK(gc_memplan(bytes, bufs, 3, 64, off, &peak));
  cr_expect_neq(off[0], off[1]);
}

Test(memplan, bad_arguments) {
  kir_buffer b = temp(0, 0);
  int64_t bytes = 10, off, peak;
  graphc_status_t st = gc_memplan(&bytes, &b, 1, 48, &off, &peak);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_INVALID_ARGUMENT);
  graphc_status_free(st);
  bytes = -1;
  st = gc_memplan(&bytes, &b, 1, 64, &off, &peak);
  cr_expect_eq(graphc_status_code(st), GRAPHC_STATUS_INVALID_ARGUMENT);
  graphc_status_free(st);
  OK(gc_memplan(NULL, NULL, 0, 64, NULL, &peak));
  cr_expect_eq(peak, 0);
}

/* An unfused elementwise chain: each kernel may overwrite the temp the
 * previous one wrote; the planner then needs two slots, not five. */
Test(memplan, lowered_chain_in_place) {
  const char *text = "graph t(x: f32[B, N] input) {\n  %a = sin(x)\n  %b = exp(%a)\n  %c = neg(%b)\n"
                     "  %d = cos(%c)\n  %e = tanh(%d)\n  %f = abs(%e)\n  return %f\n}\n";
  gc_graph *g = lh_parse(text);
  kir_program *p = NULL;
  gc_lower_options o = {.no_fusion = true};
  OK(gc_lower_graph(g, &o, &p));
  int temps = 0, inplace = 0;
  for (int b = 0; b < p->nbuffers; b++) {
    temps += p->buffers[b].role == KIR_BUF_TEMP;
    inplace += p->buffers[b].inplace;
  }
  cr_expect_eq(temps, 5);
  cr_expect_geq(inplace, 4, "in-place marks: %d", inplace);
  int64_t bytes[16], off[16], peak;
  for (int b = 0; b < p->nbuffers; b++) bytes[b] = 4 * 3 * 100;
  OK(gc_memplan(bytes, p->buffers, p->nbuffers, 64, off, &peak));
  check_plan(p->buffers, bytes, p->nbuffers, off, peak, 64);
  cr_expect_leq(peak, 1216, "peak %lld: the chain should reuse one slot", (long long)peak);
  gc_lower_free(p);
  graphc_graph_release(g);
  /* and it computes the right thing */
  gc_lower_free(lh_check(text, &(lh_opts){.syms = "B=3 N=100"}, true));
}

/* A kernel that reads the dying temp at other elements than it writes
 * (a transpose) must not write over it. */
Test(memplan, no_in_place_through_a_transpose) {
  const char *text = "graph t(x: f32[N, N] input) {\n  %e = exp(x)\n  %t = transpose(%e, dim0=0, dim1=1)\n"
                     "  %s = sin(%t)\n  %u = cos(%s)\n  return %u\n}\n";
  gc_graph *g = lh_parse(text);
  kir_program *p = NULL;
  gc_lower_options o = {.no_fusion = true};
  OK(gc_lower_graph(g, &o, &p));
  for (int b = 0; b < p->nbuffers; b++)
    if (p->buffers[b].inplace) cr_expect_neq(strcmp(p->buffers[b].name, "s"), 0, "s written over e");
  gc_lower_free(p);
  graphc_graph_release(g);
  gc_lower_free(lh_check(text, &(lh_opts){.syms = "N=9"}, true));
}
