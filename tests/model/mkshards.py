#!/usr/bin/python3
"""Write a small data folder for the model tests and bench, as packer would:
train_000000.bin, val_000000.bin (llm.c format, uint16) and meta.json.
Tokens are the bytes of the documents' text (ids 0..255), with end-of-text
256 after each document: a byte-level vocabulary of 257 ids.

usage: mkshards.py OUT_DIR JSONL[.gz] TRAIN_TOKENS VAL_TOKENS [--no-meta] [--vocab-in-header]
"""
import gzip
import json
import os
import struct
import sys


def write_shard(path, ids, vocab, eot, header_vocab):
    head = [0] * 256
    head[0], head[1], head[2] = 20240520, 1, len(ids)
    if header_vocab:
        head[3], head[4] = vocab, eot
    with open(path, "wb") as f:
        f.write(struct.pack("<256i", *head))
        f.write(struct.pack("<%dH" % len(ids), *ids))


def main():
    out, src, n_train, n_val = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    flags = sys.argv[5:]
    os.makedirs(out, exist_ok=True)
    opener = gzip.open if src.endswith(".gz") else open
    ids = []
    with opener(src, "rt", encoding="utf-8") as f:
        for line in f:
            ids.extend(json.loads(line)["text"].encode("utf-8"))
            ids.append(256)
            if len(ids) >= n_train + n_val:
                break
    write_shard(os.path.join(out, "val_000000.bin"), ids[:n_val], 257, 256, "--vocab-in-header" in flags)
    write_shard(os.path.join(out, "train_000000.bin"), ids[n_val:n_val + n_train], 257, 256,
                "--vocab-in-header" in flags)
    if "--no-meta" not in flags:
        with open(os.path.join(out, "meta.json"), "w") as f:
            json.dump({"vocab_size": 257, "eot_id": 256, "context": 64, "window": "stream",
                       "tokenizer": None, "seed": 1}, f)


if __name__ == "__main__":
    main()
