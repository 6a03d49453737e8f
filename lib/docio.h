/* Documents in and out. In: JSON Lines (text in one member, "text" unless
 * --field says otherwise), plain text (one document per file, or documents split
 * by a separator line), from files or stdin, gzip or not. Out: JSON Lines where
 * every member of the input object is passed through byte for byte and members a
 * program adds are appended. Bad lines stop the run or are skipped, counted and
 * optionally copied byte for byte to a side file, as the user chose. */
#ifndef DOCIO_H
#define DOCIO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "iofile.h"
#include "json.h"

typedef enum { DOC_AUTO, DOC_JSONL, DOC_TEXT } DocFormat;
typedef enum { ON_ERROR_STOP, ON_ERROR_SKIP } OnError;

typedef struct DocOpts {
    const char *field;     /* JSON member holding the text; NULL: "text" */
    DocFormat format;      /* DOC_AUTO: by file name, see docio.c */
    const char *sep;       /* DOC_TEXT: a line equal to this splits documents; NULL: one per file */
    OnError on_error;
    const char *bad_lines; /* with ON_ERROR_SKIP: copy each bad line here; NULL: don't */
    size_t max_line;       /* bytes; 0: DOC_DEFAULT_MAX_LINE. A longer line is a bad line */
    int raw_bytes_ok;      /* plain text: pass invalid UTF-8 through as bytes (bpe encode) */
} DocOpts;

#define DOC_DEFAULT_MAX_LINE ((size_t)256 << 20)

typedef struct Doc {
    const char *text;   /* UTF-8 (any bytes with raw_bytes_ok), not NUL-terminated; borrowed until the next doc_next */
    size_t text_len;
    const char *raw;    /* the JSON line as read; NULL for plain text */
    size_t raw_len;
    JsonSpan span;      /* where the text member sits in raw */
    const char *path;   /* NULL: stdin */
    uint64_t lineno;    /* first line of the document */
} Doc;

typedef struct DocStats {
    uint64_t n_docs, n_bad, n_blank, n_bytes; /* n_bytes: uncompressed input bytes */
} DocStats;

typedef struct DocReader DocReader;

/* Read paths[0..n_paths) in order; n_paths 0 means stdin. opts and paths are
 * borrowed for the reader's life. Caller frees with doc_close(). */
DocReader *doc_open(const DocOpts *opts, const char *const *paths, size_t n_paths, Err *e);
/* 1: *d holds the next document; 0: no more; -1: error (with ON_ERROR_STOP, a
 * bad line is an error; with skip it is counted and warned about). */
int doc_next(DocReader *r, Doc *d, Err *e);
/* Finish: commits the --bad-lines file (written, like any output, under a
 * temporary name until then). Frees r. After doc_next has returned -1 it
 * commits nothing, as doc_abort, and leaves e alone. */
int doc_close(DocReader *r, Err *e);
/* A failed run: removes the --bad-lines file's temporary, frees r.
 * doc_abort(NULL) does nothing. */
void doc_abort(DocReader *r);
/* n_bytes counts an input once it is closed; doc_bytes_read is live. */
const DocStats *doc_stats(const DocReader *r);
/* Uncompressed bytes read so far, the open input's included, for progress. */
uint64_t doc_bytes_read(const DocReader *r);
/* On-disk bytes read so far and in all (0: unknown), for progress. */
uint64_t doc_consumed(const DocReader *r);
uint64_t doc_total_size(const DocReader *r);

typedef struct DocWriter DocWriter;

/* JSON Lines to path ("-" or NULL: stdout; ".gz": compressed). Caller ends it
 * with docw_close() (commit) or docw_abort(). */
DocWriter *docw_open(const char *path, const DocOpts *opts, Err *e);
/* Write d. text/text_len, when text is not NULL, replace the document's text.
 * extra, when not NULL, is members to append, e.g. "\"quality\":0.93"
 * (several separated by commas, no leading comma). */
int docw_write(DocWriter *w, const Doc *d, const char *text, size_t text_len, const char *extra,
               Err *e);
int docw_close(DocWriter *w, Err *e);
void docw_abort(DocWriter *w);

#endif
