/* lib/docpass.c: every document is worked on once and emitted in input order
 * for any thread count, with the reader apart or not; a read error in a batch
 * is reported only after the batches before it are emitted. */

#include "check.h"
#include "docpass.h"
#include "testutil.h"

/* docpass.c's batches: 256 documents, doubling to BATCH_DOCS (4096): 10000
 * documents are 5 whole batches (7936) and part of a sixth */
#define N_DOCS 10000
#define N_BEFORE_LAST 7936

typedef struct Seen {
    uint64_t n_emitted, next_line, n_out_of_order;
} Seen;

/* The slot gets the document's line number, computed on a worker. */
static int work(void *ctx, void *worker, const Doc *d, void *slot, Err *e)
{
    (void)ctx, (void)e;
    ++*(uint64_t *)worker;
    uint64_t n = 0; /* the text is not NUL-terminated */
    for (size_t i = 4; i < d->text_len; i++) n = n * 10 + (uint64_t)(d->text[i] - '0');
    *(uint64_t *)slot = n + 1;
    return 0;
}

static int emit(void *ctx, const Doc *d, void *slot, Err *e)
{
    (void)e;
    Seen *s = ctx;
    if (d->lineno != s->next_line || *(uint64_t *)slot != d->lineno) s->n_out_of_order++;
    s->next_line++;
    s->n_emitted++;
    return 0;
}

/* Run the pass over path; 0 or -1 with e filled. */
static int pass(const char *path, unsigned threads, int reader_apart, int beside, Seen *s, Err *e)
{
    DocOpts dopt = { .on_error = ON_ERROR_STOP };
    const char *paths[] = { path };
    DocReader *in = doc_open(&dopt, paths, 1, e);
    if (!in) return -1;
    uint64_t workers[4] = { 0 };
    *s = (Seen){ .next_line = 1 };
    DocPassOpts o = { .threads = threads, .reader_apart = reader_apart, .workers = workers,
                      .worker_size = sizeof *workers, .slot_size = sizeof(uint64_t), .work = work,
                      .emit = emit, .emit_beside_work = beside, .ctx = s };
    DocPassCounts c;
    int rc = docpass_run(in, &o, &c, e);
    uint64_t n_worked = 0;
    for (int t = 0; t < 4; t++) n_worked += workers[t];
    if (rc) doc_abort(in);
    else {
        CHECK_INT(N_DOCS, c.n_docs);
        CHECK_INT(N_DOCS, n_worked);
        rc = doc_close(in, e);
    }
    return rc;
}

int main(void)
{
    /* "doc N" on line N + 1; bad.jsonl has a line that is not JSON after them */
    const char *good = scratch("good.jsonl"), *bad = scratch("bad.jsonl");
    Buf b = { 0 };
    char line[64];
    for (int i = 0; i < N_DOCS; i++) {
        int n = snprintf(line, sizeof line, "{\"text\":\"doc %d\"}\n", i);
        buf_append(&b, line, (size_t)n);
    }
    write_file(good, b.data, b.len);
    buf_append(&b, "{not json\n", 10);
    write_file(bad, b.data, b.len);
    buf_free(&b);

    for (unsigned threads = 1; threads <= 3; threads++)
        for (int apart = 0; apart <= 1; apart++)
        for (int beside = 0; beside <= 1; beside++) {
            Seen s;
            Err e = { { 0 } };
            CHECK_INT(0, pass(good, threads, apart, beside, &s, &e));
            CHECK_INT(N_DOCS, s.n_emitted);
            CHECK_INT(0, s.n_out_of_order);

            /* the first five batches are emitted; the sixth fails on its
             * read, and the error names the bad line */
            CHECK_INT(-1, pass(bad, threads, apart, beside, &s, &e));
            CHECK_INT(N_BEFORE_LAST, s.n_emitted);
            CHECK_INT(0, s.n_out_of_order);
            snprintf(line, sizeof line, "bad.jsonl:%d:", N_DOCS + 1);
            CHECK(strstr(e.msg, line) != NULL);
        }
    scratch_cleanup();
    return check_done("test_docpass");
}
