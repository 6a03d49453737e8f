#!/usr/bin/env bash
# The data stages on many shards as Slurm jobs: a job array (a task per shard)
# for filter, dedup sig, dedup apply, decontam count, decontam and bpe encode;
# one job each for sort + cluster, the count sum and packer; each waits for
# the one before it (afterok), so a failed task stops the pipeline before a
# later stage reads partial input. The commands are scripts/pipeline-stage.sh's,
# the ones scripts/parallel-pipeline.sh runs: the output is the same, and the
# one-process pipeline's (tests/scale/test_slurm.sh checks it).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/slurm-pipeline.sh -o DIR -t TOKENIZER [options] SHARD...
       scripts/slurm-pipeline.sh --status DIR

Submits filter -> dedup -> dedup decontam -> bpe encode on every SHARD
(documents, as the programs read them: JSON Lines or plain text, .gz too) as
Slurm job arrays, a task per shard, then packer on their token streams as one
source, and prints each stage's job id ("filter 1234"). The result is that of
scripts/parallel-pipeline.sh with the same options, and so equals

    cat SHARD... | filter FOPTS | dedup DOPTS | dedup decontam --eval E ... |
        bpe encode -t TOKENIZER | packer -o DIR/data -t TOKENIZER POPTS

byte for byte (meta.json's source name aside), shards taken in byte order of
their paths. The jobs, one after the other (each --dependency=afterok on the
one before, and --kill-on-invalid-dep=yes):

    filter    array   filter on a shard
    sig       array   dedup sig on a shard, its keys sorted
    cluster   job     the keys of every shard merged (sort -m), dedup cluster
    apply     array   dedup apply on a shard
    count     array   dedup decontam count on a shard   (with --eval, unless
    sum       job     the counts summed                  --max-doc-freq 0)
    decontam  array   dedup decontam on a shard         (with --eval)
    encode    array   bpe encode on a shard
    pack      job     packer on every shard's tokens

A task that fails (a bad line in its shard, a missing program, its time or
memory limit) fails its job: the later jobs are cancelled, never run on
partial input. --wait, or --status later, names the task, its shard and its
log, and shows the log's last lines.

DIR must be on a file system that every node sees at the same path, as must
the shards, the tokenizer, the --eval files and the programs (--bin). The
jobs run in the folder this command runs in, so relative paths in the options
work. Writes DIR/data (the packed shards, meta.json, tokenizer.json) and
keeps under DIR/work the stages' outputs (filtered/ unique/ clean/ tok/, a
file per shard named by its number; keys/, drop.tsv, counts/, rejects/),
jobs.tsv (stage, job id), status/ (each task's exit status) and logs/: a
shard's task of a stage logs to logs/STAGE.NNNNNN.log (filter.000003.log: the
filter of the shard numbered 3, in work/shards.tsv), a single job to
logs/STAGE.log.

Options:
EOF
    pipeline_options_help
    cat <<'EOF'
  --wait              wait for the jobs to end; exit 0 when the data is packed,
                      1 naming the failed tasks and their logs
  --status DIR        say where the pipeline in DIR stands: each stage's tasks
                      done, failed, queued; exits 1 when a task failed
  -p, --partition P   the partition for every job (default: the cluster's)
  --sbatch "OPTS"     more sbatch options for every job: --account A, --time
                      1:00:00, --mem 8G, --cpus-per-task 8 (then give the
                      programs as many threads: --filter "-j 8 ..."), --qos Q
  --array-max N       at most N tasks of an array at once (sbatch --array=0-K%N)
  -h, --help          this text

Arrays are as long as the shards are many: more than the cluster's
MaxArraySize (scontrol show config; Slurm's default 1001 allows 1000 shards)
needs fewer, larger shards, or MaxArraySize raised.

Example:
  scripts/slurm-pipeline.sh -o /shared/out -t tok.json --partition cpu \
      --sbatch "--time 2:00:00 --mem 4G" --filter "--model q.model --keep pareto:9 --seed 1" \
      --dedup "minhash --verify" --eval eval.jsonl.gz --decontam "--max-doc-freq 10" \
      --packer "--context 1024 --val 0.5%" /shared/shards/*.jsonl.gz
  scripts/slurm-pipeline.sh --status /shared/out
EOF
}

me=slurm-pipeline
die() { echo "$me: $*" >&2; echo "try 'scripts/slurm-pipeline.sh --help'" >&2; exit 2; }
. "$(dirname "$0")/pipeline-common.sh"

# report W: each stage's tasks from W/jobs.tsv and W/status/; for the first
# stage with a failed task, which tasks, their shards and logs. Returns 0 when
# packed, 1 when a task failed, 3 while jobs are queued or running.
report() {
    local w=$1 stage job kind id rc tag log state queued failed=0 running=0 k t task what
    local -a ids
    mapfile -t ids < "$w/ids.txt"
    queued=$(squeue -h -u "$(id -un)" -o %F 2>/dev/null | sort -u || true)
    while IFS=$'\t' read -r stage job kind; do
        local n_ok=0 bad=() lost=() total=1
        if [ "$kind" = array ]; then total=${#ids[@]}; fi
        for ((k = 0; k < total; k++)); do
            if [ "$kind" = array ]; then id=${ids[$k]} tag=$stage.$id; else id= tag=$stage; fi
            if [ -f "$w/status/$tag" ]; then
                rc=$(cat "$w/status/$tag")
                if [ "$rc" = 0 ]; then n_ok=$((n_ok + 1)); else bad+=("$k:$rc"); fi
            elif ! grep -qxF "$job" <<< "$queued"; then
                lost+=("$k")
            fi
        done
        if [ $failed = 1 ]; then
            echo "$stage (job $job): not run"
            continue
        fi
        if [ ${#bad[@]} = 0 ] && [ ${#lost[@]} = 0 ]; then
            if [ $n_ok = $total ]; then echo "$stage (job $job): $n_ok of $total done"
            else echo "$stage (job $job): $n_ok of $total done, the others queued or running"; running=1; fi
            continue
        fi
        failed=1
        echo "$stage (job $job): $n_ok of $total done, $(( ${#bad[@]} + ${#lost[@]} )) failed:"
        for t in "${bad[@]+"${bad[@]}"}" "${lost[@]+"${lost[@]}"}"; do
            k=${t%%:*}
            if [ "$kind" = array ]; then
                id=${ids[$k]} task=${job}_$k log=$w/logs/$stage.$id.log
                what="$stage on shard $id ($(awk -F'\t' -v id="$id" '$1 == id { print $2 }' "$w/shards.tsv"))"
            else
                task=$job log=$w/logs/$stage.log what=$stage
            fi
            if [ "$t" != "$k" ]; then
                echo "$me: task $task, $what, failed with exit ${t#*:}; its log: $log"
            else # no exit status: killed (time, memory, node, scancel) before the stage's end
                state=$(scontrol -o show job "$task" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n 1 || true)
                echo "$me: task $task, $what, ended without an exit status (${state:-gone from the queue}: time or memory limit, node failure or scancel?); its log: $log"
            fi
            [ -f "$log" ] && tail -n 5 "$log" | sed 's/^/    /'
        done
    done < "$w/jobs.tsv"
    if [ $failed = 1 ]; then echo "$me: the pipeline failed; the stages after the failed one did not run"; return 1; fi
    if [ $running = 1 ]; then return 3; fi
    echo "$me: done: $(dirname "$w")/data"
    return 0
}

partition= sbopts= throttle= wait=0 status=
while [ $# -gt 0 ]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --wait) wait=1 ;;
        --status) [ $# -ge 2 ] || die "--status needs the pipeline's DIR"; status=$2; shift ;;
        -p|--partition) [ $# -ge 2 ] || die "--partition needs a name"; partition=$2; shift ;;
        --sbatch) [ $# -ge 2 ] || die "--sbatch needs options"; sbopts=$2; shift ;;
        --array-max) [ $# -ge 2 ] || die "--array-max needs a number"; throttle=$2; shift
            [[ $throttle =~ ^[1-9][0-9]*$ ]] || die "--array-max takes a positive number, not '$throttle'" ;;
        --) shift; shards+=("$@"); break ;;
        *) pipeline_opt "$@"; [ "$took" -gt 0 ] || die "unknown option $1"; shift $((took - 1)) ;;
    esac
    shift
done
if [ -n "$status" ]; then
    [ -f "$status/work/jobs.tsv" ] || { echo "$me: $status/work/jobs.tsv: not a pipeline submitted by this script" >&2; exit 1; }
    rc=0; report "$status/work" || rc=$?
    [ $rc = 1 ] && exit 1
    exit 0
fi
for c in sbatch squeue scancel scontrol; do
    command -v $c >/dev/null || { echo "$me: $c not found: Slurm's commands are needed (Debian: apt-get install slurm-client)" >&2; exit 1; }
done
pipeline_setup
mkdir -p "$w/logs"
: > "$w/jobs.tsv"

sb=(sbatch --parsable --chdir "$PWD" --kill-on-invalid-dep=yes)
[ -n "$partition" ] && sb+=(--partition "$partition")
eval "sb+=($sbopts)"
last=
# submit STAGE array|job: the stage as a Slurm job after the one before it
submit() {
    local a=(--job-name "pipeline-$1")
    if [ "$2" = array ]; then a+=(--array "0-$((n - 1))${throttle:+%$throttle}" -o "$w/logs/$1.%06a.log")
    else a+=(-o "$w/logs/$1.log"); fi
    [ -n "$last" ] && a+=(--dependency "afterok:$last")
    local id
    if ! id=$("${sb[@]}" "${a[@]}" "$w/stage.sh" "$w" "$1"); then
        echo "$me: sbatch failed for the $1 stage; cancelling the jobs submitted before it" >&2
        cut -f2 "$w/jobs.tsv" | xargs -r scancel
        exit 1
    fi
    last=${id%%;*} # --parsable: "id" or "id;cluster"
    printf '%s\t%s\t%s\n' "$1" "$last" "$2" >> "$w/jobs.tsv"
    printf '%s %s\n' "$1" "$last"
}
submit filter array
submit sig array
submit cluster job
submit apply array
if [ ${#evals[@]} -gt 0 ]; then
    if [ "$count" = 1 ]; then # --max-doc-freq 0: no counting
        submit count array
        submit sum job
    fi
    submit decontam array
fi
submit encode array
submit pack job

if [ $wait = 0 ]; then
    echo "$me: $n shards submitted; logs in $w/logs; where it stands: scripts/slurm-pipeline.sh --status $out" >&2
    exit 0
fi
echo "$me: $n shards submitted; waiting (logs in $w/logs)" >&2
mapfile -t jobs < <(cut -f2 "$w/jobs.tsv")
misses=0 user=$(id -un)
while :; do
    if ! q=$(squeue -h -u "$user" -o %F 2>/dev/null); then # the controller busy or restarting: try again
        misses=$((misses + 1))
        [ $misses -lt 120 ] || { echo "$me: squeue has failed for 2 minutes; see scripts/slurm-pipeline.sh --status $out" >&2; exit 1; }
        sleep 1; continue
    fi
    misses=0
    left=0
    for j in "${jobs[@]}"; do grep -qxF "$j" <<< "$q" && left=1 && break; done
    [ $left = 0 ] && break
    sleep 1
done
rc=0; report "$w" >&2 || rc=$?
if [ $rc = 0 ]; then tail -n 3 "$w/logs/pack.log" >&2; exit 0; fi
exit 1
