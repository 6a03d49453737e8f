# packer --tiktoken FILE --pattern NAME: streams that bpe encode wrote from a
# rank file get DIR/tokenizer.json, the very file bpe convert makes of it
# (same bytes, same fingerprint as the streams and meta.json), so that model
# train copies it and model eval gives bits per byte; a rank file or pattern
# that is not the streams' is refused with nothing left; usage errors.
. tests/check.sh
B="$BIN"
D=node_modules/gpt-tokenizer/data
R50="--tiktoken $D/r50k_base.tiktoken --pattern gpt2"
zcat corpora/en.jsonl.gz | head -n 200 > "$T/docs.jsonl"
"$B/bpe" encode $R50 -o "$T/docs.tok" "$T/docs.jsonl" 2>/dev/null || { echo "bpe encode failed" >&2; exit 1; }

expect_rc 0 "$B/packer" -o "$T/data" $R50 --context 16 "$T/docs.tok"
"$B/bpe" convert $R50 -o "$T/conv.json" 2>/dev/null
expect_same "$T/conv.json" "$T/data/tokenizer.json"
expect_no_file "$T/data/tokenizer.json.tmp"
fp=$("$B/bpe" info $R50 | sed -n 's/^fingerprint: *//p')
grep -q '"tokenizer": "tokenizer.json"' "$T/data/meta.json" && ok || fail "meta.json names no tokenizer: $(cat "$T/data/meta.json")"
grep -q "\"tokenizer_fingerprint\": \"$fp\"" "$T/data/meta.json" && ok || fail "meta.json's fingerprint is not $fp"
[ "$("$B/bpe" info -t "$T/data/tokenizer.json" | sed -n 's/^fingerprint: *//p')" = "$fp" ] && ok ||
    fail "the written tokenizer.json's fingerprint is not the rank file's $fp"
# --force over it keeps the new tokenizer.json
expect_rc 0 "$B/packer" -o "$T/data" $R50 --context 16 --force --seed 2 "$T/docs.tok"
expect_same "$T/conv.json" "$T/data/tokenizer.json"

# the issue's pipe: train copies it, eval finds it and gives bits per byte
expect_rc 0 "$B/model" train --device cpu --data "$T/data" -o "$T/run" --layers 1 --width 16 --heads 2 \
    --context 16 --micro-batch 2 --steps 2 --eval-every 2 --eval-batches 1
expect_same "$T/conv.json" "$T/run/tokenizer.json"
expect_rc 0 "$B/model" eval --device cpu "$T/run" --data "$T/data" --windows 8
expect_out " bits/byte ("

# another rank file, or the right one with another pattern: refused, nothing left
expect_rc 1 "$B/packer" -o "$T/x" --tiktoken $D/r50k_base.tiktoken --pattern gpt4 --context 16 "$T/docs.tok"
expect_err "r50k_base.tiktoken has tokenizer fingerprint"
expect_err "but $T/docs.tok was encoded with a tokenizer of fingerprint $fp: another tokenizer"
[ ! -e "$T/x" ] && ok || fail "a refused run left $T/x"
expect_rc 1 "$B/packer" -o "$T/x" --tiktoken $D/p50k_base.tiktoken --pattern gpt2 --context 16 "$T/docs.tok"
expect_err "p50k_base.tiktoken: has ranks up to 50280"
expect_rc 1 "$B/packer" -o "$T/x" --tiktoken "$T/none.tiktoken" --pattern gpt2 --context 16 "$T/docs.tok"
expect_err "$T/none.tiktoken"
[ ! -e "$T/x" ] && ok || fail "a refused run left $T/x"

# usage
expect_rc 2 "$B/packer" -o "$T/x" --tiktoken $D/r50k_base.tiktoken "$T/docs.tok"
expect_err "--tiktoken needs --pattern"
expect_rc 2 "$B/packer" -o "$T/x" --pattern gpt2 "$T/docs.tok"
expect_err "--pattern goes with --tiktoken"
expect_rc 2 "$B/packer" -o "$T/x" $R50 -t "$T/conv.json" "$T/docs.tok"
expect_err "-t and --tiktoken: give one of them"
expect_rc 2 "$B/packer" -o "$T/x" --tiktoken $D/r50k_base.tiktoken --pattern gpt5 "$T/docs.tok"
expect_err "not 'gpt5'"
expect_rc 0 "$B/packer" --help
expect_out "--tiktoken FILE --pattern NAME"

check_done test_tiktoken
