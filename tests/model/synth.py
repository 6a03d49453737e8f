#!/usr/bin/python3
"""Write a data folder of synthetic tokens, the same bytes on every machine
(an integer generator, no library random): text-like documents of words drawn
from a skewed table, so a small model has something to learn.

  --bytes   ids are the text's bytes (0..255), end-of-text 256, vocabulary 257
            (bytetok.py writes the matching tokenizer.json)
  --wide    ids are words (0..5001), end-of-text 5002, vocabulary 5003: wider
            than the output layer's split point, and not a multiple of 64

usage: synth.py OUT_DIR --bytes|--wide TRAIN_TOKENS VAL_TOKENS
"""
import json
import os
import sys

from mkshards import write_shard

SYL = ["ka", "to", "ri", "men", "sa", "lo", "vi", "dan", "e", "us", "pra", "ni", "gor", "a", "ul", "the"]


class Lcg:
    def __init__(self, seed):
        self.s = seed

    def next(self, n):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (self.s >> 33) % n


def words(n_words):
    """Word ids with a skewed distribution: the minimum of two draws."""
    r = Lcg(12345)
    for _ in range(n_words):
        yield min(r.next(5002), r.next(5002), r.next(5002))


def spell(w):
    s = ""
    while True:
        s += SYL[w % 16]
        w //= 16
        if not w:
            return s


def main():
    out, mode, n_train, n_val = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(out, exist_ok=True)
    ids, eot = [], 256 if mode == "--bytes" else 5002
    doc_len = Lcg(7)
    left = 0
    for w in words(10 * (n_train + n_val)):
        if left == 0:
            if ids:
                ids.append(eot)
            left = 20 + doc_len.next(60)
        left -= 1
        if mode == "--bytes":
            ids.extend((spell(w) + " ").encode())
        else:
            ids.append(w)
        if len(ids) >= n_train + n_val:
            break
    vocab = eot + 1
    write_shard(os.path.join(out, "val_000000.bin"), ids[:n_val], vocab, eot, False)
    write_shard(os.path.join(out, "train_000000.bin"), ids[n_val:n_train + n_val], vocab, eot, False)
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump({"vocab_size": vocab, "eot_id": eot, "context": 64, "window": "stream",
                   "tokenizer": None, "seed": 1}, f)


if __name__ == "__main__":
    main()
