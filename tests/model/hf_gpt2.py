#!/usr/bin/python3
"""Check a `model export` folder without transformers or safetensors: parse
model.safetensors by hand (8-byte little-endian header length, JSON header,
raw data), build GPT-2 in plain PyTorch with Hugging Face GPT2LMHeadModel's
parameter names and Conv1D layout (weights (in, out)), load the file strictly
(every name present, nothing extra, shapes equal), run it on the token ids
given and compare with the logits `model eval --dump-logits` wrote.

usage: hf_gpt2.py EXPORT_DIR IDS_JSON LOGITS.f32   (IDS_JSON: a list of windows, each a list of ids)
"""
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert n % 8 == 0, "header length %d is not 8-aligned" % n
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    out, ends = {}, []
    for name, t in header.items():
        assert t["dtype"] == "F32", (name, t["dtype"])
        a, b = t["data_offsets"]
        assert b - a == 4 * math.prod(t["shape"]), name
        ends.append((a, b))
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(t["shape"])
    ends.sort()
    assert ends[0][0] == 0 and ends[-1][1] == len(data), "data not covered"
    assert all(ends[i][1] == ends[i + 1][0] for i in range(len(ends) - 1)), "holes between tensors"
    return out


class Conv1D(nn.Module):  # HF's: y = x W + b with W (in, out)
    def __init__(self, nf, nx):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.empty(nf))

    def forward(self, x):
        return x @ self.weight + self.bias


class Attn(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_head, self.c_attn, self.c_proj = c["n_head"], Conv1D(3 * c["n_embd"], c["n_embd"]), Conv1D(c["n_embd"], c["n_embd"])

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.n_head)
        att = att.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf")).softmax(-1)
        return self.c_proj((att @ v).transpose(1, 2).reshape(B, T, C))


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc, self.c_proj = Conv1D(c["n_inner"], c["n_embd"]), Conv1D(c["n_embd"], c["n_inner"])

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))  # gelu_new


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        eps = c["layer_norm_epsilon"]
        self.ln_1, self.attn = nn.LayerNorm(c["n_embd"], eps=eps), Attn(c)
        self.ln_2, self.mlp = nn.LayerNorm(c["n_embd"], eps=eps), Mlp(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2LMHeadModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(c["vocab_size"], c["n_embd"])
        self.transformer.wpe = nn.Embedding(c["n_positions"], c["n_embd"])
        self.transformer.h = nn.ModuleList(Block(c) for _ in range(c["n_layer"]))
        self.transformer.ln_f = nn.LayerNorm(c["n_embd"], eps=c["layer_norm_epsilon"])

    def forward(self, idx):
        t = self.transformer
        x = t.wte(idx) + t.wpe(torch.arange(idx.shape[1]))
        for b in t.h:
            x = b(x)
        return t.ln_f(x) @ t.wte.weight.T  # lm_head tied to wte


def main():
    d, ids_path, logits_path = sys.argv[1:4]
    cfg = json.load(open(d + "/config.json"))
    assert cfg["architectures"] == ["GPT2LMHeadModel"] and cfg["model_type"] == "gpt2", cfg
    assert cfg["activation_function"] == "gelu_new" and cfg["tie_word_embeddings"] is True, cfg
    model = GPT2LMHeadModel(cfg)
    sd = read_safetensors(d + "/model.safetensors")
    model.load_state_dict(sd, strict=True)  # names and shapes exactly HF's
    windows = json.load(open(ids_path))
    ours = torch.from_numpy(__import__("numpy").fromfile(logits_path, dtype="<f4"))
    ours = ours.reshape(-1, cfg["vocab_size"])
    with torch.no_grad():
        theirs = torch.cat([model(torch.tensor([w]))[0] for w in windows])
    assert theirs.shape == ours.shape, (theirs.shape, ours.shape)
    diff = (theirs - ours).abs().max().item()
    print("hf_gpt2: %d tensors, logits %s, max abs diff %.3g" % (len(sd), tuple(ours.shape), diff))
    sys.exit(0 if diff <= 1e-4 else 1)


if __name__ == "__main__":
    main()
