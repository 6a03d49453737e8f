# A long document (one JSON line: words of the bundled corpus drawn at random,
# as bench/filter/long.sh makes its 60 MB one) takes at most 4 times its size in
# memory plus a constant: the peak RSS of bin/filter on a line of 3 MB and on
# one of 6 MB (the second the first and as much again) grows by at most 4 bytes
# a byte of line, with the default rules, -j 2, every set, and measuring
# (filter stats); reading and writing alone (--preset none) by at
# most 2.5 (the line as read and its text, neither copied again). The peak is
# ru_maxrss from wait4 in Python, which starts filter by posix_spawn: a child
# counts its parent's 8 MB until it execs, and each run here is past that.
# And between normal documents, the long line changes nothing in the output
# with -j 1, 2, 3. Speed is bench/filter/long.sh's.
. tests/check.sh
F=$BIN/filter
PY=/usr/bin/python3
zcat corpora/en.jsonl.gz | head -n 2000 > "$T/small.jsonl"
$PY - "$T/small.jsonl" "$T/long3.jsonl" "$T/long6.jsonl" <<'EOF'
import json, random, sys
random.seed(1)
words = []
for line in open(sys.argv[1], encoding="utf-8"):
    words.extend(json.loads(line)["text"].split())
out, n, half = [], 0, None
while n < 6e6:
    para = []
    for _ in range(random.randint(1, 6)):
        s = " ".join(random.choice(words) for _ in range(random.randint(6, 25))).rstrip(".,;:") + "."
        para.append(s[0].upper() + s[1:])
    p = " ".join(para); out.append(p); n += len(p.encode()) + 1
    if half is None and n >= 3e6: half = len(out)
for name, paras in ((sys.argv[2], out[:half]), (sys.argv[3], out)):
    with open(name, "w", encoding="utf-8") as f:
        f.write(json.dumps({"id": 1, "text": "\n".join(paras)}, ensure_ascii=False) + "\n")
EOF
L3=$(wc -c < "$T/long3.jsonl") L6=$(wc -c < "$T/long6.jsonl")
[ "$L3" -gt 3000000 ] && [ "$L6" -gt $((L3 + 2900000)) ] && ok || fail "the long lines are $L3 and $L6 bytes"

rss_kb() { # CMD... -> its peak RSS in KB (its output thrown away), or "failed"
    $PY -S -c 'import os, sys
null = os.open(os.devnull, os.O_WRONLY)
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=[
    (os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
_, status, ru = os.wait4(pid, 0)
print(ru.ru_maxrss if status == 0 else "failed")' "$@"
}
asan=0; ldd "$F" 2>/dev/null | grep -q libasan && asan=1
expect_slope() { # TIMES_TEN ARGS...: RSS grows by at most TIMES_TEN/10 bytes a byte of line
    local k=$1; shift
    local a b
    a=$(rss_kb "$F" "$@" --quiet "$T/long3.jsonl")
    b=$(rss_kb "$F" "$@" --quiet "$T/long6.jsonl")
    if [ "$a" = failed ] || [ "$b" = failed ]; then fail "filter $* failed"; return; fi
    # not under ASan (make asan): its shadow memory and quarantine of freed
    # blocks are several bytes a byte of line on their own
    if [ "$asan" = 1 ]; then ok; return; fi
    local per=$(( (b - a) * 1024 * 100 / (L6 - L3) ))
    [ -n "${VERBOSE:-}" ] && echo "filter $*: $a KB on 3 MB, $b KB on 6 MB: $per/100 bytes a byte" >&2
    if [ "$per" -le $((k * 10)) ]; then ok; else
        fail "filter $*: peak RSS $a KB on a line of $((L3 / 1024)) KB, $b KB on one of $((L6 / 1024)) KB:" \
            "$per/100 bytes a byte of line, more than $k/10"
    fi
}
expect_slope 40 -j 1
expect_slope 40 -j 2
expect_slope 40 -j 1 --rules gopher,c4,fineweb
expect_slope 25 -j 1 --preset none
expect_slope 40 stats -j 1 --rules gopher,c4,fineweb -o /dev/null

# the long line among normal documents: the same output whatever -j is
{ head -n 300 "$T/small.jsonl"; cat "$T/long3.jsonl"; sed -n 301,500p "$T/small.jsonl"; } > "$T/mixed.jsonl"
for args in "" "--preset none"; do
    for j in 1 2 3; do
        [ -n "$args" ] && [ "$j" = 2 ] && continue
        # shellcheck disable=SC2086
        expect_rc 0 "$F" --quiet -j $j $args --rejects "$T/rej$j.jsonl" "$T/mixed.jsonl"
        mv "$T/out" "$T/out$j.jsonl"
        expect_same "$T/out1.jsonl" "$T/out$j.jsonl"
        expect_same "$T/rej1.jsonl" "$T/rej$j.jsonl"
    done
done
# with --preset none every document is kept, byte for byte
expect_rc 0 "$F" --quiet -j 2 --preset none "$T/mixed.jsonl"
expect_same "$T/mixed.jsonl" "$T/out"
# the long one goes as too many words (after every repetition rule passed)
expect_rc 0 "$F" --quiet -j 3 --rejects "$T/rej.jsonl" "$T/mixed.jsonl"
grep -q '^{"id": 1, .*"filter_reason":"gopher_max_words"' "$T/rej.jsonl" && ok ||
    fail "expected the long line dropped as gopher_max_words"
expect_rc 0 "$F" stats --quiet -j 1 -o "$T/s1.jsonl" "$T/mixed.jsonl"
expect_rc 0 "$F" stats --quiet -j 3 -o "$T/s3.jsonl" "$T/mixed.jsonl"
expect_same "$T/s1.jsonl" "$T/s3.jsonl"
check_done test_long
