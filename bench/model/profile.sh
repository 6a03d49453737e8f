#!/usr/bin/env bash
# bench/model/profile.sh: where the time of one GPU training step goes. Runs
# model train for STEPS steps (default 6) with Nsight Compute recording only
# step PROFILE_STEP (default the last: GPTKIT_PROFILE_STEP brackets it), then
# adds up each kernel's duration by family (matrix products, attention,
# classifier, AdamW, LayerNorm, ...) next to the step's wall time measured
# without the profiler: what is left is time the GPU sat idle between
# kernels. Run from the repository root on a machine with a GPU and ncu;
# ARGS are model train's shape options (default: gpt2, micro-batch 16).
set -euo pipefail
: "${BIN:=$PWD/bin}" "${PYTHON:=python3}" "${STEPS:=6}" "${NCU:=ncu}"
: "${ARGS:=--preset gpt2 --context 1024 --micro-batch 16}"
: "${PROFILE_STEP:=$STEPS}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mb=$(printf '%s\n' $ARGS | awk 'p { print; exit } /^--micro-batch$/ { p = 1 }')
(cd tests/model && "$PYTHON" synth.py "$tmp/data" --bytes $(( (STEPS + 2) * ${mb:-16} * 1025 * 2 + 100000 )) 0)
rm -f "$tmp/data/meta.json" "$tmp/data/val_000000.bin"
# the step's wall time, without the profiler: the median of steps 3.. of a plain run
# shellcheck disable=SC2086
"$BIN/model" train --data "$tmp/data" -o "$tmp/plain" $ARGS --steps "$STEPS" --device cuda --quiet --no-checkpoint
wall=$(awk -F, 'NR == 2 { tok = $2 } NR > 3 { print 1e6 * tok / $7 }' "$tmp/plain/log.csv" |
    sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
# shellcheck disable=SC2086
GPTKIT_PROFILE_STEP=$PROFILE_STEP "$NCU" --clock-control none --profile-from-start off \
    --metrics gpu__time_duration.sum --csv --print-units base \
    "$BIN/model" train --data "$tmp/data" -o "$tmp/prof" $ARGS --steps "$STEPS" --device cuda --quiet --no-checkpoint \
    >"$tmp/ncu.csv" 2>"$tmp/ncu.err" || { tail -20 "$tmp/ncu.err"; exit 1; }
"$PYTHON" bench/model/ncu_sum.py "$tmp/ncu.csv" "$wall" "$ARGS"
