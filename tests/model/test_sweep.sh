# model sweep and model lr-find from the command line: a grid with a skipped
# shape, parameter counts against the hand formula, resumability (a second run
# trains nothing and prints the same table; a lost point is retrained to the same
# losses; a killed point resumes), settings that changed, both budgets, and the
# LR range test's CSV, plot and suggestion.
. tests/check.sh
M="$BIN/model"
PY=/usr/bin/python3
$PY tests/model/mkshards.py "$T/data" corpora/en.jsonl.gz 20000 3000 || { echo "mkshards failed" >&2; exit 1; }
TR="--context 16 --micro-batch 4 --eval-every 5 -j 2"
GRID="--layers 1,2 --width 16,24 --heads 2,3"

# --- a grid of 8 shapes, 2 invalid (16 does not divide by 3)
expect_rc 0 "$M" sweep --device cpu --data "$T/data" -o "$T/sw" $GRID --steps 10 $TR
# float settings written as given: beta1 0.9, not 0.8999999762
grep -q "\"beta1\": 0.9," "$T/sw/sweep.json" && ok || fail "sweep.json beta1: $(grep beta1 "$T/sw/sweep.json")"
expect_err "skipping 1x16x3: width 16 does not divide by 3 heads"
expect_err "skipping 2x16x3: width 16 does not divide by 3 heads"
expect_err "6 points (6 trained now, 0 finished before, 2 shapes skipped)"
cp "$T/out" "$T/table1"
grep -q '^2x24x3 ' "$T/table1" && ok || fail "table lacks 2x24x3: $(cat "$T/table1")"
[ "$(wc -l < "$T/sw/results.csv")" = 7 ] && ok || fail "results.csv should have a header and 6 rows"
head -1 "$T/sw/results.csv" | grep -qx 'layers,width,heads,head_dim,params,steps,tokens,flops,tokens_per_s,train_loss,val_loss,run' \
    && ok || fail "results.csv header: $(head -1 "$T/sw/results.csv")"
# parameters: V D + T D + L (12 D^2 + 13 D) + 2 D with V 257, T 16, MLP 4 D; tokens 10 x 4 x 16
awk -F, 'NR>1 { want = 257*$2 + 16*$2 + $1*(12*$2*$2 + 13*$2) + 2*$2
                if ($5 != want || $7 != 640 || $4 != $2/$3 || $11 == "" || $10 <= 0) bad = bad " " $12 }
         END { if (bad) { print "bad rows:" bad; exit 1 } }' "$T/sw/results.csv" && ok || fail "results.csv rows"
for d in L1-D16-H2 L1-D24-H2 L1-D24-H3 L2-D16-H2 L2-D24-H2 L2-D24-H3; do
    [ -s "$T/sw/$d/result.json" ] && [ "$(wc -l < "$T/sw/$d/log.csv")" = 11 ] && ok || fail "$d: no result.json or log"
done
[ ! -e "$T/sw/L1-D16-H3" ] && ok || fail "a skipped shape got a folder"
head -c 4 "$T/sw/sweep.png" | grep -q PNG && ok || fail "no sweep.png"

# --- a second invocation trains nothing and prints the same table
cp "$T/sw/L2-D24-H3/ckpt-000010.bin" "$T/ck.before"
expect_rc 0 "$M" sweep --device cpu --data "$T/data" -o "$T/sw" $GRID --steps 10 $TR
expect_err "6 points (0 trained now, 6 finished before, 2 shapes skipped)"
expect_same "$T/table1" "$T/out"
expect_same "$T/ck.before" "$T/sw/L2-D24-H3/ckpt-000010.bin"

# --- a point whose folder is lost is trained again, to the same losses (same seed and data)
losses() { cut -d, -f1-8,10-12 "$1"; } # all but tokens_per_s
losses "$T/sw/results.csv" > "$T/loss1"
rm -rf "$T/sw/L2-D24-H3"
rm "$T/sw/L1-D24-H2/result.json" # finished log, result lost: rebuilt from log.csv without training
expect_rc 0 "$M" sweep --device cpu --data "$T/data" -o "$T/sw" $GRID --steps 10 $TR
expect_err "6 points (1 trained now, 4 finished before, 2 shapes skipped)"
losses "$T/sw/results.csv" > "$T/loss2"
expect_same "$T/loss1" "$T/loss2"
[ -s "$T/sw/L1-D24-H2/result.json" ] && ok || fail "result.json not rebuilt"

# --- a point killed halfway resumes from its checkpoint, bit-identical to a run that never stopped
GPTKIT_TEST_CKPT_PAUSE=L1-D16-H2/ckpt-000010 "$M" sweep --device cpu --data "$T/data" -o "$T/k" --layers 1 --width 16 \
    --heads 2 --steps 10 $TR 2>"$T/k.err" >/dev/null &
pid=$!
for _ in $(seq 600); do grep -q 'paused writing' "$T/k.err" 2>/dev/null && break; sleep 0.1; done
grep -q 'paused writing' "$T/k.err" && ok || fail "the writer never reached the pause: $(cat "$T/k.err")"
kill -9 $pid; wait $pid 2>/dev/null
[ "$(cat "$T/k/L1-D16-H2/latest")" = ckpt-000005.bin ] && ok || fail "latest after the kill"
expect_no_file "$T/k/L1-D16-H2/result.json"
expect_rc 0 "$M" sweep --device cpu --data "$T/data" -o "$T/k" --layers 1 --width 16 --heads 2 --steps 10 $TR
expect_err "1x16x2, 10 steps, resuming from its checkpoint"
expect_same "$T/sw/L1-D16-H2/ckpt-000010.bin" "$T/k/L1-D16-H2/ckpt-000010.bin"
grep '^1,16,2,' "$T/loss1" > "$T/l.a"; losses "$T/k/results.csv" | grep '^1,16,2,' > "$T/l.b"
expect_same "$T/l.a" "$T/l.b"

# --- other settings in the same folder are refused before anything runs
expect_rc 2 "$M" sweep --device cpu --data "$T/data" -o "$T/sw" $GRID --steps 11 $TR
expect_err "was swept with steps 10, this run has 11"
expect_rc 2 "$M" sweep --device cpu --data "$T/data" -o "$T/sw" $GRID --steps 10 $TR --lr 1e-3
expect_err "was swept with lr"

# --- budgets: size within 20% of 12000 parameters; compute of 1e8 FLOPs each
expect_rc 0 "$M" sweep --device cpu --data "$T/data" -o "$T/bp" --layers 1,2 --width 16,24 --heads 2 --budget-params 12000 --steps 3 $TR
expect_err "skipping 1x16x2: 7680 parameters, outside 12000 +-20%"
expect_err "skipping 2x24x2: 21048 parameters, outside 12000 +-20%"
[ "$(cut -d, -f5 "$T/bp/results.csv" | tail -n +2 | tr '\n' ' ')" = "10960 13824 " ] && ok || fail "budget-params rows: $(cat "$T/bp/results.csv")"
expect_rc 0 "$M" sweep --device cpu --data "$T/data" -o "$T/bf" --layers 1,2 --width 16,24 --heads 2 --budget-flops 1e8 $TR
awk -F, 'NR>1 { n++; f = $8 / 1e8; if (f < 0.8 || f > 1.2 || $7 != $6 * 64) bad = 1; s[$6] = 1 }
         END { k = 0; for (x in s) k++; exit bad || n != 4 || k < 3 }' "$T/bf/results.csv" \
    && ok || fail "budget-flops rows: $(cat "$T/bf/results.csv")"
expect_rc 2 "$M" sweep --device cpu --data "$T/data" -o "$T/bf2" --budget-flops 1e8 --steps 5 $TR
expect_err "--budget-flops sets each point's steps"

# --- bad usage and bad data
expect_rc 2 "$M" sweep --device cpu --data "$T/data" -o "$T/x" --layers 2,,4
expect_err "--layers needs distinct whole numbers"
expect_rc 2 "$M" sweep --device cpu -o "$T/x"
expect_err "sweep needs --data DIR"
expect_rc 2 "$M" sweep --device cpu --data "$T/data" -o "$T/x" --width 10 --heads 3 $TR
expect_err "no shape of the grid is left to train"
expect_rc 1 "$M" sweep --device cpu --data "$T/none" -o "$T/x" $TR
expect_err "$T/none: cannot open the data folder"
[ ! -e "$T/x" ] && ok || fail "a failed sweep left its folder"
"$M" sweep --device cpu --help | grep -q "budget-flops" && ok || fail "sweep --help"

# --- lr-find: N rows, rising LR, a suggestion between min and the divergence
LR="--layers 2 --width 32 --heads 2 --context 32 --micro-batch 4 -j 2"
expect_rc 0 "$M" lr-find --device cpu --data "$T/data" -o "$T/lr" $LR --steps 60 --min 1e-5 --max 30
[ "$(wc -l < "$T/lr/lr.csv")" = 61 ] && ok || fail "lr.csv should have a header and 60 rows"
awk -F, 'NR==2 { if ($2 != 1e-5) exit 1 } NR>2 { if (!($2 > p)) exit 1 } { p = $2 } END { if (p != 30) exit 1 }' \
    "$T/lr/lr.csv" && ok || fail "lr column is not 1e-5 rising to 30"
sug=$(sed -n 's/^suggested lr: \([0-9.e+-]*\) .*/\1/p' "$T/out")
div=$(sed -n 's/^  diverged at lr \([0-9.e+-]*\) .*/\1/p' "$T/out")
[ -n "$sug" ] && [ -n "$div" ] && ok || fail "no suggestion or divergence: $(cat "$T/out")"
awk -v s="$sug" -v d="$div" 'BEGIN { exit !(s > 1e-5 && s < 30 && s < d) }' && ok || fail "suggested $sug, diverged $div"
# the suggestion is one of the rates, where the smoothed loss is already below the first loss
awk -F, -v s="$sug" 'NR==2 { first = $3 } NR>1 { r = $2 / s; if (r > 0.999 && r < 1.001 && $4 < first) found = 1 }
                     END { exit !found }' "$T/lr/lr.csv" && ok || fail "the suggestion $sug is not a rate where the loss fell"
head -c 4 "$T/lr/lr.png" | grep -q PNG && ok || fail "no lr.png"
expect_rc 0 "$M" lr-find --device cpu --data "$T/data" -o "$T/lr2" $LR --steps 60 --min 1e-5 --max 30 --stop-div
n=$(($(wc -l < "$T/lr2/lr.csv") - 1))
[ "$n" -lt 60 ] && [ "$n" -gt 10 ] && ok || fail "--stop-div should stop early, has $n rows"
# without gnuplot (nothing on PATH): no PNG, one note, and the run still succeeds
# (it once died of SIGPIPE writing the script to a gnuplot that was not there;
# whether the pipe is closed first is a race, so this cannot always show that)
expect_rc 0 env PATH=/nonexistent "$M" lr-find --device cpu --data "$T/data" -o "$T/lr4" $LR --steps 20
expect_err "gnuplot is not installed"
[ -s "$T/lr4/lr.csv" ] && [ ! -e "$T/lr4/lr.png" ] && ok || fail "without gnuplot: lr.csv and no lr.png expected"
expect_rc 2 "$M" lr-find --device cpu --data "$T/data" -o "$T/lr3" --min 1 --max 0.1
expect_err "--min 1 must be below --max 0.1"
expect_rc 1 "$M" lr-find --device cpu --data "$T/none" -o "$T/lr3" $LR --steps 5
expect_err "$T/none: cannot open the data folder"
[ ! -e "$T/lr3" ] && ok || fail "a failed lr-find left its folder"
"$M" lr-find --device cpu --help | grep -q "steepest" && ok || fail "lr-find --help"

check_done test_sweep.sh
