/* LLVM setup shared by the JIT and the object writer: target registration,
 * target machines for the chosen CPU, and the build pipeline (kernel IR ->
 * verified module -> `default<O3>`). */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "cpu/cpu_internal.h"
#include "support/status.h"

void gc_cpu_options_init(gc_cpu_options *o) {
  memset(o, 0, sizeof *o);
  o->opt_level = 3;
  o->host_features = true;
}

/* LLVM's target registry is process-wide; registering the native target is
 * the one piece of global state here, done once. */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_failed;

static void init_llvm(void) {
  init_failed = LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter();
}

graphc_status_t gc_llvm_init(void) {
  pthread_once(&init_once, init_llvm);
  if (init_failed)
    return gc_status(GRAPHC_STATUS_UNAVAILABLE, "LLVM has no code generator for this machine's architecture");
  return NULL;
}

graphc_status_t gc_llvm_error(LLVMErrorRef err, const char *what) {
  char *msg = LLVMGetErrorMessage(err); /* consumes err */
  graphc_status_t st = gc_status(GRAPHC_STATUS_INTERNAL, "LLVM: %s: %s", what, msg ? msg : "unknown error");
  LLVMDisposeErrorMessage(msg);
  return st;
}

/* Bump when the code generated for the same kernel IR changes. */
#define GC_CPU_CODEGEN_REVISION 1

graphc_status_t gc_cpu_codegen_id(char **out) {
  if (!out) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "gc_cpu_codegen_id: out is NULL");
  unsigned major, minor, patch;
  LLVMGetVersion(&major, &minor, &patch);
  char buf[64];
  snprintf(buf, sizeof buf, "graphc-cpu %d llvm %u.%u.%u", GC_CPU_CODEGEN_REVISION, major, minor, patch);
  *out = strdup(buf);
  return *out ? NULL : GC_OOM();
}

graphc_status_t gc_cpu_target_info(char **cpu_name, char **features) {
  if (cpu_name) *cpu_name = NULL;
  if (features) *features = NULL;
  GC_TRY(gc_llvm_init());
  char *c = LLVMGetHostCPUName(), *f = LLVMGetHostCPUFeatures();
  char *cc = strdup(c ? c : ""), *ff = strdup(f ? f : "");
  LLVMDisposeMessage(c);
  LLVMDisposeMessage(f);
  if (!cc || !ff) {
    free(cc), free(ff);
    return GC_OOM();
  }
  if (cpu_name) *cpu_name = cc;
  else free(cc);
  if (features) *features = ff;
  else free(ff);
  return NULL;
}

/* x86 CPU names LLVM 19 knows (`llc -mcpu=help`). LLVM only warns on
 * stderr about an unknown name and then generates code for a generic CPU,
 * which for an artifact is a silent wrong choice; so names are checked. */
static const char x86_cpus[] =
    " alderlake amdfam10 arrowlake arrowlake-s arrowlake_s athlon athlon-4 athlon-fx athlon-mp"
    " athlon-tbird athlon-xp athlon64 athlon64-sse3 atom atom_sse4_2 atom_sse4_2_movbe barcelona"
    " bdver1 bdver2 bdver3 bdver4 bonnell broadwell btver1 btver2 c3 c3-2 cannonlake cascadelake"
    " clearwaterforest cooperlake core-avx-i core-avx2 core2 core_2_duo_sse4_1 core_2_duo_ssse3"
    " core_2nd_gen_avx core_3rd_gen_avx core_4th_gen_avx core_4th_gen_avx_tsx core_5th_gen_avx"
    " core_5th_gen_avx_tsx core_aes_pclmulqdq core_i7_sse4_2 corei7 corei7-avx emeraldrapids"
    " generic geode goldmont goldmont-plus goldmont_plus gracemont grandridge graniterapids"
    " graniterapids-d graniterapids_d haswell i386 i486 i586 i686 icelake-client icelake-server"
    " icelake_client icelake_server ivybridge k6 k6-2 k6-3 k8 k8-sse3 knl knm lakemont lunarlake"
    " meteorlake mic_avx512 nehalem nocona opteron opteron-sse3 pantherlake penryn pentium"
    " pentium-m pentium-mmx pentium2 pentium3 pentium3m pentium4 pentium4m pentium_4"
    " pentium_4_sse3 pentium_ii pentium_iii pentium_iii_no_xmm_regs pentium_m pentium_mmx"
    " pentium_pro pentiumpro prescott raptorlake rocketlake sandybridge sapphirerapids"
    " sierraforest silvermont skx skylake skylake-avx512 skylake_avx512 slm tigerlake tremont"
    " westmere winchip-c6 winchip2 x86-64 x86-64-v2 x86-64-v3 x86-64-v4 yonah znver1 znver2"
    " znver3 znver4 znver5 ";

static graphc_status_t check_cpu(const char *triple, const char *cpu) {
  size_t n = strlen(cpu);
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)cpu[i]) && !strchr("-_.", cpu[i]))
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "CPU name '%s' is not a CPU name", cpu);
  bool x86 = strncmp(triple, "x86_64", 6) == 0 || (triple[0] == 'i' && strncmp(triple + 2, "86", 2) == 0);
  if (!x86 || !n) return NULL;
  char key[80];
  if (n + 3 > sizeof key) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "CPU name '%.40s...' is too long", cpu);
  snprintf(key, sizeof key, " %s ", cpu);
  if (!strstr(x86_cpus, key))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "LLVM does not know the CPU '%s' for %s (try 'x86-64-v3', 'znver4', 'skylake-avx512')",
                     cpu, triple);
  return NULL;
}

static graphc_status_t check_features(const char *f) {
  for (const char *p = f; *p;) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    bool ok = n >= 2 && (p[0] == '+' || p[0] == '-');
    for (size_t i = 1; ok && i < n; i++) ok = isalnum((unsigned char)p[i]) || strchr("-_.", p[i]);
    if (!ok)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "feature list '%s': '%.*s' is not '+name' or '-name'", f,
                       (int)n, p);
    p += n + (e != NULL);
  }
  return NULL;
}

graphc_status_t gc_llvm_target_machine(const gc_cpu_options *o, bool pic, LLVMTargetMachineRef *out) {
  *out = NULL;
  if (o->opt_level < 0 || o->opt_level > 3)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "opt_level %d is not in 0..3", o->opt_level);
  GC_TRY(gc_llvm_init());
  char *triple = LLVMGetDefaultTargetTriple(), *host_cpu = NULL, *host_features = NULL;
  graphc_status_t st = NULL;
  LLVMTargetRef target;
  char *msg = NULL;
  if (LLVMGetTargetFromTriple(triple, &target, &msg)) {
    st = gc_status(GRAPHC_STATUS_UNAVAILABLE, "LLVM: no target for '%s': %s", triple, msg ? msg : "");
    LLVMDisposeMessage(msg);
    LLVMDisposeMessage(triple);
    return st;
  }
  /* The host's CPU and features unless a CPU is named ("native" is the
   * host); a named CPU brings its own features unless they are given too. */
  const char *cpu = o->cpu_name_override, *features = o->features_override;
  bool host = cpu ? strcmp(cpu, "native") == 0 : o->host_features;
  if (host) cpu = host_cpu = LLVMGetHostCPUName();
  if (host && !features) features = host_features = LLVMGetHostCPUFeatures();
  if (!cpu) cpu = "generic";
  if (!features) features = "";
  st = check_cpu(triple, cpu);
  if (!st) st = check_features(features);
  if (!st) {
    static const LLVMCodeGenOptLevel levels[] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess,
                                                 LLVMCodeGenLevelDefault, LLVMCodeGenLevelAggressive};
    *out = LLVMCreateTargetMachine(target, triple, cpu, features, levels[o->opt_level],
                                   pic ? LLVMRelocPIC : LLVMRelocDefault,
                                   pic ? LLVMCodeModelDefault : LLVMCodeModelJITDefault);
    if (!*out) st = gc_status(GRAPHC_STATUS_INTERNAL, "LLVM: cannot create a target machine for %s/%s", triple, cpu);
  }
  LLVMDisposeMessage(triple);
  LLVMDisposeMessage(host_cpu);
  LLVMDisposeMessage(host_features);
  return st;
}

graphc_status_t gc_llvm_check_prefix(const char *prefix) {
  if (!prefix || !*prefix) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "symbol prefix is NULL or empty");
  bool ok = isalpha((unsigned char)prefix[0]) || prefix[0] == '_';
  for (const char *c = prefix; ok && *c; c++) ok = isalnum((unsigned char)*c) || *c == '_';
  if (!ok || strlen(prefix) > 200)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "symbol prefix '%.200s' is not a C identifier", prefix);
  return NULL;
}

/* `default<On>`, then always-inline once more: the masked vector variants
 * the vectoriser called (emit_trig.c) go inline into the vector loops. */
static graphc_status_t optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, int level) {
  char pipeline[40];
  snprintf(pipeline, sizeof pipeline, "default<O%d>%s", level, level >= 2 ? ",always-inline" : "");
  LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
  LLVMPassBuilderOptionsSetLoopVectorization(po, level >= 2);
  LLVMPassBuilderOptionsSetSLPVectorization(po, level >= 2);
  LLVMPassBuilderOptionsSetLoopInterleaving(po, level >= 2);
  LLVMPassBuilderOptionsSetLoopUnrolling(po, level >= 2);
  LLVMErrorRef err = LLVMRunPasses(mod, pipeline, tm, po);
  LLVMDisposePassBuilderOptions(po);
  return err ? gc_llvm_error(err, "optimising") : NULL;
}

graphc_status_t gc_llvm_build(const kir_program *p, const gc_cpu_options *o, LLVMContextRef ctx,
                              LLVMTargetMachineRef tm, const char *prefix, LLVMModuleRef *out) {
  *out = NULL;
  GC_TRY(kir_program_verify(p));
  LLVMModuleRef mod = LLVMModuleCreateWithNameInContext("graphc", ctx);
  char *triple = LLVMGetTargetMachineTriple(tm);
  LLVMSetTarget(mod, triple);
  LLVMDisposeMessage(triple);
  LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(mod, dl);
  LLVMDisposeTargetData(dl);
  gc_llvm L;
  gc_llvm_setup(&L, ctx, mod);
  graphc_status_t st = NULL;
  for (int i = 0; i < p->nkernels && !st; i++) {
    char name[256];
    snprintf(name, sizeof name, "%s_k%d", prefix, i);
    st = gc_emit_kernel(&L, p, i, name);
  }
  char *msg = NULL;
  if (!st && LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg))
    st = gc_status(GRAPHC_STATUS_INTERNAL, "LLVM rejected the generated module: %s", msg ? msg : "");
  LLVMDisposeMessage(msg);
  if (!st) st = optimize(mod, tm, o->opt_level);
  if (st) {
    LLVMDisposeModule(mod);
    return st;
  }
  *out = mod;
  return NULL;
}
