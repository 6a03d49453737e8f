"""PyTorch's scaled_dot_product_attention (causal, bf16) timed as
bench/model/flash.c times ours: for each shape B T NH hs given as arguments
(four numbers a shape), the forward alone and the backward alone, REPS calls
each after a warm-up, and one line a shape:

  sdpa B T NH hs fwd_ms bwd_ms fwd_tflops bwd_tflops backend

with the same FLOP count (causal: 4 hs flops a query-key pair forward, 2.5
times that backward). backend names the kernel PyTorch picked."""
import os
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def timed(fn, reps):
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(reps):
        fn()
    b.record()
    torch.cuda.synchronize()
    return a.elapsed_time(b) / reps


def run(B, T, NH, hs, reps):
    g = torch.Generator(device="cuda").manual_seed(1)
    mk = lambda: (torch.rand(B, NH, T, hs, device="cuda", generator=g) * 4 - 2).bfloat16().requires_grad_()
    q, k, v = mk(), mk(), mk()
    dout = (torch.rand(B, NH, T, hs, device="cuda", generator=g) * 4 - 2).bfloat16()
    name = "?"
    for backend in (SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION):
        try:
            with sdpa_kernel([backend]):
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                y.backward(dout)
            name = backend.name.lower()
            break
        except RuntimeError:
            continue
    with sdpa_kernel([getattr(SDPBackend, name.upper())]):
        for _ in range(3):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            y.backward(dout)
        fwd = timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), reps)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        bwd = timed(lambda: torch.autograd.grad(y, (q, k, v), dout, retain_graph=True), reps)
    flops = 4.0 * hs * B * NH * (T * (T + 1) / 2)
    print(f"sdpa {B} {T} {NH} {hs} {fwd:.4f} {bwd:.4f} {flops / fwd / 1e9:.1f} {2.5 * flops / bwd / 1e9:.1f} {name}",
          flush=True)


if __name__ == "__main__":
    a = [int(x) for x in sys.argv[1:]]
    if not a or len(a) % 4:
        sys.exit("usage: flash_torch.py B T NH hs [B T NH hs ...]")
    for i in range(0, len(a), 4):
        run(*a[i:i + 4], int(os.environ.get("REPS", "20")))
