/* filter's runs: the document pass (rules, classifier, keep decision, kept
 * documents out, dropped ones to --rejects) and `filter train`. */
#ifndef FILTER_H
#define FILTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "docio.h"
#include "heur.h"

typedef enum { KEEP_PARETO, KEEP_THRESHOLD, KEEP_ALL } KeepMode;

typedef struct FilterOpts {
    DocOpts doc;
    CommonOpts common;
    const char *const *inputs;
    size_t n_inputs;
    const char *out;        /* NULL or "-": stdout */
    const char *rejects;    /* NULL: dropped documents are only counted */
    HeurConf heur;
    const char *rules_file; /* NULL: no user rules */
    const char *model;      /* NULL: no classifier */
    KeepMode keep;
    double keep_value;      /* alpha for pareto, T for threshold */
    uint64_t seed;
    int stats;              /* `filter stats`: measure every rule; out gets each document
                             * with its values, stdout the table (stderr when out is stdout) */
} FilterOpts;

/* The whole pass. The one-line summary goes to stderr through progress; when
 * more than half of the input is dropped, a hint of what to try follows it. */
int filter_run(const FilterOpts *o, Err *e);

/* The per-mille quantile of sorted[0..n) (n > 0), nearest rank: the smallest
 * value that at least q/1000 of the values are at or below (numpy's
 * method="inverted_cdf"); q = 0 is the minimum. */
double filter_quantile(const double *sorted, size_t n, unsigned per_mille);

/* x with the fewest digits that read back as x (JSON; "null" for NAN). */
void filter_fmt_double(char *out, size_t n, double x);

/* GPT-3's keep rule for a document of this text (as read, before line rules):
 * keep when a Lomax(alpha) draw U^(-1/alpha) - 1, with U uniform in (0,1) from
 * XXH3 of the text seeded with seed, exceeds 1 - score. Independent of threads,
 * of the other documents and of the document's place: a shard's run decides
 * as the whole input's run does. */
int filter_pareto_keep(uint64_t seed, const char *text, size_t text_len, double alpha, double score);

/* `filter rules`: every built-in rule with its set, default and meaning. */
void filter_print_rules(FILE *f, const HeurConf *c);

typedef struct TrainOpts {
    DocOpts doc;
    CommonOpts common;
    const char **pos, **neg, **test_pos, **test_neg; /* NULL-terminated lists */
    const char *out;
    uint32_t log2_buckets;
    int epochs;
    double lr, l2, holdout;
    uint64_t seed;
    const char *dump_svm;   /* PREFIX: write PREFIX.train.svm and PREFIX.test.svm (liblinear format) */
} TrainOpts;

/* Reads the examples, holds out a test part (or reads the given test files),
 * trains, writes the model, prints the held-out figures on stdout. */
int filter_train(const TrainOpts *o, Err *e);

#endif
