/* filter's work on one document on lib/docpass.c's pass (user rules, then
 * the built-in rules, then the classifier, on any of its -j threads) and its
 * emit (kept documents and rejects, in input order), so the output is the
 * same whatever -j is. The batches and threads are the pass's.
 * The classifier's keep decision is drawn per document from (seed, number).
 * `filter stats` is the same pass measuring every rule (heur_judge), with
 * each document's values written out and their quantiles printed at the end. */
#include "filter.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "docpass.h"
#include "hash.h"
#include "model.h"
#include "progress.h"
#include "urules.h"

/* Reasons: 0..N_RULES-1 built-in rules, N_RULES "empty", then user rules,
 * then the classifier. */
#define R_KEEP (-1)
/* filter stats' values: one per built-in rule, then the classifier's score */
#define N_VALUES (N_RULES + 1)

/* A document's verdict: the pass's slot. */
typedef struct Slot {
    int reason;
    int changed;
    double value; /* what the dropping built-in rule measured (NAN: none) */
    double score;
    double *val;  /* filter stats: vals; else NULL */
    Buf text;     /* the new text when changed */
    double vals[N_VALUES]; /* every rule's value, then the score */
} Slot;

/* filter stats: every document's values, a column per value, in input order.
 * Quantiles need them all: 8 bytes a value, N_VALUES a document. */
typedef struct StatsAcc {
    double *v[N_VALUES];
    size_t n, cap;
} StatsAcc;

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
    /* the emit's, on the calling thread */
    DocWriter *out, *rej;
    Buf extra;
    uint64_t *drops;
    uint64_t n_in, n_kept, n_dropped, n_scored;
    double score_sum;
    StatsAcc acc;
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
static int judge(const Run *r, Worker *w, const Doc *d, Slot *s, Err *e)
{
    const char *text = d->text;
    size_t n = d->text_len;
    double *val = s->val = r->o->stats ? s->vals : NULL;
    s->changed = 0;
    s->score = -1;
    s->value = NAN;
    s->reason = R_KEEP;
    if (r->have_ur) {
        const char *nt;
        size_t nn;
        int ch;
        Err ue = {{0}};
        int k = urules_apply(&r->ur, &w->uc, text, n, &nt, &nn, &ch, w->line_drops + N_RULES, &ue);
        if (k == -2) return err_at(e, err_name(d->path), d->lineno, "%s", ue.msg);
        if (k >= 0) {
            s->reason = N_RULES + 1 + k;
            if (!val) return 0;
            text = nt, n = nn;
        } else if (ch) {
            s->text.len = 0;
            if (buf_append(&s->text, nt, nn)) goto oom;
            s->changed = 1;
            text = s->text.data, n = s->text.len;
            if (!n) {
                s->reason = N_RULES;
                if (!val) return 0;
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
        if (!val) return 0;
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
    return 0;
oom:
    return err_at(e, err_name(d->path), d->lineno, "out of memory");
}

static int work_doc(void *ctx, void *worker, const Doc *d, void *slot, Err *e)
{
    return judge(ctx, worker, d, slot, e);
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

static void slot_free(void *slot)
{
    buf_free(&((Slot *)slot)->text);
}

/* A rejected document's "filter_value": a built-in rule that measures one. */
static int has_value(int reason, double value)
{
    return reason >= 0 && reason < N_RULES && !heur_rules[reason].is_flag && !isnan(value);
}

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

/* One document's verdict out, in input order: kept documents to out,
 * dropped ones to rej (or both, with every value, for filter stats). */
static int emit_verdict(void *ctx, const Doc *d, void *slot, Err *e)
{
    Run *r = ctx;
    const FilterOpts *o = r->o;
    Slot *s = slot;
    Buf *extra = &r->extra;
    if (d->skipped) /* a file, not a document: in its place among the rejects */
        return docw_write_skipped(r->rej, d, "filter_reason", e);
    r->n_in++;
    int reason = s->reason;
    extra->len = 0;
    if (s->score >= 0) {
        r->n_scored++;
        r->score_sum += s->score;
        char num[64];
        int l = snprintf(num, sizeof num, "\"quality\":%.6f", s->score);
        if (buf_append(extra, num, (size_t)l)) goto oom;
        int keep = o->keep == KEEP_ALL || (o->keep == KEEP_THRESHOLD && s->score >= o->keep_value) ||
                   (o->keep == KEEP_PARETO && filter_pareto_keep(o->seed, d->text, d->text_len, o->keep_value, s->score));
        if (!keep) reason = r->reason_quality;
    }
    if (o->stats) {
        if (stats_add(&r->acc, s->val)) goto oom;
        if (reason == R_KEEP) r->n_kept++;
        else r->n_dropped++, r->drops[reason]++;
        if (!r->out) return 0;
        /* the document as it came in, with the reason and value as in
         * the rejects, then every value */
        if (extra->len && buf_putc(extra, ',')) goto oom;
        if (reason != R_KEEP && (add_reason(extra, reason_name(r, reason)) ||
                                 (has_value(reason, s->value) && add_value(extra, s->value)) ||
                                 buf_putc(extra, ',')))
            goto oom;
        if (add_stats(extra, r, s->val) || buf_putc(extra, 0)) goto oom;
        return docw_write(r->out, d, NULL, 0, extra->data, e);
    }
    if (reason == R_KEEP) {
        r->n_kept++;
        const char *text = s->changed ? (s->text.data ? s->text.data : "") : NULL;
        if (extra->len && buf_putc(extra, 0)) goto oom;
        return docw_write(r->out, d, text, s->text.len, extra->len ? extra->data : NULL, e);
    }
    r->n_dropped++;
    r->drops[reason]++;
    if (!r->rej) return 0;
    /* rejects get the document as it came in, with the reason and the value
     * that failed */
    if (extra->len && buf_putc(extra, ',')) goto oom;
    if (add_reason(extra, reason_name(r, reason)) || (has_value(reason, s->value) && add_value(extra, s->value)) ||
        buf_putc(extra, 0))
        goto oom;
    return docw_write(r->rej, d, NULL, 0, extra->data, e);
oom:
    return err_set(e, "out of memory");
}

/* A slot's new text is kept for the next batch's document in that slot, but
 * for a long document's, which would stay in memory for nothing. */
#define KEEP_TEXT_MAX ((size_t)1 << 20)

static int emit_doc(void *ctx, const Doc *d, void *slot, Err *e)
{
    Slot *s = slot;
    int rc = emit_verdict(ctx, d, slot, e);
    if (s->text.cap > KEEP_TEXT_MAX) buf_free(&s->text);
    return rc;
}

int filter_run(const FilterOpts *o, Err *e)
{
    Run r = {0};
    r.o = o;
    int rc = -1, started_pg = 0;
    DocReader *in = NULL;
    Worker *wk = NULL;
    uint64_t *line_drops = NULL;
    Buf sum = {0};
    Progress pg;
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
    wk = calloc(r.n_workers, sizeof *wk);
    r.drops = calloc((size_t)r.n_reasons, sizeof *r.drops);
    line_drops = calloc(n_line_rules, sizeof *line_drops);
    if (!wk || !r.drops || !line_drops) {
        err_set(e, "out of memory");
        goto done;
    }
    for (unsigned t = 0; t < r.n_workers; t++) {
        if (!(wk[t].line_drops = calloc(n_line_rules, sizeof(uint64_t))) ||
            (r.have_ur && urules_ctx_init(&wk[t].uc))) {
            err_set(e, "out of memory");
            goto done;
        }
    }
    if (!(in = doc_open(&din, o->inputs, o->n_inputs, e))) goto done;
    /* filter stats writes documents only with -o; the normal pass to stdout by default */
    if ((!o->stats || o->out) && !(r.out = docw_open(o->out, &o->doc, e))) goto done;
    if (o->rejects && !(r.rej = docw_open(o->rejects, &o->doc, e))) goto done;

    progress_start(&pg, "filter", o->common.progress, doc_total_size(in));
    started_pg = 1;
    DocPassOpts po = { .threads = r.n_workers, .workers = wk, .worker_size = sizeof *wk,
                       .slot_size = sizeof(Slot), .slot_free = slot_free, .work = work_doc,
                       .emit = emit_doc, .ctx = &r, .keep_raw = 1, .progress = &pg };
    DocPassCounts counts;
    if (docpass_run(in, &po, &counts, e)) goto done;
    progress_end(&pg);
    started_pg = 0;
    DocWriter *w = r.rej;
    r.rej = NULL;
    if (w && docw_close(w, e)) goto done;
    w = r.out;
    r.out = NULL;
    if (w && docw_close(w, e)) goto done;
    const DocStats *st = doc_stats(in);
    /* the summary: in = kept + dropped, then each reason and the removed lines */
    char tmp[256];
    for (int k = 0; k < r.n_reasons; k++) {
        if (!r.drops[k]) continue;
        snprintf(tmp, sizeof tmp, "%s%s %llu", sum.len ? ", " : "", reason_name(&r, k), (unsigned long long)r.drops[k]);
        if (buf_append(&sum, tmp, strlen(tmp))) goto oom;
    }
    for (unsigned t = 0; t < r.n_workers; t++)
        for (size_t k = 0; k < n_line_rules; k++) line_drops[k] += wk[t].line_drops[k];
    int first_line = 1;
    for (size_t k = 0; k < n_line_rules; k++) {
        if (!line_drops[k]) continue;
        snprintf(tmp, sizeof tmp, "%s%s %llu", first_line ? "; lines removed: " : ", ",
                 k < N_RULES ? heur_rules[k].name : r.ur.rules[k - N_RULES].name,
                 (unsigned long long)line_drops[k]);
        if (buf_append(&sum, tmp, strlen(tmp))) goto oom;
        first_line = 0;
    }
    if (r.n_scored) {
        snprintf(tmp, sizeof tmp, "; mean quality %.4f", r.score_sum / r.n_scored);
        if (buf_append(&sum, tmp, strlen(tmp))) goto oom;
    }
    char files[512]; /* bad lines and files, and the files read each way */
    doc_summary(st, 0, files, sizeof files);
    if (buf_append(&sum, files, strlen(files))) goto oom;
    if (buf_putc(&sum, 0)) goto oom;
    double secs = progress_elapsed(&pg);
    progress_summary(&pg, "%llu in, %llu kept, %llu dropped%s%s; %.1f MB in %.2f s (%.1f MB/s)",
                     (unsigned long long)r.n_in, (unsigned long long)r.n_kept, (unsigned long long)r.n_dropped,
                     sum.len > 1 && sum.data[0] != ';' ? ": " : "", sum.data, st->n_bytes / 1e6, secs,
                     secs > 0 ? st->n_bytes / 1e6 / secs : 0.0);
    if (o->stats) {
        FILE *f = o->out && !strcmp(o->out, "-") ? stderr : stdout;
        if (print_stats(f, &r, &r.acc, r.drops, r.n_kept) || fflush(f)) { /* a write error, not memory */
            err_set(e, "%s: writing the table: %s", f == stdout ? "<stdout>" : "<stderr>", strerror(errno));
            goto done;
        }
    } else {
        hint(&pg, &r, r.drops, r.n_in, r.n_dropped);
    }
    rc = 0;
    goto done;
oom:
    err_set(e, "out of memory");
done:
    if (started_pg) progress_end(&pg);
    if (rc) doc_abort(in);
    else if (doc_close(in, e)) rc = -1;
    docw_abort(r.out);
    docw_abort(r.rej);
    if (wk)
        for (unsigned t = 0; t < r.n_workers; t++) {
            heur_scratch_free(&wk[t].hs);
            if (r.have_ur) urules_ctx_free(&wk[t].uc);
            buf_free(&wk[t].c4out);
            buf_free(&wk[t].lower);
            free(wk[t].idx);
            free(wk[t].line_drops);
        }
    free(wk);
    free(r.drops);
    free(line_drops);
    buf_free(&r.extra);
    buf_free(&sum);
    for (int k = 0; k < N_VALUES; k++) free(r.acc.v[k]);
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
