#!/usr/bin/env bash
# bench/model/cuda.sh: model train on the GPU, GPT-2 124M at context 1024,
# micro-batch 16 (tokens/s, MFU against the cuBLASLt matrix rate measured in
# the same run, the trainer's own summary), for each precision the build has.
# Correctness first: make test-cuda's kernel test must pass or nothing is
# timed. The side-by-side with PyTorch (torch.compile) is still to come.
# Run from the repository root on a machine with a GPU: BIN, BUILD and PYTHON
# as make test-cuda sets them; STEPS (default 30) steps a run.
set -euo pipefail
: "${BUILD:=$PWD/build}" "${BIN:=$PWD/bin}" "${PYTHON:=/usr/bin/python3}" "${STEPS:=30}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! "$BUILD/tests/model/test_cuda" >"$tmp/check" 2>&1; then
    echo "bench/model/cuda: the kernel test fails; not timing:"; tail -5 "$tmp/check"; exit 1
fi
grep -h "kernels: worst" "$tmp/check" || { cat "$tmp/check"; exit 1; }
# GPT-2's vocabulary (no meta.json: the trainer's default 50257), synthetic text
(cd tests/model && "$PYTHON" synth.py "$tmp/data" --bytes $((STEPS * 16 * 1025 + 100000)) 0)
rm -f "$tmp/data/meta.json" "$tmp/data/val_000000.bin"
printf '%-28s %10s %6s %s\n' case tokens/s MFU "summary"
for prec in ${PRECISIONS:-fp32 bf16}; do
    out="$tmp/run-$prec"
    if ! "$BIN/model" train --data "$tmp/data" -o "$out" --preset gpt2 --context 1024 --micro-batch 16 \
        --steps "$STEPS" --device cuda --precision "$prec" --quiet 2>"$tmp/err"; then
        printf '%-28s %s\n' "gpt2 16x1024 $prec" "failed: $(head -1 "$tmp/err")"
        continue
    fi
    # tokens/s and MFU: the median of the steps after the first two (warm-up)
    tps=$(awk -F, 'NR > 3 { print $7 }' "$out/log.csv" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    mfu=$(awk -F, 'NR > 3 { print $8 }' "$out/log.csv" | sort -g | awk '{a[NR]=$1} END {printf "%.1f%%", 100*a[int((NR+1)/2)]}')
    printf '%-28s %10.0f %6s loss %s -> %s\n' "gpt2 16x1024 $prec" "$tps" "$mfu" \
        "$(awk -F, 'NR == 2 { print $3 }' "$out/log.csv")" "$(awk -F, 'END { print $3 }' "$out/log.csv")"
done
