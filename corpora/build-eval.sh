#!/usr/bin/env bash
# Build the evaluation set for dedup decontam (see corpora/README-eval.md).
#
#   bash corpora/build-eval.sh [IN [OUT]]   IN defaults to corpora/en.jsonl.gz,
#                                           OUT to corpora/eval.jsonl.gz
#
# Held-out passages of the corpus: from the sources kjv, brown and nlp-corpus,
# every document whose id hashes (SHA-1) to 0 mod 40 gives one passage of 80
# white-space-separated words from its middle (documents of fewer than 120 words
# give none). Deterministic: same input, same bytes (gzip -n).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
in=${1:-$here/en.jsonl.gz}
out=${2:-$here/eval.jsonl.gz}
case ${1:-} in -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[ -f "$in" ] || { echo "corpora/build-eval.sh: $in not found (make corpora)" >&2; exit 1; }
tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
gzip -dc "$in" | LC_ALL=C python3 -c '
import hashlib, json, sys
n = 0
for line in sys.stdin:
    d = json.loads(line)
    if d.get("source") not in ("kjv", "brown", "nlp-corpus"):
        continue
    if int.from_bytes(hashlib.sha1(d["id"].encode()).digest()[:8], "big") % 40:
        continue
    words = d["text"].split()
    if len(words) < 120:
        continue
    k = (len(words) - 80) // 2
    sys.stdout.write(json.dumps({"text": " ".join(words[k:k + 80]), "source": d["source"],
                                 "id": "eval:" + d["id"]}, ensure_ascii=False) + "\n")
    n += 1
print("corpora/build-eval.sh: %d passages" % n, file=sys.stderr)
' | env -u GZIP gzip -n -9 > "$tmp"
mv -f "$tmp" "$out"
printf 'wrote %s: sha256 %s\n' "$out" "$(sha256sum "$out" | cut -d" " -f1)"
