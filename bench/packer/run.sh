#!/usr/bin/env bash
# packer's throughput against `cat` of the same bytes and against the nanoGPT
# prepare.py approach (numpy: read, cut at end-of-text, shuffle, concatenate,
# tofile) on a generated token stream (GPT-2 vocabulary, PACKER_BENCH_TOKENS
# tokens, default 64M = 128 MB). Outputs are checked against each other before
# anything is timed; each time is the best of PACKER_BENCH_RUNS (default 3).
# Called by bench/run.sh from the repo root with $BIN (and $BUILD) set.
set -euo pipefail
: "${BIN:=$PWD/bin}" "${BUILD:=$PWD/build}"
N=${PACKER_BENCH_TOKENS:-64000000}
RUNS=${PACKER_BENCH_RUNS:-3}
PY=/usr/bin/python3
W="$BUILD/bench-packer"
rm -rf "$W"
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
D=bench/packer

$PY "$D/gen.py" "$W/in.tok" "$N" 1 >"$W/gen.txt"
bytes=$(stat -c %s "$W/in.tok")
echo "input: $(cat "$W/gen.txt"), $((bytes / 1000000)) MB (uint16); $(nproc) cores here, packer uses 1 thread"
cat "$W/in.tok" >/dev/null # into the page cache for everyone

now() { date +%s.%N; }
# best NAME CMD...: the least wall time of $RUNS runs, in $best
best() {
    best=
    for _ in $(seq "$RUNS"); do
        rm -rf "$W/o"
        local t0 t1
        t0=$(now)
        "$@" >/dev/null 2>&1
        t1=$(now)
        best=$(echo "$t0 $t1 ${best:-1e9}" | awk '{ d = $2 - $1; print (d < $3 ? d : $3) }')
    done
}
line() { # case ours peer
    awk -v c="$1" -v o="$2" -v p="$3" 'BEGIN { printf "%-34s %8.3f %8.3f %7.2fx  (%.0f MB/s)\n", c, o, p, p / o, '"$bytes"' / o / 1e6 }'
}

cat_plain() { cat "$W/in.tok" >"$W/cat.bin"; }
cat_sync() { cat "$W/in.tok" >"$W/cat.bin" && sync "$W/cat.bin"; }
ours() { "$BIN/packer" -o "$W/o" --quiet --val 0 "$@" "$W/in.tok"; }

# Checks first: input order is byte-identical to numpy's concatenation; the
# shuffled outputs hold the same tokens (numpy's permutation is not ours).
ours --no-shuffle
$PY "$D/peer.py" "$W/in.tok" "$W/np.bin" keep 1
cmp -s "$W/o/train_000000.bin" "$W/np.bin" || { echo "packer --no-shuffle and numpy differ" >&2; exit 1; }
rm -rf "$W/o"
ours
$PY "$D/peer.py" "$W/in.tok" "$W/np.bin" shuffle 1
$PY - "$W/o/train_000000.bin" "$W/np.bin" <<'EOF' || { echo "shuffled outputs hold different tokens" >&2; exit 1; }
import sys, numpy as np
a, b = (np.fromfile(p, dtype=np.uint16)[512:] for p in sys.argv[1:3])
sys.exit(0 if len(a) == len(b) and a[0] == b[0] == 50256 and
         (np.bincount(a, minlength=65536) == np.bincount(b, minlength=65536)).all() and
         not (a == b).all() else 1)
EOF
rm -f "$W/np.bin"
echo "checked: --no-shuffle output == numpy's; shuffled outputs are the same tokens in other orders"

echo "case                                ours_s   peer_s speedup"
best cat_plain; t_cat=$best
best cat_sync; t_cats=$best
best ours --no-shuffle; t_keep=$best
best ours; t_shuf=$best
best ours --best-fit; t_bf=$best
best $PY "$D/peer.py" "$W/in.tok" "$W/np.bin" keep 1; t_npk=$best
best $PY "$D/peer.py" "$W/in.tok" "$W/np.bin" shuffle 1; t_nps=$best
line "input order vs cat (no fsync)" "$t_keep" "$t_cat"
line "input order vs cat + fsync" "$t_keep" "$t_cats"
line "shuffled vs cat + fsync" "$t_shuf" "$t_cats"
line "best-fit 1024 vs cat + fsync" "$t_bf" "$t_cats"
line "input order vs numpy concatenate" "$t_keep" "$t_npk"
line "shuffled vs numpy shuffle+concat" "$t_shuf" "$t_nps"
echo "(speedup = peer_s / ours_s: at or above 0.90 against cat + fsync meets the goal; packer fsyncs its shards, as cat + fsync and the numpy peer do)"
