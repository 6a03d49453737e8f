# model train as several MPI ranks on GPUs, summing gradients with NCCL.
# On any GPU: one rank under mpirun (the NCCL path, a group of one) gives the
# same losses bit for bit as a plain run, and its summary names NCCL; so
# does one rank with --zero 1, whose checkpoint resumes as the plain run's;
# two ranks on one GPU are refused with a message naming both ranks, not a hang.
# With two or more GPUs: 2 ranks (and 4 where there are 4) against one GPU
# with the same global batch, losses within 1e-5 relative at each of 50 steps
# in fp32 and 1% in bf16, with and without --zero 1; a checkpoint written by
# 2 ranks (either way) resumes on one GPU
# and on the CPU as the one-GPU run's own does. Skipped without a GPU, CUDA,
# NCCL, MPI in the build, or mpirun.
. tests/check.sh
M="$BIN/model"
PY=${PYTHON:-/usr/bin/python3}
command -v mpirun >/dev/null || { echo "test_cuda_ranks.sh: skipped: no mpirun (Debian: openmpi-bin)"; exit 0; }
# as root in a container: allowed explicitly, shared memory without CMA; NVLink multicast stays off
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_btl=self,vader NCCL_NVLS_ENABLE=0
MPI="mpirun --allow-run-as-root --oversubscribe"
(cd tests/model && $PY synth.py "$T/data" --bytes 60000 4000 >/dev/null) || { echo "synth.py failed" >&2; exit 1; }
S="--data $T/data --layers 2 --width 64 --heads 4 --context 32 --micro-batch 2 --batch 256 --device cuda --quiet"
if ! timeout 300 $MPI -np 1 "$M" train $S --steps 1 -o "$T/probe" >"$T/probe.out" 2>&1; then
    for why in "no CUDA backend" "no GPU visible" "this build has no MPI" "this build lacks"; do
        if grep -q "$why" "$T/probe.out"; then
            echo "test_cuda_ranks.sh: skipped: $(grep -o "$why.*" "$T/probe.out" | head -1)"
            exit 0
        fi
    done
    cat "$T/probe.out" >&2
    fail "one GPU rank under mpirun failed"
    check_done test_cuda_ranks.sh
    exit 1
fi

close() {
    paste "$1" "$2" | awk -v t="$3" '{ d = $1 - $2; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2);
        if (r > w) w = r; if (r > t) bad++ } END { printf "%d rows, worst %.3g\n", NR, w; exit bad > 0 || NR == 0 }'
}
losses() { awk -F, 'NR > 1 { print $3 }' "$1/log.csv" > "$2"; }

# --- one rank: the NCCL path changes nothing
for p in fp32 bf16; do
    expect_rc 0 "$M" train $S --steps 20 --precision $p -o "$T/plain$p"
    expect_rc 0 $MPI -np 1 "$M" train $S --steps 20 --precision $p -o "$T/one$p" --progress
    grep -q "1 rank, summing gradients .* NCCL" "$T/err" && ok || fail "$p: the summary of one rank does not name NCCL: $(tail -1 "$T/err")"
    losses "$T/plain$p" "$T/l0"; losses "$T/one$p" "$T/l1"
    expect_same "$T/l0" "$T/l1"
done

# --- --zero 1 with one rank (AdamW on a slice that is the whole model, the
# gradients summed and the weights shared slice by slice): the plain run's
# losses bit for bit, with and without float32 master weights; its
# checkpoint resumes without mpirun as the plain run's own
for v in "fp32" "bf16" "bf16 --master-weights off"; do
    p=${v%% *} t=$(echo "$v" | tr -cd 'a-z0-9')
    expect_rc 0 "$M" train $S --steps 20 --ckpt-every 10 --keep 5 --precision $v -o "$T/zp$t"
    expect_rc 0 $MPI -np 1 "$M" train $S --steps 20 --ckpt-every 10 --keep 5 --precision $v --zero 1 -o "$T/z1$t"
    losses "$T/zp$t" "$T/l0"; losses "$T/z1$t" "$T/l1"
    expect_same "$T/l0" "$T/l1"
    printf 'ckpt-000010.bin\n' > "$T/z1$t/latest"
    expect_rc 0 "$M" train --resume "$T/z1$t" --steps 20 --device cuda --precision $v --quiet
    losses "$T/z1$t" "$T/l1"
    expect_same "$T/l0" "$T/l1"
done

# --- two ranks on one GPU: refused, naming them (timeout: a hang fails)
n_gpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
if [ "${n_gpu:-0}" -le 1 ]; then
    run timeout 300 env CUDA_VISIBLE_DEVICES=0 $MPI -np 2 "$M" train $S --steps 5 -o "$T/shared"
    [ "$rc" != 0 ] && [ "$rc" != 124 ] && ok || fail "two ranks on one GPU: exit $rc (124: a hang)"
    expect_err "ranks 0 and 1 both opened GPU"
    [ ! -e "$T/shared/latest" ] && ok || fail "a refused run left a checkpoint"
fi

# --- several GPUs: the same global batch on 1 and N GPUs
if [ "${n_gpu:-0}" -ge 2 ]; then
    L="$S --batch 1024 --steps 50 --eval-every 25 --keep 10"
    for p in fp32 bf16; do
        tol=1e-5; [ $p = bf16 ] && tol=1e-2
        expect_rc 0 "$M" train $L --precision $p -o "$T/g1$p"
        losses "$T/g1$p" "$T/l1"
        for np in 2 4; do
            [ "$n_gpu" -ge $np ] || continue
            expect_rc 0 $MPI -np $np "$M" train $L --precision $p -o "$T/g$np$p"
            losses "$T/g$np$p" "$T/l2"
            r=$(close "$T/l2" "$T/l1" $tol) && ok || fail "$p: $np GPUs against one: $r"
            echo "test_cuda_ranks.sh: $p, $np GPUs against one: $r"
            expect_rc 0 $MPI -np $np "$M" train $L --precision $p --zero 1 -o "$T/z$np$p"
            losses "$T/z$np$p" "$T/l2"
            r=$(close "$T/l2" "$T/l1" $tol) && ok || fail "$p: $np GPUs with --zero 1 against one: $r"
            echo "test_cuda_ranks.sh: $p, $np GPUs with --zero 1 against one: $r"
        done
    done
    # a checkpoint of 2 ranks at step 25 resumes on one GPU and on the CPU as the one-GPU run's does
    for dev in cuda cpu; do
        for from in g1fp32 g2fp32 z2fp32; do
            cp -r "$T/$from" "$T/r$from$dev"
            printf 'ckpt-000025.bin\n' > "$T/r$from$dev/latest"
            expect_rc 0 "$M" train --resume "$T/r$from$dev" --steps 26 --device $dev --precision fp32 --quiet
            awk -F, '$1 == 26 { print $3 }' "$T/r$from$dev/log.csv" > "$T/s$from$dev"
        done
        r=$(close "$T/sg2fp32$dev" "$T/sg1fp32$dev" 1e-5) && ok || fail "step 26 on $dev from 2 ranks' checkpoint: $r"
        r=$(close "$T/sz2fp32$dev" "$T/sg1fp32$dev" 1e-5) && ok || fail "step 26 on $dev from 2 --zero 1 ranks' checkpoint: $r"
    done
fi
check_done test_cuda_ranks.sh
