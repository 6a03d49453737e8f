#!/usr/bin/env bash
# bench/filter/same.sh: two builds of filter give byte-identical outputs (kept
# documents and rejects with their reasons) on a whole corpus, under the default
# rules, every set, and each Gopher rule alone at its published threshold and at
# half of it (so the exact passes that the bounds usually skip run too). Used to
# check a speed change to filter/heur.c against the build before it:
#
#   cp bin/filter /tmp/filter.before          # before the change
#   ... change, make bin/filter ...
#   bash bench/filter/same.sh /tmp/filter.before bin/filter [corpora/en.jsonl.gz]
#
# Prints one line a configuration and "same: N configurations identical" or the
# ones that differ (exit 1). Takes about 2 x 1.5 s a configuration.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: bench/filter/same.sh OLD_FILTER NEW_FILTER [CORPUS]" >&2; exit 2; }
old=$1 new=$2 corpus=${3:-corpora/en.jsonl.gz}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
case $corpus in *.gz) zcat "$corpus" > "$W/in.jsonl" ;; *) cp "$corpus" "$W/in.jsonl" ;; esac

configs=("" "--rules c4,fineweb" "--preset none --rules c4" "--preset none --rules fineweb")
while read -r name def; do
    configs+=("--preset none --rule $name=$def")
    configs+=("--preset none --rule $name=$(awk -v v="$def" 'BEGIN { print v / 2 }')")
done < <("$old" rules | awk '$2 == "gopher" { print $1, $5 }')

n_same=0 n_diff=0
for cfg in "${configs[@]}"; do
    # shellcheck disable=SC2086
    "$old" -j 2 $cfg --rejects "$W/rej.old" "$W/in.jsonl" > "$W/out.old" 2> "$W/sum.old"
    # shellcheck disable=SC2086
    "$new" -j 2 $cfg --rejects "$W/rej.new" "$W/in.jsonl" > "$W/out.new" 2> "$W/sum.new"
    kept=$(wc -l < "$W/out.old"); dropped=$(wc -l < "$W/rej.old")
    if cmp -s "$W/out.old" "$W/out.new" && cmp -s "$W/rej.old" "$W/rej.new"; then
        n_same=$((n_same + 1)); verdict=same
    else
        n_diff=$((n_diff + 1)); verdict=DIFFERENT
    fi
    printf '%-9s kept %6d dropped %6d  %s\n' "$verdict" "$kept" "$dropped" "${cfg:-(default)}"
done
if [ "$n_diff" -gt 0 ]; then
    echo "same: $n_diff of $((n_same + n_diff)) configurations differ" >&2
    exit 1
fi
echo "same: $n_same configurations identical (kept and rejects, byte for byte)"
