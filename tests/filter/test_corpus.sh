# bin/filter on the whole bundled corpus gives, byte for byte, the kept documents
# and the rejects (with their reasons) that it gave before the heuristics were
# made fast (the SHA-256 below were recorded with the build of commit 83f3a56),
# with the default rules and with Gopher + C4 + FineWeb, at -j 1, 2 and 3.
# A change of a verdict, a reason or a rewritten text shows here. Rejects have
# since gained "filter_value" after "filter_reason": without it they must still
# be those bytes, and with it the bytes recorded when it was added (the values
# themselves are checked against datatrove's code in test_ref.sh and against
# the thresholds in test_stats.sh). When corpora/en.jsonl.gz itself changes,
# its digest check fails first: record the new digests with a build known to be
# right (bench/filter/same.sh compares two builds over more rule settings).
. tests/check.sh
CORPUS_SHA=08ebdccbe594f35dbb837807bcfdba953624f4cafad3911e7cb9f56f75bc166b
zcat corpora/en.jsonl.gz > "$T/in.jsonl"
sha() { sha256sum < "$1" | cut -d' ' -f1; }
expect_sha() { # FILE SHA WHAT
    local got
    got=$(sha "$1")
    if [ "$got" = "$2" ]; then ok; else fail "$3: expected SHA-256 $2, got $got ($(wc -l < "$1") lines)"; fi
}
expect_sha "$T/in.jsonl" "$CORPUS_SHA" "corpora/en.jsonl.gz decompressed (corpus changed? see the top of this file)"

# args | kept SHA | rejects SHA without filter_value | rejects SHA
while IFS='|' read -r args kept_sha rej_sha val_sha; do
    for j in 1 2 3; do
        # shellcheck disable=SC2086
        expect_rc 0 "$BIN/filter" -j $j $args --rejects "$T/rej.jsonl" "$T/in.jsonl"
        expect_sha "$T/out" "$kept_sha" "kept documents of 'filter -j $j $args'"
        sed -E 's/,"filter_value":[-+.0-9e]+\}$/}/' "$T/rej.jsonl" > "$T/rej-novalue.jsonl"
        expect_sha "$T/rej-novalue.jsonl" "$rej_sha" "rejects without filter_value of 'filter -j $j $args'"
        expect_sha "$T/rej.jsonl" "$val_sha" "rejects of 'filter -j $j $args'"
    done
done <<'EOF'
 |912dfd370f9c369f6d6625c2d0176f6a5fef39a14fcbadcf0b5575d9c30f475d|64715b9639ccca32b450d09ec7e39a447729f0e48847c1b3fb70f908bd930f85|5aadc7eae1c7306057fae91a3bc54eb56217e9974a8f14e72a6b8f82c4fcc4fb
--rules c4,fineweb|9e6a95448bf06e8237192ef0fe04e05a50a4922099090374e1090ade7e3dd1c0|7b8f07c575f711ae81b775ea500b657e4a1c518f945a7a8cdbd5d360be28b240|d470c0c73f6a16107477fad6250ae71022bfadbde18fa29ab119e7ba1ff70ba3
EOF
check_done test_corpus
