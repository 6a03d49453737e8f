# model import: a tiny run exported and imported back has bit-identical
# weights (checkpoint bodies compared, re-export byte-identical, eval logits
# byte-identical); the same model as an llm.c gpt2_124M.bin-format file
# (written by tests/model/import_files.py) and as real GPT-2 files carry it (no
# 'transformer.' prefix, attn.bias / masked_bias buffers, lm_head.weight)
# imports to the same weights; the imported run trains on with --resume;
# truncated, garbled and mismatched files fail with exit 1 and leave no RUN.
. tests/check.sh
M="$BIN/model"
PY=/usr/bin/python3
$PY tests/model/mkshards.py "$T/data" corpora/en.jsonl.gz 20000 3000 || { echo "mkshards failed" >&2; exit 1; }
$PY tests/model/bytetok.py "$T/data/tokenizer.json" || { echo "bytetok failed" >&2; exit 1; }
"$M" train --device cpu --data "$T/data" -o "$T/run" --layers 2 --width 32 --heads 2 --mlp 128 --context 32 --micro-batch 4 \
    --lr 3e-3 --steps 20 -j 2 2>"$T/train.err" || { cat "$T/train.err" >&2; echo "training failed" >&2; exit 1; }
expect_rc 0 "$M" export "$T/run" -o "$T/hf"

# same_params A B: the two runs' latest checkpoints hold the same parameter bytes
same_params() {
    $PY - "$1" "$2" <<'PYEOF'
import struct, sys
def params(run):
    path = run + "/" + open(run + "/latest").read().strip()
    raw = open(path, "rb").read()
    jl, n = struct.unpack("<IQ", raw[12:24])
    off = (24 + jl + 63) // 64 * 64
    assert len(raw) == off + 12 * n + 8, path
    return raw[off:off + 4 * n], raw[off + 4 * n:off + 12 * n]
(a, _), (b, mb) = params(sys.argv[1]), params(sys.argv[2])
if a != b:
    sys.exit("parameters differ: %d vs %d bytes" % (len(a), len(b)))
if mb.strip(b"\0"):
    sys.exit("AdamW moments of the import are not zero")
PYEOF
}

# --- import(export(m)) == m
expect_rc 0 "$M" import "$T/hf" -o "$T/run2"
expect_err "model: import: $T/hf (Hugging Face safetensors, 28 tensors) -> $T/run2/ckpt-000000.bin:"
expect_err "(2 layers, width 32, 2 heads, MLP 128, vocabulary 257, context 32, end of text 256), tokenizer.json"
[ "$(cat "$T/run2/latest")" = ckpt-000000.bin ] && ok || fail "latest: $(cat "$T/run2/latest")"
expect_same "$T/data/tokenizer.json" "$T/run2/tokenizer.json"
expect_no_file "$T/run2.tmp.*"
if out=$(same_params "$T/run" "$T/run2" 2>&1); then ok; else fail "import(export(m)): $out"; fi
expect_rc 0 "$M" export "$T/run2" -o "$T/hf2"
expect_same "$T/hf/model.safetensors" "$T/hf2/model.safetensors"
expect_same "$T/hf/config.json" "$T/hf2/config.json"
printf '{"text":"And the king said"}\n{"text":"caf\\u00e9 au lait, and more text than one window of 32 bytes holds"}\n' > "$T/two.jsonl"
expect_rc 0 "$M" eval --device cpu "$T/run" --data "$T/two.jsonl" --dump-logits "$T/logits.f32"
expect_rc 0 "$M" eval --device cpu "$T/run2" --data "$T/two.jsonl" --dump-logits "$T/logits2.f32"
expect_same "$T/logits.f32" "$T/logits2.f32"
[ "$(stat -c %s "$T/logits.f32")" = $((80 * 257 * 4)) ] && ok || fail "logits size $(stat -c %s "$T/logits.f32")"

# --- llm.c's checkpoint format: the same model
$PY tests/model/import_files.py llmc "$T/hf" "$T/gpt2.bin" || fail "import_files.py llmc"
expect_rc 0 "$M" import "$T/gpt2.bin" -o "$T/run3" --tokenizer "$T/data/tokenizer.json" --eot 256
expect_err "model: import: $T/gpt2.bin (llm.c checkpoint, 16 tensors) -> $T/run3/ckpt-000000.bin:"
if out=$(same_params "$T/run" "$T/run3" 2>&1); then ok; else fail "llm.c import: $out"; fi
expect_rc 0 "$M" eval --device cpu "$T/run3" --data "$T/two.jsonl" --dump-logits "$T/logits3.f32"
expect_same "$T/logits.f32" "$T/logits3.f32"
# without --eot: none for a vocabulary other than GPT-2's
expect_rc 0 "$M" import "$T/gpt2.bin" -o "$T/run3b"
expect_err "end of text -1); no tokenizer.json"

# --- real GPT-2 files: no prefix, mask buffers, lm_head tied
$PY tests/model/import_files.py hf-real "$T/hf" "$T/real" || fail "import_files.py hf-real"
expect_rc 0 "$M" import "$T/real" -o "$T/run4"
expect_err "28 tensors, 4 mask buffers and lm_head.weight (tied) skipped)"
if out=$(same_params "$T/run" "$T/run4" 2>&1); then ok; else fail "prefix-less import: $out"; fi

# --- the imported run trains on
expect_rc 2 "$M" train --device cpu --resume "$T/run2" --steps 4
expect_err "holds an imported model: give --data DIR and --steps N"
expect_rc 0 "$M" train --device cpu --resume "$T/run2" --data "$T/data" --steps 4 -j 2
[ -s "$T/run2/ckpt-000004.bin" ] && ok || fail "no ckpt-000004.bin after resuming the import"
expect_rc 0 "$M" train --device cpu --resume "$T/run2" --steps 6 -j 2   # the data folder is remembered now
[ "$(cat "$T/run2/latest")" = ckpt-000006.bin ] && ok || fail "latest after the second resume: $(cat "$T/run2/latest")"

# --- failures: exit 1, a message naming the file, no RUN (nor RUN.tmp.*) left
bad() { # DIR_OR_FILE MESSAGE
    expect_rc 1 "$M" import "$1" -o "$T/badrun"
    expect_err "$2"
    expect_no_file "$T/badrun"
}
# a missing source: exit 1 (it was 255, an err_sys -1 returned as the status)
bad "$T/missing" "model: $T/missing: cannot open: No such file or directory"
cp -r "$T/hf" "$T/trunc"; truncate -s -100 "$T/trunc/model.safetensors"
bad "$T/trunc" "$T/trunc/model.safetensors: offset"
expect_err "truncated or corrupt"
cp -r "$T/hf" "$T/garbled"; printf 'XXXXXXXXXXXX' | dd of="$T/garbled/model.safetensors" bs=1 seek=10 conv=notrunc 2>/dev/null
bad "$T/garbled" "$T/garbled/model.safetensors: offset 8: tensor XXXXXXXXXXXX: bad header entry: "
printf '}}}}' | dd of="$T/garbled/model.safetensors" bs=1 seek=8 conv=notrunc 2>/dev/null
bad "$T/garbled" "$T/garbled/model.safetensors: offset 9: bad safetensors header: "
printf '\377\377\377\377\377\377\377\177' > "$T/garbled/model.safetensors"
bad "$T/garbled" "header length"
cp "$T/gpt2.bin" "$T/trunc.bin"; truncate -s -4 "$T/trunc.bin"
bad "$T/trunc.bin" "$T/trunc.bin: offset 1024: the header's shape needs"
$PY tests/model/import_files.py llmc "$T/hf" "$T/bf16.bin" 5
bad "$T/bf16.bin" "$T/bf16.bin: offset 4: llm.c checkpoint version 5 (bf16): only version 3 (float32) is read"
bad "$T/data/tokenizer.json" "not an llm.c checkpoint"
# config.json that does not match the tensors
cfgset() { # KEY VALUE: a copy of hf/ in $T/cfg with config.json changed
    rm -rf "$T/cfg"; cp -r "$T/hf" "$T/cfg"
    $PY -c "import json,sys; c=json.load(open(sys.argv[1])); c[sys.argv[2]]=json.loads(sys.argv[3]); json.dump(c,open(sys.argv[1],'w'))" \
        "$T/cfg/config.json" "$1" "$2"
}
cfgset n_embd 64
bad "$T/cfg" "tensor transformer.wte.weight is [257, 32], but $T/cfg/config.json says [257, 64]"
cfgset n_inner 96
bad "$T/cfg" "tensor transformer.h.0.mlp.c_fc.weight is [32, 128], but $T/cfg/config.json says [32, 96]"
cfgset n_layer 3
bad "$T/cfg" "$T/cfg/model.safetensors: no tensor transformer.h.2.ln_1.weight"
cfgset n_layer 1
bad "$T/cfg" "tensor transformer.h.1."
expect_err "but $T/cfg/config.json says 1 layers"
cfgset activation_function '"relu"'
bad "$T/cfg" "activation_function relu"
cfgset vocab_size 300
bad "$T/cfg" "tensor transformer.wte.weight is [257, 32], but $T/cfg/config.json says [300, 32]"
# an end-of-text id past the vocabulary became "none" without a word (issue 13)
cfgset eos_token_id 300
bad "$T/cfg" "$T/cfg/config.json: eos_token_id 300 is outside the vocabulary of 257: correct it, or give --eot ID"
expect_rc 0 "$M" import "$T/cfg" -o "$T/run5" --eot 256 -q
rm "$T/cfg/config.json"
bad "$T/cfg" "$T/cfg/config.json: cannot open"

# --- usage
mkdir -p "$T/full"; touch "$T/full/x"
expect_rc 2 "$M" import "$T/hf" -o "$T/full"
expect_err "already exists and is not an empty folder"
expect_rc 2 "$M" import "$T/hf"
expect_err "import needs -o RUN"
expect_rc 2 "$M" import -o "$T/x"
expect_err "try 'model import --help'"
expect_rc 0 "$M" import --help
expect_out "20240326"

check_done test_import
