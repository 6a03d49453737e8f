# model sample and model eval on a tiny run trained here: seeded sampling is
# reproducible and -j independent, the KV cache gives the text --no-cache
# does (also past the context), greedy = top-k 1 = the argmax of the logits
# eval dumps, end-of-text stops it; eval reproduces the trainer's val_loss on
# the same windows, and its bits per byte equal a hand computation from the
# dumped logits; bad runs and usage fail with the file named.
. tests/check.sh
M="$BIN/model"
PY=/usr/bin/python3
$PY tests/model/mkshards.py "$T/data" corpora/en.jsonl.gz 20000 3000 || { echo "mkshards failed" >&2; exit 1; }
$PY tests/model/bytetok.py "$T/data/tokenizer.json" || { echo "bytetok failed" >&2; exit 1; }
"$M" train --device cpu --data "$T/data" -o "$T/run" --layers 2 --width 32 --heads 2 --context 32 --micro-batch 4 \
    --lr 3e-3 --steps 200 --eval-every 100 --eval-batches 5 -j 2 2>"$T/train.err" ||
    { cat "$T/train.err" >&2; echo "training failed" >&2; exit 1; }

# --- sample: the same seed gives the same text, for -j 1 and 2; another seed another text
expect_rc 0 "$M" sample --device cpu "$T/run" --prompt "And the " --tokens 300 --seed 5 -j 2
cp "$T/out" "$T/s5"
expect_err "model: sample: 8 prompt tokens, "
head -c 8 "$T/s5" | grep -qx "And the " && ok || fail "the output should start with the prompt: $(head -c 40 "$T/s5")"
[ "$(wc -c < "$T/s5")" -gt 20 ] && ok || fail "too little text: $(cat "$T/s5")"
expect_rc 0 "$M" sample --device cpu "$T/run" --prompt "And the " --tokens 300 --seed 5 -j 1
expect_same "$T/s5" "$T/out"
expect_rc 0 "$M" sample --device cpu "$T/run" --prompt "And the " --tokens 300 --seed 6
cmp -s "$T/s5" "$T/out" && fail "seeds 5 and 6 gave the same text" || ok
# top-k 1 is greedy, whatever the temperature and seed
expect_rc 0 "$M" sample --device cpu "$T/run" --prompt "And the " --tokens 50 --temperature 0
cp "$T/out" "$T/greedy"
expect_rc 0 "$M" sample --device cpu "$T/run" --prompt "And the " --tokens 50 --top-k 1 --temperature 2 --seed 9
expect_same "$T/greedy" "$T/out"
# past the context (32) the window slides: 100 tokens still come out
expect_rc 0 "$M" sample --device cpu "$T/run" --prompt "And the " --tokens 100 --temperature 0 --no-stop
expect_err "100 generated (reached --tokens)"
# the KV cache (the default) and --no-cache (gpt_forward on the whole window
# for every token) give the same text: sampled, nucleus, greedy, past the
# context of 32 (the window slides, the cache is rebuilt), and from no prompt
expect_err "; KV cache"
cp "$T/out" "$T/c100"
expect_rc 0 "$M" sample --device cpu "$T/run" --prompt "And the " --tokens 100 --temperature 0 --no-stop --no-cache
expect_err "; no cache"
expect_same "$T/c100" "$T/out"
for args in "--seed 3 --tokens 120" "--seed 4 --tokens 90 --top-p 0.9 --temperature 1.3" "--seed 8 --tokens 70 --top-k 5 -j 1"; do
    expect_rc 0 "$M" sample --device cpu "$T/run" --prompt "And the " --no-stop $args
    cp "$T/out" "$T/cache"
    expect_rc 0 "$M" sample --device cpu "$T/run" --prompt "And the " --no-stop $args --no-cache
    expect_same "$T/cache" "$T/out"
done
expect_rc 0 "$M" sample --device cpu "$T/run" --seed 11 --tokens 80 --no-stop
cp "$T/out" "$T/cache"
expect_rc 0 "$M" sample --device cpu "$T/run" --seed 11 --tokens 80 --no-stop --no-cache
expect_same "$T/cache" "$T/out"
[ "$(wc -c < "$T/cache")" -gt 60 ] && ok || fail "past the context: too little text: $(cat "$T/cache")"
# end-of-text stops it (ten seeds: at least one document ends within 3000 tokens)
stopped=0
for s in 1 2 3 4 5 6 7 8 9 10; do
    "$M" sample --device cpu "$T/run" --tokens 3000 --seed $s 2>&1 >/dev/null | grep -q "stopped at end-of-text" && stopped=1
done
[ $stopped = 1 ] && ok || fail "no sample stopped at end-of-text"

# --- eval: the trainer's validation loss (the first 5 x 4 windows of val) at the last step
expect_rc 0 "$M" eval --device cpu "$T/run" --data "$T/data" --windows 20 --json
logged=$(awk -F, 'END {print $4}' "$T/run/log.csv")
$PY -c "import json,sys; j=json.load(open('$T/out')); d=abs(j['loss']-$logged); sys.exit(not (d<=1e-4 and j['windows']==20 and j['tokens']==640))" &&
    ok || fail "eval $(cat "$T/out") vs the trainer's val_loss $logged"
expect_rc 0 "$M" eval --device cpu "$T/run" --data "$T/data/val_000000.bin" --windows 20
expect_out "(640 tokens, 640 bytes, 20 windows of 32)"
expect_err "eval: 20 of 93 windows"

# --- bits per byte by hand: two documents (one with a 2-byte character), the
# logits eval dumps, log-softmax in Python
printf '{"text":"And the king said"}\n{"text":"caf\\u00e9 au lait, and more text than one window of 32 bytes holds"}\n' > "$T/two.jsonl"
expect_rc 0 "$M" eval --device cpu "$T/run" --data "$T/two.jsonl" --json --dump-logits "$T/logits.f32"
$PY - "$T/out" "$T/logits.f32" <<'PY' && ok || fail "bits per byte by hand: $(cat "$T/out")"
import json, math, sys
import numpy as np
j = json.load(open(sys.argv[1]))
ids = [256] + list(b"And the king said") + [256] + list("café au lait, and more text than one window of 32 bytes holds".encode())
targets = ids[1:]
lg = np.fromfile(sys.argv[2], dtype="<f4").reshape(len(targets), 257).astype(np.float64)
m = lg.max(1, keepdims=True)
lse = (np.log(np.exp(lg - m).sum(1)) + m[:, 0])
nats = float((lse - lg[np.arange(len(targets)), targets]).sum())
nbytes = sum(1 for t in targets if t != 256)
bpb = nats / math.log(2) / nbytes

assert j["tokens"] == len(targets) and j["bytes"] == nbytes, j
assert abs(j["loss"] - nats / len(targets)) < 1e-5, j
assert abs(j["bits_per_byte"] - bpb) < 1e-5, j
assert j["windows"] == 3  # 80 targets: 32 + 32 + a last window of 16
PY
# greedy's first token is the argmax of the logits after the prompt (the
# position whose input is the prompt's last byte: one more byte as its target)
printf 'And the x' > "$T/prompt.txt"
expect_rc 0 "$M" eval --device cpu "$T/run" --data "$T/prompt.txt" --dump-logits "$T/p.f32"
first=$($PY -c "import numpy as np; print(int(np.fromfile('$T/p.f32', dtype='<f4').reshape(-1, 257)[-1].argmax()))")
got=$(head -c 9 "$T/greedy" | tail -c 1 | od -An -tu1 | tr -d ' ')
[ "$first" = "$got" ] && ok || fail "greedy's first byte $got, argmax of the logits $first"

# --- the tokenizer fingerprint: the run above has none (its meta.json, as
# mkshards.py writes it, records none): a note, then accepted
expect_rc 0 "$M" sample --device cpu "$T/run" --tokens 5 --seed 1
expect_err "model: note: $T/run/ckpt-"; expect_err "records no tokenizer fingerprint"
# data whose meta.json records the fingerprint of its tokenizer.json: the
# checkpoint carries it, sample and eval check the run's tokenizer.json against
# it, and a tokenizer of the same size with two tokens swapped is refused
fp_of() { "$BIN/bpe" info -t "$1" | sed -n 's/^fingerprint: *//p'; }
set_fp() { # DIR FINGERPRINT: meta.json names DIR/tokenizer.json and records FINGERPRINT
    $PY - "$1/meta.json" "$2" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); m["tokenizer"] = "tokenizer.json"; m["tokenizer_fingerprint"] = sys.argv[2]
json.dump(m, open(sys.argv[1], "w"))
PY
}
cp -r "$T/data" "$T/fpdata"
$PY - "$T/data/tokenizer.json" "$T/swapped.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
v = t["model"]["vocab"]
v["a"], v["b"] = v["b"], v["a"]  # the same 257 ids, two of them swapped
json.dump(t, open(sys.argv[2], "w"), ensure_ascii=False)
PY
fp=$(fp_of "$T/data/tokenizer.json"); fp2=$(fp_of "$T/swapped.json")
[ ${#fp} = 16 ] && [ ${#fp2} = 16 ] && [ "$fp" != "$fp2" ] && ok || fail "fingerprints '$fp' and '$fp2'"
set_fp "$T/fpdata" "$fp"
expect_rc 0 "$M" train --device cpu --data "$T/fpdata" -o "$T/fprun" --layers 1 --width 16 --heads 2 --context 16 \
    --micro-batch 2 --steps 2 --eval-every 2 --eval-batches 1
grep -aq "\"tokenizer_fingerprint\": \"$fp\"" "$T/fprun/$(cat "$T/fprun/latest")" && ok ||
    fail "the checkpoint's header does not record the fingerprint $fp"
expect_rc 0 "$M" sample --device cpu "$T/fprun" --tokens 5 --seed 1
grep -q "no tokenizer fingerprint" "$T/err" && fail "a run with a fingerprint got the note: $(cat "$T/err")" || ok
expect_rc 0 "$M" eval --device cpu "$T/fprun" --data "$T/fpdata" --windows 2
cp "$T/swapped.json" "$T/fprun/tokenizer.json"
expect_rc 1 "$M" sample --device cpu "$T/fprun" --tokens 5
expect_err "$T/fprun/tokenizer.json has tokenizer fingerprint $fp2, but the model $T/fprun/ckpt-"
expect_err "with fingerprint $fp: another tokenizer"
expect_rc 1 "$M" eval --device cpu "$T/fprun" --data "$T/fpdata" --windows 2
expect_err "$T/fprun/tokenizer.json has tokenizer fingerprint $fp2"
cp "$T/data/tokenizer.json" "$T/fprun/tokenizer.json"
# a data folder of the other tokenizer: eval and a resume refuse it
cp -r "$T/data" "$T/fpdata2"; cp "$T/swapped.json" "$T/fpdata2/tokenizer.json"; set_fp "$T/fpdata2" "$fp2"
expect_rc 1 "$M" eval --device cpu "$T/fprun" --data "$T/fpdata2" --windows 2
expect_err "$T/fpdata2: tokens of the tokenizer with fingerprint $fp2 (meta.json), but the model"
expect_rc 1 "$M" train --device cpu --resume "$T/fprun" --data "$T/fpdata2" --steps 4
expect_err "$T/fpdata2: tokens of the tokenizer with fingerprint $fp2 (meta.json), but the checkpoint"
# a data folder whose tokenizer copy was replaced after packing
cp "$T/swapped.json" "$T/fpdata/tokenizer.json"
expect_rc 1 "$M" train --device cpu --data "$T/fpdata" -o "$T/fprun3" --layers 1 --width 16 --heads 2 --context 16 \
    --micro-batch 2 --steps 2
expect_err "$T/fpdata/tokenizer.json has tokenizer fingerprint $fp2, but $T/fpdata holds tokens of the tokenizer with fingerprint $fp"

# --- bad runs and usage
expect_rc 1 "$M" sample --device cpu "$T/nothing"
expect_err "$T/nothing: cannot open the run folder"
mkdir "$T/empty"
expect_rc 1 "$M" eval --device cpu "$T/empty" --data "$T/data"
expect_err "$T/empty/latest: cannot open"
cp -r "$T/run" "$T/notok"; rm "$T/notok/tokenizer.json"
expect_rc 1 "$M" sample --device cpu "$T/notok"
expect_err "$T/notok/tokenizer.json: cannot open the run's tokenizer"
cp -r "$T/run" "$T/flip"; f="$T/flip/$(cat "$T/flip/latest")"
printf '\x55' | dd of="$f" bs=1 seek=70000 conv=notrunc 2>/dev/null
expect_rc 1 "$M" sample --device cpu "$T/flip"
expect_err "$f: offset"; expect_err "checksum"
expect_rc 1 "$M" eval --device cpu "$T/run" --data "$T/missing.jsonl"
expect_err "$T/missing.jsonl"
expect_rc 1 "$M" eval --device cpu "$T/run" --data "$T/run/log.csv.bin"
expect_err "$T/run/log.csv.bin"
expect_rc 2 "$M" sample --device cpu
expect_err "sample needs a RUN folder"; expect_err "try 'model sample --help'"
expect_rc 2 "$M" sample --device cpu "$T/run" --top-p 1.5
expect_err "--top-p needs a number"
expect_rc 2 "$M" eval --device cpu "$T/run"
expect_err "eval needs --data"
expect_rc 0 "$M" sample --device cpu --help
expect_out "--temperature"
expect_rc 0 "$M" eval --device cpu --help
expect_out "bits per byte"

check_done test_sample
