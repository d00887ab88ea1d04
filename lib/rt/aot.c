/* Writing AOT artifacts (see aot.h). The description travels in the
 * header rather than in the object: the object is exactly what the LLVM
 * backend emits, no second code path writes object files, and a program
 * that includes the header cannot link against an object with a different
 * kernel count (the header names every kernel symbol). The price: header
 * and object must come from the same `graphc compile` run, which writes
 * both. */
#include "rt/aot.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt/compile_driver.h"
#include "support/status.h"
#include "support/strbuf.h"

extern char **environ;

void gc_aot_c_name(const char *name, char *buf, size_t cap) {
  size_t n = 0;
  if (cap == 0) return;
  if (name[0] >= '0' && name[0] <= '9' && n + 1 < cap) buf[n++] = '_';
  for (const char *p = name; *p && n + 1 < cap; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    buf[n++] = ok ? c : '_';
  }
  if (n == 0 && cap > 1) buf[n++] = '_';
  buf[n] = 0;
}

/* Writes bytes to path through a temporary file in the same directory. */
static graphc_status_t write_file(const char *path, const void *bytes, size_t len) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) return gc_status(GRAPHC_STATUS_IO_ERROR, "cannot create %s: %s", tmp, strerror(errno));
  const char *p = bytes;
  size_t left = len;
  bool ok = true;
  while (ok && left) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    if (ok) p += w, left -= (size_t)w;
  }
  int saved = errno;
  ok = ok && fchmod(fd, 0644) == 0;
  if (close(fd) != 0) ok = false;
  if (ok && rename(tmp, path) != 0) saved = errno, ok = false;
  if (!ok) {
    unlink(tmp);
    return gc_status(GRAPHC_STATUS_IO_ERROR, "cannot write %s: %s", path, strerror(saved ? saved : EIO));
  }
  return NULL;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

/* ld -shared -o OUT OBJ, with ld's complaints in the status. */
static graphc_status_t link_shared(const char *out, const uint8_t *obj, size_t len) {
  char objpath[4200], logpath[4200], tmpout[4200];
  snprintf(objpath, sizeof objpath, "%s.tmp.o", out);
  snprintf(logpath, sizeof logpath, "%s.tmp.log", out);
  snprintf(tmpout, sizeof tmpout, "%s.tmp.so", out);
  GC_TRY(write_file(objpath, obj, len));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
  char *argv[] = {"ld", "-shared", "-z", "noexecstack", "-o", tmpout, objpath, NULL};
  pid_t pid;
  int rc = posix_spawnp(&pid, "ld", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  graphc_status_t st = NULL;
  if (rc != 0) {
    st = gc_status(GRAPHC_STATUS_UNAVAILABLE,
                   "cannot link %s: no 'ld' linker could be started (%s); install binutils, or "
                   "write an object file (-o model.o) and link it yourself", out, strerror(rc));
  } else {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      char log[1024] = "";
      FILE *f = fopen(logpath, "r");
      if (f) {
        size_t n = fread(log, 1, sizeof log - 1, f);
        log[n] = 0;
        fclose(f);
      }
      for (char *c = log; *c; c++)
        if (*c == '\n') *c = ' ';
      st = gc_status(GRAPHC_STATUS_IO_ERROR, "ld -shared failed for %s: %s", out,
                     *log ? log : "(no output)");
    } else if (rename(tmpout, out) != 0) {
      st = gc_status(GRAPHC_STATUS_IO_ERROR, "cannot write %s: %s", out, strerror(errno));
    }
  }
  unlink(objpath);
  unlink(logpath);
  unlink(tmpout);
  return st;
}

/* --- the header ------------------------------------------------------------ */

static void sig_line(gc_strbuf *sb, const gc_model *m, const gc_sig_value *v, int i, bool input) {
  char type[512];
  gc_sig_format(m, v, type, sizeof type);
  gc_sb_printf(sb, " *   %d %s: %s%s%s\n", i, v->name, type, input ? " " : "",
               input ? graphc_role_name(v->role) : "");
}

/* Parameter names for <name>_run: in_<value>/out_<value>, unique. */
static void param_name(const gc_model *m, bool input, int i, char *buf, size_t cap) {
  char c[128];
  gc_aot_c_name((input ? m->inputs : m->outputs)[i].name, c, sizeof c);
  bool dup = false;
  for (int k = 0; k < (input ? m->ninputs : m->noutputs); k++) {
    char o[128];
    gc_aot_c_name((input ? m->inputs : m->outputs)[k].name, o, sizeof o);
    dup |= k != i && !strcmp(o, c);
  }
  if (dup) snprintf(buf, cap, "%s_%s_%d", input ? "in" : "out", c, i);
  else snprintf(buf, cap, "%s_%s", input ? "in" : "out", c);
}

/* Sum over temps of their bytes plus alignment slack: an upper bound on
 * the arena, as canonical dim text. */
static const char *arena_bound(gc_model *m) {
  kir_program *p = m->prog;
  gc_dim total;
  if (gc_dim_const(p->dims, 0, &total)) return "?";
  for (int b = 0; b < p->nbuffers; b++) {
    if (p->buffers[b].role != KIR_BUF_TEMP) continue;
    gc_dim es, bytes, slack;
    graphc_status_t st = gc_dim_const(p->dims, (int64_t)graphc_dtype_size(p->buffers[b].dtype), &es);
    if (!st) st = gc_dim_mul(p->dims, p->sizes[p->buffers[b].numel], es, &bytes);
    if (!st) st = gc_dim_const(p->dims, 63, &slack);
    if (!st) st = gc_dim_add(p->dims, total, bytes, &total);
    if (!st) st = gc_dim_add(p->dims, total, slack, &total);
    if (st) {
      graphc_status_free(st);
      return "?";
    }
  }
  return gc_dim_str(p->dims, total);
}

static char *make_header(gc_model *m, const char *name, const uint8_t *desc, size_t desc_len) {
  const kir_program *p = m->prog;
  char up[128], guard[160];
  snprintf(up, sizeof up, "%s", name);
  for (char *c = up; *c; c++)
    if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
  snprintf(guard, sizeof guard, "%s_GRAPHC_H", up);
  gc_strbuf sb = {0};
  gc_sb_printf(&sb, "/* Generated by graphc %s from graph '%s'. Do not edit: regenerate the header\n"
                    " * and the object together (`graphc compile ... --header`).\n *\n",
               graphc_version(), m->name);
  gc_sb_printf(&sb, " * Target: cpu '%s'; the loader checks this CPU has every feature:\n *   %s\n *\n",
               m->cpu, *m->features ? m->features : "(none recorded)");
  gc_sb_append(&sb, " * Inputs (DLPack, host memory, any strides):\n");
  for (int i = 0; i < m->ninputs; i++) sig_line(&sb, m, &m->inputs[i], i, true);
  gc_sb_append(&sb, " * Outputs (new contiguous DLManagedTensors; call their deleter):\n");
  for (int i = 0; i < m->noutputs; i++) sig_line(&sb, m, &m->outputs[i], i, false);
  if (p->nsyms) gc_sb_append(&sb, " * Symbols, read from the inputs of each call:\n");
  for (int s = 0; s < p->nsyms; s++) {
    const struct kir_symsrc *src = &p->symsrc[s];
    gc_sb_printf(&sb, " *   %s: ", gc_dimtab_sym_name(p->dims, s));
    if (src->kind == 0) gc_sb_printf(&sb, "dim %d of input %d '%s'\n", src->dim, src->input, m->inputs[src->input].name);
    else if (src->kind == 1) gc_sb_printf(&sb, "the value of symbol input %d '%s'\n", src->input, m->inputs[src->input].name);
    else gc_sb_append(&sb, "(unused)\n");
  }
  gc_sb_printf(&sb, " * Scratch arena: at most %s bytes (the plan reuses memory;\n"
                    " * graphc_executable_peak_bytes() reports what a call used).\n */\n",
               arena_bound(m));
  gc_sb_printf(&sb, "#ifndef %s\n#define %s\n\n#include <stdint.h>\n#include <graphc/graphc.h>\n"
                    "#include <graphc/compile.h>\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n",
               guard, guard);
  gc_sb_printf(&sb, "#define %s_GRAPHC_ABI_VERSION %d\n#define %s_NUM_INPUTS %d\n#define %s_NUM_OUTPUTS %d\n"
                    "#define %s_ARENA_BOUND \"%s\"\n\n",
               up, GRAPHC_ABI_VERSION, up, m->ninputs, up, m->noutputs, up, arena_bound(m));
  gc_sb_append(&sb, "struct gc_env;\n");
  for (int k = 0; k < p->nkernels; k++)
    gc_sb_printf(&sb, "void %s_k%d(int64_t, int64_t, void *const *, const int64_t *, const struct gc_env *);\n",
                 name, k);
  gc_sb_printf(&sb, "\n/* The model description (format: lib/rt/model_io.c). */\nstatic const unsigned char %s_graphc_desc[%zu] = {",
               name, desc_len);
  for (size_t i = 0; i < desc_len; i++) gc_sb_printf(&sb, "%s%u,", i % 24 ? "" : "\n  ", desc[i]);
  gc_sb_append(&sb, "\n};\n\n");
  gc_sb_printf(&sb, "/* Makes an executable of the linked kernels (see graphc_aot_load): release it\n"
                    " * with graphc_executable_release(). `context` may be NULL. */\n"
                    "static inline graphc_status_t %s_load(graphc_context_t *context, graphc_executable_t **out) {\n",
               name);
  if (p->nkernels) {
    gc_sb_append(&sb, "  static void (*const kernels[])(void) = {");
    for (int k = 0; k < p->nkernels; k++) gc_sb_printf(&sb, "%s(void (*)(void))%s_k%d", k ? ", " : "", name, k);
    gc_sb_append(&sb, "};\n");
  } else {
    gc_sb_append(&sb, "  void (*const *kernels)(void) = 0;\n");
  }
  gc_sb_printf(&sb, "  return graphc_aot_load(context, %s_graphc_desc, sizeof %s_graphc_desc, kernels, %d, out);\n}\n\n",
               name, name, p->nkernels);
  gc_sb_printf(&sb, "/* One call: inputs borrowed; on success each output pointer receives a new tensor. */\n"
                    "static inline graphc_status_t %s_run(graphc_executable_t *exe", name);
  char pn[200];
  for (int i = 0; i < m->ninputs; i++) {
    param_name(m, true, i, pn, sizeof pn);
    gc_sb_printf(&sb, ",\n    DLTensor *%s", pn);
  }
  for (int i = 0; i < m->noutputs; i++) {
    param_name(m, false, i, pn, sizeof pn);
    gc_sb_printf(&sb, ",\n    DLManagedTensor **%s", pn);
  }
  gc_sb_printf(&sb, ") {\n  DLTensor *in[%d] = {", m->ninputs ? m->ninputs : 1);
  for (int i = 0; i < m->ninputs; i++) {
    param_name(m, true, i, pn, sizeof pn);
    gc_sb_printf(&sb, "%s%s", i ? ", " : "", pn);
  }
  gc_sb_printf(&sb, "%s};\n  DLManagedTensor *out[%d] = {0};\n", m->ninputs ? "" : "0",
               m->noutputs ? m->noutputs : 1);
  gc_sb_printf(&sb, "  graphc_status_t st = graphc_executable_run(exe, in, %d, out, %d);\n  if (st) return st;\n",
               m->ninputs, m->noutputs);
  for (int i = 0; i < m->noutputs; i++) {
    param_name(m, false, i, pn, sizeof pn);
    gc_sb_printf(&sb, "  *%s = out[%d];\n", pn, i);
  }
  gc_sb_printf(&sb, "  return 0;\n}\n\n#ifdef __cplusplus\n}\n#endif\n#endif /* %s */\n", guard);
  return gc_sb_take(&sb);
}

graphc_status_t gc_aot_write(const gc_graph *g, const gc_aot_request *req, graphc_cache_state_t *state) {
  if (!req || !req->output) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "no output file");
  bool shared = ends_with(req->output, ".so");
  if (!shared && !ends_with(req->output, ".o"))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "output '%s' must end in .o (object) or .so (shared library)", req->output);
  GC_TRY(gc_graph_check(g));
  char name[128];
  gc_aot_c_name(req->name ? req->name : g->name, name, sizeof name);
  gc_compile_request r;
  GC_TRY(gc_compile_request_init(req->options, &r));
  if (r.opt.backend != GRAPHC_BACKEND_CPU) {
    gc_compile_request_free(&r);
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "ahead-of-time compilation needs the cpu backend");
  }
  gc_model m;
  uint8_t *obj = NULL, *desc = NULL;
  size_t len = 0, desc_len = 0;
  graphc_cache_state_t cs;
  graphc_status_t st = gc_compile_object(g, &r, name, &m, &obj, &len, &cs);
  gc_compile_request_free(&r);
  if (st) return st;
  if (state) *state = cs;
  st = gc_model_serialize(&m, &desc, &desc_len);
  if (!st) st = shared ? link_shared(req->output, obj, len) : write_file(req->output, obj, len);
  if (!st && req->header) {
    char *text = make_header(&m, name, desc, desc_len);
    st = text ? write_file(req->header, text, strlen(text)) : GC_OOM();
    free(text);
  }
  free(obj);
  free(desc);
  gc_model_free(&m);
  return st;
}
