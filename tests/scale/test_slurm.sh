# The data stages and training under Slurm, on a one-node cluster started here
# (munged and slurmctld and slurmd, every file in a temporary folder, stopped
# by their pids at the end, always): scripts/slurm-pipeline.sh on 4 shards
# equals the one-process pipeline byte for byte (the options of
# test_parallel.sh: filter pareto, dedup minhash, decontam with --max-doc-freq,
# packer with validation); a shard of bad JSON fails its filter task, the
# later stages do not run, and --wait and --status name the task, its shard
# and its log; scripts/slurm-train.sbatch with 2 tasks (srun --mpi=pmix)
# gives one process's losses within 1e-5. Skipped without Slurm and munge.
. tests/check.sh
skip() { echo "test_slurm.sh: skipped: $*"; exit 0; }
for c in munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol; do
    command -v $c >/dev/null || PATH=$PATH:/usr/sbin command -v $c >/dev/null ||
        skip "no $c (Debian: slurm-wlm and munge, make deps)"
done
PATH=$PATH:/usr/sbin
[ "$(id -u)" = 0 ] || skip "the one-node cluster runs as root (SlurmUser=root)"
S=$PWD/scripts/slurm-pipeline.sh

# The cluster: munge with its own key and socket; slurm.conf with its own
# ports (two free ones), every path in $C, no cgroups, no accounting.
C=$T/slurm
mkdir -p "$C/state" "$C/spool"
stop() {
    local f p
    for f in slurmd slurmctld munged; do
        [ -s "$C/$f.pid" ] || continue
        p=$(cat "$C/$f.pid")
        kill "$p" 2>/dev/null || continue
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap stop EXIT
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=
for _ in $(seq 20); do
    p=$((20000 + RANDOM % 20000))
    listening $p || listening $((p + 1)) || { port=$p; break; }
done
[ -n "$port" ] || skip "no two free ports found"
mungekey -c -k "$C/munge.key" || { echo "mungekey failed" >&2; exit 1; }
munged --force -S "$C/munge.sock" --key-file="$C/munge.key" --log-file="$C/munged.log" \
    --pid-file="$C/munged.pid" --seed-file="$C/munged.seed" || { cat "$C/munged.log" >&2; exit 1; }
node=$(hostname -s)
mem=$(awk '/^MemTotal:/ { print int($2 / 1024 / 2) }' /proc/meminfo) # MB, half the machine's
cat > "$C/slurm.conf" <<EOF
ClusterName=test
SlurmctldHost=$node
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$C/munge.sock
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$C/state
SlurmdSpoolDir=$C/spool
SlurmctldPidFile=$C/slurmctld.pid
SlurmdPidFile=$C/slurmd.pid
SlurmctldLogFile=$C/slurmctld.log
SlurmdLogFile=$C/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
# dependent jobs start within a second of the job before, not 3 s
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
NodeName=$node CPUs=2 RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$C/slurm.conf
# OpenMPI's own allocations outlive MPI_Finalize, which AddressSanitizer
# (make asan) reports as leaks: off, as in tests/model/test_mpi.sh
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
slurmctld -i || { cat "$C/slurmctld.log" >&2; exit 1; }
slurmd || { cat "$C/slurmd.log" >&2; exit 1; }
for _ in $(seq 100); do [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && break; sleep 0.2; done
[ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && ok || { fail "the node is not idle: $(sinfo 2>&1)"; tail -n 20 "$C"/slurm*.log >&2; check_done test_slurm.sh; exit 1; }

# 4 shards of the bundled corpus, with duplicates across them and a passage
# in 3 documents of 3 shards (frequent in the whole, in no shard alone)
zcat corpora/en.jsonl.gz | head -n 400 > "$T/raw.jsonl"
P="the quick brown fox jumps over the lazy dog while seven wise owls watch from an old oak tree at night"
awk -v p="$P" '
    { line[NR] = $0 }
    END {
        for (i = 1; i <= NR; i++) {
            l = line[i]
            if (i == 30 || i == 130 || i == 230) sub(/"text":"/, "\"text\":\"" p " ", l)
            print l
            if (i == 320) { print line[20]; print line[120] }
            if (i == 340) { l = line[60]; sub(/"text":"/, "\"text\":\"Note: ", l); print l }
        }
    }' "$T/raw.jsonl" > "$T/all.jsonl"
split -n l/4 -d --additional-suffix=.jsonl "$T/all.jsonl" "$T/shard-"
gzip "$T/shard-03.jsonl"
printf '{"text":"%s"}\n' "$P" > "$T/eval.jsonl"
zcat corpora/quality-train.jsonl.gz | grep '^{"label":"good"' | head -n 300 > "$T/good.jsonl"
zcat corpora/quality-train.jsonl.gz | grep '^{"label":"bad"' | head -n 300 > "$T/bad.jsonl"
"$BIN/filter" train -q --pos "$T/good.jsonl" --neg "$T/bad.jsonl" -o "$T/q.model"
"$BIN/bpe" train -q --vocab-size 400 -o "$T/tok.json" "$T/raw.jsonl"
FOPTS="--model $T/q.model --keep pareto:2 --seed 3"
DOPTS="minhash --verify"
XOPTS="--max-doc-freq 2"
POPTS="--context 64 --val 5% --shard-tokens 200000 --seed 7"

expect_rc 0 bash "$S" --help
expect_out "usage: scripts/slurm-pipeline.sh"
expect_out "--wait"
expect_rc 2 bash "$S" -t "$T/tok.json" "$T/shard-00.jsonl"
expect_err "-o DIR is required"
expect_rc 1 bash "$S" -o "$T/none" -t "$T/tok.json" --bin "$BIN" "$T/shard-09.jsonl"
expect_err "shard-09.jsonl: no such shard"

# the one process, on the shards concatenated in name order
one=$T/one
mkdir -p "$one"
cat "$T/shard-00.jsonl" "$T/shard-01.jsonl" "$T/shard-02.jsonl" > "$one/in.jsonl"
zcat "$T/shard-03.jsonl.gz" >> "$one/in.jsonl"
"$BIN/filter" $FOPTS -q -o "$one/filtered.jsonl" "$one/in.jsonl" &&
    "$BIN/dedup" $DOPTS -q -o "$one/unique.jsonl" "$one/filtered.jsonl" &&
    "$BIN/dedup" decontam --eval "$T/eval.jsonl" $XOPTS -o "$one/clean.jsonl" "$one/unique.jsonl" 2> "$one/decontam.err" &&
    "$BIN/bpe" encode -q -t "$T/tok.json" -o "$one/all.tok" "$one/clean.jsonl" &&
    "$BIN/packer" -q -o "$one/data" -t "$T/tok.json" $POPTS "$one/all.tok" && ok || fail "the one-process pipeline failed"
n_f=$(wc -l < "$one/filtered.jsonl"); n_u=$(wc -l < "$one/unique.jsonl")
[ "$n_u" -lt "$n_f" ] && ok || fail "expected dedup to drop some: $n_f filtered, $n_u unique"
grep -q "[1-9][0-9]* ignored as frequent" "$one/decontam.err" && ok || fail "expected grams ignored as frequent: $(cat "$one/decontam.err")"

# the pipeline as Slurm jobs: a job id a stage on stdout, then the same data
expect_rc 0 bash "$S" -o "$T/sl" -t "$T/tok.json" --bin "$BIN" --filter "$FOPTS" --dedup "$DOPTS" \
    --eval "$T/eval.jsonl" --decontam "$XOPTS" --packer "$POPTS" --wait \
    "$T/shard-02.jsonl" "$T/shard-00.jsonl" "$T/shard-03.jsonl.gz" "$T/shard-01.jsonl"
expect_err "slurm-pipeline: done: $T/sl/data"
[ "$(cut -d' ' -f1 "$T/out" | tr '\n' ' ')" = "filter sig cluster apply count sum decontam encode pack " ] && ok ||
    fail "expected a job id for each stage, got: $(cat "$T/out")"
grep -Eqv '^[a-z]+ [0-9]+$' "$T/out" && fail "not 'stage jobid' lines: $(cat "$T/out")" || ok
w=$T/sl/work
for stage in filtered unique clean; do
    cat "$w/$stage"/*.jsonl > "$T/sl-$stage.jsonl"
    expect_same "$one/$stage.jsonl" "$T/sl-$stage.jsonl"
done
[ "$(ls "$one/data")" = "$(ls "$T/sl/data")" ] && ok || fail "other files: $(ls "$one/data") vs $(ls "$T/sl/data")"
for f in "$one/data"/*.bin "$one/data/tokenizer.json"; do expect_same "$f" "$T/sl/data/$(basename "$f")"; done
grep -v '"name"' "$one/data/meta.json" > "$T/one.meta"; grep -v '"name"' "$T/sl/data/meta.json" > "$T/sl.meta"
expect_same "$T/one.meta" "$T/sl.meta"
[ -f "$w/logs/filter.000003.log" ] && [ -f "$w/logs/cluster.log" ] && [ -f "$w/logs/pack.log" ] && ok ||
    fail "expected the tasks' logs in $w/logs: $(ls "$w/logs")"
expect_rc 0 bash "$S" --status "$T/sl"
expect_out "filter (job "
expect_out "): 4 of 4 done"
expect_out "slurm-pipeline: done"

# a shard of bad JSON: its filter task fails, nothing after filter runs, and
# the failure names the task, its shard and its log
cp "$T/shard-00.jsonl" "$T/bad-00.jsonl"
{ head -n 5 "$T/shard-01.jsonl"; echo '{"text": "not closed'; } > "$T/bad-01.jsonl"
expect_rc 1 bash "$S" -o "$T/bad" -t "$T/tok.json" --bin "$BIN" --dedup "$DOPTS" --wait "$T/bad-00.jsonl" "$T/bad-01.jsonl"
fj=$(awk '$1 == "filter" { print $2 }' "$T/out")
expect_err "slurm-pipeline: task ${fj}_1, filter on shard 000001 ($T/bad-01.jsonl), failed with exit 1; its log: $T/bad/work/logs/filter.000001.log"
expect_err "bad-01.jsonl:6:" # the filter's own message, from the log
expect_err "sig (job "
expect_err "not run"
grep -q "bad-01.jsonl:6:" "$T/bad/work/logs/filter.000001.log" && ok || fail "the task's log lacks filter's message"
if ls "$T/bad/work/keys"/*.keys "$T/bad/work/status"/sig.* >/dev/null 2>&1 || [ -e "$T/bad/data" ]; then
    fail "a stage after the failed filter ran: $(ls "$T/bad/work/status" "$T/bad/work/keys")"
else ok; fi
expect_rc 1 bash "$S" --status "$T/bad"
expect_out "task ${fj}_1, filter on shard 000001"

# training: the sbatch example with 2 tasks against one process
if ! (cd tests/model && /usr/bin/python3 synth.py "$T/tdata" --bytes 60000 4000 >/dev/null 2>&1); then
    fail "tests/model/synth.py failed"
else
    TS="--data $T/tdata --layers 2 --width 64 --heads 4 --context 32 --micro-batch 2 --batch 256 --steps 5 --device cpu"
    expect_rc 0 "$BIN/model" train $TS -j 1 --quiet -o "$T/t1"
    run env MODEL="$BIN/model" sbatch --parsable --wait --ntasks 2 -o "$T/train.log" scripts/slurm-train.sbatch $TS -o "$T/t2"
    if grep -q "this build has no MPI" "$T/train.log"; then
        echo "test_slurm.sh: training not checked: this build of model has no MPI"
    else
        [ "$rc" = 0 ] && ok || fail "the sbatch training failed ($rc): $(tail -n 5 "$T/train.log")"
        grep -q "on each of 2 ranks" "$T/train.log" && ok || fail "expected 2 ranks: $(head -c 600 "$T/train.log")"
        awk -F, 'NR > 1 { print $3 }' "$T/t1/log.csv" > "$T/l1"; awk -F, 'NR > 1 { print $3 }' "$T/t2/log.csv" > "$T/l2"
        r=$(paste "$T/l2" "$T/l1" | awk '{ d = $1 - $2; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2);
            if (r > w) w = r; if (r > 1e-5) bad++ } END { printf "%d rows, worst %.3g\n", NR, w; exit bad > 0 || NR != 5 }') &&
            ok || fail "2 Slurm tasks against one process: $r"
        echo "test_slurm.sh: 2 Slurm tasks against one process: $r"
    fi
fi
check_done test_slurm.sh
