/* The document pass (docpass.h). Three batches: while the pool's threads work
 * on batch k (tasks are documents, taken from gpool's counter), the calling
 * thread emits batch k-1 in input order (before starting batch k, unless the
 * emit may run beside the work), reads batch k+1 and then works on batch k
 * too. The first batches are small, so the threads start soon. It does not
 * decide anything about documents and keeps no result of its own. Speed:
 * bench/filter/run.sh, bench/bpe/run.sh, bench/dedup/run.sh. */
#include "docpass.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gpool.h"

/* A batch holds up to BATCH_DOCS documents and about BATCH_BYTES_PER_THREAD
 * bytes per thread (raw lines and texts): small enough that the three batches'
 * arenas stay in cache and fault in few pages (page faults cost as much as
 * reading on a virtual machine), big enough to keep N threads busy while the
 * calling thread reads (bench/filter: "no rules" MB/s). */
#define BATCH_DOCS 4096
#define BATCH_BYTES_PER_THREAD ((size_t)1 << 20)
#define BATCH_BYTES_MAX ((size_t)16 << 20)
#define RAMP_STEPS 4 /* the first batch is 1/16 of the full size */

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
    size_t fail_at;       /* after its work: the first failed document (SIZE_MAX: none) */
    Err fail_err;
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

/* A batch's size: lim's documents and bytes, which double after each batch
 * up to BATCH_DOCS and max_bytes. */
typedef struct Limit {
    size_t docs, bytes;
} Limit;

/* Read up to a batch of documents into b (b->n == 0: none left). *eof is set
 * at the end of input. A document of max_bytes or more stays the reader's.
 * 0, or -1 with e filled. */
static int read_batch(DocReader *in, Batch *b, Limit *lim, size_t max_bytes, int keep_raw, int *eof, Err *e)
{
    b->arena.len = 0;
    b->n = 0;
    b->borrowed = 0;
    b->fail_at = SIZE_MAX;
    const size_t lim_docs = lim->docs, lim_bytes = lim->bytes;
    if (lim->docs < BATCH_DOCS) lim->docs *= 2;
    if (lim->bytes < max_bytes) lim->bytes = lim->bytes * 2 < max_bytes ? lim->bytes * 2 : max_bytes;
    while (!*eof && !b->borrowed && b->n < lim_docs && b->arena.len < lim_bytes) {
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

/* The first failed document of b, from the threads' failures after its work
 * (SIZE_MAX: none). */
static void collect_failure(const Pass *p, unsigned threads, Batch *b)
{
    const Failure *first = NULL;
    for (unsigned t = 0; t < threads; t++)
        if (p->fail[t].at != SIZE_MAX && (!first || p->fail[t].at < first->at)) first = &p->fail[t];
    b->fail_at = first ? first->at : SIZE_MAX;
    if (first) b->fail_err = first->err;
}

/* Emit b in input order, up to its first failed document (then -1 with that
 * document's error). */
static int emit_batch(const Pass *p, DocReader *in, Batch *b, DocPassCounts *c, Err *e)
{
    const DocPassOpts *o = p->o;
    for (size_t i = 0; i < b->n; i++) {
        const Doc *d = &b->docs[i];
        if (i == b->fail_at) {
            *e = b->fail_err;
            return -1;
        }
        if (!d->skipped) {
            /* per document: it looks at the clock only every 64 calls */
            if (o->progress) progress_update(o->progress, doc_consumed(in), doc_bytes_read(in), c->n_docs, "docs");
            c->n_docs++;
            c->n_text_bytes += d->text_len;
        }
        if (o->emit && o->emit(o->ctx, d, slot_at(p, b, i), e)) return -1;
    }
    b->n = 0;
    return 0;
}

int docpass_run(DocReader *in, const DocPassOpts *o, DocPassCounts *c, Err *e)
{
    const size_t align = alignof(max_align_t);
    unsigned threads = (o->threads ? o->threads : 1) + (o->reader_apart ? 1 : 0);
    Pass p = { .o = o, .stride = (o->slot_size + align - 1) / align * align };
    Batch bat[3];
    memset(bat, 0, sizeof bat);
    memset(c, 0, sizeof *c);
    GPool *pool = NULL;
    int rc = -1, eof = 0, running = 0;
    p.fail = calloc(threads, sizeof *p.fail);
    int oom = !p.fail;
    for (int k = 0; k < 3; k++) {
        bat[k].docs = calloc(BATCH_DOCS, sizeof *bat[k].docs);
        bat[k].off = calloc(BATCH_DOCS, sizeof *bat[k].off);
        bat[k].slots = calloc(BATCH_DOCS, p.stride ? p.stride : 1);
        oom |= !bat[k].docs || !bat[k].off || !bat[k].slots;
    }
    if (oom) {
        err_set(e, "out of memory");
        goto done;
    }
    if (!(pool = gpool_new(threads))) {
        err_set(e, "cannot start %u threads", threads);
        goto done;
    }
    size_t max_bytes = BATCH_BYTES_PER_THREAD * threads;
    if (max_bytes > BATCH_BYTES_MAX) max_bytes = BATCH_BYTES_MAX;
    /* The first batches are small and double up to the full size, so that the
     * threads start soon: nothing else runs while the first one is read. */
    Limit lim = { BATCH_DOCS >> RAMP_STEPS, max_bytes >> RAMP_STEPS };
    /* done: worked, to be emitted; cur: read, to be worked; next: to be read */
    Batch *done_b = &bat[0], *cur = &bat[1], *next = &bat[2];
    Err read_err;
    int read_rc = read_batch(in, cur, &lim, max_bytes, o->keep_raw, &eof, &read_err);
    for (;;) {
        /* a read error in batch k+1 is acted on once batch k is emitted (the
         * documents of batch k+1 before the bad one are not) */
        if (read_rc) {
            if (emit_batch(&p, in, done_b, c, e)) goto done;
            *e = read_err;
            goto done;
        }
        if (!cur->n && !eof) { /* done_b's last document was the reader's: read after its emit */
            if (emit_batch(&p, in, done_b, c, e)) goto done;
            if (read_batch(in, cur, &lim, max_bytes, o->keep_raw, &eof, e)) goto done;
        }
        if (!cur->n) break;
        for (unsigned t = 0; t < threads; t++) p.fail[t].at = SIZE_MAX;
        p.cur = cur;
        if (!o->emit_beside_work && emit_batch(&p, in, done_b, c, e)) goto done;
        gpool_start(pool, cur->n, task, &p);
        running = 1;
        if (o->emit_beside_work && emit_batch(&p, in, done_b, c, e)) goto done;
        next->n = 0;
        if (!eof && !cur->borrowed) read_rc = read_batch(in, next, &lim, max_bytes, o->keep_raw, &eof, &read_err);
        gpool_wait(pool);
        running = 0;
        collect_failure(&p, threads, cur);
        Batch *tmp = done_b;
        done_b = cur;
        cur = next;
        next = tmp;
    }
    if (emit_batch(&p, in, done_b, c, e)) goto done;
    rc = 0;
done:
    if (running) gpool_wait(pool); /* an emit failed beside the work: let it end */
    gpool_free(pool);
    for (int k = 0; k < 3; k++) batch_free(&p, &bat[k]);
    free(p.fail);
    return rc;
}
