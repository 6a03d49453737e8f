# model sweep and model lr-find from the command line: a grid with a skipped
# shape, parameter counts against the hand formula, resumability (a second run
# trains nothing and prints the same table; a lost point is retrained to the same
# losses; a killed point resumes), settings that changed, both budgets, seeds
# (mean and sample standard deviation recomputed from each seed's figures, the
# verdict on the runner-up on planted losses both ways), the two train losses
# labelled apart, a later smaller point's peak RSS, and the LR range test's
# CSV, plot and suggestion.
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
head -1 "$T/sw/results.csv" | grep -qx 'layers,width,heads,head_dim,params,steps,tokens,flops,tokens_per_s,train_loss_mean_last_tenth,val_loss,run' \
    && ok || fail "results.csv header: $(head -1 "$T/sw/results.csv")"
# the table's train loss is labelled as the mean of the last tenth, apart from train's last-step one
head -1 "$T/table1" | grep -q ' train loss last 10%  val loss$' && ok || fail "table header: $(head -1 "$T/table1")"
expect_err "last-step train loss "
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

# --- seeds: a folder of one seed gains two more a shape (only those train), with
# 20 steps so that the last tenth (2 steps) is not the last step
S3="--layers 1 --width 16,24 --heads 2 --steps 20 $TR --eval-every 10"
expect_rc 0 "$M" sweep --device cpu --data "$T/data" -o "$T/s3" $S3
expect_err "2 points (2 trained now, 0 finished before, 0 shapes skipped)"
expect_rc 0 "$M" sweep --device cpu --data "$T/data" -o "$T/s3" $S3 --seeds 3
expect_err "2 shapes x 3 seeds (6 runs: 4 trained now, 2 finished before; 0 shapes skipped)"
expect_err "1x16x2 seed 1339 (3/3), 20 steps"
cp "$T/out" "$T/table3"; cp "$T/err" "$T/err3"
head -1 "$T/table3" | grep -q 'train loss last 10%, mean ± sd   val loss, mean ± sd$' && ok || fail "seeds table header: $(head -1 "$T/table3")"
head -1 "$T/s3/results.csv" | grep -q ',val_loss,run,seeds,train_loss_mean_last_tenth_sd,val_loss_sd$' && ok || fail "seeds csv header"
# each run's figures from its log, the seed's own; mean, sd (n - 1), min and max
# recomputed from them in sweep.json, results.csv, the table and the verdict
$PY - "$T/s3" "$T/table3" "$T/err3" <<'PY' && ok || fail "seeds: figures do not add up"
import csv, json, statistics, sys
d, table, err = sys.argv[1], open(sys.argv[2]).read(), open(sys.argv[3]).read()
j = json.load(open(d + "/sweep.json"))
assert j["seeds"] == 3 and j["seed"] == 1337 and len(j["points"]) == 2, j
rows = {r["run"]: r for r in csv.DictReader(open(d + "/results.csv"))}
def close(a, b, tol=1e-9): return abs(a - b) <= tol * max(1, abs(b))
firsts = []
for p in j["points"]:
    runs = p["runs"]
    assert [r["seed"] for r in runs] == [1337, 1338, 1339], runs
    assert [r["run"] for r in runs] == ["L1-D%d-H2" % p["width"]] + ["L1-D%d-H2-seed%d" % (p["width"], s) for s in (1338, 1339)]
    for r in runs:
        res = json.load(open("%s/%s/result.json" % (d, r["run"])))
        assert res["seed"] == r["seed"], res
        log = [l.split(",") for l in open("%s/%s/log.csv" % (d, r["run"])).read().splitlines()[1:] if l]
        assert len(log) == 20
        last, tail = float(log[-1][2]), (float(log[-2][2]) + float(log[-1][2])) / 2
        for k, want in (("train_loss_last_step", last), ("train_loss_mean_last_tenth", tail), ("val_loss", float(log[-1][3]))):
            assert close(res[k], want, 1e-8) and close(r[k], want, 1e-8), (k, res[k], r[k], want)
        assert last != tail
        firsts.append(float(log[0][2]))
    for k in ("val_loss", "train_loss_mean_last_tenth", "train_loss_last_step"):
        xs = [r[k] for r in runs]
        st = p[k]
        assert st["n"] == 3 and close(st["mean"], statistics.mean(xs)) and close(st["sd"], statistics.stdev(xs)), (k, st, xs)
        assert st["min"] == min(xs) and st["max"] == max(xs)
    row = rows["L1-D%d-H2" % p["width"]]
    assert row["seeds"] == "3" and abs(float(row["val_loss"]) - p["val_loss"]["mean"]) < 1e-6
    assert abs(float(row["val_loss_sd"]) - p["val_loss"]["sd"]) < 1e-6
    assert abs(float(row["train_loss_mean_last_tenth_sd"]) - p["train_loss_mean_last_tenth"]["sd"]) < 1e-6
    cell = "%.4f ± %.4f" % (p["val_loss"]["mean"], p["val_loss"]["sd"])
    assert any(l.startswith(p["shape"] + " ") and l.endswith(cell) for l in table.splitlines()), (cell, table)
assert len(set(firsts)) == 6, firsts  # other weights and data order: every run starts elsewhere
v = j["verdict"]
a, b = sorted(j["points"], key=lambda p: p["val_loss"]["mean"])
assert v["lowest"] == a["shape"] and v["runner_up"] == b["shape"] and v["by"] == "val_loss"
assert close(v["difference"], b["val_loss"]["mean"] - a["val_loss"]["mean"], 1e-6)
assert close(v["spread"], a["val_loss"]["sd"] + b["val_loss"]["sd"], 1e-6)
assert v["within_spread"] == (v["difference"] <= v["spread"])
assert ("WITHIN the spread" in err) == v["within_spread"] and ("outside the spread" in err) != v["within_spread"]
PY
# the verdict both ways, on planted validation losses (nothing trains: every result.json is there)
plant() { # A1 A2 A3 B1 B2 B3: the val_loss of 1x16x2's and 1x24x2's seeds
    $PY - "$T/s3" "$@" <<'PY'
import json, sys
d, v = sys.argv[1], [float(x) for x in sys.argv[2:]]
for i, run in enumerate(["L1-D16-H2", "L1-D16-H2-seed1338", "L1-D16-H2-seed1339", "L1-D24-H2", "L1-D24-H2-seed1338", "L1-D24-H2-seed1339"]):
    p = "%s/%s/result.json" % (d, run)
    j = json.load(open(p)); j["val_loss"] = v[i]; json.dump(j, open(p, "w"))
PY
}
plant 5.00 5.02 5.04 5.05 5.07 5.09
expect_rc 0 "$M" sweep --device cpu --data "$T/data" -o "$T/s3" $S3 --seeds 3
expect_err "6 runs: 0 trained now, 6 finished before"
expect_err "lowest mean validation loss 5.0200 ± 0.0200 (± the sample standard deviation over 3 seeds): 1x16x2; the runner-up 1x24x2 (5.0700 ± 0.0200) is 0.0500 behind, outside the spread (0.0400, the two standard deviations added)"
grep -q '^1x24x2 .* 5.0700 ± 0.0200$' "$T/out" && ok || fail "planted table: $(cat "$T/out")"
grep -q '"within_spread": false' "$T/s3/sweep.json" && ok || fail "sweep.json verdict: outside expected"
plant 5.00 5.02 5.04 5.03 5.05 5.07
expect_rc 0 "$M" sweep --device cpu --data "$T/data" -o "$T/s3" $S3 --seeds 3
expect_err "the runner-up 1x24x2 (5.0500 ± 0.0200) is 0.0300 behind, WITHIN the spread (0.0400, the two standard deviations added): these 3 seeds do not tell them apart"
grep -q '"within_spread": true' "$T/s3/sweep.json" && ok || fail "sweep.json verdict: within expected"
# a result.json from before the labels were split ("train_loss", no seed, no last step) still reads
cp "$T/out" "$T/t_within"
$PY - "$T/s3/L1-D24-H2/result.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
j["train_loss"] = j.pop("train_loss_mean_last_tenth"); del j["train_loss_last_step"], j["seed"]
json.dump(j, open(sys.argv[1], "w"))
PY
expect_rc 0 "$M" sweep --device cpu --data "$T/data" -o "$T/s3" $S3 --seeds 3
expect_err "6 runs: 0 trained now, 6 finished before"
expect_same "$T/t_within" "$T/out"
# one seed: no spread, no verdict on it
expect_rc 0 "$M" sweep --device cpu --data "$T/data" -o "$T/s3" $S3
expect_err "lowest validation loss 5.0000: 1x16x2;"
grep -q '"within_spread": null' "$T/s3/sweep.json" && ok || fail "sweep.json verdict: null expected with one seed"
expect_rc 2 "$M" sweep --device cpu --data "$T/data" -o "$T/s3" $S3 --seeds 0
expect_err "--seeds must be a whole number in 1..1000"

# --- peak RSS: a smaller point after a larger one in the same process says so
# (not under ASan: its allocator keeps freed memory, so every point grows past the last)
expect_rc 0 "$M" sweep --device cpu --data "$T/data" -o "$T/rss" --layers 8,1 --width 64 --heads 2 --steps 3 $TR
if ldd "$M" 2>/dev/null | grep -q libasan; then ok
else [ "$(grep -c 'peak RSS [0-9.]* MB, set before this run (plan ' "$T/err")" = 1 ] && ok ||
    fail "peak RSS of the second point: $(grep 'peak RSS' "$T/err")"; fi

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
