#!/usr/bin/env bash
# bench/model/mpi.sh: model train on the CPU as 1 rank x 2 threads against
# 2 MPI ranks x 1 thread, the same global batch (PRESET, default small, at
# context 256, micro-batch 4, 2 micro-batches a step), STEPS steps (default
# 10) on synthetic text: tokens/s (median of the steps after the first two)
# and the time 2 ranks spend summing their gradients a step. Run from the
# repository root after make.
set -euo pipefail
: "${BIN:=$PWD/bin}" "${PYTHON:=/usr/bin/python3}" "${STEPS:=10}" "${PRESET:=small}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_btl=self,vader
(cd tests/model && "$PYTHON" synth.py "$tmp/data" --bytes 400000 4000 >/dev/null)
S=(--data "$tmp/data" --preset "$PRESET" --context 256 --micro-batch 4 --batch 2048 --steps "$STEPS" --device cpu)
median() { awk -F, 'NR > 3 { print $7 }' "$1/log.csv" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
"$BIN/model" train "${S[@]}" -o "$tmp/one" -j 2 2>"$tmp/one.err"
mpirun --allow-run-as-root --oversubscribe -np 2 "$BIN/model" train "${S[@]}" -o "$tmp/two" -j 1 2>"$tmp/two.err"
one=$(median "$tmp/one") two=$(median "$tmp/two")
printf '%-26s %12s\n' case tokens/s
printf '%-26s %12.0f\n' "1 rank x 2 threads" "$one" "2 ranks x 1 thread" "$two"
printf 'ratio 2 ranks / 1 rank: %.2f; %s\n' "$(awk -v a="$two" -v b="$one" 'BEGIN { print a / b }')" \
    "$(grep -o 'summing gradients [^;]*' "$tmp/two.err")"
