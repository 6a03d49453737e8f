# bpe train: against Hugging Face's trainer (npm tokenizers) on the same text
# with --hf-compat (the merge lists must be identical), our trained file in HF
# (loads, encodes as we do), round trips, -j independence, the options, and
# bad input. Prints the agreement figures of the default mode too.
. tests/check.sh
NODE=/usr/bin/node
B="$BIN/bpe"
$NODE tests/bpe/split_corpus.js corpora/en.jsonl.gz 20 "$T/train.jsonl" "$T/train.txt" "$T/held.jsonl"

# HF's trainer, and ours mirroring it: identical merges.
expect_rc 0 $NODE tests/bpe/hf_train.js "$T/hf.json" "$T/train.txt"
expect_rc 0 "$B" train --hf-compat --vocab-size 30000 --min-frequency 0 --special none -o "$T/ourshf.json" "$T/train.txt"
expect_rc 0 $NODE tests/bpe/compare_merges.js "$T/ourshf.json" "$T/hf.json"
echo "--hf-compat vs HF: $(cat "$T/out")"
n=$(sed -nE 's/^prefix=([0-9]+) of ([0-9]+)\/([0-9]+) merges.*/\1 \2 \3/p' "$T/out")
set -- $n
[ -n "$1" ] && [ "$1" = "$2" ] && [ "$2" = "$3" ] && [ "$1" -gt 10000 ] && ok || fail "expected identical merge lists, got: $(cat "$T/out")"
# The same file encodes the same in HF and here.
expect_rc 0 $NODE tests/bpe/hf_ids.js "$T/hf.json" "$T/held.jsonl" "$T/held.hf"
grep -q '[^0-9 ]' "$T/held.hf" && fail "ids file has junk" || ok

# Default mode (whole documents, all 256 bytes): how far it is from HF.
expect_rc 0 "$B" train --vocab-size 30000 --min-frequency 0 --special none -o "$T/ours.json" "$T/train.jsonl"
expect_rc 0 $NODE tests/bpe/compare_merges.js "$T/ours.json" "$T/hf.json"
echo "default vs HF: $(head -1 "$T/out")"
expect_rc 0 $NODE tests/bpe/tokens_per_byte.js "$T/held.jsonl" "$T/hf.json" "$T/ours.json"
echo "held-out tokens/byte, HF then ours: $(tr '\n' ' ' < "$T/out")"
d=$(sed -nE 's/^diff=([-+]?[0-9.]+)%/\1/p' "$T/out")
# Whole documents make better pieces than HF's lines: ours may only be better.
awk -v d="$d" 'BEGIN { exit !(d != "" && d < 0.5) }' && ok || fail "expected tokens/byte at most 0.5% above HF's, got $d%"

# Our tokenizer.json (with <|endoftext|>) in HF: loads, encodes identically.
expect_rc 0 "$B" train --vocab-size 5000 -j 1 -o "$T/t1.json" "$T/train.jsonl"
expect_err "trained"; expect_err "5000 ids"
expect_rc 0 "$B" train --vocab-size 5000 -j 2 -o "$T/t2.json" "$T/train.jsonl"
expect_same "$T/t1.json" "$T/t2.json"
expect_rc 0 $NODE tests/bpe/hf_ids.js "$T/t1.json" "$T/held.jsonl" "$T/held.hf"
expect_rc 0 "$B" encode -t "$T/t1.json" --ids -q "$T/held.jsonl"
expect_same "$T/held.hf" "$T/out"
# HF's ignore_merges option (a piece that is a token is that token) is honoured.
sed 's/"ignore_merges": false/"ignore_merges": true/' "$T/t1.json" > "$T/im.json"
expect_rc 0 "$B" encode -t "$T/im.json" --ids -q -o "$T/im.ours" "$T/held.jsonl"
expect_rc 0 $NODE tests/bpe/hf_ids.js "$T/im.json" "$T/held.jsonl" "$T/im.hf"
expect_same "$T/im.hf" "$T/im.ours"
expect_rc 0 "$B" info -t "$T/t1.json"
expect_out "special:       4999 \"<|endoftext|>\"  (end-of-text)"
# Round trip through the token stream.
expect_rc 0 "$B" encode -t "$T/t1.json" -o "$T/held.tok" "$T/held.jsonl"
expect_rc 0 "$B" decode -t "$T/t1.json" -o "$T/back.jsonl" "$T/held.tok"
expect_rc 0 $NODE tests/bpe/same_texts.js "$T/held.jsonl" "$T/back.jsonl"

# Options: --max-token-length, --min-frequency stops early, gpt4 pattern, regex.
expect_rc 0 "$B" train --vocab-size 3000 --max-token-length 4 -o "$T/m4.json" "$T/train.jsonl"
expect_rc 0 "$B" info -t "$T/m4.json"; expect_out "longest token: 4 bytes"
expect_rc 0 "$B" train --vocab-size 100000 --min-frequency 1000 -o "$T/mf.json" "$T/train.jsonl"
expect_err "stopped early"
expect_rc 0 "$B" train --vocab-size 2000 --pattern gpt4 --special '<|endoftext|>' --special '<|pad|>' -o "$T/g4.json" "$T/train.jsonl"
expect_rc 0 "$B" info -t "$T/g4.json"; expect_out "pattern:       gpt4"; expect_out "1999 \"<|pad|>\""
expect_rc 0 "$B" train --vocab-size 1000 --pattern-regex '\p{L}+|\p{N}|[^\p{L}\p{N}]+' -o "$T/re.json" "$T/train.jsonl"
expect_rc 0 "$B" encode -t "$T/re.json" --ids -q -o "$T/re.ours" "$T/held.jsonl"
expect_rc 0 $NODE tests/bpe/hf_ids.js "$T/re.json" "$T/held.jsonl" "$T/held.hf"
expect_same "$T/held.hf" "$T/re.ours"

# Bad usage: a regex that does not compile (exit 2: it is the command line's,
# issue 13 item 11), no output left.
expect_rc 2 "$B" train --pattern-regex 'a(b' -o "$T/bad.json" "$T/train.jsonl"
expect_err "bpe: --pattern-regex: pattern does not compile at offset 3"; expect_err "try 'bpe --help'"
expect_no_file "$T/bad.json"
expect_rc 2 "$B" train --pattern-regex '(' -o "$T/bad.json" "$T/train.jsonl"
expect_err "missing closing parenthesis"; expect_no_file "$T/bad.json"
expect_rc 2 "$B" train --vocab-size 100 -o "$T/bad.json" "$T/train.jsonl"; expect_err "below the 256 bytes"
expect_rc 2 "$B" train "$T/train.jsonl"; expect_err "needs -o"
printf '{"text":"ok"}\nnot json\n' > "$T/badjson.jsonl"
expect_rc 1 "$B" train -o "$T/bad.json" "$T/badjson.jsonl"
expect_err "badjson.jsonl:2:"; expect_no_file "$T/bad.json"
check_done test_train
