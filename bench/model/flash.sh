#!/usr/bin/env bash
# bench/model/flash.sh: the GPU backend's bf16 fused attention (model/cuda/
# flash.cu) against PyTorch's scaled_dot_product_attention on the same GPU,
# causal, bf16, forward and backward timed apart, on the attention shapes of
# bench/model/cuda.sh's models: gpt2 (micro-batch 32, 12 heads of 64),
# gpt2-large (16, 20 heads of 64) and 18x1280 with 64 heads of 20 (16), all at
# context 1024. PyTorch picks its kernel among cuDNN's, flash attention's and
# the memory-efficient one (the first that runs; named in the table). Prints
# milliseconds a call, TFLOP/s (causal FLOPs: 4 hs a query-key pair forward,
# 2.5 times that backward) and ours / PyTorch's speed.
# Run from the repository root on a machine with a GPU: BUILD as make sets it;
# PYTHON an interpreter with PyTorch (default python3); REPS calls timed
# (default 20); SHAPES "B T NH hs" quadruples (default the three above);
# KERNELS=mma times the mma.sync kernels on Hopper too (by default Hopper
# runs its own, on the warpgroup matrix units).
set -euo pipefail
: "${BUILD:=$PWD/build}" "${PYTHON:=python3}" "${REPS:=20}" "${KERNELS:=}"
: "${SHAPES:=32 1024 12 64 16 1024 20 64 16 1024 64 20}"
export REPS KERNELS
make --no-print-directory DEPS= "$BUILD/bench/model/flash" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
"$BUILD/bench/model/flash" $SHAPES | tee "$tmp/ours"
grep -q '^flash ' "$tmp/ours" || exit 0 # skipped: no GPU or no CUDA build
# shellcheck disable=SC2086
"$PYTHON" bench/model/flash_torch.py $SHAPES | tee "$tmp/torch"
echo
printf '%-22s %9s %9s %9s %9s  %-7s %9s %9s %9s %9s  %6s %6s\n' "shape B,T,NH,hs" "fwd ms" "bwd ms" "fwd TF/s" \
    "bwd TF/s" "" "fwd ms" "bwd ms" "fwd TF/s" "bwd TF/s" "fwd x" "bwd x"
paste -d' ' "$tmp/ours" "$tmp/torch" | awk '{
    printf "%-22s %9.3f %9.3f %9.1f %9.1f  %-7.7s %9.3f %9.3f %9.1f %9.1f  %6.2f %6.2f\n",
        $2 "," $3 "," $4 "," $5, $6, $7, $8, $9, $19, $15, $16, $17, $18, $15 / $6, $16 / $7 }'
echo "(left: ours; right: PyTorch with the kernel named; x: ours / PyTorch speed, above 1 is faster)"
