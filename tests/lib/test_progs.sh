# Every program: --help teaches on stdout and exits 0, --version names the
# toolkit, and a use it does not support is refused on stderr with exit 2.
. tests/check.sh

for p in filter dedup bpe packer model; do
    expect_rc 0 "$BIN/$p" --help
    expect_out "usage: $p"
    expect_out "example:"
    expect_rc 0 "$BIN/$p" --version
    expect_out "$p (gptkit)"
    expect_rc 2 "$BIN/$p" --no-such-option
    expect_err "try '$p --help'"
done

# Issue 13, item 11: -jN is -j N; a UTF-8 byte-order mark opening a JSON Lines
# file is skipped (it was "invalid JSON at byte 1"); a count may be a decimal
# with a suffix when it is whole (--tokens 1.2M), and is refused otherwise.
printf '\357\273\277{"text":"one two three four five six"}\n{"text":"seven"}\n' > "$T/bom.jsonl"
expect_rc 0 "$BIN/dedup" -j1 -q "$T/bom.jsonl"
if [ "$(head -c 9 "$T/out")" = '{"text":"' ] && [ "$(wc -l < "$T/out")" = 2 ]; then ok; else fail "bom.jsonl: $(head -c 100 "$T/out")"; fi
expect_rc 2 "$BIN/dedup" -j0 "$T/bom.jsonl"
expect_err "-j needs 1..1024, not '0'"
expect_rc 0 "$BIN/filter" --max-line 1.5Ki --quiet -j2 "$T/bom.jsonl"
expect_rc 2 "$BIN/filter" --max-line 1.5 "$T/bom.jsonl"
expect_err "--max-line needs a byte count of at least 16, not '1.5'"
expect_rc 2 "$BIN/packer" -o "$T/pk" --tokens 1.0000001M "$T/none.tok"
expect_err "--tokens 1.0000001M: expected a count"
check_done test_progs
