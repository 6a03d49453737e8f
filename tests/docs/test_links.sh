# Links in the project's Markdown files (tests/docs/check_links.js): every
# relative link names a file inside the project, every #anchor a heading (by
# GitHub's ids), every `path.md` in code a file. First the checker itself, on
# a planted folder whose broken links it must name, and whose good ones
# (headings with code, punctuation, repeats; links to folders; code that
# looks like a link) it must pass.
. tests/check.sh
NODE=/usr/bin/node
C=tests/docs/check_links.js

mkdir -p "$T/p/docs" "$T/p/sub" "$T/p/node_modules/x"
cat > "$T/p/docs/a.md" <<'EOF'
# Title

## 2. Look at it: `filter stats`
## Example: 36 layers × 20 heads, gpt2-large's width?
## Repeat
## Repeat

Good: [a](#2-look-at-it-filter-stats), [b](#example-36-layers--20-heads-gpt2-larges-width),
[c](#repeat-1), [d](../sub/), [e](../sub/b.md#b), [f](https://example.com/x.md#nope), `../sub/b.md`.
Code is not a link: `[x](nope.md)`, and neither is this:

```sh
[y](nope.md)
```

    [z](nope.md)

Bad: [g](nope.md), [h](#repeat-2), [i](../sub/b.md#c), [j](../../out.md), `docs/gone.md`.
[k]: ../sub/missing.md
EOF
printf '# B\n' > "$T/p/sub/b.md"
printf '[bad](nowhere.md)\n' > "$T/p/node_modules/x/README.md"   # not the project's
expect_rc 1 $NODE $C "$T/p"
expect_out "docs/a.md:18: link 'nope.md': no file docs/nope.md"
expect_out "docs/a.md:18: link '#repeat-2': no heading with id 'repeat-2' in docs/a.md"
expect_out "docs/a.md:18: link '../sub/b.md#c': no heading with id 'c' in sub/b.md"
expect_out "docs/a.md:18: link '../../out.md' leaves the project"
expect_out 'docs/a.md:18: `docs/gone.md` names no file of the project'
expect_out "docs/a.md:19: link '../sub/missing.md': no file sub/missing.md"
expect_out "2 Markdown files"
[ "$(grep -c '^docs/a.md:' "$T/out")" = 6 ] && ok || fail "expected exactly 6 broken links: $(cat "$T/out")"

# the project
expect_rc 0 $NODE $C .
[ "$rc" = 0 ] || cat "$T/out" >&2
check_done test_links
