/* Reading a source: one pass through tokr_doc (which checks ids, truncation
 * and the header) that records where each document starts (8 bytes a
 * document). A plain regular file is then memory-mapped and read in any order
 * in place; a pipe or a gzip file is copied as it is read, into memory while
 * the --mem budget lasts and then into an unlinked temporary file that is
 * mapped at the end; so are several streams read as one source (--concat).
 * Nothing here writes an output. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iofile.h"
#include "pack_internal.h"
#include "tokenizer.h"

#define SPILL_BUF (1u << 20)

/* Where a piped source's tokens go while it is read. */
typedef struct Sink {
    unsigned char *mem;
    size_t len, cap;
    uint64_t limit; /* bytes allowed in memory */
    int fd;         /* the spill file once memory ran out, else -1 */
    unsigned char *buf;
    size_t buf_len;
    uint64_t file_bytes;
    const char *dir, *path;
} Sink;

/* Start spilling: an unlinked file in dir, so neither a crash nor a signal
 * leaves it behind. What is in memory so far moves there. */
static int sink_spill(Sink *k, Err *e)
{
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/.packer-spill.XXXXXX", k->dir);
    k->fd = mkstemp(tmpl);
    if (k->fd < 0) return err_sys(e, tmpl, "cannot create a temporary file for piped tokens");
    unlink(tmpl);
    if (!(k->buf = malloc(SPILL_BUF))) return err_set(e, "out of memory");
    if (k->len && out_write_all(k->fd, k->mem, k->len))
        return err_sys(e, k->dir, "cannot write the temporary file for piped tokens");
    k->file_bytes = k->len;
    free(k->mem);
    k->mem = NULL;
    k->len = k->cap = 0;
    return 0;
}

static int sink_write(Sink *k, const unsigned char *p, size_t n, Err *e)
{
    if (k->fd < 0) {
        if (k->len + n <= k->cap) {
            memcpy(k->mem + k->len, p, n);
            k->len += n;
            return 0;
        }
        if (k->len + n <= k->limit) {
            size_t cap = k->cap ? k->cap * 2 : SPILL_BUF;
            if (cap > k->limit) cap = (size_t)k->limit;
            if (cap < k->len + n) cap = k->len + n;
            unsigned char *m = realloc(k->mem, cap);
            if (m) { /* out of memory: spill instead */
                k->mem = m;
                k->cap = cap;
                memcpy(k->mem + k->len, p, n);
                k->len += n;
                return 0;
            }
        }
        if (sink_spill(k, e)) return -1;
    }
    if (k->buf_len + n > SPILL_BUF) {
        if (out_write_all(k->fd, k->buf, k->buf_len))
            return err_sys(e, k->dir, "cannot write the temporary file for piped tokens");
        k->buf_len = 0;
        if (n > SPILL_BUF) {
            if (out_write_all(k->fd, p, n))
                return err_sys(e, k->dir, "cannot write the temporary file for piped tokens");
            k->file_bytes += n;
            return 0;
        }
    }
    memcpy(k->buf + k->buf_len, p, n);
    k->buf_len += n;
    k->file_bytes += n;
    return 0;
}

static void sink_free(Sink *k)
{
    free(k->mem);
    free(k->buf);
    if (k->fd >= 0) close(k->fd);
}

/* 1 when path is a regular file that is not gzip: its bytes are the stream,
 * so documents can be read back from it at their offsets. Anything else is
 * not opened here: a FIFO opened and closed loses what its writer had
 * written, and the stream's own open then waits for a writer for ever. */
static int is_plain_file(const char *path)
{
    struct stat st;
    if (!path || !strcmp(path, "-") || stat(path, &st) || !S_ISREG(st.st_mode)) return 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    unsigned char m[2] = { 0, 0 };
    int plain = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && pread(fd, m, 2, 0) == 2 &&
                !(m[0] == 0x1f && m[1] == 0x8b);
    close(fd);
    return plain;
}

static int map_file(Source *s, int fd, uint64_t off_bytes, uint64_t n_bytes, Err *e)
{
    if (n_bytes == 0) return 0;
    size_t len = (size_t)(off_bytes + n_bytes);
    /* Every page is read once in shuffled order: map them all now (the scan
     * has just brought them into the page cache) rather than fault one at a
     * time (bench/packer). */
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (m == MAP_FAILED) return err_sys(e, err_name(s->path), "cannot map");
    s->map = m;
    s->map_bytes = len;
    s->tokens = (const unsigned char *)m + off_bytes;
    return 0;
}

/* The stream's fingerprint against the other sources' and the tokenizer's. */
static int check_fingerprint(const TokHeader *h, const char *path, TokHeader *hdr, TokCheck *tc,
                             Err *e)
{
    char got[17], want[17];
    tok_fingerprint_hex(h->fingerprint, got);
    if (!h->fingerprint) {
        if (tc->path && !tc->noted) {
            Err note;
            err_set(&note, "note: %s records no tokenizer fingerprint (token stream version %u), so "
                           "%s cannot be checked against it",
                    err_name(path), h->version, tc->path);
            err_warn(&note);
            tc->noted = 1;
        }
        return 0;
    }
    if (hdr->fingerprint && h->fingerprint != hdr->fingerprint) {
        tok_fingerprint_hex(hdr->fingerprint, want);
        return err_off(e, path, 24,
                       "tokenizer fingerprint %s disagrees with %s (%s): every source must come "
                       "from the same tokenizer",
                       got, err_name(tc->fp_path), want);
    }
    if (!hdr->fingerprint) {
        hdr->fingerprint = h->fingerprint;
        tc->fp_path = path;
    }
    if (!tc->path) return 0;
    if (!tc->fp)
        return err_set(e, "%s: cannot check it against the fingerprint of %s (%s): %s", tc->path,
                       err_name(path), got, tc->load_err.msg);
    if (tc->fp != h->fingerprint) {
        tok_fingerprint_hex(tc->fp, want);
        return err_set(e, "%s has tokenizer fingerprint %s, but %s was encoded with a tokenizer of "
                          "fingerprint %s: another tokenizer (bpe info shows a tokenizer's)",
                       tc->path, want, err_name(path), got);
    }
    return 0;
}

/* The vocabulary and end-of-text of the stream at path against the first
 * source's (hdr_path NULL: this is the first, and fills *hdr). */
static int check_header(const TokHeader *h, const char *path, TokHeader *hdr, const char *hdr_path,
                        TokCheck *tc, Err *e)
{
    if (hdr_path) {
        if (h->vocab_size != hdr->vocab_size)
            return err_off(e, path, 16,
                           "vocabulary size %u disagrees with %s (%u): every source must come from "
                           "the same tokenizer",
                           h->vocab_size, err_name(hdr_path), hdr->vocab_size);
        if (h->eot_id != hdr->eot_id)
            return err_off(e, path, 20,
                           "end-of-text id %u disagrees with %s (%u): every source must come from "
                           "the same tokenizer",
                           h->eot_id, err_name(hdr_path), hdr->eot_id);
    } else {
        *hdr = *h;
        hdr->fingerprint = 0; /* check_fingerprint sets it */
    }
    return check_fingerprint(h, path, hdr, tc, e);
}

int pack_source_read(Source *s, const char *path, const char *const *more, size_t n_more,
                     TokHeader *hdr, const char *hdr_path, TokCheck *tc, SpillBudget *budget,
                     Progress *p, uint64_t *done_bytes, Err *e)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    int rc = -1;
    Sink k = { .fd = -1, .limit = budget->mem_left, .dir = budget->dir, .path = path };
    unsigned char *conv = NULL;
    size_t conv_cap = 0, off_cap = 0;
    /* Several streams are one source by being copied one after another: only
     * a single plain file can be read in place. */
    const int plain = !n_more && is_plain_file(path);
    s->store = plain ? PACK_STORE_MAPPED : PACK_STORE_MEMORY;
    uint64_t n_tok = 0;
    TokReader *r = NULL;
    for (size_t part = 0; part <= n_more; part++) {
        const char *pp = part ? more[part - 1] : path;
        if (!(r = tokr_open(pp, e))) goto out;
        const TokHeader *h = tokr_header(r);
        if (check_header(h, pp, hdr, part ? path : hdr_path, tc, e)) goto out;
        if (part && h->width != s->width) { /* the same vocabulary: cannot happen */
            err_off(e, pp, 0, "id width %u disagrees with %s (%u)", h->width, err_name(path), s->width);
            goto out;
        }
        s->width = h->width;
        for (;;) {
            const uint32_t *ids;
            size_t n;
            int got = tokr_doc(r, &ids, &n, e);
            if (got < 0) goto out;
            if (s->n_docs + 1 >= off_cap) {
                size_t cap = off_cap ? off_cap * 2 : 1024;
                uint64_t *o = realloc(s->off, cap * sizeof *o);
                if (!o) {
                    err_set(e, "%s: out of memory for %llu document offsets", err_name(pp),
                            (unsigned long long)s->n_docs);
                    goto out;
                }
                s->off = o;
                off_cap = cap;
            }
            s->off[s->n_docs] = n_tok;
            if (!got) break;
            if (s->n_docs + 1 >= (1ull << PACK_DOC_BITS)) {
                err_set(e, "%s: more than 2^%d documents", err_name(pp), PACK_DOC_BITS);
                goto out;
            }
            s->n_docs++;
            n_tok += n + 1;
            if (!plain) {
                size_t need = (n + 1) * s->width;
                if (need > conv_cap) {
                    unsigned char *c = realloc(conv, need);
                    if (!c) {
                        err_set(e, "%s: out of memory for a document of %zu tokens", err_name(pp), n);
                        goto out;
                    }
                    conv = c;
                    conv_cap = need;
                }
                if (s->width == 2) {
                    uint16_t *d = (uint16_t *)conv; /* little-endian host (tokfile.c checks) */
                    for (size_t i = 0; i < n; i++) d[i] = (uint16_t)ids[i];
                    d[n] = (uint16_t)h->eot_id;
                } else {
                    memcpy(conv, ids, n * 4);
                    memcpy(conv + 4 * n, &h->eot_id, 4);
                }
                if (sink_write(&k, conv, need, e)) goto out;
            }
            if (!(s->n_docs & 1023)) {
                uint64_t at = *done_bytes + tokr_consumed(r);
                progress_update(p, at, at, s->n_docs, "documents");
            }
        }
        *done_bytes += tokr_consumed(r);
        tokr_close(r);
        r = NULL;
    }
    if (plain) {
        int fd = open(path, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st)) {
            if (fd >= 0) close(fd);
            err_sys(e, path, "cannot open again");
            goto out;
        }
        uint64_t want = TOK_HEADER_BYTES + n_tok * s->width;
        if ((uint64_t)st.st_size != want) {
            close(fd);
            err_off(e, path, want, "the file changed while it was read (%llu bytes now)",
                    (unsigned long long)st.st_size);
            goto out;
        }
        int m = map_file(s, fd, TOK_HEADER_BYTES, n_tok * s->width, e);
        close(fd);
        if (m) goto out;
    } else if (k.fd >= 0) {
        if (k.buf_len && out_write_all(k.fd, k.buf, k.buf_len)) {
            err_sys(e, budget->dir, "cannot write the temporary file for piped tokens");
            goto out;
        }
        s->store = PACK_STORE_SPILLED;
        if (map_file(s, k.fd, 0, k.file_bytes, e)) goto out;
    } else {
        s->mem = k.mem;
        s->tokens = k.mem;
        budget->mem_left -= k.len;
        k.mem = NULL;
    }
    rc = 0;
out:
    free(conv);
    sink_free(&k);
    tokr_close(r);
    return rc;
}

void pack_source_free(Source *s)
{
    if (!s) return;
    if (s->map) munmap(s->map, s->map_bytes);
    free(s->mem);
    free(s->off);
    memset(s, 0, sizeof *s);
}
