# The bad-input catalogue of issue 13 as one table, tests/badinput/cases.tsv:
# each row runs one program on one bad input made here and checks its exit
# status, that its stderr matches a regular expression (naming the file and the
# line or offset), and that nothing is left behind: the row's output, and no
# *.tmp.* anywhere under the test's folder. The inputs are made below, from
# the programs' own output (a trained tokenizer, a stream, packed shards, a
# two-step run) damaged one way each. What the programs' own tests check
# already (tests/<prog>/) is not repeated here.
. tests/check.sh
IN=$T/in # the inputs; each row's outputs go to its own O=$T/o.LINE
mkdir -p "$IN"
R50K=$PWD/node_modules/gpt-tokenizer/data/r50k_base.tiktoken
TINY="--device cpu --layers 1 --width 16 --heads 2 --context 16 --micro-batch 2 --steps 1 -j 1 -q"

# The table names the programs without their folder. Each gets 60 s: a row
# that hangs (a FIFO read twice) fails with 124 instead of stopping the suite
# (not under interrupt, whose SIGINT must reach the program itself).
prog() {
    local p=$1
    shift
    if [ -n "${NO_TIMEOUT:-}" ]; then "$BIN/$p" "$@"; else timeout -k 5 60 "$BIN/$p" "$@"; fi
}
filter() { prog filter "$@"; }
dedup() { prog dedup "$@"; }
bpe() { prog bpe "$@"; }
packer() { prog packer "$@"; }
model() { prog model "$@"; }
# limited CMD...: CMD past `ulimit -f` (16 KiB): its writes fail with EFBIG.
limited() { (ulimit -f 16 && "$@"); }
# interrupt NAME|- CMD...: CMD, in the background, reading O/hold, a FIFO fed
# IN/NAME and then held open, so that CMD waits in the middle of its input
# ("-": no FIFO); SIGINT to it (and its children, as Ctrl-C does) once a file
# named $AT (default *.tmp.*: one of its temporary files) exists under O/, or
# after 5 s. Its status is CMD's: 130, died of SIGINT.
interrupt() {
    local feed=$1 w="" p k st
    shift
    if [ "$feed" != - ]; then
        mkfifo "$O/hold"
        exec 7<>"$O/hold" # both ends here: CMD never sees the end of its input
        cat "$IN/$feed" >&7 &
        w=$!
    fi
    set -m # a process group of its own, to signal (a background job would ignore SIGINT)
    NO_TIMEOUT=1 "$@" &
    p=$!
    set +m
    for k in $(seq 100); do find "$O" -name "${AT:-*.tmp.*}" | grep -q . && break; sleep 0.05; done
    kill -INT -- -"$p"
    wait "$p"
    st=$?
    if [ -n "$w" ]; then
        kill "$w" 2>/dev/null
        wait "$w" 2>/dev/null
        exec 7>&-
    fi
    return $st
}
# overwrite FILE OFFSET BYTES: bytes (printf escapes) at OFFSET.
overwrite() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
# at FILE TEXT: the byte offset of TEXT in FILE.
at() { LC_ALL=C grep -obUa -- "$2" "$1" | head -n 1 | cut -d: -f1; }
setup() { # fails the whole test: the table needs every input
    "$@" >"$T/setup.err" 2>&1 || { cat "$T/setup.err" >&2; echo "test_badinput: setup failed: $*" >&2; exit 1; }
}

# ---- the inputs, made in IN (the functions run there, in a subshell)
documents() {
    for i in $(seq 1 60); do
        printf '{"id":%d,"text":"Document %d tells of the river, the mill and the old stone bridge near town %d."}\n' $i $i $i
    done >docs.jsonl
    for i in $(seq 1 3000); do printf '{"id":%d,"text":"Document %d: the same old words again."}\n' $i $i; done >big.jsonl
    gzip -nc docs.jsonl >docs.jsonl.gz
    head -c 300 docs.jsonl.gz >trunc.jsonl.gz
    { cat docs.jsonl.gz; echo 'trailing text'; } >trail.jsonl.gz
    printf '\037\213\010\000\000\000\000\000\000\003not deflate data at all' >notgz.jsonl.gz
    : >empty.jsonl
    printf '\n   \n\n' >blank.jsonl
    { head -n 2 docs.jsonl; echo '{"text": "three", oops}'; tail -n 1 docs.jsonl; } >badjson3.jsonl
    { head -n 1 docs.jsonl; printf '{"text":"caf\351 au lait"}\n'; } >badutf8.jsonl
    { head -n 1 docs.jsonl; echo '{"body":"no text member"}'; } >notext.jsonl
    { head -n 1 docs.jsonl; echo '{"text":42}'; } >nonstring.jsonl
    { head -n 1 docs.jsonl; echo '{"text":"a","text":"b"}'; } >dupkey.jsonl
    { head -n 1 docs.jsonl; printf '{"text":"t\000wo"}\n'; } >nul.jsonl
    { head -n 1 docs.jsonl; printf '{"text":"\\ud800 alone"}\n'; } >surrogate.jsonl
    { head -n 1 docs.jsonl; printf '%*s' 3000 '' | tr ' ' '['; echo; } >deep.jsonl
    head -c -1 docs.jsonl >nonl.jsonl
    { head -n 1 docs.jsonl; printf '{"text":"%0200d"}\n' 0; } >long.jsonl # over --max-line 128
    printf 'line one\ncaf\351\n' >latin.txt
    printf 'doc one\n--\ndoc \377two\n' >sep.txt
    mkdir adir && head -n 1 docs.jsonl >adir/a.jsonl
}

# tokenizer.json (trained here) and .tiktoken (the head of r50k's)
tokenizers() {
    setup "$BIN/bpe" train -q --vocab-size 300 -o tok.json docs.jsonl
    grep -q '^      "n e",$' tok.json || { echo "test_badinput: tok.json's merges are not as expected" >&2; exit 1; }
    sed 's/^      "n e",$/      "n zzz",/' tok.json >merge-unknown.json
    sed 's/"Regex": ".*"/"Regex": "(ab"/' tok.json >regex.json
    sed 's/"id": 299,/"id": 3,/' tok.json >special-clash.json
    sed 's/"type": "BPE"/"type": "WordPiece"/' tok.json >wordpiece.json
    head -c 3000 tok.json >trunc-tok.json
    head -n 300 "$R50K" >small.tiktoken
    sed '10s/.*/not-base64!! 9/' small.tiktoken >badline.tiktoken
    sed '10s/ .*/ 12/' small.tiktoken >rankdup.tiktoken
    sed '10s/ .*//' small.tiktoken >norank.tiktoken
    sed '268s/^IG8= /AG8= /' small.tiktoken >lowrank.tiktoken # " o" made "\0o": " of" (286) is no pair
    sed '100d' small.tiktoken >gap.tiktoken                     # rank 99 lost
    sed '291s/^[^ ]*/IHRoZQ==/' small.tiktoken >duptok.tiktoken # " the" (rank 262) again as 290
    sed '1s/^IQ== /IR== /' small.tiktoken >pad.tiktoken          # "!" spelt with a padding bit set
    head -n 200 small.tiktoken >cut.tiktoken                    # bytes 0x0c and others never come
    sed '300s/ .*/ 94467293/' small.tiktoken >hugerank.tiktoken  # one rank far past the rest
    sed 's/^      "!": 0,$/      "!": 94467293,/' tok.json >hugeid.json # (the fuzzer's: a table of 94M ids)
}

# token streams (bpe encode), each damaged one way
streams() {
    setup "$BIN/bpe" encode -q -t tok.json -o docs.tok docs.jsonl
    setup "$BIN/bpe" encode -q -t tok.json -o big.tok big.jsonl
    for k in magic version width eot vocab0 badid; do cp docs.tok $k.tok; done
    overwrite magic.tok 0 'XXXXXXXX'
    overwrite version.tok 8 '\011\000\000\000'
    overwrite width.tok 12 '\003\000\000\000'
    overwrite eot.tok 20 '\054\001\000\000' # 300: the vocabulary size
    overwrite vocab0.tok 16 '\000\000\000\000'
    overwrite badid.tok 40 '\220\001' # id 400 of 300
    head -c 20 docs.tok >header.tok
    head -c 32 docs.tok >nodocs.tok
    head -c -1 docs.tok >oddcut.tok
    head -c -2 docs.tok >noeot.tok
    cat docs.tok docs.tok >twice.tok
    gzip -nc docs.tok >docs.tok.gz
}

# shards and meta.json (packer), each damaged one way
shards() {
    setup "$BIN/packer" -q -o data --context 16 -t tok.json docs.tok
    mkdir d-empty
    local k S=train_000000.bin
    for k in magic version count short trunc badid hdrvocab metavocab metaeot metafp metawindow metatok \
        metabad notok badtok; do cp -r data d-$k; done
    overwrite d-magic/$S 0 '\071\060\000\000'
    overwrite d-version/$S 4 '\007\000\000\000'
    overwrite d-count/$S 8 '\210\023\000\000' # 5000 tokens
    head -c 500 data/$S >d-short/$S
    head -c -10 data/$S >d-trunc/$S
    overwrite d-badid/$S 1030 '\347\003' # id 999 of 300
    overwrite d-hdrvocab/$S 12 '\364\001\000\000' # 500
    sed -i 's/"vocab_size": 300,/"vocab_size": 400,/' d-metavocab/meta.json
    sed -i 's/"eot_id": 299,/"eot_id": 12,/' d-metaeot/meta.json
    sed -i 's/"tokenizer_fingerprint": "[0-9a-f]*"/"tokenizer_fingerprint": "0123456789abcdef"/' d-metafp/meta.json
    sed -i 's/"window": "stream"/"window": "sliding"/' d-metawindow/meta.json
    sed -i 's/"tokenizer": "tokenizer.json"/"tokenizer": "other.json"/' d-metatok/meta.json
    head -c 200 data/meta.json >d-metabad/meta.json
    rm d-notok/tokenizer.json
    cp merge-unknown.json d-badtok/tokenizer.json
}

# a run (model train, two steps) and damaged copies of it
runs() {
    setup "$BIN/model" train $TINY --data data -o run --steps 2
    local k C=ckpt-000002.bin
    [ -f run/$C ] || { echo "test_badinput: no run/$C" >&2; exit 1; }
    for k in trunc short magic flip latest latestbad notok badtok lielayers liejson; do cp -r run r-$k; done
    head -c 50000 run/$C >r-trunc/$C
    head -c 30 run/$C >r-short/$C
    overwrite r-magic/$C 0 'XXXXXXXX'
    overwrite r-flip/$C 5000 '\125'
    echo ckpt-000099.bin >r-latest/latest
    echo ../../etc/passwd >r-latestbad/latest
    rm r-notok/tokenizer.json
    cp merge-unknown.json r-badtok/tokenizer.json
    overwrite r-lielayers/$C "$(at run/$C '"layers": 1')" '"layers": 3'
    overwrite r-liejson/$C "$(at run/$C '"config": {')" '"config": ['
}

# A gnuplot that writes the start of its PNG and then takes its time: Ctrl-C
# reaches it in the middle (PATH=IN/slow:$PATH in a row).
mkdir "$IN/slow"
cat >"$IN/slow/gnuplot" <<'EOF'
#!/bin/sh
while IFS= read -r line; do
    case $line in "set output '"*) f=${line#"set output '"}; echo partial >"${f%"'"}" ;; esac
done
exec sleep 30
EOF
chmod +x "$IN/slow/gnuplot"

(cd "$IN" && documents && tokenizers && streams && shards && runs) || exit 1
if find "$IN" -name '*.tmp.*' | grep -q .; then echo "test_badinput: setup left temporary files" >&2; exit 1; fi

# ---- the table. Run without a fork where bash can (the suite's time is mostly
# process starts): the paths are replaced and the expression matched by bash.
declare -A n_cases
shopt -s globstar # nullglob only for the checks, not in the rows' commands
words='filter|dedup|bpe|packer|model'
subs='stats|train|exact|minhash|sig|cluster|apply|decontam|encode|decode|info|convert|eval|sample|export|plan|import'
lineno=0
while IFS= read -r row; do
    lineno=$((lineno + 1))
    case $row in '' | '#'*) continue ;; esac
    IFS=$'\t' read -r want left re cmd <<<"$row"
    if [ -z "$cmd" ]; then fail "cases.tsv:$lineno: expected 4 columns separated by tabs"; continue; fi
    where="cases.tsv:$lineno: $cmd"
    # counted by program and subcommand (after VAR=... and the helpers)
    [[ $cmd =~ ^([A-Z_]+=[^ ]*\ )*(limited\ |interrupt\ [^ ]+\ )?($words)(\ ($subs)( |$))? ]]
    prog="${BASH_REMATCH[3]:-?}${BASH_REMATCH[5]:+ ${BASH_REMATCH[5]}}"
    n_cases[$prog]=$((${n_cases[$prog]:-0} + 1))
    O=$T/o.$lineno
    mkdir "$O"
    # IN/, O/ and FIFO/ at the start of a word
    cmd=" $cmd"
    for c in ' ' '<' '='; do cmd=${cmd//"${c}IN/"/"$c$IN/"}; cmd=${cmd//"${c}O/"/"$c$O/"}; done
    feeders=() # FIFO/NAME: the FIFO O/NAME.fifo, IN/NAME written into it
    while [[ $cmd =~ \ FIFO/([^ ]+) ]]; do
        name=${BASH_REMATCH[1]}
        mkfifo "$O/$name.fifo"
        cat "$IN/$name" >"$O/$name.fifo" 2>/dev/null &
        feeders+=($!)
        cmd=${cmd/" FIFO/$name"/" $O/$name.fifo"}
    done
    eval "$cmd" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
    for w in "${feeders[@]}"; do kill "$w" 2>/dev/null; wait "$w" 2>/dev/null; done # those never read
    [ "$rc" = "$want" ] && ok || fail "$where: expected exit $want, got $rc: $(head -c 300 "$T/err")"
    if [ "$re" != - ]; then
        found=""
        while IFS= read -r line; do
            line=${line//"$IN/"/IN/}
            line=${line//"$O/"/O/}
            [[ $line =~ $re ]] && { found=1; break; }
        done <"$T/err"
        [ -n "$found" ] && ok || fail "$where: expected stderr to match '$re', got: $(head -c 300 "$T/err")"
    fi
    shopt -s nullglob
    if [ "$left" != - ]; then
        got=()
        for g in "$O"/$left; do [ -e "$g" ] && got+=("$g"); done # a glob, or a plain name
        [ ${#got[@]} = 0 ] && ok || fail "$where: left behind: ${got[*]}"
    fi
    tmp=("$IN"/**/*.tmp.* "$O"/**/*.tmp.*)
    [ ${#tmp[@]} = 0 ] && ok || { fail "$where: temporary files left: ${tmp[*]}"; rm -rf "${tmp[@]}"; }
    shopt -u nullglob
done <tests/badinput/cases.tsv
shopt -u globstar

printf '%s\n' "${!n_cases[@]}" | sort | while IFS= read -r p; do printf '%s %d, ' "$p" "${n_cases[$p]}"; done |
    sed 's/, $/\n/; s/^/test_badinput: cases by program: /'
check_done test_badinput
