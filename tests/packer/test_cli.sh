# bin/packer from the command line: files, pipes and gzip give the same
# shards, the tokenizer is copied, and every bad input or bad usage gets its
# message and exit code (1 data, 2 usage) with no shard left behind.
. tests/check.sh
P="$BIN/packer"

# gen OUT N_DOCS VOCAB EOT SEED MAXLEN: a token stream of random documents.
gen() {
    python3 - "$@" <<'EOF'
import random, struct, sys
out, n, vocab, eot, seed, maxlen = sys.argv[1], *map(int, sys.argv[2:7])
r = random.Random(seed)
w = 2 if vocab <= 65536 else 4
ids = []
for _ in range(n):
    for _ in range(r.randint(0, maxlen)):
        t = r.randrange(vocab - 1)
        ids.append(t if t < eot else t + 1)
    ids.append(eot)
with open(out, 'wb') as f:
    f.write(b'GPTKTOKS' + struct.pack('<IIII8x', 1, w, vocab, eot))
    f.write(struct.pack('<%d%s' % (len(ids), 'H' if w == 2 else 'I'), *ids))
EOF
}
gen "$T/a.tok" 400 1000 999 1 60
gen "$T/b.tok" 100 1000 999 2 200
gen "$T/v.tok" 10 1200 999 3 20     # another vocabulary
gen "$T/e.tok" 10 1000 0 4 20       # another end-of-text id
echo '{"model": {"type": "BPE"}}' >"$T/tok.json"

# no shard, no temporary file, no spill file in the folder (or no folder)
expect_empty() {
    if [ ! -e "$1" ] || [ -z "$(ls -A "$1")" ]; then ok; else fail "expected $1 empty or absent, has: $(ls -A "$1" | head -5 | tr '\n' ' ')"; fi
}

expect_rc 0 "$P" --help
expect_out "usage: packer"
expect_out "--best-fit"
expect_out "--tokens N"

# A weighted mix with a tokenizer: shards, meta.json, tokenizer.json, a table.
expect_rc 0 "$P" -o "$T/d" -t "$T/tok.json" "$T/a.tok:0.6" "$T/b.tok:0.4" --tokens 30k --shard-tokens 10k
expect_err "source"
expect_err "epochs"
expect_err "$T/b.tok"
expect_err "train tokens in 3 shards"
[ -e "$T/d/train_000000.bin" ] && [ -e "$T/d/train_000002.bin" ] && [ -e "$T/d/val_000000.bin" ] && ok || fail "shards missing: $(ls "$T/d")"
expect_no_file "$T/d/train_000003.bin"
expect_same "$T/tok.json" "$T/d/tokenizer.json"
grep -q '"tokenizer": "tokenizer.json"' "$T/d/meta.json" && ok || fail "meta.json does not name the tokenizer"
grep -q '"weight": 0.6' "$T/d/meta.json" && ok || fail "meta.json lacks the weight"
# llm.c's header: magic 20240520, version 1, count; size 1024 + 2 * count
hdr=$(od -An -t u4 -N 12 "$T/d/train_000000.bin" | tr -s ' ')
[ "$hdr" = " 20240520 1 10000" ] && ok || fail "train_000000.bin header: '$hdr'"
[ "$(stat -c %s "$T/d/train_000000.bin")" = $((1024 + 2 * 10000)) ] && ok || fail "train_000000.bin size"

# The same folder again is refused (exit 2: bad usage, as model train's -o
# that holds a run; it was 1), --force replaces it.
expect_rc 2 "$P" -o "$T/d" "$T/a.tok"
expect_err "already holds packed data"
expect_err "try 'packer --help'"
expect_rc 0 "$P" -o "$T/d" --force --quiet "$T/a.tok"
expect_no_file "$T/d/train_000001.bin"
expect_no_file "$T/d/tokenizer.json"
[ ! -s "$T/err" ] && ok || fail "--quiet printed: $(head -c 200 "$T/err")"

# Through a pipe (kept in memory, or spilled with --mem 0) and gzip: the same shards.
expect_rc 0 "$P" -o "$T/f" --quiet --shard-tokens 5000 "$T/a.tok" "$T/b.tok"
run sh -c "cat '$T/b.tok' | '$P' -o '$T/p' --quiet --shard-tokens 5000 '$T/a.tok' -"
[ "$rc" = 0 ] && ok || fail "pipe: exit $rc: $(cat "$T/err")"
run sh -c "cat '$T/b.tok' | '$P' -o '$T/s' --quiet --mem 0 --shard-tokens 5000 '$T/a.tok' -"
[ "$rc" = 0 ] && ok || fail "spill: exit $rc: $(cat "$T/err")"
gzip -c "$T/b.tok" >"$T/b.tok.gz"
expect_rc 0 "$P" -o "$T/g" --quiet --shard-tokens 5000 "$T/a.tok" "$T/b.tok.gz"
for f in "$T"/f/*.bin; do
    n=$(basename "$f")
    expect_same "$f" "$T/p/$n"
    expect_same "$f" "$T/s/$n"
    expect_same "$f" "$T/g/$n"
done
ls -A "$T/s" | grep -q spill && fail "a spill file was left in $T/s" || ok
# No input file: standard input.
run sh -c "'$P' -o '$T/stdin' --quiet --shard-tokens 5000 < '$T/a.tok'"
[ "$rc" = 0 ] && ok || fail "stdin: exit $rc"

# Best-fit: every shard is whole windows of context+1.
expect_rc 0 "$P" -o "$T/bf" --best-fit --context 127 --shard-tokens 1000 "$T/a.tok" "$T/b.tok"
expect_err "padding"
[ "$(( ($(stat -c %s "$T/bf/train_000000.bin") - 1024) / 2 ))" = 896 ] && ok || fail "best-fit shard is not 7 windows of 128"
grep -q '"window": "best-fit"' "$T/bf/meta.json" && ok || fail "meta.json window"

# --concat: shards of one stream pack as the stream itself (validation taken
# from the one source, the same shuffle), mapped, in memory or spilled; as four
# sources they would not (validation and shuffle per source).
python3 - "$T/a.tok" "$T/part" <<'EOF'
import struct, sys
b = open(sys.argv[1], 'rb').read()
head, ids = b[:32], struct.unpack('<%dH' % ((len(b) - 32) // 2), b[32:])
docs, cur = [], []
for t in ids:
    cur.append(t)
    if t == 999: docs.append(cur); cur = []
for k in range(4):
    part = [t for d in docs[k * len(docs) // 4:(k + 1) * len(docs) // 4] for t in d]
    open('%s%d.tok' % (sys.argv[2], k), 'wb').write(head + struct.pack('<%dH' % len(part), *part))
EOF
for mode in "--stream" "--best-fit --context 63"; do
    expect_rc 0 "$P" -o "$T/cw" --force --quiet --val 5% --shard-tokens 5000 $mode "$T/a.tok"
    expect_rc 0 "$P" -o "$T/cc" --force --quiet --val 5% --shard-tokens 5000 $mode --concat "$T"/part[0-3].tok
    run sh -c "cat '$T/part3.tok' | '$P' -o '$T/cs' --force --quiet --mem 0 --val 5% --shard-tokens 5000 $mode --concat '$T/part0.tok' '$T/part1.tok' '$T/part2.tok' -"
    [ "$rc" = 0 ] && ok || fail "--concat with a pipe: exit $rc: $(cat "$T/err")"
    for f in "$T"/cw/*.bin; do
        expect_same "$f" "$T/cc/$(basename "$f")"
        expect_same "$f" "$T/cs/$(basename "$f")"
    done
    [ "$(ls "$T/cw" | wc -l)" = "$(ls "$T/cc" | wc -l)" ] && ok || fail "--concat wrote other files: $(ls "$T/cc")"
    grep -v '"name"' "$T/cw/meta.json" > "$T/cw.meta"; grep -v '"name"' "$T/cc/meta.json" > "$T/cc.meta"
    expect_same "$T/cw.meta" "$T/cc.meta"
done
grep -qF "\"name\": \"$T/part0.tok (+3 more)\"" "$T/cc/meta.json" && ok || fail "meta.json's name of the --concat source: $(grep name "$T/cc/meta.json")"
expect_rc 0 "$P" -o "$T/c4" --force --quiet --val 5% --shard-tokens 5000 "$T"/part[0-3].tok
if cmp -s "$T/cw/val_000000.bin" "$T/c4/val_000000.bin"; then fail "four sources packed as one"; else ok; fi
expect_rc 2 "$P" -o "$T/cx" --concat "$T/part0.tok:1" "$T/part1.tok:1" --tokens 10k
expect_err "--concat makes the streams one source"
expect_rc 1 "$P" -o "$T/cx" --concat "$T/part0.tok" "$T/v.tok"
expect_err "v.tok: offset 16: vocabulary size 1200 disagrees with $T/part0.tok"
expect_empty "$T/cx"

# Bad input: exit 1, the file and offset named, nothing left.
expect_rc 1 "$P" -o "$T/x1" "$T/a.tok" "$T/v.tok"
expect_err "v.tok: offset 16: vocabulary size 1200 disagrees with"
expect_empty "$T/x1"
expect_rc 1 "$P" -o "$T/x2" "$T/a.tok" "$T/e.tok"
expect_err "e.tok: offset 20: end-of-text id 0 disagrees"
expect_empty "$T/x2"
head -c -3 "$T/b.tok" >"$T/cut.tok"
expect_rc 1 "$P" -o "$T/x3" "$T/a.tok" "$T/cut.tok"
expect_err "cut.tok: offset"
expect_err "truncated token stream"
expect_empty "$T/x3"
run sh -c "head -c 5001 '$T/a.tok' | '$P' -o '$T/x4' -"
[ "$rc" = 1 ] && ok || fail "truncated pipe: exit $rc"
expect_err "<stdin>: offset"
expect_empty "$T/x4"
expect_rc 1 "$P" -o "$T/x5" --best-fit --context 1000000 "$T/e.tok"
expect_err "longer than all the training data"
expect_empty "$T/x5"
expect_rc 1 "$P" -o "$T/x6" "$T/tok.json"
expect_err "bad magic"
expect_empty "$T/x6"
expect_rc 1 "$P" -o "$T/x7" "$T/missing.tok"
expect_err "missing.tok: cannot open"
expect_empty "$T/x7"
expect_rc 1 "$P" -o "$T/x8" -t "$T/a.tok" "$T/a.tok"
expect_err "not a tokenizer file"
expect_empty "$T/x8"
# Failing after shards were written (the tokenizer copy cannot land on a
# folder): the staged shards are removed.
mkdir -p "$T/x9/tokenizer.json"
expect_rc 1 "$P" -o "$T/x9" -t "$T/tok.json" --context 100 --shard-tokens 1000 "$T/a.tok"
[ "$(ls -A "$T/x9")" = tokenizer.json ] && ok || fail "x9 holds: $(ls -A "$T/x9" | head -5 | tr '\n' ' ')"

# The tokenizer's fingerprint (bpe encode records it in the stream): carried
# into meta.json; a -t tokenizer of the same size but another vocabulary is
# refused, naming both files and both fingerprints; so are streams of two
# tokenizers; a stream without one (version 1) gets a note.
for i in 1 2 3 4 5 6; do
    printf '{"text":"the cat sat on the mat %s times, then the dog sat there"}\n' $i
    printf '{"text":"a quick brown fox jumps over the lazy dog number %s"}\n' $i
done > "$T/docs.jsonl"
sed 's/the/xyz/g; s/o/q/g' "$T/docs.jsonl" > "$T/docs2.jsonl"
expect_rc 0 "$BIN/bpe" train --vocab-size 280 -q -o "$T/t1.json" "$T/docs.jsonl"
expect_rc 0 "$BIN/bpe" train --vocab-size 280 -q -o "$T/t2.json" "$T/docs2.jsonl"
fp1=$("$BIN/bpe" info -t "$T/t1.json" | sed -n 's/^fingerprint: *//p')
fp2=$("$BIN/bpe" info -t "$T/t2.json" | sed -n 's/^fingerprint: *//p')
n1=$("$BIN/bpe" info -t "$T/t1.json" | sed -n 's/^vocab size: *\([0-9]*\).*/\1/p')
n2=$("$BIN/bpe" info -t "$T/t2.json" | sed -n 's/^vocab size: *\([0-9]*\).*/\1/p')
[ ${#fp1} = 16 ] && [ "$fp1" != "$fp2" ] && [ "$n1" = 280 ] && [ "$n2" = 280 ] && ok ||
    fail "two tokenizers of 280 ids with their own fingerprints: '$fp1' ($n1 ids), '$fp2' ($n2 ids)"
expect_rc 0 "$BIN/bpe" encode -q -t "$T/t1.json" -o "$T/fp1.tok" "$T/docs.jsonl"
expect_rc 0 "$BIN/bpe" encode -q -t "$T/t2.json" -o "$T/fp2.tok" "$T/docs2.jsonl"
expect_rc 0 "$P" -o "$T/fp" -t "$T/t1.json" --context 8 "$T/fp1.tok"
grep -q "\"tokenizer_fingerprint\": \"$fp1\"" "$T/fp/meta.json" && ok || fail "meta.json lacks the fingerprint $fp1"
grep -q "fingerprint" "$T/err" && fail "a note for a stream with a fingerprint: $(cat "$T/err")" || ok
expect_rc 1 "$P" -o "$T/x10" -t "$T/t2.json" --context 8 "$T/fp1.tok"
expect_err "$T/t2.json has tokenizer fingerprint $fp2, but $T/fp1.tok was encoded with a tokenizer of fingerprint $fp1"
expect_empty "$T/x10"
run sh -c "cat '$T/fp1.tok' | '$P' -o '$T/x11' -t '$T/t2.json' --context 8 -"
[ "$rc" = 1 ] && ok || fail "piped: exit $rc, expected 1"
expect_err "but <stdin> was encoded with a tokenizer of fingerprint $fp1"
expect_empty "$T/x11"
expect_rc 1 "$P" -o "$T/x12" --context 8 "$T/fp1.tok" "$T/fp2.tok"
expect_err "$T/fp2.tok: offset 24: tokenizer fingerprint $fp2 disagrees with $T/fp1.tok ($fp1)"
expect_empty "$T/x12"
# a -t file that is no tokenizer cannot be checked against a stream that has a fingerprint
expect_rc 1 "$P" -o "$T/x13" -t "$T/tok.json" --context 8 "$T/fp1.tok"
expect_err "$T/tok.json: cannot check it against the fingerprint of $T/fp1.tok ($fp1)"
expect_empty "$T/x13"
# version 1 streams (a.tok, b.tok: gen writes version 1) still pack, with one note
expect_rc 0 "$P" -o "$T/v1" -t "$T/t1.json" "$T/a.tok" "$T/b.tok"
expect_err "packer: note: $T/a.tok records no tokenizer fingerprint (token stream version 1), so $T/t1.json cannot be checked"
[ "$(grep -c 'records no tokenizer fingerprint' "$T/err")" = 1 ] && ok || fail "expected the note once: $(cat "$T/err")"
grep -q '"tokenizer_fingerprint": null' "$T/v1/meta.json" && ok || fail "meta.json: $(grep finger "$T/v1/meta.json")"

# Bad usage: exit 2, one line and the hint.
expect_rc 2 "$P" "$T/a.tok"
expect_err "-o DIR is required"
expect_err "try 'packer --help'"
expect_rc 2 "$P" -o "$T/u1" "$T/a.tok:abc"
expect_err "weight 'abc' is not a number"
expect_rc 2 "$P" -o "$T/u2" "$T/a.tok:0" "$T/b.tok:0" --tokens 1k
expect_err "the weights sum to zero"
expect_rc 2 "$P" -o "$T/u3" "$T/a.tok:0.5" "$T/b.tok:0.5"
expect_err "weights need --tokens"
expect_rc 2 "$P" -o "$T/u4" "$T/a.tok:0.5" "$T/b.tok" --tokens 1k
expect_err "give every source a weight, or none"
expect_rc 2 "$P" -o "$T/u5" --context 0 "$T/a.tok"
expect_err "--context 0"
expect_rc 2 "$P" -o "$T/u6" --val 1.5 "$T/a.tok"
expect_rc 2 "$P" -o "$T/u7" --val 0.1 --val-tokens 100 "$T/a.tok"
expect_rc 2 "$P" -o "$T/u8" - -
expect_err "only once"
expect_rc 2 "$P" -o "$T/u9" --best-fit --context 2000 --shard-tokens 1000 "$T/a.tok"
expect_err "smaller than one best-fit window"
# Stream shards too: one shorter than a window holds no training sample (and
# --shard-tokens 1 would write a file a token). The minimum is named.
expect_rc 2 "$P" -o "$T/u10" --context 100 --shard-tokens 100 "$T/a.tok"
expect_err "--shard-tokens 100 is smaller than one stream window: at least context + 1 = 101"
expect_err "try 'packer --help'"
expect_rc 2 "$P" -o "$T/u11" --shard-tokens 1 "$T/a.tok"
expect_err "at least context + 1 = 1025"
for u in u1 u2 u3 u4 u5 u6 u7 u8 u9 u10 u11; do expect_empty "$T/$u"; done
# ... and exactly one window is enough.
expect_rc 0 "$P" -o "$T/w1" --quiet --context 100 --shard-tokens 101 "$T/a.tok"
[ "$(stat -c %s "$T/w1/train_000000.bin")" = $((1024 + 2 * 101)) ] && ok || fail "a 101-token shard expected"

# SIGTERM while reading a pipe: nothing is left in the folder.
mkfifo "$T/fifo"
"$P" -o "$T/sig" --mem 0 - <"$T/fifo" 2>/dev/null &
pid=$!
exec 7>"$T/fifo"
cat "$T/a.tok" >&7
sleep 0.3
kill -TERM "$pid"
wait "$pid"
sigrc=$?
exec 7>&-
[ "$sigrc" = 143 ] && ok || fail "expected death by SIGTERM (143), got $sigrc"
expect_empty "$T/sig"

# --- a validation set of a few documents gets a note; a larger share does not
expect_rc 0 "$P" -o "$T/fewval" "$T/a.tok"
expect_err "note: the validation set holds only 3 documents of 400"
expect_rc 0 "$P" -o "$T/manyval" --val 10% "$T/a.tok"
grep -q "validation set holds only" "$T/err" && fail "a note with 40 validation documents" || ok

check_done test_cli
