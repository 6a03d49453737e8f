/* `model sweep`: short real trainings over a grid of shapes (layers x width x
 * heads), each through train_run into its own run folder SWEEP/L<l>-D<d>-H<h>,
 * with the same data, seed, batch and tokens (or, with --budget-flops, the same
 * compute). A point's result.json marks it finished: a second invocation runs
 * nothing, an interrupted point resumes from its checkpoint. Results go to
 * SWEEP/results.csv, stdout, and SWEEP/sweep.png (gnuplot). Not here: choosing
 * an LR per shape (lr-find does that for one shape). */
#include "sweep.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "data.h"
#include "iofile.h"
#include "progress.h"
#include "rundir.h"
#include "plot.h"

#define PROG "model"

int sweep_parse_list(const char *s, int lo, int hi, int *out, int max)
{
    int n = 0;
    char piece[32];
    while (*s) {
        size_t len = strcspn(s, ",");
        uint64_t v;
        if (len == 0 || len >= sizeof piece || n == max) return -1;
        memcpy(piece, s, len);
        piece[len] = 0;
        if (cli_u64(piece, (uint64_t)lo, (uint64_t)hi, &v)) return -1;
        for (int k = 0; k < n; k++)
            if (out[k] == (int)v) return -1; /* a repeated value would train the same point twice */
        out[n++] = (int)v;
        s += len;
        if (*s == ',' && !*++s) return -1;
    }
    return n ? n : -1;
}

/* One run of a grid point: one seed. */
typedef struct Run {
    uint64_t seed;
    char name[96]; /* its folder in SWEEP */
    double tokens_per_s;
    double train_tail; /* the training loss, mean of the last tenth of the steps (one batch is noisy) */
    double train_last; /* the training loss of the last step (model train's summary); NAN: not known */
    double val_loss;   /* the last evaluation's, at the last step; NAN: no validation shards */
} Run;

/* Mean, spread and range of one figure over a point's seeds (the finite
 * values only): sd is the sample standard deviation (n - 1 in the
 * denominator), NAN for fewer than 2 values; mean NAN for none. */
typedef struct Stat {
    int n;
    double mean, sd, min, max;
} Stat;

/* One grid point (a shape) and, once trained, its runs and their figures. */
typedef struct Point {
    GptConfig cfg;
    char name[64];
    uint64_t steps;
    double params, flops; /* parameters a user counts; training FLOPs of one run */
    Run *runs;            /* one a seed */
    Stat tps, train_tail, train_last, val;
} Point;

static int write_json(const char *path, json_t *j, Err *e)
{
    char *s = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    if (!s) return err_set(e, "out of memory");
    OutFile *o = out_open(path, e);
    int rc = -1;
    if (o) {
        if (out_write(o, s, strlen(s), e) || out_write(o, "\n", 1, e)) out_abort(o);
        else rc = out_close(o, e);
    }
    free(s);
    return rc;
}

/* The settings every point shares, as SWEEP/sweep.json keeps them: a second
 * invocation must match them, or its points would not be comparable. */
/* A float setting as the decimal it was given as (0.9, not 0.8999999762). */
static double dec(float x)
{
    char b[32];
    snprintf(b, sizeof b, "%.7g", (double)x);
    return strtod(b, NULL);
}

static json_t *settings_json(const SweepOpts *s, const char *data_real, int T, int V, uint64_t batch)
{
    const TrainOpts *o = &s->t;
    return json_pack("{s:s,s:i,s:i,s:I,s:i,s:I,s:I,s:f,s:f,s:f,s:s,s:f,s:f,s:I,s:f,s:f,s:f,s:f,s:f,s:I,s:i,s:I}",
                     "data", data_real, "context", T, "vocab_size", V, "batch_tokens", (json_int_t)batch,
                     "micro_batch", o->micro_batch, "steps", (json_int_t)s->steps, "tokens",
                     (json_int_t)s->tokens, "budget_params", s->budget_params, "budget_flops", s->budget_flops,
                     "tolerance", s->tolerance, "schedule", sched_name(o->schedule), "lr", o->lr, "min_frac",
                     o->min_frac, "warmup", (json_int_t)o->warmup, "decay_frac", o->decay_frac, "weight_decay",
                     dec(o->adam.weight_decay), "beta1", dec(o->adam.beta1), "beta2", dec(o->adam.beta2),
                     "clip", dec(o->adam.clip), "eval_every",
                     (json_int_t)o->eval_every, "eval_batches", o->eval_batches, "seed", (json_int_t)o->seed);
}

/* Write SWEEP/sweep.json, or check the one there; 0, or 2 with the first setting that differs. */
static int settings_check(const char *dir, json_t *now, Err *e)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/sweep.json", dir);
    if (access(path, F_OK)) return write_json(path, now, e) ? 1 : 0;
    json_error_t je;
    json_t *old = json_load_file(path, 0, &je);
    if (!old) return err_code(e, 1, "%s:%d: %s", path, je.line, je.text);
    /* compare with what the file would hold: the same decimal rounding */
    char *text = json_dumps(now, JSON_REAL_PRECISION(10));
    now = text ? json_loads(text, 0, &je) : NULL;
    free(text);
    if (!now) {
        json_decref(old);
        return err_code(e, 1, "out of memory");
    }
    const char *key;
    json_t *v;
    int code = 0;
    json_object_foreach(now, key, v) {
        json_t *w = json_object_get(old, key);
        /* reals within float precision: folders written when floats were kept as doubles */
        int same = w && (json_equal(v, w) || (json_is_number(v) && json_is_number(w) &&
                                             fabs(json_number_value(v) - json_number_value(w)) <=
                                                 1e-6 * fabs(json_number_value(w))));
        if (!same) {
            char *a = json_dumps(v, JSON_ENCODE_ANY), *b = w ? json_dumps(w, JSON_ENCODE_ANY) : NULL;
            code = err_code(e, 2, "%s was swept with %s %s, this run has %s: points would not compare; use another -o",
                        dir, key, b ? b : "(none)", a ? a : "?");
            free(a);
            free(b);
            break;
        }
    }
    json_decref(old);
    json_decref(now);
    return code;
}

/* Results of a finished run from its log.csv: rows must reach `steps`. 1 when
 * complete, 0 when the log is missing or shorter, -1 on a malformed log. */
static int read_log(const char *dir, uint64_t steps, uint64_t batch, Run *p, Err *e)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/log.csv", dir);
    if (access(path, F_OK)) return 0;
    InFile *in = in_open(path, 1 << 16, e);
    if (!in) return -1;
    double *loss = malloc(steps * sizeof(double));
    if (!loss) {
        in_close(in);
        return err_set(e, "out of memory");
    }
    const char *line;
    size_t len;
    int rc;
    uint64_t last = 0;
    double secs = 0, val = NAN;
    while ((rc = in_line(in, &line, &len, e)) == 1) {
        if (in_lineno(in) == 1) continue;
        /* step,tokens,loss,val_loss,lr,grad_norm,tokens_per_s,mfu */
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < 511 ? len : 511), line);
        unsigned long long step;
        double l, tps;
        char *f[8];
        int nf = 0;
        for (char *c = buf; nf < 8;) {
            f[nf++] = c;
            char *comma = strchr(c, ',');
            if (!comma) break;
            *comma = 0;
            c = comma + 1;
        }
        if (nf != 8 || sscanf(f[0], "%llu", &step) != 1 || sscanf(f[2], "%lf", &l) != 1 ||
            sscanf(f[6], "%lf", &tps) != 1 || step != last + 1 || step > steps || tps <= 0) {
            rc = err_at(e, path, in_lineno(in), "not a log.csv row of this run (step %" PRIu64 " expected)", last + 1);
            break;
        }
        loss[step - 1] = l;
        secs += (double)batch / tps;
        if (f[3][0]) val = strtod(f[3], NULL);
        last = step;
    }
    in_close(in);
    if (rc == 0 && last == steps) {
        uint64_t tail = steps / 10 ? steps / 10 : 1;
        double sum = 0;
        for (uint64_t k = steps - tail; k < steps; k++) sum += loss[k];
        p->train_tail = sum / (double)tail;
        p->train_last = loss[steps - 1];
        p->val_loss = val;
        p->tokens_per_s = (double)steps * (double)batch / secs;
        rc = 1;
    }
    free(loss);
    return rc;
}

/* Whether the run's latest checkpoint is its last step's: the log may be
 * complete while the final checkpoint was not (killed while writing it). */
static int at_final_ckpt(const char *dir, uint64_t steps)
{
    char path[PATH_MAX];
    uint64_t step;
    Err ignored;
    return !rundir_latest(dir, path, sizeof path, &step, &ignored) && step == steps;
}

/* A number, or null for NAN (jansson has no NAN) */
static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static int save_result(const char *dir, const Point *p, const Run *r, uint64_t batch, Err *e)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/result.json", dir);
    json_t *j = json_pack("{s:i,s:i,s:i,s:I,s:I,s:I,s:f,s:f,s:f,s:o,s:o,s:o}", "layers", p->cfg.n_layer, "width",
                          p->cfg.n_embd, "heads", p->cfg.n_head, "steps", (json_int_t)p->steps, "tokens",
                          (json_int_t)(p->steps * batch), "seed", (json_int_t)r->seed, "params", p->params, "flops",
                          p->flops, "tokens_per_s", r->tokens_per_s, "train_loss_mean_last_tenth",
                          num(r->train_tail), "train_loss_last_step", num(r->train_last), "val_loss",
                          num(r->val_loss));
    if (!j) return err_set(e, "out of memory");
    int rc = write_json(path, j, e);
    json_decref(j);
    return rc;
}

/* 1 when dir/result.json is there and is this run's (its figures into r), 0
 * when absent. A result.json from before the labels were split has
 * "train_loss" (the mean of the last tenth) and no last step or seed. */
static int load_result(const char *dir, const Point *p, Run *r, Err *e)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/result.json", dir);
    if (access(path, F_OK)) return 0;
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) return err_set(e, "%s:%d: %s", path, je.line, je.text);
    json_int_t L, D, H, steps, seed = (json_int_t)r->seed;
    double tps;
    json_t *vl, *tail = json_object_get(j, "train_loss_mean_last_tenth"), *last = json_object_get(j, "train_loss_last_step");
    if (!tail) tail = json_object_get(j, "train_loss");
    int rc = json_unpack_ex(j, &je, 0, "{s:I,s:I,s:I,s:I,s:F,s:o,s?I}", "layers", &L, "width", &D, "heads", &H,
                            "steps", &steps, "tokens_per_s", &tps, "val_loss", &vl, "seed", &seed);
    if (rc) rc = err_set(e, "%s: %s", path, je.text);
    else if (!json_is_number(tail)) rc = err_set(e, "%s: no train_loss_mean_last_tenth", path);
    else if (L != p->cfg.n_layer || D != p->cfg.n_embd || H != p->cfg.n_head || (uint64_t)steps != p->steps ||
             (uint64_t)seed != r->seed)
        rc = err_set(e, "%s: the result of another run (%lldx%lldx%lld, %lld steps, seed %lld)", path, (long long)L,
                     (long long)D, (long long)H, (long long)steps, (long long)seed);
    else {
        r->tokens_per_s = tps;
        r->train_tail = json_number_value(tail);
        r->train_last = json_is_number(last) ? json_number_value(last) : NAN;
        r->val_loss = json_is_number(vl) ? json_number_value(vl) : NAN;
        rc = 1;
    }
    json_decref(j);
    return rc;
}

/* The Stat of field `off` (a double of Run) over n runs */
static Stat stat_of(const Run *runs, int n, size_t off)
{
    Stat s = { .mean = NAN, .sd = NAN, .min = NAN, .max = NAN };
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double x = *(const double *)((const char *)&runs[i] + off);
        if (!isfinite(x)) continue;
        if (!s.n || x < s.min) s.min = x;
        if (!s.n || x > s.max) s.max = x;
        sum += x;
        s.n++;
    }
    if (!s.n) return s;
    s.mean = sum / s.n;
    if (s.n < 2) return s;
    double ss = 0;
    for (int i = 0; i < n; i++) {
        double x = *(const double *)((const char *)&runs[i] + off);
        if (isfinite(x)) ss += (x - s.mean) * (x - s.mean);
    }
    s.sd = sqrt(ss / (s.n - 1));
    return s;
}

static int cmp_points(const void *a, const void *b)
{
    const Point *x = a, *y = b;
    if (x->params != y->params) return x->params < y->params ? -1 : 1;
    if (x->cfg.n_layer != y->cfg.n_layer) return x->cfg.n_layer - y->cfg.n_layer;
    return x->cfg.n_head - y->cfg.n_head;
}

/* SWEEP/results.csv, a row a shape. With several seeds the loss and tokens/s
 * columns are the means, and three columns follow run (the first seed's
 * folder): seeds, train_loss_mean_last_tenth_sd, val_loss_sd. */
static int write_results(const char *dir, const Point *pts, int n, int seeds, uint64_t batch, Err *e)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    OutFile *o = out_open(path, e);
    if (!o) return -1;
    char line[640];
    int len = snprintf(line, sizeof line,
                       "layers,width,heads,head_dim,params,steps,tokens,flops,tokens_per_s,train_loss_mean_last_tenth,"
                       "val_loss,run%s\n", seeds > 1 ? ",seeds,train_loss_mean_last_tenth_sd,val_loss_sd" : "");
    if (out_write(o, line, (size_t)len, e)) goto bad;
    for (int i = 0; i < n; i++) {
        const Point *p = &pts[i];
        char val[32] = "", more[96] = "";
        if (isfinite(p->val.mean)) snprintf(val, sizeof val, "%.6f", p->val.mean);
        if (seeds > 1) {
            char vsd[32] = "";
            if (isfinite(p->val.sd)) snprintf(vsd, sizeof vsd, "%.6f", p->val.sd);
            snprintf(more, sizeof more, ",%d,%.6f,%s", seeds, p->train_tail.sd, vsd);
        }
        len = snprintf(line, sizeof line, "%d,%d,%d,%d,%.0f,%" PRIu64 ",%" PRIu64 ",%.4g,%.1f,%.6f,%s,%s%s\n",
                       p->cfg.n_layer, p->cfg.n_embd, p->cfg.n_head, p->cfg.n_embd / p->cfg.n_head, p->params,
                       p->steps, p->steps * batch, p->flops, p->tps.mean, p->train_tail.mean, val, p->runs[0].name,
                       more);
        if (out_write(o, line, (size_t)len, e)) goto bad;
    }
    return out_close(o, e);
bad:
    out_abort(o);
    return -1;
}

/* s right-aligned in width columns: "±" is one column of two bytes */
static void print_cell(const char *s, int width)
{
    int cols = 0;
    for (const char *c = s; *c; c++) cols += ((unsigned char)*c & 0xc0) != 0x80;
    printf(" %*s%s", width > cols ? width - cols : 0, "", s);
}

/* A loss as the table shows it: "4.9707", or "4.9707 ± 0.0012" over seeds */
static void loss_cell(char *out, size_t n, const Stat *s, int seeds)
{
    if (!isfinite(s->mean)) snprintf(out, n, "-");
    else if (seeds < 2) snprintf(out, n, "%.4f", s->mean);
    else if (!isfinite(s->sd)) snprintf(out, n, "%.4f ± -", s->mean);
    else snprintf(out, n, "%.4f ± %.4f", s->mean, s->sd);
}

static void print_table(const Point *pts, int n, int seeds, uint64_t batch)
{
    /* the train loss is a mean over the last tenth of the steps, not the last step's (train's summary) */
    const char *th = seeds > 1 ? "train loss last 10%, mean ± sd" : "train loss last 10%";
    const char *vh = seeds > 1 ? "val loss, mean ± sd" : "val loss";
    int tw = seeds > 1 ? 30 : 19, vw = seeds > 1 ? 21 : 9;
    printf("%-14s %5s %9s %9s %9s %10s", "shape LxDxH", "hdim", "params", "tokens", "FLOPs", "tokens/s");
    print_cell(th, tw);
    print_cell(vh, vw);
    putchar('\n');
    for (int i = 0; i < n; i++) {
        const Point *p = &pts[i];
        char shape[48], par[16], tok[16], fl[16], tps[16], tl[48], vl[48];
        snprintf(shape, sizeof shape, "%dx%dx%d", p->cfg.n_layer, p->cfg.n_embd, p->cfg.n_head);
        progress_si(par, sizeof par, p->params);
        progress_si(tok, sizeof tok, (double)(p->steps * batch));
        progress_si(fl, sizeof fl, p->flops);
        progress_si(tps, sizeof tps, p->tps.mean);
        loss_cell(tl, sizeof tl, &p->train_tail, seeds);
        loss_cell(vl, sizeof vl, &p->val, seeds);
        printf("%-14s %5d %9s %9s %9s %10s", shape, p->cfg.n_embd / p->cfg.n_head, par, tok, fl, tps);
        print_cell(tl, tw);
        print_cell(vl, vw);
        putchar('\n');
    }
}

/* SWEEP/sweep.png: left, validation loss against step for every point (train
 * loss when there are no validation shards; the first seed's run); right, final
 * loss against parameters (the mean, with the standard deviation as error
 * bars over several seeds). 1 when sweep.png was drawn. */
static int plot_sweep(const char *dir, const Point *pts, int n, int have_val, int seeds)
{
    char png[PATH_MAX];
    if (strchr(dir, '\'')) return 0; /* gnuplot's strings are quoted with ' */
    snprintf(png, sizeof png, "%s/sweep.png", dir);
    Plot pl;
    if (plot_open(&pl, png)) return 0;
    FILE *g = pl.g;
    const char *what = have_val ? "validation loss" : "train loss";
    int col = have_val ? 11 : 10, sd_col = have_val ? 15 : 14;
    char first[64] = "";
    if (seeds > 1) snprintf(first, sizeof first, " (seed %" PRIu64 ")", pts[0].runs[0].seed);
    fprintf(g,
            "set terminal pngcairo size 1400,560\nset output '%s'\nset datafile separator ','\n"
            "set multiplot layout 1,2 title 'model sweep: %s'\n"
            "set grid\nset key outside right top\nset xlabel 'step'\nset ylabel '%s (nats/token)'\n"
            "set title '%s against step%s'\nplot ",
            pl.tmp, dir, what, what, first);
    for (int i = 0; i < n; i++)
        fprintf(g, "%s'%s/%s/log.csv' using 1:%d skip 1 with linespoints pt 7 ps 0.5 title '%dx%dx%d'", i ? ", " : "",
                dir, pts[i].runs[0].name, have_val ? 4 : 3, pts[i].cfg.n_layer, pts[i].cfg.n_embd, pts[i].cfg.n_head);
    if (seeds > 1)
        fprintf(g,
                "\nset logscale x\nset xlabel 'parameters'\nset title 'final %s against parameters: mean and "
                "standard deviation of %d seeds'\nset key off\n"
                "plot '%s/results.csv' using 5:%d:%d skip 1 with yerrorbars pt 7 ps 1.2 lc rgb '#1f5fbf', "
                "'' using 5:%d:(sprintf('%%dx%%dx%%d', $1, $2, $3)) skip 1 with labels offset 0,1 font ',8'\n"
                "unset multiplot\n",
                what, seeds, dir, col, sd_col, col);
    else
        fprintf(g,
                "\nset logscale x\nset xlabel 'parameters'\nset title 'final %s against parameters'\nset key off\n"
                "plot '%s/results.csv' using 5:%d skip 1 with points pt 7 ps 1.2 lc rgb '#1f5fbf', "
                "'' using 5:%d:(sprintf('%%dx%%dx%%d', $1, $2, $3)) skip 1 with labels offset 0,1 font ',8'\n"
                "unset multiplot\n",
                what, dir, col, col);
    return plot_close(&pl);
}

/* The two shapes with the lowest mean loss (validation, else train's last
 * tenth) and whether their difference is within the spread: the two
 * ranges mean ± sd overlap, i.e. the difference is at most the two standard
 * deviations added (with one seed there is no spread). */
typedef struct Verdict {
    const Point *best, *second;
    double diff, spread; /* spread NAN with one seed */
    int within;          /* -1: not known (one seed or one shape) */
} Verdict;

static const Stat *ranked(const Point *p, int have_val) { return have_val ? &p->val : &p->train_tail; }

static Verdict verdict_of(const Point *pts, int n, int have_val)
{
    Verdict v = { .diff = NAN, .spread = NAN, .within = -1 };
    for (int i = 0; i < n; i++) {
        double l = ranked(&pts[i], have_val)->mean;
        if (!isfinite(l)) continue;
        if (!v.best || l < ranked(v.best, have_val)->mean) {
            v.second = v.best;
            v.best = &pts[i];
        } else if (!v.second || l < ranked(v.second, have_val)->mean) v.second = &pts[i];
    }
    if (!v.second) return v;
    const Stat *a = ranked(v.best, have_val), *b = ranked(v.second, have_val);
    v.diff = b->mean - a->mean;
    if (isfinite(a->sd) && isfinite(b->sd)) {
        v.spread = a->sd + b->sd;
        v.within = v.diff <= v.spread;
    }
    return v;
}

static json_t *stat_json(const Stat *s)
{
    return json_pack("{s:i,s:o,s:o,s:o,s:o}", "n", s->n, "mean", num(s->mean), "sd", num(s->sd), "min", num(s->min),
                     "max", num(s->max));
}

/* SWEEP/sweep.json: the settings (as settings_check compared them) and the
 * figures of every seed of every point, their means and spreads, and the
 * verdict; rewritten at every invocation. */
static int write_sweep_json(const char *dir, json_t *settings, const Point *pts, int n, int seeds, int have_val,
                            uint64_t batch, const Verdict *v, Err *e)
{
    json_t *arr = json_array();
    int bad = !arr;
    for (int i = 0; i < n && !bad; i++) {
        const Point *p = &pts[i];
        json_t *runs = json_array();
        bad = !runs;
        for (int k = 0; k < seeds && !bad; k++) {
            const Run *r = &p->runs[k];
            bad = json_array_append_new(runs, json_pack("{s:I,s:s,s:f,s:o,s:o,s:o}", "seed", (json_int_t)r->seed,
                                                        "run", r->name, "tokens_per_s", r->tokens_per_s,
                                                        "train_loss_mean_last_tenth", num(r->train_tail),
                                                        "train_loss_last_step", num(r->train_last), "val_loss",
                                                        num(r->val_loss)));
        }
        if (bad) {
            json_decref(runs);
            break;
        }
        char shape[48];
        snprintf(shape, sizeof shape, "%dx%dx%d", p->cfg.n_layer, p->cfg.n_embd, p->cfg.n_head);
        bad = json_array_append_new(
                         arr, json_pack("{s:s,s:i,s:i,s:i,s:f,s:I,s:I,s:f,s:o,s:o,s:o,s:o,s:o}", "shape", shape,
                                        "layers", p->cfg.n_layer, "width", p->cfg.n_embd, "heads", p->cfg.n_head,
                                        "params", p->params, "steps", (json_int_t)p->steps, "tokens",
                                        (json_int_t)(p->steps * batch), "flops", p->flops, "runs", runs,
                                        "tokens_per_s", stat_json(&p->tps), "train_loss_mean_last_tenth",
                                        stat_json(&p->train_tail), "train_loss_last_step", stat_json(&p->train_last),
                                        "val_loss", stat_json(&p->val)));
    }
    json_t *verdict = NULL;
    if (!bad && v->best) {
        char a[48], b[48] = "";
        snprintf(a, sizeof a, "%dx%dx%d", v->best->cfg.n_layer, v->best->cfg.n_embd, v->best->cfg.n_head);
        if (v->second)
            snprintf(b, sizeof b, "%dx%dx%d", v->second->cfg.n_layer, v->second->cfg.n_embd, v->second->cfg.n_head);
        verdict = json_pack("{s:s,s:s,s:o,s:o,s:o,s:o}", "by",
                            have_val ? "val_loss" : "train_loss_mean_last_tenth", "lowest", a, "runner_up",
                            v->second ? json_string(b) : json_null(), "difference", num(v->diff), "spread",
                            num(v->spread), "within_spread", v->within < 0 ? json_null() : json_boolean(v->within));
        bad = !verdict;
    }
    json_t *j = bad ? NULL : json_deep_copy(settings);
    int rc = -1;
    if (j) { /* each set takes its value's reference, failing or not */
        bad = json_object_set_new(j, "seeds", json_integer(seeds));
        bad |= json_object_set_new(j, "spread", json_string("sd: the sample standard deviation over the seeds "
                                                            "(n - 1 in the denominator); null with one seed"));
        bad |= json_object_set_new(j, "points", arr);
        bad |= json_object_set_new(j, "verdict", verdict ? verdict : json_null());
        arr = verdict = NULL;
    }
    if (j && !bad) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/sweep.json", dir);
        rc = write_json(path, j, e);
    } else err_set(e, "out of memory");
    json_decref(j);
    json_decref(arr);
    json_decref(verdict);
    return rc;
}

void sweep_opts_init(SweepOpts *o)
{
    *o = (SweepOpts){ .layers = { 4 }, .widths = { 128 }, .heads = { 4 }, .n_layers = 1, .n_widths = 1,
                      .n_heads = 1, .tolerance = 0.2, .seeds = 1 };
    train_opts_init(&o->t);
}

/* The summary's verdict: the lowest loss and, over several seeds, how far the
 * runner-up is and whether that is within the spread. */
static void print_summary(int seeds, int have_val, const Verdict *v, const char *counts, double secs,
                          const char *dir, int drawn)
{
    const char *what = have_val ? "validation loss" : "train loss (mean of the last 10% of the steps)";
    const Stat *a = ranked(v->best, have_val);
    char shape[48], tail[PATH_MAX + 64];
    snprintf(shape, sizeof shape, "%dx%dx%d", v->best->cfg.n_layer, v->best->cfg.n_embd, v->best->cfg.n_head);
    snprintf(tail, sizeof tail, "%s/results.csv%s%s%s", dir, drawn ? ", " : "", drawn ? dir : "",
             drawn ? "/sweep.png" : "");
    if (seeds < 2) {
        fprintf(stderr, "model: sweep: %s in %.1f s; lowest %s %.4f: %s; %s\n", counts, secs, what, a->mean, shape,
                tail);
        return;
    }
    char runner[320] = "";
    if (v->second) {
        const Stat *b = ranked(v->second, have_val);
        char s2[48];
        snprintf(s2, sizeof s2, "%dx%dx%d", v->second->cfg.n_layer, v->second->cfg.n_embd, v->second->cfg.n_head);
        if (v->within == 1)
            snprintf(runner, sizeof runner, "; the runner-up %s (%.4f ± %.4f) is %.4f behind, WITHIN the spread "
                     "(%.4f, the two standard deviations added): these %d seeds do not tell them apart", s2, b->mean,
                     b->sd, v->diff, v->spread, seeds);
        else if (v->within == 0)
            snprintf(runner, sizeof runner, "; the runner-up %s (%.4f ± %.4f) is %.4f behind, outside the spread "
                     "(%.4f, the two standard deviations added)", s2, b->mean, b->sd, v->diff, v->spread);
    }
    fprintf(stderr, "model: sweep: %s in %.1f s; lowest mean %s %.4f ± %.4f (± the sample standard deviation over "
            "%d seeds): %s%s; %s\n", counts, secs, what, a->mean, a->sd, seeds, shape, runner, tail);
}

int sweep_run(const SweepOpts *opts, Err *e)
{
    SweepOpts copy = *opts; /* the settled lr goes into it, and so into sweep.json */
    SweepOpts *s = &copy;
    TrainOpts *o = &s->t;
    DataMeta meta;
    Shards train = { 0 }, val = { 0 };
    int code = 0;
    if (s->seeds < 1) return err_code(e, 2, "--seeds must be at least 1");
    if (data_scan(o->data_dir, &meta, &train, &val, e)) code = 1;
    int have_val = val.n > 0;
    shards_free(&train);
    shards_free(&val);
    if (code) return code;
    char data_real[PATH_MAX];
    if (!realpath(o->data_dir, data_real)) return err_code(e, 1, "%s: %s", o->data_dir, strerror(errno));
    /* what train_run will settle, settled here too: points are sized and compared by it */
    int V = meta.vocab_size ? meta.vocab_size : o->vocab_size ? o->vocab_size : 50257;
    int T = o->context ? o->context : meta.context ? meta.context : 1024;
    uint64_t batch = o->batch_tokens ? o->batch_tokens : (uint64_t)o->micro_batch * T;
    if (!o->lr) o->lr = train_preset("tiny")->lr;
    uint64_t steps = s->steps ? s->steps : s->tokens ? (s->tokens + batch - 1) / batch : 200;

    int cap = s->n_layers * s->n_widths * s->n_heads, n = 0, skipped = 0, seeds = s->seeds;
    Point *pts = calloc((size_t)cap, sizeof *pts);
    Run *runs = calloc((size_t)cap * (size_t)seeds, sizeof *runs);
    if (!pts || !runs) {
        free(pts);
        free(runs);
        return err_code(e, 1, "out of memory");
    }
    for (int a = 0; a < s->n_layers; a++)
        for (int b = 0; b < s->n_widths; b++)
            for (int c = 0; c < s->n_heads; c++) {
                Point *p = &pts[n];
                p->cfg = (GptConfig){ .n_layer = s->layers[a], .n_embd = s->widths[b], .n_head = s->heads[c],
                                      .n_mlp = o->n_mlp ? o->n_mlp : 4 * s->widths[b], .vocab_size = V, .context = T };
                char shape[48];
                snprintf(shape, sizeof shape, "%dx%dx%d", p->cfg.n_layer, p->cfg.n_embd, p->cfg.n_head);
                if (p->cfg.n_embd % p->cfg.n_head) {
                    fprintf(stderr, "model: sweep: skipping %s: width %d does not divide by %d heads\n", shape,
                            p->cfg.n_embd, p->cfg.n_head);
                    skipped++;
                    continue;
                }
                Err ce;
                if (gpt_config_check(&p->cfg, &ce)) {
                    fprintf(stderr, "model: sweep: skipping %s: %s\n", shape, ce.msg);
                    skipped++;
                    continue;
                }
                p->params = (double)gpt_n_params_real(&p->cfg);
                double step_flops = gpt_flops_per_token(&p->cfg, T) * (double)batch;
                p->steps = steps;
                if (s->budget_flops > 0) {
                    p->steps = (uint64_t)llround(s->budget_flops / step_flops);
                    double got = (double)p->steps * step_flops;
                    if (p->steps == 0 || fabs(got / s->budget_flops - 1) > s->tolerance) {
                        fprintf(stderr, "model: sweep: skipping %s: whole steps of %.4g FLOPs cannot make %.4g within %g%%\n",
                                shape, step_flops, s->budget_flops, 100 * s->tolerance);
                        skipped++;
                        continue;
                    }
                }
                if (s->budget_params > 0 && fabs(p->params / s->budget_params - 1) > s->tolerance) {
                    fprintf(stderr, "model: sweep: skipping %s: %.0f parameters, outside %.0f +-%g%%\n", shape,
                            p->params, s->budget_params, 100 * s->tolerance);
                    skipped++;
                    continue;
                }
                p->flops = (double)p->steps * step_flops;
                snprintf(p->name, sizeof p->name, "L%d-D%d-H%d", p->cfg.n_layer, p->cfg.n_embd, p->cfg.n_head);
                /* seed k of the point: --seed + k (weights and data order both follow it); the
                 * first keeps the folder it had before there were seeds */
                p->runs = runs + (size_t)n * seeds;
                for (int k = 0; k < seeds; k++) {
                    Run *r = &p->runs[k];
                    r->seed = o->seed + (uint64_t)k;
                    if (k == 0) snprintf(r->name, sizeof r->name, "%s", p->name);
                    else snprintf(r->name, sizeof r->name, "%s-seed%" PRIu64, p->name, r->seed);
                }
                n++;
            }
    if (!n) {
        free(pts);
        free(runs);
        return err_code(e, 2, "no shape of the grid is left to train (%d skipped)", skipped);
    }

    if (mkdir(s->out_dir, 0755) && errno != EEXIST) {
        free(pts);
        free(runs);
        return err_code(e, 1, "%s: cannot create the sweep folder: %s", s->out_dir, strerror(errno));
    }
    json_t *settings = settings_json(s, data_real, T, V, batch);
    if (!settings) {
        free(pts);
        free(runs);
        return err_code(e, 1, "out of memory");
    }
    code = settings_check(s->out_dir, settings, e);

    int trained = 0, before = 0, quiet = o->progress == PROGRESS_QUIET;
    double t0 = progress_now();
    for (int i = 0; i < n && !code; i++) {
        Point *p = &pts[i];
        for (int k = 0; k < seeds && !code; k++) {
            Run *r = &p->runs[k];
            char dir[PATH_MAX], latest[PATH_MAX + 16];
            snprintf(dir, sizeof dir, "%s/%s", s->out_dir, r->name);
            rundir_latest_path(latest, sizeof latest, dir);
            int rc = load_result(dir, p, r, e);
            if (rc < 0) {
                code = 1;
                break;
            }
            if (rc == 1) {
                before++;
                continue;
            }
            /* no result.json: a finished log (a crash between the last checkpoint and
             * result.json), an interrupted run (resume it), or nothing yet */
            int has_ckpt = access(latest, F_OK) == 0;
            rc = has_ckpt && at_final_ckpt(dir, p->steps) ? read_log(dir, p->steps, batch, r, e) : 0;
            if (rc < 0) {
                code = 1;
                break;
            }
            if (rc == 0) {
                if (!quiet) {
                    char which[64] = "";
                    if (seeds > 1) snprintf(which, sizeof which, " seed %" PRIu64 " (%d/%d)", r->seed, k + 1, seeds);
                    fprintf(stderr, "model: sweep: point %d/%d: %dx%dx%d%s, %" PRIu64 " steps%s\n", i + 1, n,
                            p->cfg.n_layer, p->cfg.n_embd, p->cfg.n_head, which, p->steps,
                            has_ckpt ? ", resuming from its checkpoint" : "");
                }
                TrainOpts po = *o;
                po.n_layer = p->cfg.n_layer;
                po.n_embd = p->cfg.n_embd;
                po.n_head = p->cfg.n_head;
                po.context = T;
                po.steps = p->steps;
                po.tokens = 0;
                po.keep = 1;
                po.seed = r->seed;
                if (has_ckpt) {
                    po.resume_dir = dir;
                    po.out_dir = NULL;
                } else po.out_dir = dir;
                if ((code = train_run(&po, e))) {
                    char msg[sizeof e->msg];
                    snprintf(msg, sizeof msg, "%s", e->msg);
                    snprintf(e->msg, sizeof e->msg, "sweep point %s: %.900s", r->name, msg);
                    break;
                }
                if ((rc = read_log(dir, p->steps, batch, r, e)) != 1) {
                    if (rc == 0) err_set(e, "%s/log.csv: the run ended short of %" PRIu64 " steps", dir, p->steps);
                    code = 1;
                    break;
                }
                trained++;
            }
            if (save_result(dir, p, r, batch, e)) code = 1;
        }
        p->tps = stat_of(p->runs, seeds, offsetof(Run, tokens_per_s));
        p->train_tail = stat_of(p->runs, seeds, offsetof(Run, train_tail));
        p->train_last = stat_of(p->runs, seeds, offsetof(Run, train_last));
        p->val = stat_of(p->runs, seeds, offsetof(Run, val_loss));
    }
    if (!code) {
        qsort(pts, (size_t)n, sizeof *pts, cmp_points);
        if (write_results(s->out_dir, pts, n, seeds, batch, e)) code = 1;
    }
    Verdict v = verdict_of(pts, n, have_val);
    if (!code && write_sweep_json(s->out_dir, settings, pts, n, seeds, have_val, batch, &v, e)) code = 1;
    json_decref(settings);
    int drawn = 0; /* sweep.png */
    if (!code) {
        drawn = plot_sweep(s->out_dir, pts, n, have_val, seeds);
        print_table(pts, n, seeds, batch);
        if (fflush(stdout)) code = err_code(e, 1, "<stdout>: write: %s", strerror(errno));
    }
    if (!code && !quiet && v.best) {
        char counts[200];
        if (seeds < 2)
            snprintf(counts, sizeof counts, "%d points (%d trained now, %d finished before, %d shapes skipped)", n,
                     trained, before, skipped);
        else
            snprintf(counts, sizeof counts, "%d shapes x %d seeds (%d runs: %d trained now, %d finished before; %d "
                     "shapes skipped)", n, seeds, n * seeds, trained, before, skipped);
        print_summary(seeds, have_val, &v, counts, progress_now() - t0, s->out_dir, drawn);
    }
    free(pts);
    free(runs);
    return code;
}
