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
shard, named by its number), keys/, drop.tsv, counts/, rejects/.

Options:
  -o DIR              output folder (required; DIR/data must not hold packed data)
  -t FILE             the tokenizer.json for bpe encode and packer (required)
  --filter "OPTS"     options for filter (default: none, its defaults); a
                      --model/--keep pareto run splits exactly: the draw is keyed
                      on each document's text and --seed
  --dedup "OPTS"      options for dedup sig (the mode word too: "minhash --verify");
                      the same as the one-process `dedup OPTS` (default: none)
  --eval FILE         an evaluation set for decontam (repeatable; none: no decontam)
  --decontam "OPTS"   more options for dedup decontam (--max-doc-freq N, --gram N,
                      --window C, ...); with --max-doc-freq the per-shard counts
                      are summed first, so each shard sees the whole corpus's
  --packer "OPTS"     options for packer (--context, --val, --seed, --best-fit, ...)
  --bin DIR           where filter, dedup, bpe and packer are (default: the
                      checkout's bin/, else PATH)
  -j N                parallel jobs on each host (default: every core)
  --sshlogin LIST     run the shard jobs over ssh too (GNU parallel's --sshlogin:
                      "8/host1,8/host2,:"; ":" is this machine). Every host must
                      see DIR, the shards and the tokenizer at the same paths (a
                      shared file system) and have the programs at --bin's path.
                      sort, cluster, the count sum and packer run here.
  --sort-mem SIZE     sort's -S for the key files (default 512M)
  -h, --help          this text

Example:
  scripts/parallel-pipeline.sh -o out -t tok.json -j 8 \
      --filter "--model q.model --keep pareto:9 --seed 1" --dedup "minhash --verify" \
      --eval eval.jsonl.gz --decontam "--max-doc-freq 10" \
      --packer "--context 1024 --val 0.5%" shards/*.jsonl.gz
EOF
}

die() { echo "parallel-pipeline: $*" >&2; echo "try 'scripts/parallel-pipeline.sh --help'" >&2; exit 2; }

here=$(cd "$(dirname "$0")/.." && pwd)
bin=
out= tok= fopts= dopts= xopts= popts= jobs= ssh= sortmem=512M
evals=()
shards=()
while [ $# -gt 0 ]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        -o) [ $# -ge 2 ] || die "-o needs a folder"; out=$2; shift ;;
        -t) [ $# -ge 2 ] || die "-t needs a tokenizer.json"; tok=$2; shift ;;
        --filter) [ $# -ge 2 ] || die "--filter needs options"; fopts=$2; shift ;;
        --dedup) [ $# -ge 2 ] || die "--dedup needs options"; dopts=$2; shift ;;
        --eval) [ $# -ge 2 ] || die "--eval needs a file"; evals+=("$2"); shift ;;
        --decontam) [ $# -ge 2 ] || die "--decontam needs options"; xopts=$2; shift ;;
        --packer) [ $# -ge 2 ] || die "--packer needs options"; popts=$2; shift ;;
        --bin) [ $# -ge 2 ] || die "--bin needs a folder"; bin=$2; shift ;;
        -j) [ $# -ge 2 ] || die "-j needs a number"; jobs=$2; shift ;;
        --sshlogin|-S) [ $# -ge 2 ] || die "--sshlogin needs hosts"; ssh=$2; shift ;;
        --sort-mem) [ $# -ge 2 ] || die "--sort-mem needs a size"; sortmem=$2; shift ;;
        --) shift; shards+=("$@"); break ;;
        -*) die "unknown option $1" ;;
        *) shards+=("$1") ;;
    esac
    shift
done
[ -n "$out" ] || die "-o DIR is required"
[ -n "$tok" ] || die "-t TOKENIZER is required"
[ ${#shards[@]} -gt 0 ] || die "no shards given"
command -v parallel >/dev/null || { echo "parallel-pipeline: GNU parallel is not installed (Debian: apt-get install parallel)" >&2; exit 1; }
if [ -z "$bin" ]; then
    if [ -x "$here/bin/filter" ]; then bin=$here/bin; else bin=$(dirname "$(command -v filter)"); fi
fi
for p in filter dedup bpe packer; do [ -x "$bin/$p" ] || { echo "parallel-pipeline: $bin/$p: not found (--bin)" >&2; exit 1; }; done

abs() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }
bin=$(abs "$bin") tok=$(abs "$tok")
mkdir -p "$out"
out=$(cd "$out" && pwd)
w=$out/work
W=$(printf '%q' "$w") # in the jobs' command lines
rm -rf "$w"
mkdir -p "$w"/filtered "$w"/unique "$w"/clean "$w"/tok "$w"/keys "$w"/counts "$w"/rejects

# The shards in byte order, each named by its number: dedup's global order is
# shard names in byte order, and 000000 < 000001 < ... keeps the input's.
i=0
for s in "${shards[@]}"; do abs "$s"; done | LC_ALL=C sort | while IFS= read -r s; do
    printf '%06d\t%s\n' "$i" "$s"; i=$((i + 1))
done > "$w/shards.tsv"
cut -f1 "$w/shards.tsv" > "$w/ids.txt"
n=$(wc -l < "$w/ids.txt")

# Every job runs in this folder, on every host (--workdir .), so that relative
# paths in the options mean what they mean here; the stages' files are named
# by absolute paths under $w.
par=(parallel --halt now,fail=1 --workdir .)
[ -n "$jobs" ] && par+=(-j "$jobs")
[ -n "$ssh" ] && par+=(--sshlogin "$ssh")
stage() { printf 'parallel-pipeline: %s\n' "$*" >&2; }
q() { printf '%q ' "$@"; } # quote for the remote shell
evq=
for e in "${evals[@]+"${evals[@]}"}"; do evq+="--eval $(q "$(abs "$e")")"; done

stage "filter: $n shards"
"${par[@]}" --colsep '\t' "$(q "$bin/filter") $fopts -q --rejects $W/rejects/{1}.filter.jsonl -o $W/filtered/{1}.jsonl {2}" :::: "$w/shards.tsv"

stage "dedup: sig on every shard, sort, cluster, apply on every shard"
"${par[@]}" "$(q "$bin/dedup") sig $dopts -q $W/filtered/{}.jsonl | LC_ALL=C sort -S $sortmem > $W/keys/{}.keys" :::: "$w/ids.txt"
(cd "$w" && LC_ALL=C sort -m -S "$sortmem" keys/*.keys | "$bin/dedup" cluster -q -o drop.tsv)
"${par[@]}" "$(q "$bin/dedup") apply --drop $W/drop.tsv -q --rejects $W/rejects/{}.dedup.jsonl -o $W/unique/{}.jsonl $W/filtered/{}.jsonl" :::: "$w/ids.txt"

docs=unique
if [ ${#evals[@]} -gt 0 ]; then
    stage "decontam: count on every shard, the counts summed, then every shard"
    freq=
    if ! printf ' %s ' "$xopts" | grep -Eq -- ' --max-doc-freq +0 '; then # 0: no counting
        "${par[@]}" "$(q "$bin/dedup") decontam count $evq $xopts -q -o $W/counts/{}.count $W/unique/{}.jsonl" :::: "$w/ids.txt"
        (cd "$w" && cat counts/*.count > counts.all) # the reduce: count files add up
        freq="--doc-freq $W/counts.all"
    fi
    "${par[@]}" "$(q "$bin/dedup") decontam $evq $xopts $freq -q --rejects $W/rejects/{}.decontam.jsonl -o $W/clean/{}.jsonl $W/unique/{}.jsonl" :::: "$w/ids.txt"
    docs=clean
fi

stage "bpe encode: every shard"
"${par[@]}" "$(q "$bin/bpe") encode -t $(q "$tok") -q -o $W/tok/{}.tok $W/$docs/{}.jsonl" :::: "$w/ids.txt"

stage "packer: the $n token streams as one source"
sed "s|.*|$w/tok/&.tok|" "$w/ids.txt" > "$w/tok.txt"
mapfile -t streams < "$w/tok.txt"
"$bin/packer" -o "$out/data" -t "$tok" $popts --concat "${streams[@]}"
