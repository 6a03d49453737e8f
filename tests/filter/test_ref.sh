# bin/filter's Gopher rules against datatrove's code, transcribed in Python
# (tests/filter/ref_gopher.py, with our word splitter): every 8th document of the
# bundled corpus must get the same verdict and the same reason, and under
# `filter stats` the same value for every Gopher rule (to the last bit).
. tests/check.sh
zcat corpora/en.jsonl.gz | awk 'NR % 8 == 1' > "$T/in.jsonl"
expect_rc 0 "$BIN/filter" -j 2 --rejects "$T/rej.jsonl" "$T/in.jsonl"
{ grep -o '"id":"[^"]*"' "$T/out" | sed 's/"id":"\(.*\)"/\1\tkeep/'
  sed 's/.*"id":"\([^"]*\)".*"filter_reason":"\([a-z0-9_]*\)"\(,"filter_value":[-+.0-9e]*\)\{0,1\}}$/\1\t\2/' "$T/rej.jsonl"; } | sort > "$T/ours"
/usr/bin/python3 tests/filter/ref_gopher.py < "$T/in.jsonl" | sort > "$T/ref"
n=$(wc -l < "$T/ref")
if [ "$n" -gt 3000 ]; then ok; else fail "expected over 3000 documents, got $n"; fi
if cmp -s "$T/ours" "$T/ref"; then ok; else
    fail "verdicts differ from datatrove's on $(diff "$T/ours" "$T/ref" | grep -c '^<') of $n documents: $(diff "$T/ours" "$T/ref" | head -6 | tr '\n' ' ')"
fi
# every Gopher value that filter stats reports is the reference's
expect_rc 0 "$BIN/filter" stats -j 2 -o "$T/stats.jsonl" "$T/in.jsonl"
/usr/bin/python3 tests/filter/ref_gopher.py --values < "$T/stats.jsonl" > "$T/values"
last=$(tail -n 1 "$T/values")
case "$last" in
    "$n documents, "*" values, 0 differ") ok ;;
    *) fail "filter stats values differ from the reference's: $(head -n 5 "$T/values" | tr '\n' ' ') ... $last" ;;
esac
echo "$last"
echo "$n documents, reasons: $(cut -f2 "$T/ref" | sort | uniq -c | sort -rn | head -6 | awk '{printf "%s %s, ", $2, $1}')"
check_done test_ref
