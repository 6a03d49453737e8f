/* Load a trained run for sample, eval and export: the checkpoint RUN/latest
 * names (its JSON header gives the shape; only the fields these commands need
 * are read, so the trainer may add options), the weights, and the run's
 * tokenizer. Training state is not kept. */
#include "runmodel.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt.h"

static int read_latest(const char *dir, char *path, size_t n, Err *e)
{
    char lp[PATH_MAX];
    struct stat st;
    if (stat(dir, &st)) return err_sys(e, dir, "cannot open the run folder");
    if (!S_ISDIR(st.st_mode)) return err_set(e, "%s: not a run folder (model train -o writes one)", dir);
    snprintf(lp, sizeof lp, "%s/latest", dir);
    FILE *f = fopen(lp, "r");
    if (!f) return err_sys(e, lp, "cannot open (is this a run folder with a checkpoint?)");
    char name[256] = "";
    char *ok = fgets(name, sizeof name, f);
    fclose(f);
    name[strcspn(name, "\r\n")] = 0;
    if (!ok || strncmp(name, "ckpt-", 5) || strchr(name, '/') || !strstr(name, ".bin"))
        return err_at(e, lp, 1, "does not name a checkpoint (ckpt-STEP.bin)");
    if ((size_t)snprintf(path, n, "%s/%s", dir, name) >= n) return err_set(e, "%s: path too long", dir);
    return 0;
}

int runmodel_open(const char *run_dir, const char *ckpt_path, RunModel *rm, Err *e)
{
    memset(rm, 0, sizeof *rm);
    if (ckpt_path) snprintf(rm->ckpt, sizeof rm->ckpt, "%s", ckpt_path);
    else if (read_latest(run_dir, rm->ckpt, sizeof rm->ckpt, e)) return -1;
    CkptFile ck = { .fd = -1 };
    if (ckpt_open(&ck, rm->ckpt, e)) return -1;
    json_error_t je;
    json_t *j = json_loads(ck.json, 0, &je);
    json_int_t L = 0, C = 0, NH = 0, M = 0, V = 0, eot = -1, T = 0, B = 8, eb = 20, bf = 0, st = 0;
    int rc = -1;
    if (!j) err_off(e, rm->ckpt, 24, "bad checkpoint header: %s", je.text);
    else if (json_unpack_ex(j, &je, 0, "{s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},s?{s?I,s?I,s?I},s?{s?I}}",
                            "config", "layers", &L, "width", &C, "heads", &NH, "mlp", &M, "vocab_size", &V,
                            "eot_id", &eot, "context", &T, "options", "micro_batch", &B, "eval_batches", &eb,
                            "best_fit", &bf, "state", "step", &st))
        err_off(e, rm->ckpt, 24, "bad checkpoint header: %s", je.text);
    else {
        rm->cfg = (GptConfig){ .n_layer = (int)L, .n_embd = (int)C, .n_head = (int)NH, .n_mlp = (int)M,
                               .vocab_size = (int)V, .context = (int)T };
        rm->eot_id = eot >= 0 && eot < V ? (int)eot : -1;
        rm->micro_batch = B > 0 && B < 1 << 16 ? (int)B : 8;
        rm->eval_batches = eb > 0 && eb < 1 << 20 ? (int)eb : 20;
        rm->best_fit = bf != 0;
        rm->step = (uint64_t)st;
        Err ce;
        if (L < 1 || C < 1 || NH < 1 || M < 1 || V < 2 || T < 1 || L > 1000 || C > 1 << 16 ||
            M > 1 << 18 || V > INT32_MAX || T > 1 << 20 || gpt_config_check(&rm->cfg, &ce))
            err_off(e, rm->ckpt, 24, "bad checkpoint header: impossible shape (%lld layers, width %lld, "
                    "%lld heads, vocabulary %lld, context %lld)", (long long)L, (long long)C, (long long)NH,
                    (long long)V, (long long)T);
        else if (ck.n_params != gpt_n_params(&rm->cfg))
            err_off(e, rm->ckpt, 16, "%zu parameters, but its header's shape has %zu: corrupt", ck.n_params,
                    gpt_n_params(&rm->cfg));
        else rc = 0;
    }
    json_decref(j);
    ckpt_close(&ck);
    return rc;
}

float *runmodel_weights(const RunModel *rm, size_t n_params, Err *e)
{
    CkptFile ck = { .fd = -1 };
    float *w = NULL;
    int rc = ckpt_open(&ck, rm->ckpt, e);
    if (!rc && ck.n_params != n_params)
        rc = err_off(e, rm->ckpt, 16, "%zu parameters, expected %zu: the file changed", ck.n_params, n_params);
    if (!rc && !(w = malloc(n_params * sizeof *w))) rc = err_set(e, "out of memory for %zu weights", n_params);
    if (!rc) rc = ckpt_read(&ck, w, NULL, NULL, e);
    ckpt_close(&ck);
    if (rc) {
        free(w);
        return NULL;
    }
    return w;
}

int runmodel_load(const RunModel *rm, int B, int T, Kern *k, Gpt *g, Err *e)
{
    if (gpt_init(g, &rm->cfg, B, T, k, 0, e)) return -1;
    float *w = runmodel_weights(rm, g->n_params, e);
    if (!w) {
        gpt_free(g);
        return -1;
    }
    gpt_params_set(g, w);
    free(w);
    return 0;
}

Tokenizer *runmodel_tokenizer(const char *run_dir, const RunModel *rm, Err *e)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/tokenizer.json", run_dir);
    struct stat st;
    if (stat(path, &st)) {
        err_sys(e, path, "cannot open the run's tokenizer (model train copies the data folder's)");
        return NULL;
    }
    Tokenizer *t = tok_load_json(path, e);
    if (!t) return NULL;
    if ((int64_t)t->n_vocab < rm->cfg.vocab_size) {
        err_set(e, "%s: %u tokens, but the model %s has a vocabulary of %d", path, t->n_vocab, rm->ckpt,
                rm->cfg.vocab_size);
        tok_free(t);
        return NULL;
    }
    return t;
}
