/* Bridge to codegen/cpu (see codegen_bridge.h). */
#include "rt/codegen_bridge.h"

#include <stdlib.h>
#include <string.h>

#include "support/status.h"
#include "support/strbuf.h"

#if __has_include("cpu/cpu_backend.h")
#include "cpu/cpu_backend.h"
#define GC_HAVE_CPU_BACKEND 1
#endif

#ifndef GC_HAVE_CPU_BACKEND
static graphc_status_t no_backend(void) {
  return gc_status(GRAPHC_STATUS_UNAVAILABLE,
                   "this libgraphc was built without the LLVM CPU backend");
}

bool gc_codegen_available(void) { return false; }

graphc_status_t gc_codegen_resolve_target(const char *cpu, const char *features, char **out_cpu,
                                          char **out_features) {
  *out_cpu = gc_strdup(cpu ? cpu : "");
  *out_features = gc_strdup(features ? features : "");
  if (!*out_cpu || !*out_features) {
    free(*out_cpu);
    free(*out_features);
    return GC_OOM();
  }
  return NULL;
}

graphc_status_t gc_codegen_emit_object(const kir_program *p, const gc_compile_request *r,
                                       const char *prefix, uint8_t **obj, size_t *len) {
  (void)p, (void)r, (void)prefix, (void)obj, (void)len;
  return no_backend();
}

graphc_status_t gc_codegen_jit(const kir_program *p, const gc_compile_request *r, gc_kernels *out) {
  (void)p, (void)r, (void)out;
  return no_backend();
}

bool gc_codegen_can_jit_object(void) { return false; }

graphc_status_t gc_codegen_jit_object(const uint8_t *obj, size_t len, const char *prefix, int nkernels,
                                      gc_kernels *out) {
  (void)obj, (void)len, (void)prefix, (void)nkernels, (void)out;
  return no_backend();
}
#else
/* Feature lists LLVM implies for the x86-64 micro-architecture levels, so
 * an artifact built for a level records what it needs. */
static const struct {
  const char *cpu, *features;
} levels[] = {
    {"generic", "+64bit,+cmov,+cx8,+fxsr,+mmx,+sse,+sse2"},
    {"x86-64", "+64bit,+cmov,+cx8,+fxsr,+mmx,+sse,+sse2"},
    {"x86-64-v2", "+64bit,+cmov,+cx8,+fxsr,+mmx,+sse,+sse2,+cx16,+sahf,+popcnt,+sse3,+sse4.1,+sse4.2,"
                  "+ssse3,+crc32"},
    {"x86-64-v3", "+64bit,+cmov,+cx8,+fxsr,+mmx,+sse,+sse2,+cx16,+sahf,+popcnt,+sse3,+sse4.1,+sse4.2,"
                  "+ssse3,+crc32,+avx,+avx2,+bmi,+bmi2,+f16c,+fma,+lzcnt,+movbe,+xsave"},
    {"x86-64-v4", "+64bit,+cmov,+cx8,+fxsr,+mmx,+sse,+sse2,+cx16,+sahf,+popcnt,+sse3,+sse4.1,+sse4.2,"
                  "+ssse3,+crc32,+avx,+avx2,+bmi,+bmi2,+f16c,+fma,+lzcnt,+movbe,+xsave,+avx512f,"
                  "+avx512bw,+avx512cd,+avx512dq,+avx512vl,+evex512"},
};

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* What code built with `list` ("+a,-b,+c,...", later entries win) needs:
 * its enabled features, sorted and unique ("+a,+c"). NULL when out of
 * memory. */
static char *required_features(const char *list) {
  char *copy = gc_strdup(list);
  size_t n = 1;
  for (const char *c = list; *c; c++) n += *c == ',';
  char **items = calloc(n, sizeof *items);
  if (!copy || !items) {
    free(copy);
    free(items);
    return NULL;
  }
  size_t k = 0;
  char *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (tok[0] != '+' && tok[0] != '-') continue;
    size_t j = 0; /* a later entry for the same name replaces the earlier */
    while (j < k && strcmp(items[j] + 1, tok + 1) != 0) j++;
    items[j] = tok;
    if (j == k) k++;
  }
  qsort(items, k, sizeof *items, cmp_str);
  gc_strbuf sb = {0};
  for (size_t i = 0; i < k; i++)
    if (items[i][0] == '+') gc_sb_printf(&sb, "%s%s", sb.len ? "," : "", items[i]);
  char *out = sb.oom ? NULL : gc_strdup(sb.len ? sb.data : "");
  gc_sb_free(&sb);
  free(items);
  free(copy);
  return out;
}

static bool have_llvm(char **cpu, char **features) {
  graphc_status_t st = gc_cpu_target_info(cpu, features);
  bool ok = st == NULL;
  graphc_status_free(st);
  return ok;
}

bool gc_codegen_available(void) {
  char *c = NULL, *f = NULL;
  bool ok = have_llvm(&c, &f);
  free(c);
  free(f);
  return ok;
}

/* What the code will need: the features of the CPU it is built for, plus
 * explicit ones. A named CPU implies features the C API cannot list; the
 * host's and the x86-64 levels' are known, any other needs them given. */
graphc_status_t gc_codegen_resolve_target(const char *cpu, const char *features, char **out_cpu,
                                          char **out_features) {
  *out_cpu = *out_features = NULL;
  char *host_cpu = NULL, *host_features = NULL;
  if (!have_llvm(&host_cpu, &host_features)) { /* no codegen: nothing to resolve */
    *out_cpu = gc_strdup(cpu ? cpu : "");
    *out_features = gc_strdup(features ? features : "");
    return *out_cpu && *out_features ? NULL : GC_OOM();
  }
  gc_strbuf f = {0};
  const char *implied = NULL;
  bool host = !cpu || !strcmp(cpu, "native") || !strcmp(cpu, host_cpu);
  if (host) implied = features ? NULL : host_features;
  for (size_t i = 0; !host && i < sizeof levels / sizeof *levels; i++)
    if (!strcmp(cpu, levels[i].cpu)) implied = levels[i].features;
  graphc_status_t st = NULL;
  if (!host && !implied && !features)
    st = gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                   "target cpu '%s' is not this machine's ('%s') nor an x86-64 level: give the "
                   "features its code may use too (target features, e.g. \"+avx2,+fma\"), so "
                   "loaders can check them", cpu, host_cpu);
  if (!st) {
    if (implied) gc_sb_append(&f, implied);
    if (features && *features) gc_sb_printf(&f, "%s%s", f.len ? "," : "", features);
    *out_cpu = gc_strdup(host ? host_cpu : cpu);
    *out_features = f.oom ? NULL : required_features(f.len ? f.data : "");
    if (!*out_cpu || !*out_features) st = GC_OOM();
  }
  if (st) {
    free(*out_cpu);
    free(*out_features);
    *out_cpu = *out_features = NULL;
  }
  gc_sb_free(&f);
  free(host_cpu);
  free(host_features);
  return st;
}

static void cpu_options(const gc_compile_request *r, gc_cpu_options *o) {
  gc_cpu_options_init(o);
  o->opt_level = r->opt.opt_level;
  o->cpu_name_override = r->user_cpu;
  o->features_override = r->user_features;
}

graphc_status_t gc_codegen_emit_object(const kir_program *p, const gc_compile_request *r,
                                       const char *prefix, uint8_t **obj, size_t *len) {
  gc_cpu_options o;
  cpu_options(r, &o);
  void *bytes = NULL;
  GC_TRY(gc_cpu_emit_object(p, &o, prefix, &bytes, len));
  *obj = bytes;
  return NULL;
}

static void release_module(void *m) { gc_cpu_jit_free(m); }

/* Entry points of a JIT module, handed to an executable. */
static graphc_status_t take_module(gc_cpu_jit_module *m, int nkernels, gc_kernels *out) {
  memset(out, 0, sizeof *out);
  out->fns = calloc((size_t)nkernels + 1, sizeof *out->fns);
  if (!out->fns) {
    gc_cpu_jit_free(m);
    return GC_OOM();
  }
  for (int k = 0; k < nkernels; k++) out->fns[k] = gc_cpu_jit_kernel(m, k);
  out->owner = m;
  out->release = release_module;
  return NULL;
}

graphc_status_t gc_codegen_jit(const kir_program *p, const gc_compile_request *r, gc_kernels *out) {
  gc_cpu_options o;
  cpu_options(r, &o);
  gc_cpu_jit_module *m = NULL;
  GC_TRY(gc_cpu_jit(p, &o, &m));
  return take_module(m, p->nkernels, out);
}

bool gc_codegen_can_jit_object(void) { return gc_codegen_available(); }

graphc_status_t gc_codegen_jit_object(const uint8_t *obj, size_t len, const char *prefix, int nkernels,
                                      gc_kernels *out) {
  gc_cpu_jit_module *m = NULL;
  GC_TRY(gc_cpu_jit_object(obj, len, prefix, nkernels, &m));
  return take_module(m, nkernels, out);
}
#endif
