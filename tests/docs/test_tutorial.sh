# docs/tutorial.md, run: every command block it shows, in order, in one shell,
# so the tutorial cannot rot. How a block is marked (the fence's info string):
#
#   ```sh        commands: run here (CPU only)
#   ```sh mpi    commands that need mpirun and a build with MPI: run where both
#                are present, else skipped (and said so); first line "# MPI"
#   ```sh gpu    commands for an NVIDIA GPU (--device cuda): skipped, unless
#                TUTORIAL_GPU=1 (on a machine with a GPU and a CUDA build);
#                first line "# GPU"
#   ```console   what a command printed (an excerpt): shown only, never run;
#                any other fence (```text, ```python, ...) is shown only too
#
# (The first lines are for the reader: GitHub does not show a fence's info
# string. The test checks them, and that --device cuda is only in gpu blocks.)
#
# Blocks run with `set -euo pipefail` in a scratch folder that looks like the
# project's top folder (bin/ is $BIN, corpora/, bpe/ and scripts/ are the
# project's), so `bin/model ...` works as it does for a user. The tutorial
# keeps its sizes in variables set at the start of a line (`STEPS=400  # ...`);
# the test puts its own value on every such line of the variables in SET below
# (short runs, small batches), and checks that each of them was found. Then it
# checks the files the tutorial says it wrote.
#
# TUTORIAL_FULL=1: no substitutions but OUT, the tutorial's own sizes (about 20
# minutes on 2 cores). TUTORIAL_LOG=DIR: keep each block's output in
# DIR/LINE.out (LINE: the block's line in the tutorial), to refresh the
# excerpts. Without either: about a minute on 2 cores.
. tests/check.sh
DOC=docs/tutorial.md
ROOT=$PWD
W=$T/ws
mkdir -p "$W" "$T/out"
ln -s "$BIN" "$W/bin"
for d in corpora bpe scripts; do ln -s "$ROOT/$d" "$W/$d"; done
LOG=${TUTORIAL_LOG:-$T/log}
mkdir -p "$LOG"

SET="OUT=$T/out"
[ -n "${TUTORIAL_FULL:-}" ] || SET="$SET STEPS=6 MICRO=2 CONTEXT=64 SWEEP_STEPS=3 LR_STEPS=12"

mpi=0
if command -v mpirun >/dev/null && ldd "$BIN/model" 2>/dev/null | grep -q libmpi; then mpi=1; fi
# OpenMPI's own allocations outlive MPI_Finalize, which AddressSanitizer
# (make asan) reports as leaks: off for these runs, as in tests/model/test_mpi.sh
if [ "$mpi" = 1 ]; then export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"; fi
gpu=${TUTORIAL_GPU:-0}

# The runner: the blocks to run, each after a marker line that names it, with
# the test's values on the lines that set a variable of SET. Lines that set one
# are counted in $T/found (NAME per line).
awk -v set="$SET" -v mpi="$mpi" -v gpu="$gpu" -v found="$T/found" -v logdir="$LOG" -v excerpts="$T/excerpts" '
    BEGIN {
        n = split(set, kv, " ")
        for (i = 1; i <= n; i++) { eq = index(kv[i], "="); val[substr(kv[i], 1, eq - 1)] = substr(kv[i], eq + 1) }
        print "set -euo pipefail"
        print "trap '\''echo \"'"$DOC"':$__line: exit $? in the block starting there\" >&3'\'' ERR"
    }
    /^```/ && !inblock {
        info = substr($0, 4); inblock = 1; run = 0; shown = info == "console" && lastrun
        if (info != "console") lastrun = 0
        if (info == "sh") run = 1
        else if (info == "sh mpi") { run = mpi == 1; if (!run) skipped++ }
        else if (info == "sh gpu") { run = gpu == 1; if (!run) skipped++ }
        if (run) {
            blocks++; lastrun = NR
            printf "__line=%d; exec >\"%s/%d.out\" 2>&1; echo \"## %s:%d at $SECONDS s\" >&4\n", NR, logdir, NR, "'"$DOC"'", NR
        }
        next
    }
    /^```/ && inblock { inblock = 0; next }
    inblock && shown { print lastrun "\t" NR "\t" $0 >> excerpts }
    inblock && run {
        line = $0
        if (match(line, /^(export )?[A-Z_]+=/)) {
            name = substr(line, 1, RLENGTH - 1); sub(/^export /, "", name)
            if (name in val) { line = substr(line, 1, RLENGTH) val[name]; print name >> found }
        }
        print line
    }
    END { printf "echo \"%d blocks run, %d skipped\" >&4\n", blocks, skipped }
' "$DOC" > "$T/tutorial.sh"

nblocks=$(grep -c '^__line=' "$T/tutorial.sh")
[ "$nblocks" -ge 20 ] && ok || { fail "only $nblocks blocks to run in $DOC"; check_done test_tutorial; exit; }
for kv in $SET; do
    name=${kv%%=*}
    grep -qx "$name" "$T/found" 2>/dev/null && ok || fail "$DOC sets no $name at the start of a line: the test cannot shorten it"
done
# every command for a GPU is in a gpu block, and every gpu block has one; gpu
# and mpi blocks say so on their first line, where a reader sees it (GitHub
# does not show the fence's info string)
awk '/^```/ { if (!b) { b = 1; info = substr($0, 4); has = 0; start = NR } else { b = 0; if (info == "sh gpu" && !has) print "tutorial.md:" start ": a gpu block without --device cuda" }; next }
     b && NR == start + 1 && info == "sh gpu" && $0 != "# GPU" { print "tutorial.md:" NR ": a gpu block must start with # GPU" }
     b && NR == start + 1 && info == "sh mpi" && $0 != "# MPI" { print "tutorial.md:" NR ": an mpi block must start with # MPI" }
     b && /--device cuda/ { has = 1; if (info != "sh gpu") print "tutorial.md:" NR ": --device cuda outside a gpu block" }' "$DOC" > "$T/marks"
[ ! -s "$T/marks" ] && ok || fail "$(cat "$T/marks")"

# as root in a container, OpenMPI wants to be told; shared memory without CMA
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
    OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_btl=self,vader
start=$(date +%s)
(cd "$W" && bash "$T/tutorial.sh" 3>"$T/failed" 4>"$T/progress")
rc=$?
secs=$(( $(date +%s) - start ))
echo "test_tutorial: $(tail -n 1 "$T/progress") in ${secs} s; each block's start:"
grep '^##' "$T/progress" | sed 's/^## /  /'
if [ "$rc" = 0 ]; then ok; else
    at=$(sed -n 's/^docs\/tutorial.md:\([0-9]*\):.*/\1/p' "$T/failed" | head -n 1)
    fail "$(cat "$T/failed") (exit $rc after $(grep -c '^##' "$T/progress") blocks, ${secs} s); its output:
$(tail -n 30 "$LOG/${at:-0}.out" 2>/dev/null)"
    check_done test_tutorial; exit
fi

# The excerpts: each summary line a console block shows (one that starts
# "filter:", "dedup:", "bpe:", "packer:", "model:", "model plan:", "lr-find:"
# or "parallel-pipeline:"; not "model: sample:", whose reason for stopping
# depends on the model) must still be a line of what the block before it
# printed here, with any number for a number, any path for a path, and "..."
# for anything: when a program's wording changes, the tutorial must follow.
perl -e '
    open(my $x, "<", $ARGV[0]) or die "no excerpts\n";
    my ($bad, $checked) = (0, 0);
    while (<$x>) {
        chomp; my ($run, $n, $l) = split /\t/, $_, 3;
        next unless $l =~ /^(filter|dedup|bpe|packer|model|model plan|lr-find|parallel-pipeline):/;
        next if $l =~ /^model: sample:/;
        my $re = join "", map {
            /^\.\.\.$/ ? ".*" : /^\d/ ? "[0-9][0-9.,e+-]*[kMGTB]?" : /^\// ? "\\S+" : /^\s/ ? "\\s+" : quotemeta
        } ($l =~ /(\.\.\.|\d[\d.,]*(?:e[+-]?\d+)?[kMGTB]?|\/\S+|\s+|.)/g);
        open(my $o, "<", "$ARGV[1]/$run.out") or do { print "tutorial.md:$n: no output of the block at line $run\n"; $bad++; next };
        my $found = grep { /^$re$/ } <$o>;
        $checked++;
        unless ($found) { print "tutorial.md:$n: no such line in what the block at line $run printed: $l\n"; $bad++ }
    }
    print "test_tutorial: $checked summary lines of the excerpts checked\n";
    exit($bad > 0 || $checked < 20);
' "$T/excerpts" "$LOG" > "$T/excerpt.out" && ok || fail "$(cat "$T/excerpt.out")"
cat "$T/excerpt.out"

# what the tutorial says it wrote
O=$T/out
for f in stats.txt kept.jsonl unique.jsonl tok.json docs.tok data/meta.json data/tokenizer.json run/latest \
         run/log.csv run/loss.png sample.txt hf/model.safetensors hf/config.json hf/tokenizer.json \
         sweep/results.csv sweep/sweep.png lr/lr.csv lr/lr.png \
         arpabet/tok.json arpabet/run/latest arpabet/sample.txt arpabet/sample-english.txt \
         par/data/meta.json; do
    [ -s "$O/$f" ] && ok || fail "the tutorial should have written $f"
done
# the one pipe packs what the stages one by one did
expect_same "$O/data/train_000000.bin" "$O/data-pipe/train_000000.bin"
expect_same "$O/data/val_000000.bin" "$O/data-pipe/val_000000.bin"
# the practice folder: plain-text files, read as such
grep -q 'plain text' "$LOG"/*.out && ok || fail "no summary says the files were read as plain text"
# the samples continue their prompts; the ARPAbet one reads back as words
head -c 28 "$O/sample.txt" | grep -qx 'Permission is hereby granted' && ok || fail "sample.txt: $(head -c 100 "$O/sample.txt")"
head -c 13 "$O/arpabet/sample.txt" | grep -qx 'DA0 kI1G sE1d' && ok || fail "arpabet/sample.txt: $(head -c 100 "$O/arpabet/sample.txt")"
head -c 13 "$O/arpabet/sample-english.txt" | grep -qx 'the king said' && ok || fail "sample-english.txt: $(head -c 100 "$O/arpabet/sample-english.txt")"
# the ARPAbet tokenizer keeps vowels with their stress digits (its pattern is the classes')
grep -q 'A-Za-z012' "$O/arpabet/tok.json" && ok || fail "arpabet/tok.json was not trained with the classes"
# the parallel pipeline's shards pack as the one-process pipeline on the same documents
expect_same "$O/data/train_000000.bin" "$O/par/data/train_000000.bin"
expect_same "$O/data/val_000000.bin" "$O/par/data/val_000000.bin"
if [ "$mpi" = 1 ]; then
    # two ranks sharing section 8's step: its losses (as the tutorial says), within 1e-5
    paste -d, "$O/run/log.csv" "$O/run-mpi/log.csv" | awk -F, 'NR > 1 { d = $3 - $11; if (d < 0) d = -d
        if (d > 1e-5 * $3) bad++; n++ } END { exit bad > 0 || n == 0 }' && ok ||
        fail "the mpirun run's losses differ from section 8's: $(tail -n 2 "$O/run/log.csv" "$O/run-mpi/log.csv")"
else
    echo "test_tutorial: the mpi blocks were skipped (no mpirun, or a build without MPI)"
fi
check_done test_tutorial
