#!/usr/bin/env bash
# Runs every test: the C tests built into $BUILD/tests and the shell tests in
# tests/*/test_*.sh. Each ends with "name: N passed, M failed" (or says
# "name: skipped: why", as the GPU tests do where no GPU is visible); this adds
# them up and ends with the total line, "N passed, M failed, K skipped". Exit 1
# when any check failed or a test crashed.
set -u
cd "$(dirname "$0")/.."
: "${BIN:=$PWD/bin}" "${BUILD:=$PWD/build}"
export BIN BUILD
total_pass=0 total_fail=0 total_skip=0
# ONLY="a b": just those tests; NO_SKIP=1: a test that says it is skipped fails
list=${ONLY:-$(find "$BUILD/tests" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort) $(ls tests/*/test_*.sh)}
for t in $list; do
    [ -e "$t" ] || continue
    name=${t#"$BUILD"/}; name=${name#tests/}
    start=$(date +%s%N)
    if [ "${t%.sh}" != "$t" ]; then out=$(bash "$t" 2>&1); else out=$("$t" 2>&1); fi
    rc=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    # "name: skipped: why" (a GPU test on a machine without one) counts as skipped
    skip=$(printf '%s\n' "$out" | grep -E '^[^ ]+: skipped: ' | head -n 1)
    if [ -n "$skip" ] && [ "$rc" = 0 ] && [ -z "${NO_SKIP:-}" ]; then
        total_skip=$((total_skip + 1))
        printf 'skip  %-32s %s\n' "$name" "${skip#*: skipped: }"
        continue
    fi
    line=$(printf '%s\n' "$out" | grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    p=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/'); p=${p:-0}
    f=$(printf '%s' "$line" | sed -E 's/.*passed, ([0-9]+) failed/\1/'); f=${f:-0}
    if [ -z "$line" ] || { [ "$rc" != 0 ] && [ "$f" = 0 ]; }; then f=$((f + 1)); fi  # a crash counts
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    if [ "$f" = 0 ]; then
        printf 'ok    %-32s %6d checks  %4d.%03ds\n' "$name" "$p" $((ms / 1000)) $((ms % 1000))
    else
        printf 'FAIL  %-32s exit %d\n' "$name" "$rc"
        printf '%s\n' "$out" | tail -n 40 | sed 's/^/      /'
    fi
done
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" = 0 ]
