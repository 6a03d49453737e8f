#!/usr/bin/python3
"""The peer of bench/model/run.sh: a GPT-2 training step in PyTorch, eager,
fp32, nanoGPT's model (learned positions, pre-LayerNorm, tanh GELU, tied
output), AdamW with GPT-3's settings, clipping at 1.0, torch.set_num_threads
as ours. Prints the median tokens/s of the timed steps and the peak RSS.
torch_gpu.py, the GPU peer of bench/model/cuda.sh, trains the same GPT class.

usage: torch_gpt2.py LAYERS WIDTH HEADS VOCAB CONTEXT MICRO_BATCH STEPS THREADS
"""
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, C, NH, sdpa=False):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.fc, self.fcproj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)
        self.NH, self.sdpa = NH, sdpa

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.NH, C // self.NH).transpose(1, 2) for t in (q, k, v))
        if self.sdpa:  # fused causal attention: flash where PyTorch can
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // self.NH))
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            y = att.masked_fill(~mask, float("-inf")).softmax(dim=-1) @ v
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    """V real ids; Vp >= V rows of the tied embedding and columns of the
    logits (nanoGPT's padding to a multiple of 64, the same work as our
    trainer's), the loss over the first V columns only, so the padding rows
    get no gradient and stay as loaded. sdpa: F.scaled_dot_product_attention
    instead of the (T,T) probabilities."""

    def __init__(self, L, C, NH, V, T, Vp=None, sdpa=False):
        super().__init__()
        self.V = V
        self.wte, self.wpe = nn.Embedding(Vp or V, C), nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block(C, NH, sdpa) for _ in range(L))
        self.lnf = nn.LayerNorm(C)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for b in self.blocks:
            x = b(x)
        logits = self.lnf(x).flatten(0, 1) @ self.wte.weight.T  # (B*T, Vp)
        return F.cross_entropy(logits[:, :self.V], targets.reshape(-1))


def main():
    L, C, NH, V, T, B, steps, threads = (int(a) for a in sys.argv[1:9])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = GPT(L, C, NH, V, T)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=6e-4, betas=(0.9, 0.95), eps=1e-8)
    data = torch.randint(0, min(V, 257), (B, T + 1))
    rates = []
    for step in range(steps):
        t0 = time.perf_counter()
        loss = model(data[:, :-1], data[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        rates.append(B * T / (time.perf_counter() - t0))
    timed = sorted(rates[2:] if len(rates) > 3 else rates)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("%.1f %.1f" % (timed[len(timed) // 2], rss_mb))


if __name__ == "__main__":
    main()
