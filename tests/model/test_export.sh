# model export: a tiny run written as a Hugging Face GPT-2, read back by
# tests/model/hf_gpt2.py (safetensors parsed by hand, GPT-2 in plain PyTorch
# with HF's names and Conv1D layout, strict load) whose logits must equal
# model eval's on the same windows within 1e-4; config.json,
# generation_config.json and tokenizer_config.json as written; files and
# failure paths. (test_export_hf.sh loads the tokenizer files with
# transformers' own AutoTokenizer.)
. tests/check.sh
M="$BIN/model"
PY=/usr/bin/python3
$PY tests/model/mkshards.py "$T/data" corpora/en.jsonl.gz 20000 3000 || { echo "mkshards failed" >&2; exit 1; }
$PY tests/model/bytetok.py "$T/data/tokenizer.json" || { echo "bytetok failed" >&2; exit 1; }
"$M" train --device cpu --data "$T/data" -o "$T/run" --layers 2 --width 32 --heads 2 --mlp 96 --context 32 --micro-batch 4 \
    --lr 3e-3 --steps 40 -j 2 2>"$T/train.err" || { cat "$T/train.err" >&2; echo "training failed" >&2; exit 1; }

expect_rc 0 "$M" export "$T/run" -o "$T/hf"
expect_err "model: export: $T/run/ckpt-000040.bin (step 40, "
expect_err "-> $T/hf/model.safetensors"
expect_err "config.json, generation_config.json, tokenizer.json, tokenizer_config.json (PreTrainedTokenizerFast)"
for f in model.safetensors config.json generation_config.json tokenizer.json tokenizer_config.json; do [ -s "$T/hf/$f" ] && ok || fail "no $f"; expect_no_file "$T/hf/$f.tmp"; done
expect_same "$T/data/tokenizer.json" "$T/hf/tokenizer.json"
$PY -c "
import json, sys
c = json.load(open('$T/hf/config.json'))
want = dict(vocab_size=257, n_positions=32, n_embd=32, n_layer=2, n_head=2, n_inner=96, layer_norm_epsilon=1e-5,
            bos_token_id=256, eos_token_id=256, activation_function='gelu_new', tie_word_embeddings=True)
bad = {k: (c.get(k), v) for k, v in want.items() if c.get(k) != v}
sys.exit(bool(bad) and print(bad) is None)" && ok || fail "config.json"
# the whole of the other two: end-of-text (id 256, "<|endoftext|>") for every
# special token, the context, and the class for a tokenizer without GPT-2's
# pattern (bytetok.py's has none)
$PY -c "
import json, sys
g = json.load(open('$T/hf/generation_config.json'))
t = json.load(open('$T/hf/tokenizer_config.json'))
eot = '<|endoftext|>'
want_t = dict(add_prefix_space=False, bos_token=eot, clean_up_tokenization_spaces=False, eos_token=eot,
              model_max_length=32, tokenizer_class='PreTrainedTokenizerFast', unk_token=eot)
ok = g == dict(bos_token_id=256, eos_token_id=256, max_length=32) and t == want_t and list(t) == sorted(t)
sys.exit(not ok and print(g, t) is None)" && ok || fail "generation_config.json or tokenizer_config.json"

# logits: two documents through model eval (3 windows: 32, 32 and 16 positions), the same ids through PyTorch
printf '{"text":"And the king said"}\n{"text":"caf\\u00e9 au lait, and more text than one window of 32 bytes holds"}\n' > "$T/two.jsonl"
expect_rc 0 "$M" eval --device cpu "$T/run" --data "$T/two.jsonl" --dump-logits "$T/logits.f32"
$PY -c "
import json
ids = [256] + list(b'And the king said') + [256] + list('café au lait, and more text than one window of 32 bytes holds'.encode())
inp = ids[:-1]
json.dump([inp[i:i + 32] for i in range(0, len(inp), 32)], open('$T/ids.json', 'w'))"
if $PY tests/model/hf_gpt2.py "$T/hf" "$T/ids.json" "$T/logits.f32" > "$T/hf.out" 2>&1; then ok
else fail "HF-layout PyTorch GPT-2 disagrees: $(tail -5 "$T/hf.out")"; fi
grep -q "28 tensors, logits (80, 257)" "$T/hf.out" && ok || fail "$(cat "$T/hf.out")"

# a run without a tokenizer exports the weights and says so
cp -r "$T/run" "$T/notok"; rm "$T/notok/tokenizer.json"
expect_rc 0 "$M" export "$T/notok" -o "$T/hf2"
expect_err "no tokenizer.json: the run has none, so no tokenizer_config.json either"
[ ! -e "$T/hf2/tokenizer.json" ] && [ ! -e "$T/hf2/tokenizer_config.json" ] && ok || fail "tokenizer files from nowhere"
[ -s "$T/hf2/generation_config.json" ] && ok || fail "no generation_config.json without a tokenizer"

# --- failures leave no output
# a tokenizer without the model's end-of-text token (256 tokens for 257 ids)
cp -r "$T/run" "$T/small"
$PY -c "
import json
p = '$T/small/tokenizer.json'; d = json.load(open(p))
d['added_tokens'] = []; del d['model']['vocab']['<|endoftext|>']
json.dump(d, open(p, 'w'))"
expect_rc 1 "$M" export "$T/small" -o "$T/hf5"
expect_err "$T/small/tokenizer.json: 256 tokens, but the model $T/small/ckpt-000040.bin has a vocabulary of 257"
expect_no_file "$T/hf5/model.safetensors"
expect_rc 1 "$M" export "$T/nothing" -o "$T/hf3"
expect_err "$T/nothing: cannot open the run folder"
expect_no_file "$T/hf3/model.safetensors"
cp -r "$T/run" "$T/trunc"; f="$T/trunc/$(cat "$T/trunc/latest")"; truncate -s -100 "$f"
expect_rc 1 "$M" export "$T/trunc" -o "$T/hf4"
expect_err "$f: offset 16: header says"
expect_no_file "$T/hf4/model.safetensors"
expect_rc 2 "$M" export "$T/run"
expect_err "export needs -o DIR"
expect_rc 0 "$M" export --help
expect_out "c_attn"

check_done test_export
