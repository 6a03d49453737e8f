#!/usr/bin/env bash
# bench/filter: the quality classifier against fastText (Debian `fasttext
# supervised -wordNgrams 2`, same data) and liblinear (Debian `liblinear-train`
# on our own hashed features), and the heuristics' throughput.
#
#   BUILD=build BIN=bin bash bench/filter/run.sh      (from the repository root)
#   bash bench/filter/run.sh --heuristics              (only the heuristics' MB/s)
#
# Data: corpora/quality-{train,test}.jsonl.gz (built by corpora/build-quality.js
# when missing) for accuracy and AUC on the held-out split; corpora/en.jsonl.gz
# (29,362 documents) for scoring and heuristics throughput. Every tool runs
# with one thread unless the line says otherwise; times are wall-clock seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${BIN:=$PWD/bin}" "${BUILD:=$PWD/build}"
F=$BIN/filter
PY=python3
[ "${1:-}" = "--heuristics" ] || for c in fasttext liblinear-train liblinear-predict node; do
    command -v $c >/dev/null || { echo "bench/filter: $c is missing (apt-get install fasttext liblinear-tools nodejs)" >&2; exit 1; }
done
[ -x "$F" ] || { echo "bench/filter: $F is missing (make bin/filter)" >&2; exit 1; }
[ -f corpora/en.jsonl.gz ] || { echo "bench/filter: corpora/en.jsonl.gz is missing (make corpora)" >&2; exit 1; }

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
zcat corpora/en.jsonl.gz > "$W/en.jsonl"
en_mb=$(awk -v b="$(wc -c < "$W/en.jsonl")" 'BEGIN { printf "%.1f", b / 1e6 }')
n_en=$(wc -l < "$W/en.jsonl")

# ---- heuristics: MB/s on corpora/en.jsonl
# MB/s of wall time, and MB per CPU second (user + sys: "per core", which
# other load on the machine disturbs less); best of 3 runs each. The CPU
# seconds of the last run are left in $cpu_s.
heur() { # label, args...
    local label=$1 TIMEFORMAT='%R %U %S' wall user sys best_w=1e9 best_c=1e9 k; shift
    for k in 1 2 3; do
        { time "$F" --quiet "$@" "$W/en.jsonl" > /dev/null; } 2> "$W/time"
        read -r wall user sys < "$W/time"
        best_w=$(awk -v a="$best_w" -v b="$wall" 'BEGIN { print (b < a ? b : a) }')
        best_c=$(awk -v a="$best_c" -v b="$user" -v c="$sys" 'BEGIN { print (b + c < a ? b + c : a) }')
    done
    cpu_s=$best_c
    awk -v l="$label" -v mb="$en_mb" -v w="$best_w" -v c="$best_c" \
        'BEGIN { printf "%-40s %7.2f s %8.1f MB/s %8.1f MB/cpu-s\n", l, w, mb / w, mb / c }'
}

heuristics() {
    echo "heuristics on corpora/en.jsonl ($en_mb MB, $n_en documents)"
    heur "no rules (reading and writing only), -j 1" --preset none -j 1; io_s=$cpu_s
    heur "Gopher (default), -j 1" -j 1; gopher_s=$cpu_s
    heur "Gopher + C4 + FineWeb, -j 1" --rules c4,fineweb -j 1; all_s=$cpu_s
    heur "Gopher (default), -j $(nproc)" -j "$(nproc)"
    # the rules' own CPU time: the run's minus that of reading and writing alone
    awk -v mb="$en_mb" -v io="$io_s" -v g="$gopher_s" -v a="$all_s" 'BEGIN {
        printf "heuristics MB per CPU-second (goal >= 100): Gopher %.1f end to end, %.1f for the rules alone;", mb / g, (g > io ? mb / (g - io) : 0)
        printf " Gopher + C4 + FineWeb %.1f, %.1f\n", mb / a, (a > io ? mb / (a - io) : 0) }'
}

if [ "${1:-}" = "--heuristics" ]; then heuristics; exit 0; fi

Q=corpora
if [ ! -f $Q/quality-train.jsonl.gz ] || [ ! -f $Q/quality-test.jsonl.gz ]; then
    Q=$W; node corpora/build-quality.js "$W" > /dev/null
fi

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# ---- data in each tool's form (not timed)
zcat $Q/quality-train.jsonl.gz | grep '^{"label":"good"' > "$W/tr-good.jsonl"
zcat $Q/quality-train.jsonl.gz | grep '^{"label":"bad"' > "$W/tr-bad.jsonl"
zcat $Q/quality-test.jsonl.gz | grep '^{"label":"good"' > "$W/te-good.jsonl"
zcat $Q/quality-test.jsonl.gz | grep '^{"label":"bad"' > "$W/te-bad.jsonl"
# fastText reads one document a line, "__label__X" first; new lines become spaces
$PY - "$W" "$Q" <<'PY'
import gzip, json, sys
w, q = sys.argv[1], sys.argv[2]
def conv(src, dst, labelled):
    with gzip.open(src, "rt", encoding="utf-8") if src.endswith(".gz") else open(src, encoding="utf-8") as f, \
         open(dst, "w", encoding="utf-8") as o:
        for line in f:
            d = json.loads(line)
            t = " ".join(d["text"].split())
            o.write(("__label__" + d["label"] + " " if labelled else "") + t + "\n")
conv(q + "/quality-train.jsonl.gz", w + "/ft.train", True)
conv(q + "/quality-test.jsonl.gz", w + "/ft.test", True)
conv(w + "/te-good.jsonl", w + "/ft.te-good.txt", False)
conv(w + "/te-bad.jsonl", w + "/ft.te-bad.txt", False)
conv(w + "/en.jsonl", w + "/ft.en.txt", False)
PY
n_train=$(wc -l < "$W/ft.train"); n_test=$(wc -l < "$W/ft.test")
echo "bench/filter: labelled sample $n_train train / $n_test held-out documents; scoring input corpora/en.jsonl.gz: $n_en documents, $en_mb MB; $(nproc) cores"

# accuracy and AUC of P(good) lists: "label score" lines
metrics() {
    $PY - "$1" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
y = [int(r[0]) for r in rows]; s = [float(r[1]) for r in rows]
acc = sum((si >= 0.5) == (yi == 1) for si, yi in zip(s, y)) / len(y)
order = sorted(range(len(s)), key=lambda i: s[i])
ranks = [0.0] * len(s); i = 0
while i < len(order):
    j = i
    while j < len(order) and s[order[j]] == s[order[i]]: j += 1
    for k in range(i, j): ranks[order[k]] = (i + 1 + j) / 2
    i = j
npos = sum(y); nneg = len(y) - npos
auc = (sum(r for r, yi in zip(ranks, y) if yi) - npos * (npos + 1) / 2) / (npos * nneg)
print(f"{acc:.4f} {auc:.4f}")
PY
}

# ---- ours: train (features + Adagrad), held-out figures from the model file
t0=$(now)
"$F" train -j 1 --pos "$W/tr-good.jsonl" --neg "$W/tr-bad.jsonl" --test-pos "$W/te-good.jsonl" \
    --test-neg "$W/te-bad.jsonl" -o "$W/q.model" --dump-svm "$W/q" > "$W/train.out"
t1=$(now)
"$F" train -j 1 --pos "$W/tr-good.jsonl" --neg "$W/tr-bad.jsonl" --test-pos "$W/te-good.jsonl" \
    --test-neg "$W/te-bad.jsonl" -o "$W/q.model" > "$W/train.out"
t2=$(now)
ours_train=$(secs "$t1" "$t2")
# score the held-out files through the filter pass, to check the model end to end
"$F" -j 1 --quiet --preset none --model "$W/q.model" --keep all "$W/te-good.jsonl" > "$W/s-good.jsonl"
"$F" -j 1 --quiet --preset none --model "$W/q.model" --keep all "$W/te-bad.jsonl" > "$W/s-bad.jsonl"
{ grep -o '"quality":[0-9.]*}$' "$W/s-good.jsonl" | sed 's/"quality":\(.*\)}/1 \1/'
  grep -o '"quality":[0-9.]*}$' "$W/s-bad.jsonl" | sed 's/"quality":\(.*\)}/0 \1/'; } > "$W/ours.scores"
read -r ours_acc ours_auc < <(metrics "$W/ours.scores")

# ---- fastText: supervised, -wordNgrams 2, defaults otherwise, one thread
t0=$(now)
fasttext supervised -input "$W/ft.train" -output "$W/ft" -wordNgrams 2 -thread 1 -verbose 0
t1=$(now)
ft_train=$(secs "$t0" "$t1")
pgood() { awk '{ for (i = 1; i < NF; i += 2) if ($i == "__label__good") { print $(i + 1); next } print 0 }'; }
{ fasttext predict-prob "$W/ft.bin" "$W/ft.te-good.txt" 2 | pgood | sed 's/^/1 /'
  fasttext predict-prob "$W/ft.bin" "$W/ft.te-bad.txt" 2 | pgood | sed 's/^/0 /'; } > "$W/ft.scores"
read -r ft_acc ft_auc < <(metrics "$W/ft.scores")

# ---- liblinear: L2 logistic regression (-s 0) on the same hashed features
ll() { # C -> "acc auc seconds"
    local t0 t1
    t0=$(now)
    liblinear-train -s 0 -c "$1" -B 1 -q "$W/q.train.svm" "$W/ll.model"
    t1=$(now)
    liblinear-predict -b 1 "$W/q.test.svm" "$W/ll.model" "$W/ll.out" > /dev/null
    # first line: "labels 1 -1" (column order of the probabilities)
    awk 'NR == 1 { for (i = 2; i <= NF; i++) if ($i == 1) c = i; next } NR > 1 { print $c }' "$W/ll.out" > "$W/ll.p"
    awk '{ print ($1 == "+1" ? 1 : 0) }' "$W/q.test.svm" | paste -d' ' - "$W/ll.p" > "$W/ll.scores"
    echo "$(metrics "$W/ll.scores") $(secs "$t0" "$t1")"
}
read -r ll1_acc ll1_auc ll1_time < <(ll 1)
read -r ll2_acc ll2_auc ll2_time < <(ll 1000)

# ---- scoring throughput: documents/s on corpora/en.jsonl, one thread each
# (fastText's time includes loading its model, as a run of `predict` does)
t0=$(now)
"$F" -j 1 --quiet --preset none --model "$W/q.model" --keep all "$W/en.jsonl" > "$W/en.scored"
t1=$(now)
fasttext predict-prob "$W/ft.bin" "$W/ft.en.txt" > "$W/en.ft"
t2=$(now)
[ "$(wc -l < "$W/en.scored")" = "$n_en" ] && [ "$(wc -l < "$W/en.ft")" = "$n_en" ] ||
    { echo "bench/filter: scoring outputs do not have $n_en lines each" >&2; exit 1; }
ours_score=$(secs "$t0" "$t1"); ft_score=$(secs "$t1" "$t2")
# fastText's model load alone (predict on one document), to show scoring without it
head -n 1 "$W/ft.en.txt" > "$W/one.txt"
t0=$(now); fasttext predict-prob "$W/ft.bin" "$W/one.txt" > /dev/null; t1=$(now)
ft_load=$(secs "$t0" "$t1")

echo
printf '%-34s %10s %10s %10s\n' "classifier (held-out split)" ours fastText "ours-ft"
awk -v a="$ours_acc" -v b="$ft_acc" 'BEGIN { printf "%-34s %10.4f %10.4f %+10.4f\n", "accuracy at 0.5", a, b, a - b }'
awk -v a="$ours_auc" -v b="$ft_auc" 'BEGIN { printf "%-34s %10.4f %10.4f %+10.4f\n", "AUC", a, b, a - b }'
printf '%-34s %10s %10s %10s\n' "" ours fastText "speedup"
awk -v a="$ours_train" -v b="$ft_train" 'BEGIN { printf "%-34s %9.2fs %9.2fs %9.1fx\n", "training (features + fit, 1 thread)", a, b, b / a }'
awk -v a="$ours_score" -v b="$ft_score" -v n="$n_en" 'BEGIN { printf "%-34s %10.0f %10.0f %9.1fx\n", "scoring, documents/s (1 thread)", n / a, n / b, b / a }'
awk -v a="$ours_score" -v b="$ft_score" -v l="$ft_load" -v n="$n_en" 'BEGIN { if (b - l <= 0) l = 0;
    printf "%-34s %10.0f %10.0f %9.1fx\n", "  without the fastText model load", n / a, n / (b - l), (b - l) / a
    printf "  (fastText model load: %.2f s, subtracted on that line)\n", l }'
echo
printf '%-34s %10s %10s %10s\n' "solver on our features" accuracy AUC "fit time"
printf '%-34s %10s %10s %9ss\n' "ours (Adagrad, 5 epochs)" "$ours_acc" "$ours_auc" "$(grep '^time' "$W/train.out" | sed 's/.*training \([0-9.]*\) s.*/\1/')"
printf '%-34s %10s %10s %9ss\n' "liblinear -s 0 -c 1 (default)" "$ll1_acc" "$ll1_auc" "$ll1_time"
printf '%-34s %10s %10s %9ss\n' "liblinear -s 0 -c 1000" "$ll2_acc" "$ll2_auc" "$ll2_time"
echo "  (liblinear's time includes reading its text input; ours is the fit alone)"
echo
heuristics
