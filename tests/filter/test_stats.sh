# What bin/filter tells a user about their own data: the hint when more than
# half of the input is dropped (and not otherwise), `filter stats` (each
# rule's value per document, equal to what the decision used, a document at a
# threshold on its documented side, quantiles on known and random input
# against numpy), "filter_value" in the rejects, and a progress line that
# counts megabytes.
. tests/check.sh
F=$BIN/filter
PY=/usr/bin/python3

expect_rc 0 "$F" --help
expect_out "filter stats [options] [-o FILE] [FILE...]"
expect_out '"filter_value"'
expect_rc 2 "$F" stats --rejects "$T/r.jsonl"
expect_err "stats writes no rejects"

# ---- the hint: more than half dropped, not half. Ten documents, a user rule
# drops those with "x" in them: 5 then 6.
docs() { # N_DROPPED
    for i in $(seq 10); do
        if [ "$i" -le "$1" ]; then printf '{"text":"doc %d x"}\n' "$i"; else printf '{"text":"doc %d"}\n' "$i"; fi
    done
}
printf 'dropme drop-doc x\n' > "$T/x.rules"
docs 5 > "$T/half.jsonl"
docs 6 > "$T/more.jsonl"
expect_rc 0 "$F" --preset none --rules-file "$T/x.rules" "$T/half.jsonl"
expect_err "filter: 10 in, 5 kept, 5 dropped: dropme 5"
if grep -q "dropped 5 of 10" "$T/err" || grep -q "filter stats" "$T/err"; then fail "hint at exactly half: $(cat "$T/err")"; else ok; fi
[ "$(wc -l < "$T/err")" = 1 ] && ok || fail "expected the summary line alone, got: $(cat "$T/err")"
expect_rc 0 "$F" --preset none --rules-file "$T/x.rules" "$T/more.jsonl"
expect_err "filter: 10 in, 4 kept, 6 dropped: dropme 6"
expect_err "filter: dropped 6 of 10 documents (60%), most by dropme 6."
expect_err "'filter stats' with the same options and files"
expect_err "(--preset none)"
expect_err "'filter rules' lists the rules"
expect_rc 0 "$F" --quiet --preset none --rules-file "$T/x.rules" "$T/more.jsonl"
[ -s "$T/err" ] && fail "--quiet should silence the hint: $(cat "$T/err")" || ok

# ARPAbet: every document goes as gopher_stop_words; the hint names that rule
# in its examples, and the exit status stays 0.
zcat corpora/arpabet.jsonl.gz | head -n 2000 > "$T/arpa.jsonl"
expect_rc 0 "$F" --no-rule top_2_gram --no-rule top_3_gram --no-rule top_4_gram --no-rule gopher_min_words "$T/arpa.jsonl"
expect_err "filter: dropped 2000 of 2000 documents (100%), most by gopher_stop_words "
expect_err "(--rule gopher_stop_words=V)"
expect_err "(--no-rule gopher_stop_words)"
# the top three reasons with their counts, largest first
expect_rc 0 "$F" corpora/en.jsonl.gz
expect_err "most by gopher_min_words 5223, top_3_gram 4554, top_4_gram 3823."

# ---- a document exactly at a threshold: dup_line_frac drops when > V. Ten
# lines, three repeat an earlier one: 3/10, which is the double 0.3.
printf '{"text":"a\\nb\\nc\\nd\\ne\\nf\\ng\\na\\nb\\nc"}\n' > "$T/at.jsonl"
expect_rc 0 "$F" stats --preset none --rule dup_line_frac=0.3 -o "$T/at-stats.jsonl" "$T/at.jsonl"
grep -q '"filter_stats":{[^}]*"dup_line_frac":0.3,' "$T/at-stats.jsonl" && ok ||
    fail "stats should report dup_line_frac 0.3: $(cat "$T/at-stats.jsonl")"
grep -q filter_reason "$T/at-stats.jsonl" && fail "at the threshold the document is kept: $(cat "$T/at-stats.jsonl")" || ok
expect_rc 0 "$F" --preset none --rule dup_line_frac=0.3 --rejects "$T/at-rej.jsonl" "$T/at.jsonl"
expect_same "$T/at.jsonl" "$T/out"
expect_rc 0 "$F" --preset none --rule dup_line_frac=0.29 --rejects "$T/at-rej.jsonl" "$T/at.jsonl"
[ "$(cat "$T/at-rej.jsonl")" = '{"text":"a\nb\nc\nd\ne\nf\ng\na\nb\nc","filter_reason":"dup_line_frac","filter_value":0.3}' ] && ok ||
    fail "just under: dropped with value 0.3, got: $(cat "$T/at-rej.jsonl")"
# rules that drop below V: 8 tokens with a letter of 10 is 0.8 (kept at 0.8),
# and 10 words at gopher_min_words=10 (kept)
printf '{"text":"a b c d e f g h 1 2"}\n' > "$T/alpha.jsonl"
for v in 0.8 0.81; do
    expect_rc 0 "$F" stats --preset none --rule gopher_alpha_words=$v --rule gopher_min_words=10 -o "$T/s$v.jsonl" "$T/alpha.jsonl"
done
grep -q '"gopher_min_words":10,.*"gopher_alpha_words":0.8,' "$T/s0.8.jsonl" && ok || fail "values: $(cat "$T/s0.8.jsonl")"
grep -q filter_reason "$T/s0.8.jsonl" && fail "0.8 at gopher_alpha_words=0.8 is kept: $(cat "$T/s0.8.jsonl")" || ok
grep -q '"filter_reason":"gopher_alpha_words","filter_value":0.8,"filter_stats"' "$T/s0.81.jsonl" && ok ||
    fail "0.8 at gopher_alpha_words=0.81 is dropped: $(cat "$T/s0.81.jsonl")"
expect_rc 0 "$F" --preset none --rule gopher_min_words=11 --rejects "$T/mw.jsonl" "$T/alpha.jsonl"
grep -q '"filter_reason":"gopher_min_words","filter_value":10}$' "$T/mw.jsonl" && ok || fail "10 words at 11: $(cat "$T/mw.jsonl")"

# ---- quantiles of a known input: documents of 1..12 words. Nearest rank, the
# value at rank ceil(q n): 1% is the 1st value (0.12), 10% the 2nd (1.2), 50%
# the 6th, 90% the 11th (10.8), 99% the 12th (11.88).
for k in $(seq 12); do printf '{"text":"%s"}\n' "$(seq -s ' ' 1 $k | sed 's/[0-9]*/w/g')"; done > "$T/twelve.jsonl"
expect_rc 0 "$F" stats --preset none --rule gopher_min_words=4 "$T/twelve.jsonl"
row=$(awk '$1 == "gopher_min_words"' "$T/out")
got=$(echo "$row" | awk '{print $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14}')
[ "$got" = "on < 4 12 1 1 2 6 11 12 12 25.0% 3" ] && ok || fail "gopher_min_words row: '$row'"
expect_out "12 documents, 9 kept and 3 dropped with these rules"
# a rule that is off is measured too; its 'fails' counts what it would drop
row=$(awk '$1 == "gopher_max_words"' "$T/out")
got=$(echo "$row" | awk '{print $2, $3, $4, $5, $6, $12, $13, $14}')
[ "$got" = "off > 100000 12 1 12 0.00% 0" ] && ok || fail "gopher_max_words row: '$row'"

# random input against numpy's quantile(method="inverted_cdf"): word counts
# (whole numbers, printed exactly) and letter ratios (printed to 4 digits)
seed=${SEED:-$RANDOM}
echo "test_stats: random quantiles with seed $seed (SEED=$seed to repeat)"
$PY - "$seed" "$T/rand.jsonl" "$T/rand.want" <<'PY'
import json, random, sys
import numpy as np
random.seed(int(sys.argv[1]))
n_docs = random.randint(1, 400)
words, alpha = [], []
with open(sys.argv[2], "w") as f:
    for _ in range(n_docs):
        a, d = random.randint(1, 300), random.randint(0, 300)
        f.write(json.dumps({"text": " ".join(["w"] * a + ["7"] * d)}) + "\n")
        words.append(a + d)   # "7" is a word: not only punctuation
        alpha.append(a / (a + d))
def fmt(x):
    return "%.0f" % x if x == int(x) else "%.4g" % x
q = [0, 0.01, 0.1, 0.5, 0.9, 0.99, 1]
with open(sys.argv[3], "w") as f:
    for name, v in (("gopher_min_words", words), ("gopher_alpha_words", alpha)):
        f.write(" ".join([name, str(n_docs)] + [fmt(np.quantile(np.array(v), x, method="inverted_cdf")) for x in q]) + "\n")
PY
expect_rc 0 "$F" stats "$T/rand.jsonl"
awk '$1 == "gopher_min_words" || $1 == "gopher_alpha_words" {print $1, $5, $6, $7, $8, $9, $10, $11, $12}' "$T/out" > "$T/rand.got"
if cmp -s "$T/rand.want" "$T/rand.got"; then ok; else
    fail "quantiles (seed $seed) differ from numpy's: want $(tr '\n' ' ' < "$T/rand.want"), got $(tr '\n' ' ' < "$T/rand.got")"; fi

# ---- on the bundled corpus with every rule set and a user rule: the stats
# pass gives each document the reason and value the judging pass gives it
# (a stats line without "filter_stats" is the reject, byte for byte), the
# value after "filter_value" is the rule's own in "filter_stats", and each
# reason is the first rule, in order, whose value fails its threshold as the
# table states it.
zcat corpora/en.jsonl.gz > "$T/en.jsonl"
printf 'spam drop-doc (?i)click here\nsig drop-line ^-- ?$\n' > "$T/u.rules"
args="--rules c4,fineweb --rules-file $T/u.rules"
# shellcheck disable=SC2086
expect_rc 0 "$F" -j 2 $args --rejects "$T/rej.jsonl" -o "$T/kept.jsonl" "$T/en.jsonl"
# shellcheck disable=SC2086
expect_rc 0 "$F" stats -j 2 $args -o "$T/st.jsonl" "$T/en.jsonl"
cp "$T/out" "$T/table"
[ "$(wc -l < "$T/st.jsonl")" = "$(wc -l < "$T/en.jsonl")" ] && ok || fail "stats should write every document"
grep '"filter_reason"' "$T/st.jsonl" | sed 's/,"filter_stats":{[^}]*}}$/}/' > "$T/st-rej.jsonl"
expect_same "$T/rej.jsonl" "$T/st-rej.jsonl"
n_kept=$(grep -vc '"filter_reason"' "$T/st.jsonl")
[ "$n_kept" = "$(wc -l < "$T/kept.jsonl")" ] && ok || fail "stats keeps $n_kept, the judging pass $(wc -l < "$T/kept.jsonl")"
# shellcheck disable=SC2086
expect_rc 0 "$F" stats -j 1 $args -o "$T/st1.jsonl" "$T/en.jsonl"
expect_same "$T/st.jsonl" "$T/st1.jsonl"
$PY - "$T/table" "$T/st.jsonl" > "$T/check" <<'PY'
import json, math, sys
rules = []  # (name, on, direction, threshold, is a line rule) in the table's order
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 13 or f[0] == "rule" or f[1] not in ("on", "off"):
        continue
    when = f[2:-10]  # "< V", "> V", "has it", "line", "line < V"
    if when[0] in ("<", ">"):
        rules.append((f[0], f[1] == "on", when[0], float(when[1]), False))
    else:  # a line rule's lines, or "has it" (0 or 1): fails when > 0
        rules.append((f[0], f[1] == "on", ">", 0.0, when[0] == "line"))
def fails(d, x, v):
    return x is not None and (x < v if d == "<" else x > v)
n = bad = 0
n_fail = {r[0]: 0 for r in rules}
for line in open(sys.argv[2]):
    d = json.loads(line)
    st, reason = d["filter_stats"], d.get("filter_reason")
    n += 1
    first = None
    for name, on, dirn, v, count in rules:
        if fails(dirn, st[name], v):
            n_fail[name] += 1
            if on and not count and first is None:
                first = name
    if reason in st:  # a built-in rule: the first that fails, with its value
        if reason != first or d.get("filter_value", st[reason]) != st[reason] or (
                "filter_value" not in d and reason not in ("c4_lorem_ipsum", "c4_curly_bracket")):
            bad += 1
            print(f"line {n}: reason {reason} value {d.get('filter_value')}, first failing {first}, values {st}")
    elif first is not None and reason is None:
        bad += 1
        print(f"line {n}: kept, but {first} fails with {st[first]}")
# the table's "fails" column is the share of these documents
for line in open(sys.argv[1]):
    f = line.split()
    if f and f[0] in n_fail and len(f) >= 13:
        want = 100.0 * n_fail[f[0]] / n
        want = ("%.2f%%" if want < 10 else "%.1f%%") % want
        if f[-2] != want:
            bad += 1
            print(f"{f[0]}: table says fails {f[-2]}, the values {want}")
print(f"{n} documents, {bad} wrong")
PY
last=$(tail -n 1 "$T/check")
[ "$last" = "$(wc -l < "$T/en.jsonl") documents, 0 wrong" ] && ok || fail "values against decisions: $(head -n 5 "$T/check") ... $last"

# -o -: documents to stdout, the table to stderr
expect_rc 0 "$F" stats --preset none -o - "$T/at.jsonl"
grep -q '^{"text":.*"filter_stats":{' "$T/out" && ok || fail "-o - should write documents to stdout: $(head -c 200 "$T/out")"
expect_err "What each rule measures on them"

# ---- progress counts megabytes as they are read (it said 0.0 MB until the
# input was closed). The stats pass on the corpus, one thread, lasts long
# enough for the line to be drawn (it is, after half a second).
expect_rc 0 "$F" stats -j 1 --progress "$T/en.jsonl"
tr '\r' '\n' < "$T/err" | grep -E '^filter: [0-9]+ docs, ' > "$T/progress"
if [ -s "$T/progress" ] && awk '{ if ($4 + 0 <= 0 || $6 + 0 <= 0) exit 1 }' "$T/progress"; then ok; else
    fail "progress lines should count MB and MB/s: $(head -n 3 "$T/progress" | tr '\n' ' ') (stderr: $(tr '\r' '\n' < "$T/err" | head -c 300))"; fi

check_done test_stats
