# The nanoGPT prepare.py approach in numpy: read the tokens, cut them into
# documents at end-of-text, (optionally) shuffle the documents, concatenate
# them with end-of-text in front of each (llm.c's layout, as packer writes),
# write the llm.c header and tofile, fsync (packer fsyncs its shards too).
# usage: peer.py IN.tok OUT.bin shuffle|keep SEED
import os, sys
import numpy as np

src, dst, mode, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with open(src, "rb") as f:
    head = np.frombuffer(f.read(32)[8:24], dtype="<u4")
    vocab, eot = int(head[2]), int(head[3])
    toks = np.fromfile(f, dtype=np.uint16)
if mode == "keep":
    out = np.concatenate((np.array([eot], dtype=np.uint16), toks[:-1]))
else:
    ends = np.flatnonzero(toks == eot)               # each document's end-of-text
    starts = np.concatenate(([0], ends[:-1] + 1))
    order = np.random.default_rng(seed).permutation(len(ends))
    # eot + document == the slice from the previous document's eot; the first
    # document has none before it, so take the slices as [eot] + ids
    docs = [toks[starts[i] - 1:ends[i]] if starts[i] else np.concatenate(([eot], toks[:ends[i]])).astype(np.uint16)
            for i in order]
    out = np.concatenate(docs)
header = np.zeros(256, dtype="<i4")
header[0], header[1], header[2], header[3], header[4] = 20240520, 1, len(out), vocab, eot
with open(dst, "wb") as f:
    f.write(header.tobytes())
    out.astype(np.uint16).tofile(f)
    f.flush()
    os.fsync(f.fileno())
