/* The training run: resolve the shape and the data, print the plan (refusing
 * what does not fit in memory), then steps of gradient accumulation + AdamW,
 * evaluation, log.csv, loss.png (gnuplot) and checkpoints. Resume reads every
 * setting back from the checkpoint, so the continued run is bit-identical to
 * one that never stopped. Samples while training (--sample-every) are
 * sample.c's loop on a KV cache of the model in training, which only reads
 * its weights. Not here: export, MPI (later issues). */
#include "progress.h"
#include "train.h"

#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ckpt.h"
#include "cli.h"
#include "data.h"
#include "dist.h"
#include "hash.h"
#include "infer.h"
#include "iofile.h"
#include "rundir.h"
#include "plot.h"
#include "sample.h"
#include "tokenizer.h"

const TrainPreset train_presets[] = {
    { "tiny", 4, 128, 4, 2e-3 },
    { "small", 6, 384, 6, 1e-3 },
    { "mosaic-52m", 8, 512, 8, 1e-3 },
    { "mosaic-83m", 10, 640, 10, 8e-4 },
    { "mosaic-125m", 12, 768, 12, 6e-4 },
    { "gpt2", 12, 768, 12, 6e-4 },
    { "gpt2-medium", 24, 1024, 16, 3e-4 },
    { "gpt2-large", 36, 1280, 20, 2.5e-4 },
    { "gpt2-xl", 48, 1600, 25, 2e-4 },
    { NULL, 0, 0, 0, 0 },
};

const TrainPreset *train_preset(const char *name)
{
    for (const TrainPreset *p = train_presets; p->name; p++)
        if (!strcmp(p->name, name)) return p;
    return NULL;
}

void train_opts_init(TrainOpts *o)
{
    *o = (TrainOpts){ .eot_id = -1, .micro_batch = 8, .schedule = SCHED_COSINE, .min_frac = 0.1,
                      .decay_frac = 0.2, .warmup = -1,
                      .adam = { .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .clip = 1.0f },
                      .eval_batches = 20, .keep = 2, .seed = 1337, .dev = DEVICE_OPTS_AUTO,
                      .sample_tokens = 64, .sample_temperature = 1.0, .rank_timeout = 900 };
}

double train_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    double kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024.0;
}

/* This process's resident memory in bytes, from /proc/self/status: its peak
 * (VmHWM) and, now, the anonymous part (RssAnon: what it allocated, which
 * the plan counts) and the file-backed part (RssFile: the program's code,
 * its libraries and the pages of memory-mapped files read so far, the
 * shards among them, which the plan does not count: they are page cache the
 * kernel can drop). anon and file 0 without /proc; the peak then getrusage's. */
typedef struct Rss {
    double peak, anon, file;
} Rss;

static Rss rss_read(void)
{
    Rss m = { 0 };
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmHWM: %lf kB", &kb) == 1) m.peak = kb * 1024.0;
        else if (sscanf(line, "RssAnon: %lf kB", &kb) == 1) m.anon = kb * 1024.0;
        else if (sscanf(line, "RssFile: %lf kB", &kb) == 1) m.file = kb * 1024.0;
    }
    if (f) fclose(f);
    if (m.peak == 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        m.peak = (double)ru.ru_maxrss * 1024.0;
    }
    return m;
}

typedef struct Rate {
    const float *a, *b;
    float *c;
    int n;
} Rate;

static void rate_task(void *ctx, size_t task)
{
    const Rate *r = ctx;
    size_t nn = (size_t)r->n * r->n;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r->n, r->n, r->n, 1.0f, r->a, r->n, r->b,
                r->n, 0.0f, r->c + (task % 64) * nn, r->n);
}

/* CPU seconds of every thread of this process. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The peak sgemm rate of the pool: the best round of TRAIN_RATE_SECONDS,
 * each round's rate being the higher of its FLOPs over wall time and its
 * FLOPs over the process's CPU time times the threads that can run at once.
 * Wall time alone measured the load: another process on one core left the
 * pool one core's rate (plan 106, train 195 GFLOP/s moments later). CPU time
 * alone counts our own threads that spin meanwhile (train 110 GFLOP/s, MFU
 * 117%). Preemption and spinning only lower an estimate, never raise it. */
double train_sgemm_rate(GPool *pool)
{
    int n = 256;
    size_t nn = (size_t)n * n;
    Rate r = { .n = n };
    float *buf = malloc((2 + 64) * nn * sizeof(float));
    if (!buf) return 0;
    for (size_t i = 0; i < 2 * nn; i++) buf[i] = (float)(i % 17) * 0.01f;
    r.a = buf;
    r.b = buf + nn;
    r.c = buf + 2 * nn;
    unsigned threads = gpool_threads(pool), cores = cli_cores();
    double at_once = threads < cores ? threads : cores;
    size_t tasks = 4 * (size_t)threads;
    gpool_run(pool, tasks, rate_task, &r); /* warm up */
    double best = 0, t_end = progress_now() + TRAIN_RATE_SECONDS;
    for (int round = 0; round < 5 || progress_now() < t_end; round++) {
        double c0 = cpu_seconds(), t0 = progress_now();
        gpool_run(pool, tasks, rate_task, &r);
        double cpu = cpu_seconds() - c0, wall = progress_now() - t0;
        double flops = 2.0 * n * nn * (double)tasks;
        /* Each estimate can only come out low: by wall time when another
         * process holds a core, by CPU time when threads of ours spin
         * meanwhile (a demo run once gave 110 GFLOP/s this way and 117% MFU).
         * So the rate is the higher of the two. */
        if (cpu > 0 && flops * at_once / cpu > best) best = flops * at_once / cpu;
        if (wall > 0 && flops / wall > best) best = flops / wall;
    }
    free(buf);
    return best;
}

static void duration(char *out, size_t n, double s)
{
    if (s >= 3600) snprintf(out, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60) snprintf(out, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(out, n, "%.0fs", s);
}

/* --zero 1 on GPUs, at a checkpoint: the whole float32 master weights to
 * every rank (each updated its slice), then every rank's slice of the
 * moments into rank 0's host copy h of the model; the other ranks' copies
 * are freed. 0, or 1 with e set. */
static int zero_pull_gpu(const Dist *d, Kern *k, Gpt *g, const size_t *slo, GptHost *h, Err *e)
{
    if (g->params && (void *)g->params != (void *)g->params_x)
        k->ops->ranks_share_slices(k, g->params, sizeof(float), slo, d->size);
    if (gpt_host_open(g, h, e)) return 1;
    gpt_host_pull(g, h);
    size_t lo = slo[d->rank];
    dist_gather_slices(d, h->m + lo, h->m, slo);
    dist_gather_slices(d, h->v + lo, h->v, slo);
    if (d->rank) gpt_host_close(h);
    return 0;
}

/* Checkpoint step r->step into dir (rundir_save), the model's state brought
 * to the host for the writer. */
static int save_checkpoint(const RunHeader *r, const Gpt *g, const char *dir, Err *e)
{
    GptHost h;
    int rc = gpt_host_open((Gpt *)g, &h, e);
    if (!rc) {
        gpt_host_pull(g, &h);
        rc = rundir_save(dir, r, h.params, h.m, h.v, g->n_params, e);
    }
    gpt_host_close(&h);
    return rc;
}

int train_write_imported(const char *dir, const GptConfig *cfg, int eot_id, const float *params, Err *e)
{
    RunHeader r = { .cfg = *cfg, .eot_id = eot_id, .T = cfg->context, .accum = 1 };
    train_opts_init(&r.o);
    r.B = r.o.micro_batch;
    r.o.lr = 6e-4; /* GPT-2 124M's; the preset of the same shape's when there is one */
    for (const TrainPreset *p = train_presets; p->name; p++)
        if (p->n_layer == cfg->n_layer && p->n_embd == cfg->n_embd && p->n_head == cfg->n_head) {
            r.o.lr = p->lr;
            break;
        }
    /* a model on the CPU that only carries the buffers to the writer */
    Kern k = { 0 };
    if (kern_cpu_init(&k, NULL, e)) return -1;
    Gpt g = { .n_params = gpt_n_params(cfg), .k = &k, .params = (float *)params };
    int rc = 0;
    if (!(g.m = calloc(2 * g.n_params, sizeof(float)))) rc = err_set(e, "out of memory");
    else {
        g.v = g.m + g.n_params;
        rc = save_checkpoint(&r, &g, dir, e);
    }
    free(g.m);
    kern_free(&k);
    return rc;
}

/* log.csv: keep the header and rows up to `step` (a resumed run rewrites what
 * came after its checkpoint). */
static int log_truncate(const char *path, uint64_t step, Err *e)
{
    InFile *in = in_open(path, 1 << 16, e);
    if (!in) return 0; /* no log yet: it is started afresh */
    Buf b = { 0 };
    const char *line;
    size_t len;
    int rc;
    while ((rc = in_line(in, &line, &len, e)) == 1) {
        unsigned long long s;
        if (in_lineno(in) > 1 && (sscanf(line, "%llu,", &s) != 1 || s > step)) continue;
        if (buf_append(&b, line, len) || buf_putc(&b, '\n')) rc = err_set(e, "out of memory");
        if (rc < 0) break;
    }
    in_close(in);
    if (rc == 0) {
        if (buf_putc(&b, 0)) rc = err_set(e, "out of memory");
        else rc = rundir_write_text(path, b.data, e);
    }
    buf_free(&b);
    return rc;
}

static void plot(const char *dir, const char *title)
{
    char png[PATH_MAX], log[PATH_MAX];
    snprintf(png, sizeof png, "%s/loss.png", dir);
    snprintf(log, sizeof log, "%s/log.csv", dir);
    if (strchr(dir, '\'') || strchr(title, '\'')) return; /* gnuplot's strings are quoted with ' */
    Plot pl;
    if (plot_open(&pl, png)) return;
    fprintf(pl.g,
            "set terminal pngcairo size 900,540\n"
            "set output '%s'\n"
            "set datafile separator ','\n"
            "set title '%s'\n"
            "set xlabel 'step'\nset ylabel 'loss (nats/token)'\nset grid\n"
            "plot '%s' using 1:3 skip 1 with lines lw 1.5 title 'train', "
            "'' using 1:($4 == $4 ? $4 : NaN) skip 1 with points pt 7 ps 0.8 title 'validation'\n",
            pl.tmp, title, log);
    plot_close(&pl);
}

typedef struct Batch {
    int *x, *y;
} Batch;

/* Mean loss over the first eval windows of the validation shards, in order. */
static int evaluate(Gpt *g, const Shards *val, int n_windows, Batch *bt, double *loss, Err *e)
{
    int B = g->B, T = g->T, V = g->cfg.vocab_size;
    double sum = 0;
    int done = 0;
    gpt_set_dropout(g, 0.0f, 0); /* the model as it will be used; each training forward sets its own */
    while (done < n_windows) {
        int rows = n_windows - done < B ? n_windows - done : B;
        for (int b = 0; b < rows; b++)
            if (shards_window(val, (uint64_t)(done + b), V, bt->x + (size_t)b * T, bt->y + (size_t)b * T, e))
                return -1;
        gpt_forward(g, bt->x, bt->y, rows, T); /* a short last batch: rows <= B */
        sum += (double)g->loss * rows;
        done += rows;
    }
    *loss = sum / n_windows;
    return 0;
}

/* Samples while training (--sample-every): what they need is made once, on
 * the rank that speaks: the run's tokenizer, the ids they start from
 * (end-of-text, then --prompt) and a KV cache of the model being trained,
 * whose weights are all it reads. */
typedef struct Samples {
    Tokenizer *tok;
    IdBuf start, ids; /* the start, and a sample's ids */
    Infer *inf;
} Samples;

static void samples_free(Samples *s)
{
    infer_free(s->inf);
    tok_free(s->tok);
    idbuf_free(&s->start);
    idbuf_free(&s->ids);
}

/* The tokenizer at tok_path ("": none, and `where` says whose it would be) checked to
 * cover the vocabulary and, when the run records one, to have its
 * fingerprint; the prompt encoded. 0, 2 when there is no tokenizer (the
 * options ask what the data cannot give), 1 for a bad one or prompt. */
static int samples_open(Samples *s, const TrainOpts *opts, const char *tok_path, const char *where,
                        const RunHeader *r, Err *e)
{
    if (!tok_path[0] || access(tok_path, F_OK))
        return err_code(e, 2, "%s needs the run's tokenizer to %s, but %s: packer -t tok.json puts one "
                        "beside the shards (or drop %s)", opts->prompt ? "--prompt" : "--sample-every",
                        opts->prompt ? "encode it" : "decode the samples", where,
                        opts->prompt ? "--prompt and --sample-every" : "--sample-every");
    if (!(s->tok = tok_load_json(tok_path, e))) return 1;
    if ((int64_t)s->tok->n_vocab < r->cfg.vocab_size)
        return err_code(e, 1, "%s: %u tokens, but the model has a vocabulary of %d: not its tokenizer", tok_path,
                        s->tok->n_vocab, r->cfg.vocab_size);
    uint64_t fp;
    if (r->tok_fp && tok_fingerprint(s->tok, &fp, e)) return 1;
    if (r->tok_fp && fp != r->tok_fp) {
        char has[17], rec[17];
        tok_fingerprint_hex(fp, has);
        tok_fingerprint_hex(r->tok_fp, rec);
        return err_code(e, 1, "%s has tokenizer fingerprint %s, but the run's tokens were made with %s: another "
                        "tokenizer", tok_path, has, rec);
    }
    TokEncoder *enc = tok_encoder_new(s->tok, e);
    if (!enc) return 1;
    int rc = sample_prompt_ids(enc, r->eot_id, opts->prompt, r->cfg.vocab_size, &s->start, e);
    tok_encoder_free(enc);
    if (rc) return 1;
    if (!s->start.len) return err_code(e, 2, "the run has no end-of-text token to start its samples from: give --prompt");
    return 0;
}

/* "temperature 0.8", or "greedy" for 0 */
static const char *temperature_name(char *b, size_t n, double t)
{
    if (t > 0) snprintf(b, n, "temperature %g", t);
    else snprintf(b, n, "greedy");
    return b;
}

/* sample_print's SampleEmit: the text gathered in a Buf */
static int emit_buf(void *arg, const char *bytes, size_t n, Err *e)
{
    return buf_append(arg, bytes, n) ? err_set(e, "out of memory") : 0;
}

/* The sample after step r->step, on stderr between lines of "---" (the
 * progress line cleared first), the prompt included as model sample prints
 * it. Drawn with seed --seed + step, so that model sample RUN --ckpt
 * RUN/ckpt-STEP.bin --seed (the same) gives the same text; its own generator,
 * not the run's: what the run computes does not change. */
static int sample_print(Samples *s, Gpt *g, const RunHeader *r, const TrainOpts *opts, Progress *pr, Err *e)
{
    SampleOpts so;
    sample_opts_init(&so);
    so.max_tokens = opts->sample_tokens;
    so.temperature = opts->sample_temperature;
    so.seed = r->o.seed + r->step;
    infer_reset(s->inf); /* the keys and values it holds are of the weights of the last sample */
    s->ids.len = 0;
    if (idbuf_reserve(&s->ids, s->start.len)) return err_set(e, "out of memory");
    memcpy(s->ids.ids, s->start.ids, s->start.len * sizeof *s->ids.ids);
    s->ids.len = s->start.len;
    Buf text = { 0 };
    uint64_t made;
    int stopped, rc = -1;
    if (opts->prompt && buf_append(&text, opts->prompt, strlen(opts->prompt))) err_set(e, "out of memory");
    else if (!sample_continue(g, s->inf, s->tok, r->eot_id, &so, &s->ids, emit_buf, &text, &made, &stopped, e)) {
        char temp[48];
        temperature_name(temp, sizeof temp, so.temperature);
        progress_end(pr);
        fprintf(stderr, "model: sample at step %" PRIu64 " (seed %" PRIu64 ", %s, %" PRIu64 " tokens%s):\n---\n%.*s%s---\n",
                r->step, so.seed, temp, made - stopped, stopped ? ", stopped at end-of-text" : "",
                (int)text.len, text.data ? text.data : "", text.len && text.data[text.len - 1] != '\n' ? "\n" : "");
        rc = 0;
    }
    buf_free(&text);
    return rc;
}

/* Settle shape, data and batch for a fresh run; 0 or an exit status. */
static int setup_fresh(const TrainOpts *o, RunHeader *r, DataMeta *meta, Shards *train, Shards *val, Err *e)
{
    r->o = *o;
    const TrainPreset *p = train_preset(o->preset ? o->preset : "tiny");
    if (!p) return err_code(e, 2, "unknown preset '%s' (model train --help lists them)", o->preset);
    r->cfg.n_layer = o->n_layer ? o->n_layer : p->n_layer;
    r->cfg.n_embd = o->n_embd ? o->n_embd : p->n_embd;
    r->cfg.n_head = o->n_head ? o->n_head : p->n_head;
    r->cfg.n_mlp = o->n_mlp ? o->n_mlp : 4 * r->cfg.n_embd;
    if (!o->lr) r->o.lr = p->lr;
    if (data_scan(o->data_dir, meta, train, val, e)) return 1;
    if (!realpath(o->data_dir, r->data_dir)) return err_code(e, 1, "%s: %s", o->data_dir, strerror(errno));
    r->best_fit = meta->best_fit;
    r->tok_fp = meta->tok_fp; /* the checkpoint carries it to sample and eval */
    /* vocabulary: the data's word is final; a bare llm.c file is GPT-2's unless told */
    if (meta->vocab_size && o->vocab_size && o->vocab_size != meta->vocab_size)
        return err_code(e, 2, "--vocab-size %d, but the data says %d", o->vocab_size, meta->vocab_size);
    r->cfg.vocab_size = meta->vocab_size ? meta->vocab_size : o->vocab_size ? o->vocab_size : 50257;
    r->eot_id = meta->eot_id >= 0 ? meta->eot_id : o->eot_id >= 0 ? o->eot_id : r->cfg.vocab_size == 50257 ? 50256 : 0;
    if (r->eot_id >= r->cfg.vocab_size)
        return err_code(e, 2, "--eot %d is outside the vocabulary of %d", r->eot_id, r->cfg.vocab_size);
    r->T = o->context ? o->context : meta->context ? meta->context : 1024;
    if (meta->best_fit && o->context && o->context != meta->context)
        return err_code(e, 2, "%s was packed with best-fit windows for context %d; --context %d would cut documents",
                    o->data_dir, meta->context, o->context);
    r->cfg.context = r->T;
    if (gpt_config_check(&r->cfg, e)) return 2;
    if (shards_map(train, r->T, r->best_fit, e)) return 1;
    if (val->n && shards_map(val, r->T, r->best_fit, e)) return 1;
    r->B = o->micro_batch;
    uint64_t micro_tokens = (uint64_t)r->B * r->T;
    uint64_t bt = o->batch_tokens ? o->batch_tokens : micro_tokens;
    if (bt % micro_tokens)
        return err_code(e, 2, "--batch %" PRIu64 " tokens is not a multiple of a micro-batch (%d x %d = %" PRIu64 ")",
                    bt, r->B, r->T, micro_tokens);
    r->accum = (int)(bt / micro_tokens);
    if (o->tokens) r->o.steps = (o->tokens + bt - 1) / bt;
    else if (!o->steps) r->o.steps = (train->n_windows * (uint64_t)r->T + bt - 1) / bt;
    if (r->o.warmup < 0) r->o.warmup = (int64_t)(r->o.steps / 20);
    if (!r->o.eval_every) r->o.eval_every = r->o.steps >= 10 ? r->o.steps / 10 : 1;
    if (!r->o.ckpt_every) r->o.ckpt_every = r->o.eval_every;
    return 0;
}

/* GPU ranks: 0 when no two ranks of one machine opened the same GPU (NCCL
 * refuses that with a less helpful message), else 2 with a message on the
 * later rank of the first such pair (the launcher then stops the others). */
static int ranks_own_gpus(const Dist *d, const Kern *k, Err *e)
{
    char where[HOST_NAME_MAX + 1 + sizeof k->bus_id] = "";
    if (gethostname(where, HOST_NAME_MAX)) where[0] = 0;
    where[HOST_NAME_MAX] = 0;
    size_t n = strlen(where) + 1;
    memcpy(where + n, k->bus_id, sizeof k->bus_id);
    uint64_t *all = malloc((size_t)d->size * sizeof *all);
    if (!all) return err_code(e, 1, "out of memory");
    dist_gather(d, hash64(where, n + sizeof k->bus_id, 0), all);
    int first = -1;
    for (int i = 0; i < d->rank && first < 0; i++)
        if (all[i] == all[d->rank]) first = i;
    free(all);
    if (first < 0) return 0;
    return err_code(e, 2, "ranks %d and %d both opened GPU %s (%s) on %s: one rank a GPU (this machine runs %d "
                    "ranks; give mpirun -np no more than its GPUs, or CUDA_VISIBLE_DEVICES one GPU a rank)",
                    first, d->rank, k->bus_id, k->name, where, d->local_size);
}

int train_run(const TrainOpts *opts, Err *e)
{
    RunHeader r = { 0 };
    DataMeta meta;
    Shards train = { 0 }, val = { 0 };
    const char *dir = opts->resume_dir ? opts->resume_dir : opts->out_dir;
    char ck_path[PATH_MAX] = "";
    CkptFile ck = { .fd = -1 };
    int code = 0;
    Gpt g = { 0 };
    Kern kern = { 0 };
    GPool *pool = NULL;
    Loader ld = { 0 };
    Batch bt = { 0 };
    FILE *logf = NULL;
    Samples smp = { 0 };
    Progress pr;
    /* several ranks (mpirun): rank 0 speaks and writes the run folder; the
     * others train their slices in silence */
    Dist dist;
    size_t *slo = NULL; /* --zero 1: rank r updates weights [slo[r], slo[r + 1]) */
    float *mfull = NULL; /* --zero 1: rank 0's whole moments, gathered for a checkpoint */
    GptHost zhost = { 0 }; /* --zero 1 on GPUs: rank 0's host copy of the whole model, for a checkpoint */
    if (dist_init(&dist, e)) return 1;
    dist.timeout = opts->rank_timeout;
    int lead = dist.rank == 0;
    int sampling = lead && opts->sample_every; /* --sample-every: rank 0 samples */
    /* a process that trained before (a sweep's earlier points) may have set its peak RSS already */
    double rss_peak_before = rss_read().peak;
    progress_start(&pr, "model", lead ? opts->progress : PROGRESS_QUIET, 0);

    if (opts->resume_dir) {
        if (rundir_latest(dir, ck_path, sizeof ck_path, NULL, e) || ckpt_open(&ck, ck_path, e) ||
            rundir_header_parse(&r, ck.json, ck_path, e)) {
            code = 1;
            goto done;
        }
        r.o.threads = opts->threads;
        r.o.progress = opts->progress;
        if (opts->steps) r.o.steps = opts->steps; /* extend (or shorten) the run */
        const char *data = opts->data_dir ? opts->data_dir : r.data_dir;
        int imported = !r.data_dir[0]; /* model import wrote it: no data, length or intervals yet */
        if (imported && (!opts->data_dir || !opts->steps)) {
            code = err_code(e, 2, "%s holds an imported model: give --data DIR and --steps N to train it", ck_path);
            goto done;
        }
        if (data_scan(data, &meta, &train, &val, e)) {
            code = 1;
            goto done;
        }
        if (imported) { /* settled now as a fresh run would, then kept by the checkpoints */
            if (!realpath(data, r.data_dir)) {
                code = err_code(e, 1, "%s: %s", data, strerror(errno));
                goto done;
            }
            r.best_fit = meta.best_fit;
            if (meta.best_fit && meta.context != r.T) {
                code = err_code(e, 2, "%s was packed with best-fit windows for context %d, the model's is %d", data,
                            meta.context, r.T);
                goto done;
            }
            if (r.o.warmup < 0) r.o.warmup = (int64_t)(r.o.steps / 20);
            if (!r.o.eval_every) r.o.eval_every = r.o.steps >= 10 ? r.o.steps / 10 : 1;
            if (!r.o.ckpt_every) r.o.ckpt_every = r.o.eval_every;
        }
        if (shards_map(&train, r.T, r.best_fit, e) || (val.n && shards_map(&val, r.T, r.best_fit, e))) {
            code = 1;
            goto done;
        }
        if (meta.vocab_size && meta.vocab_size != r.cfg.vocab_size) {
            code = err_code(e, 1, "%s: vocabulary of %d ids, but the checkpoint %s was trained on %d", data,
                        meta.vocab_size, ck_path, r.cfg.vocab_size);
            goto done;
        }
        if (meta.tok_fp && r.tok_fp && meta.tok_fp != r.tok_fp) {
            char d[17], c[17];
            tok_fingerprint_hex(meta.tok_fp, d);
            tok_fingerprint_hex(r.tok_fp, c);
            code = err_code(e, 1, "%s: tokens of the tokenizer with fingerprint %s (meta.json), but the "
                            "checkpoint %s was trained on tokens of fingerprint %s: another tokenizer",
                            data, d, ck_path, c);
            goto done;
        }
        gpt_config_check(&r.cfg, e);
    } else {
        if ((code = setup_fresh(opts, &r, &meta, &train, &val, e))) goto done;
        char latest[PATH_MAX];
        if (lead && access(rundir_latest_path(latest, sizeof latest, dir), F_OK) == 0) {
            code = err_code(e, 2, "%s already holds a run (%s); continue it with --resume %s or pick another -o",
                        dir, latest, dir);
            goto done;
        }
    }
    if (r.o.steps == 0 || r.step >= r.o.steps) {
        code = err_code(e, 2, "nothing to do: the run is at step %" PRIu64 " of %" PRIu64, r.step, r.o.steps);
        goto done;
    }
    if (sampling) { /* the run's tokenizer: RUN's copy on a resume when it has one, else the data folder's */
        char tok_path[PATH_MAX + 16], where[PATH_MAX + 96] = "";
        snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", dir);
        if (!opts->resume_dir || access(tok_path, F_OK)) {
            snprintf(tok_path, sizeof tok_path, "%s", meta.tokenizer);
            snprintf(where, sizeof where, "%s%s has no tokenizer.json", opts->resume_dir ? "neither the run nor " : "",
                     opts->data_dir ? opts->data_dir : r.data_dir);
        }
        if ((code = samples_open(&smp, opts, tok_path, where, &r, e))) goto done;
    }

    /* several ranks: each takes r.accum / size of the step's micro-batches;
     * with --zero 1 each keeps the moments of its slice slo[rank].. of the weights */
    int accum = r.accum, zero = 0;
    if (dist.size > 1) {
        if (r.accum % dist.size) {
            code = err_code(e, 2, "%d ranks cannot share a step of %d micro-batches of %d x %d: give --batch a multiple "
                            "of %d x %d x %d = %" PRIu64 " tokens",
                            dist.size, r.accum, r.B, r.T, dist.size, r.B, r.T, (uint64_t)dist.size * r.B * r.T);
            goto done;
        }
        accum = r.accum / dist.size;
        zero = opts->zero;
        /* every rank must be running the same run */
        uint64_t same[] = { (uint64_t)r.cfg.n_layer, (uint64_t)r.cfg.n_embd, (uint64_t)r.cfg.n_head,
                            (uint64_t)r.cfg.vocab_size, (uint64_t)r.B, (uint64_t)r.T, (uint64_t)r.accum,
                            r.o.seed, r.step, r.o.steps, train.n_windows };
        uint64_t h = hash64(same, sizeof same, 0);
        int bad = dist_differs(&dist, h);
        if (bad) {
            code = err_code(e, 2, "rank %d of %d runs another shape, batch, seed, step or data than rank 0: every "
                            "rank needs the same command and data", bad, dist.size);
            goto done;
        }
    }

    /* the plan */
    unsigned cores = cli_cores() / (unsigned)dist.local_size; /* the machine's cores shared by its ranks */
    unsigned threads = gpool_size(r.o.threads, cores ? cores : 1); /* within what OpenBLAS takes */
    openblas_set_num_threads(1); /* our threads split the products: never both at once */
    if (!(pool = gpool_new(threads))) {
        code = err_code(e, 1, "cannot start %u threads", threads);
        goto done;
    }
    /* a resume keeps the run's precision unless told otherwise, and says when it changes */
    int prec = opts->dev.prec;
    if (opts->resume_dir && prec == DEVICE_AUTO) {
        prec = r.prec;
        if (prec == PREC_BF16 && !kern_would_use_gpu(opts->dev.device)) {
            prec = PREC_FP32;
            if (!pr.quiet) fprintf(stderr, "model: %s trained in bf16; it continues in fp32 on the CPU\n", ck_path);
        }
    } else if (opts->resume_dir && prec != r.prec && !pr.quiet) {
        fprintf(stderr, "model: %s trained in %s; it continues in %s as --precision asks\n", ck_path,
                r.prec == PREC_BF16 ? "bf16" : "fp32", prec == PREC_BF16 ? "bf16" : "fp32");
    }
    /* ranks on one machine: one GPU each */
    if (dist.mpi && kern_would_use_gpu(opts->dev.device) &&
        kern_gpu_for_rank(dist.local_rank, dist.local_size, e)) {
        code = 2;
        goto done;
    }
    if (kern_open(&kern, opts->dev.device, prec, pool, e)) {
        code = 1;
        goto done;
    }
    r.prec = kern.prec;
    if (opts->dev.mem_cap) {
        if (kern.device != KERN_CUDA) {
            code = err_code(e, 2, "--gpu-memory is for a GPU; this run is on the CPU");
            goto done;
        }
        kern.mem_cap = (size_t)opts->dev.mem_cap;
    }
    /* GPU ranks sum their gradients on the devices (NCCL); under a launcher
     * even one rank does, so that a run of one checks the whole path */
    int gpu_ranks = dist.mpi && kern.device != KERN_CPU;
    if (gpu_ranks) {
        if (!kern.ops->ranks_sum) {
            code = err_code(e, 2, "GPU ranks sum their gradients with NCCL, which this build lacks (nccl.h and "
                            "libnccl were not found when it was built): install NCCL and run make again, or "
                            "train the ranks on the CPU (--device cpu)");
            goto done;
        }
        if (dist.size > 1 && (code = ranks_own_gpus(&dist, &kern, e))) goto done;
        unsigned char id[KERN_RANKS_ID_BYTES] = { 0 };
        if (lead && kern.ops->ranks_id(&kern, id, e)) {
            code = 1;
            goto done;
        }
        dist_bcast(&dist, id, sizeof id);
        if (kern.ops->ranks_open(&kern, dist.rank, dist.size, id, e)) {
            code = 1;
            goto done;
        }
    }
    char devname[160];
    kern_describe(&kern, devname, sizeof devname);
    /* memory: host memory on the CPU; on a GPU its own, against what it has free now */
    int flags = GPT_TRAIN | (opts->recompute ? GPT_RECOMPUTE : 0) | (opts->no_master ? GPT_NO_MASTER : 0);
    if (opts->zero && gpu_ranks) zero = 1; /* even one rank, so that a run of one checks the whole path */
    if (opts->zero && !zero && !pr.quiet)
        fprintf(stderr, "model: --zero 1 shares AdamW's moments among ranks (mpirun -np N); one process keeps "
                        "them whole\n");
    if (zero) {
        if (!(slo = malloc(((size_t)dist.size + 1) * sizeof *slo))) {
            code = err_code(e, 1, "out of memory");
            goto done;
        }
        dist_slices(&dist, gpt_n_params(&r.cfg), slo);
    }
    if (opts->no_master && kern.prec != PREC_BF16) {
        code = err_code(e, 2, "--master-weights off keeps the weights in bf16 alone: it needs a GPU in bf16 "
                        "(--device cuda --precision bf16); this run is %s", devname);
        goto done;
    }
    GptMemory mem;
    gpt_memory_for(&kern, &r.cfg, r.B, r.T, flags, &mem);
    if (zero) { /* this rank's slice of the moments */
        mem.adam = 2 * sizeof(float) * (slo[dist.rank + 1] - slo[dist.rank]);
        mem.total = mem.params + mem.grads + mem.adam + mem.acts + mem.scratch;
    }
    double need = (double)mem.total;
    if (kern.device == KERN_CPU) {
        need += 4.0 * (double)train.n_windows + 2.0 * sizeof(int) * r.B * r.T;
        need *= dist.local_size; /* every rank on this machine holds it all */
    }
    double sample_mem = sampling ? (double)infer_memory(&kern, &r.cfg) : 0; /* rank 0's KV cache */
    need += sample_mem;
    char sample_what[48] = "";
    if (sampling) snprintf(sample_what, sizeof sample_what, ", samples' KV cache %.1f", sample_mem / 1e6);
    double avail = kern.ops->mem_free ? (double)kern.ops->mem_free(&kern) : train_mem_available();
    const char *where = kern.device == KERN_CPU ? "available"
                        : kern.mem_cap      ? "free under --gpu-memory"
                                            : "free on the GPU";
    double flops_tok = gpt_flops_per_token(&r.cfg, r.T);
    uint64_t tokens_step = (uint64_t)r.B * r.T * r.accum;
    char s1[32], s2[32], s3[32], s4[32], ranks[160] = "";
    if (dist.size > 1)
        snprintf(ranks, sizeof ranks, " on each of %d ranks (%d micro-batch%s a rank; memory: this machine's %d%s)",
                 dist.size, accum, accum == 1 ? "" : "es", dist.local_size, zero ? ", AdamW this rank's slice: --zero 1" : "");
    progress_si(s1, sizeof s1, (double)gpt_n_params_real(&r.cfg));
    progress_si(s2, sizeof s2, (double)train.n_tokens);
    progress_si(s3, sizeof s3, flops_tok);
    progress_si(s4, sizeof s4, (double)r.o.steps * tokens_step);
    if (!pr.quiet) {
        fprintf(stderr,
                "model: plan: device %s\n"
                "model: plan: %s parameters (%d layers, width %d, %d heads, MLP %d, vocabulary %d, context %d), dropout %g\n"
                "model: plan: memory %.1f MB (weights %.1f, gradients %.1f, AdamW %.1f, activations %.1f%s, scratch %.1f%s); %.0f MB %s\n"
                "model: plan: %" PRIu64 " tokens a step (%d x %d x %d accumulated), %s FLOP a token, %" PRIu64 " steps = %s tokens, %u thread%s%s\n"
                "model: plan: data %s: %s training tokens in %d shard%s, %" PRIu64 " windows (%s), %" PRIu64 " tokens past the last window of a shard; ",
                devname, s1, r.cfg.n_layer, r.cfg.n_embd, r.cfg.n_head, r.cfg.n_mlp, r.cfg.vocab_size, r.T,
                r.o.dropout, need / 1e6, mem.params / 1e6, mem.grads / 1e6, mem.adam / 1e6, mem.acts / 1e6,
                flags & GPT_RECOMPUTE ? " with --recompute" : "", mem.scratch / 1e6, sample_what, avail / 1e6, where, tokens_step, r.B, r.T, r.accum, s3, r.o.steps, s4, threads, threads == 1 ? "" : "s", ranks,
                r.data_dir, s2, train.n, train.n == 1 ? "" : "s", train.n_windows, r.best_fit ? "best-fit" : "stream",
                train.unused_tokens);
        if (val.n) fprintf(stderr, "%" PRIu64 " validation windows\n", val.n_windows);
        else fprintf(stderr, "no validation shards (val*.bin): no validation loss\n");
        if (sampling) {
            char temp[48];
            fprintf(stderr, "model: plan: a sample every %" PRIu64 " steps and at the end: up to %" PRIu64
                    " tokens after %s%s%s, %s, seed --seed + step\n", opts->sample_every, opts->sample_tokens,
                    opts->prompt ? "'" : "end-of-text", opts->prompt ? opts->prompt : "", opts->prompt ? "'" : "",
                    temperature_name(temp, sizeof temp, opts->sample_temperature));
        }
    }
    if ((avail > 0 || kern.mem_cap) && need > avail) {
        if (kern.device == KERN_CPU)
            code = err_code(e, 1, "the plan needs %.0f MB but this machine has %.0f MB available: use a smaller "
                            "--micro-batch, --context or model%s", need / 1e6, avail / 1e6,
                            flags & GPT_RECOMPUTE ? "" : ", or --recompute");
        else
            code = err_code(e, 1, "the plan needs %.0f MB of GPU memory but %s has %.0f MB free%s: use a smaller "
                            "--micro-batch, --context or model%s%s (model plan --gpu-memory SIZE proposes one)",
                            need / 1e6, kern.name, avail / 1e6, kern.mem_cap ? " under --gpu-memory" : "",
                            flags & GPT_RECOMPUTE ? "" : ", or --recompute",
                            kern.prec == PREC_BF16 && !(flags & GPT_NO_MASTER) ? ", or --master-weights off" : "");
        goto done;
    }

    if (gpt_init_slice(&g, &r.cfg, r.B, r.T, &kern, flags, zero ? slo[dist.rank] : 0,
                       zero ? slo[dist.rank + 1] : SIZE_MAX, e) ||
        (sampling && !(smp.inf = infer_new(&g, e)))) {
        code = 1;
        goto done;
    }
    if (opts->resume_dir) {
        if (ck.n_params != g.n_params) {
            code = err_code(e, 1, "%s: %zu parameters, but its header's shape has %zu: corrupt", ck_path,
                        ck.n_params, g.n_params);
            goto done;
        }
        GptHost h;
        int rc = gpt_host_open(&g, &h, e);
        if (!rc && !(rc = ckpt_read(&ck, h.params, h.m, h.v, e))) gpt_host_push(&g, &h);
        gpt_host_close(&h);
        if (rc) {
            code = 1;
            goto done;
        }
        g.adam_step = r.step;
        if (lead) rundir_remove_stale(dir);
    } else {
        if (lead && rundir_create(dir, e)) {
            code = 1;
            goto done;
        }
        if (gpt_init_weights(&g, r.o.seed, e)) {
            code = 1;
            goto done;
        }
        if (lead && meta.tokenizer[0]) {
            char to[PATH_MAX];
            snprintf(to, sizeof to, "%s/tokenizer.json", dir);
            if (out_copy_file(meta.tokenizer, to, e)) {
                code = 1;
                goto done;
            }
        }
    }
    ckpt_close(&ck);
    if (loader_init(&ld, &train, r.o.seed, r.epoch, r.index, e)) {
        code = 1;
        goto done;
    }
    bt.x = malloc(2 * sizeof(int) * (size_t)r.B * r.T);
    if (!bt.x) {
        code = err_code(e, 1, "out of memory");
        goto done;
    }
    bt.y = bt.x + (size_t)r.B * r.T;

    char log_path[PATH_MAX];
    snprintf(log_path, sizeof log_path, "%s/log.csv", dir);
    if (lead && opts->resume_dir && log_truncate(log_path, r.step, e)) {
        code = 1;
        goto done;
    }
    if (lead) logf = fopen(log_path, opts->resume_dir ? "a" : "w");
    if (lead && !logf) {
        err_sys(e, log_path, "cannot write");
        code = 1;
        goto done;
    }
    if (lead && (!opts->resume_dir || ftell(logf) == 0))
        fputs("step,tokens,loss,val_loss,lr,grad_norm,tokens_per_s,mfu\n", logf);

    double peak = !lead ? 0 : kern.ops->matmul_rate ? kern.ops->matmul_rate(&kern) : train_sgemm_rate(pool);
    char peak_what[64];
    if (kern.device == KERN_CPU) snprintf(peak_what, sizeof peak_what, "%.1f GFLOP/s sgemm", peak / 1e9);
    else snprintf(peak_what, sizeof peak_what, "%.1f TFLOP/s cuBLASLt %s", peak / 1e12,
                  kern.prec == PREC_BF16 ? "bf16" : "fp32");
    int eval_windows = 0;
    if (val.n) {
        uint64_t w = (uint64_t)r.o.eval_batches * r.B;
        eval_windows = (int)(val.n_windows < w ? val.n_windows : w);
    }
    Sched sc = { .kind = r.o.schedule, .lr = r.o.lr, .min_frac = r.o.min_frac, .decay_frac = r.o.decay_frac,
                 .warmup = (uint64_t)r.o.warmup, .total = r.o.steps };
    char title[PATH_MAX + 64];
    snprintf(title, sizeof title, "%s: %d x %d, %d heads", dir, r.cfg.n_layer, r.cfg.n_embd, r.cfg.n_head);
    double t_start = progress_now(), t_show = 0, last_loss = NAN, last_val = NAN;
    uint64_t first_step = r.step;
    size_t gpu_peak = 0; /* device memory in use after each step (every allocation is made by then) */
    double reduce_s = 0; /* in the sums across ranks (waiting for the slowest included) */
    /* GPTKIT_PROFILE_STEP=N: step N alone is shown to a profiler started with
     * its recording off (bench/model/profile.sh) */
    const char *prof_env = getenv("GPTKIT_PROFILE_STEP");
    /* GPTKIT_STALL_STEP=N: this rank sleeps before step N's sums, as a hung
     * rank would (tests/model/test_mpi.sh's late rank) */
    const char *stall_env = getenv("GPTKIT_STALL_STEP");
    uint64_t stall_step = stall_env ? strtoull(stall_env, NULL, 10) : 0;
    uint64_t prof_step = prof_env && kern.ops->profile ? strtoull(prof_env, NULL, 10) : 0;
    while (r.step < r.o.steps) {
        if (prof_step && r.step + 1 == prof_step) kern.ops->profile(&kern, 1);
        double t0 = progress_now();
        gpt_zero_grad(&g);
        double loss = 0;
        for (int k = 0; k < accum; k++) {
            /* micro-batch j = k x size + rank of the step's r.accum: rank r trains the
             * windows one process would train as its micro-batch j, and skips the others' */
            uint64_t j = (uint64_t)k * dist.size + dist.rank;
            for (int q = 0; q < dist.rank; q++) loader_skip(&ld, r.B);
            if (loader_next(&ld, r.B, r.cfg.vocab_size, bt.x, bt.y, e)) {
                code = 1;
                goto done;
            }
            for (int q = dist.rank + 1; q < dist.size; q++) loader_skip(&ld, r.B);
            /* masks keyed by (seed, step, micro-batch): the same after a resume */
            gpt_set_dropout(&g, (float)r.o.dropout, gpt_dropout_key(r.o.seed, r.step, j));
            gpt_set_backward(&g, 1.0f / (float)r.accum); /* the classifier makes its gradient in the forward */
            gpt_forward(&g, bt.x, bt.y, r.B, r.T);
            gpt_backward(&g, 1.0f / (float)r.accum);
            loss += g.loss;
        }
        if (stall_step && r.step + 1 == stall_step) sleep(600);
        /* the step's gradient and loss: the sums over every rank's micro-batches.
         * GPU ranks sum the loss first, over MPI: a rank that is late or gone
         * is named there, under --rank-timeout, before NCCL waits for it */
        if (gpu_ranks) {
            loss = dist_sum(&dist, loss);
            reduce_s += zero ? kern.ops->ranks_sum_slices(&kern, g.grads, slo, dist.size)
                             : kern.ops->ranks_sum(&kern, g.grads, g.n_params);
        } else if (dist.size > 1) {
            double t_red = progress_now();
            if (zero) dist_sum_slice(&dist, g.grads, slo); /* each rank its slice's sums */
            else dist_sum_floats(&dist, g.grads, g.n_params);
            loss = dist_sum(&dist, loss);
            reduce_s += progress_now() - t_red;
        }
        loss /= r.accum;
        float lr = (float)sched_lr(&sc, r.step);
        float norm;
        if (zero) { /* the global norm from the slices' in rank order, the step on this rank's slice, then
                     * every rank's new weights to every rank */
            double t_red = progress_now();
            norm = (float)sqrt(dist_sum_ordered(&dist, gpt_grad_norm2_slice(&g)));
            reduce_s += progress_now() - t_red;
            gpt_adamw_apply(&g, &r.o.adam, lr, norm);
            if (gpu_ranks) { /* the weights the forward reads; float32 master weights at a checkpoint */
                reduce_s += kern.ops->ranks_share_slices(&kern, g.params_x, kern_x_bytes(&kern), slo, dist.size);
            } else {
                t_red = progress_now();
                dist_share_slices(&dist, g.params, slo);
                reduce_s += progress_now() - t_red;
            }
        } else {
            norm = gpt_adamw_step(&g, &r.o.adam, lr);
        }
        if (prof_step && r.step + 1 == prof_step) kern.ops->profile(&kern, 0);
        r.step++;
        r.tokens += tokens_step;
        if (kern.ops->mem_used) {
            size_t used = kern.ops->mem_used(&kern);
            if (used > gpu_peak) gpu_peak = used;
        }
        r.epoch = ld.epoch;
        r.index = ld.index;
        double dt = progress_now() - t0, tps = (double)tokens_step / dt;
        double mfu = peak > 0 ? tps * flops_tok / peak : 0;
        last_loss = loss;
        if (!isfinite(loss)) {
            code = err_code(e, 1, "step %" PRIu64 ": the loss is %g: training diverged (lower --lr?)", r.step, loss);
            goto done;
        }
        int is_last = r.step == r.o.steps;
        char vbuf[32] = "", vshow[32] = "";
        if (lead && eval_windows && (r.step % r.o.eval_every == 0 || is_last)) {
            double vl;
            if (evaluate(&g, &val, eval_windows, &bt, &vl, e)) {
                code = 1;
                goto done;
            }
            last_val = vl;
            snprintf(vbuf, sizeof vbuf, "%.9g", vl);
            snprintf(vshow, sizeof vshow, "%.4f", vl); /* as the training loss beside it */
        }
        int ckpt_now = !opts->no_ckpt && (r.step % r.o.ckpt_every == 0 || is_last);
        if (zero && ckpt_now && gpu_ranks) {
            if ((code = zero_pull_gpu(&dist, &kern, &g, slo, &zhost, e))) goto done;
        } else if (zero && ckpt_now) { /* every rank's slice of the moments to rank 0 */
            size_t n = g.n_params;
            if (lead && !(mfull = malloc(2 * n * sizeof *mfull))) {
                code = err_code(e, 1, "out of memory for the moments of a checkpoint (%zu parameters)", n);
                goto done;
            }
            dist_gather_slices(&dist, g.m, mfull, slo);
            dist_gather_slices(&dist, g.v, mfull ? mfull + n : NULL, slo);
        }
        if (!lead) continue; /* the run folder is rank 0's */
        fprintf(logf, "%" PRIu64 ",%" PRIu64 ",%.9g,%s,%.9g,%.9g,%.1f,%.4f\n", r.step, r.tokens, loss,
                vbuf, (double)lr, (double)norm, tps, mfu);
        if (fflush(logf)) {
            err_sys(e, log_path, "write");
            code = 1;
            goto done;
        }
        if (vbuf[0] || is_last) plot(dir, title);
        if (ckpt_now) {
            int rc = !zero      ? save_checkpoint(&r, &g, dir, e)
                     : gpu_ranks ? rundir_save(dir, &r, zhost.params, zhost.m, zhost.v, g.n_params, e)
                                 : rundir_save(dir, &r, g.params, mfull, mfull + g.n_params, g.n_params, e);
            free(mfull);
            mfull = NULL;
            gpt_host_close(&zhost);
            if (rc) {
                code = 1;
                goto done;
            }
        }
        if (sampling && (r.step % opts->sample_every == 0 || is_last) && sample_print(&smp, &g, &r, opts, &pr, e)) {
            code = 1;
            goto done;
        }
        double now = progress_now();
        if (pr.on && (now >= t_show || is_last)) {
            double per = (now - t_start) / (double)(r.step - first_step);
            char eta[32], rate[32];
            duration(eta, sizeof eta, per * (double)(r.o.steps - r.step));
            progress_si(rate, sizeof rate, (double)tokens_step / per);
            fprintf(stderr, "\rmodel: step %" PRIu64 "/%" PRIu64 "  loss %.4f%s%s  %s tok/s  MFU %.0f%%  ETA %s\033[K",
                    r.step, r.o.steps, loss, vbuf[0] ? "  val " : "", vbuf[0] ? vshow : "", rate, 100 * mfu, eta);
            pr.shown = 1;
            t_show = now + 0.5;
        }
    }
    progress_end(&pr);
    {
        double secs = progress_now() - t_start;
        double tps = (double)(r.step - first_step) * tokens_step / secs;
        char rate[32], ent[160] = ", no validation shards", gpu[192] = "", ranks_sum[96] = "", resumed[48] = "";
        char rss_what[32] = "";
        Rss rss = rss_read();
        if (rss.peak <= rss_peak_before) snprintf(rss_what, sizeof rss_what, ", set before this run");
        /* what the plan counts (allocated) apart from what it does not (mapped files) */
        char rss_parts[160] = "";
        if (kern.device == KERN_CPU && rss.anon > 0)
            snprintf(rss_parts, sizeof rss_parts, ": at the end %.1f MB allocated, %.1f MB of mapped files (the "
                     "shards read so far, the program's code)", rss.anon / 1e6, rss.file / 1e6);
        if (opts->resume_dir) snprintf(resumed, sizeof resumed, "resumed at step %" PRIu64 ": ", first_step);
        progress_si(rate, sizeof rate, tps);
        if (val.n)
            snprintf(ent, sizeof ent, ", val loss %.4f (unigram entropy of the validation tokens %.4f)", last_val,
                     shards_unigram_entropy(&val, r.cfg.vocab_size, 50000000));
        if (gpu_peak) {
            /* whole MB, so that the two parts add up to the peak as printed.
             * Both figures count every process on the device: one that freed
             * memory after the backend opened could leave less than the
             * context, and the arrays' part then shows 0, not a negative. */
            const size_t all_mb = (gpu_peak + 500000) / 1000000, ctx_mb = (kern.mem_context + 500000) / 1000000;
            snprintf(gpu, sizeof gpu, "; peak GPU memory %zu MB (in use on the device; of it CUDA's context and "
                     "library handles %zu MB, the trainer's arrays %zu MB)",
                     all_mb, ctx_mb, all_mb > ctx_mb ? all_mb - ctx_mb : 0);
        }
        if (dist.size > 1 || gpu_ranks)
            snprintf(ranks_sum, sizeof ranks_sum, "; %d rank%s, summing gradients %.1f ms a step (%.0f%%%s)",
                     dist.size, dist.size > 1 ? "s" : "", 1e3 * reduce_s / (double)(r.step - first_step),
                     100 * reduce_s / secs, gpu_ranks ? ", NCCL" : "");
        progress_summary(&pr,
                         "%s%" PRIu64 " steps, %" PRIu64 " tokens in %.1f s (%s tokens/s, MFU %.0f%% of %s); the run is "
                         "at step %" PRIu64 ", %.2f epochs of the training windows; "
                         "last-step train loss %.4f%s; peak RSS %.1f MB%s (%s %.1f MB)%s%s%s; %s%s%s",
                         resumed, r.step - first_step, (r.step - first_step) * tokens_step, secs, rate,
                         peak > 0 ? 100 * tps * flops_tok / peak : 0, peak_what, r.step,
                         (double)ld.epoch + (double)ld.index / (double)train.n_windows, last_loss, ent,
                         rss.peak / 1e6, rss_what, kern.device == KERN_CPU ? "plan" : "the GPU's plan", need / 1e6,
                         rss_parts, gpu, ranks_sum, opts->no_ckpt ? "no checkpoint (--no-checkpoint); the log: " : "",
                         dir, opts->no_ckpt ? "/log.csv" : "/latest");
    }
done:
    progress_end(&pr);
    free(mfull);
    gpt_host_close(&zhost);
    free(slo);
    if (logf) fclose(logf);
    ckpt_close(&ck);
    free(bt.x);
    loader_free(&ld);
    samples_free(&smp); /* its cache before the model it reads */
    gpt_free(&g);
    kern_free(&kern);
    gpool_free(pool);
    shards_free(&train);
    shards_free(&val);
    if (code && dist.size > 1) { /* the other ranks would wait for this one forever */
        fprintf(stderr, "model: rank %d of %d: %s\n", dist.rank, dist.size, e->msg);
        dist_abort(&dist, code);
    }
    dist_finalize(&dist);
    return code;
}
