/* sweep and lr-find's pure parts: the grid lists and the LR range test's
 * verdict on hand-made curves whose answer is known. */
#include <math.h>
#include <stdlib.h>

#include "../check.h"
#include "../../model/sweep.h"

static void test_lists(void)
{
    int v[8];
    CHECK_INT(3, sweep_parse_list("2,4,8", 1, 100, v, 8));
    CHECK_INT(8, v[2]);
    CHECK_INT(1, sweep_parse_list("64", 1, 100, v, 8));
    CHECK_INT(-1, sweep_parse_list("2,,4", 1, 100, v, 8));
    CHECK_INT(-1, sweep_parse_list("2,4,", 1, 100, v, 8));
    CHECK_INT(-1, sweep_parse_list("", 1, 100, v, 8));
    CHECK_INT(-1, sweep_parse_list("2,x", 1, 100, v, 8));
    CHECK_INT(-1, sweep_parse_list("0,2", 1, 100, v, 8));   /* below the range */
    CHECK_INT(-1, sweep_parse_list("2,4,2", 1, 100, v, 8)); /* a point twice */
    CHECK_INT(-1, sweep_parse_list("1,2,3", 1, 100, v, 2)); /* more than fit */
}

/* Without the moving average (beta 0; the median of 5 leaves this curve as it
 * is: it only falls, then only rises): flat at 5 for steps 0..19, falling 0.1 a step to
 * 3.0 at 35 except 0.3 a step at 25 and 26 (central differences are steepest
 * at 25), flat to 44, then doubling: above 4 x 3.0 = 12 first at step 47 (5,
 * 10, 20 from 45). */
static void test_verdict(void)
{
    enum { N = 60 };
    double lr[N], loss[N];
    for (int i = 0; i < N; i++) {
        lr[i] = 1e-6 * pow(1e6, i / (double)(N - 1));
        if (i < 20) loss[i] = 5;
        else if (i <= 35) loss[i] = loss[i - 1] - ((i == 25 || i == 26) ? 0.3 : 0.1);
        else if (i < 45) loss[i] = loss[35];
        else loss[i] = 5 * pow(2, i - 45);
    }
    LrVerdict v;
    CHECK_INT(0, lrfind_verdict(lr, loss, N, 5, 0, 4, &v));
    double lmin = loss[35];
    CHECK(fabs(lmin - 3.0) < 1e-9);
    CHECK_INT(35, v.i_min);                      /* the first of the flat minimum */
    CHECK_INT(47, v.i_div);                      /* 20 > 4 x 3.0 */
    CHECK_INT(25, v.i_steep);
    CHECK(fabs(v.slope - -0.6 / (log(lr[26]) - log(lr[24]))) < 1e-9);
    CHECK(fabs(v.suggested - lr[25]) < 1e-15);
    CHECK(v.suggested > lr[0] && v.suggested < lr[v.i_div]);
    free(v.smoothed);

    /* a NaN diverges there; smoothing with beta 0.5 keeps the bias-corrected start */
    loss[40] = NAN;
    CHECK_INT(0, lrfind_verdict(lr, loss, N, 5, 0.5, 4, &v));
    CHECK_INT(40, v.i_div);
    CHECK(fabs(v.smoothed[0] - 5) < 1e-12);    /* bias correction: no pull towards 0 */
    CHECK(isnan(v.smoothed[41]));
    CHECK(v.i_steep > 20 && v.i_steep <= v.i_min && v.i_min < 40);
    free(v.smoothed);

    /* a loss that never falls: no suggestion */
    for (int i = 0; i < N; i++) loss[i] = 5 + i * 0.01;
    CHECK_INT(0, lrfind_verdict(lr, loss, N, 5, 0.9, 4, &v));
    CHECK_INT(-1, v.i_steep);
    CHECK(v.suggested == 0);
    free(v.smoothed);
}

/* A clean curve as a real range test of 100 steps draws it (flat at 5.5, a
 * smooth fall of 2.5 nats centred on step 50, steepest there, then a blow-up
 * from step 71),
 * and the same curve with a one-batch spike planted in it, as in the issue
 * where lr-find suggested the step right after a spike to 11.8: the moving
 * average alone takes its recovery for the steepest descent; the median of 5
 * (the default) drops the spike, and the verdict is the clean curve's. */
static void clean_curve(double *lr, double *loss, int n)
{
    for (int i = 0; i < n; i++) {
        lr[i] = 1e-5 * pow(3e6, i / (double)(n - 1));
        loss[i] = i <= 70 ? 3.0 + 2.5 / (1 + exp((i - 50) / 8.0)) : loss[70] + 0.2 * pow(2, i - 70);
    }
}

static void test_verdict_spike(void)
{
    enum { N = 100 };
    double lr[N], loss[N];
    LrVerdict clean, raw, med;

    /* the clean curve: the median changes nothing up to the minimum, so the
     * verdict is what it was without one, and it is the fall's centre */
    clean_curve(lr, loss, N);
    CHECK_INT(0, lrfind_verdict(lr, loss, N, 1, 0.9, 4, &raw));
    CHECK_INT(0, lrfind_verdict(lr, loss, N, 5, 0.9, 4, &clean));
    CHECK_INT(raw.i_steep, clean.i_steep);
    CHECK(raw.suggested == clean.suggested && raw.slope == clean.slope);
    CHECK_INT(raw.i_div, clean.i_div);
    /* the same smoothed curve up to two steps before the minimum (the median
     * window reaches past it there: at the valley's floor, where the loss
     * turns, the median may move the minimum by a step) */
    for (int i = 0; i + 2 < raw.i_min; i++) CHECK(raw.smoothed[i] == clean.smoothed[i]);
    CHECK(abs(raw.i_min - clean.i_min) <= 1);
    CHECK(clean.i_steep >= 50 && clean.i_steep <= 60); /* the EMA lags the fall by a few steps */
    CHECK(clean.i_div > 70 && clean.i_div < N);
    free(raw.smoothed);

    /* one batch spikes to 11.8 while the loss is flat or begins to fall */
    for (int at = 10; at <= 45; at += 7) {
        clean_curve(lr, loss, N);
        loss[at] = 11.8;
        CHECK_INT(0, lrfind_verdict(lr, loss, N, 1, 0.9, 4, &raw));
        CHECK_INT(at + 1, raw.i_steep); /* the failure: the EMA recovering from the spike */
        CHECK_INT(0, lrfind_verdict(lr, loss, N, 5, 0.9, 4, &med));
        CHECK_INT(clean.i_steep, med.i_steep);
        CHECK(med.suggested == clean.suggested);
        CHECK_INT(clean.i_min, med.i_min);
        CHECK_INT(clean.i_div, med.i_div);
        free(raw.smoothed);
        free(med.smoothed);
    }
    /* two batches in a row, and a spike inside the fall: still the clean
     * verdict, give or take one step */
    clean_curve(lr, loss, N);
    loss[18] = 9.0;
    loss[19] = 11.8;
    CHECK_INT(0, lrfind_verdict(lr, loss, N, 5, 0.9, 4, &med));
    CHECK_INT(clean.i_steep, med.i_steep);
    free(med.smoothed);
    clean_curve(lr, loss, N);
    loss[52] = 11.8;
    CHECK_INT(0, lrfind_verdict(lr, loss, N, 5, 0.9, 4, &med));
    CHECK(abs(med.i_steep - clean.i_steep) <= 1);
    CHECK_INT(clean.i_div, med.i_div);
    free(med.smoothed);
    /* a spike is a divergence to the EMA when it comes early (bias correction
     * weighs the first steps heavily: half the weight at the second step), not
     * to the median */
    clean_curve(lr, loss, N);
    loss[1] = 40;
    CHECK_INT(0, lrfind_verdict(lr, loss, N, 1, 0.9, 4, &raw));
    CHECK_INT(1, raw.i_div);
    CHECK_INT(0, lrfind_verdict(lr, loss, N, 5, 0.9, 4, &med));
    CHECK_INT(clean.i_div, med.i_div);
    CHECK_INT(clean.i_steep, med.i_steep);
    free(raw.smoothed);
    free(med.smoothed);
    free(clean.smoothed);

    /* an empty, even or too wide window is refused */
    CHECK_INT(-1, lrfind_verdict(lr, loss, N, 0, 0.9, 4, &med));
    CHECK_INT(-1, lrfind_verdict(lr, loss, N, 4, 0.9, 4, &med));
    CHECK_INT(-1, lrfind_verdict(lr, loss, N, LR_MEDIAN_MAX + 2, 0.9, 4, &med));
}

int main(void)
{
    test_lists();
    test_verdict();
    test_verdict_spike();
    return check_done("test_sweep");
}
