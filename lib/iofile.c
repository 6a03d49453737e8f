/* Buffered input through zlib (plain or gzip) and atomic output (temp name,
 * fsync, rename). Line splitting is a memchr over a growing buffer; it does
 * not look inside lines. */
#include "iofile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IO_CHUNK (256u << 10)

struct InFile {
    const char *path;
    gzFile gz;
    int fd;
    char *buf;
    size_t cap, beg, end, scan; /* unread bytes are buf[beg..end); no '\n' in [beg..scan) */
    int eof;
    size_t max_line;
    uint64_t lineno, size, bytes;
    uint64_t consumed; /* on-disk bytes read, as of the last fill */
};

static int gz_error(InFile *f, Err *e)
{
    int code;
    const char *msg = gzerror(f->gz, &code);
    if (code == Z_ERRNO) return err_sys(e, f->path, "read");
    return err_off(e, f->path, (uint64_t)gzoffset(f->gz), "bad gzip data: %s",
                   code == Z_BUF_ERROR ? "truncated (unexpected end of file)" : msg);
}

InFile *in_open(const char *path, size_t max_line_bytes, Err *e)
{
    int is_stdin = !path || !strcmp(path, "-");
    int fd = is_stdin ? dup(0) : open(path, O_RDONLY);
    if (fd < 0) {
        err_sys(e, path, "cannot open");
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        err_set(e, "%s: is a directory", path);
        return NULL;
    }
    InFile *f = calloc(1, sizeof *f);
    char *buf = malloc(IO_CHUNK);
    gzFile gz = (f && buf) ? gzdopen(fd, "rb") : NULL;
    if (!gz) {
        free(f);
        free(buf);
        close(fd);
        err_set(e, "%s: out of memory", err_name(path));
        return NULL;
    }
    gzbuffer(gz, IO_CHUNK);
    f->path = is_stdin ? NULL : path;
    f->gz = gz;
    f->fd = fd;
    f->buf = buf;
    f->cap = IO_CHUNK;
    f->max_line = max_line_bytes;
    f->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    return f;
}

void in_close(InFile *f)
{
    if (!f) return;
    gzclose(f->gz);
    free(f->buf);
    free(f);
}

const char *in_path(const InFile *f) { return f->path; }
uint64_t in_size(const InFile *f) { return f->size; }
uint64_t in_lineno(const InFile *f) { return f->lineno; }
uint64_t in_bytes(const InFile *f) { return f->bytes; }

uint64_t in_consumed(const InFile *f) { return f->consumed; }

/* gzoffset asks the kernel (lseek), so it is read once a buffer fill, not
 * each time a caller wants progress. */
static void note_consumed(InFile *f)
{
    z_off_t off = gzoffset(f->gz);
    if (off >= 0) f->consumed = (uint64_t)off;
}

/* Read more input after buf[end], first moving unread bytes to the front and
 * growing the buffer when it is full. 0 ok (f->eof set at the end), -1 error. */
static int fill(InFile *f, Err *e)
{
    if (f->beg > 0) {
        memmove(f->buf, f->buf + f->beg, f->end - f->beg);
        f->end -= f->beg;
        f->scan -= f->beg;
        f->beg = 0;
    }
    if (f->end == f->cap) {
        if (f->cap >= f->max_line + 1)
            return err_at(e, f->path, f->lineno + 1, "line is longer than the limit of %zu bytes",
                          f->max_line);
        size_t cap = f->cap * 2;
        char *p = realloc(f->buf, cap);
        if (!p) return err_at(e, f->path, f->lineno + 1, "out of memory for a %zu-byte line", cap);
        f->buf = p;
        f->cap = cap;
    }
    size_t want = f->cap - f->end;
    if (want > (1u << 30)) want = 1u << 30;
    int got = gzread(f->gz, f->buf + f->end, (unsigned)want);
    if (got < 0) return gz_error(f, e);
    note_consumed(f);
    if (got == 0) {
        int code;
        gzerror(f->gz, &code);
        if (code != Z_OK) return gz_error(f, e);
        f->eof = 1;
    }
    f->end += (size_t)got;
    return 0;
}

int in_line(InFile *f, const char **line, size_t *len, Err *e)
{
    for (;;) {
        char *nl = memchr(f->buf + f->scan, '\n', f->end - f->scan);
        if (nl) {
            size_t n = (size_t)(nl - (f->buf + f->beg));
            if (n > f->max_line)
                return err_at(e, f->path, f->lineno + 1, "line is %zu bytes, limit %zu", n,
                              f->max_line);
            *line = f->buf + f->beg;
            *len = n;
            f->beg = f->scan = f->beg + n + 1;
            f->bytes += n + 1;
            f->lineno++;
            return 1;
        }
        f->scan = f->end;
        if (f->eof) {
            if (f->beg == f->end) return 0;
            *line = f->buf + f->beg;
            *len = f->end - f->beg;
            f->bytes += *len;
            f->beg = f->scan = f->end;
            f->lineno++;
            return 1;
        }
        if (fill(f, e)) return -1;
    }
}

ssize_t in_read(InFile *f, void *dst, size_t n, Err *e)
{
    size_t have = f->end - f->beg;
    if (have == 0 && !f->eof) {
        f->beg = f->end = f->scan = 0;
        if (fill(f, e)) return -1;
        have = f->end;
    }
    if (n > have) n = have;
    memcpy(dst, f->buf + f->beg, n);
    f->beg += n;
    if (f->scan < f->beg) f->scan = f->beg;
    f->bytes += n;
    return (ssize_t)n;
}

int in_slurp(InFile *f, Buf *out, Err *e)
{
    for (;;) {
        if (buf_reserve(out, IO_CHUNK)) return err_set(e, "%s: out of memory", err_name(f->path));
        ssize_t got = in_read(f, out->data + out->len, out->cap - out->len, e);
        if (got < 0) return -1;
        if (got == 0) return 0;
        out->len += (size_t)got;
    }
}

/* ---- output ---- */

struct OutFile {
    const char *path; /* NULL: stdout */
    char *tmp;
    int fd;
    gzFile gz;
    char *buf;
    size_t len;
    int slot;
};

/* Temporary names of open outputs, for the signal handler. Plain pointers in a
 * fixed table: the handler may only read them and call unlink(). A program
 * with more outputs open at once than this loses the cleanup for the rest
 * (their temporary files stay behind after a signal; errors still remove them). */
#define MAX_OPEN_OUT 1024
static char *volatile open_tmp[MAX_OPEN_OUT];

static void on_signal(int sig)
{
    for (int i = 0; i < MAX_OPEN_OUT; i++)
        if (open_tmp[i]) unlink(open_tmp[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

void out_cleanup_on_signal(void)
{
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

OutFile *out_open(const char *path, Err *e)
{
    OutFile *o = calloc(1, sizeof *o);
    if (!o || !(o->buf = malloc(IO_CHUNK))) {
        free(o);
        err_set(e, "out of memory");
        return NULL;
    }
    o->slot = -1;
    if (!path || !strcmp(path, "-")) {
        o->fd = 1;
        return o;
    }
    o->path = path;
    size_t n = strlen(path) + 32;
    o->tmp = malloc(n);
    if (!o->tmp) {
        free(o->buf);
        free(o);
        err_set(e, "out of memory");
        return NULL;
    }
    snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o->fd < 0) {
        err_sys(e, path, "cannot create");
        free(o->tmp);
        free(o->buf);
        free(o);
        return NULL;
    }
    for (int i = 0; i < MAX_OPEN_OUT; i++)
        if (!open_tmp[i]) {
            open_tmp[i] = o->tmp;
            o->slot = i;
            break;
        }
    if (ends_with(path, ".gz")) {
        int fd2 = dup(o->fd);
        if (fd2 < 0 || !(o->gz = gzdopen(fd2, "wb6"))) {
            if (fd2 >= 0) close(fd2);
            err_set(e, "%s: cannot start gzip output", path);
            out_abort(o);
            return NULL;
        }
    }
    return o;
}

int out_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int flush(OutFile *o, Err *e)
{
    if (!o->len) return 0;
    if (o->gz) {
        if (gzwrite(o->gz, o->buf, (unsigned)o->len) != (int)o->len) {
            int code;
            const char *msg = gzerror(o->gz, &code);
            if (code == Z_ERRNO) return err_sys(e, o->path, "write");
            return err_set(e, "%s: gzip write failed: %s", o->path, msg);
        }
    } else if (out_write_all(o->fd, o->buf, o->len)) {
        return err_sys(e, o->path ? o->path : "<stdout>", "write");
    }
    o->len = 0;
    return 0;
}

int out_write(OutFile *o, const void *p, size_t n, Err *e)
{
    if (o->len + n > IO_CHUNK) {
        if (flush(o, e)) return -1;
        if (n > IO_CHUNK / 2) { /* large writes bypass the buffer */
            o->len = n;
            char *keep = o->buf;
            o->buf = (char *)p;
            int rc = flush(o, e);
            o->buf = keep;
            o->len = 0;
            return rc;
        }
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    return 0;
}

int out_pwrite(OutFile *o, uint64_t off_bytes, const void *p, size_t n, Err *e)
{
    if (!o->path || o->gz)
        return err_set(e, "%s: cannot rewrite a header in a pipe or a .gz file",
                       o->path ? o->path : "<stdout>");
    if (flush(o, e)) return -1;
    if (pwrite(o->fd, p, n, (off_t)off_bytes) != (ssize_t)n) return err_sys(e, o->path, "write");
    return 0;
}

static void release(OutFile *o)
{
    if (o->slot >= 0) open_tmp[o->slot] = NULL;
    free(o->tmp);
    free(o->buf);
    free(o);
}

void out_abort(OutFile *o)
{
    if (!o) return;
    if (o->gz) gzclose(o->gz);
    if (o->path) {
        close(o->fd);
        unlink(o->tmp);
    }
    release(o);
}

int out_close(OutFile *o, Err *e)
{
    if (flush(o, e)) {
        out_abort(o);
        return -1;
    }
    if (o->gz) {
        int rc = gzclose(o->gz);
        o->gz = NULL;
        if (rc != Z_OK) {
            err_set(e, "%s: gzip close failed (%d)", o->path, rc);
            out_abort(o);
            return -1;
        }
    }
    if (!o->path) {
        release(o);
        return 0;
    }
    if (fsync(o->fd) || close(o->fd)) {
        err_sys(e, o->path, "write");
        o->fd = -1;
        unlink(o->tmp);
        release(o);
        return -1;
    }
    if (rename(o->tmp, o->path)) {
        err_sys(e, o->path, "cannot rename the finished file into place");
        unlink(o->tmp);
        release(o);
        return -1;
    }
    release(o);
    return 0;
}

int out_copy_file(const char *from, const char *to, Err *e)
{
    InFile *in = in_open(from, 1 << 20, e);
    if (!in) return -1;
    Buf b = { 0 };
    int rc = in_slurp(in, &b, e);
    in_close(in);
    if (!rc) {
        OutFile *o = out_open(to, e);
        if (!o) rc = -1;
        else if (out_write(o, b.data, b.len, e)) {
            out_abort(o);
            rc = -1;
        } else rc = out_close(o, e);
    }
    buf_free(&b);
    return rc;
}
