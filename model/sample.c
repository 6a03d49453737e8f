/* `model sample`: text from a trained run. The prompt is encoded with the
 * run's tokenizer after an end-of-text (the shards put one before every
 * document), then tokens are drawn one at a time from softmax(logits / T),
 * optionally cut to the top k and to the top-p nucleus, and streamed out as
 * bytes. The window the model sees is the tokens so far, capped at the
 * context (the oldest sliding out). By default its logits come from the KV
 * cache (infer.c): one new row a token, the whole window again only once it
 * has slid (every position moved). --no-cache reruns gpt_forward on the
 * window for every token: the reference the cache is tested against. The
 * loop (sample_continue) also makes the trainer's samples, from the model it
 * is training; loading a run and printing are sample_run's. */
#include "sample.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "cli.h"
#include "infer.h"
#include "progress.h"
#include "runmodel.h"
#include "tokenizer.h"

#define PROG "model"

typedef struct Cand {
    float p;
    int id;
} Cand;

static int cmp_cand(const void *a, const void *b)
{
    const Cand *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return x->id - y->id; /* ties: lower id first, so the order is total */
}

/* Draw an id from logits[0..V) with the options; cand is scratch of V. */
static int draw(const float *logits, int V, const SampleOpts *o, Cand *cand, uint64_t *rng)
{
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    if (o->temperature == 0) return best;
    double mx = logits[best], sum = 0;
    for (int i = 0; i < V; i++) {
        cand[i].id = i;
        cand[i].p = (float)exp(((double)logits[i] - mx) / o->temperature);
        sum += cand[i].p;
    }
    int n = V;
    if ((o->top_k > 0 && o->top_k < V) || o->top_p < 1.0) {
        qsort(cand, (size_t)V, sizeof *cand, cmp_cand);
        if (o->top_k > 0 && o->top_k < n) n = o->top_k;
        if (o->top_p < 1.0) {
            double kept = 0, total = 0;
            for (int i = 0; i < n; i++) total += cand[i].p;
            for (int i = 0; i < n; i++) {
                kept += cand[i].p;
                if (kept >= o->top_p * total) {
                    n = i + 1;
                    break;
                }
            }
        }
        sum = 0;
        for (int i = 0; i < n; i++) sum += cand[i].p;
    }
    double u = (double)(gpt_rand_u64(rng) >> 11) * 0x1.0p-53 * sum, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += cand[i].p;
        if (u < acc) return cand[i].id;
    }
    return cand[n - 1].id; /* u rounded up to sum */
}

void sample_opts_init(SampleOpts *o)
{
    *o = (SampleOpts){ .max_tokens = 256, .temperature = 1.0, .top_p = 1.0, .seed = 1337, .dev = DEVICE_OPTS_AUTO };
}

int sample_prompt_ids(TokEncoder *enc, int eot_id, const char *prompt, int V, IdBuf *ids, Err *e)
{
    size_t first = ids->len;
    if (eot_id >= 0 && idbuf_push(ids, (uint32_t)eot_id)) return err_set(e, "out of memory");
    if (!prompt) return 0;
    if (tok_encode(enc, prompt, strlen(prompt), 1, ids, e)) {
        char m[sizeof e->msg];
        snprintf(m, sizeof m, "%s", e->msg);
        return err_set(e, "--prompt: %s", m);
    }
    for (size_t i = first; i < ids->len; i++)
        if (ids->ids[i] >= (uint32_t)V)
            return err_set(e, "--prompt: token %u is outside the model's vocabulary of %d", ids->ids[i], V);
    return 0;
}

int sample_continue(Gpt *g, Infer *inf, const Tokenizer *tok, int eot_id, const SampleOpts *o, IdBuf *ids,
                    SampleEmit emit, void *arg, uint64_t *made, int *stopped, Err *e)
{
    const int V = g->cfg.vocab_size, ctx = g->cfg.context;
    int rc = -1;
    Buf out = { 0 };
    Cand *cand = malloc((size_t)V * sizeof *cand);
    int *window = malloc((size_t)ctx * sizeof *window);
    float *last = inf ? NULL : malloc((size_t)g->cfg.padded_vocab * sizeof *last); /* the last row of logits */
    *made = 0;
    *stopped = 0;
    if (!cand || !window || (!inf && !last)) {
        err_set(e, "out of memory");
        goto done;
    }
    uint64_t rng = o->seed ^ UINT64_C(0x5eed5a3b1e000000);
    while (*made < o->max_tokens) {
        size_t n = ids->len < (size_t)ctx ? ids->len : (size_t)ctx, first = ids->len - n;
        for (size_t i = 0; i < n; i++) window[i] = (int)ids->ids[first + i];
        const float *logits;
        if (inf) logits = infer_window(inf, window, (int)n); /* the positions not cached yet */
        else {
            gpt_forward(g, window, NULL, 1, (int)n);
            gpt_logits_get(g, n - 1, 1, last);
            logits = last;
        }
        int id = draw(logits, V, o, cand, &rng);
        ++*made;
        if (id == eot_id && !o->keep_going) {
            *stopped = 1;
            break;
        }
        if (idbuf_push(ids, (uint32_t)id)) {
            err_set(e, "out of memory");
            goto done;
        }
        out.len = 0;
        uint32_t u = (uint32_t)id;
        if (tok_decode(tok, &u, 1, &out, e) || emit(arg, out.data, out.len, e)) goto done;
    }
    rc = 0;
done:
    buf_free(&out);
    free(cand);
    free(window);
    free(last);
    return rc;
}

/* sample_run's SampleEmit: stdout, flushed a token at a time; arg is the last byte written */
static int emit_stdout(void *arg, const char *bytes, size_t n, Err *e)
{
    if ((n && fwrite(bytes, 1, n, stdout) != n) || fflush(stdout)) return err_sys(e, "<stdout>", "write");
    if (n) *(int *)arg = (unsigned char)bytes[n - 1];
    return 0;
}

int sample_run(const SampleOpts *o, Err *e)
{
    RunModel rm;
    Tokenizer *tok = NULL;
    TokEncoder *enc = NULL;
    GPool *pool = NULL;
    Gpt g = { 0 };
    Kern kern = { 0 };
    Infer *inf = NULL;
    IdBuf ids = { 0 };
    int code = 1;
    Progress pr;
    progress_start(&pr, PROG, o->common.progress, 0);
    const char *run_dir = o->run_dir;
    if (runmodel_open(run_dir, o->ckpt, &rm, e)) goto done;
    if (!(tok = runmodel_tokenizer(run_dir, &rm, e))) goto done;
    const int ctx = rm.cfg.context;
    if (!(enc = tok_encoder_new(tok, e))) goto done;
    if (sample_prompt_ids(enc, rm.eot_id, o->prompt, rm.cfg.vocab_size, &ids, e)) goto done;
    size_t n_prompt = ids.len - (rm.eot_id >= 0);
    if (ids.len == 0) {
        err_set(e, "%s has no end-of-text token to start from: give --prompt", rm.ckpt);
        goto done;
    }
    unsigned threads = gpool_size(o->common.threads, cli_cores());
    openblas_set_num_threads(1);
    if (!(pool = gpool_new(threads))) {
        err_set(e, "cannot start %u threads", threads);
        goto done;
    }
    if (kern_open(&kern, o->dev.device, o->dev.prec, pool, e)) goto done;
    /* the cache needs the weights only: activations for one position */
    if (runmodel_load(&rm, 1, o->no_cache ? ctx : 1, &kern, &g, e)) goto done;
    if (!o->no_cache && !(inf = infer_new(&g, e))) goto done;
    /* the last byte written: the text is ended with a newline only when it lacks one */
    int last_byte = '\n';
    size_t n_prompt_bytes = o->prompt ? strlen(o->prompt) : 0;
    if (n_prompt_bytes) {
        if (fwrite(o->prompt, 1, n_prompt_bytes, stdout) != n_prompt_bytes) goto wfail;
        last_byte = (unsigned char)o->prompt[n_prompt_bytes - 1];
    }
    fflush(stdout);
    double load_s = progress_elapsed(&pr); /* tokens/s counts from here: loading is not sampling */
    uint64_t made;
    int stopped;
    if (sample_continue(&g, inf, tok, rm.eot_id, o, &ids, emit_stdout, &last_byte, &made, &stopped, e)) goto done;
    /* the summary (stderr, often the same terminal) starts on a line of its own;
     * a text that already ends its line gets no second newline */
    if ((last_byte != '\n' && fputc('\n', stdout) == EOF) || fflush(stdout)) goto wfail;
    double s = progress_elapsed(&pr), gen_s = s - load_s;
    progress_summary(&pr, "sample: %zu prompt tokens, %" PRIu64 " generated (%s) in %.2f s (%.2f s loading), "
                     "%.1f tokens/s; %s (step %" PRIu64 "); %s", n_prompt, made - stopped,
                     stopped ? "stopped at end-of-text" : "reached --tokens", s, load_s,
                     gen_s > 0 ? (double)made / gen_s : 0.0, rm.ckpt, rm.step, inf ? "KV cache" : "no cache");
    code = 0;
    goto done;
wfail:
    err_sys(e, "<stdout>", "write");
done:
    infer_free(inf);
    idbuf_free(&ids);
    gpt_free(&g);
    kern_free(&kern);
    gpool_free(pool);
    tok_encoder_free(enc);
    tok_free(tok);
    return code;
}
