"""Reference MinHash, written plainly after datasketch's MinHash.update_batch
(hash every shingle, permute all 112 hash functions at once with numpy, keep the
column minima) but with dedup's arithmetic: XXH3-64 of each shingle (through
ctypes from Debian's libxxhash), x = h mod p, p = 2^61-1, h_i = (a_i*x + b_i)
mod p exactly, a_i, b_i from splitmix64 seeded as in dedup/minhash.c.
numpy has no 128-bit product, so a_i*x is split into 31-bit limbs and folded
with 2^61 = 1 (mod p), every partial sum staying under 2^64.

usage: /usr/bin/python3 ref_minhash.py [--ngram 5] [--bands 14 --rows 8] [--seed 1] < docs.jsonl
prints, per document, "z\tSHARD:LINE\tSIG" as `dedup sig minhash --verify
--normalize none` does (SHARD from --shard), for documents that have words."""
import ctypes, json, re, sys
import numpy as np

P = (1 << 61) - 1
M64 = (1 << 64) - 1
xx = ctypes.CDLL("libxxhash.so.0")
xx.XXH3_64bits_withSeed.restype = ctypes.c_uint64
xx.XXH3_64bits_withSeed.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def params(n_perm, seed):
    a, b, s = [], [], seed
    for _ in range(n_perm):
        s, r = splitmix64(s)
        a.append(1 + r % (P - 1))
        s, r = splitmix64(s)
        b.append(r % P)
    return np.array(a, dtype=np.uint64), np.array(b, dtype=np.uint64)


def fold(v):
    """v < 2^64 -> v mod p, as uint64 arrays."""
    v = (v & np.uint64(P)) + (v >> np.uint64(61))
    return np.where(v >= np.uint64(P), v - np.uint64(P), v)


def permute(x, a, b):
    """(a*x + b) mod p for x (n,1) and a, b (1,k), all < p; exact."""
    m31 = np.uint64((1 << 31) - 1)
    ah, al = a >> np.uint64(31), a & m31  # a = ah*2^31 + al, ah < 2^30
    xh, xl = x >> np.uint64(31), x & m31
    hh = ah * xh                          # < 2^60, weight 2^62 = 2 (mod p)
    mid = ah * xl + al * xh               # < 2^62, weight 2^31
    ll = al * xl                          # < 2^62
    mh, ml = mid >> np.uint64(30), mid & np.uint64((1 << 30) - 1)  # mid*2^31 = mh*2^61 + ml*2^31
    s = (hh << np.uint64(1)) + mh + (ml << np.uint64(31))           # < 2^61 + 2^32 + 2^61
    s = fold(s) + fold(ll) + b                                      # each < p
    return fold(fold(s))


WS = re.compile(r"[ \t\n\r\v\f]+")


def signature(text, ngram, a, b):
    words = [w for w in WS.split(text) if w]
    if not words:
        return None
    if len(words) < ngram:
        shingles = [" ".join(words)]
    else:
        shingles = [" ".join(words[i:i + ngram]) for i in range(len(words) - ngram + 1)]
    hv = np.array([xx.XXH3_64bits_withSeed(s.encode(), len(s.encode()), 0) for s in shingles],
                  dtype=np.uint64)
    x = fold(hv)[:, None]
    return permute(x, a[None, :], b[None, :]).min(axis=0)


def main():
    args = sys.argv[1:]
    opt = {"--ngram": 5, "--bands": 14, "--rows": 8, "--seed": 1, "--shard": "-"}
    for i in range(0, len(args), 2):
        opt[args[i]] = args[i + 1] if args[i] == "--shard" else int(args[i + 1])
    a, b = params(opt["--bands"] * opt["--rows"], opt["--seed"])
    out = sys.stdout
    for lineno, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        sig = signature(json.loads(line)["text"], opt["--ngram"], a, b)
        if sig is not None:
            out.write("z\t%s:%d\t%s\n" % (opt["--shard"], lineno, "".join("%016x" % int(v) for v in sig)))


if __name__ == "__main__":
    main()
