/* Token streams and llm.c shards. Both are little-endian; so is every machine
 * we build for (checked below), so ids are copied, not byte-swapped. */
#include "tokfile.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iofile.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "token files are little-endian; this code assumes a little-endian host"
#endif

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }

struct TokReader {
    InFile *in;
    const char *path;
    TokHeader h;
    uint64_t off; /* bytes of the stream consumed */
    unsigned char *raw;
    size_t raw_len, raw_pos, raw_cap;
    uint32_t *ids;
    size_t cap;
};

TokReader *tokr_open(const char *path, Err *e)
{
    TokReader *r = calloc(1, sizeof *r);
    if (!r) {
        err_set(e, "out of memory");
        return NULL;
    }
    r->path = (path && strcmp(path, "-")) ? path : NULL;
    r->raw_cap = 1u << 18;
    if (!(r->raw = malloc(r->raw_cap))) {
        err_set(e, "out of memory");
        goto fail;
    }
    if (!(r->in = in_open(path, 1, e))) goto fail;
    unsigned char h[TOK_HEADER_BYTES];
    size_t got = 0;
    while (got < sizeof h) {
        ssize_t k = in_read(r->in, h + got, sizeof h - got, e);
        if (k < 0) goto fail;
        if (k == 0) break;
        got += (size_t)k;
    }
    if (got == 0) {
        err_set(e, "%s: empty input, expected a token stream (from bpe encode)", err_name(path));
        goto fail;
    }
    if (got < sizeof h || memcmp(h, TOK_MAGIC, 8)) {
        err_off(e, path, 0, "not a token stream (bad magic; expected one written by bpe encode)");
        goto fail;
    }
    r->h.version = get_u32(h + 8);
    r->h.width = get_u32(h + 12);
    r->h.vocab_size = get_u32(h + 16);
    r->h.eot_id = get_u32(h + 20);
    if (r->h.version < TOK_VERSION_OLDEST || r->h.version > TOK_VERSION) {
        err_off(e, path, 8, "token stream version %u, this build reads versions %u to %u",
                r->h.version, TOK_VERSION_OLDEST, TOK_VERSION);
        goto fail;
    }
    /* Version 1 kept these 8 bytes reserved (zero): no fingerprint. */
    if (r->h.version >= 2) memcpy(&r->h.fingerprint, h + 24, 8);
    if (r->h.width != 2 && r->h.width != 4) {
        err_off(e, path, 12, "token width %u bytes, expected 2 or 4", r->h.width);
        goto fail;
    }
    if (r->h.vocab_size == 0 || (r->h.width == 2 && r->h.vocab_size > 65536)) {
        err_off(e, path, 16, "vocabulary size %u does not fit %u-byte ids", r->h.vocab_size,
                r->h.width);
        goto fail;
    }
    if (r->h.eot_id >= r->h.vocab_size) {
        err_off(e, path, 20, "end-of-text id %u is outside the vocabulary of %u", r->h.eot_id,
                r->h.vocab_size);
        goto fail;
    }
    r->off = TOK_HEADER_BYTES;
    return r;
fail:
    tokr_close(r);
    return NULL;
}

const TokHeader *tokr_header(const TokReader *r) { return &r->h; }
uint64_t tokr_consumed(const TokReader *r) { return in_consumed(r->in); }

void tokr_close(TokReader *r)
{
    if (!r) return;
    in_close(r->in);
    free(r->raw);
    free(r->ids);
    free(r);
}

/* Refill raw[] keeping any partial id at its front. 0 ok (raw_len may stay
 * below a full id at the end), -1 error. */
static int refill(TokReader *r, Err *e)
{
    size_t keep = r->raw_len - r->raw_pos;
    memmove(r->raw, r->raw + r->raw_pos, keep);
    r->raw_len = keep;
    r->raw_pos = 0;
    ssize_t k = in_read(r->in, r->raw + keep, r->raw_cap - keep, e);
    if (k < 0) return -1;
    r->raw_len += (size_t)k;
    return 0;
}

/* Make room for `more` ids after `count` in r->ids. */
static int grow_ids(TokReader *r, size_t count, size_t more, Err *e)
{
    if (r->cap - count >= more) return 0;
    size_t cap = r->cap ? r->cap : 4096;
    while (cap - count < more) cap *= 2;
    uint32_t *p = realloc(r->ids, cap * sizeof *p);
    if (!p) return err_set(e, "out of memory for a document of %zu tokens", count + more);
    r->ids = p;
    r->cap = cap;
    return 0;
}

/* 1 when the document that failed at raw_pos, ids[0..count) so far, starts
 * with TOK_MAGIC: another stream's header read as ids. Only the message of an
 * error depends on it, so a real document that happens to start with those
 * bytes is never refused for it. */
static int at_magic(const TokReader *r, size_t count)
{
    unsigned char b[8];
    size_t n = 0, w = r->h.width;
    for (size_t i = 0; i < count && n < sizeof b; i++, n += w) memcpy(b + n, &r->ids[i], w);
    size_t more = sizeof b - n < r->raw_len - r->raw_pos ? sizeof b - n : r->raw_len - r->raw_pos;
    memcpy(b + n, r->raw + r->raw_pos, more);
    return n + more == sizeof b && !memcmp(b, TOK_MAGIC, sizeof b);
}

/* Copies whole ids out of raw[] in bulk, stopping after an end-of-text: the
 * per-id work is one compare for the end and one for the vocabulary (the
 * packer's bench, bench/packer, reads at disk speed through this loop). */
int tokr_doc(TokReader *r, const uint32_t **ids, size_t *n, Err *e)
{
    size_t count = 0;
    const uint32_t w = r->h.width, vocab = r->h.vocab_size, eot = r->h.eot_id;
    for (;;) {
        size_t avail = (r->raw_len - r->raw_pos) / w;
        if (avail == 0) {
            size_t before = r->raw_len - r->raw_pos;
            if (refill(r, e)) return -1;
            if (r->raw_len - r->raw_pos == before) { /* end of input */
                if (before)
                    return err_off(e, r->path, r->off,
                                   "truncated token stream: %zu stray bytes at the end", before);
                if (count)
                    return err_off(e, r->path, r->off,
                                   "truncated token stream: the last document (%zu tokens) has "
                                   "no end-of-text",
                                   count);
                return 0;
            }
            continue;
        }
        if (grow_ids(r, count, avail, e)) return -1;
        const unsigned char *p = r->raw + r->raw_pos;
        uint32_t *out = r->ids + count;
        size_t k = 0;
        int at_eot = 0;
        if (w == 2) {
            for (; k < avail; k++) {
                uint16_t v;
                memcpy(&v, p + 2 * k, 2);
                if (v == eot) { at_eot = 1; break; }
                if (v >= vocab) break;
                out[k] = v;
            }
        } else {
            for (; k < avail; k++) {
                uint32_t v = get_u32(p + 4 * k);
                if (v == eot) { at_eot = 1; break; }
                if (v >= vocab) break;
                out[k] = v;
            }
        }
        count += k;
        r->raw_pos += k * w;
        r->off += k * w;
        if (at_eot) {
            r->raw_pos += w;
            r->off += w;
            *ids = r->ids;
            *n = count;
            return 1;
        }
        if (k < avail) {
            uint32_t bad = w == 2 ? (uint32_t)(p[2 * k] | (p[2 * k + 1] << 8)) : get_u32(p + 4 * k);
            if (at_magic(r, count))
                return err_off(e, r->path, r->off - count * w,
                               "a second token stream header (streams joined with cat?): give each "
                               "stream as an input of its own");
            return err_off(e, r->path, r->off, "token id %u is outside the vocabulary of %u", bad,
                           vocab);
        }
    }
}

struct TokWriter {
    OutFile *out;
    TokHeader h;
    Buf buf; /* tokw_doc's bytes */
};

TokWriter *tokw_open(const char *path, uint32_t vocab_size, uint32_t eot_id, uint64_t fingerprint,
                     Err *e)
{
    if (vocab_size == 0 || eot_id >= vocab_size) {
        err_set(e, "end-of-text id %u is outside the vocabulary of %u", eot_id, vocab_size);
        return NULL;
    }
    TokWriter *w = calloc(1, sizeof *w);
    if (!w) {
        err_set(e, "out of memory");
        return NULL;
    }
    w->h = (TokHeader){ TOK_VERSION, vocab_size <= 65536 ? 2 : 4, vocab_size, eot_id, fingerprint };
    if (!(w->out = out_open(path, e))) {
        free(w);
        return NULL;
    }
    unsigned char h[TOK_HEADER_BYTES] = { 0 };
    memcpy(h, TOK_MAGIC, 8);
    put_u32(h + 8, w->h.version);
    put_u32(h + 12, w->h.width);
    put_u32(h + 16, w->h.vocab_size);
    put_u32(h + 20, w->h.eot_id);
    memcpy(h + 24, &w->h.fingerprint, 8);
    if (out_write(w->out, h, sizeof h, e)) {
        tokw_abort(w);
        return NULL;
    }
    return w;
}

int tokw_format(const TokWriter *w, const uint32_t *ids, size_t n, Buf *out, Err *e)
{
    size_t need = (n + 1) * w->h.width;
    if (buf_reserve(out, need)) return err_set(e, "out of memory");
    unsigned char *p = (unsigned char *)out->data + out->len;
    for (size_t i = 0; i <= n; i++) {
        uint32_t id = i < n ? ids[i] : w->h.eot_id;
        if (id >= w->h.vocab_size)
            return err_set(e, "token id %u is outside the vocabulary of %u", id, w->h.vocab_size);
        if (i < n && id == w->h.eot_id)
            return err_set(e, "end-of-text inside a document (id %u at token %zu): it would "
                              "split the document in two", id, i);
        if (w->h.width == 2) {
            uint16_t v = (uint16_t)id;
            memcpy(p + 2 * i, &v, 2);
        } else {
            put_u32(p + 4 * i, id);
        }
    }
    out->len += need;
    return 0;
}

int tokw_raw(TokWriter *w, const void *p, size_t n, Err *e) { return out_write(w->out, p, n, e); }

int tokw_doc(TokWriter *w, const uint32_t *ids, size_t n, Err *e)
{
    w->buf.len = 0;
    if (tokw_format(w, ids, n, &w->buf, e)) return -1;
    return out_write(w->out, w->buf.data, w->buf.len, e);
}

int tokw_close(TokWriter *w, Err *e)
{
    int rc = out_close(w->out, e);
    buf_free(&w->buf);
    free(w);
    return rc;
}

void tokw_abort(TokWriter *w)
{
    if (!w) return;
    out_abort(w->out);
    buf_free(&w->buf);
    free(w);
}

/* ---- llm.c shards ---- */

int bin_open(BinFile *b, const char *path, Err *e)
{
    memset(b, 0, sizeof *b);
    b->path = path;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return err_sys(e, path, "cannot open");
    struct stat st;
    if (fstat(fd, &st)) {
        close(fd);
        return err_sys(e, path, "cannot stat");
    }
    size_t size = (size_t)st.st_size;
    if (size < BIN_HEADER_BYTES) {
        close(fd);
        return err_off(e, path, 0, "%zu bytes, too short for the 1024-byte llm.c header", size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return err_sys(e, path, "cannot map");
    const unsigned char *h = map;
    uint32_t magic = get_u32(h), version = get_u32(h + 4);
    int rc = 0;
    if (magic == BIN_MAGIC_U16 && version == BIN_VERSION_U16) b->width = 2;
    else if (magic == BIN_MAGIC_U32 && version == BIN_VERSION_U32) b->width = 4;
    else if (magic == BIN_MAGIC_U16 || magic == BIN_MAGIC_U32)
        rc = err_off(e, path, 4, "llm.c shard version %u does not go with magic %u", version, magic);
    else
        rc = err_off(e, path, 0, "not an llm.c token shard (magic %u, expected %u or %u)", magic,
                     BIN_MAGIC_U16, BIN_MAGIC_U32);
    if (!rc) {
        int32_t count;
        memcpy(&count, h + 8, 4);
        if (count < 0)
            rc = err_off(e, path, 8, "negative token count %d", count);
        else if ((uint64_t)size != BIN_HEADER_BYTES + (uint64_t)b->width * (uint64_t)count)
            rc = err_off(e, path, 8,
                         "header says %d tokens (%llu bytes in all) but the file has %zu bytes: "
                         "truncated or not a shard",
                         count, (unsigned long long)BIN_HEADER_BYTES + (unsigned long long)b->width * (unsigned long long)count,
                         size);
        b->n_tokens = (uint64_t)count;
    }
    if (rc) {
        munmap(map, size);
        memset(b, 0, sizeof *b);
        return -1;
    }
    b->map = map;
    b->map_bytes = size;
    b->tokens = h + BIN_HEADER_BYTES;
    b->vocab_size = get_u32(h + 12);
    b->eot_id = get_u32(h + 16);
    return 0;
}

void bin_close(BinFile *b)
{
    if (b->map) munmap(b->map, b->map_bytes);
    memset(b, 0, sizeof *b);
}

struct BinWriter {
    OutFile *out;
    const char *path;
    uint32_t width, vocab_size;
    uint64_t count;
    unsigned char *buf;
    size_t cap;
};

BinWriter *binw_open(const char *path, uint32_t width, uint32_t vocab_size, uint32_t eot_id,
                     Err *e)
{
    if (width != 2 && width != 4) {
        err_set(e, "%s: token width %u, expected 2 or 4", path, width);
        return NULL;
    }
    if (width == 2 && vocab_size > 65536) {
        err_set(e, "%s: a vocabulary of %u needs 4-byte ids", path, vocab_size);
        return NULL;
    }
    BinWriter *w = calloc(1, sizeof *w);
    if (!w) {
        err_set(e, "out of memory");
        return NULL;
    }
    w->path = path;
    w->width = width;
    w->vocab_size = vocab_size;
    if (!(w->out = out_open(path, e))) {
        free(w);
        return NULL;
    }
    unsigned char h[BIN_HEADER_BYTES] = { 0 };
    put_u32(h, width == 2 ? BIN_MAGIC_U16 : BIN_MAGIC_U32);
    put_u32(h + 4, width == 2 ? BIN_VERSION_U16 : BIN_VERSION_U32);
    put_u32(h + 12, vocab_size);
    put_u32(h + 16, eot_id);
    if (out_write(w->out, h, sizeof h, e)) {
        binw_abort(w);
        return NULL;
    }
    return w;
}

int binw_write(BinWriter *w, const uint32_t *ids, size_t n, Err *e)
{
    if (w->count + n > BIN_MAX_TOKENS)
        return err_set(e, "%s: more than %u tokens in one shard (llm.c's limit)", w->path,
                       BIN_MAX_TOKENS);
    size_t need = n * w->width;
    if (need > w->cap) {
        unsigned char *p = realloc(w->buf, need);
        if (!p) return err_set(e, "out of memory");
        w->buf = p;
        w->cap = need;
    }
    for (size_t i = 0; i < n; i++) {
        if (w->vocab_size && ids[i] >= w->vocab_size)
            return err_set(e, "%s: token id %u is outside the vocabulary of %u", w->path, ids[i],
                           w->vocab_size);
        if (w->width == 2) {
            uint16_t v = (uint16_t)ids[i];
            memcpy(w->buf + 2 * i, &v, 2);
        } else {
            put_u32(w->buf + 4 * i, ids[i]);
        }
    }
    w->count += n;
    return out_write(w->out, w->buf, need, e);
}

int binw_write_raw(BinWriter *w, const void *ids, size_t n, Err *e)
{
    if (w->count + n > BIN_MAX_TOKENS)
        return err_set(e, "%s: more than %u tokens in one shard (llm.c's limit)", w->path,
                       BIN_MAX_TOKENS);
    w->count += n;
    return out_write(w->out, ids, n * w->width, e);
}

int binw_close(BinWriter *w, Err *e)
{
    unsigned char c[4];
    put_u32(c, (uint32_t)w->count);
    int rc = out_pwrite(w->out, 8, c, 4, e);
    if (rc) out_abort(w->out);
    else rc = out_close(w->out, e);
    free(w->buf);
    free(w);
    return rc;
}

void binw_abort(BinWriter *w)
{
    if (!w) return;
    out_abort(w->out);
    free(w->buf);
    free(w);
}
