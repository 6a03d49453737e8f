# Tokens a person can look at: bpe decode --ids reads the id lists that
# encode --ids writes back to text (round trips, specials, empty and CRLF
# lines, errors with file:line and no output left); bpe info --vocab lists
# every token (the rank file's own bytes and ranks, holes left out, counts
# that add up to the summary's tokens); bpe info names the longest token.
. tests/check.sh
B="$BIN/bpe"
PY=/usr/bin/python3
D=node_modules/gpt-tokenizer/data
R50="--tiktoken $D/r50k_base.tiktoken --pattern gpt2"
CL="--tiktoken $D/cl100k_base.tiktoken --pattern gpt4"

# --- decode --ids: the inverse of encode --ids
printf '{"text":"Hello, world!\\nSecond line"}\n{"text":""}\n{"text":"caf\\u00e9 \\u4e2d\\u6587 \\ud83d\\ude00 tabs\\tand \\"quotes\\""}\n' > "$T/docs.jsonl"
expect_rc 0 "$B" encode $R50 --ids -o "$T/docs.ids" "$T/docs.jsonl"
[ "$(wc -l < "$T/docs.ids")" = 3 ] && ok || fail "encode --ids: 3 lines expected: $(cat "$T/docs.ids")"
expect_rc 0 "$B" decode $R50 --ids -o "$T/back.jsonl" "$T/docs.ids"
expect_err "decoded 3 documents"
# the same texts as the input's (jq-free: Python compares the parsed text fields)
$PY - "$T/docs.jsonl" "$T/back.jsonl" <<'PY' && ok || fail "decode --ids did not give the documents back: $(cat "$T/back.jsonl")"
import json, sys
a = [json.loads(l)["text"] for l in open(sys.argv[1], encoding="utf-8")]
b = [json.loads(l)["text"] for l in open(sys.argv[2], encoding="utf-8")]
sys.exit(a != b)
PY
# stdin, and the ids of the Python reference (tiktoken's r50k ids of "Hello, world!")
printf '15496 11 995 0\n' | "$B" decode $R50 --ids --text > "$T/hw" 2>/dev/null
[ "$(cat "$T/hw")" = "Hello, world!" ] && ok || fail "15496 11 995 0 should be 'Hello, world!', got '$(cat "$T/hw")'"
# byte tokens that are not UTF-8 (r50k's ids of the bytes "caf\xc3\xa9 \xff"):
# --text gives the bytes back
printf '66 64 69 127 102 220 187\n' > "$T/raw.ids"
expect_rc 0 "$B" decode $R50 --ids --text -o "$T/raw.back" "$T/raw.ids"
[ "$(od -An -tx1 "$T/raw.back" | xargs)" = "63 61 66 c3 a9 20 ff" ] && ok || fail "expected the bytes back, got $(od -An -tx1 "$T/raw.back")"
# ... which JSON cannot hold: file:line named, nothing written
expect_rc 1 "$B" decode $R50 --ids -o "$T/raw.jsonl" "$T/raw.ids"
expect_err "raw.ids:1: the ids decode to invalid UTF-8 at byte 7"; expect_no_file "$T/raw.jsonl"
# --allow-special ids: end-of-text decodes to its text
printf '{"text":"A<|endoftext|>B"}\n' > "$T/sp.jsonl"
expect_rc 0 "$B" encode $R50 --ids --allow-special -o "$T/sp.ids" "$T/sp.jsonl"
expect_rc 0 "$B" decode $R50 --ids "$T/sp.ids"
[ "$(cat "$T/out")" = '{"text":"A<|endoftext|>B"}' ] && ok || fail "specials by id: $(cat "$T/out")"
# blanks: extra spaces, tabs, CRLF, an empty line, no final newline; --text --sep
printf ' 32\t 33 \r\n\n34' > "$T/blank.ids"
expect_rc 0 "$B" decode $R50 --ids --text --sep '--' "$T/blank.ids"
[ "$(cat "$T/out")" = "$(printf 'AB\n--\n\n--\nC')" ] && ok || fail "blank handling: $(od -c "$T/out" | head)"
# errors name file:line, exit 1, leave no output
printf '32 33\n32 x34\n' > "$T/word.ids"
expect_rc 1 "$B" decode $R50 --ids -o "$T/x.jsonl" "$T/word.ids"
expect_err "word.ids:2: 'x34' is not a token id"; expect_no_file "$T/x.jsonl"
printf '32\n\n1 50257\n' > "$T/big.ids"
expect_rc 1 "$B" decode $R50 --ids -o "$T/x.jsonl" "$T/big.ids"
expect_err "big.ids:3: token 2: id 50257 is not in the vocabulary (50257 ids)"; expect_no_file "$T/x.jsonl"
printf '4294967296\n' > "$T/huge.ids"
expect_rc 1 "$B" decode $R50 --ids "$T/huge.ids"
expect_err "huge.ids:1: '4294967296' is not a token id"
printf '100256\n' > "$T/hole.ids"   # a hole in cl100k: an id without a token
expect_rc 1 "$B" decode $CL --ids "$T/hole.ids"
expect_err "hole.ids:1: token 1: id 100256 is not in the vocabulary"
# a token stream is not id lists
expect_rc 0 "$B" encode $R50 -o "$T/docs.tok" "$T/docs.jsonl"
expect_rc 1 "$B" decode $R50 --ids "$T/docs.tok"
expect_err "docs.tok:1: 'GPTKTOKS"
expect_rc 2 "$B" decode $R50 --ids a.ids b.ids
expect_err "decode reads one input"
expect_rc 0 "$B" decode --help
expect_out "--ids"

# --- info --vocab: every token, in id order
expect_rc 0 "$B" info $R50 --vocab
[ "$(head -n 1 "$T/out")" = "$(printf 'id\tkind\tbytes\thex\ttoken')" ] && ok || fail "header: $(head -n 1 "$T/out")"
[ "$(wc -l < "$T/out")" = 50258 ] && ok || fail "r50k: a header and 50257 rows expected, got $(wc -l < "$T/out") lines"
grep -qx "$(printf '50256\tspecial\t13\t3c7c656e646f66746578747c3e\t"<|endoftext|>"')" "$T/out" && ok || fail "no end-of-text row"
grep -qx "$(printf '198\tbyte\t1\t0a\t"\\\\n"')" "$T/out" && ok || fail "the newline byte: $(sed -n 200p "$T/out")"
awk -F'\t' 'NR > 1 && $2 == "byte"' "$T/out" | wc -l | grep -qx 256 && ok || fail "256 single bytes expected"
# every row's bytes and id are the rank file's own line (base64 of the bytes, then the rank)
$PY - "$T/out" "$D/r50k_base.tiktoken" <<'PY' && ok || fail "--vocab rows differ from the rank file"
import base64, sys
ranks = {}
for line in open(sys.argv[2]):
    b64, r = line.split()
    ranks[int(r)] = base64.b64decode(b64)
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1], encoding="utf-8")][1:]
bad = [r for r in rows if r[1] != "special" and (ranks.get(int(r[0])) != bytes.fromhex(r[3]) or int(r[2]) != len(bytes.fromhex(r[3])))]
sys.exit(bool(bad) or len(rows) != 50257)
PY
# cl100k's holes (100256, 100261-100275) hold no token: no row
expect_rc 0 "$B" info $CL --vocab
[ "$(wc -l < "$T/out")" = 100262 ] && ok || fail "cl100k: 100261 tokens expected, got $(($(wc -l < "$T/out") - 1))"
awk -F'\t' '$1 == 100256 || $1 == 100261' "$T/out" | grep -q . && fail "a hole has a row" || ok
# with documents: a count column that adds up to the tokens the summary counts
expect_rc 0 "$B" info $R50 --vocab "$T/docs.jsonl"
head -n 1 "$T/out" | grep -q "$(printf 'token\tcount$')" && ok || fail "no count column: $(head -n 1 "$T/out")"
sum=$(awk -F'\t' 'NR > 1 { s += $6 } END { print s }' "$T/out")
hello=$(awk -F'\t' '$1 == 15496 { print $6 }' "$T/out")
expect_rc 0 "$B" info $R50 "$T/docs.jsonl"
n=$(sed -n 's/^tokens: *\([0-9]*\) .*/\1/p' "$T/out")
[ -n "$n" ] && [ "$sum" = "$n" ] && [ "$hello" = 1 ] && ok || fail "counts add up to $sum, the summary says $n; 'Hello' counted $hello"

# --- info names the longest token (the first of that length, and how many more)
expect_rc 0 "$B" info $R50
expect_out "longest token: 128 bytes, id 35496 \""
printf '{"text":"abcd abcd abcd wxyz wxyz wxyz"}\n' > "$T/tiny.jsonl"
expect_rc 0 "$B" train --vocab-size 400 --min-frequency 2 -o "$T/tiny.json" "$T/tiny.jsonl"
expect_rc 0 "$B" info -t "$T/tiny.json"
# " abcd" and " wxyz" are the 5-byte tokens; the first learned has the lower id
grep -Eq '^longest token: 5 bytes, id [0-9]+ " (abcd|wxyz)" \(and 1 more of that length\)$' "$T/out" && ok ||
    fail "longest token line: $(grep longest "$T/out")"

check_done test_inspect
