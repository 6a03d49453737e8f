#!/usr/bin/env bash
# bench/dedup: dedup against its peers, side by side in one run, outputs checked
# equal before anything is timed.
#   - MinHash signatures: dedup vs a plain numpy reference after datasketch
#     (ref_minhash.py, same arithmetic): identical signatures, then both timed.
#   - exact mode vs `LC_ALL=C sort -u` (the floor) on the texts alone.
#   - throughput (MB/s of wall time, and per CPU second) of exact, minhash,
#     exact+minhash, minhash with either --verify, sig and decontam on the
#     bundled corpus at -j 1 and -j $(nproc) (JOBS="1 4 8" to choose; with
#     --verify, the candidate pairs checked); peak RSS per million kept
#     documents, without --verify and with each.
#   - precision and recall on planted near-duplicates (plant.py, score.py).
# Run from the repo root: bash bench/dedup/run.sh ($BIN: the programs' folder).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${BIN:=$PWD/bin}"
D=$BIN/dedup
PY=/usr/bin/python3
here=bench/dedup
corpus=corpora/en.jsonl.gz
[ -x "$D" ] || { echo "bench/dedup: $D not built (make bin/dedup)" >&2; exit 1; }
[ -f "$corpus" ] || { echo "bench/dedup: $corpus missing (make corpora)" >&2; exit 1; }
[ -f corpora/eval.jsonl.gz ] || bash corpora/build-eval.sh >/dev/null
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# secs_rss CMD...: runs it (stdout to $T/o), sets $secs (wall), $cpu (user +
# system: the fair figure on a shared machine) and $rss_kb.
secs_rss() {
    /usr/bin/time -f '%e %U %S %M' -o "$T/time" "$@" > "$T/o" 2> "$T/e" || { cat "$T/e" >&2; exit 1; }
    read -r secs user sys rss_kb < "$T/time"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }'; }
mbps() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? n / 1e6 / s : 0) }'; }

gzip -dc "$corpus" > "$T/en.jsonl"
bytes=$(wc -c < "$T/en.jsonl")
docs=$(wc -l < "$T/en.jsonl")
echo "input: $corpus, $docs documents, $bytes bytes of JSON Lines; $(nproc) cores here, load $(cut -d' ' -f1 /proc/loadavg); dedup -j 1 unless said"

echo "-- MinHash signatures vs the numpy reference (--normalize none, 14x8, 5-grams)"
awk 'NR % 40 == 1' "$T/en.jsonl" > "$T/sample.jsonl"
sbytes=$(wc -c < "$T/sample.jsonl")
"$D" sig minhash --verify estimate --normalize none -q "$T/sample.jsonl" | grep '^z' > "$T/ours.sig"
$PY $here/ref_minhash.py --shard "$T/sample.jsonl" < "$T/sample.jsonl" > "$T/ref.sig"
if ! cmp -s "$T/ours.sig" "$T/ref.sig"; then echo "bench/dedup: signatures differ from the reference" >&2; exit 1; fi
echo "signatures identical: $(wc -l < "$T/ours.sig") documents, $sbytes bytes"
# ours is timed over 10 runs (one is too short to time), the reference over one
secs_rss bash -c 'for i in 1 2 3 4 5 6 7 8 9 10; do "$0" minhash -j 1 --normalize none -q "$1" > /dev/null; done' "$D" "$T/sample.jsonl"
ours=$(awk -v s="$cpu" 'BEGIN { printf "%.3f", s / 10 }')
secs_rss $PY $here/ref_minhash.py < "$T/sample.jsonl"; peer=$cpu
echo "case ours_s peer_s speedup   (CPU seconds, user + system)"
echo "minhash-signatures $ours $peer $(ratio "$ours" "$peer")   (ours $(mbps "$sbytes" "$ours") MB/s, numpy $(mbps "$sbytes" "$peer") MB/s)"

echo "-- exact mode vs sort -u (texts only, no normalisation)"
$PY -c 'import json,sys
for l in sys.stdin: sys.stdout.write(json.dumps({"text": json.loads(l)["text"]}) + "\n")' < "$T/en.jsonl" > "$T/texts.jsonl"
tbytes=$(wc -c < "$T/texts.jsonl")
"$D" exact --normalize none -q "$T/texts.jsonl" | LC_ALL=C sort > "$T/a"
LC_ALL=C sort -u "$T/texts.jsonl" > "$T/b"
if ! cmp -s "$T/a" "$T/b"; then echo "bench/dedup: exact mode and sort -u disagree" >&2; exit 1; fi
echo "same $(wc -l < "$T/a") unique texts of $docs"
secs_rss "$D" exact -j 1 --normalize none -q "$T/texts.jsonl"; ours=$cpu
secs_rss env LC_ALL=C sort -u "$T/texts.jsonl"; peer=$cpu
echo "case ours_s peer_s speedup   (CPU seconds, user + system)"
echo "exact-vs-sort-u $ours $peer $(ratio "$ours" "$peer")"

echo "-- throughput on the corpus (MB/s of JSON Lines: bytes / wall seconds, and bytes / CPU seconds)"
printf '%-28s %3s %8s %8s %8s %10s %10s\n' mode j wall_s cpu_s MB/s MB/s/core peakRSS_MB
for mode in "exact" "minhash" "default (exact+minhash)" "minhash --verify estimate" "minhash --verify exact" "sig" "decontam"; do
    case $mode in
        exact) args="exact" ;; minhash) args="minhash" ;; "minhash --verify"*) args=${mode} ;; sig) args="sig" ;;
        decontam) args="decontam --eval corpora/eval.jsonl.gz" ;; *) args="" ;;
    esac
    for j in ${JOBS:-1 $(nproc)}; do
        secs_rss "$D" $args -j "$j" "$T/en.jsonl"
        extra=$(grep -o -- '--verify [a-z]*: .*' "$T/e" || true)
        printf '%-28s %3s %8s %8s %8s %10s %10s  %s\n' "$mode" "$j" "$secs" "$cpu" "$(mbps "$bytes" "$secs")" \
            "$(mbps "$bytes" "$cpu")" "$((rss_kb / 1024))" "$extra"
    done
done

echo "-- peak RSS per million kept documents (1,000,000 synthetic unique documents)"
awk 'function w(n,  s) { s = ""; do { s = s substr("abcdefghijklmnopqrstuvwxyz", n % 26 + 1, 1); n = int(n / 26) } while (n); return s }
     BEGIN { srand(7); for (i = 0; i < 1000000; i++) { t = w(i); for (k = 0; k < 8; k++) t = t " " w(int(rand() * 1e9)); print "{\"text\":\"" t "\"}" } }' > "$T/million.jsonl"
: > "$T/empty.jsonl"
secs_rss "$D" -q "$T/empty.jsonl"; base_kb=$rss_kb
for args in "" "--verify exact" "--verify estimate"; do
    secs_rss "$D" $args -q "$T/million.jsonl"
    kept=$(wc -l < "$T/o")
    echo "dedup $args: $kept kept, peak RSS $((rss_kb / 1024)) MB, $(( (rss_kb - base_kb) * 1024 / kept )) bytes per kept document (--help: at most ~1.1 KB, +8 with --verify exact, +896 with --verify estimate), $secs s"
done

echo "-- planted near-duplicates (minhash --normalize none, 14x8, threshold 0.8)"
gzip -dc "$corpus" | $PY $here/plant.py 900 > "$T/mixed.jsonl"
for v in "" "--verify estimate" "--verify exact"; do
    "$D" minhash $v --normalize none -q --rejects "$T/rej.jsonl" "$T/mixed.jsonl" > /dev/null
    (cd $here && $PY score.py "$T/mixed.jsonl" "$T/rej.jsonl" 0.8 "minhash $v")
done
# the sharded chain with --verify exact (2 shards: bases | copies) equals the single run
head -n 900 "$T/mixed.jsonl" > "$T/a.jsonl"; tail -n +901 "$T/mixed.jsonl" > "$T/b.jsonl"
"$D" minhash --verify --normalize none -q "$T/a.jsonl" "$T/b.jsonl" > "$T/single.jsonl"
(cd "$T" && "$D" sig minhash --verify --normalize none -q a.jsonl b.jsonl | LC_ALL=C sort -S 200M |
    "$D" cluster -q -o drop.tsv && "$D" apply --drop drop.tsv -q a.jsonl b.jsonl > chain.jsonl)
if cmp -s "$T/single.jsonl" "$T/chain.jsonl"; then echo "sharded chain (sig | sort | cluster | apply) with --verify exact: same output as the single run"
else echo "bench/dedup: the sharded chain differs from the single run" >&2; exit 1; fi
