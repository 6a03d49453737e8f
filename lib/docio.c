/* Document reader and writer. The format of each input is chosen by its name
 * unless the user names it (--format; --sep implies plain text): "*.jsonl",
 * "*.json" are JSON Lines and "*.txt", "*.text", "*.md" plain text (also with
 * ".gz"); any other input, stdin included, by its first non-blank lines (a
 * JSON object: JSON Lines, see sniff), else plain text. Plain text must be
 * UTF-8 unless --encoding latin1 says otherwise; a plain-text file holding a
 * NUL byte is binary, skipped and counted (and, with report_skipped, handed
 * to the caller for its --rejects). Folders: doc_files_expand. Blank
 * JSONL lines hold no document and are only counted; a UTF-8 byte-order mark
 * at the start of a JSONL file is skipped. */
#include "docio.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "utf8.h"

struct DocReader {
    const DocOpts *o;
    DocFiles files;          /* the inputs, folders expanded */
    size_t next_path;
    const char *field;
    size_t field_len;
    InFile *in;
    /* the open input: */
    DocFormat fmt;           /* DOC_JSONL or DOC_TEXT once decided */
    int sniffed;             /* fmt decided by content: r->text holds the lines read to decide */
    int pend;                /* JSONL: lines sniff read, not yet scanned (see sniff) */
    const char *pend_line;
    size_t pend_len;
    uint64_t pend_lineno;    /* pend 2: the line in r->conv, then pend_line */
    int file_done;           /* plain text, a document per file: returned (or skipped) */
    int binary;              /* plain text: a NUL byte seen */
    uint64_t consumed_before; /* on-disk bytes of inputs already closed */
    uint64_t total;
    Buf text;                /* the current document's text */
    Buf conv;                /* --encoding latin1: the converted text */
    OutFile *bad;
    int failed;              /* doc_next returned -1: --bad-lines is not committed */
    DocStats st;
};

static int has_suffix(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

/* DOC_AUTO: to be decided by content. */
static DocFormat format_of(const DocOpts *o, const char *path)
{
    if (o->format != DOC_AUTO) return o->format;
    if (o->sep) return DOC_TEXT;
    if (!path || !strcmp(path, "-")) return DOC_AUTO;
    size_t n = strlen(path);
    if (has_suffix(path, n, ".gz")) n -= 3;
    if (has_suffix(path, n, ".txt") || has_suffix(path, n, ".text") || has_suffix(path, n, ".md"))
        return DOC_TEXT;
    if (has_suffix(path, n, ".jsonl") || has_suffix(path, n, ".json")) return DOC_JSONL;
    return DOC_AUTO;
}

/* ---- folders ---- */

static int files_add(DocFiles *fl, const char *path, int owned)
{
    if (fl->n == fl->cap) {
        size_t cap = fl->cap ? 2 * fl->cap : 16;
        const char **p = realloc(fl->paths, cap * sizeof *p);
        if (!p) return -1;
        fl->paths = p;
        unsigned char *o = realloc(fl->owned, cap);
        if (!o) return -1;
        fl->owned = o;
        fl->cap = cap;
    }
    fl->paths[fl->n] = path;
    fl->owned[fl->n++] = (unsigned char)owned;
    return 0;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Add the files under folder `dir` (recursively, unsorted) to fl. */
static int walk(DocFiles *fl, const char *dir, DocStats *st, Err *e)
{
    DIR *d = opendir(dir);
    if (!d) return err_sys(e, dir, "cannot read folder");
    st->n_folders++;
    size_t dl = strlen(dir);
    int slash = dl && dir[dl - 1] == '/';
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        const char *nm = ent->d_name;
        if (nm[0] == '.') { /* ".", "..", and hidden files and folders (.git) */
            if (strcmp(nm, ".") && strcmp(nm, "..")) st->n_hidden++;
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **p = realloc(names, cap * sizeof *p);
            if (!p) {
                rc = err_set(e, "out of memory");
                break;
            }
            names = p;
        }
        size_t len = dl + !slash + strlen(nm) + 1;
        if (!(names[n] = malloc(len))) {
            rc = err_set(e, "out of memory");
            break;
        }
        snprintf(names[n++], len, "%s%s%s", dir, slash ? "" : "/", nm);
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        char *path = names[i];
        names[i] = NULL;
        struct stat sb;
        if (rc) {
            free(path);
            continue;
        }
        if (lstat(path, &sb)) {
            rc = err_sys(e, path, "cannot stat");
            free(path);
            continue;
        }
        int keep = 0;
        if (S_ISLNK(sb.st_mode)) {
            /* not followed to a folder: a link to an ancestor would loop */
            if (stat(path, &sb)) st->n_special++;
            else if (S_ISDIR(sb.st_mode)) st->n_links++;
            else if (S_ISREG(sb.st_mode)) keep = 1;
            else st->n_special++;
        } else if (S_ISDIR(sb.st_mode)) {
            rc = walk(fl, path, st, e);
        } else if (S_ISREG(sb.st_mode)) {
            keep = 1;
        } else {
            st->n_special++;
        }
        if (keep) {
            if (files_add(fl, path, 1)) rc = err_set(e, "out of memory");
            else continue; /* fl owns it now */
        }
        free(path);
    }
    free(names);
    return rc;
}

int doc_files_expand(DocFiles *fl, const char *const *paths, size_t n_paths, DocStats *st, Err *e)
{
    DocStats ignored = { 0 };
    if (!st) st = &ignored;
    memset(fl, 0, sizeof *fl);
    for (size_t i = 0; i < n_paths; i++) {
        struct stat sb;
        if (strcmp(paths[i], "-") && !stat(paths[i], &sb) && S_ISDIR(sb.st_mode)) {
            size_t from = fl->n;
            if (walk(fl, paths[i], st, e)) {
                doc_files_free(fl);
                return -1;
            }
            /* byte order of the whole paths: "a.txt" < "a/b" ('.' < '/') */
            if (fl->n > from) qsort(fl->paths + from, fl->n - from, sizeof *fl->paths, cmp_path);
        } else if (files_add(fl, paths[i], 0)) {
            doc_files_free(fl);
            return err_set(e, "out of memory");
        }
    }
    return 0;
}

void doc_files_free(DocFiles *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        if (fl->owned[i]) free((char *)fl->paths[i]);
    free(fl->paths);
    free(fl->owned);
    memset(fl, 0, sizeof *fl);
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
    r->field = opts->field ? opts->field : "text";
    r->field_len = strlen(r->field);
    if (doc_files_expand(&r->files, n_paths ? paths : stdin_only, n_paths ? n_paths : 1, &r->st, e)) {
        free(r);
        return NULL;
    }
    for (size_t i = 0; i < r->files.n; i++) {
        /* Open each once up front, so that a missing file fails before any
         * output; a FIFO or a device only checked, as opening one twice would
         * lose what the first open read (or wait for ever for a writer). */
        const char *path = r->files.paths[i];
        struct stat pst;
        if (strcmp(path, "-") && !stat(path, &pst) && !S_ISREG(pst.st_mode)) {
            if (access(path, R_OK)) {
                err_sys(e, path, "cannot open");
                doc_files_free(&r->files);
                free(r);
                return NULL;
            }
        } else if (strcmp(path, "-")) {
            InFile *f = in_open(path, 1, e);
            if (!f) {
                doc_files_free(&r->files);
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
            doc_files_free(&r->files);
            free(r);
            return NULL;
        }
    }
    return r;
}

const char *const *doc_paths(const DocReader *r, size_t *n)
{
    *n = r->files.n;
    return r->files.paths;
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
    if (r->binary) r->st.n_binary++;
    else if (r->fmt == DOC_JSONL) r->st.n_jsonl_files++;
    else r->st.n_text_files++;
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
    d->skipped = NULL;
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
        int rc = 1;
        uint64_t lineno;
        if (r->pend == 2) { /* sniff's first line, which was not JSON */
            r->pend = 1;
            line = r->conv.data;
            len = r->conv.len;
            lineno = r->pend_lineno;
        } else if (r->pend == 1) { /* the line that made it JSON Lines */
            r->pend = 0;
            line = r->pend_line;
            len = r->pend_len;
            lineno = in_lineno(r->in);
        } else {
            rc = in_line(r->in, &line, &len, e);
            if (rc < 0 && !skip_long_line(r, e)) continue;
            if (rc != 1) return rc;
            lineno = in_lineno(r->in);
        }
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
        else if (r->sniffed)
            err_at(&bad, path, lineno,
                   "invalid JSON at byte %zu: %s (taken for JSON Lines by its first lines; "
                   "--format text reads it as plain text)",
                   at + 1, why);
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

static const char not_utf8_hint[] = "plain text is read as UTF-8; --encoding latin1 reads Latin-1";

/* A plain-text file with a NUL byte: binary, skipped and counted. */
static void skip_binary(DocReader *r)
{
    r->binary = 1;
    char *names = r->st.binary_names;
    size_t have = strlen(names), room = sizeof r->st.binary_names;
    const char *path = err_name(in_path(r->in));
    if (r->st.n_binary < 3 && have + strlen(path) + 3 < room)
        snprintf(names + have, room - have, "%s%s", have ? ", " : "", path);
}

/* text[0..n) read as Latin-1, appended to out as UTF-8. */
static int latin1_append(Buf *out, const char *text, size_t n)
{
    if (!n) return 0; /* out->data may still be NULL, and NULL + 0 is undefined */
    if (buf_reserve(out, 2 * n)) return -1;
    char *o = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x80) {
            *o++ = (char)c;
        } else {
            *o++ = (char)(0xc0 | (c >> 6));
            *o++ = (char)(0x80 | (c & 0x3f));
        }
    }
    out->len = (size_t)(o - out->data);
    return 0;
}

/* The lines sniff reads are kept byte for byte in r->text, should the input
 * be plain text. */
static int keep_line(DocReader *r, const char *line, size_t len)
{
    if (buf_append(&r->text, line, len) || buf_putc(&r->text, '\n')) return -1;
    if (r->text.len > in_bytes(r->in)) r->text.len--; /* the last line had no '\n' */
    return 0;
}

/* An input of unknown format: JSON Lines when its first non-blank line (after
 * a byte-order mark) is a JSON object, or when that line only opens with '{'
 * (a corrupt line, or a Pascal comment) and the next non-blank one is a JSON
 * object; plain text otherwise. The lines read to decide are not lost: for
 * JSON Lines they are pending (a first line that is not JSON copied to
 * r->conv), for plain text they start r->text. */
static int sniff(DocReader *r, Err *e)
{
    const char *line;
    size_t len;
    uint64_t n_blank = 0;
    int opened = 0; /* the first non-blank line opened with '{' but is not JSON */
    r->sniffed = 1;
    r->text.len = 0;
    for (;;) {
        int rc = in_line(r->in, &line, &len, e);
        if (rc < 0) return -1;
        if (rc == 0) {
            r->fmt = DOC_TEXT;
            if (!opened) { /* empty, or only blank lines: no document either way */
                r->file_done = 1;
                r->st.n_blank++;
            }
            return 0;
        }
        const char *p = line;
        size_t n = len;
        if (in_lineno(r->in) == 1 && n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) p += 3, n -= 3;
        if (is_blank(p, n)) {
            n_blank++;
            if (keep_line(r, line, len)) return err_set(e, "out of memory");
            continue;
        }
        if (memchr(line, 0, len)) { /* binary: the rest need not be read */
            r->fmt = DOC_TEXT;
            r->file_done = 1;
            skip_binary(r);
            return 0;
        }
        while (n && (*p == ' ' || *p == '\t')) p++, n--;
        const char *why;
        size_t at;
        if (*p == '{' && !json_validate(p, n, &why, &at)) {
            r->fmt = DOC_JSONL;
            r->pend = 1 + opened;
            r->pend_line = line;
            r->pend_len = len;
            r->st.n_blank += n_blank;
            return 0;
        }
        if (keep_line(r, line, len)) return err_set(e, "out of memory");
        if (*p != '{' || opened) {
            r->fmt = DOC_TEXT;
            return 0;
        }
        opened = 1;
        r->pend_lineno = in_lineno(r->in);
        r->conv.len = 0;
        if (buf_append(&r->conv, line, len)) return err_set(e, "out of memory");
    }
}

/* A whole file is one document (after sniff, r->text holds its start). */
static int next_file(DocReader *r, Doc *d, Err *e)
{
    if (r->file_done) return 0;
    r->file_done = 1;
    if (!r->sniffed) r->text.len = 0;
    if (in_slurp(r->in, &r->text, e)) return -1;
    if (!r->text.len) { /* an empty file holds no document */
        r->st.n_blank++;
        return 0;
    }
    if (memchr(r->text.data, 0, r->text.len)) {
        skip_binary(r);
        return 0;
    }
    if (r->o->encoding == DOC_LATIN1) {
        r->conv.len = 0;
        if (latin1_append(&r->conv, r->text.data, r->text.len)) return err_set(e, "out of memory");
        Buf t = r->text;
        r->text = r->conv;
        r->conv = t;
    } else {
        size_t ok = utf8_valid_prefix(r->text.data, r->text.len);
        if (ok < r->text.len) {
            Err bad;
            err_at(&bad, in_path(r->in), line_of(r->text.data, ok), "invalid UTF-8 at byte %zu (%s)", ok + 1,
                   not_utf8_hint);
            if (bad_doc(r, r->text.data, r->text.len, &bad, e)) return -1;
            r->st.n_bad_files++;
            return 0;
        }
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
                r->st.n_bad_docs++;
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
                err_at(&bad, in_path(r->in), bad_line, "invalid UTF-8 at byte %zu of the line (%s)",
                       bad_byte + 1, not_utf8_hint);
                if (bad_doc(r, r->text.data, r->text.len, &bad, e)) return -1;
                r->st.n_bad_docs++;
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
        if (r->o->encoding == DOC_LATIN1) {
            if (latin1_append(&r->text, line, len)) return err_set(e, "out of memory");
            continue;
        }
        size_t ok = utf8_valid_prefix(line, len);
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
            if (r->next_path == r->files.n) return 0;
            const char *path = r->files.paths[r->next_path++];
            r->in = in_open(path, r->o->max_line ? r->o->max_line : DOC_DEFAULT_MAX_LINE, e);
            if (!r->in) {
                r->failed = 1;
                return -1;
            }
            r->fmt = format_of(r->o, path);
            r->sniffed = r->pend = r->file_done = r->binary = 0;
            if (r->fmt == DOC_AUTO && sniff(r, e)) {
                r->failed = 1;
                return -1;
            }
        }
        int rc = r->fmt == DOC_JSONL ? next_jsonl(r, d, e)
                 : r->o->sep         ? next_sep(r, d, e)
                                     : next_file(r, d, e);
        if (rc < 0) r->failed = 1;
        if (rc) return rc;
        int report = r->binary && r->o->report_skipped;
        const char *path = in_path(r->in); /* borrowed from r->files: outlives the input */
        close_input(r);
        if (report) {
            *d = (Doc){ .text = "", .path = path, .skipped = "binary" };
            return 1;
        }
    }
}

static void reader_free(DocReader *r)
{
    if (r->o->stats_out) *r->o->stats_out = r->st;
    doc_files_free(&r->files);
    buf_free(&r->text);
    buf_free(&r->conv);
    free(r);
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
    reader_free(r);
    return rc;
}

void doc_abort(DocReader *r)
{
    if (!r) return;
    if (r->in) close_input(r);
    out_abort(r->bad);
    reader_free(r);
}

static void put_count(char *out, size_t n, size_t *at, const char *sep, uint64_t k, const char *what)
{
    if (*at < n) *at += (size_t)snprintf(out + *at, n - *at, "%s%llu %s", sep, (unsigned long long)k, what);
}

void doc_summary(const DocStats *st, int always_bad, char *out, size_t n)
{
    size_t at = 0;
    if (!n) return;
    out[0] = 0;
    uint64_t lines = st->n_bad - st->n_bad_files - st->n_bad_docs;
    const char *sep = "; ";
    if (lines || (always_bad && !st->n_bad)) put_count(out, n, &at, sep, lines, "bad lines"), sep = ", ";
    if (st->n_bad_docs) put_count(out, n, &at, sep, st->n_bad_docs, "bad documents"), sep = ", ";
    if (st->n_bad_files) put_count(out, n, &at, sep, st->n_bad_files, "bad files"), sep = ", ";
    if (sep[0] == ',' && at < n) at += (size_t)snprintf(out + at, n - at, " skipped");
    int skipped = st->n_binary || st->n_hidden || st->n_links || st->n_special;
    if (!st->n_text_files && !st->n_folders && !skipped) return;
    sep = "; files: ";
    if (st->n_text_files) put_count(out, n, &at, sep, st->n_text_files, "plain text"), sep = ", ";
    if (st->n_jsonl_files) put_count(out, n, &at, sep, st->n_jsonl_files, "JSON Lines"), sep = ", ";
    if (sep[0] == ';' && at < n) at += (size_t)snprintf(out + at, n - at, "; files: none read");
    if (st->n_folders) put_count(out, n, &at, " from ", st->n_folders, st->n_folders == 1 ? "folder" : "folders");
    sep = "; skipped: ";
    if (st->n_binary) {
        put_count(out, n, &at, sep, st->n_binary, "binary (a NUL byte: ");
        if (at < n)
            at += (size_t)snprintf(out + at, n - at, "%s%s)", st->binary_names, st->n_binary > 3 ? ", ..." : "");
        sep = ", ";
    }
    if (st->n_hidden) put_count(out, n, &at, sep, st->n_hidden, "hidden (.name)"), sep = ", ";
    if (st->n_links) put_count(out, n, &at, sep, st->n_links, "links to folders"), sep = ", ";
    if (st->n_special) put_count(out, n, &at, sep, st->n_special, "neither file nor folder");
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

/* A path as a JSON string. File names are bytes: one that is not UTF-8 gets
 * U+FFFD for each invalid byte (JSON must be UTF-8). */
static int escape_path(Buf *b, const char *path)
{
    size_t n = strlen(path), ok = utf8_valid_prefix(path, n);
    if (ok == n) return json_escape(b, path, n);
    Buf clean = { 0 };
    int rc = 0;
    for (size_t i = 0; i < n;) {
        ok = utf8_valid_prefix(path + i, n - i);
        rc |= buf_append(&clean, path + i, ok);
        i += ok;
        if (i < n) {
            rc |= buf_append(&clean, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    rc |= json_escape(b, clean.data ? clean.data : "", clean.len);
    buf_free(&clean);
    return rc ? -1 : 0;
}

/* s[0..n) as a JSON string, straight to the output a chunk at a time, so a
 * long document's text is never copied whole (json_escape goes byte by byte
 * and escapes only ASCII, so any cut is safe). Uses w->line. */
#define ESCAPE_CHUNK ((size_t)64 << 10)
static int write_escaped(DocWriter *w, const char *s, size_t n, Err *e)
{
    Buf *b = &w->line;
    size_t at = 0;
    do {
        size_t k = n - at < ESCAPE_CHUNK ? n - at : ESCAPE_CHUNK;
        b->len = 0;
        if (json_escape(b, s + at, k)) return err_set(e, "out of memory");
        const char *p = b->data;
        size_t len = b->len;
        if (at) p++, len--;      /* the opening quote only once */
        if (at + k < n) len--;   /* and the closing one */
        if (out_write(w->out, p, len, e)) return -1;
        at += k;
    } while (at < n);
    return 0;
}

int docw_write(DocWriter *w, const Doc *d, const char *text, size_t text_len, const char *extra,
               Err *e)
{
    Buf *b = &w->line;
    int rc = 0;
    /* the raw line and the text go out as they are, not through w->line */
    if (d->raw) {
        if (text) {
            if (out_write(w->out, d->raw, d->span.val_off, e) || write_escaped(w, text, text_len, e) ||
                out_write(w->out, d->raw + d->span.val_end, d->span.close_off - d->span.val_end, e))
                return -1;
        } else if (out_write(w->out, d->raw, d->span.close_off, e)) {
            return -1;
        }
        b->len = 0;
    } else { /* plain text: the file it came from goes with it */
        b->len = 0;
        rc |= buf_putc(b, '{');
        rc |= json_escape(b, w->field, strlen(w->field));
        rc |= buf_putc(b, ':');
        if (rc) return err_set(e, "out of memory");
        if (out_write(w->out, b->data, b->len, e) ||
            write_escaped(w, text ? text : d->text, text ? text_len : d->text_len, e))
            return -1;
        b->len = 0;
        if (d->path && strcmp(w->field, "path")) {
            rc |= buf_append(b, ",\"path\":", 8);
            rc |= escape_path(b, d->path);
        }
    }
    if (extra) {
        rc |= buf_putc(b, ',');
        rc |= buf_append(b, extra, strlen(extra));
    }
    rc |= buf_append(b, "}\n", 2);
    if (rc) return err_set(e, "out of memory");
    return out_write(w->out, b->data, b->len, e);
}

int docw_write_skipped(DocWriter *w, const Doc *d, const char *member, Err *e)
{
    Buf extra = { 0 };
    int rc = json_escape(&extra, member, strlen(member)) || buf_putc(&extra, ':') ||
             json_escape(&extra, d->skipped, strlen(d->skipped)) || buf_putc(&extra, 0);
    rc = rc ? err_set(e, "out of memory") : docw_write(w, d, NULL, 0, extra.data, e);
    buf_free(&extra);
    return rc;
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
