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
# line size, and MB/s on the long line and on corpora/en.jsonl, by the wall
# clock and by CPU time (user + sys, which other jobs on a shared machine
# disturb less). One thread; REPS=N runs each N times and keeps the fastest.
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
run() { # file, args... -> "rss_kb wall_s cpu_s", the fastest of REPS runs
    local f=$1; shift
    for _ in $(seq "${REPS:-1}"); do
        /usr/bin/time -f '%M %e %U %S' -o "$W/t" "$F" --quiet -j 1 "$@" "$f" > /dev/null
        awk '{ print $1, $2, $3 + $4 }' "$W/t"
    done | sort -k2,2g | head -n 1
}
printf '%-28s %8s %9s %10s %12s %11s %13s\n' rules "RSS MB" "RSS/line" "long MB/s" "normal MB/s" \
    "long MB/cpu" "normal MB/cpu"
for cfg in "--preset none" "${*:-}"; do
    # shellcheck disable=SC2086
    read -r rss wall cpu < <(run "$W/long.jsonl" $cfg)
    # shellcheck disable=SC2086
    read -r _ wall_en cpu_en < <(run "$W/en.jsonl" $cfg)
    awk -v c="${cfg:-(default)}" -v r="$rss" -v l="$line_b" -v w="$wall" -v u="$cpu" -v e="$en_b" -v we="$wall_en" \
        -v ue="$cpu_en" 'BEGIN {
        printf "%-28s %8.0f %8.1fx %10.1f %12.1f %11.1f %13.1f\n", c, r * 1024 / 1e6, r * 1024 / l, l / 1e6 / w,
               e / 1e6 / we, l / 1e6 / u, e / 1e6 / ue }'
done
echo "long line: $((line_b / 1000000)) MB; normal: corpora/en.jsonl, $((en_b / 1000000)) MB; goal: RSS/line <= 4x (plus a constant), long MB/s ~ normal MB/s"
