#!/usr/bin/env bash
# One stage of the sharded pipeline on one shard, or one of its reduce steps:
# the commands scripts/parallel-pipeline.sh runs as GNU parallel jobs and
# scripts/slurm-pipeline.sh as Slurm jobs, so both engines run the same ones.
# Settings come from WORK/stage.env, written by pipeline_setup
# (scripts/pipeline-common.sh), which also copies this file to WORK/stage.sh:
# a host needs only the shared work folder and the programs.
#
#   stage.sh WORK filter|sig|apply|count|decontam|encode [ID]  one shard (ID: 000003;
#                                                  default: $SLURM_ARRAY_TASK_ID)
#   stage.sh WORK cluster|sum|pack                 the reduce steps, once
#
# Writes WORK/status/STAGE.ID (or STAGE) holding the exit status when it ends,
# so that the engine can say which task failed. Exits 1 when the stage failed.
set -euo pipefail

[ $# -ge 2 ] || { echo "stage.sh: usage: stage.sh WORK STAGE [ID]" >&2; exit 2; }
w=$1 stage=$2 id=${3:-}
. "$w/stage.env"
case $stage in
    cluster|sum|pack) tag=$stage ;;
    *)
        [ -n "$id" ] || id=$(printf '%06d' "${SLURM_ARRAY_TASK_ID:?no shard ID given and no SLURM_ARRAY_TASK_ID}")
        tag=$stage.$id ;;
esac
mkdir -p "$w/status"
rm -f "$w/status/$tag"
trap 'echo $? > "$w/status/$tag"' EXIT

# The options as a shell reads them (quotes, globs relative to the folder the
# pipeline was started in, which is every job's working folder).
eval "fo=($fopts)" "de=($dopts)" "xo=($xopts)" "po=($popts)"
ev=()
for e in "${evals[@]+"${evals[@]}"}"; do ev+=(--eval "$e"); done
freq=()
[ "$count" = 1 ] && freq=(--doc-freq "$w/counts.all")

case $stage in
    filter)
        shard=$(awk -F'\t' -v id="$id" '$1 == id { print $2 }' "$w/shards.tsv")
        [ -n "$shard" ] || { echo "stage.sh: no shard $id in $w/shards.tsv" >&2; exit 1; }
        "$bin/filter" "${fo[@]+"${fo[@]}"}" -q --rejects "$w/rejects/$id.filter.jsonl" \
            -o "$w/filtered/$id.jsonl" "$shard" ;;
    sig)
        "$bin/dedup" sig "${de[@]+"${de[@]}"}" -q "$w/filtered/$id.jsonl" |
            LC_ALL=C sort -S "$sortmem" > "$w/keys/$id.keys" ;;
    cluster)
        cd "$w"
        LC_ALL=C sort -m -S "$sortmem" keys/*.keys | "$bin/dedup" cluster -q -o drop.tsv ;;
    apply)
        "$bin/dedup" apply --drop "$w/drop.tsv" -q --rejects "$w/rejects/$id.dedup.jsonl" \
            -o "$w/unique/$id.jsonl" "$w/filtered/$id.jsonl" ;;
    count)
        "$bin/dedup" decontam count "${ev[@]}" "${xo[@]+"${xo[@]}"}" -q -o "$w/counts/$id.count" "$w/unique/$id.jsonl" ;;
    sum) # the reduce: count files add up
        cd "$w"
        cat counts/*.count > counts.all.tmp && mv counts.all.tmp counts.all ;;
    decontam)
        "$bin/dedup" decontam "${ev[@]}" "${xo[@]+"${xo[@]}"}" "${freq[@]+"${freq[@]}"}" -q \
            --rejects "$w/rejects/$id.decontam.jsonl" -o "$w/clean/$id.jsonl" "$w/unique/$id.jsonl" ;;
    encode)
        "$bin/bpe" encode -t "$tok" -q -o "$w/tok/$id.tok" "$w/$docs/$id.jsonl" ;;
    pack) # the shards' token streams as one source, in shard order
        streams=()
        while IFS= read -r i; do streams+=("$w/tok/$i.tok"); done < "$w/ids.txt"
        "$bin/packer" -o "$out/data" -t "$tok" "${po[@]+"${po[@]}"}" --concat "${streams[@]}" ;;
    *) echo "stage.sh: unknown stage '$stage'" >&2; exit 2 ;;
esac
