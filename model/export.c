/* `model export`: a trained run in the layout of Hugging Face's GPT2LMHeadModel:
 * model.safetensors (float32), config.json (GPT2Config), generation_config.json,
 * and, when the run has a tokenizer, its tokenizer.json with the
 * tokenizer_config.json that AutoTokenizer reads beside it. HF's GPT-2 uses
 * Conv1D layers, whose weights are (in, out): our linear weights are (out, in),
 * so c_attn, c_proj and c_fc are transposed on the way out. The vocabulary
 * padding is dropped; lm_head.weight is left out, tied to transformer.wte.weight
 * as HF's own save_pretrained does. No vocab.json/merges.txt: tokenizer.json
 * holds them, and only HF's slow GPT2Tokenizer would want them. */
#include "export.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cblas.h>

#include "cli.h"
#include "iofile.h"
#include "pretok.h"
#include "progress.h"
#include "runmodel.h"
#include "tokenizer.h"

#define PROG "model"

typedef struct Tensor {
    char name[96];
    const float *src; /* ours */
    size_t rows, cols; /* HF's shape; cols 0: a vector of rows */
    int transpose;     /* src is (cols, rows) */
} Tensor;

static void add(Tensor *t, int *n, const char *name, const float *src, size_t rows, size_t cols, int transpose)
{
    Tensor *x = &t[(*n)++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->src = src;
    x->rows = rows;
    x->cols = cols;
    x->transpose = transpose;
}

static int write_text_file(const char *path, const char *text, size_t n, Err *e)
{
    OutFile *f = out_open(path, e);
    if (!f) return -1;
    if (out_write(f, text, n, e)) {
        out_abort(f);
        return -1;
    }
    return out_close(f, e);
}

/* j as DIR/name, indented, in the order it was built, with a final newline.
 * Takes j (NULL: out of memory). */
static int write_json(const char *dir, const char *name, json_t *j, Err *e)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(j);
    if (!text) return err_set(e, "out of memory");
    size_t n = strlen(text);
    text[n] = '\n'; /* json_dumps' NUL becomes the final newline */
    int rc = write_text_file(path, text, n + 1, e);
    free(text);
    return rc;
}

static json_t *id_or_null(int id) { return id >= 0 ? json_integer(id) : json_null(); }

/* The end-of-text token as tokenizer_config.json names it (bos, eos and
 * unk_token), which AutoTokenizer looks up among tokenizer.json's tokens: a
 * special token by its text, any other by its vocabulary key (byte-level
 * text, "\u0120the" for " the"). JSON null when the model has none. NULL,
 * with e set, on failure. */
static json_t *eot_token(const Tokenizer *t, int eot_id, const char *tok_path, Err *e)
{
    if (eot_id < 0) return json_null();
    if ((uint32_t)eot_id >= t->n_vocab || t->kind[eot_id] == TOK_NONE) {
        err_set(e, "%s: the model's end-of-text id %d is no token of it", err_name(tok_path), eot_id);
        return NULL;
    }
    size_t len;
    const char *s = tok_bytes(t, (uint32_t)eot_id, &len);
    json_t *j;
    if (t->kind[eot_id] == TOK_SPECIAL) {
        if (!(j = json_stringn(s, len))) /* jansson refuses invalid UTF-8 */
            err_set(e, "%s: the end-of-text token (id %d) is not UTF-8 text", err_name(tok_path), eot_id);
        return j;
    }
    Buf b = { 0 };
    j = tok_bytelevel(s, len, &b) ? NULL : json_stringn(b.data ? b.data : "", b.len);
    buf_free(&b);
    if (!j) err_set(e, "out of memory");
    return j;
}

/* GPT2Tokenizer for GPT-2's kind of tokenizer only: GPT-2's pre-tokenizer
 * pattern and merges applied in rank order, as the slow GPT2Tokenizer has
 * them built in. Any other (GPT-4's or o200k's pattern, a --classes alphabet,
 * no pattern, ignore_merges) gets PreTrainedTokenizerFast, the class that runs
 * tokenizer.json as it is and assumes nothing of it. */
static const char *tokenizer_class(const Tokenizer *t)
{
    const char *name = t->regex ? pretok_builtin_of(t->regex) : NULL;
    int gpt2 = name && !strcmp(name, "gpt2") && !t->ignore_merges && !t->rank_by_bytes;
    return gpt2 ? "GPT2Tokenizer" : "PreTrainedTokenizerFast";
}

void export_opts_init(ExportOpts *o)
{
    *o = (ExportOpts){ 0 };
}

int export_run(const ExportOpts *o, Err *e)
{
    RunModel rm;
    float *weights = NULL;           /* the checkpoint's, host memory */
    float *tensor[GPT_N_TENSORS];    /* views into them */
    Tensor *ts = NULL;
    json_t *hdr = NULL, *eot_tok = NULL;
    char *hdr_text = NULL;
    float *tmp = NULL;
    OutFile *f = NULL;
    Buf tokjson = { 0 };
    Tokenizer *tok = NULL;
    int code = 1;
    Progress pr;
    progress_start(&pr, PROG, o->common.progress, 0);
    if (runmodel_open(o->run_dir, o->ckpt, &rm, e)) goto done;
    /* The tokenizer is checked before anything is written (it covers the
     * vocabulary; its fingerprint is the one the checkpoint records), and
     * copied byte for byte. */
    char tok_in[PATH_MAX];
    snprintf(tok_in, sizeof tok_in, "%s/tokenizer.json", o->run_dir);
    struct stat st;
    if (!stat(tok_in, &st)) {
        if (!(tok = runmodel_tokenizer_at(tok_in, &rm, e))) goto done;
        if (!(eot_tok = eot_token(tok, rm.eot_id, tok_in, e))) goto done;
        InFile *in = in_open(tok_in, 0, e);
        if (!in) goto done;
        int rc = in_slurp(in, &tokjson, e);
        in_close(in);
        if (rc) goto done;
    }
    if (!(weights = runmodel_weights(&rm, gpt_n_params(&rm.cfg), e))) goto done;
    size_t sizes[GPT_N_TENSORS], at = 0;
    gpt_tensor_sizes(&rm.cfg, sizes);
    for (int i = 0; i < GPT_N_TENSORS; at += sizes[i], i++) tensor[i] = weights + at;
    const size_t L = (size_t)rm.cfg.n_layer, C = (size_t)rm.cfg.n_embd, M = (size_t)rm.cfg.n_mlp;
    const size_t V = (size_t)rm.cfg.vocab_size, T = (size_t)rm.cfg.context;
    ts = calloc(4 + 12 * L, sizeof *ts);
    if (!ts) goto oom;
    int n = 0;
    char name[96];
    add(ts, &n, "transformer.wte.weight", tensor[GPT_WTE], V, C, 0); /* the first V rows of Vp */
    add(ts, &n, "transformer.wpe.weight", tensor[GPT_WPE], T, C, 0);
    for (size_t l = 0; l < L; l++) {
#define H(suffix) (snprintf(name, sizeof name, "transformer.h.%zu.%s", l, suffix), name)
        add(ts, &n, H("ln_1.weight"), tensor[GPT_LN1W] + l * C, C, 0, 0);
        add(ts, &n, H("ln_1.bias"), tensor[GPT_LN1B] + l * C, C, 0, 0);
        add(ts, &n, H("attn.c_attn.weight"), tensor[GPT_QKVW] + l * 3 * C * C, C, 3 * C, 1);
        add(ts, &n, H("attn.c_attn.bias"), tensor[GPT_QKVB] + l * 3 * C, 3 * C, 0, 0);
        add(ts, &n, H("attn.c_proj.weight"), tensor[GPT_ATTPROJW] + l * C * C, C, C, 1);
        add(ts, &n, H("attn.c_proj.bias"), tensor[GPT_ATTPROJB] + l * C, C, 0, 0);
        add(ts, &n, H("ln_2.weight"), tensor[GPT_LN2W] + l * C, C, 0, 0);
        add(ts, &n, H("ln_2.bias"), tensor[GPT_LN2B] + l * C, C, 0, 0);
        add(ts, &n, H("mlp.c_fc.weight"), tensor[GPT_FCW] + l * M * C, C, M, 1);
        add(ts, &n, H("mlp.c_fc.bias"), tensor[GPT_FCB] + l * M, M, 0, 0);
        add(ts, &n, H("mlp.c_proj.weight"), tensor[GPT_FCPROJW] + l * C * M, M, C, 1);
        add(ts, &n, H("mlp.c_proj.bias"), tensor[GPT_FCPROJB] + l * C, C, 0, 0);
#undef H
    }
    add(ts, &n, "transformer.ln_f.weight", tensor[GPT_LNFW], C, 0, 0);
    add(ts, &n, "transformer.ln_f.bias", tensor[GPT_LNFB], C, 0, 0);

    /* the header: every tensor's dtype, shape and [begin, end) in the data that follows */
    if (!(hdr = json_pack("{s:{s:s}}", "__metadata__", "format", "pt"))) goto oom;
    uint64_t off = 0, n_floats = 0;
    for (int i = 0; i < n; i++) {
        size_t count = ts[i].rows * (ts[i].cols ? ts[i].cols : 1);
        json_t *shape = ts[i].cols ? json_pack("[I,I]", (json_int_t)ts[i].rows, (json_int_t)ts[i].cols)
                                   : json_pack("[I]", (json_int_t)ts[i].rows);
        json_t *t = shape ? json_pack("{s:s,s:o,s:[I,I]}", "dtype", "F32", "shape", shape, "data_offsets",
                                      (json_int_t)off, (json_int_t)(off + 4 * count))
                          : NULL;
        if (!t || json_object_set_new(hdr, ts[i].name, t)) goto oom;
        off += 4 * count;
        n_floats += count;
    }
    if (!(hdr_text = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER))) goto oom;
    size_t hlen = strlen(hdr_text), padded = (hlen + 7) / 8 * 8; /* data 8-byte aligned, as safetensors pads */
    char *ph = realloc(hdr_text, padded + 1);
    if (!ph) goto oom;
    hdr_text = ph;
    memset(hdr_text + hlen, ' ', padded - hlen);
    hdr_text[padded] = 0;

    if (mkdir(o->out_dir, 0755) && errno != EEXIST) {
        err_sys(e, o->out_dir, "cannot create the output folder");
        goto done;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/model.safetensors", o->out_dir);
    if (!(f = out_open(path, e))) goto done;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i)); /* little-endian */
    if (out_write(f, len8, 8, e) || out_write(f, hdr_text, padded, e)) goto done;
    size_t biggest = 0;
    for (int i = 0; i < n; i++)
        if (ts[i].transpose && ts[i].rows * ts[i].cols > biggest) biggest = ts[i].rows * ts[i].cols;
    if (biggest && !(tmp = malloc(biggest * sizeof *tmp))) goto oom;
    for (int i = 0; i < n; i++) {
        const Tensor *t = &ts[i];
        size_t count = t->rows * (t->cols ? t->cols : 1);
        const float *data = t->src;
        if (t->transpose) { /* ours (cols, rows) -> HF (rows, cols) */
            for (size_t r = 0; r < t->rows; r++)
                for (size_t c = 0; c < t->cols; c++) tmp[r * t->cols + c] = t->src[c * t->rows + r];
            data = tmp;
        }
        if (out_write(f, data, count * sizeof(float), e)) goto done; /* x86/ARM: already little-endian */
    }
    int rc = out_close(f, e);
    f = NULL;
    if (rc) goto done;

    json_t *cfg = json_pack(
        "{s:[s],s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:s,s:f,s:f,s:f,s:f,s:f,s:b,s:o,s:o,s:s}",
        "architectures", "GPT2LMHeadModel", "model_type", "gpt2", "vocab_size", rm.cfg.vocab_size,
        "n_positions", rm.cfg.context, "n_ctx", rm.cfg.context, "n_embd", rm.cfg.n_embd, "n_layer",
        rm.cfg.n_layer, "n_head", rm.cfg.n_head, "n_inner", rm.cfg.n_mlp, "activation_function", "gelu_new",
        "layer_norm_epsilon", 1e-5, "initializer_range", 0.02, "resid_pdrop", 0.0, "embd_pdrop", 0.0,
        "attn_pdrop", 0.0, "tie_word_embeddings", 1, "bos_token_id", id_or_null(rm.eot_id), "eos_token_id",
        id_or_null(rm.eot_id), "torch_dtype", "float32");
    if (write_json(o->out_dir, "config.json", cfg, e)) goto done;
    /* generate() stops at end-of-text, and by default runs up to the trained
     * context rather than HF's 20 tokens (max_length counts the prompt). */
    json_t *gen = json_pack("{s:o,s:o,s:i}", "bos_token_id", id_or_null(rm.eot_id), "eos_token_id",
                            id_or_null(rm.eot_id), "max_length", rm.cfg.context);
    if (write_json(o->out_dir, "generation_config.json", gen, e)) goto done;

    const char *tok_class = NULL;
    if (tok) {
        snprintf(path, sizeof path, "%s/tokenizer.json", o->out_dir);
        if (write_text_file(path, tokjson.data, tokjson.len, e)) goto done;
        /* What AutoTokenizer reads beside tokenizer.json: the class, the
         * special tokens (GPT-2's three are all end-of-text; no padding token,
         * as GPT-2 has none), the context, the tokenizer's own
         * add_prefix_space, and no spaces removed around punctuation on
         * decoding, so that ids and text go both ways as bpe encode and
         * decode have them. Keys sorted, as HF's save_pretrained writes them. */
        tok_class = tokenizer_class(tok);
        json_t *tc = json_pack("{s:b,s:O,s:b,s:O,s:i,s:s,s:O}", "add_prefix_space", tok->add_prefix_space,
                               "bos_token", eot_tok, "clean_up_tokenization_spaces", 0, "eos_token", eot_tok,
                               "model_max_length", rm.cfg.context, "tokenizer_class", tok_class, "unk_token",
                               eot_tok);
        if (write_json(o->out_dir, "tokenizer_config.json", tc, e)) goto done;
    }
    progress_summary(&pr, "export: %s (step %" PRIu64 ", %" PRIu64 " parameters, %d tensors) -> %s/model.safetensors "
                     "(%.1f MB), config.json, generation_config.json%s%s%s", rm.ckpt, rm.step, n_floats, n,
                     o->out_dir, (double)(8 + padded + 4 * n_floats) / 1e6,
                     tok ? ", tokenizer.json, tokenizer_config.json (" : "; no tokenizer.json: the run has none, so no "
                                                                         "tokenizer_config.json either",
                     tok ? tok_class : "", tok ? ")" : "");
    code = 0;
    goto done;
oom:
    err_set(e, "out of memory");
done:
    out_abort(f);
    buf_free(&tokjson);
    tok_free(tok);
    json_decref(eot_tok);
    free(tmp);
    free(hdr_text);
    json_decref(hdr);
    free(ts);
    free(weights);
    return code;
}
