/* The GPT-3 quality classifier: features as Spark's Tokenizer + HashingTF make
 * them (lowercase, split on white space; unigrams and bigrams hashed with XXH3
 * into 2^k buckets, counts divided by the number of features), logistic
 * regression trained by Adagrad SGD. The model file format is in README.md. */
#ifndef MODEL_H
#define MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define QM_MAGIC "GPTKQMDL"
#define QM_VERSION 1
#define QM_HEADER_BYTES 64

typedef struct QModel {
    uint32_t log2_buckets;
    uint64_t seed;   /* of the feature hash */
    double bias;
    float *w;        /* 2^log2_buckets weights; owned */
} QModel;

/* A model of zeros with 2^log2_buckets buckets. */
int qm_init(QModel *m, uint32_t log2_buckets, uint64_t seed);
void qm_free(QModel *m);
/* Write (atomically) / read a model file. Read errors say "FILE: offset N: what". */
int qm_save(const QModel *m, const char *path, Err *e);
int qm_load(QModel *m, const char *path, Err *e);

/* Feature indices of text[0..n) (with repeats; the value of each is 1/count).
 * *idx grows with realloc; returns the count, or -1 when out of memory.
 * lower is scratch. */
long qm_features(const char *text, size_t n, uint32_t log2_buckets, uint64_t seed, uint32_t **idx, size_t *cap,
                 Buf *lower);
/* P(good) for a document's features. */
double qm_predict(const QModel *m, const uint32_t *idx, size_t k);

typedef struct QTrainOpts {
    int epochs;
    double lr;       /* Adagrad step */
    double l2;       /* per-example L2 on touched weights */
    uint64_t seed;   /* shuffling */
} QTrainOpts;

/* A labelled set of feature lists, all in one array. */
typedef struct QSet {
    uint32_t *idx;     /* every document's features back to back */
    size_t n_idx, cap_idx;
    size_t *start;     /* document i: idx[start[i] .. start[i+1]) */
    unsigned char *y;  /* 1 good, 0 bad */
    size_t n, cap;
} QSet;
int qset_add(QSet *s, const uint32_t *idx, size_t k, int y);
void qset_free(QSet *s);

int qm_train(QModel *m, const QSet *train, const QTrainOpts *o, Err *e);

typedef struct QMetrics {
    size_t n, n_pos;
    double accuracy, auc, precision, recall; /* at threshold 0.5, positive = good */
} QMetrics;
/* Scores of a set; returns 0 or -1 out of memory. */
int qm_evaluate(const QModel *m, const QSet *s, QMetrics *out);
/* AUC of scores against labels (ties count one half). -1 when out of memory. */
double qm_auc(const double *score, const unsigned char *y, size_t n);

#endif
