# Every program: --help teaches on stdout and exits 0, --version names the
# toolkit, and a use it does not support is refused on stderr with exit 2.
. tests/check.sh

for p in filter dedup bpe packer model; do
    expect_rc 0 "$BIN/$p" --help
    expect_out "usage: $p"
    expect_out "example:"
    expect_rc 0 "$BIN/$p" --version
    expect_out "$p (gptkit)"
    expect_rc 2 "$BIN/$p" --no-such-option
    expect_err "try '$p --help'"
done
check_done test_progs
