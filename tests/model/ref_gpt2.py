#!/usr/bin/python3
"""PyTorch GPT-2 reference for tests/model/test_gpt2.c.

Reads IN (written by the C test): int32 header [L, C, NH, M, V, context, B, T,
steps, micro, warmup], float64 [lr, min_frac, beta1, beta2, eps, weight_decay,
clip], the 16 parameter tensors in model/gpt2.h's order (float32, vocabulary V,
not padded), then int32 inputs and targets (B, T) for the gradient check, then
steps * micro pairs of (inputs, targets) for the training check.

Writes OUT: logits (B, T, V), loss, every gradient (same order), then for each
of the training steps its loss (mean over micro-batches), then the parameters
after the last step. All float32. Written with plain torch ops so that it is an
independent implementation: nothing here is shared with the C code.

With --cuda-bf16 anywhere on the command line (tests/model/test_cuda.c), the
same runs on the GPU under torch.autocast(bfloat16): float32 parameters,
AdamW and gradients, bf16 matrix products, as a PyTorch user trains.

With two more arguments P SEED (tests/model/test_dropout.c), dropout P is
applied where GPT-2 applies it (embedding sum, attention probabilities, both
projections before their residual adds) with the masks of model/gpt2.c, whose
hash is replicated here: key(SEED, 0, 0) for the gradient check, key(SEED,
step, micro) for the training steps.
"""
import contextlib
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

NAMES = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
         "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]
DECAY = {"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"}


def shapes(L, C, M, V, ctx):
    return {"wte": (V, C), "wpe": (ctx, C), "ln1w": (L, C), "ln1b": (L, C),
            "qkvw": (L, 3 * C, C), "qkvb": (L, 3 * C), "attprojw": (L, C, C),
            "attprojb": (L, C), "ln2w": (L, C), "ln2b": (L, C), "fcw": (L, M, C),
            "fcb": (L, M), "fcprojw": (L, C, M), "fcprojb": (L, C), "lnfw": (C,), "lnfb": (C,)}


M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    """splitmix64's finalizer on a Python int."""
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def mix64_np(z):
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def dropout_key(seed, step, micro):
    return mix64(mix64(mix64(seed + GOLDEN) + step) + micro)


def dropper(key, prob):
    """x -> x * mask / (1 - p), the mask of (key, layer, site) over x's elements
    in row-major order: kept when the top 24 bits of mix64(base + GOLDEN (i+1))
    are >= p 2^24. None when p is 0."""
    if prob == 0:
        return None
    thresh = np.uint64(int(np.float64(prob) * 16777216.0 + 0.5))

    def drop(x, layer, site):
        base = mix64(key + GOLDEN * (4 * layer + site + 1))
        i = np.arange(1, x.numel() + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            h = mix64_np(np.uint64(base) + np.uint64(GOLDEN) * i)
        keep = (h >> np.uint64(40)) >= thresh
        scale = np.float32(1) / (np.float32(1) - np.float32(prob))
        return x * torch.tensor((keep.astype(np.float32) * scale).reshape(x.shape), device=x.device)
    return drop


def forward(p, idx, L, NH, drop=None):
    B, T = idx.shape
    C = p["wte"].shape[1]
    x = p["wte"][idx] + p["wpe"][:T]
    if drop:
        x = drop(x, 0, 0)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool, device=idx.device))
    for l in range(L):
        h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], eps=1e-5)
        qkv = h @ p["qkvw"][l].T + p["qkvb"][l]
        q, k, v = qkv.split(C, dim=2)
        q = q.view(B, T, NH, C // NH).transpose(1, 2)
        k = k.view(B, T, NH, C // NH).transpose(1, 2)
        v = v.view(B, T, NH, C // NH).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // NH)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        if drop:
            att = drop(att, l, 1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        y = y @ p["attprojw"][l].T + p["attprojb"][l]
        x = x + (drop(y, l, 2) if drop else y)
        h = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], eps=1e-5)
        h = F.gelu(h @ p["fcw"][l].T + p["fcb"][l], approximate="tanh")
        h = h @ p["fcprojw"][l].T + p["fcprojb"][l]
        x = x + (drop(h, l, 3) if drop else h)
    x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], eps=1e-5)
    return x @ p["wte"].T


def lr_at(step, lr, min_frac, warmup, total):
    """Warmup then cosine to min_frac * lr, reaching it at the last step."""
    lo = lr * min_frac
    if step < warmup:
        return lr * (step + 1) / warmup
    if total <= warmup + 1:
        return lo
    progress = min(1.0, (step - warmup) / (total - 1 - warmup))
    return lo + 0.5 * (1 + math.cos(math.pi * progress)) * (lr - lo)


def main():
    bf16 = "--cuda-bf16" in sys.argv
    if bf16:
        sys.argv.remove("--cuda-bf16")
    dev = "cuda" if bf16 else "cpu"
    run = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    raw = open(sys.argv[1], "rb").read()
    hdr = np.frombuffer(raw, dtype=np.int32, count=11)
    L, C, NH, M, V, ctx, B, T, steps, micro, warmup = (int(v) for v in hdr)
    off = 44
    lr, min_frac, b1, b2, eps, wd, clip = np.frombuffer(raw, dtype=np.float64, count=7, offset=off)
    off += 56
    p = {}
    for name, shape in shapes(L, C, M, V, ctx).items():
        n = int(np.prod(shape))
        p[name] = torch.tensor(np.frombuffer(raw, dtype=np.float32, count=n, offset=off).reshape(shape),
                               device=dev, requires_grad=True)
        off += 4 * n

    def tokens():
        nonlocal off
        a = np.frombuffer(raw, dtype=np.int32, count=B * T, offset=off).reshape(B, T)
        off += 4 * B * T
        return torch.tensor(a.astype(np.int64), device=dev)

    prob = float(np.float32(sys.argv[3])) if len(sys.argv) > 3 else 0.0
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    inp, tgt = tokens(), tokens()
    out = []
    with run():
        logits = forward(p, inp, L, NH, dropper(dropout_key(seed, 0, 0), prob))
        loss = F.cross_entropy(logits.view(-1, V).float(), tgt.view(-1))
    loss.backward()
    out.append(logits.detach().float().cpu().numpy().ravel())
    out.append(np.array([loss.item()], dtype=np.float32))
    for name in NAMES:
        out.append(p[name].grad.cpu().numpy().ravel())

    params = [p[n] for n in NAMES]
    for t in params:
        t.grad = None
    opt = torch.optim.AdamW([
        {"params": [p[n] for n in NAMES if n in DECAY], "weight_decay": float(wd)},
        {"params": [p[n] for n in NAMES if n not in DECAY], "weight_decay": 0.0}],
        lr=float(lr), betas=(float(b1), float(b2)), eps=float(eps), foreach=False)
    losses = []
    for step in range(steps):
        total = 0.0
        for k in range(micro):
            x, y = tokens(), tokens()
            drop = dropper(dropout_key(seed, step, k), prob)
            with run():
                lo = F.cross_entropy(forward(p, x, L, NH, drop).view(-1, V).float(), y.view(-1))
            (lo / micro).backward()
            total += lo.item()
        torch.nn.utils.clip_grad_norm_(params, float(clip))
        for gr in opt.param_groups:
            gr["lr"] = lr_at(step, float(lr), float(min_frac), warmup, steps)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(total / micro)
    out.append(np.array(losses, dtype=np.float32))
    for name in NAMES:
        out.append(p[name].detach().cpu().numpy().ravel())
    with open(sys.argv[2], "wb") as f:
        for a in out:
            f.write(np.ascontiguousarray(a, dtype=np.float32).tobytes())


if __name__ == "__main__":
    main()
