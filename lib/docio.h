/* Documents in and out. In: JSON Lines (text in one member, "text" unless
 * --field says otherwise), plain text (one document per file, or documents split
 * by a separator line), from files, folders (walked: see doc_files_expand) or
 * stdin, gzip or not. Out: JSON Lines where every member of the input object is
 * passed through byte for byte and members a program adds are appended; a
 * plain-text document comes out as {"text":...,"path":FILE}. Bad lines stop the
 * run or are skipped, counted and optionally copied byte for byte to a side
 * file, as the user chose. */
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
typedef enum { DOC_UTF8, DOC_LATIN1 } DocEncoding;

typedef struct DocStats DocStats;

typedef struct DocOpts {
    const char *field;     /* JSON member holding the text; NULL: "text" */
    DocFormat format;      /* DOC_AUTO: by file name, else by content: see docio.c */
    const char *sep;       /* DOC_TEXT: a line equal to this splits documents; NULL: one per file */
    OnError on_error;
    const char *bad_lines; /* with ON_ERROR_SKIP: copy each bad line here; NULL: don't */
    size_t max_line;       /* bytes; 0: DOC_DEFAULT_MAX_LINE. A longer line is a bad line */
    DocEncoding encoding;  /* of plain text (JSON Lines are UTF-8): DOC_UTF8 must be valid,
                            * DOC_LATIN1 converts every byte to UTF-8 */
    DocStats *stats_out;   /* when not NULL, doc_close and doc_abort copy the stats here */
    int report_skipped;    /* 1: doc_next also returns each file it skips as binary, in
                            * input order, as a Doc with `skipped` set (for --rejects);
                            * 0: such files are only counted */
} DocOpts;

#define DOC_DEFAULT_MAX_LINE ((size_t)256 << 20)

typedef struct Doc {
    const char *text;   /* valid UTF-8, not NUL-terminated; borrowed until the next doc_next */
    size_t text_len;
    const char *raw;    /* the JSON line as read; NULL for plain text */
    size_t raw_len;
    JsonSpan span;      /* where the text member sits in raw */
    const char *path;   /* NULL: stdin. Borrowed until doc_close (a file found in a
                         * folder: the reader's copy, one of doc_paths) */
    uint64_t lineno;    /* first line of the document */
    const char *skipped; /* NULL: a document. Else no document but a file skipped
                          * (DocOpts.report_skipped): why ("binary"), a static
                          * string; path names the file, text is "", raw NULL */
} Doc;

struct DocStats {
    uint64_t n_docs, n_bad, n_blank, n_bytes; /* n_bytes: uncompressed input bytes */
    /* Of n_bad: whole plain-text files (a document each) and --sep documents;
     * the rest are JSON lines. */
    uint64_t n_bad_files, n_bad_docs;
    uint64_t n_jsonl_files, n_text_files; /* inputs read each way (stdin counts) */
    uint64_t n_folders;  /* walked, those named and those inside them */
    uint64_t n_binary;   /* plain-text files skipped because they hold a NUL byte */
    uint64_t n_hidden;   /* names starting with '.' inside folders: skipped */
    uint64_t n_links;    /* symbolic links to folders inside folders: not followed */
    uint64_t n_special;  /* inside folders, neither file nor folder (FIFO, socket,
                          * device, broken link): skipped */
    char binary_names[200]; /* the first binary files skipped, ", " between */
};

/* The files that paths stand for, in order: "-" (stdin) and files as they are,
 * each folder replaced by the files under it, recursively, in byte order of
 * their paths ("DIR/NAME..."). Inside folders, names starting with '.' are
 * skipped, and so are symbolic links to folders (no loops), FIFOs, sockets,
 * devices and broken links, each counted in *st (when not NULL); a symbolic
 * link to a file is read. A folder named on the command line (or a link to one)
 * is walked. A path that does not exist is kept, for in_open to name. paths
 * are borrowed for fl's life; caller frees fl with doc_files_free() (after
 * an error there is nothing to free). */
typedef struct DocFiles {
    const char **paths; /* (n) the given strings and, for files in folders, copies */
    size_t n;
    unsigned char *owned; /* (n) 1 where paths[i] is a copy: freed by doc_files_free */
    size_t cap;
} DocFiles;
int doc_files_expand(DocFiles *fl, const char *const *paths, size_t n_paths, DocStats *st, Err *e);
void doc_files_free(DocFiles *fl);

typedef struct DocReader DocReader;

/* Read paths[0..n_paths) in order (folders expanded as doc_files_expand
 * says); n_paths 0 means stdin. opts and paths are borrowed for the reader's
 * life. Caller frees with doc_close(). */
DocReader *doc_open(const DocOpts *opts, const char *const *paths, size_t n_paths, Err *e);
/* 1: *d holds the next document (or, with report_skipped, a skipped file:
 * d->skipped); 0: no more; -1: error (with ON_ERROR_STOP, a bad line is an
 * error; with skip it is counted and warned about). */
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
/* The files read, folders expanded (Doc.path is one of them); *n their count. */
const char *const *doc_paths(const DocReader *r, size_t *n);
/* For a program's one-line summary: "; N bad lines skipped" (also when N is
 * 0 with always_bad), bad --sep documents and bad files counted as such, then,
 * when plain text or folders were read or anything was skipped, "; files: N
 * plain text, M JSON Lines" and what was skipped. "" when there is nothing to
 * say. Cut to fit out[0..n). */
void doc_summary(const DocStats *st, int always_bad, char *out, size_t n);
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
/* A skipped file (d->skipped) as a --rejects record:
 * {"text":"","path":FILE,"MEMBER":"binary"}, MEMBER the program's reason
 * member ("filter_reason", "dedup_reason"). */
int docw_write_skipped(DocWriter *w, const Doc *d, const char *member, Err *e);
int docw_close(DocWriter *w, Err *e);
void docw_abort(DocWriter *w);

#endif
