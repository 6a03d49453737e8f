/* Shards and window order for the trainer. The order is Fisher-Yates over all
 * windows with splitmix64 seeded by (seed, epoch), so a run resumed at (epoch,
 * index) sees the same windows as one that never stopped. Windows never cross
 * a shard boundary; the tail of a shard shorter than a window is counted as
 * unused, not silently dropped. */
#include "data.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gpt2.h"
#include "tokenizer.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_path(Shards *s, const char *dir, const char *name, Err *e)
{
    char **p = realloc(s->paths, (s->n + 1) * sizeof *p);
    if (!p) return err_set(e, "out of memory");
    s->paths = p;
    size_t n = strlen(dir) + strlen(name) + 2;
    if (!(p[s->n] = malloc(n))) return err_set(e, "out of memory");
    snprintf(p[s->n], n, "%s/%s", dir, name);
    s->n++;
    return 0;
}

static int read_meta(const char *dir, DataMeta *m, Err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    struct stat st;
    if (stat(path, &st)) return 0; /* optional */
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return err_at(e, path, (uint64_t)(je.line > 0 ? je.line : 1), "%s", je.text);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = err_at(e, path, 1, "not a JSON object");
        goto done;
    }
    json_t *v;
    if ((v = json_object_get(root, "vocab_size")) && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 2 || json_integer_value(v) > INT32_MAX) {
            rc = err_at(e, path, 1, "\"vocab_size\" must be an integer of at least 2");
            goto done;
        }
        m->vocab_size = (int)json_integer_value(v);
    }
    if ((v = json_object_get(root, "eot_id")) && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX) {
            rc = err_at(e, path, 1, "\"eot_id\" must be a non-negative integer");
            goto done;
        }
        m->eot_id = (int)json_integer_value(v);
    }
    if ((v = json_object_get(root, "context")) && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1 << 20) {
            rc = err_at(e, path, 1, "\"context\" must be a positive integer");
            goto done;
        }
        m->context = (int)json_integer_value(v);
    }
    if ((v = json_object_get(root, "window")) && !json_is_null(v)) {
        const char *w = json_string_value(v);
        if (w && !strcmp(w, "best-fit")) m->best_fit = 1;
        else if (!w || strcmp(w, "stream")) {
            rc = err_at(e, path, 1, "\"window\" is \"stream\" or \"best-fit\"");
            goto done;
        }
    }
    if ((v = json_object_get(root, "tokenizer")) && json_is_string(v)) {
        const char *t = json_string_value(v);
        if (strchr(t, '/')) {
            rc = err_at(e, path, 1, "\"tokenizer\" names a file in the same folder, not '%s'", t);
            goto done;
        }
        snprintf(m->tokenizer, sizeof m->tokenizer, "%s/%s", dir, t);
    }
    if ((v = json_object_get(root, "tokenizer_fingerprint")) && !json_is_null(v)) {
        if (!json_is_string(v) || tok_fingerprint_parse(json_string_value(v), &m->tok_fp)) {
            rc = err_at(e, path, 1, "\"tokenizer_fingerprint\" must be 16 hex digits (or null)");
            goto done;
        }
    }
    if (m->eot_id >= 0 && m->vocab_size && m->eot_id >= m->vocab_size)
        rc = err_at(e, path, 1, "\"eot_id\" %d is outside the vocabulary of %d", m->eot_id, m->vocab_size);
done:
    json_decref(root);
    return rc;
}

int data_check_tokenizer(const char *tok_path, uint64_t want, const char *tokens_of, Err *e)
{
    Tokenizer *t = tok_load_json(tok_path, e);
    uint64_t fp = 0;
    int rc = t ? tok_fingerprint(t, &fp, e) : -1;
    tok_free(t);
    if (!rc && fp != want) {
        char has[17], rec[17];
        tok_fingerprint_hex(fp, has);
        tok_fingerprint_hex(want, rec);
        rc = err_set(e, "%s has tokenizer fingerprint %s, but %s holds tokens of the tokenizer with "
                        "fingerprint %s: another tokenizer",
                     tok_path, has, tokens_of, rec);
    }
    return rc;
}

int data_scan(const char *dir, DataMeta *meta, Shards *train, Shards *val, Err *e)
{
    memset(meta, 0, sizeof *meta);
    meta->eot_id = -1;
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    DIR *d = opendir(dir);
    if (!d) return err_sys(e, dir, "cannot open the data folder");
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".bin")) continue;
        rc = add_path(strstr(de->d_name, "val") ? val : train, dir, de->d_name, e);
    }
    closedir(d);
    if (rc) return -1;
    if (train->n == 0) return err_set(e, "%s: no training shards (*.bin) in the data folder", dir);
    qsort(train->paths, train->n, sizeof *train->paths, cmp_str);
    if (val->n) qsort(val->paths, val->n, sizeof *val->paths, cmp_str);
    if (read_meta(dir, meta, e)) return -1;
    if (!meta->tokenizer[0]) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        if (!stat(path, &st)) snprintf(meta->tokenizer, sizeof meta->tokenizer, "%s", path);
    }
    if (meta->tok_fp && meta->tokenizer[0] && data_check_tokenizer(meta->tokenizer, meta->tok_fp, dir, e))
        return -1;
    /* the headers' vocabularies and end-of-text ids (0: not said) must agree
     * with each other and with meta.json */
    const char *said_by = meta->vocab_size ? "meta.json" : NULL;
    const char *eot_by = meta->eot_id >= 0 ? "meta.json" : NULL;
    char first[4096] = "", first_eot[4096] = "";
    for (int k = 0; k < 2; k++) {
        Shards *s = k ? val : train;
        for (int i = 0; i < s->n; i++) {
            BinFile b;
            if (bin_open(&b, s->paths[i], e)) return -1;
            uint32_t v = b.vocab_size, eot = b.eot_id;
            bin_close(&b);
            if (!v) continue;
            if (meta->vocab_size && (int)v != meta->vocab_size)
                return err_off(e, s->paths[i], 12, "vocabulary of %u ids, but %s says %d", v,
                               said_by ? said_by : first, meta->vocab_size);
            if (!meta->vocab_size) {
                meta->vocab_size = (int)v;
                snprintf(first, sizeof first, "%s", s->paths[i]);
            }
            if (eot && meta->eot_id >= 0 && (int)eot != meta->eot_id)
                return err_off(e, s->paths[i], 16, "end-of-text id %u, but %s says %d", eot,
                               eot_by ? eot_by : first_eot, meta->eot_id);
            if (meta->eot_id < 0 && eot) {
                meta->eot_id = (int)eot;
                snprintf(first_eot, sizeof first_eot, "%s", s->paths[i]);
            }
        }
    }
    return 0;
}

int shards_map(Shards *s, int T, int best_fit, Err *e)
{
    s->T = T;
    s->stride = best_fit ? T + 1 : T;
    s->files = calloc(s->n, sizeof *s->files);
    s->first_window = calloc(s->n + 1, sizeof *s->first_window);
    if (!s->files || !s->first_window) return err_set(e, "out of memory");
    uint64_t w = 0;
    for (int i = 0; i < s->n; i++) {
        if (bin_open(&s->files[i], s->paths[i], e)) return -1;
        uint64_t n = s->files[i].n_tokens, k = 0;
        if (n >= (uint64_t)T + 1) k = (n - 1 - T) / s->stride + 1;
        if (best_fit && n % (uint64_t)(T + 1))
            return err_off(e, s->paths[i], 8,
                           "%llu tokens is not a whole number of best-fit windows of %d tokens: "
                           "packed for another context?",
                           (unsigned long long)n, T + 1);
        s->first_window[i] = w;
        w += k;
        s->n_tokens += n;
        s->unused_tokens += n - (k ? (k - 1) * s->stride + T + 1 : 0);
    }
    s->first_window[s->n] = w;
    s->n_windows = w;
    if (w == 0)
        return err_set(e, "%s: %llu tokens, fewer than one window of context + 1 = %d tokens",
                       s->paths[0], (unsigned long long)s->files[0].n_tokens, T + 1);
    if (w > UINT32_MAX) return err_set(e, "%s...: more than 2^32 windows", s->paths[0]);
    return 0;
}

void shards_free(Shards *s)
{
    for (int i = 0; i < s->n; i++) {
        if (s->files) bin_close(&s->files[i]);
        free(s->paths[i]);
    }
    free(s->files);
    free(s->paths);
    free(s->first_window);
    memset(s, 0, sizeof *s);
}

int shards_window(const Shards *s, uint64_t w, int vocab_size, int *x, int *y, Err *e)
{
    int lo = 0, hi = s->n - 1; /* the file whose windows hold w */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (s->first_window[mid] <= w) lo = mid;
        else hi = mid - 1;
    }
    const BinFile *b = &s->files[lo];
    uint64_t start = (w - s->first_window[lo]) * s->stride;
    for (int t = 0; t <= s->T; t++) {
        uint32_t id = bin_token(b, start + t);
        if (id >= (uint32_t)vocab_size)
            return err_off(e, s->paths[lo], BIN_HEADER_BYTES + (start + t) * b->width,
                           "token id %u is outside the vocabulary of %d", id, vocab_size);
        if (t < s->T) x[t] = (int)id;
        if (t > 0) y[t - 1] = (int)id;
    }
    return 0;
}

static void shuffle(Loader *l)
{
    uint64_t n = l->s->n_windows, st = l->seed * 0x9e3779b97f4a7c15ull + l->epoch;
    for (uint64_t i = 0; i < n; i++) l->order[i] = (uint32_t)i;
    for (uint64_t i = n - 1; i > 0; i--) {
        uint64_t j = gpt_rand_u64(&st) % (i + 1);
        uint32_t t = l->order[i];
        l->order[i] = l->order[j];
        l->order[j] = t;
    }
}

int loader_init(Loader *l, const Shards *s, uint64_t seed, uint64_t epoch, uint64_t index, Err *e)
{
    *l = (Loader){ .s = s, .seed = seed, .epoch = epoch, .index = index };
    if (!(l->order = malloc(s->n_windows * sizeof *l->order))) return err_set(e, "out of memory");
    shuffle(l);
    return 0;
}

/* The next window of the order, moving on to the next epoch as needed. */
static uint32_t loader_take(Loader *l)
{
    if (l->index >= l->s->n_windows) {
        l->epoch++;
        l->index = 0;
        shuffle(l);
    }
    return l->order[l->index++];
}

int loader_next(Loader *l, int B, int vocab_size, int *x, int *y, Err *e)
{
    int T = l->s->T;
    for (int b = 0; b < B; b++)
        if (shards_window(l->s, loader_take(l), vocab_size, x + (size_t)b * T, y + (size_t)b * T, e)) return -1;
    return 0;
}

void loader_skip(Loader *l, int B)
{
    for (int b = 0; b < B; b++) loader_take(l);
}

void loader_free(Loader *l)
{
    if (!l) return;
    free(l->order);
    l->order = NULL;
}

double shards_unigram_entropy(const Shards *s, int vocab_size, uint64_t max_tokens)
{
    uint64_t *count = calloc((size_t)vocab_size, sizeof *count), total = 0;
    if (!count) return NAN;
    for (int i = 0; i < s->n && (!max_tokens || total < max_tokens); i++) {
        const BinFile *b = &s->files[i];
        for (uint64_t k = 0; k < b->n_tokens && (!max_tokens || total < max_tokens); k++) {
            uint32_t id = bin_token(b, k);
            if (id < (uint32_t)vocab_size) count[id]++;
            total++;
        }
    }
    double h = 0.0;
    for (int v = 0; v < vocab_size; v++)
        if (count[v]) {
            double p = (double)count[v] / (double)total;
            h -= p * log(p);
        }
    free(count);
    return h;
}
