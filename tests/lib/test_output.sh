# -o onto what is not a regular file (lib/iofile.c, out_open), through the
# programs: a FIFO, a character device and a descriptor (/dev/fd/N) are
# written in place and stay what they were, a descriptor keeping its offset
# and O_APPEND; a symbolic link is followed, the file it names is replaced and
# the link stays. And past `ulimit -f` (SIGXFSZ ignored) a write fails like
# any other: a message, exit 1, no temporary file left.
# The device is made in $T, never the machine's, and /dev/stdout is not used
# (/dev/fd/N is): a broken out_open must not be able to replace either.
. tests/check.sh
F="$BIN/filter"
B="$BIN/bpe"
P="$BIN/packer"
R50="--tiktoken node_modules/gpt-tokenizer/data/r50k_base.tiktoken --pattern gpt2"

for i in $(seq 1 200); do
    printf '{"id":%d,"text":"document %d: a few words to encode, and then some more."}\n' "$i" "$i"
done >"$T/docs.jsonl"
expect_rc 0 "$F" --preset none -q -o "$T/ref.jsonl" "$T/docs.jsonl"
expect_same "$T/docs.jsonl" "$T/ref.jsonl"
expect_rc 0 "$B" encode $R50 -q -o "$T/ref.tok" "$T/docs.jsonl"

# no_temp PATH: no PATH.tmp.* is left.
no_temp() {
    if compgen -G "$1.tmp.*" >/dev/null; then fail "left behind: $(ls -d "$1".tmp.*)"; else ok; fi
}
# to PROG TARGET [WRAPPER]: filter or bpe encode the documents with -o
# TARGET (run by WRAPPER when given), exit 0 expected. The timeout makes a
# FIFO that nobody opens fail the check instead of hanging it.
to() {
    local prog=$1 target=$2
    shift 2
    case $prog in
    filter) expect_rc 0 "$@" timeout 20 "$F" --preset none -q -o "$target" "$T/docs.jsonl" ;;
    bpe) expect_rc 0 "$@" timeout 20 "$B" encode $R50 -q -o "$target" "$T/docs.jsonl" ;;
    esac
}
ref() { if [ "$1" = filter ]; then echo "$T/ref.jsonl"; else echo "$T/ref.tok"; fi; }
# with_fd3 CMD...: CMD with descriptor 3 appending to $T/log.
with_fd3() { "$@" 3>>"$T/log"; }

if mknod "$T/dev" c 1 3 2>/dev/null; then can_mknod=1; rm -f "$T/dev"; else
    can_mknod=""
    echo "test_output: mknod is not permitted here (not root?): no character device case" >&2
fi

for prog in filter bpe; do
    # A FIFO: written for the reader at the other end, and still a FIFO.
    mkfifo "$T/fifo"
    timeout 20 cat "$T/fifo" >"$T/fifo.got" &
    reader=$!
    to $prog "$T/fifo"
    wait $reader
    [ -p "$T/fifo" ] && ok || fail "$prog -o FIFO: the FIFO was replaced"
    expect_same "$(ref $prog)" "$T/fifo.got"
    no_temp "$T/fifo"
    rm -f "$T/fifo" "$T/fifo.got"

    # A character device (the null device's numbers, made here): written
    # in place, still a device.
    if [ -n "$can_mknod" ]; then
        mknod "$T/null" c 1 3
        to $prog "$T/null"
        [ -c "$T/null" ] && ok || fail "$prog -o DEVICE: the device was replaced"
        no_temp "$T/null"
        rm -f "$T/null"
    fi

    # A symbolic link (relative, through another link): the file it names
    # is replaced, the links stay.
    echo old >"$T/real"
    ln -s real "$T/link"
    ln -s link "$T/link2"
    to $prog "$T/link2"
    [ -L "$T/link" ] && [ -L "$T/link2" ] && [ "$(readlink "$T/link2")" = link ] && ok ||
        fail "$prog -o LINK: the link was replaced"
    expect_same "$(ref $prog)" "$T/real"
    no_temp "$T/link2"
    no_temp "$T/real"
    # ... and one that names nothing yet: the file appears where it points
    # (relative to the link's folder).
    mkdir "$T/sub"
    ln -s ../new "$T/sub/dangling"
    to $prog "$T/sub/dangling"
    [ -L "$T/sub/dangling" ] && ok || fail "$prog -o DANGLING LINK: the link was replaced"
    expect_same "$(ref $prog)" "$T/new"
    no_temp "$T/new"
    rm -rf "$T/real" "$T/link" "$T/link2" "$T/sub" "$T/new"

    # A descriptor: its offset and O_APPEND hold (`>> log` appends).
    printf 'first line\n' >"$T/log"
    to $prog /dev/fd/3 with_fd3
    { printf 'first line\n'; cat "$(ref $prog)"; } >"$T/want"
    expect_same "$T/want" "$T/log"
    rm -f "$T/log"
done

# /dev/fd/1 as a pipe.
run bash -c "set -o pipefail; '$F' --preset none -q -o /dev/fd/1 '$T/docs.jsonl' | cat >'$T/pipe.got'"
[ "$rc" = 0 ] && ok || fail "filter -o /dev/fd/1 into a pipe: exit $rc: $(head -c 300 "$T/err")"
expect_same "$T/ref.jsonl" "$T/pipe.got"

# packer writes its folder's files through out_open too: tokenizer.json as a
# link is followed, as a device written in place. (The tokenizer is the one
# ref.tok was encoded with: packer checks its fingerprint against the stream's.)
expect_rc 0 "$B" convert $R50 -q -o "$T/tok.json"
mkdir "$T/pk"
ln -s ../tok-copy.json "$T/pk/tokenizer.json"
expect_rc 0 "$P" -o "$T/pk" -q --context 16 -t "$T/tok.json" "$T/ref.tok"
[ -L "$T/pk/tokenizer.json" ] && ok || fail "packer: the tokenizer.json link was replaced"
expect_same "$T/tok.json" "$T/tok-copy.json"
no_temp "$T/tok-copy.json"
if [ -n "$can_mknod" ]; then
    mkdir "$T/pk2"
    mknod "$T/pk2/tokenizer.json" c 1 3
    expect_rc 0 "$P" -o "$T/pk2" -q --context 16 -t "$T/tok.json" "$T/ref.tok"
    [ -c "$T/pk2/tokenizer.json" ] && ok || fail "packer: the tokenizer.json device was replaced"
    [ -e "$T/pk2/train_000000.bin" ] && ok || fail "packer: no shard beside the device"
fi

# Past `ulimit -f` (1024-byte blocks), in a subshell: a write fails with
# EFBIG, reported with the file's name; exit 1 (not 153, killed by SIGXFSZ)
# and nothing left behind.
for i in $(seq 1 6000); do
    printf '{"text":"document %d: enough words in it to make the whole file larger than the limit."}\n' "$i"
done >"$T/big.jsonl"
expect_rc 0 "$B" encode $R50 -q -o "$T/big.tok" "$T/big.jsonl"
limited() { (ulimit -f 64 && exec "$@"); }
expect_rc 1 limited "$F" --preset none -q -o "$T/big.out" "$T/big.jsonl"
expect_err "filter: $T/big.out: write: File too large"
expect_no_file "$T/big.out"
expect_rc 1 limited "$B" encode $R50 -q -o "$T/big2.tok" "$T/big.jsonl"
expect_err "bpe: $T/big2.tok: write: File too large"
expect_no_file "$T/big2.tok"
expect_rc 1 limited "$P" -o "$T/pkbig" -q --context 16 "$T/big.tok"
expect_err "write: File too large"
[ ! -e "$T/pkbig" ] && ok || fail "packer under ulimit left: $(ls -A "$T/pkbig" | head -5 | tr '\n' ' ')"

check_done test_output
