/* `model eval`: a trained run's loss on held-out data, as mean nats a token,
 * perplexity and bits per byte (the loss summed over every predicted token, in
 * bits, over the UTF-8 bytes those tokens decode to: comparable across
 * tokenizers). Data: a packer folder (its val*.bin shards), one .bin shard, or
 * text/JSONL encoded here with the run's tokenizer. Shards are cut into the
 * trainer's windows (the first N of them are the trainer's validation set);
 * text is cut into windows of T+1 stepping by T, the last one shorter, so every
 * token but the first is predicted once. Shards need a tokenizer only for the
 * bytes of bits per byte: without one, loss and perplexity alone. */
#include "evaluate.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cblas.h>

#include "cli.h"
#include "data.h"
#include "docio.h"
#include "iofile.h"
#include "progress.h"
#include "runmodel.h"
#include "tokenizer.h"
#include "tokfile.h"

#define PROG "model"

/* The evaluated tokens: shards (windows read on demand) or one encoded stream. */
typedef struct Source {
    Shards sh;
    int is_shards;
    IdBuf ids;                  /* text: the stream */
    uint64_t n_docs;            /* text: the documents encoded */
    uint64_t n_windows, unused; /* unused: shard tokens past the last window */
    char tok_copy[4096];        /* a packer folder: its tokenizer copy ("" when none) */
} Source;

static int is_dir(const char *p)
{
    struct stat st;
    return !stat(p, &st) && S_ISDIR(st.st_mode);
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

/* Shards: a folder or a .bin; anything else is documents. */
static int data_is_shards(const char *data)
{
    return is_dir(data) || ends_with(data, ".bin");
}

/* 1 when the regular file at path (gzip or not) starts with a token stream's
 * magic: bpe encode's output, which read as text is binary lines, or worse, a
 * few lines that happen to hold no NUL. Pipes are not looked into: the
 * bytes read here would be gone. */
static int is_token_stream(const char *path)
{
    struct stat st;
    if (!strcmp(path, "-") || stat(path, &st) || !S_ISREG(st.st_mode)) return 0;
    Err ignored;
    InFile *in = in_open(path, 1, &ignored);
    char head[8];
    size_t n = 0;
    ssize_t k = 1;
    while (in && n < sizeof head && (k = in_read(in, head + n, sizeof head - n, &ignored)) > 0) n += (size_t)k;
    in_close(in);
    return n == sizeof head && !memcmp(head, TOK_MAGIC, sizeof head);
}

/* tok: the tokenizer, which text needs; shards are read without one. */
static int open_source(const EvalOpts *o, const RunModel *rm, const Tokenizer *tok, Source *src, Err *e)
{
    int V = rm->cfg.vocab_size, T = rm->cfg.context;
    if (is_dir(o->data)) {
        DataMeta meta;
        Shards train;
        const char *dir = o->data;
        if (data_scan(dir, &meta, &train, &src->sh, e)) {
            shards_free(&train);
            return -1;
        }
        shards_free(&train);
        if (!src->sh.n) return err_set(e, "%s: no validation shards (val*.bin): give one .bin with --data", dir);
        if (meta.vocab_size && meta.vocab_size != V)
            return err_set(e, "%s: vocabulary of %d ids, but the model %s has %d", dir, meta.vocab_size,
                           rm->ckpt, V);
        if (meta.tok_fp && rm->tok_fp && meta.tok_fp != rm->tok_fp) {
            char d[17], c[17];
            tok_fingerprint_hex(meta.tok_fp, d);
            tok_fingerprint_hex(rm->tok_fp, c);
            return err_set(e, "%s: tokens of the tokenizer with fingerprint %s (meta.json), but the model %s "
                              "was trained on tokens of fingerprint %s: another tokenizer",
                           dir, d, rm->ckpt, c);
        }
        snprintf(src->tok_copy, sizeof src->tok_copy, "%s", meta.tokenizer);
        src->is_shards = 1;
        if (shards_map(&src->sh, T, meta.best_fit, e)) return -1;
    } else if (ends_with(o->data, ".bin")) {
        BinFile b;
        if (bin_open(&b, o->data, e)) return -1;
        uint32_t hv = b.vocab_size;
        bin_close(&b);
        if (hv && (int)hv != V)
            return err_off(e, o->data, 12, "vocabulary of %u ids, but the model %s has %d", hv, rm->ckpt, V);
        if (!(src->sh.paths = calloc(1, sizeof *src->sh.paths)) || !(src->sh.paths[0] = strdup(o->data)))
            return err_set(e, "out of memory");
        src->sh.n = 1;
        src->is_shards = 1;
        if (shards_map(&src->sh, T, rm->best_fit, e)) return -1;
    } else {
        if (is_token_stream(o->data))
            return err_set(e, "%s: a token stream (bpe encode's output), not documents: --data takes text or "
                              "shards, so pack it first (packer -o DIR %s) and give --data DIR", o->data, o->data);
        if (rm->eot_id < 0) return err_set(e, "%s has no end-of-text id to separate documents", rm->ckpt);
        const char *paths[1] = { o->data };
        DocReader *r = doc_open(&o->doc, paths, strcmp(o->data, "-") ? 1 : 0, e);
        if (!r) return -1;
        TokEncoder *enc = tok_encoder_new(tok, e);
        Doc d;
        int rc = enc ? 0 : -1;
        while (!rc && (rc = doc_next(r, &d, e)) == 1) {
            size_t from = src->ids.len;
            src->n_docs++;
            rc = idbuf_push(&src->ids, (uint32_t)rm->eot_id) ? err_set(e, "out of memory") : 0;
            if (!rc && tok_encode(enc, d.text, d.text_len, 0, &src->ids, e)) {
                char m[sizeof e->msg];
                snprintf(m, sizeof m, "%s", e->msg);
                rc = err_at(e, err_name(d.path), d.lineno, "%s", m);
            }
            for (size_t i = from; !rc && i < src->ids.len; i++)
                if (src->ids.ids[i] >= (uint32_t)V)
                    rc = err_at(e, err_name(d.path), d.lineno, "token %u is outside the model's vocabulary of %d",
                                src->ids.ids[i], V);
        }
        tok_encoder_free(enc);
        uint64_t n_binary = doc_stats(r)->n_binary;
        if (rc < 0) {
            doc_close(r, e);
            return -1;
        }
        if (doc_close(r, e)) return -1;
        if (src->ids.len < 2 && n_binary) /* e.g. bpe encode's token stream */
            return err_set(e, "%s: a binary file (a NUL byte), not documents: give shards (a packer folder "
                              "or a .bin) or text", o->data);
        if (src->ids.len < 2) return err_set(e, "%s: fewer than two tokens: nothing to predict", o->data);
        src->n_windows = (src->ids.len - 2) / (uint64_t)T + 1;
        return 0;
    }
    src->n_windows = src->sh.n_windows;
    src->unused = src->sh.unused_tokens;
    return 0;
}

/* Window w into x, y; returns its length (T, or less for text's last window). */
static int get_window(const Source *src, uint64_t w, int T, int V, int *x, int *y, Err *e)
{
    if (src->is_shards) return shards_window(&src->sh, w, V, x, y, e) ? -1 : T;
    size_t start = (size_t)w * T, n = src->ids.len - 1 - start < (size_t)T ? src->ids.len - 1 - start : (size_t)T;
    for (size_t t = 0; t < n; t++) {
        x[t] = (int)src->ids.ids[start + t];
        y[t] = (int)src->ids.ids[start + t + 1];
    }
    return (int)n;
}

/* Which tokenizer: --tokenizer FILE, else RUN/tokenizer.json; for shards,
 * else the data folder's copy (the tokenizer of those very tokens), else none
 * (*tok NULL: no bits per byte). Text cannot be read without one. */
static int find_tokenizer(const EvalOpts *o, const char *run_dir, const RunModel *rm, const Source *src,
                          Tokenizer **tok, Err *e)
{
    char path[PATH_MAX];
    struct stat st;
    *tok = NULL;
    if (o->tokenizer) return (*tok = runmodel_tokenizer_at(o->tokenizer, rm, e)) ? 0 : -1;
    if ((size_t)snprintf(path, sizeof path, "%s/tokenizer.json", run_dir) >= sizeof path)
        return err_set(e, "%s: path too long", run_dir);
    if (!stat(path, &st)) return (*tok = runmodel_tokenizer(run_dir, rm, e)) ? 0 : -1;
    if (!data_is_shards(o->data))
        return err_sys(e, path, "cannot open the run's tokenizer, which the text must be encoded with "
                                "(model train copies the data folder's; give one with --tokenizer FILE)");
    if (src->tok_copy[0]) {
        if (!(*tok = runmodel_tokenizer_at(src->tok_copy, rm, e))) return -1;
        fprintf(stderr, "model: note: %s has no tokenizer.json: bits per byte count the bytes of the tokens "
                        "with %s\n", run_dir, src->tok_copy);
        return 0;
    }
    if (is_dir(o->data))
        fprintf(stderr, "model: note: neither %s nor the data folder %s has a tokenizer.json", run_dir, o->data);
    else
        fprintf(stderr, "model: note: %s has no tokenizer.json", run_dir);
    fprintf(stderr, ": loss and perplexity only; bits per byte need the bytes of each token (give the tokenizer "
                    "with --tokenizer FILE; bpe convert FILE.tiktoken --pattern NAME -o FILE makes one of a rank "
                    "file)\n");
    return 0;
}

void eval_opts_init(EvalOpts *o)
{
    *o = (EvalOpts){ .dev = DEVICE_OPTS_AUTO };
}

int eval_run(const EvalOpts *o, Err *e)
{
    RunModel rm;
    Tokenizer *tok = NULL;
    GPool *pool = NULL;
    Gpt g = { 0 };
    Kern kern = { 0 };
    float *lg = NULL; /* --dump-logits: a batch of logits (B,T,Vp) on the host */
    Source src = { 0 };
    OutFile *dump = NULL;
    int *x = NULL, *y = NULL, code = 1;
    Progress pr;
    progress_start(&pr, PROG, o->common.progress, 0);
    const char *run_dir = o->run_dir;
    if (runmodel_open(run_dir, o->ckpt, &rm, e)) goto done;
    /* shards are opened first: their folder may hold the tokenizer; text needs it first */
    if (data_is_shards(o->data) && open_source(o, &rm, NULL, &src, e)) goto done;
    if (find_tokenizer(o, run_dir, &rm, &src, &tok, e)) goto done;
    if (!data_is_shards(o->data) && open_source(o, &rm, tok, &src, e)) goto done;
    const int T = rm.cfg.context, V = rm.cfg.vocab_size, Vp = rm.cfg.padded_vocab;
    int B = rm.micro_batch; /* the trainer's batches: its validation loss is reproduced exactly */
    uint64_t n_windows = src.n_windows;
    if (o->max_windows && o->max_windows < n_windows) n_windows = o->max_windows;
    if ((uint64_t)B > n_windows) B = (int)n_windows;
    unsigned threads = gpool_size(o->common.threads, cli_cores());
    openblas_set_num_threads(1);
    if (!(pool = gpool_new(threads))) {
        err_set(e, "cannot start %u threads", threads);
        goto done;
    }
    if (kern_open(&kern, o->dev.device, o->dev.prec, pool, e) || runmodel_load(&rm, B, T, &kern, &g, e)) goto done;
    if (o->dump_logits && !(lg = malloc((size_t)B * T * Vp * sizeof *lg))) {
        err_set(e, "out of memory");
        goto done;
    }
    x = malloc(2 * sizeof(int) * (size_t)B * T);
    if (!x) {
        err_set(e, "out of memory");
        goto done;
    }
    y = x + (size_t)B * T;
    if (o->dump_logits && !(dump = out_open(o->dump_logits, e))) goto done;
    double sum_nats = 0;
    uint64_t n_tokens = 0, n_bytes = 0;
    for (uint64_t w = 0; w < n_windows;) {
        /* a batch of full windows, or text's short last window alone */
        int rows = 0, len = T;
        while (rows < B && w + rows < n_windows) {
            int n = get_window(&src, w + rows, T, V, x + (size_t)rows * T, y + (size_t)rows * T, e);
            if (n < 0) goto done;
            if (n < T) {
                if (rows) break; /* next batch */
                len = n;
                rows = 1;
                break;
            }
            rows++;
        }
        if (dump) {
            gpt_forward(&g, x, NULL, rows, len);
            gpt_logits_get(&g, 0, (size_t)rows * len, lg);
            for (size_t r = 0; r < (size_t)rows * len; r++)
                if (out_write(dump, lg + r * Vp, (size_t)V * sizeof(float), e)) goto done;
        }
        gpt_forward(&g, x, y, rows, len);
        sum_nats += (double)g.loss * rows * len;
        n_tokens += (uint64_t)rows * len;
        for (size_t r = 0; tok && r < (size_t)rows * len; r++) {
            size_t nb;
            if (tok->kind[y[r]] != TOK_SPECIAL) {
                tok_bytes(tok, (uint32_t)y[r], &nb);
                n_bytes += nb;
            }
        }
        w += (uint64_t)rows;
        progress_update(&pr, w, 0, n_tokens, "tokens");
    }
    progress_end(&pr);
    if (dump) {
        int rc = out_close(dump, e);
        dump = NULL;
        if (rc) goto done;
    }
    double loss = sum_nats / (double)n_tokens, ppl = exp(loss);
    double bpb = n_bytes ? sum_nats / log(2.0) / (double)n_bytes : NAN;
    if (o->json) {
        /* without a tokenizer: bits_per_byte and bytes are null */
        json_t *j = json_pack("{s:f,s:f,s:o,s:I,s:o,s:I,s:i,s:s,s:s}", "loss", loss, "perplexity", ppl,
                              "bits_per_byte", tok ? json_real(n_bytes ? bpb : 0.0) : json_null(), "tokens",
                              (json_int_t)n_tokens, "bytes", tok ? json_integer((json_int_t)n_bytes) : json_null(),
                              "windows", (json_int_t)n_windows, "context", T, "checkpoint", rm.ckpt, "data",
                              o->data);
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
        json_decref(j);
        if (!s) {
            err_set(e, "out of memory");
            goto done;
        }
        printf("%s\n", s);
        free(s);
    } else if (tok) {
        printf("loss %.6f nats/token, perplexity %.4f, %.6f bits/byte (%" PRIu64 " tokens, %" PRIu64
               " bytes, %" PRIu64 " windows of %d)\n", loss, ppl, bpb, n_tokens, n_bytes, n_windows, T);
    } else {
        printf("loss %.6f nats/token, perplexity %.4f, bits/byte unknown without a tokenizer (%" PRIu64
               " tokens, %" PRIu64 " windows of %d)\n", loss, ppl, n_tokens, n_windows, T);
    }
    if (fflush(stdout)) {
        err_sys(e, "<stdout>", "write");
        goto done;
    }
    if (src.is_shards)
        progress_summary(&pr, "eval: %" PRIu64 " of %" PRIu64 " windows, %" PRIu64 " tokens in %.2f s (%" PRIu64
                         " tokens past the shards' last windows not evaluated); %s (step %" PRIu64 ")", n_windows,
                         src.n_windows, n_tokens, progress_elapsed(&pr), src.unused, rm.ckpt, rm.step);
    else /* text: every token but the first is predicted; the last window may be short */
        progress_summary(&pr, "eval: %" PRIu64 " of %" PRIu64 " windows, %" PRIu64 " tokens predicted in %.2f s (%s: "
                         "%" PRIu64 " documents, %zu tokens with the end-of-text before each); %s (step %" PRIu64 ")",
                         n_windows, src.n_windows, n_tokens, progress_elapsed(&pr), err_name(o->data), src.n_docs,
                         src.ids.len, rm.ckpt, rm.step);
    code = 0;
done:
    out_abort(dump);
    free(x);
    gpt_free(&g);
    kern_free(&kern);
    gpool_free(pool);
    free(lg);
    shards_free(&src.sh);
    idbuf_free(&src.ids);
    tok_free(tok);
    return code;
}
