# bin/filter from the outside: help and bad usage, the summary and --rejects
# (input = kept + dropped, rejects hold exactly the dropped), -j invariance,
# bad input and bad rule files leave no output file, the classifier trained on
# the labelled sample of corpora/, bad model files, pareto keeping.
. tests/check.sh
F=$BIN/filter

expect_rc 0 "$F" --help
expect_out "usage: filter"
expect_out "example:"
expect_out "--rules-file FILE"
expect_out "--keep pareto:A"
expect_rc 0 "$F" rules
expect_out "gopher_min_words       gopher   doc   on          50"
expect_out "c4_min_sentences       c4       doc   off          5"
expect_rc 0 "$F" rules --preset none --rules c4 --rule c4_min_sentences=3 --no-rule c4_policy
expect_out "gopher_min_words       gopher   doc   off"
expect_out "c4_min_sentences       c4       doc   on           3"
expect_out "c4_policy              c4       line  off"
expect_rc 2 "$F" --rule no_such_rule=1
expect_err "no rule named 'no_such_rule'"
expect_err "try 'filter --help'"
expect_rc 2 "$F" --rule gopher_min_words=abc
expect_err "--rule gopher_min_words needs a number"
expect_rc 2 "$F" --rule c4_javascript=1
expect_err "c4_javascript is on or off"
expect_rc 2 "$F" --rules html
expect_err "--rules takes sets"
expect_rc 2 "$F" --preset all
expect_rc 2 "$F" --keep pareto:9
expect_err "--keep needs --model"
expect_rc 2 "$F" --model m --keep median
expect_rc 2 "$F" train --pos a.jsonl -o m
expect_err "train needs --pos FILE and --neg FILE"
expect_rc 2 "$F" train --pos a --neg b -o m --buckets 1000
expect_err "power of two"

# A small mixed input: good prose, a short one, a repetitive one, a list.
good="The history of the river valley is long and it is told in many old books. Farmers came to the plain with their cattle and built houses of stone and wood. Later a railway reached the town, and trade grew quickly along the new line. Today the valley is known for its orchards, its quiet lanes and a small museum. Visitors walk the old paths that lead from the church to the water mill."
{
    for i in 1 2 3 4 5 6; do printf '{"id":"g%d","text":"%s Number %d."}\n' $i "$good" $i; done
    printf '{"id":"short","text":"Too short to keep."}\n'
    printf '{"id":"rep","text":"%s"}\n' "$(for i in $(seq 30); do printf 'buy cheap pills now '; done)"
    printf '{"id":"list","meta":{"a":[1,2]},"text":"%s"}\n' "$(for i in $(seq 60); do printf -- '- entry %d\\n' $i; done)"
    printf '{"id":"nums","text":"%s"}\n' "$(for i in $(seq 80); do printf '%d ' $((i * 7919)); done)the and of"
} > "$T/in.jsonl"

# Gopher repetition runs first (as in FineWeb's pipeline), and the top 2-gram of a
# very short document is a large part of it: a short document goes as top_2_gram.
expect_rc 0 "$F" "$T/in.jsonl"
expect_err "filter: 10 in, 6 kept, 4 dropped: top_2_gram 3, gopher_alpha_words 1; "
expect_rc 0 "$F" --no-rule top_2_gram --no-rule top_3_gram --no-rule top_4_gram --rejects "$T/rej.jsonl" -o "$T/kept.jsonl" "$T/in.jsonl"
expect_err "filter: 10 in, 6 kept, 4 dropped: dup_5_gram 1, gopher_min_words 1, gopher_bullet_lines 1, gopher_alpha_words 1; "
kept=$(wc -l < "$T/kept.jsonl"); rej=$(wc -l < "$T/rej.jsonl")
if [ "$kept" = 6 ] && [ "$rej" = 4 ]; then ok; else fail "expected 6 kept and 4 rejects, got $kept and $rej"; fi
# rejects are exactly the dropped documents: the ids of kept + rejects are the input's
cat "$T/kept.jsonl" "$T/rej.jsonl" | grep -o '"id":"[a-z0-9]*"' | sort > "$T/ids.out"
grep -o '"id":"[a-z0-9]*"' "$T/in.jsonl" | sort > "$T/ids.in"
expect_same "$T/ids.in" "$T/ids.out"
if grep -q filter_reason "$T/kept.jsonl"; then fail "kept documents carry filter_reason"; else ok; fi
n_reason=$(grep -cE '"filter_reason":"[a-z0-9_]*","filter_value":[-+.0-9e]+}$' "$T/rej.jsonl")
if [ "$n_reason" = 4 ]; then ok; else fail "expected 4 rejects ending with filter_reason and filter_value, got $n_reason"; fi
grep -q '{"id":"list","meta":{"a":\[1,2\]},"text":".*","filter_reason":"gopher_bullet_lines","filter_value":1}' "$T/rej.jsonl" && ok ||
    fail "the list document should pass through byte for byte with filter_reason gopher_bullet_lines: $(grep list "$T/rej.jsonl" | head -c 200)"
# filter_value is what the rule measured: "Too short to keep." has 4 words (the
# full stop is not one); "nums" has 3 tokens with a letter of 83 (80 numbers)
grep -q '"id":"short".*"filter_reason":"gopher_min_words","filter_value":4}' "$T/rej.jsonl" && ok ||
    fail "short should be gopher_min_words with value 4: $(grep short "$T/rej.jsonl")"
grep -q '"id":"nums".*"filter_reason":"gopher_alpha_words","filter_value":0.03614457831325301}' "$T/rej.jsonl" && ok ||
    fail "nums should be gopher_alpha_words with value 3/83: $(grep nums "$T/rej.jsonl" | tail -c 100)"
# kept documents come out byte for byte
grep '"id":"g' "$T/in.jsonl" > "$T/good.jsonl"
expect_same "$T/good.jsonl" "$T/kept.jsonl"

# -j does not change a byte, on the bundled corpus too
for j in 1 2; do
    expect_rc 0 "$F" -j $j --rules c4,fineweb --rejects "$T/rej$j.jsonl" -o "$T/out$j.jsonl" "$T/in.jsonl" corpora/en.jsonl.gz
done
expect_same "$T/out1.jsonl" "$T/out2.jsonl"
expect_same "$T/rej1.jsonl" "$T/rej2.jsonl"
n_in=$(( $(zcat corpora/en.jsonl.gz | wc -l) + 10 ))
n_out=$(( $(wc -l < "$T/out1.jsonl") + $(wc -l < "$T/rej1.jsonl") ))
if [ "$n_in" = "$n_out" ]; then ok; else fail "in $n_in documents, kept + rejects $n_out"; fi
expect_err "filter: $n_in in, "

# --preset none: a custom alphabet goes through untouched; the defaults would drop it
printf '{"text":"fA0nE1tI0k I1GglI0S DH AH0 K AE1 T S AE1 T"}\n' > "$T/arpa.jsonl"
expect_rc 0 "$F" --preset none "$T/arpa.jsonl"
expect_same "$T/arpa.jsonl" "$T/out"
expect_rc 0 "$F" "$T/arpa.jsonl"
expect_err "1 in, 0 kept, 1 dropped"

# plain text in, JSON out; C4 removes lines and the text is rewritten
printf 'Home | About\nThe valley is old and green.\nIt has a mill. It has a church. It has a market.\nPrivacy policy and terms of use apply.\n' > "$T/page.txt"
expect_rc 0 "$F" --preset none --rules c4 --rule c4_min_sentences=3 "$T/page.txt"
expect_out '{"text":"The valley is old and green.\nIt has a mill. It has a church. It has a market.","path":"'"$T/page.txt"'"}'
expect_err "lines removed: c4_terminal_punct 1, c4_policy 1"

# user rules: a bad pattern names file, line and offset; no output is left
printf 'sig drop-line ^-- ?$\nbad drop-doc a(b\n' > "$T/rules.txt"
expect_rc 1 "$F" --rules-file "$T/rules.txt" -o "$T/x.jsonl" "$T/in.jsonl"
expect_err "filter: $T/rules.txt:2: bad pattern of rule 'bad' at offset 3 (column 17): missing closing parenthesis"
expect_no_file "$T/x.jsonl"
printf 'pills drop-doc (?i)cheap\\s+pills\nfirst9 drop-line ^- entry \\d$\n' > "$T/rules.txt"
expect_rc 0 "$F" --preset none --rules-file "$T/rules.txt" --rejects "$T/r.jsonl" "$T/in.jsonl"
expect_err "10 in, 9 kept, 1 dropped: pills 1; lines removed: first9 9"
grep -q '"id":"rep".*"filter_reason":"pills"}' "$T/r.jsonl" && ok || fail "rep should be dropped by pills"
grep -q '"id":"list","meta":{"a":\[1,2\]},"text":"- entry 10\\n- entry 11' "$T/out" && ok || fail "first9 should remove the first 9 lines"
# a line rule that removes every line of a document drops it as "empty"
printf 'numbered drop-line Number \\d\n' > "$T/rules.txt"
expect_rc 0 "$F" --preset none --rules-file "$T/rules.txt" "$T/in.jsonl"
expect_err "10 in, 4 kept, 6 dropped: empty 6; lines removed: numbered 6"

# bad input: the line is named, exit 1, no output file
printf '{"text":"fine"}\n{"text": broken}\n' > "$T/bad.jsonl"
expect_rc 1 "$F" -o "$T/y.jsonl" --rejects "$T/yr.jsonl" "$T/bad.jsonl"
expect_err "filter: $T/bad.jsonl:2:"
expect_no_file "$T/y.jsonl"
expect_no_file "$T/yr.jsonl"
expect_rc 0 "$F" --preset none --on-error skip "$T/bad.jsonl"
expect_err "1 bad lines skipped"
# --bad-lines is written like any output: committed when the run succeeds,
# removed (with its temporary) when it fails later, here on a bad .gz.
expect_rc 0 "$F" --preset none --on-error skip --bad-lines "$T/bl.txt" -o "$T/y.jsonl" "$T/bad.jsonl"
[ "$(cat "$T/bl.txt")" = '{"text": broken}' ] && ok || fail "bad-lines holds: $(head -c 200 "$T/bl.txt")"
rm -f "$T/bl.txt" "$T/y.jsonl"
printf '\037\213\011\000\000\000\000\000\000\003junk' > "$T/notgz.jsonl.gz"
expect_rc 1 "$F" --preset none --on-error skip --bad-lines "$T/bl.txt" -o "$T/y.jsonl" "$T/bad.jsonl" "$T/notgz.jsonl.gz"
expect_err "filter: $T/notgz.jsonl.gz: offset "
grep -q '<fd:' "$T/err" && fail "zlib's <fd:N> in: $(cat "$T/err")" || ok
expect_no_file "$T/bl.txt"
expect_no_file "$T/y.jsonl"
# A line over --max-line stops the run, or with skip is a bad line like the
# others: skipped, counted, copied byte for byte.
printf '{"text":"short"}\n{"text":"a line longer than the limit"}\n{"text":"end"}\n' > "$T/long.jsonl"
expect_rc 1 "$F" --preset none --max-line 20 "$T/long.jsonl"
expect_err "filter: $T/long.jsonl:2: line is 39 bytes, limit 20"
expect_rc 0 "$F" --preset none --max-line 20 --on-error skip --bad-lines "$T/bl.txt" "$T/long.jsonl"
expect_err "1 bad lines skipped"
[ "$(cat "$T/out")" = '{"text":"short"}
{"text":"end"}' ] && ok || fail "long line skipped: got $(head -c 200 "$T/out")"
[ "$(cat "$T/bl.txt")" = '{"text":"a line longer than the limit"}' ] && ok || fail "bad-lines holds: $(head -c 200 "$T/bl.txt")"

# gzip: members one after another read as one input; anything else after a
# member is an error at its offset (zlib's gzread would drop it silently).
printf '{"text":"one"}\n' | gzip -c > "$T/a.jsonl.gz"
printf '{"text":"two"}\n' | gzip -c > "$T/b.jsonl.gz"
cat "$T/a.jsonl.gz" "$T/b.jsonl.gz" > "$T/ab.jsonl.gz"
expect_rc 0 "$F" --preset none "$T/ab.jsonl.gz"
[ "$(cat "$T/out")" = '{"text":"one"}
{"text":"two"}' ] && ok || fail "two gzip members: got $(head -c 200 "$T/out")"
run sh -c "cat '$T/a.jsonl.gz' '$T/long.jsonl' | '$F' --preset none"
[ "$rc" = 1 ] && ok || fail "gzip then plain text: exit $rc"
expect_err "filter: <stdin>: offset $(stat -c %s "$T/a.jsonl.gz"): data after the end of a gzip member"

# empty input, and input without a final newline
expect_rc 0 "$F" < /dev/null
expect_err "filter: 0 in, 0 kept, 0 dropped"
if [ -s "$T/out" ]; then fail "empty input should give empty output"; else ok; fi
printf '{"text":"fA0nE1tI0k"}' > "$T/nonl.jsonl"
expect_rc 0 "$F" --preset none "$T/nonl.jsonl"
expect_out '{"text":"fA0nE1tI0k"}'

# train: bad input names the file and line, and leaves no model behind
printf '{"text":"good words here"}\n' > "$T/p.jsonl"
printf '{"text":"bad words"}\n{"txt":"no text"}\n' > "$T/n.jsonl"
expect_rc 1 "$F" train --pos "$T/p.jsonl" --neg "$T/n.jsonl" -o "$T/m.model"
expect_err "filter: $T/n.jsonl:2:"
expect_no_file "$T/m.model"
expect_rc 1 "$F" train --pos "$T/p.jsonl" --neg "$T/missing.jsonl" -o "$T/m.model"
expect_err "missing.jsonl"
expect_no_file "$T/m.model"
printf '{"txt":"no text"}\n' > "$T/nbad.jsonl"
expect_rc 1 "$F" train --pos "$T/p.jsonl" --neg "$T/nbad.jsonl" --holdout 0 -o "$T/m.model" --on-error skip
expect_err "training needs good and bad documents; got 1 good and 0 bad"
expect_no_file "$T/m.model"
printf '{"text":"bad words"}\n' > "$T/n.jsonl"
expect_rc 0 "$F" train --pos "$T/p.jsonl" --neg "$T/n.jsonl" --holdout 0 -o "$T/m.model" --buckets 1Ki
expect_out "held_out   0 documents"
expect_rc 0 "$F" --preset none --model "$T/m.model" --keep all "$T/p.jsonl"
expect_out '{"text":"good words here","quality":0.'

# The classifier on the labelled sample (corpora/quality-*.jsonl.gz, built
# here when make has not built them).
Q=corpora
if [ ! -f $Q/quality-train.jsonl.gz ] || [ ! -f $Q/quality-test.jsonl.gz ]; then
    Q=$T; node corpora/build-quality.js "$T" > /dev/null
fi
zcat $Q/quality-train.jsonl.gz | grep '^{"label":"good"' > "$T/tr-good.jsonl"
zcat $Q/quality-train.jsonl.gz | grep '^{"label":"bad"' > "$T/tr-bad.jsonl"
zcat $Q/quality-test.jsonl.gz | grep '^{"label":"good"' > "$T/te-good.jsonl"
zcat $Q/quality-test.jsonl.gz | grep '^{"label":"bad"' > "$T/te-bad.jsonl"
expect_rc 0 "$F" train --pos "$T/tr-good.jsonl" --neg "$T/tr-bad.jsonl" \
    --test-pos "$T/te-good.jsonl" --test-neg "$T/te-bad.jsonl" -o "$T/q.model"
acc=$(awk '$1 == "accuracy" {print $2}' "$T/out"); auc=$(awk '$1 == "auc" {print $2}' "$T/out")
echo "classifier on the held-out labelled sample: accuracy $acc, AUC $auc"
if awk -v a="$acc" -v u="$auc" 'BEGIN { exit !(a >= 0.95 && u >= 0.98) }'; then ok; else
    fail "held-out accuracy $acc (want >= 0.95), AUC $auc (want >= 0.98)"; fi
# the model's scores separate the test files too, through the filter pass
expect_rc 0 "$F" --preset none --model "$T/q.model" --keep threshold:0.5 "$T/te-good.jsonl" "$T/te-bad.jsonl" -o "$T/scored.jsonl"
n_good_kept=$(grep -c '^{"label":"good"' "$T/scored.jsonl"); n_bad_kept=$(grep -c '^{"label":"bad"' "$T/scored.jsonl")
n_good=$(wc -l < "$T/te-good.jsonl")
if [ "$n_good_kept" -ge $((n_good * 95 / 100)) ] && [ "$n_bad_kept" -le 60 ]; then ok; else
    fail "threshold 0.5 kept $n_good_kept of $n_good good and $n_bad_kept bad"; fi
# --keep all scores every document and keeps it
expect_rc 0 "$F" --preset none --model "$T/q.model" --keep all "$T/te-good.jsonl" -o "$T/all.jsonl"
n=$(grep -c ',"quality":[01]\.[0-9]*}$' "$T/all.jsonl")
if [ "$n" = "$n_good" ]; then ok; else fail "--keep all: $n of $n_good documents end with a quality"; fi
# pareto: the same seed gives the same output, another seed another
for s in 1 1b 2; do
    expect_rc 0 "$F" --preset none --model "$T/q.model" --seed ${s%b} "$T/te-good.jsonl" "$T/te-bad.jsonl" -o "$T/p$s.jsonl"
done
expect_same "$T/p1.jsonl" "$T/p1b.jsonl"
if cmp -s "$T/p1.jsonl" "$T/p2.jsonl"; then fail "seeds 1 and 2 kept the same documents"; else ok; fi
expect_rc 0 "$F" -j 1 --preset none --model "$T/q.model" --seed 1 "$T/te-good.jsonl" "$T/te-bad.jsonl" -o "$T/pj1.jsonl"
expect_same "$T/p1.jsonl" "$T/pj1.jsonl"
# the draw is keyed on the text, not the place: two shards filtered apart give
# the whole run's output, and the documents in reverse keep the same ones
cat "$T/te-good.jsonl" "$T/te-bad.jsonl" > "$T/pall.jsonl"
half=$(( $(wc -l < "$T/pall.jsonl") / 2 ))
head -n "$half" "$T/pall.jsonl" > "$T/pa.jsonl"; tail -n +"$((half + 1))" "$T/pall.jsonl" > "$T/pb.jsonl"
expect_rc 0 "$F" --preset none --model "$T/q.model" --seed 1 "$T/pa.jsonl" -o "$T/pa-out.jsonl"
expect_rc 0 "$F" --preset none --model "$T/q.model" --seed 1 "$T/pb.jsonl" -o "$T/pb-out.jsonl"
cat "$T/pa-out.jsonl" "$T/pb-out.jsonl" > "$T/pab-out.jsonl"
expect_same "$T/p1.jsonl" "$T/pab-out.jsonl"
tac "$T/pall.jsonl" > "$T/prev.jsonl"
expect_rc 0 "$F" --preset none --model "$T/q.model" --seed 1 "$T/prev.jsonl" -o "$T/prev-out.jsonl"
if [ "$(LC_ALL=C sort "$T/prev-out.jsonl" | sha256sum)" = "$(LC_ALL=C sort "$T/p1.jsonl" | sha256sum)" ]; then ok
else fail "pareto: the documents in reverse order kept other documents"; fi

# bad model files: clear error with the offset, no output left
head -c 1000 "$T/q.model" > "$T/short.model"
expect_rc 1 "$F" --model "$T/short.model" -o "$T/z.jsonl" "$T/in.jsonl"
expect_err "filter: $T/short.model: offset 1000: truncated: 2^20 weights end at byte 4194368, the file at 1000"
expect_no_file "$T/z.jsonl"
printf 'not a model at all' > "$T/junk.model"
expect_rc 1 "$F" --model "$T/junk.model" "$T/in.jsonl"
expect_err "offset 0: not a filter model"
expect_rc 1 "$F" --model "$T/none.model" "$T/in.jsonl"
expect_err "none.model"

# datatrove joins the duplicated n-grams without spaces: "abc d e f g h" and
# "a b cd e f gh" are the same 6-gram though no 5-gram repeats. Only that rule on.
printf '{"text":"abc d e f g h x y z w a b cd e f gh"}\n' > "$T/spaced.jsonl"
expect_rc 0 "$F" --preset none --rule dup_6_gram=0.1 --rejects "$T/spaced-rej.jsonl" -o "$T/spaced-out.jsonl" "$T/spaced.jsonl"
if grep -q '"filter_reason":"dup_6_gram"' "$T/spaced-rej.jsonl" && [ ! -s "$T/spaced-out.jsonl" ]; then ok; else fail "expected the re-spaced 6-gram to trip dup_6_gram"; fi

check_done test_cli
