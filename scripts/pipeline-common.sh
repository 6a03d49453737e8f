# The part of the sharded pipeline that its engines share, sourced by
# scripts/parallel-pipeline.sh (GNU parallel) and scripts/slurm-pipeline.sh
# (Slurm): the options that say what the pipeline does, and the work folder
# that every stage takes its settings and shards from. The stages' commands
# are in scripts/pipeline-stage.sh; the engines only say where they run.
# The sourcing script sets $me (its name, for messages) and defines die().

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin= out= tok= fopts= dopts= xopts= popts= sortmem=512M
evals=()
shards=()

# The options both engines take, for their --help.
pipeline_options_help() {
    cat <<'EOF'
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
  --sort-mem SIZE     sort's -S for the key files (default 512M)
EOF
}

# pipeline_opt ARG...: one of the shared options at the front of ARG, or a
# shard; sets $took to the number of words it used (0: not one of these).
pipeline_opt() {
    took=2
    case $1 in
        -o) [ $# -ge 2 ] || die "-o needs a folder"; out=$2 ;;
        -t) [ $# -ge 2 ] || die "-t needs a tokenizer.json"; tok=$2 ;;
        --filter) [ $# -ge 2 ] || die "--filter needs options"; fopts=$2 ;;
        --dedup) [ $# -ge 2 ] || die "--dedup needs options"; dopts=$2 ;;
        --eval) [ $# -ge 2 ] || die "--eval needs a file"; evals+=("$2") ;;
        --decontam) [ $# -ge 2 ] || die "--decontam needs options"; xopts=$2 ;;
        --packer) [ $# -ge 2 ] || die "--packer needs options"; popts=$2 ;;
        --bin) [ $# -ge 2 ] || die "--bin needs a folder"; bin=$2 ;;
        --sort-mem) [ $# -ge 2 ] || die "--sort-mem needs a size"; sortmem=$2 ;;
        -*) took=0 ;;
        *) shards+=("$1"); took=1 ;;
    esac
}

abs() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }

# pipeline_setup: checks the options, then makes the work folder $w (DIR/work,
# emptied): the stages' folders; shards.tsv, each shard numbered in byte order
# of the paths (dedup's global order is the shard names' byte order, and
# 000000 < 000001 < ... keeps the input's); ids.txt, the numbers; stage.env,
# the settings; stage.sh, the stages. Sets $n, the number of shards.
pipeline_setup() {
    [ -n "$out" ] || die "-o DIR is required"
    [ -n "$tok" ] || die "-t TOKENIZER is required"
    [ ${#shards[@]} -gt 0 ] || die "no shards given"
    if [ -z "$bin" ]; then
        if [ -x "$here/bin/filter" ]; then bin=$here/bin; else bin=$(dirname "$(command -v filter || echo ./filter)"); fi
    fi
    local p s e
    for p in filter dedup bpe packer; do [ -x "$bin/$p" ] || { echo "$me: $bin/$p: not found (--bin)" >&2; exit 1; }; done
    for s in "${shards[@]}"; do [ -r "$s" ] || { echo "$me: $s: no such shard (or not readable)" >&2; exit 1; }; done
    bin=$(abs "$bin") tok=$(abs "$tok")
    local ev=()
    for e in "${evals[@]+"${evals[@]}"}"; do ev+=("$(abs "$e")"); done
    evals=("${ev[@]+"${ev[@]}"}")
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    w=$out/work
    rm -rf "$w"
    mkdir -p "$w"/filtered "$w"/unique "$w"/clean "$w"/tok "$w"/keys "$w"/counts "$w"/rejects "$w"/status
    local i=0
    for s in "${shards[@]}"; do abs "$s"; done | LC_ALL=C sort | while IFS= read -r s; do
        printf '%06d\t%s\n' "$i" "$s"; i=$((i + 1))
    done > "$w/shards.tsv"
    cut -f1 "$w/shards.tsv" > "$w/ids.txt"
    n=$(wc -l < "$w/ids.txt")
    # decontam: none without --eval; the count pass unless --max-doc-freq 0
    docs=unique count=0
    if [ ${#evals[@]} -gt 0 ]; then
        docs=clean
        printf ' %s ' "$xopts" | grep -Eq -- ' --max-doc-freq +0 ' || count=1
    fi
    declare -p bin tok out fopts dopts xopts popts sortmem evals docs count > "$w/stage.env"
    cp "$here/scripts/pipeline-stage.sh" "$w/stage.sh"
    chmod +x "$w/stage.sh"
}
