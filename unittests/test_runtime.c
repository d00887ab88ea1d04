/* The runtime: thread pool, executables over hand-written kernel-IR
 * programs (C stand-ins for generated kernels, so no lowering or LLVM is
 * involved), input checks, errors reported by kernels, the parallel-for
 * hook and the arena plan. Compiled end to end: test_runtime_compile.c. */
#include <pthread.h>
#include <stdatomic.h>

#include "runtime_harness.h"
#include "rt/exec_eval.h"
#include "rt/block_cache.h"
#include "rt/thread_pool.h"

static graphc_context_t *ctx;
static void setup(void) {
  graphc_context_options_t o;
  graphc_context_options_init(&o);
  o.num_threads = 4;
  OK(graphc_context_create(&o, &ctx));
}
static void teardown(void) { graphc_context_release(ctx); }
TestSuite(runtime, .init = setup, .fini = teardown);

/* ---- thread pool ------------------------------------------------------------- */

typedef struct visit {
  _Atomic int *count;
  int64_t grain, n;
  _Atomic int bad_chunks;
  gc_thread_pool *pool; /* for nested loops */
} visit;

static void mark(void *closure, int64_t b, int64_t e) {
  visit *v = closure;
  /* Every chunk but the last is at least `grain` long. */
  if (e - b < v->grain && e != v->n) atomic_fetch_add(&v->bad_chunks, 1);
  if (b < 0 || e > v->n || b >= e) atomic_fetch_add(&v->bad_chunks, 1);
  for (int64_t i = b; i < e && i < v->n && i >= 0; i++) atomic_fetch_add(&v->count[i], 1);
}

static void check_once(gc_thread_pool *pool, int64_t n, int64_t grain) {
  visit v = {.grain = grain, .n = n};
  v.count = calloc((size_t)n + 1, sizeof *v.count);
  atomic_init(&v.bad_chunks, 0);
  gc_thread_pool_parallel_for(pool, n, grain, mark, &v);
  for (int64_t i = 0; i < n; i++)
    cr_assert_eq(atomic_load(&v.count[i]), 1, "n=%lld grain=%lld: index %lld visited %d times",
                 (long long)n, (long long)grain, (long long)i, atomic_load(&v.count[i]));
  cr_assert_eq(atomic_load(&v.bad_chunks), 0, "n=%lld grain=%lld: chunk shorter than grain",
               (long long)n, (long long)grain);
  free(v.count);
}

Test(runtime, pool_visits_every_index_once) {
  const int threads[] = {1, 2, 3, 8};
  const int64_t ns[] = {0, 1, 2, 7, 64, 1000, 4097, 100003};
  const int64_t grains[] = {0, 1, 3, 64, 1000, 1 << 20};
  int combos = 0;
  for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
    gc_thread_pool *pool;
    OK(gc_thread_pool_create(threads[t], &pool));
    cr_assert_eq(gc_thread_pool_size(pool), threads[t]);
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
      for (size_t b = 0; b < sizeof grains / sizeof *grains; b++, combos++)
        check_once(pool, ns[a], grains[b] ? grains[b] : 1);
    /* Many short loops back to back: generations never mix. */
    for (int r = 0; r < 300; r++) check_once(pool, 1 + r % 37, 1);
    gc_thread_pool_free(pool);
  }
  cr_assert_eq(combos, 4 * 8 * 6);
}

static void nested(void *closure, int64_t b, int64_t e) {
  visit *outer = closure;
  for (int64_t i = b; i < e; i++) {
    atomic_fetch_add(&outer->count[i], 1);
    check_once(outer->pool, 50, 4); /* runs inline: the pool is busy */
  }
}

Test(runtime, pool_nested_loops_run_inline) {
  gc_thread_pool *pool;
  OK(gc_thread_pool_create(4, &pool));
  visit v = {.grain = 1, .n = 64, .pool = pool};
  v.count = calloc(64, sizeof *v.count);
  gc_thread_pool_parallel_for(pool, 64, 1, nested, &v);
  for (int i = 0; i < 64; i++) cr_assert_eq(atomic_load(&v.count[i]), 1);
  free(v.count);
  gc_thread_pool_free(pool);
}

static void *hammer(void *arg) {
  gc_thread_pool *pool = arg;
  for (int r = 0; r < 200; r++) check_once(pool, 1000 + r, 7);
  return NULL;
}

Test(runtime, pool_concurrent_callers) {
  gc_thread_pool *pool;
  OK(gc_thread_pool_create(3, &pool));
  pthread_t t[3];
  for (int i = 0; i < 3; i++) cr_assert_eq(pthread_create(&t[i], NULL, hammer, pool), 0);
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  gc_thread_pool_free(pool);
  gc_thread_pool *bad = (gc_thread_pool *)1;
  FAILS(gc_thread_pool_create(0, &bad), GRAPHC_STATUS_INVALID_ARGUMENT, "thread pool size");
  cr_assert_null(bad);
}

/* ---- executables on a hand-written program ----------------------------------- */

Test(runtime, executable_matches_interpreter_across_sizes) {
  graphc_graph_t *gr;
  graphc_executable_t *exe = rt_lin_executable(ctx, &gr, rt_lin_kernel);
  cr_assert_eq(graphc_executable_num_kernels(exe), 1);
  cr_assert_eq(graphc_executable_num_inputs(exe), 3);
  cr_assert_eq(graphc_executable_num_outputs(exe), 3);
  cr_assert_eq(graphc_executable_peak_bytes(exe), 0);
  /* One executable, many sizes, strided and contiguous inputs; sizes
   * repeat so the cached plan is reused between changes. */
  const int64_t Bs[] = {1, 5, 0, 5, 20000, 3, 3, 64};
  const int64_t Ks[] = {4, 4, 7, 4, 16, 1, 1, 33};
  for (int r = 0; r < 8; r++) {
    rt_tensor in[3];
    rt_lin_inputs(in, Bs[r], Ks[r], 100 + (uint64_t)r, r % 2 == 1);
    char what[64];
    snprintf(what, sizeof what, "B=%lld K=%lld", (long long)Bs[r], (long long)Ks[r]);
    rt_compare(exe, gr, in, 3, 1e-5, what);
    /* The arena holds h = f32[B, 3] and little else (alignment). */
    int64_t h = Bs[r] * 3 * 4, peak = graphc_executable_peak_bytes(exe);
    cr_assert(peak >= h && peak < h + 128, "%s: peak %lld", what, (long long)peak);
    for (int i = 0; i < 3; i++) rt_tensor_free(&in[i]);
  }
  graphc_executable_release(exe);
}

static void pick_first_thread(void *user, int64_t n, int64_t grain, graphc_task_fn fn, void *closure) {
  _Atomic int *calls = user;
  atomic_fetch_add(calls, 1);
  /* Serial, in two halves, to show the hook decides the chunking. */
  int64_t half = n / 2 > grain ? n / 2 : n;
  fn(closure, 0, half);
  if (half < n) fn(closure, half, n);
}

Test(runtime, parallel_for_hook_replaces_the_pool) {
  graphc_graph_t *gr;
  graphc_executable_t *exe = rt_lin_executable(ctx, &gr, rt_lin_kernel);
  _Atomic int calls;
  atomic_init(&calls, 0);
  OK(graphc_executable_set_parallel_for(exe, pick_first_thread, &calls));
  rt_tensor in[3];
  rt_lin_inputs(in, 100000, 2, 7, false);
  rt_compare(exe, gr, in, 3, 1e-5, "hooked");
  cr_assert_eq(atomic_load(&calls), 1, "one kernel step, one loop");
  OK(graphc_executable_set_parallel_for(exe, NULL, NULL));
  rt_compare(exe, gr, in, 3, 1e-5, "pool again");
  cr_assert_eq(atomic_load(&calls), 1);
  for (int i = 0; i < 3; i++) rt_tensor_free(&in[i]);
  graphc_executable_release(exe);
  FAILS(graphc_executable_set_parallel_for(NULL, NULL, NULL), GRAPHC_STATUS_INVALID_ARGUMENT, "NULL");
}

Test(runtime, context_parallel_for_hook) {
  _Atomic int calls;
  atomic_init(&calls, 0);
  graphc_status_t st = graphc_set_parallel_for(ctx, pick_first_thread, &calls);
  if (st && graphc_status_code(st) == GRAPHC_STATUS_UNIMPLEMENTED) {
    graphc_status_free(st);
    cr_skip_test("the context has no parallel-for hook in this build");
  }
  OK(st);
  graphc_graph_t *gr;
  graphc_executable_t *exe = rt_lin_executable(ctx, &gr, rt_lin_kernel);
  cr_assert_null(exe->pool, "no pool is started behind the application's hook");
  rt_tensor in[3];
  rt_lin_inputs(in, 50000, 2, 7, false);
  rt_compare(exe, gr, in, 3, 1e-5, "context hook");
  cr_assert_eq(atomic_load(&calls), 1);
  graphc_executable_release(exe);
  OK(graphc_set_parallel_for(ctx, NULL, NULL));
  exe = rt_lin_executable(ctx, &gr, rt_lin_kernel);
  cr_assert_not_null(exe->pool);
  rt_compare(exe, gr, in, 3, 1e-5, "default again");
  cr_assert_eq(atomic_load(&calls), 1);
  for (int i = 0; i < 3; i++) rt_tensor_free(&in[i]);
  graphc_executable_release(exe);
  FAILS(graphc_set_parallel_for(NULL, NULL, NULL), GRAPHC_STATUS_INVALID_ARGUMENT, "NULL");
}

Test(runtime, bad_inputs_are_clear_errors) {
  graphc_graph_t *gr;
  graphc_executable_t *exe = rt_lin_executable(ctx, &gr, rt_lin_kernel);
  rt_tensor in[3];
  rt_lin_inputs(in, 4, 5, 1, false);
  DLTensor *p[3] = {&in[0].t, &in[1].t, &in[2].t};
  DLManagedTensor *out[3] = {0};
  FAILS(graphc_executable_run(exe, p, 2, out, 3), GRAPHC_STATUS_INVALID_ARGUMENT, "takes 3 inputs, got 2");
  FAILS(graphc_executable_run(exe, p, 3, out, 2), GRAPHC_STATUS_INVALID_ARGUMENT, "room for 2");
  FAILS(graphc_executable_run(NULL, p, 3, out, 3), GRAPHC_STATUS_INVALID_ARGUMENT, "NULL");
  /* w must be [K, 3] with the K that x binds: 5. */
  int64_t bad_w[2] = {4, 3};
  rt_tensor w;
  rt_tensor_random(&w, GRAPHC_F32, 2, bad_w, 3, false);
  DLTensor *q[3] = {&in[0].t, &w.t, &in[2].t};
  FAILS(graphc_executable_run(exe, q, 3, out, 3), GRAPHC_STATUS_INVALID_ARGUMENT,
        "input 1 'w': expected f32[K, 3], got dim 0 = 4 but K = 5");
  in[2].t.dtype = gc_dtype_to_dl(GRAPHC_F64);
  FAILS(graphc_executable_run(exe, p, 3, out, 3), GRAPHC_STATUS_INVALID_ARGUMENT,
        "input 2 'b': expected f32[3], got f64 with rank 1");
  in[2].t.dtype = gc_dtype_to_dl(GRAPHC_F32);
  in[2].t.ndim = 2;
  FAILS(graphc_executable_run(exe, p, 3, out, 3), GRAPHC_STATUS_INVALID_ARGUMENT, "with rank 2");
  in[2].t.ndim = 1;
  in[0].t.device.device_type = kDLCUDA;
  FAILS(graphc_executable_run(exe, p, 3, out, 3), GRAPHC_STATUS_INVALID_ARGUMENT, "device type 2");
  in[0].t.device.device_type = kDLCPU;
  p[1] = NULL;
  FAILS(graphc_executable_run(exe, p, 3, out, 3), GRAPHC_STATUS_INVALID_ARGUMENT, "NULL tensor");
  cr_assert_null(out[0], "nothing written on failure");
  p[1] = &in[1].t;
  in[1].t.dtype = (DLDataType){kDLComplex, 64, 1};
  FAILS(graphc_executable_run(exe, p, 3, out, 3), GRAPHC_STATUS_INVALID_ARGUMENT, "unsupported DLPack dtype");
  in[1].t.dtype = gc_dtype_to_dl(GRAPHC_F32);
  /* After all that, a good call still works. */
  rt_compare(exe, gr, in, 3, 1e-5, "after errors");
  rt_tensor_free(&w);
  for (int i = 0; i < 3; i++) rt_tensor_free(&in[i]);
  graphc_executable_release(exe);
  graphc_executable_release(NULL);
}

static void failing_kernel(int64_t begin, int64_t end, void *const *bufs, const int64_t *sizes,
                           const gc_env *env) {
  rt_lin_kernel(begin, end, bufs, sizes, env);
  for (int64_t o = begin; o < end; o++)
    if (o == 777) env->report_error(env->error_user, GRAPHC_STATUS_OUT_OF_RANGE, "index 9 out of range [0, 3)");
}

Test(runtime, kernel_errors_become_statuses) {
  graphc_graph_t *gr;
  graphc_executable_t *exe = rt_lin_executable(ctx, &gr, failing_kernel);
  rt_tensor in[3];
  rt_lin_inputs(in, 5000, 3, 1, false);
  DLTensor *p[3] = {&in[0].t, &in[1].t, &in[2].t};
  DLManagedTensor *out[3] = {0};
  FAILS(graphc_executable_run(exe, p, 3, out, 3), GRAPHC_STATUS_OUT_OF_RANGE,
        "step 1, kernel bias_relu_sum: index 9 out of range [0, 3)");
  cr_assert_null(out[0]);
  /* Below row 777 the kernel is fine; the next run has a clean slate. */
  for (int i = 0; i < 3; i++) rt_tensor_free(&in[i]);
  rt_lin_inputs(in, 700, 3, 1, false);
  rt_compare(exe, gr, in, 3, 1e-5, "after a failed run");
  for (int i = 0; i < 3; i++) rt_tensor_free(&in[i]);
  graphc_executable_release(exe);
}

typedef struct runner {
  graphc_executable_t *exe;
  graphc_graph_t *gr;
  int64_t B;
} runner;

static void *run_many(void *arg) {
  runner *r = arg;
  for (int k = 0; k < 20; k++) {
    rt_tensor in[3];
    rt_lin_inputs(in, r->B + k, 3, (uint64_t)k, k % 2);
    rt_compare(r->exe, r->gr, in, 3, 1e-5, "concurrent");
    for (int i = 0; i < 3; i++) rt_tensor_free(&in[i]);
  }
  return NULL;
}

Test(runtime, concurrent_runs_of_one_executable) {
  graphc_graph_t *gr;
  graphc_executable_t *exe = rt_lin_executable(ctx, &gr, rt_lin_kernel);
  runner r[3] = {{exe, gr, 10}, {exe, gr, 3000}, {exe, gr, 1}};
  pthread_t t[3];
  for (int i = 0; i < 3; i++) cr_assert_eq(pthread_create(&t[i], NULL, run_many, &r[i]), 0);
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  graphc_executable_release(exe);
}

Test(runtime, eval_mode_runs_the_kernel_ir) {
  if (!gc_rt_eval_available()) cr_skip_test("no kernel-IR evaluator in this build");
  graphc_graph_t *gr;
  graphc_executable_t *exe = rt_lin_executable(ctx, &gr, NULL);
  const int64_t Bs[] = {3, 0, 1000};
  for (int r = 0; r < 3; r++) {
    rt_tensor in[3];
    rt_lin_inputs(in, Bs[r], 6, 5 + (uint64_t)r, r == 2);
    rt_compare(exe, gr, in, 3, 1e-5, "eval");
    for (int i = 0; i < 3; i++) rt_tensor_free(&in[i]);
  }
  graphc_executable_release(exe);
}

Test(runtime, model_check_rejects_inconsistent_programs) {
  graphc_graph_t *gr;
  OK(graphc_graph_parse(ctx, RT_LIN_TEXT, strlen(RT_LIN_TEXT), "lin.gc", &gr));
  gc_model m;
  kir_program *p = rt_lin_program(gr);
  p->buffers[LIN_S].dtype = GRAPHC_F64; /* output 1 is f32 in the graph */
  FAILS(gc_model_from_graph(gr, p, &m), GRAPHC_STATUS_INTERNAL, "output index 1, dtype");
  p = rt_lin_program(gr);
  p->steps[2].dst = LIN_W + 100;
  FAILS(gc_model_from_graph(gr, p, &m), GRAPHC_STATUS_INTERNAL, "copy buffers");
  p = rt_lin_program(gr);
  p->symsrc[0].kind = 2; /* B data-dependent: sizes cannot be known */
  FAILS(gc_model_from_graph(gr, p, &m), GRAPHC_STATUS_UNIMPLEMENTED, "data-dependent");
  p = rt_lin_program(gr);
  p->buffers[LIN_XOUT].role = KIR_BUF_TEMP; /* output 2 never written */
  FAILS(gc_model_from_graph(gr, p, &m), GRAPHC_STATUS_INTERNAL, "output 2 has no buffer");
}

Test(runtime, plan_places_temps_inside_the_peak) {
  graphc_graph_t *gr;
  OK(graphc_graph_parse(ctx, RT_LIN_TEXT, strlen(RT_LIN_TEXT), "lin.gc", &gr));
  kir_program *p = rt_lin_program(gr);
  int64_t bytes[LIN_NBUF] = {40, 12, 12, 120, 120, 40, 40}, off[LIN_NBUF], peak = -1;
  OK(gc_rt_plan(p, bytes, off, &peak));
  cr_assert_geq(peak, 120);
  cr_assert_eq(off[LIN_H] % 64, 0);
  cr_assert_leq(off[LIN_H] + 120, peak);
  kir_program_free(p);
  free(p);
}

Test(runtime, check_steps_stop_the_run) {
  const char *text = "graph chk(flag: i64[2] input) {\n  return flag\n}\n";
  graphc_graph_t *gr;
  OK(graphc_graph_parse(ctx, text, strlen(text), "chk.gc", &gr));
  kir_program *p = calloc(1, sizeof *p);
  p->dims = gc_dimtab_new();
  gc_dim two;
  OK(gc_dim_const(p->dims, 2, &two));
  cr_assert_eq(kir_size(p, two), 0);
  p->ninputs = p->noutputs = 1;
  p->nbuffers = 2;
  p->buffers = calloc(2, sizeof *p->buffers);
  p->buffers[0] = (kir_buffer){.dtype = GRAPHC_I64, .numel = 0, .role = KIR_BUF_INPUT, .rank = 1, .shape = {0}};
  p->buffers[1] = (kir_buffer){.dtype = GRAPHC_I64, .numel = 0, .role = KIR_BUF_OUTPUT, .rank = 1, .shape = {0}};
  p->nsteps = 2;
  p->steps = calloc(2, sizeof *p->steps);
  p->steps[0] = (kir_step){.kind = KIR_STEP_CHECK, .src = 0};
  snprintf(p->steps[0].message, sizeof p->steps[0].message, "chk.gc:2:3: op 'gather': index out of range");
  p->steps[1] = (kir_step){.kind = KIR_STEP_COPY, .src = 0, .dst = 1, .count = 0};
  gc_model m;
  OK(gc_model_from_graph(gr, p, &m));
  graphc_executable_t *exe;
  OK(gc_executable_create_in(ctx, &m, (gc_kernels){0}, GC_EXEC_NATIVE, &exe));
  int64_t shape[1] = {2};
  rt_tensor in;
  rt_tensor_random(&in, GRAPHC_I64, 1, shape, 1, false);
  int64_t *v = in.storage.data;
  v[0] = 0, v[1] = 5;
  rt_compare(exe, gr, &in, 1, 0, "check passes");
  v[0] = 1, v[1] = 42;
  DLTensor *ptr = &in.t;
  DLManagedTensor *out = NULL;
  FAILS(graphc_executable_run(exe, &ptr, 1, &out, 1), GRAPHC_STATUS_OUT_OF_RANGE,
        "chk.gc:2:3: op 'gather': index out of range (got 42)");
  cr_assert_null(out);
  rt_tensor_free(&in);
  graphc_executable_release(exe);
}

Test(runtime, output_blocks_are_reused_and_outlive_the_executable) {
  graphc_graph_t *gr;
  graphc_executable_t *exe = rt_lin_executable(ctx, &gr, rt_lin_kernel);
  rt_tensor in[3];
  rt_lin_inputs(in, 1000, 8, 4, false);
  DLTensor *p[3] = {&in[0].t, &in[1].t, &in[2].t};
  DLManagedTensor *a[3], *b[3];
  OK(graphc_executable_run(exe, p, 3, a, 3));
  void *first = a[0]->dl_tensor.data;
  for (int o = 0; o < 3; o++) a[o]->deleter(a[o]);
  OK(graphc_executable_run(exe, p, 3, b, 3));
  bool reused = false;
  for (int o = 0; o < 3; o++) reused |= b[o]->dl_tensor.data == first;
  cr_assert(reused, "a released output block is handed out again");
  /* Outputs may outlive their executable. */
  graphc_executable_release(exe);
  rt_tensor_free(&in[1]);
  const float *r = b[0]->dl_tensor.data;
  cr_assert(r[0] >= 0, "relu output still readable");
  for (int o = 0; o < 3; o++) b[o]->deleter(b[o]);
  rt_tensor_free(&in[0]);
  rt_tensor_free(&in[2]);
}

Test(runtime, block_cache_limits) {
  gc_block_cache *c;
  OK(gc_block_cache_create(&c));
  size_t cap;
  void *x = gc_block_cache_get(c, 1000, &cap);
  cr_assert_not_null(x);
  cr_assert_eq((uintptr_t)x % 64, 0);
  gc_block_cache_put(c, x, cap); /* limit 0: freed */
  gc_block_cache_set_limit(c, 10000);
  x = gc_block_cache_get(c, 1000, &cap);
  gc_block_cache_put(c, x, cap);
  size_t cap2;
  cr_assert_eq(gc_block_cache_get(c, 900, &cap2), x, "fits: reused");
  cr_assert_eq(cap2, cap);
  gc_block_cache_put(c, x, cap2);
  void *y = gc_block_cache_get(c, 100, &cap2); /* would waste most of x: a new block */
  cr_assert_neq(y, x);
  void *big = gc_block_cache_get(c, 3u << 20, &cap2);
  cr_assert_eq((uintptr_t)big % (2u << 20), 0, "large blocks are huge-page aligned");
  memset(big, 1, 3u << 20);
  gc_block_cache_close(c); /* y and big are still out */
  gc_block_cache_put(c, y, 100);
  gc_block_cache_put(c, big, cap2); /* the last reference frees the cache */
}
