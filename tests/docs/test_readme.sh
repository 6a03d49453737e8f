# README.md's "Bring your own data": its sh block, run as a user would from the
# top folder (bin/ is $BIN) on a folder of plain-text files (the licences and
# copyright files of this system, as docs/tutorial.md's practice folder), with
# --steps cut to 4. It must end with a trained run and a sample that starts
# with the prompt.
. tests/check.sh
W=$T/ws
mkdir -p "$W/my-texts/licenses"
ln -s "$BIN" "$W/bin"
cp /usr/share/common-licenses/* "$W/my-texts/licenses/"
cp --parents /usr/share/doc/*/copyright "$W/my-texts/"
awk '/^## Bring your own data/ { on = 1 } on && /^```sh$/ { b = 1; next } b && /^```/ { exit } b' README.md |
    sed -E 's/--steps [0-9]+/--steps 4/' > "$T/readme.sh"
[ "$(grep -c '^bin/' "$T/readme.sh")" = 5 ] && ok || fail "README's block should be five commands: $(cat "$T/readme.sh")"
(cd "$W" && bash -euo pipefail "$T/readme.sh") > "$T/out" 2> "$T/err"
rc=$?
[ "$rc" = 0 ] && ok || fail "README's block failed (exit $rc): $(tail -n 20 "$T/err")"
[ -s "$W/tok.json" ] && [ -s "$W/data/meta.json" ] && [ -s "$W/run/latest" ] && ok || fail "no tok.json, data/ or run/"
head -c 3 "$T/out" | grep -qx 'The' && ok || fail "the sample should start with the prompt: $(head -c 100 "$T/out")"
expect_err "plain text"
check_done test_readme
