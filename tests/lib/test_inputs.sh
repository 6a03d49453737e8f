# Plain-text folders, as a new user's trial met them (issue "Plain-text
# folders"), through every program that reads documents: a folder is walked
# (nested folders, dotfiles, a NUL file and a symlink loop skipped), files
# without a known ending are read by content (GPL-3 is text), a corrupt .jsonl
# is still an error, Latin-1 is refused (and counted as files with skip) unless
# --encoding latin1, and plain-text documents carry their "path" into filter's
# rejects and dedup's dup_of. lib/docio.c does it once for filter, dedup and bpe.
. tests/check.sh
F="$BIN/filter" D="$BIN/dedup" B="$BIN/bpe"
R50="--tiktoken node_modules/gpt-tokenizer/data/r50k_base.tiktoken --pattern gpt2"
S="$T/docs"
mkdir -p "$S/sub/deeper" "$S/.git"
para='The valley is old and green, and the river runs slowly past the mill.'
printf '%s\n' "GNU GENERAL PUBLIC LICENSE" "Version 3" "$para" > "$S/GPL-3"
printf '%s\n' "Release notes of the first version." "$para" | gzip -n > "$S/sub/NEWS.gz"
printf '%s\n' "# A note" "$para" > "$S/sub/deeper/note.md"
printf '{"text":"A JSON Lines document."}\n' > "$S/sub/data.jsonl"
printf 'secret\n' > "$S/.netrc"
printf '[core]\n' > "$S/.git/config"
printf 'PK\003\004\000\000binary\n' > "$S/archive.bin"
ln -s .. "$S/sub/deeper/loop"             # a symlink loop, were it followed
ln -s "$S" "$S/sub/again"

# filter: every file, in byte order of its path; each plain-text document
# names its file; the JSON Lines document comes through byte for byte.
expect_rc 0 timeout 60 "$F" --preset none -o "$T/kept.jsonl" "$S"   # a followed link would never end
expect_err "4 in, 4 kept, 0 dropped; files: 3 plain text, 1 JSON Lines from 3 folders; skipped: 1 binary (a NUL byte: $S/archive.bin), 2 hidden (.name), 2 links to folders"
got=$(sed -E 's/.*"path":"([^"]*)".*/\1/' "$T/kept.jsonl" | tr '\n' ' ')
[ "$got" = "$S/GPL-3 $S/sub/NEWS.gz "'{"text":"A JSON Lines document."}'" $S/sub/deeper/note.md " ] && ok || fail "order or paths: $got"
grep -qF '"text":"GNU GENERAL PUBLIC LICENSE\nVersion 3\n' "$T/kept.jsonl" && ok || fail "GPL-3 not read as text: $(head -c 200 "$T/kept.jsonl")"
grep -qF 'secret' "$T/kept.jsonl" && fail "a dotfile was read" || ok
grep -qF 'binary' "$T/kept.jsonl" && fail "the NUL file was read" || ok

# A file without an ending, named alone (it was "GPL-3:1: invalid JSON").
expect_rc 0 "$F" --preset none "$S/GPL-3"
expect_out "\"path\":\"$S/GPL-3\"}"
expect_err "files: 1 plain text;"
# An explicit --format still wins.
expect_rc 1 "$F" --preset none --format jsonl "$S/GPL-3"
expect_err "GPL-3:1: invalid JSON at byte 1"
# Plain text on stdin: by content too, with no path.
printf 'plain words on stdin\n' > "$T/stdin.txt"
expect_rc 0 sh -c "'$F' --preset none < '$T/stdin.txt'"
expect_out '{"text":"plain words on stdin\n"}'

# A corrupt .jsonl stays JSON Lines: an error naming file and line, no output.
printf '{"text":"fine"}\n{"text": broken\n' > "$S/sub/bad.jsonl"
expect_rc 1 "$F" --preset none -o "$T/k2.jsonl" "$S"
expect_err "filter: $S/sub/bad.jsonl:2: invalid JSON at byte 10"
expect_no_file "$T/k2.jsonl"
rm "$S/sub/bad.jsonl"

# Latin-1: refused with file, line and byte and a hint; with skip, counted as
# files (it said "4 bad lines"); --encoding latin1 converts.
mkdir "$T/latin"
for k in 1 2 3 4; do printf 'Caf\351 na\357ve number %s\n' $k > "$T/latin/l$k.txt"; done
printf 'All plain ASCII here.\n' > "$T/latin/ok.txt"
expect_rc 1 "$F" --preset none "$T/latin"
expect_err "filter: $T/latin/l1.txt:1: invalid UTF-8 at byte 4 (plain text is read as UTF-8; --encoding latin1 reads Latin-1)"
expect_rc 0 "$F" --preset none --on-error skip "$T/latin"
expect_err "1 in, 1 kept, 0 dropped; 4 bad files skipped; files: 5 plain text from 1 folder"
grep -qF 'bad lines' "$T/err" && fail "bad files counted as lines: $(cat "$T/err")" || ok
expect_rc 0 "$F" --preset none --encoding latin1 "$T/latin/l2.txt"
expect_out '{"text":"Café naïve number 2\n","path":"'"$T/latin/l2.txt"'"}'
expect_rc 2 "$F" --encoding ebcdic "$T/latin"
expect_err "--encoding is utf8 or latin1, not 'ebcdic'"

# filter's rejects name the file.
expect_rc 0 "$F" --rejects "$T/rej.jsonl" -o "$T/k3.jsonl" "$S/GPL-3"
grep -qF '"path":"'"$S/GPL-3"'","filter_reason":"' "$T/rej.jsonl" && ok || fail "rejects: $(cat "$T/rej.jsonl")"

# dedup: dup_of names the kept file, the dropped document its own path;
# through filter first, the path member passes through and dup_of names the
# line of filter's output.
mkdir -p "$T/dd/x"
printf '%s\n' "$para" > "$T/dd/a.txt"
printf '%s\n' "$para" > "$T/dd/x/copy"
expect_rc 0 "$D" --rejects "$T/drej.jsonl" -o "$T/uniq.jsonl" "$T/dd"
expect_err "2 in = 1 kept + 1 exact"
expect_err "0 bad lines skipped; files: 2 plain text from 2 folders"
grep -qF '"path":"'"$T/dd/x/copy"'","dedup_reason":"exact","dup_of":"'"$T/dd/a.txt"':1"}' "$T/drej.jsonl" && ok ||
    fail "dedup rejects: $(cat "$T/drej.jsonl")"
expect_rc 0 "$F" --preset none -o "$T/f.jsonl" "$T/dd"
expect_rc 0 "$D" --rejects "$T/drej2.jsonl" -o "$T/uniq2.jsonl" "$T/f.jsonl"
grep -qF '"path":"'"$T/dd/x/copy"'","dedup_reason":"exact","dup_of":"'"$T/f.jsonl"':1"}' "$T/drej2.jsonl" && ok ||
    fail "dedup rejects after filter: $(cat "$T/drej2.jsonl")"
# the sharded chain takes the folder as its files
expect_rc 0 sh -c "'$D' sig '$T/dd' | LC_ALL=C sort | '$D' cluster > '$T/drop.tsv'"
grep -qF "$T/dd/x/copy:1	exact	$T/dd/a.txt:1" "$T/drop.tsv" && ok || fail "drop list: $(cat "$T/drop.tsv")"
expect_rc 0 "$D" apply --drop "$T/drop.tsv" -o "$T/uniq3.jsonl" "$T/dd"
expect_same "$T/uniq.jsonl" "$T/uniq3.jsonl"

# bpe encode reads the same way, and plain text must be UTF-8 there too.
expect_rc 0 "$B" encode $R50 --ids "$S"
[ "$(wc -l < "$T/out")" = 4 ] && ok || fail "expected 4 documents, got $(wc -l < "$T/out")"
expect_err "files: 3 plain text, 1 JSON Lines from 3 folders; skipped: 1 binary"
expect_rc 1 "$B" encode $R50 --ids "$T/latin"
expect_err "l1.txt:1: invalid UTF-8 at byte 4"
expect_rc 0 "$B" encode $R50 --ids --encoding latin1 "$T/latin"
[ "$(wc -l < "$T/out")" = 5 ] && ok || fail "expected 5 documents, got $(wc -l < "$T/out")"
expect_rc 0 "$B" train --vocab-size 300 -o "$T/tok.json" "$S"
expect_err "files: 3 plain text, 1 JSON Lines from 3 folders"
check_done test_inputs
