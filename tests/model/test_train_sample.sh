# model train --sample-every: samples while training change nothing the run
# computes (checkpoints and losses byte-identical with and without them, on a
# fresh run and on a resume); each sample is the text model sample gives from
# that step's checkpoint with seed --seed + step (at both steps, so a KV cache
# kept from the previous sample's weights would show); greedy; the options
# are refused without a tokenizer or without --sample-every.
. tests/check.sh
M="$BIN/model"
PY=/usr/bin/python3
$PY tests/model/mkshards.py "$T/data" corpora/en.jsonl.gz 20000 3000 || { echo "mkshards failed" >&2; exit 1; }
$PY tests/model/bytetok.py "$T/data/tokenizer.json" || { echo "bytetok failed" >&2; exit 1; }
SHAPE="--layers 2 --width 32 --heads 2 --context 32 --micro-batch 4 --lr 3e-3 --steps 100 --eval-every 50 -j 2"

# block FILE STEP: the text of the sample at STEP in FILE (a train's stderr),
# between its two lines of ---, bytes as they are
block() {
    $PY - "$1" "$2" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
i = data.index(b"model: sample at step %s (" % sys.argv[2].encode())
j = data.index(b"\n---\n", i) + 5
k = data.index(b"\n---\n", j - 1)
sys.stdout.buffer.write(data[j:k + 1])
PY
}

# --- the same run with and without samples: the same checkpoints and losses
expect_rc 0 "$M" train --device cpu --data "$T/data" -o "$T/plain" $SHAPE
expect_rc 0 "$M" train --device cpu --data "$T/data" -o "$T/s" $SHAPE --sample-every 50 --prompt "And the " \
    --sample-tokens 20
cp "$T/err" "$T/s.err"
expect_err "model: plan: a sample every 50 steps and at the end: up to 20 tokens after 'And the ', temperature 1, seed --seed + step"
expect_err "samples' KV cache"
expect_err "model: sample at step 50 (seed 1387, temperature 1, "
expect_err "model: sample at step 100 (seed 1437, temperature 1, "
[ "$(grep -c '^model: sample at step' "$T/s.err")" = 2 ] && ok || fail "two samples expected: $(cat "$T/s.err")"
for f in ckpt-000050.bin ckpt-000100.bin; do expect_same "$T/plain/$f" "$T/s/$f"; done
cut -d, -f1-6 "$T/plain/log.csv" > "$T/plain.cols"; cut -d, -f1-6 "$T/s/log.csv" > "$T/s.cols"
expect_same "$T/plain.cols" "$T/s.cols"
# the samples are model sample's text from those checkpoints, with seed 1337 + step
# (1 + 8 + 20 tokens fit the context of 32: the sample at 100 would find the
# start of the one at 50 in a cache that was not emptied, and at 100 steps the
# model is sharp enough for its keys and values of step 50 to change the text)
for step in 50 100; do
    block "$T/s.err" $step > "$T/block$step" && ok || fail "no sample block at step $step: $(cat "$T/s.err")"
    head -c 8 "$T/block$step" | grep -qx "And the " && ok || fail "the sample should start with the prompt"
    expect_rc 0 "$M" sample --device cpu "$T/s" --ckpt "$T/s/$(printf ckpt-%06d.bin $step)" --prompt "And the " --tokens 20 \
        --seed $((1337 + step))
    expect_same "$T/out" "$T/block$step"
done
cmp -s "$T/block50" "$T/block100" && fail "the samples at steps 50 and 100 are the same text" || ok

# --- greedy, no prompt (a document's start), samples every 25 steps
expect_rc 0 "$M" train --device cpu --data "$T/data" -o "$T/g" $SHAPE --sample-every 25 --sample-temperature 0 \
    --sample-tokens 30
cp "$T/err" "$T/g.err"
expect_err "up to 30 tokens after end-of-text, greedy"
[ "$(grep -c '^model: sample at step [0-9]* (seed [0-9]*, greedy, ' "$T/g.err")" = 4 ] && ok ||
    fail "four greedy samples expected: $(grep '^model: sample' "$T/g.err")"
expect_same "$T/plain/ckpt-000100.bin" "$T/g/ckpt-000100.bin"
block "$T/g.err" 100 > "$T/g100"
expect_rc 0 "$M" sample --device cpu "$T/g" --tokens 30 --temperature 0
expect_same "$T/out" "$T/g100"

# --- a resume may add samples; the run continues as without them
cp -r "$T/plain" "$T/r1"
cp -r "$T/plain" "$T/r2"
expect_rc 0 "$M" train --device cpu --resume "$T/r1" --steps 110 -j 2
expect_rc 0 "$M" train --device cpu --resume "$T/r2" --steps 110 -j 2 --sample-every 5 --prompt "The "
expect_err "model: sample at step 105 (seed 1442, "
expect_err "model: sample at step 110 (seed 1447, "
expect_same "$T/r1/ckpt-000110.bin" "$T/r2/ckpt-000110.bin"

# --- refused: no tokenizer (nothing written), or a sample option without --sample-every
mkdir "$T/bare"
cp "$T/data/train_000000.bin" "$T/data/val_000000.bin" "$T/bare/"
expect_rc 2 "$M" train --device cpu --data "$T/bare" -o "$T/n1" $SHAPE --sample-every 50 --prompt "And"
expect_err "--prompt needs the run's tokenizer to encode it, but $T/bare has no tokenizer.json"
[ ! -e "$T/n1" ] && ok || fail "a refused run left its folder"
expect_rc 2 "$M" train --device cpu --data "$T/bare" -o "$T/n2" $SHAPE --sample-every 50
expect_err "--sample-every needs the run's tokenizer to decode the samples, but $T/bare has no tokenizer.json"
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/n3" $SHAPE --prompt "And"
expect_err "--prompt shapes the samples of --sample-every N: give it too"
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/n3" $SHAPE --sample-every 0
expect_err "--sample-every must be a whole number in 1.."
"$M" train --help > "$T/help"
grep -q -- "--sample-every N     every N steps and at the end" "$T/help" && grep -q -- "--sample-tokens N .*(default 64)" "$T/help" &&
    grep -q -- "--sample-every 100 --prompt" "$T/help" && ok || fail "train --help: the sample options"

check_done test_train_sample.sh
