/* Ahead-of-time example: runs examples/mlp.gc compiled by
 *   graphc compile examples/mlp.gc -o mlp.o --header mlp.h
 * linked into this program with libgraphc's runtime; no LLVM at run time.
 * Checks the result against a plain C forward pass and exits non-zero on
 * any difference or error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mlp.h"

static DLTensor tensor(float *data, int ndim, int64_t *shape) {
  DLTensor t = {0};
  t.data = data;
  t.device.device_type = kDLCPU;
  t.ndim = ndim;
  t.dtype.code = kDLFloat;
  t.dtype.bits = 32;
  t.dtype.lanes = 1;
  t.shape = shape;
  return t;
}

static void fill(float *p, int64_t n, float scale) {
  for (int64_t i = 0; i < n; i++) p[i] = scale * (float)((i * 7919) % 97 - 48) / 48.0f;
}

/* The same model written out in C: linear, relu, linear. */
static void reference(const float *x, const float *w1, const float *b1, const float *w2,
                      const float *b2, int64_t B, float *out) {
  float h[256];
  for (int64_t r = 0; r < B; r++) {
    for (int j = 0; j < 256; j++) {
      double acc = b1[j];
      for (int k = 0; k < 784; k++) acc += (double)x[r * 784 + k] * w1[j * 784 + k];
      h[j] = acc > 0 ? (float)acc : 0.0f;
    }
    for (int j = 0; j < 10; j++) {
      double acc = b2[j];
      for (int k = 0; k < 256; k++) acc += (double)h[k] * w2[j * 256 + k];
      out[r * 10 + j] = (float)acc;
    }
  }
}

static int check(graphc_status_t st, const char *what) {
  if (!st) return 0;
  fprintf(stderr, "aot example: %s: %s\n", what, graphc_status_message(st));
  graphc_status_free(st);
  return 1;
}

int main(void) {
  graphc_executable_t *exe;
  if (check(mlp_load(NULL, &exe), "load")) return 1;
  int64_t sw1[2] = {256, 784}, sb1[1] = {256}, sw2[2] = {10, 256}, sb2[1] = {10};
  float *w1 = malloc(sizeof(float) * 256 * 784), *b1 = malloc(sizeof(float) * 256);
  float *w2 = malloc(sizeof(float) * 10 * 256), *b2 = malloc(sizeof(float) * 10);
  fill(w1, 256 * 784, 0.05f), fill(b1, 256, 0.1f), fill(w2, 10 * 256, 0.1f), fill(b2, 10, 0.1f);
  DLTensor tw1 = tensor(w1, 2, sw1), tb1 = tensor(b1, 1, sb1), tw2 = tensor(w2, 2, sw2),
           tb2 = tensor(b2, 1, sb2);
  int bad = 0;
  /* One load serves every batch size: B is a symbol of the model. */
  const int64_t batches[] = {1, 7, 64};
  for (int t = 0; t < 3 && !bad; t++) {
    int64_t B = batches[t], sx[2] = {B, 784};
    float *x = malloc(sizeof(float) * (size_t)(B * 784)), *want = malloc(sizeof(float) * (size_t)(B * 10));
    fill(x, B * 784, 1.0f);
    DLTensor tx = tensor(x, 2, sx);
    DLManagedTensor *logits = NULL;
    bad = check(mlp_run(exe, &tx, &tw1, &tb1, &tw2, &tb2, &logits), "run");
    if (!bad) {
      reference(x, w1, b1, w2, b2, B, want);
      const float *got = logits->dl_tensor.data;
      double worst = 0, sum = 0;
      for (int64_t i = 0; i < B * 10; i++) {
        double e = fabs(got[i] - want[i]) / (1 + fabs(want[i]));
        worst = e > worst ? e : worst;
        sum += got[i];
      }
      printf("B=%-3lld logits[%lld, %lld] sum %.6f, max rel error vs C %.2e, arena %lld bytes\n",
             (long long)B, (long long)logits->dl_tensor.shape[0], (long long)logits->dl_tensor.shape[1],
             sum, worst, (long long)graphc_executable_peak_bytes(exe));
      bad = !(worst < 1e-4);
      logits->deleter(logits);
    }
    free(x);
    free(want);
  }
  /* A wrong shape is an error status, never a crash. */
  int64_t wrong[2] = {3, 783};
  float junk[3 * 783] = {0};
  DLTensor tx = tensor(junk, 2, wrong);
  DLManagedTensor *logits = NULL;
  graphc_status_t st = mlp_run(exe, &tx, &tw1, &tb1, &tw2, &tb2, &logits);
  printf("wrong input shape -> %s\n", st ? graphc_status_message(st) : "accepted?!");
  bad |= st == NULL;
  graphc_status_free(st);
  graphc_executable_release(exe);
  free(w1), free(b1), free(w2), free(b2);
  puts(bad ? "FAILED" : "ok");
  return bad;
}
