# model eval without a tokenizer in the run folder (an imported model, data
# packed from a .tiktoken stream): on shards, loss and perplexity anyway (the
# same numbers), bits per byte from the data folder's copy or --tokenizer;
# text still needs one and says how to give it. eval on text speaks of
# documents, not shards. model sample ends its text with one newline, not
# two. A folder given as "run/" prints as run/latest, not run//latest.
. tests/check.sh
M="$BIN/model"
PY=/usr/bin/python3
$PY tests/model/mkshards.py "$T/data" corpora/en.jsonl.gz 20000 3000 || { echo "mkshards failed" >&2; exit 1; }
$PY tests/model/bytetok.py "$T/data/tokenizer.json" || { echo "bytetok failed" >&2; exit 1; }
"$M" train --device cpu --data "$T/data" -o "$T/run" --layers 2 --width 32 --heads 2 --context 32 --micro-batch 4 \
    --lr 3e-3 --steps 100 --eval-every 100 --eval-batches 5 -j 2 2>"$T/train.err" ||
    { cat "$T/train.err" >&2; echo "training failed" >&2; exit 1; }
jget() { $PY -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$T/out" "$1"; }

# --- the reference: the run's own tokenizer
expect_rc 0 "$M" eval --device cpu "$T/run" --data "$T/data" --json
loss=$(jget loss); bpb=$(jget bits_per_byte)

# --- shards, no tokenizer anywhere: loss and perplexity, a note that says how
cp -r "$T/run" "$T/notok"; rm "$T/notok/tokenizer.json"
cp -r "$T/data" "$T/bare"; rm "$T/bare/tokenizer.json"
expect_rc 0 "$M" eval --device cpu "$T/notok" --data "$T/bare" --json
[ "$(jget loss)" = "$loss" ] && [ "$(jget bits_per_byte)" = None ] && [ "$(jget bytes)" = None ] && ok ||
    fail "without a tokenizer: the same loss $loss and null bits per byte expected: $(cat "$T/out")"
expect_err "model: note: neither $T/notok nor the data folder $T/bare has a tokenizer.json: loss and perplexity only"
expect_err "give the tokenizer with --tokenizer FILE"
expect_rc 0 "$M" eval --device cpu "$T/notok" --data "$T/bare"
expect_out "perplexity"; expect_out "bits/byte unknown without a tokenizer (2976 tokens, 93 windows of 32)"
expect_rc 0 "$M" eval --device cpu "$T/notok" --data "$T/bare/val_000000.bin" --windows 20
expect_out "(640 tokens, 20 windows of 32)"; expect_err "$T/notok has no tokenizer.json: loss and perplexity only"
# --tokenizer FILE gives bits per byte back, the same as the run's own
expect_rc 0 "$M" eval --device cpu "$T/notok" --data "$T/bare" --tokenizer "$T/data/tokenizer.json" --json
[ "$(jget loss)" = "$loss" ] && [ "$(jget bits_per_byte)" = "$bpb" ] && ok ||
    fail "--tokenizer: loss $loss, $bpb bits/byte expected: $(cat "$T/out")"
# the data folder's copy is the tokenizer of those very tokens: it counts the bytes
expect_rc 0 "$M" eval --device cpu "$T/notok" --data "$T/data" --json
[ "$(jget bits_per_byte)" = "$bpb" ] && ok || fail "the data folder's tokenizer: $bpb bits/byte expected: $(cat "$T/out")"
expect_err "$T/notok has no tokenizer.json: bits per byte count the bytes of the tokens with $T/data/tokenizer.json"
# a --tokenizer too small for the model, or not a tokenizer, is refused
$PY - "$T/data/tokenizer.json" "$T/small.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["added_tokens"] = []
t["model"]["vocab"].pop("<|endoftext|>", None)
json.dump(t, open(sys.argv[2], "w"), ensure_ascii=False)
PY
expect_rc 1 "$M" eval --device cpu "$T/notok" --data "$T/bare" --tokenizer "$T/small.json"
expect_err "$T/small.json: 256 tokens, but the model $T/notok/ckpt-000100.bin has a vocabulary of 257"
expect_rc 1 "$M" eval --device cpu "$T/notok" --data "$T/bare" --tokenizer "$T/data/meta.json"
expect_err "$T/data/meta.json"
# text cannot be read without a tokenizer: the message names the file and --tokenizer
printf '{"text":"And the king said"}\n{"text":"caf\\u00e9 au lait, and more text than one window of 32 bytes holds"}\n' > "$T/two.jsonl"
expect_rc 1 "$M" eval --device cpu "$T/notok" --data "$T/two.jsonl"
expect_err "$T/notok/tokenizer.json: cannot open the run's tokenizer"; expect_err "--tokenizer FILE"
expect_rc 0 "$M" eval --device cpu "$T/notok" --data "$T/two.jsonl" --tokenizer "$T/data/tokenizer.json"
cp "$T/out" "$T/two.notok"
expect_rc 0 "$M" eval --device cpu "$T/run" --data "$T/two.jsonl"
expect_same "$T/two.notok" "$T/out"
# ... and eval on text speaks of documents, not of shards
expect_err "eval: 3 of 3 windows, 80 tokens predicted in "
expect_err "($T/two.jsonl: 2 documents, 81 tokens with the end-of-text before each)"
grep -q shard "$T/err" && fail "eval on text speaks of shards: $(cat "$T/err")" || ok
expect_rc 0 "$M" eval --help
expect_out "--tokenizer FILE"

# --- a checkpoint that records its tokenizer's fingerprint refuses --tokenizer of another
fp_of() { "$BIN/bpe" info -t "$1" | sed -n 's/^fingerprint: *//p'; }
cp -r "$T/data" "$T/fpdata"
$PY - "$T/fpdata/meta.json" "$(fp_of "$T/data/tokenizer.json")" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); m["tokenizer"] = "tokenizer.json"; m["tokenizer_fingerprint"] = sys.argv[2]
json.dump(m, open(sys.argv[1], "w"))
PY
$PY - "$T/data/tokenizer.json" "$T/swapped.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
v = t["model"]["vocab"]
v["a"], v["b"] = v["b"], v["a"]
json.dump(t, open(sys.argv[2], "w"), ensure_ascii=False)
PY
expect_rc 0 "$M" train --device cpu --data "$T/fpdata" -o "$T/fprun" --layers 1 --width 16 --heads 2 --context 16 \
    --micro-batch 2 --steps 2 --eval-every 2 --eval-batches 1
rm "$T/fprun/tokenizer.json"
expect_rc 1 "$M" eval --device cpu "$T/fprun" --data "$T/bare" --tokenizer "$T/swapped.json"
expect_err "$T/swapped.json has tokenizer fingerprint $(fp_of "$T/swapped.json"), but the model $T/fprun/ckpt-"
expect_rc 0 "$M" eval --device cpu "$T/fprun" --data "$T/bare" --tokenizer "$T/data/tokenizer.json"
grep -q "records no tokenizer fingerprint" "$T/err" && fail "a checked tokenizer got the note" || ok

# --- sample: the text ends with one newline, whether or not its last token had one
expect_rc 0 "$M" sample --device cpu "$T/run" --prompt "And the " --tokens 300 --seed 5
cp "$T/out" "$T/long"
# k: the tokens (bytes: the tokenizer is byte-level) up to the first newline generated
k=$($PY -c "import sys; d = open(sys.argv[1], 'rb').read(); print(d.index(b'\n', 8) - 8 + 1)" "$T/long")
[ -n "$k" ] && [ "$k" -gt 1 ] && ok || fail "no newline in the sample: $(cat "$T/long")"
expect_rc 0 "$M" sample --device cpu "$T/run" --prompt "And the " --tokens "$k" --seed 5
expect_err "$k generated (reached --tokens)"
head -c $((8 + k)) "$T/long" > "$T/want"
expect_same "$T/want" "$T/out"   # ends with the generated newline, and no second one
expect_rc 0 "$M" sample --device cpu "$T/run" --prompt "And the " --tokens $((k - 1)) --seed 5
{ head -c $((8 + k - 1)) "$T/long"; printf '\n'; } > "$T/want"
expect_same "$T/want" "$T/out"   # a newline added where the text lacked one
# the summary on a terminal-like shared stream starts a line of its own
"$M" sample --device cpu "$T/run" --prompt "And the " --tokens $((k - 1)) --seed 5 > "$T/both" 2>&1
grep -q '^model: sample: ' "$T/both" && ok || fail "the summary is glued to the text: $(tail -c 200 "$T/both")"

# --- folders given with a trailing slash: paths with one slash
expect_rc 0 "$M" sample --device cpu "$T/run/" --tokens 5 --seed 1
expect_err "; $T/run/ckpt-000100.bin (step 100)"
grep -q '//' "$T/err" && fail "sample: a doubled slash: $(cat "$T/err")" || ok
expect_rc 0 "$M" eval --device cpu "$T/run/" --data "$T/data/" --windows 4
expect_err "$T/run/ckpt-000100.bin (step 100)"
grep -q '//' "$T/err" && fail "eval: a doubled slash: $(cat "$T/err")" || ok
expect_rc 0 "$M" eval --device cpu "$T/notok//" --data "$T/bare/" --windows 4
grep -q '//' "$T/err" && fail "eval without a tokenizer: a doubled slash: $(cat "$T/err")" || ok
expect_rc 0 "$M" lr-find --device cpu --data "$T/data/" -o "$T/lr/" --layers 1 --width 16 --heads 2 --context 16 \
    --micro-batch 2 --steps 8
expect_err "$T/lr/lr.csv"
grep -q '//' "$T/err" && fail "lr-find: a doubled slash: $(cat "$T/err")" || ok

check_done test_eval_sample
