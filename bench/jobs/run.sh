#!/usr/bin/env bash
# bench/jobs: how each data stage scales with -j, on the bundled corpus
# (corpora/en.jsonl.gz unpacked, so that reading is not gzip's one thread):
# filter (Gopher rules), dedup (exact + minhash, exact, minhash), dedup sig,
# dedup decontam, bpe encode (an 8,192-id tokenizer trained here) and bpe
# train's counting (a vocabulary of 300 ids, so that the run is the counting
# and little else). Each is timed whole, start-up and the final fsync
# included, at -j 1, -j 2 and -j $(nproc) (JOBS="1 2 8 16" to choose), best of
# $RUNS runs (default 3). Prints wall seconds and the speed-up over -j 1;
# the goals are >= 1.8x at -j 2 and >= 12x at -j 16, which need as many free
# cores: other load on the machine shows as a lower ratio.
# Called as `bash bench/jobs/run.sh` from the top with $BIN set.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${BIN:=$PWD/bin}" "${RUNS:=3}"
CORES=$(nproc)
JOBS=${JOBS:-$(printf '%s\n' 1 2 "$CORES" | sort -nu | tr '\n' ' ')}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
zcat corpora/en.jsonl.gz > "$W/en.jsonl"
head -n 200 "$W/en.jsonl" > "$W/eval.jsonl"
"$BIN/bpe" train -q --vocab-size 8192 -o "$W/tok.json" "$W/en.jsonl"
MB=$(awk -v b="$(wc -c < "$W/en.jsonl")" 'BEGIN { printf "%.1f", b / 1e6 }')

# best CMD...: the least wall seconds of $RUNS runs, in $best
best() {
    best=
    for _ in $(seq "$RUNS"); do
        local t0=$EPOCHREALTIME
        "$@" -q >/dev/null 2>"$W/err" || { echo "bench/jobs: failed: $* ($(head -2 "$W/err"))" >&2; exit 1; }
        local t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
        best=$(awk -v a="$best" -v b="$t" 'BEGIN { print (a == "" || b < a) ? b : a }')
    done
}

echo "-j scaling: corpora/en.jsonl.gz unpacked, $MB MB; $CORES cores here; wall seconds, best of $RUNS"
printf '%-26s' stage; for j in $JOBS; do printf ' %8s' "-j $j"; done
for j in $JOBS; do [ "$j" = 1 ] || printf ' %8s' "x at $j"; done; echo
stage() { # NAME CMD... (-j J goes after the command's first word or two)
    local name=$1; shift
    local n_sub=$1; shift # words of the command before its options: bin [subcommand]
    local times=()
    for j in $JOBS; do
        best "${@:1:n_sub}" -j "$j" "${@:n_sub+1}"
        times+=("$best")
    done
    printf '%-26s' "$name"
    for t in "${times[@]}"; do printf ' %8s' "$t"; done
    local i=0
    for j in $JOBS; do
        [ "$j" = 1 ] || printf ' %7.2fx' "$(awk -v a="${times[0]}" -v b="${times[$i]}" 'BEGIN { print a / b }')"
        i=$((i + 1))
    done
    echo
}
stage "filter (Gopher)" 1 "$BIN/filter" -o "$W/o" "$W/en.jsonl"
stage "dedup (exact + minhash)" 1 "$BIN/dedup" -o "$W/o" "$W/en.jsonl"
stage "dedup exact" 2 "$BIN/dedup" exact -o "$W/o" "$W/en.jsonl"
stage "dedup minhash" 2 "$BIN/dedup" minhash -o "$W/o" "$W/en.jsonl"
stage "dedup sig" 2 "$BIN/dedup" sig -o "$W/o" "$W/en.jsonl"
stage "dedup decontam" 2 "$BIN/dedup" decontam --eval "$W/eval.jsonl" -o "$W/o" "$W/en.jsonl"
stage "bpe encode" 2 "$BIN/bpe" encode -t "$W/tok.json" -o "$W/o" "$W/en.jsonl"
stage "bpe train (counting)" 2 "$BIN/bpe" train --vocab-size 300 -o "$W/o" "$W/en.jsonl"
echo "goals: >= 1.8x at -j 2 (with 2 free cores) and >= 12x at -j 16 (16 free cores), every stage"
