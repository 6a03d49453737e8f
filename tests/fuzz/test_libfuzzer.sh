#!/usr/bin/env bash
# Replays every committed corpus and crasher file (tests/fuzz/corpus/TARGET/,
# tests/fuzz/crashers/TARGET/) through the libFuzzer binaries once (-runs=0):
# clang's sanitizers see what gcc's miss (NULL + 0, for one), so a crasher
# found by make fuzz fails here when its fix is undone. test_fuzz replays the
# same files in the gcc builds. A check a target; skipped without the clang
# build (make test builds it where clang is installed, as make deps does).
set -u
cd "$(dirname "$0")/../.." || exit 1
FUZZ_BIN=${FUZZ_BIN:-build/fuzz/bin}
if ! ls "$FUZZ_BIN"/fuzz_* > /dev/null 2>&1; then
    echo "test_libfuzzer: skipped: no libFuzzer binaries in $FUZZ_BIN (make fuzz-build needs clang)"
    exit 0
fi
out=$(FUZZ_OUT=${FUZZ_OUT:-build/fuzz} bash tests/fuzz/run.sh "$FUZZ_BIN" 0 2>&1)
printf '%s\n' "$out"
pass=$(printf '%s\n' "$out" | grep -c ': [0-9]* files replayed$')
fail=$(printf '%s\n' "$out" | grep -c ': FAILED')
# every target of targets.c has its binary (the Makefile's FUZZ_TARGETS)
list=${BUILD:-build}/tests/fuzz/test_fuzz
if [ -x "$list" ]; then
    for t in $("$list" --list | cut -d' ' -f1); do
        [ -x "$FUZZ_BIN/fuzz_$t" ] || { echo "test_libfuzzer: no $FUZZ_BIN/fuzz_$t (add $t to FUZZ_TARGETS)"; fail=$((fail + 1)); }
    done
fi
[ "$pass" -gt 0 ] || fail=$((fail + 1))
echo "test_libfuzzer: $pass passed, $fail failed"
[ "$fail" = 0 ]
