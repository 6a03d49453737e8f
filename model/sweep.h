/* `model sweep` (short real trainings over a grid of shapes, a results table and
 * a plot; resumable) and `model lr-find` (an LR range test with a suggested
 * rate). Both reuse the trainer's options and model; main.c dispatches argv. */
#ifndef SWEEP_H
#define SWEEP_H

#include <stdint.h>

#include "train.h"

int sweep_main(int argc, char **argv);
int lrfind_main(int argc, char **argv);

/* The training options sweep and lr-find share with `model train` (--context
 * --vocab-size --eot --batch --micro-batch --weight-decay --beta1 --beta2 --eps
 * --clip --seed): 1 when argv[*i] was one (its value taken, *i advanced), 0
 * when it is not, 2 after printing a bad-usage message. */
int sweep_train_option(const char *prog, TrainOpts *o, int argc, char **argv, int *i);
extern const char sweep_train_help[];

/* A comma-separated list of whole numbers in [lo, hi] ("2,4,8") into out (at
 * most max); the count, or -1 when the list is malformed. */
int sweep_parse_list(const char *s, int lo, int hi, int *out, int max);

/* The LR range test's verdict on a curve of n (lr, loss) points, lr rising.
 * The loss is smoothed by a bias-corrected exponential moving average (beta);
 * the curve has diverged at the first point whose smoothed loss exceeds
 * div_factor x the lowest smoothed loss so far, or whose loss is not finite. */
typedef struct LrVerdict {
    double *smoothed;       /* n values, caller frees */
    int i_min;              /* lowest smoothed loss before divergence */
    int i_div;              /* first diverged point; n when none */
    int i_steep;            /* most negative d(smoothed)/d(ln lr) in [1, i_min]; -1 when none */
    double slope;           /* that slope, nats per e-fold of lr */
    double suggested;       /* lr at i_steep; 0 when there is none */
} LrVerdict;
int lrfind_verdict(const double *lr, const double *loss, int n, double beta, double div_factor, LrVerdict *v);

#endif
