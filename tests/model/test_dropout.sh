# model train --dropout from the command line: the plan and the checkpoint say
# it, -j 1 == -j 2 with dropout on, 10 + resume + 10 == 20 straight with
# dropout on (the masks are keyed by step, not carried state), --dropout 0 is
# the run without the option byte for byte, and bad values are refused.
. tests/check.sh
M="$BIN/model"
PY=/usr/bin/python3
$PY tests/model/mkshards.py "$T/data" corpora/en.jsonl.gz 20000 3000 || { echo "mkshards failed" >&2; exit 1; }
SHAPE="--layers 2 --width 32 --heads 2 --context 32 --micro-batch 4 --lr 3e-3 --batch 256 --steps 20 --eval-every 10"

expect_rc 0 "$M" train --device cpu --data "$T/data" -o "$T/d2" $SHAPE --dropout 0.1 -j 2
expect_err "vocabulary 257, context 32), dropout 0.1"
grep -a -q '"dropout": 0.10000000000000001' "$T/d2/ckpt-000020.bin" && ok || fail "the checkpoint's config does not record dropout 0.1"
awk -F, 'NR==2 {a=$3} NR==21 {b=$3} END {exit !(b < a - 0.5)}' "$T/d2/log.csv" && ok || fail "loss did not fall with dropout"

# --- one thread gives the same bits as two
expect_rc 0 "$M" train --device cpu --data "$T/data" -o "$T/d1" $SHAPE --dropout 0.1 -j 1
expect_same "$T/d2/ckpt-000020.bin" "$T/d1/ckpt-000020.bin"

# --- dropout changes training; --dropout 0 is the run without the option
expect_rc 0 "$M" train --device cpu --data "$T/data" -o "$T/n0" $SHAPE -j 2
expect_rc 0 "$M" train --device cpu --data "$T/data" -o "$T/z0" $SHAPE --dropout 0 -j 2
expect_err "context 32), dropout 0"
expect_same "$T/n0/ckpt-000020.bin" "$T/z0/ckpt-000020.bin"
cmp -s "$T/n0/ckpt-000020.bin" "$T/d2/ckpt-000020.bin" && fail "dropout 0.1 trained the same weights as none" || ok

# --- 10 + resume + 10 == 20 straight, with dropout on
cp -r "$T/d2" "$T/r"
rm "$T/r/ckpt-000020.bin"
echo ckpt-000010.bin > "$T/r/latest"
expect_rc 0 "$M" train --device cpu --resume "$T/r" -j 1
expect_same "$T/d2/ckpt-000020.bin" "$T/r/ckpt-000020.bin"
cut -d, -f1-6 "$T/d2/log.csv" > "$T/d2.cols"; cut -d, -f1-6 "$T/r/log.csv" > "$T/r.cols"
expect_same "$T/d2.cols" "$T/r.cols"

# --- the checkpoint's dropout is kept: a resume cannot change it
expect_rc 2 "$M" train --device cpu --resume "$T/r" --steps 22 --dropout 0.2
expect_err "--dropout cannot change"

# --- bad values
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/bad" $SHAPE --dropout 1
expect_err "--dropout must be a number in 0..0.9, not '1'"
expect_rc 2 "$M" train --device cpu --data "$T/data" -o "$T/bad" $SHAPE --dropout -0.1
expect_err "--dropout must be a number in 0..0.9, not '-0.1'"
expect_no_file "$T/bad"
expect_rc 0 "$M" train --device cpu --help
expect_out "--dropout P"
check_done test_dropout_cli
