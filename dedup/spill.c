/* The spill file of --verify exact: the words of each kept document, appended
 * once and read back only when a later document collides with it (rare: a
 * shared LSH band). The file is unlinked right after mkstemp, so it is gone
 * when the process ends, however it ends; its name stays only for messages.
 * Records are never split between the buffer and the disk: the buffer is
 * written out whole, so a record is read from one place or the other. */
#include "dedup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPILL_BUF ((size_t)1 << 20)

int spill_open(Spill *s, Err *e)
{
    memset(s, 0, sizeof *s);
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp || strlen(tmp) > sizeof s->path - 32) tmp = "/tmp";
    snprintf(s->path, sizeof s->path, "%s/dedup-spill-XXXXXX", tmp);
    s->fd = mkstemp(s->path);
    if (s->fd < 0) return err_sys(e, s->path, "cannot make the --verify spill file");
    s->is_open = 1;
    unlink(s->path);
    return 0;
}

static int flush(Spill *s, Err *e)
{
    const char *p = s->pend.data;
    size_t n = s->pend.len;
    while (n) {
        ssize_t k = pwrite(s->fd, p, n, (off_t)s->flushed);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = ENOSPC;
            return err_sys(e, s->path, "writing the --verify spill file (unlinked)");
        }
        p += k, n -= (size_t)k;
        s->flushed += (uint64_t)k;
    }
    s->pend.len = 0;
    return 0;
}

int spill_append(Spill *s, const void *p, size_t n, uint64_t *off_bytes, Err *e)
{
    if (s->pend.len && s->pend.len + n > SPILL_BUF && flush(s, e)) return -1;
    *off_bytes = s->flushed + s->pend.len;
    if (buf_append(&s->pend, p, n)) return err_set(e, "out of memory");
    return 0;
}

int spill_read(Spill *s, uint64_t off_bytes, size_t n, Buf *out, Err *e)
{
    out->len = 0;
    if (buf_reserve(out, n + 1)) return err_set(e, "out of memory");
    if (off_bytes >= s->flushed) { /* still in the buffer */
        memcpy(out->data, s->pend.data + (off_bytes - s->flushed), n);
        out->len = n;
        return 0;
    }
    while (out->len < n) {
        ssize_t k = pread(s->fd, out->data + out->len, n - out->len, (off_t)(off_bytes + out->len));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) return err_off(e, s->path, off_bytes, "the --verify spill file is short");
            return err_sys(e, s->path, "reading the --verify spill file (unlinked)");
        }
        out->len += (size_t)k;
    }
    return 0;
}

uint64_t spill_size(const Spill *s) { return s->flushed + s->pend.len; }

void spill_close(Spill *s)
{
    if (s->is_open) close(s->fd);
    s->is_open = 0;
    buf_free(&s->pend);
}
