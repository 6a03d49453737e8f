#!/usr/bin/env bash
# bench/filter/long.sh: memory and speed of filter on one very long document
# next to its speed on normal documents.
#
#   bash bench/filter/long.sh [MB] [filter args...]     (from the repository root; MB defaults to 60)
#
# The long document is one JSON line whose "text" is sentences of words drawn
# at random from corpora/en.jsonl.gz (a realistic word mix with few repeated
# n-grams, so every Gopher rule has to run to the end; the document is dropped
# as gopher_max_words). Prints, for --preset none (reading and writing only)
# and for the given rules (default: the default rules), the maximum RSS, RSS /
# line size, and MB/s on the long line and on corpora/en.jsonl. One thread.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${BIN:=$PWD/bin}"
F=$BIN/filter
mb=${1:-60}; shift || true
[ -x "$F" ] || { echo "bench/filter/long.sh: $F is missing (make bin/filter)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/filter/long.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
zcat corpora/en.jsonl.gz > "$W/en.jsonl"
python3 - "$W/en.jsonl" "$mb" "$W/long.jsonl" <<'PY'
import json, random, sys
random.seed(1)
words = []
for line in open(sys.argv[1], encoding="utf-8"):
    words.extend(json.loads(line)["text"].split())
    if len(words) > 3_000_000: break
target, out, n = int(float(sys.argv[2]) * 1e6), [], 0
while n < target:
    para = []
    for _ in range(random.randint(1, 6)):
        s = " ".join(random.choice(words) for _ in range(random.randint(6, 25))).rstrip(".,;:") + "."
        para.append(s[0].upper() + s[1:])
    p = " ".join(para); out.append(p); n += len(p.encode()) + 1
with open(sys.argv[3], "w", encoding="utf-8") as f:
    f.write(json.dumps({"text": "\n".join(out)}, ensure_ascii=False) + "\n")
PY
line_b=$(wc -c < "$W/long.jsonl"); en_b=$(wc -c < "$W/en.jsonl")
run() { # file, args... -> "rss_kb wall_s"
    local f=$1; shift
    /usr/bin/time -f '%M %e' -o "$W/t" "$F" --quiet -j 1 "$@" "$f" > /dev/null
    cat "$W/t"
}
printf '%-28s %10s %10s %12s %14s\n' rules "RSS MB" "RSS/line" "long MB/s" "normal MB/s"
for cfg in "--preset none" "${*:-}"; do
    # shellcheck disable=SC2086
    read -r rss wall < <(run "$W/long.jsonl" $cfg)
    # shellcheck disable=SC2086
    read -r _ wall_en < <(run "$W/en.jsonl" $cfg)
    awk -v c="${cfg:-(default)}" -v r="$rss" -v l="$line_b" -v w="$wall" -v e="$en_b" -v we="$wall_en" 'BEGIN {
        printf "%-28s %10.0f %9.1fx %12.1f %14.1f\n", c, r * 1024 / 1e6, r * 1024 / l, l / 1e6 / w, e / 1e6 / we }'
done
echo "long line: $((line_b / 1000000)) MB; normal: corpora/en.jsonl, $((en_b / 1000000)) MB; goal: RSS/line <= 4x (plus a constant), long MB/s ~ normal MB/s"
