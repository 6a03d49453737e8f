/* Buffered input (plain, or gzip through an inflate loop of our own) and
 * atomic output (temp name, fsync, rename; written in place when the target
 * is not a regular file). Line splitting is a memchr over a growing buffer; it
 * does not look inside lines. */
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

typedef enum { SRC_UNKNOWN, SRC_PLAIN, SRC_GZIP } SrcKind;

struct InFile {
    const char *path;
    int fd;
    SrcKind kind;          /* decided by the first two bytes, at the first read */
    unsigned char head[2]; /* plain: the bytes read to decide, not yet handed out */
    size_t n_head;
    /* gzip: zs.next_in/avail_in are the unread bytes of raw. zlib's gzread
     * is not used: it drops whatever follows a member silently. */
    z_stream zs;
    int zs_ready;
    int member_done;       /* a member ended: what follows must start another */
    unsigned char *raw;    /* IO_CHUNK bytes as read from fd */
    int raw_eof;
    uint64_t raw_off;      /* on-disk bytes read so far */
    char *buf;
    size_t cap, beg, end, scan; /* unread bytes are buf[beg..end); no '\n' in [beg..scan) */
    int eof;
    int long_line;         /* in_line failed on a line over max_line; in_skip_line resumes */
    size_t max_line;
    uint64_t lineno, size, bytes;
};

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
    if (!f || !buf) {
        free(f);
        free(buf);
        close(fd);
        err_set(e, "%s: out of memory", err_name(path));
        return NULL;
    }
    f->path = is_stdin ? NULL : path;
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
    if (f->zs_ready) inflateEnd(&f->zs);
    close(f->fd);
    free(f->raw);
    free(f->buf);
    free(f);
}

const char *in_path(const InFile *f) { return f->path; }
uint64_t in_size(const InFile *f) { return f->size; }
uint64_t in_lineno(const InFile *f) { return f->lineno; }
uint64_t in_bytes(const InFile *f) { return f->bytes; }
uint64_t in_consumed(const InFile *f) { return f->raw_off; }

/* read(2) retrying on EINTR: the count, 0 at the end, -1 with e set. */
static ssize_t read_some(InFile *f, void *dst, size_t n, Err *e)
{
    for (;;) {
        ssize_t k = read(f->fd, dst, n);
        if (k >= 0) {
            f->raw_off += (uint64_t)k;
            return k;
        }
        if (errno != EINTR) return err_sys(e, f->path, "read");
    }
}

/* gzip's magic number 1f 8b starts a compressed input; anything else
 * (fewer than two bytes included) is plain and passed through. */
static int detect(InFile *f, Err *e)
{
    while (f->n_head < 2) {
        ssize_t k = read_some(f, f->head + f->n_head, 2 - f->n_head, e);
        if (k < 0) return -1;
        if (k == 0) break;
        f->n_head += (size_t)k;
    }
    if (f->n_head < 2 || f->head[0] != 0x1f || f->head[1] != 0x8b) {
        f->kind = SRC_PLAIN;
        return 0;
    }
    if (!(f->raw = malloc(IO_CHUNK)) || inflateInit2(&f->zs, 16 + MAX_WBITS) != Z_OK)
        return err_set(e, "%s: out of memory", err_name(f->path));
    f->zs_ready = 1;
    memcpy(f->raw, f->head, 2);
    f->zs.next_in = f->raw;
    f->zs.avail_in = 2;
    f->n_head = 0;
    f->kind = SRC_GZIP;
    return 0;
}

/* Move the unread compressed bytes to the front of raw and read more after them. */
static int raw_fill(InFile *f, Err *e)
{
    z_stream *z = &f->zs;
    memmove(f->raw, z->next_in, z->avail_in);
    z->next_in = f->raw;
    ssize_t k = read_some(f, f->raw + z->avail_in, IO_CHUNK - z->avail_in, e);
    if (k < 0) return -1;
    if (k == 0) f->raw_eof = 1;
    z->avail_in += (uInt)k;
    return 0;
}

/* Inflate into dst until it is full or the input ends. Members may follow
 * one another (`cat a.gz b.gz`); anything else after a member is an error,
 * at its offset in the file. */
static ssize_t gz_read(InFile *f, char *dst, size_t want, Err *e)
{
    z_stream *z = &f->zs;
    z->next_out = (Bytef *)dst;
    z->avail_out = (uInt)want;
    while (z->avail_out) {
        if (!f->raw_eof && (!z->avail_in || (f->member_done && z->avail_in < 2))) {
            if (raw_fill(f, e)) return -1;
            continue;
        }
        if (f->member_done) {
            if (!z->avail_in) break; /* the last member ended with the file */
            if (z->avail_in < 2 || z->next_in[0] != 0x1f || z->next_in[1] != 0x8b)
                return err_off(e, f->path, f->raw_off - z->avail_in,
                               "data after the end of a gzip member");
            inflateReset(z);
            f->member_done = 0;
        }
        if (!z->avail_in)
            return err_off(e, f->path, f->raw_off, "bad gzip data: truncated (unexpected end of file)");
        int rc = inflate(z, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) f->member_done = 1;
        else if (rc == Z_MEM_ERROR) return err_set(e, "%s: out of memory", err_name(f->path));
        /* Z_BUF_ERROR means no progress, impossible with input and room left. */
        else if (rc != Z_OK)
            return err_off(e, f->path, f->raw_off - z->avail_in, "bad gzip data: %s",
                           z->msg ? z->msg : "inflate failed");
    }
    return (ssize_t)(want - z->avail_out);
}

/* Up to want (<= 1 GiB) uncompressed bytes: the count, 0 at the end, -1 on error. */
static ssize_t src_read(InFile *f, char *dst, size_t want, Err *e)
{
    if (f->kind == SRC_UNKNOWN && detect(f, e)) return -1;
    if (f->kind == SRC_GZIP) return gz_read(f, dst, want, e);
    if (f->n_head) {
        size_t k = f->n_head < want ? f->n_head : want;
        memcpy(dst, f->head, k);
        memmove(f->head, f->head + k, f->n_head - k);
        f->n_head -= k;
        return (ssize_t)k;
    }
    return read_some(f, dst, want, e);
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
        if (f->cap >= f->max_line + 1) {
            f->long_line = 1;
            return err_at(e, f->path, f->lineno + 1, "line is longer than the limit of %zu bytes",
                          f->max_line);
        }
        size_t cap = f->cap * 2;
        char *p = realloc(f->buf, cap);
        if (!p) return err_at(e, f->path, f->lineno + 1, "out of memory for a %zu-byte line", cap);
        f->buf = p;
        f->cap = cap;
        buf_advise_huge(p, cap);
    }
    size_t want = f->cap - f->end;
    if (want > (1u << 30)) want = 1u << 30;
    ssize_t got = src_read(f, f->buf + f->end, want, e);
    if (got < 0) return -1;
    if (got == 0) f->eof = 1;
    f->end += (size_t)got;
    return 0;
}

int in_line(InFile *f, const char **line, size_t *len, Err *e)
{
    for (;;) {
        char *nl = memchr(f->buf + f->scan, '\n', f->end - f->scan);
        if (nl) {
            size_t n = (size_t)(nl - (f->buf + f->beg));
            if (n > f->max_line) {
                f->long_line = 1;
                return err_at(e, f->path, f->lineno + 1, "line is %zu bytes, limit %zu", n,
                              f->max_line);
            }
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

int in_long_line(const InFile *f) { return f->long_line; }

int in_skip_line(InFile *f, OutFile *copy, Err *e)
{
    if (!f->long_line) return err_set(e, "internal error: in_skip_line without a long line");
    f->long_line = 0;
    /* The line is never held whole: each buffer of it is copied and dropped. */
    for (;;) {
        char *nl = memchr(f->buf + f->scan, '\n', f->end - f->scan);
        size_t n = (size_t)((nl ? nl : f->buf + f->end) - (f->buf + f->beg));
        if (copy && n && out_write(copy, f->buf + f->beg, n, e)) return -1;
        f->bytes += n;
        f->beg = f->scan = f->beg + n;
        if (nl) {
            f->beg = f->scan = f->beg + 1;
            f->bytes++;
            f->lineno++;
            return 0;
        }
        if (f->eof) {
            f->lineno++;
            return 0;
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
    const char *path; /* as given; NULL: stdout */
    char *tmp;        /* the temporary file renamed onto target; NULL: written in place */
    char *target;     /* path, or the regular file a symbolic link at path names */
    int fd;
    int own_fd;       /* fd is ours to close (not stdout's own) */
    int regular;      /* fd is a regular file we created: out_pwrite may seek in it */
    z_stream zs;      /* .gz output: deflate into zbuf, then write(2) */
    int gz;
    unsigned char *zbuf;
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
    /* Past `ulimit -f`, SIGXFSZ would kill the program silently and leave its
     * temporary files; ignored, the write fails with EFBIG instead and takes
     * the usual error path: a message, the temporary removed, exit 1. */
    signal(SIGXFSZ, SIG_IGN);
}

int out_cleanup_add(const char *path)
{
    for (int i = 0; i < MAX_OPEN_OUT; i++)
        if (!open_tmp[i]) {
            open_tmp[i] = (char *)path;
            return i;
        }
    return -1;
}

void out_cleanup_drop(int slot)
{
    if (slot >= 0 && slot < MAX_OPEN_OUT) open_tmp[slot] = NULL;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* The descriptor N that /dev/stdout, /dev/stderr, /dev/stdin, /dev/fd/N or
 * /proc/self/fd/N names, or -1. */
static int fd_name(const char *p)
{
    if (!strcmp(p, "/dev/stdin")) return 0;
    if (!strcmp(p, "/dev/stdout")) return 1;
    if (!strcmp(p, "/dev/stderr")) return 2;
    const char *d = !strncmp(p, "/dev/fd/", 8) ? p + 8 : !strncmp(p, "/proc/self/fd/", 14) ? p + 14 : NULL;
    if (!d || !*d || strlen(d) > 9) return -1;
    for (const char *c = d; *c; c++)
        if (*c < '0' || *c > '9') return -1;
    return atoi(d);
}

/* Where output to path goes: *fd_n >= 0 for a descriptor's name; else the
 * path to write (caller frees), *exists and *st saying what is there now.
 * Symbolic links are followed one at a time, not with realpath(): a link to
 * /dev/stdout must be seen as the descriptor, not resolved (through /proc) to
 * the file behind it, which would then be replaced. NULL on error. */
static char *resolve_out(const char *path, int *fd_n, int *exists, struct stat *st, Err *e)
{
    char *p = strdup(path);
    for (int hops = 0; p; hops++) {
        *exists = 0;
        if ((*fd_n = fd_name(p)) >= 0) return p;
        if (lstat(p, st)) return p; /* missing: created here (other errors: open says) */
        *exists = 1;
        if (!S_ISLNK(st->st_mode)) return p;
        char link[4096];
        ssize_t k = -1;
        if (hops == 40) errno = ELOOP;
        else k = readlink(p, link, sizeof link - 1);
        if (k < 0) {
            err_sys(e, path, "cannot create");
            free(p);
            return NULL;
        }
        link[k] = 0;
        /* A relative target is relative to the link's folder. */
        const char *slash = strrchr(p, '/');
        size_t dir = link[0] == '/' || !slash ? 0 : (size_t)(slash - p) + 1;
        char *q = malloc(dir + (size_t)k + 1);
        if (q) {
            memcpy(q, p, dir);
            memcpy(q + dir, link, (size_t)k + 1);
        }
        free(p);
        p = q;
    }
    err_set(e, "out of memory");
    return NULL;
}

/* 1 when the file at tmp is the temporary of another output this process
 * has open (slot `self` aside; under whatever name), 0 when it is someone
 * else's, e.g. left by a killed run whose process id was ours. */
static int is_open_tmp(const char *tmp, int self)
{
    struct stat a, b;
    if (stat(tmp, &a)) return 0;
    for (int i = 0; i < MAX_OPEN_OUT; i++)
        if (i != self && open_tmp[i] && !stat(open_tmp[i], &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            return 1;
    return 0;
}

static void release(OutFile *o)
{
    if (o->slot >= 0) open_tmp[o->slot] = NULL;
    if (o->gz) deflateEnd(&o->zs);
    free(o->tmp);
    free(o->target);
    free(o->zbuf);
    free(o->buf);
    free(o);
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
    o->fd = -1;
    if (!path || !strcmp(path, "-")) {
        o->fd = 1;
        return o;
    }
    o->path = path;
    int fd_n, exists;
    struct stat st;
    if (!(o->target = resolve_out(path, &fd_n, &exists, &st, e))) {
        release(o);
        return NULL;
    }
    if (fd_n >= 0) {
        /* dup, not open: the copy shares the descriptor's offset and
         * O_APPEND, so `-o /dev/stdout >> log` appends as the shell set up. */
        if ((o->fd = dup(fd_n)) < 0) {
            err_sys(e, path, "cannot write");
            release(o);
            return NULL;
        }
        o->own_fd = 1;
    } else if (exists && !S_ISREG(st.st_mode)) {
        /* A device or a FIFO is written in place: renaming a file onto it
         * would replace /dev/null, as root, with a regular file. */
        if ((o->fd = open(o->target, O_WRONLY)) < 0) {
            err_sys(e, path, "cannot open");
            release(o);
            return NULL;
        }
        o->own_fd = 1;
    } else {
        size_t n = strlen(o->target) + 32;
        if (!(o->tmp = malloc(n))) {
            err_set(e, "out of memory");
            release(o);
            return NULL;
        }
        snprintf(o->tmp, n, "%s.tmp.%ld", o->target, (long)getpid());
        /* Known to the signal handler before it exists: a signal between the
         * open and this would leave it behind. */
        o->slot = out_cleanup_add(o->tmp);
        /* O_EXCL: a temporary of ours already there means that this run
         * writes one file under two names (-o X --rejects ./X); renamed one
         * after the other, the second would fail late and leave the first. */
        int same = 0;
        if ((o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL, 0644)) < 0 && errno == EEXIST &&
            !(same = is_open_tmp(o->tmp, o->slot)))
            o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644); /* a dead process's */
        if (o->fd < 0) {
            if (same)
                err_set(e, "%s: the same file as another output of this run (each needs its own)", path);
            else err_sys(e, path, "cannot create");
            release(o);
            return NULL;
        }
        o->own_fd = o->regular = 1;
    }
    if (ends_with(path, ".gz")) {
        /* Level 6 and a gzip wrapper, as gzopen(path, "wb6") wrote. */
        if (!(o->zbuf = malloc(IO_CHUNK)) ||
            deflateInit2(&o->zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            err_set(e, "%s: cannot start gzip output: out of memory", path);
            out_abort(o);
            return NULL;
        }
        o->gz = 1;
    }
    return o;
}

int out_check(const char *path, Err *e)
{
    if (!path || !strcmp(path, "-")) return 0;
    int fd_n, exists;
    struct stat st;
    char *target = resolve_out(path, &fd_n, &exists, &st, e);
    if (!target) return -1;
    int rc = 0;
    if (fd_n < 0 && exists && S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        rc = err_sys(e, path, "cannot open");
    } else if (fd_n < 0 && (!exists || S_ISREG(st.st_mode))) {
        /* the temporary file goes next to the target: its folder must take it */
        char *slash = strrchr(target, '/');
        if (slash) *(slash == target ? slash + 1 : slash) = 0;
        if (access(slash ? target : ".", W_OK | X_OK)) rc = err_sys(e, path, "cannot create");
    }
    free(target);
    return rc;
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

static const char *out_name(const OutFile *o) { return o->path ? o->path : "<stdout>"; }

/* Compress n bytes at p (finish: and end the gzip member) and write what
 * deflate gives back. */
static int deflate_out(OutFile *o, const char *p, size_t n, int finish, Err *e)
{
    z_stream *z = &o->zs;
    do {
        size_t take = n < (1u << 30) ? n : 1u << 30;
        z->next_in = (Bytef *)p;
        z->avail_in = (uInt)take;
        p += take;
        n -= take;
        int flush = finish && !n ? Z_FINISH : Z_NO_FLUSH, rc;
        do {
            z->next_out = o->zbuf;
            z->avail_out = IO_CHUNK;
            rc = deflate(z, flush);
            if (rc == Z_STREAM_ERROR) return err_set(e, "%s: gzip output failed", out_name(o));
            size_t have = IO_CHUNK - z->avail_out;
            if (have && out_write_all(o->fd, o->zbuf, have)) return err_sys(e, out_name(o), "write");
        } while (z->avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    } while (n);
    return 0;
}

static int flush(OutFile *o, Err *e)
{
    if (!o->len) return 0;
    if (o->gz) {
        if (deflate_out(o, o->buf, o->len, 0, e)) return -1;
    } else if (out_write_all(o->fd, o->buf, o->len)) {
        return err_sys(e, out_name(o), "write");
    }
    o->len = 0;
    return 0;
}

int out_write(OutFile *o, const void *p, size_t n, Err *e)
{
    if (!n) return 0; /* p may be NULL then (an empty Buf), which memcpy must not get */
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
    if (!o->regular || o->gz)
        return err_set(e, "%s: cannot rewrite a header in a pipe, a device or a .gz file",
                       out_name(o));
    if (flush(o, e)) return -1;
    if (pwrite(o->fd, p, n, (off_t)off_bytes) != (ssize_t)n) return err_sys(e, o->path, "write");
    return 0;
}

void out_abort(OutFile *o)
{
    if (!o) return;
    if (o->own_fd && o->fd >= 0) close(o->fd);
    if (o->tmp) unlink(o->tmp);
    release(o);
}

int out_close(OutFile *o, Err *e)
{
    if (flush(o, e) || (o->gz && deflate_out(o, NULL, 0, 1, e))) {
        out_abort(o);
        return -1;
    }
    if (!o->own_fd) { /* stdout: the caller's to close */
        release(o);
        return 0;
    }
    /* fsync only what is renamed into place: a device or a pipe may refuse it. */
    int fd = o->fd, bad = o->tmp && fsync(fd);
    o->fd = -1;
    if (close(fd)) bad = 1;
    if (bad) {
        err_sys(e, out_name(o), "write");
        out_abort(o);
        return -1;
    }
    if (o->tmp && rename(o->tmp, o->target)) {
        err_sys(e, out_name(o), "cannot rename the finished file into place");
        out_abort(o);
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
