# Shell test harness, sourced by tests/*/test_*.sh. Each check prints what it
# expected on failure; check_done prints "name: N passed, M failed" as the C
# harness does, for tests/run.sh. $BIN is the folder of the programs under test.
passed=0 failed=0
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

ok()   { passed=$((passed + 1)); }
# fail names the test script's line, however deep in check.sh's helpers it is called.
fail() {
    local i=1
    while [ "${BASH_SOURCE[$i]:-}" = "${BASH_SOURCE[0]}" ]; do i=$((i + 1)); done
    failed=$((failed + 1))
    echo "${BASH_SOURCE[$i]:-?}:${BASH_LINENO[$((i - 1))]}: $*" >&2
}

# run CMD...: runs it, keeping stdout in $T/out, stderr in $T/err, status in $rc.
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }

# expect_rc N CMD...: CMD exits with N.
expect_rc() {
    local want=$1; shift
    run "$@"
    if [ "$rc" = "$want" ]; then ok; else fail "expected exit $want from '$*', got $rc: $(head -c 300 "$T/err")"; fi
}
# expect_err TEXT: the last command's stderr contains TEXT.
expect_err() {
    if grep -qF -- "$1" "$T/err"; then ok; else fail "expected stderr to contain '$1', got: $(head -c 300 "$T/err")"; fi
}
# expect_out TEXT: the last command's stdout contains TEXT.
expect_out() {
    if grep -qF -- "$1" "$T/out"; then ok; else fail "expected stdout to contain '$1', got: $(head -c 300 "$T/out")"; fi
}
# expect_no_file PATH: neither PATH nor a temporary PATH.tmp.* exists.
expect_no_file() {
    if [ -e "$1" ] || compgen -G "$1.tmp.*" >/dev/null; then fail "expected no file $1 (or $1.tmp.*)"; else ok; fi
}
expect_same() { # FILE1 FILE2
    if cmp -s "$1" "$2"; then ok; else fail "expected $1 and $2 to be identical"; fi
}
check_done() {
    echo "$1: $passed passed, $failed failed"
    [ "$failed" = 0 ]
}
