# model train as several MPI ranks (mpirun) against one process with the same
# global batch: the same losses within 1e-5 relative at every one of 20 steps,
# with and without dropout; a step that the ranks cannot share is refused
# before anything is written; a checkpoint written by 2 ranks resumes in one
# process (and the other way round) as one process's own would; ranks started
# with different settings stop with a message naming the rank. Only rank 0
# writes the run folder. Skipped without mpirun or without MPI in the build.
. tests/check.sh
M="$BIN/model"
PY=${PYTHON:-/usr/bin/python3}
command -v mpirun >/dev/null || { echo "test_mpi.sh: skipped: no mpirun (Debian: openmpi-bin)"; exit 0; }
# as root in a container: allowed explicitly, shared memory without CMA, no network probing
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_btl=self,vader ASAN_OPTIONS=detect_leaks=0
MPI="mpirun --allow-run-as-root --oversubscribe"
(cd tests/model && $PY synth.py "$T/data" --bytes 60000 4000 >/dev/null) || { echo "synth.py failed" >&2; exit 1; }
S="--data $T/data --layers 2 --width 64 --heads 4 --context 32 --micro-batch 2 --batch 256 --steps 20 --device cpu -j 1 --quiet"
if ! $MPI -np 2 "$M" train $S -o "$T/probe" --steps 1 >"$T/probe.out" 2>&1; then
    if grep -q "this build has no MPI" "$T/probe.out"; then
        echo "test_mpi.sh: skipped: $(grep -o 'this build has no MPI[^(]*' "$T/probe.out" | head -1)"
        exit 0
    fi
fi

# close A B RTOL: two files of numbers agree within RTOL relative, row by row
close() {
    paste "$1" "$2" | awk -v t="$3" '{ d = $1 - $2; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2);
        if (r > w) w = r; if (r > t) bad++ } END { printf "%d rows, worst %.3g\n", NR, w; exit bad > 0 || NR == 0 }'
}
losses() { awk -F, 'NR > 1 { print $3 }' "$1/log.csv" > "$2"; }

for drop in 0 0.1; do
    expect_rc 0 "$M" train $S --dropout $drop -o "$T/one$drop"
    expect_rc 0 $MPI -np 2 "$M" train $S --dropout $drop -o "$T/two$drop"
    losses "$T/one$drop" "$T/l1"; losses "$T/two$drop" "$T/l2"
    [ "$(wc -l < "$T/l2")" = 20 ] && ok || fail "2 ranks: log.csv should have 20 rows (rank 0's alone), has $(wc -l < "$T/l2")"
    r=$(close "$T/l2" "$T/l1" 1e-5) && ok || fail "dropout $drop: 2 ranks against one process: $r"
    echo "test_mpi.sh: dropout $drop, 2 ranks against one process: $r"
done
# 4 ranks of one micro-batch each
expect_rc 0 $MPI -np 4 "$M" train $S -o "$T/four"
losses "$T/four" "$T/l4"; losses "$T/one0" "$T/l1"
r=$(close "$T/l4" "$T/l1" 1e-5) && ok || fail "4 ranks against one process: $r"

# 3 ranks cannot share 4 micro-batches: refused, nothing written
run $MPI -np 3 "$M" train $S -o "$T/three"
[ "$rc" != 0 ] && ok || fail "3 ranks over 4 micro-batches should fail"
expect_err "3 ranks cannot share a step of 4 micro-batches"
[ ! -e "$T/three" ] && ok || fail "a refused run left $T/three"

# checkpoints cross: 2 ranks' step 20 continued by one process equals one
# process's own continued, and the other way round
cp -r "$T/two0" "$T/x2"; cp -r "$T/one0" "$T/x1"; cp -r "$T/one0" "$T/y1"
expect_rc 0 "$M" train --resume "$T/x2" --steps 30 -j 1 --quiet
expect_rc 0 "$M" train --resume "$T/x1" --steps 30 -j 1 --quiet
expect_rc 0 $MPI -np 2 "$M" train --resume "$T/y1" --steps 30 -j 1 --quiet
losses "$T/x2" "$T/a"; losses "$T/x1" "$T/b"; losses "$T/y1" "$T/c"
r=$(close "$T/a" "$T/b" 1e-5) && ok || fail "2 ranks' checkpoint resumed in one process: $r"
r=$(close "$T/c" "$T/b" 1e-5) && ok || fail "one process's checkpoint resumed by 2 ranks: $r"

# --zero 1: each rank keeps the moments of its slice; the same losses as one
# process (2 and 4 ranks), the plan counts a slice of AdamW, and the
# checkpoints cross both ways as above
for np in 2 4; do
    expect_rc 0 $MPI -np $np "$M" train $S -o "$T/z$np" --zero 1 --progress
    grep -q "AdamW this rank's slice: --zero 1" "$T/err" && ok || fail "--zero 1: the plan does not say so"
    losses "$T/z$np" "$T/lz"
    r=$(close "$T/lz" "$T/l1" 1e-5) && ok || fail "--zero 1, $np ranks against one process: $r"
    echo "test_mpi.sh: --zero 1, $np ranks against one process: $r"
done
# one process: --zero 1 changes nothing, and says so
expect_rc 0 "$M" train $S -o "$T/z1" --zero 1 --progress
expect_err "one process keeps them whole"
cp -r "$T/z2" "$T/xz"; cp -r "$T/one0" "$T/yz"
expect_rc 0 "$M" train --resume "$T/xz" --steps 30 -j 1 --quiet
expect_rc 0 $MPI -np 2 "$M" train --resume "$T/yz" --steps 30 -j 1 --quiet --zero 1
losses "$T/xz" "$T/a"; losses "$T/yz" "$T/c"
r=$(close "$T/a" "$T/b" 1e-5) && ok || fail "--zero 1 ranks' checkpoint resumed in one process: $r"
r=$(close "$T/c" "$T/b" 1e-5) && ok || fail "one process's checkpoint resumed by 2 ranks with --zero 1: $r"
expect_rc 2 "$M" train $S -o "$T/zbad" --zero 2
expect_err "--zero takes 0 or 1"

# a rank that hangs (GPTKIT_STALL_STEP: it sleeps before step 3's sums):
# past --rank-timeout rank 0 names it and every rank stops, no hang; rank 0
# hanging: the others stop on their own a little later, saying so
start=$(date +%s)
run timeout 60 $MPI -np 1 "$M" train $S -o "$T/stall" --rank-timeout 2 : \
    -np 1 -x GPTKIT_STALL_STEP=3 "$M" train $S -o "$T/stall" --rank-timeout 2
[ "$rc" != 0 ] && [ "$rc" != 124 ] && ok || fail "a hung rank 1: exit $rc (124: the run hung)"
expect_err "rank 1 did not reach the sum of the gradients within 2 s (--rank-timeout)"
[ $(( $(date +%s) - start )) -lt 30 ] && ok || fail "a hung rank 1 took $(( $(date +%s) - start )) s to stop"
run timeout 60 $MPI -np 1 -x GPTKIT_STALL_STEP=3 "$M" train $S -o "$T/stall0" --rank-timeout 2 : \
    -np 1 "$M" train $S -o "$T/stall0" --rank-timeout 2
[ "$rc" != 0 ] && [ "$rc" != 124 ] && ok || fail "a hung rank 0: exit $rc (124: the run hung)"
expect_err "rank 1 of 2: the sum of the gradients did not finish within 2 s (--rank-timeout), and rank 0 said nothing"

# ranks that disagree: a different seed on rank 1
run $MPI -np 1 "$M" train $S -o "$T/dis" : -np 1 "$M" train $S --seed 7 -o "$T/dis"
[ "$rc" != 0 ] && ok || fail "ranks with different seeds should fail"
expect_err "rank 1 of 2 runs another shape, batch, seed, step or data than rank 0"
check_done test_mpi.sh
