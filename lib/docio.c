/* Document reader and writer. The format of each input is chosen by its name
 * unless the user names it: "*.txt", "*.text", "*.md" (also with ".gz") are
 * plain text, anything else and stdin are JSON Lines; --sep implies plain text.
 * Blank JSONL lines hold no document and are only counted; a UTF-8 byte-order
 * mark at the start of a JSONL file is skipped. */
#include "docio.h"

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

struct DocReader {
    const DocOpts *o;
    const char *const *paths;
    size_t n_paths, next_path;
    const char *field;
    size_t field_len;
    InFile *in;
    DocFormat fmt;           /* of the open input */
    uint64_t consumed_before; /* on-disk bytes of inputs already closed */
    uint64_t total;
    Buf text;                /* the current document's text */
    OutFile *bad;
    int failed;              /* doc_next returned -1: --bad-lines is not committed */
    DocStats st;
};

static int has_suffix(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

static DocFormat format_of(const DocOpts *o, const char *path)
{
    if (o->format != DOC_AUTO) return o->format;
    if (o->sep) return DOC_TEXT;
    if (!path || !strcmp(path, "-")) return DOC_JSONL;
    size_t n = strlen(path);
    if (has_suffix(path, n, ".gz")) n -= 3;
    if (has_suffix(path, n, ".txt") || has_suffix(path, n, ".text") || has_suffix(path, n, ".md"))
        return DOC_TEXT;
    return DOC_JSONL;
}

DocReader *doc_open(const DocOpts *opts, const char *const *paths, size_t n_paths, Err *e)
{
    DocReader *r = calloc(1, sizeof *r);
    if (!r) {
        err_set(e, "out of memory");
        return NULL;
    }
    static const char *const stdin_only[] = { "-" };
    r->o = opts;
    r->paths = n_paths ? paths : stdin_only;
    r->n_paths = n_paths ? n_paths : 1;
    r->field = opts->field ? opts->field : "text";
    r->field_len = strlen(r->field);
    for (size_t i = 0; i < r->n_paths; i++) {
        /* Open each once up front, so that a missing file fails before any output. */
        if (strcmp(r->paths[i], "-")) {
            InFile *f = in_open(r->paths[i], 1, e);
            if (!f) {
                free(r);
                return NULL;
            }
            r->total += in_size(f);
            in_close(f);
        }
    }
    if (opts->on_error == ON_ERROR_SKIP && opts->bad_lines) {
        r->bad = out_open(opts->bad_lines, e);
        if (!r->bad) {
            free(r);
            return NULL;
        }
    }
    return r;
}

const DocStats *doc_stats(const DocReader *r) { return &r->st; }
uint64_t doc_total_size(const DocReader *r) { return r->total; }
uint64_t doc_bytes_read(const DocReader *r)
{
    return r->st.n_bytes + (r->in ? in_bytes(r->in) : 0);
}
uint64_t doc_consumed(const DocReader *r)
{
    return r->consumed_before + (r->in ? in_consumed(r->in) : 0);
}

static void close_input(DocReader *r)
{
    r->consumed_before += in_consumed(r->in);
    r->st.n_bytes += in_bytes(r->in);
    in_close(r->in);
    r->in = NULL;
}

/* A bad document: stop, or count it, warn and copy its raw bytes aside. */
static int bad_doc(DocReader *r, const char *raw, size_t raw_len, Err *why, Err *e)
{
    if (r->o->on_error == ON_ERROR_STOP) {
        *e = *why;
        return -1;
    }
    r->st.n_bad++;
    err_warn(why);
    if (r->bad && (out_write(r->bad, raw, raw_len, e) || out_write(r->bad, "\n", 1, e))) return -1;
    return 0;
}

static void set_doc(DocReader *r, Doc *d, const char *raw, size_t raw_len, uint64_t lineno)
{
    d->text = r->text.data ? r->text.data : "";
    d->text_len = r->text.len;
    d->raw = raw;
    d->raw_len = raw_len;
    d->path = in_path(r->in);
    d->lineno = lineno;
    r->st.n_docs++;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

/* in_line failed. With skip, a line over --max-line is a bad line like any
 * other: warned about, counted, and copied to --bad-lines a buffer at a time
 * (it may not fit in memory). 0: skipped, go on; -1: the error stands. */
static int skip_long_line(DocReader *r, Err *e)
{
    if (r->o->on_error != ON_ERROR_SKIP || !in_long_line(r->in)) return -1;
    r->st.n_bad++;
    err_warn(e);
    if (in_skip_line(r->in, r->bad, e)) return -1;
    if (r->bad && out_write(r->bad, "\n", 1, e)) return -1;
    return 0;
}

/* 1 doc, 0 this input is done, -1 error. */
static int next_jsonl(DocReader *r, Doc *d, Err *e)
{
    const char *line;
    size_t len;
    for (;;) {
        int rc = in_line(r->in, &line, &len, e);
        if (rc < 0 && !skip_long_line(r, e)) continue;
        if (rc != 1) return rc;
        uint64_t lineno = in_lineno(r->in);
        if (lineno == 1 && len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
            line += 3; /* a UTF-8 byte-order mark (Windows editors write one): not part of the JSON */
            len -= 3;
        }
        if (is_blank(line, len)) {
            r->st.n_blank++;
            continue;
        }
        const char *why;
        size_t at;
        if (!json_doc_scan(line, len, r->field, r->field_len, &d->span, &r->text, &why, &at)) {
            set_doc(r, d, line, len, lineno);
            return 1;
        }
        Err bad;
        const char *path = in_path(r->in);
        if (why == json_no_field)
            err_at(&bad, path, lineno, "no \"%s\" member (name another with --field)", r->field);
        else if (why == json_field_not_string)
            err_at(&bad, path, lineno, "\"%s\" is not a string", r->field);
        else if (why == json_field_twice)
            err_at(&bad, path, lineno, "\"%s\" appears twice", r->field);
        else
            err_at(&bad, path, lineno, "invalid JSON at byte %zu: %s", at + 1, why);
        if (bad_doc(r, line, len, &bad, e)) return -1;
    }
}

/* Line number (1-based) of byte `off` in s. */
static uint64_t line_of(const char *s, size_t off)
{
    uint64_t n = 1;
    for (const char *p = s; (p = memchr(p, '\n', (size_t)(s + off - p))); p++) n++;
    return n;
}

/* A whole file is one document. */
static int next_file(DocReader *r, Doc *d, Err *e)
{
    if (in_lineno(r->in) || in_bytes(r->in)) return 0; /* already returned it */
    r->text.len = 0;
    if (in_slurp(r->in, &r->text, e)) return -1;
    if (!r->text.len) { /* an empty file holds no document */
        r->st.n_blank++;
        return 0;
    }
    size_t ok = r->o->raw_bytes_ok ? r->text.len : utf8_valid_prefix(r->text.data, r->text.len);
    if (ok < r->text.len) {
        Err bad;
        err_at(&bad, in_path(r->in), line_of(r->text.data, ok), "invalid UTF-8 at byte %zu", ok + 1);
        if (bad_doc(r, r->text.data, r->text.len, &bad, e)) return -1;
        return 0;
    }
    set_doc(r, d, NULL, 0, 1);
    return 1;
}

/* Documents are the runs of lines between lines equal to the separator. */
static int next_sep(DocReader *r, Doc *d, Err *e)
{
    const char *sep = r->o->sep;
    size_t sep_len = strlen(sep);
    const char *line;
    size_t len;
    int rc, bad_at_line = 0, long_line = 0;
    size_t bad_byte = 0;
    uint64_t first = 0, bad_line = 0;
    r->text.len = 0;
    for (;;) {
        rc = in_line(r->in, &line, &len, e);
        if (rc < 0) {
            if (r->o->on_error != ON_ERROR_SKIP || !in_long_line(r->in)) return -1;
            /* A line over --max-line makes its document bad, and the document
             * cannot be held whole: what it has so far goes to --bad-lines now,
             * the long line a buffer at a time, the rest as it comes, up to the
             * separator (the same bytes bad_doc would copy). */
            if (!long_line) {
                long_line = 1;
                r->st.n_bad++;
                err_warn(e);
                if (r->bad && first && out_write(r->bad, r->text.data, r->text.len, e)) return -1;
            }
            if (r->bad && first && out_write(r->bad, "\n", 1, e)) return -1;
            if (!first) first = in_lineno(r->in) + 1;
            if (in_skip_line(r->in, r->bad, e)) return -1;
            continue;
        }
        size_t cmp_len = (rc && len && line[len - 1] == '\r') ? len - 1 : len;
        int at_sep = rc == 0 || (cmp_len == sep_len && !memcmp(line, sep, sep_len));
        if (at_sep && long_line) {
            if (r->bad && out_write(r->bad, "\n", 1, e)) return -1;
            long_line = bad_at_line = 0;
            r->text.len = 0;
            first = 0;
            if (rc == 0) return 0;
            continue;
        }
        if (long_line) {
            if (r->bad && (out_write(r->bad, "\n", 1, e) || out_write(r->bad, line, len, e)))
                return -1;
            continue;
        }
        if (at_sep) {
            if (bad_at_line) {
                Err bad;
                err_at(&bad, in_path(r->in), bad_line, "invalid UTF-8 at byte %zu of the line",
                       bad_byte + 1);
                if (bad_doc(r, r->text.data, r->text.len, &bad, e)) return -1;
                bad_at_line = 0;
                r->text.len = 0;
                first = 0;
                if (rc == 0) return 0;
                continue;
            }
            if (first) {
                set_doc(r, d, NULL, 0, first);
                return 1;
            }
            if (rc == 0) return 0;
            continue; /* separators in a row: no empty document */
        }
        if (!first) first = in_lineno(r->in);
        else if (buf_putc(&r->text, '\n')) return err_set(e, "out of memory");
        size_t ok = r->o->raw_bytes_ok ? len : utf8_valid_prefix(line, len);
        if (ok < len && !bad_at_line) {
            bad_at_line = 1;
            bad_line = in_lineno(r->in);
            bad_byte = ok;
        }
        if (buf_append(&r->text, line, len)) return err_set(e, "out of memory");
    }
}

int doc_next(DocReader *r, Doc *d, Err *e)
{
    for (;;) {
        if (!r->in) {
            if (r->next_path == r->n_paths) return 0;
            const char *path = r->paths[r->next_path++];
            r->in = in_open(path, r->o->max_line ? r->o->max_line : DOC_DEFAULT_MAX_LINE, e);
            if (!r->in) {
                r->failed = 1;
                return -1;
            }
            r->fmt = format_of(r->o, path);
        }
        int rc = r->fmt == DOC_JSONL ? next_jsonl(r, d, e)
                 : r->o->sep         ? next_sep(r, d, e)
                                     : next_file(r, d, e);
        if (rc < 0) r->failed = 1;
        if (rc) return rc;
        close_input(r);
    }
}

int doc_close(DocReader *r, Err *e)
{
    if (!r) return 0;
    if (r->failed) { /* the caller has the error; e keeps it */
        doc_abort(r);
        return 0;
    }
    if (r->in) close_input(r);
    int rc = r->bad ? out_close(r->bad, e) : 0;
    buf_free(&r->text);
    free(r);
    return rc;
}

void doc_abort(DocReader *r)
{
    if (!r) return;
    if (r->in) close_input(r);
    out_abort(r->bad);
    buf_free(&r->text);
    free(r);
}

struct DocWriter {
    OutFile *out;
    const char *field;
    Buf line;
};

DocWriter *docw_open(const char *path, const DocOpts *opts, Err *e)
{
    DocWriter *w = calloc(1, sizeof *w);
    if (!w) {
        err_set(e, "out of memory");
        return NULL;
    }
    w->field = opts && opts->field ? opts->field : "text";
    if (!(w->out = out_open(path, e))) {
        free(w);
        return NULL;
    }
    return w;
}

int docw_write(DocWriter *w, const Doc *d, const char *text, size_t text_len, const char *extra,
               Err *e)
{
    Buf *b = &w->line;
    b->len = 0;
    int rc = 0;
    if (d->raw) {
        if (text) {
            rc |= buf_append(b, d->raw, d->span.val_off);
            rc |= json_escape(b, text, text_len);
            rc |= buf_append(b, d->raw + d->span.val_end, d->span.close_off - d->span.val_end);
        } else {
            rc |= buf_append(b, d->raw, d->span.close_off);
        }
    } else {
        rc |= buf_putc(b, '{');
        rc |= json_escape(b, w->field, strlen(w->field));
        rc |= buf_putc(b, ':');
        rc |= json_escape(b, text ? text : d->text, text ? text_len : d->text_len);
    }
    if (extra) {
        rc |= buf_putc(b, ',');
        rc |= buf_append(b, extra, strlen(extra));
    }
    rc |= buf_append(b, "}\n", 2);
    if (rc) return err_set(e, "out of memory");
    return out_write(w->out, b->data, b->len, e);
}

int docw_close(DocWriter *w, Err *e)
{
    int rc = out_close(w->out, e);
    buf_free(&w->line);
    free(w);
    return rc;
}

void docw_abort(DocWriter *w)
{
    if (!w) return;
    out_abort(w->out);
    buf_free(&w->line);
    free(w);
}
