/* Optimizer updates as elementwise graph nodes, following torch.optim's
 * single-tensor update rules (PyTorch 1.13, torch/optim/sgd.py and
 * adam.py / adamw.py) operation by operation:
 *
 *   SGD    d = g (+ wd * p);  buf = momentum * buf + d;
 *          d = nesterov ? d + momentum * buf : buf;  p = p - lr * d
 *   Adam   g = g (+ wd * p);  m = beta1 * m + (1 - beta1) * g;
 *          v = beta2 * v + (1 - beta2) * g * g;
 *          denom = sqrt(v) / sqrt(1 - beta2^t) + eps;
 *          p = p + (-lr / (1 - beta1^t)) * m / denom
 *   AdamW  p = p * (1 - lr * wd) first, then Adam without the wd term.
 *
 * Hyperparameters and the bias corrections are 0-d f64 tensors: PyTorch
 * computes them as Python floats and rounds them to the param's dtype when
 * they meet a tensor, and a 0-d f64 operand against an f32 tensor is
 * rounded the same way here (promotion keeps f32). SGD's first step needs
 * no special case: with a zero buffer and dampening 0, momentum * 0 + d is
 * d, which is what torch's clone gives. */
#include <math.h>

#include "autodiff/ad.h"
#include "autodiff/train_step.h"
#include "support/status.h"

void gc_optimizer_options_default(gc_optimizer_options *o, gc_optimizer_kind kind) {
  *o = (gc_optimizer_options){.kind = kind, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
  if (kind == GC_OPTIMIZER_ADAMW) o->weight_decay = 1e-2;
}

graphc_status_t gc_optimizer_options_check(const gc_optimizer_options *o) {
  if ((unsigned)o->kind > GC_OPTIMIZER_ADAMW)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "unknown optimizer kind %d", (int)o->kind);
  if (!(o->lr >= 0 && isfinite(o->lr)))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "invalid learning rate: %g", o->lr);
  if (!(o->weight_decay >= 0 && isfinite(o->weight_decay)))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "invalid weight_decay value: %g", o->weight_decay);
  if (o->kind == GC_OPTIMIZER_SGD) {
    if (!(o->momentum >= 0 && isfinite(o->momentum)))
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "invalid momentum value: %g", o->momentum);
    if (o->nesterov && o->momentum <= 0)
      return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "Nesterov momentum requires a momentum > 0");
    return NULL;
  }
  if (!(o->beta1 >= 0 && o->beta1 < 1))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "invalid beta1 parameter: %g (want [0, 1))", o->beta1);
  if (!(o->beta2 >= 0 && o->beta2 < 1))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "invalid beta2 parameter: %g (want [0, 1))", o->beta2);
  if (!(o->eps >= 0 && isfinite(o->eps)))
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "invalid epsilon value: %g", o->eps);
  return NULL;
}

int gc_optimizer_state_count(const gc_optimizer_options *opt) {
  if (opt->kind == GC_OPTIMIZER_SGD) return opt->momentum != 0 ? 1 : 0;
  return 2;
}

static int c64(gc_ad *ad, double v) { return ad_scalar(ad, v, GRAPHC_F64); }
static int mul(gc_ad *ad, int a, int b) { return ad_bin(ad, "mul", a, b); }
static int add(gc_ad *ad, int a, int b) { return ad_bin(ad, "add", a, b); }

static int sgd(gc_ad *ad, const gc_optimizer_options *o, int p, int g, const int *state,
               int *new_state) {
  int d = g;
  if (o->weight_decay != 0) d = add(ad, d, mul(ad, p, c64(ad, o->weight_decay)));
  if (o->momentum != 0) {
    int m = c64(ad, o->momentum);
    int buf = add(ad, mul(ad, state[0], m), d);
    new_state[0] = buf;
    d = o->nesterov ? add(ad, d, mul(ad, buf, m)) : buf;
  }
  return add(ad, p, mul(ad, d, c64(ad, -o->lr)));
}

static int adam(gc_ad *ad, const gc_optimizer_options *o, int p, int g, const int *state,
                int step, int *shared, int *new_state) {
  if (o->weight_decay != 0) {
    if (o->kind == GC_OPTIMIZER_ADAMW) p = mul(ad, p, c64(ad, 1.0 - o->lr * o->weight_decay));
    else g = add(ad, g, mul(ad, p, c64(ad, o->weight_decay)));
  }
  if (shared[0] < 0) { /* the step's scalars, once for every param */
    int t = ad_cast(ad, step, GRAPHC_F64);
    int one = c64(ad, 1.0);
    int bc1 = ad_bin(ad, "sub", one, ad_bin(ad, "pow", c64(ad, o->beta1), t));
    int bc2 = ad_bin(ad, "sub", one, ad_bin(ad, "pow", c64(ad, o->beta2), t));
    shared[0] = ad_un(ad, "neg", ad_bin(ad, "div", c64(ad, o->lr), bc1)); /* -step_size */
    shared[1] = ad_un(ad, "sqrt", bc2);
  }
  int m = add(ad, mul(ad, state[0], c64(ad, o->beta1)), mul(ad, g, c64(ad, 1.0 - o->beta1)));
  int v = add(ad, mul(ad, state[1], c64(ad, o->beta2)),
              mul(ad, mul(ad, g, c64(ad, 1.0 - o->beta2)), g));
  new_state[0] = m;
  new_state[1] = v;
  int denom = add(ad, ad_bin(ad, "div", ad_un(ad, "sqrt", v), shared[1]), c64(ad, o->eps));
  return add(ad, p, ad_bin(ad, "div", mul(ad, m, shared[0]), denom));
}

graphc_status_t gc_optimizer_emit(gc_graph *g, const gc_optimizer_options *opt, int param,
                                  int grad, const int *state, int step, int *shared,
                                  int *new_param, int *new_state) {
  GC_TRY(gc_optimizer_options_check(opt));
  if (opt->kind != GC_OPTIMIZER_SGD && step < 0)
    return gc_status(GRAPHC_STATUS_INVALID_ARGUMENT, "Adam needs the step count");
  gc_ad ad;
  ad_init(&ad, g, g);
  if (opt->kind == GC_OPTIMIZER_SGD) *new_param = sgd(&ad, opt, param, grad, state, new_state);
  else *new_param = adam(&ad, opt, param, grad, state, step, shared, new_state);
  graphc_status_t st = ad.st;
  ad.st = NULL;
  ad_release(&ad);
  return st;
}
