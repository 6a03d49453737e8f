/* Load a trained run for sample, eval and export: the checkpoint RUN/latest
 * names (its JSON header gives the shape, read leniently by rundir.c: only the
 * fields these commands need, so the trainer may add options), the weights,
 * and the run's tokenizer. Training state is not kept. */
#include "runmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt.h"
#include "rundir.h"

int runmodel_open(const char *run_dir, const char *ckpt_path, RunModel *rm, Err *e)
{
    memset(rm, 0, sizeof *rm);
    if (ckpt_path) snprintf(rm->ckpt, sizeof rm->ckpt, "%s", ckpt_path);
    else if (rundir_check(run_dir, e) || rundir_latest(run_dir, rm->ckpt, sizeof rm->ckpt, NULL, e)) return -1;
    CkptFile ck = { .fd = -1 };
    if (ckpt_open(&ck, rm->ckpt, e)) return -1;
    RunHeader h;
    int rc = rundir_header_peek(&h, ck.json, rm->ckpt, e);
    if (!rc) {
        rm->cfg = h.cfg;
        rm->eot_id = h.eot_id;
        rm->micro_batch = h.B;
        rm->eval_batches = h.o.eval_batches;
        rm->best_fit = h.best_fit;
        rm->step = h.step;
        rm->tok_fp = h.tok_fp;
        if (ck.n_params != gpt_n_params(&rm->cfg))
            rc = err_off(e, rm->ckpt, 16, "%zu parameters, but its header's shape has %zu: corrupt", ck.n_params,
                    gpt_n_params(&rm->cfg));
    }
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

Tokenizer *runmodel_tokenizer_at(const char *path, const RunModel *rm, Err *e)
{
    Tokenizer *t = tok_load_json(path, e);
    if (!t) return NULL;
    uint64_t fp;
    if ((int64_t)t->n_vocab < rm->cfg.vocab_size) {
        err_set(e, "%s: %u tokens, but the model %s has a vocabulary of %d", path, t->n_vocab, rm->ckpt,
                rm->cfg.vocab_size);
        goto fail;
    }
    if (tok_fingerprint(t, &fp, e)) goto fail;
    if (rm->tok_fp && fp != rm->tok_fp) {
        char has[17], rec[17];
        tok_fingerprint_hex(fp, has);
        tok_fingerprint_hex(rm->tok_fp, rec);
        err_set(e, "%s has tokenizer fingerprint %s, but the model %s was trained on tokens of the "
                   "tokenizer with fingerprint %s: another tokenizer",
                path, has, rm->ckpt, rec);
        goto fail;
    }
    if (!rm->tok_fp)
        fprintf(stderr, "model: note: %s records no tokenizer fingerprint (its data had none), so %s "
                        "cannot be checked against it\n",
                rm->ckpt, path);
    return t;
fail:
    tok_free(t);
    return NULL;
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
    return runmodel_tokenizer_at(path, rm, e);
}
