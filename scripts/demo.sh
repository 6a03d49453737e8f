#!/usr/bin/env bash
# make demo: the bundled corpus through every stage that exists, each printing
# its own summary. A stage whose program is not built yet is named and skipped,
# not faked. Everything it writes goes to build/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=corpora/en.jsonl.gz
out=build/demo
rm -rf "$out"
mkdir -p "$out"

built() { ! "bin/$1" --help | grep -q '^Not built yet'; }
stage() { printf '\n== %s\n' "$*"; }
skip() { stage "$1: not built yet ($(bin/$1 --help | grep -o 'issue #[0-9]*'))"; }

stage "corpus: $corpus"
echo "$(zcat "$corpus" | wc -l) documents, $(zcat "$corpus" | wc -c) bytes of JSON Lines"

docs=$corpus
if built filter; then
    stage "filter train: the GPT-3 quality classifier, on the labelled sample"
    zcat corpora/quality-train.jsonl.gz | grep '^{"label":"good"' > "$out/good.jsonl"
    zcat corpora/quality-train.jsonl.gz | grep '^{"label":"bad"' > "$out/bad.jsonl"
    bin/filter train --pos "$out/good.jsonl" --neg "$out/bad.jsonl" -o "$out/quality.model"
    stage "filter: Gopher rules, then keep by the classifier's score (pareto, seed 1)"
    bin/filter --model "$out/quality.model" --keep pareto:9 --seed 1 \
        --rejects "$out/filter-rejects.jsonl" -o "$out/filtered.jsonl" "$docs"
    docs=$out/filtered.jsonl
else skip filter; fi

if built dedup; then
    stage "dedup: exact and near duplicates (MinHash 14x8, keep the first)"
    bin/dedup --rejects "$out/dedup-rejects.jsonl" -o "$out/unique.jsonl" "$docs"
    stage "dedup decontam: 13-gram decontamination against corpora/eval.jsonl.gz"
    bin/dedup decontam --eval corpora/eval.jsonl.gz --removed "$out/removed.jsonl" \
        --rejects "$out/decontam-rejects.jsonl" -o "$out/clean.jsonl" "$out/unique.jsonl"
    docs=$out/clean.jsonl
else skip dedup; fi

if built bpe; then
    stage "bpe train: a byte-level BPE of 8192 ids on the cleaned documents (GPT-2 pattern)"
    bin/bpe train --vocab-size 8192 -o "$out/tokenizer.json" "$docs"
    stage "bpe encode: documents to a token stream"
    bin/bpe encode -t "$out/tokenizer.json" -o "$out/corpus.tok" "$docs"
    bin/bpe info -t "$out/tokenizer.json" --top 10 "$docs"
else skip bpe; fi

if built packer && [ -e "$out/corpus.tok" ]; then
    stage "packer: shuffle, hold out 2% for validation, pack llm.c shards for context 128"
    bin/packer -o "$out/data" -t "$out/tokenizer.json" --context 128 --val 2% --seed 1 "$out/corpus.tok"
    echo "meta.json:"; sed 's/^/  /' "$out/data/meta.json" | head -n 12
elif built packer; then stage "packer: no token stream to pack (bpe is not built yet)"
else skip packer; fi
if built model && [ -e "$out/data/meta.json" ]; then
    stage "model plan: which of three small shapes, for this data?"
    bin/model plan --compare 4x128x4,2x256x4,8x96x4 --data "$out/data" --context 128 --micro-batch 16
    stage "model train: GPT-2 'tiny' (4 layers x 128, 4 heads), 300 steps of 16 x 128 tokens"
    bin/model train --data "$out/data" -o "$out/run" --preset tiny --micro-batch 16 --steps 300 --progress
    echo "log: $out/run/log.csv, loss curve: $out/run/loss.png, checkpoint: $out/run/$(cat "$out/run/latest")"
    stage "model eval: validation loss, perplexity, bits per byte"
    bin/model eval "$out/run" --data "$out/data"
    stage "model sample: 60 tokens after 'The king said', seed 1"
    bin/model sample "$out/run" --prompt "The king said" --tokens 60 --seed 1 --temperature 0.8 --top-k 40
    echo
    stage "model export: Hugging Face GPT-2 files"
    bin/model export "$out/run" -o "$out/hf"
elif built model; then stage "model: no shards to train on (packer is not built yet)"
else skip model; fi

stage "demo done: everything it wrote is in $out/"
ls -la "$out" | tail -n +2 | awk '{printf "  %10s  %s\n", $5, $9}' | grep -v ' \.*$'
