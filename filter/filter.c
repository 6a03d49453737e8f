/* The document pass: documents are read in batches, judged by N threads
 * (user rules, then the built-in rules, then the classifier), and written in
 * input order, so the output is the same whatever -j is. While N-1 threads
 * judge a batch, the main thread reads the next one and then helps judge.
 * The classifier's keep decision is drawn per document from (seed, number).
 * `filter stats` is the same pass measuring every rule (heur_judge), with
 * each document's values written out and their quantiles printed at the end. */
#include "filter.h"

#include <errno.h>
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
/* filter stats' values: one per built-in rule, then the classifier's score */
#define N_VALUES (N_RULES + 1)

typedef struct Slot {
    size_t raw_off, text_off;
    Doc d;
    int reason;
    int changed;
    double value; /* what the dropping built-in rule measured (NAN: none) */
    double score;
    double *val;  /* filter stats: every rule's value, then the score (N_VALUES) */
    int err;    /* a match error or out of memory: message in msg */
    Buf text;   /* the new text when changed */
    char *msg;
} Slot;

/* Documents copied out of the reader (doc_next's are borrowed), but for a
 * last one too big for the batch's bytes: that one stays the reader's, and
 * no document is read until it is written (a 60 MB line is not copied twice;
 * bench/filter/long.sh). */
typedef struct Batch {
    Slot *slots;
    size_t n;
    Buf arena;
    int borrowed; /* the last document is doc_next's own */
    atomic_size_t next;
    double *vals; /* filter stats: N_VALUES a slot */
} Batch;

typedef struct Worker {
    HeurScratch hs;
    URulesCtx uc;
    Buf c4out, lower;
    uint32_t *idx;
    size_t idx_cap;
    uint64_t *line_drops; /* built-in rules then user rules */
    uint64_t no_drops[N_RULES]; /* filter stats: line removals not counted */
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

/* The draw is keyed on the text and the seed, not on the document's place in
 * the input: a shard's run and the whole input's run then draw the same for it. */
int filter_pareto_keep(uint64_t seed, const char *text, size_t text_len, double alpha, double score)
{
    uint64_t x = hash64(text, text_len, seed);
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

/* One document: user rules, built-in rules, classifier. In the normal pass
 * the first rule that drops it ends its judgement; for `filter stats`
 * (s->val set) every built-in rule is measured and the classifier scores
 * every document, on the text the rules that are on leave (the text a user
 * rule dropped the document on, when one did). */
static void judge(Run *r, Worker *w, Slot *s)
{
    const char *text = s->d.text;
    size_t n = s->d.text_len;
    double *val = s->val;
    s->changed = 0;
    s->score = -1;
    s->err = 0;
    s->value = NAN;
    s->reason = R_KEEP;
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
            if (!val) return;
            text = nt, n = nn;
        } else if (ch) {
            s->text.len = 0;
            if (buf_append(&s->text, nt, nn)) goto oom;
            s->changed = 1;
            text = s->text.data, n = s->text.len;
            if (!n) {
                s->reason = N_RULES;
                if (!val) return;
                text = "";
            }
        }
    }
    int ch;
    double value;
    /* measuring, line rules run on dropped documents too: their lines are not counted */
    int k = heur_judge(&r->o->heur, &w->hs, text, n, &w->c4out, &ch, val ? w->no_drops : w->line_drops, &value, val);
    if (k == -2) goto oom;
    if (k >= 0 && s->reason == R_KEEP) {
        s->reason = k;
        s->value = value;
        if (!val) return;
    }
    if (ch) { /* taken over, not copied: it can be as long as the document */
        Buf t = s->text;
        s->text = w->c4out, w->c4out = t;
        s->changed = 1;
        text = s->text.data, n = s->text.len;
    }
    if (r->have_model && (s->reason == R_KEEP || val)) {
        long nf = qm_features(text, n, r->model.log2_buckets, r->model.seed, &w->idx, &w->idx_cap, &w->lower);
        if (nf < 0) goto oom;
        double score = qm_predict(&r->model, w->idx, (size_t)nf);
        if (s->reason == R_KEEP) s->score = score;
        if (val) val[N_RULES] = score;
    } else if (val) {
        val[N_RULES] = NAN;
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
        if (!b->batch->slots[i].d.skipped) judge(b->run, &b->w, &b->batch->slots[i]);
    }
    return NULL;
}

/* Read up to a batch of documents. 1: some (or none at the end: b->n == 0),
 * -1: error. *eof is set at the end of input. */
static int read_batch(DocReader *in, Batch *b, size_t max_bytes, int *eof, Err *e)
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
        Slot *s = &b->slots[b->n];
        s->val = b->vals ? b->vals + N_VALUES * b->n : NULL;
        b->n++;
        s->d = d;
        if (d.raw_len + d.text_len >= max_bytes) {
            b->borrowed = 1;
            break;
        }
        s->raw_off = b->arena.len;
        if (d.raw && buf_append(&b->arena, d.raw, d.raw_len)) return err_set(e, "out of memory");
        s->text_off = b->arena.len;
        if (buf_append(&b->arena, d.text, d.text_len)) return err_set(e, "out of memory");
    }
    for (size_t i = 0; i < b->n - (size_t)b->borrowed; i++) {
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

void filter_fmt_double(char *out, size_t n, double x)
{
    if (!isfinite(x)) {
        snprintf(out, n, "null");
        return;
    }
    /* 15 digits read back as x for most values (and print 0.3 as 0.3);
     * 17 always do */
    for (int p = 15; p <= 17; p++) {
        snprintf(out, n, "%.*g", p, x);
        if (strtod(out, NULL) == x) return;
    }
}

/* ,"filter_value":X after the reason, for a rule that measured a value */
static int add_value(Buf *b, double x)
{
    char num[64];
    int l = snprintf(num, sizeof num, ",\"filter_value\":");
    filter_fmt_double(num + l, sizeof num - (size_t)l, x);
    return buf_append(b, num, strlen(num));
}

/* "filter_stats":{"rule":X,...}: every built-in rule's value, and the score
 * with a model */
static int add_stats(Buf *b, const Run *r, const double *val)
{
    char num[64];
    if (buf_append(b, "\"filter_stats\":{", 16)) return -1;
    for (int k = 0; k < N_VALUES; k++) {
        if (k == N_RULES && !r->have_model) break;
        const char *name = k < N_RULES ? heur_rules[k].name : "quality";
        filter_fmt_double(num, sizeof num, val[k]);
        if ((k && buf_putc(b, ',')) || buf_putc(b, '"') || buf_append(b, name, strlen(name)) ||
            buf_append(b, "\":", 2) || buf_append(b, num, strlen(num)))
            return -1;
    }
    return buf_putc(b, '}');
}

double filter_quantile(const double *sorted, size_t n, unsigned per_mille)
{
    /* rank k (1-based) = ceil(q n / 1000), in integers so that 0.1 * 10 is 1 */
    size_t k = (size_t)(((unsigned long long)per_mille * n + 999) / 1000);
    return sorted[k ? k - 1 : 0];
}

static void batch_free(Batch *b)
{
    free(b->vals);
    if (b->slots)
        for (size_t i = 0; i < BATCH_DOCS; i++) {
            buf_free(&b->slots[i].text);
            free(b->slots[i].msg);
        }
    free(b->slots);
    buf_free(&b->arena);
}

/* A rejected document's "filter_value": a built-in rule that measures one. */
static int has_value(int reason, double value)
{
    return reason >= 0 && reason < N_RULES && !heur_rules[reason].is_flag && !isnan(value);
}

/* filter stats: every document's values, a column per value, in input order.
 * Quantiles need them all: 8 bytes a value, N_VALUES a document. */
typedef struct StatsAcc {
    double *v[N_VALUES];
    size_t n, cap;
} StatsAcc;

static int stats_add(StatsAcc *a, const double *val)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 4096;
        for (int k = 0; k < N_VALUES; k++) {
            double *p = realloc(a->v[k], cap * sizeof *p);
            if (!p) return -1;
            a->v[k] = p;
        }
        a->cap = cap;
    }
    for (int k = 0; k < N_VALUES; k++) a->v[k][a->n] = val[k];
    a->n++;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* For the table: whole numbers as they are, others to 4 digits, NAN as "-". */
static void fmt_short(char *out, size_t n, double x)
{
    if (isnan(x)) snprintf(out, n, "-");
    else if (x == floor(x) && fabs(x) < 1e9) snprintf(out, n, "%.0f", x);
    else snprintf(out, n, "%.4g", x);
}

/* The table of `filter stats`: for each built-in rule (and the classifier's
 * score), its threshold, the quantiles of its values over the documents
 * where it has one, the share of all documents its threshold fails, and the
 * documents it dropped in this run. Sorts acc's columns in place. */
static int print_stats(FILE *f, const Run *r, StatsAcc *acc, const uint64_t *drops, uint64_t n_kept)
{
    static const unsigned Q[] = {0, 10, 100, 500, 900, 990, 1000};
    const FilterOpts *o = r->o;
    const HeurConf *c = &o->heur;
    uint64_t n = acc->n;
    fprintf(f, "%llu documents, %llu kept and %llu dropped with these rules. What each rule measures on them:\n",
            (unsigned long long)n, (unsigned long long)n_kept, (unsigned long long)(n - n_kept));
    fprintf(f, "%-22s %-3s %-12s %6s %9s %9s %9s %9s %9s %9s %9s %7s %8s\n", "rule", "on", "drops when", "docs",
            "min", "1%", "10%", "50%", "90%", "99%", "max", "fails", "dropped");
    for (int k = 0; k < N_VALUES; k++) {
        if (k == N_RULES && !r->have_model) break;
        double *v = acc->v[k];
        size_t m = 0;
        uint64_t n_fail = 0;
        int can_fail = 1;
        for (size_t i = 0; i < n; i++) {
            if (isnan(v[i])) continue;
            if (k < N_RULES) n_fail += heur_fails(c, k, v[i]) != 0;
            else n_fail += o->keep == KEEP_THRESHOLD && v[i] < o->keep_value;
            v[m++] = v[i]; /* the defined values to the front */
        }
        qsort(v, m, sizeof *v, cmp_double);
        char when[32], q[7][32], fails[16], name[64];
        if (k == N_RULES) {
            snprintf(name, sizeof name, "quality (classifier)");
            if (o->keep == KEEP_THRESHOLD) snprintf(when, sizeof when, "< %g", o->keep_value);
            else snprintf(when, sizeof when, "%s", o->keep == KEEP_ALL ? "never" : "pareto draw");
            can_fail = o->keep == KEEP_THRESHOLD;
        } else {
            const RuleInfo *ri = &heur_rules[k];
            snprintf(name, sizeof name, "%s", ri->name);
            if (ri->is_flag) snprintf(when, sizeof when, "%s", ri->kind == KIND_LINE ? "line" : "has it");
            else snprintf(when, sizeof when, "%s%s %g", ri->kind == KIND_LINE ? "line " : "", ri->below ? "<" : ">",
                          c->v[k]);
        }
        for (int j = 0; j < 7; j++) {
            if (m) fmt_short(q[j], sizeof q[j], filter_quantile(v, m, Q[j]));
            else snprintf(q[j], sizeof q[j], "-");
        }
        double pct = n ? 100.0 * (double)n_fail / (double)n : 0.0;
        if (can_fail) snprintf(fails, sizeof fails, pct < 10 ? "%.2f%%" : "%.1f%%", pct);
        else snprintf(fails, sizeof fails, "-");
        int on = k < N_RULES ? c->on[k] : 1;
        fprintf(f, "%-22s %-3s %-12s %6zu %9s %9s %9s %9s %9s %9s %9s %7s %8llu\n", name, on ? "on" : "off", when,
                m, q[0], q[1], q[2], q[3], q[4], q[5], q[6], fails,
                (unsigned long long)drops[k < N_RULES ? k : r->reason_quality]);
    }
    fputs("docs: documents where the rule has a value; min..max: quantiles over them (nearest rank: at least\n"
          "  that share of the documents is at or below), rounded to 4 digits (-o FILE has each exact value).\n"
          "fails: share of all documents whose value fails the threshold, the rule on or off; dropped: documents\n"
          "  the rule dropped in this run (the first rule that fails names the reason).\n"
          "line rules: the value is the lines the rule removes from a document (off: would remove); fails:\n"
          "  documents that lose a line. has it: 1 when a kept line has it, else 0.\n"
          "To drop about a tenth of the documents with one rule, set it (--rule NAME=V) at its 10% quantile\n"
          "  for a '<' rule, its 90% for a '>' rule; --no-rule NAME turns it off, --preset none all of them.\n",
          f);
    return ferror(f) ? -1 : 0;
}

/* When more than half of the input was dropped: say so, name the reasons
 * that dropped most, and what to try. Exit status is not changed. */
static void hint(const Progress *pg, const Run *r, const uint64_t *drops, uint64_t n_in, uint64_t n_dropped)
{
    if (!n_in || 2 * n_dropped <= n_in) return;
    int top[3] = {-1, -1, -1};
    for (int k = 0; k < r->n_reasons; k++) { /* the 3 largest, ties in rule order */
        if (!drops[k]) continue;
        for (int j = 0; j < 3; j++) {
            if (top[j] < 0 || drops[k] > drops[top[j]]) {
                memmove(top + j + 1, top + j, (size_t)(2 - j) * sizeof *top);
                top[j] = k;
                break;
            }
        }
    }
    char most[512] = "";
    size_t l = 0;
    for (int j = 0; j < 3 && top[j] >= 0; j++)
        l += (size_t)snprintf(most + l, sizeof most - l, "%s%s %llu", j ? ", " : "", reason_name(r, top[j]),
                              (unsigned long long)drops[top[j]]);
    /* the examples name the built-in rule that dropped most */
    const char *name = "NAME";
    for (int j = 2; j >= 0; j--)
        if (top[j] >= 0 && top[j] < N_RULES) name = heur_rules[top[j]].name;
    progress_summary(pg,
                     "dropped %llu of %llu documents (%.0f%%), most by %s.\n"
                     "  If these rules do not fit your text, 'filter stats' with the same options and files\n"
                     "  shows what each rule measures on it; then set a threshold (--rule %s=V),\n"
                     "  turn a rule off (--no-rule %s), or start with every rule off (--preset none);\n"
                     "  'filter rules' lists the rules, their values and what each drops.%s",
                     (unsigned long long)n_dropped, (unsigned long long)n_in, 100.0 * (double)n_dropped / (double)n_in,
                     most, name, name,
                     top[0] == r->reason_quality ? "\n  Most went by the classifier's score: --keep threshold:T "
                                                   "keeps by a threshold, --keep all keeps every document."
                                                 : "");
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
    StatsAcc acc = {{0}, 0, 0};
    /* files skipped as binary come through the reader to go to --rejects */
    DocOpts din = o->doc;
    din.report_skipped = o->rejects && !o->stats;
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
    for (int k = 0; k < 2 && o->stats; k++)
        if (!(batch[k].vals = malloc(BATCH_DOCS * N_VALUES * sizeof(double)))) {
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
    if (!(in = doc_open(&din, o->inputs, o->n_inputs, e))) goto done;
    /* filter stats writes documents only with -o; the normal pass to stdout by default */
    if ((!o->stats || o->out) && !(out = docw_open(o->out, &o->doc, e))) goto done;
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
        if (!eof && !b->borrowed) read_rc = read_batch(in, nb, batch_bytes, &eof, e);
        box[0].batch = b;
        work(&box[0]);
        for (unsigned t = 0; t < started; t++) pthread_join(th[t], NULL);
        if (read_rc) goto done;
        for (size_t i = 0; i < b->n; i++) {
            Slot *s = &b->slots[i];
            if (s->d.skipped) { /* a file, not a document: in its place among the rejects */
                if (docw_write_skipped(rej, &s->d, "filter_reason", e)) goto done;
                continue;
            }
            /* per document: it looks at the clock only every 64 calls */
            progress_update(&pg, doc_consumed(in), doc_bytes_read(in), n_in, "docs");
            n_in++;
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
                           (o->keep == KEEP_PARETO && filter_pareto_keep(o->seed, s->d.text, s->d.text_len, o->keep_value, s->score));
                if (!keep) reason = r.reason_quality;
            }
            if (o->stats) {
                if (stats_add(&acc, s->val)) goto oom;
                if (reason == R_KEEP) n_kept++;
                else n_dropped++, drops[reason]++;
                if (!out) continue;
                /* the document as it came in, with the reason and value as in
                 * the rejects, then every value */
                if (extra.len && buf_putc(&extra, ',')) goto oom;
                if (reason != R_KEEP && (add_reason(&extra, reason_name(&r, reason)) ||
                                         (has_value(reason, s->value) && add_value(&extra, s->value)) ||
                                         buf_putc(&extra, ',')))
                    goto oom;
                if (add_stats(&extra, &r, s->val) || buf_putc(&extra, 0)) goto oom;
                if (docw_write(out, &s->d, NULL, 0, extra.data, e)) goto done;
                continue;
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
            /* rejects get the document as it came in, with the reason and
             * the value that failed */
            if (extra.len && buf_putc(&extra, ',')) goto oom;
            if (add_reason(&extra, reason_name(&r, reason)) ||
                (has_value(reason, s->value) && add_value(&extra, s->value)) || buf_putc(&extra, 0))
                goto oom;
            if (docw_write(rej, &s->d, NULL, 0, extra.data, e)) goto done;
        }
        /* a long document's new text is not kept for the next batch */
        for (size_t i = 0; i < b->n; i++)
            if (b->slots[i].text.cap > BATCH_BYTES_PER_WORKER) buf_free(&b->slots[i].text);
        if (b->borrowed && !eof && read_batch(in, nb, batch_bytes, &eof, e)) goto done;
        cur ^= 1;
    }
    progress_end(&pg);
    started_pg = 0;
    DocWriter *w = rej;
    rej = NULL;
    if (w && docw_close(w, e)) goto done;
    w = out;
    out = NULL;
    if (w && docw_close(w, e)) goto done;
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
    char files[512]; /* bad lines and files, and the files read each way */
    doc_summary(st, 0, files, sizeof files);
    if (buf_append(&sum, files, strlen(files))) goto oom;
    if (buf_putc(&sum, 0)) goto oom;
    double secs = progress_elapsed(&pg);
    progress_summary(&pg, "%llu in, %llu kept, %llu dropped%s%s; %.1f MB in %.2f s (%.1f MB/s)",
                     (unsigned long long)n_in, (unsigned long long)n_kept, (unsigned long long)n_dropped,
                     sum.len > 1 && sum.data[0] != ';' ? ": " : "", sum.data, st->n_bytes / 1e6, secs,
                     secs > 0 ? st->n_bytes / 1e6 / secs : 0.0);
    if (o->stats) {
        FILE *f = o->out && !strcmp(o->out, "-") ? stderr : stdout;
        if (print_stats(f, &r, &acc, drops, n_kept) || fflush(f)) { /* a write error, not memory */
            err_set(e, "%s: writing the table: %s", f == stdout ? "<stdout>" : "<stderr>", strerror(errno));
            goto done;
        }
    } else {
        hint(&pg, &r, drops, n_in, n_dropped);
    }
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
    for (int k = 0; k < N_VALUES; k++) free(acc.v[k]);
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
