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

/* One grid point and, once trained, its results. */
typedef struct Point {
    GptConfig cfg;
    char name[64];
    uint64_t steps;
    double params, flops; /* parameters a user counts; training FLOPs of the whole run */
    double tokens_per_s, train_loss, val_loss;
    int done_before;
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
static int read_log(const char *dir, uint64_t steps, uint64_t batch, Point *p, Err *e)
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
        p->train_loss = sum / (double)tail;
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

static int save_result(const char *dir, const Point *p, uint64_t batch, Err *e)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/result.json", dir);
    json_t *j = json_pack("{s:i,s:i,s:i,s:I,s:I,s:f,s:f,s:f,s:f,s:o}", "layers", p->cfg.n_layer, "width",
                          p->cfg.n_embd, "heads", p->cfg.n_head, "steps", (json_int_t)p->steps, "tokens",
                          (json_int_t)(p->steps * batch), "params", p->params, "flops", p->flops,
                          "tokens_per_s", p->tokens_per_s, "train_loss", p->train_loss, "val_loss",
                          isfinite(p->val_loss) ? json_real(p->val_loss) : json_null());
    if (!j) return err_set(e, "out of memory");
    int rc = write_json(path, j, e);
    json_decref(j);
    return rc;
}

/* 1 when dir/result.json is there and is this point's (its figures into p), 0 when absent. */
static int load_result(const char *dir, Point *p, Err *e)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/result.json", dir);
    if (access(path, F_OK)) return 0;
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) return err_set(e, "%s:%d: %s", path, je.line, je.text);
    json_int_t L, D, H, steps;
    double tps, tl;
    json_t *vl;
    int rc = json_unpack_ex(j, &je, 0, "{s:I,s:I,s:I,s:I,s:F,s:F,s:o}", "layers", &L, "width", &D, "heads", &H,
                            "steps", &steps, "tokens_per_s", &tps, "train_loss", &tl, "val_loss", &vl);
    if (rc) rc = err_set(e, "%s: %s", path, je.text);
    else if (L != p->cfg.n_layer || D != p->cfg.n_embd || H != p->cfg.n_head || (uint64_t)steps != p->steps)
        rc = err_set(e, "%s: the result of another point (%lldx%lldx%lld, %lld steps)", path, (long long)L,
                     (long long)D, (long long)H, (long long)steps);
    else {
        p->tokens_per_s = tps;
        p->train_loss = tl;
        p->val_loss = json_is_number(vl) ? json_number_value(vl) : NAN;
        rc = 1;
    }
    json_decref(j);
    return rc;
}

static int cmp_points(const void *a, const void *b)
{
    const Point *x = a, *y = b;
    if (x->params != y->params) return x->params < y->params ? -1 : 1;
    if (x->cfg.n_layer != y->cfg.n_layer) return x->cfg.n_layer - y->cfg.n_layer;
    return x->cfg.n_head - y->cfg.n_head;
}

static int write_results(const char *dir, const Point *pts, int n, uint64_t batch, Err *e)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    OutFile *o = out_open(path, e);
    if (!o) return -1;
    char line[512];
    int len = snprintf(line, sizeof line,
                       "layers,width,heads,head_dim,params,steps,tokens,flops,tokens_per_s,train_loss,val_loss,run\n");
    if (out_write(o, line, (size_t)len, e)) goto bad;
    for (int i = 0; i < n; i++) {
        const Point *p = &pts[i];
        char val[32] = "";
        if (isfinite(p->val_loss)) snprintf(val, sizeof val, "%.6f", p->val_loss);
        len = snprintf(line, sizeof line, "%d,%d,%d,%d,%.0f,%" PRIu64 ",%" PRIu64 ",%.4g,%.1f,%.6f,%s,%s\n",
                       p->cfg.n_layer, p->cfg.n_embd, p->cfg.n_head, p->cfg.n_embd / p->cfg.n_head, p->params,
                       p->steps, p->steps * batch, p->flops, p->tokens_per_s, p->train_loss, val, p->name);
        if (out_write(o, line, (size_t)len, e)) goto bad;
    }
    return out_close(o, e);
bad:
    out_abort(o);
    return -1;
}

static void print_table(const Point *pts, int n, uint64_t batch)
{
    printf("%-14s %5s %9s %9s %9s %10s %10s %9s\n", "shape LxDxH", "hdim", "params", "tokens", "FLOPs",
           "tokens/s", "train loss", "val loss");
    for (int i = 0; i < n; i++) {
        const Point *p = &pts[i];
        char shape[48], par[16], tok[16], fl[16], tps[16], val[16] = "-";
        snprintf(shape, sizeof shape, "%dx%dx%d", p->cfg.n_layer, p->cfg.n_embd, p->cfg.n_head);
        progress_si(par, sizeof par, p->params);
        progress_si(tok, sizeof tok, (double)(p->steps * batch));
        progress_si(fl, sizeof fl, p->flops);
        progress_si(tps, sizeof tps, p->tokens_per_s);
        if (isfinite(p->val_loss)) snprintf(val, sizeof val, "%.4f", p->val_loss);
        printf("%-14s %5d %9s %9s %9s %10s %10.4f %9s\n", shape, p->cfg.n_embd / p->cfg.n_head, par, tok, fl, tps,
               p->train_loss, val);
    }
}

/* SWEEP/sweep.png: left, validation loss against step for every point (train
 * loss when there are no validation shards); right, final loss against parameters. */
/* 1 when sweep.png was drawn */
static int plot_sweep(const char *dir, const Point *pts, int n, int have_val)
{
    char png[PATH_MAX];
    if (strchr(dir, '\'')) return 0; /* gnuplot's strings are quoted with ' */
    snprintf(png, sizeof png, "%s/sweep.png", dir);
    Plot pl;
    if (plot_open(&pl, png)) return 0;
    FILE *g = pl.g;
    const char *what = have_val ? "validation loss" : "train loss";
    fprintf(g,
            "set terminal pngcairo size 1400,560\nset output '%s'\nset datafile separator ','\n"
            "set multiplot layout 1,2 title 'model sweep: %s'\n"
            "set grid\nset key outside right top\nset xlabel 'step'\nset ylabel '%s (nats/token)'\n"
            "set title '%s against step'\nplot ",
            pl.tmp, dir, what, what);
    for (int i = 0; i < n; i++)
        fprintf(g, "%s'%s/%s/log.csv' using 1:%d skip 1 with linespoints pt 7 ps 0.5 title '%dx%dx%d'", i ? ", " : "",
                dir, pts[i].name, have_val ? 4 : 3, pts[i].cfg.n_layer, pts[i].cfg.n_embd, pts[i].cfg.n_head);
    fprintf(g,
            "\nset logscale x\nset xlabel 'parameters'\nset title 'final %s against parameters'\nset key off\n"
            "plot '%s/results.csv' using 5:%d skip 1 with points pt 7 ps 1.2 lc rgb '#1f5fbf', "
            "'' using 5:%d:(sprintf('%%dx%%dx%%d', $1, $2, $3)) skip 1 with labels offset 0,1 font ',8'\n"
            "unset multiplot\n",
            what, dir, have_val ? 11 : 10, have_val ? 11 : 10);
    return plot_close(&pl);
}

void sweep_opts_init(SweepOpts *o)
{
    *o = (SweepOpts){ .layers = { 4 }, .widths = { 128 }, .heads = { 4 }, .n_layers = 1, .n_widths = 1,
                      .n_heads = 1, .tolerance = 0.2 };
    train_opts_init(&o->t);
}

int sweep_run(const SweepOpts *opts, Err *e)
{
    SweepOpts copy = *opts; /* the settled lr goes into it, and so into sweep.json */
    SweepOpts *s = &copy;
    TrainOpts *o = &s->t;
    DataMeta meta;
    Shards train = { 0 }, val = { 0 };
    int code = 0;
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

    int cap = s->n_layers * s->n_widths * s->n_heads, n = 0, skipped = 0;
    Point *pts = calloc((size_t)cap, sizeof *pts);
    if (!pts) return err_code(e, 1, "out of memory");
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
                n++;
            }
    if (!n) {
        free(pts);
        return err_code(e, 2, "no shape of the grid is left to train (%d skipped)", skipped);
    }

    if (mkdir(s->out_dir, 0755) && errno != EEXIST) {
        free(pts);
        return err_code(e, 1, "%s: cannot create the sweep folder: %s", s->out_dir, strerror(errno));
    }
    json_t *settings = settings_json(s, data_real, T, V, batch);
    if (!settings) {
        free(pts);
        return err_code(e, 1, "out of memory");
    }
    code = settings_check(s->out_dir, settings, e);
    json_decref(settings);
    if (code) {
        free(pts);
        return code;
    }

    int trained = 0, before = 0, quiet = o->progress == PROGRESS_QUIET;
    double t0 = progress_now();
    for (int i = 0; i < n && !code; i++) {
        Point *p = &pts[i];
        char dir[PATH_MAX], latest[PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/%s", s->out_dir, p->name);
        rundir_latest_path(latest, sizeof latest, dir);
        int rc = load_result(dir, p, e);
        if (rc < 0) code = 1;
        else if (rc == 1) {
            p->done_before = 1;
            before++;
            continue;
        }
        if (code) break;
        /* no result.json: a finished log (a crash between the last checkpoint and
         * result.json), an interrupted run (resume it), or nothing yet */
        int has_ckpt = access(latest, F_OK) == 0;
        rc = has_ckpt && at_final_ckpt(dir, p->steps) ? read_log(dir, p->steps, batch, p, e) : 0;
        if (rc < 0) {
            code = 1;
            break;
        }
        if (rc == 0) {
            if (!quiet)
                fprintf(stderr, "model: sweep: point %d/%d: %dx%dx%d, %" PRIu64 " steps%s\n", i + 1, n,
                        p->cfg.n_layer, p->cfg.n_embd, p->cfg.n_head, p->steps,
                        has_ckpt ? ", resuming from its checkpoint" : "");
            TrainOpts po = *o;
            po.n_layer = p->cfg.n_layer;
            po.n_embd = p->cfg.n_embd;
            po.n_head = p->cfg.n_head;
            po.context = T;
            po.steps = p->steps;
            po.tokens = 0;
            po.keep = 1;
            if (has_ckpt) {
                po.resume_dir = dir;
                po.out_dir = NULL;
            } else po.out_dir = dir;
            if ((code = train_run(&po, e))) {
                char msg[sizeof e->msg];
                snprintf(msg, sizeof msg, "%s", e->msg);
                snprintf(e->msg, sizeof e->msg, "sweep point %s: %.900s", p->name, msg);
                break;
            }
            if ((rc = read_log(dir, p->steps, batch, p, e)) != 1) {
                if (rc == 0) err_set(e, "%s/log.csv: the run ended short of %" PRIu64 " steps", dir, p->steps);
                code = 1;
                break;
            }
            trained++;
        }
        if (save_result(dir, p, batch, e)) code = 1;
    }
    if (!code) {
        qsort(pts, (size_t)n, sizeof *pts, cmp_points);
        if (write_results(s->out_dir, pts, n, batch, e)) code = 1;
    }
    int drawn = 0; /* sweep.png */
    if (!code) {
        drawn = plot_sweep(s->out_dir, pts, n, have_val);
        print_table(pts, n, batch);
        if (fflush(stdout)) code = err_code(e, 1, "stdout: write error");
    }
    if (!code && !quiet) {
        const Point *best = NULL;
        for (int i = 0; i < n; i++) {
            double l = have_val ? pts[i].val_loss : pts[i].train_loss;
            if (isfinite(l) && (!best || l < (have_val ? best->val_loss : best->train_loss))) best = &pts[i];
        }
        fprintf(stderr,
                "model: sweep: %d points (%d trained now, %d finished before, %d shapes skipped) in %.1f s; "
                "lowest %s loss %.4f: %dx%dx%d; %s/results.csv%s%s%s\n",
                n, trained, before, skipped, progress_now() - t0, have_val ? "validation" : "train",
                have_val ? best->val_loss : best->train_loss, best->cfg.n_layer, best->cfg.n_embd,
                best->cfg.n_head, s->out_dir, drawn ? ", " : "", drawn ? s->out_dir : "", drawn ? "/sweep.png" : "");
    }
    free(pts);
    return code;
}
