/* `model import`: a GPT-2 trained elsewhere into a run folder that sample,
 * eval, export and `train --resume` read. Two sources: a Hugging Face
 * GPT2LMHeadModel folder (model.safetensors, float32, + config.json, names with
 * or without "transformer.", Conv1D weights (in, out) transposed to our
 * (out, in); attention mask buffers skipped), and llm.c's checkpoint
 * (gpt2_124M.bin: magic 20240326, version 3, float32, already our layout).
 * Not read: bf16/fp16 files, untied output layers, other activations. */
#include "import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "gpt2.h"
#include "iofile.h"
#include "progress.h"
#include "tokenizer.h"
#include "train.h"

#define PROG "model"
#define LLMC_MAGIC 20240326
#define LLMC_HEADER_INTS 256

/* A file mapped read-only. */
typedef struct Mapped {
    const uint8_t *p;
    size_t n;
} Mapped;

static int map_file(const char *path, Mapped *m, Err *e)
{
    m->p = NULL;
    m->n = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return err_sys(e, path, "cannot open");
    struct stat st;
    if (fstat(fd, &st)) {
        close(fd);
        return err_sys(e, path, "cannot stat");
    }
    m->n = (size_t)st.st_size;
    if (m->n) {
        void *p = mmap(NULL, m->n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return err_sys(e, path, "cannot map");
        }
        m->p = p;
    }
    close(fd);
    return 0;
}

static void unmap_file(Mapped *m)
{
    if (m->p) munmap((void *)m->p, m->n);
    m->p = NULL;
}

/* ---- Hugging Face folder ---- */

/* Where one of our tensors comes from in the safetensors file. */
typedef struct Src {
    const uint8_t *data; /* NULL: not (yet) seen */
    int64_t shape[2];
    int ndim;
} Src;

/* HF's names (without "transformer.") for gpt2.h's tensors: the model's own,
 * and those of block l, "h.L." + the name. */
static const struct {
    const char *hf;
    int t;
} top_names[] = { { "wte.weight", GPT_WTE }, { "wpe.weight", GPT_WPE }, { "ln_f.weight", GPT_LNFW },
                  { "ln_f.bias", GPT_LNFB } },
  block_names[] = { { "ln_1.weight", GPT_LN1W },          { "ln_1.bias", GPT_LN1B },
                    { "attn.c_attn.weight", GPT_QKVW },   { "attn.c_attn.bias", GPT_QKVB },
                    { "attn.c_proj.weight", GPT_ATTPROJW }, { "attn.c_proj.bias", GPT_ATTPROJB },
                    { "ln_2.weight", GPT_LN2W },          { "ln_2.bias", GPT_LN2B },
                    { "mlp.c_fc.weight", GPT_FCW },       { "mlp.c_fc.bias", GPT_FCB },
                    { "mlp.c_proj.weight", GPT_FCPROJW }, { "mlp.c_proj.bias", GPT_FCPROJB } };
#define N_TOP (sizeof top_names / sizeof top_names[0])
#define N_BLOCK (sizeof block_names / sizeof block_names[0])

static int per_layer(int t) { return t != GPT_WTE && t != GPT_WPE && t != GPT_LNFW && t != GPT_LNFB; }

/* Our tensor for a HF name without "transformer.": its index in gpt2.h's list
 * and layer (-1 for the embeddings and final LayerNorm); 0 when unknown. */
static int hf_name(const char *name, int *tensor, long *layer)
{
    for (size_t i = 0; i < N_TOP; i++)
        if (!strcmp(name, top_names[i].hf)) {
            *tensor = top_names[i].t;
            *layer = -1;
            return 1;
        }
    if (strncmp(name, "h.", 2) || name[2] < '0' || name[2] > '9') return 0;
    char *end;
    errno = 0;
    long l = strtol(name + 2, &end, 10);
    if (errno || *end != '.' || l < 0 || l > 100000) return 0;
    for (size_t i = 0; i < N_BLOCK; i++)
        if (!strcmp(end + 1, block_names[i].hf)) {
            *tensor = block_names[i].t;
            *layer = l;
            return 1;
        }
    return 0;
}

/* The HF name of tensor t of layer l, for messages. */
static void hf_name_of(char *out, size_t n, int t, size_t l)
{
    for (size_t i = 0; i < N_TOP; i++)
        if (top_names[i].t == t) snprintf(out, n, "transformer.%s", top_names[i].hf);
    for (size_t i = 0; i < N_BLOCK; i++)
        if (block_names[i].t == t) snprintf(out, n, "transformer.h.%zu.%s", l, block_names[i].hf);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* An integer field of config.json; `dflt` when absent or null (-1: required). */
static int cfg_int(json_t *cfg, const char *path, const char *key, long long dflt, long long lo, long long hi,
                   long long *out, Err *e)
{
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) {
        if (dflt == -1) return err_set(e, "%s: no \"%s\"", path, key);
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return err_set(e, "%s: \"%s\" must be a whole number in [%lld, %lld]", path, key, lo, hi);
    *out = json_integer_value(v);
    return 0;
}

/* config.json -> shape and end-of-text id. */
static int read_hf_config(const char *path, GptConfig *c, int *eot, Err *e)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        if (access(path, F_OK)) return err_sys(e, path, "cannot open (a Hugging Face folder has config.json)");
        return err_at(e, path, (uint64_t)je.line, "%s", je.text);
    }
    int rc = -1;
    long long L, C, NH, M, V, T, eos;
    json_t *act = json_object_get(j, "activation_function"), *eps = json_object_get(j, "layer_norm_epsilon");
    json_t *tie = json_object_get(j, "tie_word_embeddings"), *mt = json_object_get(j, "model_type");
    if (!json_is_object(j)) err_set(e, "%s: not a JSON object", path);
    else if (mt && (!json_is_string(mt) || strcmp(json_string_value(mt), "gpt2")))
        err_set(e, "%s: model_type %s, this reads gpt2", path, json_is_string(mt) ? json_string_value(mt) : "?");
    else if (act && (!json_is_string(act) || (strcmp(json_string_value(act), "gelu_new") &&
                                              strcmp(json_string_value(act), "gelu_pytorch_tanh"))))
        err_set(e, "%s: activation_function %s: our GPT-2 computes gelu_new (GELU's tanh form) only", path,
                json_is_string(act) ? json_string_value(act) : "?");
    else if (eps && (!json_is_number(eps) || json_number_value(eps) != 1e-5))
        err_set(e, "%s: layer_norm_epsilon %g: our LayerNorm uses 1e-5", path, json_number_value(eps));
    else if (tie && json_is_false(tie))
        err_set(e, "%s: tie_word_embeddings false: our output layer is the token embedding", path);
    else if (!cfg_int(j, path, "n_layer", -1, 1, 1000, &L, e) && !cfg_int(j, path, "n_embd", -1, 1, 1 << 16, &C, e) &&
             !cfg_int(j, path, "n_head", -1, 1, 1 << 12, &NH, e) &&
             !cfg_int(j, path, "n_inner", 0, 1, 1 << 18, &M, e) &&
             !cfg_int(j, path, "vocab_size", -1, 2, INT32_MAX, &V, e) &&
             !cfg_int(j, path, "n_positions", 0, 1, 1 << 20, &T, e) &&
             !cfg_int(j, path, "eos_token_id", -1000, 0, INT32_MAX, &eos, e)) {
        if (!T && cfg_int(j, path, "n_ctx", -1, 1, 1 << 20, &T, e)) goto done;
        *c = (GptConfig){ .n_layer = (int)L, .n_embd = (int)C, .n_head = (int)NH,
                          .n_mlp = M ? (int)M : 4 * (int)C, .vocab_size = (int)V, .context = (int)T };
        *eot = eos == -1000 ? -1 : (int)eos; /* past the vocabulary: import_run refuses it unless --eot */
        Err ce;
        if (gpt_config_check(c, &ce)) err_set(e, "%s: %s", path, ce.msg);
        else rc = 0;
    }
done:
    json_decref(j);
    return rc;
}

/* The HF shape of tensor t (ours transposed for the Conv1D weights). */
static int hf_shape(const GptConfig *c, int t, int64_t shape[2])
{
    int64_t C = c->n_embd, M = c->n_mlp;
    switch (t) {
    case GPT_WTE: shape[0] = c->vocab_size; shape[1] = C; return 2;
    case GPT_WPE: shape[0] = c->context; shape[1] = C; return 2;
    case GPT_QKVW: shape[0] = C; shape[1] = 3 * C; return 2;
    case GPT_QKVB: shape[0] = 3 * C; return 1;
    case GPT_ATTPROJW: shape[0] = C; shape[1] = C; return 2;
    case GPT_FCW: shape[0] = C; shape[1] = M; return 2;
    case GPT_FCB: shape[0] = M; return 1;
    case GPT_FCPROJW: shape[0] = M; shape[1] = C; return 2;
    default: shape[0] = C; return 1; /* LayerNorm gains and biases, the projections' biases */
    }
}

static void shape_str(char *out, size_t n, const int64_t *s, int ndim)
{
    if (ndim == 1) snprintf(out, n, "[%" PRId64 "]", s[0]);
    else snprintf(out, n, "[%" PRId64 ", %" PRId64 "]", s[0], s[1]);
}

/* Read DIR/model.safetensors + DIR/config.json into *params (caller frees). */
static int read_hf(const char *dir, GptConfig *cfg, int *eot, float **params, int *n_tensors, int *n_skipped,
                   int *tied_head, Err *e)
{
    char cpath[PATH_MAX], path[PATH_MAX];
    snprintf(cpath, sizeof cpath, "%s/config.json", dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (read_hf_config(cpath, cfg, eot, e)) return -1;
    Mapped m;
    if (map_file(path, &m, e)) return -1;
    const size_t L = (size_t)cfg->n_layer;
    Src *src = calloc(GPT_N_TENSORS * L, sizeof *src); /* [tensor][layer]; the per-model ones use layer 0 */
    json_t *hdr = NULL;
    int rc = -1;
    const uint8_t *lm_head = NULL;
    *n_tensors = *n_skipped = *tied_head = 0;
    *params = NULL;
    if (!src) {
        err_set(e, "out of memory");
        goto done;
    }
    uint64_t hlen = 0;
    if (m.n < 8) {
        err_off(e, path, 0, "%zu bytes, too short for a safetensors header", m.n);
        goto done;
    }
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)m.p[i] << (8 * i);
    if (hlen > m.n - 8 || hlen > (UINT64_C(1) << 30)) {
        err_off(e, path, 0, "header length %" PRIu64 ", but the file has %zu bytes: truncated or not safetensors",
                hlen, m.n);
        goto done;
    }
    json_error_t je;
    if (!(hdr = json_loadb((const char *)m.p + 8, (size_t)hlen, 0, &je)) || !json_is_object(hdr)) {
        err_off(e, path, 8 + (uint64_t)(hdr ? 0 : je.position), "bad safetensors header: %s",
                hdr ? "not a JSON object" : je.text);
        goto done;
    }
    const uint8_t *data = m.p + 8 + hlen;
    const uint64_t data_n = m.n - 8 - hlen;
    const char *key;
    json_t *t;
    json_object_foreach(hdr, key, t) {
        if (!strcmp(key, "__metadata__")) continue;
        const char *name = strncmp(key, "transformer.", 12) ? key : key + 12;
        const char *dtype = NULL;
        json_t *shape = NULL;
        json_int_t a, b;
        if (json_unpack_ex(t, &je, 0, "{s:s,s:o,s:[II]}", "dtype", &dtype, "shape", &shape, "data_offsets", &a, &b)) {
            err_off(e, path, 8, "tensor %s: bad header entry: %s", key, je.text);
            goto done;
        }
        if (!json_is_array(shape)) {
            err_off(e, path, 8, "tensor %s: bad header entry: shape is not a list", key);
            goto done;
        }
        if (ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias")) {
            (*n_skipped)++; /* the causal mask buffers: constants, not weights */
            continue;
        }
        if (json_array_size(shape) > 2) {
            err_off(e, path, 8, "tensor %s has %zu dimensions, GPT-2's have 1 or 2", key, json_array_size(shape));
            goto done;
        }
        int ti = -1;
        long layer = -1;
        int is_head = !strcmp(key, "lm_head.weight");
        if (!is_head && !hf_name(name, &ti, &layer)) {
            err_off(e, path, 8, "tensor %s is not part of GPT2LMHeadModel (or not one this reads)", key);
            goto done;
        }
        if (strcmp(dtype, "F32")) {
            err_off(e, path, 8, "tensor %s is %s: only F32 files are read", key, dtype);
            goto done;
        }
        int64_t s[2] = { 1, 1 }, count = 1;
        int ndim = (int)json_array_size(shape);
        for (int d = 0; d < ndim; d++) {
            json_t *x = json_array_get(shape, (size_t)d);
            if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > (INT64_C(1) << 40)) {
                err_off(e, path, 8, "tensor %s: bad shape", key);
                goto done;
            }
            s[d] = json_integer_value(x);
            count *= s[d];
        }
        if (a < 0 || b < a || (uint64_t)b > data_n || (uint64_t)(b - a) != 4 * (uint64_t)count) {
            err_off(e, path, 8 + hlen + (uint64_t)(a > 0 ? a : 0),
                    "tensor %s: data [%lld, %lld) does not hold %" PRId64 " floats within the %" PRIu64
                    " data bytes: truncated or corrupt",
                    key, (long long)a, (long long)b, count, data_n);
            goto done;
        }
        if (is_head) {
            lm_head = data + a;
            int64_t want[2];
            hf_shape(cfg, GPT_WTE, want);
            if (ndim != 2 || s[0] != want[0] || s[1] != want[1]) {
                char got[64], w[64];
                shape_str(got, sizeof got, s, ndim);
                shape_str(w, sizeof w, want, 2);
                err_off(e, path, 8, "tensor %s is %s, but %s says %s", key, got, cpath, w);
                goto done;
            }
            continue;
        }
        if (layer >= (long)L) {
            err_off(e, path, 8, "tensor %s is in layer %ld, but %s says %zu layers", key, layer, cpath, L);
            goto done;
        }
        int64_t want[2];
        int wdim = hf_shape(cfg, ti, want);
        if (ndim != wdim || s[0] != want[0] || (wdim == 2 && s[1] != want[1])) {
            char got[64], w[64];
            shape_str(got, sizeof got, s, ndim);
            shape_str(w, sizeof w, want, wdim);
            err_off(e, path, 8, "tensor %s is %s, but %s says %s", key, got, cpath, w);
            goto done;
        }
        Src *x = &src[ti * L + (layer < 0 ? 0 : (size_t)layer)];
        if (x->data) {
            err_off(e, path, 8, "tensor %s appears twice (with and without 'transformer.'?)", key);
            goto done;
        }
        *x = (Src){ .data = data + a, .shape = { s[0], s[1] }, .ndim = ndim };
        (*n_tensors)++;
    }
    /* every tensor present */
    for (int ti = 0; ti < GPT_N_TENSORS; ti++) {
        for (size_t l = 0; l < (per_layer(ti) ? L : 1); l++)
            if (!src[ti * L + l].data) {
                char nm[96];
                hf_name_of(nm, sizeof nm, ti, l);
                err_set(e, "%s: no tensor %s (with or without 'transformer.')", path, nm);
                goto done;
            }
    }
    size_t sizes[GPT_N_TENSORS], n = gpt_n_params(cfg);
    gpt_tensor_sizes(cfg, sizes);
    float *p = calloc(n, sizeof *p);
    if (!p) {
        err_set(e, "out of memory");
        goto done;
    }
    float *dst = p;
    for (int ti = 0; ti < GPT_N_TENSORS; ti++) {
        size_t each = per_layer(ti) ? sizes[ti] / L : sizes[ti];
        for (size_t l = 0; l < (per_layer(ti) ? L : 1); l++, dst += each) {
            const Src *x = &src[ti * L + l];
            int transpose = ti == GPT_QKVW || ti == GPT_ATTPROJW || ti == GPT_FCW || ti == GPT_FCPROJW;
            size_t count = (size_t)x->shape[0] * (x->ndim == 2 ? (size_t)x->shape[1] : 1);
            if (!transpose) memcpy(dst, x->data, count * sizeof(float)); /* wte: its V rows of Vp */
            else { /* HF (in, out) -> ours (out, in) */
                size_t rows = (size_t)x->shape[0], cols = (size_t)x->shape[1];
                for (size_t r = 0; r < rows; r++)
                    for (size_t c = 0; c < cols; c++)
                        memcpy(&dst[c * rows + r], x->data + 4 * (r * cols + c), sizeof(float));
            }
        }
    }
    if (lm_head && memcmp(lm_head, p, (size_t)cfg->vocab_size * cfg->n_embd * sizeof(float))) {
        free(p);
        err_set(e, "%s: lm_head.weight differs from the token embedding: our output layer is tied to it", path);
        goto done;
    }
    *tied_head = lm_head != NULL;
    *params = p;
    rc = 0;
done:
    json_decref(hdr);
    free(src);
    unmap_file(&m);
    return rc;
}

/* ---- llm.c checkpoint ---- */

static int read_llmc(const char *path, GptConfig *cfg, float **params, Err *e)
{
    Mapped m;
    *params = NULL;
    if (map_file(path, &m, e)) return -1;
    int rc = -1;
    int32_t h[LLMC_HEADER_INTS];
    if (m.n < sizeof h) {
        err_off(e, path, 0, "%zu bytes, too short for an llm.c header (1024)", m.n);
        goto done;
    }
    memcpy(h, m.p, sizeof h); /* little-endian, as llm.c writes on x86/ARM */
    if (h[0] != LLMC_MAGIC) {
        err_off(e, path, 0, "magic %d, not an llm.c checkpoint (%d)", h[0], LLMC_MAGIC);
        goto done;
    }
    if (h[1] != 3) {
        err_off(e, path, 4, "llm.c checkpoint version %d%s: only version 3 (float32) is read", h[1],
                h[1] == 5 ? " (bf16)" : "");
        goto done;
    }
    int maxT = h[2], V = h[3], L = h[4], NH = h[5], C = h[6], Vp = h[7];
    *cfg = (GptConfig){ .n_layer = L, .n_embd = C, .n_head = NH, .n_mlp = 4 * C, .vocab_size = V, .context = maxT };
    Err ce;
    if (L < 1 || L > 1000 || C < 1 || C > 1 << 16 || NH < 1 || V < 2 || maxT < 1 || maxT > 1 << 20 || Vp < V ||
        gpt_config_check(cfg, &ce)) {
        err_off(e, path, 8, "impossible shape: %d layers, width %d, %d heads, vocabulary %d (padded %d), context %d",
                L, C, NH, V, Vp, maxT);
        goto done;
    }
    /* llm.c's tensors are ours, in the same order and (out, in) layout, except
     * that its vocabulary is padded to its own multiple (128) */
    size_t sizes[GPT_N_TENSORS], rest = 0;
    gpt_tensor_sizes(cfg, sizes);
    for (int ti = GPT_WPE; ti < GPT_N_TENSORS; ti++) rest += sizes[ti];
    uint64_t want = sizeof h + 4 * ((uint64_t)Vp * C + rest);
    if (m.n != want) {
        err_off(e, path, sizeof h, "the header's shape needs %" PRIu64 " bytes, the file has %zu: truncated or corrupt",
                want, m.n);
        goto done;
    }
    float *p = calloc(gpt_n_params(cfg), sizeof *p);
    if (!p) {
        err_set(e, "out of memory");
        goto done;
    }
    const uint8_t *w = m.p + sizeof h;
    memcpy(p, w, (size_t)V * C * sizeof(float)); /* its padding rows are not weights */
    memcpy(p + sizes[GPT_WTE], w + (size_t)Vp * C * sizeof(float), rest * sizeof(float));
    *params = p;
    rc = 0;
done:
    unmap_file(&m);
    return rc;
}

/* ---- the run folder ---- */

/* Remove a temporary run folder and what is in it (only our own files). */
static void remove_tmp_run(const char *tmp)
{
    static const char *names[] = { "ckpt-000000.bin", "latest", "tokenizer.json" };
    char p[PATH_MAX];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmp, names[i]);
        unlink(p);
    }
    rmdir(tmp);
}

/* 1 when dir does not exist or is an empty folder. */
static int run_dir_free(const char *dir)
{
    struct stat st;
    if (stat(dir, &st)) return errno == ENOENT;
    if (!S_ISDIR(st.st_mode)) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int empty = 1;
    struct dirent *de;
    while (empty && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) empty = 0;
    closedir(d);
    return empty; /* rename() replaces an empty folder */
}

void import_opts_init(ImportOpts *o)
{
    *o = (ImportOpts){ .eot_id = IMPORT_EOT_FROM_SRC };
}

int import_run(const ImportOpts *o, Err *e)
{
    Progress pr;
    progress_start(&pr, PROG, o->common.progress, 0);
    struct stat st;
    if (stat(o->src, &st)) {
        err_sys(e, o->src, "cannot open");
        return 1;
    }
    GptConfig cfg;
    int eot = -1, n_tensors = 0, n_skipped = 0, tied_head = 0, is_dir = S_ISDIR(st.st_mode), code = 1;
    float *params = NULL;
    Tokenizer *tok = NULL;
    char tok_path[PATH_MAX] = "", tmp[PATH_MAX] = "", path[PATH_MAX];
    if (is_dir) {
        if (read_hf(o->src, &cfg, &eot, &params, &n_tensors, &n_skipped, &tied_head, e)) return 1;
    } else {
        if (read_llmc(o->src, &cfg, &params, e)) return 1;
        eot = cfg.vocab_size == 50257 ? 50256 : -1; /* GPT-2's <|endoftext|> */
        n_tensors = GPT_N_TENSORS;
    }
    if (o->eot_id != IMPORT_EOT_FROM_SRC) {
        if (o->eot_id >= cfg.vocab_size) {
            err_set(e, "--eot %d is outside the vocabulary of %d", o->eot_id, cfg.vocab_size);
            code = 2;
            goto done;
        }
        eot = o->eot_id;
    } else if (eot >= cfg.vocab_size) { /* it became -1 (no end-of-text) without a word */
        err_set(e, "%s/config.json: eos_token_id %d is outside the vocabulary of %d: correct it, or give --eot ID",
                o->src, eot, cfg.vocab_size);
        goto done;
    }
    if (o->tokenizer) snprintf(tok_path, sizeof tok_path, "%s", o->tokenizer);
    else if (is_dir) {
        snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", o->src);
        if (access(tok_path, F_OK)) tok_path[0] = 0;
    }
    if (tok_path[0]) {
        if (!(tok = tok_load_json(tok_path, e))) goto done;
        if ((int64_t)tok->n_vocab < cfg.vocab_size) {
            err_set(e, "%s: %u tokens, but the model's vocabulary is %d", tok_path, tok->n_vocab, cfg.vocab_size);
            goto done;
        }
    }
    if (!run_dir_free(o->out_dir)) {
        err_set(e, "%s already exists and is not an empty folder: pick another -o", o->out_dir);
        code = 2;
        goto done;
    }
    /* everything goes into RUN.tmp.PID, renamed onto RUN once whole */
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", o->out_dir, (long)getpid());
    if (mkdir(tmp, 0755)) {
        err_sys(e, tmp, "cannot create the run folder");
        tmp[0] = 0;
        goto done;
    }
    snprintf(path, sizeof path, "%s/tokenizer.json", tmp);
    if (tok_path[0] && out_copy_file(tok_path, path, e)) goto done;
    cfg.padded_vocab = 0;
    if (gpt_config_check(&cfg, e) || train_write_imported(tmp, &cfg, eot, params, e)) goto done;
    if (rename(tmp, o->out_dir)) {
        err_sys(e, o->out_dir, "cannot rename the finished run folder onto");
        goto done;
    }
    tmp[0] = 0;
    char sz[32], skipped[96] = "";
    if (n_skipped || tied_head)
        snprintf(skipped, sizeof skipped, ", %d mask buffers%s skipped", n_skipped,
                 tied_head ? " and lm_head.weight (tied)" : "");
    progress_si(sz, sizeof sz, (double)gpt_n_params_real(&cfg));
    progress_summary(&pr, "import: %s (%s, %d tensors%s) -> %s/ckpt-000000.bin: %s parameters (%d layers, width %d, "
                     "%d heads, MLP %d, vocabulary %d, context %d, end of text %d)%s",
                     o->src, is_dir ? "Hugging Face safetensors" : "llm.c checkpoint", n_tensors,
                     skipped, o->out_dir, sz, cfg.n_layer,
                     cfg.n_embd, cfg.n_head, cfg.n_mlp, cfg.vocab_size, cfg.context, eot,
                     tok ? ", tokenizer.json" : "; no tokenizer.json (sample and eval on text need one: --tokenizer)");
    code = 0;
done:
    if (tmp[0]) remove_tmp_run(tmp);
    tok_free(tok);
    free(params);
    return code;
}
