#!/usr/bin/python3
"""PyTorch eager baselines of bench/train/run.sh: one training step
(zero_grad, forward, loss, backward, SGD step) of the models in
bench/train/*.gc, median ms over STEPS steps after WARMUP.

    torch_train.py mlp|cnn [--threads N] [--steps N]

Prints "KV torch_<model>_ms <median>" and "KV torch_<model>_peak_bytes
<bytes>": the growth of peak RSS over the first step (grads, activations,
temporaries; the params existed before), as libgraphc's figure counts the
arena plus the step's outputs. Threads: BASELINES.md (MLP torch 1 +
OPENBLAS_NUM_THREADS=2 from the environment; CNN torch 2)."""
import argparse
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

WARMUP = 5


def rss_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def mlp(b):
    m = nn.Sequential(*[x for _ in range(4) for x in (nn.Linear(1024, 1024), nn.ReLU())])
    x, y = torch.rand(b, 1024) * 2 - 1, torch.rand(b, 1024) * 2 - 1
    return m, lambda: F.mse_loss(m(x), y)


def cnn(b):
    m = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1),
                      nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    x, t = torch.rand(b, 3, 32, 32) * 2 - 1, torch.randint(0, 10, (b,))
    return m, lambda: F.cross_entropy(m(x), t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('model', choices=['mlp', 'cnn'])
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--steps', type=int, default=30)
    ap.add_argument('--tag', default='')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m, loss_fn = {'mlp': (lambda: mlp(64)), 'cnn': (lambda: cnn(32))}[a.model]()
    opt = torch.optim.SGD(m.parameters(), lr=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        opt.step()
        return loss

    before = rss_bytes()
    step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    for _ in range(WARMUP - 1):
        step()
    ms = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    med = ms[len(ms) // 2] if len(ms) % 2 else (ms[len(ms) // 2 - 1] + ms[len(ms) // 2]) / 2
    print('KV torch_%s%s_ms %.3f' % (a.model, a.tag, med))
    print('KV torch_%s%s_peak_bytes %d' % (a.model, a.tag, max(peak, 0)))


if __name__ == '__main__':
    main()
