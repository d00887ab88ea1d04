/* CPU feature checks for loading artifacts (see cpu_features.h). The
 * table mirrors the CPUID bits LLVM's host detection reads on x86-64, so
 * every feature an artifact compiled for "host" can name is checkable. */
#include "rt/cpu_features.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "support/status.h"
#include "support/strbuf.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

enum { EAX, EBX, ECX, EDX };
enum { SAVE_NONE, SAVE_AVX, SAVE_AVX512, SAVE_AMX };

typedef struct feat {
  const char *name;
  uint32_t leaf, sub;
  int reg, bit, save;
} feat;

static const feat table[] = {
    {"cx8", 1, 0, EDX, 8, 0}, {"cmov", 1, 0, EDX, 15, 0}, {"mmx", 1, 0, EDX, 23, 0},
    {"fxsr", 1, 0, EDX, 24, 0}, {"sse", 1, 0, EDX, 25, 0}, {"sse2", 1, 0, EDX, 26, 0},
    {"sse3", 1, 0, ECX, 0, 0}, {"pclmul", 1, 0, ECX, 1, 0}, {"ssse3", 1, 0, ECX, 9, 0},
    {"fma", 1, 0, ECX, 12, SAVE_AVX}, {"cx16", 1, 0, ECX, 13, 0}, {"sse4.1", 1, 0, ECX, 19, 0},
    {"sse4.2", 1, 0, ECX, 20, 0}, {"crc32", 1, 0, ECX, 20, 0}, {"movbe", 1, 0, ECX, 22, 0},
    {"popcnt", 1, 0, ECX, 23, 0}, {"aes", 1, 0, ECX, 25, 0}, {"xsave", 1, 0, ECX, 26, SAVE_AVX},
    {"avx", 1, 0, ECX, 28, SAVE_AVX}, {"f16c", 1, 0, ECX, 29, SAVE_AVX}, {"rdrnd", 1, 0, ECX, 30, 0},
    {"sahf", 0x80000001, 0, ECX, 0, 0}, {"lzcnt", 0x80000001, 0, ECX, 5, 0},
    {"sse4a", 0x80000001, 0, ECX, 6, 0}, {"prfchw", 0x80000001, 0, ECX, 8, 0},
    {"xop", 0x80000001, 0, ECX, 11, SAVE_AVX}, {"lwp", 0x80000001, 0, ECX, 15, 0},
    {"fma4", 0x80000001, 0, ECX, 16, SAVE_AVX}, {"tbm", 0x80000001, 0, ECX, 21, 0},
    {"mwaitx", 0x80000001, 0, ECX, 29, 0}, {"64bit", 0x80000001, 0, EDX, 29, 0},
    {"clzero", 0x80000008, 0, EBX, 0, 0}, {"rdpru", 0x80000008, 0, EBX, 4, 0},
    {"wbnoinvd", 0x80000008, 0, EBX, 9, 0},
    {"fsgsbase", 7, 0, EBX, 0, 0}, {"sgx", 7, 0, EBX, 2, 0}, {"bmi", 7, 0, EBX, 3, 0},
    {"avx2", 7, 0, EBX, 5, SAVE_AVX}, {"bmi2", 7, 0, EBX, 8, 0}, {"invpcid", 7, 0, EBX, 10, 0},
    {"rtm", 7, 0, EBX, 11, 0}, {"avx512f", 7, 0, EBX, 16, SAVE_AVX512},
    {"evex512", 7, 0, EBX, 16, SAVE_AVX512}, {"avx512dq", 7, 0, EBX, 17, SAVE_AVX512},
    {"rdseed", 7, 0, EBX, 18, 0}, {"adx", 7, 0, EBX, 19, 0},
    {"avx512ifma", 7, 0, EBX, 21, SAVE_AVX512}, {"clflushopt", 7, 0, EBX, 23, 0},
    {"clwb", 7, 0, EBX, 24, 0}, {"avx512pf", 7, 0, EBX, 26, SAVE_AVX512},
    {"avx512er", 7, 0, EBX, 27, SAVE_AVX512}, {"avx512cd", 7, 0, EBX, 28, SAVE_AVX512},
    {"sha", 7, 0, EBX, 29, 0}, {"avx512bw", 7, 0, EBX, 30, SAVE_AVX512},
    {"avx512vl", 7, 0, EBX, 31, SAVE_AVX512}, {"prefetchwt1", 7, 0, ECX, 0, 0},
    {"avx512vbmi", 7, 0, ECX, 1, SAVE_AVX512}, {"pku", 7, 0, ECX, 4, 0},
    {"waitpkg", 7, 0, ECX, 5, 0}, {"avx512vbmi2", 7, 0, ECX, 6, SAVE_AVX512},
    {"shstk", 7, 0, ECX, 7, 0}, {"gfni", 7, 0, ECX, 8, 0}, {"vaes", 7, 0, ECX, 9, SAVE_AVX},
    {"vpclmulqdq", 7, 0, ECX, 10, SAVE_AVX}, {"avx512vnni", 7, 0, ECX, 11, SAVE_AVX512},
    {"avx512bitalg", 7, 0, ECX, 12, SAVE_AVX512},
    {"avx512vpopcntdq", 7, 0, ECX, 14, SAVE_AVX512}, {"rdpid", 7, 0, ECX, 22, 0},
    {"kl", 7, 0, ECX, 23, 0}, {"cldemote", 7, 0, ECX, 25, 0}, {"movdiri", 7, 0, ECX, 27, 0},
    {"movdir64b", 7, 0, ECX, 28, 0}, {"enqcmd", 7, 0, ECX, 29, 0}, {"uintr", 7, 0, EDX, 5, 0},
    {"avx512vp2intersect", 7, 0, EDX, 8, SAVE_AVX512}, {"serialize", 7, 0, EDX, 14, 0},
    {"tsxldtrk", 7, 0, EDX, 16, 0}, {"pconfig", 7, 0, EDX, 18, 0},
    {"amx-bf16", 7, 0, EDX, 22, SAVE_AMX}, {"avx512fp16", 7, 0, EDX, 23, SAVE_AVX512},
    {"amx-tile", 7, 0, EDX, 24, SAVE_AMX}, {"amx-int8", 7, 0, EDX, 25, SAVE_AMX},
    {"sha512", 7, 1, EAX, 0, 0}, {"sm3", 7, 1, EAX, 1, 0}, {"sm4", 7, 1, EAX, 2, 0},
    {"raoint", 7, 1, EAX, 3, 0}, {"avxvnni", 7, 1, EAX, 4, SAVE_AVX},
    {"avx512bf16", 7, 1, EAX, 5, SAVE_AVX512}, {"cmpccxadd", 7, 1, EAX, 7, 0},
    {"amx-fp16", 7, 1, EAX, 21, SAVE_AMX}, {"hreset", 7, 1, EAX, 22, 0},
    {"avxifma", 7, 1, EAX, 23, SAVE_AVX}, {"avxvnniint8", 7, 1, EDX, 4, SAVE_AVX},
    {"avxneconvert", 7, 1, EDX, 5, SAVE_AVX}, {"amx-complex", 7, 1, EDX, 8, SAVE_AMX},
    {"avxvnniint16", 7, 1, EDX, 10, SAVE_AVX}, {"prefetchi", 7, 1, EDX, 14, 0},
    {"usermsr", 7, 1, EDX, 15, 0}, {"avx10.1-256", 7, 1, EDX, 19, SAVE_AVX},
    {"avx10.1-512", 0x24, 0, EBX, 18, SAVE_AVX512},
    {"egpr", 7, 1, EDX, 21, 0}, {"push2pop2", 7, 1, EDX, 21, 0}, {"ppx", 7, 1, EDX, 21, 0},
    {"ndd", 7, 1, EDX, 21, 0}, {"ccmp", 7, 1, EDX, 21, 0}, {"nf", 7, 1, EDX, 21, 0},
    {"cf", 7, 1, EDX, 21, 0}, {"zu", 7, 1, EDX, 21, 0},
    {"xsaveopt", 0xd, 1, EAX, 0, SAVE_AVX}, {"xsavec", 0xd, 1, EAX, 1, SAVE_AVX},
    {"xsaves", 0xd, 1, EAX, 3, SAVE_AVX}, {"ptwrite", 0x14, 0, EBX, 4, 0},
    {"widekl", 0x19, 0, EBX, 2, 0},
};

static bool cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  uint32_t max = __get_cpuid_max(leaf & 0x80000000u, NULL);
  if (max < leaf) return false;
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
  return true;
}

/* Which register states the OS saves on context switch (XCR0). */
static uint32_t xcr0(void) {
  uint32_t r[4];
  if (!cpuid(1, 0, r) || !((r[ECX] >> 27) & 1)) return 0; /* no OSXSAVE */
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  (void)hi;
  return lo;
}

static bool state_saved(int save) {
  uint32_t x = xcr0();
  bool avx = (x & 0x6) == 0x6;
  switch (save) {
    case SAVE_AVX: return avx;
    case SAVE_AVX512: return avx && (x & 0xe0) == 0xe0;
    case SAVE_AMX: return (x & 0x60000) == 0x60000;
    default: return true;
  }
}

bool gc_cpu_has_feature(const char *name, bool *known) {
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    const feat *f = &table[i];
    if (strcmp(f->name, name) != 0) continue;
    *known = true;
    uint32_t r[4];
    /* Subleaf 1 of leaf 7 exists only when subleaf 0 says so. */
    if (f->leaf == 7 && f->sub > 0 && (!cpuid(7, 0, r) || r[EAX] < f->sub)) return false;
    if (!cpuid(f->leaf, f->sub, r)) return false;
    return ((r[f->reg] >> f->bit) & 1) && state_saved(f->save);
  }
  *known = false;
  return false;
}
#else
bool gc_cpu_has_feature(const char *name, bool *known) {
  (void)name;
  *known = false;
  return false;
}
#endif

/* Is `name` listed with '+' in the feature string `list`? */
static bool listed(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n + 1 && p[0] == '+' && memcmp(p + 1, name, n) == 0) return true;
    p += len + (end ? 1 : 0);
  }
  return false;
}

graphc_status_t gc_cpu_check_features(const char *required, const char *cpu, const char *host) {
  if (!required) return NULL;
  gc_strbuf missing = {0}, unknown = {0};
  for (const char *p = required; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > 1 && len < 64 && p[0] == '+') {
      char name[64];
      memcpy(name, p + 1, len - 1);
      name[len - 1] = 0;
      bool known = true;
      bool have = host ? listed(host, name) : gc_cpu_has_feature(name, &known);
      gc_strbuf *into = !known ? &unknown : !have ? &missing : NULL;
      if (into) gc_sb_printf(into, "%s%s", into->len ? ", " : "", name);
    }
    p += len + (end ? 1 : 0);
  }
  graphc_status_t st = NULL;
  if (missing.oom || unknown.oom) st = GC_OOM();
  else if (missing.len)
    st = gc_status(GRAPHC_STATUS_UNAVAILABLE,
                   "this CPU lacks feature(s) %s that the artifact was compiled for "
                   "(target cpu '%s'); recompile on this machine or for an older target",
                   missing.data, cpu && *cpu ? cpu : "?");
  else if (unknown.len)
    st = gc_status(GRAPHC_STATUS_UNAVAILABLE,
                   "the artifact needs CPU feature(s) %s that this loader cannot check "
                   "(target cpu '%s'); recompile for a target without them",
                   unknown.data, cpu && *cpu ? cpu : "?");
  gc_sb_free(&missing);
  gc_sb_free(&unknown);
  return st;
}
