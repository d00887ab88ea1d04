#!/usr/bin/env python3
"""Compares two `graphc train` runs: the params they wrote (--params-out
DIR, one NAME.npy per param) and the per-step losses they printed
("step K loss L ..." lines).

    compare.py DIR_A LOG_A DIR_B LOG_B [--tol 1e-5] [--label TEXT] [--per-step]

The parameter difference of a tensor is max|a - b| / max|b| (relative to
its largest element, so near-zero entries do not blow it up); the loss
difference of a step is |La - Lb| / |Lb|. Prints the largest of each (with
--per-step also every step's losses and their difference), and
exits 1 when either exceeds --tol (or the runs do not match up: other
params, other step counts), 0 otherwise.
"""
import argparse
import os
import re
import sys

import numpy as np


def losses(path):
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"step (\d+) loss (\S+)", line)
            if m:
                out[int(m.group(1))] = float(m.group(2))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir_a")
    ap.add_argument("log_a")
    ap.add_argument("dir_b")
    ap.add_argument("log_b")
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--label", default="")
    ap.add_argument("--per-step", action="store_true")
    a = ap.parse_args()
    label = a.label + ": " if a.label else ""
    names_a = sorted(f for f in os.listdir(a.dir_a) if f.endswith(".npy"))
    names_b = sorted(f for f in os.listdir(a.dir_b) if f.endswith(".npy"))
    if not names_a or names_a != names_b:
        print(f"{label}FAIL: the runs wrote different params: {names_a} vs {names_b}")
        return 1
    worst, worst_name = 0.0, ""
    for n in names_a:
        x = np.load(os.path.join(a.dir_a, n)).astype(np.float64)
        y = np.load(os.path.join(a.dir_b, n)).astype(np.float64)
        if x.shape != y.shape:
            print(f"{label}FAIL: {n}: shapes {x.shape} vs {y.shape}")
            return 1
        scale = max(float(np.abs(y).max()), 1e-30)
        d = float(np.abs(x - y).max()) / scale
        if not np.isfinite(d) or d > worst or not worst_name:
            worst, worst_name = d, n[:-4]
    la, lb = losses(a.log_a), losses(a.log_b)
    if not la or sorted(la) != sorted(lb):
        print(f"{label}FAIL: the runs printed different steps: {sorted(la)} vs {sorted(lb)}")
        return 1
    lw, lstep = 0.0, 0
    if a.per_step:
        print(f"{'step':>4} {'loss A':>14} {'loss B':>14} {'difference':>11}")
    for k in sorted(la):
        d = abs(la[k] - lb[k]) / max(abs(lb[k]), 1e-30)
        if a.per_step:
            print(f"{k:>4} {la[k]:>14.9g} {lb[k]:>14.9g} {d:>11.3g}")
        if not np.isfinite(d) or d > lw or not lstep:
            lw, lstep = d, k
    ok = worst <= a.tol and lw <= a.tol
    print(f"{label}largest param difference {worst:.3g} (relative, {worst_name}); "
          f"largest loss difference {lw:.3g} (relative, step {lstep}) over {len(la)} steps; "
          f"{'ok' if ok else 'FAIL'} (tolerance {a.tol:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
