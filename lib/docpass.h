/* One pass over documents, the machinery that filter, dedup (the run, sig,
 * decontam), bpe encode and bpe train share: documents are read in batches
 * and copied out of the reader, a callback works on each on N threads (a
 * persistent pool, lib/gpool.h) while the calling thread reads the next
 * batch, and a second callback gets the results on the calling thread in
 * input order, so the output is the same whatever -j is. A program writes
 * only its work on one document and its emit (or none, when its result is
 * the workers' state, as bpe train's counts are). */
#ifndef DOCPASS_H
#define DOCPASS_H

#include <stddef.h>
#include <stdint.h>

#include "docio.h"
#include "err.h"
#include "progress.h"

/* One document's work, on any of the pass's threads: worker is that thread's
 * state, slot the document's result (slot_size bytes; zeroed once, then kept
 * from batch to batch, so buffers in it keep their memory). Files skipped
 * as binary (d->skipped) get no work. The Doc is borrowed until its emit.
 * -1 with e filled: the pass stops; of the documents that failed, the first
 * in input order is reported, after the documents before it are emitted. */
typedef int (*DocWorkFn)(void *ctx, void *worker, const Doc *d, void *slot, Err *e);
/* Every document and skipped file, in input order, on the calling thread.
 * -1 with e filled stops the pass. */
typedef int (*DocEmitFn)(void *ctx, const Doc *d, void *slot, Err *e);

typedef struct DocPassOpts {
    unsigned threads;       /* >= 1, the calling thread among them, unless reader_apart */
    int reader_apart;       /* 1: threads workers, and the calling thread reads beside them (then helps) */
    void *workers;          /* threads (+ 1 when reader_apart) states, worker_size bytes each: the caller's */
    size_t worker_size;
    size_t slot_size;       /* bytes of one document's result (0: none) */
    void (*slot_free)(void *slot); /* what a slot holds, at the end; NULL: nothing */
    DocWorkFn work;
    DocEmitFn emit;         /* NULL: none (the results stay in the workers' states) */
    int emit_beside_work;   /* 1: a batch is emitted while the next one is worked on (the
                             * emit may then touch nothing that a work reads or writes,
                             * save its own slot); 0: the emit runs alone */
    void *ctx;              /* given to work and emit */
    int keep_raw;           /* copy each document's raw JSON line too (to write it through) */
    Progress *progress;     /* updated per document (NULL: none) */
} DocPassOpts;

typedef struct DocPassCounts {
    uint64_t n_docs;        /* documents emitted (skipped files not counted) */
    uint64_t n_text_bytes;  /* their texts' bytes */
} DocPassCounts;

/* Run the pass over what `in` reads, to its end (the caller opens and closes
 * it). 0, or -1 with e filled by the reader, a work or an emit. A read error
 * is reported once the batches before the one it is in are emitted. */
int docpass_run(DocReader *in, const DocPassOpts *o, DocPassCounts *c, Err *e);

#endif
