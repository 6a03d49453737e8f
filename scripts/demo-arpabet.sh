#!/usr/bin/env bash
# make demo-arpabet: the pipeline on a custom alphabet, the bundled corpus in
# compact ARPAbet (corpora/arpabet.jsonl.gz: "the king said" is "DA0 kI1G sE1d"),
# from filter to a sample in ARPAbet, read back as English words. Each stage
# prints its own summary; everything it writes goes to build/demo-arpabet/.
# About two minutes on 2 cores, most of it training. BIN=DIR runs the programs
# of another build (default: bin/). docs/tutorial.md explains each choice.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-bin}
corpus=corpora/arpabet.jsonl.gz
classes=bpe/classes/arpabet.classes
out=build/demo-arpabet
steps=${STEPS:-300}
rm -rf "$out"
mkdir -p "$out"

stage() { printf '\n== %s\n' "$*"; }
# read_back: ARPAbet on stdin, English words on stdout (needs node and the
# corpora's npm packages, which make deps installs)
read_back() { if [ -d corpora/node_modules/@stdlib ]; then node corpora/read-arpabet.js; else cat >/dev/null; echo "(no corpora/node_modules: make deps)"; fi; }

stage "corpus: $corpus"
echo "$(zcat "$corpus" | wc -l) documents, $(zcat "$corpus" | wc -c) bytes of JSON Lines; the first line of the first:"
{ zcat "$corpus" | head -n 1 || true; } | sed 's/^{"text":"//; s/\\n.*//' > "$out/first.txt"  # zcat ends on SIGPIPE
sed 's/^/  /' "$out/first.txt"
echo "read back as English:"
read_back < "$out/first.txt" | sed 's/^/  /'

stage "filter, default rules: Gopher's rules are made for English words (stop words such as 'the' and 'and', word lengths)"
"$bin/filter" -o /dev/null "$corpus" || true
stage "filter --preset none: every rule off, then one that counts no letters back on (repeated lines)"
"$bin/filter" --preset none --rule dup_line_frac=0.3 -o "$out/kept.jsonl" "$corpus"

stage "dedup: exact and near duplicates"
"$bin/dedup" -o "$out/unique.jsonl" "$out/kept.jsonl"

stage "bpe train --classes $classes: no token crosses a word or splits a vowel from its stress digit"
"$bin/bpe" train --classes "$classes" --vocab-size 4096 -o "$out/tokenizer.json" "$out/unique.jsonl"
"$bin/bpe" encode -t "$out/tokenizer.json" -o "$out/corpus.tok" "$out/unique.jsonl"
"$bin/bpe" info -t "$out/tokenizer.json" --top 8 "$out/unique.jsonl"

stage "packer: 1% for validation, context 128"
"$bin/packer" -o "$out/data" -t "$out/tokenizer.json" --context 128 --val 1% --seed 1 "$out/corpus.tok"

stage "model train: GPT-2 'tiny' (4 layers x 128, 4 heads), $steps steps of 16 x 128 tokens"
"$bin/model" train --data "$out/data" -o "$out/run" --preset tiny --micro-batch 16 --steps "$steps" --progress

stage "model sample: 60 tokens after 'DA0 kI1G sE1d' (the king said), seed 1"
"$bin/model" sample "$out/run" --prompt "DA0 kI1G sE1d" --tokens 60 --seed 1 --temperature 0.8 --top-k 40 \
    > "$out/sample.txt"
cat "$out/sample.txt"
echo "read back as English ([brackets]: no English word sounds like that):"
read_back < "$out/sample.txt"

stage "demo-arpabet done: everything it wrote is in $out/"
