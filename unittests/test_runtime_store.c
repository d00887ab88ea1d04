/* What the runtime keeps outside memory: the byte form of model
 * descriptions, the on-disk compile cache, AOT loading and its ABI and
 * CPU-feature checks. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime_harness.h"
#include "rt/cache.h"
#include "rt/cpu_features.h"
#include "rt/sha256.h"

static graphc_context_t *ctx;
static char dir[256];
static void setup(void) {
  OK(graphc_context_create(NULL, &ctx));
  snprintf(dir, sizeof dir, "/tmp/graphc_rt_store_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}
static void teardown(void) {
  graphc_context_release(ctx);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}
TestSuite(store, .init = setup, .fini = teardown);

/* The lin model's byte form, with `features` recorded as its target. */
static uint8_t *lin_bytes(graphc_graph_t **gr, const char *features, size_t *len) {
  OK(graphc_graph_parse(ctx, RT_LIN_TEXT, strlen(RT_LIN_TEXT), "lin.gc", gr));
  gc_model m;
  OK(gc_model_from_graph(*gr, rt_lin_program(*gr), &m));
  OK(gc_model_set_target(&m, "testcpu", features, "lin"));
  uint8_t *bytes;
  OK(gc_model_serialize(&m, &bytes, len));
  gc_model_free(&m);
  return bytes;
}

Test(store, sha256_known_answers) {
  uint8_t d[32];
  char hex[65];
  gc_sha256_digest("abc", 3, d);
  gc_sha256_hex(d, hex);
  cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  gc_sha256_digest("", 0, d);
  gc_sha256_hex(d, hex);
  cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  gc_sha256_digest(m, strlen(m), d);
  gc_sha256_hex(d, hex);
  cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(store, model_bytes_round_trip) {
  graphc_graph_t *gr;
  size_t len;
  uint8_t *bytes = lin_bytes(&gr, "+sse2", &len);
  gc_model m;
  OK(gc_model_deserialize(bytes, len, &m));
  cr_assert_str_eq(m.name, "lin");
  cr_assert_str_eq(m.cpu, "testcpu");
  cr_assert_str_eq(m.features, "+sse2");
  cr_assert_str_eq(m.symbol_prefix, "lin");
  cr_assert_eq(m.ninputs, 3);
  cr_assert_eq(m.noutputs, 3);
  char t[128];
  gc_sig_format(&m, &m.inputs[0], t, sizeof t);
  cr_assert_str_eq(t, "f32[B, K]");
  /* Same program text after the trip. */
  kir_program *orig = rt_lin_program(gr);
  char *a = kir_program_print(orig), *b = kir_program_print(m.prog);
  cr_assert_str_eq(a, b);
  free(a);
  free(b);
  kir_program_free(orig);
  free(orig);
  /* Serializing again gives the same bytes. */
  uint8_t *again;
  size_t len2;
  OK(gc_model_serialize(&m, &again, &len2));
  cr_assert_eq(len2, len);
  cr_assert_eq(memcmp(again, bytes, len), 0);
  free(again);
  gc_model_free(&m);
  free(bytes);
}

Test(store, truncated_or_damaged_descriptions_are_data_loss) {
  graphc_graph_t *gr;
  size_t len;
  uint8_t *bytes = lin_bytes(&gr, "", &len);
  /* Every proper prefix is refused cleanly (ASan watches for overreads). */
  for (size_t n = 0; n < len; n++) {
    uint8_t *cut = malloc(n ? n : 1);
    memcpy(cut, bytes, n);
    gc_model m;
    graphc_status_t st = gc_model_deserialize(cut, n, &m);
    cr_assert_not_null(st, "prefix of %zu bytes accepted", n);
    cr_assert(graphc_status_code(st) == GRAPHC_STATUS_DATA_LOSS, "%zu: %s", n, graphc_status_message(st));
    graphc_status_free(st);
    free(cut);
  }
  /* Flipped bytes never crash; whatever is accepted is self-consistent. */
  uint64_t seed = 9;
  for (int r = 0; r < 2000; r++) {
    uint8_t *bad = malloc(len);
    memcpy(bad, bytes, len);
    size_t at = 20 + rt_rand(&seed) % (len - 20);
    bad[at] ^= (uint8_t)(1 + rt_rand(&seed) % 255);
    gc_model m;
    graphc_status_t st = gc_model_deserialize(bad, len, &m);
    if (st) graphc_status_free(st);
    else gc_model_free(&m);
    free(bad);
  }
  free(bytes);
}

Test(store, abi_mismatch_is_a_clear_error) {
  graphc_graph_t *gr;
  size_t len;
  uint8_t *bytes = lin_bytes(&gr, "", &len);
  cr_assert_eq(gc_model_bytes_abi(bytes, len), GRAPHC_ABI_VERSION);
  bytes[12] = (uint8_t)(GRAPHC_ABI_VERSION + 1);
  graphc_executable_t *exe = (graphc_executable_t *)1;
  void (*const kernels[1])(void) = {(void (*)(void))rt_lin_kernel};
  FAILS(graphc_aot_load(ctx, bytes, len, kernels, 1, &exe), GRAPHC_STATUS_FAILED_PRECONDITION,
        "built for graphc ABI version 2, this libgraphc is ABI version 1");
  cr_assert_null(exe);
  FAILS(graphc_aot_load(ctx, (const uint8_t *)"not a model at all!!", 20, kernels, 1, &exe),
        GRAPHC_STATUS_DATA_LOSS, "bad magic");
  free(bytes);
}

Test(store, cpu_feature_checks) {
  OK(gc_cpu_check_features("", NULL, NULL));
  OK(gc_cpu_check_features("+sse2,-avx512f,+cx8", "x86-64", NULL)); /* every x86-64 has these */
  FAILS(gc_cpu_check_features("+avx2,+fma,+avx512f", "znver4", "+avx2,+sse2"),
        GRAPHC_STATUS_UNAVAILABLE, "lacks feature(s) fma, avx512f that the artifact was compiled for (target cpu 'znver4')");
  FAILS(gc_cpu_check_features("+sse2,+warp-drive", "x", NULL), GRAPHC_STATUS_UNAVAILABLE,
        "needs CPU feature(s) warp-drive that this loader cannot check");
  /* Xeon Phi only: no CPU this runs on has it. */
  FAILS(gc_cpu_check_features("+avx512er", "knl", NULL), GRAPHC_STATUS_UNAVAILABLE, "lacks feature(s) avx512er");
  bool known;
  cr_assert(gc_cpu_has_feature("sse2", &known) && known);
  gc_cpu_has_feature("avx512f", &known);
  cr_assert(known);
  gc_cpu_has_feature("nope", &known);
  cr_assert(!known);
}

Test(store, aot_load_runs_and_checks_the_cpu_first) {
  graphc_graph_t *gr;
  size_t len;
  uint8_t *bytes = lin_bytes(&gr, "+sse2,+cx8", &len);
  void (*const kernels[1])(void) = {(void (*)(void))rt_lin_kernel};
  graphc_executable_t *exe;
  OK(graphc_aot_load(ctx, bytes, len, kernels, 1, &exe));
  rt_tensor in[3];
  rt_lin_inputs(in, 123, 9, 3, true);
  rt_compare(exe, gr, in, 3, 1e-5, "aot");
  graphc_executable_release(exe);
  FAILS(graphc_aot_load(ctx, bytes, len, kernels, 2, &exe), GRAPHC_STATUS_INVALID_ARGUMENT,
        "different compiles");
  free(bytes);
  /* An artifact for a CPU with features this one lacks never runs. */
  bytes = lin_bytes(&gr, "+sse2,+avx512er", &len);
  exe = (graphc_executable_t *)1;
  FAILS(graphc_aot_load(ctx, bytes, len, kernels, 1, &exe), GRAPHC_STATUS_UNAVAILABLE,
        "this CPU lacks feature(s) avx512er");
  cr_assert_null(exe);
  free(bytes);
  for (int i = 0; i < 3; i++) rt_tensor_free(&in[i]);
}

/* ---- the compile cache ------------------------------------------------------- */

static gc_cache_key key_of(const char *a, const char *b) {
  const char *parts[] = {a, b};
  gc_cache_key k;
  gc_cache_key_make(parts, 2, &k);
  return k;
}

static gc_cache_entry entry_of(size_t olen, size_t dlen, uint8_t fill) {
  gc_cache_entry e = {.object = malloc(olen + 1), .object_len = olen, .desc = malloc(dlen + 1), .desc_len = dlen};
  for (size_t i = 0; i < olen; i++) e.object[i] = (uint8_t)(fill + i * 7);
  for (size_t i = 0; i < dlen; i++) e.desc[i] = (uint8_t)(fill ^ i);
  return e;
}

static gc_cache_result lookup(const gc_cache_key *k, gc_cache_entry *e) {
  gc_cache_result r;
  OK(gc_cache_lookup(dir, k, e, &r));
  return r;
}

Test(store, cache_hit_and_miss) {
  gc_cache_key k = key_of("graph text", "O3");
  cr_assert_str_neq(k.hex, key_of("graph tex", "tO3").hex, "parts are length-prefixed");
  cr_assert_str_neq(k.hex, key_of("graph text", "O2").hex);
  gc_cache_entry got;
  cr_assert_eq(lookup(&k, &got), GC_CACHE_RESULT_MISS);
  char sub[300];
  snprintf(sub, sizeof sub, "%s/a/b/c", dir); /* created on demand */
  gc_cache_entry e = entry_of(5000, 300, 3);
  OK(gc_cache_store(sub, &k, &e));
  gc_cache_result r;
  OK(gc_cache_lookup(sub, &k, &got, &r));
  cr_assert_eq(r, GC_CACHE_RESULT_HIT);
  cr_assert_eq(got.object_len, 5000);
  cr_assert_eq(got.desc_len, 300);
  cr_assert_eq(memcmp(got.object, e.object, 5000), 0);
  cr_assert_eq(memcmp(got.desc, e.desc, 300), 0);
  gc_cache_entry_free(&got);
  gc_cache_key other = key_of("graph text", "O2");
  OK(gc_cache_lookup(sub, &other, &got, &r));
  cr_assert_eq(r, GC_CACHE_RESULT_MISS);
  /* Storing over an existing entry replaces it. */
  gc_cache_entry e2 = entry_of(10, 0, 9);
  OK(gc_cache_store(sub, &k, &e2));
  OK(gc_cache_lookup(sub, &k, &got, &r));
  cr_assert_eq(r, GC_CACHE_RESULT_HIT);
  cr_assert_eq(got.object_len, 10);
  cr_assert_eq(got.desc_len, 0);
  gc_cache_entry_free(&got);
  gc_cache_entry_free(&e);
  gc_cache_entry_free(&e2);
  /* A file where the directory should be: a clear error. */
  char file[300];
  snprintf(file, sizeof file, "%s/plainfile", dir);
  FILE *f = fopen(file, "w");
  fclose(f);
  e = entry_of(1, 1, 1);
  FAILS(gc_cache_store(file, &k, &e), GRAPHC_STATUS_IO_ERROR, "not a directory");
  gc_cache_entry_free(&e);
}

static void damage(const gc_cache_key *k, long at, int mode) {
  char path[400];
  gc_cache_entry_path(dir, k, path, sizeof path);
  if (mode == 0) { /* flip one byte */
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
  } else {
    cr_assert_eq(truncate(path, at), 0);
  }
}

Test(store, corrupt_and_truncated_entries_are_reported_and_removed) {
  gc_cache_key k = key_of("g", "opts");
  const long spots[] = {0, 9, 20, 50, 70, 96, 1000, 1299};
  for (int mode = 0; mode < 2; mode++)
    for (size_t s = 0; s < sizeof spots / sizeof *spots; s++) {
      gc_cache_entry e = entry_of(1000, 300, 5);
      OK(gc_cache_store(dir, &k, &e));
      gc_cache_entry_free(&e);
      damage(&k, spots[s], mode);
      gc_cache_entry got;
      cr_assert_eq(lookup(&k, &got), GC_CACHE_RESULT_CORRUPT, "mode %d at %ld", mode, spots[s]);
      cr_assert_null(got.object);
      /* Removed, so the rebuild stores afresh. */
      cr_assert_eq(lookup(&k, &got), GC_CACHE_RESULT_MISS);
    }
}

Test(store, concurrent_writers_leave_no_torn_file) {
  gc_cache_key k = key_of("shared", "key");
  enum { WRITERS = 4, ROUNDS = 40 };
  pid_t kids[WRITERS];
  for (int w = 0; w < WRITERS; w++) {
    kids[w] = fork();
    cr_assert_geq(kids[w], 0);
    if (kids[w] == 0) {
      /* Each writer stores entries of a different size and contents. */
      for (int r = 0; r < ROUNDS; r++) {
        gc_cache_entry e = entry_of(20000 + (size_t)w * 7919 + (size_t)r, 100 + (size_t)w, (uint8_t)w);
        graphc_status_t st = gc_cache_store(dir, &k, &e);
        gc_cache_entry_free(&e);
        if (st) _exit(1);
      }
      _exit(0);
    }
  }
  /* Read while they write: every hit is one writer's complete entry. */
  int hits = 0;
  for (int r = 0; r < 200; r++) {
    gc_cache_entry got;
    gc_cache_result res = lookup(&k, &got);
    cr_assert_neq(res, GC_CACHE_RESULT_CORRUPT, "reader saw a torn entry");
    if (res == GC_CACHE_RESULT_HIT) {
      hits++;
      int w = (int)got.desc_len - 100;
      cr_assert(w >= 0 && w < WRITERS);
      gc_cache_entry want = entry_of(got.object_len, got.desc_len, (uint8_t)w);
      cr_assert_eq(memcmp(got.object, want.object, got.object_len), 0);
      gc_cache_entry_free(&want);
    }
    gc_cache_entry_free(&got);
  }
  for (int w = 0; w < WRITERS; w++) {
    int status;
    cr_assert_eq(waitpid(kids[w], &status, 0), kids[w]);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed", w);
  }
  gc_cache_entry got;
  cr_assert_eq(lookup(&k, &got), GC_CACHE_RESULT_HIT);
  gc_cache_entry_free(&got);
  /* No temporary files left behind. */
  char cmd[400];
  snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
  cr_assert_eq(system(cmd), 0, "stray files in the cache directory");
  (void)hits;
}
