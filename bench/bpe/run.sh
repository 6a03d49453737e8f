#!/usr/bin/env bash
# bench/bpe: bpe encode and bpe train against their peers, side by side in one
# run on the same documents. Encode: npm tiktoken, gpt-tokenizer and HF
# tokenizers (one thread, and encodeBatch on every core), GPT-2 (r50k) and
# cl100k ranks; the ids of every peer are checked equal to ours on the whole
# corpus before any time is shown. Train: vocab 30000 against HF tokenizers and
# spm_train --model_type bpe, with peak RSS. Peers are timed inside their
# process (node start-up and file reading excluded); ours is the whole run,
# reading and JSON parsing included. Medians of $RUNS runs (default 3).
# Called as `bash bench/bpe/run.sh` from the top with $BIN set.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${BIN:=$PWD/bin}" "${RUNS:=3}"
NODE=/usr/bin/node
D=node_modules/gpt-tokenizer/data
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
CORES=$(nproc)

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# Seconds from our summary line ("... in 1.23 s, ...").
our_secs() { sed -nE 's/.* in ([0-9.]+) s.*/\1/p' "$1" | tail -1; }
# ours_runs OUTVAR_PREFIX CMD...: median seconds and peak RSS (kB) of RUNS runs.
ours_runs() {
    local secs=() rss=0
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f '%M' -o "$W/rss" "$@" 2>"$W/err" >/dev/null
        secs+=("$(our_secs "$W/err")")
        r=$(tail -1 "$W/rss"); [ "$r" -gt "$rss" ] && rss=$r
    done
    OURS_S=$(printf '%s\n' "${secs[@]}" | median)
    OURS_RSS=$rss
}

zcat corpora/en.jsonl.gz > "$W/docs.jsonl"
MB=$(awk "BEGIN { printf \"%.1f\", $(wc -c < "$W/docs.jsonl") / 1e6 }")
echo "encode: corpora/en.jsonl.gz, $(wc -l < "$W/docs.jsonl") documents; $CORES cores; median of $RUNS runs"
printf '%-34s %9s %9s %8s %10s %10s %9s\n' case ours_s peer_s speedup ours_MB/s peer_MB/s peer_RSS
best_single=()
for e in r50k:gpt2:r50k_base:gpt2 cl100k:gpt4:cl100k_base:cl100k_base; do
    IFS=: read -r name pat rank gt <<<"$e"
    SRC="--tiktoken $D/$rank.tiktoken --pattern $pat"
    "$BIN/bpe" encode $SRC --ids -q -o "$W/ours.ids" "$W/docs.jsonl"
    "$BIN/bpe" convert $SRC -q -o "$W/$name.json"
    # To a file in $W, not a device: the peers write their ids to a file too.
    ours_runs "$BIN/bpe" encode $SRC -j 1 -o "$W/enc.tok" "$W/docs.jsonl"; s1=$OURS_S
    ours_runs "$BIN/bpe" encode $SRC -j "$CORES" -o "$W/enc.tok" "$W/docs.jsonl"; sN=$OURS_S
    bytes=0 fastest=""
    for peer in tiktoken:$rank gpt-tokenizer:$gt hf:$W/$name.json hf-batch:$W/$name.json; do
        p=${peer%%:*} arg=${peer#*:}
        /usr/bin/time -f '%M' -o "$W/rss" $NODE bench/bpe/peer.js "$p" "$arg" "$W/docs.jsonl" "$W/peer.ids" "$RUNS" > "$W/peer.out"
        read -r ps bytes < "$W/peer.out"
        prss=$(tail -1 "$W/rss")
        note=""
        if ! cmp -s "$W/ours.ids" "$W/peer.ids"; then
            # Ours are checked against tiktoken first (its row): a peer that
            # differs is shown with the count of documents it gets wrong.
            nd=$(diff "$W/ours.ids" "$W/peer.ids" | grep -c '^<' || true)
            note="  * ids differ from tiktoken's on $nd documents"
        fi
        ours=$s1; [ "$p" = hf-batch ] && ours=$sN
        printf '%-34s %9.3f %9.3f %7.2fx %10.1f %10.1f %8dk\n' "encode $name $p$( [ "$p" = hf-batch ] && echo " (-j $CORES)" || echo " (-j 1)")" \
            "$ours" "$ps" "$(awk "BEGIN { print $ps / $ours }")" "$(awk "BEGIN { print $bytes / 1e6 / $ours }")" \
            "$(awk "BEGIN { print $bytes / 1e6 / $ps }")" "$prss"
        [ -n "$note" ] && echo "$note"
        if [ "$p" != hf-batch ] && { [ -z "$fastest" ] || awk "BEGIN { exit !($ps < $fastest) }"; }; then fastest=$ps; fi
    done
    printf '%-34s %9.3f %9s %8s %10.1f   (ours -j %s: %.1f MB/s, peak RSS %dk)\n' "encode $name ours -j 1" "$s1" - - \
        "$(awk "BEGIN { print $bytes / 1e6 / $s1 }")" "$CORES" "$(awk "BEGIN { print $bytes / 1e6 / $sN }")" "$OURS_RSS"
    best_single+=("$name: $(awk "BEGIN { printf \"%.2f\", $fastest / $s1 }")x the fastest single-thread peer")
done

# Training: >= 50 MB of English when corpora/en-big.jsonl.gz is built (make corpora-big).
big=corpora/en-big.jsonl.gz
[ -e "$big" ] || { big=corpora/en.jsonl.gz; echo "(corpora/en-big.jsonl.gz not built: training on en.jsonl.gz, $MB MB; make corpora-big for >= 50 MB)"; }
zcat "$big" > "$W/train.jsonl"
$NODE -e "const fs=require('fs');const L=fs.readFileSync('$W/train.jsonl','utf8').split('\n').filter(l=>l.trim());fs.writeFileSync('$W/train.txt',L.map(l=>JSON.parse(l).text).join('\n')+'\n')"
TMB=$(awk "BEGIN { printf \"%.1f\", $(wc -c < "$W/train.txt") / 1e6 }")
echo "train: vocab 30000, $big ($TMB MB of text); $CORES cores; median of $RUNS runs"
printf '%-28s %9s %9s %8s %10s %10s\n' case ours_s peer_s speedup ours_RSS peer_RSS
ours_runs "$BIN/bpe" train --vocab-size 30000 --min-frequency 0 --special none -o "$W/ours.json" "$W/train.jsonl"
ts=$OURS_S trss=$OURS_RSS
secs=() prss=0
for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%M' -o "$W/rss" $NODE tests/bpe/hf_train.js "$W/hf.json" "$W/train.txt" > "$W/hf.out" 2>/dev/null
    secs+=("$(tail -1 "$W/hf.out")"); r=$(tail -1 "$W/rss"); [ "$r" -gt "$prss" ] && prss=$r
done
hs=$(printf '%s\n' "${secs[@]}" | median)
printf '%-28s %9.2f %9.2f %7.2fx %9dk %9dk\n' "train vs HF tokenizers" "$ts" "$hs" "$(awk "BEGIN { print $hs / $ts }")" "$trss" "$prss"
secs=() srss=0
for _ in $(seq "$RUNS"); do
    t0=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$W/rss" spm_train --input="$W/train.txt" --model_prefix="$W/spm" --model_type=bpe \
        --vocab_size=30000 --num_threads="$CORES" --minloglevel=2 >/dev/null 2>&1
    secs+=("$(awk "BEGIN { print $(date +%s.%N) - $t0 }")"); r=$(tail -1 "$W/rss"); [ "$r" -gt "$srss" ] && srss=$r
done
ss=$(printf '%s\n' "${secs[@]}" | median)
printf '%-28s %9.2f %9.2f %7.2fx %9dk %9dk\n' "train vs spm_train bpe" "$ts" "$ss" "$(awk "BEGIN { print $ss / $ts }")" "$trss" "$srss"
"$BIN/bpe" train --hf-compat --vocab-size 30000 --min-frequency 0 --special none -q -o "$W/ourshf.json" "$W/train.txt"
echo "merges, --hf-compat vs HF: $($NODE tests/bpe/compare_merges.js "$W/ourshf.json" "$W/hf.json" | head -1)"
echo "merges, default vs HF:     $($NODE tests/bpe/compare_merges.js "$W/ours.json" "$W/hf.json" | head -1)"

echo "goals: encode >= 3x the fastest single-thread peer: ${best_single[*]}"
echo "       train >= 3x HF and spm_train at <= half HF's peak RSS: see the train rows (ours_RSS vs peer_RSS)"
