# model export's tokenizer files, read by Hugging Face's own loader: npm
# @huggingface/transformers' AutoTokenizer on the exported folder, local files
# only (tests/model/hf_tokenizer.mjs), must give the ids `bpe encode --ids
# --allow-special` gives on a set of texts (non-ASCII, emoji, control bytes,
# runs of spaces, the end-of-text token inside and alone, held-out documents),
# decode them back to the same text, and name the end-of-text token as eos,
# bos and unk with its id, the context as model_max_length, and the tokenizer
# class export chose. Three tokenizers, each through bpe train, encode, packer,
# model train (3 steps) and export: GPT-2's pattern on English
# (GPT2Tokenizer), GPT-4's pattern with "<|endoftext|>" not first among the
# specials, and the ARPAbet classes with "</s>" as end-of-text
# (PreTrainedTokenizerFast). Export refuses a tokenizer of another
# fingerprint than the checkpoint's, writing nothing. The checker fails on a
# folder without tokenizer_config.json, with another eos_token, or with
# decoding that cleans up spaces. (transformers.js runs only ONNX models: the
# logits are checked against PyTorch in test_export.sh.)
. tests/check.sh
NODE=/usr/bin/node
B="$BIN/bpe" M="$BIN/model"
PY=/usr/bin/python3
CHECK=tests/model/hf_tokenizer.mjs
[ -d node_modules/@huggingface/transformers ] || { echo "test_export_hf: node_modules lacks @huggingface/transformers: run make deps" >&2; exit 1; }
AR=corpora/arpabet.jsonl.gz
if [ ! -e "$AR" ]; then  # make corpora builds it; build a copy when it has not run
    $NODE corpora/build-arpabet.js corpora/en.jsonl.gz "$T/arpabet.jsonl.gz" >/dev/null
    AR=$T/arpabet.jsonl.gz
fi

# texts EOT OUT: the hand-picked texts, with EOT (the end-of-text token's text) in three of them.
texts() {
    $PY - "$1" > "$2" <<'EOF'
import json, sys
eot = sys.argv[1]
for t in ["And the king said unto them, Go ye.", "", " ", "   leading, and trailing   ", " " * 40 + "x",
          "line one\nline two\r\n\ttabbed\n\n", "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00dcn\u00efc\u00f6d\u00e9 \u00df \u1e9e \ufb01",
          "\u4e2d\u6587\u5b57\u7b26\u6d4b\u8bd5\uff0c\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \ud55c\uad6d\uc5b4",
          "emoji \U0001F30D\U0001F469\u200d\U0001F469\u200d\U0001F467 flags \U0001F1EB\U0001F1F7",
          "numbers 1234567890 and 3.14159", "it's don't we'll THEY'RE", "Hello , world . It 's n't here !",
          "\u0000\u0001\u001f control", "before" + eot + "after", eot, "two " + eot + " " + eot + " in a row",
          "fA0nE1tI0k I1GglI0S", "A0nd gO1d sE1d lE1t DE1r bJ1 lY1t"]:
    print(json.dumps({"text": t}))
EOF
}

# one NAME CORPUS EOT CLASS BPE_TRAIN_OPTIONS...: a tokenizer and a run, exported,
# then AutoTokenizer against bpe encode on the texts and 20 held-out documents.
one() {
    local name=$1 corpus=$2 eot=$3 class=$4 d="$T/$1"; shift 4
    mkdir -p "$d"
    zcat "$corpus" | head -n 120 > "$d/train.jsonl"
    zcat "$corpus" | sed -n '121,140p' > "$d/held.jsonl"
    "$B" train -q --vocab-size 700 "$@" -o "$d/tok.json" "$d/train.jsonl" &&
        "$B" encode -q -t "$d/tok.json" -o "$d/train.tok" "$d/train.jsonl" &&
        "$BIN/packer" -q -o "$d/data" -t "$d/tok.json" --val 0.05 "$d/train.tok" &&
        "$M" train -q --device cpu --data "$d/data" -o "$d/run" --layers 1 --width 16 --heads 1 --context 48 \
            --micro-batch 2 --steps 3 -j 2 2>"$d/train.err" ||
        { fail "$name: the pipeline failed: $(tail -3 "$d/train.err")"; return; }
    expect_rc 0 "$M" export "$d/run" -o "$d/hf"
    expect_err "tokenizer.json, tokenizer_config.json ($class)"
    texts "$eot" "$d/texts.jsonl"
    cat "$d/held.jsonl" >> "$d/texts.jsonl"
    expect_rc 0 "$B" encode -t "$d/hf/tokenizer.json" --allow-special --ids -q -o "$d/ours.ids" "$d/texts.jsonl"
    printf '{"text":"%s"}\n' "$eot" > "$d/eot.jsonl"
    local eot_id; eot_id=$("$B" encode -t "$d/hf/tokenizer.json" --allow-special --ids -q "$d/eot.jsonl")
    # the checkpoint's end-of-text id is the tokenizer's, and export names it
    $PY -c "
import json, sys
c, g = json.load(open('$d/hf/config.json')), json.load(open('$d/hf/generation_config.json'))
sys.exit(not (c['eos_token_id'] == g['eos_token_id'] == g['bos_token_id'] == $eot_id and g['max_length'] == 48))" &&
        ok || fail "$name: config.json and generation_config.json: end-of-text $eot_id and max_length 48 expected"
    if $NODE $CHECK "$d/hf" "$d/texts.jsonl" "$d/hf.ids" "$class" "$eot" "$eot_id" 48 > "$d/check.out" 2>&1; then ok
    else fail "$name: AutoTokenizer: $(tail -5 "$d/check.out")"; fi
    grep -q "38 texts, 0 problems" "$d/check.out" && ok || fail "$name: $(cat "$d/check.out")"
    expect_same "$d/ours.ids" "$d/hf.ids"
}

one gpt2 corpora/en.jsonl.gz '<|endoftext|>' GPT2Tokenizer
one gpt4 corpora/en.jsonl.gz '<|endoftext|>' PreTrainedTokenizerFast --pattern gpt4 --special '<|fim|>' --special '<|endoftext|>'
one arpabet "$AR" '</s>' PreTrainedTokenizerFast --classes bpe/classes/arpabet.classes --special '</s>' --special '<pad>'

# export checks the run's tokenizer against the checkpoint before it writes anything
cp -r "$T/gpt2/run" "$T/mixed"; cp "$T/arpabet/tok.json" "$T/mixed/tokenizer.json"
expect_rc 1 "$M" export "$T/mixed" -o "$T/mixed.hf"
expect_err "$T/mixed/tokenizer.json has tokenizer fingerprint"; expect_err "another tokenizer"
expect_no_file "$T/mixed.hf/model.safetensors"

# --- the checker can fail: the folder without tokenizer_config.json, with
# another eos_token, with decoding that cleans up spaces around punctuation
d=$T/gpt2
eot_id=$("$B" encode -t "$d/hf/tokenizer.json" --allow-special --ids -q "$d/eot.jsonl")
cp -r "$d/hf" "$T/noconf"; rm "$T/noconf/tokenizer_config.json"
expect_rc 1 $NODE $CHECK "$T/noconf" "$d/texts.jsonl" "$T/x.ids" GPT2Tokenizer '<|endoftext|>' "$eot_id" 48
expect_err "AutoTokenizer failed"
cp -r "$d/hf" "$T/badeos"
sed -i 's/"eos_token": "<|endoftext|>"/"eos_token": "<|im_end|>"/' "$T/badeos/tokenizer_config.json"
expect_rc 1 $NODE $CHECK "$T/badeos" "$d/texts.jsonl" "$T/x.ids" GPT2Tokenizer '<|endoftext|>' "$eot_id" 48
expect_err 'eos_token: expected "<|endoftext|>", got "<|im_end|>"'
cp -r "$d/hf" "$T/cleanup"
sed -i 's/"clean_up_tokenization_spaces": false/"clean_up_tokenization_spaces": true/' "$T/cleanup/tokenizer_config.json"
expect_rc 1 $NODE $CHECK "$T/cleanup" "$d/texts.jsonl" "$T/x.ids" GPT2Tokenizer '<|endoftext|>' "$eot_id" 48
expect_err 'decode(encode("Hello , world'

check_done test_export_hf
