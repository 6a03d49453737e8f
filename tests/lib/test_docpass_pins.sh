# The document passes give, byte for byte, the outputs recorded in
# docpass.pin at -j 1, 2 and 3: dedup in each mode (with its rejects), dedup
# sig's key lines, bpe encode (a token stream and --ids) and bpe train, on a
# fixed slice of corpora/en.jsonl.gz. The pins were recorded with the build of
# the commit that added this test, before the passes moved onto lib/docpass.c
# (issue 14): a change of batching, threads or emission order shows here.
# PIN_UPDATE=1 rewrites the pins file from the current build instead (only with
# a build known to be right); filter's are in tests/filter/test_corpus.sh.
. tests/check.sh
PINS=$PWD/tests/lib/docpass.pin
CORPUS_SHA=08ebdccbe594f35dbb837807bcfdba953624f4cafad3911e7cb9f56f75bc166b
zcat corpora/en.jsonl.gz > "$T/all.jsonl"
sha() { sha256sum < "$1" | cut -d' ' -f1; }
got=$(sha "$T/all.jsonl")
if [ "$got" = "$CORPUS_SHA" ]; then ok; else fail "corpora/en.jsonl.gz changed (SHA-256 $got): record new pins"; fi
# 6000 documents (about 7 MB) for dedup and encode, 1500 for train: the whole
# test stays under a minute on two cores
head -n 6000 "$T/all.jsonl" > "$T/in.jsonl"
head -n 1500 "$T/all.jsonl" > "$T/train.jsonl"
zcat corpora/eval.jsonl.gz | head -n 200 > "$T/eval.jsonl"
# the files by relative names: rejects and sig lines name the input file
cd "$T" || exit 1
: > "$T/got.pin"
pin() { # NAME FILE: the digest of FILE as NAME
    printf '%s %s\n' "$1" "$(sha "$2")" >> "$T/got.pin"
}
for j in 1 2 3; do
    # the tokenizer every encode uses is the one trained at -j 1 (pinned too)
    expect_rc 0 "$BIN/bpe" train -j $j --vocab-size 1500 "train.jsonl" -o "tok$j.json"
    pin "bpe-train-j$j" "tok$j.json"
    expect_rc 0 "$BIN/bpe" encode -j $j -t "tok1.json" "in.jsonl" -o "enc.tok"
    pin "bpe-encode-j$j" "enc.tok"
    expect_rc 0 "$BIN/bpe" encode -j $j -t "tok1.json" --ids "in.jsonl" -o "enc.ids"
    pin "bpe-encode-ids-j$j" "enc.ids"
    for mode in default exact minhash minhash-verify; do
        case $mode in
            default) args= ;;
            minhash-verify) args="minhash --verify" ;;
            *) args=$mode ;;
        esac
        # shellcheck disable=SC2086
        expect_rc 0 "$BIN/dedup" $args -j $j --rejects "rej.jsonl" "in.jsonl" -o "kept.jsonl"
        pin "dedup-$mode-kept-j$j" "kept.jsonl"
        pin "dedup-$mode-rejects-j$j" "rej.jsonl"
    done
    for mode in default exact minhash-verify; do
        case $mode in
            default) args= ;;
            minhash-verify) args="minhash --verify" ;;
            *) args=$mode ;;
        esac
        # shellcheck disable=SC2086
        expect_rc 0 "$BIN/dedup" sig $args -j $j "in.jsonl" -o "sig.txt"
        pin "dedup-sig-$mode-j$j" "sig.txt"
    done
    expect_rc 0 "$BIN/dedup" decontam -j $j --eval "eval.jsonl" --rejects "rej.jsonl" \
        --removed "removed.jsonl" "in.jsonl" -o "kept.jsonl"
    pin "dedup-decontam-kept-j$j" "kept.jsonl"
    pin "dedup-decontam-rejects-j$j" "rej.jsonl"
    pin "dedup-decontam-removed-j$j" "removed.jsonl"
done
if [ -n "${PIN_UPDATE:-}" ]; then
    cp "$T/got.pin" "$PINS"
    echo "wrote $PINS" >&2
fi
while read -r name digest; do
    want=$(awk -v n="$name" '$1 == n { print $2 }' "$PINS")
    if [ -z "$want" ]; then fail "$name: no pin in $PINS"
    elif [ "$digest" = "$want" ]; then ok
    else fail "$name: expected SHA-256 $want, got $digest"; fi
done < "$T/got.pin"
# and the -j runs agree with each other (a pin recorded wrong would show here)
for name in $(sed -E 's/-j[0-9]+ .*//' "$T/got.pin" | sort -u); do
    n=$(grep -E "^$name-j[0-9]+ " "$T/got.pin" | cut -d' ' -f2 | sort -u | wc -l)
    if [ "$n" = 1 ]; then ok; else fail "$name differs between -j 1, 2 and 3"; fi
done
check_done test_docpass_pins
