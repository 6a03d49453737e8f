/* Checkpoint writer and reader (ckpt.h). The reader trusts nothing: magic,
 * version, a size that matches the header, and the checksum, each failing with
 * the file name and offset. It does not interpret the JSON: rundir.c does. */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "iofile.h"

#define ALIGN 64

static uint64_t body_offset(size_t json_len)
{
    return ((uint64_t)CKPT_HEAD_BYTES + json_len + ALIGN - 1) / ALIGN * ALIGN;
}

static int put(OutFile *o, XXH3_state_t *h, const void *p, size_t n, Err *e)
{
    XXH3_64bits_update(h, p, n);
    return out_write(o, p, n, e);
}

int ckpt_write(const char *path, const char *json, const float *params, const float *m,
               const float *v, size_t n_params, Err *e)
{
    XXH3_state_t *h = XXH3_createState();
    if (!h) return err_set(e, "out of memory");
    XXH3_64bits_reset(h);
    OutFile *o = out_open(path, e);
    if (!o) {
        XXH3_freeState(h);
        return -1;
    }
    size_t json_len = strlen(json);
    unsigned char head[CKPT_HEAD_BYTES] = { 0 };
    memcpy(head, CKPT_MAGIC, 8);
    uint32_t version = CKPT_VERSION, jl = (uint32_t)json_len;
    uint64_t np = n_params;
    memcpy(head + 8, &version, 4);
    memcpy(head + 12, &jl, 4);
    memcpy(head + 16, &np, 8);
    static const char zeros[ALIGN];
    size_t bytes = n_params * sizeof(float);
    int rc = put(o, h, head, CKPT_HEAD_BYTES, e) || put(o, h, json, json_len, e) ||
             put(o, h, zeros, body_offset(json_len) - CKPT_HEAD_BYTES - json_len, e) ||
             put(o, h, params, bytes, e);
    const char *hook = getenv("GPTKIT_TEST_CKPT_PAUSE");
    if (!rc && hook && *hook && strstr(path, hook)) {
        fprintf(stderr, "model: test hook: paused writing %s\n", path);
        sleep(60);
    }
    if (!rc) rc = put(o, h, m, bytes, e) || put(o, h, v, bytes, e);
    if (!rc) {
        uint64_t sum = XXH3_64bits_digest(h);
        rc = out_write(o, &sum, 8, e);
    }
    XXH3_freeState(h);
    if (rc) {
        out_abort(o);
        return -1;
    }
    return out_close(o, e);
}

static int read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t k = read(fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

int ckpt_open(CkptFile *c, const char *path, Err *e)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    c->fd = open(path, O_RDONLY);
    if (c->fd < 0) return err_sys(e, path, "cannot open the checkpoint");
    struct stat st;
    unsigned char head[CKPT_HEAD_BYTES];
    if (fstat(c->fd, &st)) {
        err_sys(e, path, "cannot stat");
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) { /* a folder's st_size would pass for a short file */
        err_set(e, "%s: %s, not a checkpoint", path,
                S_ISDIR(st.st_mode) ? "a folder" : "not a regular file");
        goto fail;
    }
    if ((uint64_t)st.st_size < CKPT_HEAD_BYTES || read_all(c->fd, head, CKPT_HEAD_BYTES)) {
        err_off(e, path, 0, "%lld bytes, too short for a checkpoint header", (long long)st.st_size);
        goto fail;
    }
    if (memcmp(head, CKPT_MAGIC, 8)) {
        err_off(e, path, 0, "not a gptkit checkpoint (no \"%s\" magic)", CKPT_MAGIC);
        goto fail;
    }
    uint32_t version, jl;
    uint64_t np;
    memcpy(&version, head + 8, 4);
    memcpy(&jl, head + 12, 4);
    memcpy(&np, head + 16, 8);
    if (version != CKPT_VERSION) {
        err_off(e, path, 8, "checkpoint version %u, this build reads version %u", version, CKPT_VERSION);
        goto fail;
    }
    c->body_off = body_offset(jl);
    uint64_t want = c->body_off + 3 * np * sizeof(float) + 8;
    if (np == 0 || np > ((uint64_t)1 << 40) || (uint64_t)st.st_size != want) {
        err_off(e, path, 16,
                "header says %llu parameters (%llu bytes in all) but the file has %lld bytes: "
                "truncated or corrupt",
                (unsigned long long)np, (unsigned long long)want, (long long)st.st_size);
        goto fail;
    }
    c->n_params = (size_t)np;
    if (!(c->json = malloc((size_t)jl + 1))) {
        err_set(e, "out of memory");
        goto fail;
    }
    if (read_all(c->fd, c->json, jl)) {
        err_sys(e, path, "read");
        goto fail;
    }
    c->json[jl] = 0;
    return 0;
fail:
    ckpt_close(c);
    return -1;
}

int ckpt_read(CkptFile *c, float *params, float *m, float *v, Err *e)
{
    XXH3_state_t *h = XXH3_createState();
    if (!h) return err_set(e, "out of memory");
    XXH3_64bits_reset(h);
    size_t bytes = c->n_params * sizeof(float), pre = (size_t)c->body_off;
    char *head = malloc(pre);
    int rc = 0;
    uint64_t sum = 0;
    if (!head) rc = err_set(e, "out of memory");
    else if (pread(c->fd, head, pre, 0) != (ssize_t)pre || lseek(c->fd, (off_t)pre, SEEK_SET) < 0)
        rc = err_sys(e, c->path, "read");
    if (!rc) {
        XXH3_64bits_update(h, head, pre);
        float *arr[3] = { params, m, v };
        for (int i = 0; i < 3 && !rc; i++) {
            if (arr[i]) {
                if (read_all(c->fd, arr[i], bytes)) rc = err_sys(e, c->path, "read");
                else XXH3_64bits_update(h, arr[i], bytes);
                continue;
            }
            /* not wanted (a model that only infers): read through for the checksum */
            char chunk[1 << 16];
            for (size_t left = bytes; left && !rc; left -= left < sizeof chunk ? left : sizeof chunk) {
                size_t n = left < sizeof chunk ? left : sizeof chunk;
                if (read_all(c->fd, chunk, n)) rc = err_sys(e, c->path, "read");
                else XXH3_64bits_update(h, chunk, n);
            }
        }
        if (!rc && read_all(c->fd, &sum, 8)) rc = err_sys(e, c->path, "read");
    }
    if (!rc && sum != XXH3_64bits_digest(h))
        rc = err_off(e, c->path, c->body_off + 3 * (uint64_t)bytes,
                     "checksum does not match the contents: the checkpoint is corrupt");
    free(head);
    XXH3_freeState(h);
    return rc;
}

void ckpt_close(CkptFile *c)
{
    if (c->fd > 0) close(c->fd);
    free(c->json);
    c->json = NULL;
    c->fd = -1;
}
