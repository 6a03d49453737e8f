/* Files in and out. Input: a path or "-" for stdin, read through zlib, which
 * passes plain files through untouched, so ".gz" needs no flag. Output: a path
 * or "-" for stdout; a path is written to "<path>.tmp.<pid>" and renamed onto
 * the real name only by out_close, so a failed run never leaves half a file.
 * Output is gzip-compressed when the path ends in ".gz". */
#ifndef IOFILE_H
#define IOFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

typedef struct InFile InFile;

/* Open path ("-" or NULL: stdin). Caller closes with in_close(). */
InFile *in_open(const char *path, size_t max_line_bytes, Err *e);
void in_close(InFile *f);

/* Next line, without its '\n' (the last line may lack one). *line is borrowed
 * until the next call. 1: a line; 0: end of input; -1: error (I/O, bad gzip,
 * line over the limit). in_lineno() is the number of the line returned. */
int in_line(InFile *f, const char **line, size_t *len, Err *e);
uint64_t in_lineno(const InFile *f);

/* Up to n bytes: the count, 0 at end of input, -1 on error. */
ssize_t in_read(InFile *f, void *dst, size_t n, Err *e);
/* Append everything left to out. */
int in_slurp(InFile *f, Buf *out, Err *e);

const char *in_path(const InFile *f);   /* as given (NULL for stdin) */
uint64_t in_size(const InFile *f);      /* on-disk bytes; 0 when unknown (pipe) */
uint64_t in_consumed(const InFile *f);  /* on-disk bytes read so far, for progress (cheap) */
uint64_t in_bytes(const InFile *f);     /* uncompressed bytes handed out so far */

typedef struct OutFile OutFile;

/* Open path for writing ("-" or NULL: stdout). Caller ends with out_close()
 * (commit) or out_abort() (discard). */
OutFile *out_open(const char *path, Err *e);
int out_write(OutFile *o, const void *p, size_t n, Err *e);
/* Overwrite n bytes at off_bytes of what has been written so far (a header
 * whose count is known only at the end). Plain files only: not stdout or .gz. */
int out_pwrite(OutFile *o, uint64_t off_bytes, const void *p, size_t n, Err *e);
/* Flush, fsync, close and rename onto the real name. Frees o, also on error,
 * in which case the temporary file is removed. */
int out_close(OutFile *o, Err *e);
/* Remove the temporary file and free o. out_abort(NULL) does nothing. */
void out_abort(OutFile *o);

/* write(2) until all n bytes are out, retrying on EINTR. 0, or -1 with errno. */
int out_write_all(int fd, const void *buf, size_t n);

/* Copy the file `from` to `to` through out_open/out_close (so `to` appears
 * whole or not at all). For small files: it is read into memory first. */
int out_copy_file(const char *from, const char *to, Err *e);

/* Remove every open output's temporary file when SIGINT, SIGTERM or SIGHUP
 * arrives, then die of that signal as usual. A main calls this once. */
void out_cleanup_on_signal(void);

#endif
