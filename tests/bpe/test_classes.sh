# bpe train --classes with bpe/classes/arpabet.classes on the ARPAbet corpus:
# no learned or emitted token crosses a word or splits a vowel from its stress
# digit (and the same check fails for the GPT-2 pattern, so it can fail); the
# file loads in HF tokenizers and splits and encodes the same there; bad
# classes files name the line.
. tests/check.sh
NODE=/usr/bin/node
B="$BIN/bpe"
AR=corpora/arpabet.jsonl.gz
if [ ! -e "$AR" ]; then  # make corpora builds it; build a copy when it has not run
    $NODE corpora/build-arpabet.js corpora/en.jsonl.gz "$T/arpabet.jsonl.gz" >/dev/null
    AR=$T/arpabet.jsonl.gz
fi
$NODE tests/bpe/split_corpus.js "$AR" 10 "$T/train.jsonl" "$T/train.txt" "$T/held.jsonl"
CL=bpe/classes/arpabet.classes

expect_rc 0 "$B" train --classes $CL --vocab-size 3000 -o "$T/ar.json" "$T/train.jsonl"
expect_err "3000 ids"
expect_rc 0 "$B" encode -t "$T/ar.json" --ids -q -o "$T/ar.ids" "$T/held.jsonl"
expect_rc 0 $NODE tests/bpe/check_arpabet.js "$T/ar.json" "$T/ar.ids"
expect_out " 0 problems"
# HF reads the classes' Split regex and the unit merges the same way.
expect_rc 0 $NODE tests/bpe/hf_ids.js "$T/ar.json" "$T/held.jsonl" "$T/ar.hf"
expect_same "$T/ar.ids" "$T/ar.hf"
# Round trip.
expect_rc 0 "$B" encode -t "$T/ar.json" -o "$T/ar.tok" "$T/held.jsonl"
expect_rc 0 "$B" decode -t "$T/ar.json" -o "$T/back.jsonl" "$T/ar.tok"
expect_rc 0 $NODE tests/bpe/same_texts.js "$T/held.jsonl" "$T/back.jsonl"
# Without the classes, the GPT-2 pattern cuts digits from letters: the check fails.
expect_rc 0 "$B" train --vocab-size 3000 -o "$T/g2.json" "$T/train.jsonl"
expect_rc 0 "$B" encode -t "$T/g2.json" --ids -q -o "$T/g2.ids" "$T/held.jsonl"
expect_rc 1 $NODE tests/bpe/check_arpabet.js "$T/g2.json" "$T/g2.ids"
expect_out "vowel without its digit"

# Bad classes files.
printf 'word A-Z\nsplit x\n' > "$T/c1"
expect_rc 1 "$B" train --classes "$T/c1" -o "$T/x.json" "$T/held.jsonl"
expect_err "c1:2: unknown directive 'split'"; expect_no_file "$T/x.json"
printf 'prefix \\x20\n' > "$T/c2"
expect_rc 1 "$B" train --classes "$T/c2" -o "$T/x.json" "$T/held.jsonl"
expect_err "no 'word CLASS' line"
printf 'word a-z\nunit ab c-\n' > "$T/c3"
expect_rc 1 "$B" train --classes "$T/c3" -o "$T/x.json" "$T/held.jsonl"
expect_err "unit 'c-'"
printf 'word z-a\n' > "$T/c4"
expect_rc 1 "$B" train --classes "$T/c4" -o "$T/x.json" "$T/held.jsonl"
expect_err "c4:1: the classes make a pattern that does not compile"
expect_rc 2 "$B" train --classes $CL --pattern gpt4 -o "$T/x.json" "$T/held.jsonl"
expect_err "--classes replaces the pattern"
check_done test_classes
