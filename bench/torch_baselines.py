"""PyTorch 1.13 baselines for bench/run.sh, in the configuration that gives
each its best on this machine class (../shared/BASELINES.md):

  gelu(x*w+b) 16M f32        eager, torch.set_num_threads(2)
  MLP 4 x (Linear 1024+ReLU)  torch.jit.script + freeze + optimize_for_inference,
                              torch threads 1, OPENBLAS_NUM_THREADS=2 (env)
  TransformerEncoderLayer     eager, eval mode, no_grad, torch threads 1

The malloc tuning (MALLOC_*_ env) is chosen by the caller. Prints
"KV <prefix>_<key> <value>" lines (medians, ms). With --onnx-dir, also
exports the three models there (opset 14) for ONNX Runtime.
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn as nn


def median_ms(fn, reps, warmup=3, key=None):
    """Median ms of `reps` calls; also prints the best as KV <key>_min_ms."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    if key:
        print(f"KV {key}_min_ms {min(times):.3f}")
    return statistics.median(times)


class GeluChain(nn.Module):
    def forward(self, x, w, b):
        return nn.functional.gelu(x * w + b)


def mlp():
    layers = []
    for _ in range(4):
        layers += [nn.Linear(1024, 1024), nn.ReLU()]
    return nn.Sequential(*layers).eval()


def encoder():
    return nn.TransformerEncoderLayer(256, 4, dim_feedforward=1024, batch_first=True).eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", default="torch")
    ap.add_argument("--onnx-dir")
    ap.add_argument("--only", default="gelu,mlp,encoder")
    args = ap.parse_args()
    only = args.only.split(",")
    torch.manual_seed(0)
    p = args.prefix
    n = 16 << 20
    with torch.no_grad():
        if "gelu" in only:
            x, w, b = (torch.randn(n) for _ in range(3))
            torch.set_num_threads(2)
            ms = median_ms(lambda: GeluChain()(x, w, b), 9, warmup=2, key=f"{p}_gelu")
            print(f"KV {p}_gelu_ms {ms:.3f}")
            print(f"KV {p}_gelu_gbs {16 * n / (ms * 1e6):.2f}")
        torch.set_num_threads(1)
        m = mlp()
        xm = torch.randn(64, 1024)
        if "mlp" in only:
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(m)))
            ms = median_ms(lambda: frozen(xm), 31, warmup=5, key=f"{p}_mlp")
            print(f"KV {p}_mlp_ms {ms:.3f}")
            print(f"KV {p}_mlp_gflops {4 * 2 * 64 * 1024 * 1024 / (ms * 1e6):.1f}")
        e = encoder()
        xe = torch.randn(8, 128, 256)
        if "encoder" in only:
            ms = median_ms(lambda: e(xe), 31, warmup=5, key=f"{p}_encoder")
            print(f"KV {p}_encoder_ms {ms:.3f}")
    if args.onnx_dir:
        os.makedirs(args.onnx_dir, exist_ok=True)
        xs = torch.randn(1 << 20)  # shape is dynamic in the model; small for export
        exports = [("gelu", GeluChain(), (xs, xs, xs), ["x", "w", "b"], {"x": {0: "N"}, "w": {0: "N"}, "b": {0: "N"}}),
                   ("mlp", m, (xm,), ["x"], None),
                   ("encoder", e, (xe,), ["x"], None)]
        for name, mod, inputs, names, dyn in exports:
            try:
                torch.onnx.export(mod, inputs, os.path.join(args.onnx_dir, name + ".onnx"),
                                  opset_version=14, input_names=names, output_names=["y"],
                                  dynamic_axes=dyn)
            except Exception as ex:  # ORT then skips this model, saying why
                print(f"KV ort_{name}_note onnx-export-failed:{type(ex).__name__}")
                print(f"onnx export of {name} failed: {ex}", file=sys.stderr)


if __name__ == "__main__":
    main()
