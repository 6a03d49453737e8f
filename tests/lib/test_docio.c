/* lib/docio.c and lib/iofile.c: pass-through of JSON members, replaced text and
 * appended members, plain text modes, .gz both ways, and every failure path:
 * bad JSON, bad UTF-8, truncated gzip, missing files, stop versus skip, a
 * byte-order mark, and that a failed write leaves no file behind; folders,
 * the format of unnamed files by content, binary files, --encoding latin1. */
#include <sys/stat.h>
#include <zlib.h>

#include "check.h"
#include "docio.h"
#include "testutil.h"

/* Read all of paths with opts and write them to out (extra appended when not
 * NULL), as a program's main would: on error abort the output. 0 or -1. */
static int copy_docs(const DocOpts *o, const char *const *paths, size_t n, const char *out,
                     const char *extra, DocStats *st, Err *e)
{
    DocReader *r = doc_open(o, paths, n, e);
    if (!r) return -1;
    DocWriter *w = docw_open(out, o, e);
    if (!w) {
        doc_close(r, e);
        return -1;
    }
    Doc d;
    int rc;
    while ((rc = doc_next(r, &d, e)) == 1)
        if (docw_write(w, &d, NULL, 0, extra, e)) { rc = -1; break; }
    if (st) *st = *doc_stats(r);
    Err e2;
    if (doc_close(r, &e2) && rc == 0) { *e = e2; rc = -1; }
    if (rc < 0) {
        docw_abort(w);
        return -1;
    }
    return docw_close(w, e);
}

static void passthrough(void)
{
    const char *in = scratch("in.jsonl"), *out = scratch("out.jsonl");
    const char data[] = "{\"id\":1,\"text\":\"hello\",\"x\":{\"y\":[1, 2.50]}}\n"
                        "   \n"
                        "{ \"z\" : null , \"text\":\"b\\u00e9\\n\"}\r\n"
                        "{\"text\":\"no final newline\"}";
    write_file(in, data, sizeof data - 1);
    DocOpts o = { 0 };
    Err e;
    DocStats st;
    const char *paths[] = { in };
    CHECK_INT(0, copy_docs(&o, paths, 1, out, "\"n\":1", &st, &e));
    char *got = read_file(out, NULL);
    CHECK_STR("{\"id\":1,\"text\":\"hello\",\"x\":{\"y\":[1, 2.50]},\"n\":1}\n"
              "{ \"z\" : null , \"text\":\"b\\u00e9\\n\",\"n\":1}\n"
              "{\"text\":\"no final newline\",\"n\":1}\n",
              got);
    free(got);
    CHECK_INT(3, st.n_docs);
    CHECK_INT(1, st.n_blank);
    CHECK_INT(sizeof data - 1, st.n_bytes);

    /* Replaced text keeps every other member where it was. */
    DocReader *r = doc_open(&o, paths, 1, &e);
    DocWriter *w = docw_open(out, &o, &e);
    Doc d;
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("hello", d.text, d.text_len);
    CHECK_INT(1, d.lineno);
    CHECK_INT(0, docw_write(w, &d, "new \"t\"\t", 8, NULL, &e));
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("b\xc3\xa9\n", d.text, d.text_len);
    CHECK_INT(3, d.lineno);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_INT(4, d.lineno);
    CHECK_INT(0, doc_next(r, &d, &e));
    CHECK_INT(0, doc_close(r, &e));
    CHECK_INT(0, docw_close(w, &e));
    got = read_file(out, NULL);
    CHECK_STR("{\"id\":1,\"text\":\"new \\\"t\\\"\\t\",\"x\":{\"y\":[1, 2.50]}}\n", got);
    free(got);

    /* --field names another member. */
    write_file(in, "{\"body\":\"x\",\"text\":3}\n", 22);
    o.field = "body";
    r = doc_open(&o, paths, 1, &e);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("x", d.text, d.text_len);
    doc_close(r, &e);
}

/* A UTF-8 byte-order mark opening a JSONL file is skipped, in each file
 * (issue 13, item 11: it was "invalid JSON at byte 1"); one anywhere else is
 * still bad JSON. */
static void byte_order_mark(void)
{
    const char *in = scratch("bom.jsonl"), *in2 = scratch("bom2.jsonl"), *out = scratch("bom-out.jsonl");
    const char data[] = "\xef\xbb\xbf{\"text\":\"first\"}\n{\"text\":\"second\"}\n";
    write_file(in, data, sizeof data - 1);
    const char alone[] = "\xef\xbb\xbf\n{\"text\":\"third\"}\n";
    write_file(in2, alone, sizeof alone - 1);
    DocOpts o = { 0 };
    Err e = { { 0 } };
    DocStats st;
    const char *paths[] = { in, in2 };
    CHECK_INT(0, copy_docs(&o, paths, 2, out, NULL, &st, &e));
    CHECK_STR("", e.msg);
    char *got = read_file(out, NULL);
    CHECK_STR("{\"text\":\"first\"}\n{\"text\":\"second\"}\n{\"text\":\"third\"}\n", got);
    free(got);
    CHECK_INT(3, st.n_docs);
    CHECK_INT(1, st.n_blank); /* the mark alone on the second file's first line */
    const char later[] = "{\"text\":\"first\"}\n\xef\xbb\xbf{\"text\":\"second\"}\n";
    write_file(in, later, sizeof later - 1);
    CHECK_INT(-1, copy_docs(&o, paths, 1, out, NULL, NULL, &e));
    CHECK_HAS(":2: invalid JSON at byte 1", e.msg);
}

static void bad_lines(void)
{
    const char *in = scratch("bad.jsonl"), *out = scratch("bad-out.jsonl"),
               *side = scratch("bad-lines.txt");
    const char data[] = "{\"text\":\"ok 1\"}\n"
                        "{\"text\":\"unterminated}\n"
                        "{\"text\":\"bad \xff utf8\"}\n"
                        "{\"id\":2}\n"
                        "{\"text\":\"ok 2\"}\n";
    write_file(in, data, sizeof data - 1);
    const char *paths[] = { in };
    Err e;
    DocStats st;

    DocOpts stop = { 0 };
    CHECK_INT(-1, copy_docs(&stop, paths, 1, out, NULL, NULL, &e));
    char want[512];
    snprintf(want, sizeof want, "%s:2: invalid JSON at byte 23: unterminated string", in);
    CHECK_STR(want, e.msg);
    CHECK(!file_or_temp_exists(out));

    DocOpts skip = { .on_error = ON_ERROR_SKIP, .bad_lines = side };
    CHECK_INT(0, copy_docs(&skip, paths, 1, out, NULL, &st, &e));
    CHECK_INT(2, st.n_docs);
    CHECK_INT(3, st.n_bad);
    size_t n;
    char *got = read_file(side, &n);
    CHECK_MEM("{\"text\":\"unterminated}\n{\"text\":\"bad \xff utf8\"}\n{\"id\":2}\n", got, n);
    free(got);
    got = read_file(out, NULL);
    CHECK_STR("{\"text\":\"ok 1\"}\n{\"text\":\"ok 2\"}\n", got);
    free(got);

    /* The messages name file and line, and say what is wrong. */
    DocReader *r = doc_open(&stop, paths, 1, &e);
    Doc d;
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_INT(-1, doc_next(r, &d, &e));
    doc_close(r, &e);
    write_file(in, "{\"text\":\"bad \xff utf8\"}\n", 22);
    r = doc_open(&stop, paths, 1, &e);
    CHECK_INT(-1, doc_next(r, &d, &e));
    snprintf(want, sizeof want, "%s:1: invalid JSON at byte 14: invalid UTF-8 in string", in);
    CHECK_STR(want, e.msg);
    doc_close(r, &e);
    write_file(in, "\n{\"id\":2}\n", 10);
    r = doc_open(&stop, paths, 1, &e);
    CHECK_INT(-1, doc_next(r, &d, &e));
    snprintf(want, sizeof want, "%s:2: no \"text\" member (name another with --field)", in);
    CHECK_STR(want, e.msg);
    doc_close(r, &e);

    /* Empty input: no documents, no error. */
    write_file(in, "", 0);
    CHECK_INT(0, copy_docs(&stop, paths, 1, out, NULL, &st, &e));
    CHECK_INT(0, st.n_docs);

    /* A line over the limit. */
    write_file(in, "{\"text\":\"0123456789012345678901234567890123456789\"}\n", 52);
    DocOpts small = { .max_line = 32 };
    r = doc_open(&small, paths, 1, &e);
    CHECK_INT(-1, doc_next(r, &d, &e));
    CHECK_HAS(":1: line is", e.msg);
    doc_close(r, &e);

    /* A missing input fails before any output is made. */
    const char *missing[] = { in, scratch("no-such-file.jsonl") };
    CHECK_INT(-1, copy_docs(&stop, missing, 2, out, NULL, NULL, &e));
    CHECK_HAS("no-such-file.jsonl: cannot open: No such file or directory", e.msg);

    /* --bad-lines is an output like the others: when the run fails after
     * bad lines were copied (here: the second input is not gzip data after
     * all), neither it nor its temporary file stays behind. */
    write_file(in, data, sizeof data - 1);
    unlink(side);
    unlink(out);
    const char *badgz = scratch("bad-method.jsonl.gz");
    write_file(badgz, "\x1f\x8b\x09\x00\x00\x00\x00\x00\x00\x03junk", 14);
    const char *then_bad[] = { in, badgz };
    CHECK_INT(-1, copy_docs(&skip, then_bad, 2, out, NULL, NULL, &e));
    CHECK_HAS("bad-method.jsonl.gz: offset ", e.msg);
    CHECK(!file_or_temp_exists(side));
    CHECK(!file_or_temp_exists(out));
    /* ... and doc_abort, for a run that fails elsewhere, removes it too. */
    r = doc_open(&skip, paths, 1, &e);
    while (doc_next(r, &d, &e) == 1) {}
    CHECK(file_or_temp_exists(side));
    doc_abort(r);
    CHECK(!file_or_temp_exists(side));
}

/* A line over --max-line with --on-error skip is a bad line like any other:
 * skipped, counted, copied to --bad-lines byte for byte, and the lines after
 * it keep their numbers. Both ways a line can be too long: its '\n' is in the
 * buffer (in_line measures it), or it is longer than the buffer (copied a
 * buffer at a time, never held); also as the last line without a '\n', and
 * in --sep text, where its whole document is the bad one. */
static void long_lines(void)
{
    const char *in = scratch("long.jsonl"), *out = scratch("long-out.jsonl"),
               *side = scratch("long-bad.txt");
    const char *l40 = "{\"text\":\"0123456789012345678901234567890\"}";
    Buf big = { 0 }, data = { 0 }, want = { 0 };
    buf_append(&big, "{\"text\":\"", 9);
    for (int i = 0; i < 700000; i++) buf_putc(&big, (char)('a' + i % 26));
    buf_append(&big, "\"}", 2);
    const char *ok[] = { "{\"text\":\"ok 1\"}\n", "{\"text\":\"ok 2\"}\n", "{\"text\":\"ok 3\"}\n" };
    buf_append(&data, ok[0], strlen(ok[0]));
    buf_append(&data, l40, strlen(l40));
    buf_putc(&data, '\n');
    buf_append(&data, ok[1], strlen(ok[1]));
    buf_append(&data, big.data, big.len);
    buf_putc(&data, '\n');
    buf_append(&data, ok[2], strlen(ok[2]));
    buf_append(&data, big.data, big.len); /* the last line, no final newline */
    write_file(in, data.data, data.len);
    buf_append(&want, l40, strlen(l40));
    buf_putc(&want, '\n');
    buf_append(&want, big.data, big.len);
    buf_putc(&want, '\n');
    buf_append(&want, big.data, big.len);
    buf_putc(&want, '\n');

    const char *paths[] = { in };
    Err e;
    DocStats st;
    DocOpts stop = { .max_line = 32 };
    CHECK_INT(-1, copy_docs(&stop, paths, 1, out, NULL, NULL, &e));
    CHECK_HAS(":2: line is 42 bytes, limit 32", e.msg);
    CHECK(!file_or_temp_exists(out));

    DocOpts skip = { .on_error = ON_ERROR_SKIP, .bad_lines = side, .max_line = 32 };
    if (CHECK_INT_RC(0, copy_docs(&skip, paths, 1, out, NULL, &st, &e))) {
        CHECK_INT(3, st.n_docs);
        CHECK_INT(3, st.n_bad);
        CHECK_INT(data.len, st.n_bytes);
        char *got = read_file(out, NULL);
        CHECK_STR("{\"text\":\"ok 1\"}\n{\"text\":\"ok 2\"}\n{\"text\":\"ok 3\"}\n", got);
        free(got);
        size_t n;
        got = read_file(side, &n);
        CHECK(got && n == want.len && !memcmp(got, want.data, n));
        free(got);
    } else {
        fprintf(stderr, "  %s\n", e.msg);
    }
    DocReader *r = doc_open(&skip, paths, 1, &e);
    Doc d;
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_INT(1, d.lineno);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_INT(3, d.lineno);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_INT(5, d.lineno);
    CHECK_INT(0, doc_next(r, &d, &e));
    CHECK_INT(0, doc_close(r, &e));

    /* --sep: the document with the long line goes to --bad-lines whole. */
    const char *txt = scratch("long.txt");
    data.len = want.len = 0;
    buf_append(&data, "a\n%\nb\n", 6);
    buf_append(&data, big.data, big.len);
    buf_append(&data, "\nc\n%\n", 5);
    buf_append(&data, big.data, big.len);
    buf_append(&data, "\ne\n%\nf\n", 7);
    write_file(txt, data.data, data.len);
    buf_append(&want, "b\n", 2);
    buf_append(&want, big.data, big.len);
    buf_append(&want, "\nc\n", 3);
    buf_append(&want, big.data, big.len);
    buf_append(&want, "\ne\n", 3);
    DocOpts sep = { .sep = "%", .on_error = ON_ERROR_SKIP, .bad_lines = side, .max_line = 32 };
    const char *tp[] = { txt };
    r = doc_open(&sep, tp, 1, &e);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("a", d.text, d.text_len);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("f", d.text, d.text_len);
    CHECK_INT(10, d.lineno);
    CHECK_INT(0, doc_next(r, &d, &e));
    CHECK_INT(2, doc_stats(r)->n_bad);
    CHECK_INT(0, doc_close(r, &e));
    size_t n;
    char *got = read_file(side, &n);
    CHECK(got && n == want.len && !memcmp(got, want.data, n));
    free(got);
    buf_free(&big);
    buf_free(&data);
    buf_free(&want);
}

static void gzip_files(void)
{
    const char *out = scratch("docs.jsonl.gz"), *in = scratch("plain.jsonl"),
               *back = scratch("back.jsonl");
    Buf b = { 0 };
    for (int i = 0; i < 20000; i++) {
        char line[96];
        int k = snprintf(line, sizeof line, "{\"text\":\"document %d \\u00e9\",\"i\":%d}\n", i, i);
        buf_append(&b, line, (size_t)k);
    }
    write_file(in, b.data, b.len);
    const char *paths[] = { in };
    DocOpts o = { 0 };
    Err e;
    CHECK_INT(0, copy_docs(&o, paths, 1, out, NULL, NULL, &e));
    size_t gz_n, n;
    char *gz = read_file(out, &gz_n);
    CHECK(gz_n > 2 && (unsigned char)gz[0] == 0x1f && (unsigned char)gz[1] == 0x8b);
    CHECK(gz_n < b.len / 4);
    const char *gz_paths[] = { out };
    DocStats st;
    CHECK_INT(0, copy_docs(&o, gz_paths, 1, back, NULL, &st, &e));
    CHECK_INT(20000, st.n_docs);
    char *again = read_file(back, &n);
    CHECK(n == b.len && !memcmp(again, b.data, n));
    free(again);

    /* Cut the .gz short: a clear error with an offset, no output. */
    const char *cut = scratch("cut.jsonl.gz");
    write_file(cut, gz, gz_n / 2);
    const char *cut_paths[] = { cut };
    CHECK_INT(-1, copy_docs(&o, cut_paths, 1, back, NULL, NULL, &e));
    CHECK_HAS("cut.jsonl.gz: offset ", e.msg);
    CHECK_HAS("truncated", e.msg);

    /* Members one after another (`cat a.gz b.gz`) read as one stream. */
    const char *two = scratch("two.jsonl.gz");
    Buf tb = { 0 };
    buf_append(&tb, gz, gz_n);
    buf_append(&tb, gz, gz_n);
    write_file(two, tb.data, tb.len);
    const char *two_paths[] = { two };
    CHECK_INT(0, copy_docs(&o, two_paths, 1, back, NULL, &st, &e));
    CHECK_INT(40000, st.n_docs);
    again = read_file(back, &n);
    CHECK(n == 2 * b.len && !memcmp(again, b.data, b.len) && !memcmp(again + b.len, b.data, b.len));
    free(again);

    /* Anything else after a member (`cat a.gz b.jsonl`) is an error at its
     * offset, not silently dropped as gzread does. */
    const char *tail = scratch("tail.jsonl.gz");
    tb.len = 0;
    buf_append(&tb, gz, gz_n);
    buf_append(&tb, "{\"text\":\"tail\"}\n", 16);
    write_file(tail, tb.data, tb.len);
    unlink(back);
    const char *tail_paths[] = { tail };
    CHECK_INT(-1, copy_docs(&o, tail_paths, 1, back, NULL, NULL, &e));
    char want[512];
    snprintf(want, sizeof want, "%s: offset %zu: data after the end of a gzip member", tail, gz_n);
    CHECK_STR(want, e.msg);
    CHECK(!file_or_temp_exists(back));
    Buf one = { 0 }; /* one stray byte, as short as trailing data gets */
    buf_append(&one, gz, gz_n);
    buf_putc(&one, '\n');
    write_file(tail, one.data, one.len);
    CHECK_INT(-1, copy_docs(&o, tail_paths, 1, back, NULL, NULL, &e));
    CHECK_STR(want, e.msg);

    /* Corrupt data (here the CRC) names the file, not zlib's "<fd:N>". */
    const char *bad = scratch("corrupt.jsonl.gz");
    gz[gz_n - 8] ^= 0x55;
    write_file(bad, gz, gz_n);
    const char *bad_paths[] = { bad };
    CHECK_INT(-1, copy_docs(&o, bad_paths, 1, back, NULL, NULL, &e));
    snprintf(want, sizeof want, "%s: offset ", bad);
    CHECK_HAS(want, e.msg);
    CHECK_HAS("bad gzip data: incorrect data check", e.msg);
    CHECK(!strstr(e.msg, "<fd:"));
    buf_free(&tb);
    buf_free(&one);
    free(gz);
    buf_free(&b);
}

static void plain_text(void)
{
    const char *a = scratch("a.txt"), *c = scratch("c.txt"), *out = scratch("text-out.jsonl");
    write_file(a, "First \"doc\".\nLine two.\n", 23);
    write_file(c, "", 0);
    const char *paths[] = { a, c, a };
    DocOpts o = { 0 };
    Err e;
    DocStats st;
    CHECK_INT(0, copy_docs(&o, paths, 3, out, NULL, &st, &e));
    char *got = read_file(out, NULL);
    /* a plain-text document names its file ("path", after the text) */
    char want_out[600];
    snprintf(want_out, sizeof want_out,
             "{\"text\":\"First \\\"doc\\\".\\nLine two.\\n\",\"path\":\"%s\"}\n"
             "{\"text\":\"First \\\"doc\\\".\\nLine two.\\n\",\"path\":\"%s\"}\n",
             a, a);
    CHECK_STR(want_out, got);
    free(got);
    CHECK_INT(2, st.n_docs);
    CHECK_INT(1, st.n_blank);

    /* Separator lines: runs of them make no empty documents; CRLF is fine. */
    const char *s = scratch("fortunes");
    write_file(s, "%\na\nb\n%\r\nc\n%\n%\nd", 16);
    DocOpts so = { .sep = "%" };
    const char *sp[] = { s };
    DocReader *r = doc_open(&so, sp, 1, &e);
    Doc d;
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("a\nb", d.text, d.text_len);
    CHECK_INT(2, d.lineno);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("c", d.text, d.text_len);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("d", d.text, d.text_len);
    CHECK_INT(0, doc_next(r, &d, &e));
    doc_close(r, &e);

    /* Bad UTF-8 in plain text: file and line. */
    write_file(a, "fine\nfine\nbad \xc3\x28 here\n", 20);
    const char *bp[] = { a };
    r = doc_open(&o, bp, 1, &e);
    CHECK_INT(-1, doc_next(r, &d, &e));
    char want[300];
    snprintf(want, sizeof want, "%s:3: invalid UTF-8 at byte 15 (plain text is read as UTF-8; --encoding latin1 reads Latin-1)", a);
    CHECK_STR(want, e.msg);
    doc_close(r, &e);
    write_file(s, "x\n%\nbad \xc3\x28\nmore\n%\ny\n", 20);
    DocOpts sk = { .sep = "%", .on_error = ON_ERROR_SKIP };
    r = doc_open(&sk, sp, 1, &e);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("x", d.text, d.text_len);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("y", d.text, d.text_len);
    CHECK_INT(1, doc_stats(r)->n_bad);
    doc_close(r, &e);
}

/* Folders (issue "Plain-text folders"): walked recursively, files in byte
 * order of their whole paths; names starting with '.' skipped, links to
 * folders not followed (a loop would not end), FIFOs skipped, each counted;
 * a folder with no files reads nothing (not stdin). */
static void folders(void)
{
    char dir[300], p[400];
    snprintf(dir, sizeof dir, "%s", scratch("tree"));
    const char *rel[] = { "a.txt", "a/b.txt", "B.txt", "a/c/deep.md", "\xc3\xa9.txt", ".hidden.txt",
                          ".git/config", "a/.also-hidden" };
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/a", dir), mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/a/c", dir), mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/.git", dir), mkdir(p, 0755);
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, rel[i]);
        write_file(p, rel[i], strlen(rel[i]));
    }
    snprintf(p, sizeof p, "%s/a/c/up", dir);
    CHECK_INT(0, symlink("../..", p)); /* a loop, were it followed */
    snprintf(p, sizeof p, "%s/a/self", dir);
    CHECK_INT(0, symlink(".", p));
    snprintf(p, sizeof p, "%s/linked.txt", dir);
    CHECK_INT(0, symlink("B.txt", p)); /* a link to a file is read */
    snprintf(p, sizeof p, "%s/dangling", dir);
    CHECK_INT(0, symlink("no-such-file", p));
    snprintf(p, sizeof p, "%s/fifo", dir);
    CHECK_INT(0, mkfifo(p, 0644));

    DocFiles fl;
    DocStats st = { 0 };
    Err e = { { 0 } };
    const char *one[] = { dir };
    alarm(60); /* were the links followed, the walk would all but never end: die instead */
    int walked = doc_files_expand(&fl, one, 1, &st, &e);
    alarm(0);
    if (!CHECK_INT_RC(0, walked)) {
        fprintf(stderr, "  %s\n", e.msg);
        return;
    }
    const char *want[] = { "B.txt", "a.txt", "a/b.txt", "a/c/deep.md", "linked.txt", "\xc3\xa9.txt" };
    CHECK_INT(6, fl.n);
    for (size_t i = 0; i < fl.n && i < 6; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, want[i]);
        CHECK_STR(p, fl.paths[i]);
    }
    CHECK_INT(3, st.n_folders);
    CHECK_INT(3, st.n_hidden);  /* .hidden.txt, .git, a/.also-hidden */
    CHECK_INT(2, st.n_links);   /* a/c/up, a/self */
    CHECK_INT(2, st.n_special); /* dangling, fifo */
    doc_files_free(&fl);

    /* Read through: documents in that order, each with its path; named
     * files keep their place and their pointer. */
    const char *named = scratch("named.jsonl");
    write_file(named, "{\"text\":\"j\"}\n", 13);
    const char *mixed[] = { named, dir, named };
    DocOpts o = { 0 };
    DocReader *r = doc_open(&o, mixed, 3, &e);
    Doc d;
    CHECK(r != NULL);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK(d.path == named);
    for (size_t i = 0; i < 6; i++) {
        CHECK_INT(1, doc_next(r, &d, &e));
        snprintf(p, sizeof p, "%s/%s", dir, want[i]);
        CHECK_STR(p, d.path);
        CHECK_MEM(i == 4 ? "B.txt" : want[i], d.text, d.text_len);
    }
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK(d.path == named);
    CHECK_INT(0, doc_next(r, &d, &e));
    size_t n;
    const char *const *paths = doc_paths(r, &n);
    CHECK_INT(8, n);
    CHECK(paths[0] == named);
    DocStats got = *doc_stats(r);
    CHECK_INT(6, got.n_text_files);
    CHECK_INT(2, got.n_jsonl_files);
    char sum[512];
    doc_summary(&got, 0, sum, sizeof sum);
    CHECK_STR("; files: 6 plain text, 2 JSON Lines from 3 folders; skipped: 3 hidden (.name), "
              "2 links to folders, 2 neither file nor folder",
              sum);
    CHECK_INT(0, doc_close(r, &e));

    /* A folder without files: no documents, and stdin is not read. */
    const char *empty = scratch("empty-dir");
    mkdir(empty, 0755);
    const char *ep[] = { empty };
    r = doc_open(&o, ep, 1, &e);
    CHECK_INT(0, doc_next(r, &d, &e));
    CHECK_INT(1, doc_stats(r)->n_folders);
    doc_close(r, &e);
}

/* Files named neither .jsonl/.json nor .txt/.text/.md: their first non-blank
 * line decides ('{' there: JSON Lines); the lines read to decide are not
 * lost either way. A NUL byte makes a binary file: skipped, counted, named
 * in the summary. */
static void by_content(void)
{
    const char *gpl = scratch("GPL-3"), *jl = scratch("shard-00001"), *bin = scratch("logo"),
               *bad = scratch("corrupt.jsonl"), *curly = scratch("styles"), *out = scratch("content.jsonl");
    const char text[] = "\n   \n\xef\xbb\xbf    GNU GENERAL PUBLIC LICENSE\n   Version 3\n\nno final newline";
    write_file(gpl, text, sizeof text - 1);
    const char lines[] = "\xef\xbb\xbf\n  \n {\"text\":\"one\"}\n{\"text\":\"two\"}\n";
    write_file(jl, lines, sizeof lines - 1);
    write_file(bin, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
    Err e = { { 0 } };
    DocOpts o = { 0 };
    const char *paths[] = { gpl, jl, bin };
    DocReader *r = doc_open(&o, paths, 3, &e);
    Doc d;
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM(text, d.text, d.text_len); /* byte for byte, blank lines and all */
    CHECK(d.raw == NULL);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("one", d.text, d.text_len);
    CHECK_INT(3, d.lineno);
    CHECK(d.raw != NULL);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("two", d.text, d.text_len);
    CHECK_INT(0, doc_next(r, &d, &e));
    DocStats st = *doc_stats(r);
    CHECK_INT(1, st.n_text_files);
    CHECK_INT(1, st.n_jsonl_files);
    CHECK_INT(1, st.n_binary);
    CHECK_INT(2, st.n_blank); /* the JSON Lines file's blank lines */
    char sum[512], want[700];
    doc_summary(&st, 0, sum, sizeof sum);
    snprintf(want, sizeof want, "; files: 1 plain text, 1 JSON Lines; skipped: 1 binary (a NUL byte: %s)", bin);
    CHECK_STR(want, sum);
    CHECK_INT(0, doc_close(r, &e));

    /* A named .txt file with a NUL byte is binary too. */
    const char *nul = scratch("nul.txt");
    write_file(nul, "text\0more", 9);
    const char *np[] = { nul };
    r = doc_open(&o, np, 1, &e);
    CHECK_INT(0, doc_next(r, &d, &e));
    CHECK_INT(1, doc_stats(r)->n_binary);
    doc_close(r, &e);

    /* A corrupt .jsonl is still an error naming file and line. */
    write_file(bad, "{\"text\":\"ok\"}\nnot json\n", 23);
    const char *bp[] = { bad };
    CHECK_INT(-1, copy_docs(&o, bp, 1, out, NULL, NULL, &e));
    snprintf(want, sizeof want, "%s:2: invalid JSON at byte 1: ", bad);
    CHECK_HAS(want, e.msg);
    CHECK(!strstr(e.msg, "--format text"));
    CHECK(!file_or_temp_exists(out));
    write_file(bad, "not json at all\n{\"text\":\"ok\"}\n", 30); /* by name, not by content */
    CHECK_INT(-1, copy_docs(&o, bp, 1, out, NULL, NULL, &e));
    snprintf(want, sizeof want, "%s:1: invalid JSON at byte 1: ", bad);
    CHECK_HAS(want, e.msg);
    /* Without a known ending: text that opens with '{' (a Pascal comment) is
     * text; a corrupt first line followed by a JSON object is JSON Lines, the
     * first line a bad one (an error, or skipped and counted); a later bad
     * line's error says why the file was taken for JSON Lines. */
    const char pas[] = "{ A Pascal comment }\nprogram hello;\n";
    write_file(curly, pas, sizeof pas - 1);
    const char *cp[] = { curly };
    r = doc_open(&o, cp, 1, &e);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM(pas, d.text, d.text_len);
    CHECK_INT(0, doc_next(r, &d, &e));
    CHECK_INT(1, doc_stats(r)->n_text_files);
    doc_close(r, &e);
    const char cut[] = "{\"text\":\"cut sh\n\n{\"text\":\"whole\"}\n";
    write_file(curly, cut, sizeof cut - 1);
    CHECK_INT(-1, copy_docs(&o, cp, 1, out, NULL, NULL, &e));
    snprintf(want, sizeof want, "%s:1: invalid JSON at byte 16: ", curly);
    CHECK_HAS(want, e.msg);
    CHECK_HAS("(taken for JSON Lines by its first lines; --format text reads it as plain text)", e.msg);
    DocOpts skip = { .on_error = ON_ERROR_SKIP };
    r = doc_open(&skip, cp, 1, &e);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("whole", d.text, d.text_len);
    CHECK_INT(3, d.lineno);
    CHECK_INT(0, doc_next(r, &d, &e));
    CHECK_INT(1, doc_stats(r)->n_bad);
    CHECK_INT(1, doc_stats(r)->n_blank);
    CHECK_INT(1, doc_stats(r)->n_jsonl_files);
    doc_close(r, &e);
    write_file(curly, "{\"text\":\"a\"}\n{ nope\n", 20);
    CHECK_INT(-1, copy_docs(&o, cp, 1, out, NULL, NULL, &e));
    snprintf(want, sizeof want, "%s:2: invalid JSON at byte 3", curly);
    CHECK_HAS(want, e.msg);
    CHECK_HAS("--format text reads it as plain text", e.msg);
    DocOpts as_text = { .format = DOC_TEXT };
    CHECK_INT(0, copy_docs(&as_text, cp, 1, out, NULL, NULL, &e));
    /* --format jsonl wins over content: GPL-3 is then bad JSON at line 3 */
    DocOpts as_jsonl = { .format = DOC_JSONL };
    const char *gp[] = { gpl };
    CHECK_INT(-1, copy_docs(&as_jsonl, gp, 1, out, NULL, NULL, &e));
    CHECK_HAS(":3: invalid JSON", e.msg);
}

/* Plain text is UTF-8 or, with --encoding latin1, Latin-1 converted to
 * UTF-8. A bad file is one bad file: counted as a file, not as lines. */
static void encodings(void)
{
    const char *lat[] = { scratch("l1.txt"), scratch("l2"), scratch("l3.md"), scratch("l4.text") };
    const char *ok = scratch("ok.txt"), *out = scratch("enc.jsonl");
    for (int i = 0; i < 4; i++) write_file(lat[i], "caf\xe9\nna\xefve\n", 11);
    write_file(ok, "fine\n", 5);
    Err e = { { 0 } };
    DocOpts utf8 = { 0 };
    CHECK_INT(-1, copy_docs(&utf8, lat, 1, out, NULL, NULL, &e));
    char want[600];
    snprintf(want, sizeof want, "%s:1: invalid UTF-8 at byte 4 (plain text is read as UTF-8; "
                                "--encoding latin1 reads Latin-1)", lat[0]);
    CHECK_STR(want, e.msg);

    DocOpts skip = { .on_error = ON_ERROR_SKIP };
    DocStats st;
    const char *five[] = { lat[0], lat[1], ok, lat[2], lat[3] };
    CHECK_INT(0, copy_docs(&skip, five, 5, out, NULL, &st, &e));
    CHECK_INT(1, st.n_docs);
    CHECK_INT(4, st.n_bad);
    CHECK_INT(4, st.n_bad_files);
    char sum[512];
    doc_summary(&st, 1, sum, sizeof sum);
    CHECK_STR("; 4 bad files skipped; files: 5 plain text", sum);

    DocOpts latin1 = { .encoding = DOC_LATIN1 };
    CHECK_INT(0, copy_docs(&latin1, lat, 1, out, NULL, &st, &e));
    char *got = read_file(out, NULL);
    snprintf(want, sizeof want, "{\"text\":\"caf\xc3\xa9\\nna\xc3\xafve\\n\",\"path\":\"%s\"}\n", lat[0]);
    CHECK_STR(want, got);
    free(got);
    /* --sep documents too */
    DocOpts sep = { .encoding = DOC_LATIN1, .sep = "%" };
    write_file(lat[1], "\xa3" "1\n%\n\xbd\n", 7);
    const char *sp[] = { lat[1] };
    DocReader *r = doc_open(&sep, sp, 1, &e);
    Doc d;
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("\xc2\xa3" "1", d.text, d.text_len);
    CHECK_INT(1, doc_next(r, &d, &e));
    CHECK_MEM("\xc2\xbd", d.text, d.text_len);
    doc_close(r, &e);
    /* stats_out gets the counts when the reader is closed */
    DocStats copied = { 0 };
    DocOpts counted = { .on_error = ON_ERROR_SKIP, .stats_out = &copied };
    r = doc_open(&counted, five, 5, &e);
    while (doc_next(r, &d, &e) == 1) {}
    doc_close(r, &e);
    CHECK_INT(4, copied.n_bad_files);
}

static void output_paths(void)
{
    Err e;
    const char *out = scratch("aborted.jsonl");
    OutFile *o = out_open(out, &e);
    CHECK(o != NULL);
    CHECK_INT(0, out_write(o, "half", 4, &e));
    CHECK(file_or_temp_exists(out)); /* the temporary exists while writing */
    CHECK(access(out, F_OK) != 0);   /* but not under the real name */
    out_abort(o);
    CHECK(!file_or_temp_exists(out));
    CHECK(out_open(scratch("no-such-dir/x.jsonl"), &e) == NULL);
    CHECK_HAS("no-such-dir/x.jsonl: cannot create: No such file or directory", e.msg);
}

/* The bundled corpus (make test builds it first) read and written back: every
 * line passes through unchanged, so the output equals the decompressed input. */
static void real_corpus(void)
{
    const char *corpus = "corpora/en.jsonl.gz", *out = scratch("corpus-copy.jsonl");
    const char *paths[] = { corpus };
    DocOpts o = { 0 };
    Err e;
    DocStats st;
    if (!CHECK_INT_RC(0, copy_docs(&o, paths, 1, out, NULL, &st, &e))) {
        fprintf(stderr, "  %s\n", e.msg);
        return;
    }
    gzFile gz = gzopen(corpus, "rb");
    Buf want = { 0 };
    char chunk[1 << 16];
    int k;
    while (gz && (k = gzread(gz, chunk, sizeof chunk)) > 0) buf_append(&want, chunk, (size_t)k);
    if (gz) gzclose(gz);
    size_t n;
    char *got = read_file(out, &n);
    CHECK(want.len > 30000000 && n == want.len && !memcmp(got, want.data, n));
    CHECK_INT(want.len, st.n_bytes);
    size_t lines = 0;
    for (size_t i = 0; i < want.len; i++) lines += want.data[i] == '\n';
    CHECK_INT(lines, st.n_docs);
    free(got);
    buf_free(&want);
}

int main(void)
{
    passthrough();
    byte_order_mark();
    bad_lines();
    long_lines();
    gzip_files();
    plain_text();
    folders();
    by_content();
    encodings();
    output_paths();
    real_corpus();
    scratch_cleanup();
    return check_done("test_docio");
}
