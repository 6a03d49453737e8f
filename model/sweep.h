/* `model sweep` (sweep.c: short real trainings over a grid of shapes, a
 * results table and a plot; resumable) and `model lr-find` (lrfind.c: an LR
 * range test with a suggested rate). Both reuse the trainer's options and
 * model. args.c fills SweepOpts and LrOpts from argv; sweep_run and
 * lrfind_run are the logic, which tests call directly. */
#ifndef SWEEP_H
#define SWEEP_H

#include <stdint.h>

#include "train.h"

#define SWEEP_MAX_LIST 64 /* values a grid list holds */

typedef struct SweepOpts {
    TrainOpts t;          /* the training options every point shares (data_dir required; t.dev the device) */
    const char *out_dir;  /* required: the sweep folder */
    int layers[SWEEP_MAX_LIST], widths[SWEEP_MAX_LIST], heads[SWEEP_MAX_LIST];
    int n_layers, n_widths, n_heads;
    uint64_t steps, tokens;   /* of every point; 0 and 0: 200 steps */
    double budget_params;     /* 0: none */
    double budget_flops;      /* 0: none; sets each point's steps */
    double tolerance;         /* relative, for both budgets */
    int seeds;                /* runs of every shape, seeded t.seed, t.seed + 1, ...: the noise */
} SweepOpts;

/* Defaults for every field: the grid 4 x 128 x 4, tolerance 0.2, 1 seed. */
void sweep_opts_init(SweepOpts *o);
/* Train the grid and write the table; returns the exit status: 0, 1 (data or
 * I/O error, message in e) or 2 (bad usage, message in e). */
int sweep_run(const SweepOpts *o, Err *e);

/* A comma-separated list of whole numbers in [lo, hi] ("2,4,8") into out (at
 * most max); the count, or -1 when the list is malformed. */
int sweep_parse_list(const char *s, int lo, int hi, int *out, int max);

typedef struct LrOpts {
    TrainOpts t;          /* shape, data and AdamW (data_dir required; t.dev the device) */
    const char *out_dir;  /* required: the folder for lr.csv and lr.png */
    double lr_min, lr_max; /* lr_min < lr_max */
    int median;            /* smoothing: running median of this many points (odd, 1: none) ... */
    double beta;           /* ... then an exponential moving average, this weight on the past */
    double div_factor;     /* diverged above this x the lowest smoothed loss */
    uint64_t steps;        /* >= 2 */
    int stop_div;          /* stop at the divergence */
} LrOpts;

/* Defaults for every field: 100 steps from 1e-6 to 1, median 5, beta 0.9, factor 4. */
void lrfind_opts_init(LrOpts *o);
/* The range test; returns the exit status: 0, 1 (data or I/O error, message
 * in e) or 2 (bad usage, message in e). */
int lrfind_run(const LrOpts *o, Err *e);

/* The LR range test's verdict on a curve of n (lr, loss) points, lr rising.
 * The loss is smoothed by a running median of `median` points (odd; 1: none;
 * the window shrinks evenly at the ends, so monotone stretches are left as
 * they are and a spike of up to median / 2 points vanishes), then by a
 * bias-corrected exponential moving average (beta); the curve has diverged at
 * the first point whose smoothed loss exceeds div_factor x the lowest
 * smoothed loss so far, or whose loss is not finite. -1 when out of memory or
 * median is not odd or past LR_MEDIAN_MAX. */
#define LR_MEDIAN_MAX 99
typedef struct LrVerdict {
    double *smoothed;       /* n values, caller frees */
    int i_min;              /* lowest smoothed loss before divergence */
    int i_div;              /* first diverged point; n when none */
    int i_steep;            /* most negative d(smoothed)/d(ln lr) in [1, i_min]; -1 when none */
    double slope;           /* that slope, nats per e-fold of lr */
    double suggested;       /* lr at i_steep; 0 when there is none */
} LrVerdict;
int lrfind_verdict(const double *lr, const double *loss, int n, int median, double beta, double div_factor,
                   LrVerdict *v);

#endif
