# model train from the command line: a short run and its files, -j 1 == -j 2,
# kill -9 in the middle of a checkpoint write, resume bit-identical to a run
# that never stopped, corrupt checkpoints, and bad data and usage.
. tests/check.sh
M="$BIN/model"
PY=/usr/bin/python3
mk() { $PY tests/model/mkshards.py "$@" || { echo "mkshards failed" >&2; exit 1; }; }
mk "$T/data" corpora/en.jsonl.gz 20000 3000
echo '{"version": "1.0", "model": {"type": "BPE"}}' > "$T/data/tokenizer.json"
SHAPE="--layers 2 --width 32 --heads 2 --context 32 --micro-batch 4 --lr 3e-3"

# --- a short run: 20 steps, accumulation over 2 micro-batches, eval and checkpoint every 10
expect_rc 0 "$M" train --device cpu --data "$T/data" -o "$T/a" $SHAPE --batch 256 --steps 20 --eval-every 10 -j 2
expect_err "model: plan: "
expect_err "parameters (2 layers, width 32, 2 heads, MLP 128, vocabulary 257, context 32)"
expect_err "256 tokens a step (4 x 32 x 2 accumulated)"
expect_err "20 steps, 5120 tokens"
expect_err "unigram entropy"
expect_err "the run is at step 20, 0.26 epochs of the training windows"
# peak RSS apart from what the plan counts: the allocated part holds every buffer
# of the plan, and the peak holds the allocated and the mapped files (the
# shards, the program) it ended with
rss=$(sed -n 's/.*peak RSS \([0-9.]*\) MB (plan \([0-9.]*\) MB): at the end \([0-9.]*\) MB allocated, \([0-9.]*\) MB of mapped files (the shards read so far, the program.s code).*/\1 \2 \3 \4/p' "$T/err")
awk -v r="$rss" 'BEGIN { split(r, x, " "); exit !(x[4] > 0 && x[3] >= x[2] && x[1] + 0.2 >= x[3] + x[4]) }' && ok ||
    fail "peak RSS, plan, allocated, mapped: '$rss' from $(grep -o 'peak RSS.*' "$T/err")"
[ "$(wc -l < "$T/a/log.csv")" = 21 ] && ok || fail "log.csv should have a header and 20 rows"
head -1 "$T/a/log.csv" | grep -qx 'step,tokens,loss,val_loss,lr,grad_norm,tokens_per_s,mfu' && ok || fail "log.csv header"
awk -F, 'NR>1 && $4 != "" {n++} END {exit n != 2}' "$T/a/log.csv" && ok || fail "two validation losses expected"
# the loss falls: the last rows are below the first
awk -F, 'NR==2 {a=$3} NR==21 {b=$3} END {exit !(b < a - 0.5)}' "$T/a/log.csv" && ok || fail "loss did not fall: $(sed -n '2p;21p' "$T/a/log.csv")"
[ -s "$T/a/loss.png" ] && head -c 4 "$T/a/loss.png" | grep -q PNG && ok || fail "no loss.png"
[ "$(cat "$T/a/latest")" = ckpt-000020.bin ] && ok || fail "latest: $(cat "$T/a/latest")"
[ -s "$T/a/ckpt-000010.bin" ] && [ -s "$T/a/ckpt-000020.bin" ] && ok || fail "checkpoints missing"
expect_no_file "$T/a/ckpt-000020.bin.tmp"
expect_same "$T/data/tokenizer.json" "$T/a/tokenizer.json"

# --- one thread gives the same bits as two
expect_rc 0 "$M" train --device cpu --data "$T/data" -o "$T/j1" $SHAPE --batch 256 --steps 20 --eval-every 10 -j 1
expect_same "$T/a/ckpt-000020.bin" "$T/j1/ckpt-000020.bin"

# --- --no-checkpoint: the same run's log, no checkpoint, the summary says so; nothing to resume
expect_rc 0 "$M" train --device cpu --data "$T/data" -o "$T/nc" $SHAPE --batch 256 --steps 20 --eval-every 10 -j 2 --no-checkpoint
expect_err "no checkpoint (--no-checkpoint); the log: $T/nc/log.csv"
cut -d, -f1-6 "$T/a/log.csv" > "$T/a.cols"; cut -d, -f1-6 "$T/nc/log.csv" > "$T/nc.cols"
expect_same "$T/a.cols" "$T/nc.cols"
if compgen -G "$T/nc/ckpt-*" >/dev/null; then fail "--no-checkpoint wrote $(ls "$T/nc")"; else ok; fi
expect_no_file "$T/nc/latest"
expect_rc 1 "$M" train --resume "$T/nc" --device cpu
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/nc2" $SHAPE --steps 2 --no-checkpoint --ckpt-every 1
expect_err "--no-checkpoint writes none: drop --ckpt-every"

# --- kill -9 while ckpt-000020 is half-written: ckpt-000010 stays the latest and loads
GPTKIT_TEST_CKPT_PAUSE=ckpt-000020 "$M" train --device cpu --data "$T/data" -o "$T/c" $SHAPE --batch 256 --steps 20 \
    --eval-every 10 -j 2 2>"$T/c.err" &
pid=$!
for _ in $(seq 600); do grep -q 'paused writing' "$T/c.err" 2>/dev/null && break; sleep 0.1; done
grep -q 'paused writing' "$T/c.err" && ok || fail "the writer never reached the pause: $(cat "$T/c.err")"
kill -9 $pid; wait $pid 2>/dev/null
compgen -G "$T/c/ckpt-000020.bin.tmp.*" >/dev/null && ok || fail "expected a half-written temporary file"
[ ! -e "$T/c/ckpt-000020.bin" ] && ok || fail "ckpt-000020.bin exists after the kill"
[ "$(cat "$T/c/latest")" = ckpt-000010.bin ] && ok || fail "latest after the kill: $(cat "$T/c/latest")"
# resume: 10 + 10 steps equal 20 straight, bit for bit (weights, moments, header) and in the log
expect_rc 0 "$M" train --device cpu --resume "$T/c" -j 1
expect_same "$T/a/ckpt-000020.bin" "$T/c/ckpt-000020.bin"
expect_err "resumed at step 10: 10 steps"
cut -d, -f1-6 "$T/a/log.csv" > "$T/a.cols"; cut -d, -f1-6 "$T/c/log.csv" > "$T/c.cols"
expect_same "$T/a.cols" "$T/c.cols"
expect_no_file "$T/c/ckpt-000020.bin.tmp"

# --- a finished run is not trained again; --steps extends it
expect_rc 2 "$M" train --device cpu --resume "$T/c"
expect_err "nothing to do"
expect_rc 0 "$M" train --device cpu --resume "$T/c" --steps 22
[ "$(cat "$T/c/latest")" = ckpt-000022.bin ] && ok || fail "latest after extending: $(cat "$T/c/latest")"
[ ! -e "$T/c/ckpt-000010.bin" ] && ok || fail "--keep 2 should have removed ckpt-000010.bin"

expect_rc 2 "$M" train --device cpu --resume "$T/c" --steps 30 --lr 1e-3
expect_err "--lr cannot change"

# --- a folder given with a trailing slash prints as itself: run/latest, not run//latest
expect_rc 0 "$M" train --device cpu --data "$T/data/" -o "$T/sl/" $SHAPE --steps 2 --progress
grep -q "$T/sl/latest" "$T/err" && ok || fail "the summary should name $T/sl/latest: $(tail -c 200 "$T/err")"
grep -q '//' "$T/err" && fail "a doubled slash in: $(grep '//' "$T/err" | head -2)" || ok

# --- --gpu-memory: a size, and a GPU's only
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/gm" $SHAPE --steps 1 --gpu-memory 24
expect_err "24Gi"
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/gm" $SHAPE --steps 1 --gpu-memory 24G
expect_err "for a GPU"
expect_no_file "$T/gm/latest"

# --- corrupt and truncated checkpoints are refused with the file named
bad_ckpt() { # NAME: a copy of run a whose ckpt-000020.bin the caller then damages
    rm -rf "$T/$1"; cp -r "$T/a" "$T/$1"; echo "$T/$1/ckpt-000020.bin"
}
f=$(bad_ckpt flip); printf '\x55' | dd of="$f" bs=1 seek=5000 conv=notrunc 2>/dev/null
expect_rc 1 "$M" train --device cpu --resume "$T/flip" --steps 21
expect_err "$f: offset"; expect_err "checksum"
f=$(bad_ckpt trunc); truncate -s -100 "$f"
expect_rc 1 "$M" train --device cpu --resume "$T/trunc" --steps 21
expect_err "$f: offset 16: header says"; expect_err "truncated"
f=$(bad_ckpt magic); printf 'XXXX' | dd of="$f" bs=1 seek=0 conv=notrunc 2>/dev/null
expect_rc 1 "$M" train --device cpu --resume "$T/magic" --steps 21
expect_err "not a gptkit checkpoint"
expect_rc 1 "$M" train --device cpu --resume "$T/nothing"
expect_err "$T/nothing/latest: cannot open"

# --- bad data
expect_rc 1 "$M" train --device cpu --data "$T/none" -o "$T/r1" $SHAPE --steps 1
expect_err "$T/none: cannot open the data folder"
mkdir -p "$T/empty"
expect_rc 1 "$M" train --device cpu --data "$T/empty" -o "$T/r1" $SHAPE --steps 1
expect_err "no training shards"
mk "$T/mixed" corpora/en.jsonl.gz 5000 1000 --no-meta --vocab-in-header
$PY - "$T/mixed/train_000001.bin" <<'EOF'
import struct, sys
h = [0] * 256; h[0], h[1], h[2], h[3], h[4] = 20240520, 1, 40, 300, 299
open(sys.argv[1], "wb").write(struct.pack("<256i", *h) + struct.pack("<40H", *range(40)))
EOF
expect_rc 1 "$M" train --device cpu --data "$T/mixed" -o "$T/r1" $SHAPE --steps 1
expect_err "train_000001.bin: offset 12: vocabulary of 300 ids"
rm "$T/mixed/train_000001.bin"
cp "$T/mixed/val_000000.bin" "$T/mixed/train_000002.bin"; truncate -s -3 "$T/mixed/train_000002.bin"
expect_rc 1 "$M" train --device cpu --data "$T/mixed" -o "$T/r1" $SHAPE --steps 1
expect_err "train_000002.bin: offset 8:"
rm "$T/mixed/train_000002.bin"
expect_rc 1 "$M" train --device cpu --data "$T/mixed" -o "$T/r1" --layers 1 --width 8 --heads 1 --context 6000 --steps 1
expect_err "fewer than one window of context + 1 = 6001 tokens"
expect_no_file "$T/r1"
# a bare llm.c file says no vocabulary: GPT-2's is assumed, or --vocab-size, checked against the ids
mk "$T/bare" corpora/en.jsonl.gz 5000 1000 --no-meta
expect_rc 0 "$M" train --device cpu --data "$T/bare" -o "$T/r2" $SHAPE --steps 1 --quiet
expect_rc 0 "$M" train --device cpu --data "$T/bare" -o "$T/r3" $SHAPE --steps 1
expect_err "vocabulary 50257"
expect_rc 1 "$M" train --device cpu --data "$T/bare" -o "$T/r4" $SHAPE --steps 1 --vocab-size 100
expect_err "train_000000.bin: offset"; expect_err "outside the vocabulary of 100"
# best-fit data trains only at its own context
mk "$T/bf" corpora/en.jsonl.gz 3300 330
$PY - "$T/bf/meta.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1])); m["window"] = "best-fit"; m["context"] = 32
json.dump(m, open(sys.argv[1], "w"))
EOF
expect_rc 2 "$M" train --device cpu --data "$T/bf" -o "$T/r5" --layers 1 --width 8 --heads 1 --context 64 --steps 1
expect_err "best-fit windows for context 32"
expect_rc 0 "$M" train --device cpu --data "$T/bf" -o "$T/r5" --layers 1 --width 8 --heads 1 --micro-batch 2 --steps 2 --quiet

# --- bad usage and plans that cannot run
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/r6" --layers 2 --width 30 --heads 4 --steps 1
expect_err "width 30 is not divisible by 4 heads"; expect_err "try 'model train --help'"
expect_rc 2 "$M" train --device cpu --data "$T/data" $SHAPE
expect_err "needs -o RUN"
expect_rc 2 "$M" train --device cpu -o "$T/r6" $SHAPE
expect_err "needs --data DIR"
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/r6" --preset huge
expect_err "unknown preset 'huge'"
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/r6" $SHAPE --batch 100
expect_err "not a multiple of a micro-batch"
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/a" $SHAPE --steps 1
expect_err "already holds a run"
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/r6" --steps x
expect_err "--steps must be a whole number in 1..2^40, not 'x'"
# range errors state the range
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/r6" --layers 0
expect_err "--layers must be a whole number in 1..1000, not '0'"
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/r6" --dropout 0.95
expect_err "--dropout must be a number in 0..0.9, not '0.95'"
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/r6" --tokens 1.0000001M
expect_err "--tokens must be a whole number in 1..2^50, not '1.0000001M'"
expect_no_file "$T/r6"
# more threads than OpenBLAS is built for: refused, naming its limit (issue
# 13, item 2: a segfault from about -j 512); -jN is -j N
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/r6" $SHAPE --steps 1 -j 1000
expect_err "-j 1000 is more threads than OpenBLAS here is built for: at most"
expect_no_file "$T/r6"
# --tokens takes a decimal with a suffix: 1.28k = 5 steps of 256
expect_rc 0 "$M" train --device cpu --data "$T/data" -o "$T/r8" $SHAPE --batch 256 --tokens 1.28k -j1 --quiet
[ "$(tail -1 "$T/r8/log.csv" | cut -d, -f1,2)" = 5,1280 ] && ok || fail "--tokens 1.28k: $(tail -1 "$T/r8/log.csv")"
expect_rc 1 "$M" train --device cpu --data "$T/data" -o "$T/r7" --preset gpt2-xl --context 32 --micro-batch 1024 --steps 1
expect_err "but this machine has"
expect_no_file "$T/r7"
# bf16 weights alone are for a GPU
expect_rc 2 "$M" train --data "$T/data" -o "$T/nm" $SHAPE --steps 2 --device cpu --master-weights off
expect_err "--master-weights off keeps the weights in bf16 alone"
expect_no_file "$T/nm"
expect_rc 2 "$M" train --data "$T/data" -o "$T/nm" $SHAPE --steps 2 --master-weights maybe
expect_err "--master-weights takes on or off"
expect_rc 0 "$M" train --device cpu --help
expect_out "--micro-batch SEQS"; expect_out "example:"
check_done test_train
