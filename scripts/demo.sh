#!/usr/bin/env bash
# make demo: the bundled corpus through every stage that exists so far. A stage
# whose program is not built yet is named and skipped, not faked.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=corpora/en.jsonl.gz
out=build/demo
mkdir -p "$out"

echo "== corpus: $corpus"
echo "   $(zcat "$corpus" | wc -l) documents, $(zcat "$corpus" | wc -c) bytes of JSON Lines"
zcat "$corpus" | grep -o '"source":"[^"]*"' | sort | uniq -c | sed 's/^/   /'

built() { "bin/$1" --help | grep -q '^Not built yet' && return 1 || return 0; }

for stage in filter dedup bpe packer model; do
    if ! built "$stage"; then
        echo "== $stage: not built yet ($(bin/$stage --help | grep -o 'issue #[0-9]*'))"
    fi
done
echo "== demo done: outputs (when there are any) are in $out/"
