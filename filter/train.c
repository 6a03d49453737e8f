/* `filter train`: reads good and bad examples, holds out a test part (or reads
 * given test files), fits the classifier, writes the model and prints held-out
 * accuracy, AUC, precision and recall at 0.5, and the time taken. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "hash.h"
#include "iofile.h"
#include "model.h"
#include "progress.h"

/* Add every document of paths (a NULL-terminated list) with label y to train,
 * or to test when test != NULL and the document is held out. */
static int read_set(const TrainOpts *o, const char **paths, int y, QSet *train, QSet *test, double holdout,
                    uint64_t *ordinal, Err *e)
{
    size_t n_paths = 0;
    while (paths[n_paths]) n_paths++;
    if (!n_paths) return 0;
    DocReader *r = doc_open(&o->doc, (const char *const *)paths, n_paths, e);
    if (!r) return -1;
    uint32_t *idx = NULL;
    size_t cap = 0;
    Buf lower = {0};
    Doc d;
    int k;
    uint64_t cut = (uint64_t)(holdout * 18446744073709551615.0);
    while ((k = doc_next(r, &d, e)) == 1) {
        long nf = qm_features(d.text, d.text_len, o->log2_buckets, o->seed, &idx, &cap, &lower);
        if (nf < 0) {
            k = err_set(e, "out of memory");
            break;
        }
        uint64_t h = hash64(ordinal, sizeof *ordinal, o->seed ^ 0x401d);
        ++*ordinal;
        QSet *dst = test && holdout > 0 && h < cut ? test : train;
        if (qset_add(dst, idx, (size_t)nf, y)) {
            k = err_set(e, "out of memory");
            break;
        }
    }
    free(idx);
    buf_free(&lower);
    if (k < 0) doc_abort(r);
    else if (doc_close(r, e)) k = -1;
    return k < 0 ? -1 : 0;
}

/* liblinear/svmlight lines "+1 j:v ..." with 1-based sorted indices, the same
 * values our model sees (counts / feature count). */
static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int dump_svm(const QSet *s, const char *path, Err *e)
{
    OutFile *o = out_open(path, e);
    if (!o) return -1;
    uint32_t *tmp = NULL;
    size_t cap = 0;
    Buf line = {0};
    int rc = 0;
    for (size_t d = 0; d < s->n && !rc; d++) {
        size_t k = s->start[d + 1] - s->start[d];
        if (k > cap) {
            free(tmp);
            cap = k * 2;
            if (!(tmp = malloc(cap * sizeof *tmp))) { rc = err_set(e, "out of memory"); break; }
        }
        if (k) memcpy(tmp, s->idx + s->start[d], k * sizeof *tmp);
        qsort(tmp, k, sizeof *tmp, cmp_u32);
        line.len = 0;
        char num[64];
        int l = snprintf(num, sizeof num, "%s", s->y[d] ? "+1" : "-1");
        buf_append(&line, num, (size_t)l);
        for (size_t i = 0; i < k;) {
            size_t j = i;
            while (j < k && tmp[j] == tmp[i]) j++;
            l = snprintf(num, sizeof num, " %u:%.9g", tmp[i] + 1, (double)(j - i) / (double)k);
            if (buf_append(&line, num, (size_t)l)) { rc = err_set(e, "out of memory"); break; }
            i = j;
        }
        if (!rc && (buf_putc(&line, '\n') || out_write(o, line.data, line.len, e))) rc = -1;
    }
    free(tmp);
    buf_free(&line);
    if (rc) {
        out_abort(o);
        return -1;
    }
    return out_close(o, e);
}

int filter_train(const TrainOpts *o, Err *e)
{
    QSet train = {0}, test = {0};
    QModel m = {0};
    int rc = -1;
    double t0 = progress_now();
    uint64_t ordinal = 0;
    int given_test = o->test_pos[0] || o->test_neg[0];
    if (out_check(o->out, e)) return -1; /* the model is saved last: refused now, not after the work */
    if (read_set(o, o->pos, 1, &train, given_test ? NULL : &test, o->holdout, &ordinal, e) ||
        read_set(o, o->neg, 0, &train, given_test ? NULL : &test, o->holdout, &ordinal, e))
        goto done;
    if (given_test && (read_set(o, o->test_pos, 1, &test, NULL, 0, &ordinal, e) ||
                       read_set(o, o->test_neg, 0, &test, NULL, 0, &ordinal, e)))
        goto done;
    size_t n_pos = 0;
    for (size_t i = 0; i < train.n; i++) n_pos += train.y[i];
    if (!n_pos || n_pos == train.n) {
        err_set(e, "training needs good and bad documents; got %zu good and %zu bad", n_pos, train.n - n_pos);
        goto done;
    }
    if (o->dump_svm) {
        char p[4096];
        snprintf(p, sizeof p, "%s.train.svm", o->dump_svm);
        if (dump_svm(&train, p, e)) goto done;
        snprintf(p, sizeof p, "%s.test.svm", o->dump_svm);
        if (dump_svm(&test, p, e)) goto done;
    }
    double t1 = progress_now();
    if (qm_init(&m, o->log2_buckets, o->seed)) {
        err_set(e, "out of memory for 2^%u weights", o->log2_buckets);
        goto done;
    }
    QTrainOpts to = {.epochs = o->epochs, .lr = o->lr, .l2 = o->l2, .seed = o->seed};
    if (qm_train(&m, &train, &to, e)) goto done;
    double t2 = progress_now();
    QMetrics tr, te;
    if (qm_evaluate(&m, &train, &tr) || (test.n && qm_evaluate(&m, &test, &te))) {
        err_set(e, "out of memory");
        goto done;
    }
    printf("train      %zu documents (%zu good, %zu bad), %zu features, 2^%u buckets\n", train.n, n_pos,
           train.n - n_pos, train.n_idx, o->log2_buckets);
    printf("train_acc  %.4f\n", tr.accuracy);
    if (test.n) {
        printf("held_out   %zu documents (%zu good, %zu bad)%s\n", te.n, te.n_pos, te.n - te.n_pos,
               given_test ? "" : " held out at random");
        printf("accuracy   %.4f\n", te.accuracy);
        printf("auc        %.4f\n", te.auc);
        printf("precision  %.4f\n", te.precision);
        printf("recall     %.4f\n", te.recall);
    } else {
        printf("held_out   0 documents (--holdout 0 and no --test-pos/--test-neg)\n");
    }
    printf("time       features %.2f s, training %.2f s (%d epochs)\n", t1 - t0, t2 - t1, o->epochs);
    if (fflush(stdout)) {
        err_sys(e, "<stdout>", "write");
        goto done;
    }
    if (qm_save(&m, o->out, e)) goto done; /* last: a run that fails leaves no model */
    rc = 0;
done:
    qset_free(&train);
    qset_free(&test);
    qm_free(&m);
    return rc;
}
