/* The document pass (docpass.h). Two batches: while the pool's threads work
 * on batch k (tasks are documents, taken from gpool's counter), the calling
 * thread reads batch k+1 and then works on batch k too; once all are done it
 * emits batch k in input order. It does not decide anything about documents
 * and keeps no result of its own. Speed: bench/filter/run.sh, bench/bpe/run.sh,
 * bench/dedup/run.sh. */
#include "docpass.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gpool.h"

/* A batch holds up to BATCH_DOCS documents and about BATCH_BYTES_PER_THREAD
 * bytes per thread (raw lines and texts): small enough that the two batches'
 * arenas stay in cache and fault in few pages (page faults cost as much as
 * reading on a virtual machine), big enough to keep N threads busy while the
 * calling thread reads (bench/filter: "no rules" MB/s). */
#define BATCH_DOCS 4096
#define BATCH_BYTES_PER_THREAD ((size_t)1 << 20)
#define BATCH_BYTES_MAX ((size_t)16 << 20)

/* Documents copied out of the reader (doc_next's are borrowed until the next
 * call); off holds where each one's raw line and text start in the arena
 * until the arena has stopped moving. A document as big as a whole batch is
 * not copied: it ends its batch and stays the reader's, and nothing more is
 * read until it has been emitted (a 60 MB line would otherwise be in memory
 * twice). */
typedef struct Batch {
    Doc *docs;
    size_t (*off)[2];
    unsigned char *slots; /* BATCH_DOCS slots of the pass's stride */
    size_t n;
    Buf arena;
    int borrowed;         /* the last document is still the reader's */
} Batch;

/* A thread's first failed document in the current batch (SIZE_MAX: none). */
typedef struct Failure {
    size_t at;
    Err err;
} Failure;

typedef struct Pass {
    const DocPassOpts *o;
    size_t stride;        /* slot_size rounded up for alignment */
    Batch *cur;
    Failure *fail;        /* one a thread */
} Pass;

static void *slot_at(const Pass *p, const Batch *b, size_t i) { return b->slots + i * p->stride; }

static void task(void *arg, size_t i, unsigned thread)
{
    Pass *p = arg;
    const Doc *d = &p->cur->docs[i];
    Failure *f = &p->fail[thread];
    /* a thread takes documents in increasing order: past its failure, none matters */
    if (d->skipped || f->at != SIZE_MAX) return;
    void *w = (unsigned char *)p->o->workers + (size_t)thread * p->o->worker_size;
    if (p->o->work(p->o->ctx, w, d, slot_at(p, p->cur, i), &f->err)) f->at = i;
}

/* Read up to a batch of documents into b (b->n == 0: none left). *eof is set
 * at the end of input. 0, or -1 with e filled. */
static int read_batch(DocReader *in, Batch *b, size_t max_bytes, int keep_raw, int *eof, Err *e)
{
    b->arena.len = 0;
    b->n = 0;
    b->borrowed = 0;
    while (!*eof && !b->borrowed && b->n < BATCH_DOCS && b->arena.len < max_bytes) {
        Doc d;
        int k = doc_next(in, &d, e);
        if (k < 0) return -1;
        if (k == 0) {
            *eof = 1;
            break;
        }
        if (!keep_raw) d.raw = NULL, d.raw_len = 0;
        b->docs[b->n] = d;
        if (d.raw_len + d.text_len >= max_bytes) {
            b->n++;
            b->borrowed = 1;
            break;
        }
        b->off[b->n][0] = b->arena.len;
        if (d.raw && buf_append(&b->arena, d.raw, d.raw_len)) return err_set(e, "out of memory");
        b->off[b->n][1] = b->arena.len;
        if (buf_append(&b->arena, d.text, d.text_len)) return err_set(e, "out of memory");
        b->n++;
    }
    for (size_t i = 0; i < b->n - (size_t)b->borrowed; i++) {
        Doc *d = &b->docs[i];
        if (d->raw) d->raw = b->arena.data + b->off[i][0];
        d->text = b->arena.data ? b->arena.data + b->off[i][1] : ""; /* all empty so far: no arena */
    }
    return 0;
}

static void batch_free(const Pass *p, Batch *b)
{
    if (b->slots && p->o->slot_free)
        for (size_t i = 0; i < BATCH_DOCS; i++) p->o->slot_free(slot_at(p, b, i));
    free(b->slots);
    free(b->docs);
    free(b->off);
    buf_free(&b->arena);
}

int docpass_run(DocReader *in, const DocPassOpts *o, DocPassCounts *c, Err *e)
{
    const size_t align = alignof(max_align_t);
    unsigned threads = (o->threads ? o->threads : 1) + (o->reader_apart ? 1 : 0);
    Pass p = { .o = o, .stride = (o->slot_size + align - 1) / align * align };
    Batch bat[2];
    memset(bat, 0, sizeof bat);
    memset(c, 0, sizeof *c);
    GPool *pool = NULL;
    int rc = -1, eof = 0;
    p.fail = calloc(threads, sizeof *p.fail);
    for (int k = 0; k < 2; k++) {
        bat[k].docs = calloc(BATCH_DOCS, sizeof *bat[k].docs);
        bat[k].off = calloc(BATCH_DOCS, sizeof *bat[k].off);
        bat[k].slots = calloc(BATCH_DOCS, p.stride ? p.stride : 1);
    }
    if (!p.fail || !bat[0].docs || !bat[0].off || !bat[0].slots || !bat[1].docs || !bat[1].off || !bat[1].slots) {
        err_set(e, "out of memory");
        goto done;
    }
    if (!(pool = gpool_new(threads))) {
        err_set(e, "cannot start %u threads", threads);
        goto done;
    }
    size_t max_bytes = BATCH_BYTES_PER_THREAD * threads;
    if (max_bytes > BATCH_BYTES_MAX) max_bytes = BATCH_BYTES_MAX;
    Batch *cur = &bat[0], *next = &bat[1];
    if (read_batch(in, cur, max_bytes, o->keep_raw, &eof, e)) goto done;
    while (cur->n) {
        for (unsigned t = 0; t < threads; t++) p.fail[t].at = SIZE_MAX;
        p.cur = cur;
        gpool_start(pool, cur->n, task, &p);
        /* a read error in batch k+1 is acted on once batch k is emitted (the
         * documents of batch k+1 before the bad one are not) */
        int read_rc = 0;
        Err read_err;
        next->n = 0;
        if (!eof && !cur->borrowed) read_rc = read_batch(in, next, max_bytes, o->keep_raw, &eof, &read_err);
        gpool_wait(pool);
        const Failure *first = NULL;
        for (unsigned t = 0; t < threads; t++)
            if (p.fail[t].at != SIZE_MAX && (!first || p.fail[t].at < first->at)) first = &p.fail[t];
        for (size_t i = 0; i < cur->n; i++) {
            const Doc *d = &cur->docs[i];
            if (first && i == first->at) {
                *e = first->err;
                goto done;
            }
            if (!d->skipped) {
                /* per document: it looks at the clock only every 64 calls */
                if (o->progress) progress_update(o->progress, doc_consumed(in), doc_bytes_read(in), c->n_docs, "docs");
                c->n_docs++;
                c->n_text_bytes += d->text_len;
            }
            if (o->emit && o->emit(o->ctx, d, slot_at(&p, cur, i), e)) goto done;
        }
        if (read_rc) {
            *e = read_err;
            goto done;
        }
        if (cur->borrowed && !eof && read_batch(in, next, max_bytes, o->keep_raw, &eof, e)) goto done;
        Batch *tmp = cur;
        cur = next;
        next = tmp;
    }
    rc = 0;
done:
    gpool_free(pool);
    batch_free(&p, &bat[0]);
    batch_free(&p, &bat[1]);
    free(p.fail);
    return rc;
}
