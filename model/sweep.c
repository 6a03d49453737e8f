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

#define PROG "model"
#define MAX_LIST 64

const char sweep_train_help[] =
    "Data and batch (as 'model train'):\n"
    "  --context T          tokens a sequence (default: meta.json's, else 1024)\n"
    "  --batch TOKENS       tokens a step (default: one micro-batch); gradients\n"
    "                       accumulate over micro-batches\n"
    "  --micro-batch SEQS   sequences a forward/backward pass (default 8)\n"
    "  --vocab-size N --eot ID   for bare llm.c shards (default GPT-2's 50257, 50256)\n"
    "  --seed N             initial weights and data order (default 1337)\n"
    "AdamW (GPT-3's):\n"
    "  --weight-decay W     (default 0.1)   --clip N   gradient-norm clipping (default 1.0)\n"
    "  --beta1 B --beta2 B --eps E   (default 0.9, 0.95, 1e-8)\n";

int sweep_train_option(const char *prog, TrainOpts *o, int argc, char **argv, int *i)
{
    static const char *const names[] = { "--context", "--vocab-size", "--eot", "--batch", "--micro-batch",
                                         "--weight-decay", "--beta1", "--beta2", "--eps", "--clip", "--seed" };
    const char *a = argv[*i];
    size_t k = 0;
    while (k < sizeof names / sizeof names[0] && strcmp(a, names[k])) k++;
    if (k == sizeof names / sizeof names[0]) return 0;
    if (*i + 1 >= argc) return cli_bad_usage(prog, "%s needs a value", a);
    const char *v = argv[++*i];
    uint64_t n = 0;
    double d = 0;
    int bad = 0;
    switch (k) {
    case 0: bad = cli_u64(v, 1, 1 << 20, &n); o->context = (int)n; break;
    case 1: bad = cli_u64(v, 2, 1u << 31, &n); o->vocab_size = (int)n; break;
    case 2: bad = cli_u64(v, 0, 1u << 31, &n); o->eot_id = (int)n; break;
    case 3: bad = cli_u64(v, 1, UINT64_C(1) << 40, &n); o->batch_tokens = n; break;
    case 4: bad = cli_u64(v, 1, 1 << 16, &n); o->micro_batch = (int)n; break;
    case 5: bad = cli_double(v, 0, 10, &d); o->adam.weight_decay = (float)d; break;
    case 6: bad = cli_double(v, 0, 0.999999, &d); o->adam.beta1 = (float)d; break;
    case 7: bad = cli_double(v, 0, 0.999999999, &d); o->adam.beta2 = (float)d; break;
    case 8: bad = cli_double(v, 1e-30, 1, &d); o->adam.eps = (float)d; break;
    case 9: bad = cli_double(v, 0, 1e9, &d); o->adam.clip = (float)d; break;
    default: bad = cli_u64(v, 0, INT64_MAX, &n); o->seed = n; break;
    }
    if (bad) return cli_bad_usage(prog, "%s needs a number in range, not '%s'", a, v);
    return 1;
}

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

typedef struct SweepOpts {
    TrainOpts t;
    const char *out_dir;
    int layers[MAX_LIST], widths[MAX_LIST], heads[MAX_LIST];
    int n_layers, n_widths, n_heads;
    uint64_t steps, tokens;
    double budget_params, budget_flops, tolerance;
} SweepOpts;

/* One grid point and, once trained, its results. */
typedef struct Point {
    GptConfig cfg;
    char name[64];
    uint64_t steps;
    double params, flops; /* parameters a user counts; training FLOPs of the whole run */
    double tokens_per_s, train_loss, val_loss;
    int done_before;
} Point;

static int sweep_usage(FILE *f, int code)
{
    fputs("usage: model sweep --data DIR -o SWEEP --layers 2,4 --width 64,128 --heads 2,4 [--steps N | --tokens N]\n"
          "       model sweep --data DIR -o SWEEP --layers ... --width ... --heads ... --budget-params P | --budget-flops F\n"
          "\n"
          "Short real trainings ('model train', same code) of every shape of the grid\n"
          "layers x width x heads, on DIR's shards, with the same seed, batch, schedule and\n"
          "tokens for each, to answer 'which shape learns best on my data' with numbers.\n"
          "Shapes whose width does not divide by the heads are skipped, with a message.\n"
          "Each point trains into SWEEP/L<layers>-D<width>-H<heads>/ (log.csv, loss.png,\n"
          "a checkpoint) and leaves result.json there when it finishes. Writes\n"
          "SWEEP/results.csv (layers, width, heads, head_dim, params, steps, tokens, flops,\n"
          "tokens_per_s, train_loss, val_loss), prints the same table on stdout, and draws\n"
          "SWEEP/sweep.png: validation loss against step for each shape, and final\n"
          "validation loss against parameters. The train loss is the mean of the last\n"
          "tenth of the steps; the validation loss is the last evaluation's.\n"
          "Resumable: run it again with the same options and finished points are not\n"
          "trained again (the table is rebuilt from their result.json), an interrupted one\n"
          "continues from its checkpoint, and grid values added since are trained. A\n"
          "SWEEP folder keeps its settings (SWEEP/sweep.json): other training options\n"
          "need another -o.\n"
          "\n"
          "Grid and length:\n"
          "  --layers LIST        layer counts, comma-separated (default 4)\n"
          "  --width LIST         widths (default 128)\n"
          "  --heads LIST         attention heads (default 4)\n"
          "  --steps N            optimizer steps of every point (default 200)\n"
          "  --tokens N           or tokens of every point (rounded up to whole steps)\n"
          "  --budget-params P    only the shapes whose parameters are within --tolerance\n"
          "                       of P (hold size fixed; compare aspect ratios)\n"
          "  --budget-flops F     every shape trains for F training FLOPs (6N + 12LDT a\n"
          "                       token): steps = F / (FLOPs a step), so small models see\n"
          "                       more tokens (an IsoFLOP profile, as Chinchilla's approach\n"
          "                       2); shapes whose whole steps miss F by more than\n"
          "                       --tolerance are skipped\n"
          "  --tolerance F        relative, for both budgets (default 0.2, i.e. +-20%)\n"
          "Training (as 'model train', the same for every point):\n"
          "  --lr LR              peak learning rate (default 2e-3, tiny's)\n"
          "  --schedule S         cosine (default), linear, constant or wsd\n"
          "  --warmup N           warmup steps (default 5% of the steps)\n"
          "  --min-lr-frac F --decay-frac F   (default 0.1, 0.2)\n"
          "  --eval-every N       validation every N steps (default: ten a run)\n"
          "  --eval-batches N     micro-batches of validation windows (default 20)\n",
          f);
    fputs(sweep_train_help, f);
    fputs(cli_common_help, f);
    fputs("\n  example: model sweep --data data/ -o sweep/ --layers 2,4,8 --width 128,256 --heads 4,8 --steps 300 --context 128\n"
          "           model sweep --data data/ -o iso/ --layers 1,2,4,8 --width 64,128,256 --heads 4 --budget-flops 2e13\n",
          f);
    return code;
}

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
static json_t *settings_json(const SweepOpts *s, const char *data_real, int T, int V, uint64_t batch)
{
    const TrainOpts *o = &s->t;
    return json_pack("{s:s,s:i,s:i,s:I,s:i,s:I,s:I,s:f,s:f,s:f,s:s,s:f,s:f,s:I,s:f,s:f,s:f,s:f,s:f,s:I,s:i,s:I}",
                     "data", data_real, "context", T, "vocab_size", V, "batch_tokens", (json_int_t)batch,
                     "micro_batch", o->micro_batch, "steps", (json_int_t)s->steps, "tokens",
                     (json_int_t)s->tokens, "budget_params", s->budget_params, "budget_flops", s->budget_flops,
                     "tolerance", s->tolerance, "schedule", sched_name(o->schedule), "lr", o->lr, "min_frac",
                     o->min_frac, "warmup", (json_int_t)o->warmup, "decay_frac", o->decay_frac, "weight_decay",
                     (double)o->adam.weight_decay, "beta1", (double)o->adam.beta1, "beta2",
                     (double)o->adam.beta2, "clip", (double)o->adam.clip, "eval_every",
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
        if (!w || !json_equal(v, w)) {
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
static int at_final_ckpt(const char *latest, uint64_t steps)
{
    char want[64], got[64] = "";
    snprintf(want, sizeof want, "ckpt-%06" PRIu64 ".bin", steps);
    FILE *f = fopen(latest, "r");
    if (!f) return 0;
    if (!fgets(got, sizeof got, f)) got[0] = 0;
    fclose(f);
    got[strcspn(got, "\r\n")] = 0;
    return !strcmp(got, want);
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
static void plot_sweep(const char *dir, const Point *pts, int n, int have_val)
{
    char png[PATH_MAX], tmp[PATH_MAX + 32];
    if (strchr(dir, '\'')) return; /* gnuplot's strings are quoted with ' */
    snprintf(png, sizeof png, "%s/sweep.png", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", png, (long)getpid());
    FILE *g = popen("gnuplot 2>/dev/null", "w");
    if (!g) return;
    const char *what = have_val ? "validation loss" : "train loss";
    fprintf(g,
            "set terminal pngcairo size 1400,560\nset output '%s'\nset datafile separator ','\n"
            "set multiplot layout 1,2 title 'model sweep: %s'\n"
            "set grid\nset key outside right top\nset xlabel 'step'\nset ylabel '%s (nats/token)'\n"
            "set title '%s against step'\nplot ",
            tmp, dir, what, what);
    for (int i = 0; i < n; i++)
        fprintf(g, "%s'%s/%s/log.csv' using 1:%d skip 1 with linespoints pt 7 ps 0.5 title '%dx%dx%d'", i ? ", " : "",
                dir, pts[i].name, have_val ? 4 : 3, pts[i].cfg.n_layer, pts[i].cfg.n_embd, pts[i].cfg.n_head);
    fprintf(g,
            "\nset logscale x\nset xlabel 'parameters'\nset title 'final %s against parameters'\nset key off\n"
            "plot '%s/results.csv' using 5:%d skip 1 with points pt 7 ps 1.2 lc rgb '#1f5fbf', "
            "'' using 5:%d:(sprintf('%%dx%%dx%%d', $1, $2, $3)) skip 1 with labels offset 0,1 font ',8'\n"
            "unset multiplot\n",
            what, dir, have_val ? 11 : 10, have_val ? 11 : 10);
    if (pclose(g) == 0) rename(tmp, png);
    else unlink(tmp);
}

static int sweep_run(SweepOpts *s, Err *e)
{
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
        snprintf(latest, sizeof latest, "%s/latest", dir);
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
        rc = has_ckpt && at_final_ckpt(latest, p->steps) ? read_log(dir, p->steps, batch, p, e) : 0;
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
    if (!code) {
        plot_sweep(s->out_dir, pts, n, have_val);
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
                "lowest %s loss %.4f: %dx%dx%d; %s/results.csv, %s/sweep.png\n",
                n, trained, before, skipped, progress_now() - t0, have_val ? "validation" : "train",
                have_val ? best->val_loss : best->train_loss, best->cfg.n_layer, best->cfg.n_embd,
                best->cfg.n_head, s->out_dir, s->out_dir);
    }
    free(pts);
    return code;
}

int sweep_main(int argc, char **argv)
{
    SweepOpts s = { .layers = { 4 }, .widths = { 128 }, .heads = { 4 }, .n_layers = 1, .n_widths = 1,
                    .n_heads = 1, .tolerance = 0.2 };
    train_opts_init(&s.t);
    CommonOpts common = { 0 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = cli_common_option(PROG, &common, argc, argv, &i);
        if (rc == 2) return 2;
        if (rc == 1) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return sweep_usage(stdout, 0);
        if ((rc = sweep_train_option(PROG, &s.t, argc, argv, &i)) == 2) return 2;
        if (rc == 1) continue;
        if (a[0] != '-') return cli_bad_usage(PROG, "sweep takes no file arguments ('%s'): use --data DIR", a);
        if (i + 1 >= argc) return cli_bad_usage(PROG, "sweep: unknown option '%s' (or it needs a value)", a);
        const char *v = argv[++i];
        uint64_t n = 0;
        double d = 0;
        if (!strcmp(a, "--data")) s.t.data_dir = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) s.out_dir = v;
        else if (!strcmp(a, "--layers")) {
            if ((s.n_layers = sweep_parse_list(v, 1, 1000, s.layers, MAX_LIST)) < 0)
                return cli_bad_usage(PROG, "--layers needs distinct whole numbers separated by commas, not '%s'", v);
        } else if (!strcmp(a, "--width")) {
            if ((s.n_widths = sweep_parse_list(v, 1, 1 << 16, s.widths, MAX_LIST)) < 0)
                return cli_bad_usage(PROG, "--width needs distinct whole numbers separated by commas, not '%s'", v);
        } else if (!strcmp(a, "--heads")) {
            if ((s.n_heads = sweep_parse_list(v, 1, 1 << 12, s.heads, MAX_LIST)) < 0)
                return cli_bad_usage(PROG, "--heads needs distinct whole numbers separated by commas, not '%s'", v);
        } else if (!strcmp(a, "--schedule")) {
            if (sched_parse(v, &s.t.schedule))
                return cli_bad_usage(PROG, "%s is cosine, linear, constant or wsd, not '%s'", a, v);
        }
#define U64(name, lo_, hi, dst)                                                                      \
    else if (!strcmp(a, name)) {                                                                     \
        if (cli_u64(v, lo_, hi, &n)) return cli_bad_usage(PROG, "%s needs a whole number in range, not '%s'", a, v); \
        dst = n;                                                                                     \
    }
#define DBL(name, lo_, hi, dst)                                                                      \
    else if (!strcmp(a, name)) {                                                                     \
        if (cli_double(v, lo_, hi, &d)) return cli_bad_usage(PROG, "%s needs a number in range, not '%s'", a, v); \
        dst = d;                                                                                     \
    }
        U64("--steps", 1, UINT64_C(1) << 40, s.steps)
        U64("--tokens", 1, UINT64_C(1) << 50, s.tokens)
        U64("--warmup", 0, UINT64_C(1) << 40, s.t.warmup)
        U64("--eval-every", 1, UINT64_C(1) << 40, s.t.eval_every)
        U64("--eval-batches", 1, 1 << 20, s.t.eval_batches)
        U64("--mlp", 1, 1 << 18, s.t.n_mlp)
        DBL("--lr", 1e-12, 10, s.t.lr)
        DBL("--min-lr-frac", 0, 1, s.t.min_frac)
        DBL("--decay-frac", 0, 1, s.t.decay_frac)
        DBL("--budget-params", 1, 1e15, s.budget_params)
        DBL("--budget-flops", 1, 1e30, s.budget_flops)
        DBL("--tolerance", 0, 10, s.tolerance)
        else return cli_bad_usage(PROG, "sweep: unknown option '%s'", a);
#undef U64
#undef DBL
    }
    if (!s.t.data_dir) return cli_bad_usage(PROG, "sweep needs --data DIR (the packer's output folder)");
    if (!s.out_dir) return cli_bad_usage(PROG, "sweep needs -o SWEEP (the folder for its runs and results)");
    if (s.steps && s.tokens) return cli_bad_usage(PROG, "--steps and --tokens: give one of them");
    if (s.budget_flops > 0 && (s.steps || s.tokens))
        return cli_bad_usage(PROG, "--budget-flops sets each point's steps: drop --steps/--tokens");
    s.t.threads = common.threads;
    s.t.progress = common.progress;
    Err e = { { 0 } };
    int code = sweep_run(&s, &e);
    if (code == 2) cli_bad_usage(PROG, "%s", e.msg);
    else if (code) err_print(PROG, &e);
    return code;
}
