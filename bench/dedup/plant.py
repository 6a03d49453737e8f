"""Planted near-duplicates for bench/dedup: real documents of the corpus and, for
each, a copy edited (word swaps, insertions, deletions, substitutions, added
boilerplate) down to a target Jaccard similarity of their word 5-gram shingle
sets (0.5 ... 1.0; 1.0 changes only the white space). Writes the bases in corpus
order, then the copies shuffled; each copy carries "base" (the base's line) and
"truth_j" (the exact Jaccard). Deterministic (seeded).

usage: python3 plant.py N_BASES < corpus.jsonl > mixed.jsonl"""
import json, random, sys

NGRAM = 5
TARGETS = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]
BOILER = ("click here to unsubscribe from this mailing list and manage your "
          "subscription preferences at any time").split()


def shingles(words):
    if len(words) < NGRAM:
        return {" ".join(words)}
    return {" ".join(words[i:i + NGRAM]) for i in range(len(words) - NGRAM + 1)}


def jaccard(a, b):
    return len(a & b) / len(a | b) if a or b else 1.0


def edit(words, target, rng, vocab):
    base = shingles(words)
    w = list(words)
    if target >= 1.0:
        return w, 1.0
    j = 1.0
    while True:
        op = rng.randrange(5)
        k = rng.randrange(len(w))
        t = list(w)
        if op == 0 and k + 1 < len(t):
            t[k], t[k + 1] = t[k + 1], t[k]
        elif op == 1:
            t.insert(k, rng.choice(vocab))
        elif op == 2 and len(t) > NGRAM + 1:
            del t[k]
        elif op == 3:
            t[k] = rng.choice(vocab)
        else:
            t[k:k] = BOILER[: rng.randrange(3, len(BOILER))]
        nj = jaccard(base, shingles(t))
        if nj < target - 0.02:  # overshot: try another edit
            continue
        w, j = t, nj
        if j <= target + 0.02:
            return w, j


def main():
    n_bases = int(sys.argv[1])
    rng = random.Random(20240520)
    docs = []
    for line in sys.stdin:
        d = json.loads(line)
        n = len(d["text"].split())
        if 60 <= n <= 600:
            docs.append(d)
    step = max(1, len(docs) // n_bases)
    bases = docs[::step][:n_bases]
    vocab = [w for d in bases[:200] for w in d["text"].split()]
    out = sys.stdout
    copies = []
    for i, d in enumerate(bases):
        out.write(json.dumps({"text": d["text"], "id": d["id"]}) + "\n")
        target = TARGETS[i % len(TARGETS)]
        words, j = edit(d["text"].split(), target, rng, vocab)
        text = " ".join(words) if target < 1.0 else "\n".join(words)
        copies.append({"text": text, "id": "copy:" + d["id"], "base": i + 1, "truth_j": round(j, 4)})
    rng.shuffle(copies)
    for c in copies:
        out.write(json.dumps(c) + "\n")


if __name__ == "__main__":
    main()
