#!/usr/bin/env bash
# bench/model/gpus.sh: model train on 1, 2, 4 and 8 GPUs (as many of those
# as the machine has), one MPI rank a GPU, at the same micro-batch a GPU
# (each rank one micro-batch a step, so the global batch grows with the
# GPUs): tokens/s (median of the steps after the first two), the scaling
# efficiency (tokens/s on N GPUs over N times one GPU's) and the time the
# ranks spend summing their gradients (NCCL) a step, as model train's summary
# reports it. PRESET (default gpt2), MICRO (default 16), CONTEXT (default
# 1024), STEPS (default 20), PRECISION (default bf16); ZERO=1: every run with
# --zero 1 (AdamW's moments sliced over the ranks). DEVICE=cpu checks the
# script on CPU ranks (1 and 2, preset tiny, context 64) where there is no GPU.
# Run from the repository root after make.
set -euo pipefail
: "${BIN:=$PWD/bin}" "${PYTHON:=python3}" "${STEPS:=20}" "${DEVICE:=cuda}" "${PRECISION:=bf16}" "${ZERO:=0}"
if [ "$DEVICE" = cpu ]; then
    : "${PRESET:=tiny}" "${MICRO:=4}" "${CONTEXT:=64}"
    counts="1 2" extra=(--device cpu -j 1)
else
    : "${PRESET:=gpt2}" "${MICRO:=16}" "${CONTEXT:=1024}"
    gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
    if [ "${gpus:-0}" -lt 1 ]; then
        echo "bench/model/gpus.sh: no GPU visible (DEVICE=cpu checks the script on CPU ranks)" >&2
        exit 1
    fi
    counts=$(for n in 1 2 4 8; do [ "$n" -le "$gpus" ] && echo $n; done)
    extra=(--device cuda --precision "$PRECISION")
fi
command -v mpirun >/dev/null || { echo "bench/model/gpus.sh: no mpirun (Debian: openmpi-bin)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# as root in a container; NVLink multicast off (shared machines)
export OMPI_MCA_btl_vader_single_copy_mechanism=none NCCL_NVLS_ENABLE=0
MPI=(mpirun --allow-run-as-root --oversubscribe)
[ "$ZERO" = 1 ] && extra+=(--zero 1)
# enough windows for the largest count's steps, a vocabulary of GPT-2's size
max=$(echo $counts | tr ' ' '\n' | tail -1)
(cd tests/model && "$PYTHON" synth.py "$tmp/data" --bytes $(( (max * MICRO * STEPS + 1) * CONTEXT + 1 )) 0 >/dev/null)
rm -f "$tmp/data/meta.json" "$tmp/data/val_000000.bin" # a bare shard: GPT-2's 50257 ids
median() { awk -F, 'NR > 3 { print $7 }' "$1/log.csv" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-6s %10s %12s %11s %22s\n' ranks batch tokens/s scaling "summing gradients"
one=
for n in $counts; do
    "${MPI[@]}" -np "$n" "$BIN/model" train --data "$tmp/data" -o "$tmp/run$n" --preset "$PRESET" \
        --context "$CONTEXT" --micro-batch "$MICRO" --batch $((n * MICRO * CONTEXT)) --steps "$STEPS" \
        --eval-every "$STEPS" "${extra[@]}" 2>"$tmp/err$n"
    tps=$(median "$tmp/run$n")
    [ -n "$one" ] || one=$tps
    sums=$(grep -ao 'summing gradients [0-9.]* ms a step ([0-9]*%' "$tmp/err$n" | sed 's/summing gradients //; s/(/= /' || true)
    printf '%-6s %10s %12.0f %10.0f%% %22s\n' "$n" $((n * MICRO * CONTEXT)) "$tps" \
        "$(awk -v t="$tps" -v o="$one" -v n="$n" 'BEGIN { print 100 * t / (n * o) }')" "${sums:--}"
done
echo "scaling: tokens/s on N ranks / (N x one rank's); the sums: time a step in them (share of the step)$([ "$ZERO" = 1 ] && echo "; --zero 1")"
