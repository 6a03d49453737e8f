# Writes a token stream (docs/formats.md) of random documents for the packer
# benchmark: GPT-2's vocabulary (50257, end-of-text 50256), document lengths
# log-normal around 600 tokens (web pages: many short, a long tail).
# usage: gen.py OUT N_TOKENS SEED
import sys
import numpy as np

out, n_tokens, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(seed)
VOCAB, EOT = 50257, 50256
lens = []
total = 0
while total < n_tokens:
    l = np.minimum(rng.lognormal(6.0, 1.0, 100000).astype(np.int64), 100000)
    lens.append(l)
    total += int(l.sum() + len(l))
lens = np.concatenate(lens)
cum = np.cumsum(lens + 1)
lens = lens[: int(np.searchsorted(cum, n_tokens)) + 1]
n = int(lens.sum() + len(lens))
toks = rng.integers(0, EOT, n, dtype=np.uint16)   # ids < EOT
toks[np.cumsum(lens + 1) - 1] = EOT               # each document ends with end-of-text
with open(out, "wb") as f:
    f.write(b"GPTKTOKS" + np.array([1, 2, VOCAB, EOT, 0, 0], dtype="<u4").tobytes())
    toks.tofile(f)
print(f"{len(lens)} documents, {n} tokens")
