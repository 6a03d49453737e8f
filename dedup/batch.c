/* Batches of documents whose keys (exact hash, signature, band keys) are
 * computed by -j threads, each over its own contiguous range, into per-document
 * rows; the keep-or-drop decisions stay on one thread, in input order, so the
 * output is the same whatever -j is (tests/dedup/test_cli.sh checks it).
 * A batch copies its documents (a Doc is borrowed only until the next read),
 * and with --verify exact each worker also keeps its documents' words (the
 * normalised text the shingles are cut from) for the deciding thread. */
#include "dedup.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_DOCS 4096
#define BATCH_BYTES ((size_t)8 << 20)

typedef struct Slot {
    Doc d;
    size_t raw_off, text_off; /* into arena; pointers are set once the batch is full */
    size_t words_off, words_len; /* into its worker's words, with --verify exact */
    unsigned worker;
} Slot;

typedef struct Worker {
    KeyBatch *b;
    DocKeys k;
    size_t from, to;
    Buf words; /* the words of documents from..to, with --verify exact */
    int rc;
    Err e;
} Worker;

struct KeyBatch {
    const DedupOpts *o;
    unsigned n_threads;
    Worker *w;
    Buf arena;
    Slot *slot;
    size_t n;
    uint64_t *rows; /* (BATCH_DOCS, stride): lo, hi, n_shingles, bandk[bands], sig[n_perm] */
    size_t stride;
};

KeyBatch *dbatch_new(const DedupOpts *o, Err *e)
{
    KeyBatch *b = calloc(1, sizeof *b);
    if (!b) goto oom;
    b->o = o;
    b->n_threads = o->common.threads ? o->common.threads : cli_cores();
    if (!(b->w = calloc(b->n_threads, sizeof *b->w))) goto oom;
    for (unsigned t = 0; t < b->n_threads; t++) {
        b->w[t].b = b;
        if (dockeys_init(&b->w[t].k, o, e)) {
            b->n_threads = t;
            dbatch_free(b);
            return NULL;
        }
    }
    const DocKeys *k = &b->w[0].k;
    b->stride = 3 + (o->mode != MODE_EXACT ? k->mh.bands + k->mh.n_perm : 0);
    b->slot = malloc(BATCH_DOCS * sizeof *b->slot);
    b->rows = malloc(BATCH_DOCS * b->stride * sizeof *b->rows);
    if (!b->slot || !b->rows) goto oom;
    return b;
oom:
    dbatch_free(b);
    err_set(e, "out of memory");
    return NULL;
}

void dbatch_free(KeyBatch *b)
{
    if (!b) return;
    for (unsigned t = 0; b->w && t < b->n_threads; t++) {
        dockeys_free(&b->w[t].k);
        buf_free(&b->w[t].words);
    }
    free(b->w);
    free(b->slot);
    free(b->rows);
    buf_free(&b->arena);
    free(b);
}

int dbatch_fill(KeyBatch *b, DocReader *in, Err *e)
{
    b->n = 0;
    b->arena.len = 0;
    Doc d;
    int rc = 0;
    while (b->n < BATCH_DOCS && b->arena.len < BATCH_BYTES && (rc = doc_next(in, &d, e)) == 1) {
        Slot *s = &b->slot[b->n++];
        s->d = d;
        s->raw_off = b->arena.len;
        if (d.raw && buf_append(&b->arena, d.raw, d.raw_len)) return err_set(e, "out of memory");
        s->text_off = b->arena.len;
        if (buf_append(&b->arena, d.text, d.text_len)) return err_set(e, "out of memory");
    }
    if (rc < 0) return -1;
    for (size_t i = 0; i < b->n; i++) {
        Slot *s = &b->slot[i];
        if (s->d.raw) s->d.raw = b->arena.data + s->raw_off;
        s->d.text = b->arena.data ? b->arena.data + s->text_off : "";
    }
    return b->n > 0;
}

static void *work(void *arg)
{
    Worker *w = arg;
    KeyBatch *b = w->b;
    int keep_words = b->o->verify == VERIFY_EXACT && b->o->mode != MODE_EXACT;
    w->words.len = 0;
    for (size_t i = w->from; i < w->to && !w->rc; i++) {
        const Doc *d = &b->slot[i].d;
        if ((w->rc = dockeys_compute(&w->k, d->text, d->text_len, &w->e))) break;
        uint64_t *row = b->rows + i * b->stride;
        row[0] = w->k.exact_lo;
        row[1] = w->k.exact_hi;
        row[2] = w->k.n_shingles;
        if (b->o->mode != MODE_EXACT) {
            memcpy(row + 3, w->k.bandk, w->k.mh.bands * sizeof *row);
            memcpy(row + 3 + w->k.mh.bands, w->k.sig, w->k.mh.n_perm * sizeof *row);
        }
        if (keep_words) {
            Slot *s = &b->slot[i];
            s->worker = (unsigned)(w - b->w);
            s->words_off = w->words.len;
            s->words_len = w->k.words_len;
            if (buf_append(&w->words, w->k.words, w->k.words_len)) {
                w->rc = err_set(&w->e, "out of memory");
                break;
            }
        }
    }
    return NULL;
}

int dbatch_compute(KeyBatch *b, Err *e)
{
    unsigned nt = b->n_threads;
    if (nt > b->n) nt = b->n ? (unsigned)b->n : 1;
    pthread_t tid[nt];
    unsigned char started[nt];
    for (unsigned t = 0; t < nt; t++) {
        Worker *w = &b->w[t];
        w->from = b->n * t / nt;
        w->to = b->n * (t + 1) / nt;
        w->rc = 0;
        started[t] = t > 0 && !pthread_create(&tid[t], NULL, work, w);
        if (t > 0 && !started[t]) work(w); /* could not start one: do its range here */
    }
    work(&b->w[0]);
    for (unsigned t = 1; t < nt; t++)
        if (started[t]) pthread_join(tid[t], NULL);
    for (unsigned t = 0; t < nt; t++)
        if (b->w[t].rc) {
            *e = b->w[t].e;
            return -1;
        }
    return 0;
}

size_t dbatch_len(const KeyBatch *b) { return b->n; }
const Doc *dbatch_doc(const KeyBatch *b, size_t i) { return &b->slot[i].d; }

void dbatch_keys(const KeyBatch *b, size_t i, DocKeys *k)
{
    const uint64_t *row = b->rows + i * b->stride;
    k->exact_lo = row[0];
    k->exact_hi = row[1];
    k->n_shingles = (size_t)row[2];
    if (b->o->mode != MODE_EXACT) {
        memcpy(k->bandk, row + 3, k->mh.bands * sizeof *row);
        memcpy(k->sig, row + 3 + k->mh.bands, k->mh.n_perm * sizeof *row);
        if (b->o->verify == VERIFY_EXACT) {
            const Slot *s = &b->slot[i];
            const Buf *w = &b->w[s->worker].words;
            k->words = w->data ? w->data + s->words_off : "";
            k->words_len = s->words_len;
        }
    }
}
