"""Precision and recall of dedup on plant.py's output.
usage: python3 score.py MIXED REJECTS THRESHOLD NAME
Recall per bucket of true Jaccard: the share of planted copies dropped (below
the threshold this is the false positive rate). Precision: the share of all
drops whose true Jaccard with the document named in dup_of is >= THRESHOLD."""
import json, sys

from plant import jaccard, shingles

mixed = [json.loads(l) for l in open(sys.argv[1])]
threshold = float(sys.argv[3])
rej = [json.loads(l) for l in open(sys.argv[2])]
dropped = {}
for r in rej:
    line = int(r["dup_of"].rsplit(":", 1)[1])
    dropped[r["id"]] = line
edges = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.01]
rows = []
for lo, hi in zip(edges, edges[1:]):
    pairs = [d for d in mixed if "truth_j" in d and lo <= d["truth_j"] < hi]
    if pairs:
        hit = sum(1 for d in pairs if d["id"] in dropped)
        label = "[%.2f,%.2f)" % (lo, hi) if lo < 1 else "=1.00"
        rows.append("%s %d/%d=%.3f" % (label, hit, len(pairs), hit / len(pairs)))
good = 0
for d in mixed:
    if d["id"] in dropped:
        k = mixed[dropped[d["id"]] - 1]
        good += jaccard(shingles(d["text"].split()), shingles(k["text"].split())) >= threshold
n = len(dropped)
big = [d for d in mixed if d.get("truth_j", 0) >= 0.85]
rec85 = sum(1 for d in big if d["id"] in dropped) / max(1, len(big))
print("%-22s precision %.4f (%d/%d drops with true J >= %.2f)  recall(J>=0.85) %.4f" %
      (sys.argv[4], good / max(1, n), good, n, threshold, rec85))
print("    recall by true J:  " + "  ".join(rows))
