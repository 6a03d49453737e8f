# scripts/parallel-pipeline.sh on 4 shards equals the one-process pipeline on
# their concatenation, byte for byte: filter with the pareto keep rule, dedup
# (exact and near duplicates planted across shards), decontam with
# --max-doc-freq (a passage planted in 3 documents of 3 shards: frequent in the
# whole, not in any shard), bpe encode, packer with validation.
. tests/check.sh
command -v parallel >/dev/null || { echo "scale/test_parallel: skipped: GNU parallel is not installed"; exit 0; }
S=$PWD/scripts/parallel-pipeline.sh

# 600 documents of the bundled corpus, with duplicates and a planted passage
zcat corpora/en.jsonl.gz | head -n 600 > "$T/raw.jsonl"
P="the quick brown fox jumps over the lazy dog while seven wise owls watch from an old oak tree at night"
awk -v p="$P" '
    { line[NR] = $0 }
    END {
        for (i = 1; i <= NR; i++) {
            l = line[i]
            if (i == 40 || i == 190 || i == 340) sub(/"text":"/, "\"text\":\"" p " ", l)  # the planted passage
            print l
            if (i == 470) { print line[20]; print line[170] }          # exact duplicates, later shards
            if (i == 500) { l = line[60]; sub(/"text":"/, "\"text\":\"Note: ", l); print l } # a near one
        }
    }' "$T/raw.jsonl" > "$T/all.jsonl"
split -n l/4 -d --additional-suffix=.jsonl "$T/all.jsonl" "$T/shard-"
gzip "$T/shard-03.jsonl" # a gzip shard too
printf '{"text":"%s"}\n' "$P" > "$T/eval.jsonl"
for i in 250 420; do # and passages of two documents (each in one only: cut)
    sed -n ${i}p "$T/all.jsonl" | sed -E 's/.*"text":"(([^"\\]|\\.){0,400}).*/{"text":"\1"}/' >> "$T/eval.jsonl"
done
zcat corpora/quality-train.jsonl.gz | grep '^{"label":"good"' | head -n 300 > "$T/good.jsonl"
zcat corpora/quality-train.jsonl.gz | grep '^{"label":"bad"' | head -n 300 > "$T/bad.jsonl"
"$BIN/filter" train -q --pos "$T/good.jsonl" --neg "$T/bad.jsonl" -o "$T/q.model"
"$BIN/bpe" train -q --vocab-size 400 -o "$T/tok.json" "$T/raw.jsonl"

FOPTS="--model $T/q.model --keep pareto:2 --seed 3"
DOPTS="minhash --verify"
XOPTS="--max-doc-freq 2"
POPTS="--context 64 --val 5% --shard-tokens 200000 --seed 7"

expect_rc 0 bash "$S" --help
expect_out "usage: scripts/parallel-pipeline.sh"
expect_out "--sshlogin"
expect_rc 2 bash "$S" -t "$T/tok.json" "$T/shard-00.jsonl"
expect_err "-o DIR is required"

# the one process, on the shards concatenated in name order
one=$T/one
mkdir -p "$one"
cat "$T/shard-00.jsonl" "$T/shard-01.jsonl" "$T/shard-02.jsonl" > "$one/in.jsonl"
zcat "$T/shard-03.jsonl.gz" >> "$one/in.jsonl"
"$BIN/filter" $FOPTS -q -o "$one/filtered.jsonl" "$one/in.jsonl" &&
    "$BIN/dedup" $DOPTS -q -o "$one/unique.jsonl" "$one/filtered.jsonl" &&
    "$BIN/dedup" decontam --eval "$T/eval.jsonl" $XOPTS -o "$one/clean.jsonl" "$one/unique.jsonl" 2> "$one/decontam.err" &&
    "$BIN/bpe" encode -q -t "$T/tok.json" -o "$one/all.tok" "$one/clean.jsonl" &&
    "$BIN/packer" -q -o "$one/data" -t "$T/tok.json" $POPTS "$one/all.tok" && ok || fail "the one-process pipeline failed"
# what the planted cases did there: documents dropped by each stage, the
# passage ignored as frequent
n_in=$(wc -l < "$one/in.jsonl"); n_f=$(wc -l < "$one/filtered.jsonl"); n_u=$(wc -l < "$one/unique.jsonl")
if [ "$n_f" -lt "$n_in" ] && [ "$n_f" -gt 20 ] && [ "$n_u" -lt "$n_f" ]; then ok
else fail "expected filter and dedup to drop some: $n_in in, $n_f filtered, $n_u unique"; fi
grep -q "[1-9][0-9]* cut .* [1-9][0-9]* ignored as frequent" "$one/decontam.err" && ok ||
    fail "expected documents cut and grams ignored as frequent: $(cat "$one/decontam.err")"

# the recipe, with two jobs at a time
expect_rc 0 bash "$S" -o "$T/par" -t "$T/tok.json" -j 2 --bin "$BIN" --filter "$FOPTS" --dedup "$DOPTS" \
    --eval "$T/eval.jsonl" --decontam "$XOPTS" --packer "$POPTS" \
    "$T/shard-02.jsonl" "$T/shard-00.jsonl" "$T/shard-03.jsonl.gz" "$T/shard-01.jsonl"
w=$T/par/work
for stage in filtered unique clean; do
    cat "$w/$stage"/*.jsonl > "$T/par-$stage.jsonl"
    expect_same "$one/$stage.jsonl" "$T/par-$stage.jsonl"
done
[ -s "$w/drop.tsv" ] && ok || fail "the recipe's dedup dropped nothing"
[ "$(ls "$one/data")" = "$(ls "$T/par/data")" ] && ok || fail "other files: $(ls "$one/data") vs $(ls "$T/par/data")"
ls "$one/data"/val_*.bin >/dev/null 2>&1 && ok || fail "no validation shard"
for f in "$one/data"/*.bin "$one/data/tokenizer.json"; do expect_same "$f" "$T/par/data/$(basename "$f")"; done
grep -v '"name"' "$one/data/meta.json" > "$T/one.meta"; grep -v '"name"' "$T/par/data/meta.json" > "$T/par.meta"
expect_same "$T/one.meta" "$T/par.meta"

check_done test_parallel
