/* Inference through graphc_compile:
 *   - MLP 4 x (Linear 1024 + ReLU), batch 64 (ms per forward, GFLOP/s);
 *   - nn.TransformerEncoderLayer(d=256, 4 heads, ffn 1024, relu, post-norm,
 *     batch_first) forward, S=128, B=8 (ms per forward).
 * Their baselines (PyTorch, ONNX Runtime) run in other processes from
 * bench/run.sh, which puts the figures side by side. Also prints each
 * graph's compile time, cold and from the on-disk cache. Medians; asserts
 * nothing about time. */
#include <math.h>

#include "bench_common.h"

#define REPS 31
#define MAX_INPUTS 24

static const char *const kMlpGraph =
    "graph mlp4(x: f32[B, 1024] input,\n"
    "    w1: f32[1024, 1024] param, b1: f32[1024] param,\n"
    "    w2: f32[1024, 1024] param, b2: f32[1024] param,\n"
    "    w3: f32[1024, 1024] param, b3: f32[1024] param,\n"
    "    w4: f32[1024, 1024] param, b4: f32[1024] param) {\n"
    "  %h1 = linear(x, w1, b1)\n"
    "  %a1 = relu(%h1)\n"
    "  %h2 = linear(%a1, w2, b2)\n"
    "  %a2 = relu(%h2)\n"
    "  %h3 = linear(%a2, w3, b3)\n"
    "  %a3 = relu(%h3)\n"
    "  %h4 = linear(%a3, w4, b4)\n"
    "  %a4 = relu(%h4)\n"
    "  return %a4\n"
    "}\n";

/* PyTorch's TransformerEncoderLayer in eval mode: dropout is identity,
 * norm_first=False (x = norm1(x + sa(x)); x = norm2(x + ff(x))). */
static const char *const kEncoderGraph =
    "graph encoder_layer(x: f32[B, S, 256] input,\n"
    "    wq: f32[256, 256] param, bq: f32[256] param,\n"
    "    wk: f32[256, 256] param, bk: f32[256] param,\n"
    "    wv: f32[256, 256] param, bv: f32[256] param,\n"
    "    wo: f32[256, 256] param, bo: f32[256] param,\n"
    "    ln1_w: f32[256] param, ln1_b: f32[256] param,\n"
    "    w1: f32[1024, 256] param, b1: f32[1024] param,\n"
    "    w2: f32[256, 1024] param, b2: f32[256] param,\n"
    "    ln2_w: f32[256] param, ln2_b: f32[256] param) {\n"
    "  %q = linear(x, wq, bq)\n"
    "  %k = linear(x, wk, bk)\n"
    "  %v = linear(x, wv, bv)\n"
    "  %q4 = reshape(%q, shape=[B, S, 4, 64])\n"
    "  %k4 = reshape(%k, shape=[B, S, 4, 64])\n"
    "  %v4 = reshape(%v, shape=[B, S, 4, 64])\n"
    "  %qh = permute(%q4, dims=[0, 2, 1, 3])\n"
    "  %kh = permute(%k4, dims=[0, 2, 1, 3])\n"
    "  %vh = permute(%v4, dims=[0, 2, 1, 3])\n"
    "  %att = scaled_dot_product_attention(%qh, %kh, %vh)\n"
    "  %att_t = transpose(%att, dim0=1, dim1=2)\n"
    "  %att_m = reshape(%att_t, shape=[B, S, 256])\n"
    "  %o = linear(%att_m, wo, bo)\n"
    "  %r1 = add(x, %o)\n"
    "  %n1 = layer_norm(%r1, ln1_w, ln1_b, normalized_shape=[256], eps=1e-05)\n"
    "  %f1 = linear(%n1, w1, b1)\n"
    "  %a = relu(%f1)\n"
    "  %f2 = linear(%a, w2, b2)\n"
    "  %r2 = add(%n1, %f2)\n"
    "  %y = layer_norm(%r2, ln2_w, ln2_b, normalized_shape=[256], eps=1e-05)\n"
    "  return %y\n"
    "}\n";

/* Input shapes of a benchmark, in graph order (ndim 0 ends the list). */
typedef struct shape_spec {
  int ndim;
  int64_t dims[3];
} shape_spec;

/* Compiles `text`, measures compile times, runs it REPS times on
 * deterministic inputs; writes the median ms to *out_ms. */
static int run_graph(graphc_context_t *ctx, const char *text, const char *key,
                     const shape_spec *specs, double *out_ms, double *out_min_ms) {
  graphc_graph_t *g = NULL;
  graphc_executable_t *exe = NULL;
  if (bench_check(bench_parse(ctx, text, key, &g), "parse")) return 1;
  if (bench_compile_times(g, key, 5)) return 1;
  if (bench_check(bench_compile(g, NULL, &exe), "compile")) return 1;
  DLTensor t[MAX_INPUTS];
  DLTensor *inputs[MAX_INPUTS];
  float *data[MAX_INPUTS];
  int n = 0, bad = 0;
  for (; specs[n].ndim && n < MAX_INPUTS; n++) {
    int64_t count = 1;
    for (int d = 0; d < specs[n].ndim; d++) count *= specs[n].dims[d];
    /* Weights ~ 1/sqrt(fan_in) keep activations in range through layers. */
    float scale = n == 0 ? 1.0f : 1.0f / sqrtf((float)specs[n].dims[specs[n].ndim - 1]);
    data[n] = bench_alloc_f32(count, scale);
    if (!data[n]) return 1;
    t[n] = bench_f32_tensor(data[n], specs[n].ndim, (int64_t *)specs[n].dims);
    inputs[n] = &t[n];
  }
  double ms[REPS];
  for (int r = -3; r < REPS && !bad; r++) {
    DLManagedTensor *out = NULL;
    double t0 = bench_now_ms();
    bad = bench_check(graphc_executable_run(exe, inputs, n, &out, 1), "run");
    double dt = bench_now_ms() - t0;
    if (bad) break;
    if (r == -3) { /* a wrong graph shows as non-finite output, not a time */
      const float *y = out->dl_tensor.data;
      int64_t cnt = 1;
      for (int d = 0; d < out->dl_tensor.ndim; d++) cnt *= out->dl_tensor.shape[d];
      for (int64_t i = 0; i < cnt; i++)
        if (!isfinite(y[i])) {
          fprintf(stderr, "%s: output %lld is %g\n", key, (long long)i, y[i]);
          bad = 1;
          break;
        }
    }
    out->deleter(out);
    if (r >= 0) ms[r] = dt;
  }
  if (!bad) *out_ms = bench_median(ms, REPS), *out_min_ms = bench_min(ms, REPS);
  if (!bad)
    printf("  %s: %d kernel(s), arena %.1f MiB, min %.3f ms\nKV %s_min_ms %.3f\n", key,
           graphc_executable_num_kernels(exe),
           (double)graphc_executable_peak_bytes(exe) / (1 << 20), bench_min(ms, REPS), key,
           bench_min(ms, REPS));
  for (int i = 0; i < n; i++) free(data[i]);
  graphc_executable_release(exe);
  graphc_graph_release(g);
  return bad;
}

int main(void) {
  const int threads = bench_threads();
  graphc_context_t *ctx = bench_context(threads);
  if (!ctx) return 1;
  const shape_spec mlp[] = {
      {2, {64, 1024}},   {2, {1024, 1024}}, {1, {1024}}, {2, {1024, 1024}}, {1, {1024}},
      {2, {1024, 1024}}, {1, {1024}},       {2, {1024, 1024}}, {1, {1024}}, {0, {0}}};
  const shape_spec enc[] = {
      {3, {8, 128, 256}}, {2, {256, 256}},  {1, {256}}, {2, {256, 256}},  {1, {256}},
      {2, {256, 256}},    {1, {256}},       {2, {256, 256}}, {1, {256}}, {1, {256}},
      {1, {256}},         {2, {1024, 256}}, {1, {1024}}, {2, {256, 1024}}, {1, {256}},
      {1, {256}},         {1, {256}},       {0, {0}}};
  double ms = 0, min_ms = 0;
  int bad = run_graph(ctx, kMlpGraph, "mlp", mlp, &ms, &min_ms);
  if (!bad) {
    double gf = 4.0 * 2.0 * 64 * 1024 * 1024 / (ms * 1e6);
    printf("MLP 4x(Linear 1024+ReLU) batch 64, %d threads: median %.3f ms = %.1f GFLOP/s "
           "(of %d)\n", threads, ms, gf, REPS);
    printf("KV mlp_ms %.3f\nKV mlp_gflops %.1f\n", ms, gf);
  }
  if (!bad) bad = run_graph(ctx, kEncoderGraph, "encoder", enc, &ms, &min_ms);
  if (!bad) {
    printf("TransformerEncoderLayer d=256 h=4 ffn=1024 S=128 B=8, %d threads: median "
           "%.3f ms (of %d)\n", threads, ms, REPS);
    printf("KV encoder_ms %.3f\n", ms);
  }
  graphc_context_release(ctx);
  return bad;
}
