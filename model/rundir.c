/* The run folder (rundir.h): RUN/latest, saving and pruning checkpoints, and
 * the checkpoint header's JSON both ways. The bytes around the JSON (magic,
 * version, weights, checksum) are ckpt.c's; what the options mean, and which
 * a resume may change, is train.c's. */
#include "rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"
#include "iofile.h"
#include "tokenizer.h"

#define MAX_CKPTS 4096 /* checkpoints of a folder that pruning sorts */

/* ---- the header ---- */

char *rundir_header_json(const RunHeader *h)
{
    const TrainOpts *o = &h->o;
    json_t *j = json_pack(
        "{s:{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:f},"
        "s:{s:s,s:i,s:i,s:i,s:I,s:I,s:f,s:s,s:f,s:f,s:I,s:f,s:f,s:f,s:f,s:f,s:I,s:i,s:I,s:i,s:I},"
        "s:{s:I,s:I,s:I,s:I}}",
        "config", "layers", h->cfg.n_layer, "width", h->cfg.n_embd, "heads", h->cfg.n_head, "mlp",
        h->cfg.n_mlp, "vocab_size", h->cfg.vocab_size, "eot_id", h->eot_id, "context", h->T, "dropout",
        o->dropout,
        "options", "data", h->data_dir, "best_fit", h->best_fit, "micro_batch", h->B, "accum",
        h->accum, "batch_tokens", (json_int_t)h->B * h->T * h->accum, "steps", (json_int_t)o->steps, "lr",
        o->lr, "schedule", sched_name(o->schedule), "min_frac", o->min_frac, "decay_frac",
        o->decay_frac, "warmup", (json_int_t)o->warmup, "beta1", (double)o->adam.beta1, "beta2",
        (double)o->adam.beta2, "eps", (double)o->adam.eps, "weight_decay",
        (double)o->adam.weight_decay, "clip", (double)o->adam.clip, "eval_every",
        (json_int_t)o->eval_every, "eval_batches", o->eval_batches, "ckpt_every",
        (json_int_t)o->ckpt_every, "keep", o->keep, "seed", (json_int_t)o->seed,
        "state", "step", (json_int_t)h->step, "tokens", (json_int_t)h->tokens, "epoch",
        (json_int_t)h->epoch, "index", (json_int_t)h->index);
    if (!j) return NULL;
    if (h->prec == PREC_BF16 && json_object_set_new(json_object_get(j, "options"), "precision", json_string("bf16"))) {
        json_decref(j);
        return NULL;
    }
    /* Only when there is one, so that a run on data without one keeps the
     * bytes it had before (tests/model/test_same.sh pins them). */
    char fp[17];
    tok_fingerprint_hex(h->tok_fp, fp);
    if (h->tok_fp && json_object_set_new(json_object_get(j, "config"), "tokenizer_fingerprint", json_string(fp))) {
        json_decref(j);
        return NULL;
    }
    char *s = json_dumps(j, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(j);
    return s;
}

int rundir_header_parse(RunHeader *h, const char *text, const char *path, Err *e)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) return err_off(e, path, CKPT_HEAD_BYTES, "bad checkpoint header: %s", je.text);
    json_int_t L, C, NH, M, V, eot, T, bf, B, acc, bt, steps, warm, ee, eb, ce, keep, seed, st, tok, ep, ix;
    double lr, mf, df, b1, b2, eps, wd, clip, drop = 0; /* no dropout field: a run from before it had none */
    const char *data, *sched, *prec = "fp32"; /* no precision field: float32 */
    const char *tok_fp = NULL; /* none: data without a tokenizer fingerprint */
    int rc = json_unpack_ex(
        j, &je, JSON_STRICT,
        "{s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s?F,s?s},"
        "s:{s:s,s:I,s:I,s:I,s:I,s:I,s:F,s:s,s:F,s:F,s:I,s:F,s:F,s:F,s:F,s:F,s:I,s:I,s:I,s:I,s:I,s?s},"
        "s:{s:I,s:I,s:I,s:I}}",
        "config", "layers", &L, "width", &C, "heads", &NH, "mlp", &M, "vocab_size", &V, "eot_id", &eot,
        "context", &T, "dropout", &drop, "tokenizer_fingerprint", &tok_fp, "options", "data", &data, "best_fit", &bf, "micro_batch", &B,
        "accum", &acc,
        "batch_tokens", &bt, "steps", &steps, "lr", &lr, "schedule", &sched, "min_frac", &mf,
        "decay_frac", &df, "warmup", &warm, "beta1", &b1, "beta2", &b2, "eps", &eps, "weight_decay",
        &wd, "clip", &clip, "eval_every", &ee, "eval_batches", &eb, "ckpt_every", &ce, "keep", &keep,
        "seed", &seed, "precision", &prec, "state", "step", &st, "tokens", &tok, "epoch", &ep, "index", &ix);
    if (rc) {
        err_off(e, path, CKPT_HEAD_BYTES, "bad checkpoint header: %s", je.text);
        json_decref(j);
        return -1;
    }
    h->cfg = (GptConfig){ .n_layer = (int)L, .n_embd = (int)C, .n_head = (int)NH, .n_mlp = (int)M,
                          .vocab_size = (int)V, .context = (int)T };
    h->eot_id = (int)eot;
    h->T = (int)T;
    h->B = (int)B;
    h->accum = (int)acc;
    h->best_fit = (int)bf;
    snprintf(h->data_dir, sizeof h->data_dir, "%s", data);
    TrainOpts *o = &h->o;
    o->steps = (uint64_t)steps;
    o->lr = lr;
    if (sched_parse(sched, &o->schedule)) rc = -1;
    o->min_frac = mf;
    o->decay_frac = df;
    o->dropout = drop;
    o->warmup = warm;
    o->adam = (AdamOpts){ (float)b1, (float)b2, (float)eps, (float)wd, (float)clip };
    o->eval_every = (uint64_t)ee;
    o->eval_batches = (int)eb;
    o->ckpt_every = (uint64_t)ce;
    o->keep = (int)keep;
    o->seed = (uint64_t)seed;
    h->step = (uint64_t)st;
    h->tokens = (uint64_t)tok;
    h->epoch = (uint64_t)ep;
    h->index = (uint64_t)ix;
    h->prec = !strcmp(prec, "bf16") ? PREC_BF16 : PREC_FP32;
    if (strcmp(prec, "bf16") && strcmp(prec, "fp32")) rc = -1;
    h->tok_fp = 0;
    if (tok_fp && tok_fingerprint_parse(tok_fp, &h->tok_fp)) rc = -1;
    json_decref(j);
    Err ce2;
    if (rc || B < 1 || acc < 1 || bt != B * T * acc || !(drop >= 0 && drop < 1) ||
        gpt_config_check(&h->cfg, &ce2))
        return err_off(e, path, CKPT_HEAD_BYTES, "bad checkpoint header: inconsistent settings");
    return 0;
}

int rundir_header_peek(RunHeader *h, const char *text, const char *path, Err *e)
{
    memset(h, 0, sizeof *h);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    json_int_t L = 0, C = 0, NH = 0, M = 0, V = 0, eot = -1, T = 0, B = 8, eb = 20, bf = 0, st = 0;
    const char *tok_fp = NULL;
    int rc = -1;
    if (!j) err_off(e, path, CKPT_HEAD_BYTES, "bad checkpoint header: %s", je.text);
    else if (json_unpack_ex(j, &je, 0, "{s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s?s},s?{s?I,s?I,s?I},s?{s?I}}",
                            "config", "layers", &L, "width", &C, "heads", &NH, "mlp", &M, "vocab_size", &V,
                            "eot_id", &eot, "context", &T, "tokenizer_fingerprint", &tok_fp, "options",
                            "micro_batch", &B, "eval_batches", &eb, "best_fit", &bf, "state", "step", &st))
        err_off(e, path, CKPT_HEAD_BYTES, "bad checkpoint header: %s", je.text);
    else if (tok_fp && tok_fingerprint_parse(tok_fp, &h->tok_fp))
        err_off(e, path, CKPT_HEAD_BYTES, "bad checkpoint header: \"tokenizer_fingerprint\" \"%.40s\" is not "
                "16 hex digits", tok_fp);
    else {
        h->cfg = (GptConfig){ .n_layer = (int)L, .n_embd = (int)C, .n_head = (int)NH, .n_mlp = (int)M,
                              .vocab_size = (int)V, .context = (int)T };
        h->T = (int)T;
        h->eot_id = eot >= 0 && eot < V ? (int)eot : -1;
        h->B = B > 0 && B < 1 << 16 ? (int)B : 8;
        h->o.eval_batches = eb > 0 && eb < 1 << 20 ? (int)eb : 20;
        h->best_fit = bf != 0;
        h->step = (uint64_t)st;
        Err ce;
        if (L < 1 || C < 1 || NH < 1 || M < 1 || V < 2 || T < 1 || L > 1000 || C > 1 << 16 ||
            M > 1 << 18 || V > INT32_MAX || T > 1 << 20 || gpt_config_check(&h->cfg, &ce))
            err_off(e, path, CKPT_HEAD_BYTES, "bad checkpoint header: impossible shape (%lld layers, width %lld, "
                    "%lld heads, vocabulary %lld, context %lld)", (long long)L, (long long)C, (long long)NH,
                    (long long)V, (long long)T);
        else rc = 0;
    }
    json_decref(j);
    return rc;
}

/* ---- the folder ---- */

static int parse_ckpt_step(const char *name, uint64_t *step)
{
    unsigned long long s;
    int n = 0;
    if (sscanf(name, "ckpt-%llu.bin%n", &s, &n) == 1 && name[n] == 0) {
        *step = s;
        return 1;
    }
    return 0;
}

const char *rundir_latest_path(char *buf, size_t n, const char *dir)
{
    snprintf(buf, n, "%s/latest", dir);
    return buf;
}

int rundir_latest(const char *dir, char *path, size_t n, uint64_t *step, Err *e)
{
    char lp[PATH_MAX];
    rundir_latest_path(lp, sizeof lp, dir);
    FILE *f = fopen(lp, "r");
    if (!f) return err_sys(e, lp, "cannot open (is this a run folder with a checkpoint?)");
    char name[256] = "";
    char *ok = fgets(name, sizeof name, f);
    fclose(f);
    name[strcspn(name, "\r\n")] = 0;
    uint64_t s;
    if (!ok || !parse_ckpt_step(name, &s)) return err_at(e, lp, 1, "does not name a checkpoint (ckpt-STEP.bin)");
    if ((size_t)snprintf(path, n, "%s/%s", dir, name) >= n) return err_set(e, "%s: path too long", dir);
    if (step) *step = s;
    return 0;
}

int rundir_check(const char *dir, Err *e)
{
    struct stat st;
    if (stat(dir, &st)) return err_sys(e, dir, "cannot open the run folder");
    if (!S_ISDIR(st.st_mode)) return err_set(e, "%s: not a run folder (model train -o writes one)", dir);
    return 0;
}

int rundir_create(const char *dir, Err *e)
{
    if (mkdir(dir, 0755) && errno != EEXIST) return err_sys(e, dir, "cannot create the run folder");
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) return err_set(e, "%s: not a folder", dir);
    return 0;
}

int rundir_write_text(const char *path, const char *text, Err *e)
{
    OutFile *o = out_open(path, e);
    if (!o) return -1;
    if (out_write(o, text, strlen(text), e)) {
        out_abort(o);
        return -1;
    }
    return out_close(o, e);
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Remove checkpoints older than the newest `keep`, and leftovers of writes a
 * crash interrupted (ckpt-*.bin.tmp.*: only one trainer works in a run folder). */
static void prune(const char *dir, int keep, int stale_only)
{
    DIR *d = opendir(dir);
    if (!d) return;
    uint64_t steps[MAX_CKPTS];
    int n = 0;
    struct dirent *de;
    char path[PATH_MAX];
    while ((de = readdir(d))) {
        uint64_t s;
        if (!strncmp(de->d_name, "ckpt-", 5) && strstr(de->d_name, ".bin.tmp.")) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        } else if (parse_ckpt_step(de->d_name, &s) && n < MAX_CKPTS) {
            steps[n++] = s;
        }
    }
    closedir(d);
    if (stale_only) return;
    qsort(steps, n, sizeof *steps, cmp_u64);
    for (int i = 0; i + keep < n; i++) {
        snprintf(path, sizeof path, "%s/ckpt-%06" PRIu64 ".bin", dir, steps[i]);
        unlink(path);
    }
}

void rundir_remove_stale(const char *dir)
{
    prune(dir, 0, 1);
}

int rundir_save(const char *dir, const RunHeader *h, const float *params, const float *m, const float *v,
                size_t n_params, Err *e)
{
    char path[PATH_MAX], name[64];
    snprintf(name, sizeof name, "ckpt-%06" PRIu64 ".bin", h->step);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *json = rundir_header_json(h);
    if (!json) return err_set(e, "out of memory");
    int rc = ckpt_write(path, json, params, m, v, n_params, e);
    free(json);
    if (rc) return -1;
    /* latest moves only once the checkpoint is complete and in place */
    char latest[PATH_MAX], text[80];
    snprintf(text, sizeof text, "%s\n", name);
    if (rundir_write_text(rundir_latest_path(latest, sizeof latest, dir), text, e)) return -1;
    sync_dir(dir);
    prune(dir, h->o.keep, 0);
    return 0;
}
