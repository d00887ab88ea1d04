/* The compile driver (see compile_driver.h). */
#include "rt/compile_driver.h"
#include "cpu/cpu_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphc/text.h"
#include "kernel/lower.h"
#include "passes/pass.h"
#include "rt/cache.h"
#include "rt/codegen_bridge.h"
#include "support/status.h"
#include "support/strbuf.h"

void graphc_compile_options_init(graphc_compile_options_t *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->backend = GRAPHC_BACKEND_CPU;
  o->opt_level = 3;
  o->pipeline = NULL;
  const char *off = getenv("GRAPHC_CACHE");
  o->cache_enable = !(off && (!strcmp(off, "0") || !strcmp(off, "off") || !strcmp(off, "false")));
  const char *dir = getenv("GRAPHC_CACHE_DIR");
  o->cache_dir = dir && *dir ? dir : NULL;
}

graphc_status_t gc_compile_request_init(const graphc_compile_options_t *options,
                                        gc_compile_request *r) {
  memset(r, 0, sizeof *r);
  graphc_compile_options_init(&r->opt);
  if (options) {
    if (options->struct_size != sizeof *options)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                       "compile options struct_size is %zu, expected %zu: call "
                       "graphc_compile_options_init first", options->struct_size, sizeof *options);
    r->opt = *options;
  }
  if (r->opt.backend != GRAPHC_BACKEND_CPU && r->opt.backend != GRAPHC_BACKEND_CPU_EVAL)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "unknown backend %d", (int)r->opt.backend);
  if (r->opt.opt_level < 0 || r->opt.opt_level > 3)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "opt_level %d is outside 0..3", r->opt.opt_level);
  if (r->opt.cache_enable)
    r->cache_dir = r->opt.cache_dir && *r->opt.cache_dir
                       ? r->opt.cache_dir
                       : gc_cache_default_dir(r->cache_dir_buf, sizeof r->cache_dir_buf);
  r->opt.cache_dir = r->cache_dir;
  r->user_cpu = r->opt.target_cpu && *r->opt.target_cpu ? r->opt.target_cpu : NULL;
  r->user_features = r->opt.target_features && *r->opt.target_features ? r->opt.target_features : NULL;
  GC_TRY(gc_codegen_resolve_target(r->user_cpu, r->user_features, &r->cpu, &r->features));
  /* The strings of `options` are borrowed for the call only. */
  r->opt.target_cpu = r->cpu;
  r->opt.target_features = r->features;
  return NULL;
}

void gc_compile_request_free(gc_compile_request *r) {
  free(r->cpu);
  free(r->features);
  r->cpu = r->features = NULL;
}

bool gc_compile_have_codegen(void) { return gc_codegen_available(); }

graphc_status_t gc_compile_lower(const gc_graph *g, const gc_compile_request *r, gc_model *out) {
  memset(out, 0, sizeof *out);
  GC_TRY(gc_graph_check(g));
  if (g->parent)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graph '%s' is a region; compile its top-level graph",
                     g->name);
  GC_TRY(gc_graph_verify(g));
  gc_graph *simple = NULL;
  const bool passes = !r->opt.pipeline || *r->opt.pipeline;
  if (passes) {
    gc_pass_options po;
    GC_TRY(gc_pass_options_init(&po)); /* GRAPHC_DUMP=after:PASS works here too */
    GC_TRY(gc_run_pipeline(g, r->opt.pipeline, &po, &simple));
  }
  const gc_graph *src = simple ? simple : g;
  kir_program *prog = NULL;
  graphc_status_t st = gc_lower_graph(src, NULL, &prog);
  if (!st) st = gc_model_from_graph(src, prog, out);
  if (simple) graphc_graph_release(simple);
  if (st) return st;
  return gc_model_set_target(out, r->cpu, r->features, NULL);
}

/* Everything that decides the object code, hashed. */
static graphc_status_t cache_key(const gc_graph *g, const gc_compile_request *r, const char *prefix,
                                 const kir_program *prog, gc_cache_key *key) {
  char *text = NULL;
  GC_TRY(graphc_graph_print(g, &text, NULL));
  /* The lowered program too: a changed pass or lowering rule must not reuse
   * objects (and descriptions) of the old one for the same graph. */
  char *kir = kir_program_print(prog);
  if (!kir) {
    graphc_free(text);
    return GC_OOM();
  }
  /* The code generator's own version: a changed emitter must not reuse
   * objects the old one wrote. */
  char *codegen = NULL;
  graphc_status_t st = gc_cpu_codegen_id(&codegen);
  if (st) {
    graphc_free(text);
    free(kir);
    return st;
  }
  char level[16], abi[16];
  snprintf(level, sizeof level, "O%d", r->opt.opt_level);
  snprintf(abi, sizeof abi, "abi%d", GRAPHC_ABI_VERSION);
  const char *parts[] = {"graphc compile cache 1", graphc_version(), codegen, abi, level,
                         r->opt.pipeline ? r->opt.pipeline : "<default pipeline>",
                         r->cpu, r->features, prefix, text, kir};
  gc_cache_key_make(parts, (int)(sizeof parts / sizeof *parts), key);
  graphc_free(text);
  free(kir);
  free(codegen);
  return NULL;
}

/* A cache hit: the stored description, checked, must describe `g`. */
static graphc_status_t from_cache(const gc_cache_entry *e, gc_model *out) {
  GC_TRY(gc_model_deserialize(e->desc, e->desc_len, out));
  return NULL;
}

graphc_status_t gc_compile_object(const gc_graph *g, const gc_compile_request *r, const char *prefix,
                                  gc_model *out, uint8_t **obj, size_t *len,
                                  graphc_cache_state_t *state) {
  memset(out, 0, sizeof *out);
  *obj = NULL;
  *len = 0;
  *state = GRAPHC_CACHE_DISABLED;
  GC_TRY(gc_graph_check(g));
  if (!gc_codegen_available())
    return gc_status(GRAPHC_STATUS_UNAVAILABLE,
                     "this libgraphc was built without the LLVM CPU backend");
  GC_TRY(gc_compile_lower(g, r, out));
  gc_cache_key key;
  if (r->cache_dir) {
    graphc_status_t kst = cache_key(g, r, prefix, out->prog, &key);
    if (kst) {
      gc_model_free(out);
      return kst;
    }
    gc_cache_entry e;
    gc_cache_result res;
    graphc_status_t st = gc_cache_lookup(r->cache_dir, &key, &e, &res);
    if (st) { /* an unreadable cache is not a reason to fail a compile */
      fprintf(stderr, "graphc: compile cache: %s (compiling without it)\n", graphc_status_message(st));
      graphc_status_free(st);
    }
    if (!st && res == GC_CACHE_RESULT_HIT) {
      gc_model lowered = *out;
      st = from_cache(&e, out);
      if (st) *out = lowered; /* keep the fresh lowering for the rebuild */
      else gc_model_free(&lowered);
      if (!st) {
        *obj = e.object;
        *len = e.object_len;
        free(e.desc);
        *state = GRAPHC_CACHE_HIT;
        return NULL;
      }
      /* Stored under the right key but unusable (an older format): rebuild. */
      fprintf(stderr, "graphc: compile cache entry %s is unusable (%s); recompiling\n", key.hex,
              graphc_status_message(st));
      graphc_status_free(st);
      gc_cache_entry_free(&e);
      res = GC_CACHE_RESULT_CORRUPT;
    }
    *state = res == GC_CACHE_RESULT_CORRUPT ? GRAPHC_CACHE_REBUILT : GRAPHC_CACHE_MISS;
  }
  graphc_status_t st = gc_model_set_target(out, NULL, NULL, prefix);
  if (!st) st = gc_codegen_emit_object(out->prog, r, prefix, obj, len);
  if (st) {
    gc_model_free(out);
    return st;
  }
  if (r->cache_dir) {
    gc_cache_entry e = {.object = *obj, .object_len = *len};
    st = gc_model_serialize(out, &e.desc, &e.desc_len);
    if (!st) st = gc_cache_store(r->cache_dir, &key, &e);
    if (st) {
      fprintf(stderr, "graphc: compile cache: %s (entry not stored)\n", graphc_status_message(st));
      graphc_status_free(st);
    }
    free(e.desc);
  }
  return NULL;
}
