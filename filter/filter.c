/* The document pass: documents are read in batches, judged by N threads
 * (user rules, then the built-in rules, then the classifier), and written in
 * input order, so the output is the same whatever -j is. While N-1 threads
 * judge a batch, the main thread reads the next one and then helps judge.
 * The classifier's keep decision is drawn per document from (seed, number). */
#include "filter.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "model.h"
#include "progress.h"
#include "urules.h"

/* A batch holds up to BATCH_DOCS documents and about BATCH_BYTES_PER_WORKER
 * bytes per thread (raw lines and texts): small enough that the two batches'
 * arenas stay in cache and fault in few pages (page faults cost as much as
 * reading on a virtual machine), big enough to keep N threads busy while the
 * main thread reads (bench/filter: "no rules" MB/s). */
#define BATCH_DOCS 4096
#define BATCH_BYTES_PER_WORKER ((size_t)1 << 20)
#define BATCH_BYTES_MAX ((size_t)16 << 20)

/* Reasons: 0..N_RULES-1 built-in rules, N_RULES "empty", then user rules,
 * then the classifier. */
#define R_KEEP (-1)

typedef struct Slot {
    size_t raw_off, text_off;
    Doc d;
    int reason;
    int changed;
    double score;
    int err;    /* a match error or out of memory: message in msg */
    Buf text;   /* the new text when changed */
    char *msg;
} Slot;

/* Documents copied out of the reader (doc_next's are borrowed). */
typedef struct Batch {
    Slot *slots;
    size_t n;
    Buf arena;
    atomic_size_t next;
} Batch;

typedef struct Worker {
    HeurScratch hs;
    URulesCtx uc;
    Buf c4out, lower;
    uint32_t *idx;
    size_t idx_cap;
    uint64_t *line_drops; /* built-in rules then user rules */
} Worker;

typedef struct Run {
    const FilterOpts *o;
    URules ur;
    int have_ur;
    QModel model;
    int have_model;
    unsigned n_workers;
    int reason_quality;
    int n_reasons;
} Run;

int filter_pareto_keep(uint64_t seed, uint64_t ordinal, double alpha, double score)
{
    uint64_t x = hash64(&ordinal, sizeof ordinal, seed);
    double u = ((double)(x >> 11) + 0.5) * 0x1.0p-53; /* in (0, 1) */
    double draw = pow(u, -1.0 / alpha) - 1.0;
    return draw > 1.0 - score;
}

static const char *reason_name(const Run *r, int reason)
{
    if (reason < N_RULES) return heur_rules[reason].name;
    if (reason == N_RULES) return HEUR_EMPTY_REASON;
    if (reason == r->reason_quality) return "quality";
    return r->ur.rules[reason - N_RULES - 1].name;
}

static void judge(Run *r, Worker *w, Slot *s)
{
    const char *text = s->d.text;
    size_t n = s->d.text_len;
    s->changed = 0;
    s->score = -1;
    s->err = 0;
    if (r->have_ur) {
        const char *nt;
        size_t nn;
        int ch;
        Err e = {{0}};
        int k = urules_apply(&r->ur, &w->uc, text, n, &nt, &nn, &ch, w->line_drops + N_RULES, &e);
        if (k == -2) {
            s->err = 1;
            s->msg = strdup(e.msg);
            return;
        }
        if (k >= 0) {
            s->reason = N_RULES + 1 + k;
            return;
        }
        if (ch) {
            s->text.len = 0;
            if (buf_append(&s->text, nt, nn)) goto oom;
            s->changed = 1;
            text = s->text.data, n = s->text.len;
            if (!n) {
                s->reason = N_RULES;
                return;
            }
        }
    }
    int ch;
    int k = heur_apply(&r->o->heur, &w->hs, text, n, &w->c4out, &ch, w->line_drops);
    if (k == -2) goto oom;
    if (k >= 0) {
        s->reason = k;
        return;
    }
    if (ch) {
        s->text.len = 0;
        if (buf_append(&s->text, w->c4out.data, w->c4out.len)) goto oom;
        s->changed = 1;
        text = s->text.data, n = s->text.len;
    }
    s->reason = R_KEEP;
    if (r->have_model) {
        long nf = qm_features(text, n, r->model.log2_buckets, r->model.seed, &w->idx, &w->idx_cap, &w->lower);
        if (nf < 0) goto oom;
        s->score = qm_predict(&r->model, w->idx, (size_t)nf);
    }
    return;
oom:
    s->err = 1;
    s->msg = strdup("out of memory");
}

/* Each thread's state, the run and the batch it works on. */
typedef struct WorkerBox {
    Worker w;
    Run *run;
    Batch *batch;
} WorkerBox;

static void *work(void *arg)
{
    WorkerBox *b = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&b->batch->next, 1);
        if (i >= b->batch->n) break;
        judge(b->run, &b->w, &b->batch->slots[i]);
    }
    return NULL;
}

/* Read up to a batch of documents. 1: some (or none at the end: b->n == 0),
 * -1: error. *eof is set at the end of input. */
static int read_batch(DocReader *in, Batch *b, size_t max_bytes, int *eof, Err *e)
{
    b->arena.len = 0;
    b->n = 0;
    while (!*eof && b->n < BATCH_DOCS && b->arena.len < max_bytes) {
        Doc d;
        int k = doc_next(in, &d, e);
        if (k < 0) return -1;
        if (k == 0) {
            *eof = 1;
            break;
        }
        Slot *s = &b->slots[b->n++];
        s->d = d;
        s->raw_off = b->arena.len;
        if (d.raw && buf_append(&b->arena, d.raw, d.raw_len)) return err_set(e, "out of memory");
        s->text_off = b->arena.len;
        if (buf_append(&b->arena, d.text, d.text_len)) return err_set(e, "out of memory");
    }
    for (size_t i = 0; i < b->n; i++) {
        Slot *s = &b->slots[i];
        if (s->d.raw) s->d.raw = b->arena.data + s->raw_off;
        s->d.text = b->arena.data + s->text_off;
    }
    atomic_store(&b->next, 0);
    return 0;
}

static int add_reason(Buf *b, const char *name)
{
    return buf_append(b, "\"filter_reason\":\"", 17) || buf_append(b, name, strlen(name)) || buf_putc(b, '"');
}

static void batch_free(Batch *b)
{
    if (b->slots)
        for (size_t i = 0; i < BATCH_DOCS; i++) {
            buf_free(&b->slots[i].text);
            free(b->slots[i].msg);
        }
    free(b->slots);
    buf_free(&b->arena);
}

int filter_run(const FilterOpts *o, Err *e)
{
    Run r = {0};
    r.o = o;
    int rc = -1, started_pg = 0, eof = 0;
    DocReader *in = NULL;
    DocWriter *out = NULL, *rej = NULL;
    WorkerBox *box = NULL;
    uint64_t *drops = NULL, *line_drops = NULL;
    Buf extra = {0}, sum = {0};
    Batch batch[2] = {{0}};
    Progress pg;
    if (o->rules_file) {
        if (urules_load(&r.ur, o->rules_file, e)) return -1;
        r.have_ur = 1;
    }
    if (o->model) {
        if (qm_load(&r.model, o->model, e)) goto done;
        r.have_model = 1;
    }
    r.reason_quality = N_RULES + 1 + (int)r.ur.n;
    r.n_reasons = r.reason_quality + 1;
    r.n_workers = o->common.threads ? o->common.threads : cli_cores();
    if (r.n_workers > 1024) r.n_workers = 1024;
    size_t n_line_rules = N_RULES + r.ur.n;
    box = calloc(r.n_workers, sizeof *box);
    drops = calloc((size_t)r.n_reasons, sizeof *drops);
    line_drops = calloc(n_line_rules, sizeof *line_drops);
    batch[0].slots = calloc(BATCH_DOCS, sizeof(Slot));
    batch[1].slots = calloc(BATCH_DOCS, sizeof(Slot));
    if (!box || !drops || !line_drops || !batch[0].slots || !batch[1].slots) {
        err_set(e, "out of memory");
        goto done;
    }
    for (unsigned t = 0; t < r.n_workers; t++) {
        box[t].run = &r;
        if (!(box[t].w.line_drops = calloc(n_line_rules, sizeof(uint64_t))) ||
            (r.have_ur && urules_ctx_init(&box[t].w.uc))) {
            err_set(e, "out of memory");
            goto done;
        }
    }
    if (!(in = doc_open(&o->doc, o->inputs, o->n_inputs, e))) goto done;
    if (!(out = docw_open(o->out, &o->doc, e))) goto done;
    if (o->rejects && !(rej = docw_open(o->rejects, &o->doc, e))) goto done;

    progress_start(&pg, "filter", o->common.progress, doc_total_size(in));
    started_pg = 1;
    uint64_t n_in = 0, n_kept = 0, n_dropped = 0, n_scored = 0;
    double score_sum = 0;
    int cur = 0;
    size_t batch_bytes = BATCH_BYTES_PER_WORKER * r.n_workers;
    if (batch_bytes > BATCH_BYTES_MAX) batch_bytes = BATCH_BYTES_MAX;
    if (read_batch(in, &batch[cur], batch_bytes, &eof, e)) goto done;
    while (batch[cur].n) {
        Batch *b = &batch[cur], *nb = &batch[cur ^ 1];
        /* N-1 threads judge b while this one reads the next batch, then helps */
        pthread_t th[1024];
        unsigned started = 0;
        for (unsigned t = 1; t < r.n_workers && b->n > 1; t++) {
            box[t].batch = b;
            if (!pthread_create(&th[started], NULL, work, &box[t])) started++;
        }
        int read_rc = 0;
        nb->n = 0;
        if (!eof) read_rc = read_batch(in, nb, batch_bytes, &eof, e);
        box[0].batch = b;
        work(&box[0]);
        for (unsigned t = 0; t < started; t++) pthread_join(th[t], NULL);
        if (read_rc) goto done;
        for (size_t i = 0; i < b->n; i++, n_in++) {
            Slot *s = &b->slots[i];
            if (s->err) {
                err_at(e, err_name(s->d.path), s->d.lineno, "%s", s->msg ? s->msg : "out of memory");
                goto done;
            }
            int reason = s->reason;
            extra.len = 0;
            if (s->score >= 0) {
                n_scored++;
                score_sum += s->score;
                char num[64];
                int l = snprintf(num, sizeof num, "\"quality\":%.6f", s->score);
                if (buf_append(&extra, num, (size_t)l)) goto oom;
                int keep = o->keep == KEEP_ALL ||
                           (o->keep == KEEP_THRESHOLD && s->score >= o->keep_value) ||
                           (o->keep == KEEP_PARETO && filter_pareto_keep(o->seed, n_in, o->keep_value, s->score));
                if (!keep) reason = r.reason_quality;
            }
            if (reason == R_KEEP) {
                n_kept++;
                const char *text = s->changed ? (s->text.data ? s->text.data : "") : NULL;
                if (extra.len && buf_putc(&extra, 0)) goto oom;
                if (docw_write(out, &s->d, text, s->text.len, extra.len ? extra.data : NULL, e)) goto done;
                continue;
            }
            n_dropped++;
            drops[reason]++;
            if (!rej) continue;
            /* rejects get the document as it came in, with the reason */
            if (extra.len && buf_putc(&extra, ',')) goto oom;
            if (add_reason(&extra, reason_name(&r, reason)) || buf_putc(&extra, 0)) goto oom;
            if (docw_write(rej, &s->d, NULL, 0, extra.data, e)) goto done;
        }
        progress_update(&pg, doc_consumed(in), doc_stats(in)->n_bytes, n_in, "docs");
        cur ^= 1;
    }
    progress_end(&pg);
    started_pg = 0;
    DocWriter *w = rej;
    rej = NULL;
    if (w && docw_close(w, e)) goto done;
    w = out;
    out = NULL;
    if (docw_close(w, e)) goto done;
    const DocStats *st = doc_stats(in);
    /* the summary: in = kept + dropped, then each reason and the removed lines */
    char tmp[256];
    for (int k = 0; k < r.n_reasons; k++) {
        if (!drops[k]) continue;
        snprintf(tmp, sizeof tmp, "%s%s %llu", sum.len ? ", " : "", reason_name(&r, k), (unsigned long long)drops[k]);
        if (buf_append(&sum, tmp, strlen(tmp))) goto oom;
    }
    for (unsigned t = 0; t < r.n_workers; t++)
        for (size_t k = 0; k < n_line_rules; k++) line_drops[k] += box[t].w.line_drops[k];
    int first_line = 1;
    for (size_t k = 0; k < n_line_rules; k++) {
        if (!line_drops[k]) continue;
        snprintf(tmp, sizeof tmp, "%s%s %llu", first_line ? "; lines removed: " : ", ",
                 k < N_RULES ? heur_rules[k].name : r.ur.rules[k - N_RULES].name,
                 (unsigned long long)line_drops[k]);
        if (buf_append(&sum, tmp, strlen(tmp))) goto oom;
        first_line = 0;
    }
    if (n_scored) {
        snprintf(tmp, sizeof tmp, "; mean quality %.4f", score_sum / n_scored);
        if (buf_append(&sum, tmp, strlen(tmp))) goto oom;
    }
    if (st->n_bad) {
        snprintf(tmp, sizeof tmp, "; %llu bad lines skipped", (unsigned long long)st->n_bad);
        if (buf_append(&sum, tmp, strlen(tmp))) goto oom;
    }
    if (buf_putc(&sum, 0)) goto oom;
    double secs = progress_elapsed(&pg);
    progress_summary(&pg, "%llu in, %llu kept, %llu dropped%s%s; %.1f MB in %.2f s (%.1f MB/s)",
                     (unsigned long long)n_in, (unsigned long long)n_kept, (unsigned long long)n_dropped,
                     sum.len > 1 && sum.data[0] != ';' ? ": " : "", sum.data, st->n_bytes / 1e6, secs,
                     secs > 0 ? st->n_bytes / 1e6 / secs : 0.0);
    rc = 0;
    goto done;
oom:
    err_set(e, "out of memory");
done:
    if (started_pg) progress_end(&pg);
    if (rc) doc_abort(in);
    else if (doc_close(in, e)) rc = -1;
    docw_abort(out);
    docw_abort(rej);
    if (box)
        for (unsigned t = 0; t < r.n_workers; t++) {
            heur_scratch_free(&box[t].w.hs);
            if (r.have_ur) urules_ctx_free(&box[t].w.uc);
            buf_free(&box[t].w.c4out);
            buf_free(&box[t].w.lower);
            free(box[t].w.idx);
            free(box[t].w.line_drops);
        }
    free(box);
    batch_free(&batch[0]);
    batch_free(&batch[1]);
    free(drops);
    free(line_drops);
    buf_free(&extra);
    buf_free(&sum);
    urules_free(&r.ur);
    qm_free(&r.model);
    return rc;
}

void filter_print_rules(FILE *f, const HeurConf *c)
{
    fprintf(f, "%-22s %-8s %-5s %-4s %9s  %s\n", "rule", "set", "kind", "on", "value", "drops when");
    for (int r = 0; r < N_RULES; r++) {
        const RuleInfo *ri = &heur_rules[r];
        char v[32];
        if (ri->is_flag) snprintf(v, sizeof v, "-");
        else snprintf(v, sizeof v, "%g", c->v[r]);
        fprintf(f, "%-22s %-8s %-5s %-4s %9s  %s\n", ri->name, ri->set, ri->kind == KIND_LINE ? "line" : "doc",
                c->on[r] ? "on" : "off", v, ri->help);
    }
    fprintf(f, "%-22s %-8s %-5s %-4s %9s  %s\n", HEUR_EMPTY_REASON, "-", "doc", "on", "-",
            "line rules removed every line");
}
