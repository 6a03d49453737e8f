#!/usr/bin/python3
"""Write the files tests/model/test_import.sh imports, from a `model export`
folder (safetensors parsed by hand, numpy only):

  import_files.py llmc EXPORT_DIR OUT.bin [VERSION]
      llm.c's checkpoint (train_gpt2.c gpt2_write): 256 int32 header (magic
      20240326, version, maxT, V, L, NH, C, Vp with Vp = V rounded up to 128),
      then float32 wte (Vp, C) with zero padding rows, wpe, and the per-layer
      tensors stacked over layers, linear weights (out, in).
  import_files.py hf-real EXPORT_DIR OUT_DIR
      the same model as real GPT-2 files carry it: names without
      'transformer.', in another order, each block's attn.bias (1,1,T,T) and
      attn.masked_bias () buffers, lm_head.weight = wte, config.json and
      tokenizer.json copied.
"""
import json
import os
import shutil
import struct
import sys

import numpy as np


def read_st(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    hdr = json.loads(raw[8:8 + n])
    hdr.pop("__metadata__", None)
    data = raw[8 + n:]
    out = {}
    for name, t in hdr.items():
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(t["shape"])
    return out


def write_st(path, tensors):
    hdr, off, blobs = {}, 0, []
    for name, (dtype, arr) in tensors.items():
        b = arr.tobytes()
        hdr[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def llmc(src, out, version):
    w = read_st(os.path.join(src, "model.safetensors"))
    cfg = json.load(open(os.path.join(src, "config.json")))
    L, C, NH, V, T = cfg["n_layer"], cfg["n_embd"], cfg["n_head"], cfg["vocab_size"], cfg["n_positions"]
    Vp = (V + 127) // 128 * 128
    hdr = np.zeros(256, dtype="<i4")
    hdr[:8] = [20240326, version, T, V, L, NH, C, Vp]
    wte = np.zeros((Vp, C), dtype="<f4")
    wte[:V] = w["transformer.wte.weight"]
    h = lambda l, s: w["transformer.h.%d.%s" % (l, s)]
    per = lambda s, tr=False: np.stack([h(l, s).T if tr else h(l, s) for l in range(L)])
    parts = [wte, w["transformer.wpe.weight"], per("ln_1.weight"), per("ln_1.bias"),
             per("attn.c_attn.weight", True), per("attn.c_attn.bias"), per("attn.c_proj.weight", True),
             per("attn.c_proj.bias"), per("ln_2.weight"), per("ln_2.bias"), per("mlp.c_fc.weight", True),
             per("mlp.c_fc.bias"), per("mlp.c_proj.weight", True), per("mlp.c_proj.bias"),
             w["transformer.ln_f.weight"], w["transformer.ln_f.bias"]]
    with open(out, "wb") as f:
        f.write(hdr.tobytes())
        for p in parts:
            f.write(np.ascontiguousarray(p, dtype="<f4").tobytes())


def hf_real(src, out):
    w = read_st(os.path.join(src, "model.safetensors"))
    cfg = json.load(open(os.path.join(src, "config.json")))
    T = cfg["n_positions"]
    os.makedirs(out, exist_ok=True)
    t = {}
    for name in sorted(w, reverse=True):  # another order than export's
        short = name[len("transformer."):]
        t[short] = ("F32", w[name])
        if short.endswith("attn.c_attn.weight"):
            blk = short[: -len("c_attn.weight")]
            t[blk + "bias"] = ("F32", np.tril(np.ones((T, T), dtype="<f4")).reshape(1, 1, T, T))
            t[blk + "masked_bias"] = ("F32", np.array(-1e4, dtype="<f4"))
    t["lm_head.weight"] = ("F32", w["transformer.wte.weight"])
    write_st(os.path.join(out, "model.safetensors"), t)
    for f in ("config.json", "tokenizer.json"):
        shutil.copy(os.path.join(src, f), os.path.join(out, f))


if __name__ == "__main__":
    if sys.argv[1] == "llmc":
        llmc(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 3)
    elif sys.argv[1] == "hf-real":
        hf_real(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: import_files.py llmc|hf-real ...")
