/* Running an executable: bind symbols from the input shapes, check the
 * inputs as the interpreter does, evaluate the size table, plan the arena
 * (cached for repeated symbol values), allocate outputs, run the steps. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp/dlpack_convert.h"
#include "rt/exec_eval.h"
#include "rt/executable.h"
#include "support/status.h"

/* Each parallel chunk gets at least this many elements of work, so the
 * cost of handing out a chunk stays small against the chunk itself. */
#define GC_CHUNK_WORK 32768

/* --- inputs ------------------------------------------------------------------ */

static graphc_status_t input_error(const gc_model *m, int i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static graphc_status_t input_error(const gc_model *m, int i, const char *fmt, ...) {
  char want[512], msg[512];
  gc_sig_format(m, &m->inputs[i], want, sizeof want);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "input %d '%s': expected %s, %s", i,
                   m->inputs[i].name, want, msg);
}

static graphc_status_t check_header(const gc_model *m, int i, const DLTensor *t) {
  const gc_sig_value *v = &m->inputs[i];
  if (!t) return input_error(m, i, "got a NULL tensor");
  if (t->device.device_type != kDLCPU && t->device.device_type != kDLCUDAHost)
    return input_error(m, i, "got a tensor on device type %d (the cpu backend reads host memory)",
                       (int)t->device.device_type);
  graphc_dtype_t dt;
  if (!gc_dtype_from_dl(t->dtype, &dt))
    return input_error(m, i, "got unsupported DLPack dtype (code %d, bits %d, lanes %d)",
                       t->dtype.code, t->dtype.bits, t->dtype.lanes);
  if (dt != v->dtype || t->ndim != v->rank)
    return input_error(m, i, "got %s with rank %d", graphc_dtype_name(dt), t->ndim);
  if (t->ndim > 0 && !t->shape) return input_error(m, i, "got a tensor whose shape is NULL");
  for (int d = 0; d < t->ndim; d++)
    if (t->shape[d] < 0) return input_error(m, i, "got dim %d = %lld", d, (long long)t->shape[d]);
  return NULL;
}

static int64_t numel_of(const DLTensor *t) {
  int64_t n = 1;
  for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
  return n;
}

/* Row-major compact (dims of extent 1 may have any stride)? */
static bool is_compact(const DLTensor *t) {
  if (!t->strides) return true;
  int64_t want = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->shape[d] != 1 && t->strides[d] != want) return false;
    want *= t->shape[d];
  }
  return true;
}

/* A contiguous copy of a strided tensor (numel > 0), malloc'd. */
static void *compact_copy(const DLTensor *t, size_t es) {
  int64_t n = numel_of(t);
  char *dst = malloc((size_t)n * es);
  if (!dst) return NULL;
  const char *base = (const char *)t->data + t->byte_offset;
  int64_t coord[GRAPHC_MAX_RANK] = {0};
  for (int64_t i = 0; i < n; i++) {
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) off += coord[d] * t->strides[d];
    memcpy(dst + i * (int64_t)es, base + off * (int64_t)es, es);
    for (int d = t->ndim - 1; d >= 0 && ++coord[d] == t->shape[d]; d--) coord[d] = 0;
  }
  return dst;
}

/* Binds every symbol that has a source, then checks every input dim
 * against the signature. */
static graphc_status_t bind_and_check(graphc_executable_t *e, DLTensor *const *in) {
  const gc_model *m = &e->model;
  const kir_program *p = m->prog;
  for (int i = 0; i < m->ninputs; i++) GC_TRY(check_header(m, i, in[i]));
  for (int s = 0; s < p->nsyms; s++) {
    const struct kir_symsrc *src = &p->symsrc[s];
    e->bound[s] = src->kind == 0 || src->kind == 1;
    if (src->kind == 0) {
      e->symvals[s] = in[src->input]->shape[src->dim];
    } else if (src->kind == 1) {
      const DLTensor *t = in[src->input];
      if (!t->data) return input_error(m, src->input, "got a symbol tensor without data");
      const char *at = (const char *)t->data + t->byte_offset;
      if (m->inputs[src->input].dtype == GRAPHC_I64) memcpy(&e->symvals[s], at, 8);
      else {
        int32_t v32;
        memcpy(&v32, at, 4);
        e->symvals[s] = v32;
      }
    }
  }
  for (int i = 0; i < m->ninputs; i++) {
    const gc_sig_value *v = &m->inputs[i];
    for (int d = 0; d < v->rank; d++) {
      int64_t want;
      graphc_status_t st = gc_dim_eval(p->dims, v->dims[d], e->symvals, e->bound, &want);
      if (st) return gc_status_wrap(st, "input %d '%s' dim %d", i, v->name, d);
      if (want != in[i]->shape[d] && gc_dim_is_const(p->dims, v->dims[d], NULL))
        return input_error(m, i, "got dim %d = %lld", d, (long long)in[i]->shape[d]);
      if (want != in[i]->shape[d])
        return input_error(m, i, "got dim %d = %lld but %s = %lld", d, (long long)in[i]->shape[d],
                           gc_dim_str(p->dims, v->dims[d]), (long long)want);
    }
  }
  return NULL;
}

/* --- sizes and plan ------------------------------------------------------------ */

static graphc_status_t plan(graphc_executable_t *e) {
  const kir_program *p = e->model.prog;
  if (e->plan_valid && !memcmp(e->plan_syms, e->symvals, sizeof *e->symvals * (size_t)p->nsyms))
    return NULL;
  e->plan_valid = false;
  for (int i = 0; i < p->nsizes; i++) {
    graphc_status_t st = gc_dim_eval(p->dims, p->sizes[i], e->symvals, e->bound, &e->sizes[i]);
    if (st) return gc_status_wrap(st, "size '%s'", gc_dim_str(p->dims, p->sizes[i]));
  }
  for (int b = 0; b < p->nbuffers; b++) {
    const kir_buffer *buf = &p->buffers[b];
    int64_t n = e->sizes[buf->numel], es = (int64_t)graphc_dtype_size(buf->dtype);
    if (n < 0 || n > (INT64_MAX / 2) / es)
      return gc_status(GRAPHC_STATUS_OUT_OF_RANGE, "buffer '%s' would hold %lld elements",
                       buf->name, (long long)n);
    e->bytes[b] = n * es;
  }
  GC_TRY(gc_rt_plan(p, e->bytes, e->offsets, &e->plan_peak));
  memcpy(e->plan_syms, e->symvals, sizeof *e->symvals * (size_t)p->nsyms);
  e->plan_valid = true;
  return NULL;
}

static graphc_status_t ensure_arena(graphc_executable_t *e, int64_t bytes) {
  if (bytes <= e->arena_cap) return NULL;
  int64_t cap = (bytes + GC_ARENA_ALIGN - 1) / GC_ARENA_ALIGN * GC_ARENA_ALIGN;
  void *a = (uint64_t)cap > SIZE_MAX ? NULL : gc_rt_alloc((size_t)cap);
  if (!a)
    return gc_status(GRAPHC_STATUS_RESOURCE_EXHAUSTED,
                     "cannot allocate the %lld-byte arena for intermediate tensors", (long long)cap);
  free(e->arena);
  e->arena = a;
  e->arena_cap = cap;
  return NULL;
}

/* --- outputs ------------------------------------------------------------------- */

typedef struct out_holder {
  DLManagedTensor managed;
  int64_t shape[GRAPHC_MAX_RANK];
  gc_block_cache *blocks; /* where the data goes back to */
  size_t cap;
} out_holder;

static void out_deleter(DLManagedTensor *self) {
  if (!self) return;
  out_holder *h = self->manager_ctx;
  gc_block_cache_put(h->blocks, self->dl_tensor.data, h->cap);
  free(h);
}

static graphc_status_t alloc_output(graphc_executable_t *e, int o, int64_t want_numel,
                                    DLManagedTensor **out) {
  const gc_model *m = &e->model;
  const gc_sig_value *v = &m->outputs[o];
  out_holder *h = calloc(1, sizeof *h);
  if (!h) return GC_OOM();
  int64_t numel = 1;
  for (int d = 0; d < v->rank; d++) {
    graphc_status_t st = gc_dim_eval(m->prog->dims, v->dims[d], e->symvals, e->bound, &h->shape[d]);
    if (st) {
      free(h);
      return gc_status_wrap(st, "output %d '%s' dim %d", o, v->name, d);
    }
    numel *= h->shape[d];
  }
  if (numel != want_numel) {
    free(h);
    return gc_status(GRAPHC_STATUS_INTERNAL, "output %d '%s' has %lld elements but its buffer %lld",
                     o, v->name, (long long)numel, (long long)want_numel);
  }
  size_t bytes = (size_t)numel * graphc_dtype_size(v->dtype);
  void *data = gc_block_cache_get(e->blocks, bytes, &h->cap);
  h->blocks = e->blocks;
  if (!data) {
    free(h);
    return gc_status(GRAPHC_STATUS_RESOURCE_EXHAUSTED, "cannot allocate output '%s' (%zu bytes)",
                     v->name, bytes);
  }
  DLTensor *x = &h->managed.dl_tensor;
  x->data = data;
  x->device = (DLDevice){kDLCPU, 0};
  x->ndim = v->rank;
  x->dtype = gc_dtype_to_dl(v->dtype);
  x->shape = h->shape;
  h->managed.manager_ctx = h;
  h->managed.deleter = out_deleter;
  *out = &h->managed;
  return NULL;
}

/* --- steps --------------------------------------------------------------------- */

typedef struct kernel_task {
  const graphc_executable_t *exe;
  int kernel;
  gc_kernel_fn fn;
  void *const *bufs;
  const int64_t *sizes;
  const gc_env *env;
} kernel_task;

static void kernel_chunk(void *closure, int64_t begin, int64_t end) {
  const kernel_task *t = closure;
  t->fn(begin, end, t->bufs, t->sizes, t->env);
}

static void run_kernel(graphc_executable_t *e, int k, const gc_env *env) {
  const kir_kernel *kr = &e->model.prog->kernels[k];
  int64_t n = 1, work = 0;
  for (int d = 0; d < kr->nouter; d++) n *= e->sizes[kr->outer[d]];
  for (int g = 0; g < kr->nstages; g++) {
    int64_t w = 1;
    for (int d = 0; d < kr->stages[g].ninner; d++) w *= e->sizes[kr->stages[g].inner[d]];
    work += w;
  }
  if (n <= 0) return;
  if (work < 1) work = 1;
  int64_t grain = (GC_CHUNK_WORK + work - 1) / work;
  kernel_task t = {e, k, e->kernels.fns[k], e->bufs, e->sizes, env};
  env->parallel_for(env->parallel_user, n, grain, kernel_chunk, &t);
}

/* One GEMM of a batch, C[b] = alpha op(A[b]) op(B[b]) + beta C[b]. */
typedef struct gemm_task {
  const kir_gemm *g;
  const gc_env *env;
  char *A, *B, *C;
  int64_t m, n, k, lda, ldb, ldc, sa, sb, sc, es;
} gemm_task;

static void gemm_batches(void *closure, int64_t begin, int64_t end) {
  const gemm_task *t = closure;
  const kir_gemm *g = t->g;
  for (int64_t b = begin; b < end; b++) {
    char *a = t->A + b * t->sa * t->es, *bb = t->B + b * t->sb * t->es, *c = t->C + b * t->sc * t->es;
    if (t->k == 0) { /* C = beta * C: no library call with empty operands */
      for (int64_t i = 0; i < t->m; i++)
        for (int64_t j = 0; j < t->n; j++) {
          if (g->dtype == GRAPHC_F32) {
            float *x = (float *)c + i * t->ldc + j;
            *x = g->beta == 0 ? 0.0f : (float)g->beta * *x;
          } else {
            double *x = (double *)c + i * t->ldc + j;
            *x = g->beta == 0 ? 0.0 : g->beta * *x;
          }
        }
    } else if (g->dtype == GRAPHC_F32) {
      t->env->sgemm(t->env->gemm_user, g->trans_a, g->trans_b, t->m, t->n, t->k, (float)g->alpha,
                    (const float *)a, t->lda, (const float *)bb, t->ldb, (float)g->beta, (float *)c, t->ldc);
    } else {
      t->env->dgemm(t->env->gemm_user, g->trans_a, g->trans_b, t->m, t->n, t->k, g->alpha,
                    (const double *)a, t->lda, (const double *)bb, t->ldb, g->beta, (double *)c, t->ldc);
    }
  }
}

/* Below this many multiply-adds OpenBLAS runs a GEMM on the calling
 * thread (its SMP threshold), so the batches of small GEMMs (attention
 * heads) are spread over the pool instead, one library call per batch. */
#define GC_SMALL_GEMM (1ll << 18)

static graphc_status_t run_gemm(graphc_executable_t *e, const kir_gemm *g, const gc_env *env) {
  const int64_t *z = e->sizes;
  gemm_task t = {.g = g, .env = env, .m = z[g->m], .n = z[g->n], .k = z[g->k], .lda = z[g->lda],
                 .ldb = z[g->ldb], .ldc = z[g->ldc], .es = (int64_t)graphc_dtype_size(g->dtype)};
  int64_t batch = g->batch < 0 ? 1 : z[g->batch];
  t.sa = g->stride_a < 0 ? 0 : z[g->stride_a];
  t.sb = g->stride_b < 0 ? 0 : z[g->stride_b];
  t.sc = g->stride_c < 0 ? 0 : z[g->stride_c];
  if (t.m == 0 || t.n == 0 || batch == 0) return NULL;
  int64_t need_a = g->trans_a ? t.m : t.k, need_b = g->trans_b ? t.k : t.n;
  if (t.m < 0 || t.n < 0 || t.k < 0 || batch < 0 || t.ldc < t.n ||
      (t.k > 0 && (t.lda < need_a || t.ldb < need_b)) || t.m > GC_ENV_GEMM_MAX_DIM ||
      t.n > GC_ENV_GEMM_MAX_DIM || t.k > GC_ENV_GEMM_MAX_DIM || t.lda > GC_ENV_GEMM_MAX_DIM ||
      t.ldb > GC_ENV_GEMM_MAX_DIM || t.ldc > GC_ENV_GEMM_MAX_DIM)
    return gc_status(GRAPHC_STATUS_OUT_OF_RANGE,
                     "gemm into '%s': m=%lld n=%lld k=%lld lda=%lld ldb=%lld ldc=%lld is outside "
                     "what the GEMM library takes", e->model.prog->buffers[g->c].name, (long long)t.m,
                     (long long)t.n, (long long)t.k, (long long)t.lda, (long long)t.ldb, (long long)t.ldc);
  t.A = e->bufs[g->a], t.B = e->bufs[g->b], t.C = e->bufs[g->c];
  double work = (double)t.m * (double)t.n * (double)(t.k ? t.k : 1); /* no int64 overflow */
  if (batch > 1 && work <= (double)GC_SMALL_GEMM)
    env->parallel_for(env->parallel_user, batch, (GC_SMALL_GEMM + (int64_t)work - 1) / (int64_t)work,
                      gemm_batches, &t);
  else
    gemm_batches(&t, 0, batch);
  return NULL;
}

static graphc_status_t run_steps(graphc_executable_t *e, const gc_env *env, gc_rt_error *err) {
  const kir_program *p = e->model.prog;
  for (int s = 0; s < p->nsteps; s++) {
    const kir_step *st = &p->steps[s];
    int kernel = -1;
    if (st->kind == KIR_STEP_KERNEL) {
      kernel = st->kernel;
      run_kernel(e, kernel, env);
    } else if (st->kind == KIR_STEP_GEMM) {
      GC_TRY(run_gemm(e, &st->gemm, env));
      kernel = st->gemm.epilogue;
      if (kernel >= 0) run_kernel(e, kernel, env);
    } else if (st->kind == KIR_STEP_CHECK) {
      int64_t fv[2] = {0, 0};
      if (e->bytes[st->src] < (int64_t)sizeof fv)
        return gc_status(GRAPHC_STATUS_INTERNAL, "step %d: check buffer is too small", s);
      memcpy(fv, e->bufs[st->src], sizeof fv);
      if (fv[0]) return gc_status(GRAPHC_STATUS_OUT_OF_RANGE, "%s (got %lld)", st->message, (long long)fv[1]);
    } else {
      int64_t n = e->sizes[st->count], es = (int64_t)graphc_dtype_size(p->buffers[st->dst].dtype);
      if (n < 0 || n * es > e->bytes[st->src] || n * es > e->bytes[st->dst])
        return gc_status(GRAPHC_STATUS_INTERNAL, "step %d: copy of %lld elements overruns a buffer",
                         s, (long long)n);
      if (n) memmove(e->bufs[st->dst], e->bufs[st->src], (size_t)(n * es));
    }
    if (atomic_load(&err->set))
      return gc_status(err->code >= 1 && err->code <= GRAPHC_STATUS_INTERNAL
                           ? (graphc_status_code_t)err->code : GRAPHC_STATUS_INTERNAL,
                       "step %d%s%s: %s", s, kernel >= 0 ? ", kernel " : "",
                       kernel >= 0 ? p->kernels[kernel].name : "", err->message);
  }
  return NULL;
}

/* --- the call ------------------------------------------------------------------- */

static graphc_status_t run_locked(graphc_executable_t *e, DLTensor *const *in, DLManagedTensor **outs,
                                  void **scratch) {
  const gc_model *m = &e->model;
  const kir_program *p = m->prog;
  GC_TRY(bind_and_check(e, in));
  if (e->mode == GC_EXEC_EVAL) {
    int64_t peak = 0;
    GC_TRY(gc_rt_eval_run(e, in, outs, &peak));
    e->peak_bytes = peak;
    e->runs++;
    return NULL;
  }
  GC_TRY(plan(e));
  GC_TRY(ensure_arena(e, e->plan_peak));
  static const int64_t empty[8]; /* where zero-byte buffers point */
  for (int b = 0; b < p->nbuffers; b++) {
    const kir_buffer *buf = &p->buffers[b];
    e->bufs[b] = (void *)empty;
    if (buf->role == KIR_BUF_TEMP) {
      if (e->bytes[b]) e->bufs[b] = (char *)e->arena + e->offsets[b];
    } else if (buf->role == KIR_BUF_OUTPUT) {
      if (!outs[buf->index]) GC_TRY(alloc_output(e, buf->index, e->sizes[buf->numel], &outs[buf->index]));
      if (e->bytes[b]) e->bufs[b] = outs[buf->index]->dl_tensor.data;
    } else {
      const DLTensor *t = in[buf->index];
      size_t es = graphc_dtype_size(buf->dtype);
      if (numel_of(t) != e->sizes[buf->numel])
        return gc_status(GRAPHC_STATUS_INTERNAL, "input '%s' has %lld elements, its buffer %lld",
                         m->inputs[buf->index].name, (long long)numel_of(t),
                         (long long)e->sizes[buf->numel]);
      if (!e->bytes[b]) continue;
      if (!t->data) return input_error(m, buf->index, "got a tensor whose data is NULL");
      char *at = (char *)t->data + t->byte_offset;
      if (is_compact(t) && (uintptr_t)at % es == 0) {
        e->bufs[b] = at;
      } else {
        if (!scratch[buf->index] && !(scratch[buf->index] = compact_copy(t, es))) return GC_OOM();
        e->bufs[b] = scratch[buf->index];
      }
    }
  }
  gc_rt_error err;
  atomic_init(&err.set, false);
  err.code = 0;
  err.message[0] = 0;
  gc_env env;
  gc_env_fill(&env, e->parallel_for, e->parallel_user, &err);
  GC_TRY(run_steps(e, &env, &err));
  /* Keep up to two calls' worth of output blocks for the next calls. */
  size_t out_bytes = 0;
  for (int b = 0; b < p->nbuffers; b++)
    if (p->buffers[b].role == KIR_BUF_OUTPUT) out_bytes += (size_t)e->bytes[b];
  gc_block_cache_set_limit(e->blocks, 2 * out_bytes);
  e->peak_bytes = e->plan_peak;
  e->runs++;
  return NULL;
}

graphc_status_t graphc_executable_run(graphc_executable_t *e, DLTensor *const *inputs, int num_inputs,
                                      DLManagedTensor **out_outputs, int max_outputs) {
  GC_TRY(gc_executable_check(e));
  const gc_model *m = &e->model;
  if (num_inputs != m->ninputs)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "graph '%s' takes %d inputs, got %d", m->name,
                     m->ninputs, num_inputs);
  if (num_inputs && !inputs) return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "inputs is NULL");
  if (max_outputs < m->noutputs || (m->noutputs && !out_outputs))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT,
                     "graph '%s' has %d outputs but out_outputs has room for %d", m->name,
                     m->noutputs, max_outputs);
  DLManagedTensor **outs = calloc((size_t)m->noutputs + 1, sizeof *outs);
  void **scratch = calloc((size_t)m->ninputs + 1, sizeof *scratch);
  graphc_status_t st = (!outs || !scratch) ? GC_OOM() : NULL;
  if (!st) {
    pthread_mutex_lock(&e->mu);
    st = run_locked(e, inputs, outs, scratch);
    pthread_mutex_unlock(&e->mu);
  }
  for (int o = 0; outs && o < m->noutputs; o++) {
    if (st && outs[o]) outs[o]->deleter(outs[o]);
    else if (!st) out_outputs[o] = outs[o];
  }
  for (int i = 0; scratch && i < m->ninputs; i++) free(scratch[i]);
  free(scratch);
  free(outs);
  return st;
}
