#!/usr/bin/python3
"""Adds up Nsight Compute's per-kernel durations (--csv --print-units base,
metric gpu__time_duration.sum) of one training step by kernel family, and
sets them against the step's wall time (microseconds) measured without the
profiler. usage: ncu_sum.py NCU_CSV WALL_US LABEL (TOP=N: the N longest
kernels, default 15)"""
import collections
import csv
import os
import sys

FAMILIES = [  # first match wins: (family, substrings of the kernel's name)
    ("attention", ("flash_", "attention", "softmax_causal")),
    ("matrix products", ("gemm", "nvjet", "cutlass", "xmma", "splitk", "cublas")),
    ("classifier", ("classifier", "crossentropy")),
    ("AdamW and norm", ("adamw", "norm2", "grad_norm")),
    ("LayerNorm", ("layernorm",)),
    ("GELU", ("gelu",)),
    ("embeddings", ("encoder",)),
    ("residual and casts", ("residual", "cast", "add")),
]


def family(name):
    low = name.lower()
    for fam, keys in FAMILIES:
        if any(k in low for k in keys):
            return fam
    return "other"


def main():
    path, wall, label = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    rows = [line for line in open(path, encoding="utf-8", errors="replace") if line.startswith('"')]
    by_kernel = collections.defaultdict(lambda: [0.0, 0])
    for r in csv.DictReader(rows):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        us = float(r["Metric Value"].replace(",", "")) / 1e3  # ns
        k = by_kernel[r["Kernel Name"].split("(")[0][:60]]
        k[0] += us
        k[1] += 1
    if not by_kernel:
        sys.exit("profile: no kernel durations in the profiler's output")
    total = sum(v[0] for v in by_kernel.values())
    fams = collections.defaultdict(float)
    for name, (us, _) in by_kernel.items():
        fams[family(name)] += us
    print(f"profile: {label}: one step, {sum(v[1] for v in by_kernel.values())} kernels")
    print(f"{'kernel':<62} {'calls':>5} {'ms':>8} {'share':>6}")
    for name, (us, n) in sorted(by_kernel.items(), key=lambda kv: -kv[1][0])[:int(os.environ.get("TOP", "15"))]:
        print(f"{name:<62} {n:>5} {us / 1e3:8.2f} {100 * us / wall:5.1f}%")
    print(f"\n{'family':<24} {'ms':>8} {'share of the step':>18}")
    for fam, us in sorted(fams.items(), key=lambda kv: -kv[1]):
        print(f"{fam:<24} {us / 1e3:8.2f} {100 * us / wall:17.1f}%")
    idle = wall - total
    print(f"{'idle between kernels':<24} {idle / 1e3:8.2f} {100 * idle / wall:17.1f}%")
    print(f"{'step (wall, unprofiled)':<24} {wall / 1e3:8.2f} {100.0:17.1f}%")


if __name__ == "__main__":
    main()
