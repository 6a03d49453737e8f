/* `model lr-find`: the LR range test (Smith 2015, "Cyclical Learning Rates",
 * as fastai runs it). From a fresh init, AdamW steps with the rate rising
 * exponentially from --min to --max, one rate a step, no warmup or decay; the
 * loss of each step's batch against its rate goes to OUT/lr.csv and lr.png,
 * and the verdict (lrfind_verdict) picks the rate where the smoothed loss falls
 * fastest before it diverges. Smoothing is a running median (a one-batch spike
 * must not bend the curve: an EMA alone turned its decay into the "steepest
 * descent") and then an EMA. No checkpoints: the model is thrown away. */
#include "sweep.h"

#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "data.h"
#include "iofile.h"
#include "plot.h"

#define PROG "model"

/* The median of loss[i-h .. i+h] with h = min(width / 2, i, n - 1 - i): the
 * window shrinks evenly at both ends, so a monotone curve (also its first and
 * last points) comes out exactly as it went in, and a spike of fewer than
 * width / 2 + 1 points never reaches the output. */
static double median_at(const double *loss, int n, int i, int width)
{
    int h = width / 2;
    if (h > i) h = i;
    if (h > n - 1 - i) h = n - 1 - i;
    double w[LR_MEDIAN_MAX];
    int k = 0;
    for (int j = i - h; j <= i + h; j++) { /* insertion sort: at most LR_MEDIAN_MAX values */
        int at = k++;
        while (at > 0 && w[at - 1] > loss[j]) {
            w[at] = w[at - 1];
            at--;
        }
        w[at] = loss[j];
    }
    return w[k / 2];
}

int lrfind_verdict(const double *lr, const double *loss, int n, int median, double beta, double div_factor,
                   LrVerdict *v)
{
    *v = (LrVerdict){ .i_min = -1, .i_div = n, .i_steep = -1 };
    if (n < 1 || median < 1 || median % 2 == 0 || median > LR_MEDIAN_MAX) return -1;
    if (!(v->smoothed = malloc((size_t)n * sizeof(double)))) return -1;
    int n_fin = 0; /* the points before the first loss that is not a number: the median sees only them */
    while (n_fin < n && isfinite(loss[n_fin])) n_fin++;
    double avg = 0, best = INFINITY;
    for (int i = 0; i < n; i++) {
        if (i == n_fin) {
            for (int k = i; k < n; k++) v->smoothed[k] = NAN;
            if (v->i_div == n) v->i_div = i;
            break;
        }
        avg = beta * avg + (1 - beta) * median_at(loss, n_fin, i, median);
        v->smoothed[i] = avg / (1 - pow(beta, i + 1)); /* bias correction: the average starts at 0 */
        if (v->i_div < n) continue;
        if (v->smoothed[i] > div_factor * best) {
            v->i_div = i;
            continue;
        }
        if (v->smoothed[i] < best) {
            best = v->smoothed[i];
            v->i_min = i;
        }
    }
    /* steepest descent up to the minimum: central differences against ln(lr) */
    for (int i = 1; i <= v->i_min && i + 1 < n; i++) {
        double s = (v->smoothed[i + 1] - v->smoothed[i - 1]) / (log(lr[i + 1]) - log(lr[i - 1]));
        if (isfinite(s) && s < 0 && (v->i_steep < 0 || s < v->slope)) {
            v->i_steep = i;
            v->slope = s;
        }
    }
    if (v->i_steep >= 0) v->suggested = lr[v->i_steep];
    return 0;
}

/* 1 when lr.png was drawn */
static int plot_lr(const char *dir, const LrVerdict *v, int have_div, double lr_div, double lr_lo, double lr_hi)
{
    char png[PATH_MAX + 16], csv[PATH_MAX + 16];
    if (strchr(dir, '\'')) return 0; /* gnuplot's strings are quoted with ' */
    snprintf(png, sizeof png, "%s/lr.png", dir);
    snprintf(csv, sizeof csv, "%s/lr.csv", dir);
    Plot pl;
    if (plot_open(&pl, png)) return 0;
    FILE *g = pl.g;
    fprintf(g,
            "set terminal pngcairo size 900,540\nset output '%s'\nset datafile separator ','\n"
            "set title 'LR range test: %s'\nset logscale x\nset format x '%%.0e'\n"
            "set xrange [%.9g:%.9g]\nset xlabel 'learning rate'\nset ylabel 'loss (nats/token)'\nset grid\nset key top left\n",
            pl.tmp, dir, lr_lo, lr_hi);
    if (v->i_steep >= 0)
        fprintf(g, "set arrow from %.9g, graph 0 to %.9g, graph 1 nohead lc rgb '#2a9d2a' dt 2\n"
                   "set label 'suggested %.3g' at %.9g, graph 0.95 left offset 0.5,0 tc rgb '#2a9d2a'\n",
                v->suggested, v->suggested, v->suggested, v->suggested);
    if (have_div)
        fprintf(g, "set arrow from %.9g, graph 0 to %.9g, graph 1 nohead lc rgb '#c03030' dt 2\n"
                   "set label 'diverged' at %.9g, graph 0.88 left offset 0.5,0 tc rgb '#c03030'\n",
                lr_div, lr_div, lr_div);
    /* y range: up to a little over the first loss, so the blow-up does not flatten the rest */
    fprintf(g, "stats '%s' using 3 skip 1 nooutput\nset yrange [*:STATS_max < 2*STATS_min + 4 ? STATS_max : 2*STATS_min + 4]\n"
               "plot '%s' using 2:3 skip 1 with lines lc rgb '#bbbbbb' title 'loss', "
               "'' using 2:4 skip 1 with lines lw 2 lc rgb '#1f5fbf' title 'smoothed'\n",
            csv, csv);
    return plot_close(&pl);
}

void lrfind_opts_init(LrOpts *o)
{
    *o = (LrOpts){ .lr_min = 1e-6, .lr_max = 1, .median = 5, .beta = 0.9, .div_factor = 4, .steps = 100 };
    train_opts_init(&o->t);
}

int lrfind_run(const LrOpts *lo, Err *e)
{
    const TrainOpts *o = &lo->t;
    int code = 1;
    DataMeta meta;
    Shards train = { 0 }, val = { 0 };
    Gpt g = { 0 };
    Kern kern = { 0 };
    GPool *pool = NULL;
    Loader ld = { 0 };
    int *x = NULL;
    double *lrs = NULL, *losses = NULL;
    OutFile *out = NULL;
    LrVerdict v = { 0 };
    Progress pr;
    progress_start(&pr, PROG, o->progress, lo->steps);

    /* the shape and the data, settled as 'model train' settles them */
    const TrainPreset *p = train_preset(o->preset ? o->preset : "tiny");
    GptConfig cfg = { .n_layer = o->n_layer ? o->n_layer : p->n_layer,
                      .n_embd = o->n_embd ? o->n_embd : p->n_embd,
                      .n_head = o->n_head ? o->n_head : p->n_head };
    cfg.n_mlp = o->n_mlp ? o->n_mlp : 4 * cfg.n_embd;
    if (data_scan(o->data_dir, &meta, &train, &val, e)) goto done;
    if (meta.vocab_size && o->vocab_size && o->vocab_size != meta.vocab_size) {
        err_set(e, "--vocab-size %d, but the data says %d", o->vocab_size, meta.vocab_size);
        code = 2;
        goto done;
    }
    cfg.vocab_size = meta.vocab_size ? meta.vocab_size : o->vocab_size ? o->vocab_size : 50257;
    int T = o->context ? o->context : meta.context ? meta.context : 1024;
    cfg.context = T;
    if (gpt_config_check(&cfg, e)) {
        code = 2;
        goto done;
    }
    if (shards_map(&train, T, meta.best_fit, e)) goto done;
    int B = o->micro_batch;
    uint64_t micro = (uint64_t)B * T, bt = o->batch_tokens ? o->batch_tokens : micro;
    if (bt % micro) {
        err_set(e, "--batch %llu tokens is not a multiple of a micro-batch (%d x %d)", (unsigned long long)bt, B, T);
        code = 2;
        goto done;
    }
    int accum = (int)(bt / micro);
    int n = (int)lo->steps;
    unsigned threads = gpool_size(o->threads, cli_cores());
    if (!pr.quiet)
        fprintf(stderr, "model: lr-find: %zu parameters (%d layers, width %d, %d heads, vocabulary %d, context %d), "
                        "%llu tokens a step, %d steps from lr %g to %g, %u threads\n",
                gpt_n_params_real(&cfg), cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.vocab_size, T,
                (unsigned long long)bt, n, lo->lr_min, lo->lr_max, threads);

    openblas_set_num_threads(1); /* our threads split the products */
    if (!(pool = gpool_new(threads))) {
        err_set(e, "cannot start %u threads", threads);
        goto done;
    }
    if (kern_open(&kern, o->dev.device, o->dev.prec, pool, e) || gpt_init(&g, &cfg, B, T, &kern, 1, e) ||
        gpt_init_weights(&g, o->seed, e))
        goto done;
    if (loader_init(&ld, &train, o->seed, 0, 0, e)) goto done;
    x = malloc(2 * sizeof(int) * micro);
    lrs = malloc((size_t)n * sizeof(double));
    losses = malloc((size_t)n * sizeof(double));
    if (!x || !lrs || !losses) {
        err_set(e, "out of memory");
        goto done;
    }
    int *y = x + micro;
    double best = INFINITY, avg = 0;
    int done_steps = 0, half = lo->median / 2;
    for (int i = 0; i < n; i++) {
        /* lr_i = min (max/min)^(i/(n-1)): the first step at min, the last at max */
        double lr = n > 1 ? lo->lr_min * pow(lo->lr_max / lo->lr_min, (double)i / (n - 1)) : lo->lr_min;
        gpt_zero_grad(&g);
        double loss = 0;
        for (int k = 0; k < accum; k++) {
            if (loader_next(&ld, B, cfg.vocab_size, x, y, e)) goto done;
            gpt_set_backward(&g, 1.0f / (float)accum);
            gpt_forward(&g, x, y, B, T);
            gpt_backward(&g, 1.0f / (float)accum);
            loss += g.loss;
        }
        loss /= accum;
        gpt_adamw_step(&g, &o->adam, (float)lr);
        lrs[i] = lr;
        losses[i] = loss;
        done_steps = i + 1;
        progress_update(&pr, (uint64_t)i + 1, 0, (uint64_t)(i + 1) * bt, "tokens");
        if (!isfinite(loss)) break; /* every later step is NaN too */
        /* --stop-div sees the curve as the verdict will: point j = i - half
         * has its whole median window now, so a blow-up stops the run half
         * a window (2 steps by default) after the verdict's divergence */
        int j = i - half;
        if (j < 0) continue;
        avg = lo->beta * avg + (1 - lo->beta) * median_at(losses, i + 1, j, lo->median);
        double sm = avg / (1 - pow(lo->beta, j + 1));
        if (sm < best) best = sm;
        if (lo->stop_div && sm > lo->div_factor * best) break;
    }
    progress_end(&pr);
    if (lrfind_verdict(lrs, losses, done_steps, lo->median, lo->beta, lo->div_factor, &v)) {
        err_set(e, "out of memory");
        goto done;
    }

    const char *out_dir = lo->out_dir;
    if (mkdir(out_dir, 0755) && errno != EEXIST) {
        err_sys(e, out_dir, "cannot create the folder");
        goto done;
    }
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/lr.csv", out_dir);
    if (!(out = out_open(path, e))) goto done;
    char line[160];
    int len = snprintf(line, sizeof line, "step,lr,loss,smoothed\n");
    if (out_write(out, line, (size_t)len, e)) goto done;
    for (int i = 0; i < done_steps; i++) {
        if (isfinite(losses[i]))
            len = snprintf(line, sizeof line, "%d,%.9g,%.9g,%.9g\n", i + 1, lrs[i], losses[i], v.smoothed[i]);
        else len = snprintf(line, sizeof line, "%d,%.9g,,\n", i + 1, lrs[i]);
        if (out_write(out, line, (size_t)len, e)) goto done;
    }
    int rc = out_close(out, e);
    out = NULL;
    if (rc) goto done;
    int have_div = v.i_div < done_steps;
    int drawn = plot_lr(out_dir, &v, have_div, have_div ? lrs[v.i_div] : 0, lrs[0], lrs[done_steps - 1]);

    /* the verdict, with the reasoning */
    printf("lr-find: %d steps, lr %g to %g (x%.4g a step); first loss %.4f\n", done_steps, lrs[0],
           lrs[done_steps - 1], n > 1 ? pow(lo->lr_max / lo->lr_min, 1.0 / (n - 1)) : 1.0, losses[0]);
    if (v.i_min >= 0)
        printf("  lowest smoothed loss (running median of %d, then moving average, weight %g on the past): "
               "%.4f at lr %.4g (step %d)\n",
               lo->median, lo->beta, v.smoothed[v.i_min], lrs[v.i_min], v.i_min + 1);
    if (have_div)
        printf("  diverged at lr %.4g (step %d): %s\n", lrs[v.i_div], v.i_div + 1,
               isfinite(losses[v.i_div]) ? "smoothed loss above --div-factor x its minimum"
                                         : "the loss is not a number");
    else
        printf("  did not diverge up to lr %.4g: a larger --max would show where it does\n", lrs[done_steps - 1]);
    if (v.i_steep >= 0) {
        printf("  steepest descent: %.4f nats per e-fold of lr at lr %.4g (step %d), before the minimum\n", v.slope,
               v.suggested, v.i_steep + 1);
        char below[64] = "";
        if (have_div) snprintf(below, sizeof below, ", %.3gx below where it diverged", lrs[v.i_div] / v.suggested);
        printf("suggested lr: %.4g (steepest descent of the smoothed loss%s; the minimum's lr / 10 would be %.4g)\n",
               v.suggested, below, lrs[v.i_min] / 10);
    } else {
        printf("no suggestion: the smoothed loss never fell (try a lower --min or more --steps)\n");
    }
    if (fflush(stdout)) {
        err_sys(e, "stdout", "write");
        goto done;
    }
    progress_summary(&pr, "lr-find: %d steps, %llu tokens in %.1f s; %s/lr.csv%s%s%s", done_steps,
                     (unsigned long long)done_steps * bt, progress_elapsed(&pr), out_dir, drawn ? ", " : "",
                     drawn ? out_dir : "", drawn ? "/lr.png" : "");
    code = 0;
done:
    progress_end(&pr);
    out_abort(out);
    free(v.smoothed);
    free(x);
    free(lrs);
    free(losses);
    loader_free(&ld);
    gpt_free(&g);
    kern_free(&kern);
    gpool_free(pool);
    shards_free(&train);
    shards_free(&val);
    return code;
}
