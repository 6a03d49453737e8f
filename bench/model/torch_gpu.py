#!/usr/bin/env python3
"""The PyTorch peer of bench/model/cuda.sh: torch_gpt2.py's GPT-2 (learned
positions, pre-LayerNorm, tanh GELU, tied output, vocabulary padded to a
multiple of 64 as nanoGPT pads it) trained on one GPU as nanoGPT trains it:
float32 parameters under torch.autocast(bfloat16), F.scaled_dot_product_attention
(is_causal), AdamW(fused) lr 6e-4 betas (0.9, 0.95) eps 1e-8, weight decay 0.1
on matrices and embeddings only, clipping at 1.0, torch.compile or eager.

It starts from --init (`model export`'s model.safetensors: Hugging Face names,
Conv1D (in, out) weights, no lm_head) and trains on the B windows of --data
(one llm.c shard of exactly B*T+1 tokens: windows of T+1 stepping by T, as
model/data.c cuts them), the same batch every step. With --ours-log it first
trains --gate-steps steps and compares their losses with log.csv's (the gate):
every step within --rtol relative, or it prints both columns and exits 3
without timing anything. Then --warmup untimed steps and --steps timed ones,
each between torch.cuda.synchronize calls. Prints `key value` lines: gpu,
gate, tokens_per_s (median of the timed steps), peak_alloc_mb and
peak_reserved_mb (torch.cuda.max_memory_*, MB of 1e6 bytes, '-' on the CPU).

--precision fp32 on a GPU: no autocast and no TF32 (a float32 reference).
--lr-warmup N: the first N steps' lr ramps as model train --warmup N ramps it.

--device cpu is the check that runs without a GPU: float32, no autocast, no
fused AdamW, and eager where this PyTorch has no torch.compile or no SDPA.
"""
import argparse
import array
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from torch_gpt2 import GPT  # the model bench/model/run.sh times (this script's folder)


def load_safetensors(path):
    """name -> float32 tensor. By hand (8-byte header length, JSON header,
    data): `model export` writes plain F32 tensors, and the safetensors
    package need not be installed."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        head = json.loads(f.read(n))
        buf = bytearray(os.fstat(f.fileno()).st_size - 8 - n)
        if f.readinto(buf) != len(buf):
            sys.exit("%s: short read" % path)
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            sys.exit("%s: %s is %s, not F32" % (path, name, t["dtype"]))
        b, e = t["data_offsets"]
        out[name] = torch.frombuffer(buf, dtype=torch.float32, count=(e - b) // 4, offset=b).reshape(t["shape"])
    return out


def load_init(model, path):
    """Copy `model export`'s weights into model: Conv1D (in, out) weights
    transposed to nn.Linear's (out, in); the embedding's padding rows zero,
    as ours keeps them."""
    w = load_safetensors(path)

    def put(dst, name, transpose=False):
        src = w.pop(name)
        src = src.t() if transpose else src
        if src.shape != dst.shape:
            sys.exit("%s: %s is %s, the model's %s" % (path, name, list(src.shape), list(dst.shape)))
        dst.copy_(src)

    with torch.no_grad():
        model.wte.weight.zero_()
        put(model.wte.weight[:model.V], "transformer.wte.weight")
        put(model.wpe.weight, "transformer.wpe.weight")
        put(model.lnf.weight, "transformer.ln_f.weight")
        put(model.lnf.bias, "transformer.ln_f.bias")
        for l, b in enumerate(model.blocks):
            for ours, hf, conv in (("ln1", "ln_1", False), ("ln2", "ln_2", False), ("qkv", "attn.c_attn", True),
                                   ("proj", "attn.c_proj", True), ("fc", "mlp.c_fc", True),
                                   ("fcproj", "mlp.c_proj", True)):
                name = "transformer.h.%d.%s." % (l, hf)
                put(getattr(b, ours).weight, name + "weight", conv)
                put(getattr(b, ours).bias, name + "bias")
    if w:
        sys.exit("%s: tensors the model does not have: %s" % (path, ", ".join(sorted(w)[:5])))


def read_batch(path, B, T):
    """The B windows of a shard of exactly B*T+1 tokens: x (B,T), y (B,T)."""
    with open(path, "rb") as f:
        head = array.array("i")
        head.frombytes(f.read(1024))
        if sys.byteorder != "little":
            head.byteswap()
        magic, n = head[0], head[2]
        if magic not in (20240520, 20240801):
            sys.exit("%s: offset 0: magic %d is not an llm.c shard's" % (path, magic))
        ids = array.array("H" if magic == 20240520 else "I")
        ids.frombytes(f.read())
    if len(ids) != n or n != B * T + 1:
        sys.exit("%s: %d tokens (header %d); the bench needs exactly B*T+1 = %d" % (path, len(ids), n, B * T + 1))
    tok = torch.tensor(ids.tolist(), dtype=torch.long)
    x = torch.stack([tok[b * T:b * T + T] for b in range(B)])
    y = torch.stack([tok[b * T + 1:b * T + T + 1] for b in range(B)])
    return x, y


def ours_log(path, n):
    """The loss and grad_norm columns of our log.csv, steps 1..n."""
    with open(path) as f:
        rows = [r.rstrip("\n").split(",") for r in f]
    loss, norm = rows[0].index("loss"), rows[0].index("grad_norm")
    got = [(float(r[loss]), float(r[norm])) for r in rows[1:n + 1]]
    if len(got) < n:
        sys.exit("%s: %d steps, the gate needs %d" % (path, len(got), n))
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("layers", "width", "heads", "context", "micro-batch"):
        ap.add_argument("--" + name, type=int, required=True)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--data", required=True, help="a shard of exactly B*T+1 tokens")
    ap.add_argument("--init", required=True, help="model export's model.safetensors")
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--compile", type=int, default=1)
    ap.add_argument("--precision", default="bf16", choices=("bf16", "fp32"),
                    help="bf16: autocast (the GPU default); fp32: no autocast and no TF32")
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--lr-warmup", type=int, default=0,
                    help="step s of the first N at lr (s+1)/N, as model train --warmup N (default 0)")
    ap.add_argument("--ours-log", help="our log.csv: gate on its first --gate-steps losses")
    ap.add_argument("--gate-steps", type=int, default=20)
    ap.add_argument("--gate-only", action="store_true", help="stop after the gate")
    ap.add_argument("--rtol", type=float, default=0.01)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    a = ap.parse_args()
    L, C, NH, T, B, V = a.layers, a.width, a.heads, a.context, a.micro_batch, a.vocab
    dev, cuda = torch.device(a.device), a.device == "cuda"
    autocast = cuda and a.precision == "bf16"
    if cuda and not autocast:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if cuda:
        print("gpu %s" % torch.cuda.get_device_name(dev))
    sdpa = hasattr(F, "scaled_dot_product_attention")
    if cuda and not sdpa:
        sys.exit("this PyTorch (%s) has no F.scaled_dot_product_attention" % torch.__version__)

    model = GPT(L, C, NH, V, T, Vp=(V + 63) // 64 * 64, sdpa=sdpa)
    load_init(model, a.init)
    model.to(dev)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8, **({"fused": True} if cuda else {}))
    run = model
    if a.compile:
        if hasattr(torch, "compile"):
            run = torch.compile(model)
        else:
            print("note: PyTorch %s has no torch.compile: eager" % torch.__version__, file=sys.stderr)
    x, y = (t.to(dev) for t in read_batch(a.data, B, T))
    params = list(model.parameters())
    steps_done = [0]

    def step():
        if a.lr_warmup and steps_done[0] <= a.lr_warmup:
            for group in opt.param_groups:
                group["lr"] = a.lr * min(steps_done[0] + 1, a.lr_warmup) / a.lr_warmup
        steps_done[0] += 1
        if autocast:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = run(x, y)
        else:
            loss = run(x, y)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss, norm

    if a.ours_log:
        want = ours_log(a.ours_log, a.gate_steps)
        got = [tuple(v.item() for v in step()) for _ in range(a.gate_steps)]
        rel = [abs(o[0] - t[0]) / abs(t[0]) for o, t in zip(want, got)]
        worst = max(range(len(rel)), key=rel.__getitem__)
        ok = rel[worst] <= a.rtol
        print("gate %s %d %.6g %.9g %.9g" % ("ok" if ok else "FAIL", worst + 1, rel[worst], want[worst][0],
                                            got[worst][0]))
        print("losses %4s %11s %11s %9s %11s %11s" % ("step", "ours", "torch", "relative", "norm ours", "norm torch"))
        for s, (o, t, r) in enumerate(zip(want, got, rel)):
            print("losses %4d %11.6f %11.6f %9.2e %11.5g %11.5g%s" % (s + 1, o[0], t[0], r, o[1], t[1],
                                                                     "  over" if r > a.rtol else ""))
        if not ok:
            return 3
        if a.gate_only:
            return 0

    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(a.warmup):
        step()
    rates = []
    for _ in range(a.steps):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        rates.append(B * T / (time.perf_counter() - t0))
    print("tokens_per_s %.1f" % statistics.median(rates))
    if cuda:
        print("peak_alloc_mb %.0f" % (torch.cuda.max_memory_allocated(dev) / 1e6))
        print("peak_reserved_mb %.0f" % (torch.cuda.max_memory_reserved(dev) / 1e6))
    else:
        print("peak_alloc_mb -")
        print("peak_reserved_mb -")
    return 0


if __name__ == "__main__":
    sys.exit(main())
