/* Compiled end to end: graphc_compile (LLVM JIT, and the kernel-IR
 * evaluator backend) against the interpreter on random inputs, many sizes
 * per compile; the compile cache under option changes and damage; shared
 * libraries written by the AOT path, loaded back with dlopen. Tests skip
 * (with the reason) in a build without the backend they need. */
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime_harness.h"
#include "rt/aot.h"
#include "rt/cache.h"
#include "rt/compile_driver.h"

static graphc_context_t *ctx;
static char dir[256];
static void setup(void) {
  graphc_context_options_t o;
  graphc_context_options_init(&o);
  o.num_threads = 3;
  OK(graphc_context_create(&o, &ctx));
  snprintf(dir, sizeof dir, "/tmp/graphc_rt_compile_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}
static void teardown(void) {
  graphc_context_release(ctx);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}
TestSuite(compile, .init = setup, .fini = teardown);

/* Compiles, or skips the test when the build lacks the backend. */
static graphc_executable_t *compile_or_skip(const graphc_graph_t *gr, const graphc_compile_options_t *o) {
  graphc_executable_t *exe = NULL;
  graphc_status_t st = graphc_compile(gr, o, &exe);
  if (st && graphc_status_code(st) == GRAPHC_STATUS_UNAVAILABLE) {
    char why[512];
    snprintf(why, sizeof why, "%s", graphc_status_message(st));
    graphc_status_free(st);
    cr_skip_test("backend unavailable in this build: %s", why);
  }
  cr_assert_null(st, "compile '%s': %s", graphc_graph_name(gr), graphc_status_message(st));
  return exe;
}

/* Inputs of `gr` for symbol values "B=3,S=5" (symbol inputs get their
 * value; integer inputs small non-negative values). */
static int make_inputs(const graphc_graph_t *gr, const char *syms, uint64_t seed, rt_tensor *in) {
  const gc_dimtab *t = gc_graph_dims(gr);
  int64_t vals[32] = {0};
  bool bound[32] = {0};
  for (const char *p = syms; *p;) {
    char name[32];
    long long v;
    int used;
    cr_assert_eq(sscanf(p, "%31[^=]=%lld%n", name, &v, &used), 2, "bad spec '%s'", syms);
    int s = gc_dimtab_find_sym(t, name);
    cr_assert_geq(s, 0, "no symbol %s", name);
    vals[s] = v, bound[s] = true;
    p += used;
    if (*p == ',') p++;
  }
  for (int i = 0; i < gr->ninputs; i++) {
    const gc_value *v = &gr->values[gr->inputs[i]];
    int64_t shape[GRAPHC_MAX_RANK];
    for (int d = 0; d < v->type.rank; d++) OK(gc_dim_eval(t, v->type.dims[d], vals, bound, &shape[d]));
    rt_tensor_random(&in[i], v->type.dtype, v->type.rank, shape, seed + (uint64_t)i,
                     v->type.rank >= 2 && (seed & 1));
    if (v->role == GRAPHC_ROLE_SYMBOL) gc_tensor_seti(&in[i].storage, 0, vals[v->sym]);
    else if (v->type.dtype == GRAPHC_I32 || v->type.dtype == GRAPHC_I64)
      for (int64_t e = 0; e < in[i].storage.numel; e++)
        gc_tensor_seti(&in[i].storage, e, gc_tensor_geti(&in[i].storage, e) & 1);
  }
  return gr->ninputs;
}

/* One compile of examples/<file>, then every size spec in `sizes`. */
static void sweep(const char *file, graphc_backend_t backend, const char *const *sizes, int nsizes,
                  double tol) {
  char path[512];
  snprintf(path, sizeof path, "%s/examples/%s", GRAPHC_SOURCE_DIR, file);
  graphc_graph_t *gr;
  OK(graphc_graph_parse_file(ctx, path, &gr));
  graphc_compile_options_t o;
  graphc_compile_options_init(&o);
  o.backend = backend;
  o.cache_enable = false;
  graphc_executable_t *exe = compile_or_skip(gr, &o);
  for (int s = 0; s < nsizes; s++) {
    rt_tensor in[32];
    int n = make_inputs(gr, sizes[s], 17 + (uint64_t)s, in);
    char what[256];
    snprintf(what, sizeof what, "%s [%s] backend %d", file, sizes[s], (int)backend);
    rt_compare(exe, gr, in, n, tol, what);
    for (int i = 0; i < n; i++) rt_tensor_free(&in[i]);
  }
  graphc_executable_release(exe);
}

static const char *const B_SIZES[] = {"B=1", "B=4", "B=0", "B=33", "B=300", "B=4"};
/* amin over dims [0, 1] has no identity: B = 0 is an error there. */
static const char *const B_POS_SIZES[] = {"B=1", "B=4", "B=33", "B=300", "B=4", "B=2"};
static const char *const BS_SIZES[] = {"B=1,S=1", "B=2,S=5", "B=3,S=17", "B=1,S=64"};
static const char *const SYMB_SIZES[] = {"B=2,T=3,n=2", "B=1,T=1,n=0", "B=5,T=7,n=9"};

#define SWEEP_TESTS(backend, tag)                                                              \
  Test(compile, mlp_##tag) { sweep("mlp.gc", backend, B_SIZES, 6, 1e-4); }                    \
  Test(compile, reductions_##tag) { sweep("reductions.gc", backend, B_POS_SIZES, 6, 1e-4); }      \
  Test(compile, symbolic_batch_##tag) { sweep("symbolic_batch.gc", backend, SYMB_SIZES, 3, 1e-4); } \
  Test(compile, transformer_block_##tag) { sweep("transformer_block.gc", backend, BS_SIZES, 4, 1e-3); }

SWEEP_TESTS(GRAPHC_BACKEND_CPU, jit)
SWEEP_TESTS(GRAPHC_BACKEND_CPU_EVAL, eval)

Test(compile, bad_options) {
  graphc_graph_t *gr;
  OK(graphc_graph_parse(ctx, RT_LIN_TEXT, strlen(RT_LIN_TEXT), "lin.gc", &gr));
  graphc_compile_options_t o;
  graphc_compile_options_init(&o);
  graphc_executable_t *exe = (graphc_executable_t *)1;
  o.opt_level = 7;
  FAILS(graphc_compile(gr, &o, &exe), GRAPHC_STATUS_INVALID_ARGUMENT, "opt_level 7");
  cr_assert_null(exe);
  graphc_compile_options_init(&o);
  o.struct_size = 3;
  FAILS(graphc_compile(gr, &o, &exe), GRAPHC_STATUS_INVALID_ARGUMENT, "graphc_compile_options_init");
  FAILS(graphc_compile(NULL, NULL, &exe), GRAPHC_STATUS_INVALID_ARGUMENT, "NULL");
  FAILS(graphc_compile(gr, NULL, NULL), GRAPHC_STATUS_INVALID_ARGUMENT, "out_executable");
}

Test(compile, options_init_reads_the_environment) {
  setenv("GRAPHC_CACHE_DIR", "/some/where", 1);
  setenv("GRAPHC_CACHE", "0", 1);
  graphc_compile_options_t o;
  graphc_compile_options_init(&o);
  cr_assert_str_eq(o.cache_dir, "/some/where");
  cr_assert(!o.cache_enable);
  unsetenv("GRAPHC_CACHE");
  unsetenv("GRAPHC_CACHE_DIR");
  graphc_compile_options_init(&o);
  cr_assert(o.cache_enable);
  cr_assert_null(o.cache_dir);
  cr_assert_eq(o.opt_level, 3);
  cr_assert_eq(o.backend, GRAPHC_BACKEND_CPU);
}

Test(compile, jit_through_the_cache) {
  graphc_graph_t *gr;
  char path[512];
  snprintf(path, sizeof path, "%s/examples/transformer_block.gc", GRAPHC_SOURCE_DIR);
  OK(graphc_graph_parse_file(ctx, path, &gr));
  graphc_compile_options_t o;
  graphc_compile_options_init(&o);
  o.cache_dir = dir;
  graphc_executable_t *a = compile_or_skip(gr, &o), *b = compile_or_skip(gr, &o);
  cr_assert_eq(graphc_executable_cache_state(a), GRAPHC_CACHE_MISS);
  cr_assert_eq(graphc_executable_cache_state(b), GRAPHC_CACHE_HIT, "LLVM skipped the second time");
  cr_assert_eq(graphc_executable_num_kernels(a), graphc_executable_num_kernels(b));
  for (int s = 0; s < 4; s++) {
    rt_tensor in[16];
    int n = make_inputs(gr, BS_SIZES[s], 3 + (uint64_t)s, in);
    rt_compare(a, gr, in, n, 1e-3, "miss");
    rt_compare(b, gr, in, n, 1e-3, "hit");
    for (int i = 0; i < n; i++) rt_tensor_free(&in[i]);
  }
  graphc_executable_release(a);
  graphc_executable_release(b);
  cr_assert_eq(graphc_executable_cache_state(NULL), GRAPHC_CACHE_DISABLED);
}

Test(compile, named_targets) {
  graphc_graph_t *gr;
  OK(graphc_graph_parse(ctx, RT_LIN_TEXT, strlen(RT_LIN_TEXT), "lin.gc", &gr));
  graphc_compile_options_t o;
  graphc_compile_options_init(&o);
  o.cache_enable = false;
  o.target_cpu = "x86-64-v2"; /* every x86-64 machine of the last decade */
  graphc_executable_t *exe = compile_or_skip(gr, &o);
  rt_tensor in[3];
  rt_lin_inputs(in, 9, 5, 1, false);
  rt_compare(exe, gr, in, 3, 1e-5, "x86-64-v2");
  graphc_executable_release(exe);
  /* Code that would need FMA4 (no current CPU has it) never runs. */
  o.target_features = "+fma4";
  FAILS(graphc_compile(gr, &o, &exe), GRAPHC_STATUS_UNAVAILABLE, "lacks feature(s) fma4");
  /* A CPU whose features cannot be known without LLVM's tables. */
  o.target_cpu = "bdver1";
  o.target_features = NULL;
  FAILS(graphc_compile(gr, &o, &exe), GRAPHC_STATUS_INVALID_ARGUMENT, "give the features");
  for (int i = 0; i < 3; i++) rt_tensor_free(&in[i]);
}

/* ---- the cache through the AOT path -------------------------------------- */

static graphc_cache_state_t aot_once(const graphc_graph_t *gr, const graphc_compile_options_t *o,
                                     const char *out) {
  gc_aot_request req = {.output = out, .options = o};
  graphc_cache_state_t cs = GRAPHC_CACHE_DISABLED;
  graphc_status_t st = gc_aot_write(gr, &req, &cs);
  if (st && graphc_status_code(st) == GRAPHC_STATUS_UNAVAILABLE) {
    graphc_status_free(st);
    cr_skip_test("no LLVM backend in this build");
  }
  cr_assert_null(st, "%s", graphc_status_message(st));
  return cs;
}

Test(compile, cache_hit_miss_and_rebuild) {
  graphc_graph_t *gr;
  char path[512], obj[300];
  snprintf(path, sizeof path, "%s/examples/mlp.gc", GRAPHC_SOURCE_DIR);
  OK(graphc_graph_parse_file(ctx, path, &gr));
  snprintf(obj, sizeof obj, "%s/mlp.o", dir);
  graphc_compile_options_t o;
  graphc_compile_options_init(&o);
  o.cache_enable = true;
  o.cache_dir = dir;
  cr_assert_eq(aot_once(gr, &o, obj), GRAPHC_CACHE_MISS);
  cr_assert_eq(aot_once(gr, &o, obj), GRAPHC_CACHE_HIT);
  /* Any option that changes the code is a different entry. */
  o.opt_level = 1;
  cr_assert_eq(aot_once(gr, &o, obj), GRAPHC_CACHE_MISS, "opt level");
  o.opt_level = 3;
  o.pipeline = "dce";
  cr_assert_eq(aot_once(gr, &o, obj), GRAPHC_CACHE_MISS, "pipeline");
  o.pipeline = NULL;
  o.target_cpu = "x86-64-v2";
  o.target_features = "";
  cr_assert_eq(aot_once(gr, &o, obj), GRAPHC_CACHE_MISS, "target");
  cr_assert_eq(aot_once(gr, &o, obj), GRAPHC_CACHE_HIT, "target again");
  o.target_cpu = o.target_features = NULL;
  cr_assert_eq(aot_once(gr, &o, obj), GRAPHC_CACHE_HIT, "back to the first");
  /* A different graph text (one constant changed) is a miss. */
  graphc_graph_t *g2;
  const char *t2 = "graph lin(x: f32[B, 4] input) {\n  %y = mul(x, x)\n  return %y\n}\n";
  OK(graphc_graph_parse(ctx, t2, strlen(t2), "a.gc", &g2));
  cr_assert_eq(aot_once(g2, &o, obj), GRAPHC_CACHE_MISS);
  const char *t3 = "graph lin(x: f32[B, 5] input) {\n  %y = mul(x, x)\n  return %y\n}\n";
  OK(graphc_graph_parse(ctx, t3, strlen(t3), "a.gc", &g2));
  cr_assert_eq(aot_once(g2, &o, obj), GRAPHC_CACHE_MISS);
  /* Damage every entry: each is reported, rebuilt, then hit again. */
  char cmd[600];
  snprintf(cmd, sizeof cmd, "for f in '%s'/*.gce; do printf 'XXXX' | dd of=\"$f\" bs=1 seek=200 conv=notrunc 2>/dev/null; done", dir);
  cr_assert_eq(system(cmd), 0);
  cr_assert_eq(aot_once(gr, &o, obj), GRAPHC_CACHE_REBUILT);
  cr_assert_eq(aot_once(gr, &o, obj), GRAPHC_CACHE_HIT);
  snprintf(cmd, sizeof cmd, "for f in '%s'/*.gce; do truncate -s 150 \"$f\"; done", dir);
  cr_assert_eq(system(cmd), 0);
  cr_assert_eq(aot_once(gr, &o, obj), GRAPHC_CACHE_REBUILT);
  o.cache_enable = false;
  cr_assert_eq(aot_once(gr, &o, obj), GRAPHC_CACHE_DISABLED);
}

/* ---- shared libraries ----------------------------------------------------- */

Test(compile, aot_shared_library_loads_and_matches) {
  graphc_graph_t *gr;
  char path[512], so[300];
  snprintf(path, sizeof path, "%s/examples/mlp.gc", GRAPHC_SOURCE_DIR);
  OK(graphc_graph_parse_file(ctx, path, &gr));
  snprintf(so, sizeof so, "%s/libmlp.so", dir);
  graphc_compile_options_t o;
  graphc_compile_options_init(&o);
  o.cache_dir = dir;
  aot_once(gr, &o, so);
  /* The same compile from the cache gives the description. */
  gc_compile_request r;
  OK(gc_compile_request_init(&o, &r));
  gc_model m;
  uint8_t *obj;
  size_t len;
  graphc_cache_state_t cs;
  OK(gc_compile_object(gr, &r, "mlp", &m, &obj, &len, &cs));
  cr_assert_eq(cs, GRAPHC_CACHE_HIT);
  gc_compile_request_free(&r);
  free(obj);
  uint8_t *desc;
  size_t dlen;
  OK(gc_model_serialize(&m, &desc, &dlen));
  void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  cr_assert_not_null(h, "dlopen: %s", dlerror());
  int nk = m.prog->nkernels;
  void (**kernels)(void) = calloc((size_t)nk + 1, sizeof *kernels);
  for (int k = 0; k < nk; k++) {
    char sym[64];
    snprintf(sym, sizeof sym, "mlp_k%d", k);
    *(void **)&kernels[k] = dlsym(h, sym);
    cr_assert_not_null(kernels[k], "%s missing from %s", sym, so);
  }
  graphc_executable_t *exe;
  OK(graphc_aot_load(ctx, desc, dlen, (void (*const *)(void))kernels, nk, &exe));
  const char *sizes[] = {"B=3", "B=100"};
  for (int s = 0; s < 2; s++) {
    rt_tensor in[8];
    int n = make_inputs(gr, sizes[s], 5, in);
    rt_compare(exe, gr, in, n, 1e-4, sizes[s]);
    for (int i = 0; i < n; i++) rt_tensor_free(&in[i]);
  }
  graphc_executable_release(exe);
  dlclose(h);
  free(kernels);
  free(desc);
  gc_model_free(&m);
  /* Not .o or .so: refused before any work. */
  gc_aot_request bad = {.output = "model.dll"};
  FAILS(gc_aot_write(gr, &bad, NULL), GRAPHC_STATUS_INVALID_ARGUMENT, "must end in .o");
}
