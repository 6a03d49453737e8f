# model on the GPU from the command line, float32 against the CPU: the same
# run's losses (the first 10 steps within 1e-4 relative, all within 1e-3), a
# resume on the GPU bit-identical to a run that never stopped, a CPU
# checkpoint resumed on the GPU (and the other way round) giving the other
# device's next loss within 1e-5, eval within 1e-5, and sample's text with and
# without the KV cache. Skipped where the binary has no CUDA or no GPU is visible.
. tests/check.sh
M="$BIN/model"
PY=${PYTHON:-/usr/bin/python3}
(cd tests/model && $PY synth.py "$T/data" --bytes 60000 4000) || { echo "synth.py failed" >&2; exit 1; }
$PY tests/model/bytetok.py "$T/data/tokenizer.json" || { echo "bytetok failed" >&2; exit 1; }
SHAPE="--data $T/data --layers 3 --width 96 --heads 4 --context 64 --micro-batch 4 --batch 512 --lr 2e-3 --keep 10"
if ! "$M" train $SHAPE -o "$T/probe" --steps 1 --device cuda --precision fp32 2>"$T/probe.err"; then
    if grep -q "no CUDA backend\|no GPU visible" "$T/probe.err"; then
        echo "test_cuda.sh: skipped: $(sed 's/^model: //' "$T/probe.err" | head -1)"
        exit 0
    fi
    cat "$T/probe.err" >&2
    fail "a one-step GPU run failed"
    check_done test_cuda.sh
    exit 1
fi

# losses column of a log (rows with a step)
losses() { awk -F, 'NR > 1 { print $3 }' "$1/log.csv"; }
# close A B RTOL: the two files of numbers agree within RTOL relative, row by row
close() {
    paste "$1" "$2" | awk -v t="$3" '{ d = $1 - $2; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2);
        if (r > w) w = r; if (r > t) bad++ } END { printf "%d rows, worst %.3g\n", NR, w; exit bad > 0 || NR == 0 }'
}

# --- --gpu-memory: a cap under the plan is refused before training; one
# above it holds, and the peak the run reports stays under it; the summary
# splits the peak into CUDA's context and handles and the trainer's arrays
cap=$(( $(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1 || echo 0) + 2000 ))
expect_rc 1 "$M" train $SHAPE -o "$T/cap1" --steps 2 --device cuda --gpu-memory 10M
expect_err "gpu-memory"
expect_rc 0 "$M" train $SHAPE -o "$T/cap2" --steps 2 --device cuda --gpu-memory "${cap}Mi" --progress
peak=$(grep -o 'peak GPU memory [0-9]* MB' "$T/err" | grep -o '[0-9]*')
[ -n "$peak" ] && [ "$peak" -le $((cap * 1048576 / 1000000)) ] && ok || fail "peak GPU memory ${peak:-?} MB over --gpu-memory ${cap}Mi"
parts=$(sed -n "s/.*peak GPU memory \([0-9]*\) MB (in use on the device; of it CUDA's context and library handles \([0-9]*\) MB, the trainer's arrays \([0-9]*\) MB).*/\1 \2 \3/p" "$T/err")
read -r all ctx arrays <<<"$parts"
[ -n "$arrays" ] && [ "$ctx" -gt 0 ] && [ "$arrays" -gt 0 ] && [ $((ctx + arrays)) = "$all" ] && ok ||
    fail "peak GPU memory should be CUDA's context and the arrays, both above 0: $(grep -o 'peak GPU memory[^;]*' "$T/err")"

# --- the same run on both devices
expect_rc 0 "$M" train $SHAPE -o "$T/cpu" --steps 60 --eval-every 20 --device cpu -j 4
expect_rc 0 "$M" train $SHAPE -o "$T/gpu" --steps 60 --eval-every 20 --device cuda --precision fp32
expect_err "cuda"
losses "$T/cpu" > "$T/lc"; losses "$T/gpu" > "$T/lg"
head -10 "$T/lc" > "$T/lc10"; head -10 "$T/lg" > "$T/lg10"
r=$(close "$T/lg10" "$T/lc10" 1e-4) && ok || fail "first 10 losses not within 1e-4: $r"
echo "test_cuda.sh: first 10 losses gpu vs cpu: $r"
r=$(close "$T/lg" "$T/lc" 1e-3) && ok || fail "losses not within 1e-3: $r"
echo "test_cuda.sh: 60 losses gpu vs cpu: $r"
awk -F, 'NR==2 {a=$3} END {exit !($3 < a - 0.5)}' "$T/gpu/log.csv" && ok || fail "the GPU run did not learn"

# --- resume on the GPU: 20 + 40 steps equal 60 straight, bit for bit
expect_rc 0 "$M" train $SHAPE -o "$T/r" --steps 60 --eval-every 20 --device cuda --precision fp32
cp "$T/r/ckpt-000060.bin" "$T/straight.bin"
printf 'ckpt-000020.bin\n' > "$T/r/latest"
rm -f "$T/r/ckpt-000060.bin"
expect_rc 0 "$M" train --resume "$T/r" --device cuda --precision fp32
expect_same "$T/straight.bin" "$T/r/ckpt-000060.bin"

# --- checkpoints cross devices: the CPU's step-20 checkpoint continued on the
# GPU gives the CPU's step 21 loss, and the other way round
for pair in "cpu cuda" "gpu cpu"; do
    set -- $pair
    mkdir -p "$T/x$1"
    cp "$T/$1/ckpt-000020.bin" "$T/$1/tokenizer.json" "$T/x$1/"
    printf 'ckpt-000020.bin\n' > "$T/x$1/latest"
    expect_rc 0 "$M" train --resume "$T/x$1" --steps 21 --device "$2" --precision fp32
    a=$(awk -F, '$1 == 21 { print $3 }' "$T/x$1/log.csv")
    b=$(awk -F, '$1 == 21 { print $3 }' "$T/$1/log.csv")
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d / b <= 1e-5) }' && ok ||
        fail "$1 checkpoint resumed on $2: step 21 loss $a, the $1 run had $b"
done

# --- eval and sample on the GPU
expect_rc 0 "$M" eval "$T/cpu" --data "$T/data" --json --device cpu
c=$($PY -c "import json,sys; print(json.load(open('$T/out'))['loss'])")
expect_rc 0 "$M" eval "$T/cpu" --data "$T/data" --json --device cuda --precision fp32
g=$($PY -c "import json,sys; print(json.load(open('$T/out'))['loss'])")
awk -v a="$g" -v b="$c" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d / b <= 1e-5) }' && ok ||
    fail "eval on the GPU $g, on the CPU $c"
expect_rc 0 "$M" sample "$T/gpu" --prompt "kato " --tokens 150 --seed 3 --device cuda --precision fp32
cp "$T/out" "$T/s.cache"
expect_rc 0 "$M" sample "$T/gpu" --prompt "kato " --tokens 150 --seed 3 --device cuda --precision fp32 --no-cache
expect_same "$T/s.cache" "$T/out"
expect_rc 0 "$M" sample "$T/gpu" --prompt "kato " --tokens 150 --seed 3 --device cpu
expect_same "$T/s.cache" "$T/out"
# --- bf16, the GPU's default: it learns, records its precision, resumes
# bit-identically, and a CPU resume says it continues in fp32
expect_rc 0 "$M" train $SHAPE -o "$T/b" --steps 40 --eval-every 20 --device cuda
expect_err "), bf16"
awk -F, 'NR==2 {a=$3} END {exit !($3 < a - 0.5)}' "$T/b/log.csv" && ok || fail "the bf16 run did not learn"
# (bf16 against PyTorch's autocast is test_bf16's; here only for the record)
echo "test_cuda.sh: bf16 vs the CPU's fp32, first 10 losses: $(close <(losses "$T/b" | head -10) <(head -10 "$T/lc") 1)"
echo "test_cuda.sh: bf16 losses: $(losses "$T/b" | head -10 | tr '\n' ' ')"
echo "test_cuda.sh: fp32 losses: $(head -10 "$T/lc" | tr '\n' ' ')"
grep -aq '"precision": "bf16"' "$T/b/ckpt-000040.bin" && ok || fail "the bf16 checkpoint does not say bf16"
cp "$T/b/ckpt-000040.bin" "$T/b40.bin"
mkdir -p "$T/bc" && cp "$T/b/ckpt-000020.bin" "$T/b/tokenizer.json" "$T/bc/" && printf 'ckpt-000020.bin\n' > "$T/bc/latest"
printf 'ckpt-000020.bin\n' > "$T/b/latest"
rm -f "$T/b/ckpt-000040.bin"
expect_rc 0 "$M" train --resume "$T/b" --device cuda
expect_same "$T/b40.bin" "$T/b/ckpt-000040.bin"
expect_rc 0 "$M" train --resume "$T/bc" --steps 21 --device cpu
expect_err "trained in bf16; it continues in fp32 on the CPU"
expect_rc 0 "$M" sample "$T/b" --prompt "kato " --tokens 100 --seed 3 --device cuda
[ "$(wc -c < "$T/out")" -gt 40 ] && ok || fail "bf16 sample: too little text"
expect_rc 0 "$M" eval "$T/b" --data "$T/data" --json --device cuda
# a plan larger than the GPU's free memory is refused before anything is written
expect_rc 1 "$M" train --data "$T/data" -o "$T/huge" --layers 48 --width 1600 --heads 25 --mlp 25600 --context 64 \
    --micro-batch 512 --steps 1 --device cuda
expect_err "of GPU memory but"
[ ! -e "$T/huge" ] && ok || fail "the refused run left $T/huge behind"
# heads wider than the bf16 attention takes are refused before training
expect_rc 1 "$M" train --data "$T/data" -o "$T/wide" --layers 1 --width 320 --heads 2 --context 64 --steps 1 --device cuda
expect_err "heads of 160 dimensions"
# --master-weights off: bf16 weights alone, stochastic rounding keyed by the
# step: the run learns, its plan counts 4 bytes a parameter less, and a resume
# gives the same bits as the run that never stopped
expect_rc 0 "$M" train $SHAPE -o "$T/nm" --steps 40 --eval-every 20 --device cuda --master-weights off
awk -F, 'NR==2 {a=$3} END {exit !($3 < a - 0.5)}' "$T/nm/log.csv" && ok || fail "--master-weights off did not learn"
echo "test_cuda.sh: --master-weights off losses: $(losses "$T/nm" | sed -n '1p;10p;20p;40p' | tr '\n' ' ')"
cp "$T/nm/ckpt-000040.bin" "$T/nm40.bin"
printf 'ckpt-000020.bin\n' > "$T/nm/latest"
rm -f "$T/nm/ckpt-000040.bin"
expect_rc 0 "$M" train --resume "$T/nm" --device cuda --master-weights off
expect_same "$T/nm40.bin" "$T/nm/ckpt-000040.bin"
# its checkpoint continues with master weights (and on the CPU)
expect_rc 0 "$M" train --resume "$T/nm" --steps 41 --device cuda
expect_rc 2 "$M" train $SHAPE -o "$T/nm32" --steps 2 --device cuda --precision fp32 --master-weights off
expect_err "--master-weights off keeps the weights in bf16 alone"
check_done test_cuda.sh
