/* The quality classifier: hashed unigram+bigram features, logistic regression
 * (Adagrad SGD), the model file, evaluation (accuracy, AUC, precision/recall).
 * Why our solver and not liblinear: bench/filter/run.sh trains both on the same
 * features and prints accuracy, AUC and time side by side (README.md). */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "hash.h"
#include "iofile.h"
#include "utf8.h"

int qm_init(QModel *m, uint32_t log2_buckets, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->log2_buckets = log2_buckets;
    m->seed = seed;
    m->w = calloc((size_t)1 << log2_buckets, sizeof *m->w);
    return m->w ? 0 : -1;
}

void qm_free(QModel *m)
{
    if (!m) return;
    free(m->w);
    m->w = NULL;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Header: magic, version, log2 buckets, feature set (1 unigrams | 2 bigrams),
 * tokenizer (1: lowercase, split on ASCII white space), normalisation (1:
 * divide by the feature count), hash seed, bias (f64), then zeros to 64. */
int qm_save(const QModel *m, const char *path, Err *e)
{
    unsigned char h[QM_HEADER_BYTES] = {0};
    memcpy(h, QM_MAGIC, 8);
    put32(h + 8, QM_VERSION);
    put32(h + 12, m->log2_buckets);
    put32(h + 16, 3);
    put32(h + 20, 1);
    put32(h + 24, 1);
    put64(h + 32, m->seed);
    uint64_t bits;
    memcpy(&bits, &m->bias, 8);
    put64(h + 40, bits);
    OutFile *o = out_open(path, e);
    if (!o) return -1;
    if (out_write(o, h, sizeof h, e)) return out_abort(o), -1;
    size_t nb = (size_t)1 << m->log2_buckets;
    unsigned char chunk[4096];
    for (size_t i = 0; i < nb;) {
        size_t k = 0;
        for (; k < sizeof chunk / 4 && i < nb; k++, i++) {
            uint32_t u;
            memcpy(&u, &m->w[i], 4);
            put32(chunk + 4 * k, u);
        }
        if (out_write(o, chunk, 4 * k, e)) return out_abort(o), -1;
    }
    return out_close(o, e);
}

int qm_load(QModel *m, const char *path, Err *e)
{
    memset(m, 0, sizeof *m);
    const char *name = err_name(path);
    InFile *f = in_open(path, 1 << 20, e);
    if (!f) return -1;
    Buf b = {0};
    int rc = in_slurp(f, &b, e);
    in_close(f);
    if (rc) return buf_free(&b), -1;
    const unsigned char *p = (const unsigned char *)b.data;
    rc = -1;
    if (b.len < 8 || memcmp(p, QM_MAGIC, 8)) {
        err_off(e, name, 0, "not a filter model (no %s magic)", QM_MAGIC);
    } else if (b.len < QM_HEADER_BYTES) {
        err_off(e, name, b.len, "truncated header: the file has %zu bytes, the header %d", b.len, QM_HEADER_BYTES);
    } else if (get32(p + 8) != QM_VERSION) {
        err_off(e, name, 8, "model version %u, this build reads version %d", get32(p + 8), QM_VERSION);
    } else if (get32(p + 12) < 1 || get32(p + 12) > 30) {
        err_off(e, name, 12, "log2 of buckets is %u, expected 1..30", get32(p + 12));
    } else if (get32(p + 16) != 3 || get32(p + 20) != 1 || get32(p + 24) != 1) {
        err_off(e, name, 16, "feature settings %u/%u/%u unknown to this build", get32(p + 16), get32(p + 20),
                get32(p + 24));
    } else {
        uint32_t k = get32(p + 12);
        size_t want = QM_HEADER_BYTES + ((size_t)4 << k);
        uint64_t bits = get64(p + 40);
        double bias;
        memcpy(&bias, &bits, 8);
        if (b.len < want) {
            err_off(e, name, b.len, "truncated: 2^%u weights end at byte %zu, the file at %zu", k, want, b.len);
        } else if (b.len > want) {
            err_off(e, name, want, "%zu bytes after the last weight", b.len - want);
        } else if (!isfinite(bias)) {
            err_off(e, name, 40, "bias is not a finite number");
        } else if (qm_init(m, k, get64(p + 32))) {
            err_set(e, "%s: out of memory for 2^%u weights", name, k);
        } else {
            m->bias = bias;
            rc = 0;
            for (size_t i = 0; i < ((size_t)1 << k); i++) {
                uint32_t u = get32(p + QM_HEADER_BYTES + 4 * i);
                memcpy(&m->w[i], &u, 4);
                if (!isfinite(m->w[i])) {
                    err_off(e, name, QM_HEADER_BYTES + 4 * i, "weight %zu is not a finite number", i);
                    qm_free(m);
                    rc = -1;
                    break;
                }
            }
        }
    }
    buf_free(&b);
    return rc;
}

/* Lowercase (Unicode simple lowercase, as Java's toLowerCase for most text). */
static int lowercase(const char *s, size_t n, Buf *out)
{
    out->len = 0;
    if (buf_reserve(out, n + 1)) return -1;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            out->data[out->len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            i++;
            continue;
        }
        uint32_t cp;
        size_t l = utf8_decode(s + i, n - i, &cp);
        if (!l) { /* not reached for checked documents: copy the byte */
            out->data[out->len++] = (char)c;
            i++;
            continue;
        }
        char enc[4];
        size_t el = utf8_encode((uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), enc);
        if (buf_reserve(out, el + (n - i))) return -1;
        memcpy(out->data + out->len, enc, el);
        out->len += el;
        i += l;
    }
    return 0;
}

static inline int java_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

long qm_features(const char *text, size_t n, uint32_t log2_buckets, uint64_t seed, uint32_t **idx, size_t *cap,
                 Buf *lower)
{
    if (lowercase(text, n, lower)) return -1;
    const char *s = lower->data;
    size_t len = lower->len, k = 0;
    uint32_t mask = (uint32_t)(((uint64_t)1 << log2_buckets) - 1);
    uint64_t prev = 0;
    int have_prev = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && java_space((unsigned char)s[i])) i++;
        if (i == len) break;
        size_t a = i;
        while (i < len && !java_space((unsigned char)s[i])) i++;
        if (k + 2 > *cap) {
            size_t c = *cap ? *cap * 2 : 4096;
            uint32_t *p = realloc(*idx, c * sizeof *p);
            if (!p) return -1;
            *idx = p, *cap = c;
        }
        uint64_t h = hash64(s + a, i - a, seed);
        (*idx)[k++] = (uint32_t)h & mask;
        if (have_prev) {
            uint64_t pair[2] = {prev, h};
            (*idx)[k++] = (uint32_t)hash64(pair, sizeof pair, seed ^ 0xb16ea3ull) & mask;
        }
        prev = h, have_prev = 1;
    }
    return (long)k;
}

double qm_predict(const QModel *m, const uint32_t *idx, size_t k)
{
    double z = m->bias;
    if (k) {
        double sum = 0;
        for (size_t i = 0; i < k; i++) sum += m->w[idx[i]];
        z += sum / (double)k;
    }
    return 1.0 / (1.0 + exp(-z));
}

int qset_add(QSet *s, const uint32_t *idx, size_t k, int y)
{
    if (s->n + 2 > s->cap) {
        size_t c = s->cap ? s->cap * 2 : 1024;
        size_t *st = realloc(s->start, c * sizeof *st);
        if (!st) return -1;
        s->start = st;
        unsigned char *yy = realloc(s->y, c);
        if (!yy) return -1;
        s->y = yy, s->cap = c;
    }
    if (s->n_idx + k > s->cap_idx) {
        size_t c = s->cap_idx ? s->cap_idx : 1 << 16;
        while (c < s->n_idx + k) c *= 2;
        uint32_t *p = realloc(s->idx, c * sizeof *p);
        if (!p) return -1;
        s->idx = p, s->cap_idx = c;
    }
    if (s->n == 0) s->start[0] = 0;
    if (k) memcpy(s->idx + s->n_idx, idx, k * sizeof *idx);
    s->n_idx += k;
    s->y[s->n] = (unsigned char)(y != 0);
    s->start[++s->n] = s->n_idx;
    return 0;
}

void qset_free(QSet *s)
{
    if (!s) return;
    free(s->idx);
    free(s->start);
    free(s->y);
    memset(s, 0, sizeof *s);
}

/* Adagrad on the logistic loss: for a document with k features (each of value
 * 1/k) the gradient of weight j is (p - y)/k per occurrence. The bias learns too. */
int qm_train(QModel *m, const QSet *t, const QTrainOpts *o, Err *e)
{
    size_t nb = (size_t)1 << m->log2_buckets;
    float *g2 = malloc(nb * sizeof *g2);
    size_t *order = malloc((t->n ? t->n : 1) * sizeof *order);
    if (!g2 || !order) {
        free(g2);
        free(order);
        return err_set(e, "out of memory for training");
    }
    for (size_t j = 0; j < nb; j++) g2[j] = 1e-8f;
    double gb2 = 1e-8;
    for (size_t i = 0; i < t->n; i++) order[i] = i;
    uint64_t rng = o->seed;
    for (int ep = 0; ep < o->epochs; ep++) {
        for (size_t i = t->n; i > 1; i--) { /* Fisher-Yates, seeded */
            size_t j = (size_t)(splitmix64(&rng) % i);
            size_t tmp = order[i - 1];
            order[i - 1] = order[j], order[j] = tmp;
        }
        for (size_t r = 0; r < t->n; r++) {
            size_t d = order[r];
            const uint32_t *idx = t->idx + t->start[d];
            size_t k = t->start[d + 1] - t->start[d];
            double p = qm_predict(m, idx, k);
            double g = p - t->y[d];
            gb2 += g * g;
            m->bias -= o->lr * g / sqrt(gb2);
            if (!k) continue;
            double gk = g / (double)k;
            for (size_t i = 0; i < k; i++) {
                uint32_t j = idx[i];
                double gj = gk + o->l2 * m->w[j];
                g2[j] += (float)(gj * gj);
                m->w[j] -= (float)(o->lr * gj / sqrt(g2[j]));
            }
        }
    }
    free(g2);
    free(order);
    return 0;
}

typedef struct Scored {
    double s;
    unsigned char y;
} Scored;

static int cmp_scored(const void *a, const void *b)
{
    double x = ((const Scored *)a)->s, y = ((const Scored *)b)->s;
    return x < y ? -1 : x > y;
}

double qm_auc(const double *score, const unsigned char *y, size_t n)
{
    Scored *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return -1;
    size_t n_pos = 0;
    for (size_t i = 0; i < n; i++) v[i] = (Scored){score[i], y[i]}, n_pos += y[i];
    qsort(v, n, sizeof *v, cmp_scored);
    /* Mann-Whitney: sum of the positives' ranks, ties sharing their mean rank */
    double rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s) j++;
        double mean_rank = (double)(i + 1 + j) / 2.0;
        for (size_t k = i; k < j; k++) rank_sum += v[k].y ? mean_rank : 0;
        i = j;
    }
    free(v);
    size_t n_neg = n - n_pos;
    if (!n_pos || !n_neg) return 0.5;
    return (rank_sum - (double)n_pos * (n_pos + 1) / 2.0) / ((double)n_pos * n_neg);
}

int qm_evaluate(const QModel *m, const QSet *s, QMetrics *out)
{
    double *sc = malloc((s->n ? s->n : 1) * sizeof *sc);
    if (!sc) return -1;
    size_t tp = 0, fp = 0, fn = 0, right = 0, n_pos = 0;
    for (size_t i = 0; i < s->n; i++) {
        sc[i] = qm_predict(m, s->idx + s->start[i], s->start[i + 1] - s->start[i]);
        int pred = sc[i] >= 0.5;
        n_pos += s->y[i];
        right += pred == s->y[i];
        tp += pred && s->y[i];
        fp += pred && !s->y[i];
        fn += !pred && s->y[i];
    }
    out->n = s->n;
    out->n_pos = n_pos;
    out->accuracy = s->n ? (double)right / s->n : 0;
    out->precision = tp + fp ? (double)tp / (tp + fp) : 0;
    out->recall = tp + fn ? (double)tp / (tp + fn) : 0;
    out->auc = qm_auc(sc, s->y, s->n);
    free(sc);
    return out->auc < 0 ? -1 : 0;
}
