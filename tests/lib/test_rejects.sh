# Files skipped for holding a NUL byte are listed in --rejects, one record a
# file ({"text":"","path":FILE,"<prog>_reason":"binary"}), in their place in
# input order among the rejected documents, by every program that takes
# --rejects and reads folders: filter, dedup, dedup decontam and dedup apply.
# Both ways a NUL byte is found (in the first line read to decide the format,
# or further on), a .txt that is binary, and stdin (no path). The same
# rejects for -j 1 and -j 2; none of them in the kept output; without
# --rejects they are only counted, as before; filter stats lists none.
. tests/check.sh
F="$BIN/filter" D="$BIN/dedup"
S="$T/docs"
mkdir -p "$S/c"
para='The valley is old and green, and the river runs slowly past the mill and the farms beyond it.'
long=$(for i in 1 2 3 4 5 6; do printf '%s ' "$para"; done)
printf '%s\n' "$long" > "$S/a.txt"
printf 'PK\003\004\000\000first line binary\n' > "$S/b.bin"           # a NUL in the line sniff reads
printf 'x\n' > "$S/c/d"                                                # too short: filter drops it
printf 'readable first line\nthen\000a NUL further on\n' > "$S/c/e.dat"  # found by the whole-file read
printf 'looks like text\000\n' > "$S/c/f.txt"                          # plain text by its name
printf '%s\n' "$long" > "$S/c/g.txt"                                   # a duplicate of a.txt

rec() { printf '{"text":"","path":"%s","%s":"binary"}\n' "$1" "$2"; }

# filter: the three binary files and the short document, in path order
printf 'tiny drop-doc ^x$\n' > "$T/rules"
FO="--preset none --rules-file $T/rules"
expect_rc 0 "$F" $FO -j 1 --rejects "$T/rej1.jsonl" -o "$T/kept.jsonl" "$S"
expect_err "skipped: 3 binary (a NUL byte: $S/b.bin, $S/c/e.dat, $S/c/f.txt)"
expect_err "3 in, 2 kept, 1 dropped"
{ rec "$S/b.bin" filter_reason
  printf '{"text":"x\\n","path":"%s","filter_reason":"tiny"}\n' "$S/c/d"
  rec "$S/c/e.dat" filter_reason; rec "$S/c/f.txt" filter_reason; } > "$T/want_f"
expect_same "$T/want_f" "$T/rej1.jsonl"
grep -q '"binary"' "$T/kept.jsonl" && fail "a skipped file in the kept output" || ok
expect_rc 0 "$F" $FO -j 2 --rejects "$T/rej2.jsonl" -o "$T/kept2.jsonl" "$S"
expect_same "$T/rej1.jsonl" "$T/rej2.jsonl"
expect_same "$T/kept.jsonl" "$T/kept2.jsonl"
# without --rejects: the same kept documents, the files only counted
expect_rc 0 "$F" $FO -o "$T/kept3.jsonl" "$S"
expect_same "$T/kept.jsonl" "$T/kept3.jsonl"
expect_err "skipped: 3 binary"
# stdin: a record without a path
expect_rc 0 sh -c "'$F' --rejects '$T/rej_stdin.jsonl' < '$S/b.bin'"
printf '{"text":"","filter_reason":"binary"}\n' > "$T/want_stdin"
expect_same "$T/want_stdin" "$T/rej_stdin.jsonl"
# filter stats takes no --rejects, and lists no skipped file in its -o
expect_rc 0 "$F" stats -o "$T/stats.jsonl" "$S"
grep -q '"binary"' "$T/stats.jsonl" && fail "filter stats wrote a skipped file" || ok

# dedup: the binary files and the duplicate g.txt, in path order
expect_rc 0 "$D" --rejects "$T/drej.jsonl" -o "$T/uniq.jsonl" "$S"
expect_err "3 in = 2 kept + 1 exact"
{ rec "$S/b.bin" dedup_reason; rec "$S/c/e.dat" dedup_reason; rec "$S/c/f.txt" dedup_reason
  printf '{"text":"%s\\n","path":"%s","dedup_reason":"exact","dup_of":"%s:1"}\n' "$long" "$S/c/g.txt" "$S/a.txt"; } > "$T/want_d"
expect_same "$T/want_d" "$T/drej.jsonl"
grep -q '"binary"' "$T/uniq.jsonl" && fail "a skipped file in dedup's output" || ok
# the sharded chain's apply lists them too
expect_rc 0 sh -c "'$D' sig '$S' | LC_ALL=C sort | '$D' cluster > '$T/drop.tsv'"
expect_rc 0 "$D" apply --drop "$T/drop.tsv" --rejects "$T/arej.jsonl" -o "$T/uniq_a.jsonl" "$S"
expect_same "$T/want_d" "$T/arej.jsonl"
expect_same "$T/uniq.jsonl" "$T/uniq_a.jsonl"

# dedup decontam: a.txt's words are the evaluation set, so a.txt and g.txt are dropped whole
printf '{"text":"%s"}\n' "$long" > "$T/eval.jsonl"
expect_rc 0 "$D" decontam --eval "$T/eval.jsonl" --rejects "$T/crej.jsonl" -o "$T/clean.jsonl" "$S"
expect_err "3 in = 1 kept whole + 0 cut (into 0 pieces) + 2 dropped"
{ rec "$S/b.bin" dedup_reason; rec "$S/c/e.dat" dedup_reason; rec "$S/c/f.txt" dedup_reason; } > "$T/want_c"
sed -n 2,4p "$T/crej.jsonl" > "$T/got_c"   # between a.txt's and g.txt's records
expect_same "$T/want_c" "$T/got_c"
sed -E 's/.*"path":"([^"]*)".*"dedup_reason":"([a-z]*)".*/\1 \2/' "$T/crej.jsonl" | tr '\n' ' ' > "$T/got_order"
[ "$(cat "$T/got_order")" = "$S/a.txt decontam $S/b.bin binary $S/c/e.dat binary $S/c/f.txt binary $S/c/g.txt decontam " ] &&
    ok || fail "decontam's rejects: $(cat "$T/got_order")"
check_done test_rejects
