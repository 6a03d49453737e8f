#!/usr/bin/env bash
# The data stages on many shards with GNU parallel: filter, dedup (sig on every
# shard, sort, cluster, apply on every shard), decontam (count on every shard,
# the counts summed, then every shard), bpe encode, each shard a job; then one
# packer over the shards' token streams as one source (--concat). The packed
# shards are byte for byte those of the one-process pipeline on the shards
# concatenated in the order below (tests/scale/test_parallel.sh checks it).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/parallel-pipeline.sh -o DIR -t TOKENIZER [options] SHARD...

Runs filter -> dedup -> dedup decontam -> bpe encode on every SHARD (documents,
as the programs read them: JSON Lines or plain text, .gz too) as GNU parallel
jobs, then packer on their token streams as one source. Shards are taken in
byte order of their paths (LC_ALL=C sort); the result equals

    cat SHARD... | filter FOPTS | dedup DOPTS | dedup decontam --eval E ... |
        bpe encode -t TOKENIZER | packer -o DIR/data -t TOKENIZER POPTS

byte for byte (meta.json's source name aside), whatever -j or the hosts.

Writes DIR/data (the packed shards, meta.json, tokenizer.json) and keeps the
stages' outputs under DIR/work: filtered/ unique/ clean/ tok/ (a file per
shard, named by its number), keys/, drop.tsv, counts/, rejects/, status/
(each job's exit status) and stage.sh (the stages' commands).

Options:
EOF
    pipeline_options_help
    cat <<'EOF'
  -j N                parallel jobs on each host (default: every core)
  --sshlogin LIST     run the shard jobs over ssh too (GNU parallel's --sshlogin:
                      "8/host1,8/host2,:"; ":" is this machine). Every host must
                      see DIR, the shards and the tokenizer at the same paths (a
                      shared file system) and have the programs at --bin's path.
                      sort, cluster, the count sum and packer run here.
  -h, --help          this text

Example:
  scripts/parallel-pipeline.sh -o out -t tok.json -j 8 \
      --filter "--model q.model --keep pareto:9 --seed 1" --dedup "minhash --verify" \
      --eval eval.jsonl.gz --decontam "--max-doc-freq 10" \
      --packer "--context 1024 --val 0.5%" shards/*.jsonl.gz
EOF
}

me=parallel-pipeline
die() { echo "$me: $*" >&2; echo "try 'scripts/parallel-pipeline.sh --help'" >&2; exit 2; }
. "$(dirname "$0")/pipeline-common.sh"

jobs= ssh=
while [ $# -gt 0 ]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        -j) [ $# -ge 2 ] || die "-j needs a number"; jobs=$2; shift ;;
        --sshlogin|-S) [ $# -ge 2 ] || die "--sshlogin needs hosts"; ssh=$2; shift ;;
        --) shift; shards+=("$@"); break ;;
        *) pipeline_opt "$@"; [ "$took" -gt 0 ] || die "unknown option $1"; shift $((took - 1)) ;;
    esac
    shift
done
command -v parallel >/dev/null || { echo "$me: GNU parallel is not installed (Debian: apt-get install parallel)" >&2; exit 1; }
pipeline_setup
W=$(printf '%q' "$w") # in the jobs' command lines

# Every job runs in this folder, on every host (--workdir .), so that relative
# paths in the options mean what they mean here; a job is a stage of
# $w/stage.sh on a shard, which names the stages' files by absolute paths
# under $w.
par=(parallel --halt now,fail=1 --workdir .)
[ -n "$jobs" ] && par+=(-j "$jobs")
[ -n "$ssh" ] && par+=(--sshlogin "$ssh")
stage() { printf '%s: %s\n' "$me" "$*" >&2; }
each() { "${par[@]}" "bash $W/stage.sh $W $1 {}" :::: "$w/ids.txt"; } # each STAGE: on every shard
once() { bash "$w/stage.sh" "$w" "$1"; }                                # once STAGE: here

stage "filter: $n shards"
each filter

stage "dedup: sig on every shard, sort, cluster, apply on every shard"
each sig
once cluster
each apply

if [ ${#evals[@]} -gt 0 ]; then
    stage "decontam: count on every shard, the counts summed, then every shard"
    if [ "$count" = 1 ]; then # --max-doc-freq 0: no counting
        each count
        once sum
    fi
    each decontam
fi

stage "bpe encode: every shard"
each encode

stage "packer: the $n token streams as one source"
once pack
