#!/usr/bin/env bash
# Runs the libFuzzer binaries that make fuzz-build writes (BINDIR/fuzz_TARGET
# and TARGET.dict), JOBS targets at once, each for SECONDS, and prints a table.
# Needs no compiler: copy BINDIR to a machine with more cores, with a checkout
# of this repository, and run it there. SECONDS 0 runs every committed corpus
# and crasher file once instead, as a check (test_libfuzzer.sh).
#   tests/fuzz/run.sh BINDIR [SECONDS [JOBS [TARGET...]]]
# Under FUZZ_OUT (default: build/fuzz of the repository):
#   corpus/TARGET/   the working corpus: what libFuzzer adds to the committed
#                    one (tests/fuzz/corpus/TARGET/, read too, never written)
#   crashes/TARGET/  crash-*, leak-*, timeout-*, oom-*: inputs that failed
#   logs/TARGET.log  libFuzzer's output
# A target that crashes is started again for the time left (up to 10 times),
# so one shallow bug does not end its run. Exit 1 when any target crashed.
set -u
usage() { echo "usage: tests/fuzz/run.sh BINDIR [SECONDS [JOBS [TARGET...]]]" >&2; exit 2; }
[ $# -ge 1 ] || usage
[ -d "$1" ] || { echo "run.sh: no folder $1 (make fuzz-build writes build/fuzz/bin)" >&2; exit 2; }
BINDIR=$(cd "$1" && pwd)
SECONDS_EACH=${2:-60}
JOBS=${3:-1}
shift $(( $# < 3 ? $# : 3 ))
case "$SECONDS_EACH$JOBS" in *[!0-9]*) usage ;; esac
[ "$JOBS" -ge 1 ] || usage
if [ -n "${FUZZ_OUT:-}" ]; then mkdir -p "$FUZZ_OUT/logs" && OUT=$(cd "$FUZZ_OUT" && pwd) || exit 1; fi
cd "$(dirname "$0")/../.." || exit 1
[ -n "${FUZZ_OUT:-}" ] || { mkdir -p build/fuzz/logs && OUT=$PWD/build/fuzz; } || exit 1
targets="$*"
if [ -z "$targets" ]; then
    for b in "$BINDIR"/fuzz_*; do [ -x "$b" ] && targets="$targets ${b##*/fuzz_}"; done
fi
[ -n "$targets" ] || { echo "run.sh: no fuzz_* binaries in $BINDIR" >&2; exit 2; }
# the targets' scratch files: in memory where /dev/shm is there
TMPBASE=${TMPDIR:-/tmp}
[ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && TMPBASE=/dev/shm

count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }

# One target, for SECONDS_EACH; its figures go to $OUT/logs/TARGET.result as
# "seconds executions cov corpus new crashes".
fuzz_one() {
    local t=$1 bin=$BINDIR/fuzz_$1 log=$OUT/logs/$1.log
    local work=$OUT/corpus/$t crashes=$OUT/crashes/$t seeds=tests/fuzz/corpus/$t fixed=tests/fuzz/crashers/$t
    mkdir -p "$work" "$crashes"
    local dirs=("$work" "$seeds")
    [ -d "$fixed" ] && dirs+=("$fixed")
    local dict=()
    [ -f "$BINDIR/$t.dict" ] && dict=(-dict="$BINDIR/$t.dict")
    local scratch crashes0 new0 start end left runs=0 execs=0 n cov=0 corp=0
    scratch=$(mktemp -d "$TMPBASE/gptkit-fuzz-$t.XXXXXX") || return 1
    crashes0=$(count "$crashes")
    new0=$(count "$work")
    start=$(date +%s)
    end=$((start + SECONDS_EACH))
    : > "$log"
    while left=$((end - $(date +%s))); [ "$left" -gt 0 ] && [ "$runs" -lt 10 ]; do
        runs=$((runs + 1))
        echo "== run.sh: run $runs, $left s" >> "$log"
        TMPDIR=$scratch "$bin" -max_total_time="$left" -timeout=10 -print_final_stats=1 "${dict[@]}" \
            -artifact_prefix="$crashes/" "${dirs[@]}" >> "$log" 2>&1 && break
        # a crash while reading the corpus in (before INITED) comes again
        sed -n '/^== run.sh: run '"$runs"',/,$p' "$log" | grep -q INITED || break
    done
    rm -rf "$scratch"
    # every run prints its executions (also when it crashed); the last
    # status line ("#N ... cov: C ft: F corp: U/SIZE") has the coverage
    while read -r n; do execs=$((execs + n)); done < <(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
    corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -n 1 | sed 's/corp: //')
    echo "$(( $(date +%s) - start )) $execs ${cov:-0} ${corp:-0} $(( $(count "$work") - new0 ))" \
         "$(( $(count "$crashes") - crashes0 ))" > "$OUT/logs/$t.result"
}

# SECONDS 0: every committed corpus and crasher file once through its
# target, named one by one (libFuzzer says "Running: FILE" before each, so
# the last such line of the log names the one that failed).
if [ "$SECONDS_EACH" = 0 ]; then
    bad=0
    for t in $targets; do
        files=$(find tests/fuzz/corpus/"$t" tests/fuzz/crashers/"$t" -type f 2>/dev/null | sort)
        [ -n "$files" ] || { echo "run.sh: $t: no files in tests/fuzz/corpus/$t"; bad=1; continue; }
        log=$OUT/logs/$t.replay.log
        mkdir -p "$OUT/crashes/$t"
        scratch=$(mktemp -d "$TMPBASE/gptkit-fuzz-$t.XXXXXX") || exit 1
        # shellcheck disable=SC2086 # the names are ours: no spaces
        if TMPDIR=$scratch "$BINDIR/fuzz_$t" -artifact_prefix="$OUT/crashes/$t/replay-" $files > "$log" 2>&1; then
            echo "run.sh: $t: $(printf '%s\n' "$files" | wc -l) files replayed"
        else
            echo "run.sh: $t: FAILED on $(grep '^Running: ' "$log" | tail -n 1 | cut -d' ' -f2-) ($log):"
            grep -E 'ERROR|runtime error|SUMMARY|property' "$log" | head -n 5 | sed 's/^/    /'
            bad=1
        fi
        rm -rf "$scratch"
    done
    exit $bad
fi

for t in $targets; do
    [ -x "$BINDIR/fuzz_$t" ] || { echo "run.sh: no $BINDIR/fuzz_$t" >&2; exit 2; }
    rm -f "$OUT/logs/$t.result"
done
echo "run.sh: $(echo "$targets" | wc -w) targets, $SECONDS_EACH s each, $JOBS at once; logs in $OUT/logs/"
for t in $targets; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    fuzz_one "$t" &
done
wait

bad=0
printf '%-9s %8s %12s %9s %7s %14s %5s %8s\n' target seconds executions exec/s cov corpus new crashes
for t in $targets; do
    if ! read -r s execs cov corp new crashed < "$OUT/logs/$t.result" 2>/dev/null; then
        printf '%-9s did not run: see %s\n' "$t" "$OUT/logs/$t.log"; bad=1; continue
    fi
    printf '%-9s %8s %12s %9s %7s %14s %5s %8s\n' "$t" "$s" "$execs" "$((s > 0 ? execs / s : execs))" "$cov" \
           "$corp" "$new" "$crashed"
    [ "$crashed" = 0 ] || bad=1
done
[ "$bad" = 0 ] || echo "run.sh: crashes under $OUT/crashes/ (each: $BINDIR/fuzz_TARGET FILE runs it again)"
exit $bad
