#!/usr/bin/env bash
# make bench: every benchmark, each printing "case ours_s peer_s speedup" lines.
# Timings are for reading, not pass/fail: the machines are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BUILD:=$PWD/build}"
echo "== json_read: JSON Lines parsing, lib/json.c vs jansson ($(nproc) cores here)"
"$BUILD/bench/json_read" corpora/en.jsonl.gz 5
for b in bench/*/run.sh; do
    [ -e "$b" ] || continue
    echo "== ${b%/run.sh}"
    bash "$b"
done
