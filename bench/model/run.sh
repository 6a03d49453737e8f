#!/usr/bin/env bash
# bench/model: our training step against PyTorch's (eager, fp32, same shape,
# batch, context and threads), side by side in one run. PyTorch runs twice:
# with glibc's default malloc, and with the setting that spares it the page
# faults (MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736). Ours also
# against the sgemm rate measured in the same process (MFU), and its peak RSS
# against the plan it printed. Correctness comes first: the parity test
# against PyTorch must pass or nothing is timed.
# Run from the repository root with $BUILD and $BIN set (make bench does).
set -euo pipefail
: "${BUILD:=$PWD/build}" "${BIN:=$PWD/bin}"
PY=/usr/bin/python3
J=${J:-$(nproc)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! "$BUILD/tests/model/test_gpt2" >"$tmp/parity" 2>&1; then
    echo "bench/model: the parity test against PyTorch fails; not timing:"; tail -5 "$tmp/parity"; exit 1
fi
echo "parity with PyTorch: $(grep -h 'gradients:' "$tmp/parity")"
# GPT-2's vocabulary (a bare llm.c shard says none), byte-level ids in it
$PY tests/model/mkshards.py "$tmp/data" corpora/en.jsonl.gz 400000 0 --no-meta
rm -f "$tmp/data/val_000000.bin"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "threads $J; tokens/s: median over the timed steps, best of two runs a side; vocabulary 50257"
printf '%-24s %9s %9s %9s %7s %7s %6s %9s %10s %9s\n' case ours_tok/s torch_def torch_tun vs_def vs_tun MFU sgemm_GF ours_RSS_MB plan_MB
# name preset context micro-batch steps
best() { sort -g | tail -1; }
while read -r name preset T B steps; do
    case $preset in
        tiny) L=4 C=128 NH=4 ;; small) L=6 C=384 NH=6 ;; mosaic-52m) L=8 C=512 NH=8 ;; gpt2) L=12 C=768 NH=12 ;;
    esac
    # each side twice, alternating, keeping the better: the machine is shared
    for rep in 1 2; do
        run="$tmp/run-$name-$rep"
        "$BIN/model" train --device cpu --data "$tmp/data" -o "$run" --preset "$preset" --context "$T" --micro-batch "$B" \
            --steps "$steps" --eval-every 100000 -j "$J" </dev/null 2>"$tmp/ours-$rep.err" || { cat "$tmp/ours-$rep.err"; exit 1; }
        echo "$(awk -F, 'NR>3 {print $7}' "$run/log.csv" | median) $(awk -F, 'NR>3 {print $8}' "$run/log.csv" | median) $rep" >>"$tmp/ours-$name"
        $PY bench/model/torch_gpt2.py "$L" "$C" "$NH" 50257 "$T" "$B" "$steps" "$J" </dev/null >>"$tmp/def-$name"
        MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 \
            $PY bench/model/torch_gpt2.py "$L" "$C" "$NH" 50257 "$T" "$B" "$steps" "$J" </dev/null >>"$tmp/tun-$name"
    done
    read -r ours mfu rep < <(sort -g "$tmp/ours-$name" | tail -1)
    def=$(cut -d' ' -f1 "$tmp/def-$name" | best)
    tun=$(cut -d' ' -f1 "$tmp/tun-$name" | best)
    summary=$(grep 'peak RSS' "$tmp/ours-$rep.err")
    sgemm=$(sed -E 's/.* of ([0-9.]+) GFLOP\/s sgemm.*/\1/' <<<"$summary")
    rss=$(sed -E 's/.*peak RSS ([0-9.]+) MB.*/\1/' <<<"$summary")
    plan=$(sed -E 's/.*\(plan ([0-9.]+) MB\).*/\1/' <<<"$summary")
    awk -v n="$name" -v o="$ours" -v d="$def" -v t="$tun" -v m="$mfu" -v s="$sgemm" -v r="$rss" -v p="$plan" \
        'BEGIN {printf "%-24s %9.0f %9.0f %9.0f %6.2fx %6.2fx %5.0f%% %9.1f %10.1f %9.1f\n", n, o, d, t, o/d, o/t, 100*m, s, r, p}'
done <<'EOF'
tiny-T64-B16 tiny 64 16 12
tiny-T256-B8 tiny 256 8 10
small-T256-B8 small 256 8 8
mosaic-52m-T256-B4 mosaic-52m 256 4 6
gpt2-T64-B4 gpt2 64 4 6
EOF
echo "MFU: model FLOPs (6N + 12LCT a token) per second over the sgemm rate of the same threads; goal >= 50%"
echo "RSS includes the memory-mapped shard pages read; the plan counts what the trainer allocates"
