# bpe encode/decode/info/convert from the command line: usage errors, bad
# tokenizer files, bad token streams, plain text with invalid UTF-8, specials.
. tests/check.sh
B="$BIN/bpe"
D=node_modules/gpt-tokenizer/data
R50="--tiktoken $D/r50k_base.tiktoken --pattern gpt2"

# Usage.
expect_rc 2 "$B";                                   expect_err "try 'bpe --help'"
expect_rc 2 "$B" frobnicate;                        expect_err "unknown command 'frobnicate'"
expect_rc 2 "$B" encode;                            expect_err "name the vocabulary"
expect_rc 2 "$B" encode --tiktoken $D/r50k_base.tiktoken; expect_err "needs --pattern"
expect_rc 2 "$B" encode --tiktoken $D/r50k_base.tiktoken --pattern gpt5; expect_err "not 'gpt5'"
expect_rc 2 "$B" encode $R50 -j 0;                  expect_err "-j needs"
expect_rc 2 "$B" convert $D/r50k_base.tiktoken --pattern gpt2; expect_err "needs -o"
expect_rc 0 "$B" encode --help;                     expect_out "--allow-special"

# Plain text must be UTF-8, as in every program (it was encoded as its bytes
# here and refused by filter): an error naming file, line and byte, no output;
# --encoding latin1 reads each byte as a character.
printf 'caf\xc3\xa9 \xff\xfe bytes\x80 and \xe2\x82 cut' > "$T/raw.txt"
expect_rc 1 "$B" encode $R50 -o "$T/raw.tok" "$T/raw.txt"
expect_err "raw.txt:1: invalid UTF-8 at byte 7 (plain text is read as UTF-8; --encoding latin1"
expect_no_file "$T/raw.tok"
expect_rc 0 "$B" encode $R50 --encoding latin1 -o "$T/raw.tok" "$T/raw.txt"
expect_err "encoded 1 documents"
expect_rc 0 "$B" decode $R50 --text -o "$T/raw.back" "$T/raw.tok"
[ "$(iconv -f latin1 -t utf-8 "$T/raw.txt")" = "$(cat "$T/raw.back")" ] && ok || fail "expected the Latin-1 text back as UTF-8"
# A stream of byte tokens that are not UTF-8 ("caf\xc3\xa9 \xff", written by hand:
# the header above, then ids 66 64 69 127 102 220 187 and end-of-text 50256):
# --text gives the bytes back ...
{ head -c 32 "$T/raw.tok"; printf '\102\0\100\0\105\0\177\0\146\0\334\0\273\0\120\304'; } > "$T/bytes.tok"
mv "$T/bytes.tok" "$T/raw.tok"
expect_rc 0 "$B" decode $R50 --text -o "$T/raw.back" "$T/raw.tok"
[ "$(od -An -tx1 "$T/raw.back" | xargs)" = "63 61 66 c3 a9 20 ff" ] && ok || fail "expected the bytes back, got $(od -An -tx1 "$T/raw.back")"
# ... which JSON Lines cannot hold: decode says so and writes nothing.
expect_rc 1 "$B" decode $R50 -o "$T/raw.jsonl" "$T/raw.tok"
expect_err "invalid UTF-8 at byte 7"; expect_no_file "$T/raw.jsonl"
# In JSON Lines invalid UTF-8 is an input error with file and line.
printf '{"text":"ok"}\n{"text":"bad \xff"}\n' > "$T/bad.jsonl"
expect_rc 1 "$B" encode $R50 -o "$T/bad.tok" "$T/bad.jsonl"
expect_err "bad.jsonl:2:"; expect_no_file "$T/bad.tok"

# Empty input: a stream with no documents; empty documents: a lone end-of-text.
: > "$T/empty.jsonl"
expect_rc 0 "$B" encode $R50 -o "$T/empty.tok" "$T/empty.jsonl"
[ "$(wc -c < "$T/empty.tok")" = 32 ] && ok || fail "expected a 32-byte header only"
printf '{"text":""}\n{"text":""}\n' > "$T/empties.jsonl"
expect_rc 0 "$B" encode $R50 -o "$T/empties.tok" "$T/empties.jsonl"
[ "$(od -An -tu2 -j32 "$T/empties.tok" | xargs)" = "50256 50256" ] && ok || fail "expected two lone end-of-texts"
expect_rc 0 "$B" decode $R50 "$T/empties.tok"
[ "$(cat "$T/out")" = '{"text":""}
{"text":""}' ] && ok || fail "expected two empty documents back, got $(cat "$T/out")"

# Special tokens are text unless --allow-special; then <|endoftext|> splits the document.
printf '{"text":"A<|endoftext|>B"}\n' > "$T/sp.jsonl"
expect_rc 0 "$B" encode $R50 --ids "$T/sp.jsonl"
[ "$(cat "$T/out")" = "32 27 91 437 1659 5239 91 29 33" ] && ok || fail "expected the special as text, got $(cat "$T/out")"
expect_rc 0 "$B" encode $R50 --ids --allow-special "$T/sp.jsonl"
[ "$(cat "$T/out")" = "32 50256 33" ] && ok || fail "expected 32 50256 33, got $(cat "$T/out")"
expect_rc 0 "$B" encode $R50 --allow-special -o "$T/sp.tok" "$T/sp.jsonl"
expect_err "encoded 2 documents"
[ "$(od -An -tu2 -j32 "$T/sp.tok" | xargs)" = "32 50256 33 50256" ] && ok || fail "expected A eot B eot"
expect_rc 0 "$B" decode $R50 "$T/sp.tok"
[ "$(cat "$T/out")" = '{"text":"A"}
{"text":"B"}' ] && ok || fail "expected documents A and B, got $(cat "$T/out")"

# Token streams: bad magic, truncated, ids the tokenizer lacks, another tokenizer.
printf 'NOTATOKENSTREAM_________________' > "$T/magic.tok"
expect_rc 1 "$B" decode $R50 -o "$T/x.jsonl" "$T/magic.tok"
expect_err "bad magic"; expect_no_file "$T/x.jsonl"
head -c 37 "$T/sp.tok" > "$T/cut.tok"
expect_rc 1 "$B" decode $R50 -o "$T/x.jsonl" "$T/cut.tok"
expect_err "truncated"; expect_no_file "$T/x.jsonl"
CL="--tiktoken $D/cl100k_base.tiktoken --pattern gpt4"
expect_rc 0 "$B" encode $CL -o "$T/cl.tok" "$T/sp.jsonl"
expect_rc 1 "$B" decode $R50 -o "$T/x.jsonl" "$T/cl.tok"
expect_err "another tokenizer?"; expect_no_file "$T/x.jsonl"
# id 100256 is a hole in cl100k (no token): header, 100256, eot (width 4).
printf 'GPTKTOKS\x01\x00\x00\x00\x04\x00\x00\x00\xb5\x87\x01\x00\xa1\x87\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xa0\x87\x01\x00\xa1\x87\x01\x00' > "$T/hole.tok"
expect_rc 1 "$B" decode $CL -o "$T/x.jsonl" "$T/hole.tok"
expect_err "id 100256 is not in the vocabulary"; expect_no_file "$T/x.jsonl"

# Bad rank files name the line.
printf 'IQ== 0\nIg== 1\n!!notbase64 2\n' > "$T/bad.tiktoken"
expect_rc 1 "$B" encode --tiktoken "$T/bad.tiktoken" --pattern gpt2 "$T/sp.jsonl"
expect_err "bad.tiktoken:3:"
printf 'IQ== 0\nIg== 0\n' > "$T/dup.tiktoken"
expect_rc 1 "$B" encode --tiktoken "$T/dup.tiktoken" --pattern gpt2 "$T/sp.jsonl"
expect_err "rank 0 appears twice"
expect_rc 1 "$B" encode --tiktoken "$T/nope.tiktoken" --pattern gpt2 "$T/sp.jsonl"
expect_err "nope.tiktoken"

# Bad tokenizer.json files name the file and the entry.
expect_rc 0 "$B" convert $R50 -o "$T/r50k.json"  # --tiktoken FILE or a bare FILE
expect_rc 0 "$B" encode -t "$T/r50k.json" --ids "$T/sp.jsonl"
[ "$(cat "$T/out")" = "32 27 91 437 1659 5239 91 29 33" ] && ok || fail "expected the converted file to encode as the rank file"
head -c 5000 "$T/r50k.json" > "$T/trunc.json"
expect_rc 1 "$B" encode -t "$T/trunc.json" "$T/sp.jsonl"
expect_err "trunc.json:"; expect_err "not a tokenizer.json"
sed 's/"Ġ t",/"Ġ nosuchtoken",/' "$T/r50k.json" > "$T/merge.json"
expect_rc 1 "$B" encode -t "$T/merge.json" "$T/sp.jsonl"
expect_err "model.merges[0]: \"nosuchtoken\" is not in the vocab"
sed 's/"Regex": "[^"]*"/"Regex": "(unclosed"/' "$T/r50k.json" > "$T/regex.json"
expect_rc 1 "$B" encode -t "$T/regex.json" "$T/sp.jsonl"
expect_err "pattern does not compile at offset 9"
printf '{"model":{"type":"WordPiece","vocab":{}}}' > "$T/wp.json"
expect_rc 1 "$B" info -t "$T/wp.json"
expect_err "not a BPE tokenizer.json"

# info: the vocabulary, and measured on documents.
expect_rc 0 "$B" info $R50 --top 3 "$T/sp.jsonl"
expect_out "50257 ids"; expect_out "pattern:       gpt2"; expect_out "50256 \"<|endoftext|>\"  (end-of-text)"
expect_out "tokens:        9 (0.6000 tokens/byte"
check_done test_cli
