/* Files in and out. Input: a path or "-" for stdin; gzip (one member or
 * several, `cat a.gz b.gz`) is recognised by its magic number and inflated,
 * anything else passes through untouched, so ".gz" needs no flag. Output: a
 * path or "-" for stdout; a path is written to "<path>.tmp.<pid>" and renamed
 * onto the real name only by out_close, so a failed run never leaves half a
 * file (out_open says when it writes in place instead). Output is
 * gzip-compressed when the path ends in ".gz". */
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
 * until the next call. 1: a line; 0: end of input; -1: error (I/O, bad gzip
 * such as data after the end of a member, line over the limit). in_lineno()
 * is the number of the line returned. */
int in_line(InFile *f, const char **line, size_t *len, Err *e);
uint64_t in_lineno(const InFile *f);

typedef struct OutFile OutFile;

/* 1 when the last in_line failed only because the line is over the limit:
 * in_skip_line can then step over it and reading goes on. */
int in_long_line(const InFile *f);
/* Pass the rest of that over-long line, writing its bytes (not its '\n') to
 * copy when copy is not NULL, a buffer at a time: the line is never held
 * whole. It counts as a line for in_lineno. 0, or -1 on error. */
int in_skip_line(InFile *f, OutFile *copy, Err *e);

/* Up to n bytes: the count, 0 at end of input, -1 on error. */
ssize_t in_read(InFile *f, void *dst, size_t n, Err *e);
/* Append everything left to out. */
int in_slurp(InFile *f, Buf *out, Err *e);

const char *in_path(const InFile *f);   /* as given (NULL for stdin) */
uint64_t in_size(const InFile *f);      /* on-disk bytes; 0 when unknown (pipe) */
uint64_t in_consumed(const InFile *f);  /* on-disk bytes read so far, for progress (cheap) */
uint64_t in_bytes(const InFile *f);     /* uncompressed bytes handed out so far */

/* Open path for writing ("-" or NULL: stdout). Caller ends with out_close()
 * (commit) or out_abort() (discard). The exception to temp-and-rename: when
 * path exists and is not a regular file (a device, a FIFO), or names a
 * descriptor (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N), it is
 * written in place, never replaced; a descriptor is dup'ed, so its offset and
 * O_APPEND hold (`-o /dev/stdout >> log` appends). Nothing can be discarded
 * there: out_abort only stops writing. A symbolic link to a regular file (or
 * to nothing yet) is followed: the file it names is the one replaced, through
 * a temporary next to it, and the link stays. */
OutFile *out_open(const char *path, Err *e);
/* What out_open(path) would refuse, found before a run does its work (a
 * program that writes its output only at the end): a folder, or a folder
 * above that is missing or not writable. Opens nothing; a device, a FIFO or a
 * descriptor's name passes. 0 ok, -1 with out_open's message. */
int out_check(const char *path, Err *e);
int out_write(OutFile *o, const void *p, size_t n, Err *e);
/* Overwrite n bytes at off_bytes of what has been written so far (a header
 * whose count is known only at the end). Only in the temporary file of a
 * regular one: not stdout, a device, a FIFO, a descriptor or .gz. */
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
 * arrives, then die of that signal as usual; ignore SIGXFSZ, so that a write
 * past `ulimit -f` fails with EFBIG through the error path. A main calls
 * this once, before it writes. */
void out_cleanup_on_signal(void);
/* A temporary file that another process writes for us (gnuplot's PNG): removed
 * on those signals too, until out_cleanup_drop(slot). path is borrowed until
 * then. The slot, or -1 when the table is full (then nothing is removed). */
int out_cleanup_add(const char *path);
void out_cleanup_drop(int slot);

#endif
