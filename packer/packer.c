/* packer_run: read the sources, plan, write the shards, commit. Every shard
 * is written through lib's BinWriter under a staged name (NAME.tmp.PID.done)
 * and renamed onto its real name only when all of them, the tokenizer copy
 * and the plan are done; meta.json is written last. A failure or a signal
 * removes every staged shard, so a failed run leaves nothing behind. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "iofile.h"
#include "pack_internal.h"
#include "tokenizer.h"

#define BUF_TOKENS (1u << 16)

/* ---- staged shards, and their removal on a signal ---- */

/* Every staged name of the run, for the signal handler: it may only read
 * these and call unlink(), then hands over to the handler it replaced
 * (lib's, which removes the open temporary file and dies of the signal). */
static char **volatile sig_paths;
static volatile size_t sig_n;
static void (*sig_prev[3])(int);
static const int sig_nums[3] = { SIGINT, SIGTERM, SIGHUP };

static void on_signal(int sig)
{
    for (size_t i = 0; i < sig_n; i++) unlink(sig_paths[i]);
    for (int k = 0; k < 3; k++)
        if (sig_nums[k] == sig && sig_prev[k] != SIG_DFL && sig_prev[k] != SIG_IGN &&
            sig_prev[k] != SIG_ERR) {
            sig_prev[k](sig);
            return;
        }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void signals_catch(void)
{
    for (int k = 0; k < 3; k++) sig_prev[k] = signal(sig_nums[k], on_signal);
}

static void signals_release(void)
{
    for (int k = 0; k < 3; k++)
        if (sig_prev[k] != SIG_ERR) signal(sig_nums[k], sig_prev[k]);
    sig_n = 0;
    sig_paths = NULL;
}

/* One kind of shard (train or val): names known before the first token,
 * since the plan fixes how many tokens there are. */
typedef struct ShardSet {
    const char *kind;
    uint32_t width, vocab_size, eot_id;
    uint64_t per_shard, total;
    size_t n_shards, cur;
    char **final, **staged;
    BinWriter *w;
    uint64_t in_cur, written;
    unsigned char *buf; /* BUF_TOKENS ids in the shard's width, as they go to disk */
    size_t n_buf;       /* ids in buf */
} ShardSet;

static int shards_init(ShardSet *ss, const char *dir, const char *kind, const TokHeader *h,
                       uint64_t per_shard, uint64_t total, Err *e)
{
    memset(ss, 0, sizeof *ss);
    ss->kind = kind;
    ss->width = h->vocab_size <= 65536 ? 2 : 4;
    ss->vocab_size = h->vocab_size;
    ss->eot_id = h->eot_id;
    ss->per_shard = per_shard;
    ss->total = total;
    ss->n_shards = (size_t)((total + per_shard - 1) / per_shard);
    ss->final = calloc(ss->n_shards + 1, sizeof *ss->final);
    ss->staged = calloc(ss->n_shards + 1, sizeof *ss->staged);
    ss->buf = malloc((size_t)BUF_TOKENS * ss->width);
    if (!ss->final || !ss->staged || !ss->buf) return err_set(e, "out of memory");
    for (size_t i = 0; i < ss->n_shards; i++) {
        size_t n = strlen(dir) + strlen(kind) + 64;
        if (!(ss->final[i] = malloc(n)) || !(ss->staged[i] = malloc(n)))
            return err_set(e, "out of memory");
        snprintf(ss->final[i], n, "%s/%s_%06zu.bin", dir, kind, i);
        snprintf(ss->staged[i], n, "%s/%s_%06zu.bin.tmp.%ld.done", dir, kind, i, (long)getpid());
    }
    return 0;
}

/* Remove what was staged (a failed run), and free. */
static void shards_free(ShardSet *ss, int remove_staged)
{
    binw_abort(ss->w);
    for (size_t i = 0; ss->final && i < ss->n_shards; i++) {
        if (remove_staged && ss->staged[i]) unlink(ss->staged[i]);
        free(ss->final[i]);
        free(ss->staged[i]);
    }
    free(ss->final);
    free(ss->staged);
    free(ss->buf);
    memset(ss, 0, sizeof *ss);
}

static int shards_flush(ShardSet *ss, Err *e)
{
    size_t at = 0;
    while (at < ss->n_buf) {
        if (!ss->w) {
            if (ss->cur >= ss->n_shards)
                return err_set(e, "internal error: more %s tokens than planned", ss->kind);
            ss->w = binw_open(ss->staged[ss->cur], ss->width, ss->vocab_size, ss->eot_id, e);
            if (!ss->w) return -1;
            ss->in_cur = 0;
        }
        uint64_t room = ss->per_shard - ss->in_cur;
        size_t take = ss->n_buf - at < room ? ss->n_buf - at : (size_t)room;
        if (binw_write_raw(ss->w, ss->buf + at * ss->width, take, e)) return -1;
        at += take;
        ss->in_cur += take;
        if (ss->in_cur == ss->per_shard) {
            BinWriter *w = ss->w;
            ss->w = NULL;
            if (binw_close(w, e)) return -1;
            ss->cur++;
        }
    }
    ss->n_buf = 0;
    return 0;
}

/* n ids of `width` bytes at p. Every source has the shard's vocabulary, and
 * the width follows from it, so ids are copied as they are: moving tokens is
 * most of packer's time (bench/packer). */
static int shards_put(ShardSet *ss, const unsigned char *p, uint32_t width, uint64_t n, Err *e)
{
    if (width != ss->width)
        return err_set(e, "internal error: %u-byte ids for %u-byte shards", width, ss->width);
    while (n) {
        size_t take = BUF_TOKENS - ss->n_buf;
        if (take > n) take = (size_t)n;
        memcpy(ss->buf + ss->n_buf * width, p, take * width);
        ss->n_buf += take;
        ss->written += take;
        p += take * width;
        n -= take;
        if (ss->n_buf == BUF_TOKENS && shards_flush(ss, e)) return -1;
    }
    return 0;
}

static int shards_put_eot(ShardSet *ss, uint64_t n, Err *e)
{
    while (n) {
        if (ss->n_buf == BUF_TOKENS && shards_flush(ss, e)) return -1;
        if (ss->width == 2) {
            uint16_t v = (uint16_t)ss->eot_id;
            memcpy(ss->buf + 2 * ss->n_buf, &v, 2);
        } else {
            memcpy(ss->buf + 4 * ss->n_buf, &ss->eot_id, 4);
        }
        ss->n_buf++;
        ss->written++;
        n--;
    }
    if (ss->n_buf == BUF_TOKENS && shards_flush(ss, e)) return -1;
    return 0;
}

static int shards_finish(ShardSet *ss, Err *e)
{
    if (shards_flush(ss, e)) return -1;
    if (ss->w) {
        BinWriter *w = ss->w;
        ss->w = NULL;
        if (binw_close(w, e)) return -1;
        ss->cur++;
    }
    if (ss->cur != ss->n_shards || ss->written != ss->total)
        return err_set(e, "internal error: %s: %zu shards of %zu, %llu tokens of %llu", ss->kind,
                       ss->cur, ss->n_shards, (unsigned long long)ss->written,
                       (unsigned long long)ss->total);
    return 0;
}

/* ---- writing ---- */

static const unsigned char *doc_ids(const Source *s, uint64_t d)
{
    return s->tokens + s->off[d] * s->width;
}

/* Stream: each document preceded by end-of-text (llm.c's fineweb.py layout). */
static int write_stream(ShardSet *ss, const Source *src, const uint64_t *entries, size_t n,
                        Progress *p, uint64_t *done, Err *e)
{
    for (size_t i = 0; i < n; i++) {
        if (i + 8 < n) { /* shuffled documents are cache misses: ask early */
            const Source *a = &src[PACK_ENTRY_SRC(entries[i + 8])];
            const unsigned char *q = doc_ids(a, PACK_ENTRY_DOC(entries[i + 8]));
            __builtin_prefetch(q);
            __builtin_prefetch(q + 64);
        }
        const Source *s = &src[PACK_ENTRY_SRC(entries[i])];
        uint64_t d = PACK_ENTRY_DOC(entries[i]);
        if (shards_put_eot(ss, 1, e) || shards_put(ss, doc_ids(s, d), s->width, doc_tokens(s, d) - 1, e))
            return -1;
        *done += doc_tokens(s, d);
        progress_update(p, *done, *done * ss->width, i + 1, "documents");
    }
    return 0;
}

static int write_windows(ShardSet *ss, const Source *src, const Windows *w, uint64_t W,
                         PackSourceReport *rep, int is_val, uint64_t *padding, Progress *p,
                         uint64_t *done, Err *e)
{
    for (uint64_t k = 0; k < w->n_windows; k++) {
        uint64_t filled = 0;
        for (uint64_t j = w->first[k]; j < w->first[k + 1]; j++) {
            const Piece *pc = &w->pieces[j];
            const Source *s = &src[PACK_ENTRY_SRC(pc->entry)];
            if (pc->eot_first && shards_put_eot(ss, 1, e)) return -1;
            if (shards_put(ss, doc_ids(s, PACK_ENTRY_DOC(pc->entry)) + pc->start * s->width,
                           s->width, pc->n_ids, e))
                return -1;
            filled += pc->n_ids + pc->eot_first;
            /* The end-of-text before a split document's tail is a token the
             * document did not have: count it as its source's, as packed. */
            if (pc->eot_first && pc->start) {
                PackSourceReport *r = &rep[PACK_ENTRY_SRC(pc->entry)];
                if (is_val) r->val_tokens++;
                else r->train_tokens++;
            }
        }
        uint64_t pad = W - filled;
        if (shards_put_eot(ss, pad, e)) return -1;
        *padding += pad;
        /* Padding is a window's, not a document's: split it over the window's
         * pieces by their size, for the per-source report. */
        if (!is_val && pad)
            for (uint64_t j = w->first[k]; j < w->first[k + 1]; j++) {
                const Piece *pc = &w->pieces[j];
                rep[PACK_ENTRY_SRC(pc->entry)].padding +=
                    (double)pad * (double)(pc->n_ids + pc->eot_first) / (double)filled;
            }
        *done += W;
        progress_update(p, *done, *done * ss->width, k + 1, "windows");
    }
    return 0;
}

/* ---- the output folder ---- */

static int mkdir_p(const char *dir, int *created, Err *e)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return err_set(e, "%s: exists and is not a folder", dir);
        return 0;
    }
    char *p = strdup(dir);
    if (!p) return err_set(e, "out of memory");
    for (char *c = p + 1; *c; c++) {
        if (*c != '/') continue;
        *c = 0;
        if (mkdir(p, 0777) && errno != EEXIST) {
            err_sys(e, p, "cannot create the folder");
            free(p);
            return -1;
        }
        *c = '/';
    }
    free(p);
    if (mkdir(dir, 0777) && errno != EEXIST) return err_sys(e, dir, "cannot create the folder");
    *created = 1;
    return 0;
}

/* kind_NNNNNN.bin: the index, or -1 for any other name. */
static long shard_index(const char *name, const char *kind)
{
    size_t k = strlen(kind);
    if (strncmp(name, kind, k) || name[k] != '_') return -1;
    const char *d = name + k + 1;
    for (int i = 0; i < 6; i++)
        if (d[i] < '0' || d[i] > '9') return -1;
    if (strcmp(d + 6, ".bin")) return -1;
    return strtol(d, NULL, 10);
}

/* Packed data already in dir: its first file name, or NULL. */
static char *find_old_data(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char *found = NULL;
    struct dirent *de;
    while (!found && (de = readdir(d)))
        if (!strcmp(de->d_name, "meta.json") || shard_index(de->d_name, "train") >= 0 ||
            shard_index(de->d_name, "val") >= 0)
            found = strdup(de->d_name);
    closedir(d);
    return found;
}

/* With --force, after the new shards are in place: remove the old run's
 * shards past the new ones (and its tokenizer copy when this run has none). */
static void remove_stale(const char *dir, size_t n_train, size_t n_val, int keep_tokenizer)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d))) {
        long t = shard_index(de->d_name, "train"), v = shard_index(de->d_name, "val");
        int stale = (t >= 0 && (size_t)t >= n_train) || (v >= 0 && (size_t)v >= n_val) ||
                    (!keep_tokenizer && !strcmp(de->d_name, "tokenizer.json"));
        if (!stale) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
}

/* The tokenizer file, read whole and checked to be a JSON object. */
static int read_tokenizer(const char *path, Buf *out, Err *e)
{
    /* It is read twice (copied here, loaded for its fingerprint): a FIFO or
     * a pipe (-t <(...)) would block the second time, for ever. */
    struct stat st;
    if (!stat(path, &st) && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return err_set(e, "%s: not a regular file: packer reads the tokenizer twice, so give a file", path);
    InFile *f = in_open(path, 1, e);
    if (!f) return -1;
    int rc = in_slurp(f, out, e);
    in_close(f);
    if (rc) return -1;
    json_error_t je;
    json_t *j = json_loadb(out->data, out->len, 0, &je);
    if (!j) return err_at(e, path, (uint64_t)(je.line > 0 ? je.line : 1), "not a tokenizer file: %s", je.text);
    int is_obj = json_is_object(j);
    json_decref(j);
    if (!is_obj) return err_at(e, path, 1, "not a tokenizer file: not a JSON object");
    return 0;
}

static int set_new(json_t *obj, const char *key, json_t *v)
{
    return v ? json_object_set_new(obj, key, v) : -1;
}

static json_t *names_json(const ShardSet *ss)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < ss->n_shards; i++) {
        const char *base = strrchr(ss->final[i], '/');
        if (json_array_append_new(a, json_string(base ? base + 1 : ss->final[i]))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int write_meta(const char *dir, const PackOpts *o, const PackReport *rep,
                      const ShardSet *train, const ShardSet *val, Err *e)
{
    json_t *m = json_object(), *srcs = json_array();
    int bad = !m || !srcs;
    bad |= set_new(m, "vocab_size", json_integer(rep->vocab_size));
    bad |= set_new(m, "eot_id", json_integer(rep->eot_id));
    bad |= set_new(m, "context", json_integer((json_int_t)o->context));
    bad |= set_new(m, "window", json_string(o->window == PACK_BEST_FIT ? "best-fit" : "stream"));
    bad |= set_new(m, "tokenizer", o->tokenizer || o->tiktoken ? json_string("tokenizer.json") : json_null());
    char fp[17];
    tok_fingerprint_hex(rep->fingerprint, fp);
    bad |= set_new(m, "tokenizer_fingerprint", rep->fingerprint ? json_string(fp) : json_null());
    bad |= set_new(m, "seed", o->no_shuffle ? json_null() : json_integer((json_int_t)o->seed));
    for (size_t s = 0; !bad && s < rep->n_sources; s++) {
        const PackSourceReport *r = &rep->sources[s];
        json_t *x = json_object();
        bad |= !x || json_array_append_new(srcs, x);
        if (bad) break;
        json_t *name = json_string(err_name(r->name));
        if (!name) {
            json_decref(m);
            json_decref(srcs);
            return err_set(e, "%s: the source's name is not valid UTF-8, so meta.json cannot hold it",
                           r->name);
        }
        bad |= set_new(x, "name", name);
        bad |= set_new(x, "weight", json_real(r->weight));
        bad |= set_new(x, "documents", json_integer((json_int_t)r->train_docs));
        bad |= set_new(x, "tokens", json_integer((json_int_t)r->train_tokens));
        bad |= set_new(x, "epochs", json_real(r->epochs));
        bad |= set_new(x, "share", json_real(r->share));
        bad |= set_new(x, "padding_tokens", json_integer((json_int_t)llround(r->padding)));
        bad |= set_new(x, "val_documents", json_integer((json_int_t)r->val_docs));
        bad |= set_new(x, "val_tokens", json_integer((json_int_t)r->val_tokens));
    }
    bad |= set_new(m, "sources", srcs);
    bad |= set_new(m, "train_tokens", json_integer((json_int_t)rep->train_tokens));
    bad |= set_new(m, "val_tokens", json_integer((json_int_t)rep->val_tokens));
    bad |= set_new(m, "padding_tokens", json_integer((json_int_t)rep->train_padding));
    bad |= set_new(m, "val_padding_tokens", json_integer((json_int_t)rep->val_padding));
    bad |= set_new(m, "shard_tokens", json_integer((json_int_t)train->per_shard));
    bad |= set_new(m, "train_shards", names_json(train));
    bad |= set_new(m, "val_shards", names_json(val));
    char *text = bad ? NULL : json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(m);
    if (!text) return err_set(e, "out of memory for meta.json");
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    OutFile *f = out_open(path, e);
    int rc = f ? 0 : -1;
    if (f && (out_write(f, text, strlen(text), e) || out_write(f, "\n", 1, e))) {
        out_abort(f);
        rc = -1;
    } else if (f) {
        rc = out_close(f, e);
    }
    free(text);
    return rc;
}

/* ---- the summary table ---- */

static const char *store_name(PackStore s)
{
    return s == PACK_STORE_MAPPED ? "mapped" : s == PACK_STORE_MEMORY ? "memory" : "spilled";
}

/* Fewer validation documents than this get a note in the summary. */
#define PACK_FEW_VAL_DOCS 20

static void print_summary(const Progress *p, const PackOpts *o, const PackReport *rep)
{
    progress_summary(p, "%-24s %10s %13s %7s %7s %11s %9s %11s %s", "source", "documents",
                     "tokens", "share", "epochs", "padding", "val docs", "val tokens", "input");
    uint64_t docs = 0, vdocs = 0;
    for (size_t s = 0; s < rep->n_sources; s++) {
        const PackSourceReport *r = &rep->sources[s];
        docs += r->train_docs;
        vdocs += r->val_docs;
        progress_summary(p, "%-24s %10" PRIu64 " %13" PRIu64 " %6.2f%% %7.3f %11.0f %9" PRIu64
                            " %11" PRIu64 " %s",
                         err_name(r->name), r->train_docs, r->train_tokens, 100.0 * r->share,
                         r->epochs, r->padding, r->val_docs, r->val_tokens, store_name(r->store));
    }
    progress_summary(p, "%-24s %10" PRIu64 " %13" PRIu64 " %6.2f%% %7s %11" PRIu64 " %9" PRIu64
                        " %11" PRIu64,
                     "total", docs, rep->train_tokens - rep->train_padding, 100.0, "",
                     rep->train_padding, vdocs, rep->val_tokens - rep->val_padding);
    double secs = progress_elapsed(p);
    progress_summary(p,
                     "%" PRIu64 " train tokens in %zu shard%s, %" PRIu64 " val tokens in %zu "
                     "shard%s (%s, context %" PRIu64 "%s), %.2f s",
                     rep->train_tokens, rep->n_train_shards, rep->n_train_shards == 1 ? "" : "s",
                     rep->val_tokens, rep->n_val_shards, rep->n_val_shards == 1 ? "" : "s",
                     o->window == PACK_BEST_FIT ? "best-fit windows" : "stream", o->context,
                     o->no_shuffle ? ", input order" : "", secs);
    if (vdocs > 0 && vdocs < PACK_FEW_VAL_DOCS)
        progress_summary(p, "note: the validation set holds only %" PRIu64 " document%s of %" PRIu64
                            ": its loss will be noisy; a larger --val share (or more documents) steadies it",
                         vdocs, vdocs == 1 ? "" : "s", docs + vdocs);
}

/* ---- the run ---- */

int packer_run(const PackOpts *o, PackReport *rep_out, Err *e)
{
    PackReport local = { 0 };
    PackReport *rep = rep_out ? rep_out : &local;
    int keep_order = rep->keep_order;
    memset(rep, 0, sizeof *rep);
    rep->keep_order = keep_order;
    if (!o->n_inputs || !o->out_dir || !o->context || !o->shard_tokens)
        return err_set(e, "internal error: packer_run needs inputs, a folder, a context and a shard size");
    const uint64_t W = o->context + 1;
    uint64_t per_shard = o->shard_tokens;
    if (per_shard < W)
        return err_set(e, "--shard-tokens %" PRIu64 " is smaller than one window of %" PRIu64
                          " tokens", o->shard_tokens, W);
    if (o->window == PACK_BEST_FIT) {
        if (W > UINT32_MAX) return err_set(e, "--context %" PRIu64 " is too long", o->context);
        per_shard -= per_shard % W;
    }
    if (per_shard > BIN_MAX_TOKENS)
        return err_set(e, "--shard-tokens %" PRIu64 " is over llm.c's limit of %u tokens a shard",
                       per_shard, BIN_MAX_TOKENS);

    Progress p;
    progress_start(&p, "packer", o->progress, 0);
    int rc = -1, created = 0, signals = 0;
    Buf tok = { 0 };
    Tokenizer *tik = NULL; /* --tiktoken: the rank file, saved as tokenizer.json at the commit */
    Source *src = calloc(o->n_inputs, sizeof *src);
    Plan plan = { 0 };
    Windows wt = { 0 }, wv = { 0 };
    ShardSet train = { 0 }, val = { 0 };
    char **sig_all = NULL;
    rep->n_sources = o->n_inputs;
    rep->sources = calloc(o->n_inputs, sizeof *rep->sources);
    if (!src || !rep->sources) {
        err_set(e, "out of memory");
        goto out;
    }
    for (size_t s = 0; s < o->n_inputs; s++) rep->sources[s].name = o->inputs[s].name ? o->inputs[s].name : o->inputs[s].path;
    if (o->tokenizer && read_tokenizer(o->tokenizer, &tok, e)) goto out;
    /* Its fingerprint, for the streams that record one. A file that does not
     * load as a tokenizer is still copied for streams that record none. */
    TokCheck tc = { .path = o->tokenizer };
    if (o->tokenizer) {
        Tokenizer *t = tok_load_json(o->tokenizer, &tc.load_err);
        if (t && tok_fingerprint(t, &tc.fp, &tc.load_err)) tc.fp = 0;
        tok_free(t);
    } else if (o->tiktoken) {
        /* the same vocabulary as bpe encode --tiktoken FILE --pattern NAME,
         * so the same fingerprint as the streams it wrote */
        if (!(tik = tok_load_tiktoken(o->tiktoken, o->pattern, e)) || tok_fingerprint(tik, &tc.fp, e)) goto out;
        tc.path = o->tiktoken;
    }
    if (mkdir_p(o->out_dir, &created, e)) goto out;
    if (!o->force) {
        char *old = find_old_data(o->out_dir);
        if (old) {
            /* bad usage (2), as model train's -o that already holds a run */
            rc = err_code(e, 2, "%s: already holds packed data (%s): use another folder, or --force to "
                                "replace it", o->out_dir, old);
            free(old);
            goto out;
        }
    }

    /* Read: offsets in memory, tokens mapped or spilled. */
    uint64_t total_in = 0;
    for (size_t s = 0; s < o->n_inputs; s++) {
        for (size_t part = 0; part <= o->inputs[s].n_more; part++) {
            struct stat st;
            const char *path = part ? o->inputs[s].more[part - 1] : o->inputs[s].path;
            if (!strcmp(path, "-") || stat(path, &st) || !S_ISREG(st.st_mode)) {
                total_in = UINT64_MAX;
                break;
            }
            total_in += (uint64_t)st.st_size;
        }
        if (total_in == UINT64_MAX) break;
    }
    if (total_in == UINT64_MAX) total_in = 0;
    p.total = total_in;
    SpillBudget budget = { o->mem_bytes, o->out_dir };
    TokHeader hdr = { 0 };
    uint64_t done_bytes = 0;
    for (size_t s = 0; s < o->n_inputs; s++)
        if (pack_source_read(&src[s], o->inputs[s].path, o->inputs[s].more, o->inputs[s].n_more, &hdr,
                             s ? o->inputs[0].path : NULL, &tc, &budget, &p, &done_bytes, e))
            goto out;
    progress_end(&p);
    rep->vocab_size = hdr.vocab_size;
    rep->eot_id = hdr.eot_id;
    rep->width = hdr.vocab_size <= 65536 ? 2 : 4;
    rep->fingerprint = hdr.fingerprint;

    if (pack_plan(src, o->n_inputs, o, &plan, rep->sources, e)) goto out;
    uint64_t train_doc_tokens = 0, val_doc_tokens = 0;
    for (size_t s = 0; s < o->n_inputs; s++) {
        train_doc_tokens += rep->sources[s].train_tokens;
        val_doc_tokens += rep->sources[s].val_tokens;
    }
    for (size_t s = 0; s < o->n_inputs; s++)
        rep->sources[s].share =
            train_doc_tokens ? (double)rep->sources[s].train_tokens / (double)train_doc_tokens : 0;
    if (!train_doc_tokens) {
        err_set(e, "nothing to pack: no documents for training (%s)",
                o->total_tokens ? "--tokens too small for a single document" : "every input is empty");
        goto out;
    }
    if (o->window == PACK_BEST_FIT && W > train_doc_tokens) {
        err_set(e, "--context %" PRIu64 ": a best-fit window of %" PRIu64 " tokens is longer "
                   "than all the training data (%" PRIu64 " tokens)", o->context, W, train_doc_tokens);
        goto out;
    }
    if (o->window == PACK_STREAM && train_doc_tokens < W) {
        Err w;
        err_set(&w, "warning: only %" PRIu64 " training tokens, fewer than one window of "
                    "context + 1 = %" PRIu64, train_doc_tokens, W);
        err_warn(&w);
    }

    /* Sizes first: the shard names are fixed before anything is written, so
     * the signal handler knows them all. */
    uint64_t train_total = train_doc_tokens, val_total = val_doc_tokens;
    if (o->window == PACK_BEST_FIT) {
        if (pack_best_fit(src, plan.train, plan.n_train, (uint32_t)W, o->seed, 0, o->no_shuffle, &wt, e) ||
            pack_best_fit(src, plan.val, plan.n_val, (uint32_t)W, o->seed, 1, o->no_shuffle, &wv, e))
            goto out;
        train_total = wt.n_windows * W;
        val_total = wv.n_windows * W;
        rep->train_windows = wt.n_windows;
        rep->val_windows = wv.n_windows;
        rep->split_docs = wt.n_split + wv.n_split;
    }
    if (shards_init(&train, o->out_dir, "train", &hdr, per_shard, train_total, e) ||
        shards_init(&val, o->out_dir, "val", &hdr, per_shard, val_total, e))
        goto out;
    if (o->catch_signals) {
        if (!(sig_all = malloc((train.n_shards + val.n_shards + 1) * sizeof *sig_all))) {
            err_set(e, "out of memory");
            goto out;
        }
        size_t k = 0;
        for (size_t i = 0; i < train.n_shards; i++) sig_all[k++] = train.staged[i];
        for (size_t i = 0; i < val.n_shards; i++) sig_all[k++] = val.staged[i];
        sig_paths = sig_all;
        sig_n = k;
        signals_catch();
        signals = 1;
    }

    Progress pw;
    progress_start(&pw, "packer", o->progress, train_total + val_total);
    uint64_t done = 0;
    if (o->window == PACK_BEST_FIT) {
        if (write_windows(&train, src, &wt, W, rep->sources, 0, &rep->train_padding, &pw, &done, e) ||
            write_windows(&val, src, &wv, W, rep->sources, 1, &rep->val_padding, &pw, &done, e))
            goto out;
        uint64_t packed = 0;
        for (size_t s = 0; s < o->n_inputs; s++) packed += rep->sources[s].train_tokens;
        for (size_t s = 0; s < o->n_inputs; s++)
            rep->sources[s].share = (double)rep->sources[s].train_tokens / (double)packed;
    } else {
        if (write_stream(&train, src, plan.train, plan.n_train, &pw, &done, e) ||
            write_stream(&val, src, plan.val, plan.n_val, &pw, &done, e))
            goto out;
    }
    if (shards_finish(&train, e) || shards_finish(&val, e)) goto out;
    progress_end(&pw);
    rep->train_tokens = train_total;
    rep->val_tokens = val_total;
    rep->n_train_shards = train.n_shards;
    rep->n_val_shards = val.n_shards;

    /* Commit: the tokenizer copy, the shards onto their names, meta.json last. */
    if (tik) {
        char path[4096];
        snprintf(path, sizeof path, "%s/tokenizer.json", o->out_dir);
        if (tok_save_json(tik, path, e)) goto out;
    } else if (o->tokenizer) {
        char path[4096];
        snprintf(path, sizeof path, "%s/tokenizer.json", o->out_dir);
        OutFile *f = out_open(path, e);
        if (!f) goto out;
        if (out_write(f, tok.data, tok.len, e)) {
            out_abort(f);
            goto out;
        }
        if (out_close(f, e)) goto out;
    }
    ShardSet *sets[2] = { &train, &val };
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < sets[k]->n_shards; i++)
            if (rename(sets[k]->staged[i], sets[k]->final[i])) {
                err_sys(e, sets[k]->final[i], "cannot rename the finished shard into place");
                goto out;
            }
    if (o->force) remove_stale(o->out_dir, train.n_shards, val.n_shards, o->tokenizer || tik);
    if (write_meta(o->out_dir, o, rep, &train, &val, e)) goto out;
    pw.t0 = p.t0;
    print_summary(&pw, o, rep);
    rc = 0;
out:
    progress_end(&p);
    if (signals) signals_release();
    free(sig_all);
    shards_free(&train, rc != 0);
    shards_free(&val, rc != 0);
    if (rc && created) rmdir(o->out_dir);
    if (rep->keep_order && !rc) {
        rep->train_order = plan.train;
        rep->n_train_order = plan.n_train;
        rep->val_order = plan.val;
        rep->n_val_order = plan.n_val;
        plan.train = plan.val = NULL;
    }
    pack_plan_free(&plan);
    pack_windows_free(&wt);
    pack_windows_free(&wv);
    for (size_t s = 0; src && s < o->n_inputs; s++) pack_source_free(&src[s]);
    free(src);
    buf_free(&tok);
    tok_free(tik);
    if (rep == &local || rc) {
        int keep = rep->keep_order;
        packer_report_free(rep);
        rep->keep_order = keep;
    }
    return rc;
}

void packer_report_free(PackReport *rep)
{
    if (!rep) return;
    free(rep->sources);
    free(rep->train_order);
    free(rep->val_order);
    memset(rep, 0, sizeof *rep);
}

int packer_parse_input(const char *arg, PackInput *in, Err *e)
{
    memset(in, 0, sizeof *in);
    struct stat st;
    const char *colon = strrchr(arg, ':');
    char *path = strdup(arg);
    if (!path) return err_set(e, "out of memory");
    in->path = path;
    if (!colon || !strcmp(arg, "-") || stat(arg, &st) == 0) return 0;
    path[colon - arg] = 0;
    const char *w = colon + 1;
    double v;
    if (cli_double(w, 0, 1e300, &v)) {
        err_set(e, "%s: weight '%s' is not a number >= 0 (write SOURCE:WEIGHT, e.g. web.tok:0.6)",
                path, w);
        free(path);
        in->path = NULL;
        return -1;
    }
    if (!*path) {
        err_set(e, "'%s': no file name before the weight", arg);
        free(path);
        in->path = NULL;
        return -1;
    }
    in->weight = v;
    in->has_weight = 1;
    return 0;
}
